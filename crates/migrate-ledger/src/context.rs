//! What every command works with: the workspace, the two tracks, the output format, the
//! database settings; and the steps they share (connect, read the ledger, hold the lock).

use std::path::PathBuf;
use std::time::Duration;

use devenv_core::bundle::Bundle;
use devenv_core::events::Event;
use devenv_core::output::{Format, Style};
use devenv_core::paths::{Mode, Workspace};
use serde_json::Value;
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::cli::Global;
use crate::error::{self, MigrateError};
use crate::files::{self, MigrationFile};
use crate::ledger::{self, Row, Track, TrackKind};
use crate::{SOURCE, apply, db};

pub(crate) struct Ctx {
    pub ws: Workspace,
    pub format: Format,
    pub style: Style,
    database_url: Option<String>,
    pub migrations: Track,
    pub seeds: Track,
    lock_timeout: Duration,
    wait_timeout: Duration,
}

impl Ctx {
    pub fn new(g: &Global) -> Self {
        let ws = Workspace::discover();
        let dir = g.dir.clone().unwrap_or_else(|| ws.root.join("migrations"));
        let seeds_dir = g.seeds_dir.clone().unwrap_or_else(|| dir.join("seeds"));
        let state_file = |flag: &Option<PathBuf>, name: &str| {
            flag.clone().unwrap_or_else(|| ws.state_dir().join(name))
        };
        let migrations = Track {
            kind: TrackKind::Migrations,
            table: "schema_migrations",
            dir,
            json_path: state_file(&g.ledger_json, "migration-ledger.json"),
        };
        let seeds = Track {
            kind: TrackKind::Seeds,
            table: "schema_seeds",
            dir: seeds_dir,
            json_path: state_file(&g.seed_ledger_json, "seed-ledger.json"),
        };
        if let Some(url) = &g.database_url {
            devenv_core::redact::register_bundle([("DATABASE_URL", url.as_str())]);
        }
        Self {
            format: g.output.format(Format::Human, Format::Human),
            style: Style::stdout(),
            database_url: g.database_url.clone().filter(|u| !u.is_empty()),
            migrations,
            seeds,
            lock_timeout: g.lock_timeout,
            wait_timeout: g.wait_timeout,
            ws,
        }
    }

    pub fn track(&self, seeds: bool) -> &Track {
        if seeds { &self.seeds } else { &self.migrations }
    }

    /// `--database-url` / $DATABASE_URL, else the bundle of the mode.
    pub fn options(&self) -> Result<PgConnectOptions, MigrateError> {
        if let Some(url) = &self.database_url {
            return db::options(url);
        }
        let path = self.bundle_path()?;
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

    /// The bundle of the mode every tool agrees on ([`Mode::from_env`]: MODE, else
    /// DEVENV_MODE, else local); an unknown mode is a usage error naming the variable.
    fn bundle_path(&self) -> Result<PathBuf, MigrateError> {
        let mode = Mode::from_env().map_err(|message| MigrateError::Usage { message })?;
        Ok(self.ws.bundle_path(mode))
    }

    /// A non-empty value of the mode's bundle, if the bundle exists and has it.
    pub fn bundle_value(&self, key: &str) -> Result<Option<String>, MigrateError> {
        Ok(Bundle::read_optional(&self.bundle_path()?)
            .ok()
            .flatten()
            .and_then(|b| b.get(key).filter(|v| !v.is_empty()).map(str::to_string)))
    }

    pub fn event(&self, event: &str) -> EventBuilder<'_> {
        EventBuilder {
            ctx: self,
            event: Event::new(SOURCE, event),
        }
    }

    pub async fn connect(&self, opts: &PgConnectOptions) -> Result<PgConnection, MigrateError> {
        db::connect(opts, self.wait_timeout, "connect").await
    }

    /// The track's files and ledger rows, read concurrently (a malformed directory wins over
    /// a connection failure).
    pub async fn files_and_rows(
        &self,
        track: &Track,
    ) -> Result<(Vec<MigrationFile>, Vec<Row>), MigrateError> {
        let opts = self.options()?;
        let (files, conn) = tokio::join!(load_files_async(track), self.connect(&opts));
        let files = files?;
        let rows = read_and_close(conn?, track).await?;
        Ok((files, rows))
    }

    /// Runs `body` with the migration lock held, releasing it on every path.
    pub async fn with_lock<T>(
        &self,
        opts: &PgConnectOptions,
        work: Option<PgConnection>,
        body: impl AsyncFnOnce(&mut PgConnection, Duration) -> Result<T, MigrateError>,
    ) -> Result<T, MigrateError> {
        let lock_conn = db::connect(opts, self.wait_timeout, "connect (lock)");
        let (mut work, lock_conn) = match work {
            Some(work) => (work, lock_conn.await?),
            None => tokio::try_join!(self.connect(opts), lock_conn)?,
        };
        let lock = db::acquire(lock_conn, self.lock_timeout, |holder| {
            tracing::warn!("waiting for the migration lock held by {holder}");
            self.event("lock_waiting")
                .field("holder_pid", holder.pid)
                .field("holder_application_name", holder.application_name.clone())
                .emit();
        })
        .await?;
        if lock.waited > Duration::from_millis(50) {
            self.event("lock_acquired")
                .field("waited_ms", lock.waited.as_millis() as u64)
                .emit();
        }
        let waited = lock.waited;
        let result = body(&mut work, waited).await;
        lock.release().await;
        let _ = work.close().await;
        result
    }
}

pub(crate) struct EventBuilder<'a> {
    ctx: &'a Ctx,
    event: Event,
}

impl EventBuilder<'_> {
    pub fn field(mut self, k: &str, v: impl Into<Value>) -> Self {
        self.event = self.event.field(k, v);
        self
    }
    pub fn emit(self) {
        self.event.append_to(&self.ctx.ws.events_file());
    }
}

pub(crate) fn load_files(track: &Track) -> Result<Vec<MigrationFile>, MigrateError> {
    files::load(&track.dir, track.kind == TrackKind::Seeds)
}

/// [`load_files`] on the blocking pool, so reading and hashing overlap with connecting.
pub(crate) async fn load_files_async(track: &Track) -> Result<Vec<MigrationFile>, MigrateError> {
    let track = track.clone();
    tokio::task::spawn_blocking(move || load_files(&track))
        .await
        .unwrap_or_else(|e| {
            Err(MigrateError::Io {
                message: format!("reading the migration files failed: {e}"),
            })
        })
}

/// The track's ledger rows (none when its table does not exist yet); closes the connection.
pub(crate) async fn read_and_close(
    mut conn: PgConnection,
    track: &Track,
) -> Result<Vec<Row>, MigrateError> {
    let table = qualify(&mut conn, track.table).await?;
    let rows = ledger::read(&mut conn, &table).await?;
    let _ = conn.close().await;
    Ok(rows)
}

/// Schema-qualified table name (files may change search_path during a run).
pub(crate) async fn qualify(conn: &mut PgConnection, table: &str) -> Result<String, MigrateError> {
    let schema: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(&mut *conn)
        .await
        .map_err(error::db("read the current schema"))?;
    Ok(format!("{}.{table}", apply::quote_ident(&schema)))
}
