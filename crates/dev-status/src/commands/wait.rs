//! `--wait`: poll the components that are not ready yet, with backoff, until all are ready
//! or the time is up.

use std::time::{Duration, Instant};

use devenv_core::output::Format;

use crate::output::Progress;
use crate::probe::{self, Component, Outcome, Plan, State};

/// Prints a line on stderr as each component becomes ready. Returns the last outcome of
/// every component and the names of those that never became ready.
pub async fn until_ready(
    components: &[Component],
    timeout: Duration,
    format: Format,
) -> (Vec<Outcome>, Vec<String>) {
    let started = Instant::now();
    let deadline = started + timeout;
    let progress = Progress::new(format);
    let style = progress.style;
    let mut latest: Vec<Option<Outcome>> = vec![None; components.len()];
    // Static configuration errors will not fix themselves: report them once, don't wait.
    let mut pending: Vec<usize> = Vec::new();
    for (i, c) in components.iter().enumerate() {
        match c.plan {
            Plan::Probe(_) => pending.push(i),
            _ => latest[i] = Some(probe::check(c, None).await),
        }
    }
    if !pending.is_empty() {
        let names: Vec<&str> = pending
            .iter()
            .map(|&i| components[i].name.as_str())
            .collect();
        progress.line(&format!(
            "waiting up to {} s for {}",
            timeout.as_secs_f64(),
            names.join(", ")
        ));
    }
    let mut pause = Duration::from_millis(50);
    while !pending.is_empty() {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break;
        }
        let round: Vec<Component> = pending.iter().map(|&i| components[i].clone()).collect();
        let outcomes = probe::check_all(&round, Some(remaining)).await;
        let mut still = Vec::new();
        for (&i, outcome) in pending.iter().zip(outcomes) {
            if outcome.state.is_ready() {
                progress.line(&format!(
                    "{} {} ready after {:.1} s",
                    style.green("✓"),
                    outcome.component,
                    started.elapsed().as_secs_f64()
                ));
                latest[i] = Some(outcome);
                continue;
            }
            // A probe cut short by the end of the wait says less than the one before it.
            let cut_short = remaining < components[i].timeout
                && outcome.class == Some(probe::Class::Timeout)
                && latest[i].is_some();
            if !cut_short {
                latest[i] = Some(outcome);
            }
            still.push(i);
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        if progress.is_live() {
            let waiting: Vec<String> = pending
                .iter()
                .map(|&i| {
                    let why = latest[i]
                        .as_ref()
                        .and_then(|o| o.class)
                        .map_or("starting", |c| c.as_str());
                    format!("{} ({why})", components[i].name)
                })
                .collect();
            progress.live(&format!(
                "  {:.1} s: waiting for {}",
                started.elapsed().as_secs_f64(),
                waiting.join(", ")
            ));
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(pause.min(remaining)).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
    let never_ready: Vec<String> = pending
        .iter()
        .map(|&i| components[i].name.clone())
        .collect();
    for name in &never_ready {
        progress.line(&format!("{} {name} not ready", style.red("✗")));
    }
    let outcomes = latest
        .into_iter()
        .zip(components)
        .map(|(o, c)| {
            o.unwrap_or_else(|| Outcome {
                component: c.name.clone(),
                state: State::Unhealthy,
                class: Some(probe::Class::Timeout),
                latency_ms: None,
                message: c.ctx.timeout(Duration::ZERO).message,
                endpoint: c.endpoint.clone(),
                threshold_ms: c.threshold.as_millis() as u64,
            })
        })
        .collect();
    (outcomes, never_ready)
}
