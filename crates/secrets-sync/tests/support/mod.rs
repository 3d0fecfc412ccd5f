//! Shared fixtures of the secrets-sync integration tests: a throwaway git workspace with the
//! project's .gitignore, free ports and configs/secrets.yaml, plus a real OpenBao
//! (devenv_testkit::OpenBao, Vault's HTTP API) seeded with the paths that mapping names and
//! known awkward secret values, behind a least-privilege AppRole.
#![allow(dead_code)]

pub mod bao;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use bao::Vault;
use devenv_core::bundle::Bundle;

pub const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Known secret values: awkward on purpose (quotes, `#`, spaces, `/+=@:%$`, non-ASCII, a
/// newline) so that their raw, percent-encoded and base64 forms all differ, and quoting is
/// exercised.
pub const PG_PASSWORD: &str = "Pg#s3cr3t 'q' \"dq\" back\\slash/+=@:%x";
pub const REDIS_PASSWORD: &str = "rd-9f8e7d6c5b4a3210-zz";
pub const NATS_PASSWORD: &str = "Nats=P@ss wörd/%25&$HOME-ключ 密码";
pub const S3_SECRET: &str = "line1\nline2 #not-a-comment `tick`";
pub const S3_ACCESS: &str = "AKIADOUBLEEXAMPLE01";
pub const RABBITMQ_PASSWORD: &str = "rabbit ~pw $X%2F/ü";
/// The user's own token (OpenBao refuses chosen token ids starting with `hvs.`).
pub const TOKEN: &str = "devenv-user-token-abcdef123456";
pub const ROLE_ID: &str = "role-5a9b0c1d-devenv";
pub const SECRET_ID: &str = "sid-7c1e4a2b-do-not-leak";
/// An extra field in a secret that the mapping never names: must be masked all the same.
pub const UNMAPPED: &str = "unmapped-api-key-424242";

/// Every secret a run may touch; the leak test looks for each and its encodings.
pub const SECRETS: &[&str] = &[
    PG_PASSWORD,
    REDIS_PASSWORD,
    NATS_PASSWORD,
    S3_SECRET,
    RABBITMQ_PASSWORD,
    TOKEN,
    SECRET_ID,
    UNMAPPED,
];

pub struct Workspace {
    pub dir: tempfile::TempDir,
    /// The free ports written to configs/ports.yaml, by port name.
    pub ports: BTreeMap<String, u16>,
}

impl Workspace {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert!(
            StdCommand::new("git")
                .arg("-C")
                .arg(root)
                .args(["init", "-q"])
                .status()
                .unwrap()
                .success()
        );
        std::fs::copy(Path::new(REPO).join(".gitignore"), root.join(".gitignore")).unwrap();
        let names = devenv_core::stack::PortName::ALL.map(|p| p.key());
        let ports: BTreeMap<String, u16> = names
            .iter()
            .map(|n| (n.to_string(), devenv_testkit::free_port()))
            .collect();
        let yaml: String = ports.iter().map(|(n, p)| format!("{n}: {p}\n")).collect();
        std::fs::create_dir_all(root.join("configs/dev")).unwrap();
        std::fs::write(root.join("configs/ports.yaml"), yaml).unwrap();
        // The shipped mapping and templates: the tests exercise the real files.
        std::fs::copy(
            Path::new(REPO).join("configs/secrets.yaml"),
            root.join("configs/secrets.yaml"),
        )
        .unwrap();
        for entry in std::fs::read_dir(Path::new(REPO).join("configs/dev")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(
                entry.path(),
                root.join("configs/dev").join(entry.file_name()),
            )
            .unwrap();
        }
        Self { dir, ports }
    }

    /// The port configs/ports.yaml gives `name`.
    pub fn port(&self, name: &str) -> u16 {
        self.ports[name]
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    /// The binary with a clean environment pointing at this workspace, as a std command for
    /// tests that spawn it and signal it mid-run.
    pub fn std_cmd(&self) -> StdCommand {
        // The testkit's cleared environment, and then none at all: secrets-sync must not even
        // see HOME (a developer's ~/.vault-token).
        let mut cmd = devenv_testkit::cmd::command("secrets-sync");
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .env("DEVENV_ROOT", self.root())
            .env("NO_COLOR", "1");
        cmd
    }

    /// The binary with a clean environment pointing at this workspace.
    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// `cmd()` aimed at Vault with the user's token; mode and format left to the caller.
    pub fn token_cmd(&self, vault: &Vault) -> Command {
        let mut cmd = self.cmd();
        cmd.env("VAULT_ADDR", vault.url()).env("VAULT_TOKEN", TOKEN);
        cmd
    }

    /// `token_cmd()` in `mode` with human output.
    pub fn vault_cmd(&self, vault: &Vault, mode: &str) -> Command {
        let mut cmd = self.token_cmd(vault);
        cmd.args(["--mode", mode, "--human"]);
        cmd
    }

    /// `cmd()` aimed at Vault logging in with AppRole (secret_id from a file).
    pub fn approle_cmd(&self, vault: &Vault, mode: &str) -> Command {
        let sid = self.path(".devenv-secret-id");
        std::fs::write(&sid, format!("{SECRET_ID}\n")).unwrap();
        let mut cmd = self.cmd();
        cmd.env("VAULT_ADDR", vault.url())
            .env("VAULT_ROLE_ID", ROLE_ID)
            .env("VAULT_SECRET_ID_FILE", &sid)
            .args(["--mode", mode, "--human"]);
        cmd
    }

    pub fn bundle(&self, name: &str) -> Bundle {
        Bundle::read(&self.path(name)).unwrap()
    }

    pub fn events(&self) -> String {
        std::fs::read_to_string(self.path(".devenv/events.jsonl")).unwrap_or_default()
    }
}

/// A workspace whose `.env.linode` was synced (with the user's token) from a KV v2 OpenBao
/// seeded by [`Vault::start`]: the starting point of tests about an existing remote bundle.
pub fn synced_remote_workspace() -> (Workspace, Vault) {
    let ws = Workspace::new();
    let vault = Vault::start(2);
    ws.vault_cmd(&vault, "remote").assert().success();
    (ws, vault)
}

/// Runs `cmd`, asserts its exit code, and returns its (stdout, stderr).
pub fn run(cmd: &mut Command, code: i32) -> (String, String) {
    let out = cmd.assert().code(code).get_output().clone();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The secrets configs/secrets.yaml names, for both modes: (path, fields).
pub fn seeded_secrets() -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for mode in ["local", "remote"] {
        let p = |s: &str| format!("devenv/{mode}/{s}");
        out.push((
            p("postgres"),
            serde_json::json!({
                "host": "pg.remote.internal",
                "port": "5432",
                "username": "app",
                "password": PG_PASSWORD,
                "database": "app",
            }),
        ));
        out.push((
            p("redis"),
            serde_json::json!({
                "host": "redis.remote.internal",
                "port": "6379",
                "password": REDIS_PASSWORD,
            }),
        ));
        out.push((
            p("nats"),
            serde_json::json!({
                "url": "nats://nats.remote.internal:4222",
                "username": "devenv",
                "password": NATS_PASSWORD,
            }),
        ));
        out.push((
            p("s3"),
            serde_json::json!({
                "endpoint": "https://s3.remote.internal",
                "region": "eu-west-1",
                "bucket": "devenv",
                "access_key": S3_ACCESS,
                "secret_key": S3_SECRET,
                "api_key": UNMAPPED,
            }),
        ));
        out.push((
            p("rabbitmq"),
            serde_json::json!({ "password": RABBITMQ_PASSWORD }),
        ));
    }
    out
}

/// Every form of `secret` a leak could take (raw, percent-/form-encoded, base64 variants).
pub fn leak_forms(secret: &str) -> Vec<String> {
    let mut forms = devenv_core::redact::encodings(secret);
    // A multi-line secret could also leak one line at a time.
    if secret.contains('\n') {
        forms.extend(secret.lines().filter(|l| l.len() >= 8).map(String::from));
    }
    forms
}
