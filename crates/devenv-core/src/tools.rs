//! Finding the external programs the stack runs (server binaries, client tools), in one place
//! for Rust and bash alike (`devenv which`): distributions put several of them off a normal
//! user's PATH (Debian: `nats-server` and `iptables` in /usr/sbin, `initdb`/`pg_ctl`/`postgres`
//! in /usr/lib/postgresql/<major>/bin; `cargo install` in ~/.cargo/bin).

use std::path::{Path, PathBuf};

/// Directories searched after PATH, in this order.
const SYSTEM_DIRS: &[&str] = &["/usr/local/sbin", "/usr/sbin", "/sbin"];
const POSTGRES_LIB: &str = "/usr/lib/postgresql";

/// Every directory [`find`] looks in, in order, without duplicates: PATH, the sbin
/// directories, Debian's PostgreSQL directories (newest major first) and ~/.cargo/bin.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(SYSTEM_DIRS.iter().map(PathBuf::from));
    dirs.extend(postgres_bin_dirs(Path::new(POSTGRES_LIB)));
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    let mut seen = std::collections::HashSet::new();
    dirs.retain(|d| !d.as_os_str().is_empty() && seen.insert(d.clone()));
    dirs
}

/// `<root>/<major>/bin`, newest major first (numerically: 15 before 9).
fn postgres_bin_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(u32, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            Some((major, e.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|v| std::cmp::Reverse(v.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

/// The first executable file called `name` in [`search_dirs`].
pub fn find(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return is_executable(&path).then_some(path);
    }
    search_dirs()
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_majors_sort_numerically_newest_first() {
        let root = tempfile::tempdir().unwrap();
        for major in ["9", "15", "13", "not-a-version"] {
            std::fs::create_dir_all(root.path().join(major).join("bin")).unwrap();
        }
        let dirs = postgres_bin_dirs(root.path());
        let names: Vec<String> = dirs
            .iter()
            .map(|d| {
                d.parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["15", "13", "9"]);
    }

    #[test]
    fn sbin_is_searched_even_off_path() {
        let dirs = search_dirs();
        assert!(dirs.contains(&PathBuf::from("/usr/sbin")), "{dirs:?}");
        let unique: std::collections::HashSet<_> = dirs.iter().collect();
        assert_eq!(unique.len(), dirs.len(), "no directory twice: {dirs:?}");
    }

    #[test]
    fn a_file_without_execute_bits_is_not_a_tool() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tool");
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(find(path.to_str().unwrap()), None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find(path.to_str().unwrap()), Some(path));
    }
}
