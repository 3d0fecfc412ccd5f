//! Copying a data directory while hashing it, and checking a copy against its manifest entry.
//! Files are read once: the sha256 is computed from the very bytes written; the copy is flushed
//! to disk once, at its end (syncfs). Owner, mode and
//! symlinks are kept (PostgreSQL refuses a data directory that is not 0700 and its user's).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// One entry of a service's tree, keyed by its path relative to the data directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Entry {
    File {
        sha256: String,
        size: u64,
        mode: u32,
    },
    Dir {
        mode: u32,
    },
    Symlink {
        target: String,
    },
}

pub type Tree = BTreeMap<String, Entry>;

/// How a copy went wrong: reading/writing, or (when checking) a byte that does not match.
#[derive(Debug)]
pub enum CopyError {
    Io(String),
    Mismatch(String),
}

impl std::fmt::Display for CopyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CopyError::Io(m) | CopyError::Mismatch(m) => f.write_str(m),
        }
    }
}

fn io(path: &Path, e: &std::io::Error) -> CopyError {
    CopyError::Io(format!("{}: {e}", path.display()))
}

/// Copies `src` to `dst` (which must not exist), returning the tree it wrote. `skip` names files
/// to leave out (a server's temporary files). With `expect`, every file must hash as listed and
/// the two trees must hold the same entries: anything else is a [`CopyError::Mismatch`].
pub fn copy(
    src: &Path,
    dst: &Path,
    skip: &dyn Fn(&str) -> bool,
    expect: Option<&Tree>,
) -> Result<Tree, CopyError> {
    let mut tree = Tree::new();
    copy_dir(src, dst, "", skip, expect, &mut tree)?;
    // One syncfs for the whole copy: an fsync per file costs more than the copy itself on a
    // data directory of thousands of files.
    let dir = File::open(dst).map_err(|e| io(dst, &e))?;
    rustix::fs::syncfs(&dir).map_err(|e| io(dst, &e.into()))?;
    if let Some(expect) = expect {
        if let Some(missing) = expect.keys().find(|k| !tree.contains_key(*k)) {
            return Err(CopyError::Mismatch(format!(
                "{missing} is in the manifest but not in the snapshot (incomplete snapshot)"
            )));
        }
        if let Some((path, _)) = tree.iter().find(|(k, v)| expect.get(*k) != Some(v)) {
            return Err(CopyError::Mismatch(format!(
                "{path} differs from the manifest"
            )));
        }
    }
    Ok(tree)
}

fn copy_dir(
    src: &Path,
    dst: &Path,
    rel: &str,
    skip: &dyn Fn(&str) -> bool,
    expect: Option<&Tree>,
    tree: &mut Tree,
) -> Result<(), CopyError> {
    let meta = fs::symlink_metadata(src).map_err(|e| io(src, &e))?;
    fs::create_dir(dst).map_err(|e| io(dst, &e))?;
    keep_owner_and_mode(dst, &meta)?;
    if !rel.is_empty() {
        tree.insert(
            rel.to_string(),
            Entry::Dir {
                mode: meta.mode() & 0o7777,
            },
        );
    }
    let mut entries: Vec<_> = fs::read_dir(src)
        .map_err(|e| io(src, &e))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let child_rel = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if skip(&child_rel) {
            continue;
        }
        let from = entry.path();
        let to = dst.join(&name);
        let meta = match fs::symlink_metadata(&from) {
            Ok(m) => m,
            // Gone between listing and reading: a server's temporary file.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(&from, &e)),
        };
        let kind = meta.file_type();
        if kind.is_dir() {
            copy_dir(&from, &to, &child_rel, skip, expect, tree)?;
        } else if kind.is_symlink() {
            let target = fs::read_link(&from).map_err(|e| io(&from, &e))?;
            std::os::unix::fs::symlink(&target, &to).map_err(|e| io(&to, &e))?;
            tree.insert(
                child_rel,
                Entry::Symlink {
                    target: target.to_string_lossy().into_owned(),
                },
            );
        } else if kind.is_file() {
            let want = expect.and_then(|t| match t.get(&child_rel) {
                Some(Entry::File { sha256, .. }) => Some(sha256.as_str()),
                _ => None,
            });
            if expect.is_some() && want.is_none() {
                return Err(CopyError::Mismatch(format!(
                    "{child_rel} is in the snapshot but not in its manifest"
                )));
            }
            let (sha256, size) = copy_file(&from, &to, &meta)?;
            if let Some(want) = want
                && want != sha256
            {
                return Err(CopyError::Mismatch(format!(
                    "{child_rel}: sha256 {sha256} does not match the manifest's {want}"
                )));
            }
            tree.insert(
                child_rel,
                Entry::File {
                    sha256,
                    size,
                    mode: meta.mode() & 0o7777,
                },
            );
        }
        // Sockets and fifos are run-time objects, not data: left out.
    }
    Ok(())
}

fn copy_file(from: &Path, to: &Path, meta: &fs::Metadata) -> Result<(String, u64), CopyError> {
    let mut input = File::open(from).map_err(|e| io(from, &e))?;
    let mut output = File::create_new(to).map_err(|e| io(to, &e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = input.read(&mut buf).map_err(|e| io(from, &e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        output.write_all(&buf[..n]).map_err(|e| io(to, &e))?;
        size += n as u64;
    }
    keep_owner_and_mode(to, meta)?;
    Ok((hex::encode(hasher.finalize()), size))
}

fn keep_owner_and_mode(path: &Path, meta: &fs::Metadata) -> Result<(), CopyError> {
    fs::set_permissions(path, fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(|e| io(path, &e))?;
    // Only root can give a file away; a normal user's copies are already theirs.
    if is_root() {
        std::os::unix::fs::chown(path, Some(meta.uid()), Some(meta.gid()))
            .map_err(|e| io(path, &e))?;
    }
    Ok(())
}

fn is_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Sum of the file sizes of a tree.
pub fn size(tree: &Tree) -> u64 {
    tree.values()
        .map(|e| match e {
            Entry::File { size, .. } => *size,
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_checked_against_their_tree() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("a"), b"hello").unwrap();
        fs::write(src.join("sub/b"), b"world").unwrap();
        fs::write(src.join("temp-1.rdb"), b"x").unwrap();
        let skip = |p: &str| p.starts_with("temp-");
        let tree = copy(&src, &dir.path().join("one"), &skip, None).unwrap();
        assert_eq!(tree.len(), 3, "{tree:?}");
        assert_eq!(size(&tree), 10);
        copy(
            &dir.path().join("one"),
            &dir.path().join("two"),
            &skip,
            Some(&tree),
        )
        .unwrap();
        // One byte flipped: refused.
        fs::write(dir.path().join("one/sub/b"), b"wOrld").unwrap();
        let err = copy(
            &dir.path().join("one"),
            &dir.path().join("three"),
            &skip,
            Some(&tree),
        );
        assert!(matches!(err, Err(CopyError::Mismatch(m)) if m.contains("sub/b")));
        // A file missing: refused as incomplete.
        fs::remove_file(dir.path().join("two/a")).unwrap();
        let err = copy(
            &dir.path().join("two"),
            &dir.path().join("four"),
            &skip,
            Some(&tree),
        );
        assert!(matches!(err, Err(CopyError::Mismatch(m)) if m.contains("incomplete")));
    }
}
