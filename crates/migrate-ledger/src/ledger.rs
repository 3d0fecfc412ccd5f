//! The ledger: the `schema_migrations` table (the source of truth, written in the same
//! transaction as each migration), its audit table, and the JSON copy written afterwards.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnection, PgRow};

use crate::error::{MigrateError, db};

/// Audited actions (`repair --accept`, `resolve`) for every ledger table.
pub const AUDIT_TABLE: &str = "schema_migrations_audit";

/// Which set of files a track holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackKind {
    Migrations,
    Seeds,
}

impl TrackKind {
    /// `migrations` or `seeds` (for messages, events and documents).
    pub fn as_str(self) -> &'static str {
        match self {
            TrackKind::Migrations => "migrations",
            TrackKind::Seeds => "seeds",
        }
    }

    /// The event a run that applied files of this track appends.
    pub fn applied_event(self) -> &'static str {
        match self {
            TrackKind::Migrations => "migrations_applied",
            TrackKind::Seeds => "seeds_applied",
        }
    }
}

impl std::fmt::Display for TrackKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One tracked set of files: the platform migrations, or the seed data.
#[derive(Debug, Clone)]
pub struct Track {
    pub kind: TrackKind,
    pub table: &'static str,
    pub dir: PathBuf,
    pub json_path: PathBuf,
}

/// A file recorded as applied (`state = applied`) or started but not finished (`state =
/// started`, only for `no-transaction` files: in doubt after a crash).
#[derive(Debug, Clone)]
pub struct Row {
    pub(crate) filename: String,
    pub(crate) version: i64,
    pub(crate) checksum: String,
    pub(crate) normalized_checksum: String,
    pub(crate) state: RowState,
    pub(crate) applied_at: DateTime<Utc>,
    pub(crate) duration_ms: Option<i32>,
    pub(crate) applied_by: String,
}

impl Row {
    pub fn in_doubt(&self) -> bool {
        self.state == RowState::Started
    }
}

/// The ledger table's `state` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    Applied,
    /// A no-transaction file started and not (yet) finished.
    Started,
}

impl RowState {
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Applied => "applied",
            RowState::Started => "started",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [RowState::Applied, RowState::Started]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// Creates the ledger and audit tables if missing (run under the lock: concurrent
/// `CREATE TABLE IF NOT EXISTS` can still collide in the catalog).
pub async fn ensure_tables(conn: &mut PgConnection, table: &str) -> Result<(), MigrateError> {
    let sql = format!(
        "BEGIN;
SET LOCAL client_min_messages = warning;
CREATE TABLE IF NOT EXISTS {table} (
    filename            text PRIMARY KEY,
    version             bigint NOT NULL,
    checksum            text NOT NULL CHECK (checksum LIKE 'sha256:%'),
    normalized_checksum text NOT NULL,
    state               text NOT NULL DEFAULT 'applied' CHECK (state IN ('applied', 'started')),
    applied_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    duration_ms         integer,
    applied_by          text NOT NULL
);
CREATE TABLE IF NOT EXISTS {AUDIT_TABLE} (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    ledger       text NOT NULL,
    filename     text NOT NULL,
    action       text NOT NULL,
    old_checksum text,
    new_checksum text,
    actor        text NOT NULL,
    note         text
);
COMMIT;"
    );
    sqlx::raw_sql(&sql)
        .execute(&mut *conn)
        .await
        .map_err(db(format!("create the ledger table {table}")))?;
    Ok(())
}

/// Every ledger row in version order; empty when the table does not exist yet.
pub async fn read(conn: &mut PgConnection, table: &str) -> Result<Vec<Row>, MigrateError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(table)
        .fetch_one(&mut *conn)
        .await
        .map_err(db(format!("look up the ledger table {table}")))?;
    if !exists {
        return Ok(Vec::new());
    }
    read_existing(conn, table).await
}

/// Every row of a ledger table known to exist.
pub async fn read_existing(conn: &mut PgConnection, table: &str) -> Result<Vec<Row>, MigrateError> {
    sqlx::query_as(&format!(
        "SELECT filename, version, checksum, normalized_checksum, state, applied_at, duration_ms, applied_by \
         FROM {table} ORDER BY version, filename"
    ))
    .fetch_all(&mut *conn)
    .await
    .map_err(db(format!("read the ledger table {table}")))
}

/// Columns by name, so the SELECT list and the struct cannot drift apart silently.
impl sqlx::FromRow<'_, PgRow> for Row {
    fn from_row(row: &PgRow) -> sqlx::Result<Self> {
        use sqlx::Row as _;
        Ok(Self {
            filename: row.try_get("filename")?,
            version: row.try_get("version")?,
            checksum: row.try_get("checksum")?,
            normalized_checksum: row.try_get("normalized_checksum")?,
            state: {
                let text: String = row.try_get("state")?;
                RowState::parse(&text).ok_or_else(|| sqlx::Error::ColumnDecode {
                    index: "state".into(),
                    source: format!("unknown ledger state `{text}`").into(),
                })?
            },
            applied_at: row.try_get("applied_at")?,
            duration_ms: row.try_get("duration_ms")?,
            applied_by: row.try_get("applied_by")?,
        })
    }
}

/// An audited action (`repair --accept`, `resolve`), recorded in the same transaction as the
/// ledger change it explains.
pub struct Audit {
    pub filename: String,
    pub action: &'static str,
    pub old_checksum: Option<String>,
    pub new_checksum: Option<String>,
    pub note: String,
}

impl Audit {
    /// Inserts the audit row for the ledger table `ledger`, by [`actor`], with bind
    /// parameters: the note is stored exactly as given, whatever quotes, backslashes or
    /// server settings.
    pub async fn record(&self, conn: &mut PgConnection, ledger: &str) -> Result<(), MigrateError> {
        sqlx::query(&format!(
            "INSERT INTO {AUDIT_TABLE} (ledger, filename, action, old_checksum, new_checksum, actor, note) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(ledger)
        .bind(&self.filename)
        .bind(self.action)
        .bind(&self.old_checksum)
        .bind(&self.new_checksum)
        .bind(actor())
        .bind(&self.note)
        .execute(&mut *conn)
        .await
        .map_err(db(format!("audit the {} of {}", self.action, self.filename)))?;
        Ok(())
    }
}

/// A SQL string literal (standard_conforming_strings: only `'` needs doubling).
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Who applies: `user@host`, stored in `applied_by` and the audit table.
pub fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(user_from_passwd)
        .unwrap_or_else(|| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    if host.is_empty() {
        user
    } else {
        format!("{user}@{host}")
    }
}

/// `applied_by` of a run: [`actor`] and this process's pid, so a run can tell its own ledger
/// rows from a concurrent run's.
pub fn run_actor() -> String {
    format!("{} pid={}", actor(), std::process::id())
}

/// The name of this process's uid in /etc/passwd (containers often have no $USER).
fn user_from_passwd() -> Option<String> {
    use std::os::unix::fs::MetadataExt as _;
    let uid = std::fs::metadata("/proc/self").ok()?.uid().to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_string())
    })
}

/// The JSON ledger (`{"version":1,"applied":[{"filename","checksum","appliedAt"}]}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonLedger {
    pub version: u32,
    pub applied: Vec<JsonEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonEntry {
    pub filename: String,
    pub checksum: String,
    #[serde(rename = "appliedAt")]
    pub applied_at: String,
}

impl JsonLedger {
    /// The JSON view of the applied rows (in-doubt rows are not applied).
    pub fn from_rows(rows: &[Row]) -> Self {
        Self {
            version: 1,
            applied: rows
                .iter()
                .filter(|r| !r.in_doubt())
                .map(|r| JsonEntry {
                    filename: r.filename.clone(),
                    checksum: r.checksum.clone(),
                    applied_at: r
                        .applied_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                })
                .collect(),
        }
    }

    /// Reads the JSON ledger; None when it does not exist.
    pub fn read(path: &Path) -> Result<Option<Self>, MigrateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(MigrateError::Io {
                    message: format!("cannot read {}: {e}", path.display()),
                });
            }
        };
        serde_json::from_str(&text).map(Some).map_err(|e| MigrateError::Integrity {
            message: format!(
                "{} is not a valid ledger ({e}) — it is a copy of the table: delete it and run `migrate-ledger up` to rewrite it",
                path.display()
            ),
        })
    }

    /// Writes atomically (mode 0644) unless the file already holds exactly this content.
    pub fn write(&self, path: &Path) -> Result<bool, MigrateError> {
        let mut text = serde_json::to_string_pretty(self).expect("ledger serialises");
        text.push('\n');
        if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
            return Ok(false);
        }
        devenv_core::bundle::write_atomic(path, text.as_bytes(), 0o644)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_quotes() {
        assert_eq!(literal("o'brien"), "'o''brien'");
    }

    #[test]
    fn json_ledger_round_trips_and_skips_unchanged_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.json");
        let ledger = JsonLedger {
            version: 1,
            applied: vec![JsonEntry {
                filename: "001_a.sql".into(),
                checksum: "sha256:00".into(),
                applied_at: "2026-01-01T00:00:00.000Z".into(),
            }],
        };
        assert!(ledger.write(&path).unwrap());
        assert!(!ledger.write(&path).unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"appliedAt\""));
        assert_eq!(JsonLedger::read(&path).unwrap(), Some(ledger));
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }
}
