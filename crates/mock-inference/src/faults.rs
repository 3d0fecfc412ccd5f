//! Faults: the `X-Mock-Fault` header and the seeded schedule (`--error-rate`,
//! `--stream-error-rate`, `--reset-rate`, `--stall-rate`), decided once per request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::{HeaderMap, HeaderValue};

use crate::config::FaultsConfig;
use crate::error::ApiError;
use crate::generate::{splitmix64, unit};

/// Requests a fault: `429`, `500`, `503`, `error[@K]`, `reset[@K]`, `stall[@K[:MS]]`.
pub const FAULT_HEADER: &str = "x-mock-fault";

/// A fault decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    Status(u16),
    /// Error event after this many content tokens.
    StreamError(usize),
    /// Connection cut after this many content tokens.
    Reset(usize),
    /// Pause this long after this many content tokens.
    Stall(usize, Duration),
}

/// The `X-Mock-Fault` value of a request, if any.
pub fn fault_header(headers: &HeaderMap) -> Option<&[u8]> {
    headers.get(FAULT_HEADER).map(HeaderValue::as_bytes)
}

/// `X-Mock-Fault`: `429`, `500`, `503`, `error[@K]`, `reset[@K]`, `stall[@K[:MS]]`.
pub fn parse_fault_header(v: &str, default_k: usize, default_stall: Duration) -> Option<Fault> {
    let v = v.trim();
    match v {
        "429" => return Some(Fault::Status(429)),
        "500" => return Some(Fault::Status(500)),
        "503" => return Some(Fault::Status(503)),
        "none" => return Some(Fault::None),
        _ => {}
    }
    let (kind, rest) = v.split_once('@').unwrap_or((v, ""));
    let (k, ms) = rest.split_once(':').unwrap_or((rest, ""));
    let k = if k.is_empty() {
        default_k
    } else {
        k.parse().ok()?
    };
    match kind {
        "error" if ms.is_empty() => Some(Fault::StreamError(k)),
        "reset" if ms.is_empty() => Some(Fault::Reset(k)),
        "stall" => {
            let d = if ms.is_empty() {
                default_stall
            } else {
                Duration::from_millis(ms.parse().ok()?)
            };
            Some(Fault::Stall(k, d))
        }
        _ => None,
    }
}

/// The seeded fault schedule: request number i draws from splitmix(seed, i), so a run's
/// faults repeat in every run with the same seed.
pub struct Schedule {
    cfg: FaultsConfig,
    seed: u64,
    seq: AtomicU64,
}

impl Schedule {
    pub fn new(cfg: &FaultsConfig) -> Self {
        Self {
            seed: cfg.seed.unwrap_or_else(rand::random),
            cfg: cfg.clone(),
            seq: AtomicU64::new(0),
        }
    }

    /// The fault for one request: the `X-Mock-Fault` header's, else the schedule's.
    pub fn decide(&self, header: Option<&[u8]>) -> Result<Fault, ApiError> {
        let f = &self.cfg;
        let stall = Duration::from_millis(f.stall_ms);
        if let Some(v) = header {
            let text = std::str::from_utf8(v).unwrap_or("");
            return parse_fault_header(text, f.fault_at_token, stall).ok_or_else(|| {
                ApiError::invalid(format!(
                    "Invalid X-Mock-Fault header '{text}': use 429, 500, 503, error[@K], reset[@K] or stall[@K[:MS]]."
                ))
                .param("X-Mock-Fault")
                .code("invalid_value")
            });
        }
        if f.error_rate == 0.0
            && f.stream_error_rate == 0.0
            && f.reset_rate == 0.0
            && f.stall_rate == 0.0
        {
            return Ok(Fault::None);
        }
        let i = self.seq.fetch_add(1, Ordering::Relaxed);
        let r = splitmix64(self.seed ^ splitmix64(i));
        if unit(r) < f.error_rate {
            let pick = splitmix64(r) as usize % f.error_statuses.len();
            return Ok(Fault::Status(f.error_statuses[pick]));
        }
        let u2 = unit(splitmix64(r ^ 0xA5A5));
        let k = f.fault_at_token;
        Ok(if u2 < f.stream_error_rate {
            Fault::StreamError(k)
        } else if u2 < f.stream_error_rate + f.reset_rate {
            Fault::Reset(k)
        } else if u2 < f.stream_error_rate + f.reset_rate + f.stall_rate {
            Fault::Stall(k, stall)
        } else {
            Fault::None
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_header_syntax() {
        let d = Duration::from_millis(100);
        assert_eq!(parse_fault_header("503", 5, d), Some(Fault::Status(503)));
        assert_eq!(
            parse_fault_header("error@3", 5, d),
            Some(Fault::StreamError(3))
        );
        assert_eq!(parse_fault_header("reset", 5, d), Some(Fault::Reset(5)));
        assert_eq!(
            parse_fault_header("stall@2:50", 5, d),
            Some(Fault::Stall(2, Duration::from_millis(50)))
        );
        assert_eq!(parse_fault_header("explode", 5, d), None);
        assert_eq!(parse_fault_header("error@x", 5, d), None);
    }
}
