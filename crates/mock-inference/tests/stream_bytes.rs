//! The exact bytes of streamed answers, as a golden file: seeded chat and completion streams
//! (stop, length, `n`, tool calls, logprobs, reasoning, the usage chunk, mid-stream faults)
//! and a Responses and a Messages stream, with only ids and timestamps redacted. The stream
//! writer's hot path is tuned for 2,000 concurrent streams (#17); this pins what it writes.
//! The same requests on a server with a token schedule (events written one by one as they
//! come due) and on one without (the whole stream in one write) give the same bytes.

mod common;

use common::{Server, client, metric};
use serde_json::{Value, json};

const CHAT: &str = "/v1/chat/completions";

struct Case {
    name: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: Value,
}

fn chat(extra: Value) -> Value {
    let mut v = json!({
        "model": "mock-gpt",
        "messages": [{"role": "user", "content": "Tell me about the weather"}],
        "stream": true,
        "seed": 7,
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

fn cases() -> Vec<Case> {
    let usage = json!({"include_usage": true});
    let tools = json!([
        {"type": "function", "function": {"name": "get_weather", "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
            "required": ["city", "unit"]}}},
        {"type": "function", "function": {"name": "get_time", "parameters": {
            "type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}}
    ]);
    vec![
        Case {
            name: "chat",
            path: CHAT,
            headers: &[],
            body: chat(json!({})),
        },
        Case {
            name: "chat n=2, stop, usage",
            path: CHAT,
            headers: &[],
            body: chat(json!({"n": 2, "stop": ["development"], "stream_options": usage})),
        },
        Case {
            name: "chat length, logprobs, usage",
            path: CHAT,
            headers: &[],
            body: chat(json!({"max_tokens": 5, "logprobs": true, "top_logprobs": 2,
                "stream_options": usage})),
        },
        Case {
            name: "chat lorem past the end (ignore_eos)",
            path: CHAT,
            headers: &[],
            body: chat(json!({"max_tokens": 30, "ignore_eos": true, "n": 2})),
        },
        Case {
            name: "chat two tool calls, usage",
            path: CHAT,
            headers: &[("X-Mock-Tool-Calls", "2")],
            body: chat(json!({"tools": tools, "tool_choice": "required",
                "stream_options": usage})),
        },
        Case {
            name: "chat reasoning, usage",
            path: CHAT,
            headers: &[],
            body: chat(json!({"model": "mock-reasoner", "reasoning_effort": "low",
                "stream_options": usage})),
        },
        Case {
            name: "chat stream error at 3",
            path: CHAT,
            headers: &[("X-Mock-Fault", "error@3")],
            body: chat(json!({"stream_options": usage})),
        },
        Case {
            name: "chat reset at 2",
            path: CHAT,
            headers: &[("X-Mock-Fault", "reset@2")],
            body: chat(json!({})),
        },
        Case {
            name: "chat stall at 2",
            path: CHAT,
            headers: &[("X-Mock-Fault", "stall@2:5")],
            body: chat(json!({"max_tokens": 4})),
        },
        Case {
            name: "completion n=2, logprobs, usage",
            path: "/v1/completions",
            headers: &[],
            body: json!({"model": "mock-gpt", "prompt": "Say hi", "stream": true, "seed": 3,
                "n": 2, "logprobs": 2, "max_tokens": 6, "stream_options": usage}),
        },
        Case {
            name: "completion stop",
            path: "/v1/completions",
            headers: &[],
            body: json!({"model": "mock-gpt", "prompt": "Say hi", "stream": true,
                "stop": ["mock"]}),
        },
        Case {
            name: "responses",
            path: "/v1/responses",
            headers: &[],
            body: json!({"model": "mock-gpt", "input": "Hi", "stream": true,
                "max_output_tokens": 16}),
        },
        Case {
            name: "messages",
            path: "/v1/messages",
            headers: &[],
            body: json!({"model": "mock-gpt", "max_tokens": 6, "stream": true,
                "messages": [{"role": "user", "content": "Hi"}]}),
        },
    ]
}

/// The body as it came, up to the end of the stream or the reset that cut it.
async fn raw_body(s: &Server, case: &Case) -> String {
    let mut req = client()
        .post(format!("{}{}", s.url, case.path))
        .json(&case.body);
    for (k, v) in case.headers {
        req = req.header(*k, *v);
    }
    let mut r = req.send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", case.name);
    let mut body = Vec::new();
    let mut cut = "";
    loop {
        match r.chunk().await {
            Ok(Some(bytes)) => body.extend_from_slice(&bytes),
            Ok(None) => break,
            Err(_) => {
                cut = "[connection reset]\n";
                break;
            }
        }
    }
    format!("{}{cut}", String::from_utf8(body).unwrap())
}

/// The length of the JSON string body at the start of `s` (up to its closing quote), escapes
/// skipped: token pieces hold escaped quotes.
fn string_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    while b[i] != b'"' {
        i += if b[i] == b'\\' { 2 } else { 1 };
    }
    i
}

/// `text` with the value of every key ending in `id` (response, message, item and call ids)
/// and of `created`/`created_at` replaced: they differ from run to run, nothing else may.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(q) = rest.find('"') {
        out.push_str(&rest[..=q]);
        rest = &rest[q + 1..];
        let end = string_len(rest);
        let key = &rest[..end];
        out.push_str(key);
        out.push('"');
        rest = &rest[end + 1..];
        if key.ends_with("id") && rest.starts_with(":\"") {
            let close = string_len(&rest[2..]) + 2;
            out.push_str(":\"[id]\"");
            rest = &rest[close + 1..];
        } else if (key == "created" || key == "created_at") && rest.starts_with(':') {
            let digits = rest[1..].bytes().take_while(u8::is_ascii_digit).count();
            out.push_str(":0");
            rest = &rest[1 + digits..];
        }
    }
    out.push_str(rest);
    out
}

async fn all_streams(s: &Server) -> String {
    let mut out = String::new();
    for case in cases() {
        out.push_str(&format!("### {}\n", case.name));
        out.push_str(&redact(&raw_body(s, &case).await));
    }
    out
}

#[tokio::test]
async fn seeded_streams_are_byte_for_byte_the_golden_ones() {
    let args = [
        "--reasoning-model",
        "mock-reasoner",
        "--response-mode",
        "lorem",
    ];
    let instant = Server::start(&args);
    let at_once = all_streams(&instant).await;
    let mut timed_args = args.to_vec();
    timed_args.extend(["--ttft-ms", "2", "--itl-ms", "1", "--itl-jitter-ms", "0.5"]);
    let timed = Server::start(&timed_args);
    let scheduled = all_streams(&timed).await;
    assert_eq!(
        at_once, scheduled,
        "one write or one per token: the same bytes"
    );
    insta::assert_snapshot!("seeded_streams", scheduled);
}

/// Every token after a stream's first adds one inter-token latency, near the schedule's gap;
/// the first adds one time to first token.
#[tokio::test]
async fn streamed_tokens_feed_the_latency_histograms() {
    let s = Server::start(&["--ttft-ms", "5", "--itl-ms", "4"]);
    let itl = "vllm:inter_token_latency_seconds";
    let ttft = "vllm:time_to_first_token_seconds";
    let (itl_count, ttft_count) = (
        metric(&s, &format!("{itl}_count")).await,
        metric(&s, &format!("{ttft}_count")).await,
    );
    let body = raw_body(
        &s,
        &Case {
            name: "chat",
            path: CHAT,
            headers: &[],
            body: chat(json!({"max_tokens": 6, "ignore_eos": true})),
        },
    )
    .await;
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
    assert_eq!(metric(&s, &format!("{ttft}_count")).await - ttft_count, 1.0);
    assert_eq!(metric(&s, &format!("{itl}_count")).await - itl_count, 5.0);
    let sum = metric(&s, &format!("{itl}_sum")).await;
    // Seconds, not milliseconds (that would be ~20); the top leaves a busy machine room.
    assert!((0.015..1.0).contains(&sum), "5 gaps of 4 ms: {sum} s");
}
