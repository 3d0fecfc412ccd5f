//! The observability stream beyond `.devenv/events.jsonl`:
//!
//! - **Loki**: with `DEVENV_LOKI_URL`, events are pushed to Loki's push API
//!   (`POST <url>/loki/api/v1/push`, JSON) as streams labelled `workspace_id`, `owner`,
//!   `region` and `source`. [`LokiClient::push`] sends events a binary holds;
//!   [`ship_events_file`] forwards everything appended to `events.jsonl` since the last call
//!   (scripts only append to the file, so a periodic binary ships their events too). The
//!   cursor is read, the chunks shipped and the cursor written under an exclusive lock
//!   (`flock` on `<cursor>.lock`), so two runs never ship the same line.
//! - **Pushgateway**: with `DEVENV_PUSHGATEWAY_URL` — or `METRICS=true` in local mode, then
//!   `http://127.0.0.1:9091` — per-component `up` and latency gauges are pushed to a
//!   Prometheus Pushgateway after each check round, grouped by `job="devenv_status"` and the
//!   same three labels ([`PushgatewayClient::push`]).
//!
//! Labels come from the environment: `DEVENV_WORKSPACE` (else the workspace directory's name),
//! `DEVENV_OWNER` (else `USER`), `DEVENV_REGION` (else `local`). Every event passes the redactor
//! and loses its secret-looking keys before it leaves the process; URLs in errors are masked.
//! Pushing is observability, not state: callers log a failure and carry on.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use devenv_core::paths::Mode;
use devenv_core::redact;

pub const LOKI_URL_ENV: &str = "DEVENV_LOKI_URL";
pub const PUSHGATEWAY_URL_ENV: &str = "DEVENV_PUSHGATEWAY_URL";
pub const METRICS_ENV: &str = "METRICS";
/// Where `METRICS=true` pushes in local mode (the compose `observability` profile's port).
pub const DEFAULT_LOCAL_PUSHGATEWAY: &str = "http://127.0.0.1:9091";
/// The Pushgateway job of the component gauges.
pub const METRICS_JOB: &str = "devenv_status";
/// Loki rejects very large requests; events are shipped in chunks of this many lines.
pub const LOKI_BATCH_LINES: usize = 500;
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("{var}={value} is not a usable URL ({reason}); set it to e.g. http://127.0.0.1:3100")]
    BadUrl {
        var: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "could not reach {target}: {source}; is it running? (events stay in .devenv/events.jsonl)"
    )]
    Unreachable {
        target: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{target} answered {status}: {body}")]
    Rejected {
        target: String,
        status: u16,
        body: String,
    },
    #[error("another dev-status held {path} for 30 s while shipping events; try again later")]
    Locked { path: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The stream labels every push carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    pub workspace_id: String,
    pub owner: String,
    pub region: String,
}

impl Labels {
    /// From `DEVENV_WORKSPACE` / `DEVENV_OWNER` / `DEVENV_REGION` (see the module docs).
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(env: impl Fn(&str) -> Option<String>) -> Self {
        let non_empty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let workspace_id = non_empty("DEVENV_WORKSPACE")
            .unwrap_or_else(|| devenv_core::paths::Workspace::discover().dir_name());
        Self {
            workspace_id,
            owner: non_empty("DEVENV_OWNER")
                .or_else(|| non_empty("USER"))
                .unwrap_or_else(|| "unknown".into()),
            region: non_empty("DEVENV_REGION").unwrap_or_else(|| "local".into()),
        }
    }
}

fn parse_base(var: &'static str, value: &str) -> Result<url::Url, TelemetryError> {
    let bad = |reason: String| TelemetryError::BadUrl {
        var,
        value: redact::mask_url(value),
        reason,
    };
    let url = url::Url::parse(value.trim()).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(format!("scheme {} is not http or https", url.scheme())));
    }
    if let Some(password) = redact::url_password(url.as_str()) {
        redact::register(&password);
    }
    Ok(url)
}

fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Applies the URL's user:password as basic auth (reqwest does not take it from the URL) and
/// returns the URL without it, plus the masked form for messages.
fn with_auth(
    http: &reqwest::Client,
    method: reqwest::Method,
    mut url: url::Url,
) -> (reqwest::RequestBuilder, String) {
    let user = url.username().to_string();
    let password = redact::url_password(url.as_str());
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let shown = url.to_string();
    let mut req = http.request(method, url);
    if !user.is_empty() || password.is_some() {
        req = req.basic_auth(user, password);
    }
    (req, shown)
}

async fn send(req: reqwest::RequestBuilder, target: &str) -> Result<(), TelemetryError> {
    let resp = req
        .send()
        .await
        .map_err(|source| TelemetryError::Unreachable {
            target: target.to_string(),
            source: source.without_url(),
        })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body = resp.text().await.unwrap_or_default();
    Err(TelemetryError::Rejected {
        target: target.to_string(),
        status: status.as_u16(),
        body: redact::redact(body.chars().take(300).collect::<String>().trim()),
    })
}

// ── Loki ─────────────────────────────────────────────────────────────────────────────────

/// A client of Loki's push API.
#[derive(Debug, Clone)]
pub struct LokiClient {
    push_url: url::Url,
    labels: Labels,
    http: reqwest::Client,
}

impl LokiClient {
    /// `Some` when `DEVENV_LOKI_URL` is set; an error when it is set but unusable.
    pub fn from_env() -> Result<Option<Self>, TelemetryError> {
        match std::env::var(LOKI_URL_ENV) {
            Ok(v) if !v.trim().is_empty() => Self::new(&v, Labels::from_env()).map(Some),
            _ => Ok(None),
        }
    }

    /// `base` is Loki's root URL (`http://loki:3100`); the push path is appended.
    pub fn new(base: &str, labels: Labels) -> Result<Self, TelemetryError> {
        let mut push_url = parse_base(LOKI_URL_ENV, base)?;
        let path = format!("{}/loki/api/v1/push", push_url.path().trim_end_matches('/'));
        push_url.set_path(&path);
        Ok(Self {
            push_url,
            labels,
            http: http_client(HTTP_TIMEOUT),
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.http = http_client(timeout);
        self
    }

    /// The push request body: one stream per event `source`, values `[ns, line]` in time order.
    pub fn push_body(&self, events: &[Value]) -> Value {
        let mut streams: BTreeMap<String, Vec<(i128, String)>> = BTreeMap::new();
        for event in events {
            let event = sanitise(event);
            let source = event
                .get("source")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_string();
            streams
                .entry(source)
                .or_default()
                .push((timestamp_ns(&event), event.to_string()));
        }
        let streams: Vec<Value> = streams
            .into_iter()
            .map(|(source, mut values)| {
                values.sort_by_key(|(ts, _)| *ts);
                json!({
                    "stream": {
                        "workspace_id": self.labels.workspace_id,
                        "owner": self.labels.owner,
                        "region": self.labels.region,
                        "source": source,
                    },
                    "values": values
                        .into_iter()
                        .map(|(ts, line)| json!([ts.to_string(), line]))
                        .collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({ "streams": streams })
    }

    /// Pushes events (already-built `events.jsonl` objects). An empty slice sends nothing.
    pub async fn push(&self, events: &[Value]) -> Result<(), TelemetryError> {
        if events.is_empty() {
            return Ok(());
        }
        let (req, shown) = with_auth(&self.http, reqwest::Method::POST, self.push_url.clone());
        let req = req
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(self.push_body(events).to_string());
        send(req, &format!("Loki at {shown}")).await
    }
}

/// Events leave the process only redacted and without secret-looking keys, even when they
/// were read back from a file some other writer produced.
fn sanitise(event: &Value) -> Value {
    let mut value = match event {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !redact::is_secret_key(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    };
    redact::redact_json(&mut value);
    value
}

/// The event's `ts` in nanoseconds since the epoch (now when it has none or it is malformed).
fn timestamp_ns(event: &Value) -> i128 {
    event
        .get("ts")
        .and_then(Value::as_str)
        .and_then(|ts| chrono::DateTime::parse_from_rfc3339(ts).ok())
        .and_then(|t| t.timestamp_nanos_opt())
        .or_else(|| chrono::Utc::now().timestamp_nanos_opt())
        .map(i128::from)
        .unwrap_or_default()
}

/// How long a shipper waits for another one holding the cursor lock.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Ships what was appended to `events_path` since the offset stored in `cursor_path`, in
/// chunks of [`LOKI_BATCH_LINES`]; advances the cursor after each accepted chunk, so a failed
/// push is retried next time and nothing is sent twice. Reading the cursor, shipping and
/// writing the cursor happen under an exclusive lock on `<cursor_path>.lock`: a second run
/// waits, then ships only what the first left. A truncated or replaced file starts over from
/// its beginning; a partial last line waits for its newline. Returns the number of events
/// shipped.
pub async fn ship_events_file(
    client: &LokiClient,
    events_path: &Path,
    cursor_path: &Path,
) -> Result<usize, TelemetryError> {
    if !events_path.exists() {
        return Ok(0);
    }
    let _lock = CursorLock::acquire(cursor_path).await?;
    let mut file = match std::fs::File::open(events_path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io_error(events_path)(e)),
    };
    let len = file.metadata().map_err(io_error(events_path))?.len();
    let mut offset: u64 = std::fs::read_to_string(cursor_path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    if offset > len {
        offset = 0;
    }
    file.seek(SeekFrom::Start(offset))
        .map_err(io_error(events_path))?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(io_error(events_path))?;
    let complete = text.rfind('\n').map_or(0, |i| i + 1);
    let mut shipped = 0;
    let mut consumed = 0usize;
    let lines: Vec<&str> = text[..complete].split_inclusive('\n').collect();
    for chunk in lines.chunks(LOKI_BATCH_LINES) {
        let events: Vec<Value> = chunk
            .iter()
            .filter_map(|l| serde_json::from_str(l.trim_end()).ok())
            .collect();
        client.push(&events).await?;
        shipped += events.len();
        consumed += chunk.iter().map(|l| l.len()).sum::<usize>();
        let cursor = offset + consumed as u64;
        let tmp = cursor_path.with_extension("tmp");
        std::fs::write(&tmp, cursor.to_string()).map_err(io_error(cursor_path))?;
        std::fs::rename(&tmp, cursor_path).map_err(io_error(cursor_path))?;
    }
    Ok(shipped)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> TelemetryError {
    let path = path.display().to_string();
    move |source| TelemetryError::Io { path, source }
}

/// An exclusive `flock` on the file beside the cursor, released when dropped (the file
/// stays: removing it would let a third run lock a new file while the second holds the old).
struct CursorLock {
    _file: std::fs::File,
}

impl CursorLock {
    async fn acquire(cursor_path: &Path) -> Result<Self, TelemetryError> {
        let mut name = cursor_path.as_os_str().to_owned();
        name.push(".lock");
        let path = std::path::PathBuf::from(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_error(&path))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error(&path))?;
        let deadline = tokio::time::Instant::now() + LOCK_WAIT;
        loop {
            match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(Self { _file: file }),
                Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(TelemetryError::Locked {
                            path: path.display().to_string(),
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => return Err(io_error(&path)(e.into())),
            }
        }
    }
}

// ── Pushgateway ──────────────────────────────────────────────────────────────────────────

/// One component's check result, as `dev-status` measures it.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentSample {
    /// `postgres`, `redis`, `nats`, `s3`, `mock_inference`, …
    pub component: String,
    /// The component answered its protocol check (healthy or degraded).
    pub up: bool,
    /// How long the check took.
    pub latency: Duration,
}

impl ComponentSample {
    pub fn new(component: impl Into<String>, up: bool, latency: Duration) -> Self {
        Self {
            component: component.into(),
            up,
            latency,
        }
    }
}

/// A client of the Pushgateway's HTTP API.
#[derive(Debug, Clone)]
pub struct PushgatewayClient {
    group_url: url::Url,
    http: reqwest::Client,
}

impl PushgatewayClient {
    /// `Some` when `DEVENV_PUSHGATEWAY_URL` is set, or when `METRICS` is true and `mode` is
    /// local ([`DEFAULT_LOCAL_PUSHGATEWAY`]); `None` otherwise.
    pub fn from_env(mode: Mode) -> Result<Option<Self>, TelemetryError> {
        Self::from_lookup(mode, |k| std::env::var(k).ok(), Labels::from_env())
    }

    pub fn from_lookup(
        mode: Mode,
        env: impl Fn(&str) -> Option<String>,
        labels: Labels,
    ) -> Result<Option<Self>, TelemetryError> {
        if let Some(url) = env(PUSHGATEWAY_URL_ENV).filter(|v| !v.trim().is_empty()) {
            return Self::new(&url, &labels).map(Some);
        }
        let metrics_on = env(METRICS_ENV).is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "1" | "true" | "yes" | "on"
            )
        });
        if metrics_on && mode == Mode::Local {
            return Self::new(DEFAULT_LOCAL_PUSHGATEWAY, &labels).map(Some);
        }
        Ok(None)
    }

    /// `base` is the Pushgateway root; the group is `job/devenv_status` plus the labels.
    pub fn new(base: &str, labels: &Labels) -> Result<Self, TelemetryError> {
        let mut group_url = parse_base(PUSHGATEWAY_URL_ENV, base)?;
        let mut path = group_url.path().trim_end_matches('/').to_string();
        path.push_str("/metrics");
        for (name, value) in [
            ("job", METRICS_JOB),
            ("workspace_id", labels.workspace_id.as_str()),
            ("owner", labels.owner.as_str()),
            ("region", labels.region.as_str()),
        ] {
            // base64url form: label values may hold '/', which a plain path segment cannot.
            let encoded = base64::engine::general_purpose::URL_SAFE.encode(value);
            let _ = write!(path, "/{name}@base64/{encoded}");
        }
        group_url.set_path(&path);
        Ok(Self {
            group_url,
            http: http_client(HTTP_TIMEOUT),
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.http = http_client(timeout);
        self
    }

    /// Replaces the group's metrics with these (PUT), so a component no longer checked does
    /// not linger with a stale value.
    pub async fn push(&self, samples: &[ComponentSample]) -> Result<(), TelemetryError> {
        let mut batch = MetricsBatch::default();
        for s in samples {
            batch.record(s.clone());
        }
        self.push_text(batch.exposition()).await
    }

    async fn push_text(&self, body: String) -> Result<(), TelemetryError> {
        let (req, shown) = with_auth(&self.http, reqwest::Method::PUT, self.group_url.clone());
        let req = req
            .header(
                reqwest::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )
            .body(body);
        send(req, &format!("the Pushgateway at {shown}")).await
    }
}

/// name, help text, value of one component.
type MetricFamily = (&'static str, &'static str, fn(&ComponentStats) -> String);

#[derive(Debug, Clone, Default)]
struct ComponentStats {
    last: Option<ComponentSample>,
    checks: u64,
    failures: u64,
    max_latency: Duration,
}

/// The samples of one push. Per component it reports the latest `up` and latency, and over
/// the batch the number of checks, of failed checks and the slowest latency.
#[derive(Debug, Clone, Default)]
struct MetricsBatch {
    components: BTreeMap<String, ComponentStats>,
}

impl MetricsBatch {
    fn record(&mut self, sample: ComponentSample) {
        let stats = self.components.entry(sample.component.clone()).or_default();
        stats.checks += 1;
        if !sample.up {
            stats.failures += 1;
        }
        stats.max_latency = stats.max_latency.max(sample.latency);
        stats.last = Some(sample);
    }

    /// The batch in the Prometheus text exposition format.
    fn exposition(&self) -> String {
        let mut out = String::new();
        let families: [MetricFamily; 5] = [
            (
                "devenv_component_up",
                "1 when the component answered its protocol check at the last round, else 0.",
                |s| u8::from(s.last.as_ref().is_some_and(|l| l.up)).to_string(),
            ),
            (
                "devenv_component_latency_seconds",
                "Duration of the component's last check.",
                |s| seconds(s.last.as_ref().map(|l| l.latency).unwrap_or_default()),
            ),
            (
                "devenv_component_latency_max_seconds",
                "Slowest check of the component in this batch.",
                |s| seconds(s.max_latency),
            ),
            (
                "devenv_component_checks",
                "Checks of the component in this batch.",
                |s| s.checks.to_string(),
            ),
            (
                "devenv_component_check_failures",
                "Failed checks of the component in this batch.",
                |s| s.failures.to_string(),
            ),
        ];
        for (name, help, value) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (component, stats) in &self.components {
                let _ = writeln!(
                    out,
                    "{name}{{component=\"{}\"}} {}",
                    escape_label(component),
                    value(stats)
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP devenv_status_push_time_seconds When this batch was pushed.\n# TYPE devenv_status_push_time_seconds gauge\ndevenv_status_push_time_seconds {}",
            chrono::Utc::now().timestamp_millis() as f64 / 1000.0
        );
        out
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.6}", d.as_secs_f64())
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// After a check round: per-component up/latency gauges to the Pushgateway
/// (`DEVENV_PUSHGATEWAY_URL`, or `METRICS=true` in local mode) and the workspace's new events
/// to Loki (`DEVENV_LOKI_URL`). Observability, not state: failures are warnings.
pub async fn after_check(
    ws: &devenv_core::paths::Workspace,
    mode: Mode,
    outcomes: &[crate::probe::Outcome],
) {
    use crate::probe::State;
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
    if let Err(err) = pushed {
        tracing::warn!("{}", redact::error_chain(&err));
    }
    ship_workspace_events(ws).await;
}

/// Ships the workspace's new events to Loki when `DEVENV_LOKI_URL` is set (a failure is a
/// warning: observability, not state).
pub async fn ship_workspace_events(ws: &devenv_core::paths::Workspace) {
    let shipped = match LokiClient::from_env() {
        Ok(Some(client)) if ws.state_dir().is_dir() => ship_events_file(
            &client,
            &ws.events_file(),
            &ws.state_dir().join("loki.cursor"),
        )
        .await
        .map(|_| ()),
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(err) = shipped {
        tracing::warn!("{}", redact::error_chain(&err));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Labels {
        Labels {
            workspace_id: "ws-1".into(),
            owner: "alice".into(),
            region: "eu/central".into(),
        }
    }

    #[test]
    fn metrics_are_off_unless_configured_and_local_only_for_metrics_true() {
        let none = |_: &str| None;
        assert!(
            PushgatewayClient::from_lookup(Mode::Local, none, labels())
                .unwrap()
                .is_none()
        );
        let metrics = |k: &str| (k == METRICS_ENV).then(|| "true".to_string());
        let local = PushgatewayClient::from_lookup(Mode::Local, metrics, labels())
            .unwrap()
            .expect("METRICS=true in local mode pushes");
        assert!(
            local
                .group_url
                .as_str()
                .starts_with(DEFAULT_LOCAL_PUSHGATEWAY)
        );
        assert!(
            PushgatewayClient::from_lookup(Mode::Remote, metrics, labels())
                .unwrap()
                .is_none(),
            "METRICS=true alone does not push from a remote workspace"
        );
        let bad = |k: &str| (k == PUSHGATEWAY_URL_ENV).then(|| "ftp://x".to_string());
        let err = PushgatewayClient::from_lookup(Mode::Local, bad, labels()).unwrap_err();
        assert!(
            err.to_string().contains("DEVENV_PUSHGATEWAY_URL=ftp://x"),
            "{err}"
        );
    }

    #[test]
    fn grouping_labels_survive_slashes() {
        let c = PushgatewayClient::new("http://127.0.0.1:9091/", &labels()).unwrap();
        let path = c.group_url.path();
        assert!(path.starts_with("/metrics/job@base64/"), "{path}");
        // "eu/central" must not split the path.
        assert_eq!(path.matches('/').count(), 9, "{path}");
    }

    #[test]
    fn batch_keeps_latest_and_aggregates() {
        let mut b = MetricsBatch::default();
        b.record(ComponentSample::new(
            "redis",
            true,
            Duration::from_millis(30),
        ));
        b.record(ComponentSample::new(
            "redis",
            false,
            Duration::from_millis(10),
        ));
        let text = b.exposition();
        assert!(
            text.contains("devenv_component_up{component=\"redis\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("devenv_component_latency_seconds{component=\"redis\"} 0.010000\n"));
        assert!(
            text.contains("devenv_component_latency_max_seconds{component=\"redis\"} 0.030000\n")
        );
        assert!(text.contains("devenv_component_checks{component=\"redis\"} 2\n"));
        assert!(text.contains("devenv_component_check_failures{component=\"redis\"} 1\n"));
    }

    #[test]
    fn loki_body_drops_secret_keys_and_orders_values() {
        redact::register("Sup3rSecretTelemetry");
        let c = LokiClient::new("http://127.0.0.1:3100", labels()).unwrap();
        let body = c.push_body(&[
            json!({"ts": "2026-01-01T00:00:01.000Z", "source": "a", "event": "late"}),
            json!({"ts": "2026-01-01T00:00:00.500Z", "source": "a", "event": "early",
                   "REDIS_PASSWORD": "Sup3rSecretTelemetry", "note": "x Sup3rSecretTelemetry"}),
        ]);
        let text = body.to_string();
        assert!(!text.contains("Sup3rSecretTelemetry"), "{text}");
        assert!(!text.contains("REDIS_PASSWORD"), "{text}");
        let values = body["streams"][0]["values"].as_array().unwrap();
        assert_eq!(values[0][0], "1767225600500000000");
        assert!(values[0][1].as_str().unwrap().contains("early"));
        assert_eq!(body["streams"][0]["stream"]["region"], "eu/central");
    }
}
