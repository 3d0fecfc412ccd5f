//! The Vault of the tests: a real OpenBao (devenv_testkit::OpenBao) seeded like production —
//! a KV mount `secret` holding every path configs/secrets.yaml names, AppRole at `approle`
//! with a least-privilege policy (read on `devenv/*`, nothing else: not even `sys/mounts`),
//! and the user's own token `TOKEN` with that policy plus `sys/mounts`.

use std::time::{Duration, Instant};

use devenv_testkit::openbao::Audited;
use devenv_testkit::{BaoApi, OpenBao, RoleSpec};
use serde_json::{Value, json};

use super::{ROLE_ID, SECRET_ID, TOKEN, seeded_secrets};

/// The AppRole role's policy: read on the mapped paths only.
pub const POLICY: &str = "devenv-read";
/// Added to the user's token: may list mounts (KV version detection through sys/mounts).
pub const MOUNTS_POLICY: &str = "list-mounts";

pub struct Vault {
    pub server: OpenBao,
    /// The API of the namespace everything lives in (the root one unless [`Vault::start_in`]).
    pub api: BaoApi,
    pub kv_version: u8,
}

impl Vault {
    /// A seeded OpenBao whose `secret` mount is KV `kv_version`, in the root namespace.
    pub fn start(kv_version: u8) -> Self {
        Self::start_in(None, kv_version)
    }

    /// Like [`Vault::start`], everything inside the namespace `namespace` when given.
    pub fn start_in(namespace: Option<&str>, kv_version: u8) -> Self {
        let server = OpenBao::start();
        let api = match namespace {
            Some(ns) => server.namespace(ns),
            None => (*server).clone(),
        };
        // The dev server mounts `secret` as KV v2 in the root namespace.
        if namespace.is_some() || kv_version != 2 {
            if namespace.is_none() {
                api.ok("DELETE", "sys/mounts/secret", None);
            }
            api.mount_kv("secret", kv_version);
        }
        let vault = Self {
            server,
            api,
            kv_version,
        };
        for (path, fields) in seeded_secrets() {
            vault.write(&path, &fields);
        }
        vault.write_policy(&[]);
        vault.api.write_policy(
            MOUNTS_POLICY,
            "path \"sys/mounts\" { capabilities = [\"read\"] }",
        );
        vault.api.enable_approle("approle");
        vault.api.create_role(
            "approle",
            "devenv",
            &RoleSpec {
                policies: &[POLICY],
                role_id: Some(ROLE_ID),
                ..RoleSpec::default()
            },
        );
        vault
            .api
            .create_secret_id("approle", "devenv", Some(SECRET_ID));
        // OpenBao takes chosen token ids in the root namespace only; in a namespace the tests
        // log in with AppRole.
        if namespace.is_none() {
            vault
                .api
                .create_token(&[POLICY, MOUNTS_POLICY], "1h", Some(TOKEN));
        }
        vault
    }

    /// What `VAULT_ADDR` takes.
    pub fn url(&self) -> String {
        self.api.addr()
    }

    /// The API path of secret `path` on the `secret` mount.
    pub fn api_path(&self, path: &str) -> String {
        if self.kv_version == 2 {
            format!("secret/data/{path}")
        } else {
            format!("secret/{path}")
        }
    }

    /// Replaces the fields of `path`.
    pub fn write(&self, path: &str, fields: &Value) {
        self.api
            .write_secret("secret", self.kv_version, path, fields);
    }

    /// Sets one field of `path`, keeping the others (a rotation).
    pub fn set_field(&self, path: &str, field: &str, value: &str) {
        let current = self.api.ok("GET", &self.api_path(path), None);
        let mut fields = if self.kv_version == 2 {
            current["data"]["data"].clone()
        } else {
            current["data"].clone()
        };
        fields[field] = json!(value);
        self.write(path, &fields);
    }

    /// Deletes `path` with all its versions (reads then answer 404).
    pub fn delete(&self, path: &str) {
        let api_path = if self.kv_version == 2 {
            format!("secret/metadata/{path}")
        } else {
            format!("secret/{path}")
        };
        self.api.ok("DELETE", &api_path, None);
    }

    /// Puts `path` back as seeded.
    pub fn restore(&self, path: &str) {
        let (_, fields) = seeded_secrets()
            .into_iter()
            .find(|(p, _)| p == path)
            .expect("a seeded path");
        self.write(path, &fields);
    }

    /// Rewrites the AppRole/user policy: read on `devenv/*`, and an explicit deny on each
    /// path of `denied` (403 for those).
    pub fn write_policy(&self, denied: &[&str]) {
        let mut hcl = format!(
            "path \"{}\" {{ capabilities = [\"read\"] }}\n",
            self.api_path("devenv/*")
        );
        for path in denied {
            hcl.push_str(&format!(
                "path \"{}\" {{ capabilities = [\"deny\"] }}\n",
                self.api_path(path)
            ));
        }
        self.api.write_policy(POLICY, &hcl);
    }

    /// A new token with only the least-privilege policy, living `ttl`.
    pub fn least_privilege_token(&self, ttl: &str) -> String {
        self.api.create_token(&[POLICY], ttl, None)
    }

    /// Waits until Vault no longer accepts `token` (its TTL ran out): polls lookup-self.
    pub fn wait_expired(&self, token: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self
            .api
            .request_as(Some(token), "GET", "auth/token/lookup-self", None)
            .status
            == 200
        {
            assert!(Instant::now() < deadline, "the token never expired");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every request the server answered so far (its audit log).
    pub fn audit(&self) -> Vec<Audited> {
        self.server.audit()
    }

    /// The requests answered after the first `since` (see [`Vault::audit`]).
    pub fn audit_since(&self, since: usize) -> Vec<Audited> {
        self.audit().split_off(since)
    }

    /// Accessors of the tokens AppRole logins issued, in order.
    pub fn approle_accessors(&self) -> Vec<String> {
        self.audit()
            .into_iter()
            .filter(|a| a.path == "auth/approle/login")
            .filter_map(|a| a.issued_accessor)
            .collect()
    }

    /// Whether the token behind `accessor` still lives, asked of the server.
    pub fn alive(&self, accessor: &str) -> bool {
        self.api.accessor_alive(accessor)
    }
}
