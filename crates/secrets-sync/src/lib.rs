//! secrets-sync: writes the dotenv bundle (`.env.local` / `.env.linode`) that every devenv
//! binary and app reads. Local mode generates stable per-workspace credentials offline.
//! Atomic 0600 writes, the `git check-ignore` refusal and redaction come from devenv-core.

pub mod local;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use devenv_core::bundle::Bundle;
use devenv_core::exit;
use devenv_core::output::{self, Failure, Format, Style};
use devenv_core::paths::{Mode, Workspace};
use devenv_core::stack::{self, PortDefaults};
use devenv_core::{events::Event, ids};
use serde_json::json;

const SOURCE: &str = "secrets-sync";

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
    /// Model id written as MOCK_INFERENCE_MODEL.
    #[arg(long, env = "MOCK_INFERENCE_MODEL", default_value = "mock-gpt")]
    model: String,
}

/// Entry point of the binary.
pub fn run() -> std::process::ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Sync(args)) => args,
        None => cli.sync,
    };
    devenv_core::logging::init(args.verbose);
    output::finish(sync(&args))
}

/// The keys whose value differs between two bundles, ignoring the generation timestamp.
pub struct KeyDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl KeyDiff {
    pub fn between(old: Option<&Bundle>, new: &Bundle) -> Self {
        let empty = Bundle::new();
        let old = old.unwrap_or(&empty);
        let volatile = |k: &str| k == "DEVENV_GENERATED_AT";
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

fn sync(args: &SyncArgs) -> Result<u8, Failure> {
    let format = Format::choose(
        args.json,
        args.human,
        args.quiet,
        Format::Human,
        Format::Human,
    );
    let ws = Workspace::discover();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| ws.bundle_path(args.mode));
    if args.mode == Mode::Remote {
        return Err(Failure::new(
            exit::USAGE,
            "remote mode reads secrets from Vault, which is not configured — set VAULT_ADDR and log in (see crates/secrets-sync/README.md), or use --mode local",
        ));
    }
    // Refuse before generating anything, so a refused run writes nothing at all.
    if !args.dry_run {
        devenv_core::bundle::ensure_git_ignored(&out).map_err(|e| Failure::from_coded(&e))?;
    }
    let defaults = PortDefaults::load(&ws.ports_file()).map_err(|e| Failure::from_coded(&e))?;
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
    let creds = if args.dry_run {
        // A dry run must not create the credential store either.
        Bundle::read_optional(&local::credentials_path(&ws))
            .map_err(|e| Failure::from_coded(&e))?
            .unwrap_or_default()
    } else {
        local::load_or_create_credentials(&ws).map_err(|e| Failure::from_coded(&e))?
    };
    let inputs = local::LocalInputs {
        workspace: &ws,
        defaults: &defaults,
        previous: previous.as_ref(),
        strict_ports: stack::strict_ports_from_env(),
        model: args.model.clone(),
    };
    let outcome = local::build(&inputs, &creds).map_err(|e| Failure::from_coded(&e))?;
    outcome.bundle.register_secrets();
    let diff = KeyDiff::between(previous.as_ref(), &outcome.bundle);

    let stderr_style = Style::stderr();
    for a in outcome.ports.iter().filter(|a| a.taken_by.is_some()) {
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

    let action = if args.dry_run {
        "dry_run"
    } else if diff.is_empty() && previous.is_some() {
        "unchanged"
    } else {
        let header = format!(
            "devenv secrets bundle ({} mode) — written by secrets-sync, do not edit.\nRegenerate with `make secrets-sync`. Never commit this file.",
            args.mode.as_str()
        );
        outcome
            .bundle
            .write(&out, &header)
            .map_err(|e| Failure::from_coded(&e))?;
        "written"
    };
    Event::new(SOURCE, "bundle_synced")
        .field("audit_id", ids::correlation_id())
        .field("mode", args.mode.as_str())
        .field("path", out.display().to_string())
        .field("action", action)
        .field("source", "local-generator")
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
                "source": "local-generator",
                "keys": outcome.bundle.keys().collect::<Vec<_>>(),
                "added": diff.added,
                "removed": diff.removed,
                "changed": diff.changed,
                "ports": outcome.ports,
            }),
        )),
        Format::Human => {
            let style = Style::stdout();
            let verb = match action {
                "written" => style.green("wrote"),
                "unchanged" => style.dim("unchanged"),
                _ => style.yellow("would write"),
            };
            output::println_redacted(&format!(
                "{verb} {} ({} keys, local credentials)",
                out.display(),
                outcome.bundle.len()
            ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_diff_ignores_timestamp() {
        let mut a = Bundle::new();
        a.set("DEVENV_GENERATED_AT", "1");
        a.set("A", "1");
        a.set("B", "1");
        let mut b = a.clone();
        b.set("DEVENV_GENERATED_AT", "2");
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
}
