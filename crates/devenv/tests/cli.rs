//! The state machine and event stream as the scripts drive them.

use assert_cmd::Command;

fn devenv(root: &std::path::Path) -> Command {
    let mut cmd = Command::cargo_bin("devenv").unwrap();
    cmd.env("DEVENV_ROOT", root)
        .env("DEVENV_CORRELATION_ID", "test-corr-1");
    cmd
}

#[test]
fn stages_move_legally_and_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let out = devenv(dir.path())
        .arg("state")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(String::from_utf8_lossy(&out).trim(), "uninitialized");
    devenv(dir.path())
        .args(["state", "set", "provisioning", "--reason", "make up"])
        .assert()
        .success();
    devenv(dir.path())
        .args(["state", "set", "ready"])
        .assert()
        .success();
    // ready → uninitialized is a reset; uninitialized → ready skips provisioning: refused.
    devenv(dir.path())
        .args(["state", "set", "uninitialized"])
        .assert()
        .success();
    let err = devenv(dir.path())
        .args(["state", "set", "ready"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&err).contains("uninitialized → ready"));
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".devenv/state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["stage"], "uninitialized");
    assert_eq!(state["transitions"].as_array().unwrap().len(), 3);
    assert_eq!(state["transitions"][0]["correlation_id"], "test-corr-1");
    let events = std::fs::read_to_string(dir.path().join(".devenv/events.jsonl")).unwrap();
    assert_eq!(events.lines().count(), 3);
}

#[test]
fn events_are_redacted_and_fields_validated() {
    let dir = tempfile::tempdir().unwrap();
    devenv(dir.path())
        .args([
            "event",
            "up_finished",
            "url=redis://:hunter2hunter2@h:1/0",
            "REDIS_PASSWORD=x",
            "n=1",
        ])
        .assert()
        .success();
    let events = std::fs::read_to_string(dir.path().join(".devenv/events.jsonl")).unwrap();
    assert!(!events.contains("hunter2hunter2"), "{events}");
    assert!(!events.contains("REDIS_PASSWORD"), "{events}");
    assert!(events.contains("\"correlation_id\":\"test-corr-1\""));
    devenv(dir.path())
        .args(["event", "x", "novalue"])
        .assert()
        .code(2);
}
