//! The observability stream `.devenv/events.jsonl`: one JSON object per line, each with
//! `ts`, `correlation_id`, `source`, `event` and free fields. Values pass the redactor and
//! secret-looking keys are dropped before anything is written.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;

use serde_json::{Map, Value};

use crate::ids;
use crate::redact;

/// One event, built fluently: `Event::new("secrets-sync", "bundle_written").field("keys", 24)`.
#[derive(Debug, Clone)]
pub struct Event {
    source: String,
    event: String,
    fields: Map<String, Value>,
}

impl Event {
    pub fn new(source: &str, event: &str) -> Self {
        Self {
            source: source.to_string(),
            event: event.to_string(),
            fields: Map::new(),
        }
    }

    pub fn field(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(key.to_string(), value.into());
        self
    }

    /// The JSON line, redacted: fixed keys first, then fields. Fields named like secrets are
    /// dropped entirely (their presence could already be a hint).
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("ts".into(), ids::now_rfc3339().into());
        obj.insert("correlation_id".into(), ids::correlation_id().into());
        obj.insert("source".into(), self.source.clone().into());
        obj.insert("event".into(), self.event.clone().into());
        for (k, v) in &self.fields {
            if redact::is_secret_key(k)
                || matches!(k.as_str(), "ts" | "correlation_id" | "source" | "event")
            {
                continue;
            }
            obj.insert(k.clone(), v.clone());
        }
        let mut value = Value::Object(obj);
        redact::redact_json(&mut value);
        value
    }

    /// Appends the event to `path` with one `write` on an O_APPEND descriptor, so concurrent
    /// writers never interleave within a line. Failures are logged, never fatal: the stream
    /// is observability, not state.
    pub fn append_to(&self, path: &Path) {
        let mut line = self.to_json().to_string();
        line.push('\n');
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let result = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(line.as_bytes()));
        if let Err(e) = result {
            tracing::warn!("cannot append to {}: {e}", path.display());
        }
    }
}

/// Reads every event of a stream (for tests and reports). Malformed lines are skipped.
pub fn read_all(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_contract_fields_and_no_secrets() {
        crate::redact::register("TopSecretValue123");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        Event::new("test", "thing_happened")
            .field("url", "redis://:TopSecretValue123@h:1")
            .field("note", "value TopSecretValue123 here")
            .field("REDIS_PASSWORD", "TopSecretValue123")
            .field("count", 3)
            .append_to(&path);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("TopSecretValue123"), "{text}");
        let events = read_all(&path);
        assert_eq!(events.len(), 1);
        let e = &events[0];
        for key in ["ts", "correlation_id", "source", "event"] {
            assert!(e.get(key).is_some(), "{key} missing");
        }
        assert_eq!(e["count"], 3);
        assert!(e.get("REDIS_PASSWORD").is_none());
    }
}
