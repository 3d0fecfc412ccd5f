//! Applying files.
//!
//! Each transactional file runs as `BEGIN; <ledger insert>; <file>; <ledger update>; COMMIT;`.
//! The ledger row is inserted first, so a second runner that reaches the same file blocks on
//! the row and then fails with a unique violation instead of applying it twice. Consecutive
//! files are pipelined: up to [`MAX_BATCH_FILES`] such blocks go to the server in one simple
//! query message (each still commits on its own), so 1,000 small files cost a handful of round
//! trips. If a batch fails, the files already committed stay committed and the rest of the
//! batch is re-run one file per message, which pins the failing file and maps the server's
//! error position to `file:line:column`.
//!
//! The session commits with `synchronous_commit = off` and ends every run with one synchronous
//! commit, which flushes the WAL of all earlier commits: the same durability at the end of the
//! run, one disk flush instead of one per file. A server crash mid-run can only lose whole
//! trailing migrations together with their ledger rows, never half of one.

use std::time::Instant;

use sqlx::postgres::{PgConnection, PgDatabaseError, PgErrorPosition};

use crate::error::{MigrateError, db};
use crate::files::{self, MigrationFile};
use crate::ledger::{RowState, literal};
use crate::split;

pub const MAX_BATCH_FILES: usize = 100;
pub const MAX_BATCH_BYTES: usize = 1 << 20;

/// What a run did: files applied by us, files found applied by a concurrent runner, and the
/// error that stopped it (the files before it stay applied).
#[derive(Debug, Default)]
pub struct Outcome {
    pub applied: Vec<String>,
    pub concurrent: Vec<String>,
    pub error: Option<MigrateError>,
}

pub struct Applier<'c> {
    conn: &'c mut PgConnection,
    /// Schema-qualified ledger table (files may change search_path).
    table: String,
    actor: String,
}

/// Refuses files that would break the per-file transaction before anything runs.
pub fn precheck(pending: &[&MigrationFile]) -> Result<(), MigrateError> {
    for f in pending.iter().filter(|f| !f.no_transaction) {
        if let Some(stmt) = split::transaction_control(&f.sql) {
            let start = stmt.char_offset + leading_blank_chars(stmt.text);
            let (line, col) = files::line_col(&f.sql, start);
            return Err(MigrateError::Layout {
                message: format!(
                    "{}:{line}:{col}: the file controls its own transaction (`{}`), which would commit half a migration — remove it (every file already runs in its own transaction), or put `{}` on the first line to run the file outside a transaction",
                    f.path.display(),
                    split::strip_comments(stmt.text)
                        .lines()
                        .next()
                        .unwrap_or("")
                        .trim(),
                    files::NO_TRANSACTION_MARKER
                ),
            });
        }
    }
    Ok(())
}

fn leading_blank_chars(text: &str) -> usize {
    let stripped = split::strip_comments(text);
    text[..text.len() - stripped.len()].chars().count()
}

/// One file inside a query message: where its text starts (characters) and how long it is.
struct Span<'f> {
    file: &'f MigrationFile,
    start: usize,
    chars: usize,
}

impl<'c> Applier<'c> {
    /// Prepares the session for asynchronous commits (see the module docs). `table` is the
    /// schema-qualified ledger table.
    pub async fn new(
        conn: &'c mut PgConnection,
        table: &str,
        actor: String,
    ) -> Result<Self, MigrateError> {
        sqlx::raw_sql("SET synchronous_commit = off")
            .execute(&mut *conn)
            .await
            .map_err(db("configure the session"))?;
        Ok(Self {
            conn,
            table: table.to_string(),
            actor,
        })
    }

    pub async fn run(
        mut self,
        pending: &[&MigrationFile],
        mut progress: impl FnMut(&str),
    ) -> Outcome {
        let mut outcome = Outcome::default();
        let mut i = 0;
        // After a failed batch, files up to this index run one per message.
        let mut single_until = 0;
        while i < pending.len() {
            let file = pending[i];
            if file.no_transaction {
                match self.apply_no_transaction(file).await {
                    Ok(true) => outcome.applied.push(file.filename.clone()),
                    Ok(false) => outcome.concurrent.push(file.filename.clone()),
                    Err(e) => {
                        outcome.error = Some(e);
                        break;
                    }
                }
                progress(&file.filename);
                i += 1;
                continue;
            }
            let mut end = i + 1;
            if i >= single_until {
                let mut bytes = file.sql.len();
                while end < pending.len()
                    && end - i < MAX_BATCH_FILES
                    && !pending[end].no_transaction
                    && bytes + pending[end].sql.len() <= MAX_BATCH_BYTES
                {
                    bytes += pending[end].sql.len();
                    end += 1;
                }
            }
            let batch = &pending[i..end];
            let (query, spans) = self.batch_query(batch);
            match sqlx::raw_sql(&query).execute(&mut *self.conn).await {
                Ok(_) => {
                    for f in batch {
                        outcome.applied.push(f.filename.clone());
                        progress(&f.filename);
                    }
                    i = end;
                }
                Err(e) => {
                    if let Err(e) = self.recover().await {
                        outcome.error = Some(e);
                        break;
                    }
                    let recorded = match self.recorded(batch).await {
                        Ok(r) => r,
                        Err(e) => {
                            outcome.error = Some(e);
                            break;
                        }
                    };
                    if batch.len() > 1 {
                        // Keep what committed, retry the rest one by one to pin the failure.
                        while i < end {
                            let Some(by) = recorded.get(&pending[i].filename) else {
                                break;
                            };
                            // applied_by names the run (pid): ours, or a concurrent one's.
                            if *by == self.actor {
                                outcome.applied.push(pending[i].filename.clone());
                            } else {
                                outcome.concurrent.push(pending[i].filename.clone());
                            }
                            progress(&pending[i].filename);
                            i += 1;
                        }
                        single_until = end;
                        continue;
                    }
                    if recorded.contains_key(&file.filename) {
                        // Another runner (e.g. the backend of a killed one) committed it first.
                        outcome.concurrent.push(file.filename.clone());
                        i += 1;
                        continue;
                    }
                    outcome.error = Some(failure(&e, &spans, outcome.applied.len()));
                    break;
                }
            }
        }
        if let Err(e) = self.flush().await {
            outcome.error.get_or_insert(e);
        }
        outcome
    }

    /// The ledger row of `file` in `state`, as a literal statement (it goes into a
    /// pipelined batch, which takes no bind parameters; every value is ours or a checksum).
    fn record_sql(&self, file: &MigrationFile, state: RowState) -> String {
        format!(
            "INSERT INTO {} (filename, version, checksum, normalized_checksum, state, applied_at, applied_by) VALUES ({}, {}, {}, {}, {}, clock_timestamp(), {})",
            self.table,
            literal(&file.filename),
            file.version,
            literal(&file.checksum),
            literal(&file.normalized_checksum),
            literal(state.as_str()),
            literal(&self.actor)
        )
    }

    fn batch_query<'f>(&self, batch: &[&'f MigrationFile]) -> (String, Vec<Span<'f>>) {
        let mut query = String::with_capacity(batch.iter().map(|f| f.sql.len() + 512).sum());
        let mut chars = 0usize;
        let mut spans = Vec::with_capacity(batch.len());
        fn push(query: &mut String, chars: &mut usize, text: &str) {
            *chars += text.chars().count();
            query.push_str(text);
        }
        for f in batch {
            let name = literal(&f.filename);
            let head = format!("BEGIN;\n{};\n", self.record_sql(f, RowState::Applied));
            push(&mut query, &mut chars, &head);
            let start = chars;
            push(&mut query, &mut chars, &f.sql);
            spans.push(Span {
                file: f,
                start,
                chars: chars - start,
            });
            let tail = format!(
                "\n;\nUPDATE {} SET applied_at = clock_timestamp(), duration_ms = (extract(epoch FROM clock_timestamp() - applied_at) * 1000)::int WHERE filename = {name};\nCOMMIT;\n",
                self.table
            );
            push(&mut query, &mut chars, &tail);
        }
        (query, spans)
    }

    /// Leaves an aborted transaction, if the failure left one open.
    async fn recover(&mut self) -> Result<(), MigrateError> {
        if let Err(sqlx::Error::Database(d)) =
            sqlx::raw_sql("SELECT 1").execute(&mut *self.conn).await
        {
            if d.code().as_deref() == Some("25P02") {
                sqlx::raw_sql("ROLLBACK")
                    .execute(&mut *self.conn)
                    .await
                    .map_err(db("roll back the failed migration"))?;
            }
        }
        Ok(())
    }

    /// Which of these files the ledger now records (applied or started).
    async fn recorded(
        &mut self,
        batch: &[&MigrationFile],
    ) -> Result<std::collections::HashMap<String, String>, MigrateError> {
        let names: Vec<String> = batch.iter().map(|f| f.filename.clone()).collect();
        let rows: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT filename, applied_by FROM {} WHERE filename = ANY($1)",
            self.table
        ))
        .bind(&names)
        .fetch_all(&mut *self.conn)
        .await
        .map_err(db("re-read the ledger after a failure"))?;
        Ok(rows.into_iter().collect())
    }

    /// A `-- devenv:no-transaction` file: recorded as started (committed) before it runs, its
    /// statements run one by one, then marked applied. Returns false when a concurrent runner
    /// had already recorded it.
    async fn apply_no_transaction(&mut self, file: &MigrationFile) -> Result<bool, MigrateError> {
        let start = self.record_sql(file, RowState::Started);
        if let Err(e) = sqlx::raw_sql(&start).execute(&mut *self.conn).await {
            if let sqlx::Error::Database(d) = &e {
                if d.code().as_deref() == Some("23505") {
                    return Ok(false);
                }
            }
            return Err(MigrateError::Database {
                context: format!("record {} as started", file.filename),
                source: e,
            });
        }
        let began = Instant::now();
        let statements = split::statements(&file.sql);
        for (n, stmt) in statements.iter().enumerate() {
            if let Err(e) = sqlx::raw_sql(stmt.text).execute(&mut *self.conn).await {
                let span = Span {
                    file,
                    start: 0,
                    chars: file.sql.chars().count(),
                };
                let located = locate(&e, &[span], stmt.char_offset);
                if n == 0 {
                    // Nothing took effect: forget the start so the file can simply run again.
                    let sql = format!("DELETE FROM {} WHERE filename = $1", self.table);
                    let context = format!("clear the start record of {}", file.filename);
                    self.on_row(&sql, file, context).await?;
                    return Err(MigrateError::Failed {
                        message: format!(
                            "{located} — nothing of it was applied; fix the file and run `migrate-ledger up` again"
                        ),
                    });
                }
                return Err(MigrateError::Failed {
                    message: format!(
                        "{located} — this no-transaction file stopped at statement {} of {}, so the statements before it took effect and it is now in doubt: finish or undo it by hand, then `migrate-ledger resolve --applied {0}` or `--failed {0}`",
                        n + 1,
                        statements.len(),
                    )
                    .replace("{0}", &file.filename),
                });
            }
        }
        let ms = i32::try_from(began.elapsed().as_millis()).unwrap_or(i32::MAX);
        let sql = format!(
            "UPDATE {} SET state = 'applied', applied_at = clock_timestamp(), duration_ms = {ms} WHERE filename = $1",
            self.table
        );
        let context = format!(
            "mark {} applied (it ran; it is now in doubt)",
            file.filename
        );
        self.on_row(&sql, file, context).await?;
        Ok(true)
    }

    /// Runs `sql` on the ledger row of `file` (its name is `$1`).
    async fn on_row(
        &mut self,
        sql: &str,
        file: &MigrationFile,
        context: String,
    ) -> Result<(), MigrateError> {
        sqlx::query(sql)
            .bind(&file.filename)
            .execute(&mut *self.conn)
            .await
            .map_err(db(context))?;
        Ok(())
    }

    /// One synchronous commit: flushes the WAL of every earlier asynchronous commit.
    async fn flush(&mut self) -> Result<(), MigrateError> {
        sqlx::raw_sql("BEGIN; SET LOCAL synchronous_commit = on; SELECT txid_current(); COMMIT;")
            .execute(&mut *self.conn)
            .await
            .map_err(db("flush the applied migrations to disk"))?;
        Ok(())
    }
}

/// Double-quotes an identifier when it needs it.
pub fn quote_ident(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
    {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `path:line:column: message` from the server's error position (characters, 1-based, into
/// the query message), or `path: message` when the error has no position in the file.
fn locate(e: &sqlx::Error, spans: &[Span<'_>], extra_offset: usize) -> String {
    let pg = match e {
        sqlx::Error::Database(d) => d.try_downcast_ref::<PgDatabaseError>(),
        _ => None,
    };
    let Some(pg) = pg else {
        let name = spans
            .first()
            .map_or_else(String::new, |s| format!("{}: ", s.file.path.display()));
        return format!("{name}{e}");
    };
    let mut text = format!("{} ({}): {}", pg.severity_str(), pg.code(), pg.message());
    if let Some(detail) = pg.detail() {
        text.push_str(&format!("; detail: {detail}"));
    }
    if let Some(hint) = pg.hint() {
        text.push_str(&format!("; hint: {hint}"));
    }
    let position = match pg.position() {
        Some(PgErrorPosition::Original(p)) => Some(p.saturating_sub(1) + extra_offset),
        _ => None,
    };
    let located = position.and_then(|p| {
        spans
            .iter()
            .find(|s| p >= s.start && p <= s.start + s.chars)
            .map(|s| {
                let (line, col) = files::line_col(&s.file.sql, p - s.start);
                format!("{}:{line}:{col}", s.file.path.display())
            })
    });
    let name = located.unwrap_or_else(|| {
        spans
            .first()
            .map_or_else(String::new, |s| s.file.path.display().to_string())
    });
    format!("{name}: {text}")
}

fn failure(e: &sqlx::Error, spans: &[Span<'_>], applied_before: usize) -> MigrateError {
    let located = locate(e, spans, 0);
    let before = if applied_before == 0 {
        String::new()
    } else {
        format!(" ({applied_before} earlier file(s) were applied and stay applied)")
    };
    MigrateError::Failed {
        message: format!(
            "{located} — the file was rolled back, nothing of it was applied{before}; fix it and run `migrate-ledger up` again"
        ),
    }
}

trait SeverityStr {
    fn severity_str(&self) -> &'static str;
}

impl SeverityStr for PgDatabaseError {
    fn severity_str(&self) -> &'static str {
        use sqlx::postgres::PgSeverity;
        match self.severity() {
            PgSeverity::Panic => "PANIC",
            PgSeverity::Fatal => "FATAL",
            PgSeverity::Error => "ERROR",
            PgSeverity::Warning => "WARNING",
            PgSeverity::Notice => "NOTICE",
            PgSeverity::Debug => "DEBUG",
            PgSeverity::Info => "INFO",
            PgSeverity::Log => "LOG",
        }
    }
}
