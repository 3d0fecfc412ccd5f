//! The floor for scripts/bench/mock.sh's streaming goal: the least a server can do to stream
//! tokens on a schedule. It answers every request with the same pre-built SSE events, one
//! write per token on mock-inference's schedule (first token at once, then one every ITL; a
//! late token is not slipped past but caught up), on one single-threaded runtime per core with SO_REUSEPORT — no parsing, no
//! JSON, no metrics. Whatever jitter stream_load measures against it is the machine's
//! (kernel loopback TCP, scheduling, the load client sharing the cores), not the server's.
//!
//! `cargo run --release -p mock-inference --example stream_floor -- 127.0.0.1:0 20 50`
//! prints the bound address on its first line.
// A helper program for tests and benchmarks: its stdout/stderr lines are its interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::Instant;

const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n";

/// One chunk-framed SSE event shaped like mock-inference's content deltas.
fn token_chunk() -> Vec<u8> {
    let event = "data: {\"id\":\"chatcmpl-AAAAAAAAAAAAAAAAAAAAAAAA\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"mock-gpt\",\"system_fingerprint\":\"fp_devenv_mock\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" lorem\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n";
    let mut out = format!("{:x}\r\n", event.len()).into_bytes();
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

async fn serve(mut tcp: TcpStream, itl: Duration, tokens: usize, chunk: Arc<Vec<u8>>) {
    let _ = tcp.set_nodelay(true);
    // Read the request: a head and its Content-Length body.
    let mut buf = Vec::with_capacity(4096);
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(4096);
        }
        match tcp.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if mock_inference::http1::message_end(&buf).is_some() {
            break;
        }
    }
    if tcp.write_all(HEAD).await.is_err() {
        return;
    }
    let start = Instant::now();
    for k in 0..tokens {
        tokio::time::sleep_until(start + itl * k as u32).await;
        if tcp.write_all(&chunk).await.is_err() {
            return;
        }
    }
    tokio::time::sleep_until(start + itl * tokens as u32).await;
    let done = "data: [DONE]\n\n";
    let end = format!("{:x}\r\n{done}\r\n0\r\n\r\n", done.len());
    let _ = tcp.write_all(end.as_bytes()).await;
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr: SocketAddr = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| "127.0.0.1:0".parse().expect("a socket address"));
    let itl = Duration::from_millis(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20));
    let tokens: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(50);
    mock_inference::pregrow_fd_table();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = Arc::new(token_chunk());
    let mut addr = addr;
    let mut shards = Vec::new();
    for _ in 0..workers {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let listener: TcpListener = {
            let _entered = rt.enter();
            let socket = TcpSocket::new_v4().expect("socket");
            socket.set_reuseaddr(true).expect("SO_REUSEADDR");
            socket.set_reuseport(true).expect("SO_REUSEPORT");
            socket.bind(addr).expect("bind");
            socket.listen(4096).expect("listen")
        };
        addr = listener.local_addr().expect("bound address");
        shards.push((rt, listener));
    }
    println!("stream_floor listening on http://{addr}");
    let threads: Vec<_> = shards
        .into_iter()
        .map(|(rt, listener)| {
            let chunk = chunk.clone();
            std::thread::spawn(move || {
                rt.block_on(async move {
                    loop {
                        let Ok((tcp, _)) = listener.accept().await else {
                            continue;
                        };
                        tokio::spawn(serve(tcp, itl, tokens, chunk.clone()));
                    }
                })
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}
