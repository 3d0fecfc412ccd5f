//! `devenv`: the lifecycle scripts' way into devenv-core, so the workflow state machine and the
//! event format live in one place (Rust) instead of being re-implemented in bash.
//!
//! - `devenv state` prints the stage; `devenv state set STAGE --reason R` moves it (illegal
//!   transitions are refused with exit 2).
//! - `devenv event NAME key=value…` appends a redacted event to `.devenv/events.jsonl`.

use clap::{Parser, Subcommand};
use devenv_core::events::Event;
use devenv_core::exit;
use devenv_core::output::{self, Failure, Format};
use devenv_core::paths::Workspace;
use devenv_core::state::{Stage, WorkflowState};

#[derive(Debug, Parser)]
#[command(name = "devenv", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show or change the workflow stage in .devenv/state.json.
    State {
        #[command(subcommand)]
        action: Option<StateAction>,
        /// Print the whole state document as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Append an event to .devenv/events.jsonl.
    Event {
        /// Event name, e.g. `up_finished`.
        name: String,
        /// Fields as key=value.
        fields: Vec<String>,
        /// The component emitting it.
        #[arg(long, default_value = "scripts")]
        source: String,
    },
}

#[derive(Debug, Subcommand)]
enum StateAction {
    /// Move to STAGE (uninitialized, provisioning, ready, stopped, failed).
    Set {
        stage: Stage,
        #[arg(long, default_value = "")]
        reason: String,
    },
}

pub fn run() -> std::process::ExitCode {
    devenv_core::logging::init(0);
    let cli = Cli::parse();
    output::finish(dispatch(cli))
}

fn dispatch(cli: Cli) -> Result<u8, Failure> {
    let ws = Workspace::discover();
    match cli.command {
        Command::State { action, json } => {
            let path = ws.state_file();
            let mut state = WorkflowState::load(&path).map_err(|e| Failure::from_coded(&e))?;
            if let Some(StateAction::Set { stage, reason }) = action {
                let from = state.stage;
                state
                    .transition(stage, &reason)
                    .map_err(|e| Failure::from_coded(&e))?;
                state.save(&path).map_err(|e| Failure::from_coded(&e))?;
                if from != stage {
                    Event::new("state", "stage_changed")
                        .field("from", from.as_str())
                        .field("to", stage.as_str())
                        .field("reason", reason)
                        .append_to(&ws.events_file());
                }
            }
            let format = Format::choose(json, false, false, Format::Human, Format::Human);
            if format == Format::Json {
                output::print_json(&output::document(
                    "state",
                    serde_json::to_value(&state).expect("state serialises"),
                ));
            } else {
                output::println_redacted(state.stage.as_str());
            }
            Ok(exit::OK)
        }
        Command::Event {
            name,
            fields,
            source,
        } => {
            let mut event = Event::new(&source, &name);
            for field in fields {
                let (key, value) = field.split_once('=').ok_or_else(|| {
                    Failure::new(
                        exit::USAGE,
                        format!("`{field}` is not key=value — write fields as key=value"),
                    )
                })?;
                event = event.field(key, value);
            }
            event.append_to(&ws.events_file());
            Ok(exit::OK)
        }
    }
}
