//! `dev-status` (no subcommand): check every configured component once, or `--wait` until
//! they are ready, or `--watch` them.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use devenv_core::ids;
use devenv_core::output::Format;
use devenv_core::paths::Workspace;

use super::{event, wait, watch};
use crate::cli::CheckArgs;
use crate::config::{Inputs, Selection};
use crate::error::Error;
use crate::history::record::{self, Trigger};
use crate::probe::{self, Plan, State};
use crate::report::{self, StatusReport, WaitReport};
use crate::{output, telemetry};

pub(crate) fn health_config(args: &CheckArgs, ws: &Workspace) -> Option<PathBuf> {
    args.config.clone().or_else(|| {
        let default = ws.root.join("configs/health.yaml");
        default.is_file().then_some(default)
    })
}

pub(crate) fn positive_seconds(flag: &str, value: f64) -> Result<(), Error> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "--{flag} {value} is not a positive number of seconds"
        )))
    }
}

pub async fn run(args: &CheckArgs, format: Format) -> Result<u8, Error> {
    let ws = Workspace::discover();
    if args.wait {
        positive_seconds("timeout", args.timeout)?;
    }
    if let Some(n) = args.watch {
        positive_seconds("watch", n)?;
    }
    let mode = args.mode().map_err(Error::Usage)?;
    let env_file = args
        .env_file
        .clone()
        .unwrap_or_else(|| ws.bundle_path(mode));
    let inputs = Inputs::load(env_file, health_config(args, &ws))?;
    let selection = Selection {
        only: args.only.clone(),
        skip: args.skip.clone(),
        threshold_ms: args.threshold_ms,
        timeout_ms: args.probe_timeout_ms,
    };
    let components = inputs.components(&selection)?;
    let env_file = inputs.env_file.display().to_string();

    if let Some(every) = args.watch {
        let strict = args.strict;
        let watch = watch::Watch {
            every,
            count: args.count,
            strict,
            format,
        };
        return Ok(watch.run(&ws, &components, &env_file).await);
    }
    let started = Instant::now();
    let checked_at = ids::now_rfc3339();
    let (outcomes, wait) = if args.wait {
        let timeout = Duration::from_secs_f64(args.timeout);
        let (outcomes, never_ready) = wait::until_ready(&components, timeout, format).await;
        let wait = WaitReport {
            timeout_s: args.timeout,
            ready: never_ready.is_empty(),
            never_ready,
        };
        (outcomes, Some(wait))
    } else {
        (probe::check_all(&components, None).await, None)
    };
    let duration_ms = started.elapsed().as_millis() as u64;
    let mut status = StatusReport::new(&outcomes, checked_at, duration_ms, &env_file);
    status.wait = wait.clone();
    output::status(&status, format);
    let trigger = if args.wait {
        Trigger::Wait
    } else {
        Trigger::Status
    };
    record::record(&ws, &components, &outcomes, &status.checked_at, trigger);
    event(&ws, "status_checked", |e| {
        e.field("overall", status.overall.as_str())
            .field("duration_ms", duration_ms)
            .field(
                "unhealthy",
                outcomes
                    .iter()
                    .filter(|o| o.state == State::Unhealthy)
                    .map(|o| o.component.clone())
                    .collect::<Vec<_>>(),
            )
    });

    telemetry::after_check(&ws, mode, &outcomes).await;

    let misconfigured: Vec<&str> = components
        .iter()
        .filter(|c| matches!(c.plan, Plan::Misconfigured(_)))
        .map(|c| c.name.as_str())
        .collect();
    if !misconfigured.is_empty() {
        return Err(Error::Usage(format!(
            "bad configuration for {} in {env_file} — run `make secrets-sync`",
            misconfigured.join(", ")
        )));
    }
    if let Some(wait) = wait.filter(|w| !w.ready) {
        let details: Vec<String> = outcomes
            .iter()
            .filter(|o| wait.never_ready.contains(&o.component))
            .map(|o| {
                let why = o.class.map_or(o.state.as_str(), |c| c.as_str());
                format!("{} ({why})", o.component)
            })
            .collect();
        return Err(Error::Timeout(format!(
            "not ready after {} s: {} — see the messages above and `make logs`",
            wait.timeout_s,
            details.join(", ")
        )));
    }
    Ok(report::exit_code(&outcomes, args.strict))
}
