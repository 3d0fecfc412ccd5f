//! The remote bundle built from Vault's values, and the URLs derived from their parts.

use std::path::Path;

use devenv_core::bundle::{self, Bundle};
use devenv_core::ids;
use devenv_core::paths::Workspace;

use crate::error::SyncError;
use crate::mapping::ModeMapping;

/// The remote bundle: metadata, every mapped key, derived URLs; every DESIGN key must be
/// present. (The expiry is added by the caller, as for every remote bundle.)
pub fn bundle(
    ws: &Workspace,
    values: &Bundle,
    mapping: &ModeMapping,
    mapping_path: &Path,
) -> Result<Bundle, SyncError> {
    let mut b = Bundle::new();
    b.set("DEVENV_WORKSPACE", ws.name());
    b.set("DEVENV_MODE", "remote");
    b.set("DEVENV_GENERATED_AT", ids::now_rfc3339());
    b.set("DEVENV_SOURCE", "vault");
    for (k, v) in values.iter() {
        b.set(k, v);
    }
    derive_urls(&mut b, mapping);
    // DESIGN order first (derived URLs next to their parts), then any extra keys.
    let mut ordered = Bundle::new();
    for key in bundle::KEYS {
        if let Some(v) = b.get(key) {
            ordered.set(*key, v);
        }
    }
    for (k, v) in b.iter() {
        if ordered.get(k).is_none() {
            ordered.set(k, v);
        }
    }
    let missing: Vec<&str> = bundle::KEYS
        .iter()
        .copied()
        .filter(|k| ordered.get(k).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(SyncError::MissingKeys {
            mode: "remote".into(),
            keys: missing.join(", "),
            mapping: mapping_path.to_path_buf(),
        });
    }
    Ok(ordered)
}

/// Rebuilds DATABASE_URL and REDIS_URL from their parts (passwords percent-encoded) unless the
/// mapping provides the URL itself.
pub fn derive_urls(b: &mut Bundle, mapping: &ModeMapping) {
    let get = |b: &Bundle, k: &str| b.get(k).map(String::from);
    if !mapping.entries.contains_key("DATABASE_URL") {
        if let (Some(user), Some(pw), Some(host), Some(port), Some(db)) = (
            get(b, "POSTGRES_USER"),
            get(b, "POSTGRES_PASSWORD"),
            get(b, "POSTGRES_HOST"),
            get(b, "POSTGRES_PORT"),
            get(b, "POSTGRES_DB"),
        ) {
            if let Some(url) = bundle::database_url(&user, &pw, &host, &port, &db) {
                b.set("DATABASE_URL", url);
            }
        }
    }
    if !mapping.entries.contains_key("REDIS_URL") {
        if let (Some(pw), Some(host), Some(port)) = (
            get(b, "REDIS_PASSWORD"),
            get(b, "REDIS_HOST"),
            get(b, "REDIS_PORT"),
        ) {
            if let Some(url) = bundle::redis_url(&pw, &host, &port) {
                b.set("REDIS_URL", url);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use devenv_core::redact;

    use super::*;

    #[test]
    fn derived_urls_percent_encode_passwords() {
        let mut b = Bundle::new();
        for (k, v) in [
            ("POSTGRES_USER", "app"),
            ("POSTGRES_PASSWORD", "p@ss/w:rd#1"),
            ("POSTGRES_HOST", "db.internal"),
            ("POSTGRES_PORT", "5432"),
            ("POSTGRES_DB", "app"),
            ("REDIS_PASSWORD", "r@d"),
            ("REDIS_HOST", "cache"),
            ("REDIS_PORT", "6379"),
        ] {
            b.set(k, v);
        }
        let m = ModeMapping {
            entries: Default::default(),
            approle_mount: "approle".into(),
        };
        derive_urls(&mut b, &m);
        let db = b.get("DATABASE_URL").unwrap();
        assert_eq!(redact::url_password(db).as_deref(), Some("p@ss/w:rd#1"));
        assert!(db.starts_with("postgres://app:") && db.ends_with("@db.internal:5432/app"));
        assert_eq!(
            redact::url_password(b.get("REDIS_URL").unwrap()).as_deref(),
            Some("r@d")
        );
    }
}
