//! migrate-ledger: SQL migrations and seed data with a sha256 ledger, safe under concurrency.
//!
//! Files are `migrations/NNN_description.sql` (seeds in `migrations/seeds/`). The table
//! `schema_migrations` (`schema_seeds` for seeds), written in the same transaction as each
//! file, is the source of truth; `.devenv/migration-ledger.json` is a copy written atomically
//! afterwards. See the crate README for the commands and exit codes.
//!
//! Layout: [`cli`] (the command line), `context` (what every command works with),
//! `commands` (a module per command), `report` (the one place that prints), and the domain
//! modules below.

pub mod apply;
pub mod cli;
mod commands;
mod context;
pub mod db;
pub mod error;
pub mod files;
pub mod ledger;
pub mod plan;
mod report;
pub mod seed;
pub mod split;

use clap::Parser as _;
use devenv_core::events::Event;
use devenv_core::exit::ExitCoded as _;
use devenv_core::output::{self, Failure};

pub use crate::cli::Cli;
use crate::context::Ctx;

const SOURCE: &str = "migrate-ledger";

/// Entry point of the binary: the one place an error becomes an exit code (and an event).
pub fn run() -> std::process::ExitCode {
    let cli = Cli::parse();
    devenv_core::logging::init(cli.global.log.verbose);
    let ctx = Ctx::new(&cli.global);
    let command = cli.command.name();
    let result = devenv_core::runtime::block_on(
        tokio::runtime::Builder::new_current_thread(),
        commands::dispatch(&ctx, cli.command),
    )
    .and_then(|result| {
        result.map_err(|e| {
            Event::new(SOURCE, &format!("{command}_failed"))
                .field("exit_code", e.exit_code())
                .field("message", devenv_core::redact::error_chain(&e))
                .append_to(&ctx.ws.events_file());
            Failure::from_coded(&e)
        })
    });
    output::finish(result)
}
