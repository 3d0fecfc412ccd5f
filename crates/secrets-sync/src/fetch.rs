//! The Vault fetch: credentials (never from argv), one login, every mapped secret read
//! concurrently, and the token revoked again when this run created it.

use std::collections::HashSet;
use std::io::Read as _;
use std::time::Duration;

use devenv_core::bundle::Bundle;
use devenv_core::redact;

use crate::cli::SyncArgs;
use crate::error::{SyncError, VaultError};
use crate::mapping::{ModeMapping, SecretRef, Source};
use crate::vault;

/// What the Vault part of a run produced.
pub(crate) struct VaultOutcome {
    /// Every mapped key with its value (Vault fields and literals).
    pub values: Bundle,
    pub request_ids: Vec<String>,
    pub login_request_id: Option<String>,
    pub reads: usize,
    pub token_revoked: bool,
}

/// The AppRole secret_id: from the file, stdin, or VAULT_SECRET_ID — never argv.
fn read_secret_id(args: &SyncArgs) -> Result<Option<String>, VaultError> {
    let value = if let Some(path) = &args.secret_id_file {
        Some(
            std::fs::read_to_string(path)
                .map_err(|e| VaultError::SecretIdSource {
                    from: path.display().to_string(),
                    detail: format!("{e} — check --secret-id-file / VAULT_SECRET_ID_FILE"),
                })?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
        )
    } else if args.secret_id_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| VaultError::SecretIdSource {
                from: "stdin".into(),
                detail: e.to_string(),
            })?;
        Some(text.trim_end_matches(['\n', '\r']).to_string())
    } else {
        std::env::var("VAULT_SECRET_ID").ok()
    };
    let value = value.filter(|v| !v.is_empty());
    if let Some(v) = &value {
        redact::register(v);
    }
    Ok(value)
}

fn credentials(args: &SyncArgs, mapping: &ModeMapping) -> Result<vault::Credentials, VaultError> {
    let role_id = args.role_id.clone().filter(|r| !r.is_empty());
    let token = std::env::var("VAULT_TOKEN").ok().filter(|t| !t.is_empty());
    if let Some(t) = &token {
        redact::register(t);
    }
    if let Some(role_id) = role_id {
        redact::register(&role_id);
        let secret_id = read_secret_id(args)?.ok_or(VaultError::NoCredentials)?;
        return Ok(vault::Credentials::AppRole {
            mount: args
                .approle_mount
                .clone()
                .unwrap_or_else(|| mapping.approle_mount.clone()),
            role_id,
            secret_id,
        });
    }
    token
        .map(vault::Credentials::Token)
        .ok_or(VaultError::NoCredentials)
}

/// Logs in, reads every mapped secret, and always revokes a token it created — also when a
/// read failed.
pub(crate) fn fetch(
    args: &SyncArgs,
    addr: &str,
    mapping: &ModeMapping,
) -> Result<VaultOutcome, SyncError> {
    let settings = vault::Settings {
        addr: addr.to_string(),
        namespace: args.namespace.clone(),
        credentials: credentials(args, mapping)?,
        kv_version: args.kv_version,
        concurrency: usize::from(args.concurrency),
        timeout: Duration::from_secs(args.vault_timeout.max(1)),
    };
    let secrets = mapping.secrets();
    // Fields mapped only to keys DESIGN does not mask (hosts, users, ports) stay printable.
    let mut public_fields = HashSet::new();
    let mut secret_fields = HashSet::new();
    for (key, source) in &mapping.entries {
        if let Source::Vault { secret, field } = source {
            let pair = (secret.clone(), field.clone());
            if redact::is_secret_key(key) {
                secret_fields.insert(pair);
            } else {
                public_fields.insert(pair);
            }
        }
    }
    let public_fields: HashSet<(SecretRef, String)> =
        public_fields.difference(&secret_fields).cloned().collect();
    let keys_of = |s: &SecretRef| -> Vec<String> {
        mapping
            .entries
            .iter()
            .filter(|(_, src)| matches!(src, Source::Vault { secret, .. } if secret == s))
            .map(|(k, _)| k.clone())
            .collect()
    };
    devenv_core::runtime::block_on(tokio::runtime::Builder::new_current_thread(), async {
        let session = vault::Session::open(&settings).await?;
        let result = async {
            let versions = session
                .kv_versions(&mapping.mounts(), settings.kv_version)
                .await?;
            session
                .read_all(
                    &secrets,
                    &versions,
                    settings.concurrency,
                    &public_fields,
                    &keys_of,
                )
                .await
        }
        .await;
        let login_request_id = session.login_request_id.clone();
        let token_revoked = session.close().await;
        let reads = result?;
        let mut values = Bundle::new();
        for (key, source) in &mapping.entries {
            match source {
                Source::Literal(v) => values.set(key.clone(), v.clone()),
                Source::Vault { secret, field } => {
                    let read = reads
                        .iter()
                        .find(|r| &r.secret == secret)
                        .expect("every mapped secret was read");
                    let value = read
                        .fields
                        .get(field)
                        .ok_or_else(|| VaultError::MissingField {
                            what: secret.to_string(),
                            field: field.clone(),
                            available: read.fields.keys().cloned().collect::<Vec<_>>().join(", "),
                        })?;
                    values.set(key.clone(), value.clone());
                }
            }
        }
        Ok(VaultOutcome {
            values,
            request_ids: reads.iter().filter_map(|r| r.request_id.clone()).collect(),
            login_request_id,
            reads: reads.len(),
            token_revoked,
        })
    })
    .map_err(|f| SyncError::Runtime(f.message))?
}
