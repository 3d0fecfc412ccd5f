//! `secrets-sync vault-bootstrap` against a real OpenBao as the vault profile runs it: raft
//! storage on disk, started uninitialised and sealed (devenv_testkit::PersistentBao). Each
//! test is a throwaway workspace (tests/support) and its own server; what the server holds is
//! asked of the server, with the root token the bootstrap kept or with the AppRole login it set
//! up. Every run's stdout/stderr and the workspace's events.jsonl are searched for the unseal
//! key, the root token, every secret_id and the seeded credentials, in every encoded form.

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

use devenv_core::bundle::Bundle;
use devenv_testkit::{BaoApi, OpenBao, PersistentBao};
use serde_json::{Value, json};
use support::*;

/// The local mode's paths in the shipped configs/secrets.yaml (KV v2 mount `secret`).
const LOCAL_PATHS: &[&str] = &[
    "devenv/local/nats",
    "devenv/local/postgres",
    "devenv/local/rabbitmq",
    "devenv/local/redis",
    "devenv/local/s3",
];
/// Where each generated credential is stored: (bundle key, path, field).
const SEEDED: &[(&str, &str, &str)] = &[
    ("POSTGRES_PASSWORD", "devenv/local/postgres", "password"),
    ("REDIS_PASSWORD", "devenv/local/redis", "password"),
    ("NATS_PASSWORD", "devenv/local/nats", "password"),
    ("S3_ACCESS_KEY", "devenv/local/s3", "access_key"),
    ("S3_SECRET_KEY", "devenv/local/s3", "secret_key"),
    ("RABBITMQ_PASSWORD", "devenv/local/rabbitmq", "password"),
];

/// A workspace, an uninitialised raft OpenBao, and everything its runs printed.
struct Setup {
    ws: Workspace,
    bao: PersistentBao,
    _raft: tempfile::TempDir,
    /// (what, text) of every run so far, and events.jsonl at the end.
    outputs: Vec<(String, String)>,
    /// Every secret_id the state dir ever held (a reissued one must not leak either).
    secret_ids: Vec<String>,
}

/// One `vault-bootstrap --json` run.
struct Run {
    code: i32,
    doc: Value,
    stderr: String,
}

impl Setup {
    fn new() -> Self {
        let raft = tempfile::tempdir().unwrap();
        let bao = OpenBao::start_persistent(&raft.path().join("raft"));
        Self {
            ws: Workspace::new(),
            bao,
            _raft: raft,
            outputs: Vec::new(),
            secret_ids: Vec::new(),
        }
    }

    fn state(&self, name: &str) -> PathBuf {
        self.ws.path(&format!(".devenv/vault/{name}"))
    }

    fn read_state(&self, name: &str) -> String {
        std::fs::read_to_string(self.state(name))
            .unwrap_or_else(|e| panic!("{}: {e}", self.state(name).display()))
    }

    /// Runs `secrets-sync vault-bootstrap --vault-addr <server> --json`.
    fn bootstrap(&mut self) -> Run {
        let out = self
            .ws
            .cmd()
            .args([
                "vault-bootstrap",
                "--vault-addr",
                &self.bao.addr(),
                "--json",
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let n = self.outputs.len();
        self.outputs
            .push((format!("run {n} stdout"), stdout.clone()));
        self.outputs
            .push((format!("run {n} stderr"), stderr.clone()));
        if let Ok(sid) = std::fs::read_to_string(self.state("secret-id")) {
            if !self.secret_ids.contains(&sid) {
                self.secret_ids.push(sid);
            }
        }
        let doc = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
        Run {
            code: out.status.code().unwrap_or(-1),
            doc,
            stderr,
        }
    }

    /// [`Setup::bootstrap`], which must succeed; returns its document.
    fn bootstrap_ok(&mut self) -> Value {
        let run = self.bootstrap();
        assert_eq!(
            run.code,
            0,
            "{}\n{}\n{}",
            run.doc,
            run.stderr,
            self.bao.log()
        );
        run.doc
    }

    fn init(&self) -> Value {
        serde_json::from_str(&self.read_state("init.json")).unwrap()
    }

    fn root_token(&self) -> String {
        self.init()["root_token"].as_str().unwrap().to_string()
    }

    fn root(&self) -> BaoApi {
        self.bao.api(&self.root_token())
    }

    /// The workspace's generated credentials (what Vault is seeded with).
    fn credentials(&self) -> Bundle {
        Bundle::read(&self.ws.path(".devenv/credentials.env")).unwrap()
    }

    /// Field `field` of `path` on the KV v2 mount `secret`, read with the root token.
    fn stored(&self, path: &str, field: &str) -> String {
        let answer = self.root().ok("GET", &format!("secret/data/{path}"), None);
        answer["data"]["data"][field]
            .as_str()
            .unwrap_or_else(|| panic!("{path} has no {field}: {answer}"))
            .to_string()
    }

    /// A token from an AppRole login with the kept role-id and secret-id.
    fn approle_login(&self) -> Value {
        let body = json!({
            "role_id": self.read_state("role-id"),
            "secret_id": self.read_state("secret-id"),
        });
        let answer = self
            .root()
            .request_as(None, "POST", "auth/approle/login", Some(&body));
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body["auth"].clone()
    }

    /// Fails when any secret — unseal keys, root token, every secret_id, the seeded credentials
    /// — appears in any form in any run's output or in events.jsonl.
    fn assert_nothing_leaked(&mut self, init: &Value) {
        let mut secrets: Vec<String> = init["unseal_keys_b64"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        secrets.push(init["root_token"].as_str().unwrap().to_string());
        secrets.extend(self.secret_ids.iter().cloned());
        let creds = self.credentials();
        for (key, _, _) in SEEDED {
            if *key != "S3_ACCESS_KEY" {
                secrets.push(creds.get(key).unwrap().to_string());
            }
        }
        assert!(secrets.len() >= 8, "{secrets:?}");
        self.outputs.push(("events.jsonl".into(), self.ws.events()));
        assert!(
            self.ws.events().contains("vault_bootstrap"),
            "the runs left their audit event"
        );
        let mut hits = Vec::new();
        for secret in &secrets {
            assert!(secret.len() >= 16, "too short to search for: {secret:?}");
            for form in leak_forms(secret) {
                for (what, text) in &self.outputs {
                    if text.contains(&form) {
                        hits.push(format!("{what}: {form:?}"));
                    }
                }
            }
        }
        assert!(hits.is_empty(), "leaks:\n{}", hits.join("\n"));
    }
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn changes(doc: &Value) -> Vec<&str> {
    doc["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("no changes in {doc}"))
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect()
}

#[test]
fn the_first_run_initialises_and_the_second_changes_nothing() {
    let mut s = Setup::new();
    assert_eq!(s.bao.health().status, 501, "starts uninitialised");
    let doc = s.bootstrap_ok();
    assert_eq!(doc["initialized_now"], true, "{doc}");
    assert_eq!(doc["unsealed_now"], true, "{doc}");
    assert_eq!(doc["secret_id_issued"], true, "{doc}");
    let first = changes(&doc);
    for expected in [
        "initialised",
        "unsealed",
        "enabled AppRole at auth/approle",
        "mounted KV v2 at secret/",
        "wrote policy devenv-local",
        "wrote AppRole role devenv-local",
        "issued a secret_id",
    ] {
        assert!(first.contains(&expected), "{expected} not in {first:?}");
    }
    for path in LOCAL_PATHS {
        assert!(
            first
                .iter()
                .any(|c| c.starts_with(&format!("stored secret/{path}"))),
            "{path} not seeded: {first:?}"
        );
    }
    let mut paths: Vec<&str> = doc["policy_paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    paths.sort_unstable();
    let expected: Vec<String> = LOCAL_PATHS
        .iter()
        .map(|p| format!("secret/data/{p}"))
        .collect();
    assert_eq!(paths, expected);
    assert_eq!(s.bao.health().status, 200, "active");

    // What it keeps: the directory 0700, every file in it 0600.
    let dir = s.ws.path(".devenv/vault");
    assert_eq!(mode(&dir), 0o700);
    for name in ["init.json", "role-id", "secret-id"] {
        assert_eq!(mode(&s.state(name)), 0o600, "{name}");
    }
    let init = s.init();
    assert_eq!(init["unseal_keys_b64"].as_array().unwrap().len(), 1);
    // The kept root token is the server's: it may look itself up.
    let me = s.root().ok("GET", "auth/token/lookup-self", None);
    assert_eq!(me["data"]["policies"], json!(["root"]));
    // Seeded from the workspace's credentials.
    let creds = s.credentials();
    for (key, path, field) in SEEDED {
        assert_eq!(s.stored(path, field), creds.get(key).unwrap(), "{key}");
    }

    let secret_id = s.read_state("secret-id");
    let init_text = s.read_state("init.json");
    let doc = s.bootstrap_ok();
    assert_eq!(changes(&doc), Vec::<&str>::new(), "{doc}");
    assert_eq!(doc["initialized_now"], false);
    assert_eq!(doc["unsealed_now"], false);
    assert_eq!(doc["secret_id_issued"], false);
    assert_eq!(
        s.read_state("secret-id"),
        secret_id,
        "the secret_id is kept"
    );
    assert_eq!(s.read_state("init.json"), init_text);
    s.assert_nothing_leaked(&init);
}

#[test]
fn a_sealed_or_restarted_server_is_unsealed_and_keeps_its_data() {
    let mut s = Setup::new();
    s.bootstrap_ok();
    let init = s.init();
    let secret_id = s.read_state("secret-id");
    let creds = s.credentials();

    s.bao.seal(&s.root_token());
    assert_eq!(s.bao.health().status, 503);
    let doc = s.bootstrap_ok();
    assert_eq!(doc["unsealed_now"], true, "{doc}");
    assert_eq!(changes(&doc), ["unsealed"], "nothing else to do: {doc}");
    assert_eq!(s.bao.health().status, 200);

    // A new process on the same storage comes up sealed; the rerun unseals it and finds
    // everything it set up: the secrets, the policy, the role and the kept secret_id.
    let pid = s.bao.pid();
    s.bao.restart();
    assert_ne!(s.bao.pid(), pid);
    let health = s.bao.health();
    assert_eq!(health.status, 503, "{}", health.body);
    assert_eq!(health.body["initialized"], true);
    let doc = s.bootstrap_ok();
    assert_eq!(doc["initialized_now"], false, "{doc}");
    assert_eq!(changes(&doc), ["unsealed"], "{doc}");
    assert_eq!(s.bao.health().status, 200);
    assert_eq!(s.read_state("secret-id"), secret_id);
    for (key, path, field) in SEEDED {
        assert_eq!(s.stored(path, field), creds.get(key).unwrap(), "{key}");
    }
    s.approle_login();
    s.assert_nothing_leaked(&init);
}

#[test]
fn the_approle_policy_reads_exactly_the_local_paths() {
    let mut s = Setup::new();
    s.bootstrap_ok();
    let init = s.init();
    let root = s.root();
    // Something that exists but is not the local mode's: the token must not read it.
    root.write_secret(
        "secret",
        2,
        "devenv/remote/postgres",
        &json!({ "password": "remote-only-password-123456" }),
    );
    let auth = s.approle_login();
    let mut policies: Vec<&str> = auth["token_policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    policies.sort_unstable();
    assert_eq!(policies, ["default", "devenv-local"]);
    let token = auth["client_token"].as_str().unwrap();
    let creds = s.credentials();
    for (key, path, field) in SEEDED {
        let read = root.request_as(Some(token), "GET", &format!("secret/data/{path}"), None);
        assert_eq!(read.status, 200, "{path}: {}", read.body);
        assert_eq!(read.body["data"]["data"][field], creds.get(key).unwrap());
    }
    for (method, path) in [
        ("GET", "sys/mounts"),
        ("GET", "secret/data/devenv/remote/postgres"),
        ("GET", "secret/metadata/devenv/local/postgres"),
        ("LIST", "secret/metadata/devenv/local"),
        ("GET", "sys/policies/acl/devenv-local"),
        ("POST", "secret/data/devenv/local/redis"),
        ("DELETE", "secret/data/devenv/local/redis"),
    ] {
        let body = json!({ "data": { "password": "overwritten-by-the-app" } });
        let answer = root.request_as(Some(token), method, path, Some(&body));
        assert_eq!(answer.status, 403, "{method} {path}: {}", answer.body);
    }
    assert_eq!(
        s.stored("devenv/local/redis", "password"),
        creds.get("REDIS_PASSWORD").unwrap()
    );
    s.assert_nothing_leaked(&init);
}

#[test]
fn local_mode_reads_the_seeded_credentials_and_rotations_stay_rotated() {
    let mut s = Setup::new();
    s.bootstrap_ok();
    let init = s.init();
    let creds = s.credentials();
    let sync = |s: &mut Setup| {
        let role_id = s.read_state("role-id");
        let out =
            s.ws.cmd()
                .env("VAULT_ADDR", s.bao.addr())
                .env("VAULT_ROLE_ID", &role_id)
                .env("VAULT_SECRET_ID_FILE", s.state("secret-id"))
                .args(["--mode", "local", "--profiles", "vault,rabbitmq", "--human"])
                .output()
                .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
        s.outputs.push(("sync stdout".into(), stdout));
        s.outputs.push(("sync stderr".into(), stderr));
        (s.ws.bundle(".env.local"), role_id)
    };

    let (bundle, role_id) = sync(&mut s);
    assert_eq!(bundle.get("DEVENV_SOURCE"), Some("vault"));
    assert_eq!(bundle.get("DEVENV_MODE"), Some("local"));
    for (key, _, _) in SEEDED {
        assert_eq!(bundle.get(key), creds.get(key), "{key}");
    }
    assert_eq!(bundle.get("VAULT_ADDR"), Some(s.bao.addr().as_str()));
    assert_eq!(bundle.get("VAULT_ROLE_ID"), Some(role_id.as_str()));
    let text = std::fs::read_to_string(s.ws.path(".env.local")).unwrap();
    assert!(
        !text.contains(&s.read_state("secret-id")),
        "the secret_id stays in its file"
    );
    assert!(!text.contains(&s.root_token()));

    // Rotated in Vault: a rerun of the bootstrap leaves it, and the next sync picks it up.
    let rotated = "rotated-in-vault-redis-password-0001";
    let mut fields =
        s.root().ok("GET", "secret/data/devenv/local/redis", None)["data"]["data"].clone();
    fields["password"] = json!(rotated);
    s.root()
        .write_secret("secret", 2, "devenv/local/redis", &fields);
    let doc = s.bootstrap_ok();
    assert_eq!(changes(&doc), Vec::<&str>::new(), "{doc}");
    assert_eq!(s.stored("devenv/local/redis", "password"), rotated);
    let (bundle, _) = sync(&mut s);
    assert_eq!(bundle.get("REDIS_PASSWORD"), Some(rotated));
    assert_eq!(
        bundle.get("POSTGRES_PASSWORD"),
        creds.get("POSTGRES_PASSWORD")
    );
    s.assert_nothing_leaked(&init);
}

#[test]
fn a_lost_init_json_is_refused_with_the_remedy() {
    let mut s = Setup::new();
    s.bootstrap_ok();
    let init = s.init();
    std::fs::remove_file(s.state("init.json")).unwrap();
    let run = s.bootstrap();
    assert_eq!(run.code, 3, "{}\n{}", run.doc, run.stderr);
    assert!(
        run.stderr.contains(".devenv/vault/init.json") && run.stderr.contains("make reset"),
        "{}",
        run.stderr
    );
    assert!(
        !s.state("init.json").exists(),
        "nothing made up in its place"
    );
    // The same with a server that is sealed too (every restart): still 3, still unsealed by
    // nobody — the keys are gone.
    s.bao.seal(init["root_token"].as_str().unwrap());
    let run = s.bootstrap();
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(s.bao.health().status, 503);
    // A file that is not the bootstrap's init.json: also 3.
    std::fs::write(s.state("init.json"), "{\"something\": \"else\"}").unwrap();
    let run = s.bootstrap();
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("not the init.json"), "{}", run.stderr);
    std::fs::remove_file(s.state("init.json")).unwrap();
    s.assert_nothing_leaked(&init);
}

#[test]
fn an_unreachable_server_times_out_with_exit_4() {
    let ws = Workspace::new();
    let port = devenv_testkit::free_port();
    let out = ws
        .cmd()
        .args([
            "vault-bootstrap",
            "--timeout",
            "1",
            "--json",
            "--vault-addr",
        ])
        .arg(format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(!ws.path(".devenv/vault/init.json").exists());
}
