//! Migration files on disk: `NNN_description.sql`, their checksums (raw and normalised),
//! the `-- devenv:no-transaction` marker, and positions inside them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;
use sha2::{Digest as _, Sha256};

use crate::error::MigrateError;

/// First line marker of a file that must run outside a transaction (e.g. CREATE INDEX CONCURRENTLY).
pub const NO_TRANSACTION_MARKER: &str = "-- devenv:no-transaction";

const BOM: char = '\u{feff}';

static NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([0-9]+)_([A-Za-z0-9][A-Za-z0-9_\-]*)\.sql$").expect("regex"));

/// One migration (or seed) file.
#[derive(Debug, Clone)]
pub struct MigrationFile {
    pub version: u64,
    pub filename: String,
    pub path: PathBuf,
    /// The text sent to the server: the file without a leading byte-order mark.
    pub sql: String,
    /// `sha256:<hex>` of the bytes on disk.
    pub checksum: String,
    /// `sha256:<hex>` after normalising line endings, trailing whitespace and the BOM.
    pub normalized_checksum: String,
    pub no_transaction: bool,
}

/// `sha256:<hex>` of some bytes.
pub fn checksum(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The text with formatting noise removed: no BOM, `\n` line endings, no trailing whitespace on
/// any line, no trailing blank lines. Two files with the same normalised text differ only in
/// formatting that cannot change what the SQL does.
pub fn normalize(text: &str) -> String {
    let text = text.strip_prefix(BOM).unwrap_or(text);
    let mut out = String::with_capacity(text.len());
    for line in text.split('\n') {
        out.push_str(line.trim_end_matches([' ', '\t', '\r']));
        out.push('\n');
    }
    let kept = out.trim_end_matches('\n').len();
    out.truncate(kept);
    out
}

impl MigrationFile {
    /// Builds a file from its name and bytes (no disk access: used by tests and `load`).
    pub fn from_bytes(
        version: u64,
        filename: &str,
        path: PathBuf,
        bytes: &[u8],
    ) -> Result<Self, MigrateError> {
        let text = std::str::from_utf8(bytes).map_err(|e| MigrateError::Layout {
            message: format!(
                "{} is not valid UTF-8 (byte {}) — save it as UTF-8",
                path.display(),
                e.valid_up_to()
            ),
        })?;
        let sql = text.strip_prefix(BOM).unwrap_or(text).to_string();
        let no_transaction = sql
            .lines()
            .next()
            .is_some_and(|first| first.trim_end() == NO_TRANSACTION_MARKER);
        Ok(Self {
            version,
            filename: filename.to_string(),
            path,
            checksum: checksum(bytes),
            normalized_checksum: checksum(normalize(text).as_bytes()),
            sql,
            no_transaction,
        })
    }
}

/// Parses `NNN_description.sql` into its version; other names give None.
pub fn parse_name(name: &str) -> Option<u64> {
    let caps = NAME.captures(name)?;
    caps[1].parse().ok()
}

/// Reads every `*.sql` file directly inside `dir` (not subdirectories), sorted by version.
/// A `.sql` file with a malformed name, two files with one version, and unreadable files are
/// errors; a missing directory is an empty list only when `missing_ok`.
pub fn load(dir: &Path, missing_ok: bool) -> Result<Vec<MigrationFile>, MigrateError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && missing_ok => return Ok(Vec::new()),
        Err(e) => {
            return Err(MigrateError::Layout {
                message: format!(
                    "cannot read the migrations directory {}: {e} — create it or pass --dir",
                    dir.display()
                ),
            });
        }
    };
    let mut by_version: BTreeMap<u64, Vec<(String, PathBuf)>> = BTreeMap::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".sql") {
            continue;
        }
        // d_type from readdir: no stat per file (status with 1,000 files stays fast).
        let is_file = match entry.file_type() {
            Ok(t) if t.is_symlink() => entry.path().is_file(),
            Ok(t) => t.is_file(),
            Err(_) => false,
        };
        if !is_file {
            continue;
        }
        let path = entry.path();
        let Some(version) = parse_name(&name) else {
            return Err(MigrateError::Layout {
                message: format!(
                    "{} is not named NNN_description.sql — rename it (e.g. `migrate-ledger new {}`)",
                    path.display(),
                    name.trim_end_matches(".sql")
                ),
            });
        };
        by_version.entry(version).or_default().push((name, path));
    }
    let mut named = Vec::with_capacity(by_version.len());
    for (version, mut names) in by_version {
        if names.len() > 1 {
            names.sort();
            let list: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
            return Err(MigrateError::Layout {
                message: format!(
                    "duplicate migration number {version} in {}: {} — renumber one of them (`migrate-ledger new NAME` picks the next free number)",
                    dir.display(),
                    list.join(", ")
                ),
            });
        }
        let (name, path) = names.pop().expect("one entry");
        named.push((version, name, path));
    }
    read_all(named)
}

/// Reads and hashes the files on a few threads: with many small files the time is in the
/// syscalls, which run in parallel.
fn read_all(named: Vec<(u64, String, PathBuf)>) -> Result<Vec<MigrationFile>, MigrateError> {
    let read_one = |(version, name, path): &(u64, String, PathBuf)| {
        let bytes = std::fs::read(path).map_err(|e| MigrateError::Layout {
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        MigrationFile::from_bytes(*version, name, path.clone(), &bytes)
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    if named.len() < 64 || threads == 1 {
        return named.iter().map(read_one).collect();
    }
    let chunk = named.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = named
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || part.iter().map(read_one).collect::<Result<Vec<_>, _>>())
            })
            .collect();
        let mut files = Vec::with_capacity(named.len());
        for handle in handles {
            files.extend(handle.join().expect("file reader thread")?);
        }
        Ok(files)
    })
}

/// Versions missing between consecutive files (`001, 002, 004` → gap before 004).
pub fn gaps(files: &[MigrationFile]) -> Vec<(&MigrationFile, &MigrationFile)> {
    files
        .windows(2)
        .filter(|w| w[1].version != w[0].version + 1)
        .map(|w| (&w[0], &w[1]))
        .collect()
}

/// 1-based line and column of the 0-based character offset `char_offset` in `text`.
pub fn line_col(text: &str, char_offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut col = 1;
    for c in text.chars().take(char_offset) {
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

/// The next file name for `new NAME`: one above the highest version, zero-padded like the
/// existing files (3 digits by default).
pub fn next_name(files: &[MigrationFile], name: &str) -> Result<String, MigrateError> {
    let slug: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .split('_')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    if slug.is_empty() {
        return Err(MigrateError::Usage {
            message: format!(
                "`{name}` has no letters or digits to name a migration — e.g. `migrate-ledger new add_invoices`"
            ),
        });
    }
    let next = files.last().map_or(1, |f| f.version + 1);
    let width = files
        .last()
        .and_then(|f| f.filename.split('_').next())
        .map_or(3, str::len)
        .max(3);
    Ok(format!("{next:0width$}_{slug}.sql"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(version: u64, bytes: &[u8]) -> MigrationFile {
        let name = format!("{version:03}_t.sql");
        MigrationFile::from_bytes(version, &name, PathBuf::from(&name), bytes).unwrap()
    }

    #[test]
    fn formatting_changes_keep_the_normalised_checksum() {
        let lf = file(1, b"CREATE TABLE a (id int);\nSELECT 1;\n");
        let crlf = file(1, b"CREATE TABLE a (id int);\r\nSELECT 1;\r\n");
        let bom = file(
            1,
            "\u{feff}CREATE TABLE a (id int);  \nSELECT 1;\n\n\n".as_bytes(),
        );
        let real = file(1, b"CREATE TABLE a (id bigint);\nSELECT 1;\n");
        assert_ne!(lf.checksum, crlf.checksum);
        assert_eq!(lf.normalized_checksum, crlf.normalized_checksum);
        assert_eq!(lf.normalized_checksum, bom.normalized_checksum);
        assert_ne!(lf.normalized_checksum, real.normalized_checksum);
        assert!(!bom.sql.starts_with('\u{feff}'));
    }

    #[test]
    fn names_and_markers() {
        assert_eq!(parse_name("001_init.sql"), Some(1));
        assert_eq!(parse_name("20240101_add-things.sql"), Some(20240101));
        assert_eq!(parse_name("init.sql"), None);
        assert_eq!(parse_name("001-init.sql"), None);
        assert!(
            file(
                1,
                b"-- devenv:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);"
            )
            .no_transaction
        );
        assert!(!file(1, b"SELECT 1;\n-- devenv:no-transaction\n").no_transaction);
    }

    #[test]
    fn line_and_column_count_characters() {
        let text = "SELECT 1;\r\nSELECT é, x;\nbad";
        assert_eq!(line_col(text, 0), (1, 1));
        let pos = text.chars().position(|c| c == 'x').unwrap();
        assert_eq!(line_col(text, pos), (2, 11));
        assert_eq!(line_col(text, text.chars().count() - 3), (3, 1));
    }

    #[test]
    fn next_name_follows_the_highest_version() {
        let files = vec![file(1, b""), file(2, b"")];
        assert_eq!(
            next_name(&files, "Add Invoices!").unwrap(),
            "003_add_invoices.sql"
        );
        assert_eq!(next_name(&[], "init").unwrap(), "001_init.sql");
        assert!(next_name(&files, "!!").is_err());
    }

    #[test]
    fn gaps_are_found() {
        let files = vec![file(1, b""), file(2, b""), file(4, b"")];
        let g = gaps(&files);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].1.version, 4);
    }
}
