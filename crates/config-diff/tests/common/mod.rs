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
    let mut c = Command::from_std(devenv_testkit::cmd::command("config-diff"));
    c.env("DEVENV_ROOT", repo_root());
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

/// Where `doc` breaks the committed report schema (empty: it conforms), judged by the one
/// JSON-Schema validator of the workspace's tests (devenv_testkit::schema).
pub fn schema_errors(doc: &Value) -> Vec<String> {
    devenv_testkit::schema::errors(&crate_dir().join("schema/report.schema.json"), doc)
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
