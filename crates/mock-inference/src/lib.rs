//! mock-inference: an OpenAI-compatible mock inference server for offline development and
//! load tests. See README.md for the API, configuration, response modes, latency profiles,
//! faults and metrics.

pub mod access;
pub mod admission;
pub mod api;
pub mod body;
pub mod config;
pub mod decoder;
pub mod error;
pub mod faults;
pub mod generate;
pub mod http1;
pub mod listen;
pub mod logprobs;
pub mod metrics;
pub mod output;
pub mod plan;
pub mod request;
pub mod routes;
pub mod scenario;
pub mod server;
pub mod stream;
pub mod tokenizer;

use std::process::ExitCode;

use clap::Parser as _;
use devenv_core::exit::{self, ExitCoded};
use devenv_core::output::{Failure, Format};

use crate::config::{Cli, Config};

pub use crate::listen::pregrow_fd_table;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(
        "cannot listen on {addr}: {source}{holder}; fix: pass another --port (or stop the holder)"
    )]
    Bind {
        addr: String,
        source: std::io::Error,
        holder: String,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl ExitCoded for ServeError {
    fn exit_code(&self) -> u8 {
        match self {
            ServeError::Config(e) => e.exit_code(),
            ServeError::Bind { .. } => exit::USAGE,
            ServeError::Runtime(_) => exit::FAILED,
        }
    }
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    if let Some(config::CliCommand::Completions { shell }) = cli.command {
        devenv_core::completions::print::<Cli>(shell);
        return ExitCode::SUCCESS;
    }
    devenv_core::logging::init(cli.log.verbose);
    output::finish(serve_cli(cli).map_err(|e| Failure::from_coded(&e)))
}

fn serve_cli(cli: Cli) -> Result<u8, ServeError> {
    let cfg = Config::load(&cli)?;
    let format = cli.output.format(Format::Human, Format::Human);
    let workers = cli.workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    listen::serve(cfg, format, workers.max(1))
}
