//! What a run writes to the health history: one [`HealthRecord`] per checked component.
//! Recording is observability, not state: a failure is a warning and never changes the
//! run's exit code.

use devenv_core::health_history::{self, HealthHistory, HealthRecord, Retention};
use devenv_core::ids;
use devenv_core::paths::Workspace;

use crate::probe::{Component, Outcome, Plan, State, Target};

/// Names what ran the checks when the caller does not (`make status` sets "make status").
pub const TRIGGERED_BY_ENV: &str = "DEVENV_TRIGGERED_BY";
/// A caller's label is a name, not a document.
const MAX_TRIGGER_LEN: usize = 64;

/// Which dev-status command produced the results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Status,
    Wait,
    Watch,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Status => "status",
            Trigger::Wait => "wait",
            Trigger::Watch => "watch",
        }
    }
}

/// Appends one record per component that was checked (skipped ones were not) when the
/// workspace has a `.devenv/` (a probe run from elsewhere must not create one) and
/// `DEVENV_HEALTH_HISTORY` does not turn recording off.
pub fn record(
    ws: &Workspace,
    components: &[Component],
    outcomes: &[Outcome],
    checked_at: &str,
    trigger: Trigger,
) {
    if !health_history::enabled_from_env() || !ws.state_dir().is_dir() {
        return;
    }
    let retention = Retention::from_env().unwrap_or_else(|e| {
        tracing::warn!("{e}; keeping the default health history size");
        Retention::default()
    });
    let triggered_by = triggered_by(trigger);
    let records: Vec<HealthRecord> = outcomes
        .iter()
        .filter(|o| o.state != State::Skipped)
        .map(|o| HealthRecord {
            ts: checked_at.to_string(),
            service: o.component.clone(),
            status: o.state.as_str().to_string(),
            latency_ms: o.latency_ms,
            check_type: check_type(components, &o.component).to_string(),
            triggered_by: triggered_by.clone(),
            correlation_id: ids::correlation_id().to_string(),
            class: o.class.map(|c| c.as_str().to_string()),
            // The message of a healthy check is its detail, not an error.
            error: (o.state != State::Healthy).then(|| o.message.clone()),
        })
        .collect();
    if let Err(e) = HealthHistory::of_workspace(ws, retention).append(&records) {
        tracing::warn!("{e}; the check itself is unaffected");
    }
}

/// `DEVENV_TRIGGERED_BY` (one line, at most 64 characters) when set, else the command.
fn triggered_by(trigger: Trigger) -> String {
    std::env::var(TRIGGERED_BY_ENV)
        .ok()
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|v| !v.is_empty())
        .map_or_else(
            || trigger.as_str().to_string(),
            |v| v.chars().take(MAX_TRIGGER_LEN).collect(),
        )
}

/// `endpoint` for an HTTP check from the config, `protocol` for a service spoken to in its
/// own protocol, `config` when its configuration kept it from being checked.
fn check_type(components: &[Component], name: &str) -> &'static str {
    match components.iter().find(|c| c.name == name).map(|c| &c.plan) {
        Some(Plan::Probe(target)) if matches!(target.as_ref(), Target::Http(_)) => "endpoint",
        Some(Plan::Probe(_)) => "protocol",
        _ => "config",
    }
}
