//! `dev-status history`'s numbers: per service, how many checks, how many healthy
//! (availability = healthy / all, so degraded counts against it), latency percentiles and
//! every state change in time order.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use devenv_core::health_history::{Loaded, RecordView, format_ts};
use serde::Serialize;

/// The `history` document's body (devenv-core adds `schema_version`, `kind`,
/// `correlation_id`).
#[derive(Debug, Serialize)]
pub struct HistoryReport {
    /// The history directory.
    pub dir: String,
    /// The earliest time counted (`--since`), if any.
    pub since: Option<String>,
    /// The service asked for (`--service`), if any.
    pub service: Option<String>,
    /// History files read (segments and the current file).
    pub files: usize,
    /// Checks counted, over all services.
    pub checks: usize,
    pub first_at: Option<String>,
    pub last_at: Option<String>,
    pub services: Vec<ServiceSummary>,
}

#[derive(Debug, Serialize)]
pub struct ServiceSummary {
    pub service: String,
    pub checks: usize,
    pub healthy: usize,
    /// healthy / checks × 100, two decimals.
    pub availability_pct: f64,
    /// Over the checks that measured one (a misconfigured component was never reached).
    pub latency_ms: Option<Latency>,
    pub first_checked_at: String,
    pub last_status: String,
    pub last_checked_at: String,
    /// Every change of status, oldest first.
    pub changes: Vec<Change>,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub p50: u64,
    pub p95: u64,
    pub max: u64,
}

#[derive(Debug, Serialize)]
pub struct Change {
    pub from: String,
    pub to: String,
    pub at: String,
}

/// `--since`: a duration back from `now` (`30m`, `1h`, `7d`, Go spelling plus days) or an
/// RFC 3339 time. The error names the value and what to write instead.
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text.trim()) {
        return Ok(at.to_utc());
    }
    let back = match text.trim().strip_suffix('d').map(str::parse::<f64>) {
        Some(Ok(days)) if days.is_finite() && days >= 0.0 => {
            std::time::Duration::from_secs_f64(days * 86_400.0)
        }
        _ => devenv_core::duration::parse_flag(text).map_err(|_| {
            format!(
                "--since {text}: not a duration or a time — use e.g. 30m, 1h, 7d or \
                 2026-12-04T22:15:03Z"
            )
        })?,
    };
    let back = chrono::Duration::from_std(back).map_err(|_| format!("--since {text}: too far"))?;
    Ok(now
        .checked_sub_signed(back)
        .unwrap_or(DateTime::<Utc>::MIN_UTC))
}

/// One record as the summary keeps it, borrowing from the loaded files.
struct Check<'a> {
    ts: Cow<'a, str>,
    status: Cow<'a, str>,
    latency_ms: Option<u64>,
}

/// The summaries of every service (or only `service`), by service name.
pub fn summarize(loaded: &Loaded, service: Option<&str>) -> Vec<ServiceSummary> {
    let mut by_service: BTreeMap<Cow<'_, str>, Vec<Check<'_>>> = BTreeMap::new();
    for RecordView {
        ts,
        service: name,
        status,
        latency_ms,
    } in loaded.records()
    {
        if service.is_some_and(|s| s != name) {
            continue;
        }
        let check = Check {
            ts,
            status,
            latency_ms,
        };
        match by_service.get_mut(&name) {
            Some(checks) => checks.push(check),
            None => {
                by_service.insert(name, vec![check]);
            }
        }
    }
    by_service
        .into_iter()
        .map(|(name, checks)| service_summary(name.into_owned(), checks))
        .collect()
}

fn service_summary(service: String, mut checks: Vec<Check<'_>>) -> ServiceSummary {
    // Files are in time order but two runs at once may append out of order; the sort is
    // stable, so checks of one run keep their order.
    if !checks.is_sorted_by(|a, b| a.ts <= b.ts) {
        checks.sort_by(|a, b| a.ts.cmp(&b.ts));
    }
    let healthy = checks.iter().filter(|c| c.status == "healthy").count();
    let mut latencies: Vec<u64> = checks.iter().filter_map(|c| c.latency_ms).collect();
    latencies.sort_unstable();
    let changes = checks
        .windows(2)
        .filter(|w| w[0].status != w[1].status)
        .map(|w| Change {
            from: w[0].status.to_string(),
            to: w[1].status.to_string(),
            at: w[1].ts.to_string(),
        })
        .collect();
    let last = checks.last().expect("a service has at least one check");
    ServiceSummary {
        availability_pct: (healthy as f64 * 10_000.0 / checks.len() as f64).round() / 100.0,
        latency_ms: latencies.last().map(|&max| Latency {
            p50: percentile(&latencies, 50),
            p95: percentile(&latencies, 95),
            max,
        }),
        first_checked_at: checks[0].ts.to_string(),
        last_status: last.status.to_string(),
        last_checked_at: last.ts.to_string(),
        service,
        checks: checks.len(),
        healthy,
        changes,
    }
}

/// Nearest-rank percentile of sorted, non-empty values.
fn percentile(sorted: &[u64], p: usize) -> u64 {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// The report around the summaries.
pub fn report(
    dir: String,
    loaded: &Loaded,
    since: Option<DateTime<Utc>>,
    service: Option<String>,
) -> HistoryReport {
    let services = summarize(loaded, service.as_deref());
    HistoryReport {
        dir,
        since: since.map(format_ts),
        service,
        files: loaded.file_count(),
        checks: services.iter().map(|s| s.checks).sum(),
        first_at: services.iter().map(|s| s.first_checked_at.clone()).min(),
        last_at: services.iter().map(|s| s.last_checked_at.clone()).max(),
        services,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), 50);
        assert_eq!(percentile(&v, 95), 95);
        assert_eq!(percentile(&[7], 95), 7);
        assert_eq!(percentile(&[1, 2], 50), 1);
    }

    #[test]
    fn since_takes_durations_days_and_times() {
        let now = DateTime::parse_from_rfc3339("2026-12-04T22:00:00Z")
            .unwrap()
            .to_utc();
        let at = |t: &str| format_ts(parse_since(t, now).unwrap());
        assert_eq!(at("1h"), "2026-12-04T21:00:00.000Z");
        assert_eq!(at("7d"), "2026-11-27T22:00:00.000Z");
        assert_eq!(at("2026-12-01T00:00:00+01:00"), "2026-11-30T23:00:00.000Z");
        let e = parse_since("yesterday", now).unwrap_err();
        assert!(e.contains("--since yesterday") && e.contains("7d"), "{e}");
    }
}
