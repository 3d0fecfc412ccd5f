//! `--watch N`: re-check every N seconds until Ctrl-C (or `--count` refreshes).

use std::time::{Duration, Instant};

use devenv_core::ids;
use devenv_core::output::Format;

use crate::output;
use crate::probe::{self, Component};
use crate::report::{self, StatusReport};

/// Returns the exit code of the last check.
pub async fn run(
    components: &[Component],
    every: f64,
    count: Option<u64>,
    strict: bool,
    format: Format,
    env_file: &str,
) -> u8 {
    let interval = Duration::from_secs_f64(every);
    let mut done = 0u64;
    loop {
        let started = Instant::now();
        let checked_at = ids::now_rfc3339();
        let outcomes = probe::check_all(components, None).await;
        let duration_ms = started.elapsed().as_millis() as u64;
        output::watch_header(format, &checked_at, every);
        let status = StatusReport::new(&outcomes, checked_at, duration_ms, env_file);
        output::status(&status, format);
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
