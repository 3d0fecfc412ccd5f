//! The floor for scripts/bench/mock.sh's non-streamed chat goal: the least a server can do to
//! answer `POST /v1/chat/completions`. Every request gets the same pre-built response — the head
//! mock-inference sends (content-type, date, content-length) and a body given as a file (the
//! bench passes one mock-inference wrote, so both put the same bytes on the wire) — with no
//! parsing beyond finding where the request ends (its head, then its Content-Length body).
//! Keep-alive, one single-threaded runtime per core with SO_REUSEPORT (as mock-inference's
//! workers), no JSON, no metrics: wrk's figure against it is what this machine's loopback TCP,
//! scheduling and the load client allow.
//!
//! `cargo run --profile stack -p mock-inference --example chat_floor -- 127.0.0.1:0 body.json`
//! prints the bound address on its first line.
// A helper program for benchmarks: its stdout/stderr lines are its interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Where the first whole request in `buf` ends, once it has all arrived. Looks only for the
/// blank line and the Content-Length value; allocates nothing.
fn request_end(buf: &[u8]) -> Option<usize> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let mut body_len = 0usize;
    for line in buf[..head_end].split(|b| *b == b'\n') {
        const NAME: &[u8] = b"content-length:";
        if line.len() > NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME) {
            body_len = line[NAME.len()..]
                .iter()
                .filter(|b| b.is_ascii_digit())
                .fold(0, |n, b| n * 10 + usize::from(b - b'0'));
            break;
        }
    }
    (buf.len() >= head_end + body_len).then_some(head_end + body_len)
}

async fn serve(mut tcp: TcpStream, response: Arc<Vec<u8>>) {
    let _ = tcp.set_nodelay(true);
    let mut buf = Vec::with_capacity(8192);
    loop {
        // Answer every whole request buffered (pipelined ones too), one write for all.
        let mut answers = 0;
        while let Some(end) = request_end(&buf) {
            buf.drain(..end);
            answers += 1;
        }
        if answers == 1 {
            if tcp.write_all(&response).await.is_err() {
                return;
            }
        } else if answers > 1 && tcp.write_all(&response.repeat(answers)).await.is_err() {
            return;
        }
        if buf.len() == buf.capacity() {
            buf.reserve(8192);
        }
        match tcp.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr: SocketAddr = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| "127.0.0.1:0".parse().expect("a socket address"));
    let Some(body_file) = args.get(1) else {
        eprintln!("usage: chat_floor ADDR BODY_FILE (the JSON body every request gets)");
        return ExitCode::from(2);
    };
    let body = match std::fs::read(body_file) {
        Ok(body) => body,
        Err(e) => {
            eprintln!("cannot read {body_file}: {e}");
            return ExitCode::from(2);
        }
    };
    // The date is fixed at startup: a floor keeps no clock.
    let mut response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ndate: {}\r\ncontent-length: {}\r\n\r\n",
        httpdate::fmt_http_date(std::time::SystemTime::now()),
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    let response = Arc::new(response);
    mock_inference::pregrow_fd_table();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
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
    println!("chat_floor listening on http://{addr}");
    let threads: Vec<_> = shards
        .into_iter()
        .map(|(rt, listener)| {
            let response = response.clone();
            std::thread::spawn(move || {
                rt.block_on(async move {
                    loop {
                        let Ok((tcp, _)) = listener.accept().await else {
                            continue;
                        };
                        tokio::spawn(serve(tcp, response.clone()));
                    }
                })
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    ExitCode::SUCCESS
}
