//! `sync` (the default command): the bundle from Vault or the local generator, written
//! atomically (0600, git-ignored) when its keys changed, with an audit event.

use devenv_core::bundle::{self, Bundle};
use devenv_core::bundle_expiry::{self, EXPIRES_AT_KEY};
use devenv_core::events::Event;
use devenv_core::exit;
use devenv_core::output::Format;
use devenv_core::paths::{Mode, Workspace};
use devenv_core::stack::{self, PortDefaults};
use devenv_core::{ids, redact};

use crate::cli::{self, SyncArgs};
use crate::diff::KeyDiff;
use crate::error::SyncError;
use crate::fetch::{self, VaultOutcome};
use crate::output::{self, BundleAction, CredentialSource, Synced, VaultReads};
use crate::{SOURCE, local, mapping, portable, remote};

pub(crate) fn run(args: &SyncArgs, format: Format) -> Result<u8, SyncError> {
    // Refuse argv secrets before anything else, masking the value in case it is echoed.
    for (flag, value) in [("--secret-id", &args.secret_id), ("--token", &args.token)] {
        if let Some(v) = value {
            redact::register(v);
            return Err(SyncError::Usage(format!(
                "{flag} is refused: a secret on the command line is visible in `ps` and shell history — use {}",
                if flag == "--token" {
                    "the VAULT_TOKEN environment variable"
                } else {
                    "--secret-id-file PATH, --secret-id-stdin or VAULT_SECRET_ID"
                }
            )));
        }
    }
    let mode = cli::mode(args.mode, Mode::Local)?;
    let ws = Workspace::discover();
    let out = args.out.clone().unwrap_or_else(|| ws.bundle_path(mode));
    // Refuse before reading or generating anything, so a refused run writes nothing at all.
    if !args.dry_run {
        bundle::ensure_git_ignored(&out)?;
    }
    let mapping_path = args
        .mapping
        .clone()
        .unwrap_or_else(|| ws.root.join("configs/secrets.yaml"));
    let mapping = mapping::load(&mapping_path, mode)?;
    let vault_addr = args.vault_addr.clone().filter(|a| !a.trim().is_empty());
    let profiles: Vec<String> = args
        .profiles
        .iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();

    let previous = Bundle::read_optional(&out).unwrap_or_else(|e| {
        tracing::warn!("ignoring the unreadable previous bundle: {e}");
        None
    });
    if let Some(p) = &previous {
        p.register_secrets();
    }

    // Remote mode without VAULT_ADDR is a remote host running its own services (the
    // StackScript's default): it gets generated credentials, like local mode, in .env.linode.
    let vault = match (&vault_addr, mode) {
        (Some(addr), Mode::Remote) => Some(fetch::fetch(args, addr, &mapping)?),
        (Some(addr), Mode::Local) if mapping.has_vault_entries() => {
            Some(fetch::fetch(args, addr, &mapping)?)
        }
        (Some(_), Mode::Local) => {
            tracing::info!(
                "VAULT_ADDR is set but {} maps no local keys to Vault: using the local generator",
                mapping_path.display()
            );
            None
        }
        (None, Mode::Remote) => {
            output::note_generated_remote(format, &out);
            None
        }
        (None, Mode::Local) => None,
    };
    let source = if vault.is_some() {
        CredentialSource::Vault
    } else {
        CredentialSource::LocalGenerator
    };

    let (mut bundle, ports) = match (mode, &vault) {
        (Mode::Local, _) | (Mode::Remote, None) => {
            let defaults = PortDefaults::load(&ws.ports_file())?;
            let creds = local_credentials(args, &ws, vault.as_ref())?;
            let inputs = local::LocalInputs {
                workspace: &ws,
                mode,
                defaults: &defaults,
                previous: previous.as_ref(),
                strict_ports: stack::strict_ports_from_env(),
                model: args.model.clone(),
                profiles: &profiles,
            };
            let outcome = local::build(&inputs, &creds)?;
            let mut bundle = outcome.bundle;
            if let Some(v) = &vault {
                bundle.set("DEVENV_SOURCE", "vault");
                for (k, val) in v.values.iter() {
                    let inactive = local::profile_of_key(k)
                        .is_some_and(|profile| !profiles.iter().any(|p| p == profile));
                    if !inactive {
                        bundle.set(k, val);
                    }
                }
                remote::derive_urls(&mut bundle, &mapping);
                if profiles.iter().any(|p| p == "vault") {
                    // What an app needs to log in itself (DESIGN's vault profile keys); the
                    // secret_id stays in its 0600 file, never in the bundle.
                    bundle.set("VAULT_ADDR", vault_addr.as_deref().unwrap_or_default());
                    if let Some(role_id) = &args.role_id {
                        bundle.set("VAULT_ROLE_ID", role_id);
                    }
                }
            }
            (bundle, outcome.ports)
        }
        (Mode::Remote, Some(v)) => (
            remote::bundle(&ws, &v.values, &mapping, &mapping_path)?,
            Vec::new(),
        ),
    };
    if mode == Mode::Remote {
        bundle.set(
            EXPIRES_AT_KEY,
            bundle_expiry::expires_at(chrono::Utc::now()),
        );
    }
    bundle.register_secrets();
    panic_for_tests(&bundle);
    portable::check(&bundle)?;
    let diff = KeyDiff::between(previous.as_ref(), &bundle);

    for a in &ports {
        if let Some(holder) = &a.taken_by {
            output::warn_port_reassigned(a, holder);
            Event::new(SOURCE, "port_reassigned")
                .field("service", a.name)
                .field("requested", a.requested)
                .field("port", a.port)
                .field("holder", holder.to_string())
                .append_to(&ws.events_file());
        }
    }

    let action = if args.dry_run {
        BundleAction::DryRun
    } else if diff.is_empty() && previous.is_some() && !needs_renewal(mode, previous.as_ref()) {
        BundleAction::Unchanged
    } else {
        let header = format!(
            "devenv secrets bundle ({} mode, source: {}) — written by secrets-sync, do not edit.\nRegenerate with `make secrets-sync{}`. Never commit this file.",
            mode.as_str(),
            source.as_str(),
            if mode == Mode::Remote {
                " MODE=remote"
            } else {
                ""
            }
        );
        bundle.write(&out, &header)?;
        if diff.is_empty() && previous.is_some() {
            BundleAction::Renewed
        } else {
            BundleAction::Written
        }
    };
    Event::new(SOURCE, "bundle_synced")
        .field("audit_id", ids::correlation_id())
        .field("mode", mode.as_str())
        .field("path", out.display().to_string())
        .field("action", action.as_str())
        .field("source", source.as_str())
        .field("vault_reads", vault.as_ref().map_or(0, |v| v.reads))
        .field("keys_added", diff.added.clone())
        .field("keys_removed", diff.removed.clone())
        .field("keys_changed", diff.changed.clone())
        .append_to(&ws.events_file());

    let report = Synced {
        audit_id: ids::correlation_id().to_string(),
        mode,
        path: out.display().to_string(),
        action,
        source,
        expires_at: bundle.get(EXPIRES_AT_KEY).map(String::from),
        keys: bundle.keys().map(String::from).collect(),
        diff,
        ports,
        vault: vault.map(|v| VaultReads {
            reads: v.reads,
            request_ids: v.request_ids,
            login_request_id: v.login_request_id,
            token_revoked: v.token_revoked,
        }),
    };
    output::print(format, &report);
    Ok(exit::OK)
}

/// A remote bundle whose secrets did not change is still rewritten once half its lifetime is
/// gone, so its expiry moves forward with each sync.
fn needs_renewal(mode: Mode, previous: Option<&Bundle>) -> bool {
    mode == Mode::Remote
        && previous.is_some_and(|p| match bundle_expiry::check(p, chrono::Utc::now()) {
            bundle_expiry::Expiry::Valid { remaining, .. } => {
                remaining < bundle_expiry::REMOTE_TTL / 2
            }
            _ => true,
        })
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
) -> Result<Bundle, SyncError> {
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
        Bundle::read_optional(&local::credentials_path(ws))?.unwrap_or_default()
    } else {
        local::load_or_create_credentials(ws)?
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
