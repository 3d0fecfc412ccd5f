//! The kept reports: `reports/config-diffs/` holds every saved ConfigurationDiffReport as
//! `<timestamp>.json` (`2026-12-04T22-15-03.123Z.json`: the report's time with `:` made
//! file-name safe, so names sort like time) plus `latest.json`, a copy of the newest. Both
//! are written atomically; after each save all but the newest `keep` reports are deleted.
//! `config-diff history` reads them back, newest first, so drift over time is visible.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where reports are kept under the workspace root (the seed's `reports/config-diffs/`).
pub const DEFAULT_DIR: &str = "reports/config-diffs";
/// The copy of the newest report.
pub const LATEST: &str = "latest.json";
/// Reports kept by default.
pub const DEFAULT_KEEP: usize = 100;

/// One kept report as `history` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The file's name inside the directory.
    pub file: String,
    /// When the comparison ran (the report's `timestamp`).
    pub timestamp: String,
    pub overall_status: String,
    /// Differences by severity (accepted: expected by the baseline, not graded).
    pub counts: Counts,
    pub differences_total: usize,
    pub source: String,
    pub target: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Counts {
    pub incompatible: usize,
    pub major: usize,
    pub minor: usize,
    pub accepted: usize,
}

/// The fields of a saved report that `history` needs; the rest is skipped unparsed.
#[derive(Deserialize)]
struct Saved {
    timestamp: String,
    overall_status: String,
    summary: SavedSummary,
    source: SavedSide,
    target: SavedSide,
}

#[derive(Deserialize)]
struct SavedSummary {
    differences_total: usize,
    #[serde(flatten)]
    counts: Counts,
}

#[derive(Deserialize)]
struct SavedSide {
    name: String,
}

/// `timestamp` as a file name: `2026-12-04T22:15:03.123Z` → `2026-12-04T22-15-03.123Z.json`.
fn file_name(timestamp: &str) -> String {
    let safe: String = timestamp
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{safe}.json")
}

/// A report's file (not `latest.json`, not someone else's file): `<digit>…Z[-n].json`.
fn is_report_file(name: &str) -> bool {
    name.strip_suffix(".json").is_some_and(|stem| {
        stem.starts_with(|c: char| c.is_ascii_digit())
            && stem
                .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-')
                .ends_with('Z')
    })
}

/// Time, then the same-millisecond count: `…Z.json` comes before `…Z-1.json`.
fn sort_key(name: &str) -> (&str, u32) {
    let stem = name.trim_end_matches(".json");
    match stem.rsplit_once("Z-") {
        Some((time, n)) => (time, n.parse().unwrap_or(0)),
        None => (stem.trim_end_matches('Z'), 0),
    }
}

/// Saves `text` (a report document taken at `timestamp`) in `dir` and as `latest.json`, then
/// prunes to `keep` reports. Returns the report's path.
pub fn save(dir: &Path, timestamp: &str, text: &str, keep: usize) -> Result<PathBuf> {
    let mut path = dir.join(file_name(timestamp));
    // Two saves within one millisecond must not replace each other.
    let mut n = 1;
    while path.exists() {
        let stem = file_name(timestamp);
        path = dir.join(format!("{}-{n}.json", stem.trim_end_matches(".json")));
        n += 1;
    }
    write(&path, text)?;
    write(&dir.join(LATEST), text)?;
    prune(dir, keep)?;
    Ok(path)
}

fn write(path: &Path, text: &str) -> Result<()> {
    devenv_core::bundle::write_atomic(path, text.as_bytes(), 0o644).map_err(|e| Error::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(devenv_core::redact::error_chain(&e)),
    })
}

/// The report files of `dir`, oldest first (names sort like time).
fn report_files(dir: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::read(dir, e)),
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| is_report_file(n))
        .collect();
    names.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    Ok(names)
}

/// Deletes all but the newest `keep` reports (`latest.json` stays).
pub fn prune(dir: &Path, keep: usize) -> Result<()> {
    let names = report_files(dir)?;
    let excess = names.len().saturating_sub(keep);
    for name in &names[..excess] {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::Write { path, source: e });
            }
            _ => {}
        }
    }
    Ok(())
}

/// The kept reports, newest first. A file that is not a readable report is an error naming
/// it: the directory is ours, so something wrote there that should not have.
pub fn list(dir: &Path) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for name in report_files(dir)?.into_iter().rev() {
        let path = dir.join(&name);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::read(&path, e))?;
        let saved: Saved = serde_json::from_str(&text).map_err(|e| {
            Error::invalid(
                &path,
                format!("not a saved config-diff report ({e}); delete it or move it elsewhere"),
            )
        })?;
        entries.push(Entry {
            file: name,
            timestamp: saved.timestamp,
            overall_status: saved.overall_status,
            counts: saved.summary.counts,
            differences_total: saved.summary.differences_total,
            source: saved.source.name,
            target: saved.target.name,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_sort_like_time_and_only_reports_count() {
        assert_eq!(
            file_name("2026-12-04T22:15:03.123Z"),
            "2026-12-04T22-15-03.123Z.json"
        );
        assert!(is_report_file("2026-12-04T22-15-03.123Z.json"));
        assert!(is_report_file("2026-12-04T22-15-03.123Z-2.json"));
        assert!(!is_report_file(LATEST));
        assert!(!is_report_file("notes.json"));
        assert!(!is_report_file("2026-12-04.txt"));
    }

    #[test]
    fn saves_in_one_millisecond_stay_apart_and_pruning_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let a = save(dir.path(), "2026-12-04T22:15:03.123Z", "{}", 10).unwrap();
        let b = save(dir.path(), "2026-12-04T22:15:03.123Z", "{}", 10).unwrap();
        assert_ne!(a, b);
        save(dir.path(), "2026-12-04T22:15:04.000Z", "{\"n\":3}", 2).unwrap();
        let kept = report_files(dir.path()).unwrap();
        assert_eq!(
            kept,
            [
                "2026-12-04T22-15-03.123Z-1.json",
                "2026-12-04T22-15-04.000Z.json"
            ]
        );
        let latest = std::fs::read_to_string(dir.path().join(LATEST)).unwrap();
        assert_eq!(latest, "{\"n\":3}");
    }
}
