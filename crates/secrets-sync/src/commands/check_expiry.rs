//! `check-expiry`: exit 1 (with a warning) when the bundle's DEVENV_EXPIRES_AT has passed.

use devenv_core::bundle::Bundle;
use devenv_core::bundle_expiry::{self, EXPIRES_AT_KEY};
use devenv_core::exit;
use devenv_core::output::Format;
use devenv_core::paths::{Mode, Workspace};

use crate::cli::CheckExpiryArgs;
use crate::error::SyncError;
use crate::output::{self, ExpiryReport};

pub(crate) fn run(args: &CheckExpiryArgs, format: Format) -> Result<u8, SyncError> {
    // Without MODE / DEVENV_MODE the remote bundle: the only one that expires.
    let path = args.source.path(&Workspace::discover(), Mode::Remote)?;
    let bundle = Bundle::read(&path)?;
    bundle.register_secrets();
    let state = bundle_expiry::check(&bundle, chrono::Utc::now());
    let expired = bundle_expiry::warn_if_expired(&bundle, &path);
    let report = ExpiryReport {
        expires_at: bundle.get(EXPIRES_AT_KEY).map(String::from),
        path: path.display().to_string(),
        expired,
        state,
    };
    output::print(format, &report);
    Ok(if expired { exit::FAILED } else { exit::OK })
}
