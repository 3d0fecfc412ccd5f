//! The state machine and event stream as the scripts drive them.

use assert_cmd::Command;
use std::os::unix::process::CommandExt as _;

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

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn script_events_have_one_schema_numbers_and_the_one_key_rule() {
    let dir = tempfile::tempdir().unwrap();
    devenv(dir.path())
        .env("USER", "dev")
        .args([
            "event",
            "up_finished",
            "--source",
            "scripts/up",
            "count=3",
            "ratio=0.5",
            "changed=true",
            "S3_ACCESS_KEY=AKIAEXAMPLE",
            "S3_SECRET_KEY=do-not-show-1",
            "started=postgres redis",
        ])
        .assert()
        .success();
    let text = std::fs::read_to_string(dir.path().join(".devenv/events.jsonl")).unwrap();
    let event: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(event["count"], 3, "numbers as numbers: {event}");
    assert_eq!(event["ratio"], 0.5);
    assert_eq!(event["changed"], true);
    assert_eq!(event["started"], "postgres redis");
    assert_eq!(event["actor"], "dev");
    assert_eq!(event["source"], "scripts/up");
    // The access key is not a secret (DESIGN.md); the secret key never lands.
    assert_eq!(event["S3_ACCESS_KEY"], "AKIAEXAMPLE");
    assert!(!text.contains("do-not-show-1"), "{text}");
}

#[test]
fn the_mode_rule_is_mode_then_devenv_mode() {
    let dir = tempfile::tempdir().unwrap();
    let mode = |vars: &[(&str, &str)]| {
        let mut cmd = devenv(dir.path());
        cmd.env_remove("MODE").env_remove("DEVENV_MODE");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.args(["mode", "--bundle"]);
        cmd
    };
    let bundle = stdout_of(&mut mode(&[("MODE", "remote"), ("DEVENV_MODE", "local")]));
    assert!(bundle.trim().ends_with(".env.linode"), "{bundle}");
    let bundle = stdout_of(&mut mode(&[("DEVENV_MODE", "remote")]));
    assert!(bundle.trim().ends_with(".env.linode"), "{bundle}");
    let bundle = stdout_of(&mut mode(&[]));
    assert!(bundle.trim().ends_with(".env.local"), "{bundle}");
    let out = mode(&[("MODE", "staging")])
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("MODE=staging"));
}

#[test]
fn summary_lists_services_with_passwords_masked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env.local");
    std::fs::write(
        &path,
        "POSTGRES_PASSWORD='pg-Secret-77'\n\
         DATABASE_URL='postgres://devenv:pg-Secret-77@127.0.0.1:5432/devenv'\n\
         REDIS_PASSWORD='rd%Secret/88'\n\
         REDIS_URL='redis://:rd%25Secret%2F88@127.0.0.1:6379/0'\n\
         NATS_URL='nats://127.0.0.1:4222'\nNATS_USER='devenv'\nNATS_PASSWORD='nats-Secret-99'\n\
         NATS_MONITOR_PORT='8222'\n\
         S3_ENDPOINT='http://127.0.0.1:9000'\nS3_BUCKET='devenv'\nS3_ACCESS_KEY='AKIAEXAMPLE'\n\
         S3_SECRET_KEY='s3-Secret-11'\n",
    )
    .unwrap();
    let out = stdout_of(devenv(dir.path()).args(["summary", "--bundle", path.to_str().unwrap()]));
    for secret in [
        "pg-Secret-77",
        "rd%Secret/88",
        "rd%25Secret%2F88",
        "nats-Secret-99",
        "s3-Secret-11",
    ] {
        assert!(!out.contains(secret), "{secret} leaked: {out}");
    }
    assert!(
        out.contains("postgres://devenv:***@127.0.0.1:5432/devenv"),
        "{out}"
    );
    assert!(out.contains("access key AKIAEXAMPLE"), "{out}");
    assert!(!out.contains("mock-inference"), "no key, no line: {out}");
    assert!(out.contains("credentials"), "{out}");
}

#[test]
fn which_finds_programs_and_names_the_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let found = stdout_of(devenv(dir.path()).args(["which", "sh"]));
    assert!(found.trim().ends_with("/sh"), "{found}");
    let out = devenv(dir.path())
        .args(["which", "sh", "no-such-program-xyz"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-program-xyz"));
    let path = stdout_of(devenv(dir.path()).args(["which", "--path"]));
    assert!(path.contains("/usr/sbin"), "{path}");
}

#[test]
fn pid_files_refuse_a_reused_pid() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    devenv(dir.path())
        .args(["pid", "record", "redis", &pid])
        .assert()
        .success();
    assert_eq!(
        stdout_of(devenv(dir.path()).args(["pid", "check", "redis"])).trim(),
        pid
    );
    // The same pid with another start time: what a reboot or pid reuse leaves behind.
    let file = dir.path().join(".devenv/run/redis.pid");
    std::fs::write(&file, format!("{pid}\nstart_time 1\n")).unwrap();
    devenv(dir.path())
        .args(["pid", "check", "redis"])
        .assert()
        .code(1);
    child.kill().unwrap();
    child.wait().unwrap();
    devenv(dir.path())
        .args(["pid", "check", "redis"])
        .assert()
        .code(1);
}

#[test]
fn json_builds_objects_scripts_used_to_hand_write() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of(devenv(dir.path()).args([
        "json",
        "owner=a \"quoted\" name\\",
        "ttl_hours:=24",
        "keys[]=ssh-ed25519 AAAA one",
        "keys[]=ssh-ed25519 BBBB two",
    ]));
    let value: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(value["owner"], "a \"quoted\" name\\");
    assert_eq!(value["ttl_hours"], 24);
    assert_eq!(value["keys"][1], "ssh-ed25519 BBBB two");
    devenv(dir.path())
        .args(["json", "ttl_hours:=24h"])
        .assert()
        .code(2);
    devenv(dir.path())
        .args(["json", "no-equals"])
        .assert()
        .code(2);
}

#[test]
fn logs_are_prefixed_by_service_and_plain_through_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join(".devenv/logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("redis.log"), "r1\nr2\nr3\n").unwrap();
    std::fs::write(logs.join("postgres.log"), "p1\n").unwrap();
    let out = stdout_of(devenv(dir.path()).args(["logs", "--follow", "0", "--lines", "2"]));
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        ["postgres | p1", "redis    | r2", "redis    | r3"],
        "{out}"
    );
    assert!(!out.contains('\x1b'));
    devenv(dir.path())
        .args(["logs", "--follow", "0", "--service", "nats"])
        .assert()
        .code(2);
}

#[test]
fn a_snapshot_with_a_flipped_byte_is_refused_and_the_live_data_kept() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join(".devenv/data/s3/bucket");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("object"), "first").unwrap();
    // No service runs (no pid files): the copy needs no stop/start, so the ctl is never called.
    let ctl = ["--ctl", "/bin/false"];
    devenv(dir.path())
        .args(["snapshot", "create", "a", "--services", "s3"])
        .args(ctl)
        .assert()
        .success();
    let snap = dir.path().join(".devenv/snapshots/a");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(snap.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        manifest["services"]["s3"]["files"]["bucket/object"]["size"],
        5
    );
    std::fs::write(data.join("object"), "second").unwrap();
    devenv(dir.path())
        .args(["snapshot", "restore", "a"])
        .args(ctl)
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(data.join("object")).unwrap(),
        "first"
    );

    std::fs::write(data.join("object"), "third").unwrap();
    std::fs::write(snap.join("s3/bucket/object"), "fIrst").unwrap();
    let err = devenv(dir.path())
        .args(["snapshot", "restore", "a"])
        .args(ctl)
        .assert()
        .code(3)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&err).contains("bucket/object"));
    assert_eq!(
        std::fs::read_to_string(data.join("object")).unwrap(),
        "third"
    );
    devenv(dir.path())
        .args(["snapshot", "verify", "a"])
        .assert()
        .code(3);
    let list = stdout_of(devenv(dir.path()).args(["snapshot", "list"]));
    assert!(
        list.lines()
            .any(|l| l.starts_with("a ") && l.ends_with("s3")),
        "{list}"
    );
}

#[test]
fn the_lock_makes_a_second_command_wait_and_time_out_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    // Its own process group, so killing the group also ends the `sleep` it runs (a leftover
    // `sleep` would hold the test's output pipes open: nextest reports it as leaky).
    let mut holder = std::process::Command::new(assert_cmd::cargo::cargo_bin("devenv"))
        .env("DEVENV_ROOT", dir.path())
        .args(["lock", "--label", "first holder", "--", "sleep", "30"])
        .process_group(0)
        .spawn()
        .unwrap();
    let record = dir.path().join(".devenv/lifecycle.lock.holder");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !std::fs::read_to_string(&record).is_ok_and(|t| t.contains("first holder")) {
        assert!(
            std::time::Instant::now() < deadline,
            "the holder never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let err = devenv(dir.path())
        .args(["lock", "--timeout", "1", "--", "true"])
        .assert()
        .code(4)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&err);
    assert!(
        err.contains(&format!("held by pid {} (`first holder`)", holder.id())),
        "{err}"
    );
    let group = format!("-{}", holder.id());
    let killed = std::process::Command::new("kill")
        .args(["-KILL", "--", &group])
        .status()
        .unwrap();
    assert!(killed.success(), "kill -KILL -- {group} failed");
    holder.wait().unwrap();
    // Killed: the kernel dropped its lock; the next command takes it over and says so.
    let err = devenv(dir.path())
        .args(["lock", "--timeout", "5", "--", "sh", "-c", "exit 7"])
        .assert()
        .code(7)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&err).contains("taking over"));
}

#[test]
fn completions_are_generated_for_each_shell() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, needle) in [
        ("bash", "_devenv()"),
        ("zsh", "#compdef devenv"),
        ("fish", "complete -c devenv"),
    ] {
        let out = stdout_of(devenv(dir.path()).args(["completions", shell]));
        assert!(out.contains(needle), "{shell}: {out}");
        assert!(out.contains("snapshot"), "{shell}");
    }
}

#[test]
fn free_ports_prints_distinct_ports_a_server_can_bind() {
    let dir = tempfile::tempdir().unwrap();
    let out = devenv(dir.path())
        .args(["free-ports", "13"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let ports: Vec<u16> = String::from_utf8_lossy(&out)
        .lines()
        .map(|l| l.parse().expect("one port per line"))
        .collect();
    let mut unique = ports.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 13, "{ports:?}");
    for port in ports {
        std::net::TcpListener::bind(("127.0.0.1", port)).expect("free once printed");
    }
    let err = devenv(dir.path())
        .args(["free-ports", "0"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&err).contains("1..=1000"));
}
