//! `.devenv/state.json`: the workflow stage of the workspace and its transition history.
//! Seed model: uninitialized → provisioning → ready ⇄ stopped, and failed from any stage.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::exit::{self, ExitCoded};
use crate::ids;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Uninitialized,
    Provisioning,
    Ready,
    Stopped,
    Failed,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Uninitialized => "uninitialized",
            Stage::Provisioning => "provisioning",
            Stage::Ready => "ready",
            Stage::Stopped => "stopped",
            Stage::Failed => "failed",
        }
    }

    /// Whether `self → to` is a legal transition. Staying put is always allowed (idempotent
    /// `make up` on a ready stack); a reset returns any stage to uninitialized.
    pub fn can_go_to(self, to: Stage) -> bool {
        use Stage::*;
        self == to
            || to == Failed
            || to == Uninitialized
            || matches!(
                (self, to),
                (Uninitialized, Provisioning)
                    | (Provisioning, Ready)
                    | (Ready, Stopped)
                    | (Provisioning, Stopped)
                    | (Stopped, Ready)
                    | (Stopped, Provisioning)
                    | (Ready, Provisioning)
                    | (Failed, Provisioning)
                    | (Failed, Stopped)
            )
    }
}

impl std::str::FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "uninitialized" => Ok(Stage::Uninitialized),
            "provisioning" => Ok(Stage::Provisioning),
            "ready" => Ok(Stage::Ready),
            "stopped" => Ok(Stage::Stopped),
            "failed" => Ok(Stage::Failed),
            other => Err(format!(
                "unknown stage `{other}`: one of uninitialized, provisioning, ready, stopped, failed"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub from: Stage,
    pub to: Stage,
    pub at: String,
    pub correlation_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowState {
    pub schema_version: u32,
    pub stage: Stage,
    pub updated_at: String,
    pub transitions: Vec<Transition>,
}

/// How many transitions are kept; older ones live on in events.jsonl.
const HISTORY: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("illegal workflow transition {from} → {to} — run `make reset` if the state file is stale", from = .from.as_str(), to = .to.as_str())]
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

impl WorkflowState {
    pub fn initial() -> Self {
        Self {
            schema_version: 1,
            stage: Stage::Uninitialized,
            updated_at: ids::now_rfc3339(),
            transitions: Vec::new(),
        }
    }

    pub fn load(path: &Path) -> Result<Self, StateError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| StateError::Corrupt {
                path: path.display().to_string(),
                message: e.to_string(),
            }),
            Err(_) => Ok(Self::initial()),
        }
    }

    /// Moves to `to`, recording the transition; errors on an illegal move.
    pub fn transition(&mut self, to: Stage, reason: &str) -> Result<(), StateError> {
        if !self.stage.can_go_to(to) {
            return Err(StateError::Illegal {
                from: self.stage,
                to,
            });
        }
        if self.stage == to {
            return Ok(());
        }
        let at = ids::now_rfc3339();
        self.transitions.push(Transition {
            from: self.stage,
            to,
            at: at.clone(),
            correlation_id: ids::correlation_id().to_string(),
            reason: reason.to_string(),
        });
        if self.transitions.len() > HISTORY {
            let excess = self.transitions.len() - HISTORY;
            self.transitions.drain(..excess);
        }
        self.stage = to;
        self.updated_at = at;
        Ok(())
    }

    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        let text = serde_json::to_string_pretty(self).expect("state serialises") + "\n";
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
        s.transition(Stage::Provisioning, "up").unwrap();
        s.transition(Stage::Ready, "healthy").unwrap();
        s.transition(Stage::Stopped, "stop").unwrap();
        s.transition(Stage::Ready, "up").unwrap();
        assert!(s.transition(Stage::Uninitialized, "reset").is_ok());
        let err = s.transition(Stage::Ready, "skip").unwrap_err();
        assert!(err.to_string().contains("uninitialized → ready"));
        assert_eq!(s.transitions.len(), 5);
    }

    #[test]
    fn saves_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut s = WorkflowState::load(&path).unwrap();
        s.transition(Stage::Provisioning, "").unwrap();
        s.save(&path).unwrap();
        assert_eq!(WorkflowState::load(&path).unwrap(), s);
    }
}
