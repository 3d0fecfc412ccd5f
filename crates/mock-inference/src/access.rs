//! Who may call the APIs: the API key (`--api-key`) and the rate limits
//! (`--rate-limit-requests`, `--rate-limit-tokens`), with OpenAI's `x-ratelimit-*` headers.
//! Both are off by default; while either is on, chat requests take the full path (see
//! [`crate::server::App::chat_never_waits`]), so the hot path pays nothing for them.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::config::RateLimitsConfig;
use crate::error::ApiError;

/// Which API's error shapes a route answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    OpenAi,
    Anthropic,
}

impl Dialect {
    pub fn of(path: &str) -> Self {
        if path.starts_with("/v1/messages") {
            Dialect::Anthropic
        } else {
            Dialect::OpenAi
        }
    }
}

/// Whether `path` needs the API key: every `/v1/…` route, as vLLM checks it (health,
/// readiness, metrics, version, tokenize stay open).
pub fn guarded(path: &str) -> bool {
    path.starts_with("/v1/")
}

/// Whether `path` (a POST) generates: the routes the rate limits count.
pub fn metered(path: &str) -> bool {
    matches!(
        path,
        "/v1/chat/completions"
            | "/v1/completions"
            | "/v1/embeddings"
            | "/v1/responses"
            | "/v1/messages"
    )
}

/// The key a request carries: `Authorization: Bearer KEY`, or Anthropic's `x-api-key`.
fn presented(headers: &HeaderMap, dialect: Dialect) -> Option<&[u8]> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
    match dialect {
        Dialect::Anthropic => headers
            .get("x-api-key")
            .map(HeaderValue::as_bytes)
            .or(bearer),
        Dialect::OpenAi => bearer,
    }
}

/// 401 unless the request carries `key`; the message names what was missing, as each API's.
pub fn check_key(key: &str, headers: &HeaderMap, dialect: Dialect) -> Result<(), ApiError> {
    let got = presented(headers, dialect);
    if got.is_some_and(|g| constant_time_eq(g, key.as_bytes())) {
        return Ok(());
    }
    let message = match (got, dialect) {
        (None, Dialect::OpenAi) => concat!(
            "You didn't provide an API key. You need to provide your API key in an ",
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        ),
        (None, Dialect::Anthropic) => "x-api-key header is required",
        (Some(_), Dialect::OpenAi) => concat!(
            "Incorrect API key provided. The mock's key is its --api-key ",
            "(MOCK_INFERENCE_API_KEY)."
        ),
        (Some(_), Dialect::Anthropic) => "invalid x-api-key",
    };
    Err(
        ApiError::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message)
            .code("invalid_api_key"),
    )
}

/// Compares without stopping at the first difference, so timing does not tell how much of
/// a guessed key was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// Fixed-window request and token counts.
pub struct RateLimiter {
    requests: u64,
    tokens: u64,
    window: Duration,
    state: Mutex<Window>,
}

struct Window {
    started: Instant,
    requests: u64,
    tokens: u64,
}

/// What the `x-ratelimit-*` headers report at one moment.
#[derive(Debug, Clone, Copy)]
pub struct RateSnapshot {
    limit_requests: u64,
    remaining_requests: u64,
    limit_tokens: u64,
    remaining_tokens: u64,
    reset: Duration,
}

impl RateLimiter {
    /// `None` without any limit configured.
    pub fn new(cfg: &RateLimitsConfig) -> Option<Self> {
        cfg.enabled().then(|| Self {
            requests: cfg.requests,
            tokens: cfg.tokens,
            window: Duration::from_secs_f64(cfg.window_secs),
            state: Mutex::new(Window {
                started: Instant::now(),
                requests: 0,
                tokens: 0,
            }),
        })
    }

    fn window(&self) -> std::sync::MutexGuard<'_, Window> {
        let mut w = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if now.duration_since(w.started) >= self.window {
            *w = Window {
                started: now,
                requests: 0,
                tokens: 0,
            };
        }
        w
    }

    /// Counts a request, or refuses it with 429 (OpenAI's body; `Retry-After` until the
    /// window ends) when the window's requests or tokens are spent.
    pub fn admit(&self) -> Result<(), ApiError> {
        let mut w = self.window();
        if w.requests == 0 && w.tokens == 0 {
            // A window starts with its first request, not when the server started or the last
            // window lapsed: idle time never shortens the window a client is given.
            w.started = Instant::now();
        }
        let requests_spent = self.requests > 0 && w.requests >= self.requests;
        let tokens_spent = self.tokens > 0 && w.tokens >= self.tokens;
        if requests_spent || tokens_spent {
            let reset = self.window.saturating_sub(w.started.elapsed());
            let (what, limit, used) = if requests_spent {
                ("requests", self.requests, w.requests)
            } else {
                ("tokens", self.tokens, w.tokens)
            };
            let message = format!(
                "Rate limit reached for mock-inference on {what} per window: \
                 Limit {limit}, Used {used}. Please try again in {}.",
                go_duration(reset)
            );
            let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, what, message)
                .code("rate_limit_exceeded");
            e.retry_after = Some(reset.as_secs_f64().ceil().max(1.0) as u64);
            return Err(e);
        }
        w.requests += 1;
        Ok(())
    }

    /// Counts the tokens a request used (prompt and completion).
    pub fn charge(&self, tokens: usize) {
        if self.tokens > 0 {
            self.window().tokens += tokens as u64;
        }
    }

    pub fn snapshot(&self) -> RateSnapshot {
        let w = self.window();
        RateSnapshot {
            limit_requests: self.requests,
            remaining_requests: self.requests.saturating_sub(w.requests),
            limit_tokens: self.tokens,
            remaining_tokens: self.tokens.saturating_sub(w.tokens),
            reset: self.window.saturating_sub(w.started.elapsed()),
        }
    }
}

impl RateSnapshot {
    /// OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (the kinds that have
    /// a limit).
    pub fn apply(&self, headers: &mut HeaderMap) {
        let reset = HeaderValue::from_str(&go_duration(self.reset))
            .unwrap_or(HeaderValue::from_static("0s"));
        for (kind, limit, remaining) in [
            ("requests", self.limit_requests, self.remaining_requests),
            ("tokens", self.limit_tokens, self.remaining_tokens),
        ] {
            if limit == 0 {
                continue;
            }
            let name = |what: &str| {
                http::HeaderName::try_from(format!("x-ratelimit-{what}-{kind}"))
                    .expect("the header names are valid")
            };
            headers.insert(name("limit"), HeaderValue::from(limit));
            headers.insert(name("remaining"), HeaderValue::from(remaining));
            headers.insert(name("reset"), reset.clone());
        }
    }
}

/// A duration as OpenAI's reset headers write it (Go's format): `20ms`, `1.5s`, `6m0s`.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        let s = format!("{secs:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        return format!("{s}s");
    }
    let whole = d.as_secs();
    let (h, m, s) = (whole / 3600, whole / 60 % 60, whole % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else {
        format!("{m}m{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_openais() {
        assert_eq!(go_duration(Duration::from_millis(20)), "20ms");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(1)), "1s");
        assert_eq!(go_duration(Duration::from_secs(360)), "6m0s");
    }

    #[test]
    fn keys_come_from_bearer_or_x_api_key() {
        let mut h = HeaderMap::new();
        assert!(check_key("k", &h, Dialect::OpenAi).is_err());
        h.insert("x-api-key", HeaderValue::from_static("k"));
        assert!(check_key("k", &h, Dialect::Anthropic).is_ok());
        assert!(check_key("k", &h, Dialect::OpenAi).is_err());
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer k"));
        assert!(check_key("k", &h, Dialect::OpenAi).is_ok());
        assert!(check_key("kk", &h, Dialect::OpenAi).is_err());
    }

    #[test]
    fn a_window_starts_with_its_first_request() {
        let cfg = RateLimitsConfig {
            requests: 2,
            window_secs: 2.0,
            ..RateLimitsConfig::default()
        };
        let limiter = RateLimiter::new(&cfg).unwrap();
        // Idle for most of a window after start-up: the first request still gets all of one.
        std::thread::sleep(Duration::from_millis(1500));
        limiter.admit().unwrap();
        let reset = limiter.snapshot().reset;
        assert!(reset > Duration::from_millis(1000), "{reset:?}");
        limiter.admit().unwrap();
        assert!(
            limiter.admit().is_err(),
            "the window's two requests are spent"
        );
    }
}
