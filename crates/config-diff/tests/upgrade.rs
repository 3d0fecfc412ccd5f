//! A small platform written for these tests (tests/fixtures/upgrade): PostgreSQL, Redis,
//! Kafka on ZooKeeper, an API and its worker with healthchecks, shared config in anchors,
//! `extends` from another file and the same file, profiles, `env_file`, every interpolation
//! form, a local override file — and the same platform two years later, graded as an upgrade
//! (Redis → Valkey, Kafka 6 → 7 on KRaft, ZooKeeper removed, a volume removed, a required
//! variable added). Every input is committed; nothing outside the crate is read.

mod common;

use common::*;
use serde_json::{Value, json};

/// The 2023 platform with the local override, as compose would load it.
const V1_LOCAL: &str = "-f platform.v1.yaml -f platform.override.yaml --env-file platform.env";

/// Values of platform.env, api.env and api.v2.env that must never be printed.
const SECRETS: [&str; 4] = [
    "pg-Fixture-Secret-5e1f",
    "redis-Fixture-Secret-a9c2",
    "api-session-Fixture-Secret-77d0",
    "api-session-Rotated-Secret-0b4e",
];

fn assert_no_secret(r: &Run) {
    r.assert_no_secret(&SECRETS);
}

/// Every difference of a report as `service field severity rule`, sorted.
fn graded(report: &Value) -> Vec<String> {
    let mut out: Vec<String> = report["service_diffs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["differences"].as_array().unwrap().iter().map(move |d| {
                format!(
                    "{} {} {} {}",
                    s["service"].as_str().unwrap(),
                    d["field_path"].as_str().unwrap(),
                    d["severity"].as_str().unwrap(),
                    d["rule_id"].as_str().unwrap()
                )
            })
        })
        .collect();
    out.sort();
    out
}

#[test]
fn platform_with_override_resolves_to_the_hand_written_result() {
    // Merge of two files, anchors and `<<:` (lists of them, anchors built from anchors), x-*
    // fields, extends (common.yaml and the same file; depends_on not inherited), env_file
    // (a required and an optional one; `environment` wins), every interpolation form, `$$`,
    // list and map environments, short and long ports and volumes, durations.
    let r = run(in_upgrade()
        .args(["--json", "--fail-on", "minor"])
        .args(V1_LOCAL.split_whitespace())
        .arg("platform.resolved.yaml"));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let report = r.json();
    assert_eq!(report["overall_status"], "identical", "{report}");
    assert_eq!(report["summary"]["services_total"], 6);
    assert_eq!(report["summary"]["services_identical"], 6);
    // The profiles migrate and debug are off.
    assert_eq!(
        report["metadata"]["inactive_services"]["source"],
        json!({"kafka-ui": ["debug"], "migrate": ["migrate"]})
    );
    // Only ${GIT_SHA} has neither a value nor a default; every other reference resolved.
    assert_eq!(
        report["metadata"]["unset_variables"]["source"],
        json!([{"name": "GIT_SHA", "file": "platform.v1.yaml"}])
    );
    assert_eq!(report["metadata"]["unset_variables"]["target"], json!([]));
    assert_no_secret(&r);
}

#[test]
fn the_override_file_is_merged_by_compose_rules() {
    // Without the override, the differences to the resolved file are exactly what the
    // override changes: so the identity above is not an accident of empty models.
    let r = run(in_upgrade().args(
        "--json -f platform.v1.yaml --env-file platform.env platform.resolved.yaml"
            .split_whitespace(),
    ));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    assert_eq!(
        graded(&report),
        [
            "api command minor command.changed",
            "api environment.LOG_LEVEL minor env.value_changed",
            "api ports[8000/tcp] minor port.added",
            "api volumes[/app/src] minor volume.added",
            "kafka environment.KAFKA_LOG_RETENTION_HOURS minor env.value_changed",
            "kafka ulimits.nofile.hard minor field.changed",
            "postgres environment.POSTGRES_INITDB_ARGS major env.missing",
            "postgres ports[5432/tcp] minor port.added",
            "postgres volumes[/docker-entrypoint-initdb.d] minor volume.changed",
            "redis ports[6379/tcp] minor port.added",
        ]
    );
    // A volume with the same container path is replaced (the trailing `/` of the base file's
    // mount normalised), not added.
    let d = difference(&report, "postgres", "volumes[/docker-entrypoint-initdb.d]");
    fields(
        d,
        [
            (
                "source_value",
                "./postgres/init/:/docker-entrypoint-initdb.d:ro",
            ),
            (
                "target_value",
                "./postgres/init-dev:/docker-entrypoint-initdb.d:ro",
            ),
        ],
    );
    // The override's map entry beats the base's list entry; without it ${LOG_LEVEL:-info}.
    let d = difference(&report, "api", "environment.LOG_LEVEL");
    fields(d, [("source_value", "info"), ("target_value", "debug")]);
    // ulimits merge key by key: only `hard` differs, `soft` stayed.
    assert!(!has_difference(&report, "kafka", "ulimits.nofile.soft"));
    // The worker extends api inside platform.v1.yaml, before the override is merged.
    assert_eq!(service(&report, "worker")["status"], "identical");
}

#[test]
fn every_interpolation_form_resolves_as_compose_does() {
    // Against a target where api and worker have no environment, every variable is reported
    // missing in the target with the value the source resolved to.
    let (_dir, bare) = scratch(
        "bare.yaml",
        "services:\n  api:\n    image: ghcr.io/acme/platform-api:2.3.1\n  worker:\n    image: ghcr.io/acme/platform-api:2.3.1\n",
    );
    let r = run(in_upgrade()
        .arg("--json")
        .args(V1_LOCAL.split_whitespace())
        .arg(&bare));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    let value = |svc: &str, key: &str| {
        let d = difference(&report, svc, &format!("environment.{key}"));
        assert_eq!(d["type"], "missing_in_target", "{d}");
        d["source_value"].as_str().unwrap().to_string()
    };
    for (key, want) in [
        // ${VAR}, and nested defaults: SENTRY_SERVER_NAME and REDIS_URL are unset, the
        // references inside are used (a URL password is masked in reports).
        ("SENTRY_SERVER_NAME", "platform-api"),
        (
            "DATABASE_URL",
            "postgres://platform:***@postgres:5432/platform",
        ),
        ("REDIS_URL", "redis://:***@redis:6379/0"),
        // ${A:-${B:?…}} with A set: the nested `:?` is never evaluated.
        ("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092"),
        // $VAR
        ("AWS_REGION", "eu-west-1"),
        // ${VAR-default}: set but empty → empty; unset → the default.
        ("SENTRY_ENVIRONMENT", ""),
        ("SENTRY_TRACES_SAMPLE_RATE", "0.1"),
        // ${VAR}: unset, no default → empty (and listed in unset_variables).
        ("SENTRY_RELEASE", ""),
        // `KEY` alone: passed through from platform.env, or unset when nobody sets it.
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector:4317"),
        ("SENTRY_DSN", "(unset)"),
        // ${VAR:+alt}: set and not empty → alt; set but empty → empty.
        ("OTEL_SDK_DISABLED", "false"),
        ("PROFILING", ""),
        // ${VAR+alt}: set, even empty → alt.
        ("STATSD_PREFIX", "platform.api"),
        // ${VAR?err}: set but empty is accepted.
        ("METRICS_PREFIX", ""),
        // env_file values (api.env), a secret one redacted.
        ("WORKER_CONCURRENCY", "4"),
        ("LOG_FORMAT", "json"),
        ("SESSION_SECRET", "<redacted>"),
        // common.yaml's ${APP_ENV:-production}.
        ("APP_ENV", "production"),
    ] {
        assert_eq!(value("api", key), want, "api {key}");
        assert_eq!(value("worker", key), want, "worker {key}");
    }
    // ${LOG_LEVEL:-info}: set but empty → the default (the worker has no override); api.env's
    // LOG_LEVEL=warning loses to `environment`.
    assert_eq!(value("worker", "LOG_LEVEL"), "info");
    assert_eq!(value("api", "LOG_LEVEL"), "debug");
    // Where each value came from.
    let origin = |key: &str| {
        difference(&report, "worker", &format!("environment.{key}"))["source_origin"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(origin("WORKER_CONCURRENCY").ends_with("api.env"));
    assert!(origin("OTEL_EXPORTER_OTLP_ENDPOINT").ends_with("platform.env"));
    assert!(origin("LOG_LEVEL").ends_with("platform.v1.yaml"));
    assert!(origin("APP_ENV").ends_with("common.yaml"));

    // `$$` reaches the container as a literal `$` and is not interpolated.
    let d = difference(&report, "worker", "command");
    assert_eq!(
        d["source_value"],
        r#"sh -c "exec celery -A platform worker --concurrency=${WORKER_CONCURRENCY:-2}""#
    );
    assert_no_secret(&r);
}

#[test]
fn profiles_switch_services_on() {
    let profiled = |extra: &[&str]| {
        let r = run(in_upgrade()
            .arg("--json")
            .args(V1_LOCAL.split_whitespace())
            .args(extra)
            .arg("platform.resolved.yaml"));
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.json()
    };
    let report = profiled(&["--profile", "debug"]);
    assert_eq!(service(&report, "kafka-ui")["status"], "missing_in_target");
    assert_eq!(
        report["metadata"]["inactive_services"]["source"],
        json!({"migrate": ["migrate"]})
    );

    // COMPOSE_PROFILES from an env file, several at once; `migrate` extends api (image,
    // env_file, environment) but keeps its own depends_on and disabled healthcheck.
    let (_dir, profiles) = scratch("profiles.env", "COMPOSE_PROFILES=migrate,debug\n");
    let report = profiled(&["--env-file", profiles.to_str().unwrap()]);
    assert_eq!(service(&report, "kafka-ui")["status"], "missing_in_target");
    assert_eq!(service(&report, "migrate")["status"], "missing_in_target");
    assert_eq!(report["metadata"]["inactive_services"]["source"], json!({}));
    let r = run(in_upgrade()
        .args("validate --json --profile *".split_whitespace())
        .args(V1_LOCAL.split_whitespace()));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.json()["services"], 8);
}

/// 2023 → 2025, graded by the default rules (src/rules.rs).
#[test]
fn upgrade_2023_to_2025_is_graded() {
    let r = run(in_upgrade().arg("--json").args(UPGRADE.split_whitespace()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report = r.json();
    assert_eq!(report["overall_status"], "incompatible");
    assert_no_secret(&r);

    // Redis → Valkey under the same service name: another product → major.
    let d = difference(&report, "redis", "image.repository");
    fields(
        d,
        [
            ("severity", "major"),
            ("rule_id", "image.repository_changed"),
        ],
    );
    fields(
        d,
        [
            ("source_value", "docker.io/library/redis:7.2.4-alpine"),
            ("target_value", "docker.io/valkey/valkey:8.0.1-alpine"),
        ],
    );
    // Its command changed; the password in it is masked on both sides.
    let d = difference(&report, "redis", "command");
    fields(
        d,
        [
            (
                "source_value",
                "redis-server --appendonly yes --requirepass ***",
            ),
            (
                "target_value",
                "valkey-server --appendonly yes --requirepass ***",
            ),
        ],
    );
    assert_eq!(d["severity"], "minor");

    // cp-kafka 6.2.15 → 7.7.1: major version → major.
    let d = difference(&report, "kafka", "image.tag");
    fields(
        d,
        [
            ("severity", "major"),
            ("rule_id", "image.major_version_changed"),
        ],
    );
    fields(d, [("source_value", "6.2.15"), ("target_value", "7.7.1")]);
    // postgres 15.6 → 15.8-bookworm and the api 2.3.1 → 2.4.0: same major → minor.
    let d = difference(&report, "postgres", "image.tag");
    fields(d, [("severity", "minor"), ("rule_id", "image.tag_changed")]);
    assert_eq!(severity(&report, "api", "image.tag"), "minor");

    // KRaft: ZooKeeper's connect string only in the source, the controller settings only in
    // the target → major; the cluster id (a required variable) resolved from platform.v2.env.
    let d = difference(&report, "kafka", "environment.KAFKA_ZOOKEEPER_CONNECT");
    fields(d, [("severity", "major"), ("type", "missing_in_target")]);
    assert_eq!(d["source_value"], "zookeeper:2181");
    let d = difference(&report, "kafka", "environment.KAFKA_PROCESS_ROLES");
    fields(d, [("severity", "major"), ("type", "missing_in_source")]);
    assert_eq!(
        difference(&report, "kafka", "environment.CLUSTER_ID")["target_value"],
        "MkU3OEVBNTcwNTJENDM2Qk"
    );
    // A value change from the shared anchor → minor, its origin the compose file.
    let d = difference(&report, "kafka", "environment.KAFKA_LOG_RETENTION_HOURS");
    fields(
        d,
        [
            ("source_value", "168"),
            ("target_value", "72"),
            ("severity", "minor"),
        ],
    );
    assert!(
        d["source_origin"]
            .as_str()
            .unwrap()
            .ends_with("platform.v1.yaml")
    );
    assert!(
        d["target_origin"]
            .as_str()
            .unwrap()
            .ends_with("platform.v2.yaml")
    );
    // The dependency on ZooKeeper is gone → major.
    let d = difference(&report, "kafka", "depends_on.zookeeper");
    fields(
        d,
        [("severity", "major"), ("rule_id", "depends_on.missing")],
    );
    // A generic setting, keyed by its path → minor.
    assert_eq!(severity(&report, "kafka", "ulimits.nofile.soft"), "minor");
    // start_period `90s` then, `1m30s` now; interval 10s literal then, ${HEALTHCHECK_INTERVAL:-10s}
    // now: interpolated and normalised, no healthcheck difference.
    assert!(!has_difference(&report, "kafka", "healthcheck"));

    // ZooKeeper removed → the source runs a service the target lacks → minor.
    let z = service(&report, "zookeeper");
    assert_eq!(z["status"], "missing_in_target");
    fields(
        &z["differences"][0],
        [
            ("severity", "minor"),
            ("rule_id", "service.missing_in_target"),
        ],
    );
    // PgBouncer is new → the target runs a service the source lacks → major.
    let p = service(&report, "pgbouncer");
    assert_eq!(p["status"], "missing_in_source");
    assert_eq!(p["differences"][0]["severity"], "major");

    // The init-script mount is gone → incompatible (the only one).
    let d = difference(&report, "postgres", "volumes[/docker-entrypoint-initdb.d]");
    fields(
        d,
        [
            ("severity", "incompatible"),
            ("type", "missing_in_target"),
            ("rule_id", "volume.removed"),
        ],
    );
    assert_eq!(report["summary"]["incompatible"], 1);
    // The healthcheck's `$$` shows as the `$` the container's shell sees.
    let d = difference(&report, "postgres", "healthcheck.test");
    assert_eq!(
        d["source_value"],
        r#"CMD-SHELL "pg_isready -U ${POSTGRES_USER} -d ${POSTGRES_DB}""#
    );
    // HEALTHCHECK_TIMEOUT=15s through the shared anchor.
    let d = difference(&report, "redis", "healthcheck.timeout");
    fields(d, [("source_value", "5s"), ("target_value", "15s")]);

    // The api moved to PgBouncer (password masked), a second env_file rotated the session
    // secret (compared by hash, redacted) and raised the concurrency; each value's origin is
    // the env_file it came from.
    let d = difference(&report, "api", "environment.DATABASE_URL");
    fields(
        d,
        [
            (
                "source_value",
                "postgres://platform:***@postgres:5432/platform",
            ),
            (
                "target_value",
                "postgres://platform:***@pgbouncer:6432/platform",
            ),
        ],
    );
    let d = difference(&report, "api", "environment.SESSION_SECRET");
    fields(
        d,
        [
            ("source_value", "<redacted>"),
            ("target_value", "<redacted>"),
            ("rule_id", "env.secret_changed"),
        ],
    );
    assert!(d["source_origin"].as_str().unwrap().ends_with("api.env"));
    assert!(d["target_origin"].as_str().unwrap().ends_with("api.v2.env"));
    let d = difference(&report, "api", "environment.WORKER_CONCURRENCY");
    fields(d, [("source_value", "4"), ("target_value", "8")]);
    // The environment moved from list to map form: the same model, no difference there.
    for key in [
        "LOG_LEVEL",
        "SENTRY_DSN",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "REDIS_URL",
    ] {
        assert!(
            !has_difference(&report, "api", &format!("environment.{key}")),
            "{key}"
        );
    }
    // The api now waits for a healthy Kafka and no longer for postgres → major.
    assert_eq!(
        severity(&report, "api", "depends_on.kafka.condition"),
        "major"
    );
    assert_eq!(severity(&report, "api", "depends_on.postgres"), "major");

    assert_eq!(
        (
            report["summary"]["minor"].as_u64(),
            report["summary"]["major"].as_u64(),
            report["summary"]["services_different"].as_u64()
        ),
        (Some(18), Some(15), Some(5))
    );

    // The exit code follows the grade with --fail-on; --quiet prints nothing.
    for (fail_on, code) in [("minor", 1), ("major", 1), ("incompatible", 1)] {
        let q = run(in_upgrade().args(UPGRADE.split_whitespace()).args([
            "--quiet",
            "--fail-on",
            fail_on,
        ]));
        assert_eq!(q.code, code, "--fail-on {fail_on}");
        assert!(q.stdout.is_empty(), "--quiet prints nothing: {}", q.stdout);
    }
    // The human report says the same, without a secret.
    let h = run(in_upgrade().arg("--human").args(UPGRADE.split_whitespace()));
    assert_eq!(h.code, 0, "{}", h.stderr);
    assert!(h.stdout.contains("incompatible"), "{}", h.stdout);
    assert!(h.stdout.contains("volume.removed"), "{}", h.stdout);
    assert_no_secret(&h);
}

#[test]
fn an_environment_is_identical_to_itself_and_sides_swap() {
    let r = run(in_upgrade().args("--json --fail-on minor -f platform.v2.yaml --env-file platform.env --env-file platform.v2.env -F platform.v2.yaml --target-env-file platform.env --target-env-file platform.v2.env".split_whitespace()));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.json()["overall_status"], "identical");

    let ab = run(in_upgrade().arg("--json").args(UPGRADE.split_whitespace())).json();
    let ba = run(in_upgrade().args("--json -f platform.v2.yaml --env-file platform.env --env-file platform.v2.env -F platform.v1.yaml --target-env-file platform.env".split_whitespace()))
    .json();
    assert_mirrored(&ab, &ba);
    assert_eq!(
        ab["summary"]["differences_total"],
        ba["summary"]["differences_total"]
    );
    // Grades are not symmetric: a service or mount the target adds weighs differently from
    // one it drops.
    let z = service(&ba, "zookeeper");
    assert_eq!(
        (
            z["status"].as_str(),
            z["differences"][0]["severity"].as_str()
        ),
        (Some("missing_in_source"), Some("major"))
    );
    assert_eq!(service(&ba, "pgbouncer")["status"], "missing_in_target");
    let d = difference(&ba, "postgres", "volumes[/docker-entrypoint-initdb.d]");
    fields(d, [("severity", "minor"), ("rule_id", "volume.added")]);
    assert_eq!(ba["overall_status"], "major_differences");
}

#[test]
fn a_missing_required_variable_is_a_usage_error_naming_file_and_variable() {
    // 2025 needs KAFKA_CLUSTER_ID (`${KAFKA_CLUSTER_ID:?…}`), which only platform.v2.env sets.
    let r = run(in_upgrade().args("--json -f platform.v1.yaml --env-file platform.env -F platform.v2.yaml --target-env-file platform.env".split_whitespace()));
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr.contains("platform.v2.yaml")
            && r.stderr.contains("`KAFKA_CLUSTER_ID`")
            && r.stderr
                .contains("generate one with `kafka-storage random-uuid`"),
        "{}",
        r.stderr
    );
    assert_no_secret(&r);

    // `${METRICS_PREFIX?…}` accepts an empty value but not an unset one.
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join("platform.env");
    let text = std::fs::read_to_string(fixture("upgrade/platform.env")).unwrap();
    assert!(text.contains("\nMETRICS_PREFIX=\n"));
    std::fs::write(&env, text.replace("\nMETRICS_PREFIX=\n", "\n")).unwrap();
    let r = run(in_upgrade()
        .args(["validate", "platform.v1.yaml", "--env-file"])
        .arg(&env));
    assert_eq!(r.code, 2, "{}", r.stdout);
    r.stderr_has(&["platform.v1.yaml", "`METRICS_PREFIX`", "it may be empty"]);

    // `images` does not need credentials: the unset variable is reported, not fatal.
    let r = run(in_upgrade()
        .args("images --json platform.v2.yaml --digests ../IMAGE_DIGESTS".split_whitespace()));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc = r.json();
    let kafka = doc["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["service"] == "kafka")
        .unwrap();
    assert_eq!(kafka["status"], "missing");
}

#[test]
fn a_missing_env_file_fails_unless_optional() {
    // api.local.env is `required: false` and absent: the identity test loads without it.
    assert!(!fixture("upgrade").join("api.local.env").exists());
    // A required env_file that does not exist is a usage error naming it.
    let (_dir, compose) = scratch(
        "compose.yaml",
        "services:\n  api:\n    image: ghcr.io/acme/platform-api:2.3.1\n    env_file: [api.secrets.env]\n",
    );
    let r = run(cmd().arg("validate").arg(&compose));
    assert_eq!(r.code, 2, "{}", r.stdout);
    r.stderr_has(&["api.secrets.env", "does not exist"]);
}

#[test]
fn validate_grades_both_files() {
    let v1 = run(in_upgrade()
        .args("validate --json --env-file platform.env platform.v1.yaml".split_whitespace()));
    assert_eq!(v1.code, 0, "{}{}", v1.stdout, v1.stderr);
    let doc = v1.json();
    assert_eq!(doc["kind"], "configuration_validation");
    assert_eq!(
        (doc["valid"].as_bool(), doc["services"].as_u64()),
        (Some(true), Some(6))
    );
    assert_eq!(doc["findings"], json!([]));

    let v2 = run(in_upgrade().args(
        "validate --json --env-file platform.env --env-file platform.v2.env platform.v2.yaml"
            .split_whitespace(),
    ));
    assert_eq!(v2.code, 1, "{}{}", v2.stdout, v2.stderr);
    let doc = v2.json();
    let mut findings: Vec<(String, String)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                f["service"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    findings.sort();
    // HEALTHCHECK_TIMEOUT=15s exceeds the 10s interval of every service that takes the
    // shared healthcheck anchor unchanged; kafka overrides both and is not flagged. PgBouncer
    // came without a healthcheck. No cycles, no undefined dependencies.
    let want = [
        ("healthcheck_interval_ge_timeout", "postgres"),
        ("healthcheck_interval_ge_timeout", "redis"),
        ("infrastructure_healthcheck", "pgbouncer"),
    ]
    .map(|(a, b)| (a.to_string(), b.to_string()));
    assert_eq!(findings, want);
}
