//! The health history (issue 19): every run records its results under .devenv/health/,
//! `dev-status history` summarises them, rotation keeps the directory bounded.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use devenv_core::bundle::Bundle;
use serde_json::Value;

/// A workspace with a `.devenv/` (runs elsewhere record nothing) and a bundle whose only
/// service is Redis at `url`.
fn workspace_with_redis(url: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".devenv")).unwrap();
    let mut bundle = Bundle::new();
    bundle.set("REDIS_URL", url);
    write_bundle(dir.path(), ".env.local", &bundle);
    dir
}

fn health_dir(root: &Path) -> PathBuf {
    root.join(".devenv/health")
}

/// The recorded lines, every file, as JSON.
fn recorded(root: &Path) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(health_dir(root))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).expect(l))
                .collect::<Vec<Value>>()
        })
        .collect()
}

/// The rotated segments' paths.
fn segments(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(health_dir(root))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("health-")
        })
        .collect();
    found.sort();
    found
}

fn check_redis(root: &Path) -> i32 {
    let (code, _) = run_stderr(dev_status(root).args(["--only", "redis", "--quiet"]));
    code
}

fn history_json(root: &Path, args: &[&str]) -> (i32, Value, String) {
    run_json(dev_status(root).arg("history").args(args).arg("--json"))
}

#[test]
fn a_redis_outage_shows_as_a_state_change_and_lost_availability() {
    let mut redis = devenv_testkit::Redis::start();
    let ws = workspace_with_redis(&redis.url());
    let root = ws.path();
    let (code, stderr) = run_stderr(dev_status(root).args([
        "--only",
        "redis",
        "--quiet",
        "--wait",
        "--timeout",
        "10",
    ]));
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr) = run_stderr(
        dev_status(root)
            .args(["--only", "redis", "--quiet"])
            .env("DEVENV_TRIGGERED_BY", "make status"),
    );
    assert_eq!(code, 0, "{stderr}");
    for _ in 2..5 {
        assert_eq!(check_redis(root), 0);
    }
    redis.process().stop_with("KILL");
    for _ in 5..10 {
        assert_eq!(check_redis(root), 1);
    }

    let lines = recorded(root);
    assert_eq!(lines.len(), 10, "one record per run: {lines:#?}");
    let triggers: Vec<&str> = lines
        .iter()
        .map(|l| l["triggered_by"].as_str().unwrap())
        .collect();
    assert_eq!(&triggers[..3], ["wait", "make status", "status"]);
    assert_eq!(lines[9]["class"], "refused", "{}", lines[9]);
    assert_eq!(lines[9]["check_type"], "protocol");
    let text = lines.iter().map(Value::to_string).collect::<String>();
    assert!(
        !text.contains(&redis.password),
        "a password in the history: {text}"
    );

    let (code, doc, stderr) = history_json(root, &["--service", "redis"]);
    assert_eq!(code, 0, "{doc:#}\n{stderr}");
    assert_valid(&doc, "history.schema.json");
    assert_eq!(doc["kind"], "history");
    let redis_summary = &doc["services"][0];
    assert_eq!(redis_summary["service"], "redis");
    assert_eq!(redis_summary["checks"], 10);
    let availability = redis_summary["availability_pct"].as_f64().unwrap();
    assert!(availability > 0.0 && availability < 100.0, "{availability}");
    assert_eq!(availability, 50.0);
    assert_eq!(redis_summary["last_status"], "unhealthy");
    let changes = redis_summary["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["from"], "healthy");
    assert_eq!(changes[0]["to"], "unhealthy");
    assert_eq!(
        changes[0]["at"], lines[5]["ts"],
        "the first unhealthy check"
    );
    let latency = &redis_summary["latency_ms"];
    assert!(latency["p50"].as_u64().unwrap() <= latency["max"].as_u64().unwrap());

    // The table says the same to a person.
    let out = dev_status(root).args(["history"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("50.0%"), "{table}");
    assert!(table.contains("healthy → unhealthy"), "{table}");
}

#[test]
fn rotation_bounds_the_directory_and_history_reads_every_segment() {
    let ws = workspace_with_redis(&format!(
        "redis://:pw-rotation@127.0.0.1:{}/0",
        closed_port()
    ));
    let root = ws.path();
    std::fs::create_dir_all(health_dir(root)).unwrap();
    // A segment rotated long ago, with a record history would count if it were kept.
    let ancient = health_dir(root).join("health-20200101T000000.000Z-1-0.jsonl");
    std::fs::write(
        &ancient,
        "{\"ts\":\"2020-01-01T00:00:00.000Z\",\"service\":\"redis\",\"status\":\"healthy\"}\n",
    )
    .unwrap();
    // A record is ~260 bytes: the current file rotates after every second run.
    let run = |max_segments: &str| {
        let (code, stderr) = run_stderr(
            dev_status(root)
                .args(["--only", "redis", "--quiet"])
                .env("DEVENV_HEALTH_HISTORY_MAX_BYTES", "400")
                .env("DEVENV_HEALTH_HISTORY_MAX_SEGMENTS", max_segments),
        );
        assert_eq!(code, 1, "{stderr}");
    };
    run("10");
    assert!(ancient.exists(), "nothing rotated yet");
    run("10");
    assert!(!ancient.exists(), "a segment older than 30 days is deleted");
    assert_eq!(segments(root).len(), 1);
    for _ in 2..7 {
        run("2");
    }
    let kept = segments(root);
    assert_eq!(kept.len(), 2, "the newest two segments are kept: {kept:?}");

    let (code, doc, stderr) = history_json(root, &[]);
    assert_eq!(code, 0, "{doc:#}\n{stderr}");
    assert_valid(&doc, "history.schema.json");
    assert_eq!(
        doc["files"], 3,
        "two segments and the current file: {doc:#}"
    );
    assert_eq!(doc["checks"], 5, "2 + 2 in segments, 1 current: {doc:#}");
    assert_eq!(doc["services"][0]["availability_pct"], 0.0);

    // A bad limit is named, and recording carries on with the default.
    let (code, stderr) = run_stderr(
        dev_status(root)
            .args(["--only", "redis", "--quiet"])
            .env("DEVENV_HEALTH_HISTORY_MAX_BYTES", "lots"),
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("DEVENV_HEALTH_HISTORY_MAX_BYTES=lots"),
        "{stderr}"
    );
    assert_eq!(recorded(root).len(), 6);
}

#[test]
fn since_counts_only_recent_checks_and_watch_records_every_refresh() {
    let ws = workspace_with_redis(&format!("redis://:pw-since@127.0.0.1:{}/0", closed_port()));
    let root = ws.path();
    std::fs::create_dir_all(health_dir(root)).unwrap();
    let old = serde_json::json!({
        "ts": "2026-01-01T00:00:00.000Z", "service": "redis", "status": "healthy",
        "latency_ms": 1, "check_type": "protocol", "triggered_by": "status",
        "correlation_id": "old",
    });
    std::fs::write(health_dir(root).join("health.jsonl"), format!("{old}\n")).unwrap();
    let (code, stderr) = run_stderr(dev_status(root).args([
        "--only", "redis", "--quiet", "--watch", "0.05", "--count", "2",
    ]));
    assert_eq!(code, 1, "{stderr}");
    let lines = recorded(root);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["triggered_by"], "watch");
    assert_eq!(lines[2]["triggered_by"], "watch");

    let (_, all, _) = history_json(root, &[]);
    assert_eq!(all["checks"], 3);
    assert_eq!(all["services"][0]["changes"][0]["from"], "healthy");
    let (code, recent, stderr) = history_json(root, &["--since", "1h"]);
    assert_eq!(code, 0, "{stderr}");
    assert_valid(&recent, "history.schema.json");
    assert_eq!(recent["checks"], 2, "{recent:#}");
    assert_eq!(recent["services"][0]["changes"], serde_json::json!([]));
    assert!(recent["since"].as_str().is_some());
    let (code, since_time, _) = history_json(root, &["--since", "2025-12-31T00:00:00Z"]);
    assert_eq!(code, 0);
    assert_eq!(since_time["checks"], 3);

    let (code, stderr) = run_stderr(dev_status(root).args(["history", "--since", "lately"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--since lately") && stderr.contains("1h"),
        "{stderr}"
    );
}

#[test]
fn no_history_yet_says_how_to_record_one() {
    let ws = workspace_with_redis(&format!("redis://:pw-none@127.0.0.1:{}/0", closed_port()));
    let root = ws.path();
    let (code, stderr) = run_stderr(dev_status(root).arg("history"));
    assert_eq!(code, i32::from(devenv_core::exit::FAILED), "{stderr}");
    assert!(stderr.contains("no health history yet"), "{stderr}");
    assert!(stderr.contains("make status"), "names the fix: {stderr}");

    // Recording off: nothing is written, and the message says why.
    let (code, _) = run_stderr(
        dev_status(root)
            .args(["--only", "redis", "--quiet"])
            .env("DEVENV_HEALTH_HISTORY", "0"),
    );
    assert_eq!(code, 1);
    assert!(!health_dir(root).join("health.jsonl").exists());
    let (code, stderr) = run_stderr(
        dev_status(root)
            .arg("history")
            .env("DEVENV_HEALTH_HISTORY", "0"),
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("unset DEVENV_HEALTH_HISTORY"), "{stderr}");

    // Some history, but not of the service asked for.
    assert_eq!(check_redis(root), 1);
    let (code, stderr) = run_stderr(dev_status(root).args(["history", "--service", "nats"]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("no checks of nats"), "{stderr}");

    // Outside a workspace with .devenv/ a run records nothing, and history says so.
    let bare = tempfile::tempdir().unwrap();
    let mut bundle = Bundle::new();
    bundle.set(
        "REDIS_URL",
        format!("redis://:pw@127.0.0.1:{}/0", closed_port()),
    );
    write_bundle(bare.path(), ".env.local", &bundle);
    assert_eq!(check_redis(bare.path()), 1);
    assert!(!bare.path().join(".devenv").exists());
    let (code, stderr) = run_stderr(dev_status(bare.path()).arg("history"));
    assert_eq!(code, 1);
    assert!(stderr.contains("`make up` creates it"), "{stderr}");
}

#[test]
fn runs_at_once_rotate_without_losing_or_tearing_a_record() {
    let ws = workspace_with_redis(&format!("redis://:pw-many@127.0.0.1:{}/0", closed_port()));
    let root = ws.path();
    // Eight runs at a time, a file that rotates every other record: writers race the rename.
    let mut children = Vec::new();
    for _ in 0..16 {
        children.push(
            dev_status_process(root)
                .args(["--only", "redis", "--quiet"])
                .env("DEVENV_HEALTH_HISTORY_MAX_BYTES", "400")
                .env("DEVENV_HEALTH_HISTORY_MAX_SEGMENTS", "1000")
                .spawn()
                .unwrap(),
        );
        if children.len() == 8 {
            for mut child in children.drain(..) {
                assert_eq!(child.wait().unwrap().code(), Some(1));
            }
        }
    }
    assert!(segments(root).len() >= 4, "rotated: {:?}", segments(root));
    // `recorded` panics on a line that is not a whole record.
    assert_eq!(recorded(root).len(), 16);
    let (code, doc, stderr) = history_json(root, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(doc["checks"], 16, "{doc:#}");
}
