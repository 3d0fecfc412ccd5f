//! Connection-level behaviour of the server's own HTTP/1.1 loop (idle keep-alive timeout),
//! and the test harness's own promise: the test process's environment never leaks into a
//! server.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Server;

/// One keep-alive `GET /health` on `s`; the response read whole (by its Content-Length).
fn health(s: &mut TcpStream) -> std::io::Result<String> {
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        raw.extend_from_slice(&buf[..n]);
        if mock_inference::http1::message_end(&raw).is_some() {
            return Ok(String::from_utf8_lossy(&raw).to_string());
        }
    }
}

/// Whether the server closed `s`: a read returns end-of-file (or a reset) within 5 s.
fn closed(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 16];
    match s.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

#[test]
fn idle_keep_alive_connections_close_busy_ones_stay() {
    let server = Server::start(&["--keep-alive-timeout", "1"]);
    let mut idle = TcpStream::connect(server.addr()).unwrap();
    let mut busy = TcpStream::connect(server.addr()).unwrap();
    assert!(health(&mut idle).unwrap().starts_with("HTTP/1.1 200"));
    // The busy connection sends a request every 150 ms for well over the timeout; the gaps
    // stay far under it even when a busy machine wakes this thread late.
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(2500) {
        let r = health(&mut busy).expect("a busy connection stays open");
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        std::thread::sleep(Duration::from_millis(150));
    }
    assert!(
        closed(&mut idle),
        "an idle connection is closed after the timeout"
    );
    // A fresh connection that never sends a byte is idle too.
    let mut silent = TcpStream::connect(server.addr()).unwrap();
    assert!(closed(&mut silent));
}

#[test]
fn keep_alive_timeout_must_be_positive() {
    let mut cmd = devenv_testkit::cmd::command("mock-inference");
    let out = cmd
        .args(["--port", "0", "--keep-alive-timeout", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("keep_alive_timeout_secs"), "{err}");
}

/// An exported `MOCK_INFERENCE_ERROR_RATE=1` (every request a 500) or `MODEL_NAME` in the
/// test process does not reach the server the harness starts.
#[test]
#[allow(unsafe_code)]
fn exported_settings_do_not_leak_into_servers() {
    // SAFETY: nextest runs each test in its own process; nothing else reads the environment
    // concurrently here.
    unsafe {
        std::env::set_var("MOCK_INFERENCE_ERROR_RATE", "1");
        std::env::set_var("MOCK_INFERENCE_RESPONSE_TEXT", "leaked");
        std::env::set_var("MODEL_NAME", "leaked-model");
    }
    let server = Server::start(&[]);
    let mut s = TcpStream::connect(server.addr()).unwrap();
    let body = r#"{"model":"mock-gpt","messages":[{"role":"user","content":"hi"}]}"#;
    write!(
        s,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    assert!(!raw.contains("leaked"), "{raw}");
}
