//! Connections and the advisory lock.
//!
//! The lock lives on a dedicated connection: a session-level `pg_try_advisory_lock` polled with
//! jitter, so a waiting runner never holds a server-side wait queue slot and can report who
//! holds the lock. If the process dies the server drops the session and with it the lock.
//! Exactly-once does not rest on the lock alone: every migration inserts its ledger row first,
//! inside its own transaction, so two runners that somehow overlap serialise on that row.

use std::str::FromStr as _;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions as _, Connection as _};

use crate::error::{MigrateError, db};

/// Our `application_name`, so a waiting runner can name the holder.
pub const APPLICATION_NAME: &str = "migrate-ledger";

/// The advisory lock key: "devenvML" as a big-endian i64. Advisory locks are per database.
pub const LOCK_KEY: i64 = i64::from_be_bytes(*b"devenvML");

/// Parses the URL into connect options with our application name and no statement logging
/// (statements can be long, and the seed settings must never reach a log).
pub fn options(url: &str) -> Result<PgConnectOptions, MigrateError> {
    let opts = PgConnectOptions::from_str(url).map_err(|e| MigrateError::Usage {
        message: format!(
            "the database URL {} is not a valid postgres:// URL ({e}) — fix --database-url, DATABASE_URL or the bundle (`make secrets-sync`)",
            devenv_core::redact::mask_url(url)
        ),
    })?;
    Ok(opts
        .application_name(&format!("{APPLICATION_NAME} pid={}", std::process::id()))
        .disable_statement_logging())
}

/// Errors worth retrying while the server starts: refused/reset connections and
/// `57P03 cannot_connect_now` ("the database system is starting up").
fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(d) => d.code().as_deref() == Some("57P03"),
        _ => false,
    }
}

/// Connects, retrying transient failures until `wait` has passed (zero: one attempt).
pub async fn connect(
    opts: &PgConnectOptions,
    wait: Duration,
    what: &str,
) -> Result<PgConnection, MigrateError> {
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(25);
    let target = format!(
        "{}:{}/{}",
        opts.get_host(),
        opts.get_port(),
        opts.get_database().unwrap_or("postgres")
    );
    loop {
        match opts.connect().await {
            Ok(conn) => return Ok(conn),
            Err(e) if is_transient(&e) && Instant::now() + pause < deadline => {
                tracing::info!("{what}: {target} not ready yet ({e}); retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
            Err(e) if is_transient(&e) && !wait.is_zero() => {
                return Err(MigrateError::Timeout {
                    message: format!(
                        "PostgreSQL at {target} did not accept connections within --wait-timeout {} ({e}) — start the stack with `make up` or raise --wait-timeout",
                        devenv_core::duration::display(wait)
                    ),
                });
            }
            Err(source) => {
                let remedy = match &source {
                    sqlx::Error::Database(d) if d.code().as_deref() == Some("28P01") => {
                        "the password does not match: rerun `make secrets-sync` or fix DATABASE_URL"
                    }
                    sqlx::Error::Database(d) if d.code().as_deref() == Some("3D000") => {
                        "the database does not exist: create it or fix the database name in DATABASE_URL"
                    }
                    _ => "start the stack with `make up` (or pass --wait-timeout while it starts)",
                };
                return Err(MigrateError::Connect {
                    message: format!("cannot connect to PostgreSQL at {target} — {remedy}"),
                    source,
                });
            }
        }
    }
}

/// Who holds the lock, as PostgreSQL sees it.
#[derive(Debug, Clone)]
pub struct Holder {
    pub pid: i32,
    pub application_name: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let app = if self.application_name.is_empty() {
            "(no application_name)"
        } else {
            &self.application_name
        };
        write!(f, "backend pid {} ({app})", self.pid)
    }
}

/// The held advisory lock; release it with [`Lock::release`] on every path.
pub struct Lock {
    conn: PgConnection,
    pub waited: Duration,
}

/// The session holding our advisory key in this database (bigint keys show up in pg_locks as
/// classid = high 32 bits, objid = low 32 bits, objsubid = 1).
pub async fn holder(conn: &mut PgConnection) -> Result<Option<Holder>, MigrateError> {
    let high = (LOCK_KEY >> 32) as u32 as i64;
    let low = (LOCK_KEY & 0xffff_ffff) as u32 as i64;
    let row: Option<(i32, Option<String>)> = sqlx::query_as(
        "SELECT l.pid, a.application_name FROM pg_locks l \
         LEFT JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
           AND l.classid::bigint = $1 AND l.objid::bigint = $2 \
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         LIMIT 1",
    )
    .bind(high)
    .bind(low)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db("find the lock holder"))?;
    Ok(row.map(|(pid, app)| Holder {
        pid,
        application_name: app.unwrap_or_default(),
    }))
}

/// Polls `pg_try_advisory_lock` with jittered back-off until it is ours or `timeout` passes.
/// `on_wait` is told the holder once, when waiting starts, and again whenever it changes.
pub async fn acquire(
    mut conn: PgConnection,
    timeout: Duration,
    mut on_wait: impl FnMut(&Holder),
) -> Result<Lock, MigrateError> {
    let start = Instant::now();
    let deadline = start + timeout;
    let mut pause = Duration::from_millis(10);
    let mut last_holder: Option<i32> = None;
    loop {
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(LOCK_KEY)
            .fetch_one(&mut conn)
            .await
            .map_err(db("take the migration lock"))?;
        if got {
            return Ok(Lock {
                conn,
                waited: start.elapsed(),
            });
        }
        let current = holder(&mut conn).await?;
        if let Some(h) = &current {
            if last_holder != Some(h.pid) {
                on_wait(h);
                last_holder = Some(h.pid);
            }
        }
        if Instant::now() >= deadline {
            let who = current.map_or_else(
                || "another session (it just released it)".to_string(),
                |h| h.to_string(),
            );
            let _ = conn.close().await;
            return Err(MigrateError::Timeout {
                message: format!(
                    "the migration lock is held by {who}; gave up after --lock-timeout {} — wait for that run to finish, or end it with `SELECT pg_terminate_backend(PID)` if it is stuck",
                    devenv_core::duration::display(timeout)
                ),
            });
        }
        // Jitter (50–150 % of the pause) keeps eight waiting runners from polling in lockstep.
        let jittered = pause.mul_f64(rand::random_range(0.5..1.5));
        let sleep = jittered.min(deadline.saturating_duration_since(Instant::now()));
        tokio::time::sleep(sleep).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

impl Lock {
    /// Releases the lock and closes its connection. Errors are logged: the server drops the
    /// lock with the session anyway.
    pub async fn release(mut self) {
        if let Err(e) = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(LOCK_KEY)
            .execute(&mut self.conn)
            .await
        {
            tracing::warn!("releasing the migration lock failed ({e}); it ends with the session");
        }
        let _ = self.conn.close().await;
    }
}
