//! One module per command; [`dispatch`] picks it.

mod new;
mod repair;
mod resolve;
mod seed;
mod status;
mod up;
mod verify;

use crate::cli::Command;
use crate::context::Ctx;
use crate::error::MigrateError;
use crate::report::Resolution;

pub(crate) async fn dispatch(ctx: &Ctx, command: Command) -> Result<u8, MigrateError> {
    match command {
        Command::Up(args) => up::run(ctx, &ctx.migrations, &args.flags, None).await,
        Command::Seed(args) => seed::run(ctx, &args).await,
        Command::Status(t) => status::run(ctx, ctx.track(t.seeds)).await,
        Command::Verify(t) => verify::run(ctx, ctx.track(t.seeds)).await,
        Command::New { name, seeds } => new::run(ctx, ctx.track(seeds), &name),
        Command::Repair {
            accept,
            note,
            track,
        } => repair::run(ctx, ctx.track(track.seeds), &accept, &note).await,
        Command::Resolve {
            applied,
            failed,
            note,
            track,
        } => {
            let (file, how) = match (applied, failed) {
                (Some(f), None) => (f, Resolution::Applied),
                (None, Some(f)) => (f, Resolution::Failed),
                _ => {
                    return Err(MigrateError::Usage {
                        message: "pass exactly one of --applied FILE or --failed FILE".into(),
                    });
                }
            };
            resolve::run(ctx, ctx.track(track.seeds), &file, how, &note).await
        }
    }
}

/// Changes the track's ledger under the lock: `change` gets the connection, the qualified
/// table and the rows, and says whether it changed anything; then the JSON copy is rewritten.
async fn amend_ledger<T>(
    ctx: &Ctx,
    track: &crate::ledger::Track,
    change: impl AsyncFnOnce(
        &mut sqlx::PgConnection,
        &str,
        &[crate::ledger::Row],
    ) -> Result<(T, bool), MigrateError>,
) -> Result<T, MigrateError> {
    use crate::ledger::{self, JsonLedger};
    let opts = ctx.options()?;
    ctx.with_lock(&opts, None, async |work, _| {
        let table = crate::context::qualify(work, track.table).await?;
        ledger::ensure_tables(work, &table).await?;
        let rows = ledger::read_existing(work, &table).await?;
        let (result, changed) = change(work, &table, &rows).await?;
        if changed {
            let rows = ledger::read_existing(work, &table).await?;
            JsonLedger::from_rows(&rows).write(&track.json_path)?;
        }
        Ok(result)
    })
    .await
}
