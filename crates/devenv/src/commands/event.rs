//! `devenv event NAME key=value… [--source S]`: one redacted line in .devenv/events.jsonl.

use devenv_core::events::Event;
use devenv_core::exit;
use devenv_core::output::Failure;
use devenv_core::paths::Workspace;

pub fn run(ws: &Workspace, name: &str, fields: &[String], source: &str) -> Result<u8, Failure> {
    // Who ran the script: the user's login, as every lifecycle event carries it.
    let actor = std::env::var("USER").unwrap_or_default();
    let mut event = Event::new(source, name).field("actor", actor);
    for field in fields {
        let (key, value) = super::key_value(field, "key=value — write fields as key=value")?;
        event = event.field(key, scalar(value));
    }
    event.append_to(&ws.events_file());
    Ok(exit::OK)
}

/// A script's `key=value` as JSON: numbers as numbers and true/false as booleans (bash has only
/// strings), everything else a string.
pub fn scalar(value: &str) -> serde_json::Value {
    if let Ok(n) = value.parse::<i64>() {
        return n.into();
    }
    if let Ok(x) = value.parse::<f64>()
        && x.is_finite()
        && value.contains('.')
    {
        return x.into();
    }
    match value {
        "true" => true.into(),
        "false" => false.into(),
        _ => value.into(),
    }
}
