//! `configs/secrets.yaml`: which Vault secret (mount, path, field) feeds which bundle key, per
//! mode. A key may instead carry a literal `value` (hosts, regions: things that are not secret
//! but differ per mode), so a remote bundle can be complete without a generator.
//!
//! ```yaml
//! vault:
//!   mount: secret          # KV mount used when an entry names none
//!   approle_mount: approle # where AppRole is enabled
//! modes:
//!   local:
//!     POSTGRES_PASSWORD: { path: devenv/local/postgres, field: password }
//!   remote:
//!     POSTGRES_HOST: { value: db.internal }
//!     POSTGRES_PASSWORD: { path: devenv/remote/postgres, field: password }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use devenv_core::paths::Mode;
use serde::Deserialize;

use crate::error::SyncError;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    vault: RawVault,
    #[serde(default)]
    modes: BTreeMap<String, BTreeMap<String, RawEntry>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVault {
    #[serde(default = "default_mount")]
    mount: String,
    #[serde(default = "default_approle_mount")]
    approle_mount: String,
}

impl Default for RawVault {
    fn default() -> Self {
        Self {
            mount: default_mount(),
            approle_mount: default_approle_mount(),
        }
    }
}

fn default_mount() -> String {
    "secret".to_string()
}

fn default_approle_mount() -> String {
    "approle".to_string()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    mount: Option<String>,
    path: Option<String>,
    field: Option<String>,
    value: Option<String>,
}

/// One Vault secret: a KV mount and the path inside it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretRef {
    pub mount: String,
    pub path: String,
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.mount, self.path)
    }
}

/// Where one bundle key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Vault { secret: SecretRef, field: String },
    Literal(String),
}

/// The mapping for one mode.
#[derive(Debug, Clone)]
pub struct ModeMapping {
    pub entries: BTreeMap<String, Source>,
    pub approle_mount: String,
}

impl ModeMapping {
    /// The distinct secrets to read, each once however many keys it feeds.
    pub fn secrets(&self) -> Vec<SecretRef> {
        let mut out: Vec<SecretRef> = self
            .entries
            .values()
            .filter_map(|s| match s {
                Source::Vault { secret, .. } => Some(secret.clone()),
                Source::Literal(_) => None,
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The distinct KV mounts named by this mode.
    pub fn mounts(&self) -> Vec<String> {
        let mut out: Vec<String> = self.secrets().into_iter().map(|s| s.mount).collect();
        out.dedup();
        out
    }

    pub fn has_vault_entries(&self) -> bool {
        self.entries
            .values()
            .any(|s| matches!(s, Source::Vault { .. }))
    }
}

/// Loads the mapping of one mode. A missing file is an empty mapping (Vault is then
/// only usable once the file exists); a malformed one is a usage error naming file and line.
pub fn load(path: &Path, mode: Mode) -> Result<ModeMapping, SyncError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(SyncError::ReadFile {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    parse(&text, path, mode)
}

pub fn parse(text: &str, path: &Path, mode: Mode) -> Result<ModeMapping, SyncError> {
    let raw: RawFile = if text.trim().is_empty() {
        RawFile::default()
    } else {
        serde_norway::from_str(text).map_err(|e| {
            let (line, column, message) = devenv_core::yaml::error_location(&e);
            malformed(path, line, column, &message)
        })?
    };
    for name in raw.modes.keys() {
        if name.parse::<Mode>().is_err() {
            return Err(malformed(
                path,
                line_of(text, &format!("{name}:")),
                1,
                &format!("unknown mode `{name}` under `modes` (use local or remote)"),
            ));
        }
    }
    let mut entries = BTreeMap::new();
    if let Some(keys) = raw.modes.get(mode.as_str()) {
        for (key, entry) in keys {
            let line = line_of(text, &format!("{key}:"));
            if !valid_key(key) {
                return Err(malformed(
                    path,
                    line,
                    1,
                    &format!("`{key}` is not a bundle key (use A-Z, 0-9 and _)"),
                ));
            }
            let source = match (&entry.path, &entry.field, &entry.value) {
                (Some(p), Some(f), None) if !p.trim_matches('/').is_empty() && !f.is_empty() => {
                    Source::Vault {
                        secret: SecretRef {
                            mount: entry
                                .mount
                                .clone()
                                .unwrap_or_else(|| raw.vault.mount.clone())
                                .trim_matches('/')
                                .to_string(),
                            path: p.trim_matches('/').to_string(),
                        },
                        field: f.clone(),
                    }
                }
                (None, None, Some(v)) if entry.mount.is_none() => Source::Literal(v.clone()),
                _ => {
                    return Err(malformed(
                        path,
                        line,
                        1,
                        &format!(
                            "`{key}` needs either `path` + `field` (a Vault secret) or `value` (a literal), not both"
                        ),
                    ));
                }
            };
            entries.insert(key.clone(), source);
        }
    }
    Ok(ModeMapping {
        entries,
        approle_mount: raw.vault.approle_mount.trim_matches('/').to_string(),
    })
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// The 1-based line where `needle` first appears at the start of a (trimmed) line.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.trim_start().starts_with(needle))
        .map_or(1, |i| i + 1)
}

fn malformed(path: &Path, line: usize, column: usize, message: &str) -> SyncError {
    SyncError::Mapping {
        path: PathBuf::from(path),
        line,
        column,
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "vault:\n  mount: kv\nmodes:\n  local:\n    POSTGRES_PASSWORD: { path: devenv/pg, field: password }\n    REDIS_PASSWORD: { mount: other, path: /devenv/redis/, field: pw }\n  remote:\n    S3_REGION: { value: eu-west-1 }\n";

    #[test]
    fn parses_entries_of_the_requested_mode() {
        let m = parse(SAMPLE, Path::new("s.yaml"), Mode::Local).unwrap();
        assert_eq!(
            m.entries["POSTGRES_PASSWORD"],
            Source::Vault {
                secret: SecretRef {
                    mount: "kv".into(),
                    path: "devenv/pg".into()
                },
                field: "password".into()
            }
        );
        assert_eq!(m.mounts(), vec!["kv".to_string(), "other".to_string()]);
        let r = parse(SAMPLE, Path::new("s.yaml"), Mode::Remote).unwrap();
        assert_eq!(r.entries["S3_REGION"], Source::Literal("eu-west-1".into()));
        assert!(!r.has_vault_entries());
    }

    #[test]
    fn errors_name_file_and_line() {
        let bad = SAMPLE.replace("field: pw", "field: pw, value: x");
        let err = parse(&bad, Path::new("configs/secrets.yaml"), Mode::Local).unwrap_err();
        assert!(
            err.to_string().starts_with("configs/secrets.yaml:6:"),
            "{err}"
        );
        let err = parse(
            "modes:\n  local:\n    X: [\n",
            Path::new("s.yaml"),
            Mode::Local,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("s.yaml:"), "{err}");
        let err = parse("modes:\n  staging: {}\n", Path::new("s.yaml"), Mode::Local).unwrap_err();
        assert!(err.to_string().contains("unknown mode `staging`"), "{err}");
    }
}
