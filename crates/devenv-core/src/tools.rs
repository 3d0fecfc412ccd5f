//! Finding the external programs the stack runs (server binaries, client tools).

use std::path::PathBuf;

/// A binary on PATH, in Debian's PostgreSQL directory (newest version first; Debian keeps
/// `initdb`/`pg_ctl`/`postgres` out of PATH) or in ~/.cargo/bin (`cargo install`ed tools).
pub fn find(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("bin")).collect();
        versions.sort();
        versions.reverse();
        dirs.extend(versions);
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}
