//! The health history `.devenv/health/`: every health check's result (the seed's
//! HealthCheckResult), one JSON object per line, kept to a bounded size.
//!
//! - `health.jsonl` is the current file. A run appends all its results with one `write` on an
//!   O_APPEND descriptor, so two runs at once never interleave within a line.
//! - Once the current file has reached [`Retention::max_bytes`], the run that noticed renames it
//!   to a segment `health-<UTC rotation time>-<pid>-<n>.jsonl` (a rename is atomic: a writer still
//!   holding the old descriptor finishes its line in the segment, nothing is lost). Then
//!   segments older than [`Retention::max_age`] and all but the newest
//!   [`Retention::max_segments`] are deleted.
//! - A reader reads the segments oldest first, then the current file, and ignores a last line
//!   without its newline (a write still in progress). A segment rotated before `since` holds
//!   nothing newer than its rotation time, so it is not even opened.
//!
//! Each line starts with `{"ts":"<RFC 3339 UTC, milliseconds>"`, so a reader filtering by time
//! compares 24 bytes instead of parsing the line.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::paths::Workspace;
use crate::redact;

/// `0`, `false`, `off` or `no` turns recording off (reading still works).
pub const ENABLED_ENV: &str = "DEVENV_HEALTH_HISTORY";
/// Size at which the current file is rotated: bytes, or with a `KiB`/`MiB` (`K`/`M`) suffix.
pub const MAX_BYTES_ENV: &str = "DEVENV_HEALTH_HISTORY_MAX_BYTES";
/// Segments whose newest record is older than this many days are deleted.
pub const MAX_AGE_DAYS_ENV: &str = "DEVENV_HEALTH_HISTORY_MAX_AGE_DAYS";
/// At most this many rotated segments are kept (the newest ones).
pub const MAX_SEGMENTS_ENV: &str = "DEVENV_HEALTH_HISTORY_MAX_SEGMENTS";

/// The current file's name inside the history directory.
pub const CURRENT_FILE: &str = "health.jsonl";
const SEGMENT_PREFIX: &str = "health-";
const SEGMENT_SUFFIX: &str = ".jsonl";
/// How rotation times are spelled in segment names (no `:`, sorts like time).
const SEGMENT_TIME: &str = "%Y%m%dT%H%M%S%.3fZ";
/// A writer that opened the current file just before a rotation may still finish its line in
/// the segment: segments rotated this long before `since` are the ones safe to skip.
const ROTATION_SLACK: chrono::Duration = chrono::Duration::minutes(1);
/// The fixed start of every line a writer of this module produces.
const TS_PREFIX: &[u8] = b"{\"ts\":\"";
/// `2026-12-04T22:15:03.123Z`.
const TS_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{var}={value} is not valid ({reason}); unset it for the default")]
    BadSetting {
        var: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("cannot write the health history in {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the health history in {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl crate::exit::ExitCoded for HistoryError {
    /// A bad setting or an unreadable file is the caller's to fix, as with any other file.
    fn exit_code(&self) -> u8 {
        crate::exit::USAGE
    }
}

/// One check of one service (the seed's HealthCheckResult), as written. Field order is the
/// line's order: `ts` first (see the module docs), the long `error` last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthRecord {
    /// When the check ran: RFC 3339 UTC with milliseconds ([`crate::ids::now_rfc3339`]).
    pub ts: String,
    pub service: String,
    /// `healthy`, `degraded` or `unhealthy`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// How it was checked: `protocol` (the service's own protocol), `endpoint` (an HTTP check
    /// from the config) or `config` (not checked: its configuration is invalid).
    pub check_type: String,
    /// What ran the check: `status`, `wait`, `watch`, or the caller's `DEVENV_TRIGGERED_BY`.
    pub triggered_by: String,
    /// The run's correlation id, shared with its events in `events.jsonl`.
    pub correlation_id: String,
    /// Why it is not healthy (`refused`, `auth`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// What went wrong, redacted before it is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The fields a summary needs, borrowed from the file's bytes (nothing else is decoded).
#[derive(Debug, Clone, Deserialize)]
pub struct RecordView<'a> {
    #[serde(borrow)]
    pub ts: Cow<'a, str>,
    #[serde(borrow)]
    pub service: Cow<'a, str>,
    #[serde(borrow)]
    pub status: Cow<'a, str>,
    #[serde(default)]
    pub latency_ms: Option<u64>,
}

/// How much history is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_bytes: u64,
    pub max_age: Duration,
    pub max_segments: usize,
}

impl Default for Retention {
    /// 8 MiB per file (about 35,000 results), 30 days, 8 segments: at most ~72 MiB.
    fn default() -> Self {
        Self {
            max_bytes: 8 << 20,
            max_age: Duration::from_secs(30 * 86_400),
            max_segments: 8,
        }
    }
}

impl Retention {
    /// The defaults, overridden by [`MAX_BYTES_ENV`], [`MAX_AGE_DAYS_ENV`] and
    /// [`MAX_SEGMENTS_ENV`]; a bad value is an error naming its variable.
    pub fn from_env() -> Result<Self, HistoryError> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self, HistoryError> {
        let mut retention = Self::default();
        let set = |var: &'static str| get(var).filter(|v| !v.trim().is_empty());
        let bad = |var, value: String, reason| HistoryError::BadSetting { var, value, reason };
        if let Some(v) = set(MAX_BYTES_ENV) {
            retention.max_bytes = parse_size(&v)
                .filter(|n| *n > 0)
                .ok_or_else(|| bad(MAX_BYTES_ENV, v, "use a size such as 8MiB or 65536"))?;
        }
        if let Some(v) = set(MAX_AGE_DAYS_ENV) {
            let days: u64 = v
                .trim()
                .parse()
                .ok()
                .filter(|d| *d > 0)
                .ok_or_else(|| bad(MAX_AGE_DAYS_ENV, v, "use a whole number of days"))?;
            retention.max_age = Duration::from_secs(days.saturating_mul(86_400));
        }
        if let Some(v) = set(MAX_SEGMENTS_ENV) {
            retention.max_segments = v
                .trim()
                .parse()
                .map_err(|_| bad(MAX_SEGMENTS_ENV, v, "use a whole number of segments"))?;
        }
        Ok(retention)
    }
}

/// Whether results are recorded: anything but `0`, `false`, `off` or `no` in [`ENABLED_ENV`].
pub fn enabled_from_env() -> bool {
    std::env::var(ENABLED_ENV).map_or(true, |v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "0" | "false" | "off" | "no"
        )
    })
}

/// `65536`, `64K`, `64KiB`, `8M`, `8MiB` (binary units, case-insensitive).
fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let number: u64 = t[..digits].parse().ok()?;
    let factor = match t[digits..].trim() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        _ => return None,
    };
    number.checked_mul(factor)
}

/// The history directory of one workspace and how much of it is kept.
#[derive(Debug, Clone)]
pub struct HealthHistory {
    dir: PathBuf,
    retention: Retention,
}

impl HealthHistory {
    pub fn new(dir: impl Into<PathBuf>, retention: Retention) -> Self {
        Self {
            dir: dir.into(),
            retention,
        }
    }

    /// `<workspace>/.devenv/health`.
    pub fn of_workspace(ws: &Workspace, retention: Retention) -> Self {
        Self::new(ws.state_dir().join("health"), retention)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn current_file(&self) -> PathBuf {
        self.dir.join(CURRENT_FILE)
    }

    /// Appends `records` (errors redacted) with one write, then rotates and prunes when the
    /// current file has reached its size. Rotation problems are logged, not returned: the
    /// records are already safe.
    pub fn append(&self, records: &[HealthRecord]) -> Result<(), HistoryError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut batch = Vec::with_capacity(records.len() * 256);
        for record in records {
            let mut record = record.clone();
            record.error = record.error.map(|e| one_line(&redact::redact(&e)));
            serde_json::to_writer(&mut batch, &record).expect("records serialise");
            batch.push(b'\n');
        }
        let path = self.current_file();
        let write_err = |source| HistoryError::Write {
            path: self.dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(write_err)?;
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(write_err)?;
        file.write_all(&batch).map_err(write_err)?;
        if let Err(e) = self.rotate_if_full(&file) {
            tracing::warn!("cannot rotate {}: {e}", path.display());
        }
        Ok(())
    }

    /// Renames the current file to a segment once `file` (our descriptor of it) is full, unless
    /// another writer rotated it first (the path then names another file or none).
    fn rotate_if_full(&self, file: &File) -> std::io::Result<()> {
        let ours = file.metadata()?;
        if ours.len() < self.retention.max_bytes {
            return Ok(());
        }
        let current = self.current_file();
        match std::fs::metadata(&current) {
            Ok(m) if m.ino() == ours.ino() && m.dev() == ours.dev() => {}
            _ => return Ok(()),
        }
        // The pid and a per-process count keep two rotations in one millisecond apart (a
        // rename onto an existing segment would replace it).
        static ROTATIONS: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "{SEGMENT_PREFIX}{}-{}-{}{SEGMENT_SUFFIX}",
            Utc::now().format(SEGMENT_TIME),
            std::process::id(),
            ROTATIONS.fetch_add(1, Ordering::Relaxed)
        );
        match std::fs::rename(&current, self.dir.join(name)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            other => other?,
        }
        self.prune()
    }

    /// Deletes segments older than the maximum age, then all but the newest
    /// `max_segments`.
    pub fn prune(&self) -> std::io::Result<()> {
        let segments = self.segments()?;
        let max_age =
            chrono::Duration::from_std(self.retention.max_age).unwrap_or(chrono::Duration::MAX);
        let cutoff = Utc::now().checked_sub_signed(max_age);
        let excess = segments.len().saturating_sub(self.retention.max_segments);
        for (i, segment) in segments.iter().enumerate() {
            let too_old = cutoff.is_some_and(|c| segment.rotated_at < c);
            if i < excess || too_old {
                match std::fs::remove_file(&segment.path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// The rotated segments, oldest first.
    pub fn segments(&self) -> std::io::Result<Vec<Segment>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut segments: Vec<Segment> = entries
            .flatten()
            .filter_map(|e| Segment::from_path(e.path()))
            .collect();
        segments.sort_by(|a, b| a.rotated_at.cmp(&b.rotated_at).then(a.path.cmp(&b.path)));
        Ok(segments)
    }

    /// Reads the files that can hold records at or after `since` (all with None): segments
    /// oldest first, then the current file. Use [`Loaded::records`] to go through them.
    pub fn load(&self, since: Option<DateTime<Utc>>) -> Result<Loaded, HistoryError> {
        let read_err = |source| HistoryError::Read {
            path: self.dir.display().to_string(),
            source,
        };
        let mut paths: Vec<PathBuf> = self
            .segments()
            .map_err(read_err)?
            .into_iter()
            .filter(|s| since.is_none_or(|t| s.rotated_at + ROTATION_SLACK >= t))
            .map(|s| s.path)
            .collect();
        paths.push(self.current_file());
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            match std::fs::read(&path) {
                Ok(bytes) => files.push(bytes),
                // Pruned or rotated by a writer since we listed it.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(read_err(e)),
            }
        }
        Ok(Loaded {
            files,
            since: since.map(format_ts),
        })
    }
}

/// A rotated file and when it was rotated (from its name).
#[derive(Debug, Clone)]
pub struct Segment {
    pub path: PathBuf,
    pub rotated_at: DateTime<Utc>,
}

impl Segment {
    fn from_path(path: PathBuf) -> Option<Self> {
        let name = path.file_name()?.to_str()?;
        let stem = name
            .strip_prefix(SEGMENT_PREFIX)?
            .strip_suffix(SEGMENT_SUFFIX)?;
        let time = stem.split('-').next()?;
        let rotated_at = NaiveDateTime::parse_from_str(time, SEGMENT_TIME)
            .ok()?
            .and_utc();
        Some(Self { path, rotated_at })
    }
}

/// The bytes of the history files, read once; records borrow from them.
#[derive(Debug)]
pub struct Loaded {
    files: Vec<Vec<u8>>,
    since: Option<String>,
}

impl Loaded {
    /// How many files were read.
    pub fn file_count(&self) -> usize {
        self.files.len()
    }

    /// Every well-formed record at or after `since`, in file order. A line that is not a
    /// record (hand-edited, cut short by a full disk) is skipped.
    pub fn records(&self) -> impl Iterator<Item = RecordView<'_>> + '_ {
        self.files
            .iter()
            .flat_map(move |bytes| complete_lines(bytes).filter_map(move |line| self.parse(line)))
    }

    fn parse<'a>(&self, line: &'a [u8]) -> Option<RecordView<'a>> {
        if let Some(since) = &self.since {
            // The cheap path: the fixed-width timestamp at the start of every line we write.
            let fast = line
                .strip_prefix(TS_PREFIX)
                .and_then(|rest| rest.get(..TS_LEN))
                .filter(|ts| ts.last() == Some(&b'Z'));
            if let Some(ts) = fast {
                if ts < since.as_bytes() {
                    return None;
                }
            } else {
                let view: RecordView = serde_json::from_slice(line).ok()?;
                let at = DateTime::parse_from_rfc3339(&view.ts).ok()?;
                return (format_ts(at.to_utc()) >= *since).then_some(view);
            }
        }
        serde_json::from_slice(line).ok()
    }
}

/// The lines of a file that end with a newline: the last one may still be being written.
fn complete_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let end = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    bytes[..end]
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
}

/// A time as records spell it (what `ids::now_rfc3339` writes).
pub fn format_ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An error message on one line: the file is one record per line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ts: &str, service: &str, status: &str) -> HealthRecord {
        HealthRecord {
            ts: ts.to_string(),
            service: service.to_string(),
            status: status.to_string(),
            latency_ms: Some(3),
            check_type: "protocol".into(),
            triggered_by: "status".into(),
            correlation_id: "c".into(),
            class: None,
            error: None,
        }
    }

    fn small(max_bytes: u64, max_segments: usize) -> Retention {
        Retention {
            max_bytes,
            max_segments,
            ..Retention::default()
        }
    }

    #[test]
    fn lines_start_with_the_timestamp_and_errors_are_redacted() {
        crate::redact::register("HistorySecret-42");
        let dir = tempfile::tempdir().unwrap();
        let history = HealthHistory::new(dir.path(), Retention::default());
        let mut r = record("2026-12-04T22:15:03.123Z", "redis", "unhealthy");
        r.error = Some("auth failed for redis://:HistorySecret-42@h:1\nretry".into());
        history.append(&[r]).unwrap();
        let text = std::fs::read_to_string(history.current_file()).unwrap();
        assert!(
            text.starts_with("{\"ts\":\"2026-12-04T22:15:03.123Z\""),
            "{text}"
        );
        assert!(!text.contains("HistorySecret-42"), "{text}");
        assert_eq!(text.lines().count(), 1, "one line per record: {text}");
    }

    #[test]
    fn a_line_still_being_written_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let history = HealthHistory::new(dir.path(), Retention::default());
        history
            .append(&[record("2026-12-04T22:15:03.123Z", "redis", "healthy")])
            .unwrap();
        let mut f = OpenOptions::new()
            .append(true)
            .open(history.current_file())
            .unwrap();
        f.write_all(b"{\"ts\":\"2026-12-04T22:15:04.000Z\",\"service\":\"re")
            .unwrap();
        let loaded = history.load(None).unwrap();
        assert_eq!(loaded.records().count(), 1);
    }

    #[test]
    fn since_skips_older_lines_and_old_segments() {
        let dir = tempfile::tempdir().unwrap();
        let history = HealthHistory::new(dir.path(), small(1, 10));
        history
            .append(&[record("2020-01-01T00:00:00.000Z", "redis", "healthy")])
            .unwrap();
        // Rotated just now: not skippable by name, so its line is filtered by timestamp.
        history
            .append(&[record("2026-12-04T22:15:03.123Z", "redis", "unhealthy")])
            .unwrap();
        let since = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let loaded = history.load(Some(since)).unwrap();
        let statuses: Vec<String> = loaded.records().map(|r| r.status.into_owned()).collect();
        assert_eq!(statuses, ["unhealthy"]);
        // A segment rotated long before `since` is not read at all.
        std::fs::write(
            dir.path().join("health-20200101T000000.000Z-1.jsonl"),
            "{\"ts\":\"2030-01-01T00:00:00.000Z\",\"service\":\"x\",\"status\":\"healthy\"}\n",
        )
        .unwrap();
        let loaded = history.load(Some(since)).unwrap();
        assert!(loaded.records().all(|r| r.service != "x"));
        assert_eq!(history.load(None).unwrap().records().count(), 3);
    }

    #[test]
    fn concurrent_writers_rotate_without_losing_or_tearing_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let history = HealthHistory::new(dir.path(), small(4096, 1000));
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let history = history.clone();
                std::thread::spawn(move || {
                    for i in 0..200 {
                        let mut r = record("2026-12-04T22:15:03.123Z", &format!("s{w}"), "healthy");
                        r.error = Some(format!("run {i} {}", "x".repeat(i % 97)));
                        history.append(&[r.clone(), r]).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        assert!(history.segments().unwrap().len() > 5, "rotated");
        let mut lines = 0;
        for entry in std::fs::read_dir(dir.path()).unwrap().flatten() {
            for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
                serde_json::from_str::<HealthRecord>(line).expect(line);
                lines += 1;
            }
        }
        assert_eq!(lines, 4 * 200 * 2);
        assert_eq!(history.load(None).unwrap().records().count(), lines);
    }

    #[test]
    fn pruning_keeps_the_newest_segments_and_drops_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("health-20200101T000000.000Z-7.jsonl");
        std::fs::write(&old, "").unwrap();
        let history = HealthHistory::new(dir.path(), small(1, 3));
        for _ in 0..6 {
            history
                .append(&[record("2026-12-04T22:15:03.123Z", "redis", "healthy")])
                .unwrap();
        }
        assert!(!old.exists(), "older than 30 days");
        assert_eq!(history.segments().unwrap().len(), 3);
    }

    #[test]
    fn settings_come_from_the_environment() {
        assert_eq!(
            Retention::from_vars(crate::test_vars(&[])).unwrap(),
            Retention::default()
        );
        let r = Retention::from_vars(crate::test_vars(&[
            (MAX_BYTES_ENV, "64KiB"),
            (MAX_AGE_DAYS_ENV, "2"),
            (MAX_SEGMENTS_ENV, "0"),
        ]))
        .unwrap();
        assert_eq!(r.max_bytes, 65_536);
        assert_eq!(r.max_age, Duration::from_secs(2 * 86_400));
        assert_eq!(r.max_segments, 0);
        let e = Retention::from_vars(crate::test_vars(&[(MAX_BYTES_ENV, "lots")])).unwrap_err();
        assert!(
            e.to_string()
                .contains("DEVENV_HEALTH_HISTORY_MAX_BYTES=lots"),
            "{e}"
        );
        assert_eq!(parse_size("8M"), Some(8 << 20));
        assert_eq!(parse_size("8 GiB"), None);
    }
}
