//! Helpers shared by the test targets: run the real binary, read its JSON report, check a
//! document against the committed JSON Schema. Each target uses a part of them.
#![allow(dead_code)]

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn repo_root() -> PathBuf {
    crate_dir().join("../..").canonicalize().unwrap()
}

/// A fixture under tests/fixtures; it must exist (a test never passes on a missing input).
pub fn fixture(name: &str) -> PathBuf {
    let path = crate_dir().join("tests/fixtures").join(name);
    assert!(path.exists(), "fixture {} is missing", path.display());
    path
}

pub fn cmd() -> Command {
    let mut c = Command::cargo_bin("config-diff").unwrap();
    c.env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env("DEVENV_ROOT", repo_root());
    c
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts that stderr holds every part.
    pub fn stderr_has(&self, parts: &[&str]) {
        for part in parts {
            assert!(
                self.stderr.contains(part),
                "no {part:?} in:\n{}",
                self.stderr
            );
        }
    }

    /// Asserts that none of `secrets` appears on stdout or stderr.
    pub fn assert_no_secret(&self, secrets: &[&str]) {
        for s in secrets {
            assert!(
                !self.stdout.contains(s) && !self.stderr.contains(s),
                "{s} leaked:\n{}\n{}",
                self.stdout,
                self.stderr
            );
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

pub fn run(c: &mut Command) -> Run {
    let out = c.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The binary run from tests/fixtures, where the fixtures name each other relatively.
pub fn in_fixtures() -> Command {
    let mut c = cmd();
    c.current_dir(fixture(""));
    c
}

/// Asserts text fields of a difference: `fields(d, [("severity", "major"), ("rule_id", …)])`.
pub fn fields<const N: usize>(d: &Value, expected: [(&str, &str); N]) {
    for (key, value) in expected {
        assert_eq!(d[key].as_str(), Some(value), "{key} of {d}");
    }
}

pub fn service<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["service_diffs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == name)
        .unwrap_or_else(|| panic!("no service {name} in the report"))
}

pub fn difference<'a>(report: &'a Value, svc: &str, field: &str) -> &'a Value {
    service(report, svc)["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["field_path"] == field)
        .unwrap_or_else(|| panic!("no difference {svc}/{field}: {}", service(report, svc)))
}

/// The severity a difference was graded with.
pub fn severity<'a>(report: &'a Value, svc: &str, field: &str) -> &'a str {
    difference(report, svc, field)["severity"]
        .as_str()
        .unwrap_or_else(|| panic!("{svc}/{field} has no severity"))
}

pub fn has_difference(report: &Value, svc: &str, prefix: &str) -> bool {
    service(report, svc)["differences"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["field_path"].as_str().unwrap().starts_with(prefix))
}

/// The committed JSON Schema of the report.
pub fn report_schema() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(crate_dir().join("schema/report.schema.json")).unwrap(),
    )
    .unwrap()
}

/// Where `doc` breaks the report schema (empty: it conforms).
pub fn schema_errors(doc: &Value) -> Vec<String> {
    let schema = report_schema();
    let mut errors = Vec::new();
    check(&schema, &schema, doc, "$", &mut errors);
    errors
}

/// A small validator for the keywords the schema uses: type, enum, required, properties,
/// additionalProperties, items, $ref, minimum, minLength.
pub fn check(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let target = r
            .trim_start_matches("#/")
            .split('/')
            .fold(root, |s, k| &s[k]);
        return check(root, target, v, at, errors);
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_u64() || v.is_i64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => false,
        });
        if !ok {
            errors.push(format!("{at}: {v} is not {types:?}"));
            return;
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        errors.push(format!("{at}: {v} not in {e:?}"));
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64())
        && n < min
    {
        errors.push(format!("{at}: {n} < {min}"));
    }
    if let (Some(min), Some(s)) = (schema.get("minLength").and_then(Value::as_u64), v.as_str())
        && (s.len() as u64) < min
    {
        errors.push(format!("{at}: too short"));
    }
    if let Some(obj) = v.as_object() {
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !obj.contains_key(req.as_str().unwrap()) {
                errors.push(format!("{at}: missing {req}"));
            }
        }
        let props = schema.get("properties").and_then(Value::as_object);
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => check(root, s, val, &format!("{at}.{k}"), errors),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => errors.push(format!("{at}: unexpected {k}")),
                    Some(s @ Value::Object(_)) => check(root, s, val, &format!("{at}.{k}"), errors),
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            check(root, items, item, &format!("{at}[{i}]"), errors);
        }
    }
}

/// The binary run from tests/fixtures/upgrade, where the fixtures name each other relatively.
pub fn in_upgrade() -> Command {
    let mut c = cmd();
    c.current_dir(fixture("upgrade"));
    c
}

/// 2023 (platform.env) → 2025 (platform.env + platform.v2.env).
pub const UPGRADE: &str = "-f platform.v1.yaml --env-file platform.env -F platform.v2.yaml --target-env-file platform.env --target-env-file platform.v2.env";

/// `a → b` and `b → a` see the same services missing, on opposite sides.
pub fn assert_mirrored(ab: &Value, ba: &Value) {
    for (x, y) in [("source", "target"), ("target", "source")] {
        assert_eq!(
            ab["summary"][format!("services_missing_in_{x}")],
            ba["summary"][format!("services_missing_in_{y}")]
        );
    }
}

/// A file with `text` in a fresh temporary directory (removed when the guard drops).
pub fn scratch(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}
