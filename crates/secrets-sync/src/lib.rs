//! secrets-sync: writes the dotenv bundle (`.env.local` / `.env.linode`) that every devenv
//! binary and app reads, from HashiCorp Vault (AppRole or a given token, KV v1/v2, concurrent
//! reads, each tied to Vault's request id in `.devenv/events.jsonl`) or, in local mode without
//! Vault, from stable per-workspace generated credentials. `render` fills the service config
//! templates from the bundle. Atomic 0600 writes, the `git check-ignore` refusal and redaction
//! come from devenv-core.

pub mod error;
pub mod local;
pub mod mapping;
pub mod portable;
pub mod render;
pub mod vault;

use std::collections::HashSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use devenv_core::bundle::{self, Bundle};
use devenv_core::bundle_expiry::{self, EXPIRES_AT_KEY};
use devenv_core::exit;
use devenv_core::output::{self, Failure, Format, Style};
use devenv_core::paths::{Mode, Workspace};
use devenv_core::stack::{self, PortDefaults};
use devenv_core::{events::Event, ids, redact};
use serde_json::json;

use crate::error::{SyncError, VaultError};
use crate::mapping::{ModeMapping, SecretRef, Source};

pub(crate) const SOURCE: &str = "secrets-sync";

/// Library targets whose own ERROR logs would duplicate the one error we report.
const QUIET_TARGETS: &[&str] = &["vaultrs", "rustify"];

/// Keys that change on every run without the secrets changing.
const VOLATILE_KEYS: &[&str] = &["DEVENV_GENERATED_AT", EXPIRES_AT_KEY];

#[derive(Debug, Parser)]
#[command(
    name = "secrets-sync",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    sync: SyncArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write the bundle (the default command).
    Sync(SyncArgs),
    /// Render configs/dev/<service>.env.tpl from the bundle into .devenv/config/<service>.env.
    Render(RenderArgs),
    /// Exit 1 (with a warning) when the bundle's DEVENV_EXPIRES_AT has passed.
    CheckExpiry(CheckExpiryArgs),
}

#[derive(Debug, Args, Clone)]
struct OutputArgs {
    /// Machine-readable result on stdout.
    #[arg(long, conflicts_with_all = ["human", "quiet"])]
    json: bool,
    /// Human-readable result (the default on a terminal).
    #[arg(long)]
    human: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
    /// More logging on stderr (-v info, -vv debug).
    #[arg(long, short, action = clap::ArgAction::Count)]
    verbose: u8,
}

impl OutputArgs {
    fn format(&self) -> Format {
        Format::choose(
            self.json,
            self.human,
            self.quiet,
            Format::Human,
            Format::Human,
        )
    }
}

#[derive(Debug, Args, Clone)]
pub struct SyncArgs {
    /// local → .env.local, remote → .env.linode.
    #[arg(long, default_value = "local", env = "DEVENV_MODE")]
    mode: Mode,
    /// Write the bundle here instead of the mode's default path.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Show which keys would be added, removed or changed; write nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    output: OutputArgs,
    /// Model id written as MOCK_INFERENCE_MODEL (local mode).
    #[arg(long, env = "MOCK_INFERENCE_MODEL", default_value = "mock-gpt")]
    model: String,
    /// Mapping from bundle keys to Vault path + field per mode.
    #[arg(long, env = "DEVENV_SECRETS_MAP", value_name = "PATH")]
    mapping: Option<PathBuf>,
    /// Vault address; when unset, local mode uses the generator.
    #[arg(long, env = "VAULT_ADDR", value_name = "URL", hide_env_values = true)]
    vault_addr: Option<String>,
    /// Vault Enterprise namespace (X-Vault-Namespace).
    #[arg(long, env = "VAULT_NAMESPACE", hide_env_values = true)]
    namespace: Option<String>,
    /// AppRole role_id (not secret on its own; the secret_id is).
    #[arg(long, env = "VAULT_ROLE_ID", hide_env_values = true)]
    role_id: Option<String>,
    /// Read the AppRole secret_id from this file (VAULT_SECRET_ID also works).
    #[arg(
        long,
        env = "VAULT_SECRET_ID_FILE",
        value_name = "PATH",
        hide_env_values = true
    )]
    secret_id_file: Option<PathBuf>,
    /// Read the AppRole secret_id from stdin.
    #[arg(long, conflicts_with = "secret_id_file")]
    secret_id_stdin: bool,
    /// Where AppRole is mounted (default: configs/secrets.yaml's vault.approle_mount).
    #[arg(long, value_name = "MOUNT")]
    approle_mount: Option<String>,
    /// KV engine version of every mount; detected from sys/mounts when not given.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    kv_version: Option<u8>,
    /// Vault reads in flight at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Per-request Vault timeout in seconds.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    vault_timeout: u64,
    /// Refused: a secret_id on the command line leaks into `ps` and shell history.
    #[arg(long, hide = true, value_name = "VALUE")]
    secret_id: Option<String>,
    /// Refused: a token on the command line leaks into `ps` and shell history.
    #[arg(long, hide = true, value_name = "VALUE")]
    token: Option<String>,
}

#[derive(Debug, Args, Clone)]
struct RenderArgs {
    /// Which bundle to read: local → .env.local, remote → .env.linode.
    #[arg(long, default_value = "local", env = "DEVENV_MODE")]
    mode: Mode,
    /// Read this bundle instead of the mode's default.
    #[arg(long, value_name = "PATH")]
    bundle: Option<PathBuf>,
    /// Template directory (default: configs/dev).
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
    /// Output directory (default: .devenv/config).
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Render only these services (repeatable).
    #[arg(long = "service", value_name = "NAME")]
    services: Vec<String>,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Args, Clone)]
struct CheckExpiryArgs {
    #[arg(long, default_value = "remote", env = "DEVENV_MODE")]
    mode: Mode,
    #[arg(long, value_name = "PATH")]
    bundle: Option<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
}

/// Entry point of the binary.
pub fn run() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Render(args)) => {
            devenv_core::logging::init(args.output.verbose);
            output::finish(render_cmd(&args))
        }
        Some(Command::CheckExpiry(args)) => {
            devenv_core::logging::init(args.output.verbose);
            output::finish(check_expiry_cmd(&args))
        }
        Some(Command::Sync(args)) => sync_main(&args),
        None => sync_main(&cli.sync),
    }
}

fn sync_main(args: &SyncArgs) -> std::process::ExitCode {
    devenv_core::logging::init_with(args.output.verbose, QUIET_TARGETS);
    output::finish(sync(args))
}

pub(crate) fn events_file() -> PathBuf {
    Workspace::discover().events_file()
}

/// The keys whose value differs between two bundles, ignoring the volatile timestamps.
pub struct KeyDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl KeyDiff {
    pub fn between(old: Option<&Bundle>, new: &Bundle) -> Self {
        let empty = Bundle::new();
        let old = old.unwrap_or(&empty);
        let volatile = |k: &str| VOLATILE_KEYS.contains(&k);
        let added = new
            .keys()
            .filter(|k| !volatile(k) && old.get(k).is_none())
            .map(String::from)
            .collect();
        let removed = old
            .keys()
            .filter(|k| !volatile(k) && new.get(k).is_none())
            .map(String::from)
            .collect();
        let changed = new
            .iter()
            .filter(|(k, v)| !volatile(k) && old.get(k).is_some_and(|o| o != *v))
            .map(|(k, _)| k.to_string())
            .collect();
        Self {
            added,
            removed,
            changed,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// What the Vault part of a run produced.
struct VaultOutcome {
    /// Every mapped key with its value (Vault fields and literals).
    values: Bundle,
    request_ids: Vec<String>,
    login_request_id: Option<String>,
    reads: usize,
    token_revoked: bool,
}

fn sync(args: &SyncArgs) -> Result<u8, Failure> {
    // Refuse argv secrets before anything else, masking the value in case it is echoed.
    for (flag, value) in [("--secret-id", &args.secret_id), ("--token", &args.token)] {
        if let Some(v) = value {
            redact::register(v);
            return Err(Failure::new(
                exit::USAGE,
                format!(
                    "{flag} is refused: a secret on the command line is visible in `ps` and shell history — use {}",
                    if flag == "--token" {
                        "the VAULT_TOKEN environment variable"
                    } else {
                        "--secret-id-file PATH, --secret-id-stdin or VAULT_SECRET_ID"
                    }
                ),
            ));
        }
    }
    let format = args.output.format();
    let ws = Workspace::discover();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| ws.bundle_path(args.mode));
    // Refuse before reading or generating anything, so a refused run writes nothing at all.
    if !args.dry_run {
        devenv_core::bundle::ensure_git_ignored(&out).map_err(|e| Failure::from_coded(&e))?;
    }
    let mapping_path = args
        .mapping
        .clone()
        .unwrap_or_else(|| ws.root.join("configs/secrets.yaml"));
    let mapping = mapping::load(&mapping_path, args.mode)?;
    let vault_addr = args.vault_addr.clone().filter(|a| !a.trim().is_empty());

    let previous = match Bundle::read_optional(&out) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("ignoring the unreadable previous bundle: {e}");
            None
        }
    };
    if let Some(p) = &previous {
        p.register_secrets();
    }

    // Remote mode without VAULT_ADDR is a remote host running its own services (the
    // StackScript's default): it gets generated credentials, like local mode, in .env.linode.
    let use_vault = match args.mode {
        Mode::Remote => vault_addr.is_some(),
        Mode::Local => vault_addr.is_some() && mapping.has_vault_entries(),
    };
    if args.mode == Mode::Remote && !use_vault && format != Format::Quiet {
        output::eprintln_redacted(&format!(
            "{} VAULT_ADDR is not set: {} gets locally generated credentials (right for a remote host running its own services; set VAULT_ADDR to read them from Vault)",
            Style::stderr().yellow("note:"),
            out.display()
        ));
    }
    let vault = if use_vault {
        let addr = vault_addr.clone().expect("checked above");
        Some(fetch_from_vault(args, &addr, &mapping)?)
    } else {
        if vault_addr.is_some() {
            tracing::info!(
                "VAULT_ADDR is set but {} maps no local keys to Vault: using the local generator",
                mapping_path.display()
            );
        }
        None
    };
    let source = if vault.is_some() {
        "vault"
    } else {
        "local-generator"
    };

    let (mut bundle, ports) = match (args.mode, &vault) {
        (Mode::Local, _) | (Mode::Remote, None) => {
            let defaults =
                PortDefaults::load(&ws.ports_file()).map_err(|e| Failure::from_coded(&e))?;
            let creds = local_credentials(args, &ws, vault.as_ref())?;
            let inputs = local::LocalInputs {
                workspace: &ws,
                mode: args.mode,
                defaults: &defaults,
                previous: previous.as_ref(),
                strict_ports: stack::strict_ports_from_env(),
                model: args.model.clone(),
            };
            let outcome = local::build(&inputs, &creds).map_err(|e| Failure::from_coded(&e))?;
            let mut bundle = outcome.bundle;
            if let Some(v) = &vault {
                bundle.set("DEVENV_SOURCE", "vault");
                for (k, val) in v.values.iter() {
                    bundle.set(k, val);
                }
                derive_urls(&mut bundle, &mapping);
            }
            (bundle, outcome.ports)
        }
        (Mode::Remote, Some(v)) => (
            remote_bundle(&ws, &v.values, &mapping, &mapping_path)?,
            Vec::new(),
        ),
    };
    if args.mode == Mode::Remote {
        bundle.set(
            EXPIRES_AT_KEY,
            bundle_expiry::expires_at(chrono::Utc::now()),
        );
    }
    bundle.register_secrets();
    panic_for_tests(&bundle);
    portable::check(&bundle)?;
    let diff = KeyDiff::between(previous.as_ref(), &bundle);

    let stderr_style = Style::stderr();
    for a in ports.iter().filter(|a| a.taken_by.is_some()) {
        let holder = a.taken_by.as_ref().expect("filtered");
        output::eprintln_redacted(&format!(
            "{} port {} for {} is taken by {holder} — using {} instead (set {}=1 to fail instead)",
            stderr_style.yellow("warning:"),
            a.requested,
            a.name,
            a.port,
            stack::STRICT_PORTS_ENV
        ));
        Event::new(SOURCE, "port_reassigned")
            .field("service", a.name)
            .field("requested", a.requested)
            .field("port", a.port)
            .field("holder", holder.to_string())
            .append_to(&ws.events_file());
    }

    // A remote bundle whose secrets did not change is still rewritten once half its lifetime
    // is gone, so its expiry moves forward with each sync.
    let needs_renewal = args.mode == Mode::Remote
        && previous
            .as_ref()
            .is_some_and(|p| match bundle_expiry::check(p, chrono::Utc::now()) {
                bundle_expiry::Expiry::Valid { remaining, .. } => {
                    remaining < bundle_expiry::REMOTE_TTL / 2
                }
                _ => true,
            });
    let action = if args.dry_run {
        "dry_run"
    } else if diff.is_empty() && previous.is_some() && !needs_renewal {
        "unchanged"
    } else {
        let header = format!(
            "devenv secrets bundle ({} mode, source: {source}) — written by secrets-sync, do not edit.\nRegenerate with `make secrets-sync{}`. Never commit this file.",
            args.mode.as_str(),
            if args.mode == Mode::Remote {
                " MODE=remote"
            } else {
                ""
            }
        );
        bundle
            .write(&out, &header)
            .map_err(|e| Failure::from_coded(&e))?;
        if diff.is_empty() && previous.is_some() {
            "renewed"
        } else {
            "written"
        }
    };
    Event::new(SOURCE, "bundle_synced")
        .field("audit_id", ids::correlation_id())
        .field("mode", args.mode.as_str())
        .field("path", out.display().to_string())
        .field("action", action)
        .field("source", source)
        .field("vault_reads", vault.as_ref().map_or(0, |v| v.reads))
        .field("keys_added", diff.added.clone())
        .field("keys_removed", diff.removed.clone())
        .field("keys_changed", diff.changed.clone())
        .append_to(&ws.events_file());

    match format {
        Format::Quiet => {}
        Format::Json => output::print_json(&output::document(
            "secrets-sync",
            json!({
                "audit_id": ids::correlation_id(),
                "mode": args.mode.as_str(),
                "path": out.display().to_string(),
                "action": action,
                "source": source,
                "expires_at": bundle.get(EXPIRES_AT_KEY),
                "keys": bundle.keys().collect::<Vec<_>>(),
                "added": diff.added,
                "removed": diff.removed,
                "changed": diff.changed,
                "ports": ports,
                "vault": vault.as_ref().map(|v| json!({
                    "reads": v.reads,
                    "request_ids": v.request_ids,
                    "login_request_id": v.login_request_id,
                    "token_revoked": v.token_revoked,
                })),
            }),
        )),
        Format::Human => {
            let style = Style::stdout();
            let verb = match action {
                "written" => style.green("wrote"),
                "renewed" => style.green("renewed"),
                "unchanged" => style.dim("unchanged"),
                _ => style.yellow("would write"),
            };
            let what = match &vault {
                Some(v) => format!(
                    "{} Vault reads, audit id {}",
                    v.reads,
                    ids::correlation_id()
                ),
                None => "local credentials".to_string(),
            };
            output::println_redacted(&format!(
                "{verb} {} ({} keys, {what})",
                out.display(),
                bundle.len()
            ));
            if let Some(exp) = bundle.get(EXPIRES_AT_KEY) {
                output::println_redacted(&format!("  expires at {exp}"));
            }
            for (label, keys) in [
                ("added", &diff.added),
                ("removed", &diff.removed),
                ("changed", &diff.changed),
            ] {
                if !keys.is_empty() && action != "unchanged" {
                    output::println_redacted(&format!("  {label}: {}", keys.join(", ")));
                }
            }
        }
    }
    Ok(exit::OK)
}

/// Debug builds only: `SECRETS_SYNC_TEST_PANIC=1` panics with every value of the bundle in
/// the message, so the leak test can prove the panic hook masks them. Release builds lack it.
#[cfg(debug_assertions)]
fn panic_for_tests(bundle: &Bundle) {
    if std::env::var("SECRETS_SYNC_TEST_PANIC").as_deref() == Ok("1") {
        let pairs: Vec<String> = bundle.iter().map(|(k, v)| format!("{k}={v}")).collect();
        panic!("test panic holding the bundle: {}", pairs.join(" "));
    }
}

#[cfg(not(debug_assertions))]
fn panic_for_tests(_: &Bundle) {}

/// The credential store for local mode: Vault's values where mapped; the generated store
/// fills whatever Vault does not provide (and is not touched when Vault provides all).
fn local_credentials(
    args: &SyncArgs,
    ws: &Workspace,
    vault: Option<&VaultOutcome>,
) -> Result<Bundle, Failure> {
    let from_vault = vault.map(|v| &v.values);
    let all_from_vault = from_vault.is_some_and(|v| {
        local::GENERATED
            .iter()
            .all(|k| v.get(k).is_some_and(|x| !x.is_empty()))
    });
    let mut creds = if all_from_vault {
        Bundle::new()
    } else if args.dry_run {
        // A dry run must not create the credential store either.
        Bundle::read_optional(&local::credentials_path(ws))
            .map_err(|e| Failure::from_coded(&e))?
            .unwrap_or_default()
    } else {
        local::load_or_create_credentials(ws).map_err(|e| Failure::from_coded(&e))?
    };
    if let Some(v) = from_vault {
        for key in local::GENERATED {
            if let Some(val) = v.get(key) {
                creds.set(*key, val);
            }
        }
    }
    Ok(creds)
}

/// The remote bundle: metadata, every mapped key, derived URLs, the expiry; every DESIGN key
/// must be present.
fn remote_bundle(
    ws: &Workspace,
    values: &Bundle,
    mapping: &ModeMapping,
    mapping_path: &Path,
) -> Result<Bundle, Failure> {
    let mut b = Bundle::new();
    b.set("DEVENV_WORKSPACE", ws.name());
    b.set("DEVENV_MODE", "remote");
    b.set("DEVENV_GENERATED_AT", ids::now_rfc3339());
    b.set("DEVENV_SOURCE", "vault");
    for (k, v) in values.iter() {
        b.set(k, v);
    }
    derive_urls(&mut b, mapping);
    // DESIGN order first (derived URLs next to their parts), then any extra keys.
    let mut ordered = Bundle::new();
    for key in devenv_core::bundle::KEYS {
        if let Some(v) = b.get(key) {
            ordered.set(*key, v);
        }
    }
    for (k, v) in b.iter() {
        if ordered.get(k).is_none() {
            ordered.set(k, v);
        }
    }
    let b = ordered;
    let missing: Vec<&str> = devenv_core::bundle::KEYS
        .iter()
        .copied()
        .filter(|k| b.get(k).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(SyncError::MissingKeys {
            mode: "remote".into(),
            keys: missing.join(", "),
            mapping: mapping_path.to_path_buf(),
        }
        .into());
    }
    Ok(b)
}

/// Rebuilds DATABASE_URL and REDIS_URL from their parts (passwords percent-encoded) unless the
/// mapping provides the URL itself.
fn derive_urls(b: &mut Bundle, mapping: &ModeMapping) {
    let get = |b: &Bundle, k: &str| b.get(k).map(String::from);
    if !mapping.entries.contains_key("DATABASE_URL") {
        if let (Some(user), Some(pw), Some(host), Some(port), Some(db)) = (
            get(b, "POSTGRES_USER"),
            get(b, "POSTGRES_PASSWORD"),
            get(b, "POSTGRES_HOST"),
            get(b, "POSTGRES_PORT"),
            get(b, "POSTGRES_DB"),
        ) {
            if let Some(url) = bundle::database_url(&user, &pw, &host, &port, &db) {
                b.set("DATABASE_URL", url);
            }
        }
    }
    if !mapping.entries.contains_key("REDIS_URL") {
        if let (Some(pw), Some(host), Some(port)) = (
            get(b, "REDIS_PASSWORD"),
            get(b, "REDIS_HOST"),
            get(b, "REDIS_PORT"),
        ) {
            if let Some(url) = bundle::redis_url(&pw, &host, &port) {
                b.set("REDIS_URL", url);
            }
        }
    }
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
fn fetch_from_vault(
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

fn render_cmd(args: &RenderArgs) -> Result<u8, Failure> {
    let format = args.output.format();
    let ws = Workspace::discover();
    let bundle_path = args
        .bundle
        .clone()
        .unwrap_or_else(|| ws.bundle_path(args.mode));
    let bundle = Bundle::read_optional(&bundle_path)
        .map_err(|e| Failure::from_coded(&e))?
        .ok_or_else(|| {
            Failure::new(
                exit::USAGE,
                format!(
                    "{} does not exist — run `make secrets-sync` first",
                    bundle_path.display()
                ),
            )
        })?;
    bundle.register_secrets();
    bundle_expiry::warn_if_expired(&bundle, &bundle_path);
    let templates_dir = args
        .templates
        .clone()
        .unwrap_or_else(|| ws.root.join("configs/dev"));
    let out_dir = args
        .out_dir
        .clone()
        .unwrap_or_else(|| ws.state_dir().join("config"));
    let templates = render::load_templates(&templates_dir, &args.services)?;
    let rendered = render::render_all(&templates, &bundle)?;
    for (_, values) in &rendered {
        portable::check(values)?;
    }
    // Check every destination before writing any, so a refusal leaves nothing half-rendered.
    let targets: Vec<PathBuf> = rendered
        .iter()
        .map(|(service, _)| out_dir.join(format!("{service}.env")))
        .collect();
    for t in &targets {
        devenv_core::bundle::ensure_git_ignored(t).map_err(|e| Failure::from_coded(&e))?;
    }
    for ((service, values), target) in rendered.iter().zip(&targets) {
        values.register_secrets();
        let header = format!(
            "{service} config rendered by `secrets-sync render` from configs/dev/{service}.env.tpl and {}.\nDo not edit: change the template and rerun `make secrets-sync`.",
            bundle_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        values
            .write(target, &header)
            .map_err(|e| Failure::from_coded(&e))?;
    }
    Event::new(SOURCE, "configs_rendered")
        .field("audit_id", ids::correlation_id())
        .field(
            "services",
            rendered.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>(),
        )
        .append_to(&ws.events_file());
    match format {
        Format::Quiet => {}
        Format::Json => output::print_json(&output::document(
            "secrets-sync-render",
            json!({
                "bundle": bundle_path.display().to_string(),
                "rendered": rendered.iter().zip(&targets).map(|((s, v), t)| json!({
                    "service": s,
                    "path": t.display().to_string(),
                    "keys": v.keys().collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            }),
        )),
        Format::Human => {
            let style = Style::stdout();
            for ((service, values), target) in rendered.iter().zip(&targets) {
                output::println_redacted(&format!(
                    "{} {service} → {} ({} keys)",
                    style.green("rendered"),
                    target.display(),
                    values.len()
                ));
            }
        }
    }
    Ok(exit::OK)
}

fn check_expiry_cmd(args: &CheckExpiryArgs) -> Result<u8, Failure> {
    let ws = Workspace::discover();
    let path = args
        .bundle
        .clone()
        .unwrap_or_else(|| ws.bundle_path(args.mode));
    let bundle = Bundle::read(&path).map_err(|e| Failure::from_coded(&e))?;
    bundle.register_secrets();
    let state = bundle_expiry::check(&bundle, chrono::Utc::now());
    let expired = bundle_expiry::warn_if_expired(&bundle, &path);
    match args.output.format() {
        Format::Json => output::print_json(&output::document(
            "secrets-sync-expiry",
            json!({
                "path": path.display().to_string(),
                "expires_at": bundle.get(EXPIRES_AT_KEY),
                "expired": expired,
            }),
        )),
        Format::Human => {
            let text = match state {
                bundle_expiry::Expiry::Never => format!("{} does not expire", path.display()),
                bundle_expiry::Expiry::Valid { expires_at, .. } => {
                    format!("{} is valid until {expires_at}", path.display())
                }
                _ => format!("{} is expired", path.display()),
            };
            output::println_redacted(&text);
        }
        Format::Quiet => {}
    }
    Ok(if expired { exit::FAILED } else { exit::OK })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_diff_ignores_timestamps() {
        let mut a = Bundle::new();
        a.set("DEVENV_GENERATED_AT", "1");
        a.set(EXPIRES_AT_KEY, "1");
        a.set("A", "1");
        a.set("B", "1");
        let mut b = a.clone();
        b.set("DEVENV_GENERATED_AT", "2");
        b.set(EXPIRES_AT_KEY, "2");
        assert!(KeyDiff::between(Some(&a), &b).is_empty());
        b.set("A", "2");
        b.remove("B");
        b.set("C", "3");
        let d = KeyDiff::between(Some(&a), &b);
        assert_eq!(
            (d.added, d.removed, d.changed),
            (
                vec!["C".to_string()],
                vec!["B".to_string()],
                vec!["A".to_string()]
            )
        );
    }

    #[test]
    fn derived_urls_percent_encode_passwords() {
        let mut b = Bundle::new();
        for (k, v) in [
            ("POSTGRES_USER", "app"),
            ("POSTGRES_PASSWORD", "p@ss/w:rd#1"),
            ("POSTGRES_HOST", "db.internal"),
            ("POSTGRES_PORT", "5432"),
            ("POSTGRES_DB", "app"),
            ("REDIS_PASSWORD", "r@d"),
            ("REDIS_HOST", "cache"),
            ("REDIS_PORT", "6379"),
        ] {
            b.set(k, v);
        }
        let m = ModeMapping {
            entries: Default::default(),
            approle_mount: "approle".into(),
        };
        derive_urls(&mut b, &m);
        let db = b.get("DATABASE_URL").unwrap();
        assert_eq!(redact::url_password(db).as_deref(), Some("p@ss/w:rd#1"));
        assert!(db.starts_with("postgres://app:") && db.ends_with("@db.internal:5432/app"));
        assert_eq!(
            redact::url_password(b.get("REDIS_URL").unwrap()).as_deref(),
            Some("r@d")
        );
    }
}
