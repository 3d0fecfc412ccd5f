//! `dev-status preflight`: can this machine run the stack?

use devenv_core::exit;
use devenv_core::output::Format;
use devenv_core::paths::Workspace;

use super::event;
use crate::error::Error;
use crate::{output, preflight};

pub async fn run(format: Format) -> Result<u8, Error> {
    let ws = Workspace::discover();
    let report = preflight::run(&ws).await?;
    output::preflight(&report, format);
    event(&ws, "preflight", |e| {
        e.field("pass", report.pass)
            .field("warnings", report.warnings.len())
            .field("runtime", report.runtime)
    });
    Ok(if report.pass { exit::OK } else { exit::FAILED })
}
