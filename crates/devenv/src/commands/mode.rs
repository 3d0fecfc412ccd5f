//! `devenv mode [--bundle]`: the one mode rule (MODE, else DEVENV_MODE, else local).

use devenv_core::exit;
use devenv_core::output::{self, Failure};
use devenv_core::paths::{Mode, Workspace};

pub fn run(ws: &Workspace, bundle: bool) -> Result<u8, Failure> {
    let mode = current()?;
    if bundle {
        output::println_redacted(&ws.bundle_path(mode).display().to_string());
    } else {
        output::println_redacted(mode.as_str());
    }
    Ok(exit::OK)
}

/// The mode of this run, as a usage failure when MODE / DEVENV_MODE hold nonsense.
pub fn current() -> Result<Mode, Failure> {
    Mode::from_env()
        .map_err(|e| Failure::new(exit::USAGE, format!("{e} — set MODE to local or remote")))
}
