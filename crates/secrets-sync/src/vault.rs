//! The Vault source: log in (AppRole or a given token), detect each KV mount's version, read
//! every mapped secret concurrently, revoke the token we created.
//!
//! vaultrs provides the client (address, namespace and token headers, TLS) and the endpoint
//! definitions. We execute those endpoints ourselves instead of calling vaultrs' convenience
//! functions because those strip Vault's response envelope, and with it the `request_id` that
//! ties each read to Vault's audit log; they also insist on envelope fields that Vault's own
//! documented sample bodies omit. Every value is registered with the redactor the moment its
//! response is parsed, before anything can print it.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use devenv_core::events::Event;
use devenv_core::{ids, redact};
use futures::{StreamExt as _, TryStreamExt as _};
use rustify::endpoint::Endpoint;
use serde_json::Value;
use vaultrs::api::auth::approle::requests::LoginWithApproleRequest;
use vaultrs::api::kv1::requests::GetSecretRequest;
use vaultrs::api::kv2::requests::ReadSecretRequest;
use vaultrs::api::sys::requests::ListMountsRequest;
use vaultrs::api::token::requests::{LookupTokenSelfRequest, RevokeTokenSelfRequest};
use vaultrs::client::{Client as _, VaultClient, VaultClientSettingsBuilder};

use crate::error::VaultError;
use crate::mapping::SecretRef;

/// How we authenticate.
pub enum Credentials {
    /// A token the user already holds (`VAULT_TOKEN`): used as is, never revoked.
    Token(String),
    /// AppRole: we log in, and revoke the token we got when done.
    AppRole {
        mount: String,
        role_id: String,
        secret_id: String,
    },
}

pub struct Settings {
    pub addr: String,
    pub namespace: Option<String>,
    pub credentials: Credentials,
    /// Forced KV version for every mount (skips sys/mounts).
    pub kv_version: Option<u8>,
    pub concurrency: usize,
    pub timeout: Duration,
}

/// One secret as read: its fields (all values already registered with the redactor when
/// secret) and Vault's request id for the audit trail.
#[derive(Debug)]
pub struct SecretRead {
    pub secret: SecretRef,
    pub request_id: Option<String>,
    pub fields: BTreeMap<String, String>,
}

/// A logged-in client.
pub struct Session {
    client: VaultClient,
    addr: String,
    /// True when we created the token (AppRole), so we must revoke it.
    owns_token: bool,
    pub login_request_id: Option<String>,
}

/// Installs ring as rustls' process-wide crypto provider (vaultrs is built without one, to
/// keep aws-lc's C build out of the workspace). Idempotent.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A parsed Vault response: the JSON body (Null for an empty 204 body).
struct Answer {
    body: Value,
}

impl Answer {
    fn request_id(&self) -> Option<String> {
        self.body
            .get("request_id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from)
    }
}

impl Session {
    /// Builds the client and logs in when using AppRole.
    pub async fn open(settings: &Settings) -> Result<Self, VaultError> {
        install_crypto_provider();
        let (token, owns_token) = match &settings.credentials {
            Credentials::Token(t) => (t.clone(), false),
            Credentials::AppRole { .. } => (String::new(), true),
        };
        // vaultrs panics on an unparsable address: validate it first.
        match url::Url::parse(&settings.addr) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            Ok(_) => {
                return Err(VaultError::Address {
                    addr: settings.addr.clone(),
                    detail: "it must be an http:// or https:// URL with a host".into(),
                });
            }
            Err(e) => {
                return Err(VaultError::Address {
                    addr: settings.addr.clone(),
                    detail: e.to_string(),
                });
            }
        }
        let mut builder = VaultClientSettingsBuilder::default();
        builder
            .address(settings.addr.as_str())
            .token(token)
            .timeout(Some(settings.timeout));
        if let Some(ns) = settings.namespace.as_ref().filter(|n| !n.is_empty()) {
            builder.namespace(Some(ns.clone()));
        }
        let client_settings = builder.build().map_err(|e| VaultError::Address {
            addr: settings.addr.clone(),
            detail: e.to_string(),
        })?;
        let client = VaultClient::new(client_settings).map_err(|e| VaultError::Address {
            addr: settings.addr.clone(),
            detail: redact::error_chain(&e),
        })?;
        let mut session = Session {
            client,
            addr: settings.addr.clone(),
            owns_token,
            login_request_id: None,
        };
        if let Credentials::AppRole {
            mount,
            role_id,
            secret_id,
        } = &settings.credentials
        {
            session.login(mount, role_id, secret_id).await?;
        }
        Ok(session)
    }

    async fn login(
        &mut self,
        mount: &str,
        role_id: &str,
        secret_id: &str,
    ) -> Result<(), VaultError> {
        let what = format!("auth/{mount}/login");
        let endpoint = LoginWithApproleRequest::builder()
            .mount(mount)
            .role_id(role_id)
            .secret_id(secret_id)
            .build();
        let answer = match self.call_built(endpoint, &what).await {
            Ok(a) => a,
            // A refused login is 400 ("invalid role or secret ID") or 403 in Vault; a 403
            // here is about the role, not a token we hold, whatever its detail says.
            Err(VaultError::Denied { detail, .. } | VaultError::TokenInvalid { detail, .. }) => {
                return Err(VaultError::LoginRefused {
                    mount: mount.into(),
                    status: 403,
                    detail,
                });
            }
            Err(VaultError::Status { status, detail, .. }) if (400..500).contains(&status) => {
                return Err(VaultError::LoginRefused {
                    mount: mount.into(),
                    status,
                    detail,
                });
            }
            Err(e) => return Err(e),
        };
        let token = answer
            .body
            .pointer("/auth/client_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| VaultError::Malformed {
                what: what.clone(),
                detail: "no auth.client_token in the login response".into(),
            })?
            .to_string();
        redact::register(&token);
        self.client.set_token(&token);
        self.login_request_id = answer.request_id();
        Event::new(crate::SOURCE, "vault_login")
            .field("audit_id", ids::correlation_id())
            .field("method", "approle")
            .field("mount", mount)
            .field("request_id", answer.request_id())
            .append_to(&events_file());
        Ok(())
    }

    /// [`Self::call`] for an endpoint from one of vaultrs' builders: a builder error (a required
    /// field unset) is reported as malformed.
    async fn call_built<E: Endpoint>(
        &self,
        built: Result<E, impl std::fmt::Display>,
        what: &str,
    ) -> Result<Answer, VaultError> {
        let endpoint = built.map_err(|e| VaultError::Malformed {
            what: what.into(),
            detail: e.to_string(),
        })?;
        self.call(endpoint, what).await
    }

    /// Executes one vaultrs endpoint and maps Vault's status codes to our errors.
    async fn call<E: Endpoint>(&self, endpoint: E, what: &str) -> Result<Answer, VaultError> {
        let result = endpoint
            .with_middleware(self.client.middle())
            .exec(self.client.http())
            .await;
        match result {
            Ok(resp) => {
                let raw = resp.raw();
                if raw.iter().all(u8::is_ascii_whitespace) {
                    return Ok(Answer { body: Value::Null });
                }
                // Parse into a generic value first: serde's type errors quote the offending
                // value, which here could be a secret. Syntax errors only give positions.
                let body: Value =
                    serde_json::from_slice(&raw).map_err(|e| VaultError::Malformed {
                        what: what.into(),
                        // Only the position: serde_json's message may quote the content.
                        detail: format!("not JSON (line {} column {})", e.line(), e.column()),
                    })?;
                Ok(Answer { body })
            }
            Err(rustify::errors::ClientError::ServerResponseError { code, content }) => {
                let mut detail = vault_errors(content.as_deref());
                // Vault says `invalid token` only while an expired token is still stored;
                // OpenBao (and Vault once it is gone) answers a bare `permission denied`. A
                // token that may not even look itself up (the default policy allows that) is
                // dead: the remedy is a new login, not a policy change.
                if code == 403
                    && !what.ends_with("/login")
                    && !detail.contains("invalid token")
                    && !self.token_alive().await
                {
                    detail.push_str("; invalid token (auth/token/lookup-self is denied too)");
                }
                Err(match code {
                    403 if detail.contains("invalid token") => VaultError::TokenInvalid {
                        what: what.into(),
                        detail,
                    },
                    403 => VaultError::Denied {
                        what: what.into(),
                        detail,
                    },
                    404 => VaultError::NotFound { what: what.into() },
                    503 => VaultError::Sealed { what: what.into() },
                    status => VaultError::Status {
                        what: what.into(),
                        status,
                        detail,
                    },
                })
            }
            Err(e) => Err(VaultError::Unreachable {
                addr: self.addr.clone(),
                what: what.into(),
                detail: redact::error_chain(&e),
            }),
        }
    }

    /// Whether Vault still knows our token: `auth/token/lookup-self` is not denied. Asked
    /// directly (not through [`Self::call`]) after a 403, to tell a dead token from a policy.
    async fn token_alive(&self) -> bool {
        let Ok(endpoint) = LookupTokenSelfRequest::builder().build() else {
            return true;
        };
        let answer = endpoint
            .with_middleware(self.client.middle())
            .exec(self.client.http())
            .await;
        !matches!(
            answer,
            Err(rustify::errors::ClientError::ServerResponseError { code: 403, .. })
        )
    }

    /// The KV version of each mount: forced, or read from `sys/mounts`.
    pub async fn kv_versions(
        &self,
        mounts: &[String],
        forced: Option<u8>,
    ) -> Result<BTreeMap<String, u8>, VaultError> {
        if let Some(v) = forced {
            return Ok(mounts.iter().map(|m| (m.clone(), v)).collect());
        }
        let endpoint = ListMountsRequest::builder().build();
        let answer = match self.call_built(endpoint, "sys/mounts").await {
            Ok(a) => a,
            // A least-privilege token (the usual AppRole policy) may not list mounts; ask
            // Vault about each mount the way the `vault kv` CLI does.
            Err(VaultError::Denied { detail, .. }) => {
                tracing::info!("sys/mounts denied ({detail}); asking sys/internal/ui/mounts");
                return self.kv_versions_per_mount(mounts).await;
            }
            Err(e) => return Err(e),
        };
        // Current Vault puts the table under `data` (and repeats it at the top level);
        // the API docs' sample shows only the top level. Accept both.
        let table = match answer.body.get("data") {
            Some(Value::Object(map)) if !map.is_empty() => Value::Object(map.clone()),
            _ => answer.body.clone(),
        };
        let mut out = BTreeMap::new();
        for mount in mounts {
            let entry = table
                .get(format!("{mount}/"))
                .or_else(|| table.get(mount.as_str()))
                .ok_or_else(|| VaultError::UnknownMount {
                    mount: mount.clone(),
                })?;
            out.insert(mount.clone(), kv_version_of(entry));
        }
        Ok(out)
    }

    /// `sys/internal/ui/mounts/<mount>` for each mount: callable by any token that may use
    /// the mount, unlike `sys/mounts`.
    async fn kv_versions_per_mount(
        &self,
        mounts: &[String],
    ) -> Result<BTreeMap<String, u8>, VaultError> {
        let mut out = BTreeMap::new();
        for mount in mounts {
            let what = format!("sys/internal/ui/mounts/{mount}");
            let answer = match self
                .call(
                    MountInfoRequest {
                        mount: mount.clone(),
                    },
                    &what,
                )
                .await
            {
                Ok(a) => a,
                Err(VaultError::Denied { what, detail }) => {
                    return Err(VaultError::Denied {
                        what: format!(
                            "{what} and sys/mounts (pass --kv-version 1|2 to skip detection)"
                        ),
                        detail,
                    });
                }
                Err(VaultError::NotFound { .. }) => {
                    return Err(VaultError::UnknownMount {
                        mount: mount.clone(),
                    });
                }
                Err(e) => return Err(e),
            };
            let entry = answer
                .body
                .get("data")
                .ok_or_else(|| VaultError::Malformed {
                    what: what.clone(),
                    detail: "no `data`".into(),
                })?;
            out.insert(mount.clone(), kv_version_of(entry));
        }
        Ok(out)
    }

    /// Reads one secret and registers its secret values with the redactor immediately.
    pub async fn read(
        &self,
        secret: &SecretRef,
        kv_version: u8,
        public_fields: &HashSet<(SecretRef, String)>,
    ) -> Result<SecretRead, VaultError> {
        // KV v2 wraps the fields in a second `data` (next to `metadata`).
        let (mount, path) = (secret.mount.as_str(), secret.path.as_str());
        let (answer, what, data_pointer) = if kv_version == 2 {
            let what = format!("{mount}/data/{path}");
            let built = ReadSecretRequest::builder().mount(mount).path(path).build();
            (self.call_built(built, &what).await, what, "/data/data")
        } else {
            let what = secret.to_string();
            let built = GetSecretRequest::builder().mount(mount).path(path).build();
            (self.call_built(built, &what).await, what, "/data")
        };
        let answer = answer?;
        let map = match answer.body.pointer(data_pointer) {
            Some(Value::Object(map)) => map,
            // KV v2 answers a deleted or destroyed latest version with data: null.
            Some(Value::Null) | None => return Err(VaultError::NotFound { what }),
            Some(_) => {
                return Err(VaultError::Malformed {
                    what,
                    detail: "`data` is not an object".into(),
                });
            }
        };
        let mut fields = BTreeMap::new();
        for (field, value) in map {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            // Everything read is secret unless configs/secrets.yaml maps the field only to
            // keys DESIGN says are not (hosts, users, ports).
            if !public_fields.contains(&(secret.clone(), field.clone())) {
                redact::register(&text);
            }
            if let Some(password) = redact::url_password(&text) {
                redact::register(&password);
            }
            fields.insert(field.clone(), text);
        }
        Ok(SecretRead {
            secret: secret.clone(),
            request_id: answer.request_id(),
            fields,
        })
    }

    /// Reads every secret, at most `concurrency` at a time. Each completed read is recorded
    /// in the event stream with Vault's request id. The first failure ends the run.
    pub async fn read_all(
        &self,
        secrets: &[SecretRef],
        versions: &BTreeMap<String, u8>,
        concurrency: usize,
        public_fields: &HashSet<(SecretRef, String)>,
        keys_of: &dyn Fn(&SecretRef) -> Vec<String>,
    ) -> Result<Vec<SecretRead>, VaultError> {
        let events = events_file();
        futures::stream::iter(secrets.iter().cloned())
            .map(|secret| {
                let version = versions.get(&secret.mount).copied().unwrap_or(2);
                let events = events.clone();
                async move {
                    let started = Instant::now();
                    let result = self.read(&secret, version, public_fields).await;
                    let mut event = Event::new(
                        crate::SOURCE,
                        if result.is_ok() {
                            "vault_read"
                        } else {
                            "vault_read_failed"
                        },
                    )
                    .field("audit_id", ids::correlation_id())
                    .field("mount", secret.mount.as_str())
                    .field("path", secret.path.as_str())
                    .field("kv_version", version)
                    .field("keys", keys_of(&secret))
                    .field("ms", started.elapsed().as_millis() as u64);
                    event = match &result {
                        Ok(read) => event.field("request_id", read.request_id.clone()),
                        Err(e) => event.field("error", e.to_string()),
                    };
                    event.append_to(&events);
                    result
                }
            })
            .buffer_unordered(concurrency.max(1))
            .try_collect()
            .await
    }

    /// Revokes the token when we created it (AppRole); a given token is left alone.
    /// Returns whether a revocation happened.
    pub async fn close(self) -> bool {
        if !self.owns_token {
            return false;
        }
        let endpoint = RevokeTokenSelfRequest::builder().build();
        match self.call_built(endpoint, "auth/token/revoke-self").await {
            Ok(_) => {
                Event::new(crate::SOURCE, "vault_token_revoked")
                    .field("audit_id", ids::correlation_id())
                    .append_to(&events_file());
                true
            }
            Err(e) => {
                tracing::warn!(
                    "could not revoke the AppRole token (it expires with its TTL): {}",
                    redact::error_chain(&e)
                );
                false
            }
        }
    }
}

/// `GET sys/internal/ui/mounts/<path>`: a path's mount and its options, as the `vault kv`
/// CLI asks for it. vaultrs has no endpoint for it, so it is declared here the same way.
struct MountInfoRequest {
    mount: String,
}

impl Endpoint for MountInfoRequest {
    type Response = Value;
    const REQUEST_BODY_TYPE: rustify::enums::RequestType = rustify::enums::RequestType::JSON;
    const RESPONSE_BODY_TYPE: rustify::enums::ResponseType = rustify::enums::ResponseType::JSON;

    fn path(&self) -> String {
        format!("sys/internal/ui/mounts/{}", self.mount)
    }

    fn method(&self) -> rustify::enums::RequestMethod {
        rustify::enums::RequestMethod::GET
    }
}

/// `options.version` "2" means KV v2; a kv mount without it (or "1") and `generic` are v1.
fn kv_version_of(mount: &Value) -> u8 {
    match mount.pointer("/options/version").and_then(Value::as_str) {
        Some("2") => 2,
        _ => 1,
    }
}

/// Vault's `{"errors": [...]}` joined, or a note that there was none.
fn vault_errors(content: Option<&str>) -> String {
    let joined = content
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
        .and_then(|v| {
            v.get("errors").and_then(Value::as_array).map(|errs| {
                errs.iter()
                    .filter_map(Value::as_str)
                    .flat_map(|e| e.lines())
                    .map(|l| l.trim().trim_start_matches("* ").trim())
                    // Go's multierror header: "2 errors occurred:", "1 error occurred:".
                    .filter(|l| {
                        !l.is_empty()
                            && !l.ends_with("errors occurred:")
                            && !l.ends_with("error occurred:")
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
        })
        .unwrap_or_default();
    if joined.is_empty() {
        "no detail".to_string()
    } else {
        redact::redact(&joined)
    }
}

/// Where this run's Vault events go.
fn events_file() -> std::path::PathBuf {
    devenv_core::paths::Workspace::discover().events_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_error_lists_are_flattened() {
        assert_eq!(
            vault_errors(Some(
                r#"{"errors":["2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"]}"#
            )),
            "permission denied; invalid token"
        );
        // OpenBao's single denial.
        assert_eq!(
            vault_errors(Some(
                r#"{"errors":["1 error occurred:\n\t* permission denied\n\n"]}"#
            )),
            "permission denied"
        );
        assert_eq!(vault_errors(Some(r#"{"errors":[]}"#)), "no detail");
        assert_eq!(vault_errors(None), "no detail");
    }

    #[test]
    fn kv_version_comes_from_options() {
        assert_eq!(
            kv_version_of(&serde_json::json!({"type":"kv","options":{"version":"2"}})),
            2
        );
        assert_eq!(
            kv_version_of(&serde_json::json!({"type":"kv","options":null})),
            1
        );
    }
}
