//! Files on disk against the ledger: applied, pending, changed (formatting only or real),
//! in doubt, or missing (recorded but the file is gone).

use std::collections::HashMap;

use crate::error::MigrateError;
use crate::files::{self, MigrationFile};
use crate::ledger::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Only line endings, trailing whitespace or the BOM differ.
    Formatting,
    /// The SQL itself differs.
    Content,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Formatting => "formatting-only",
            Change::Content => "content",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Applied,
    Pending,
    Changed(Change),
    InDoubt,
    Missing,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Changed(_) => "changed",
            State::InDoubt => "in-doubt",
            State::Missing => "missing",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub filename: String,
    pub version: u64,
    pub state: State,
    pub file: Option<&'a MigrationFile>,
    pub row: Option<&'a Row>,
}

#[derive(Debug)]
pub struct Plan<'a> {
    pub entries: Vec<Entry<'a>>,
}

/// How an applied file compares with its ledger row.
pub fn compare(file: &MigrationFile, row: &Row) -> Option<Change> {
    if file.checksum == row.checksum {
        None
    } else if file.normalized_checksum == row.normalized_checksum {
        Some(Change::Formatting)
    } else {
        Some(Change::Content)
    }
}

impl<'a> Plan<'a> {
    pub fn new(files: &'a [MigrationFile], rows: &'a [Row]) -> Self {
        let by_name: HashMap<&str, &Row> = rows.iter().map(|r| (r.filename.as_str(), r)).collect();
        let mut entries: Vec<Entry<'a>> = files
            .iter()
            .map(|f| {
                let row = by_name.get(f.filename.as_str()).copied();
                let state = match row {
                    None => State::Pending,
                    Some(r) if r.in_doubt() => State::InDoubt,
                    Some(r) => compare(f, r).map_or(State::Applied, State::Changed),
                };
                Entry {
                    filename: f.filename.clone(),
                    version: f.version,
                    state,
                    file: Some(f),
                    row,
                }
            })
            .collect();
        let on_disk: std::collections::HashSet<&str> =
            files.iter().map(|f| f.filename.as_str()).collect();
        for r in rows
            .iter()
            .filter(|r| !on_disk.contains(r.filename.as_str()))
        {
            entries.push(Entry {
                filename: r.filename.clone(),
                version: u64::try_from(r.version).unwrap_or(0),
                state: if r.in_doubt() {
                    State::InDoubt
                } else {
                    State::Missing
                },
                file: None,
                row: Some(r),
            });
        }
        entries.sort_by(|a, b| (a.version, &a.filename).cmp(&(b.version, &b.filename)));
        Self { entries }
    }

    pub fn count(&self, pred: impl Fn(State) -> bool) -> usize {
        self.entries.iter().filter(|e| pred(e.state)).count()
    }

    pub fn pending(&self) -> Vec<&'a MigrationFile> {
        self.entries
            .iter()
            .filter(|e| e.state == State::Pending)
            .filter_map(|e| e.file)
            .collect()
    }

    /// The names of the entries `pred` selects, in order.
    fn names(&self, pred: impl Fn(&Entry<'_>) -> bool) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| pred(e))
            .map(|e| e.filename.as_str())
            .collect()
    }

    /// The refusals of `up` / `seed`, in order of severity: in-doubt files (never re-run
    /// silently), changed applied files, gaps and files below the highest applied version.
    pub fn check(
        &self,
        files: &[MigrationFile],
        kind: &str,
        allow_out_of_order: bool,
        accept_formatting: bool,
    ) -> Result<Vec<String>, MigrateError> {
        let mut warnings = Vec::new();
        let in_doubt = self.names(|e| e.state == State::InDoubt);
        if !in_doubt.is_empty() {
            return Err(MigrateError::Failed {
                message: format!(
                    "{} in doubt: a no-transaction run started and never finished, so it may be partly applied — check the database, then `migrate-ledger resolve --applied FILE` (it took effect) or `--failed FILE` (run it again)",
                    in_doubt.join(", ")
                ),
            });
        }
        for e in &self.entries {
            if let State::Changed(change) = e.state {
                let row = e.row.expect("changed entries have a row");
                let file = e.file.expect("changed entries have a file");
                if change == Change::Formatting && accept_formatting {
                    warnings.push(format!("{} changed since it was applied, formatting only (line endings / trailing whitespace / BOM); accepted", e.filename));
                    continue;
                }
                return Err(MigrateError::Integrity {
                    message: match change {
                        Change::Formatting => format!(
                            "{} changed since it was applied ({} → {}), but only in formatting (line endings, trailing whitespace or BOM) — restore the file, or record it with `migrate-ledger repair --accept {}` (or pass --accept-formatting)",
                            file.path.display(),
                            row.checksum,
                            file.checksum,
                            e.filename
                        ),
                        Change::Content => format!(
                            "{} changed since it was applied ({} → {}) and the SQL itself differs — restore the applied version (git log -p {}) and put the change in a new migration (`migrate-ledger new NAME`); `repair --accept {}` records the edit if it is truly equivalent",
                            file.path.display(),
                            row.checksum,
                            file.checksum,
                            file.path.display(),
                            e.filename
                        ),
                    },
                });
            }
        }
        for e in self.entries.iter().filter(|e| e.state == State::Missing) {
            warnings.push(format!(
                "{} is recorded as applied but no longer on disk (restore it from git)",
                e.filename
            ));
        }
        if !allow_out_of_order {
            if let Some((before, after)) = files::gaps(files).first() {
                return Err(MigrateError::Layout {
                    message: format!(
                        "gap in the {kind} numbering: {} is followed by {} — renumber the file, or pass --allow-out-of-order if the gap is intended",
                        before.filename, after.filename
                    ),
                });
            }
            let highest = self
                .entries
                .iter()
                .filter(|e| matches!(e.state, State::Applied | State::Changed(_)))
                .map(|e| e.version)
                .max();
            if let Some(highest) = highest {
                let below = self.names(|e| e.state == State::Pending && e.version < highest);
                if !below.is_empty() {
                    return Err(MigrateError::Layout {
                        message: format!(
                            "{} {} numbered below the highest applied {kind} ({highest}) — renumber with `migrate-ledger new NAME` (moves it to the end), or pass --allow-out-of-order to apply it anyway",
                            below.join(", "),
                            if below.len() == 1 {
                                "is new but"
                            } else {
                                "are new but"
                            }
                        ),
                    });
                }
            }
        }
        Ok(warnings)
    }
}
