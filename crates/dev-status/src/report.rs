//! The status document (JSON) and the table (human), and what they mean for the exit code.

use devenv_core::exit;
use devenv_core::output::{Style, pad};
use serde::Serialize;

use crate::probe::{Outcome, State};

/// The state of the whole stack: the worst of its components (skipped ones do not count).
pub fn overall(outcomes: &[Outcome]) -> State {
    if outcomes.iter().any(|o| o.state == State::Unhealthy) {
        State::Unhealthy
    } else if outcomes.iter().any(|o| o.state == State::Degraded) {
        State::Degraded
    } else {
        State::Healthy
    }
}

/// 0 healthy (degraded too unless `strict`), 1 anything unhealthy.
pub fn exit_code(outcomes: &[Outcome], strict: bool) -> u8 {
    match overall(outcomes) {
        State::Unhealthy => exit::FAILED,
        State::Degraded if strict => exit::FAILED,
        _ => exit::OK,
    }
}

/// The `status` document's body (devenv-core adds `schema_version`, `kind`, `correlation_id`).
#[derive(Debug, Serialize)]
pub struct StatusReport<'a> {
    pub checked_at: String,
    pub overall: State,
    pub duration_ms: u64,
    pub env_file: &'a str,
    pub components: &'a [Outcome],
    /// Present only with `--wait`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait: Option<WaitReport>,
}

impl<'a> StatusReport<'a> {
    pub fn new(
        outcomes: &'a [Outcome],
        checked_at: String,
        duration_ms: u64,
        env_file: &'a str,
    ) -> Self {
        Self {
            checked_at,
            overall: overall(outcomes),
            duration_ms,
            env_file,
            components: outcomes,
            wait: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct WaitReport {
    pub timeout_s: f64,
    pub ready: bool,
    pub never_ready: Vec<String>,
}

/// The table: one row per component, then the overall line.
pub fn table(outcomes: &[Outcome], duration_ms: u64, style: Style) -> Vec<String> {
    let name_width = outcomes
        .iter()
        .map(|o| o.component.len())
        .max()
        .unwrap_or(9)
        .max(9)
        + 2;
    let mut lines = vec![style.bold(&format!(
        "{}{}{}{}",
        pad("COMPONENT", name_width),
        pad("STATE", 11),
        pad("LATENCY", 10),
        "DETAIL"
    ))];
    for o in outcomes {
        let state = paint(style, o.state, o.state.as_str());
        let latency = o
            .latency_ms
            .map_or("-".to_string(), |ms| format!("{ms} ms"));
        let detail = match (o.class, &o.endpoint) {
            (Some(class), _) => format!("{}: {}", class.as_str(), o.message),
            (None, Some(endpoint)) if o.state != State::Skipped => {
                format!("{endpoint} — {}", o.message)
            }
            _ => o.message.clone(),
        };
        let detail = if o.state == State::Skipped {
            style.dim(&detail)
        } else {
            detail
        };
        lines.push(format!(
            "{}{}{}{}",
            pad(&o.component, name_width),
            pad(&state, 11),
            pad(&latency, 10),
            detail
        ));
    }
    let state = overall(outcomes);
    let counted: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.state != State::Skipped)
        .collect();
    let bad = counted
        .iter()
        .filter(|o| o.state == State::Unhealthy)
        .count();
    let slow = counted
        .iter()
        .filter(|o| o.state == State::Degraded)
        .count();
    let summary = match state {
        State::Unhealthy => format!("{bad} of {} unhealthy", counted.len()),
        State::Degraded => format!("{slow} of {} degraded", counted.len()),
        _ => format!("{} of {} healthy", counted.len(), counted.len()),
    };
    lines.push(format!(
        "overall: {} ({summary}) in {duration_ms} ms",
        paint(style, state, state.as_str())
    ));
    lines
}

fn paint(style: Style, state: State, text: &str) -> String {
    match state {
        State::Healthy => style.green(text),
        State::Degraded => style.yellow(text),
        State::Unhealthy => style.red(text),
        State::Skipped => style.dim(text),
    }
}
