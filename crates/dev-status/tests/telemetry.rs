//! The observability stream against real receivers: a real `prometheus-pushgateway` (the Debian
//! package) started here on a free loopback port, and a Loki push-API receiver in this test
//! (Loki itself is not installable here) that answers 400 to any body not shaped as Loki's
//! push API documents — `{"streams":[{"stream":{label:value…},"values":[["<ns>","<line>"]…]}]}`.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use dev_status::telemetry::{
    ComponentSample, Labels, LokiClient, PushgatewayClient, TelemetryError, ship_events_file,
};
use devenv_core::events::Event;
use devenv_core::paths::Mode;
use serde_json::Value;

fn labels(ws: &str) -> Labels {
    Labels {
        workspace_id: ws.into(),
        owner: "alice".into(),
        region: "eu/central".into(),
    }
}

use devenv_testkit::free_port;

/// A real Pushgateway, killed on drop.
struct Pushgateway {
    port: u16,
    child: Child,
}

impl Pushgateway {
    async fn start() -> Self {
        let port = free_port();
        let child = Command::new("prometheus-pushgateway")
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-pushgateway is installed (make setup)");
        let gw = Self { port, child };
        let deadline = Instant::now() + Duration::from_secs(15);
        let http = reqwest::Client::new();
        loop {
            let ready = http
                .get(format!("{}/-/ready", gw.url()))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return gw;
            }
            assert!(
                Instant::now() < deadline,
                "pushgateway not ready on {}",
                gw.port
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `metric` for `component` in workspace `ws`, from the Pushgateway's /metrics.
fn gauge(text: &str, metric: &str, component: &str, ws: &str) -> Option<String> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .filter(|l| l.contains(&format!("component=\"{component}\"")))
        .filter(|l| l.contains(&format!("workspace_id=\"{ws}\"")))
        .filter(|l| l.contains("job=\"devenv_status\""))
        .filter(|l| l.contains("owner=\"alice\"") && l.contains("region=\"eu/central\""))
        .map(|l| l.rsplit(' ').next().unwrap_or_default().to_string())
        .next()
}

#[tokio::test]
async fn pushgateway_receives_component_gauges_and_a_push_replaces_the_group() {
    let gw = Pushgateway::start().await;
    let client = PushgatewayClient::new(&gw.url(), &labels("ws-gauges")).unwrap();
    client
        .push(&[
            ComponentSample::new("postgres", true, Duration::from_millis(12)),
            ComponentSample::new("redis", false, Duration::from_millis(2000)),
        ])
        .await
        .unwrap();
    let text = gw.metrics().await;
    let g = |m, c| gauge(&text, m, c, "ws-gauges");
    assert_eq!(g("devenv_component_up", "postgres").as_deref(), Some("1"));
    assert_eq!(g("devenv_component_up", "redis").as_deref(), Some("0"));
    assert_eq!(
        g("devenv_component_latency_seconds", "postgres").as_deref(),
        Some("0.012")
    );
    assert_eq!(
        g("devenv_component_latency_seconds", "redis").as_deref(),
        Some("2")
    );

    // The next round no longer checks redis: its stale gauge must not survive.
    client
        .push(&[ComponentSample::new(
            "postgres",
            true,
            Duration::from_millis(5),
        )])
        .await
        .unwrap();
    let text = gw.metrics().await;
    assert!(
        gauge(&text, "devenv_component_up", "redis", "ws-gauges").is_none(),
        "{text}"
    );
    assert_eq!(
        gauge(
            &text,
            "devenv_component_latency_seconds",
            "postgres",
            "ws-gauges"
        )
        .as_deref(),
        Some("0.005")
    );
}

#[tokio::test]
async fn metrics_true_in_local_mode_uses_the_default_gateway_only_when_asked() {
    let env = |k: &str| (k == "METRICS").then(|| "true".to_string());
    assert!(
        PushgatewayClient::from_lookup(Mode::Local, env, labels("x"))
            .unwrap()
            .is_some()
    );
    assert!(
        PushgatewayClient::from_lookup(Mode::Local, |_| None, labels("x"))
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn an_unreachable_gateway_is_an_error_that_names_it_without_its_password() {
    let port = free_port();
    let client = PushgatewayClient::new(
        &format!("http://pusher:Pw-NotShown-4711@127.0.0.1:{port}"),
        &labels("ws-down"),
    )
    .unwrap()
    .with_timeout(Duration::from_secs(2));
    let err = client
        .push(&[ComponentSample::new("s3", true, Duration::ZERO)])
        .await
        .unwrap_err();
    assert!(matches!(err, TelemetryError::Unreachable { .. }), "{err:?}");
    let text = devenv_core::redact::error_chain(&err);
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("Pw-NotShown-4711"), "{text}");
}

// ── Loki ─────────────────────────────────────────────────────────────────────────────────

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Value>>>, Duration);

/// Validates one push request the way Loki's push API defines it.
fn loki_shape(headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !ct.starts_with("application/json") {
        return Err(format!("content-type {ct}"));
    }
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let streams = doc
        .get("streams")
        .and_then(Value::as_array)
        .ok_or("no streams array")?;
    if streams.is_empty() {
        return Err("no streams".into());
    }
    for s in streams {
        let labels = s
            .get("stream")
            .and_then(Value::as_object)
            .ok_or("stream is not an object")?;
        if !labels.values().all(Value::is_string) {
            return Err("label values must be strings".into());
        }
        for k in ["workspace_id", "owner", "region"] {
            if !labels.contains_key(k) {
                return Err(format!("label {k} missing"));
            }
        }
        let values = s
            .get("values")
            .and_then(Value::as_array)
            .ok_or("values is not an array")?;
        for v in values {
            let pair = v.as_array().ok_or("value is not an array")?;
            let (Some(ts), Some(line), 2) = (
                pair.first().and_then(Value::as_str),
                pair.get(1).and_then(Value::as_str),
                pair.len(),
            ) else {
                return Err(format!("value {v} is not [\"<ns>\", \"<line>\"]"));
            };
            if ts.len() < 19 || !ts.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("timestamp {ts} is not nanoseconds"));
            }
            serde_json::from_str::<Value>(line).map_err(|_| "line is not a JSON event")?;
        }
    }
    Ok(())
}

async fn loki_push(State(rx): State<Received>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if loki_shape(&headers, &body).is_err() {
        return StatusCode::BAD_REQUEST;
    }
    // A receiver that takes its time, like a busy Loki: overlapping shippers overlap here.
    tokio::time::sleep(rx.1).await;
    rx.0.lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap());
    StatusCode::NO_CONTENT
}

#[test]
fn the_receiver_rejects_what_loki_would() {
    let mut h = HeaderMap::new();
    h.insert("content-type", "application/json".parse().unwrap());
    let ok = br#"{"streams":[{"stream":{"workspace_id":"w","owner":"o","region":"r"},"values":[["1767225600000000000","{}"]]}]}"#;
    assert_eq!(loki_shape(&h, ok), Ok(()));
    for bad in [
        &br#"{"streams":[]}"#[..],
        br#"{"streams":[{"stream":{"owner":"o","region":"r"},"values":[]}]}"#,
        br#"{"streams":[{"stream":{"workspace_id":"w","owner":"o","region":"r"},"values":[[1767225600000000000,"{}"]]}]}"#,
        br#"{"streams":[{"stream":{"workspace_id":"w","owner":"o","region":"r"},"values":[["1767225600000000000","not json"]]}]}"#,
        br#"{"stream":{}}"#,
    ] {
        assert!(loki_shape(&h, bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
    assert!(
        loki_shape(&HeaderMap::new(), ok).is_err(),
        "content type is required"
    );
}

async fn loki_receiver() -> (String, Received, tokio::task::JoinHandle<()>) {
    slow_loki_receiver(Duration::ZERO).await
}

async fn slow_loki_receiver(delay: Duration) -> (String, Received, tokio::task::JoinHandle<()>) {
    let rx = Received(Arc::default(), delay);
    let app = Router::new()
        .route("/loki/api/v1/push", post(loki_push))
        .with_state(rx.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, rx, task)
}

fn lines(rx: &Received) -> Vec<Value> {
    rx.0.lock()
        .unwrap()
        .iter()
        .flat_map(|doc| doc["streams"].as_array().unwrap().clone())
        .flat_map(|s| s["values"].as_array().unwrap().clone())
        .map(|v| serde_json::from_str(v[1].as_str().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn loki_gets_events_with_the_three_labels_and_no_secret() {
    devenv_core::redact::register("Loki-Secret-0815");
    let (url, rx, task) = loki_receiver().await;
    let client = LokiClient::new(&url, labels("ws-loki")).unwrap();
    let events = vec![
        Event::new("dev-status", "component_unhealthy")
            .field("component", "redis")
            .field("url", "redis://:Loki-Secret-0815@10.0.0.2:6379/0")
            .to_json(),
        serde_json::json!({"ts": "2026-01-01T00:00:00.000Z", "correlation_id": "c", "source": "scripts/up",
                           "event": "up_done", "S3_SECRET_KEY": "Loki-Secret-0815"}),
    ];
    client.push(&events).await.unwrap();
    let docs = rx.0.lock().unwrap().clone();
    assert_eq!(docs.len(), 1, "one request for the batch");
    let text = docs[0].to_string();
    assert!(!text.contains("Loki-Secret-0815"), "{text}");
    assert!(!text.contains("S3_SECRET_KEY"), "{text}");
    let streams = docs[0]["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 2, "one stream per source");
    for s in streams {
        assert_eq!(s["stream"]["workspace_id"], "ws-loki");
        assert_eq!(s["stream"]["owner"], "alice");
        assert_eq!(s["stream"]["region"], "eu/central");
    }
    let got = lines(&rx);
    assert!(
        got.iter()
            .all(|e| e["correlation_id"].is_string() && e["ts"].is_string())
    );
    task.abort();
}

#[tokio::test]
async fn loki_refusing_a_push_is_an_error_with_its_status() {
    let (url, _rx, task) = loki_receiver().await;
    // A prefix the receiver does not serve: it answers 404 like a wrong Loki URL would.
    let client = LokiClient::new(&format!("{url}/not-loki"), labels("ws-404")).unwrap();
    let err = client
        .push(&[Event::new("t", "e").to_json()])
        .await
        .unwrap_err();
    assert!(
        matches!(err, TelemetryError::Rejected { status: 404, .. }),
        "{err:?}"
    );
    task.abort();
}

#[tokio::test]
async fn shipping_events_jsonl_sends_each_line_once_and_survives_a_dead_loki() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let cursor = dir.path().join("loki.cursor");
    for i in 0..3 {
        Event::new("scripts/up", "step")
            .field("n", i)
            .append_to(&events);
    }

    // Loki down: an error, and the cursor does not move.
    let dead = LokiClient::new(
        &format!("http://127.0.0.1:{}", free_port()),
        labels("ws-ship"),
    )
    .unwrap()
    .with_timeout(Duration::from_secs(2));
    assert!(ship_events_file(&dead, &events, &cursor).await.is_err());
    assert!(!cursor.exists());

    let (url, rx, task) = loki_receiver().await;
    let client = LokiClient::new(&url, labels("ws-ship")).unwrap();
    assert_eq!(
        ship_events_file(&client, &events, &cursor).await.unwrap(),
        3
    );
    assert_eq!(
        ship_events_file(&client, &events, &cursor).await.unwrap(),
        0
    );

    for i in 3..5 {
        Event::new("scripts/up", "step")
            .field("n", i)
            .append_to(&events);
    }
    // A line still being written (no newline yet) waits for the next run.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&events)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"ts\":"))
        .unwrap();
    assert_eq!(
        ship_events_file(&client, &events, &cursor).await.unwrap(),
        2
    );

    let ns: Vec<i64> = lines(&rx)
        .iter()
        .map(|e| e["n"].as_i64().unwrap())
        .collect();
    assert_eq!(ns, vec![0, 1, 2, 3, 4]);
    let len = std::fs::metadata(&events).unwrap().len();
    let at: u64 = std::fs::read_to_string(&cursor)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(at, len - b"{\"ts\":".len() as u64);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_shippers_at_once_deliver_each_event_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let cursor = dir.path().join("loki.cursor");
    // More than one chunk, so a shipper holds the cursor across several pushes.
    let total = dev_status::telemetry::LOKI_BATCH_LINES * 2 + 7;
    for i in 0..total {
        Event::new("scripts/up", "step")
            .field("n", i)
            .append_to(&events);
    }
    let (url, rx, task) = slow_loki_receiver(Duration::from_millis(150)).await;
    let client = LokiClient::new(&url, labels("ws-race")).unwrap();
    let ship = |client: LokiClient, events: std::path::PathBuf, cursor: std::path::PathBuf| {
        tokio::spawn(async move { ship_events_file(&client, &events, &cursor).await })
    };
    let a = ship(client.clone(), events.clone(), cursor.clone());
    let b = ship(client.clone(), events.clone(), cursor.clone());
    let shipped = a.await.unwrap().unwrap() + b.await.unwrap().unwrap();
    assert_eq!(shipped, total, "together the two runs ship every line once");
    let mut ns: Vec<u64> = lines(&rx)
        .iter()
        .map(|e| e["n"].as_u64().unwrap())
        .collect();
    ns.sort_unstable();
    assert_eq!(
        ns,
        (0..total as u64).collect::<Vec<_>>(),
        "each event exactly once"
    );
    task.abort();
}
