//! Scenario files: rules matched in order against the model and the last user message (or
//! prompt); the first match answers with text, a tool call (or several in one turn), an error
//! or a delay. A rule with a
//! `sequence` answers its n-th match with the n-th entry (the last entry repeats).
//!
//! ```yaml
//! rules:
//!   - match: { message: "(?i)weather" }
//!     respond: { tool_call: { name: get_weather, arguments: { city: Paris } } }
//!   - match: { message: "(?i)compare" }
//!     respond:
//!       tool_calls:
//!         - { name: get_weather, arguments: { city: Paris } }
//!         - { name: get_weather, arguments: { city: Rome } }
//!   - match: { model: "^slow-" }
//!     respond: { text: "finally", delay_ms: 2000 }
//!   - match: { message: "flaky" }
//!     sequence:
//!       - error: { status: 503 }
//!       - text: "worked the second time"
//! ```

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use regex::Regex;
use serde::Deserialize;

use crate::config::ConfigError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    rules: Vec<RuleDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDoc {
    #[serde(rename = "match", default)]
    matcher: MatchDoc,
    #[serde(default)]
    respond: Option<Action>,
    #[serde(default)]
    sequence: Vec<Action>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchDoc {
    model: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub text: Option<String>,
    pub tool_call: Option<ToolCallAction>,
    /// Several calls in one turn, in order.
    pub tool_calls: Option<Vec<ToolCallAction>>,
    pub error: Option<ErrorAction>,
    pub delay_ms: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCallAction {
    pub name: String,
    #[serde(default)]
    pub arguments: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorAction {
    pub status: u16,
    pub message: Option<String>,
}

#[derive(Debug)]
struct Rule {
    model: Option<Regex>,
    message: Option<Regex>,
    actions: Vec<Action>,
    hits: AtomicUsize,
}

#[derive(Debug, Default)]
pub struct Scenario {
    rules: Vec<Rule>,
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ScenarioRead {
            path: path.to_owned(),
            source,
        })?;
        let doc: FileDoc =
            serde_norway::from_str(&text).map_err(|source| ConfigError::ScenarioParse {
                path: path.to_owned(),
                source,
            })?;
        let rule_err = |rule: usize, message: String| ConfigError::ScenarioRule {
            path: path.to_owned(),
            rule,
            message,
        };
        let mut rules = Vec::new();
        for (i, r) in doc.rules.into_iter().enumerate() {
            let compile = |p: &Option<String>| -> Result<Option<Regex>, ConfigError> {
                p.as_deref()
                    .map(Regex::new)
                    .transpose()
                    .map_err(|e| rule_err(i, format!("bad regex: {e}")))
            };
            let mut actions = r.sequence;
            if let Some(a) = r.respond {
                if !actions.is_empty() {
                    return Err(rule_err(
                        i,
                        "use either `respond` or `sequence`, not both".into(),
                    ));
                }
                actions.push(a);
            }
            if actions.is_empty() {
                return Err(rule_err(
                    i,
                    "a rule needs `respond` or a non-empty `sequence`".into(),
                ));
            }
            for a in &actions {
                let kinds = [
                    a.text.is_some(),
                    a.tool_call.is_some(),
                    a.tool_calls.is_some(),
                    a.error.is_some(),
                ];
                if kinds.iter().filter(|k| **k).count() > 1 {
                    return Err(rule_err(
                        i,
                        "an answer is one of text, tool_call, tool_calls or error".into(),
                    ));
                }
                if a.tool_calls.as_ref().is_some_and(Vec::is_empty) {
                    return Err(rule_err(i, "`tool_calls` needs at least one call".into()));
                }
                if let Some(e) = &a.error
                    && !(400..=599).contains(&e.status)
                {
                    return Err(rule_err(
                        i,
                        format!("error status {} is not 4xx/5xx", e.status),
                    ));
                }
            }
            rules.push(Rule {
                model: compile(&r.matcher.model)?,
                message: compile(&r.matcher.message)?,
                actions,
                hits: AtomicUsize::new(0),
            });
        }
        Ok(Self { rules })
    }

    /// The answer of the first matching rule, advancing its sequence.
    pub fn answer(&self, model: &str, message: &str) -> Option<Action> {
        let rule = self.rules.iter().find(|r| {
            r.model.as_ref().is_none_or(|re| re.is_match(model))
                && r.message.as_ref().is_none_or(|re| re.is_match(message))
        })?;
        let n = rule.hits.fetch_add(1, Ordering::Relaxed);
        Some(rule.actions[n.min(rule.actions.len() - 1)].clone())
    }
}
