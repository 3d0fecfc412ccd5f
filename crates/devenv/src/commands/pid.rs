//! `devenv pid record SERVICE PID` / `devenv pid check SERVICE`.

use devenv_core::exit;
use devenv_core::output::{self, Failure};
use devenv_core::paths::Workspace;

use crate::cli::PidAction;

pub fn run(ws: &Workspace, action: PidAction) -> Result<u8, Failure> {
    match action {
        PidAction::Record { service, pid } => {
            devenv_core::pidfile::record(&ws.pid_file(&service), pid).map_err(|e| {
                Failure::new(
                    exit::FAILED,
                    format!("{service}: cannot record pid {pid}: {e}"),
                )
            })?;
            Ok(exit::OK)
        }
        PidAction::Check { service } => {
            match devenv_core::pidfile::live_pid(&ws.pid_file(&service)) {
                Some(pid) => {
                    output::println_redacted(&pid.to_string());
                    Ok(exit::OK)
                }
                // Not running is an answer, not an error: exit 1 without a message.
                None => Ok(exit::FAILED),
            }
        }
    }
}
