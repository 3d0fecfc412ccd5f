//! `devenv json key=text key:=json key[]=text…`: one JSON object, so scripts never hand-build JSON.

use devenv_core::exit;
use devenv_core::output::{self, Failure};

pub fn run(fields: &[String]) -> Result<u8, Failure> {
    let object = json_object(fields)?;
    output::println_redacted(&serde_json::Value::Object(object).to_string());
    Ok(exit::OK)
}

/// The object `devenv json` prints (see its help for the field forms).
fn json_object(fields: &[String]) -> Result<serde_json::Map<String, serde_json::Value>, Failure> {
    use serde_json::Value;
    let mut object = serde_json::Map::new();
    for field in fields {
        let (key, value) = super::key_value(field, "key=text, key:=json or key[]=text")?;
        if let Some(key) = key.strip_suffix("[]") {
            let slot = object
                .entry(key.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(items) = slot else {
                return Err(Failure::new(
                    exit::USAGE,
                    format!("`{key}` is given both as a value and as an array"),
                ));
            };
            items.push(value.into());
        } else if let Some(key) = key.strip_suffix(':') {
            let parsed: Value = serde_json::from_str(value).map_err(|e| {
                Failure::new(
                    exit::USAGE,
                    format!("`{key}:=` needs a JSON value ({e}) — use `{key}=` for text"),
                )
            })?;
            object.insert(key.to_string(), parsed);
        } else {
            object.insert(key.to_string(), value.into());
        }
    }
    Ok(object)
}
