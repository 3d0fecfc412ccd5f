//! A local HTTP double of HashiCorp Vault. Vault itself cannot run here (no binary, no
//! network), so this serves the response bodies Vault's API documentation gives for the
//! endpoints secrets-sync uses, on a free 127.0.0.1 port:
//!
//! - `POST /v1/auth/<mount>/login` — AppRole login (api-docs/auth/approle#login-with-approle);
//!   a wrong role_id/secret_id answers 400 `{"errors":["invalid role or secret ID"]}`.
//! - `GET /v1/sys/mounts` — list secrets engines (api-docs/system/mounts), in the shape current
//!   Vault returns: the table under `data` and repeated at the top level.
//! - `GET /v1/sys/internal/ui/mounts/<mount>` — the mount lookup the `vault kv` CLI uses when
//!   a token may not list mounts (same entry shape under `data`).
//! - `GET /v1/<mount>/<path>` — KV v1 read (api-docs/secret/kv/kv-v1#read-secret).
//! - `GET /v1/<mount>/data/<path>` — KV v2 read (api-docs/secret/kv/kv-v2#read-secret-version).
//! - `POST /v1/auth/token/revoke-self` — 204 (api-docs/auth/token#revoke-a-token-self).
//! - errors as Vault sends them (api-docs#http-status-codes): 403 `{"errors":["permission
//!   denied"]}`, 404 `{"errors":[]}`, 503 `{"errors":["Vault is sealed"]}`, and an expired
//!   token: 403 with Vault's multierror text `permission denied` + `invalid token`.
//!
//! Documented sample bodies omit `request_id`; real Vault always sends one (it is the key into
//! Vault's audit log), so every success body here carries a fresh one, and the double records
//! each (method, path, request_id) so tests can match them with `.devenv/events.jsonl`.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A per-path failure to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 403 permission denied (the token's policy lacks read).
    Forbidden,
    /// 404 with an empty error list.
    NotFound,
    /// 503 Vault is sealed.
    Sealed,
}

#[derive(Debug, Default)]
pub struct Config {
    /// mount (no slash) → KV version.
    pub mounts: BTreeMap<String, u8>,
    /// (mount, path) → fields.
    pub secrets: BTreeMap<(String, String), BTreeMap<String, String>>,
    /// AppRole credentials that log in.
    pub approle: Option<(String, String)>,
    /// Tokens accepted as is (e.g. a user's VAULT_TOKEN).
    pub tokens: HashSet<String>,
    /// Tokens that Vault considers expired.
    pub expired_tokens: HashSet<String>,
    /// Paths (as requested, without /v1/) that fail.
    pub faults: HashMap<String, Fault>,
    /// Every request answers 503 sealed.
    pub sealed: bool,
    /// Added to every request, to make concurrency measurable like a real network hop.
    pub latency: Duration,
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub request_id: Option<String>,
    pub status: u16,
    pub namespace: Option<String>,
    pub token: Option<String>,
}

#[derive(Default)]
pub struct Shared {
    pub config: Config,
    pub log: Vec<Logged>,
    pub issued: Vec<String>,
    pub revoked: Vec<String>,
    pub in_flight: usize,
    pub max_in_flight: usize,
}

pub struct VaultDouble {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<Shared>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(1);

fn request_id() -> String {
    let n = REQUEST_SEQ.fetch_add(1, Ordering::Relaxed);
    format!("8d2d2d71-0d8c-4c3e-9a57-{n:012x}")
}

impl VaultDouble {
    /// Starts the double on a free loopback port; it serves until dropped.
    pub fn start(config: Config) -> Self {
        let state = Arc::new(Mutex::new(Shared {
            config,
            ..Default::default()
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app_state = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new().fallback(handle).with_state(app_state);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Self {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut Shared) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    pub fn log(&self) -> Vec<Logged> {
        self.with(|s| s.log.clone())
    }
}

impl Drop for VaultDouble {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn errors(status: StatusCode, errs: &[&str]) -> (StatusCode, Value) {
    (status, json!({ "errors": errs }))
}

/// Vault's response envelope around `data`, with a fresh request id.
fn envelope(data: Value) -> Value {
    json!({
        "request_id": request_id(),
        "lease_id": "",
        "renewable": false,
        "lease_duration": 0,
        "data": data,
        "wrap_info": null,
        "warnings": null,
        "auth": null
    })
}

/// A KV mount's entry as sys/mounts and sys/internal/ui/mounts describe it
/// (api-docs/system/mounts#list-mounted-secrets-engines).
fn kv_mount_entry(mount: &str, version: u8) -> Value {
    json!({
        "accessor": format!("kv_{mount}"),
        "config": {"default_lease_ttl": 0, "force_no_cache": false, "max_lease_ttl": 0},
        "description": "key/value secret storage",
        "external_entropy_access": false,
        "local": false,
        "options": {"version": version.to_string()},
        "seal_wrap": false,
        "type": "kv",
        "uuid": "7b6f3b2c-0000-4000-8000-000000000001"
    })
}

async fn handle(
    State(state): State<Arc<Mutex<Shared>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let latency = {
        let mut s = state.lock().unwrap();
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        s.config.latency
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let path = uri.path().trim_start_matches("/v1/").to_string();
    let token = headers
        .get("x-vault-token")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let namespace = headers
        .get("x-vault-namespace")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let mut s = state.lock().unwrap();
    s.in_flight -= 1;
    let (status, body) = answer(&mut s, &method, &path, token.as_deref(), &body);
    let rid = body
        .as_ref()
        .and_then(|b| b.get("request_id"))
        .and_then(Value::as_str)
        .map(String::from);
    s.log.push(Logged {
        method: method.to_string(),
        path,
        status: status.as_u16(),
        request_id: rid,
        namespace,
        token,
    });
    match body {
        Some(b) => (status, axum::Json(b)).into_response(),
        None => status.into_response(),
    }
}

fn answer(
    s: &mut Shared,
    method: &Method,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> (StatusCode, Option<Value>) {
    let wrap = |(st, v): (StatusCode, Value)| (st, Some(v));
    if s.config.sealed {
        return wrap(errors(
            StatusCode::SERVICE_UNAVAILABLE,
            &["Vault is sealed"],
        ));
    }
    if let Some(fault) = s.config.faults.get(path).copied() {
        return wrap(match fault {
            Fault::Forbidden => errors(StatusCode::FORBIDDEN, &["permission denied"]),
            Fault::NotFound => errors(StatusCode::NOT_FOUND, &[]),
            Fault::Sealed => errors(StatusCode::SERVICE_UNAVAILABLE, &["Vault is sealed"]),
        });
    }
    // AppRole login needs no token.
    if method == Method::POST && path.starts_with("auth/") && path.ends_with("/login") {
        let sent: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let ok = s.config.approle.as_ref().is_some_and(|(role, secret)| {
            sent["role_id"] == json!(role) && sent["secret_id"] == json!(secret)
        });
        if !ok {
            return wrap(errors(
                StatusCode::BAD_REQUEST,
                &["invalid role or secret ID"],
            ));
        }
        let client_token = format!(
            "hvs.double{:016x}",
            REQUEST_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        s.issued.push(client_token.clone());
        // api-docs/auth/approle#login-with-approle sample response (+ request_id).
        return wrap((
            StatusCode::OK,
            json!({
                "request_id": request_id(),
                "auth": {
                    "renewable": true,
                    "lease_duration": 1200,
                    "metadata": null,
                    "token_policies": ["default"],
                    "accessor": "fd6c9a00-d2dc-3b11-0be5-af7ae0e1d374",
                    "client_token": client_token
                },
                "warnings": null,
                "wrap_info": null,
                "data": null,
                "lease_duration": 0,
                "renewable": false,
                "lease_id": ""
            }),
        ));
    }
    // Every other endpoint needs a live token.
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return wrap(errors(StatusCode::FORBIDDEN, &["permission denied"]));
    };
    if s.config.expired_tokens.contains(token) || s.revoked.iter().any(|t| t == token) {
        return wrap(errors(
            StatusCode::FORBIDDEN,
            &["2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"],
        ));
    }
    if !s.config.tokens.contains(token) && !s.issued.iter().any(|t| t == token) {
        return wrap(errors(StatusCode::FORBIDDEN, &["permission denied"]));
    }
    if method == Method::POST && path == "auth/token/revoke-self" {
        s.revoked.push(token.to_string());
        return (StatusCode::NO_CONTENT, None);
    }
    if method != Method::GET {
        return wrap(errors(
            StatusCode::METHOD_NOT_ALLOWED,
            &["unsupported operation"],
        ));
    }
    if path == "sys/mounts" {
        let mut table = serde_json::Map::new();
        for (mount, version) in &s.config.mounts {
            let mut entry = kv_mount_entry(mount, *version);
            entry["plugin_version"] = json!("");
            entry["running_plugin_version"] = json!("v0.16.1+builtin");
            table.insert(format!("{mount}/"), entry);
        }
        table.insert(
            "sys/".into(),
            json!({"type": "system", "description": "system endpoints used for control, policy and debugging", "options": null, "config": {"default_lease_ttl": 0, "force_no_cache": false, "max_lease_ttl": 0}}),
        );
        // Current Vault repeats the table at the top level (its keys end in `/`, so they
        // never collide with the envelope's).
        let mut body = envelope(Value::Object(table.clone()));
        if let Value::Object(top) = &mut body {
            top.extend(table);
        }
        return wrap((StatusCode::OK, body));
    }
    if let Some(mount) = path.strip_prefix("sys/internal/ui/mounts/") {
        let mount = mount.trim_end_matches('/');
        return match s.config.mounts.get(mount) {
            // What `vault kv` asks (undocumented in the API reference; shape as Vault 1.x
            // answers it): the mount's path, type and options.
            Some(version) => {
                let mut entry = kv_mount_entry(mount, *version);
                entry["path"] = json!(format!("{mount}/"));
                wrap((StatusCode::OK, envelope(entry)))
            }
            None => wrap(errors(StatusCode::NOT_FOUND, &[])),
        };
    }
    let Some((mount, rest)) = path.split_once('/') else {
        return wrap(errors(StatusCode::NOT_FOUND, &[]));
    };
    let Some(version) = s.config.mounts.get(mount).copied() else {
        return wrap(errors(StatusCode::FORBIDDEN, &["permission denied"]));
    };
    let secret_path = if version == 2 {
        match rest.strip_prefix("data/") {
            Some(p) => p,
            None => return wrap(errors(StatusCode::NOT_FOUND, &[])),
        }
    } else {
        rest
    };
    let Some(fields) = s
        .config
        .secrets
        .get(&(mount.to_string(), secret_path.to_string()))
    else {
        return wrap(errors(StatusCode::NOT_FOUND, &[]));
    };
    let data = json!(fields);
    if version == 2 {
        // api-docs/secret/kv/kv-v2#read-secret-version sample response (+ request_id).
        wrap((
            StatusCode::OK,
            envelope(json!({
                "data": data,
                "metadata": {
                    "created_time": "2018-03-22T02:24:06.945319214Z",
                    "custom_metadata": {"owner": "jdoe", "mission_critical": "false"},
                    "deletion_time": "",
                    "destroyed": false,
                    "version": 2
                }
            })),
        ))
    } else {
        // api-docs/secret/kv/kv-v1#read-secret sample response (+ request_id).
        wrap((
            StatusCode::OK,
            json!({
                "request_id": request_id(),
                "auth": null,
                "data": data,
                "lease_duration": 3600,
                "lease_id": "",
                "renewable": false
            }),
        ))
    }
}
