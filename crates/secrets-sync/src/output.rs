//! The one place secrets-sync prints: a typed report per command, shown as one JSON document
//! (`--json`), human lines, or nothing (`--quiet`); and the notices that go to stderr.

use std::path::Path;

use devenv_core::bundle_expiry::Expiry;
use devenv_core::output::{self, Format, Style};
use devenv_core::stack::{self, PortAssignment};
use serde::Serialize;

use crate::diff::KeyDiff;

/// A command's result: its JSON document body and its human lines.
pub(crate) trait Report: Serialize {
    /// The document's `kind`.
    const KIND: &'static str;
    fn human(&self, style: &Style) -> Vec<String>;
}

/// Prints a report in the chosen format, through the redactor.
pub(crate) fn print<R: Report>(format: Format, report: &R) {
    match format {
        Format::Quiet => {}
        Format::Json => {
            let body = serde_json::to_value(report).expect("reports serialise");
            output::print_json(&output::document(R::KIND, body));
        }
        Format::Human => {
            for line in report.human(&Style::stdout()) {
                output::println_redacted(&line);
            }
        }
    }
}

/// What a sync did with the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum BundleAction {
    DryRun,
    Unchanged,
    Written,
    /// Rewritten with the same secrets, to move a remote bundle's expiry forward.
    Renewed,
}

impl BundleAction {
    pub fn as_str(self) -> &'static str {
        match self {
            BundleAction::DryRun => "dry_run",
            BundleAction::Unchanged => "unchanged",
            BundleAction::Written => "written",
            BundleAction::Renewed => "renewed",
        }
    }
}

/// Where the bundle's credentials came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum CredentialSource {
    Vault,
    LocalGenerator,
}

impl CredentialSource {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialSource::Vault => "vault",
            CredentialSource::LocalGenerator => "local-generator",
        }
    }
}

/// `sync`.
#[derive(Serialize)]
pub(crate) struct Synced {
    pub audit_id: String,
    pub mode: devenv_core::paths::Mode,
    pub path: String,
    pub action: BundleAction,
    pub source: CredentialSource,
    /// Remote bundles only.
    pub expires_at: Option<String>,
    pub keys: Vec<String>,
    /// `added`, `removed`, `changed`: key names, never values.
    #[serde(flatten)]
    pub diff: KeyDiff,
    /// Local credentials only: how each port was decided.
    pub ports: Vec<PortAssignment>,
    pub vault: Option<VaultReads>,
}

#[derive(Serialize)]
pub(crate) struct VaultReads {
    pub reads: usize,
    pub request_ids: Vec<String>,
    pub login_request_id: Option<String>,
    pub token_revoked: bool,
}

impl Report for Synced {
    const KIND: &'static str = "secrets-sync";
    fn human(&self, style: &Style) -> Vec<String> {
        let verb = match self.action {
            BundleAction::Written => style.green("wrote"),
            BundleAction::Renewed => style.green("renewed"),
            BundleAction::Unchanged => style.dim("unchanged"),
            BundleAction::DryRun => style.yellow("would write"),
        };
        let what = match &self.vault {
            Some(v) => format!("{} Vault reads, audit id {}", v.reads, self.audit_id),
            None => "local credentials".to_string(),
        };
        let mut lines = vec![format!(
            "{verb} {} ({} keys, {what})",
            self.path,
            self.keys.len()
        )];
        if let Some(exp) = &self.expires_at {
            lines.push(format!("  expires at {exp}"));
        }
        if self.action != BundleAction::Unchanged {
            let d = &self.diff;
            for (label, keys) in [
                ("added", &d.added),
                ("removed", &d.removed),
                ("changed", &d.changed),
            ] {
                if !keys.is_empty() {
                    lines.push(format!("  {label}: {}", keys.join(", ")));
                }
            }
        }
        lines
    }
}

/// `vault-bootstrap`.
#[derive(Serialize)]
pub(crate) struct Bootstrapped {
    pub addr: String,
    #[serde(flatten)]
    pub outcome: crate::bootstrap::Outcome,
}

impl Report for Bootstrapped {
    const KIND: &'static str = "vault-bootstrap";
    fn human(&self, style: &Style) -> Vec<String> {
        let o = &self.outcome;
        let mut lines = vec![if o.changes.is_empty() {
            format!("{} {} (already set up)", style.dim("unchanged"), self.addr)
        } else {
            format!(
                "{} {}: {}",
                style.green("set up"),
                self.addr,
                o.changes.join(", ")
            )
        }];
        lines.push(format!(
            "  policy {}: read on {} path(s); unseal key, root token, role_id and secret_id in {} (0600)",
            o.policy,
            o.policy_paths.len(),
            o.state_dir
        ));
        lines
    }
}

/// `render`.
#[derive(Serialize)]
pub(crate) struct Rendered {
    pub bundle: String,
    pub rendered: Vec<RenderedConfig>,
}

#[derive(Serialize)]
pub(crate) struct RenderedConfig {
    pub service: String,
    pub path: String,
    pub keys: Vec<String>,
}

impl Report for Rendered {
    const KIND: &'static str = "secrets-sync-render";
    fn human(&self, style: &Style) -> Vec<String> {
        self.rendered
            .iter()
            .map(|r| {
                format!(
                    "{} {} → {} ({} keys)",
                    style.green("rendered"),
                    r.service,
                    r.path,
                    r.keys.len()
                )
            })
            .collect()
    }
}

/// `check-expiry`.
#[derive(Serialize)]
pub(crate) struct ExpiryReport {
    pub path: String,
    pub expires_at: Option<String>,
    pub expired: bool,
    #[serde(skip)]
    pub state: Expiry,
}

impl Report for ExpiryReport {
    const KIND: &'static str = "secrets-sync-expiry";
    fn human(&self, _style: &Style) -> Vec<String> {
        let path = &self.path;
        vec![match &self.state {
            Expiry::Never => format!("{path} does not expire"),
            Expiry::Valid { expires_at, .. } => format!("{path} is valid until {expires_at}"),
            _ => format!("{path} is expired"),
        }]
    }
}

/// Remote mode without Vault: said on stderr unless `--quiet`.
pub(crate) fn note_generated_remote(format: Format, out: &Path) {
    if format != Format::Quiet {
        output::eprintln_redacted(&format!(
            "{} VAULT_ADDR is not set: {} gets locally generated credentials (right for a remote host running its own services; set VAULT_ADDR to read them from Vault)",
            Style::stderr().yellow("note:"),
            out.display()
        ));
    }
}

/// A requested port that was taken and replaced, on stderr.
pub(crate) fn warn_port_reassigned(a: &PortAssignment, holder: &impl std::fmt::Display) {
    output::eprintln_redacted(&format!(
        "{} port {} for {} is taken by {holder} — using {} instead (set {}=1 to fail instead)",
        Style::stderr().yellow("warning:"),
        a.requested,
        a.name,
        a.port,
        stack::STRICT_PORTS_ENV
    ));
}
