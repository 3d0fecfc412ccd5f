//! config-diff: "how does my local environment differ from staging, and does it matter?"
//!
//! Compares the resolved compose model (not the text) of two environments, keyed by service,
//! port and volume target; grades every difference with a rule; never prints a secret.
//! Subcommands: `diff` (the default), `validate`, `images`, `history` (the reports kept by
//! `diff --save`, module `archive`). See README.md.
//!
//! Modules: `cli` (flags), `commands/` (one per subcommand), `output` (the only writer to
//! stdout/stderr); the model is built load → model → value, then diff → rules → report.

pub mod archive;
pub mod cli;
pub mod commands;
pub mod diff;
pub mod digests;
pub mod duration;
pub mod error;
pub mod image;
pub mod interpolate;
pub mod load;
pub mod model;
pub mod output;
pub mod report;
pub mod rules;
pub mod validate;
pub mod value;

use std::process::ExitCode;

use clap::Parser as _;
use devenv_core::exit;
use devenv_core::output::{Failure, Format};

use crate::cli::{Cli, Command};

/// The binary's entry point: parses (with `diff` as the default subcommand), runs the
/// command and turns its error into an exit code, here and only here.
pub fn run() -> ExitCode {
    let args = cli::with_default_subcommand(std::env::args_os().collect());
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    devenv_core::logging::init(cli.log.verbose);
    // Human by default, on a terminal and in a pipe alike.
    let format = cli.output.format(Format::Human, Format::Human);
    let result = match cli.command {
        Command::Diff(a) => commands::diff::run(a, format),
        Command::Validate(a) => commands::validate::run(a, format),
        Command::Images(a) => commands::images::run(a, format),
        Command::History(a) => commands::history::run(a, format),
        Command::Completions { shell } => {
            devenv_core::completions::print::<Cli>(shell);
            Ok(exit::OK)
        }
    };
    devenv_core::output::finish(result.map_err(|e| Failure::from_coded(&e)))
}
