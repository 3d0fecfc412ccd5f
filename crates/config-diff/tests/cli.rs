//! Runs the real `config-diff` binary over the corpus (real compose files written outside
//! this project), the repository's own dev/ and configs/parity/ files, and small fixtures.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn repo_root() -> PathBuf {
    crate_dir().join("../..").canonicalize().unwrap()
}

fn fixture(name: &str) -> PathBuf {
    crate_dir().join("tests/fixtures").join(name)
}

fn corpus() -> PathBuf {
    repo_root().join("../shared/corpus/compose")
}

fn sentry(commit: &str) -> PathBuf {
    corpus().join(format!("sentry/docker-compose.{commit}.yml"))
}

fn cmd() -> Command {
    let mut c = Command::cargo_bin("config-diff").unwrap();
    c.env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env("DEVENV_ROOT", repo_root());
    c
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

fn run(c: &mut Command) -> Run {
    let out = c.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The corpus' .env of sentry.
fn sentry_env() -> PathBuf {
    corpus().join("sentry/env.HEAD")
}

/// Compares the sentry compose files of two commits, each interpolated with the corpus' .env.
fn sentry_cmd(from: &str, to: &str) -> Command {
    let mut c = cmd();
    c.arg("-f")
        .arg(sentry(from))
        .arg("--env-file")
        .arg(sentry_env())
        .arg("-F")
        .arg(sentry(to))
        .arg("--target-env-file")
        .arg(sentry_env());
    c
}

fn sentry_diff(from: &str, to: &str) -> Run {
    run(sentry_cmd(from, to).arg("--json"))
}

/// `validate --json` of one sentry commit.
fn validate_sentry(commit: &str) -> Run {
    run(cmd()
        .args(["validate", "--json", "--env-file"])
        .arg(sentry_env())
        .arg(sentry(commit)))
}

/// The binary run from tests/fixtures, where the fixtures name each other relatively.
fn in_fixtures() -> Command {
    let mut c = cmd();
    c.current_dir(fixture(""));
    c
}

/// `(d[a], d[b])` as strings, to assert two fields of a difference at once.
fn pair<'a>(d: &'a Value, a: &str, b: &str) -> (Option<&'a str>, Option<&'a str>) {
    (d[a].as_str(), d[b].as_str())
}

fn service<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["service_diffs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == name)
        .unwrap_or_else(|| panic!("no service {name} in the report"))
}

fn difference<'a>(report: &'a Value, svc: &str, field: &str) -> &'a Value {
    service(report, svc)["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["field_path"] == field)
        .unwrap_or_else(|| panic!("no difference {svc}/{field}: {}", service(report, svc)))
}

/// The severity a difference was graded with.
fn severity<'a>(report: &'a Value, svc: &str, field: &str) -> &'a str {
    difference(report, svc, field)["severity"]
        .as_str()
        .unwrap_or_else(|| panic!("{svc}/{field} has no severity"))
}

fn has_difference(report: &Value, svc: &str, prefix: &str) -> bool {
    service(report, svc)["differences"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["field_path"].as_str().unwrap().starts_with(prefix))
}

/// Checked by hand against the files: sentry c382b9a5 (2023-07) → 89a143f8 (2026-08).
#[test]
fn sentry_2023_to_2026_is_graded_as_checked_by_hand() {
    let r = sentry_diff("c382b9a5", "89a143f8");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    assert_eq!(report["overall_status"], "incompatible");

    // redis:6.2.12-alpine → valkey/valkey:8.1.9-alpine: another product → major.
    let d = difference(&report, "redis", "image.repository");
    assert_eq!(
        pair(d, "severity", "rule_id"),
        (Some("major"), Some("image.repository_changed"))
    );
    assert_eq!(d["source_value"], "docker.io/library/redis:6.2.12-alpine");
    assert_eq!(d["target_value"], "docker.io/valkey/valkey:8.1.9-alpine");

    // confluentinc/cp-kafka 5.5.7 → 7.6.13: major version → major.
    let d = difference(&report, "kafka", "image.tag");
    assert_eq!(
        pair(d, "severity", "rule_id"),
        (Some("major"), Some("image.major_version_changed"))
    );

    // postgres 14.5 → 14.24-bookworm: same major → minor.
    let d = difference(&report, "postgres", "image.tag");
    assert_eq!(
        pair(d, "severity", "rule_id"),
        (Some("minor"), Some("image.tag_changed"))
    );
    assert_eq!(
        pair(d, "source_value", "target_value"),
        (Some("14.5"), Some("14.24-bookworm"))
    );

    // nginx mounted ./nginx at /etc/nginx; 2026 mounts only /etc/nginx/nginx.conf → incompatible.
    let d = difference(&report, "nginx", "volumes[/etc/nginx]");
    assert_eq!(
        pair(d, "severity", "type"),
        (Some("incompatible"), Some("missing_in_target"))
    );
    // postgres' `./postgres/:/opt/sentry/` mount is gone (trailing slash normalised).
    assert_eq!(
        severity(&report, "postgres", "volumes[/opt/sentry]"),
        "incompatible"
    );

    // Kafka moved to KRaft: KAFKA_ZOOKEEPER_CONNECT only in the source → major.
    let d = difference(&report, "kafka", "environment.KAFKA_ZOOKEEPER_CONNECT");
    assert_eq!(
        pair(d, "severity", "type"),
        (Some("major"), Some("missing_in_target"))
    );
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
    assert_eq!(
        pair(d, "source_value", "type"),
        (Some("(unset)"), Some("missing_in_target"))
    );
    // LAUNCHPAD_RPC_SHARED_SECRET only in 2026, passed through from .env (=supersecret):
    // compared by hash, printed redacted, never the value.
    let d = difference(&report, "web", "environment.LAUNCHPAD_RPC_SHARED_SECRET");
    assert_eq!(
        pair(d, "target_value", "severity"),
        (Some("<redacted>"), Some("major"))
    );
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
    let q = run(sentry_cmd("c382b9a5", "89a143f8").args(["--quiet", "--fail-on", "incompatible"]));
    assert_eq!(q.code, 1);
    assert!(q.stdout.is_empty(), "--quiet prints nothing: {}", q.stdout);
}

/// Checked by hand: sentry 0900533b (2025-12) → 89a143f8 (2026-08).
#[test]
fn sentry_2025_to_2026_is_graded_as_checked_by_hand() {
    let r = sentry_diff("0900533b", "89a143f8");
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();

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
    assert_eq!(
        pair(d, "severity", "type"),
        (Some("major"), Some("missing_in_source"))
    );

    // kafka nofile ulimit 4096 → 100000: generic setting → minor, keyed by its path.
    let d = difference(&report, "kafka", "ulimits.nofile.soft");
    assert_eq!(
        (
            d["source_value"].as_str(),
            d["target_value"].as_str(),
            d["severity"].as_str()
        ),
        (Some("4096"), Some("100000"), Some("minor"))
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
    for commit in ["c382b9a5", "0900533b", "89a143f8"] {
        let r = validate_sentry(commit);
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
    let r = validate_sentry("89a143f8");
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
    for entry in std::fs::read_dir(corpus().join("awesome-compose")).unwrap() {
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
    let r = run(cmd()
        .args(["validate", "--json"])
        .arg(corpus().join("awesome-compose/gitea-postgres.compose.yaml")));
    assert_eq!(r.code, 1);
    let f = &r.json()["findings"][0];
    assert_eq!(
        (f["rule"].as_str(), f["service"].as_str()),
        (Some("infrastructure_healthcheck"), Some("db"))
    );
    // nginx-golang-postgres: backend waits for db service_healthy and db has a healthcheck.
    let r = run(cmd()
        .args(["validate"])
        .arg(corpus().join("awesome-compose/nginx-golang-postgres.compose.yaml")));
    assert_eq!(r.code, 0, "{}", r.stdout);
    // postgresql-pgadmin interpolates variables nobody set: reported, not fatal.
    let r = run(cmd()
        .args(["validate", "--json"])
        .arg(corpus().join("awesome-compose/postgresql-pgadmin.compose.yaml")));
    let unset: Vec<String> = r.json()["unset_variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_string())
        .collect();
    assert!(unset.contains(&"POSTGRES_USER".to_string()), "{unset:?}");
}

#[test]
fn compose_semantics_merge_to_the_hand_written_result() {
    // base.yaml + override.yaml (override rules), anchors and `<<:`, x-* fields, extends
    // (same file and another file), profiles, every interpolation form, `$$`, list/map
    // environment, short/long ports and volumes, durations — must equal merged.yaml.
    let r = run(in_fixtures().args([
        "--json",
        "--fail-on",
        "minor",
        "-f",
        "base.yaml",
        "-f",
        "override.yaml",
        "--env-file",
        "fixture.env",
        "merged.yaml",
    ]));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let report = r.json();
    assert_eq!(report["overall_status"], "identical", "{report}");
    assert_eq!(
        report["summary"]["services_total"], 3,
        "the debug profile is off"
    );
    assert_eq!(
        report["metadata"]["inactive_services"]["source"]["debug"][0],
        "debug"
    );
    // DB_PORT is unset but has a `-` default; no variable is reported missing.
    assert_eq!(
        report["metadata"]["unset_variables"]["source"],
        serde_json::json!([])
    );

    // Turning the profile on brings the service in: missing in the target now.
    let r = run(in_fixtures().args([
        "--json",
        "--profile",
        "debug",
        "-f",
        "base.yaml",
        "-f",
        "override.yaml",
        "--env-file",
        "fixture.env",
        "merged.yaml",
    ]));
    assert_eq!(service(&r.json(), "debug")["status"], "missing_in_target");

    // Without the override file, the differences are exactly the override's contents.
    let r = run(in_fixtures().args([
        "--json",
        "-f",
        "base.yaml",
        "--env-file",
        "fixture.env",
        "merged.yaml",
    ]));
    let report = r.json();
    let d = difference(&report, "db", "environment.POSTGRES_USER");
    assert_eq!(
        pair(d, "source_value", "target_value"),
        (Some("app"), Some("overridden"))
    );
    assert_eq!(
        difference(&report, "db", "ports[5432/tcp@127.0.0.1:15432]")["type"],
        "missing_in_source"
    );
    assert_eq!(
        difference(&report, "db", "volumes[/docker-entrypoint-initdb.d]")["rule_id"],
        "volume.added"
    );
    assert_eq!(severity(&report, "api", "environment.LOG_LEVEL"), "major");
}

#[test]
fn required_variable_is_a_usage_error_naming_file_and_variable() {
    let r = run(in_fixtures().args(["base.yaml", "merged.yaml"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("base.yaml")
            && r.stderr.contains("DB_PASSWORD")
            && r.stderr.contains("set DB_PASSWORD in fixture.env"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_description_in_json_spelling_is_a_description() {
    // JSON is YAML: `"kind": …` names the kind as much as `kind: …` does.
    let dir = tempfile::tempdir().unwrap();
    let desc = dir.path().join("env.json");
    let doc = serde_json::json!({
        "kind": "EnvironmentConfiguration",
        "name": "from-json",
        "compose_files": [fixture("merged.yaml")],
    });
    std::fs::write(&desc, doc.to_string()).unwrap();
    let r = run(in_fixtures()
        .args(["--json", "--fail-on", "minor"])
        .arg(&desc)
        .arg("merged.yaml"));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.json()["overall_status"], "identical", "{}", r.stdout);
}

#[test]
fn extends_cycles_are_refused_naming_the_chain() {
    let r = run(in_fixtures().args(["validate", "extends-cycle.yaml"]));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("extends-cycle.yaml") && r.stderr.contains("`extends` cycle: a → b → a"),
        "{}",
        r.stderr
    );
}

#[test]
fn malformed_yaml_exits_2_naming_file_line_and_column() {
    for args in [
        vec!["malformed.yaml", "merged.yaml"],
        vec!["validate", "malformed.yaml"],
        vec!["merged.yaml", "malformed.yaml"],
    ] {
        let r = run(in_fixtures().args(&args));
        assert_eq!(r.code, 2, "{args:?}");
        assert!(
            r.stderr.contains("malformed.yaml:4:4: malformed YAML"),
            "{}",
            r.stderr
        );
        assert!(r.stdout.is_empty());
    }
}

#[test]
fn an_environment_is_identical_to_itself_and_sides_swap() {
    let r = run(sentry_cmd("0900533b", "0900533b").args(["--json", "--fail-on", "minor"]));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["overall_status"], "identical");

    let ab = sentry_diff("c382b9a5", "0900533b").json();
    let ba = sentry_diff("0900533b", "c382b9a5").json();
    assert_eq!(
        ab["summary"]["services_missing_in_source"],
        ba["summary"]["services_missing_in_target"]
    );
    assert_eq!(
        ab["summary"]["services_missing_in_target"],
        ba["summary"]["services_missing_in_source"]
    );
    assert_eq!(service(&ab, "zookeeper")["status"], "missing_in_target");
    assert_eq!(service(&ba, "zookeeper")["status"], "missing_in_source");
}

#[test]
fn secrets_never_reach_any_output_or_the_saved_report() {
    let root = tempfile::tempdir().unwrap();
    let secrets = [
        "pg-local-Secret-7f3a9c",
        "redis-local-Secret-51bd",
        "nats-local-Secret-c0de",
        "s3-local-Secret-99aa",
    ];
    for format in ["--json", "--human"] {
        let mut c = cmd();
        c.env("DEVENV_ROOT", root.path())
            .arg(format)
            .args(["--save", "-v", "-f"])
            .arg(repo_root().join("configs/parity/staging.compose.yaml"))
            .arg("--env-file")
            .arg(fixture("local.env"))
            .arg(repo_root().join("configs/parity/staging.yaml"));
        let r = run(&mut c);
        assert_eq!(r.code, 0, "{}", r.stderr);
        for s in secrets {
            assert!(
                !r.stdout.contains(s) && !r.stderr.contains(s),
                "{s} leaked:\n{}\n{}",
                r.stdout,
                r.stderr
            );
        }
        assert!(r.stdout.contains("<redacted>"), "{}", r.stdout);
    }
    let saved: Vec<_> = std::fs::read_dir(root.path().join("reports/config-diffs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(saved.len(), 2, "{saved:?}");
    for path in saved {
        let text = std::fs::read_to_string(&path).unwrap();
        for s in secrets {
            assert!(!text.contains(s), "{s} in {}", path.display());
        }
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["schema_version"], 1);
        assert!(
            path.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .ends_with("Z.json")
        );
    }
}

#[test]
fn parity_of_the_repository_has_nothing_unexpected_above_minor() {
    let root = repo_root();
    let local = root.join("dev/compose.local.yaml");
    if !local.exists() {
        eprintln!("dev/compose.local.yaml not there yet; skipped");
        return;
    }
    let mut c = cmd();
    c.current_dir(&root).args([
        "--json",
        "--fail-on",
        "major",
        "-f",
        "dev/compose.local.yaml",
        "--env-file",
    ]);
    c.arg(fixture("local.env")).args([
        "configs/parity/staging.yaml",
        "--rules",
        "configs/parity/rules.yaml",
        "--baseline",
        "configs/parity/baseline.yaml",
    ]);
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let report = r.json();
    for svc in ["postgres", "redis", "nats", "minio", "mock-inference"] {
        assert_ne!(
            service(&report, svc)["status"],
            "missing_in_source",
            "{svc}"
        );
    }
    // Credentials differ and are accepted by the baseline, shown only as <redacted>.
    let d = difference(&report, "postgres", "environment.POSTGRES_PASSWORD");
    assert_eq!(
        (d["accepted"].as_bool(), d["source_value"].as_str()),
        (Some(true), Some("<redacted>"))
    );
    assert!(report["summary"]["accepted"].as_u64().unwrap() > 0);

    // The images of dev/compose.local.yaml are pinned in dev/IMAGE_DIGESTS.
    let r = run(cmd().current_dir(&root).args(["images", "--json"]));
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["compliant"], true);
}

#[test]
fn images_reports_missing_and_differently_pinned() {
    let r = run(in_fixtures().args([
        "images",
        "--json",
        "images.yaml",
        "--digests",
        "IMAGE_DIGESTS",
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc = r.json();
    let status = |svc: &str| {
        doc["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["service"] == svc)
            .unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status("db"), "ok");
    assert_eq!(status("cache"), "pinned_differently"); // redis:7.2 vs pinned redis:7
    assert_eq!(status("queue"), "pinned_differently"); // other digest
    assert_eq!(status("web"), "missing");
    assert_eq!(status("app"), "built_locally");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("IMAGE_DIGESTS");
    std::fs::write(&bad, "# ok\npostgres:15@sha256:abc\n").unwrap();
    let r = run(in_fixtures()
        .args(["images", "images.yaml", "--digests"])
        .arg(&bad));
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("IMAGE_DIGESTS:2:") && r.stderr.contains("64 lowercase hex"),
        "{}",
        r.stderr
    );
}

#[test]
fn validate_names_cycles_and_every_rule() {
    let r = run(in_fixtures().args(["validate", "--json", "cycles.yaml"]));
    assert_eq!(r.code, 1);
    let doc = r.json();
    let findings = doc["findings"].as_array().unwrap();
    let find = |rule: &str| {
        findings
            .iter()
            .find(|f| f["rule"] == rule)
            .unwrap_or_else(|| panic!("{rule}: {findings:?}"))
    };
    assert!(
        find("no_dependency_cycles")["message"]
            .as_str()
            .unwrap()
            .contains("a → b → c → a")
    );
    assert_eq!(find("healthy_needs_healthcheck")["service"], "b");
    assert_eq!(find("infrastructure_healthcheck")["service"], "cache");
    assert_eq!(find("healthcheck_interval_ge_timeout")["service"], "web");
    assert!(
        find("absolute_container_paths")["message"]
            .as_str()
            .unwrap()
            .contains("relative/path")
    );
    assert!(
        find("dependency_defined")["message"]
            .as_str()
            .unwrap()
            .contains("ghost")
    );
}

#[test]
fn fail_on_thresholds_and_usage_errors() {
    let base = [
        "-f",
        "base.yaml",
        "--env-file",
        "fixture.env",
        "merged.yaml",
        "--quiet",
    ];
    // Without override.yaml the worst difference is major (env.missing).
    for (fail_on, code) in [("minor", 1), ("major", 1), ("incompatible", 0)] {
        let r = run(in_fixtures().args(base).args(["--fail-on", fail_on]));
        assert_eq!(r.code, code, "--fail-on {fail_on}");
    }
    assert_eq!(run(in_fixtures().args(base)).code, 0, "no --fail-on: 0");
    assert_eq!(run(cmd().args(["--fail-on", "huge", "a", "b"])).code, 2);
    let r = run(&mut cmd());
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no source environment given"),
        "{}",
        r.stderr
    );
    let r = run(cmd().args(["/nonexistent/a.yaml", "/nonexistent/b.yaml"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("/nonexistent/a.yaml"), "{}", r.stderr);
}

/// The JSON report matches the committed JSON Schema (checked by a small validator for the
/// keywords the schema uses: type, enum, required, properties, additionalProperties, items,
/// $ref, minimum, minLength).
#[test]
fn json_report_matches_the_committed_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(crate_dir().join("schema/report.schema.json")).unwrap(),
    )
    .unwrap();
    let cases = [sentry_diff("c382b9a5", "89a143f8").json(), {
        let mut c = cmd();
        c.current_dir(repo_root())
            .args(["--json", "-f", "dev/compose.local.yaml", "--env-file"])
            .arg(fixture("local.env"))
            .args([
                "configs/parity/staging.yaml",
                "--baseline",
                "configs/parity/baseline.yaml",
                "--rules",
                "configs/parity/rules.yaml",
            ]);
        run(&mut c).json()
    }];
    for doc in &cases {
        let mut errors = Vec::new();
        check(&schema, &schema, doc, "$", &mut errors);
        assert!(errors.is_empty(), "{errors:#?}");
    }
    // The validator itself catches violations.
    let mut broken = cases[0].clone();
    broken["overall_status"] = "fine".into();
    broken["summary"].as_object_mut().unwrap().remove("minor");
    let mut errors = Vec::new();
    check(&schema, &schema, &broken, "$", &mut errors);
    assert_eq!(errors.len(), 2, "{errors:?}");
}

fn check(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
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

/// Snapshot of the human report (NO_COLOR) and of the JSON document with its per-run
/// fields (ids, timestamps, timings) filtered.
#[test]
fn snapshots_of_human_and_json_output() {
    let args = [
        "-f",
        "base.yaml",
        "--env-file",
        "fixture.env",
        "merged.yaml",
    ];
    let human = run(in_fixtures().arg("--human").args(args));
    insta::assert_snapshot!("fixture_human", human.stdout);

    let json = run(in_fixtures().arg("--json").args(args));
    let filters = vec![
        (
            r#""(id|correlation_id)": "[0-9a-f-]{36}""#,
            r#""$1": "[id]""#,
        ),
        (r#""timestamp": "[^"]+""#, r#""timestamp": "[timestamp]""#),
        (r#""compare_ms": [0-9.e-]+"#, r#""compare_ms": "[ms]""#),
        (
            r#""tool_version": "[^"]+""#,
            r#""tool_version": "[version]""#,
        ),
    ];
    insta::with_settings!({filters => filters}, {
        let pretty = serde_json::to_string_pretty(&json.json()).unwrap();
        insta::assert_snapshot!("fixture_json", pretty);
    });
}
