//! `dev-status ship-events`: what scripts call after recording an event, so their events reach
//! Loki through the same cursor (and lock) as dev-status' own shipments: each event once.

use devenv_core::exit;
use devenv_core::paths::Workspace;

use crate::error::Error;
use crate::telemetry;

pub async fn run() -> Result<u8, Error> {
    let ws = Workspace::discover();
    telemetry::ship_workspace_events(&ws).await;
    Ok(exit::OK)
}
