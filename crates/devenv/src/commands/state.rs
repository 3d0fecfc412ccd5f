//! `devenv state [set STAGE --reason R] [--json]`: the workflow stage in .devenv/state.json.

use devenv_core::events::Event;
use devenv_core::exit;
use devenv_core::output::{self, Failure, Format};
use devenv_core::paths::Workspace;
use devenv_core::state::WorkflowState;

use crate::cli::StateAction;

pub fn run(ws: &Workspace, action: Option<StateAction>, json: bool) -> Result<u8, Failure> {
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
