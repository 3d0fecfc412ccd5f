//! Runs the real `config-diff` binary over small fixtures (tests/fixtures) and the
//! repository's own dev/ and configs/parity/ files. The platform upgrade fixtures are in
//! tests/upgrade.rs; the real-world corpus suite (DEVENV_CORPUS_DIR) is tests/corpus.rs.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn compose_semantics_merge_to_the_hand_written_result() {
    // base.yaml + override.yaml (override rules), anchors and `<<:`, x-* fields, extends
    // (same file and another file), profiles, every interpolation form, `$$`, list/map
    // environment, short/long ports and volumes, durations — must equal merged.yaml.
    let r = run(in_fixtures().args(
        "--json --fail-on minor -f base.yaml -f override.yaml --env-file fixture.env merged.yaml"
            .split_whitespace(),
    ));
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
    let r = run(in_fixtures().args(
        "--json --profile debug -f base.yaml -f override.yaml --env-file fixture.env merged.yaml"
            .split_whitespace(),
    ));
    assert_eq!(service(&r.json(), "debug")["status"], "missing_in_target");

    // Without the override file, the differences are exactly the override's contents.
    let r = run(in_fixtures()
        .args("--json -f base.yaml --env-file fixture.env merged.yaml".split_whitespace()));
    let report = r.json();
    let d = difference(&report, "db", "environment.POSTGRES_USER");
    fields(d, [("source_value", "app"), ("target_value", "overridden")]);
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
    r.stderr_has(&["base.yaml", "DB_PASSWORD", "set DB_PASSWORD in fixture.env"]);
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
    r.stderr_has(&["extends-cycle.yaml", "`extends` cycle: a → b → a"]);
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
        r.stderr_has(&["malformed.yaml:4:4: malformed YAML"]);
        assert!(r.stdout.is_empty());
    }
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
        r.assert_no_secret(&secrets);
        assert!(r.stdout.contains("<redacted>"), "{}", r.stdout);
    }
    let saved: Vec<_> = std::fs::read_dir(root.path().join("reports/config-diffs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(saved.len(), 3, "two reports and latest.json: {saved:?}");
    for path in saved {
        let text = std::fs::read_to_string(&path).unwrap();
        for s in secrets {
            assert!(!text.contains(s), "{s} in {}", path.display());
        }
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["schema_version"], 1);
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(name.ends_with("Z.json") || name == "latest.json", "{name}");
    }
}

#[test]
fn parity_of_the_repository_has_nothing_unexpected_above_minor() {
    let root = repo_root();
    // The file is part of the repository: without it this test has nothing to check, so it
    // fails instead of passing.
    let local = root.join("dev/compose.local.yaml");
    assert!(local.is_file(), "{} is missing", local.display());
    let mut c = cmd();
    c.current_dir(&root)
        .args("--json --fail-on major -f dev/compose.local.yaml --env-file".split_whitespace());
    c.arg(fixture("local.env")).args("configs/parity/staging.yaml --rules configs/parity/rules.yaml --baseline configs/parity/baseline.yaml".split_whitespace());
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
    let r =
        run(in_fixtures()
            .args("images --json images.yaml --digests IMAGE_DIGESTS".split_whitespace()));
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

    let (_dir, bad) = scratch("IMAGE_DIGESTS", "# ok\npostgres:15@sha256:abc\n");
    let r = run(in_fixtures()
        .args(["images", "images.yaml", "--digests"])
        .arg(&bad));
    assert_eq!(r.code, 2);
    r.stderr_has(&["IMAGE_DIGESTS:2:", "64 lowercase hex"]);
}

/// Issue 15: `-v` before the subcommand used to turn `validate f` into `diff -v validate f`.
#[test]
fn a_global_flag_before_the_subcommand_keeps_the_subcommand() {
    for args in [
        ["-v", "validate", "--json", "cycles.yaml"],
        ["--json", "-v", "validate", "cycles.yaml"],
    ] {
        let r = run(in_fixtures().args(args));
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert_eq!(r.json()["kind"], "configuration_validation", "{args:?}");
    }
    // And a flag before the two paths of the default subcommand still means `diff`.
    let r = run(in_fixtures().args("-v --json merged.yaml merged.yaml".split_whitespace()));
    assert_eq!(
        r.json()["kind"],
        "configuration_diff_report",
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
    assert_eq!(
        run(cmd().args("--fail-on huge a b".split_whitespace())).code,
        2
    );
    let r = run(&mut cmd());
    assert_eq!(r.code, 2);
    r.stderr_has(&["no source environment given"]);
    let r = run(cmd().args(["/nonexistent/a.yaml", "/nonexistent/b.yaml"]));
    assert_eq!(r.code, 2);
    r.stderr_has(&["/nonexistent/a.yaml"]);
}

/// The JSON report matches the committed JSON Schema (checked by a small validator for the
/// keywords the schema uses: type, enum, required, properties, additionalProperties, items,
/// $ref, minimum, minLength).
#[test]
fn json_report_matches_the_committed_schema() {
    // The platform upgrade (every kind of difference, secrets, origins) and the repository's
    // own parity report (rules file, baseline, accepted differences).
    let upgrade = run(in_upgrade().arg("--json").args(UPGRADE.split_whitespace()));
    assert_eq!(upgrade.code, 0, "{}", upgrade.stderr);
    let parity = {
        let mut c = cmd();
        c.current_dir(repo_root())
            .args("--json -f dev/compose.local.yaml --env-file".split_whitespace())
            .arg(fixture("local.env"))
            .args("configs/parity/staging.yaml --baseline configs/parity/baseline.yaml --rules configs/parity/rules.yaml".split_whitespace());
        run(&mut c)
    };
    assert_eq!(parity.code, 0, "{}", parity.stderr);
    let cases = [upgrade.json(), parity.json()];
    assert_eq!(cases[0]["overall_status"], "incompatible");
    assert!(cases[1]["summary"]["accepted"].as_u64().unwrap() > 0);
    for doc in &cases {
        let errors = schema_errors(doc);
        assert!(errors.is_empty(), "{errors:#?}");
    }
    // The validator itself catches violations.
    let mut broken = cases[0].clone();
    broken["overall_status"] = "fine".into();
    broken["summary"].as_object_mut().unwrap().remove("minor");
    let errors = schema_errors(&broken);
    assert_eq!(errors.len(), 2, "{errors:?}");
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
