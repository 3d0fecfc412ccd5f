//! The nine-stage workflow state machine through the real binary: every legal move, every
//! illegal one refused with exit 2, what each transition records, test runs, the timeline and
//! a state file of the five-stage model.

use std::path::Path;

use devenv_core::state::{Stage, WorkflowState};
use devenv_testkit::cmd::Cmd;
use devenv_testkit::{Run, scratch};
use serde_json::Value;

fn devenv(root: &Path) -> Cmd {
    Cmd::bin("devenv")
        .workspace(root)
        .env("DEVENV_CORRELATION_ID", "test-corr-19")
}

fn schema() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/state.schema.json")
}

/// The state document, checked against the committed schema.
fn state_json(root: &Path) -> Value {
    let doc = devenv(root)
        .args(["state", "--json"])
        .run()
        .success()
        .json();
    devenv_testkit::schema::assert_valid(&schema(), &doc);
    doc
}

/// A state file at `stage`, entered `minutes_ago`.
fn write_state(root: &Path, stage: Stage, minutes_ago: i64) {
    let mut state = WorkflowState::initial();
    state.stage = stage;
    state.last_transition = (chrono::Utc::now() - chrono::Duration::minutes(minutes_ago))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    std::fs::create_dir_all(root.join(".devenv")).unwrap();
    state.save(&root.join(".devenv/state.json")).unwrap();
}

fn set(root: &Path, stage: &str) -> Run {
    devenv(root).args(["state", "set", stage]).run()
}

/// Seed 001's machine plus the moves `make up` / `make stop` / `make reset` make, written out
/// here independently of devenv-core's `can_go_to`.
fn legal(from: &str, to: &str) -> bool {
    let moves: &[(&str, &[&str])] = &[
        ("uninitialized", &["provisioning", "failed"]),
        ("provisioning", &["ready", "stopped", "failed"]),
        (
            "ready",
            &[
                "active_development",
                "testing",
                "paused",
                "provisioning",
                "stopped",
                "failed",
            ],
        ),
        (
            "active_development",
            &[
                "ready",
                "testing",
                "paused",
                "provisioning",
                "stopped",
                "failed",
            ],
        ),
        (
            "testing",
            &[
                "active_development",
                "debugging",
                "paused",
                "provisioning",
                "stopped",
                "failed",
            ],
        ),
        (
            "debugging",
            &[
                "testing",
                "active_development",
                "paused",
                "provisioning",
                "stopped",
                "failed",
            ],
        ),
        ("paused", &["ready", "stopped", "failed"]),
        ("stopped", &["ready", "provisioning", "failed"]),
        ("failed", &["provisioning", "stopped"]),
    ];
    from == to
        || to == "uninitialized"
        || moves.iter().any(|(f, tos)| *f == from && tos.contains(&to))
}

#[test]
fn every_legal_transition_is_taken_and_every_other_refused_with_exit_2() {
    let ws = scratch::workspace();
    for from in Stage::ALL {
        for to in Stage::ALL {
            write_state(ws.path(), from, 0);
            let run = set(ws.path(), to.as_str());
            let stage = devenv(ws.path()).arg("state").run().stdout;
            if legal(from.as_str(), to.as_str()) {
                run.success();
                assert_eq!(stage.trim(), to.as_str(), "{from} → {to}");
            } else {
                run.code(2);
                assert!(
                    run.stderr
                        .contains(&format!("illegal workflow transition {from} → {to}")),
                    "{from} → {to}: {}",
                    run.stderr
                );
                assert_eq!(
                    stage.trim(),
                    from.as_str(),
                    "a refused move changes nothing"
                );
            }
        }
    }
}

#[test]
fn a_refused_move_out_of_paused_names_make_resume() {
    let ws = scratch::workspace();
    write_state(ws.path(), Stage::Paused, 0);
    let run = set(ws.path(), "testing");
    run.code(2);
    assert!(run.stderr.contains("make resume"), "{}", run.stderr);
}

#[test]
fn each_transition_records_trigger_command_and_minutes_in_the_previous_stage() {
    let ws = scratch::workspace();
    write_state(ws.path(), Stage::Ready, 90);
    devenv(ws.path())
        .args([
            "state",
            "set",
            "active_development",
            "--task",
            "ABC-123 fix the login",
        ])
        .run()
        .success();
    devenv(ws.path())
        .env("DEVENV_COMMAND", "make pause")
        .args(["state", "set", "paused", "--reason", "lunch"])
        .run()
        .success();
    devenv(ws.path())
        .args(["state", "set", "ready", "--trigger", "scheduled"])
        .run()
        .success();
    set(ws.path(), "failed").success();
    // The lifecycle lock hands its label to what it runs: `make up` is the command.
    devenv(ws.path())
        .args(["lock", "--label", "make up", "--"])
        .arg(devenv_testkit::cmd::bin_path("devenv"))
        .args(["state", "set", "provisioning"])
        .run()
        .success();

    let doc = state_json(ws.path());
    let t = doc["transitions"].as_array().unwrap();
    assert_eq!(t.len(), 5, "{doc}");
    assert_eq!(t[0]["from"], "ready");
    assert_eq!(t[0]["to"], "active_development");
    assert_eq!(t[0]["trigger"], "manual");
    assert_eq!(t[0]["command"], "devenv state set active_development");
    assert_eq!(t[0]["duration_in_previous_stage_minutes"], 90);
    assert_eq!(t[1]["command"], "make pause");
    assert_eq!(t[1]["reason"], "lunch");
    assert_eq!(t[1]["duration_in_previous_stage_minutes"], 0);
    assert_eq!(t[2]["trigger"], "scheduled");
    assert_eq!(t[3]["trigger"], "failure", "entering failed is a failure");
    assert_eq!(t[4]["command"], "make up");
    assert_eq!(t[4]["correlation_id"], "test-corr-19");
    assert_eq!(doc["stage"], "provisioning");
    assert_eq!(
        doc["metadata"]["total_restarts"], 1,
        "failed → provisioning restarts"
    );
    assert_eq!(doc["active_task"]["jira_ticket"], "ABC-123");
    assert_eq!(doc["active_task"]["description"], "fix the login");

    let events = std::fs::read_to_string(ws.path().join(".devenv/events.jsonl")).unwrap();
    let first: Value = serde_json::from_str(events.lines().next().unwrap()).unwrap();
    assert_eq!(first["event"], "stage_changed");
    assert_eq!(first["trigger"], "manual");
    assert_eq!(first["duration_in_previous_stage_minutes"], 90);

    // --task belongs to active_development only.
    let run = devenv(ws.path())
        .args(["state", "set", "ready", "--task", "X-1"])
        .run();
    run.code(2);
    assert!(run.stderr.contains("active_development"), "{}", run.stderr);
}

#[test]
fn the_timeline_shows_on_request_and_the_stage_alone_through_a_pipe() {
    let ws = scratch::workspace();
    set(ws.path(), "provisioning").success();
    devenv(ws.path())
        .env("DEVENV_COMMAND", "make up")
        .args(["state", "set", "ready", "--reason", "all services healthy"])
        .run()
        .success();
    let piped = devenv(ws.path()).arg("state").run();
    assert_eq!(piped.success().stdout, "ready\n");
    let human = devenv(ws.path()).args(["state", "--human"]).run();
    let text = &human.success().stdout;
    assert!(text.starts_with("stage ready for 0 min"), "{text}");
    assert!(text.contains("last passed test run never"), "{text}");
    assert!(text.contains("uninitialized → provisioning"), "{text}");
    assert!(
        text.contains("provisioning → ready") && text.contains("automatic"),
        "{text}"
    );
    assert!(text.contains("make up — all services healthy"), "{text}");
}

#[test]
fn test_runs_move_testing_then_active_development_or_debugging() {
    let ws = scratch::workspace();
    let started = |ws: &Path| {
        devenv(ws)
            .args(["state", "test-started", "--command", "make test"])
            .run()
            .success()
            .stdout
            .trim()
            .to_string()
    };
    let finished = |ws: &Path, result: &str| {
        devenv(ws)
            .args([
                "state",
                "test-finished",
                "--result",
                result,
                "--command",
                "make test",
            ])
            .run()
            .success()
            .stdout
            .trim()
            .to_string()
    };
    // A fresh clone: no state file, nothing changes and none is written.
    assert_eq!(started(ws.path()), "uninitialized");
    assert_eq!(finished(ws.path(), "failed"), "uninitialized");
    assert!(!ws.path().join(".devenv/state.json").exists());

    write_state(ws.path(), Stage::Ready, 0);
    assert_eq!(started(ws.path()), "testing");
    assert_eq!(finished(ws.path(), "failed"), "debugging");
    assert_eq!(
        state_json(ws.path())["metadata"]["last_successful_test_run"],
        Value::Null
    );
    assert_eq!(started(ws.path()), "testing");
    assert_eq!(finished(ws.path(), "passed"), "active_development");
    let doc = state_json(ws.path());
    assert!(
        doc["metadata"]["last_successful_test_run"].is_string(),
        "{doc}"
    );
    let t = doc["transitions"].as_array().unwrap();
    let last = &t[t.len() - 1];
    assert_eq!(last["trigger"], "automatic");
    assert_eq!(last["command"], "make test");
    assert_eq!(t[1]["trigger"], "failure", "testing → debugging: {doc}");

    // A paused (or stopped) stack is left alone.
    write_state(ws.path(), Stage::Paused, 0);
    assert_eq!(started(ws.path()), "paused");
    assert_eq!(finished(ws.path(), "passed"), "paused");
}

#[test]
fn a_state_file_of_the_five_stage_model_loads_and_moves_on() {
    let ws = scratch::workspace();
    std::fs::create_dir_all(ws.path().join(".devenv")).unwrap();
    let old = r#"{
  "schema_version": 1,
  "stage": "stopped",
  "updated_at": "2025-05-01T10:30:00.000Z",
  "transitions": [
    {"from": "uninitialized", "to": "provisioning", "at": "2025-05-01T09:00:00.000Z",
     "correlation_id": "c1", "reason": "make up (native)"},
    {"from": "provisioning", "to": "ready", "at": "2025-05-01T09:02:00.000Z",
     "correlation_id": "c1"},
    {"from": "ready", "to": "stopped", "at": "2025-05-01T10:30:00.000Z",
     "correlation_id": "c2", "reason": "make stop"}
  ]
}
"#;
    std::fs::write(ws.path().join(".devenv/state.json"), old).unwrap();
    let doc = state_json(ws.path());
    assert_eq!(doc["stage"], "stopped");
    assert_eq!(doc["last_transition"], "2025-05-01T10:30:00.000Z");
    let t = doc["transitions"].as_array().unwrap();
    assert_eq!(t[0]["trigger"], "manual");
    assert_eq!(t[0]["duration_in_previous_stage_minutes"], Value::Null);
    assert_eq!(t[1]["trigger"], "automatic");
    assert_eq!(t[1]["duration_in_previous_stage_minutes"], 2);
    assert_eq!(t[2]["duration_in_previous_stage_minutes"], 88);
    assert_eq!(t[2]["reason"], "make stop");

    set(ws.path(), "ready").success();
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path().join(".devenv/state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(saved["schema_version"], 2);
    assert_eq!(saved["stage"], "ready");
    assert_eq!(saved["metadata"]["total_restarts"], 1);
    assert_eq!(saved["transitions"].as_array().unwrap().len(), 4);
    assert!(saved["transitions"][3]["duration_in_previous_stage_minutes"].as_u64() > Some(60));
}
