//! `vault-bootstrap`: makes the vault profile's OpenBao (any Vault-API server with persistent
//! storage) serve the production flow, idempotently, in this order:
//!
//! 1. initialise it once (one unseal key, threshold 1) and keep the unseal key and the root
//!    token in `<state>/init.json` (0600, written before anything else can fail);
//! 2. unseal it when sealed (every start of a file-storage server is sealed) and wait until it
//!    is active;
//! 3. enable AppRole and a KV v2 mount when missing;
//! 4. write a policy that can read exactly the local mode's paths of `configs/secrets.yaml`;
//! 5. store the workspace's credentials at those paths — only fields Vault lacks, so a second
//!    run writes nothing and values rotated in Vault stay rotated;
//! 6. keep the AppRole role's role_id in `<state>/role-id` and a valid secret_id in
//!    `<state>/secret-id` (0600), issuing a new one only when the kept one no longer works.
//!
//! Every call goes straight to the HTTP API with the root token; nothing it learns (unseal key,
//! root token, secret_id, credential values) is printed: each is registered with the redactor
//! the moment it is read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use devenv_core::bundle::{Bundle, write_atomic};
use devenv_core::redact;
use serde_json::{Value, json};

pub use crate::error::BootstrapError;
use crate::mapping::{ModeMapping, SecretRef, Source};

/// Where the bootstrap keeps what it must remember, and what it talks to.
pub struct Plan<'a> {
    pub addr: String,
    pub state_dir: PathBuf,
    pub mapping: &'a ModeMapping,
    /// The AppRole role (and policy) name.
    pub role: String,
    /// The workspace's credentials: the values Vault is seeded with, by bundle key.
    pub credentials: &'a Bundle,
    pub timeout: Duration,
}

/// What one run changed; empty `changes` on a server that was already bootstrapped.
#[derive(Debug, Default, serde::Serialize)]
pub struct Outcome {
    pub initialized_now: bool,
    pub unsealed_now: bool,
    pub changes: Vec<String>,
    pub policy: String,
    pub policy_paths: Vec<String>,
    /// Holds init.json, role-id and secret-id (0700; the files 0600).
    pub state_dir: String,
    pub secret_id_issued: bool,
}

/// The kept result of `sys/init`.
#[derive(serde::Serialize, serde::Deserialize)]
struct InitKeys {
    unseal_keys_b64: Vec<String>,
    root_token: String,
}

struct Api {
    http: reqwest::Client,
    addr: String,
    token: Option<String>,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), BootstrapError> {
        let url = format!("{}/v1/{path}", self.addr.trim_end_matches('/'));
        let mut request = self.http.request(method.clone(), &url);
        if let Some(token) = &self.token {
            request = request.header("X-Vault-Token", token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let what = format!("{method} {path}");
        let response = request.send().await.map_err(|e| BootstrapError::Status {
            what: what.clone(),
            status: 0,
            detail: redact::error_chain(&e),
        })?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok((status, value))
    }

    /// `call`, and any status outside 2xx is an error naming the call and Vault's errors.
    async fn ok(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, BootstrapError> {
        let (status, value) = self.call(method.clone(), path, body).await?;
        if (200..300).contains(&status) {
            return Ok(value);
        }
        Err(BootstrapError::Status {
            what: format!("{method} {path}"),
            status,
            detail: errors_of(&value),
        })
    }

    async fn get(&self, path: &str) -> Result<Value, BootstrapError> {
        self.ok(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value, BootstrapError> {
        self.ok(reqwest::Method::POST, path, Some(body)).await
    }
}

fn errors_of(body: &Value) -> String {
    body["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; ")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "no error text".to_string())
}

/// Runs the whole bootstrap (see the module docs).
pub async fn run(plan: &Plan<'_>) -> Result<Outcome, BootstrapError> {
    let http = reqwest::Client::builder()
        .timeout(plan.timeout)
        .build()
        .map_err(|e| BootstrapError::Unreachable {
            addr: plan.addr.clone(),
            secs: plan.timeout.as_secs(),
            detail: e.to_string(),
        })?;
    let mut api = Api {
        http,
        addr: plan.addr.clone(),
        token: None,
    };
    let mut out = Outcome {
        state_dir: plan.state_dir.display().to_string(),
        ..Outcome::default()
    };
    private_dir(&plan.state_dir)?;
    wait_until_answering(&api, plan.timeout).await?;
    let keys = init_once(&api, plan, &mut out).await?;
    unseal(&api, plan, &keys, &mut out).await?;
    api.token = Some(keys.root_token.clone());
    let approle_mount = plan.mapping.approle_mount.clone();
    ensure_approle(&api, &approle_mount, &mut out).await?;
    let versions = ensure_kv_mounts(&api, plan.mapping, &mut out).await?;
    write_policy(&api, plan, &versions, &mut out).await?;
    seed_credentials(&api, plan, &versions, &mut out).await?;
    ensure_role(&api, plan, &approle_mount, &mut out).await?;
    Ok(out)
}

/// Polls `sys/health` until the server answers at all (any status: sealed and uninitialised
/// servers answer too) — a starting server refuses connections for a moment.
async fn wait_until_answering(api: &Api, timeout: Duration) -> Result<(), BootstrapError> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(20);
    loop {
        match api.call(reqwest::Method::GET, "sys/health", None).await {
            Ok(_) => return Ok(()),
            Err(BootstrapError::Status { detail, .. }) if Instant::now() >= deadline => {
                return Err(BootstrapError::Unreachable {
                    addr: api.addr.clone(),
                    secs: timeout.as_secs(),
                    detail,
                });
            }
            Err(_) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(250));
            }
        }
    }
}

fn init_path(plan: &Plan<'_>) -> PathBuf {
    plan.state_dir.join("init.json")
}

/// The state directory, 0700 whatever the umask (it holds the root token).
fn private_dir(dir: &Path) -> Result<(), BootstrapError> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    let werr = |e: std::io::Error| BootstrapError::Write {
        path: dir.to_path_buf(),
        detail: e.to_string(),
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(werr)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(werr)
}

fn write_private(path: &Path, contents: &[u8]) -> Result<(), BootstrapError> {
    write_atomic(path, contents, 0o600).map_err(|e| BootstrapError::Write {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

/// Initialises an uninitialised server and keeps its keys; otherwise reads the kept keys.
async fn init_once(
    api: &Api,
    plan: &Plan<'_>,
    out: &mut Outcome,
) -> Result<InitKeys, BootstrapError> {
    let path = init_path(plan);
    let status = api.get("sys/init").await?;
    if status["initialized"].as_bool() == Some(true) {
        let text = std::fs::read_to_string(&path).map_err(|e| BootstrapError::Keys {
            path: path.clone(),
            detail: format!(
                "the server is initialised but its unseal key and root token are not here ({e})"
            ),
        })?;
        let keys: InitKeys = serde_json::from_str(&text).map_err(|e| BootstrapError::Keys {
            path: path.clone(),
            detail: format!("not the init.json vault-bootstrap writes ({e})"),
        })?;
        register(&keys);
        return Ok(keys);
    }
    if path.exists() {
        // Keys of an earlier server whose storage is gone: kept aside, never overwritten.
        let aside = path.with_extension(format!("json.stale-{}", std::process::id()));
        std::fs::rename(&path, &aside).map_err(|e| BootstrapError::Write {
            path: aside.clone(),
            detail: e.to_string(),
        })?;
        tracing::warn!(
            "Vault's storage is new but {} held keys: moved them to {}",
            path.display(),
            aside.display()
        );
    }
    let answer = api
        .ok(
            reqwest::Method::PUT,
            "sys/init",
            Some(&json!({ "secret_shares": 1, "secret_threshold": 1 })),
        )
        .await?;
    let keys = InitKeys {
        unseal_keys_b64: answer["keys_base64"]
            .as_array()
            .map(|k| {
                k.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
        root_token: answer["root_token"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    };
    register(&keys);
    if keys.unseal_keys_b64.is_empty() || keys.root_token.is_empty() {
        return Err(BootstrapError::Status {
            what: "PUT sys/init".into(),
            status: 200,
            detail: "the answer has no keys_base64 or root_token".into(),
        });
    }
    let json = serde_json::to_vec_pretty(&keys).expect("keys serialise");
    write_private(&path, &json)?;
    out.initialized_now = true;
    out.changes.push("initialised".into());
    Ok(keys)
}

fn register(keys: &InitKeys) {
    redact::register(&keys.root_token);
    for key in &keys.unseal_keys_b64 {
        redact::register(key);
    }
}

async fn unseal(
    api: &Api,
    plan: &Plan<'_>,
    keys: &InitKeys,
    out: &mut Outcome,
) -> Result<(), BootstrapError> {
    let status = api.get("sys/seal-status").await?;
    if status["sealed"].as_bool() == Some(true) {
        let mut sealed = true;
        for key in &keys.unseal_keys_b64 {
            let answer = api
                .ok(
                    reqwest::Method::PUT,
                    "sys/unseal",
                    Some(&json!({ "key": key })),
                )
                .await;
            match answer {
                Ok(state) => sealed = state["sealed"].as_bool() != Some(false),
                Err(BootstrapError::Status { status: 400, .. }) => {
                    return Err(BootstrapError::Keys {
                        path: init_path(plan),
                        detail: "its unseal key does not open this server's storage".into(),
                    });
                }
                Err(e) => return Err(e),
            }
            if !sealed {
                break;
            }
        }
        if sealed {
            return Err(BootstrapError::Keys {
                path: init_path(plan),
                detail: "the kept unseal keys leave the server sealed".into(),
            });
        }
        out.unsealed_now = true;
        out.changes.push("unsealed".into());
    }
    // Active means sys/health answers 200 (429 standby, 503 sealed, 501 uninitialised).
    let deadline = Instant::now() + plan.timeout;
    loop {
        let (code, _) = api.call(reqwest::Method::GET, "sys/health", None).await?;
        if code == 200 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(BootstrapError::NotActive {
                addr: api.addr.clone(),
                secs: plan.timeout.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn ensure_approle(api: &Api, mount: &str, out: &mut Outcome) -> Result<(), BootstrapError> {
    let auths = api.get("sys/auth").await?;
    let listed = auths.get("data").unwrap_or(&auths);
    if listed.get(format!("{mount}/")).is_none() {
        api.post(&format!("sys/auth/{mount}"), &json!({ "type": "approle" }))
            .await?;
        out.changes.push(format!("enabled AppRole at auth/{mount}"));
    }
    Ok(())
}

/// Every KV mount the mapping reads, created as KV v2 when missing; returns each one's version.
async fn ensure_kv_mounts(
    api: &Api,
    mapping: &ModeMapping,
    out: &mut Outcome,
) -> Result<BTreeMap<String, u8>, BootstrapError> {
    let mounts = api.get("sys/mounts").await?;
    let listed = mounts.get("data").unwrap_or(&mounts);
    let mut versions = BTreeMap::new();
    for mount in mapping.mounts() {
        let version = match listed.get(format!("{mount}/")) {
            Some(m) => match m["options"]["version"].as_str() {
                Some("2") => 2,
                _ => 1,
            },
            None => {
                let body = json!({ "type": "kv", "options": { "version": "2" } });
                api.post(&format!("sys/mounts/{mount}"), &body).await?;
                wait_for_kv2(api, &mount).await?;
                out.changes.push(format!("mounted KV v2 at {mount}/"));
                2
            }
        };
        versions.insert(mount, version);
    }
    Ok(versions)
}

/// A new KV v2 mount upgrades its storage first and refuses writes until its config answers.
async fn wait_for_kv2(api: &Api, mount: &str) -> Result<(), BootstrapError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, body) = api
            .call(reqwest::Method::GET, &format!("{mount}/config"), None)
            .await?;
        if code == 200 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(BootstrapError::Status {
                what: format!("GET {mount}/config"),
                status: code,
                detail: errors_of(&body),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The API path of a secret's data (KV v2 puts `data/` after the mount).
fn data_path(secret: &SecretRef, versions: &BTreeMap<String, u8>) -> String {
    match versions.get(&secret.mount) {
        Some(2) => format!("{}/data/{}", secret.mount, secret.path),
        _ => format!("{}/{}", secret.mount, secret.path),
    }
}

async fn write_policy(
    api: &Api,
    plan: &Plan<'_>,
    versions: &BTreeMap<String, u8>,
    out: &mut Outcome,
) -> Result<(), BootstrapError> {
    let paths: Vec<String> = plan
        .mapping
        .secrets()
        .iter()
        .map(|s| data_path(s, versions))
        .collect();
    let mut hcl = String::from(
        "# Written by secrets-sync vault-bootstrap: read-only, exactly the local mode's paths.\n",
    );
    for path in &paths {
        hcl.push_str(&format!(
            "path \"{path}\" {{\n  capabilities = [\"read\"]\n}}\n"
        ));
    }
    let name = &plan.role;
    let (code, current) = api
        .call(
            reqwest::Method::GET,
            &format!("sys/policies/acl/{name}"),
            None,
        )
        .await?;
    let kept = current.pointer("/data/policy").and_then(Value::as_str);
    if code != 200 || kept != Some(hcl.as_str()) {
        api.ok(
            reqwest::Method::PUT,
            &format!("sys/policies/acl/{name}"),
            Some(&json!({ "policy": hcl })),
        )
        .await?;
        out.changes.push(format!("wrote policy {name}"));
    }
    out.policy = name.clone();
    out.policy_paths = paths;
    Ok(())
}

/// Stores each mapped credential Vault lacks, one write per secret that gains fields.
async fn seed_credentials(
    api: &Api,
    plan: &Plan<'_>,
    versions: &BTreeMap<String, u8>,
    out: &mut Outcome,
) -> Result<(), BootstrapError> {
    let mut wanted: BTreeMap<SecretRef, Vec<(&str, &str)>> = BTreeMap::new();
    for (key, source) in &plan.mapping.entries {
        if let Source::Vault { secret, field } = source {
            if let Some(value) = plan.credentials.get(key).filter(|v| !v.is_empty()) {
                wanted
                    .entry(secret.clone())
                    .or_default()
                    .push((field.as_str(), value));
            }
        }
    }
    for (secret, fields) in wanted {
        let path = data_path(&secret, versions);
        let kv2 = versions.get(&secret.mount) == Some(&2);
        let (code, current) = api.call(reqwest::Method::GET, &path, None).await?;
        let mut data: serde_json::Map<String, Value> = match code {
            200 => {
                let at = if kv2 { "/data/data" } else { "/data" };
                current
                    .pointer(at)
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default()
            }
            404 => serde_json::Map::new(),
            status => {
                return Err(BootstrapError::Status {
                    what: format!("GET {path}"),
                    status,
                    detail: errors_of(&current),
                });
            }
        };
        for value in data.values().filter_map(Value::as_str) {
            redact::register(value);
        }
        let mut added = Vec::new();
        for (field, value) in fields {
            if !data.contains_key(field) {
                data.insert(field.to_string(), Value::String(value.to_string()));
                added.push(field);
            }
        }
        if added.is_empty() {
            continue;
        }
        let body = if kv2 {
            json!({ "data": data })
        } else {
            Value::Object(data)
        };
        api.post(&path, &body).await?;
        out.changes
            .push(format!("stored {secret} ({})", added.join(", ")));
    }
    Ok(())
}

async fn ensure_role(
    api: &Api,
    plan: &Plan<'_>,
    mount: &str,
    out: &mut Outcome,
) -> Result<(), BootstrapError> {
    let base = format!("auth/{mount}/role/{}", plan.role);
    // Short-lived tokens (secrets-sync revokes its own anyway); secret_ids do not expire, so a
    // workspace left alone for weeks still comes up offline.
    let config = json!({
        "token_policies": [plan.role],
        "token_ttl": 900,
        "token_max_ttl": 3600,
        "secret_id_ttl": 0,
        "secret_id_num_uses": 0,
    });
    let (code, current) = api.call(reqwest::Method::GET, &base, None).await?;
    let same = code == 200
        && [
            "token_policies",
            "token_ttl",
            "token_max_ttl",
            "secret_id_ttl",
            "secret_id_num_uses",
        ]
        .iter()
        .all(|k| current["data"][k] == config[k]);
    if !same {
        api.post(&base, &config).await?;
        out.changes
            .push(format!("wrote AppRole role {}", plan.role));
    }
    let role_id = api.get(&format!("{base}/role-id")).await?["data"]["role_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let role_id_file = plan.state_dir.join("role-id");
    if std::fs::read_to_string(&role_id_file).ok().as_deref() != Some(role_id.as_str()) {
        write_private(&role_id_file, role_id.as_bytes())?;
    }

    let secret_id_file = plan.state_dir.join("secret-id");
    if let Ok(kept) = std::fs::read_to_string(&secret_id_file) {
        let kept = kept.trim().to_string();
        redact::register(&kept);
        let (code, _) = api
            .call(
                reqwest::Method::POST,
                &format!("{base}/secret-id/lookup"),
                Some(&json!({ "secret_id": kept })),
            )
            .await?;
        if code == 200 {
            return Ok(());
        }
    }
    let issued = api.post(&format!("{base}/secret-id"), &json!({})).await?;
    let secret_id = issued["data"]["secret_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    redact::register(&secret_id);
    write_private(&secret_id_file, secret_id.as_bytes())?;
    out.secret_id_issued = true;
    out.changes.push("issued a secret_id".into());
    Ok(())
}
