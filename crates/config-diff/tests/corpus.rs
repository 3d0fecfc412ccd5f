//! The real-world corpus suite: compose files written outside this project (getsentry's
//! self-hosted stack at three commits, docker/awesome-compose samples), graded as checked by
//! hand. The corpus is not part of the repository, so this suite runs only when
//! `DEVENV_CORPUS_DIR` names a corpus folder (the one with `compose/` inside). Unset (or
//! empty), every test prints that the suite did not run and returns; set, a missing folder or
//! file fails the test. A relative path is taken from the workspace root.
//!
//! The platform upgrade fixtures in tests/upgrade.rs cover the same behaviour without the
//! corpus.
// The suite says on stdout whether it ran (nextest shows it with --success-output).
#![allow(clippy::print_stdout)]

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use common::*;

const NOT_RUN: &str = "corpus suite not run: set DEVENV_CORPUS_DIR=<dir with compose/> to run it";

/// `$DEVENV_CORPUS_DIR/compose`, or `None` after printing [`NOT_RUN`] when the variable is
/// unset or empty. Panics when it is set and names no corpus.
fn corpus() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("DEVENV_CORPUS_DIR").filter(|d| !d.is_empty()) else {
        println!("{NOT_RUN}");
        return None;
    };
    let dir = PathBuf::from(dir);
    let dir = if dir.is_relative() {
        repo_root().join(dir)
    } else {
        dir
    };
    let compose = dir.join("compose");
    assert!(
        compose.is_dir(),
        "DEVENV_CORPUS_DIR={} has no compose/ folder: point it at the corpus (the folder with compose/ inside) or unset it",
        dir.display()
    );
    println!("corpus suite: {}", compose.display());
    Some(compose)
}

/// The corpus, or return from the test (unset variable: the suite does not run).
macro_rules! corpus_or_return {
    () => {
        match corpus() {
            Some(c) => c,
            None => return,
        }
    };
}

/// A corpus file, which must exist: the suite never passes on a missing input.
fn input(path: PathBuf) -> PathBuf {
    assert!(
        path.is_file(),
        "corpus file {} is missing (DEVENV_CORPUS_DIR is set)",
        path.display()
    );
    path
}

fn sentry(corpus: &Path, commit: &str) -> PathBuf {
    input(corpus.join(format!("sentry/docker-compose.{commit}.yml")))
}

/// The corpus' .env of sentry.
fn sentry_env(corpus: &Path) -> PathBuf {
    input(corpus.join("sentry/env.HEAD"))
}

/// Compares the sentry compose files of two commits, each interpolated with the corpus' .env.
fn sentry_cmd(corpus: &Path, from: &str, to: &str) -> Command {
    let mut c = cmd();
    c.arg("-f")
        .arg(sentry(corpus, from))
        .arg("--env-file")
        .arg(sentry_env(corpus))
        .arg("-F")
        .arg(sentry(corpus, to))
        .arg("--target-env-file")
        .arg(sentry_env(corpus));
    c
}

fn sentry_diff(corpus: &Path, from: &str, to: &str) -> Run {
    run(sentry_cmd(corpus, from, to).arg("--json"))
}

/// The `diff --json` report of two sentry commits, which must compare (exit 0).
fn graded(corpus: &Path, from: &str, to: &str) -> serde_json::Value {
    let r = sentry_diff(corpus, from, to);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.json()
}

/// `validate --json` of one sentry commit.
fn validate_sentry(corpus: &Path, commit: &str) -> Run {
    run(cmd()
        .args(["validate", "--json", "--env-file"])
        .arg(sentry_env(corpus))
        .arg(sentry(corpus, commit)))
}

/// Checked by hand against the files: sentry c382b9a5 (2023-07) → 89a143f8 (2026-08).
#[test]
fn sentry_2023_to_2026_is_graded_as_checked_by_hand() {
    let corpus = corpus_or_return!();
    let r = sentry_diff(&corpus, "c382b9a5", "89a143f8");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    assert_eq!(report["overall_status"], "incompatible");

    // redis:6.2.12-alpine → valkey/valkey:8.1.9-alpine: another product → major.
    let d = difference(&report, "redis", "image.repository");
    fields(
        d,
        [
            ("severity", "major"),
            ("rule_id", "image.repository_changed"),
        ],
    );
    assert_eq!(d["source_value"], "docker.io/library/redis:6.2.12-alpine");
    assert_eq!(d["target_value"], "docker.io/valkey/valkey:8.1.9-alpine");

    // confluentinc/cp-kafka 5.5.7 → 7.6.13: major version → major.
    let d = difference(&report, "kafka", "image.tag");
    fields(
        d,
        [
            ("severity", "major"),
            ("rule_id", "image.major_version_changed"),
        ],
    );

    // postgres 14.5 → 14.24-bookworm: same major → minor.
    let d = difference(&report, "postgres", "image.tag");
    fields(d, [("severity", "minor"), ("rule_id", "image.tag_changed")]);
    fields(
        d,
        [("source_value", "14.5"), ("target_value", "14.24-bookworm")],
    );

    // nginx mounted ./nginx at /etc/nginx; 2026 mounts only /etc/nginx/nginx.conf → incompatible.
    let d = difference(&report, "nginx", "volumes[/etc/nginx]");
    fields(
        d,
        [("severity", "incompatible"), ("type", "missing_in_target")],
    );
    // postgres' `./postgres/:/opt/sentry/` mount is gone (trailing slash normalised).
    assert_eq!(
        severity(&report, "postgres", "volumes[/opt/sentry]"),
        "incompatible"
    );

    // Kafka moved to KRaft: KAFKA_ZOOKEEPER_CONNECT only in the source → major.
    let d = difference(&report, "kafka", "environment.KAFKA_ZOOKEEPER_CONNECT");
    fields(d, [("severity", "major"), ("type", "missing_in_target")]);
    assert_eq!(d["source_value"], "zookeeper:2181");
    // KAFKA_LOG_RETENTION_HOURS "24" → "3": a value change → minor.
    assert_eq!(
        severity(&report, "kafka", "environment.KAFKA_LOG_RETENTION_HOURS"),
        "minor"
    );

    // zookeeper is gone with KRaft.
    let z = service(&report, "zookeeper");
    assert_eq!(z["status"], "missing_in_target");
    assert_eq!(z["differences"][0]["severity"], "minor");
    // pgbouncer is new.
    assert_eq!(service(&report, "pgbouncer")["status"], "missing_in_source");

    // memcached's start_period: literal `10s` then, `$HEALTHCHECK_START_PERIOD` (=10s) now;
    // HEALTHCHECK_TIMEOUT=1m30s on both: interpolated and normalised, no healthcheck difference.
    assert!(!has_difference(&report, "memcached", "healthcheck"));
    assert_eq!(severity(&report, "memcached", "image.tag"), "minor");

    // OPENAI_API_KEY only in 2023's web, declared without a value and set nowhere.
    let d = difference(&report, "web", "environment.OPENAI_API_KEY");
    fields(
        d,
        [("source_value", "(unset)"), ("type", "missing_in_target")],
    );
    // LAUNCHPAD_RPC_SHARED_SECRET only in 2026, passed through from .env (=supersecret):
    // compared by hash, printed redacted, never the value.
    let d = difference(&report, "web", "environment.LAUNCHPAD_RPC_SHARED_SECRET");
    fields(d, [("target_value", "<redacted>"), ("severity", "major")]);
    assert!(!r.stdout.contains("supersecret"));
    // …and its origin is the env file the pass-through was resolved from.
    assert!(
        d["target_origin"]
            .as_str()
            .unwrap()
            .ends_with("sentry/env.HEAD"),
        "{d}"
    );
    // A value written in the compose file has that file as its origin.
    let d = difference(&report, "kafka", "environment.KAFKA_LOG_RETENTION_HOURS");
    assert!(
        d["source_origin"]
            .as_str()
            .unwrap()
            .ends_with("docker-compose.c382b9a5.yml"),
        "{d}"
    );

    // With --fail-on the exit code follows the grade.
    let q = run(sentry_cmd(&corpus, "c382b9a5", "89a143f8").args([
        "--quiet",
        "--fail-on",
        "incompatible",
    ]));
    assert_eq!(q.code, 1);
    assert!(q.stdout.is_empty(), "--quiet prints nothing: {}", q.stdout);
}

/// Checked by hand: sentry 0900533b (2025-12) → 89a143f8 (2026-08).
#[test]
fn sentry_2025_to_2026_is_graded_as_checked_by_hand() {
    let corpus = corpus_or_return!();
    let report = graded(&corpus, "0900533b", "89a143f8");

    // seaweedfs 3.96_large_disk → 4.40_large_disk@sha256:d07a…: major version, digest added.
    let d = difference(&report, "seaweedfs", "image.tag");
    assert_eq!(d["rule_id"], "image.major_version_changed");
    assert_eq!(d["severity"], "major");
    let d = difference(&report, "seaweedfs", "image.digest");
    assert_eq!(d["severity"], "minor");
    assert_eq!(d["source_value"], "(none)");
    assert!(
        d["target_value"]
            .as_str()
            .unwrap()
            .starts_with("sha256:d07aa1dae03c")
    );

    // cp-kafka 7.6.6 → 7.6.13 and pgbouncer v1.24.1-p1 → v1.25.2-p0: patch/minor → minor.
    assert_eq!(severity(&report, "kafka", "image.tag"), "minor");
    assert_eq!(severity(&report, "pgbouncer", "image.tag"), "minor");

    // snuba-replacer gained a (file) healthcheck → missing in source → major.
    let d = difference(&report, "snuba-replacer", "healthcheck");
    fields(d, [("severity", "major"), ("type", "missing_in_source")]);

    // kafka nofile ulimit 4096 → 100000: generic setting → minor, keyed by its path.
    let d = difference(&report, "kafka", "ulimits.nofile.soft");
    fields(
        d,
        [
            ("source_value", "4096"),
            ("target_value", "100000"),
            ("severity", "minor"),
        ],
    );

    // smtp's environment moved from list (`- MAILNAME=…`) to map form: same model, so
    // MAILNAME is not a difference; the new SES_PASSWORD is, and is redacted.
    assert!(!has_difference(&report, "smtp", "environment.MAILNAME"));
    assert_eq!(
        difference(&report, "smtp", "environment.SES_PASSWORD")["target_value"],
        "(unset)"
    );

    // Services removed in 2026 (generic-metrics sets/distributions/gauges consumers).
    assert_eq!(
        service(&report, "snuba-generic-metrics-sets-consumer")["status"],
        "missing_in_target"
    );
}

#[test]
fn every_corpus_file_parses_and_validates() {
    let corpus = corpus_or_return!();
    for commit in ["c382b9a5", "0900533b", "89a143f8"] {
        let r = validate_sentry(&corpus, commit);
        assert!(
            r.code == 0 || r.code == 1,
            "{commit}: exit {} {}",
            r.code,
            r.stderr
        );
        let doc = r.json();
        assert_eq!(doc["kind"], "configuration_validation");
        assert!(doc["services"].as_u64().unwrap() > 30, "{commit}");
        // No dependency cycles and no undefined dependencies in a stack that really runs.
        for f in doc["findings"].as_array().unwrap() {
            assert_ne!(f["rule"], "no_dependency_cycles", "{commit}: {f}");
            assert_ne!(f["rule"], "dependency_defined", "{commit}: {f}");
        }
    }
    // Hand-checked: 2026's HEALTHCHECK_TIMEOUT=1m30s exceeds HEALTHCHECK_INTERVAL=30s on every
    // service using the shared healthcheck anchor; memcached is one of them.
    let r = validate_sentry(&corpus, "89a143f8");
    assert_eq!(r.code, 1);
    let findings = r.json()["findings"].as_array().unwrap().clone();
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == "healthcheck_interval_ge_timeout" && f["service"] == "memcached")
    );
    // kafka overrides interval and timeout to 10s: not flagged.
    assert!(
        !findings
            .iter()
            .any(|f| f["rule"] == "healthcheck_interval_ge_timeout" && f["service"] == "kafka")
    );

    let mut seen = 0;
    let awesome = corpus.join("awesome-compose");
    let entries =
        std::fs::read_dir(&awesome).unwrap_or_else(|e| panic!("{}: {e}", awesome.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        let r = run(cmd().args(["validate", "--json"]).arg(&path));
        assert!(
            r.code == 0 || r.code == 1,
            "{}: exit {} {}",
            path.display(),
            r.code,
            r.stderr
        );
        assert!(
            r.json()["services"].as_u64().unwrap() >= 2,
            "{}",
            path.display()
        );
        seen += 1;
    }
    assert!(seen >= 8);
    // Hand-checked: gitea-postgres' `db` (postgres:alpine) has no healthcheck.
    let r = run(cmd().args(["validate", "--json"]).arg(input(
        corpus.join("awesome-compose/gitea-postgres.compose.yaml"),
    )));
    assert_eq!(r.code, 1);
    let f = &r.json()["findings"][0];
    fields(
        f,
        [("rule", "infrastructure_healthcheck"), ("service", "db")],
    );
    // nginx-golang-postgres: backend waits for db service_healthy and db has a healthcheck.
    let r = run(cmd().args(["validate"]).arg(input(
        corpus.join("awesome-compose/nginx-golang-postgres.compose.yaml"),
    )));
    assert_eq!(r.code, 0, "{}", r.stdout);
    // postgresql-pgadmin interpolates variables nobody set: reported, not fatal.
    let r = run(cmd().args(["validate", "--json"]).arg(input(
        corpus.join("awesome-compose/postgresql-pgadmin.compose.yaml"),
    )));
    let unset: Vec<String> = r.json()["unset_variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_string())
        .collect();
    assert!(unset.contains(&"POSTGRES_USER".to_string()), "{unset:?}");
}

#[test]
fn an_environment_is_identical_to_itself_and_sides_swap() {
    let corpus = corpus_or_return!();
    let r = run(sentry_cmd(&corpus, "0900533b", "0900533b").args(["--json", "--fail-on", "minor"]));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["overall_status"], "identical");

    let ab = sentry_diff(&corpus, "c382b9a5", "0900533b").json();
    let ba = sentry_diff(&corpus, "0900533b", "c382b9a5").json();
    assert_mirrored(&ab, &ba);
    assert_eq!(service(&ab, "zookeeper")["status"], "missing_in_target");
    assert_eq!(service(&ba, "zookeeper")["status"], "missing_in_source");
}

#[test]
fn corpus_report_matches_the_committed_schema() {
    let corpus = corpus_or_return!();
    let r = sentry_diff(&corpus, "c382b9a5", "89a143f8");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let errors = schema_errors(&r.json());
    assert!(errors.is_empty(), "{errors:#?}");
}
