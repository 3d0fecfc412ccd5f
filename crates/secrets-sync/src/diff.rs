//! Which keys a sync adds, removes or changes.

use devenv_core::bundle::Bundle;
use devenv_core::bundle_expiry::EXPIRES_AT_KEY;

/// Keys that change on every run without the secrets changing.
const VOLATILE_KEYS: &[&str] = &["DEVENV_GENERATED_AT", EXPIRES_AT_KEY];

/// The keys whose value differs between two bundles, ignoring the volatile timestamps.
#[derive(Debug, serde::Serialize)]
pub struct KeyDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl KeyDiff {
    pub fn between(old: Option<&Bundle>, new: &Bundle) -> Self {
        let empty = Bundle::new();
        let old = old.unwrap_or(&empty);
        let volatile = |k: &str| VOLATILE_KEYS.contains(&k);
        let added = new
            .keys()
            .filter(|k| !volatile(k) && old.get(k).is_none())
            .map(String::from)
            .collect();
        let removed = old
            .keys()
            .filter(|k| !volatile(k) && new.get(k).is_none())
            .map(String::from)
            .collect();
        let changed = new
            .iter()
            .filter(|(k, v)| !volatile(k) && old.get(k).is_some_and(|o| o != *v))
            .map(|(k, _)| k.to_string())
            .collect();
        Self {
            added,
            removed,
            changed,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_diff_ignores_timestamps() {
        let mut a = Bundle::new();
        a.set("DEVENV_GENERATED_AT", "1");
        a.set(EXPIRES_AT_KEY, "1");
        a.set("A", "1");
        a.set("B", "1");
        let mut b = a.clone();
        b.set("DEVENV_GENERATED_AT", "2");
        b.set(EXPIRES_AT_KEY, "2");
        assert!(KeyDiff::between(Some(&a), &b).is_empty());
        b.set("A", "2");
        b.remove("B");
        b.set("C", "3");
        let d = KeyDiff::between(Some(&a), &b);
        assert_eq!(
            (d.added, d.removed, d.changed),
            (
                vec!["C".to_string()],
                vec!["B".to_string()],
                vec!["A".to_string()]
            )
        );
    }
}
