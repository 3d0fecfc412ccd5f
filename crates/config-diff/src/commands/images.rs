//! `config-diff images`: every image of the environment against the pin list.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use devenv_core::exit;
use devenv_core::output::{Format, Style, pad};
use devenv_core::paths::Workspace;
use serde::Serialize;

use super::env_side;
use crate::cli::ImagesArgs;
use crate::digests::{self, ImageCheck};
use crate::error::Result;
use crate::output;
use crate::report::EnvironmentRef;

/// The `image_digest_policy` document.
#[derive(Debug, Serialize)]
pub struct ImagePolicyReport {
    pub digests_file: String,
    pub environment: EnvironmentRef,
    pub compliant: bool,
    pub images: Vec<ImageCheck>,
}

impl ImagePolicyReport {
    fn not_pinned(&self) -> usize {
        self.images
            .iter()
            .filter(|c| c.status == "missing" || c.status == "pinned_differently")
            .count()
    }

    pub fn human(&self, style: Style, root: &Path) -> String {
        let width = self
            .images
            .iter()
            .map(|c| c.service.len())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for c in &self.images {
            let label = match c.status {
                "ok" => style.green("ok"),
                "built_locally" => style.dim("built"),
                other => style.red(other),
            };
            let _ = writeln!(
                out,
                "{} {} {}  {}",
                pad(&label, 18),
                pad(&c.service, width),
                c.image,
                style.dim(&c.message)
            );
        }
        let file = Path::new(&self.digests_file);
        let _ = write!(
            out,
            "{} images checked against {}: {} not pinned as listed",
            self.images.len(),
            file.strip_prefix(root).unwrap_or(file).display(),
            self.not_pinned()
        );
        out
    }
}

pub fn run(a: ImagesArgs, format: Format) -> Result<u8> {
    let root = Workspace::discover().root;
    let digests_path: PathBuf = a
        .digests
        .clone()
        .unwrap_or_else(|| root.join("dev/IMAGE_DIGESTS"));
    let mut side = env_side(a.env, true)?;
    // Pins do not depend on credentials: check them without the secrets bundle, and check
    // the images of every profile, not only the active ones.
    side.lenient = true;
    if side.profiles.is_empty() {
        side.profiles = vec!["*".to_string()];
    }
    let pins = digests::parse(&digests_path)?;
    let env = side.load()?;
    let mut report = ImagePolicyReport {
        digests_file: digests_path.display().to_string(),
        environment: EnvironmentRef::from(&env),
        compliant: true,
        images: digests::check(&env, &pins),
    };
    report.compliant = report.not_pinned() == 0;
    output::emit(
        format,
        || output::document("image_digest_policy", &report),
        |style| report.human(style, &root),
    );
    Ok(if report.compliant {
        exit::OK
    } else {
        exit::FAILED
    })
}
