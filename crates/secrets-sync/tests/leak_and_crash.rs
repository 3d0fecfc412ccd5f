//! Must-hold safety properties, against a real OpenBao (Vault's HTTP API, seeded by
//! tests/support/bao.rs):
//!
//! - no secret value, nor its URL-encoded or base64 forms, reaches stdout, stderr, the files
//!   next to the bundle or `.devenv/events.jsonl`, on any success or failure path (panics too);
//! - a writer SIGKILLed mid-write leaves the previous bundle intact.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::bao::Vault;
use support::*;

/// Collected output of every run, labelled for the failure message.
#[derive(Default)]
struct Transcript {
    runs: Vec<(String, String)>,
}

impl Transcript {
    /// Runs `cmd`, asserts its exit code and keeps both streams for the leak scan.
    fn record(&mut self, label: &str, cmd: &mut assert_cmd::Command, code: i32) {
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "{label}: {stderr}");
        self.runs.push((format!("{label} stdout"), stdout));
        self.runs.push((format!("{label} stderr"), stderr));
    }
}

/// Every file next to the bundle (except the bundle itself) and everything under `.devenv/`
/// except the two files whose job is to hold secrets (the credential store and rendered
/// service configs, both 0600 and ignored).
fn neighbour_files(root: &Path, bundle_names: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if rel == ".git" || rel == "configs" || rel == ".devenv/config" {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if bundle_names.contains(&rel.as_str()) || rel == ".devenv/credentials.env" {
                continue;
            }
            if rel == ".devenv-secret-id" {
                // The test's own secret_id file (the user's input, not our output).
                continue;
            }
            out.push((
                rel,
                String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned(),
            ));
        }
    }
    out
}

#[test]
fn no_secret_or_encoding_of_one_leaks_on_any_path() {
    let ws = Workspace::new();
    let vault = Vault::start(2);
    let mut t = Transcript::default();

    // Successes: AppRole and token, human / json / quiet, debug logging, dry runs, local mode.
    t.record("remote approle", &mut ws.approle_cmd(&vault, "remote"), 0);
    t.record(
        "remote approle unchanged -vv",
        ws.approle_cmd(&vault, "remote").arg("-vv"),
        0,
    );
    t.record(
        "remote token json",
        ws.token_cmd(&vault).args(["--mode", "remote", "--json"]),
        0,
    );
    t.record(
        "remote trace logging",
        ws.vault_cmd(&vault, "remote")
            .env("DEVENV_LOG", "trace")
            .arg("--dry-run"),
        0,
    );
    t.record("local via vault", &mut ws.vault_cmd(&vault, "local"), 0);
    t.record(
        "local dry run json",
        ws.token_cmd(&vault)
            .args(["--mode", "local", "--dry-run", "--json"]),
        0,
    );
    t.record(
        "render",
        ws.cmd().args(["render", "--mode", "remote", "--human"]),
        0,
    );
    t.record(
        "render json",
        ws.cmd()
            .args(["render", "--mode", "remote", "--json", "-vv"]),
        0,
    );
    t.record(
        "check-expiry",
        ws.cmd()
            .args(["check-expiry", "--mode", "remote", "--json"]),
        0,
    );
    // A rotated secret: the diff names the key, never the old or new value.
    vault.set_field(
        "devenv/remote/postgres",
        "password",
        &format!("{PG_PASSWORD}-rotated"),
    );
    t.record(
        "rotated dry run",
        ws.vault_cmd(&vault, "remote").arg("--dry-run"),
        0,
    );

    // Failures, each with its exit code.
    let pg = "devenv/remote/postgres";
    vault.write_policy(&[pg]);
    t.record("403", ws.approle_cmd(&vault, "remote").arg("-vv"), 5);
    vault.write_policy(&[]);
    vault.delete(pg);
    t.record("404", ws.approle_cmd(&vault, "remote").arg("-vv"), 5);
    vault.restore(pg);
    // Sealed between the login and the reads: the binary holds a token it cannot revoke.
    vault.server.seal();
    t.record(
        "503 with a given token",
        ws.vault_cmd(&vault, "remote").arg("-vv"),
        5,
    );
    t.record("sealed login", &mut ws.approle_cmd(&vault, "remote"), 5);
    vault.server.unseal();
    let expired = vault.least_privilege_token("1s");
    vault.wait_expired(&expired);
    t.record(
        "expired token",
        ws.vault_cmd(&vault, "remote")
            .env("VAULT_TOKEN", &expired)
            .arg("-vv"),
        5,
    );
    t.record(
        "argv secret-id",
        ws.approle_cmd(&vault, "remote")
            .arg(format!("--secret-id={SECRET_ID}")),
        2,
    );
    t.record(
        "argv token",
        ws.vault_cmd(&vault, "remote").args(["--token", TOKEN]),
        2,
    );
    t.record(
        "wrong secret id",
        ws.approle_cmd(&vault, "remote")
            .env_remove("VAULT_SECRET_ID_FILE")
            .env("VAULT_SECRET_ID", format!("{SECRET_ID}-wrong")),
        5,
    );
    t.record(
        "unreachable vault",
        ws.vault_cmd(&vault, "remote")
            .env("VAULT_ADDR", "http://127.0.0.1:1"),
        5,
    );
    // A mapping naming a field the secret lacks lists the field names it has (names only).
    let mapping = std::fs::read_to_string(ws.path("configs/secrets.yaml")).unwrap();
    std::fs::write(
        ws.path("configs/secrets-wrong-field.yaml"),
        mapping.replace(
            "S3_SECRET_KEY: { path: devenv/remote/s3, field: secret_key }",
            "S3_SECRET_KEY: { path: devenv/remote/s3, field: secret_kee }",
        ),
    )
    .unwrap();
    t.record(
        "missing field",
        ws.vault_cmd(&vault, "remote")
            .args(["--mapping", "configs/secrets-wrong-field.yaml"])
            .current_dir(ws.root()),
        2,
    );
    // A bundle path git would track: refused before Vault is asked.
    t.record(
        "tracked out path",
        ws.vault_cmd(&vault, "remote")
            .args(["--out", "configs/tracked.env"])
            .current_dir(ws.root()),
        3,
    );
    std::fs::write(ws.path("configs/dev/broken.env.tpl"), "X=${NOPE}\n").unwrap();
    t.record(
        "render unresolved",
        ws.cmd().args(["render", "--mode", "remote"]),
        2,
    );
    std::fs::remove_file(ws.path("configs/dev/broken.env.tpl")).unwrap();
    // A panic holding every value of the bundle: the panic hook masks them.
    t.record(
        "panic",
        ws.vault_cmd(&vault, "remote")
            .env("SECRETS_SYNC_TEST_PANIC", "1"),
        101,
    );
    let panic_stderr = &t.runs.last().unwrap().1;
    assert!(
        panic_stderr.contains("internal error") && panic_stderr.contains("POSTGRES_PASSWORD=***"),
        "the panic path really ran: {panic_stderr}"
    );

    let mut haystacks = t.runs;
    haystacks.extend(neighbour_files(ws.root(), &[".env.linode", ".env.local"]));
    assert!(
        haystacks
            .iter()
            .any(|(name, _)| name == ".devenv/events.jsonl"),
        "events were written and are scanned"
    );
    let rotated = format!("{PG_PASSWORD}-rotated");
    let mut hits = Vec::new();
    for secret in SECRETS.iter().copied().chain([rotated.as_str()]) {
        for form in leak_forms(secret) {
            for (name, text) in &haystacks {
                if text.contains(&form) {
                    hits.push(format!("{name}: {form:?} (form of {secret:?})"));
                }
            }
        }
    }
    assert!(hits.is_empty(), "leaks:\n{}", hits.join("\n"));
    // Sanity: the secrets are really in the bundle, so the scan above could have found them.
    let bundle = std::fs::read_to_string(ws.path(".env.linode")).unwrap();
    assert!(bundle.contains(REDIS_PASSWORD));
}

fn temp_files(root: &Path) -> Vec<String> {
    std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".env.linode.tmp-"))
        .collect()
}

fn spawn_sync(ws: &Workspace, vault: &Vault, pause_ms: Option<u64>) -> std::process::Child {
    let mut cmd = ws.std_cmd();
    cmd.env("VAULT_ADDR", vault.url())
        .env("VAULT_TOKEN", TOKEN)
        .args(["--mode", "remote", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(ms) = pause_ms {
        cmd.env("DEVENV_TEST_PAUSE_BEFORE_RENAME_MS", ms.to_string());
    }
    cmd.spawn().unwrap()
}

fn rotate(vault: &Vault, n: usize) -> String {
    let value = format!("redis-rotation-{n:04}-abcdefgh");
    vault.set_field("devenv/remote/redis", "password", &value);
    value
}

#[test]
fn sigkill_mid_write_leaves_the_previous_bundle_intact() {
    let (ws, vault) = synced_remote_workspace();
    let path = ws.path(".env.linode");
    let previous = std::fs::read(&path).unwrap();

    // Deterministic: hold the writer after the temp file is complete and fsynced, right
    // before the rename; kill it there.
    let rotated = rotate(&vault, 1);
    let mut child = spawn_sync(&ws, &vault, Some(30_000));
    let deadline = Instant::now() + Duration::from_secs(20);
    let temp = loop {
        if let Some(name) = temp_files(ws.root()).first() {
            let text = std::fs::read_to_string(ws.path(name)).unwrap_or_default();
            if text.contains(&rotated) {
                break name.clone();
            }
        }
        assert!(child.try_wait().unwrap().is_none(), "writer exited early");
        assert!(Instant::now() < deadline, "writer never reached the rename");
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), previous, "bundle changed");
    assert!(
        ws.path(&temp).exists(),
        "the killed writer's temp file is what it left"
    );

    // The next run removes the dead writer's temp file and writes the new bundle.
    ws.vault_cmd(&vault, "remote").assert().success();
    assert!(
        temp_files(ws.root()).is_empty(),
        "stale temp file left behind"
    );
    assert_eq!(
        ws.bundle(".env.linode").get("REDIS_PASSWORD"),
        Some(rotated.as_str())
    );

    // Randomised: kill at spread-out instants of whole runs; every time the bundle is either
    // the complete old one or the complete new one.
    let mut old = std::fs::read(&path).unwrap();
    let mut killed_mid_run = 0;
    for n in 2..22u64 {
        let value = rotate(&vault, n as usize);
        let mut child = spawn_sync(&ws, &vault, None);
        std::thread::sleep(Duration::from_millis((n * 7) % 40));
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        let _ = child.kill();
        child.wait().unwrap();
        let now = std::fs::read(&path).unwrap();
        if now != old {
            let b =
                devenv_core::bundle::Bundle::parse(&String::from_utf8(now.clone()).unwrap(), &path)
                    .expect("a replaced bundle is complete");
            assert_eq!(b.get("REDIS_PASSWORD"), Some(value.as_str()));
            assert!(b.get("DEVENV_EXPIRES_AT").is_some(), "complete file");
            old = now;
        }
    }
    assert!(killed_mid_run > 0, "no run was actually interrupted");
}
