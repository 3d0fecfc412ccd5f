//! One module per command; [`dispatch`] picks it.

mod new;
mod repair;
mod resolve;
mod seed;
mod status;
mod up;
mod verify;

use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

use crate::cli::Command;
use crate::context::{self, Ctx};
use crate::error::{MigrateError, db};
use crate::ledger::{self, Audit, JsonLedger, Row, Track};
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
        Command::Completions { shell } => {
            devenv_core::completions::print::<crate::Cli>(shell);
            Ok(devenv_core::exit::OK)
        }
    }
}

/// An audited change of the track's ledger, under the lock and in one transaction: `change`
/// gets the transaction, the qualified table and the rows, and returns the audit row that
/// explains what it changed (None: nothing changed, nothing is committed). The JSON copy is
/// rewritten after the commit. `what` names the change in errors.
async fn amend_ledger<T>(
    ctx: &Ctx,
    track: &Track,
    what: &str,
    change: impl AsyncFnOnce(
        &mut PgConnection,
        &str,
        &[Row],
    ) -> Result<(T, Option<Audit>), MigrateError>,
) -> Result<T, MigrateError> {
    let opts = ctx.options()?;
    ctx.with_lock(&opts, None, async |work, _| {
        let table = context::qualify(work, track.table).await?;
        ledger::ensure_tables(work, &table).await?;
        let rows = ledger::read_existing(work, &table).await?;
        let mut tx = work.begin().await.map_err(db(what))?;
        let (result, audit) = change(&mut tx, &table, &rows).await?;
        if let Some(audit) = audit {
            audit.record(&mut tx, track.table).await?;
            tx.commit().await.map_err(db(what))?;
            let rows = ledger::read_existing(work, &table).await?;
            JsonLedger::from_rows(&rows).write(&track.json_path)?;
        }
        Ok(result)
    })
    .await
}
