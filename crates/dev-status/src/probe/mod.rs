//! The probe model: components, their outcome (state + class + message with a remedy) and
//! the concurrent runner that holds every probe to its own deadline.

pub mod http;
pub mod mock_inference;
pub mod nats;
pub mod postgres;
pub mod rabbitmq;
pub mod redis;
pub mod s3;
pub mod vault;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

/// How a component is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Healthy,
    /// Answered correctly, but slower than its threshold.
    Degraded,
    Unhealthy,
    /// Optional and not configured (or left out with --only/--skip).
    Skipped,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Healthy => "healthy",
            State::Degraded => "degraded",
            State::Unhealthy => "unhealthy",
            State::Skipped => "skipped",
        }
    }

    /// Ready for `--wait`: it answers correctly (maybe slowly).
    pub fn is_ready(self) -> bool {
        matches!(self, State::Healthy | State::Degraded)
    }
}

/// Why a component is unhealthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Nothing listens on the port.
    Refused,
    /// Something accepted the connection but did not answer in time.
    Timeout,
    /// The host name does not resolve.
    Dns,
    /// TLS was demanded and the handshake failed.
    Tls,
    /// The server rejected the credentials.
    Auth,
    /// Something answered, but not in the expected protocol (or with an unexpected answer).
    Protocol,
    /// The bundle or config is missing or invalid for this component.
    Misconfigured,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Refused => "refused",
            Class::Timeout => "timeout",
            Class::Dns => "dns",
            Class::Tls => "tls",
            Class::Auth => "auth",
            Class::Protocol => "protocol",
            Class::Misconfigured => "misconfigured",
        }
    }
}

/// A failed check: its class and a message that says what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub class: Class,
    pub message: String,
}

impl Problem {
    pub fn new(class: Class, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
        }
    }
}

/// What the messages of one component need to know: who it is and where it lives.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Component name as reported (`postgres`, `redis`, an HTTP check's name…).
    pub component: String,
    /// The service whose logs to read (`make logs SERVICE=…`).
    pub service: &'static str,
    pub host: String,
    pub port: u16,
    /// Bundle keys that configure it, for remedies (`POSTGRES_HOST/POSTGRES_PORT`).
    pub keys: String,
    /// The bundle file, for remedies.
    pub env_file: String,
}

impl Ctx {
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub fn refused(&self) -> Problem {
        Problem::new(
            Class::Refused,
            format!(
                "connection refused on {} — is {} running? try `make up`",
                self.addr(),
                self.service
            ),
        )
    }

    pub fn timeout(&self, after: Duration) -> Problem {
        Problem::new(
            Class::Timeout,
            format!(
                "no answer from {} within {} ms — something accepts connections there but does not respond; see `make logs SERVICE={}` or restart it (`make stop && make up`)",
                self.addr(),
                after.as_millis(),
                self.service
            ),
        )
    }

    pub fn dns(&self, detail: &str) -> Problem {
        Problem::new(
            Class::Dns,
            format!(
                "cannot resolve host `{}` ({detail}) — fix {} in {} (or run `make secrets-sync`)",
                self.host, self.keys, self.env_file
            ),
        )
    }

    pub fn tls(&self, detail: &str) -> Problem {
        Problem::new(
            Class::Tls,
            format!(
                "TLS with {} failed ({detail}) — the server does not speak TLS there: drop the TLS requirement from {} or enable TLS on the server",
                self.addr(),
                self.keys
            ),
        )
    }

    pub fn auth(&self, user: &str, detail: &str) -> Problem {
        let who = if user.is_empty() {
            String::new()
        } else {
            format!(" of `{user}`")
        };
        Problem::new(
            Class::Auth,
            format!(
                "{} at {} rejected the credentials{who} ({detail}) — the bundle and the server disagree: run `make secrets-sync` then `make up` (or `make reset` if the data was created with other credentials)",
                self.service,
                self.addr()
            ),
        )
    }

    pub fn protocol(&self, detail: &str) -> Problem {
        let who = self.holder_hint();
        Problem::new(
            Class::Protocol,
            format!(
                "{} answered, but not as {} ({detail}) — {who}; fix {} in {} or free the port",
                self.addr(),
                self.component,
                self.keys,
                self.env_file
            ),
        )
    }

    pub fn misconfigured(&self, detail: &str) -> Problem {
        Problem::new(Class::Misconfigured, detail.to_string())
    }

    /// Who holds the port, when it is on this machine: the usual cause of a protocol mix-up.
    fn holder_hint(&self) -> String {
        let local = self.host == "localhost"
            || self
                .host
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified());
        match local
            .then(|| devenv_core::netproc::port_holder(self.port))
            .flatten()
        {
            Some(holder) if holder.pid.is_some() => {
                format!("port {} is held by {holder}", self.port)
            }
            _ => "another program may hold the port".to_string(),
        }
    }

    /// Resolves the host; a failure is the `dns` class.
    pub async fn resolve(&self) -> Result<Vec<SocketAddr>, Problem> {
        match tokio::net::lookup_host((self.host.as_str(), self.port)).await {
            Ok(addrs) => {
                let addrs: Vec<SocketAddr> = addrs.collect();
                if addrs.is_empty() {
                    Err(self.dns("no addresses"))
                } else {
                    Ok(addrs)
                }
            }
            Err(e) => Err(self.dns(&e.to_string())),
        }
    }

    /// Classifies an I/O error met while talking to the component.
    pub fn io(&self, err: &std::io::Error, deadline: Duration) -> Problem {
        use std::io::ErrorKind as K;
        match err.kind() {
            K::ConnectionRefused => self.refused(),
            K::TimedOut | K::WouldBlock => self.timeout(deadline),
            K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => Problem::new(
                Class::Refused,
                format!(
                    "{} is unreachable ({err}) — check the network or fix {} in {}",
                    self.addr(),
                    self.keys,
                    self.env_file
                ),
            ),
            _ => self.protocol(&err.to_string()),
        }
    }
}

/// The first `std::io::Error` in an error's source chain.
pub fn find_io<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        current = e.source();
    }
    None
}

/// The whole chain as one line, lower-cased, for telling TLS and DNS failures apart when a
/// library only reports them as text.
pub fn chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    devenv_core::redact::error_chain(err).to_ascii_lowercase()
}

/// True when an error chain describes a TLS failure.
pub fn looks_like_tls(text: &str) -> bool {
    [
        "tls",
        "ssl",
        "certificate",
        "handshake",
        "invalidcontenttype",
        "corrupt message",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// A probe, ready to run.
#[derive(Debug)]
pub enum Target {
    Postgres(postgres::Target),
    Redis(redis::Target),
    Nats(nats::Target),
    S3(s3::Target),
    MockInference(mock_inference::Target),
    Rabbitmq(rabbitmq::Target),
    Vault(vault::Target),
    Http(http::Target),
}

impl Target {
    async fn check(&self, ctx: &Ctx, deadline: Duration) -> Result<String, Problem> {
        match self {
            Target::Postgres(t) => t.check(ctx, deadline).await,
            Target::Redis(t) => t.check(ctx, deadline).await,
            Target::Nats(t) => t.check(ctx, deadline).await,
            Target::S3(t) => t.check(ctx, deadline).await,
            Target::MockInference(t) => t.check(ctx, deadline).await,
            Target::Rabbitmq(t) => t.check(ctx, deadline).await,
            Target::Vault(t) => t.check(ctx, deadline).await,
            Target::Http(t) => t.check(ctx, deadline).await,
        }
    }
}

/// What will happen to a component in this run.
#[derive(Debug, Clone)]
pub enum Plan {
    Probe(Arc<Target>),
    Skipped(String),
    Misconfigured(String),
}

/// One component of the stack, with its limits.
#[derive(Debug, Clone)]
pub struct Component {
    pub name: String,
    pub ctx: Ctx,
    /// Where it is, password masked (for output).
    pub endpoint: Option<String>,
    /// Slower answers than this are `degraded`.
    pub threshold: Duration,
    /// A probe still running after this long is cancelled and reported as `timeout`.
    pub timeout: Duration,
    pub plan: Plan,
}

/// The result for one component, as printed.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub component: String,
    pub state: State,
    pub class: Option<Class>,
    pub latency_ms: Option<u64>,
    pub message: String,
    pub endpoint: Option<String>,
    pub threshold_ms: u64,
}

/// Runs one component's check under its deadline (capped by `cap`).
pub async fn check(component: &Component, cap: Option<Duration>) -> Outcome {
    let threshold_ms = component.threshold.as_millis() as u64;
    let base = |state, class, latency_ms, message: String| Outcome {
        component: component.name.clone(),
        state,
        class,
        latency_ms,
        message: one_line(&devenv_core::redact::redact(&message)),
        endpoint: component.endpoint.clone(),
        threshold_ms,
    };
    let target = match &component.plan {
        Plan::Skipped(why) => return base(State::Skipped, None, None, why.clone()),
        Plan::Misconfigured(why) => {
            return base(
                State::Unhealthy,
                Some(Class::Misconfigured),
                None,
                why.clone(),
            );
        }
        Plan::Probe(target) => Arc::clone(target),
    };
    let deadline = cap.map_or(component.timeout, |c| c.min(component.timeout));
    let started = Instant::now();
    let result = tokio::time::timeout(deadline, target.check(&component.ctx, deadline)).await;
    let elapsed = started.elapsed();
    let latency_ms = Some(elapsed.as_millis() as u64);
    match result {
        Ok(Ok(detail)) if elapsed > component.threshold => base(
            State::Degraded,
            None,
            latency_ms,
            format!(
                "{detail}, but slower than its {threshold_ms} ms threshold — the machine may be overloaded; see `make logs SERVICE={}`",
                component.ctx.service
            ),
        ),
        Ok(Ok(detail)) => base(State::Healthy, None, latency_ms, detail),
        Ok(Err(problem)) => base(
            State::Unhealthy,
            Some(problem.class),
            latency_ms,
            problem.message,
        ),
        Err(_) => {
            let problem = component.ctx.timeout(deadline);
            base(
                State::Unhealthy,
                Some(problem.class),
                latency_ms,
                problem.message,
            )
        }
    }
}

/// Library errors may span lines (a parser's report); a status line must not.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks every component concurrently; each is held to its own deadline, so one hung
/// component cannot delay the others or the run beyond its own timeout.
pub async fn check_all(components: &[Component], cap: Option<Duration>) -> Vec<Outcome> {
    let handles: Vec<_> = components
        .iter()
        .cloned()
        .map(|c| tokio::spawn(async move { check(&c, cap).await }))
        .collect();
    let mut out = Vec::with_capacity(handles.len());
    for (handle, component) in handles.into_iter().zip(components) {
        out.push(match handle.await {
            Ok(outcome) => outcome,
            Err(e) => Outcome {
                component: component.name.clone(),
                state: State::Unhealthy,
                class: Some(Class::Protocol),
                latency_ms: None,
                message: format!(
                    "the probe crashed ({e}) — this is a bug in dev-status; please report it"
                ),
                endpoint: component.endpoint.clone(),
                threshold_ms: component.threshold.as_millis() as u64,
            },
        });
    }
    out
}
