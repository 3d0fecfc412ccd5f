//! `up` (and the apply step `seed` shares): pending files, each in its own transaction, under
//! the migration lock; the ledger table first, its JSON copy after.

use std::time::{Duration, Instant};

use devenv_core::exit;
use serde_json::Value;
use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

use crate::apply;
use crate::cli::ApplyFlags;
use crate::context::{self, Ctx};
use crate::error::MigrateError;
use crate::files::MigrationFile;
use crate::ledger::{self, JsonLedger, Row, Track};
use crate::plan::Plan;
use crate::report::{self, Admin, Applied, DryRun, Pending, Totals};
use crate::seed;

pub(super) async fn run(
    ctx: &Ctx,
    track: &Track,
    flags: &ApplyFlags,
    seed_settings: Option<seed::Settings>,
) -> Result<u8, MigrateError> {
    let opts = ctx.options()?;
    let started = Instant::now();
    let (files, work) = tokio::join!(context::load_files_async(track), ctx.connect(&opts));
    let files = files?;
    let mut work = work?;
    if flags.dry_run {
        let rows = context::read_and_close(work, track).await?;
        return dry_run(ctx, track, flags, &files, &rows);
    }
    if seed_settings.is_some() {
        ensure_migrations_current(ctx, &mut work).await?;
    }
    {
        let table = context::qualify(&mut work, track.table).await?;
        let rows = ledger::read(&mut work, &table).await?;
        let plan = Plan::new(&files, &rows);
        if plan.pending().is_empty() {
            // Nothing to apply, so no lock: the refusals and the JSON copy as in a locked run.
            let warnings = check_plan(ctx, track, &plan, &files, flags)?;
            JsonLedger::from_rows(&rows).write(&track.json_path)?;
            let _ = work.close().await;
            let outcome = apply::Outcome::default();
            let done = Done {
                outcome: &outcome,
                rows: &rows,
                already: rows.len(),
                waited: Duration::ZERO,
                elapsed: started.elapsed(),
                warnings,
                credential: None,
            };
            report_apply(ctx, track, done);
            return Ok(exit::OK);
        }
    }
    ctx.with_lock(&opts, Some(work), async |work, waited| {
        let table = context::qualify(work, track.table).await?;
        ledger::ensure_tables(work, &table).await?;
        let rows = ledger::read_existing(work, &table).await?;
        let plan = Plan::new(&files, &rows);
        let warnings = check_plan(ctx, track, &plan, &files, flags)?;
        let pending = plan.pending();
        apply::precheck(&pending)?;
        let already = rows.len();
        let generated = match &seed_settings {
            Some(s) if !pending.is_empty() => seed::prepare(work, &pending, s).await?,
            _ => None,
        };
        // Kept on disk before the seeds run, so a password that lands in the database is
        // never lost; made final only once the seeds stored it.
        let staged = match (&generated, &seed_settings) {
            (Some(g), Some(s)) => Some(g.stage(&s.credentials_file)?),
            _ => None,
        };
        let outcome = if pending.is_empty() {
            apply::Outcome::default()
        } else {
            apply::Applier::new(work, &table, ledger::run_actor())
                .await?
                .run(&pending, |_| {})
                .await
        };
        let credential = if generated.is_some() && outcome.error.is_none() {
            seed::confirm(work, generated).await?
        } else {
            None
        };
        if let Some(staged) = staged {
            staged.finish(credential.is_some())?;
        }
        let rows_after = ledger::read_existing(work, &table).await?;
        JsonLedger::from_rows(&rows_after).write(&track.json_path)?;
        let done = Done {
            outcome: &outcome,
            rows: &rows_after,
            already,
            waited,
            elapsed: started.elapsed(),
            warnings,
            credential: credential.as_ref(),
        };
        report_apply(ctx, track, done);
        match outcome.error {
            Some(e) => Err(e),
            None => Ok(exit::OK),
        }
    })
    .await
}

/// `--dry-run`: the refusals and what would be applied; nothing changes.
fn dry_run(
    ctx: &Ctx,
    track: &Track,
    flags: &ApplyFlags,
    files: &[MigrationFile],
    rows: &[Row],
) -> Result<u8, MigrateError> {
    let plan = Plan::new(files, rows);
    // A dry run that finds tampering records it too (integrity_refused): the audit trail
    // is about the ledger's state, not about whether anything was applied.
    let warnings = check_plan(ctx, track, &plan, files, flags)?;
    let pending = plan.pending();
    apply::precheck(&pending)?;
    let report = DryRun {
        track: track.kind,
        dry_run: true,
        pending: pending
            .iter()
            .map(|f| Pending {
                filename: f.filename.clone(),
                no_transaction: f.no_transaction,
            })
            .collect(),
        warnings,
    };
    report::print(ctx.format, &ctx.style, &report);
    Ok(exit::OK)
}

/// The plan's refusals, with an event for integrity refusals; its warnings are logged here.
fn check_plan(
    ctx: &Ctx,
    track: &Track,
    plan: &Plan<'_>,
    files: &[MigrationFile],
    flags: &ApplyFlags,
) -> Result<Vec<String>, MigrateError> {
    plan.check(
        files,
        track.kind.as_str(),
        flags.allow_out_of_order,
        flags.accept_formatting,
    )
    .inspect(|warnings| {
        for w in warnings {
            tracing::warn!("{w}");
        }
    })
    .inspect_err(|e| {
        if matches!(e, MigrateError::Integrity { .. }) {
            ctx.event("integrity_refused")
                .field("track", track.kind.as_str())
                .field("message", e.to_string())
                .emit();
        }
    })
}

/// Seeds need the schema: refuse while migrations are pending.
async fn ensure_migrations_current(ctx: &Ctx, conn: &mut PgConnection) -> Result<(), MigrateError> {
    let files = context::load_files(&ctx.migrations)?;
    let table = context::qualify(conn, ctx.migrations.table).await?;
    let rows = ledger::read(conn, &table).await?;
    let pending = Plan::new(&files, &rows).pending().len();
    if pending > 0 {
        return Err(MigrateError::Failed {
            message: format!(
                "{pending} migration(s) pending — run `migrate-ledger up` before `seed` (or `make migrate`, which does both)"
            ),
        });
    }
    Ok(())
}

/// What an apply run did, for its events and its report.
struct Done<'a> {
    outcome: &'a apply::Outcome,
    rows: &'a [Row],
    already: usize,
    waited: Duration,
    elapsed: Duration,
    warnings: Vec<String>,
    credential: Option<&'a seed::Generated>,
}

fn report_apply(ctx: &Ctx, track: &Track, done: Done<'_>) {
    let outcome = done.outcome;
    if !outcome.applied.is_empty() || !outcome.concurrent.is_empty() {
        let mut names: Vec<Value> = outcome
            .applied
            .iter()
            .take(50)
            .map(|n| n.clone().into())
            .collect();
        if outcome.applied.len() > 50 {
            names.push(format!("… {} more", outcome.applied.len() - 50).into());
        }
        ctx.event(track.kind.applied_event())
            .field("count", outcome.applied.len())
            .field("files", names)
            .field("concurrent", outcome.concurrent.clone())
            .field("duration_ms", done.elapsed.as_millis() as u64)
            .emit();
    }
    if let Some(g) = done.credential {
        ctx.event("seed_admin_created")
            .field("email", g.email.clone())
            .emit();
    }
    let report = Applied {
        track: track.kind,
        dry_run: false,
        ok: outcome.error.is_none(),
        applied: Applied::files(&outcome.applied, done.rows),
        concurrent: outcome.concurrent.clone(),
        totals: Totals {
            already_applied: done.already,
            total_applied: done.rows.len(),
            lock_waited_ms: done.waited.as_millis() as u64,
            duration_ms: done.elapsed.as_millis() as u64,
        },
        warnings: done.warnings,
        ledger_json: track.json_path.display().to_string(),
        admin: done.credential.map(Admin::new),
        elapsed: done.elapsed,
    };
    report::print(ctx.format, &ctx.style, &report);
}
