//! migrate-ledger: SQL migrations and seed data with a sha256 ledger, safe under concurrency.
//!
//! Files are `migrations/NNN_description.sql` (seeds in `migrations/seeds/`). The table
//! `schema_migrations` (`schema_seeds` for seeds), written in the same transaction as each
//! file, is the source of truth; `.devenv/migration-ledger.json` is a copy written atomically
//! afterwards. See the crate README for the commands and exit codes.

pub mod apply;
pub mod db;
pub mod error;
pub mod files;
pub mod ledger;
pub mod plan;
pub mod seed;
pub mod split;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use devenv_core::bundle::Bundle;
use devenv_core::duration;
use devenv_core::events::Event;
use devenv_core::exit;
use devenv_core::output::{self, Failure, Format, Style};
use devenv_core::paths::Workspace;
use serde_json::{Value, json};
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::error::MigrateError;
use crate::files::MigrationFile;
use crate::ledger::{JsonLedger, Row, Track};
use crate::plan::{Plan, State};

const SOURCE: &str = "migrate-ledger";

#[derive(Debug, Parser)]
#[command(name = "migrate-ledger", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    global: Global,
}

#[derive(Debug, Args)]
struct Global {
    /// PostgreSQL URL; else $DATABASE_URL; else DATABASE_URL from the bundle (.env.local).
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Directory of NNN_description.sql files [default: <workspace>/migrations].
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    /// Directory of seed files [default: <dir>/seeds].
    #[arg(long, global = true)]
    seeds_dir: Option<PathBuf>,
    /// JSON copy of the migration ledger [default: <workspace>/.devenv/migration-ledger.json].
    #[arg(long, global = true)]
    ledger_json: Option<PathBuf>,
    /// JSON copy of the seed ledger [default: <workspace>/.devenv/seed-ledger.json].
    #[arg(long, global = true)]
    seed_ledger_json: Option<PathBuf>,
    /// How long to wait for the migration lock (e.g. 500ms, 30s, 2m); then exit 4.
    #[arg(long, global = true, default_value = "60s", value_parser = duration::parse_flag)]
    lock_timeout: Duration,
    /// How long to retry while the database is still starting (0: fail at once, exit 5).
    #[arg(long, global = true, default_value = "0", value_parser = duration::parse_flag)]
    wait_timeout: Duration,
    /// One JSON document on stdout (schema_version 1).
    #[arg(long, global = true, conflicts_with_all = ["human", "quiet"])]
    json: bool,
    /// Human-readable output (the default on a terminal).
    #[arg(long, global = true)]
    human: bool,
    /// Print nothing but errors (and where a generated admin password was kept).
    #[arg(long, short, global = true)]
    quiet: bool,
    /// More logging on stderr (-v info, -vv debug).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Apply pending migrations, each in its own transaction.
    Up(UpArgs),
    /// Applied / pending / changed / in-doubt files.
    Status(TrackArg),
    /// Reconcile files, the ledger table and the JSON ledger; say which differ.
    Verify(TrackArg),
    /// Create the next numbered migration file.
    New {
        /// What the migration does, e.g. add_invoices.
        name: String,
        /// Create a seed file instead.
        #[arg(long)]
        seeds: bool,
    },
    /// Apply pending seed files (migrations/seeds/), tracked in schema_seeds.
    Seed(SeedArgs),
    /// Record an audited acceptance of an applied file whose checksum changed.
    Repair {
        /// The applied file whose current content is accepted.
        #[arg(long, value_name = "FILE")]
        accept: String,
        /// Why (stored in the audit table).
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        track: TrackArg,
    },
    /// Settle an in-doubt no-transaction file.
    Resolve {
        /// It took effect: record it as applied.
        #[arg(
            long,
            value_name = "FILE",
            conflicts_with = "failed",
            required_unless_present = "failed"
        )]
        applied: Option<String>,
        /// It did not take effect (or was undone): forget it, so `up` runs it again.
        #[arg(long, value_name = "FILE")]
        failed: Option<String>,
        /// Why (stored in the audit table).
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        track: TrackArg,
    },
}

#[derive(Debug, Args, Clone)]
struct TrackArg {
    /// Work on the seed files (schema_seeds) instead of the migrations.
    #[arg(long)]
    seeds: bool,
}

#[derive(Debug, Args, Clone)]
struct ApplyFlags {
    /// Show what would be applied; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Accept gaps in the numbering and new files below the highest applied one.
    #[arg(long)]
    allow_out_of_order: bool,
    /// Go on when applied files changed only in formatting (line endings, whitespace, BOM).
    #[arg(long)]
    accept_formatting: bool,
}

#[derive(Debug, Args, Clone)]
struct UpArgs {
    #[command(flatten)]
    flags: ApplyFlags,
}

#[derive(Debug, Args, Clone)]
struct SeedArgs {
    #[command(flatten)]
    flags: ApplyFlags,
    /// Model the seeded default mapping points at.
    #[arg(long, env = "MOCK_INFERENCE_MODEL")]
    model: Option<String>,
    /// E-mail of the seeded system admin.
    #[arg(long, default_value = "admin@devenv.local")]
    admin_email: String,
    /// Where a generated admin password is kept (a 0600 dotenv file; it is never printed)
    /// [default: <workspace>/.devenv/admin-credentials.env].
    #[arg(long)]
    admin_credentials: Option<PathBuf>,
}

/// Entry point of the binary.
pub fn run() -> std::process::ExitCode {
    let cli = Cli::parse();
    devenv_core::logging::init(cli.global.verbose);
    let ctx = Ctx::new(&cli.global);
    let command = command_name(&cli.command);
    let result = devenv_core::runtime::block_on(
        tokio::runtime::Builder::new_current_thread(),
        dispatch(&ctx, cli.command),
    )
    .and_then(|result| {
        result.map_err(|e| {
            Event::new(SOURCE, &format!("{command}_failed"))
                .field("exit_code", exit::ExitCoded::exit_code(&e))
                .field("message", devenv_core::redact::error_chain(&e))
                .append_to(&ctx.ws.events_file());
            Failure::from_coded(&e)
        })
    });
    output::finish(result)
}

fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Up(_) => "up",
        Command::Status(_) => "status",
        Command::Verify(_) => "verify",
        Command::New { .. } => "new",
        Command::Seed(_) => "seed",
        Command::Repair { .. } => "repair",
        Command::Resolve { .. } => "resolve",
    }
}

struct Ctx {
    ws: Workspace,
    format: Format,
    style: Style,
    database_url: Option<String>,
    migrations: Track,
    seeds: Track,
    lock_timeout: Duration,
    wait_timeout: Duration,
}

impl Ctx {
    fn new(g: &Global) -> Self {
        let ws = Workspace::discover();
        let dir = g.dir.clone().unwrap_or_else(|| ws.root.join("migrations"));
        let seeds_dir = g.seeds_dir.clone().unwrap_or_else(|| dir.join("seeds"));
        let migrations = Track {
            kind: "migrations",
            table: "schema_migrations",
            dir,
            json_path: g
                .ledger_json
                .clone()
                .unwrap_or_else(|| ws.state_dir().join("migration-ledger.json")),
        };
        let seeds = Track {
            kind: "seeds",
            table: "schema_seeds",
            dir: seeds_dir,
            json_path: g
                .seed_ledger_json
                .clone()
                .unwrap_or_else(|| ws.state_dir().join("seed-ledger.json")),
        };
        if let Some(url) = &g.database_url {
            devenv_core::redact::register_bundle([("DATABASE_URL", url.as_str())]);
        }
        Self {
            format: Format::choose(g.json, g.human, g.quiet, Format::Human, Format::Human),
            style: Style::stdout(),
            database_url: g.database_url.clone().filter(|u| !u.is_empty()),
            migrations,
            seeds,
            lock_timeout: g.lock_timeout,
            wait_timeout: g.wait_timeout,
            ws,
        }
    }

    fn track(&self, seeds: bool) -> &Track {
        if seeds { &self.seeds } else { &self.migrations }
    }

    /// `--database-url` / $DATABASE_URL, else the bundle of DEVENV_MODE (default local).
    fn options(&self) -> Result<PgConnectOptions, MigrateError> {
        if let Some(url) = &self.database_url {
            return db::options(url);
        }
        let path = self.bundle_path();
        let bundle = Bundle::read_optional(&path)?.ok_or_else(|| MigrateError::Usage {
            message: format!("no database to migrate: pass --database-url, set DATABASE_URL, or create {} with `make secrets-sync`", path.display()),
        })?;
        bundle.register_secrets();
        devenv_core::bundle_expiry::warn_if_expired(&bundle, &path);
        let url = bundle
            .get("DATABASE_URL")
            .filter(|u| !u.is_empty())
            .ok_or_else(|| MigrateError::Usage {
                message: format!(
                    "{} has no DATABASE_URL — rerun `make secrets-sync`",
                    path.display()
                ),
            })?;
        db::options(url)
    }

    /// The bundle of DEVENV_MODE / MODE (default local), read as every other tool reads it.
    fn bundle_path(&self) -> PathBuf {
        self.ws.bundle_path(
            devenv_core::paths::Mode::from_env().unwrap_or(devenv_core::paths::Mode::Local),
        )
    }

    fn event(&self, event: &str) -> EventBuilder<'_> {
        EventBuilder {
            ctx: self,
            event: Event::new(SOURCE, event),
        }
    }

    fn human(&self) -> bool {
        self.format == Format::Human
    }

    fn say(&self, text: &str) {
        if self.human() {
            output::println_redacted(text);
        }
    }

    fn print_doc(&self, kind: &str, body: Value) {
        if self.format == Format::Json {
            output::print_json(&output::document(kind, body));
        }
    }
}

struct EventBuilder<'a> {
    ctx: &'a Ctx,
    event: Event,
}

impl EventBuilder<'_> {
    fn field(mut self, k: &str, v: impl Into<Value>) -> Self {
        self.event = self.event.field(k, v);
        self
    }
    fn emit(self) {
        self.event.append_to(&self.ctx.ws.events_file());
    }
}

async fn dispatch(ctx: &Ctx, command: Command) -> Result<u8, MigrateError> {
    match command {
        Command::Up(args) => apply_track(ctx, &ctx.migrations, &args.flags, None).await,
        Command::Seed(args) => {
            let settings = seed::Settings {
                model: args
                    .model
                    .clone()
                    .filter(|m| !m.is_empty())
                    .or_else(|| bundle_value(ctx, "MOCK_INFERENCE_MODEL"))
                    .unwrap_or_else(|| "mock-gpt".to_string()),
                admin_email: args.admin_email.clone(),
                credentials_file: args
                    .admin_credentials
                    .clone()
                    .unwrap_or_else(|| ctx.ws.state_dir().join(seed::CREDENTIALS_FILE)),
            };
            apply_track(ctx, &ctx.seeds, &args.flags, Some(settings)).await
        }
        Command::Status(t) => status(ctx, ctx.track(t.seeds)).await,
        Command::Verify(t) => verify(ctx, ctx.track(t.seeds)).await,
        Command::New { name, seeds } => new_file(ctx, ctx.track(seeds), &name),
        Command::Repair {
            accept,
            note,
            track,
        } => repair(ctx, ctx.track(track.seeds), &accept, &note).await,
        Command::Resolve {
            applied,
            failed,
            note,
            track,
        } => {
            let (file, applied) = match (applied, failed) {
                (Some(f), None) => (f, true),
                (None, Some(f)) => (f, false),
                _ => {
                    return Err(MigrateError::Usage {
                        message: "pass exactly one of --applied FILE or --failed FILE".into(),
                    });
                }
            };
            resolve(ctx, ctx.track(track.seeds), &file, applied, &note).await
        }
    }
}

fn bundle_value(ctx: &Ctx, key: &str) -> Option<String> {
    Bundle::read_optional(&ctx.bundle_path())
        .ok()
        .flatten()?
        .get(key)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn load_files(track: &Track) -> Result<Vec<MigrationFile>, MigrateError> {
    files::load(&track.dir, track.kind == "seeds")
}

/// [`load_files`] on the blocking pool, so reading and hashing overlap with connecting.
async fn load_files_async(track: &Track) -> Result<Vec<MigrationFile>, MigrateError> {
    let track = track.clone();
    tokio::task::spawn_blocking(move || load_files(&track))
        .await
        .unwrap_or_else(|e| {
            Err(MigrateError::Io {
                message: format!("reading the migration files failed: {e}"),
            })
        })
}

/// Schema-qualified table name (files may change search_path during a run).
async fn qualify(conn: &mut PgConnection, table: &str) -> Result<String, MigrateError> {
    let schema: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(&mut *conn)
        .await
        .map_err(error::db("read the current schema"))?;
    Ok(format!("{}.{table}", apply::quote_ident(&schema)))
}

/// Runs `body` with the migration lock held, releasing it on every path.
async fn with_lock<T>(
    ctx: &Ctx,
    opts: &PgConnectOptions,
    work: Option<PgConnection>,
    body: impl AsyncFnOnce(&mut PgConnection, Duration) -> Result<T, MigrateError>,
) -> Result<T, MigrateError> {
    let (mut work, lock_conn) = match work {
        Some(work) => (
            work,
            db::connect(opts, ctx.wait_timeout, "connect (lock)").await?,
        ),
        None => tokio::try_join!(
            db::connect(opts, ctx.wait_timeout, "connect"),
            db::connect(opts, ctx.wait_timeout, "connect (lock)")
        )?,
    };
    let lock = db::acquire(lock_conn, ctx.lock_timeout, |holder| {
        tracing::warn!("waiting for the migration lock held by {holder}");
        ctx.event("lock_waiting")
            .field("holder_pid", holder.pid)
            .field("holder_application_name", holder.application_name.clone())
            .emit();
    })
    .await?;
    if lock.waited > Duration::from_millis(50) {
        ctx.event("lock_acquired")
            .field("waited_ms", lock.waited.as_millis() as u64)
            .emit();
    }
    let waited = lock.waited;
    let result = body(&mut work, waited).await;
    lock.release().await;
    let _ = work.close().await;
    result
}

async fn apply_track(
    ctx: &Ctx,
    track: &Track,
    flags: &ApplyFlags,
    seed_settings: Option<seed::Settings>,
) -> Result<u8, MigrateError> {
    let opts = ctx.options()?;
    let started = Instant::now();
    let (files, work) = tokio::join!(
        load_files_async(track),
        db::connect(&opts, ctx.wait_timeout, "connect")
    );
    let files = files?;
    let mut work = work?;
    if flags.dry_run {
        let mut conn = work;
        let table = qualify(&mut conn, track.table).await?;
        let rows = ledger::read(&mut conn, &table).await?;
        let _ = conn.close().await;
        let plan = Plan::new(&files, &rows);
        // A dry run that finds tampering records it too (integrity_refused): the audit trail
        // is about the ledger's state, not about whether anything was applied.
        let warnings = check_plan(ctx, track, &plan, &files, flags)?;
        let pending = plan.pending();
        apply::precheck(&pending)?;
        for f in &pending {
            ctx.say(&format!(
                "would apply {}{}",
                f.filename,
                if f.no_transaction {
                    " (no transaction)"
                } else {
                    ""
                }
            ));
        }
        ctx.say(&format!(
            "{} {}: {} pending (dry run, nothing changed)",
            ctx.style.green("✓"),
            track.kind,
            pending.len()
        ));
        ctx.print_doc(
            apply_kind(track),
            json!({
                "track": track.kind,
                "dry_run": true,
                "pending": pending.iter().map(|f| f.filename.clone()).collect::<Vec<_>>(),
                "warnings": warnings,
            }),
        );
        return Ok(exit::OK);
    }
    if seed_settings.is_some() {
        ensure_migrations_current(ctx, &mut work).await?;
    }
    {
        let table = qualify(&mut work, track.table).await?;
        let rows = ledger::read(&mut work, &table).await?;
        let plan = Plan::new(&files, &rows);
        if plan.pending().is_empty() {
            // Nothing to apply, so no lock: the refusals and the JSON copy as in a locked run.
            let warnings = check_plan(ctx, track, &plan, &files, flags)?;
            JsonLedger::from_rows(&rows).write(&track.json_path)?;
            let _ = work.close().await;
            let outcome = apply::Outcome::default();
            report_apply(
                ctx,
                track,
                &outcome,
                &rows,
                rows.len(),
                Duration::ZERO,
                started.elapsed(),
                &warnings,
                None,
            );
            return Ok(exit::OK);
        }
    }
    with_lock(ctx, &opts, Some(work), async |work, waited| {
        let table = qualify(work, track.table).await?;
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
        report_apply(
            ctx,
            track,
            &outcome,
            &rows_after,
            already,
            waited,
            started.elapsed(),
            &warnings,
            credential.as_ref(),
        );
        match outcome.error {
            Some(e) => Err(e),
            None => Ok(exit::OK),
        }
    })
    .await
}

/// The document kind of `up` and `seed`.
fn apply_kind(track: &Track) -> &'static str {
    if track.kind == "seeds" {
        "migrate_seed"
    } else {
        "migrate_up"
    }
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
        track.kind,
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
                .field("track", track.kind)
                .field("message", e.to_string())
                .emit();
        }
    })
}

/// Seeds need the schema: refuse while migrations are pending.
async fn ensure_migrations_current(ctx: &Ctx, conn: &mut PgConnection) -> Result<(), MigrateError> {
    let files = load_files(&ctx.migrations)?;
    let table = qualify(conn, ctx.migrations.table).await?;
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

#[allow(clippy::too_many_arguments)]
fn report_apply(
    ctx: &Ctx,
    track: &Track,
    outcome: &apply::Outcome,
    rows: &[Row],
    already: usize,
    waited: Duration,
    elapsed: Duration,
    warnings: &[String],
    credential: Option<&seed::Generated>,
) {
    let duration_of = |name: &str| {
        rows.iter()
            .find(|r| r.filename == name)
            .and_then(|r| r.duration_ms)
    };
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
        ctx.event(if track.kind == "seeds" {
            "seeds_applied"
        } else {
            "migrations_applied"
        })
        .field("count", outcome.applied.len())
        .field("files", names)
        .field("concurrent", outcome.concurrent.clone())
        .field("duration_ms", elapsed.as_millis() as u64)
        .emit();
    }
    if let Some(g) = credential {
        ctx.event("seed_admin_created")
            .field("email", g.email.clone())
            .emit();
    }
    if ctx.human() {
        for name in &outcome.applied {
            let ms = duration_of(name).map_or_else(String::new, |d| {
                format!(" {}", ctx.style.dim(&format!("({d} ms)")))
            });
            output::println_redacted(&format!("{} applied {name}{ms}", ctx.style.green("✓")));
        }
        for name in &outcome.concurrent {
            output::println_redacted(&format!("  {name} was applied by a concurrent run"));
        }
        if outcome.error.is_none() {
            let total = rows.len();
            let line = if outcome.applied.is_empty() {
                format!(
                    "{} {} up to date ({total} applied, nothing pending)",
                    ctx.style.green("✓"),
                    track.kind
                )
            } else {
                format!(
                    "{} {}: {} applied in {}, {total} total",
                    ctx.style.green("✓"),
                    track.kind,
                    outcome.applied.len(),
                    duration::display(elapsed)
                )
            };
            output::println_redacted(&line);
        }
    }
    if let Some(g) = credential {
        show_credential_once(ctx, g);
    }
    if ctx.format == Format::Json {
        let mut doc = output::document(
            apply_kind(track),
            json!({
                "track": track.kind,
                "dry_run": false,
                "ok": outcome.error.is_none(),
                "applied": outcome.applied.iter().map(|n| json!({"filename": n, "duration_ms": duration_of(n)})).collect::<Vec<_>>(),
                "concurrent": outcome.concurrent,
                "already_applied": already,
                "total_applied": rows.len(),
                "lock_waited_ms": waited.as_millis() as u64,
                "duration_ms": elapsed.as_millis() as u64,
                "warnings": warnings,
                "ledger_json": track.json_path.display().to_string(),
            }),
        );
        devenv_core::redact::redact_json(&mut doc);
        if let Some(g) = credential {
            doc["admin"] = json!({
                "email": g.email,
                "credentials_file": g.credentials_file.display().to_string(),
                "password_variable": seed::PASSWORD_KEY,
            });
        }
        output::print_json(&doc);
    }
}

/// Where the generated admin password went (even with --quiet: it is the one thing the user
/// must know about). The password itself is never printed.
fn show_credential_once(ctx: &Ctx, g: &seed::Generated) {
    if ctx.format == Format::Json {
        return;
    }
    output::println_redacted(&format!(
        "{} system admin {} created; its password is in {} (key {}, mode 0600)",
        ctx.style.yellow("!"),
        g.email,
        g.credentials_file.display(),
        seed::PASSWORD_KEY
    ));
}

async fn status(ctx: &Ctx, track: &Track) -> Result<u8, MigrateError> {
    let opts = ctx.options()?;
    let (files, conn) = tokio::join!(
        load_files_async(track),
        db::connect(&opts, ctx.wait_timeout, "connect")
    );
    let files = files?;
    let mut conn = conn?;
    let table = qualify(&mut conn, track.table).await?;
    let rows = ledger::read(&mut conn, &table).await?;
    let _ = conn.close().await;
    let plan = Plan::new(&files, &rows);
    if ctx.human() {
        let width = plan
            .entries
            .iter()
            .map(|e| e.filename.len())
            .max()
            .unwrap_or(0);
        for e in &plan.entries {
            let state = match e.state {
                State::Applied => ctx.style.green("applied"),
                State::Pending => ctx.style.yellow("pending"),
                State::Changed(c) => ctx.style.red(&format!("changed ({})", c.as_str())),
                State::InDoubt => ctx.style.red("in-doubt"),
                State::Missing => ctx.style.red("missing"),
            };
            let when = e.row.map_or_else(String::new, |r| {
                format!(
                    "{}  {}",
                    r.applied_at.format("%Y-%m-%d %H:%M:%S"),
                    r.duration_ms
                        .map_or_else(String::new, |d| format!("{d} ms"))
                )
            });
            output::println_redacted(&format!(
                "  {}  {}  {}",
                output::pad(&state, 28),
                output::pad(&e.filename, width),
                ctx.style.dim(&when)
            ));
        }
        let s = &plan.to_json()["summary"];
        output::println_redacted(&format!(
            "{}: {} applied · {} pending · {} changed · {} in doubt · {} missing",
            track.kind, s["applied"], s["pending"], s["changed"], s["in_doubt"], s["missing"]
        ));
    }
    if ctx.format == Format::Json {
        let mut body = plan.to_json();
        body["track"] = track.kind.into();
        body["directory"] = track.dir.display().to_string().into();
        ctx.print_doc("migrate_status", body);
    }
    Ok(exit::OK)
}

/// Files vs table vs JSON. Exit 3 when an applied file changed, 1 for other differences.
async fn verify(ctx: &Ctx, track: &Track) -> Result<u8, MigrateError> {
    let files = load_files(track)?;
    let opts = ctx.options()?;
    let mut conn = db::connect(&opts, ctx.wait_timeout, "connect").await?;
    let table = qualify(&mut conn, track.table).await?;
    let rows = ledger::read(&mut conn, &table).await?;
    let _ = conn.close().await;
    let json_ledger = JsonLedger::read(&track.json_path)?;
    let plan = Plan::new(&files, &rows);
    let mut diffs: Vec<Value> = Vec::new();
    let mut changed = false;
    for e in &plan.entries {
        let file_sum = e.file.map(|f| f.checksum.clone());
        let table_sum = e.row.map(|r| r.checksum.clone());
        let json_sum = json_ledger
            .as_ref()
            .and_then(|j| j.applied.iter().find(|a| a.filename == e.filename))
            .map(|a| a.checksum.clone());
        let mut problems: Vec<String> = Vec::new();
        match e.state {
            State::Changed(c) => {
                changed = true;
                problems.push(format!("file differs from the table ({})", c.as_str()));
            }
            State::Missing => problems.push("recorded in the table but the file is gone".into()),
            State::InDoubt => {
                problems.push("in doubt: started without finishing (resolve it)".into())
            }
            State::Applied | State::Pending => {}
        }
        if json_ledger.is_some() && e.row.is_some_and(|r| !r.in_doubt()) {
            match &json_sum {
                None => {
                    problems.push("applied in the table but absent from the JSON ledger".into())
                }
                Some(j) if Some(j) != table_sum.as_ref() => {
                    problems.push("the JSON ledger's checksum differs from the table".into())
                }
                _ => {}
            }
        }
        if !problems.is_empty() {
            diffs.push(json!({"filename": e.filename, "problems": problems, "file": file_sum, "table": table_sum, "json": json_sum}));
        }
    }
    if let Some(j) = &json_ledger {
        for a in j
            .applied
            .iter()
            .filter(|a| !rows.iter().any(|r| r.filename == a.filename))
        {
            diffs.push(json!({"filename": a.filename, "problems": ["in the JSON ledger but not in the table"], "file": Value::Null, "table": Value::Null, "json": a.checksum}));
        }
    } else if !rows.is_empty() {
        diffs.push(json!({"filename": Value::Null, "problems": [format!("the JSON ledger {} is missing (`migrate-ledger up` rewrites it)", track.json_path.display())]}));
    }
    let pending = plan.count(|s| s == State::Pending);
    let code = if changed {
        exit::INTEGRITY
    } else if diffs.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    };
    if ctx.human() {
        for d in &diffs {
            let name = d["filename"].as_str().unwrap_or("(ledger)");
            for p in d["problems"].as_array().into_iter().flatten() {
                output::println_redacted(&format!(
                    "{} {name}: {}",
                    ctx.style.red("✗"),
                    p.as_str().unwrap_or_default()
                ));
            }
        }
        if diffs.is_empty() {
            output::println_redacted(&format!(
                "{} {}: files, table and JSON ledger agree ({} applied, {pending} pending)",
                ctx.style.green("✓"),
                track.kind,
                rows.len()
            ));
        }
    }
    ctx.print_doc("migrate_verify", json!({"track": track.kind, "ok": diffs.is_empty(), "pending": pending, "differences": diffs}));
    Ok(code)
}

fn new_file(ctx: &Ctx, track: &Track, name: &str) -> Result<u8, MigrateError> {
    let files = files::load(&track.dir, true)?;
    let filename = files::next_name(&files, name)?;
    let path = track.dir.join(&filename);
    std::fs::create_dir_all(&track.dir).map_err(|e| MigrateError::Io {
        message: format!("cannot create {}: {e}", track.dir.display()),
    })?;
    let template = format!(
        "-- {filename}: describe what this migration does and why.\n-- Runs in its own transaction; put `{}` on the first line to opt out.\n\n",
        files::NO_TRANSACTION_MARKER
    );
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, template.as_bytes()))
        .map_err(|e| MigrateError::Io {
            message: format!("cannot create {}: {e}", path.display()),
        })?;
    ctx.say(&format!(
        "{} created {}",
        ctx.style.green("✓"),
        path.display()
    ));
    if ctx.format == Format::Quiet {
        // Scripts want the path even when quiet.
        output::println_redacted(&path.display().to_string());
    }
    ctx.print_doc(
        "migrate_new",
        json!({"track": track.kind, "filename": filename, "path": path.display().to_string()}),
    );
    Ok(exit::OK)
}

async fn repair(ctx: &Ctx, track: &Track, accept: &str, note: &str) -> Result<u8, MigrateError> {
    let files = load_files(track)?;
    let file = files
        .iter()
        .find(|f| f.filename == accept)
        .ok_or_else(|| MigrateError::Usage {
            message: format!(
                "{accept} is not a file in {} — pass the file name as `status` lists it",
                track.dir.display()
            ),
        })?;
    let opts = ctx.options()?;
    with_lock(ctx, &opts, None, async |work, _| {
        let table = qualify(work, track.table).await?;
        ledger::ensure_tables(work, &table).await?;
        let rows = ledger::read_existing(work, &table).await?;
        let row = rows.iter().find(|r| r.filename == accept).ok_or_else(|| MigrateError::Usage {
            message: format!("{accept} is not applied, so there is nothing to accept — `migrate-ledger up` applies it"),
        })?;
        let Some(change) = plan::compare(file, row) else {
            ctx.say(&format!("{} {accept} matches the ledger; nothing to repair", ctx.style.green("✓")));
            ctx.print_doc("migrate_repair", json!({"track": track.kind, "filename": accept, "changed": false}));
            return Ok(exit::OK);
        };
        let actor = ledger::actor();
        let note = format!("{} change accepted{}{}", change.as_str(), if note.is_empty() { "" } else { ": " }, note);
        let sql = format!(
            "BEGIN;\nUPDATE {table} SET checksum = {}, normalized_checksum = {} WHERE filename = {};\n{}\nCOMMIT;",
            ledger::literal(&file.checksum),
            ledger::literal(&file.normalized_checksum),
            ledger::literal(accept),
            ledger::audit_sql(track.table, accept, "accept", Some(&row.checksum), Some(&file.checksum), &actor, &note)
        );
        sqlx::raw_sql(&sql).execute(&mut *work).await.map_err(error::db(format!("record the acceptance of {accept}")))?;
        let rows = ledger::read_existing(work, &table).await?;
        JsonLedger::from_rows(&rows).write(&track.json_path)?;
        ctx.event("repair_accepted").field("track", track.kind).field("filename", accept).field("change", change.as_str()).field("old_checksum", row.checksum.clone()).field("new_checksum", file.checksum.clone()).emit();
        ctx.say(&format!("{} accepted {accept} ({}): {} → {} (audited in {})", ctx.style.green("✓"), change.as_str(), row.checksum, file.checksum, ledger::AUDIT_TABLE));
        ctx.print_doc("migrate_repair", json!({"track": track.kind, "filename": accept, "changed": true, "change": change.as_str(), "old_checksum": row.checksum, "new_checksum": file.checksum}));
        Ok(exit::OK)
    })
    .await
}

async fn resolve(
    ctx: &Ctx,
    track: &Track,
    name: &str,
    applied: bool,
    note: &str,
) -> Result<u8, MigrateError> {
    let files = load_files(track)?;
    let file = files.iter().find(|f| f.filename == name);
    let opts = ctx.options()?;
    with_lock(ctx, &opts, None, async |work, _| {
        let table = qualify(work, track.table).await?;
        ledger::ensure_tables(work, &table).await?;
        let rows = ledger::read_existing(work, &table).await?;
        let row = rows.iter().find(|r| r.filename == name && r.in_doubt()).ok_or_else(|| MigrateError::Usage {
            message: format!("{name} is not in doubt (`migrate-ledger status` lists in-doubt files); nothing to resolve"),
        })?;
        let actor = ledger::actor();
        let lit = ledger::literal(name);
        let (change, action) = if applied {
            let (sum, norm) = file.map_or((row.checksum.clone(), row.normalized_checksum.clone()), |f| (f.checksum.clone(), f.normalized_checksum.clone()));
            (
                format!(
                    "UPDATE {table} SET state = 'applied', checksum = {}, normalized_checksum = {} WHERE filename = {lit};",
                    ledger::literal(&sum),
                    ledger::literal(&norm)
                ),
                "resolve-applied",
            )
        } else {
            (format!("DELETE FROM {table} WHERE filename = {lit};"), "resolve-failed")
        };
        let sql = format!("BEGIN;\n{change}\n{}\nCOMMIT;", ledger::audit_sql(track.table, name, action, Some(&row.checksum), None, &actor, note));
        sqlx::raw_sql(&sql).execute(&mut *work).await.map_err(error::db(format!("resolve {name}")))?;
        let rows = ledger::read_existing(work, &table).await?;
        JsonLedger::from_rows(&rows).write(&track.json_path)?;
        ctx.event("resolved").field("track", track.kind).field("filename", name).field("as", if applied { "applied" } else { "failed" }).emit();
        ctx.say(&format!(
            "{} {name} resolved as {} (audited in {})",
            ctx.style.green("✓"),
            if applied { "applied" } else { "failed: `migrate-ledger up` will run it again" },
            ledger::AUDIT_TABLE
        ));
        ctx.print_doc("migrate_resolve", json!({"track": track.kind, "filename": name, "resolved_as": if applied { "applied" } else { "failed" }}));
        Ok(exit::OK)
    })
    .await
}
