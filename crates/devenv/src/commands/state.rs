//! `devenv state [set STAGE …] [--json|--human]`: the workflow stage in .devenv/state.json and
//! its timeline; `test-started` / `test-finished` for the test runs (`make test`, `make
//! pipeline`).

use devenv_core::events::Event;
use devenv_core::exit;
use devenv_core::output::{self, Failure, Format};
use devenv_core::paths::Workspace;
use devenv_core::state::{ActiveTask, Cause, Stage, Trigger, WorkflowState};

use crate::cli::{StateAction, TestResult};

pub fn run(
    ws: &Workspace,
    action: Option<StateAction>,
    json: bool,
    human: bool,
) -> Result<u8, Failure> {
    let state = match action {
        None => load(ws)?,
        Some(StateAction::Set {
            stage,
            reason,
            trigger,
            command,
            task,
        }) => {
            if task.is_some() && stage != Stage::ActiveDevelopment {
                return Err(Failure::new(
                    exit::USAGE,
                    format!(
                        "--task goes with active_development, not {stage} — run `devenv state \
                         set active_development --task \"ABC-123 what you work on\"`"
                    ),
                ));
            }
            let command = command.unwrap_or_else(|| format!("devenv state set {stage}"));
            let cause = Cause {
                trigger,
                command: Some(command),
                reason,
            };
            let task = task.as_deref().map(ActiveTask::parse);
            move_to(ws, stage, cause, task)?
        }
        Some(StateAction::TestStarted { command }) => {
            test_started(ws, &command)?;
            load(ws)?
        }
        Some(StateAction::TestFinished { result, command }) => {
            test_finished(ws, result == TestResult::Passed, &command)?;
            load(ws)?
        }
    };
    // Through a pipe the stage alone: what the scripts read (`stage="$(devenv state)"`).
    match Format::choose(json, human, false, Format::Human, Format::Quiet) {
        Format::Json => output::print_json(&document(&state)),
        Format::Human => print_timeline(&state),
        Format::Quiet => output::println_redacted(state.stage.as_str()),
    }
    Ok(exit::OK)
}

fn load(ws: &Workspace) -> Result<WorkflowState, Failure> {
    WorkflowState::load(&ws.state_file()).map_err(|e| Failure::from_coded(&e))
}

/// Moves the workspace to `to` (saving the state and appending a `stage_changed` event);
/// `task` replaces the active task. The state after the move.
pub fn move_to(
    ws: &Workspace,
    to: Stage,
    cause: Cause,
    task: Option<ActiveTask>,
) -> Result<WorkflowState, Failure> {
    let path = ws.state_file();
    let mut state = load(ws)?;
    let from = state.stage;
    state
        .transition(to, cause)
        .map_err(|e| Failure::from_coded(&e))?;
    if task.is_some() {
        state.active_task = task;
    }
    state.save(&path).map_err(|e| Failure::from_coded(&e))?;
    if from != to {
        let t = state.transitions.last().expect("a transition was recorded");
        Event::new("state", "stage_changed")
            .field("from", from.as_str())
            .field("to", to.as_str())
            .field("trigger", t.trigger.map_or("manual", Trigger::as_str))
            .field("command", t.command.clone().unwrap_or_default())
            .field(
                "duration_in_previous_stage_minutes",
                t.duration_in_previous_stage_minutes.unwrap_or(0),
            )
            .field("reason", t.reason.clone())
            .append_to(&ws.events_file());
    }
    Ok(state)
}

/// A test run starts: `testing` when the workspace has a state file from `make up` and its
/// stage runs tests ([`Stage::runs_tests`]); otherwise (a fresh clone, a stopped or paused
/// stack) nothing changes. True when the stage is now testing.
pub fn test_started(ws: &Workspace, command: &str) -> Result<bool, Failure> {
    if !ws.state_file().is_file() || !load(ws)?.stage.runs_tests() {
        return Ok(false);
    }
    let cause = Cause {
        trigger: Some(Trigger::Manual),
        command: Some(command.to_string()),
        reason: "test run started".into(),
    };
    move_to(ws, Stage::Testing, cause, None)?;
    Ok(true)
}

/// A test run ended: from `testing`, `active_development` (and last_successful_test_run) when
/// it passed, `debugging` when it failed. From any other stage (the run never moved it, or
/// `make up`/`make stop` happened meanwhile) nothing changes.
pub fn test_finished(ws: &Workspace, passed: bool, command: &str) -> Result<(), Failure> {
    if !ws.state_file().is_file() || load(ws)?.stage != Stage::Testing {
        return Ok(());
    }
    let (to, trigger, reason) = if passed {
        (
            Stage::ActiveDevelopment,
            Trigger::Automatic,
            "test run passed",
        )
    } else {
        (Stage::Debugging, Trigger::Failure, "test run failed")
    };
    let cause = Cause {
        trigger: Some(trigger),
        command: Some(command.to_string()),
        reason: reason.into(),
    };
    let mut state = move_to(ws, to, cause, None)?;
    if passed {
        state.test_run_passed();
        state
            .save(&ws.state_file())
            .map_err(|e| Failure::from_coded(&e))?;
    }
    Ok(())
}

/// The `state` document: the state file's content with the live uptime, versioned like every
/// document (crates/devenv/schema/state.schema.json).
pub fn document(state: &WorkflowState) -> serde_json::Value {
    let mut state = state.clone();
    state.metadata.uptime_minutes = state.uptime_minutes();
    let mut body = serde_json::to_value(&state).expect("state serialises");
    if let Some(fields) = body.as_object_mut() {
        fields.remove("schema_version");
    }
    output::document("state", body)
}

fn print_timeline(state: &WorkflowState) {
    let style = output::Style::stdout();
    let mut head = format!(
        "stage {} for {} min",
        style.bold(state.stage.as_str()),
        state.uptime_minutes()
    );
    if let Some(task) = &state.active_task {
        let words: Vec<&str> = [task.jira_ticket.as_deref(), task.description.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        head.push_str(&format!(" — task {}", words.join(" ")));
    }
    output::println_redacted(&head);
    output::println_redacted(&format!(
        "restarts {} · last passed test run {}",
        state.metadata.total_restarts,
        state
            .metadata
            .last_successful_test_run
            .as_deref()
            .unwrap_or("never")
    ));
    if state.transitions.is_empty() {
        return;
    }
    output::println_redacted(&style.dim(&format!(
        "{:<24}  {:<40}  {:<9}  {:>6}  command — reason",
        "at", "transition", "trigger", "before"
    )));
    for t in &state.transitions {
        let moved = format!("{} → {}", t.from, t.to);
        let before = t
            .duration_in_previous_stage_minutes
            .map_or("?".to_string(), |m| format!("{m} min"));
        let mut tail = t.command.clone().unwrap_or_else(|| "—".into());
        if !t.reason.is_empty() {
            tail.push_str(&format!(" — {}", t.reason));
        }
        output::println_redacted(&format!(
            "{:<24}  {:<40}  {:<9}  {:>6}  {tail}",
            t.at,
            moved,
            t.trigger.map_or("", Trigger::as_str),
            before
        ));
    }
}
