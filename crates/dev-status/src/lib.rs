//! dev-status: the health probe of the devenv dependency suite. Every check speaks its
//! component's protocol; every failure carries a class and a remedy; all checks run
//! concurrently, each under its own deadline. See README.md for the CLI and the states.
//!
//! Modules: `cli` (flags), `commands/` (status with wait and watch, preflight, history),
//! `config` (bundle + health file → components), `history/` (recording results and
//! summarising them), `probe/` (one per protocol), `report` (typed
//! documents and the table), `output` (the only writer to stdout/stderr), `telemetry`
//! (Pushgateway and Loki).

pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod history;
pub mod output;
pub mod preflight;
pub mod probe;
pub mod report;
pub mod telemetry;

use clap::Parser as _;
use devenv_core::exit;
use devenv_core::output::{Failure, Format};

use crate::cli::{Cli, Command};

/// Entry point of the binary: parses, runs the command on a two-thread runtime and turns
/// its error into an exit code, here and only here.
pub fn run() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    // async-nats logs every connection error it returns; the report already carries it,
    // classified and with a remedy.
    devenv_core::logging::init_with(cli.log.verbose, &["async_nats"]);
    if let Some(Command::Completions { shell }) = cli.command {
        devenv_core::completions::print::<Cli>(shell);
        return std::process::ExitCode::SUCCESS;
    }
    // JSON is the default, on a terminal too (issue 3); `--human` asks for the table.
    let format = cli.output.format(Format::Json, Format::Json);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2);
    let result = devenv_core::runtime::block_on(builder, async {
        match &cli.command {
            Some(Command::Preflight) => commands::preflight::run(format).await,
            Some(Command::Bucket) => commands::bucket::run(&cli.check, format).await,
            Some(Command::ShipEvents) => commands::ship_events::run().await,
            // A summary for people first (issue 19); --json for machines.
            Some(Command::History(a)) => {
                commands::history::run(a, cli.output.format(Format::Human, Format::Human))
            }
            Some(Command::Completions { .. }) => unreachable!("answered before the runtime starts"),
            None => commands::status::run(&cli.check, format).await,
        }
        .map_err(|e| Failure::from_coded(&e))
    })
    .and_then(|r| r);
    devenv_core::output::finish(result)
}
