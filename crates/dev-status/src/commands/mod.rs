//! One module per command: `status` (the default, with `--wait` and `--watch`),
//! `preflight`, `bucket`, `ship-events` and `history`. Each returns an exit code or an [`Error`](crate::error::Error).

pub mod bucket;
pub mod history;
pub mod preflight;
pub mod ship_events;
pub mod status;
mod wait;
mod watch;

use devenv_core::events::Event;
use devenv_core::paths::Workspace;

/// Appends an event to `.devenv/events.jsonl` when the workspace has a state directory
/// (a probe run from elsewhere must not create one).
fn event(ws: &Workspace, name: &str, fill: impl FnOnce(Event) -> Event) {
    if ws.state_dir().is_dir() {
        fill(Event::new("dev-status", name)).append_to(&ws.events_file());
    }
}
