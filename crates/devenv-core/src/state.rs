//! `.devenv/state.json`: the workflow stage of the workspace and its transition history (seed
//! 001's DeveloperWorkflowState and StageTransition).
//!
//! ```text
//! uninitialized → provisioning → ready ⇄ active_development ⇄ testing → debugging
//!                                  ready → testing (a test run on a ready stack)
//!                                  debugging → testing | active_development
//! ready | active_development | testing | debugging → paused → ready
//! any but uninitialized → stopped → ready | provisioning
//! any but paused → provisioning (`make up`); any → failed; any → uninitialized (`make reset`)
//! failed → provisioning
//! ```
//!
//! Files written by the five-stage model (schema 1: `updated_at`, transitions without trigger,
//! command or duration) load: the trigger is inferred, the duration computed from the stamps.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::exit::{self, ExitCoded};
use crate::ids;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Uninitialized,
    Provisioning,
    Ready,
    ActiveDevelopment,
    Testing,
    Debugging,
    Paused,
    Stopped,
    Failed,
}

impl Stage {
    pub const ALL: [Stage; 9] = [
        Stage::Uninitialized,
        Stage::Provisioning,
        Stage::Ready,
        Stage::ActiveDevelopment,
        Stage::Testing,
        Stage::Debugging,
        Stage::Paused,
        Stage::Stopped,
        Stage::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Uninitialized => "uninitialized",
            Stage::Provisioning => "provisioning",
            Stage::Ready => "ready",
            Stage::ActiveDevelopment => "active_development",
            Stage::Testing => "testing",
            Stage::Debugging => "debugging",
            Stage::Paused => "paused",
            Stage::Stopped => "stopped",
            Stage::Failed => "failed",
        }
    }

    /// Whether `self → to` is a legal transition (the module docs draw them). Staying put is
    /// always allowed (an idempotent `make up` on a ready stack).
    pub fn can_go_to(self, to: Stage) -> bool {
        use Stage::*;
        self == to
            || to == Failed
            || to == Uninitialized
            || (to == Provisioning && self != Paused)
            || (to == Stopped && self != Uninitialized)
            || matches!(
                (self, to),
                (Provisioning, Ready)
                    | (Ready, ActiveDevelopment)
                    | (ActiveDevelopment, Ready)
                    | (Ready, Testing)
                    | (ActiveDevelopment, Testing)
                    | (Testing, ActiveDevelopment)
                    | (Testing, Debugging)
                    | (Debugging, Testing)
                    | (Debugging, ActiveDevelopment)
                    | (Ready | ActiveDevelopment | Testing | Debugging, Paused)
                    | (Paused, Ready)
                    | (Stopped, Ready)
            )
    }

    /// The stages a test run (`make test`, `make pipeline`) moves to `testing` from: a stack
    /// that `make up` brought up and nobody paused or stopped.
    pub fn runs_tests(self) -> bool {
        matches!(
            self,
            Stage::Ready | Stage::ActiveDevelopment | Stage::Testing | Stage::Debugging
        )
    }

    /// What to do instead of an illegal move out of this stage.
    fn remedy(self) -> &'static str {
        match self {
            Stage::Paused => "run `make resume` first",
            Stage::Uninitialized | Stage::Stopped | Stage::Failed => "run `make up` first",
            _ => "`devenv state` shows where you are; `make reset` if the state file is stale",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown stage `{s}`: one of {}", names.join(", "))
            })
    }
}

/// What caused a transition (seed 001's StageTransition.trigger).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A person asked for it (`make up`, `make pause`, `devenv state set`).
    Manual,
    /// It followed from an outcome: the stack became healthy, a test run passed.
    Automatic,
    /// A timer or CI job asked for it.
    Scheduled,
    /// Something failed: `make up`, a test run.
    Failure,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Automatic => "automatic",
            Trigger::Scheduled => "scheduled",
            Trigger::Failure => "failure",
        }
    }

    /// The trigger of `from → to` when the caller names none: entering failed or debugging is a
    /// failure; provisioning → ready | stopped and testing → active_development follow from an
    /// outcome; everything else was asked for.
    pub fn infer(from: Stage, to: Stage) -> Trigger {
        use Stage::*;
        match (from, to) {
            (_, Failed | Debugging) => Trigger::Failure,
            (Provisioning, Ready | Stopped) | (Testing, ActiveDevelopment) => Trigger::Automatic,
            _ => Trigger::Manual,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// Unique within the file (`<UUIDv7>`; `legacy-N` for transitions of a schema-1 file).
    #[serde(default)]
    pub id: String,
    pub from: Stage,
    pub to: Stage,
    pub at: String,
    /// None only while a schema-1 file is being read; filled by [`WorkflowState::load`].
    #[serde(default)]
    pub trigger: Option<Trigger>,
    /// The command that caused it (`make up`, `devenv state set ready`); the seed's
    /// `associated_command`.
    #[serde(default)]
    pub command: Option<String>,
    /// Whole minutes spent in `from`; null when unknown (a schema-1 file's first transition).
    #[serde(default)]
    pub duration_in_previous_stage_minutes: Option<u64>,
    pub correlation_id: String,
    /// Free-text context (the seed's `trigger_details`).
    #[serde(default)]
    pub reason: String,
}

/// The task being worked on (`devenv state set active_development --task "ABC-123 …"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveTask {
    pub jira_ticket: Option<String>,
    pub description: Option<String>,
    pub started_at: String,
}

impl ActiveTask {
    /// `ABC-123 fix login` → ticket `ABC-123`, description `fix login`; text without a leading
    /// ticket key is all description.
    pub fn parse(text: &str) -> ActiveTask {
        let text = text.trim();
        let (first, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let first = first.trim_end_matches(':');
        let (ticket, description) = if is_ticket(first) {
            (Some(first.to_string()), rest.trim())
        } else {
            (None, text)
        };
        ActiveTask {
            jira_ticket: ticket,
            description: (!description.is_empty()).then(|| description.to_string()),
            started_at: ids::now_rfc3339(),
        }
    }
}

/// A JIRA key: `PROJ-123` (letters, then letters or digits, a dash, digits).
fn is_ticket(word: &str) -> bool {
    let Some((project, number)) = word.split_once('-') else {
        return false;
    };
    project.starts_with(|c: char| c.is_ascii_uppercase())
        && project
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Whole minutes in the current stage (as of the last save; [`WorkflowState::uptime_minutes`]
    /// is the live figure).
    #[serde(default)]
    pub uptime_minutes: u64,
    /// Starts of the stack after it had been stopped or had failed.
    #[serde(default)]
    pub total_restarts: u64,
    /// When a test run last passed (`make test`, `make pipeline`).
    #[serde(default)]
    pub last_successful_test_run: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowState {
    pub schema_version: u32,
    pub stage: Stage,
    /// When the current stage was entered (`updated_at` in schema 1).
    #[serde(alias = "updated_at")]
    pub last_transition: String,
    #[serde(default)]
    pub active_task: Option<ActiveTask>,
    #[serde(default)]
    pub metadata: Metadata,
    pub transitions: Vec<Transition>,
}

/// The state file's format; schema 1 (five stages) still loads.
pub const FILE_SCHEMA: u32 = 2;

/// How many transitions are kept; older ones live on in events.jsonl.
const HISTORY: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("illegal workflow transition {from} → {to} — {}", .from.remedy())]
    Illegal { from: Stage, to: Stage },
    #[error("{path} is not a valid state file: {message} — delete it; `make up` recreates it")]
    Corrupt { path: String, message: String },
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
}

impl ExitCoded for StateError {
    fn exit_code(&self) -> u8 {
        exit::USAGE
    }
}

/// How a transition came about: the trigger (inferred when None), the command and the details.
#[derive(Debug, Clone, Default)]
pub struct Cause {
    pub trigger: Option<Trigger>,
    pub command: Option<String>,
    pub reason: String,
}

impl Cause {
    pub fn reason(reason: &str) -> Self {
        Self {
            reason: reason.to_string(),
            ..Self::default()
        }
    }
}

/// Whole minutes from `since` (RFC 3339) to now; None when `since` does not parse.
fn minutes_since(since: &str) -> Option<u64> {
    minutes_between(since, &ids::now_rfc3339())
}

fn minutes_between(from: &str, to: &str) -> Option<u64> {
    let from = chrono::DateTime::parse_from_rfc3339(from).ok()?;
    let to = chrono::DateTime::parse_from_rfc3339(to).ok()?;
    u64::try_from((to - from).num_minutes()).ok()
}

impl WorkflowState {
    pub fn initial() -> Self {
        Self {
            schema_version: FILE_SCHEMA,
            stage: Stage::Uninitialized,
            last_transition: ids::now_rfc3339(),
            active_task: None,
            metadata: Metadata::default(),
            transitions: Vec::new(),
        }
    }

    /// The state in `path`, or the initial one when there is no file.
    pub fn load(path: &Path) -> Result<Self, StateError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let mut state: Self =
                    serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
                        path: path.display().to_string(),
                        message: e.to_string(),
                    })?;
                state.upgrade();
                Ok(state)
            }
            Err(_) => Ok(Self::initial()),
        }
    }

    /// Fills what a schema-1 file lacks: ids, inferred triggers, durations from the stamps.
    fn upgrade(&mut self) {
        let mut previous_at: Option<String> = None;
        for (n, t) in self.transitions.iter_mut().enumerate() {
            if t.id.is_empty() {
                t.id = format!("legacy-{}", n + 1);
            }
            t.trigger
                .get_or_insert_with(|| Trigger::infer(t.from, t.to));
            if t.duration_in_previous_stage_minutes.is_none() {
                t.duration_in_previous_stage_minutes = previous_at
                    .as_deref()
                    .and_then(|p| minutes_between(p, &t.at));
            }
            previous_at = Some(t.at.clone());
        }
        self.schema_version = FILE_SCHEMA;
        self.metadata.uptime_minutes = self.uptime_minutes();
    }

    /// Whole minutes in the current stage, now.
    pub fn uptime_minutes(&self) -> u64 {
        minutes_since(&self.last_transition).unwrap_or(0)
    }

    /// Moves to `to`, recording the transition with its cause; errors on an illegal move.
    /// Staying put records nothing.
    pub fn transition(&mut self, to: Stage, cause: Cause) -> Result<(), StateError> {
        let from = self.stage;
        if !from.can_go_to(to) {
            return Err(StateError::Illegal { from, to });
        }
        if from == to {
            return Ok(());
        }
        let at = ids::now_rfc3339();
        self.transitions.push(Transition {
            id: ids::new_id(),
            from,
            to,
            at: at.clone(),
            trigger: Some(cause.trigger.unwrap_or_else(|| Trigger::infer(from, to))),
            command: cause.command.filter(|c| !c.is_empty()),
            duration_in_previous_stage_minutes: Some(self.uptime_minutes()),
            correlation_id: ids::correlation_id().to_string(),
            reason: cause.reason,
        });
        if self.transitions.len() > HISTORY {
            let excess = self.transitions.len() - HISTORY;
            self.transitions.drain(..excess);
        }
        if matches!(from, Stage::Stopped | Stage::Failed)
            && matches!(to, Stage::Provisioning | Stage::Ready)
        {
            self.metadata.total_restarts += 1;
        }
        if to == Stage::Uninitialized {
            self.active_task = None;
        }
        self.stage = to;
        self.last_transition = at;
        self.metadata.uptime_minutes = 0;
        Ok(())
    }

    /// Records a passed test run now (`metadata.last_successful_test_run`).
    pub fn test_run_passed(&mut self) {
        self.metadata.last_successful_test_run = Some(ids::now_rfc3339());
    }

    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let mut state = self.clone();
        state.metadata.uptime_minutes = self.uptime_minutes();
        let text = serde_json::to_string_pretty(&state).expect("state serialises") + "\n";
        crate::bundle::write_atomic(path, text.as_bytes(), 0o644).map_err(|e| StateError::Write {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_transitions() {
        let mut s = WorkflowState::initial();
        s.transition(Stage::Provisioning, Cause::reason("up"))
            .unwrap();
        s.transition(Stage::Ready, Cause::reason("healthy"))
            .unwrap();
        s.transition(Stage::Stopped, Cause::reason("stop")).unwrap();
        s.transition(Stage::Ready, Cause::reason("up")).unwrap();
        assert_eq!(s.metadata.total_restarts, 1);
        assert!(
            s.transition(Stage::Uninitialized, Cause::reason("reset"))
                .is_ok()
        );
        let err = s
            .transition(Stage::Ready, Cause::reason("skip"))
            .unwrap_err();
        assert!(err.to_string().contains("uninitialized → ready"), "{err}");
        assert_eq!(s.transitions.len(), 5);
        assert_eq!(s.transitions[1].trigger, Some(Trigger::Automatic));
        assert_eq!(s.transitions[0].trigger, Some(Trigger::Manual));
    }

    #[test]
    fn the_legal_moves_are_the_documented_ones() {
        use Stage::*;
        let legal: &[(Stage, &[Stage])] = &[
            (Uninitialized, &[Provisioning, Failed]),
            (Provisioning, &[Ready, Stopped, Failed, Uninitialized]),
            (
                Ready,
                &[
                    ActiveDevelopment,
                    Testing,
                    Paused,
                    Provisioning,
                    Stopped,
                    Failed,
                ],
            ),
            (
                ActiveDevelopment,
                &[Ready, Testing, Paused, Provisioning, Stopped, Failed],
            ),
            (
                Testing,
                &[
                    ActiveDevelopment,
                    Debugging,
                    Paused,
                    Provisioning,
                    Stopped,
                    Failed,
                ],
            ),
            (
                Debugging,
                &[
                    Testing,
                    ActiveDevelopment,
                    Paused,
                    Provisioning,
                    Stopped,
                    Failed,
                ],
            ),
            (Paused, &[Ready, Stopped, Failed]),
            (Stopped, &[Ready, Provisioning, Failed]),
            (Failed, &[Provisioning, Stopped]),
        ];
        for (from, tos) in legal {
            for to in Stage::ALL {
                let expected = to == *from || to == Uninitialized || tos.contains(&to);
                assert_eq!(from.can_go_to(to), expected, "{from} → {to}");
            }
        }
    }

    #[test]
    fn tasks_split_the_ticket_from_the_description() {
        let t = ActiveTask::parse("ABC-123 fix the login");
        assert_eq!(t.jira_ticket.as_deref(), Some("ABC-123"));
        assert_eq!(t.description.as_deref(), Some("fix the login"));
        let t = ActiveTask::parse("refactor the cache");
        assert_eq!(t.jira_ticket, None);
        assert_eq!(t.description.as_deref(), Some("refactor the cache"));
        assert_eq!(ActiveTask::parse("OPS2-7").description, None);
    }

    #[test]
    fn saves_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut s = WorkflowState::load(&path).unwrap();
        s.transition(Stage::Provisioning, Cause::default()).unwrap();
        s.save(&path).unwrap();
        assert_eq!(WorkflowState::load(&path).unwrap(), s);
    }
}
