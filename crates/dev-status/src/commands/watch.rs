//! `--watch N`: re-check every N seconds until Ctrl-C (or `--count` refreshes).

use std::time::{Duration, Instant};

use devenv_core::ids;
use devenv_core::output::Format;
use devenv_core::paths::Workspace;

use crate::history::record::{self, Trigger};
use crate::output;
use crate::probe::{self, Component};
use crate::report::{self, StatusReport};

/// How to watch: every `every` seconds, `count` times at most.
pub struct Watch {
    pub every: f64,
    pub count: Option<u64>,
    pub strict: bool,
    pub format: Format,
}

impl Watch {
    /// Returns the exit code of the last check. Every refresh is recorded in the health
    /// history.
    pub async fn run(&self, ws: &Workspace, components: &[Component], env_file: &str) -> u8 {
        let interval = Duration::from_secs_f64(self.every);
        let mut done = 0u64;
        loop {
            let started = Instant::now();
            let checked_at = ids::now_rfc3339();
            let outcomes = probe::check_all(components, None).await;
            let duration_ms = started.elapsed().as_millis() as u64;
            output::watch_header(self.format, &checked_at, self.every);
            let status = StatusReport::new(&outcomes, checked_at, duration_ms, env_file);
            output::status(&status, self.format);
            record::record(
                ws,
                components,
                &outcomes,
                &status.checked_at,
                Trigger::Watch,
            );
            let code = report::exit_code(&outcomes, self.strict);
            done += 1;
            if self.count.is_some_and(|c| done >= c) {
                return code;
            }
            tokio::select! {
                _ = tokio::time::sleep(interval.saturating_sub(started.elapsed())) => {}
                _ = tokio::signal::ctrl_c() => return code,
            }
        }
    }
}
