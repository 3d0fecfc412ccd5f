//! One module per `devenv` subcommand; [`dispatch`] routes the parsed command line.

pub mod completions;
pub mod event;
pub mod free_ports;
pub mod json;
pub mod lock;
pub mod logs;
pub mod mode;
pub mod pid;
pub mod pipeline;
pub mod snapshot;
pub mod state;
pub mod summary;
pub mod which;

use devenv_core::output::Failure;
use devenv_core::paths::Workspace;

use crate::cli::{Cli, Command};

pub fn dispatch(cli: Cli) -> Result<u8, Failure> {
    let ws = Workspace::discover();
    match cli.command {
        Command::State {
            action,
            json,
            human,
        } => state::run(&ws, action, json, human),
        Command::Pipeline { action } => pipeline::run(&ws, action),
        Command::Event {
            name,
            fields,
            source,
        } => event::run(&ws, &name, &fields, &source),
        Command::Which { names, path } => which::run(&names, path),
        Command::Summary { bundle } => summary::run(&ws, bundle),
        Command::Json { fields } => json::run(&fields),
        Command::Mode { bundle } => mode::run(&ws, bundle),
        Command::Pid { action } => pid::run(&ws, action),
        Command::Logs(args) => logs::run(&ws, &args),
        Command::Snapshot { action } => snapshot::run(&ws, action),
        Command::Lock(args) => lock::run(&ws, &args),
        Command::FreePorts { count } => free_ports::run(count),
        Command::Completions { shell } => completions::run(shell),
    }
}

/// A script's `key=value` argument split at its first `=`; `forms` names what is accepted,
/// for the error.
fn key_value<'a>(field: &'a str, forms: &str) -> Result<(&'a str, &'a str), Failure> {
    field.split_once('=').ok_or_else(|| {
        Failure::new(
            devenv_core::exit::USAGE,
            format!("`{field}` is not {forms}"),
        )
    })
}
