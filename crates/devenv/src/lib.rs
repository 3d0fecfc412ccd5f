//! `devenv`: the lifecycle scripts' way into devenv-core, so the workflow state machine, the
//! event format, log tailing, snapshots and the lifecycle lock live in one place (Rust) instead
//! of being re-implemented in bash.
//!
//! - `devenv state` prints the stage (and its timeline on a terminal); `devenv state set STAGE
//!   --reason R` moves it (illegal transitions are refused with exit 2); `test-started` /
//!   `test-finished` move a test run's stages.
//! - `devenv pipeline run|list|show`: local CI/CD runs of `configs/pipeline.yaml`, recorded
//!   under `.devenv/pipelines/`.
//! - `devenv event NAME key=value…` appends a redacted event to `.devenv/events.jsonl`.
//! - `devenv which NAME…` finds programs where distributions put them, even off PATH (the one
//!   lookup dev-status' preflight uses too); `--path` prints the directories it searches.
//! - `devenv pid record SERVICE PID` / `devenv pid check SERVICE`: pid files that remember the
//!   process's start time and executable, so a reused pid is never taken for a service.
//! - `devenv logs`: every service's log, interleaved live, each line prefixed with its service.
//! - `devenv snapshot create|restore|list`: consistent per-service copies of `.devenv/data`
//!   with a sha256 manifest, verified before a restore touches anything.
//! - `devenv lock -- CMD…`: one lifecycle command at a time per workspace.
//! - `devenv completions bash|zsh|fish`: shell completions.
//!
//! The clap definitions are in [`cli`]; each command is a module of [`commands`].

pub mod cli;
pub mod commands;

use clap::Parser as _;
use devenv_core::output;

pub fn run() -> std::process::ExitCode {
    devenv_core::logging::init(0);
    let cli = cli::Cli::parse();
    output::finish(commands::dispatch(cli))
}
