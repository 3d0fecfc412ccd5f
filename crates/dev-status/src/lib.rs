//! dev-status: the health probe of the devenv dependency suite. Every check speaks its
//! component's protocol; every failure carries a class and a remedy; all checks run
//! concurrently, each under its own deadline. See README.md for the CLI and the states.

pub mod cli;
pub mod config;
pub mod preflight;
pub mod probe;
pub mod report;
pub mod telemetry;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser as _;
use devenv_core::events::Event;
use devenv_core::exit::{self, ExitCoded as _};
use devenv_core::output::{self, Failure, Format, Style};
use devenv_core::paths::{Mode, Workspace};
use devenv_core::{ids, logging};
use serde_json::{Value, json};

use crate::cli::{CheckArgs, Cli, Command, OutputArgs};
use crate::config::{Inputs, Selection};
use crate::probe::{Component, Outcome, Plan, State};

/// Entry point of the binary.
pub fn run() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return std::process::ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    // async-nats logs every connection error it returns; the report already carries it,
    // classified and with a remedy.
    logging::init_with(cli.verbose, &["async_nats"]);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2);
    let result = devenv_core::runtime::block_on(builder, async {
        match &cli.command {
            Some(Command::Preflight(args)) => preflight(merge(args.output, cli.output)).await,
            None => status(&cli.check, cli.output).await,
        }
    })
    .and_then(|r| r);
    output::finish(result)
}

fn merge(a: OutputArgs, b: OutputArgs) -> OutputArgs {
    OutputArgs {
        json: a.json || b.json,
        human: a.human || b.human,
        quiet: a.quiet || b.quiet,
    }
}

/// JSON is the default, on a terminal too (issue 3); `--human` asks for the table.
fn format(args: OutputArgs) -> Format {
    Format::choose(
        args.json,
        args.human,
        args.quiet,
        Format::Json,
        Format::Json,
    )
}

async fn preflight(args: OutputArgs) -> Result<u8, Failure> {
    let ws = Workspace::discover();
    let report = preflight::run(&ws)
        .await
        .map_err(|e| Failure::from_coded(&e))?;
    match format(args) {
        Format::Json => {
            let body = serde_json::to_value(&report).unwrap_or(Value::Null);
            output::print_json(&output::document("preflight", body));
        }
        Format::Human => {
            for line in preflight::human(&report, Style::stdout()) {
                output::println_redacted(&line);
            }
        }
        Format::Quiet => {}
    }
    event(&ws, "preflight", |e| {
        e.field("pass", report.pass)
            .field("warnings", report.warnings.len())
            .field("runtime", report.runtime)
    });
    Ok(if report.pass { exit::OK } else { exit::FAILED })
}

fn env_file(args: &CheckArgs, ws: &Workspace) -> PathBuf {
    args.env_file
        .clone()
        .unwrap_or_else(|| ws.bundle_path(Mode::from(args.mode)))
}

fn health_config(args: &CheckArgs, ws: &Workspace) -> Option<PathBuf> {
    args.config.clone().or_else(|| {
        let default = ws.root.join("configs/health.yaml");
        default.is_file().then_some(default)
    })
}

async fn status(args: &CheckArgs, out: OutputArgs) -> Result<u8, Failure> {
    let ws = Workspace::discover();
    if args.wait && !(args.timeout.is_finite() && args.timeout > 0.0) {
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "--timeout {} is not a positive number of seconds",
                args.timeout
            ),
        ));
    }
    if let Some(n) = args.watch {
        if !(n.is_finite() && n > 0.0) {
            return Err(Failure::new(
                exit::USAGE,
                format!("--watch {n} is not a positive number of seconds"),
            ));
        }
    }
    let inputs = Inputs::load(env_file(args, &ws), health_config(args, &ws))
        .map_err(|e| Failure::from_coded(&e))?;
    let selection = Selection {
        only: args.only.clone(),
        skip: args.skip.clone(),
        threshold_ms: args.threshold_ms,
        timeout_ms: args.probe_timeout_ms,
    };
    let components = inputs
        .components(&selection)
        .map_err(|e| Failure::new(e.exit_code(), e.to_string()))?;
    let env_file = inputs.env_file.display().to_string();
    let format = format(out);

    if let Some(every) = args.watch {
        return Ok(watch(
            &components,
            every,
            args.count,
            args.strict,
            format,
            &env_file,
        )
        .await);
    }
    let started = Instant::now();
    let checked_at = ids::now_rfc3339();
    let (outcomes, wait) = if args.wait {
        let (outcomes, never_ready) =
            wait_until_ready(&components, Duration::from_secs_f64(args.timeout), format).await;
        (outcomes, Some((never_ready, args.timeout)))
    } else {
        (probe::check_all(&components, None).await, None)
    };
    let duration_ms = started.elapsed().as_millis() as u64;
    let extra = match &wait {
        Some((never_ready, timeout)) => json!({"wait": {
            "timeout_s": timeout,
            "ready": never_ready.is_empty(),
            "never_ready": never_ready,
        }}),
        None => json!({}),
    };
    print(
        &outcomes,
        &checked_at,
        duration_ms,
        &env_file,
        extra,
        format,
    );
    let state = report::overall(&outcomes);
    event(&ws, "status_checked", |e| {
        e.field("overall", state.as_str())
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

    push_telemetry(&ws, Mode::from(args.mode), &outcomes).await;

    let misconfigured: Vec<&str> = components
        .iter()
        .filter(|c| matches!(c.plan, Plan::Misconfigured(_)))
        .map(|c| c.name.as_str())
        .collect();
    if !misconfigured.is_empty() {
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "bad configuration for {} in {env_file} — run `make secrets-sync`",
                misconfigured.join(", ")
            ),
        ));
    }
    if let Some((never_ready, timeout)) = wait {
        if !never_ready.is_empty() {
            let details: Vec<String> = outcomes
                .iter()
                .filter(|o| never_ready.contains(&o.component))
                .map(|o| {
                    format!(
                        "{} ({})",
                        o.component,
                        o.class.map_or(o.state.as_str(), |c| c.as_str())
                    )
                })
                .collect();
            return Err(Failure::new(
                exit::TIMEOUT,
                format!(
                    "not ready after {timeout} s: {} — see the messages above and `make logs`",
                    details.join(", ")
                ),
            ));
        }
    }
    Ok(report::exit_code(&outcomes, args.strict))
}

fn print(
    outcomes: &[Outcome],
    checked_at: &str,
    duration_ms: u64,
    env_file: &str,
    extra: Value,
    format: Format,
) {
    match format {
        Format::Json => output::print_json(&report::document(
            outcomes,
            checked_at,
            duration_ms,
            env_file,
            extra,
        )),
        Format::Human => {
            for line in report::table(outcomes, duration_ms, Style::stdout()) {
                output::println_redacted(&line);
            }
        }
        Format::Quiet => {}
    }
}

/// Polls the components that are not ready yet, with backoff, until all are ready or the
/// time is up. Prints a line on stderr as each becomes ready. Returns the last outcome of
/// every component and the names of those that never became ready.
async fn wait_until_ready(
    components: &[Component],
    timeout: Duration,
    format: Format,
) -> (Vec<Outcome>, Vec<String>) {
    let started = Instant::now();
    let deadline = started + timeout;
    let style = Style::stderr();
    // On a terminal, a live line shows what is still pending and why; it is cleared before
    // each permanent line so that the log of ready components stays readable.
    let live = format != Format::Quiet && std::io::stderr().is_terminal();
    let clear_live = || {
        if live {
            eprint!("\r\x1b[K");
        }
    };
    let progress = |line: String| {
        if format != Format::Quiet {
            clear_live();
            output::eprintln_redacted(&line);
        }
    };
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
        progress(format!(
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
                progress(format!(
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
        if live {
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
            clear_live();
            eprint!(
                "{}",
                devenv_core::redact::redact(&format!(
                    "  {:.1} s: waiting for {}",
                    started.elapsed().as_secs_f64(),
                    waiting.join(", ")
                ))
            );
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
        progress(format!("{} {name} not ready", style.red("✗")));
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

/// Re-checks every `every` seconds until Ctrl-C (or `count` refreshes); returns the exit
/// code of the last check.
async fn watch(
    components: &[Component],
    every: f64,
    count: Option<u64>,
    strict: bool,
    format: Format,
    env_file: &str,
) -> u8 {
    let interval = Duration::from_secs_f64(every);
    let clear = format == Format::Human && Style::stdout().color;
    let mut done = 0u64;
    loop {
        let started = Instant::now();
        let checked_at = ids::now_rfc3339();
        let outcomes = probe::check_all(components, None).await;
        let duration_ms = started.elapsed().as_millis() as u64;
        if clear {
            output::println_redacted(&format!(
                "\x1b[2J\x1b[H{checked_at}  (every {every} s, Ctrl-C to stop)"
            ));
        }
        print(
            &outcomes,
            &checked_at,
            duration_ms,
            env_file,
            json!({}),
            format,
        );
        let code = report::exit_code(&outcomes, strict);
        done += 1;
        if count.is_some_and(|c| done >= c) {
            return code;
        }
        tokio::select! {
            _ = tokio::time::sleep(interval.saturating_sub(started.elapsed())) => {}
            _ = tokio::signal::ctrl_c() => return code,
        }
    }
}

/// The observability stream ([`telemetry`]): per-component up/latency gauges to the
/// Pushgateway (`DEVENV_PUSHGATEWAY_URL`, or `METRICS=true` in local mode) and the workspace's
/// new events to Loki (`DEVENV_LOKI_URL`). Observability, not state: failures are warnings.
async fn push_telemetry(ws: &Workspace, mode: Mode, outcomes: &[Outcome]) {
    use crate::telemetry::{self, ComponentSample, PushgatewayClient};
    let samples: Vec<ComponentSample> = outcomes
        .iter()
        .filter(|o| o.state != State::Skipped)
        .map(|o| {
            ComponentSample::new(
                o.component.clone(),
                matches!(o.state, State::Healthy | State::Degraded),
                Duration::from_millis(o.latency_ms.unwrap_or_default()),
            )
        })
        .collect();
    let pushed = match PushgatewayClient::from_env(mode) {
        Ok(Some(client)) => client.push(&samples).await,
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    let shipped = match telemetry::LokiClient::from_env() {
        Ok(Some(client)) if ws.state_dir().is_dir() => telemetry::ship_events_file(
            &client,
            &ws.events_file(),
            &ws.state_dir().join("loki.cursor"),
        )
        .await
        .map(|_| ()),
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    };
    for err in [pushed.err(), shipped.err()].into_iter().flatten() {
        tracing::warn!("{}", devenv_core::redact::error_chain(&err));
    }
}

/// Appends an event to `.devenv/events.jsonl` when the workspace has a state directory
/// (a probe run from elsewhere must not create one).
fn event(ws: &Workspace, name: &str, fill: impl FnOnce(Event) -> Event) {
    if ws.state_dir().is_dir() {
        fill(Event::new("dev-status", name)).append_to(&ws.events_file());
    }
}
