//! `devenv pipeline run|list|show` through the real binary in scratch workspaces: passing,
//! failing (the rest skipped), retried, timed-out and dependency-blocked stages, artifacts,
//! pruning, a bad pipeline file, the run record against its schema and the workflow stage.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use devenv_core::state::{Stage, WorkflowState};
use devenv_testkit::cmd::Cmd;
use devenv_testkit::{Run, scratch};
use serde_json::Value;

fn devenv(root: &Path) -> Cmd {
    Cmd::bin("devenv")
        .workspace(root)
        .env("DEVENV_CORRELATION_ID", "test-pipeline")
}

fn schema(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("schema/{name}.schema.json"))
}

/// Writes `pipeline.yaml` into the workspace and runs it.
fn run_pipeline(root: &Path, yaml: &str) -> Run {
    std::fs::write(root.join("pipeline.yaml"), yaml).unwrap();
    devenv(root)
        .args(["pipeline", "run", "--config", "pipeline.yaml"])
        .run()
}

/// The newest run's record, checked against the committed schema.
fn latest(root: &Path) -> Value {
    let doc = devenv(root)
        .args(["pipeline", "show", "latest", "--json"])
        .run()
        .success()
        .json();
    devenv_testkit::schema::assert_valid(&schema("pipeline-run"), &doc);
    doc
}

fn at_stage(root: &Path, stage: Stage) {
    let mut state = WorkflowState::initial();
    state.stage = stage;
    std::fs::create_dir_all(root.join(".devenv")).unwrap();
    state.save(&root.join(".devenv/state.json")).unwrap();
}

fn stage_of(root: &Path) -> Value {
    devenv(root)
        .args(["state", "--json"])
        .run()
        .success()
        .json()
}

fn read(root: &Path, relative: &Value) -> String {
    std::fs::read_to_string(root.join(relative.as_str().unwrap())).unwrap()
}

fn git(root: &Path, args: &[&str]) {
    let mut cmd = std::process::Command::new("git");
    cmd.args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
        .args(args)
        .current_dir(root);
    devenv_testkit::cmd::output_ok(&mut cmd, "git");
}

#[test]
fn a_passing_run_is_recorded_with_its_logs_and_git_context_and_ends_in_active_development() {
    let ws = scratch::workspace();
    git(ws.path(), &["init", "-q", "-b", "feature-x"]);
    git(ws.path(), &["add", "."]);
    git(ws.path(), &["commit", "-q", "-m", "add the ports"]);
    at_stage(ws.path(), Stage::Ready);
    let run = run_pipeline(
        ws.path(),
        "stages:\n  - name: hello\n    command: echo to-stdout; echo to-stderr >&2\n",
    );
    run.success();
    assert!(run.stdout.contains("✓ hello"), "{}", run.stdout);
    let doc = latest(ws.path());
    assert_eq!(doc["status"], "passed");
    assert_eq!(doc["exit_code"], 0);
    assert_eq!(doc["trigger"], "manual");
    assert_eq!(doc["git_context"]["branch"], "feature-x");
    assert_eq!(doc["git_context"]["commit_message"], "add the ports");
    let stage = &doc["stages"][0];
    assert_eq!(stage["status"], "passed");
    assert_eq!(stage["exit_code"], 0);
    assert_eq!(stage["order"], 1);
    assert!(read(ws.path(), &stage["logs"]["stdout"]).contains("to-stdout"));
    assert!(read(ws.path(), &stage["logs"]["stderr"]).contains("to-stderr"));
    let id = doc["id"].as_str().unwrap();
    assert!(
        ws.path()
            .join(format!(".devenv/pipelines/{id}.json"))
            .is_file()
    );

    let state = stage_of(ws.path());
    assert_eq!(state["stage"], "active_development");
    assert!(state["metadata"]["last_successful_test_run"].is_string());
    let t = state["transitions"].as_array().unwrap();
    assert_eq!(t[0]["to"], "testing");
    assert_eq!(t[0]["command"], "devenv pipeline run");
    assert_eq!(t[1]["trigger"], "automatic");

    let list = devenv(ws.path())
        .args(["pipeline", "list", "--json"])
        .run()
        .success()
        .json();
    devenv_testkit::schema::assert_valid(&schema("pipeline-runs"), &list);
    assert_eq!(list["runs"][0]["id"], id);
    let human = devenv(ws.path()).args(["pipeline", "show", id]).run();
    assert!(
        human.success().stdout.contains("1. hello passed"),
        "{}",
        human.stdout
    );
}

#[test]
fn a_failing_stage_fails_the_run_skips_the_rest_and_moves_to_debugging() {
    let ws = scratch::workspace();
    at_stage(ws.path(), Stage::ActiveDevelopment);
    let run = run_pipeline(
        ws.path(),
        "stages:\n  - name: first\n    command: 'true'\n  - name: broken\n    command: echo \
         boom >&2; exit 3\n  - name: later\n    command: touch later-ran\n",
    );
    run.code(1);
    assert!(
        run.stderr.contains("boom"),
        "the failure shows its log: {}",
        run.stderr
    );
    let doc = latest(ws.path());
    assert_eq!(doc["status"], "failed");
    assert_eq!(doc["exit_code"], 1);
    let statuses: Vec<&str> = doc["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["passed", "failed", "skipped"]);
    assert_eq!(doc["stages"][1]["exit_code"], 3);
    assert_eq!(doc["stages"][2]["exit_code"], Value::Null);
    assert!(!ws.path().join("later-ran").exists());
    assert_eq!(doc["summary"]["passed_stages"], 1);
    assert_eq!(doc["summary"]["failed_stages"], 1);
    assert_eq!(doc["summary"]["skipped_stages"], 1);
    let state = stage_of(ws.path());
    assert_eq!(state["stage"], "debugging");
    let t = state["transitions"].as_array().unwrap();
    assert_eq!(t[t.len() - 1]["trigger"], "failure");
}

#[test]
fn a_stage_retried_passes_the_second_time() {
    let ws = scratch::workspace();
    let run = run_pipeline(
        ws.path(),
        "stages:\n  - name: flaky\n    retries: 2\n    command: '[ -f seen ] || { touch seen; \
         exit 1; }'\n",
    );
    run.success();
    let doc = latest(ws.path());
    let stage = &doc["stages"][0];
    assert_eq!(stage["status"], "passed");
    assert_eq!(stage["metadata"]["retry_count"], 1);
    assert_eq!(stage["metadata"]["max_retries"], 2);
    assert!(read(ws.path(), &stage["logs"]["stdout"]).contains("attempt 2 of 3"));
    // Without a state file (a fresh clone) the workflow is left alone.
    assert!(!ws.path().join(".devenv/state.json").exists());
}

#[test]
fn a_stage_past_its_timeout_has_its_process_group_killed() {
    let ws = scratch::workspace();
    let started = Instant::now();
    let run = run_pipeline(
        ws.path(),
        "stages:\n  - name: slow\n    timeout: 1s\n    command: 'sleep 60 & echo $! > \
         child.pid; wait'\n",
    );
    run.code(1);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let doc = latest(ws.path());
    let stage = &doc["stages"][0];
    assert_eq!(stage["status"], "failed");
    assert_eq!(stage["timed_out"], true);
    assert_eq!(stage["exit_code"], Value::Null);
    assert!(
        stage["detail"]
            .as_str()
            .unwrap()
            .contains("timed out after 1s")
    );
    let pid = std::fs::read_to_string(ws.path().join("child.pid")).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()));
    // The grandchild is gone (or a zombie waiting to be reaped), not sleeping on.
    assert!(
        stat.as_ref()
            .map_or(true, |s| s.rsplit(") ").next().unwrap().starts_with('Z')),
        "the stage's grandchild survived: {stat:?}"
    );
}

#[test]
fn a_stage_whose_service_is_unhealthy_fails_before_it_runs() {
    devenv_testkit::cmd::bin_path("dev-status");
    let ws = scratch::workspace();
    let port = devenv_testkit::free_port();
    std::fs::write(
        ws.path().join(".env.local"),
        format!(
            "REDIS_HOST=127.0.0.1\nREDIS_PORT={port}\nREDIS_PASSWORD=pw-test-1\n\
             REDIS_URL=redis://:pw-test-1@127.0.0.1:{port}/0\n"
        ),
    )
    .unwrap();
    let run = run_pipeline(
        ws.path(),
        "stages:\n  - name: integration\n    depends_on: [redis]\n    command: touch ran\n",
    );
    run.code(1);
    assert!(!ws.path().join("ran").exists(), "the stage ran");
    let doc = latest(ws.path());
    let stage = &doc["stages"][0];
    assert_eq!(stage["status"], "failed");
    assert_eq!(stage["metadata"]["service_dependencies"][0], "redis");
    assert!(
        stage["detail"]
            .as_str()
            .unwrap()
            .contains("(redis) are not healthy"),
        "{stage}"
    );
    assert!(read(ws.path(), &stage["logs"]["stdout"]).contains("unhealthy"));
}

#[test]
fn a_declared_junit_artifact_is_kept_with_its_recorded_size() {
    let ws = scratch::workspace();
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="t" tests="1" failures="0">
  <testsuite name="s" tests="1"><testcase name="c"/></testsuite>
</testsuites>
"#;
    std::fs::write(ws.path().join("expected.xml"), xml).unwrap();
    std::fs::write(
        ws.path().join("pipeline.yaml"),
        "stages:\n  - name: unit\n    command: mkdir -p out && cp expected.xml out/junit.xml\n    \
         artifacts:\n      - path: ${ARTIFACT_DIR:-missing}/junit.xml\n        type: \
         test_results\n        format: junit-xml\n",
    )
    .unwrap();
    devenv(ws.path())
        .env("ARTIFACT_DIR", "out")
        .args(["pipeline", "run", "--config", "pipeline.yaml"])
        .run()
        .success();
    let doc = latest(ws.path());
    let artifact = &doc["stages"][0]["artifacts"][0];
    assert_eq!(artifact["type"], "test_results");
    assert_eq!(artifact["format"], "junit-xml");
    assert_eq!(artifact["source"], "out/junit.xml");
    assert_eq!(artifact["size_bytes"], xml.len());
    assert_eq!(artifact["stage_id"], doc["stages"][0]["id"]);
    let kept = ws.path().join(artifact["path"].as_str().unwrap());
    assert_eq!(std::fs::metadata(&kept).unwrap().len(), xml.len() as u64);
    assert!(kept.starts_with(ws.path().join(".devenv/pipelines")));
}

#[test]
fn runs_beyond_keep_runs_are_pruned_with_their_logs() {
    let ws = scratch::workspace();
    let yaml = "keep_runs: 2\nstages:\n  - name: a\n    command: echo a\n";
    let mut ids = Vec::new();
    for _ in 0..3 {
        run_pipeline(ws.path(), yaml).success();
        ids.push(latest(ws.path())["id"].as_str().unwrap().to_string());
    }
    let list = devenv(ws.path())
        .args(["pipeline", "list", "--json"])
        .run()
        .success()
        .json();
    let listed: Vec<&str> = list["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [ids[2].as_str(), ids[1].as_str()]);
    let dir = ws.path().join(".devenv/pipelines");
    assert!(!dir.join(format!("{}.json", ids[0])).exists());
    assert!(
        !dir.join(&ids[0]).exists(),
        "the pruned run's logs are gone"
    );
    assert!(dir.join(&ids[1]).is_dir());
}

#[test]
fn a_bad_pipeline_file_names_the_file_the_key_and_the_fix_with_exit_2() {
    let ws = scratch::workspace();
    at_stage(ws.path(), Stage::Ready);
    let cases = [
        (
            "stages:\n  - name: a\n    command: x\n    timeout: soon\n",
            "`stages[0].timeout` `soon` is not a duration — use e.g. 90s",
        ),
        (
            "stages:\n  - name: a\n    comand: x\n",
            "unknown field `comand`",
        ),
        (
            "keep_runs: 0\nstages:\n  - {name: a, command: x}\n",
            "`keep_runs` must be",
        ),
        (
            "stages: []\n",
            "`stages` lists no stage — declare at least one",
        ),
        (
            "stages:\n  - {name: a, command: x}\n  - {name: a, command: y}\n",
            "`stages[1].name` `a` names two stages",
        ),
    ];
    for (yaml, wanted) in cases {
        let run = run_pipeline(ws.path(), yaml);
        run.code(2);
        assert!(
            run.stderr.contains("pipeline.yaml"),
            "names the file: {}",
            run.stderr
        );
        assert!(run.stderr.contains(wanted), "{wanted}: {}", run.stderr);
    }
    let run = devenv(ws.path())
        .args(["pipeline", "run", "--config", "nowhere.yaml"])
        .run();
    run.code(2);
    assert!(run.stderr.contains("nowhere.yaml"), "{}", run.stderr);
    assert!(
        !ws.path().join(".devenv/pipelines").exists(),
        "no run was recorded"
    );
    assert_eq!(
        stage_of(ws.path())["stage"],
        "ready",
        "the workflow did not move"
    );
}
