//! The one place migrate-ledger prints results: a typed report per command, shown as one JSON
//! document (`--json`), human lines, or — under `--quiet` — only what must show.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use devenv_core::duration;
use devenv_core::output::{self, Format, Style};
use serde::{Serialize, Serializer};

use crate::ledger::{self, Row, TrackKind};
use crate::plan::{Plan, State};
use crate::seed;

/// A command's result: its JSON document body and its human lines.
pub(crate) trait Report: Serialize {
    /// The document's `kind`.
    fn kind(&self) -> &'static str;
    fn human(&self, style: &Style) -> Vec<String>;
    /// What shows even under `--quiet`.
    fn quiet(&self, _style: &Style) -> Vec<String> {
        Vec::new()
    }
}

/// Prints a report in the chosen format, through the redactor.
pub(crate) fn print(format: Format, style: &Style, report: &impl Report) {
    let lines = match format {
        Format::Json => {
            let body = serde_json::to_value(report).expect("reports serialise");
            output::print_json(&output::document(report.kind(), body));
            return;
        }
        Format::Human => report.human(style),
        Format::Quiet => report.quiet(style),
    };
    for line in lines {
        output::println_redacted(&line);
    }
}

/// The document kind of `up` and `seed`.
fn apply_kind(track: TrackKind) -> &'static str {
    match track {
        TrackKind::Migrations => "migrate_up",
        TrackKind::Seeds => "migrate_seed",
    }
}

/// `up` / `seed --dry-run`.
#[derive(Serialize)]
pub(crate) struct DryRun {
    pub track: TrackKind,
    pub dry_run: bool,
    pub pending: Vec<Pending>,
    pub warnings: Vec<String>,
}

/// A pending file: its name in the document, and whether it runs outside a transaction.
pub(crate) struct Pending {
    pub filename: String,
    pub no_transaction: bool,
}

impl Serialize for Pending {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.filename)
    }
}

impl Report for DryRun {
    fn kind(&self) -> &'static str {
        apply_kind(self.track)
    }
    fn human(&self, style: &Style) -> Vec<String> {
        let mut lines: Vec<String> = self
            .pending
            .iter()
            .map(|p| {
                let how = if p.no_transaction {
                    " (no transaction)"
                } else {
                    ""
                };
                format!("would apply {}{how}", p.filename)
            })
            .collect();
        lines.push(format!(
            "{} {}: {} pending (dry run, nothing changed)",
            style.green("✓"),
            self.track,
            self.pending.len()
        ));
        lines
    }
}

/// `up` / `seed`.
#[derive(Serialize)]
pub(crate) struct Applied {
    pub(crate) track: TrackKind,
    pub(crate) dry_run: bool,
    /// False when a file failed (the document is printed before the error).
    pub(crate) ok: bool,
    /// What this run applied, in order.
    pub(crate) applied: Vec<AppliedFile>,
    /// Files a concurrent run applied while this one waited.
    pub(crate) concurrent: Vec<String>,
    #[serde(flatten)]
    pub(crate) totals: Totals,
    /// Accepted deviations (`--allow-out-of-order`, `--accept-formatting`).
    pub(crate) warnings: Vec<String>,
    pub(crate) ledger_json: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) admin: Option<Admin>,
    #[serde(skip)]
    pub(crate) elapsed: Duration,
}

/// The ledger's size before and after an apply run, and how long it took.
#[derive(Serialize)]
pub(crate) struct Totals {
    pub already_applied: usize,
    pub total_applied: usize,
    /// Time spent waiting for the migration lock, and the whole run.
    pub lock_waited_ms: u64,
    pub duration_ms: u64,
}

#[derive(Serialize)]
pub(crate) struct AppliedFile {
    pub filename: String,
    pub duration_ms: Option<i32>,
}

/// Where a generated admin password was kept (never the password).
#[derive(Serialize)]
pub(crate) struct Admin {
    pub email: String,
    pub credentials_file: String,
    pub password_variable: &'static str,
}

impl Admin {
    pub fn new(g: &seed::Generated) -> Self {
        Self {
            email: g.email.clone(),
            credentials_file: g.credentials_file.display().to_string(),
            password_variable: seed::PASSWORD_KEY,
        }
    }

    /// The one thing the user must know about, even with --quiet.
    fn line(&self, style: &Style) -> String {
        format!(
            "{} system admin {} created; its password is in {} (key {}, mode 0600)",
            style.yellow("!"),
            self.email,
            self.credentials_file,
            self.password_variable
        )
    }
}

impl Applied {
    /// The applied files with their durations as the ledger recorded them.
    pub fn files(names: &[String], rows: &[Row]) -> Vec<AppliedFile> {
        names
            .iter()
            .map(|name| AppliedFile {
                filename: name.clone(),
                duration_ms: rows
                    .iter()
                    .find(|r| &r.filename == name)
                    .and_then(|r| r.duration_ms),
            })
            .collect()
    }
}

impl Report for Applied {
    fn kind(&self) -> &'static str {
        apply_kind(self.track)
    }
    fn human(&self, style: &Style) -> Vec<String> {
        let mut lines = Vec::new();
        for f in &self.applied {
            let ms = f.duration_ms.map_or_else(String::new, |d| {
                format!(" {}", style.dim(&format!("({d} ms)")))
            });
            lines.push(format!("{} applied {}{ms}", style.green("✓"), f.filename));
        }
        for name in &self.concurrent {
            lines.push(format!("  {name} was applied by a concurrent run"));
        }
        if self.ok {
            let total = self.totals.total_applied;
            lines.push(if self.applied.is_empty() {
                format!(
                    "{} {} up to date ({total} applied, nothing pending)",
                    style.green("✓"),
                    self.track
                )
            } else {
                format!(
                    "{} {}: {} applied in {}, {total} total",
                    style.green("✓"),
                    self.track,
                    self.applied.len(),
                    duration::display(self.elapsed)
                )
            });
        }
        lines.extend(self.quiet(style));
        lines
    }
    fn quiet(&self, style: &Style) -> Vec<String> {
        self.admin.iter().map(|a| a.line(style)).collect()
    }
}

/// `status`.
#[derive(Serialize)]
pub(crate) struct Status {
    pub summary: Summary,
    pub files: Vec<FileStatus>,
    pub track: TrackKind,
    pub directory: String,
}

#[derive(Serialize)]
pub(crate) struct Summary {
    pub applied: usize,
    pub pending: usize,
    pub changed: usize,
    pub in_doubt: usize,
    pub missing: usize,
}

#[derive(Serialize)]
pub(crate) struct FileStatus {
    pub filename: String,
    pub version: u64,
    pub state: &'static str,
    /// For a changed file: `formatting-only` or `content`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<&'static str>,
    /// The file on disk, when there is one.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub file: Option<OnDisk>,
    /// The ledger row, when there is one.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Recorded>,
    #[serde(skip)]
    state_kind: State,
}

#[derive(Serialize)]
pub(crate) struct OnDisk {
    pub checksum: String,
    /// Present (true) only for `-- devenv:no-transaction` files.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_transaction: bool,
}

#[derive(Serialize)]
pub(crate) struct Recorded {
    #[serde(rename = "recorded_checksum")]
    pub checksum: String,
    /// RFC 3339 with milliseconds.
    #[serde(serialize_with = "rfc3339_millis")]
    pub applied_at: DateTime<Utc>,
    /// Null while a no-transaction file is in doubt.
    pub duration_ms: Option<i32>,
    pub applied_by: String,
}

fn rfc3339_millis<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

impl Status {
    pub fn new(plan: &Plan<'_>, track: TrackKind, directory: &Path) -> Self {
        let files = plan
            .entries
            .iter()
            .map(|e| FileStatus {
                filename: e.filename.clone(),
                version: e.version,
                state: e.state.as_str(),
                change: match e.state {
                    State::Changed(c) => Some(c.as_str()),
                    _ => None,
                },
                file: e.file.map(|f| OnDisk {
                    checksum: f.checksum.clone(),
                    no_transaction: f.no_transaction,
                }),
                recorded: e.row.map(|r| Recorded {
                    checksum: r.checksum.clone(),
                    applied_at: r.applied_at,
                    duration_ms: r.duration_ms,
                    applied_by: r.applied_by.clone(),
                }),
                state_kind: e.state,
            })
            .collect();
        Self {
            summary: Summary {
                applied: plan.count(|s| s == State::Applied),
                pending: plan.count(|s| s == State::Pending),
                changed: plan.count(|s| matches!(s, State::Changed(_))),
                in_doubt: plan.count(|s| s == State::InDoubt),
                missing: plan.count(|s| s == State::Missing),
            },
            files,
            track,
            directory: directory.display().to_string(),
        }
    }
}

impl Report for Status {
    fn kind(&self) -> &'static str {
        "migrate_status"
    }
    fn human(&self, style: &Style) -> Vec<String> {
        let width = self.files.iter().fold(0, |w, e| w.max(e.filename.len()));
        let mut lines: Vec<String> = self
            .files
            .iter()
            .map(|e| {
                let state = match e.state_kind {
                    State::Applied => style.green("applied"),
                    State::Pending => style.yellow("pending"),
                    State::Changed(c) => style.red(&format!("changed ({})", c.as_str())),
                    State::InDoubt => style.red("in-doubt"),
                    State::Missing => style.red("missing"),
                };
                let when = e.recorded.as_ref().map_or_else(String::new, |r| {
                    format!(
                        "{}  {}",
                        r.applied_at.format("%Y-%m-%d %H:%M:%S"),
                        r.duration_ms
                            .map_or_else(String::new, |d| format!("{d} ms"))
                    )
                });
                format!(
                    "  {}  {}  {}",
                    output::pad(&state, 28),
                    output::pad(&e.filename, width),
                    style.dim(&when)
                )
            })
            .collect();
        let s = &self.summary;
        lines.push(format!(
            "{}: {} applied · {} pending · {} changed · {} in doubt · {} missing",
            self.track, s.applied, s.pending, s.changed, s.in_doubt, s.missing
        ));
        lines
    }
}

/// `verify`.
#[derive(Serialize)]
pub(crate) struct Verify {
    pub track: TrackKind,
    pub ok: bool,
    pub pending: usize,
    pub differences: Vec<Difference>,
    #[serde(skip)]
    pub applied: usize,
}

/// A file (or the JSON ledger itself, without a filename) that differs somewhere.
#[derive(Serialize)]
pub(crate) struct Difference {
    pub filename: Option<String>,
    pub problems: Vec<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub checksums: Option<Checksums>,
}

/// The checksum each of the three places holds.
#[derive(Serialize)]
pub(crate) struct Checksums {
    pub file: Option<String>,
    pub table: Option<String>,
    pub json: Option<String>,
}

impl Report for Verify {
    fn kind(&self) -> &'static str {
        "migrate_verify"
    }
    fn human(&self, style: &Style) -> Vec<String> {
        let mut lines = Vec::new();
        for d in &self.differences {
            let name = d.filename.as_deref().unwrap_or("(ledger)");
            for p in &d.problems {
                lines.push(format!("{} {name}: {p}", style.red("✗")));
            }
        }
        if self.differences.is_empty() {
            lines.push(format!(
                "{} {}: files, table and JSON ledger agree ({} applied, {} pending)",
                style.green("✓"),
                self.track,
                self.applied,
                self.pending
            ));
        }
        lines
    }
}

/// `new`.
#[derive(Serialize)]
pub(crate) struct New {
    #[serde(flatten)]
    pub file: TrackFile,
    pub path: String,
}

/// The file a `new`, `repair` or `resolve` document is about.
#[derive(Serialize)]
pub(crate) struct TrackFile {
    pub track: TrackKind,
    pub filename: String,
}

impl TrackFile {
    pub fn new(track: TrackKind, filename: &str) -> Self {
        Self {
            track,
            filename: filename.to_string(),
        }
    }
}

impl Report for New {
    fn kind(&self) -> &'static str {
        "migrate_new"
    }
    fn human(&self, style: &Style) -> Vec<String> {
        vec![format!("{} created {}", style.green("✓"), self.path)]
    }
    /// Scripts want the path even when quiet.
    fn quiet(&self, _style: &Style) -> Vec<String> {
        vec![self.path.clone()]
    }
}

/// `repair`.
#[derive(Serialize)]
pub(crate) struct Repair {
    #[serde(flatten)]
    pub file: TrackFile,
    pub changed: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Accepted>,
}

#[derive(Serialize)]
pub(crate) struct Accepted {
    pub change: &'static str,
    pub old_checksum: String,
    pub new_checksum: String,
}

impl Report for Repair {
    fn kind(&self) -> &'static str {
        "migrate_repair"
    }
    fn human(&self, style: &Style) -> Vec<String> {
        let ok = style.green("✓");
        let name = &self.file.filename;
        vec![match &self.accepted {
            None => format!("{ok} {name} matches the ledger; nothing to repair"),
            Some(a) => format!(
                "{ok} accepted {name} ({}): {} → {} (audited in {})",
                a.change,
                a.old_checksum,
                a.new_checksum,
                ledger::AUDIT_TABLE
            ),
        }]
    }
}

/// `resolve`.
#[derive(Serialize)]
pub(crate) struct Resolve {
    #[serde(flatten)]
    pub file: TrackFile,
    pub resolved_as: Resolution,
}

/// How an in-doubt file was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Resolution {
    Applied,
    Failed,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Applied => "applied",
            Resolution::Failed => "failed",
        }
    }

    /// The audit table's action.
    pub fn action(self) -> &'static str {
        match self {
            Resolution::Applied => "resolve-applied",
            Resolution::Failed => "resolve-failed",
        }
    }
}

impl Report for Resolve {
    fn kind(&self) -> &'static str {
        "migrate_resolve"
    }
    fn human(&self, style: &Style) -> Vec<String> {
        let outcome = match self.resolved_as {
            Resolution::Applied => "applied",
            Resolution::Failed => "failed: `migrate-ledger up` will run it again",
        };
        vec![format!(
            "{} {} resolved as {outcome} (audited in {})",
            style.green("✓"),
            self.file.filename,
            ledger::AUDIT_TABLE
        )]
    }
}
