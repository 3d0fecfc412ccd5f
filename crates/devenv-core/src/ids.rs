//! Correlation ids: one per run, inherited from `DEVENV_CORRELATION_ID` so that a script and
//! every binary it calls share one id in `.devenv/events.jsonl`.

use std::sync::OnceLock;

pub const CORRELATION_ENV: &str = "DEVENV_CORRELATION_ID";

/// This process's correlation id: the inherited one, else a new UUIDv7 (time-ordered).
pub fn correlation_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        std::env::var(CORRELATION_ENV)
            .ok()
            .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
            .unwrap_or_else(new_id)
    })
}

/// A fresh id (UUIDv7).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Current UTC time, RFC 3339 with milliseconds.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
