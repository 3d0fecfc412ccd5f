//! Helpers shared by the integration tests: run the real binary against bundles in temp dirs.
#![allow(dead_code)]

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use devenv_core::bundle::Bundle;
use serde_json::Value;

/// The binary, isolated from the caller's workspace: its own DEVENV_ROOT, no colour, no
/// inherited selection of bundle or config.
pub fn dev_status(root: &Path) -> assert_cmd::Command {
    assert_cmd::Command::from_std(dev_status_process(root))
}

/// [`dev_status`] as a `std::process::Command`, for tests that talk to the running process.
pub fn dev_status_process(root: &Path) -> std::process::Command {
    let mut cmd = devenv_testkit::cmd::command("dev-status");
    cmd.env("DEVENV_ROOT", root);
    cmd
}

/// Runs and returns (exit code, stderr), for runs whose stdout does not matter.
pub fn run_stderr(cmd: &mut assert_cmd::Command) -> (i32, String) {
    let out = cmd.output().expect("run dev-status");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes a bundle as `.env.local`-style dotenv and returns its path.
pub fn write_bundle(dir: &Path, name: &str, bundle: &Bundle) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bundle.to_dotenv("test bundle")).expect("write bundle");
    path
}

/// Runs and returns (exit code, parsed stdout JSON, stderr).
pub fn run_json(cmd: &mut assert_cmd::Command) -> (i32, Value, String) {
    let out = cmd.output().expect("run dev-status");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("stdout is not one JSON document ({e}):\n{stdout}\nstderr:\n{stderr}")
    });
    (out.status.code().unwrap_or(-1), doc, stderr)
}

/// Fails when any of the stack's passwords appears in `text`.
pub fn assert_no_secret(stack: &devenv_testkit::Stack, text: &str) {
    for secret in [
        &stack.postgres.password,
        &stack.redis.password,
        &stack.nats.password,
        &stack.s3.secret_key,
    ] {
        assert!(
            !text.contains(secret.as_str()),
            "a password leaked:\n{text}"
        );
    }
}

/// The component entry of a status document.
pub fn component<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["components"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["component"] == name))
        .unwrap_or_else(|| panic!("no component {name} in {doc}"))
}

/// A loopback listener that accepts connections and never answers: a blackholed service.
/// Accepted sockets are kept open until the listener is dropped.
pub struct Blackhole {
    pub port: u16,
    _held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Blackhole {
    pub fn start() -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind blackhole");
        let port = listener.local_addr().unwrap().port();
        let held = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&held);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                keep.lock().unwrap().push(stream);
            }
        });
        Self { port, _held: held }
    }
}

/// A loopback port with nothing listening.
pub fn closed_port() -> u16 {
    devenv_testkit::free_port()
}

/// Validates a document against a committed JSON Schema with the workspace's one validator
/// (devenv_testkit::schema: Python's `jsonschema` from the project venv).
pub fn assert_valid(doc: &Value, schema: &str) {
    devenv_testkit::schema::assert_valid(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("schema")
            .join(schema),
        doc,
    );
}

/// The stack's Redis credentials pointed at another port (a blackhole, another server).
pub fn redis_url_at(stack: &devenv_testkit::Stack, port: u16) -> String {
    format!("redis://:{}@127.0.0.1:{port}/0", stack.redis.password)
}
