//! Vault / OpenBao (the vault profile): `GET /v1/sys/health`, which needs no token and answers
//! with the server's state in both status and body — 200 active, 429 unsealed standby, 472/473
//! performance/DR secondaries, 501 not initialised, 503 sealed. Sealed and uninitialised are
//! unhealthy with the remedy; a standby is healthy (it forwards requests to the active node).

use std::time::Duration;

use serde::Deserialize;

use super::{Class, Ctx, Problem, http};

#[derive(Debug)]
pub struct Target {
    pub base: reqwest::Url,
}

/// The fields of `sys/health` we report.
#[derive(Debug, Deserialize)]
struct Health {
    initialized: bool,
    sealed: bool,
    #[serde(default)]
    standby: bool,
    #[serde(default)]
    version: String,
}

impl Target {
    pub async fn check(&self, ctx: &Ctx, deadline: Duration) -> Result<String, Problem> {
        ctx.resolve().await?;
        let client = http::client(deadline)?;
        let mut url = self.base.clone();
        let base = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{base}/v1/sys/health"));
        let (status, body) =
            http::fetch(&client, reqwest::Method::GET, url, None, ctx, deadline).await?;
        let health: Health = serde_json::from_str(&body).map_err(|_| {
            ctx.protocol(&format!(
                "HTTP {status} without sys/health's JSON — is VAULT_ADDR a Vault/OpenBao server?"
            ))
        })?;
        if !health.initialized {
            return Err(Problem::new(
                Class::Misconfigured,
                format!(
                    "Vault at {} is not initialised — `make up PROFILES=vault` initialises it",
                    ctx.addr()
                ),
            ));
        }
        if health.sealed {
            return Err(Problem::new(
                Class::Misconfigured,
                format!(
                    "Vault at {} is sealed — `make up` unseals it with the key in .devenv/vault/init.json (`secrets-sync vault-bootstrap`)",
                    ctx.addr()
                ),
            ));
        }
        let role = if health.standby { "standby" } else { "active" };
        Ok(format!(
            "initialised, unsealed, {role} (HTTP {status}, {})",
            if health.version.is_empty() {
                "version unknown"
            } else {
                health.version.as_str()
            }
        ))
    }
}
