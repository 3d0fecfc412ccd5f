//! `config-diff images`: the seed's ImageDigestPolicy. `dev/IMAGE_DIGESTS` pins every image
//! as `repo:tag@sha256:<64 hex>`; every compose image must be listed and pinned the same.

use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::image::ImageRef;
use crate::model::Environment;

#[derive(Debug, Clone)]
pub struct Pin {
    pub image: ImageRef,
    pub line: usize,
}

pub fn parse(path: &Path) -> Result<Vec<Pin>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
    let mut pins: Vec<Pin> = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let bad = |message: String| Error::Line {
            path: path.to_path_buf(),
            line: idx + 1,
            message,
        };
        let Some((reference, digest)) = line.split_once("@sha256:") else {
            return Err(bad(format!(
                "`{line}` is not `repo:tag@sha256:<64 hex digits>`"
            )));
        };
        if digest.len() != 64
            || !digest
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        {
            return Err(bad(format!(
                "the digest of `{reference}` must be 64 lowercase hex digits"
            )));
        }
        let last = reference.rsplit('/').next().unwrap_or_default();
        if !last.contains(':') {
            return Err(bad(format!(
                "`{reference}` has no tag; write repo:tag@sha256:…"
            )));
        }
        let image = ImageRef::parse(line);
        if let Some(dup) = pins
            .iter()
            .find(|p| p.image.repository == image.repository && p.image.tag == image.tag)
        {
            return Err(bad(format!(
                "`{reference}` is already pinned on line {}",
                dup.line
            )));
        }
        pins.push(Pin {
            image,
            line: idx + 1,
        });
    }
    Ok(pins)
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageCheck {
    pub service: String,
    pub image: String,
    /// ok | missing | pinned_differently | built_locally
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<String>,
    pub message: String,
}

pub fn check(env: &Environment, pins: &[Pin]) -> Vec<ImageCheck> {
    let mut out = Vec::new();
    for (name, svc) in &env.services {
        let Some(image) = &svc.image else { continue };
        let shown = image.display();
        let same_repo: Vec<&Pin> = pins
            .iter()
            .filter(|p| p.image.repository == image.repository)
            .collect();
        let exact = same_repo.iter().find(|p| p.image.tag == image.tag);
        let (status, pinned, message) = if svc.other.contains_key("build") && same_repo.is_empty() {
            (
                "built_locally",
                None,
                "built from source by compose; no registry digest to pin".to_string(),
            )
        } else {
            match (exact, &image.digest) {
                (Some(p), Some(d)) if p.image.digest.as_ref() != Some(d) => (
                    "pinned_differently",
                    Some(p.image.display()),
                    format!(
                        "compose pins {d}, dev/IMAGE_DIGESTS (line {}) pins another digest; use the same one",
                        p.line
                    ),
                ),
                (Some(p), _) => ("ok", Some(p.image.display()), "pinned".to_string()),
                (None, _) if !same_repo.is_empty() => (
                    "pinned_differently",
                    Some(same_repo[0].image.display()),
                    format!(
                        "dev/IMAGE_DIGESTS pins {} (line {}), compose uses tag {}; align them",
                        same_repo[0].image.display(),
                        same_repo[0].line,
                        image.tag.as_deref().unwrap_or("(none)")
                    ),
                ),
                (None, _) => (
                    "missing",
                    None,
                    format!(
                        "not in dev/IMAGE_DIGESTS; add `{}@sha256:<digest>`",
                        shown.split('@').next().unwrap_or_default()
                    ),
                ),
            }
        };
        out.push(ImageCheck {
            service: name.clone(),
            image: shown,
            status,
            pinned,
            message,
        });
    }
    out
}
