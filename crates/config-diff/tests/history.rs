//! Kept parity reports (issue 19): `diff --save` keeps each report under a timestamped name and
//! as latest.json, prunes to `--keep`, and `history` lists them newest first.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// What `make parity` runs (scripts/dev/parity.sh), with the test bundle, saving into `dir`.
fn parity_run(dir: &Path, extra: &[&str]) -> Run {
    let mut c = cmd();
    c.current_dir(repo_root())
        .args("--quiet diff -f dev/compose.local.yaml --env-file".split_whitespace())
        .arg(fixture("local.env"))
        .args(
            "configs/parity/staging.yaml --rules configs/parity/rules.yaml \
             --baseline configs/parity/baseline.yaml --fail-on incompatible --save-dir"
                .split_whitespace(),
        )
        .arg(dir)
        .args(extra);
    run(&mut c)
}

/// The platform upgrade: an incompatible report, for a status that differs from parity's.
fn upgrade_run(dir: &Path) -> Run {
    let mut c = in_upgrade();
    c.arg("--quiet")
        .args(UPGRADE.split_whitespace())
        .arg("--save-dir")
        .arg(dir);
    run(&mut c)
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn history(dir: &Path) -> Run {
    let mut c = cmd();
    c.args(["history", "--json", "--dir"]).arg(dir);
    run(&mut c)
}

fn history_schema_errors(doc: &Value) -> Vec<String> {
    devenv_testkit::schema::errors(&crate_dir().join("schema/history.schema.json"), doc)
}

#[test]
fn two_parity_runs_keep_two_reports_and_latest_and_history_lists_both() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports/config-diffs");
    let first = upgrade_run(&reports);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let second = parity_run(&reports, &[]);
    assert_eq!(second.code, 0, "{}", second.stderr);

    let names = files(&reports);
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.contains(&"latest.json".to_string()), "{names:?}");
    let newest = names.iter().filter(|n| *n != "latest.json").max().unwrap();
    assert_eq!(
        std::fs::read(reports.join("latest.json")).unwrap(),
        std::fs::read(reports.join(newest)).unwrap(),
        "latest.json is the newest report"
    );

    let r = history(&reports);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = r.json();
    let errors = history_schema_errors(&doc);
    assert!(errors.is_empty(), "{errors:#?}\n{doc:#}");
    assert_eq!(doc["kind"], "configuration_diff_history");
    let listed = doc["reports"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{doc:#}");
    assert_eq!(listed[0]["file"], newest.as_str(), "newest first");
    assert_eq!(listed[0]["overall_status"], "minor_differences");
    assert_eq!(listed[0]["target"], "staging");
    assert!(listed[0]["counts"]["accepted"].as_u64().unwrap() > 0);
    assert_eq!(listed[1]["overall_status"], "incompatible");
    assert!(listed[1]["counts"]["incompatible"].as_u64().unwrap() > 0);
    assert!(listed[0]["timestamp"].as_str() > listed[1]["timestamp"].as_str());

    // The table, for people.
    let mut c = cmd();
    c.args(["history", "--dir"]).arg(&reports);
    let table = run(&mut c);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.contains("incompatible"), "{}", table.stdout);
    assert!(
        table.stdout.contains("minor_differences"),
        "{}",
        table.stdout
    );
    assert!(table.stdout.contains(newest.as_str()), "{}", table.stdout);
}

#[test]
fn keep_prunes_the_oldest_reports() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..3 {
        let r = parity_run(dir.path(), &["--keep", "2"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let names = files(dir.path());
    assert_eq!(names.len(), 3, "two reports and latest.json: {names:?}");
    assert_eq!(
        history(dir.path()).json()["reports"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn save_without_a_dir_keeps_reports_in_the_workspace() {
    let root = tempfile::tempdir().unwrap();
    let mut c = in_upgrade();
    c.env("DEVENV_ROOT", root.path())
        .args("--quiet --save".split_whitespace())
        .args(UPGRADE.split_whitespace());
    assert_eq!(run(&mut c).code, 0);
    let mut c = cmd();
    c.env("DEVENV_ROOT", root.path())
        .args(["history", "--json"]);
    let r = run(&mut c);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let doc = r.json();
    assert!(
        doc["dir"]
            .as_str()
            .unwrap()
            .ends_with("reports/config-diffs"),
        "{doc}"
    );
    assert_eq!(doc["reports"][0]["overall_status"], "incompatible");
}

#[test]
fn no_saved_reports_names_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cmd();
    c.args(["history", "--dir"]).arg(dir.path());
    let r = run(&mut c);
    assert_eq!(r.code, i32::from(devenv_core::exit::FAILED), "{}", r.stderr);
    r.stderr_has(&["no saved reports", "make parity"]);

    // A stranger's file in the directory is named, not silently listed.
    std::fs::write(dir.path().join("2026-01-01T00-00-00.000Z.json"), "{}").unwrap();
    let r = run(&mut c);
    assert_eq!(r.code, 2, "{}", r.stderr);
    r.stderr_has(&[
        "2026-01-01T00-00-00.000Z.json",
        "not a saved config-diff report",
    ]);
}
