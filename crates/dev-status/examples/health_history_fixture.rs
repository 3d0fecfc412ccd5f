//! A large health history for `scripts/bench/health-history.sh`: writes N records (default
//! 100,000) under `<workspace>/.devenv/health/` through devenv-core's writer — one append per
//! simulated run of five services, default retention, so the current file rotates as it would —
//! spread evenly over the last 24 hours, with outages, so `--since 1h` selects a slice.
// A helper program for benchmarks: its stderr line is its interface.
#![allow(clippy::print_stderr)]

use chrono::{Duration, Utc};
use devenv_core::health_history::{HealthHistory, HealthRecord, Retention, format_ts};
use devenv_core::paths::Workspace;

const SERVICES: [&str; 5] = ["postgres", "redis", "nats", "s3", "mock_inference"];

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(root), count) = (args.next(), args.next()) else {
        eprintln!("usage: health_history_fixture <workspace root> [records]");
        std::process::exit(2);
    };
    let count: usize = count.map_or(100_000, |c| c.parse().expect("records: a number"));
    let ws = Workspace::at(root);
    let history = HealthHistory::of_workspace(&ws, Retention::default());
    let runs = count.div_ceil(SERVICES.len());
    let span = Duration::hours(24);
    let start = Utc::now() - span;
    let step = span / i32::try_from(runs.max(1)).expect("fewer than 2^31 runs");
    let mut written = 0;
    for run in 0..runs {
        let ts = format_ts(start + step * i32::try_from(run).expect("checked above"));
        let records: Vec<HealthRecord> = SERVICES
            .iter()
            .enumerate()
            .take(count - written)
            .map(|(i, service)| {
                // Each service is down for one run in 50, at its own phase: many state changes.
                let down = (run + i * 7) % 50 == 0;
                HealthRecord {
                    ts: ts.clone(),
                    service: (*service).to_string(),
                    status: if down { "unhealthy" } else { "healthy" }.to_string(),
                    latency_ms: Some(((run * 31 + i * 17) % 40) as u64 + 1),
                    check_type: "protocol".to_string(),
                    triggered_by: "status".to_string(),
                    correlation_id: format!("bench-{run:08}"),
                    class: down.then(|| "refused".to_string()),
                    error: down.then(|| {
                        format!("connection refused on 127.0.0.1:{} — is {service} running? try `make up`", 5432 + i)
                    }),
                }
            })
            .collect();
        written += records.len();
        history
            .append(&records)
            .expect("append to the fixture history");
    }
    eprintln!("wrote {written} records to {}", history.dir().display());
}
