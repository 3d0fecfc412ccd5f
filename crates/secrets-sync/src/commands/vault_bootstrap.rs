//! `vault-bootstrap`: the vault profile's server made ready for AppRole logins (see
//! [`crate::bootstrap`]), with an audit event naming what changed — never a value.

use std::time::Duration;

use devenv_core::events::Event;
use devenv_core::exit;
use devenv_core::output::Format;
use devenv_core::paths::{Mode, Workspace};

use crate::bootstrap::{self, Plan};
use crate::cli::VaultBootstrapArgs;
use crate::error::SyncError;
use crate::output::{self, Bootstrapped};
use crate::{SOURCE, local, mapping};

pub(crate) fn run(args: &VaultBootstrapArgs, format: Format) -> Result<u8, SyncError> {
    let ws = Workspace::discover();
    let mapping_path = args
        .mapping
        .clone()
        .unwrap_or_else(|| ws.root.join("configs/secrets.yaml"));
    let mapping = mapping::load(&mapping_path, Mode::Local)?;
    let credentials = local::load_or_create_credentials(&ws)?;
    let plan = Plan {
        addr: args.vault_addr.clone(),
        state_dir: args
            .state_dir
            .clone()
            .unwrap_or_else(|| ws.state_dir().join("vault")),
        mapping: &mapping,
        role: args.role.clone(),
        credentials: &credentials,
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let outcome = devenv_core::runtime::block_on(
        tokio::runtime::Builder::new_current_thread(),
        bootstrap::run(&plan),
    )
    .map_err(|f| SyncError::Runtime(f.message))??;
    Event::new(SOURCE, "vault_bootstrap")
        .field("addr", plan.addr.as_str())
        .field("initialized_now", outcome.initialized_now)
        .field("unsealed_now", outcome.unsealed_now)
        .field("changes", outcome.changes.clone())
        .append_to(&ws.events_file());
    output::print(
        format,
        &Bootstrapped {
            addr: plan.addr.clone(),
            outcome,
        },
    );
    Ok(exit::OK)
}
