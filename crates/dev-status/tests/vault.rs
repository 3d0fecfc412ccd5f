//! The vault probe (`GET /v1/sys/health`) against a real OpenBao (Vault's API): a dev server
//! (initialised, unsealed, active), the same server sealed through the API, and a server with
//! persistent raft storage that nobody initialised yet. Without VAULT_ADDR it is skipped.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use devenv_core::bundle::Bundle;
use devenv_testkit::OpenBao;
use serde_json::Value;

fn vault_bundle(dir: &Path, name: &str, addr: Option<&str>) -> PathBuf {
    let mut bundle = Bundle::new();
    if let Some(addr) = addr {
        bundle.set("VAULT_ADDR", addr);
    }
    write_bundle(dir, name, &bundle)
}

/// `dev-status --json --only vault` on `env`: (exit code, the vault entry, whole output); the
/// document is checked against the schema.
fn probe(dir: &Path, env: &Path) -> (i32, Value, String) {
    let (code, doc, stderr) = run_json(
        dev_status(dir)
            .args(["--only", "vault", "--threshold-ms", "5000", "--env-file"])
            .arg(env),
    );
    assert_valid(&doc, "status.schema.json");
    let entry = component(&doc, "vault").clone();
    (code, entry, format!("{doc}\n{stderr}"))
}

fn message(entry: &Value) -> &str {
    entry["message"].as_str().unwrap_or_default()
}

#[test]
fn a_dev_server_is_healthy_and_unhealthy_once_sealed() {
    let bao = OpenBao::start();
    let dir = tempfile::tempdir().unwrap();
    let env = vault_bundle(dir.path(), ".env.local", Some(&bao.addr()));

    let (code, entry, out) = probe(dir.path(), &env);
    assert_eq!(code, 0, "{out}");
    assert_eq!(entry["state"], "healthy", "{entry}");
    assert_eq!(entry["class"], Value::Null);
    assert!(
        message(&entry).starts_with("initialised, unsealed, active (HTTP 200, "),
        "{entry}"
    );
    assert_eq!(entry["endpoint"], bao.addr());

    bao.seal();
    let (code, entry, out) = probe(dir.path(), &env);
    assert_eq!(code, 1, "{out}");
    assert_eq!(entry["state"], "unhealthy", "{entry}");
    assert_eq!(entry["class"], "misconfigured", "{entry}");
    let text = message(&entry);
    assert!(
        text.contains("is sealed") && text.contains("make up") && text.contains("init.json"),
        "{text}"
    );
    assert!(!out.contains(&bao.root_token), "{out}");

    bao.unseal();
    let (code, entry, out) = probe(dir.path(), &env);
    assert_eq!(
        (code, entry["state"].as_str()),
        (0, Some("healthy")),
        "{out}"
    );
}

#[test]
fn a_server_nobody_initialised_is_unhealthy() {
    let data = tempfile::tempdir().unwrap();
    let bao = OpenBao::start_persistent(&data.path().join("raft"));
    assert_eq!(bao.health().status, 501);
    let dir = tempfile::tempdir().unwrap();
    let env = vault_bundle(dir.path(), ".env.local", Some(&bao.addr()));
    let (code, entry, out) = probe(dir.path(), &env);
    assert_eq!(code, 1, "{out}");
    assert_eq!(entry["state"], "unhealthy", "{entry}");
    assert_eq!(entry["class"], "misconfigured", "{entry}");
    let text = message(&entry);
    assert!(
        text.contains("is not initialised") && text.contains("make up PROFILES=vault"),
        "{text}"
    );
    assert!(
        !text.contains("sealed"),
        "not initialised comes first: {text}"
    );
}

#[test]
fn without_vault_addr_it_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let env = vault_bundle(dir.path(), ".env.local", None);
    let (code, entry, out) = probe(dir.path(), &env);
    assert_eq!(code, 0, "{out}");
    assert_eq!(entry["state"], "skipped", "{entry}");
    assert_eq!(entry["class"], Value::Null);
    assert!(message(&entry).contains("VAULT_ADDR is not set"), "{entry}");
}
