//! Image references split into repository / tag / digest, and tag versions for grading.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRef {
    /// Fully qualified: `postgres` → `docker.io/library/postgres`, so spellings compare equal.
    pub repository: String,
    /// `None` only when the reference is pinned by digest alone.
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(reference: &str) -> Self {
        let reference = reference.trim();
        let (name_tag, digest) = match reference.split_once('@') {
            Some((n, d)) => (n, Some(d.to_string())),
            None => (reference, None),
        };
        let last_slash = name_tag.rfind('/').map_or(0, |p| p + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(p) => (
                &name_tag[..last_slash + p],
                Some(name_tag[last_slash + p + 1..].to_string()),
            ),
            None => (name_tag, None),
        };
        let tag = match (tag, &digest) {
            (None, None) => Some("latest".to_string()),
            (t, _) => t,
        };
        Self {
            repository: qualify(name),
            tag,
            digest,
        }
    }

    /// `repository:tag@digest`, as far as the parts exist.
    pub fn display(&self) -> String {
        let mut out = self.repository.clone();
        if let Some(t) = &self.tag {
            out.push(':');
            out.push_str(t);
        }
        if let Some(d) = &self.digest {
            out.push('@');
            out.push_str(d);
        }
        out
    }
}

/// Adds the implicit registry and `library/` namespace of Docker Hub.
fn qualify(name: &str) -> String {
    let first = name.split('/').next().unwrap_or_default();
    let has_registry =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_registry {
        name.to_string()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    }
}

/// The leading numeric components of a tag: `14.24-bookworm` → [14, 24], `v1.25.2-p0` →
/// [1, 25, 2]; `None` for tags without a version (`latest`, `nightly`, `RELEASE.2024…`).
pub fn tag_version(tag: &str) -> Option<Vec<u64>> {
    let t = tag.strip_prefix('v').unwrap_or(tag);
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let numbers: Vec<u64> = t[..end]
        .split('.')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    (!numbers.is_empty()).then_some(numbers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_references() {
        let r = ImageRef::parse("postgres:14.24-bookworm");
        assert_eq!(r.repository, "docker.io/library/postgres");
        assert_eq!(r.tag.as_deref(), Some("14.24-bookworm"));
        let r = ImageRef::parse("chrislusf/seaweedfs:4.40_large_disk@sha256:d07a");
        assert_eq!(r.repository, "docker.io/chrislusf/seaweedfs");
        assert_eq!(r.digest.as_deref(), Some("sha256:d07a"));
        let r = ImageRef::parse("localhost:5000/app");
        assert_eq!(r.repository, "localhost:5000/app");
        assert_eq!(r.tag.as_deref(), Some("latest"));
        let r = ImageRef::parse("ghcr.io/getsentry/relay:nightly");
        assert_eq!(r.repository, "ghcr.io/getsentry/relay");
        assert_eq!(
            ImageRef::parse("docker.io/library/redis:7"),
            ImageRef::parse("redis:7")
        );
    }

    #[test]
    fn versions_of_tags() {
        assert_eq!(tag_version("14.24-bookworm"), Some(vec![14, 24]));
        assert_eq!(tag_version("v1.25.2-p0"), Some(vec![1, 25, 2]));
        assert_eq!(tag_version("3-management"), Some(vec![3]));
        assert_eq!(tag_version("nightly"), None);
        assert_eq!(tag_version("RELEASE.2024-10-13T13-34-11Z"), None);
    }
}
