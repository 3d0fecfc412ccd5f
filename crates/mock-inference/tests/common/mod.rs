//! Starts the real `mock-inference` binary on a free loopback port (`--port 0`; the bound
//! URL is read from its startup line) and waits for `/health` before handing it over.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Server {
    pub child: Child,
    pub url: String,
}

impl Server {
    pub fn start(args: &[&str]) -> Self {
        Self::start_env(args, &[])
    }

    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        // The workspace's one command builder: every variable the binary reads
        // (`MOCK_INFERENCE_*`, `MODEL_NAME`, logging) is removed, as for every crate.
        let mut cmd = devenv_testkit::cmd::command("mock-inference");
        cmd.args(["--host", "127.0.0.1", "--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("mock-inference starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("startup line");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in startup line {line:?}"))
            .to_string();
        let server = Self { child, url };
        server.wait_healthy();
        server
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let addr = self.url.trim_start_matches("http://").to_string();
        while Instant::now() < deadline {
            if let Ok((status, _)) = raw_get(&addr, "/health")
                && status == 200
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("{} never became healthy", self.url);
    }

    pub fn addr(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill -{sig} failed");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Minimal blocking GET used only for the readiness poll.
pub fn raw_get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, out))
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client builds")
}

/// Parses an SSE body into its `data:` payloads.
pub fn sse_events(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

/// Parses an SSE body of named events into (event name, JSON data) pairs; panics on an
/// event without an `event:` line or with data that is not JSON.
pub fn sse_named(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let name = e
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or_else(|| panic!("no event line in {e:?}"));
            let data = e
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap_or_else(|| panic!("no data line in {e:?}"));
            let v = serde_json::from_str(data).unwrap_or_else(|_| panic!("not JSON: {data}"));
            (name.to_string(), v)
        })
        .collect()
}

/// POSTs JSON and returns status, headers and body text.
pub async fn post(
    s: &Server,
    path: &str,
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, String) {
    post_with(s, path, &[], body).await
}

/// POSTs JSON with `X-Mock-Fault: fault`: the response, its body not read yet.
pub async fn post_fault(s: &Server, path: &str, fault: &str, body: &Value) -> reqwest::Response {
    send_with(s, path, &[("X-Mock-Fault", fault)], body).await
}

/// POSTs JSON (with extra headers): the response, its body not read yet.
pub async fn send_with(
    s: &Server,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> reqwest::Response {
    let mut req = client().post(format!("{}{path}", s.url)).json(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

/// POSTs JSON (with extra headers) and returns status, headers and body text.
pub async fn post_with(
    s: &Server,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, String) {
    let r = send_with(s, path, headers, body).await;
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

/// POSTs JSON (with extra headers) and returns the status and the JSON answer.
pub async fn post_json(
    s: &Server,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (u16, Value) {
    let (status, _, text) = post_with(s, path, headers, body).await;
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}, not JSON: {text}"));
    (status, v)
}

/// POSTs JSON that must be answered 200 with `application/json`: the JSON answer.
pub async fn post_ok(s: &Server, path: &str, headers: &[(&str, &str)], body: &Value) -> Value {
    let (status, h, text) = post_with(s, path, headers, body).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(h["content-type"], "application/json");
    serde_json::from_str(&text).unwrap()
}

/// POSTs a streamed request that must be answered 200 with an event stream: its body.
pub async fn post_stream(s: &Server, path: &str, headers: &[(&str, &str)], body: &Value) -> String {
    let (status, h, text) = post_with(s, path, headers, body).await;
    assert_eq!(status, 200, "{text}");
    let kind = h["content-type"].to_str().unwrap();
    assert!(kind.starts_with("text/event-stream"), "{kind}");
    text
}

/// A named-event stream cut by the fault `error@2`: exactly two `delta` events come before
/// the error; the events, for the caller to check the error's shape.
pub async fn stream_error_at_2(
    s: &Server,
    path: &str,
    body: &Value,
    delta: &str,
) -> Vec<(String, Value)> {
    let (_, _, text) = post_with(s, path, &[("X-Mock-Fault", "error@2")], body).await;
    let events = sse_named(&text);
    let deltas = events.iter().filter(|(n, _)| n == delta).count();
    assert_eq!(deltas, 2, "{text}");
    events
}

/// GETs `path`: status and body text.
pub async fn get(s: &Server, path: &str) -> (u16, String) {
    let r = client()
        .get(format!("{}{path}", s.url))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// GETs `path`: status and JSON answer.
pub async fn get_json(s: &Server, path: &str) -> (u16, Value) {
    let (status, text) = get(s, path).await;
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}, not JSON: {text}"));
    (status, v)
}

/// `base` with the fields of `extra` set over it (both JSON objects).
pub fn merged(mut base: Value, extra: Value) -> Value {
    let extra = extra.as_object().expect("an object").clone();
    base.as_object_mut().expect("an object").extend(extra);
    base
}

/// The `/metrics` exposition.
pub async fn metrics_text(s: &Server) -> String {
    get(s, "/metrics").await.1
}

/// Each named metric has the value given (see [`metric`]).
pub async fn assert_metrics(s: &Server, want: &[(&str, f64)]) {
    for (name, value) in want {
        assert_eq!(metric(s, name).await, *value, "{name}");
    }
}

/// A metric's value from `/metrics` (the first sample with labels), NaN when absent.
pub async fn metric(s: &Server, name: &str) -> f64 {
    metrics_text(s)
        .await
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with('{'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

pub const SENTENCE: &str = "This is a mock response from the development inference engine.";

/// Request bodies: the `raw` ones as they are, then each of `values` as JSON.
pub fn bodies(raw: &[&str], values: &[Value]) -> Vec<Vec<u8>> {
    let raw = raw.iter().map(|b| b.as_bytes().to_vec());
    raw.chain(values.iter().map(|v| serde_json::to_vec(v).unwrap()))
        .collect()
}

/// Sends each raw body to `path`: every answer must be a 4xx with a JSON body, which `check`
/// then examines (it gets the shown body for messages, the status and the JSON).
pub async fn assert_4xx_bodies(
    s: &Server,
    path: &str,
    cases: &[Vec<u8>],
    check: impl Fn(&str, u16, &Value),
) {
    let http = client();
    for body in cases {
        let r = http
            .post(format!("{}{path}", s.url))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let shown = String::from_utf8_lossy(&body[..body.len().min(120)]).to_string();
        assert!(
            (400..500).contains(&status),
            "{path} {shown} → {status} {text}"
        );
        let v: Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{shown} → not JSON: {text}"));
        check(&format!("{path} {shown} → {text}"), status, &v);
    }
}

/// OpenAI's error body: `{"error":{"message","type","param","code"}}`.
pub fn assert_openai_error(shown: &str, v: &Value) {
    let e = &v["error"];
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{shown}"
    );
    assert!(e["type"].is_string(), "{shown}");
    assert!(
        e.get("param").is_some() && e.get("code").is_some(),
        "{shown}"
    );
}

/// The statuses of `n` requests to a fresh server started with `args` (a fault schedule).
pub async fn statuses(args: &[&str], path: &str, body: &Value, n: usize) -> Vec<u16> {
    let s = Server::start(args);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(post(&s, path, body).await.0);
    }
    out
}

/// The stderr of the binary refusing the config file `cfg`, which must exit 2 (usage).
pub fn config_refused(cfg: &std::path::Path) -> String {
    let cmd = devenv_testkit::cmd::command("mock-inference");
    let out = assert_cmd::Command::from_std(cmd)
        .args(["--config", cfg.to_str().unwrap(), "--port", "0"])
        .timeout(Duration::from_secs(10))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The program `cmd` on PATH.
pub fn which(cmd: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(cmd))
            .find(|p| p.is_file())
    })
}

/// `promtool check metrics` over `text`: its exit code and output.
pub fn promtool_check(promtool: &std::path::Path, text: &str) -> (i32, String) {
    use std::io::Write as _;
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
