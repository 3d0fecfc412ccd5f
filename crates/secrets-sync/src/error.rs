//! Every way secrets-sync can fail, each naming its input and its fix, each with its exit code.
//! Messages never contain secret values; they still pass the redactor on the way out.

use std::path::PathBuf;

use devenv_core::bundle::BundleError;
use devenv_core::exit::{self, ExitCoded};
use devenv_core::stack::StackError;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message} — see crates/secrets-sync/README.md for the format")]
    Mapping {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "the {mode} bundle would miss {keys} — add them to `modes.{mode}` in {mapping} (a Vault path + field, or a literal value)"
    )]
    MissingKeys {
        mode: String,
        keys: String,
        mapping: PathBuf,
    },
    #[error("{0}")]
    Usage(String),
    /// The async runtime could not start (devenv_core::runtime::block_on's failure).
    #[error("{0}")]
    Runtime(String),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error("{0}")]
    Vault(#[from] VaultError),
    #[error("{0}")]
    Bootstrap(#[from] BootstrapError),
    #[error(
        "{count} unresolved placeholder(s) — nothing rendered:\n{list}\n  fix: add the keys to the bundle (configs/secrets.yaml, then `make secrets-sync`) or remove them from the templates"
    )]
    Unresolved { count: usize, list: String },
    #[error(
        "{keys}: the value has `'` or `\\` together with `$` or a backtick (or a carriage return / NUL), which no quoting makes bash `source` and python-dotenv read back identically — nothing written; rotate the secret to avoid one of them"
    )]
    Unportable { keys: String },
}

impl ExitCoded for SyncError {
    fn exit_code(&self) -> u8 {
        match self {
            SyncError::ReadFile { .. }
            | SyncError::Mapping { .. }
            | SyncError::Usage(_)
            | SyncError::Unresolved { .. }
            | SyncError::Unportable { .. }
            | SyncError::MissingKeys { .. } => exit::USAGE,
            SyncError::Runtime(_) => exit::FAILED,
            SyncError::Bundle(e) => e.exit_code(),
            SyncError::Stack(e) => e.exit_code(),
            SyncError::Vault(e) => e.exit_code(),
            SyncError::Bootstrap(e) => e.exit_code(),
        }
    }
}

/// What went wrong talking to Vault. `status` is Vault's HTTP status; `detail` is Vault's own
/// `errors` list joined (Vault never echoes secret values there; the redactor runs anyway).
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(
        "VAULT_ADDR `{addr}` is not a usable address: {detail} — set it to e.g. https://vault.example.com:8200"
    )]
    Address { addr: String, detail: String },
    #[error(
        "Vault is configured (VAULT_ADDR) but no credentials were given — set VAULT_TOKEN, or VAULT_ROLE_ID (or --role-id) plus a secret_id via --secret-id-file, --secret-id-stdin or VAULT_SECRET_ID"
    )]
    NoCredentials,
    #[error("cannot read the AppRole secret_id from {from}: {detail}")]
    SecretIdSource { from: String, detail: String },
    #[error("cannot reach Vault at {addr} ({what}): {detail} — check VAULT_ADDR and the network")]
    Unreachable {
        addr: String,
        what: String,
        detail: String,
    },
    #[error(
        "Vault is sealed (HTTP 503 on {what}) — ask the Vault operators to unseal it, then rerun"
    )]
    Sealed { what: String },
    #[error(
        "AppRole login at auth/{mount}/login was refused (HTTP {status}: {detail}) — check VAULT_ROLE_ID and the secret_id (it may be used up or expired)"
    )]
    LoginRefused {
        mount: String,
        status: u16,
        detail: String,
    },
    #[error(
        "Vault denied {what} (HTTP 403: {detail}) — the token's policy lacks access to that path, or the token is no longer valid; ask for the policy, or log in again (new VAULT_TOKEN or AppRole secret_id)"
    )]
    Denied { what: String, detail: String },
    #[error(
        "Vault rejected the token on {what} (HTTP 403: {detail}) — it is expired or revoked; log in again (new VAULT_TOKEN, or rerun with the AppRole secret_id)"
    )]
    TokenInvalid { what: String, detail: String },
    #[error(
        "Vault has no secret at {what} (HTTP 404) — write it (`vault kv put …`) or fix the path in configs/secrets.yaml"
    )]
    NotFound { what: String },
    #[error("Vault answered {what} with HTTP {status}: {detail} — retry, or check Vault's health")]
    Status {
        what: String,
        status: u16,
        detail: String,
    },
    #[error("Vault's answer to {what} is not what its API documents: {detail}")]
    Malformed { what: String, detail: String },
    #[error(
        "KV mount `{mount}` is not listed by sys/mounts — fix `mount` in configs/secrets.yaml, or pass --kv-version 1|2 to skip detection"
    )]
    UnknownMount { mount: String },
    #[error(
        "secret {what} has no field `{field}` (it has: {available}) — fix `field` in configs/secrets.yaml or add the field in Vault"
    )]
    MissingField {
        what: String,
        field: String,
        available: String,
    },
}

impl ExitCoded for VaultError {
    fn exit_code(&self) -> u8 {
        match self {
            VaultError::Address { .. }
            | VaultError::NoCredentials
            | VaultError::SecretIdSource { .. }
            | VaultError::UnknownMount { .. }
            | VaultError::MissingField { .. } => exit::USAGE,
            VaultError::Unreachable { .. }
            | VaultError::Sealed { .. }
            | VaultError::LoginRefused { .. }
            | VaultError::Denied { .. }
            | VaultError::TokenInvalid { .. }
            | VaultError::NotFound { .. }
            | VaultError::Status { .. }
            | VaultError::Malformed { .. } => exit::EXTERNAL,
        }
    }
}

/// What can stop `vault-bootstrap` (see `crate::bootstrap`).
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(
        "cannot reach Vault at {addr} within {secs}s: {detail} — is the vault service running? (`make status`, `make logs SERVICE=vault`)"
    )]
    Unreachable {
        addr: String,
        secs: u64,
        detail: String,
    },
    #[error("Vault answered {what} with HTTP {status}: {detail} — see `make logs SERVICE=vault`")]
    Status {
        what: String,
        status: u16,
        detail: String,
    },
    #[error("{}: {detail} — `make reset` wipes the vault profile's data and keys and starts over", path.display())]
    Keys { path: PathBuf, detail: String },
    #[error("{}: cannot write: {detail} — check the permissions of .devenv/", path.display())]
    Write { path: PathBuf, detail: String },
    #[error(
        "Vault at {addr} did not become active within {secs}s after unsealing — see `make logs SERVICE=vault`"
    )]
    NotActive { addr: String, secs: u64 },
}

impl ExitCoded for BootstrapError {
    fn exit_code(&self) -> u8 {
        match self {
            BootstrapError::Unreachable { .. } | BootstrapError::NotActive { .. } => exit::TIMEOUT,
            BootstrapError::Status { .. } => exit::EXTERNAL,
            BootstrapError::Keys { .. } => exit::INTEGRITY,
            BootstrapError::Write { .. } => exit::USAGE,
        }
    }
}
