//! secrets-sync against Vault, end to end: the real binary, a throwaway git workspace with the
//! shipped configs/secrets.yaml, and a real OpenBao (Vault's HTTP API, devenv_testkit::OpenBao)
//! seeded by tests/support/bao.rs: AppRole with a least-privilege policy, KV v1 and v2, a
//! namespace, a denying policy (403), a missing path (404), a sealed server (503), an expired
//! token, refused logins. What the server saw is read from its audit log, never assumed.
//! There is no HTTP double of Vault any more.

mod support;

use std::os::unix::fs::PermissionsExt as _;

use devenv_core::events;
use support::bao::Vault;
use support::*;

/// Asserts that each key of the bundle `b` holds its value.
fn assert_values(b: &devenv_core::bundle::Bundle, expected: &[(&str, &str)]) {
    for (key, value) in expected {
        assert_eq!(b.get(key), Some(*value), "{key}");
    }
}

#[test]
fn remote_mode_with_approle_on_kv2_writes_an_expiring_bundle_with_an_audit_trail() {
    let ws = Workspace::new();
    // Everything inside an OpenBao namespace: the binary must send it on every request.
    let vault = Vault::start_in(Some("team-a"), 2);
    let since = vault.audit().len();
    let (stdout, stderr) = run(
        ws.approle_cmd(&vault, "remote")
            .env("VAULT_NAMESPACE", "team-a"),
        0,
    );
    assert!(stdout.contains("wrote"), "{stdout}{stderr}");

    let path = ws.path(".env.linode");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let b = ws.bundle(".env.linode");
    for key in devenv_core::bundle::KEYS {
        assert!(b.get(key).is_some(), "{key} missing");
    }
    assert_values(
        &b,
        &[
            ("DEVENV_MODE", "remote"),
            ("DEVENV_SOURCE", "vault"),
            ("POSTGRES_PASSWORD", PG_PASSWORD),
            ("S3_SECRET_KEY", S3_SECRET),
            // Spaces, `$`, `/`, `%` and non-ASCII, byte for byte.
            ("NATS_PASSWORD", NATS_PASSWORD),
        ],
    );
    assert_eq!(
        devenv_core::redact::url_password(b.get("DATABASE_URL").unwrap()).as_deref(),
        Some(PG_PASSWORD)
    );
    // Expires 24 h ahead.
    let expires = chrono::DateTime::parse_from_rfc3339(b.get("DEVENV_EXPIRES_AT").unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let ahead = expires - chrono::Utc::now();
    assert!(
        ahead > chrono::Duration::minutes(23 * 60 + 55) && ahead <= chrono::Duration::hours(24),
        "{ahead}"
    );

    // Audit: every read is an event carrying the audit id and OpenBao's request id, which
    // OpenBao's own audit log has for that very path.
    let log = vault.audit_since(since);
    let evs = events::read_all(&ws.path(".devenv/events.jsonl"));
    let synced = evs.iter().find(|e| e["event"] == "bundle_synced").unwrap();
    let audit_id = synced["audit_id"].as_str().unwrap();
    let reads: Vec<_> = evs.iter().filter(|e| e["event"] == "vault_read").collect();
    assert_eq!(reads.len(), 4, "one read per distinct secret");
    for r in &reads {
        assert_eq!(r["audit_id"], audit_id);
        let rid = r["request_id"].as_str().unwrap();
        let served = log
            .iter()
            .find(|l| l.request_id == rid)
            .unwrap_or_else(|| panic!("request id {rid} was not served by OpenBao"));
        assert_eq!(
            served.path,
            format!("secret/data/{}", r["path"].as_str().unwrap())
        );
        assert!(served.error.is_none(), "{served:?}");
        assert!(!r["keys"].as_array().unwrap().is_empty());
    }
    let login = evs.iter().find(|e| e["event"] == "vault_login").unwrap();
    assert!(log.iter().any(|l| l.path == "auth/approle/login"
        && Some(l.request_id.as_str()) == login["request_id"].as_str()));
    // The least-privilege token may not list mounts: detection went through the per-mount
    // lookup.
    assert!(
        log.iter()
            .any(|l| l.path == "sys/mounts" && l.error.is_some()),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.path == "sys/internal/ui/mounts/secret" && l.error.is_none())
    );
    // Namespace sent on every request; the AppRole token revoked at the end — on the server.
    assert!(!log.is_empty());
    assert!(log.iter().all(|l| l.namespace == "team-a/"), "{log:#?}");
    let issued = vault.approle_accessors();
    assert_eq!(issued.len(), 1);
    assert!(log.iter().any(|l| l.path == "auth/token/revoke-self"
        && l.token_accessor.as_deref() == Some(issued[0].as_str())));
    assert!(!vault.alive(&issued[0]), "the AppRole token still lives");
    assert!(evs.iter().any(|e| e["event"] == "vault_token_revoked"));

    // Second run: same secrets → unchanged, file untouched.
    let before = std::fs::read(&path).unwrap();
    let (stdout, stderr) = run(
        ws.approle_cmd(&vault, "remote")
            .env("VAULT_NAMESPACE", "team-a"),
        0,
    );
    assert!(stdout.contains("unchanged"), "{stdout}{stderr}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn kv1_is_detected_from_sys_mounts_and_a_given_token_is_not_revoked() {
    let ws = Workspace::new();
    let vault = Vault::start(1);
    let since = vault.audit().len();
    let (stdout, _) = run(&mut ws.vault_cmd(&vault, "local"), 0);
    assert!(stdout.contains("5 Vault reads"), "{stdout}");
    let log = vault.audit_since(since);
    assert!(
        log.iter()
            .any(|l| l.path == "sys/mounts" && l.error.is_none())
    );
    assert!(log.iter().any(|l| l.path == "secret/devenv/local/postgres"));
    assert!(!log.iter().any(|l| l.path.contains("/data/")));
    assert!(!log.iter().any(|l| l.path.contains("revoke")));
    let lookup = vault.api.request(
        "POST",
        "auth/token/lookup",
        Some(&serde_json::json!({ "token": TOKEN })),
    );
    assert_eq!(lookup.status, 200, "a given token is never revoked");
    let b = ws.bundle(".env.local");
    assert_values(
        &b,
        &[
            ("DEVENV_SOURCE", "vault"),
            ("REDIS_PASSWORD", REDIS_PASSWORD),
            ("NATS_PASSWORD", NATS_PASSWORD),
            ("S3_ACCESS_KEY", S3_ACCESS),
        ],
    );
    assert_eq!(
        devenv_core::redact::url_password(b.get("REDIS_URL").unwrap()).as_deref(),
        Some(REDIS_PASSWORD)
    );
    // Local ports still resolved locally; no generated credential store needed.
    assert!(b.get("POSTGRES_PORT").is_some());
    assert!(!ws.path(".devenv/credentials.env").exists());
}

#[test]
fn kv_version_is_found_without_sys_mounts_or_given_by_flag() {
    let ws = Workspace::new();
    let vault = Vault::start(1);
    // A least-privilege token: no sys/mounts. Detection asks sys/internal/ui/mounts instead.
    let token = vault.least_privilege_token("1h");
    let since = vault.audit().len();
    ws.vault_cmd(&vault, "remote")
        .env("VAULT_TOKEN", &token)
        .assert()
        .success();
    let log = vault.audit_since(since);
    assert!(
        log.iter()
            .any(|l| l.path == "sys/mounts" && l.error.is_some())
    );
    assert!(
        log.iter()
            .any(|l| l.path == "sys/internal/ui/mounts/secret" && l.error.is_none())
    );
    assert!(log.iter().any(|l| l.path == "secret/devenv/remote/redis"));
    assert_eq!(
        ws.bundle(".env.linode").get("REDIS_PASSWORD"),
        Some(REDIS_PASSWORD)
    );

    // Neither allowed (OpenBao answers the per-mount lookup to any token with some access to
    // the mount, so this token has none): exit 5 naming the flag that skips detection.
    let stranger = vault.api.create_token(&["default"], "1h", None);
    let before = std::fs::read(ws.path(".env.linode")).unwrap();
    let (_, stderr) = run(
        ws.vault_cmd(&vault, "remote").env("VAULT_TOKEN", &stranger),
        5,
    );
    assert!(stderr.contains("--kv-version"), "{stderr}");
    assert_eq!(std::fs::read(ws.path(".env.linode")).unwrap(), before);
    // The flag skips detection altogether.
    let since = vault.audit().len();
    ws.vault_cmd(&vault, "remote")
        .env("VAULT_TOKEN", &token)
        .args(["--kv-version", "1"])
        .assert()
        .success();
    let log = vault.audit_since(since);
    assert!(log.iter().any(|l| l.path == "secret/devenv/remote/redis"));
    assert!(
        !log.iter().any(|l| l.path.starts_with("sys/")),
        "--kv-version skips detection: {log:#?}"
    );
}

#[test]
fn failed_vault_reads_leave_the_bundle_untouched_with_exit_5() {
    let ws = Workspace::new();
    let vault = Vault::start(2);
    ws.approle_cmd(&vault, "remote").assert().success();
    let path = ws.path(".env.linode");
    let good = std::fs::read(&path).unwrap();

    let pg = "devenv/remote/postgres";
    type Inject<'a> = Box<dyn Fn(&Vault) + 'a>;
    let cases: Vec<(&str, Inject, Inject, &str)> = vec![
        (
            "403 permission denied",
            // The policy denies that one path.
            Box::new(|v: &Vault| v.write_policy(&[pg])),
            Box::new(|v: &Vault| v.write_policy(&[])),
            "Vault denied secret/data/devenv/remote/postgres (HTTP 403: permission denied)",
        ),
        (
            "404",
            Box::new(|v: &Vault| v.delete(pg)),
            Box::new(|v: &Vault| v.restore(pg)),
            "Vault has no secret at secret/data/devenv/remote/postgres (HTTP 404)",
        ),
        (
            "503 sealed",
            Box::new(|v: &Vault| v.server.seal()),
            Box::new(|v: &Vault| v.server.unseal()),
            "Vault is sealed",
        ),
    ];
    for (name, inject, heal, expected) in cases {
        inject(&vault);
        let (_, stderr) = run(&mut ws.approle_cmd(&vault, "remote"), 5);
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            good,
            "{name}: bundle changed"
        );
        heal(&vault);
    }
    // The AppRole token of a run whose read failed is still revoked: the server says so.
    let issued = vault.approle_accessors();
    assert_eq!(
        issued.len(),
        3,
        "a login per run that reached OpenBao unsealed"
    );
    for accessor in &issued {
        assert!(
            !vault.alive(accessor),
            "AppRole token {accessor} still lives"
        );
    }
    ws.approle_cmd(&vault, "remote").assert().success();

    // An expired token: created with a 1 s TTL, used once it ran out.
    let token = vault.least_privilege_token("1s");
    vault.wait_expired(&token);
    let (_, stderr) = run(ws.vault_cmd(&vault, "remote").env("VAULT_TOKEN", &token), 5);
    // Told apart from a policy denial: the remedy is a new login, not a policy change.
    assert!(stderr.contains("invalid token"), "{stderr}");
    assert!(
        stderr.contains("Vault rejected the token") && stderr.contains("expired or revoked"),
        "{stderr}"
    );
    assert!(stderr.contains("log in again"), "{stderr}");
    assert_eq!(std::fs::read(&path).unwrap(), good);

    // A refused AppRole login: a wrong secret_id…
    let (_, stderr) = run(
        ws.approle_cmd(&vault, "remote")
            .env_remove("VAULT_SECRET_ID_FILE")
            .env("VAULT_SECRET_ID", "another-secret-id"),
        5,
    );
    assert!(stderr.contains("invalid role or secret ID"), "{stderr}");
    assert_eq!(std::fs::read(&path).unwrap(), good);
    // …and a secret_id whose uses are spent (secret_id_num_uses = 1, used once).
    let role_id = vault.api.create_role(
        "approle",
        "once",
        &devenv_testkit::RoleSpec {
            policies: &[support::bao::POLICY],
            secret_id_num_uses: 1,
            token_ttl: "60s",
            ..Default::default()
        },
    );
    let secret_id = vault.api.create_secret_id("approle", "once", None);
    let once = |code| {
        let mut cmd = ws.approle_cmd(&vault, "remote");
        cmd.env("VAULT_ROLE_ID", &role_id)
            .env_remove("VAULT_SECRET_ID_FILE")
            .env("VAULT_SECRET_ID", &secret_id);
        run(&mut cmd, code)
    };
    once(0);
    let (_, stderr) = once(5);
    assert!(stderr.contains("invalid role or secret ID"), "{stderr}");
    assert_eq!(std::fs::read(&path).unwrap(), good);

    let failed = events::read_all(&ws.path(".devenv/events.jsonl"))
        .into_iter()
        .filter(|e| e["event"] == "vault_read_failed")
        .count();
    assert!(failed >= 2, "failed reads are audited too");
}

#[test]
fn secret_id_and_token_are_refused_on_the_command_line() {
    let ws = Workspace::new();
    let vault = Vault::start(2);
    let since = vault.audit().len();
    for flag in [
        format!("--secret-id={SECRET_ID}"),
        format!("--token={TOKEN}"),
    ] {
        let (stdout, stderr) = run(ws.approle_cmd(&vault, "remote").arg(&flag), 2);
        assert!(stderr.contains("visible in `ps`"), "{stderr}");
        assert!(!stdout.contains(SECRET_ID) && !stderr.contains(SECRET_ID));
        assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
    }
    assert!(vault.audit_since(since).is_empty(), "nothing sent to Vault");
    assert!(!ws.path(".env.linode").exists());

    // stdin works.
    let mut cmd = ws.cmd();
    cmd.env("VAULT_ADDR", vault.url())
        .env("VAULT_ROLE_ID", ROLE_ID)
        .args(["--mode", "remote", "--secret-id-stdin"])
        .write_stdin(format!("{SECRET_ID}\n"))
        .assert()
        .success();
    assert!(ws.path(".env.linode").exists());
}

#[test]
fn dry_run_lists_key_names_only_and_writes_nothing() {
    let ws = Workspace::new();
    let vault = Vault::start(2);
    let (stdout, _) = run(ws.vault_cmd(&vault, "remote").arg("--dry-run"), 0);
    assert!(stdout.contains("would write"), "{stdout}");
    assert!(
        stdout.contains("added:") && stdout.contains("POSTGRES_PASSWORD"),
        "{stdout}"
    );
    assert!(!ws.path(".env.linode").exists());

    ws.vault_cmd(&vault, "remote").assert().success();
    vault.set_field(
        "devenv/remote/redis",
        "password",
        "rotated-redis-password-0001",
    );
    let before = std::fs::read(ws.path(".env.linode")).unwrap();
    let (stdout, _) = run(
        ws.token_cmd(&vault)
            .args(["--mode", "remote", "--dry-run", "--json"]),
        0,
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["action"], "dry_run");
    let changed: Vec<&str> = doc["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(changed, vec!["REDIS_PASSWORD", "REDIS_URL"]);
    assert!(!stdout.contains("rotated-redis-password-0001") && !stdout.contains(REDIS_PASSWORD));
    assert_eq!(std::fs::read(ws.path(".env.linode")).unwrap(), before);
}

#[test]
fn bundle_reads_back_exactly_with_bash_and_python_dotenv() {
    let (ws, _vault) = synced_remote_workspace();
    let b = ws.bundle(".env.linode");
    let keys: Vec<&str> = b.keys().collect();
    let path = ws.path(".env.linode");

    let read_back = |mut cmd: std::process::Command, hint: &str| {
        let out = cmd.arg(&path).args(&keys).output().unwrap();
        assert!(
            out.status.success(),
            "{hint}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let mut bash = std::process::Command::new("bash");
    bash.arg("-c")
        .arg(r#"set -a; . "$1"; set +a; shift; for k in "$@"; do printf '%s\0' "${!k}"; done"#)
        .arg("bash")
        .env_clear()
        .env("HOME", "/nonexistent-home-for-expansion-check");
    let bash = read_back(bash, "");
    let mut python = std::process::Command::new(devenv_testkit::venv_python());
    python.arg("-c").arg("import sys\nfrom dotenv import dotenv_values\nv = dotenv_values(sys.argv[1])\nsys.stdout.write(''.join(v[k] + '\\0' for k in sys.argv[2:]))");
    let python = read_back(
        python,
        "python-dotenv missing? run `scripts/dev/setup.sh test`: ",
    );
    for (reader, out) in [("bash", &bash), ("python-dotenv", &python)] {
        let values: Vec<&str> = std::str::from_utf8(out).unwrap().split('\0').collect();
        for (k, got) in keys.iter().zip(values) {
            assert_eq!(got, b.get(k).unwrap(), "{reader} read {k} differently");
        }
    }
}

#[test]
fn unportable_secret_is_refused_naming_the_key_only() {
    let ws = Workspace::new();
    let vault = Vault::start(2);
    let nasty = "it's-$HOME-unportable";
    vault.set_field("devenv/remote/redis", "password", nasty);
    let (stdout, stderr) = run(&mut ws.vault_cmd(&vault, "remote"), 2);
    assert!(stderr.contains("REDIS_PASSWORD"), "{stderr}");
    assert!(!stderr.contains(nasty) && !stdout.contains(nasty));
    assert!(!ws.path(".env.linode").exists());
}

#[test]
fn render_fills_templates_and_lists_every_unresolved_placeholder() {
    let (ws, _vault) = synced_remote_workspace();
    let (stdout, stderr) = run(ws.cmd().args(["render", "--mode", "remote", "--human"]), 0);
    assert!(stdout.contains("rendered api"), "{stdout}{stderr}");
    let api = devenv_core::bundle::Bundle::read(&ws.path(".devenv/config/api.env")).unwrap();
    let bundle = ws.bundle(".env.linode");
    assert_eq!(api.get("DATABASE_URL"), bundle.get("DATABASE_URL"));
    assert_eq!(api.get("NATS_PASSWORD"), Some(NATS_PASSWORD));
    assert_eq!(api.get("APP_ENV"), Some("dev-remote"));
    let worker = devenv_core::bundle::Bundle::read(&ws.path(".devenv/config/worker.env")).unwrap();
    assert_eq!(worker.get("ARTIFACTS_S3_SECRET_KEY"), Some(S3_SECRET));
    let mode = std::fs::metadata(ws.path(".devenv/config/api.env"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    for secret in SECRETS {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }

    // Two unknown placeholders in one template, one in another: all listed, nothing written.
    std::fs::write(
        ws.path("configs/dev/billing.env.tpl"),
        "A=${NO_SUCH_KEY}\nB=x-${ALSO_MISSING}-${DATABASE_URL}\n",
    )
    .unwrap();
    std::fs::write(ws.path("configs/dev/zeta.env.tpl"), "C=${THIRD_MISSING}\n").unwrap();
    let (_, stderr) = run(ws.cmd().args(["render", "--mode", "remote"]), 2);
    assert!(stderr.contains("3 unresolved placeholder(s)"), "{stderr}");
    for needle in [
        "billing.env.tpl:1: ${NO_SUCH_KEY}",
        "billing.env.tpl:2: ${ALSO_MISSING}",
        "zeta.env.tpl:1: ${THIRD_MISSING}",
    ] {
        assert!(stderr.contains(needle), "{needle} not in {stderr}");
    }
    assert!(!ws.path(".devenv/config/billing.env").exists());
    assert!(!stderr.contains(PG_PASSWORD));
}

#[test]
fn expired_remote_bundle_is_reported_by_consumers() {
    let (ws, vault) = synced_remote_workspace();
    ws.cmd()
        .args(["check-expiry", "--mode", "remote"])
        .assert()
        .success();
    // Age the bundle: rewrite its expiry into the past (as a day-old bundle would have).
    let path = ws.path(".env.linode");
    let mut b = ws.bundle(".env.linode");
    b.set("DEVENV_EXPIRES_AT", "2020-01-01T00:00:00Z");
    devenv_core::bundle::write_atomic(&path, b.to_dotenv("aged").as_bytes(), 0o600).unwrap();
    let (_, stderr) = run(ws.cmd().args(["check-expiry", "--mode", "remote"]), 1);
    assert!(stderr.contains("expired"), "{stderr}");
    let (_, stderr) = run(ws.cmd().args(["render", "--mode", "remote"]), 0);
    assert!(stderr.contains("warning:"), "{stderr}");
    // A sync renews an expired bundle even when no secret changed.
    let (stdout, stderr) = run(&mut ws.vault_cmd(&vault, "remote"), 0);
    assert!(stdout.contains("renewed"), "{stdout}{stderr}");
    ws.cmd()
        .args(["check-expiry", "--mode", "remote"])
        .assert()
        .success();
}

#[test]
fn remote_mode_without_vault_generates_credentials_into_an_expiring_linode_bundle() {
    let ws = Workspace::new();
    let (_, stderr) = run(ws.cmd().args(["--mode", "remote", "--human"]), 0);
    assert!(stderr.contains("VAULT_ADDR is not set"), "{stderr}");
    let b = ws.bundle(".env.linode");
    assert_eq!(b.get("DEVENV_MODE"), Some("remote"));
    assert_eq!(b.get("DEVENV_SOURCE"), Some("local-generator"));
    assert!(b.get("DEVENV_EXPIRES_AT").is_some());
    assert!(b.get("POSTGRES_PASSWORD").is_some_and(|p| p.len() >= 32));
    assert!(!ws.path(".env.local").exists());
    // Stable like local mode: a second run changes nothing.
    let (stdout, stderr) = run(ws.cmd().args(["--mode", "remote", "--human"]), 0);
    assert!(stdout.contains("unchanged"), "{stdout}{stderr}");
    // --quiet prints nothing but errors: not even the note.
    let (stdout, stderr) = run(ws.cmd().args(["--mode", "remote", "--quiet"]), 0);
    assert!(stdout.is_empty() && stderr.is_empty(), "{stdout}{stderr}");
}

/// The shapes people and scripts read: the JSON document of a remote sync and the human error
/// of a denied read. Ports, ids, temp paths and times are filtered.
#[test]
fn output_snapshots() {
    let ws = Workspace::new();
    let vault = Vault::start(2);
    let (stdout, _) = run(
        ws.cmd()
            .env("VAULT_ADDR", vault.url())
            .env("VAULT_ROLE_ID", ROLE_ID)
            .env("VAULT_SECRET_ID", SECRET_ID)
            .args(["--mode", "remote", "--json"]),
        0,
    );
    let mut doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // request ids arrive in completion order; their count is the stable part.
    let ids = doc["vault"]["request_ids"].as_array().unwrap().len();
    doc["vault"]["request_ids"] = serde_json::json!(format!("[{ids} ids]"));
    let root = ws.root().display().to_string();
    let filters = [
        (regex::escape(&root), "[WS]"),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}".to_string(),
            "[UUID]",
        ),
        (
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z".to_string(),
            "[TIME]",
        ),
    ];
    let filters: Vec<(&str, &str)> = filters.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    insta::with_settings!({ filters => filters.clone() }, {
        insta::assert_snapshot!(
            "remote_sync_json",
            serde_json::to_string_pretty(&doc).unwrap()
        );
    });

    vault.write_policy(&["devenv/remote/nats"]);
    let (_, stderr) = run(&mut ws.vault_cmd(&vault, "remote"), 5);
    insta::with_settings!({ filters => filters }, {
        insta::assert_snapshot!("denied_read_stderr", stderr);
    });
}

/// Without `--mode` every command follows the one rule: MODE (what `make MODE=remote`
/// exports) before DEVENV_MODE (what sourcing a bundle exports); an unknown value exits 2
/// naming the variable.
#[test]
fn the_mode_comes_from_mode_before_devenv_mode() {
    let ws = Workspace::new();
    let with_modes = |mode: &str, devenv_mode: &str, args: &[&str]| {
        let mut cmd = ws.cmd();
        cmd.env("MODE", mode)
            .env("DEVENV_MODE", devenv_mode)
            .args(args);
        cmd
    };
    run(&mut with_modes("remote", "local", &["--quiet"]), 0);
    assert_eq!(ws.bundle(".env.linode").get("DEVENV_MODE"), Some("remote"));
    assert!(!ws.path(".env.local").exists());
    // render and check-expiry read the remote bundle too (there is no local one to read).
    run(
        &mut with_modes("remote", "local", &["render", "--quiet"]),
        0,
    );
    run(
        &mut with_modes("remote", "local", &["check-expiry", "--quiet"]),
        0,
    );
    let (_, stderr) = run(&mut with_modes("", "local", &["render"]), 2);
    assert!(stderr.contains(".env.local does not exist"), "{stderr}");
    for args in [&["--dry-run"][..], &["render"], &["check-expiry"]] {
        let (_, stderr) = run(&mut with_modes("bogus", "remote", args), 2);
        assert!(stderr.contains("MODE=bogus"), "{args:?}: {stderr}");
    }
    assert!(!ws.path(".env.local").exists());
}
