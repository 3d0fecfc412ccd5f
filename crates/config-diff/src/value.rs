//! Scalar helpers shared by loading and normalising: the leaf of the module graph
//! (load → model → value), so neither needs the other for them.

use serde_json::Value;

/// Text of a YAML scalar (string, number, bool); `None` for anything else.
pub fn scalar_text(v: &serde_norway::Value) -> Option<String> {
    match v {
        serde_norway::Value::String(s) => Some(s.clone()),
        serde_norway::Value::Number(n) => Some(n.to_string()),
        serde_norway::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Text of a scalar; `None` for null (a pass-through variable).
pub fn json_scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A list of scalars, or one string as a one-item list (`profiles: dev`).
pub fn string_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(json_scalar_text).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}
