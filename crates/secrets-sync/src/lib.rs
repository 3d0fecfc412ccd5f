//! secrets-sync: writes the dotenv bundle (`.env.local` / `.env.linode`) that every devenv
//! binary and app reads, from HashiCorp Vault (AppRole or a given token, KV v1/v2, concurrent
//! reads, each tied to Vault's request id in `.devenv/events.jsonl`) or, in local mode without
//! Vault, from stable per-workspace generated credentials. `render` fills the service config
//! templates from the bundle. Atomic 0600 writes, the `git check-ignore` refusal and redaction
//! come from devenv-core.
//!
//! Layout: [`cli`] (the command line and the mode rule), `commands` (a module per command),
//! `fetch` (the Vault fetch), [`bootstrap`] (the vault profile's server set-up), [`remote`] (the remote bundle), [`diff`] (the key diff),
//! `output` (the one place that prints), and the domain modules below.

pub mod bootstrap;
pub mod cli;
mod commands;
pub mod diff;
pub mod error;
mod fetch;
pub mod local;
pub mod mapping;
mod output;
pub mod portable;
pub mod remote;
pub mod render;
pub mod vault;

use clap::Parser as _;
use devenv_core::output::{Failure, Format};

pub use crate::cli::Cli;
use crate::cli::Command;
pub use crate::diff::KeyDiff;
use crate::error::SyncError;

pub(crate) const SOURCE: &str = "secrets-sync";

/// Library targets whose own ERROR logs would duplicate the one error we report.
const QUIET_TARGETS: &[&str] = &["vaultrs", "rustify"];

/// Entry point of the binary: the one place an error becomes an exit code.
pub fn run() -> std::process::ExitCode {
    let cli = Cli::parse();
    let format = cli.output.format(Format::Human, Format::Human);
    let result: Result<u8, SyncError> = match &cli.command {
        Some(Command::Render(args)) => {
            devenv_core::logging::init(cli.log.verbose);
            commands::render::run(args, format)
        }
        Some(Command::CheckExpiry(args)) => {
            devenv_core::logging::init(cli.log.verbose);
            commands::check_expiry::run(args, format)
        }
        Some(Command::Sync(args)) => sync(args, cli.log.verbose, format),
        Some(Command::VaultBootstrap(args)) => {
            devenv_core::logging::init_with(cli.log.verbose, QUIET_TARGETS);
            commands::vault_bootstrap::run(args, format)
        }
        Some(Command::Completions { shell }) => {
            devenv_core::completions::print::<Cli>(*shell);
            Ok(devenv_core::exit::OK)
        }
        None => sync(&cli.sync, cli.log.verbose, format),
    };
    devenv_core::output::finish(result.map_err(|e| Failure::from_coded(&e)))
}

fn sync(args: &cli::SyncArgs, verbose: u8, format: Format) -> Result<u8, SyncError> {
    devenv_core::logging::init_with(verbose, QUIET_TARGETS);
    commands::sync::run(args, format)
}
