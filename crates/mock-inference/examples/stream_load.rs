//! Streaming load client for scripts/bench/mock.sh: opens N concurrent chat streams against a
//! mock-inference started with a fixed inter-token latency, and reports the inter-token
//! jitter (|gap − ITL| between consecutive content deltas, as the client sees them) and any
//! lost tokens (a stream with fewer content deltas than `max_tokens`, or no `[DONE]`).
//!
//! Raw HTTP/1.1 over tokio TCP keeps the client's own overhead small: it shares the machine
//! with the server, and its delays count against the jitter figure.
//!
//! `cargo run --release -p mock-inference --example stream_load -- 127.0.0.1:8000 2000 50 20`

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

struct StreamResult {
    deltas: usize,
    done: bool,
    gaps_us: Vec<u64>,
    error: Option<String>,
}

async fn one_stream(addr: String, tokens: usize, model: String) -> StreamResult {
    let mut res = StreamResult {
        deltas: 0,
        done: false,
        gaps_us: Vec::with_capacity(tokens),
        error: None,
    };
    let body = format!(
        r#"{{"model":"{model}","messages":[{{"role":"user","content":"stream please"}}],"stream":true,"max_tokens":{tokens}}}"#
    );
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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
    if let Err(e) = tcp.write_all(req.as_bytes()).await {
        res.error = Some(format!("write: {e}"));
        return res;
    }
    // Small per-stream buffers: 2,000 streams × 64 KiB spread the reads over 128 MiB of
    // cache-cold memory; an SSE chunk is a few hundred bytes.
    let mut buf = vec![0u8; 8 * 1024];
    let mut carry: Vec<u8> = Vec::new();
    let mut last: Option<Instant> = None;
    loop {
        let n = match tcp.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                res.error = Some(format!("read: {e}"));
                break;
            }
        };
        let now = Instant::now();
        carry.extend_from_slice(&buf[..n]);
        // Count whole events only; keep a partial tail for the next read.
        let mut start = 0;
        while let Some(end) = find_blank_line(&carry[start..]) {
            // Events are ASCII-framed; from_utf8 is a fast validated view for str::contains.
            let event = std::str::from_utf8(&carry[start..start + end]).unwrap_or("");
            if event.contains("\"delta\":{\"content\":\"") {
                res.deltas += 1;
                if let Some(prev) = last {
                    res.gaps_us.push((now - prev).as_micros() as u64);
                }
                last = Some(now);
            }
            if event.contains("data: [DONE]") {
                res.done = true;
            }
            start += end + 2;
        }
        carry.drain(..start);
        if res.done {
            break;
        }
    }
    res
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

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args
        .first()
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:8000".into());
    let streams: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let tokens: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(50);
    let itl_ms: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(20);
    let ramp_ms: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1000);
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
                    one_stream(addr, tokens, model).await
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
    jitter.sort_unstable();
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
    println!(
        "{{\"streams\":{streams},\"tokens_per_stream\":{tokens},\"itl_ms\":{itl_ms},\"elapsed_s\":{:.2},\"tokens_received\":{total_tokens},\"lost_tokens\":{lost_tokens},\"incomplete_streams\":{lost_streams},\"errors\":{},\"jitter_ms\":{{\"p50\":{:.3},\"p90\":{:.3},\"p99\":{:.3},\"max\":{:.3}}}}}",
        elapsed.as_secs_f64(),
        errors.len(),
        percentile(&jitter, 0.50) as f64 / 1000.0,
        percentile(&jitter, 0.90) as f64 / 1000.0,
        percentile(&jitter, 0.99) as f64 / 1000.0,
        jitter.last().copied().unwrap_or(0) as f64 / 1000.0,
    );
    if let Some(e) = errors.first() {
        eprintln!("first error: {e}");
    }
}
