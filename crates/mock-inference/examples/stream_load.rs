//! Streaming load client for scripts/bench/mock.sh: opens N concurrent streams against a
//! mock-inference started with a fixed inter-token latency, and reports the inter-token
//! jitter and any lost tokens (a stream with fewer content deltas than its token limit, or
//! without its closing event). The API is the sixth argument:
//! - `chat` (default): `/v1/chat/completions`, deltas `"delta":{"content":…}`, closed by `[DONE]`;
//! - `responses`: `/v1/responses`, `response.output_text.delta` events, closed by
//!   `response.completed` or `response.incomplete` (the answer cut at `max_output_tokens`);
//! - `messages`: Anthropic's `/v1/messages`, `content_block_delta` events, closed by
//!   `message_stop`.
//!
//! Jitter is |gap − ITL| between consecutive content deltas, measured two ways:
//! - `jitter_ms`: when this client's read returns them. On a machine it shares with the
//!   server, this client's own scheduling delays count against the server.
//! - `wire_jitter_ms`: when the bytes reached this client's socket, from the kernel's receive
//!   timestamp (SO_TIMESTAMPNS; on loopback, the moment the server's write went through). A
//!   read that returns several deltas at once stamps only its last, so such a gap spans k
//!   tokens and is compared with k·ITL (`wire_spans` counts them).
//!
//! Raw HTTP/1.1 over tokio TCP keeps the client's own overhead small; `cpu_s` reports it.
//!
//! `cargo run --profile stack -p mock-inference --example stream_load -- 127.0.0.1:8000 2000 50 20 1000 chat`
//! (address, streams, tokens per stream, ITL ms, ramp ms, API).
// A helper program for tests and benchmarks: its stdout/stderr lines are its interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, IoSliceMut};
use std::os::fd::{AsFd as _, AsRawFd as _};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt};
use tokio::io::{AsyncWriteExt as _, Interest};
use tokio::net::TcpStream;

/// The streaming API under load: what to ask, which events are tokens, which one closes.
#[derive(Clone, Copy)]
enum Api {
    Chat,
    Responses,
    Messages,
}

impl Api {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "chat" => Some(Self::Chat),
            "responses" => Some(Self::Responses),
            "messages" => Some(Self::Messages),
            _ => None,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::Chat => "/v1/chat/completions",
            Self::Responses => "/v1/responses",
            Self::Messages => "/v1/messages",
        }
    }

    /// The request body: `tokens` is each API's own output limit, so every stream is cut at
    /// exactly that many deltas.
    fn body(self, model: &str, tokens: usize) -> String {
        match self {
            Self::Chat => format!(
                r#"{{"model":"{model}","messages":[{{"role":"user","content":"stream please"}}],"stream":true,"max_tokens":{tokens}}}"#
            ),
            Self::Responses => format!(
                r#"{{"model":"{model}","input":"stream please","stream":true,"max_output_tokens":{tokens}}}"#
            ),
            Self::Messages => format!(
                r#"{{"model":"{model}","messages":[{{"role":"user","content":"stream please"}}],"stream":true,"max_tokens":{tokens}}}"#
            ),
        }
    }

    /// Whether one SSE event (its `event:` and `data:` lines, after the chunk framing that
    /// precedes it) carries a token.
    fn is_delta(self, event: &str) -> bool {
        match self {
            Self::Chat => event.contains("\"delta\":{\"content\":\""),
            Self::Responses => event.contains("event: response.output_text.delta\n"),
            Self::Messages => event.contains("event: content_block_delta\n"),
        }
    }

    /// Whether the event closes the stream.
    fn is_end(self, event: &str) -> bool {
        match self {
            Self::Chat => event.contains("data: [DONE]"),
            Self::Responses => {
                event.contains("event: response.completed\n")
                    || event.contains("event: response.incomplete\n")
            }
            Self::Messages => event.contains("event: message_stop\n"),
        }
    }
}

struct StreamResult {
    deltas: usize,
    done: bool,
    gaps_us: Vec<u64>,
    /// |gap − k·ITL| in µs between kernel-stamped deltas k tokens apart.
    wire_jitter_us: Vec<u64>,
    /// The kernel's receive time (ms) of each `wire_jitter_us` sample's later delta.
    wire_at_ms: Vec<u64>,
    wire_spans: usize,
    error: Option<String>,
}

/// Reads into `buf`; the kernel's receive time of the last byte read, when it gave one.
async fn read_stamped(
    tcp: &TcpStream,
    buf: &mut [u8],
    cmsg: &mut [u8],
) -> io::Result<(usize, Option<Duration>)> {
    loop {
        tcp.readable().await?;
        let read = tcp.try_io(Interest::READABLE, || {
            let mut iov = [IoSliceMut::new(buf)];
            let msg = recvmsg::<()>(
                tcp.as_raw_fd(),
                &mut iov,
                Some(&mut *cmsg),
                MsgFlags::MSG_DONTWAIT,
            )
            .map_err(io::Error::from)?;
            let mut at = None;
            if let Ok(cmsgs) = msg.cmsgs() {
                for c in cmsgs {
                    if let ControlMessageOwned::ScmTimestampns(ts) = c {
                        at = Some(Duration::new(ts.tv_sec() as u64, ts.tv_nsec() as u32));
                    }
                }
            }
            Ok((msg.bytes, at))
        });
        match read {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => return other,
        }
    }
}

async fn one_stream(
    addr: String,
    tokens: usize,
    itl_ms: u64,
    model: String,
    api: Api,
) -> StreamResult {
    let mut res = StreamResult {
        deltas: 0,
        done: false,
        gaps_us: Vec::with_capacity(tokens),
        wire_jitter_us: Vec::with_capacity(tokens),
        wire_at_ms: Vec::with_capacity(tokens),
        wire_spans: 0,
        error: None,
    };
    let body = api.body(&model, tokens);
    let req = format!(
        "POST {} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nAnthropic-Version: 2023-06-01\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        api.path(),
        body.len()
    );
    let mut tcp = match TcpStream::connect(&addr).await {
        Ok(t) => t,
        Err(e) => {
            res.error = Some(format!("connect: {e}"));
            return res;
        }
    };
    let _ = tcp.set_nodelay(true);
    if let Err(e) = setsockopt(&tcp.as_fd(), sockopt::ReceiveTimestampns, &true) {
        res.error = Some(format!("SO_TIMESTAMPNS: {e}"));
        return res;
    }
    if let Err(e) = tcp.write_all(req.as_bytes()).await {
        res.error = Some(format!("write: {e}"));
        return res;
    }
    // Small per-stream buffers: 2,000 streams × 64 KiB spread the reads over 128 MiB of
    // cache-cold memory; an SSE chunk is a few hundred bytes.
    let mut buf = vec![0u8; 8 * 1024];
    let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let mut carry: Vec<u8> = Vec::new();
    let mut last: Option<Instant> = None;
    // (content delta's number, kernel receive time) of the last stamped delta.
    let mut last_wire: Option<(usize, Duration)> = None;
    let itl_us = itl_ms * 1000;
    loop {
        let (n, wire_at) = match read_stamped(&tcp, &mut buf, &mut cmsg).await {
            Ok((0, _)) => break,
            Ok(read) => read,
            Err(e) => {
                res.error = Some(format!("read: {e}"));
                break;
            }
        };
        let now = Instant::now();
        // The stamp is the last byte's: it dates a delta only when the read ends exactly
        // where that delta's chunk does (the delta is the read's last event).
        let ends_at_event = buf[..n].ends_with(b"\n\n\r\n");
        let mut last_in_read: Option<usize> = None;
        carry.extend_from_slice(&buf[..n]);
        // Count whole events only; keep a partial tail for the next read.
        let mut start = 0;
        while let Some(end) = find_blank_line(&carry[start..]) {
            // Events are ASCII-framed; from_utf8 is a fast validated view for str::contains.
            let event = std::str::from_utf8(&carry[start..start + end]).unwrap_or("");
            last_in_read = None;
            if api.is_delta(event) {
                res.deltas += 1;
                last_in_read = Some(res.deltas);
                if let Some(prev) = last {
                    res.gaps_us.push((now - prev).as_micros() as u64);
                }
                last = Some(now);
            }
            if api.is_end(event) {
                res.done = true;
            }
            start += end + 2;
        }
        carry.drain(..start);
        if let (Some(k), Some(at), true, true) = (
            last_in_read,
            wire_at,
            ends_at_event,
            carry_is_framing(&carry),
        ) {
            if let Some((j, prev)) = last_wire {
                let span = (k - j) as u64;
                let gap_us = at.saturating_sub(prev).as_micros() as u64;
                res.wire_jitter_us.push(gap_us.abs_diff(span * itl_us));
                res.wire_at_ms.push(at.as_millis() as u64);
                res.wire_spans += usize::from(span > 1);
            }
            last_wire = Some((k, at));
        }
        if res.done {
            break;
        }
    }
    res
}

/// True when what is left after the whole events is chunk framing (the chunk's closing CRLF),
/// not the start of another event.
fn carry_is_framing(carry: &[u8]) -> bool {
    carry.iter().all(|b| matches!(b, b'\r' | b'\n'))
}

fn find_blank_line(hay: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(p) = hay[i..].iter().position(|b| *b == b'\n') {
        let at = i + p;
        if hay.get(at + 1) == Some(&b'\n') {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// User + system CPU seconds this process has used.
fn cpu_seconds() -> f64 {
    use nix::sys::resource::{UsageWho, getrusage};
    use nix::sys::time::TimeValLike as _;
    getrusage(UsageWho::RUSAGE_SELF).map_or(0.0, |u| {
        (u.user_time().num_microseconds() + u.system_time().num_microseconds()) as f64 / 1e6
    })
}

/// p99 of the wire jitter (ms) in each 100 ms of the run, by the kernel's receive time: shows
/// whether the tail comes from the peak (every stream open while the last ones still connect)
/// or from the whole run.
fn wire_p99_per_100ms(results: &[StreamResult]) -> Vec<f64> {
    let t0 = results
        .iter()
        .filter_map(|r| r.wire_at_ms.iter().min())
        .min()
        .copied()
        .unwrap_or(0);
    let mut windows: Vec<Vec<u64>> = Vec::new();
    for r in results {
        for (at, jitter) in r.wire_at_ms.iter().zip(&r.wire_jitter_us) {
            let w = ((at - t0) / 100) as usize;
            if windows.len() <= w {
                windows.resize_with(w + 1, Vec::new);
            }
            windows[w].push(*jitter);
        }
    }
    windows
        .iter_mut()
        .map(|w| {
            w.sort_unstable();
            percentile(w, 0.99) as f64 / 1000.0
        })
        .collect()
}

/// p50/p90/p99/max of µs samples, in ms.
fn distribution_ms(samples: &mut [u64]) -> serde_json::Value {
    samples.sort_unstable();
    let ms = |us: u64| us as f64 / 1000.0;
    serde_json::json!({
        "p50": ms(percentile(samples, 0.50)),
        "p90": ms(percentile(samples, 0.90)),
        "p99": ms(percentile(samples, 0.99)),
        "max": ms(samples.last().copied().unwrap_or(0)),
    })
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args
        .first()
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:8000".into());
    let streams: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let tokens: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(50);
    let itl_ms: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(20);
    let ramp_ms: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let api_name = args.get(5).map_or("chat", String::as_str);
    let Some(api) = Api::parse(api_name) else {
        eprintln!("unknown API {api_name:?}: use chat, responses or messages");
        return ExitCode::from(2);
    };
    let model = std::env::var("MODEL_NAME").unwrap_or_else(|_| "mock-gpt".into());
    // LOADGEN_THREADS (default 1): more client threads read faster but take CPU from the
    // server. Each thread runs its own single-threaded runtime with every T-th stream (as the
    // server shards connections): no work-stealing or cross-thread wake-ups in the client.
    let threads: usize = std::env::var("LOADGEN_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1)
        .max(1);
    // Same fd-table stall as the server's (see mock_inference::pregrow_fd_table).
    mock_inference::pregrow_fd_table();
    let started = Instant::now();
    let shard = move |t: usize, addr: String, model: String| -> Vec<StreamResult> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let mut handles = Vec::with_capacity(streams / threads + 1);
            for i in (t..streams).step_by(threads) {
                // Streams start spread over the ramp, so their token times are spread over
                // the ITL period the way independent users' are.
                let delay =
                    Duration::from_micros(ramp_ms * 1000 * i as u64 / streams.max(1) as u64);
                let (addr, model) = (addr.clone(), model.clone());
                handles.push(tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    one_stream(addr, tokens, itl_ms, model, api).await
                }));
            }
            let mut out = Vec::with_capacity(handles.len());
            for h in handles {
                out.push(h.await.expect("stream task"));
            }
            out
        })
    };
    let results: Vec<StreamResult> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (addr, model) = (addr.clone(), model.clone());
                scope.spawn(move || shard(t, addr, model))
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("load thread"))
            .collect()
    });
    let elapsed = started.elapsed();
    let itl_us = itl_ms * 1000;
    let mut jitter: Vec<u64> = results
        .iter()
        .flat_map(|r| r.gaps_us.iter().map(|g| g.abs_diff(itl_us)))
        .collect();
    let mut wire_jitter: Vec<u64> = results
        .iter()
        .flat_map(|r| r.wire_jitter_us.iter().copied())
        .collect();
    let wire_spans: usize = results.iter().map(|r| r.wire_spans).sum();
    let lost_streams = results
        .iter()
        .filter(|r| r.deltas != tokens || !r.done)
        .count();
    let lost_tokens: usize = results
        .iter()
        .map(|r| tokens.saturating_sub(r.deltas))
        .sum();
    let errors: Vec<&String> = results.iter().filter_map(|r| r.error.as_ref()).collect();
    let total_tokens: usize = results.iter().map(|r| r.deltas).sum();
    let report = serde_json::json!({
        "api": api_name,
        "streams": streams,
        "tokens_per_stream": tokens,
        "itl_ms": itl_ms,
        "elapsed_s": (elapsed.as_secs_f64() * 100.0).round() / 100.0,
        "tokens_received": total_tokens,
        "lost_tokens": lost_tokens,
        "incomplete_streams": lost_streams,
        "errors": errors.len(),
        "jitter_ms": distribution_ms(&mut jitter),
        "wire_jitter_ms": distribution_ms(&mut wire_jitter),
        "wire_gaps": wire_jitter.len(),
        "wire_p99_ms_per_100ms": wire_p99_per_100ms(&results),
        "wire_spans": wire_spans,
        // This client's CPU: the bench adds it to the server's to show what the machine
        // had to give at the peak.
        "cpu_s": cpu_seconds(),
    });
    println!("{report}");
    if let Some(e) = errors.first() {
        eprintln!("first error: {e}");
    }
    ExitCode::SUCCESS
}
