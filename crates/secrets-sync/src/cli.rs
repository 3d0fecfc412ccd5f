//! The command line: clap types, and the one rule for the mode when `--mode` is not given.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use devenv_core::output::OutputArgs;
use devenv_core::paths::{MODE_VARS, Mode, Workspace};

use crate::error::SyncError;

#[derive(Debug, Parser)]
#[command(
    name = "secrets-sync",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) sync: SyncArgs,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
    #[command(flatten)]
    pub(crate) log: devenv_core::output::LogArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Write the bundle (the default command).
    Sync(SyncArgs),
    /// Render configs/dev/<service>.env.tpl from the bundle into .devenv/config/<service>.env.
    Render(RenderArgs),
    /// Initialise (once), unseal and set up the vault profile's server for AppRole logins.
    VaultBootstrap(VaultBootstrapArgs),
    /// Exit 1 (with a warning) when the bundle's DEVENV_EXPIRES_AT has passed.
    CheckExpiry(CheckExpiryArgs),
    /// Print a shell completion script (bash, zsh or fish) on stdout.
    Completions {
        shell: devenv_core::completions::Shell,
    },
}

/// `--mode`, else the mode every tool agrees on ([`Mode::from_env`]: MODE, else DEVENV_MODE),
/// else `unset`; an unknown value is a usage error naming the variable.
pub(crate) fn mode(flag: Option<Mode>, unset: Mode) -> Result<Mode, SyncError> {
    if let Some(mode) = flag {
        return Ok(mode);
    }
    let any_set = MODE_VARS
        .iter()
        .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()));
    if !any_set {
        return Ok(unset);
    }
    Mode::from_env().map_err(SyncError::Usage)
}

#[derive(Debug, Args, Clone)]
pub(crate) struct SyncArgs {
    /// local → .env.local, remote → .env.linode [default: $MODE, else $DEVENV_MODE, else local].
    #[arg(long)]
    pub mode: Option<Mode>,
    /// Write the bundle here instead of the mode's default path.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Show which keys would be added, removed or changed; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Model id written as MOCK_INFERENCE_MODEL (local mode).
    #[arg(long, env = "MOCK_INFERENCE_MODEL", default_value = "mock-gpt")]
    pub model: String,
    /// Optional profiles in effect (vault, rabbitmq, …): each adds its service's bundle keys.
    #[arg(
        long,
        env = "DEVENV_PROFILES",
        value_delimiter = ',',
        value_name = "LIST"
    )]
    pub profiles: Vec<String>,
    /// Mapping from bundle keys to Vault path + field per mode.
    #[arg(long, env = "DEVENV_SECRETS_MAP", value_name = "PATH")]
    pub mapping: Option<PathBuf>,
    /// Vault address; when unset, local mode uses the generator.
    #[arg(long, env = "VAULT_ADDR", value_name = "URL", hide_env_values = true)]
    pub vault_addr: Option<String>,
    /// Vault Enterprise namespace (X-Vault-Namespace).
    #[arg(long, env = "VAULT_NAMESPACE", hide_env_values = true)]
    pub namespace: Option<String>,
    /// AppRole role_id (not secret on its own; the secret_id is).
    #[arg(long, env = "VAULT_ROLE_ID", hide_env_values = true)]
    pub role_id: Option<String>,
    /// Read the AppRole secret_id from this file (VAULT_SECRET_ID also works).
    #[arg(
        long,
        env = "VAULT_SECRET_ID_FILE",
        value_name = "PATH",
        hide_env_values = true
    )]
    pub secret_id_file: Option<PathBuf>,
    /// Read the AppRole secret_id from stdin.
    #[arg(long, conflicts_with = "secret_id_file")]
    pub secret_id_stdin: bool,
    /// Where AppRole is mounted (default: configs/secrets.yaml's vault.approle_mount).
    #[arg(long, value_name = "MOUNT")]
    pub approle_mount: Option<String>,
    /// KV engine version of every mount; detected from sys/mounts when not given.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub kv_version: Option<u8>,
    /// Vault reads in flight at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Per-request Vault timeout in seconds.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub vault_timeout: u64,
    /// Refused: a secret_id on the command line leaks into `ps` and shell history.
    #[arg(long, hide = true, value_name = "VALUE")]
    pub secret_id: Option<String>,
    /// Refused: a token on the command line leaks into `ps` and shell history.
    #[arg(long, hide = true, value_name = "VALUE")]
    pub token: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct RenderArgs {
    #[command(flatten)]
    pub source: BundleChoice,
    /// Template directory (default: configs/dev).
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Render only these services (repeatable).
    #[arg(long = "service", value_name = "NAME")]
    pub services: Vec<String>,
    /// Output directory (default: .devenv/config).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct VaultBootstrapArgs {
    /// The server to set up (the vault profile's OpenBao).
    #[arg(long, env = "VAULT_ADDR", value_name = "URL")]
    pub vault_addr: String,
    /// Where the unseal key and root token (init.json), role-id and secret-id are kept, 0600
    /// [default: .devenv/vault].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Mapping whose local-mode paths the policy allows and the credentials are stored at.
    #[arg(long, env = "DEVENV_SECRETS_MAP", value_name = "PATH")]
    pub mapping: Option<PathBuf>,
    /// AppRole role and policy name.
    #[arg(long, default_value = "devenv-local")]
    pub role: String,
    /// Seconds to wait for the server to answer, and to become active once unsealed.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub timeout: u64,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct CheckExpiryArgs {
    #[command(flatten)]
    pub source: BundleChoice,
}

/// Which bundle `render` and `check-expiry` read.
#[derive(Debug, Args, Clone)]
pub(crate) struct BundleChoice {
    /// local → .env.local, remote → .env.linode [default: $MODE, else $DEVENV_MODE, else
    /// local (check-expiry: remote)].
    #[arg(long)]
    pub mode: Option<Mode>,
    /// Read this bundle instead of the mode's.
    #[arg(long, value_name = "PATH")]
    pub bundle: Option<PathBuf>,
}

impl BundleChoice {
    /// `--bundle`, else the bundle of the mode (`unset` when nothing names one).
    pub fn path(&self, ws: &Workspace, unset: Mode) -> Result<PathBuf, SyncError> {
        match &self.bundle {
            Some(path) => Ok(path.clone()),
            None => Ok(ws.bundle_path(mode(self.mode, unset)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn output_flags_work_on_every_command() {
        for args in [
            &["secrets-sync", "--json"][..],
            &["secrets-sync", "render", "--json"],
            &["secrets-sync", "check-expiry", "--quiet"],
            &["secrets-sync", "sync", "--human", "-vv"],
        ] {
            let cli = Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert!(
                cli.output.json || cli.output.quiet || cli.output.human,
                "{args:?}"
            );
        }
        assert!(Cli::try_parse_from(["secrets-sync", "--human", "--quiet"]).is_err());
    }
}
