//! `secrets-sync --mode local` end to end: the real binary in a throwaway git workspace.

mod support;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;

use assert_cmd::Command;
use devenv_core::bundle::Bundle;
use support::run;

/// The shared fixture workspace, driven in local mode with human output.
struct Workspace(support::Workspace);

impl Workspace {
    fn new() -> Self {
        Self(support::Workspace::new())
    }

    fn root(&self) -> &std::path::Path {
        self.0.root()
    }

    fn port(&self, name: &str) -> u16 {
        self.0.port(name)
    }

    fn cmd(&self) -> Command {
        let mut cmd = self.0.cmd();
        cmd.args(["--mode", "local", "--human"]);
        cmd
    }

    fn bundle(&self) -> Bundle {
        self.0.bundle(".env.local")
    }
}

#[test]
fn writes_a_complete_private_bundle_and_keeps_it_stable() {
    let ws = Workspace::new();
    let (stdout, stderr) = run(&mut ws.cmd(), 0);
    let path = ws.root().join(".env.local");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let first = ws.bundle();
    for key in devenv_core::bundle::KEYS {
        assert!(
            first.get(key).is_some_and(|v| !v.is_empty()),
            "{key} missing"
        );
    }
    assert_eq!(
        first.get("POSTGRES_PORT"),
        Some(ws.port("postgres").to_string().as_str())
    );
    let password = first.get("POSTGRES_PASSWORD").unwrap().to_string();
    assert!(password.len() >= 32);
    assert_ne!(password, first.get("REDIS_PASSWORD").unwrap());
    let printed = format!("{stdout}{stderr}");
    for key in [
        "POSTGRES_PASSWORD",
        "REDIS_PASSWORD",
        "NATS_PASSWORD",
        "S3_SECRET_KEY",
    ] {
        assert!(
            !printed.contains(first.get(key).unwrap()),
            "{key} leaked: {printed}"
        );
    }

    // Second run: same credentials, file untouched.
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    let (stdout, _) = run(&mut ws.cmd(), 0);
    assert!(stdout.contains("unchanged"), "{stdout}");
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        before
    );

    // Deleting the bundle does not rotate the credentials (data dirs were initialised with them).
    std::fs::remove_file(&path).unwrap();
    ws.cmd().assert().success();
    assert_eq!(
        ws.bundle().get("POSTGRES_PASSWORD"),
        Some(password.as_str())
    );
    let events = std::fs::read_to_string(ws.root().join(".devenv/events.jsonl")).unwrap();
    assert!(events.contains("\"bundle_synced\""));
    assert!(!events.contains(&password));
}

#[test]
fn taken_port_is_reassigned_or_refused_in_strict_mode() {
    let ws = Workspace::new();
    let redis_port = ws.port("redis");
    let squatter = TcpListener::bind(("127.0.0.1", redis_port)).unwrap();
    let (_, stderr) = run(&mut ws.cmd(), 0);
    let pid = std::process::id();
    assert!(
        stderr.contains(&format!("port {redis_port} for redis is taken by")),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("pid {pid}")), "{stderr}");
    let chosen: u16 = ws.bundle().get("REDIS_PORT").unwrap().parse().unwrap();
    assert_ne!(chosen, redis_port);
    assert!(
        ws.bundle()
            .get("REDIS_URL")
            .unwrap()
            .contains(&format!(":{chosen}/"))
    );

    let strict = Workspace::new();
    let port = strict.port("postgres");
    let _squatter2 = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let (_, stderr) = run(strict.cmd().env("DEVENV_STRICT_PORTS", "1"), 2);
    assert!(
        stderr.contains(&format!("port {port} for postgres is taken by")),
        "{stderr}"
    );
    assert!(!strict.root().join(".env.local").exists());
    drop(squatter);
}

#[test]
fn malformed_ports_file_is_a_usage_error_naming_file_and_line() {
    let ws = Workspace::new();
    let path = ws.root().join("configs/ports.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let broken = text.replacen("redis:", "redis: [", 1);
    std::fs::write(&path, broken).unwrap();
    let (_, stderr) = run(&mut ws.cmd(), 2);
    assert!(stderr.contains("configs/ports.yaml:"), "{stderr}");
    assert!(!ws.root().join(".env.local").exists());
}

#[test]
fn bundle_path_git_would_track_is_refused_and_nothing_is_written() {
    let ws = Workspace::new();
    std::fs::write(ws.root().join(".gitignore"), "target/\n").unwrap();
    let (_, stderr) = run(&mut ws.cmd(), 3);
    assert!(stderr.contains("git does not ignore it"), "{stderr}");
    assert!(!ws.root().join(".env.local").exists());
    assert!(!ws.root().join(".devenv/credentials.env").exists());
}
