//! `dev-status history`: what the recorded checks say per service (`.devenv/health/`).

use chrono::Utc;
use devenv_core::exit;
use devenv_core::health_history::{self, HealthHistory, Retention};
use devenv_core::output::Format;
use devenv_core::paths::Workspace;

use crate::cli::HistoryArgs;
use crate::error::Error;
use crate::history::summary;
use crate::output;

pub fn run(args: &HistoryArgs, format: Format) -> Result<u8, Error> {
    let ws = Workspace::discover();
    let since = args
        .since
        .as_deref()
        .map(|s| summary::parse_since(s, Utc::now()))
        .transpose()
        .map_err(Error::Usage)?;
    // Reading needs no retention: every file still there is read.
    let history = HealthHistory::of_workspace(&ws, Retention::default());
    let loaded = history.load(since)?;
    let dir = history.dir().display().to_string();
    let report = summary::report(dir, &loaded, since, args.service.clone());
    if report.services.is_empty() {
        let filtered = since.is_some() || args.service.is_some();
        let anything = filtered && history.load(None)?.records().next().is_some();
        return Err(Error::NoHistory(nothing_recorded(
            &ws, &history, args, anything,
        )));
    }
    output::history(&report, format);
    Ok(exit::OK)
}

/// Why there is nothing to show, and what to run so that there is.
fn nothing_recorded(
    ws: &Workspace,
    history: &HealthHistory,
    args: &HistoryArgs,
    anything: bool,
) -> String {
    let dir = history.dir().display();
    if anything {
        let what = args
            .service
            .as_deref()
            .map_or("no checks".to_string(), |s| format!("no checks of {s}"));
        let when = args
            .since
            .as_deref()
            .map_or(String::new(), |s| format!(" in the last {s}"));
        return format!(
            "{what}{when} in {dir} — drop --service/--since to see what is recorded, or run \
             `dev-status` (`make status`) to record a check now"
        );
    }
    let mut message = format!(
        "no health history yet in {dir} — run `dev-status` (or `make status`): every run \
         records its results there"
    );
    if !ws.state_dir().is_dir() {
        message.push_str(&format!(
            "; results are kept only in a workspace with {} (`make up` creates it)",
            ws.state_dir().display()
        ));
    } else if !health_history::enabled_from_env() {
        message.push_str(&format!(
            "; recording is off: unset {}",
            health_history::ENABLED_ENV
        ));
    }
    message
}
