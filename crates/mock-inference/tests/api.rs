//! End-to-end tests against the real binary on a free loopback port.

mod common;

use std::time::{Duration, Instant};

use common::{
    Server, assert_metrics, client, merged, metric, post, post_fault, post_json, post_ok,
    post_stream, promtool_check, sse_events, which,
};
use serde_json::{Value, json};

const CHAT: &str = "/v1/chat/completions";

fn chat_body(extra: Value) -> Value {
    merged(
        json!({"model": "mock-gpt", "messages": [{"role": "user", "content": "Say hello"}]}),
        extra,
    )
}

#[tokio::test]
async fn chat_completion_matches_openai_shape() {
    let s = Server::start(&[]);
    let v = post_ok(&s, "/v1/chat/completions", &[], &chat_body(json!({}))).await;
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(v["object"], "chat.completion");
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(v["model"], "mock-gpt");
    assert_eq!(v["system_fingerprint"], "fp_devenv_mock");
    let choice = &v["choices"][0];
    assert_eq!(
        choice["message"]["content"],
        "This is a mock response from the development inference engine."
    );
    assert_eq!(choice["finish_reason"], "stop");
    // cl100k: the sentence is 11 tokens; "Say hello" as one user message is 3+1+2+3 = 9.
    assert_eq!(v["usage"]["completion_tokens"], 11);
    assert_eq!(v["usage"]["prompt_tokens"], 9);
    assert_eq!(v["usage"]["total_tokens"], 20);
}

#[tokio::test]
async fn stream_has_role_content_finish_usage_done() {
    let s = Server::start(&["--itl-ms", "2"]);
    let body = chat_body(
        json!({"stream": true, "stream_options": {"include_usage": true}, "max_tokens": 4}),
    );
    let text = post_stream(&s, "/v1/chat/completions", &[], &body).await;
    let events = sse_events(&text);
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "This is a mock");
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "length");
    let usage = chunks.last().unwrap();
    assert_eq!(usage["choices"].as_array().unwrap().len(), 0);
    assert_eq!(usage["usage"]["completion_tokens"], 4);
    let ids: std::collections::HashSet<_> = chunks.iter().map(|c| c["id"].clone()).collect();
    assert_eq!(ids.len(), 1, "one id across the stream");
}

#[tokio::test]
async fn honoured_fields_stop_n_seed_and_json() {
    let s = Server::start(&["--response-mode", "lorem"]);
    let (_, _, a) = post(
        &s,
        "/v1/chat/completions",
        &chat_body(json!({"seed": 7, "n": 2})),
    )
    .await;
    let (_, _, b) = post(
        &s,
        "/v1/chat/completions",
        &chat_body(json!({"seed": 7, "n": 2})),
    )
    .await;
    let (_, _, c) = post(
        &s,
        "/v1/chat/completions",
        &chat_body(json!({"seed": 8, "n": 2})),
    )
    .await;
    let text = |body: &str, i: usize| {
        serde_json::from_str::<Value>(body).unwrap()["choices"][i]["message"]["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(text(&a, 0), text(&b, 0), "same seed, same text");
    assert_ne!(text(&a, 0), text(&c, 0), "other seed, other text");
    assert_ne!(text(&a, 0), text(&a, 1), "choices differ");

    let fixed = Server::start(&[]);
    let (_, v) = post_json(
        &fixed,
        "/v1/chat/completions",
        &[],
        &chat_body(json!({"stop": ["mock"]})),
    )
    .await;
    assert_eq!(v["choices"][0]["message"]["content"], "This is a ");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");

    let schema = json!({"type": "object", "properties": {"answer": {"type": "integer", "minimum": 3}, "tags": {"type": "array", "items": {"type": "string"}}}, "required": ["answer", "tags"]});
    let (_, v) = post_json(&fixed, "/v1/chat/completions", &[], &chat_body(json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}}))).await;
    let content: Value =
        serde_json::from_str(v["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(content["answer"], 3);
    assert!(content["tags"].is_array());
}

#[tokio::test]
async fn tool_calls_stream_with_index_and_valid_arguments() {
    let s = Server::start(&[]);
    let tools = json!([
        {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}}, "required": ["city", "unit"]}}}
    ]);
    let body = chat_body(
        json!({"stream": true, "tools": tools, "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}),
    );
    let (_, _, text) = post(&s, "/v1/chat/completions", &body).await;
    let events = sse_events(&text);
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let first = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(first["index"], 0);
    assert_eq!(first["function"]["name"], "get_weather");
    assert!(first["id"].as_str().unwrap().starts_with("call_"));
    let args: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .collect();
    let args: Value = serde_json::from_str(&args).unwrap();
    assert_eq!(args, json!({"city": "mock", "unit": "c"}));
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn completions_embeddings_models() {
    let s = Server::start_env(&[], &[("MODEL_NAME", "team-model")]);
    let v = post_ok(
        &s,
        "/v1/completions",
        &[],
        &json!({"model": "team-model", "prompt": "Once upon", "max_tokens": 3, "echo": true}),
    )
    .await;
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["choices"][0]["text"], "Once uponThis is a");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(v["usage"]["prompt_tokens"], 2);
    assert_eq!(v["usage"]["completion_tokens"], 3);

    let v = post_ok(
        &s,
        "/v1/embeddings",
        &[],
        &json!({"model": "team-model", "input": ["a", "b"], "dimensions": 8}),
    )
    .await;
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][1]["embedding"].as_array().unwrap().len(), 8);

    let models: Value = client()
        .get(format!("{}/v1/models", s.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "team-model");
    assert_eq!(
        models["data"].as_array().unwrap().len(),
        1,
        "MODEL_NAME replaces the default"
    );
    assert_eq!(common::get(&s, "/v1/models/team-model").await.0, 200);
    assert_eq!(common::get(&s, "/v1/models/nope").await.0, 404);
    let (status, _, body) = post(
        &s,
        "/v1/chat/completions",
        &chat_body(json!({"model": "other"})),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["code"],
        "model_not_found"
    );
}

/// Sixty malformed requests: every answer a 4xx with an OpenAI error body, never a 5xx.
#[tokio::test]
async fn malformed_requests_get_4xx_openai_errors() {
    let s = Server::start(&["--max-body-bytes", "4096"]);
    let msgs = json!([{"role": "user", "content": "x"}]);
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let raw = |p: &'static str, b: &str| (p, b.as_bytes().to_vec());
    for b in [
        "",
        "{",
        "}",
        "null",
        "[]",
        "42",
        "\"str\"",
        "{\"model\":",
        "{'model':'x'}",
        "{\"model\":\"mock-gpt\",}",
        "\u{0}\u{1}",
        "{\"a\":1}{\"b\":2}",
    ] {
        cases.push(raw("/v1/chat/completions", b));
    }
    let chat_cases = [
        json!({}),
        json!({"model": "mock-gpt"}),
        json!({"messages": msgs}),
        json!({"model": 5, "messages": msgs}),
        json!({"model": "mock-gpt", "messages": "hi"}),
        json!({"model": "mock-gpt", "messages": []}),
        json!({"model": "mock-gpt", "messages": [1]}),
        json!({"model": "mock-gpt", "messages": [{"content": "x"}]}),
        json!({"model": "mock-gpt", "messages": [{"role": "robot", "content": "x"}]}),
        json!({"model": "mock-gpt", "messages": [{"role": "user", "content": 5}]}),
        json!({"model": "mock-gpt", "messages": [{"role": "user"}]}),
        json!({"model": "mock-gpt", "messages": [{"role": "user", "content": [{"text": "x"}]}]}),
        json!({"model": "mock-gpt", "messages": [{"role": "tool", "content": "x"}]}),
        json!({"model": "mock-gpt", "messages": msgs, "max_tokens": "5"}),
        json!({"model": "mock-gpt", "messages": msgs, "max_tokens": -1}),
        json!({"model": "mock-gpt", "messages": msgs, "max_tokens": 0}),
        json!({"model": "mock-gpt", "messages": msgs, "max_tokens": 1.5}),
        json!({"model": "mock-gpt", "messages": msgs, "max_tokens": 99999999999u64}),
        json!({"model": "mock-gpt", "messages": msgs, "n": 0}),
        json!({"model": "mock-gpt", "messages": msgs, "n": 1000}),
        json!({"model": "mock-gpt", "messages": msgs, "n": "2"}),
        json!({"model": "mock-gpt", "messages": msgs, "temperature": 3}),
        json!({"model": "mock-gpt", "messages": msgs, "temperature": "hot"}),
        json!({"model": "mock-gpt", "messages": msgs, "top_p": 2}),
        json!({"model": "mock-gpt", "messages": msgs, "presence_penalty": -9}),
        json!({"model": "mock-gpt", "messages": msgs, "stream": "yes"}),
        json!({"model": "mock-gpt", "messages": msgs, "stream_options": {"include_usage": true}}),
        json!({"model": "mock-gpt", "messages": msgs, "stream": true, "stream_options": {"include_usage": 1}}),
        json!({"model": "mock-gpt", "messages": msgs, "stop": 5}),
        json!({"model": "mock-gpt", "messages": msgs, "stop": [1, 2]}),
        json!({"model": "mock-gpt", "messages": msgs, "stop": ["a", "b", "c", "d", "e"]}),
        json!({"model": "mock-gpt", "messages": msgs, "seed": "x"}),
        json!({"model": "mock-gpt", "messages": msgs, "tools": {}}),
        json!({"model": "mock-gpt", "messages": msgs, "tools": [{"type": "function"}]}),
        json!({"model": "mock-gpt", "messages": msgs, "tools": [{"type": "retrieval", "function": {"name": "f"}}]}),
        json!({"model": "mock-gpt", "messages": msgs, "tools": [{"type": "function", "function": {"name": "bad name!"}}]}),
        json!({"model": "mock-gpt", "messages": msgs, "tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]}),
        json!({"model": "mock-gpt", "messages": msgs, "tool_choice": "auto"}),
        json!({"model": "mock-gpt", "messages": msgs, "tool_choice": "sometimes", "tools": [{"type": "function", "function": {"name": "f"}}]}),
        json!({"model": "mock-gpt", "messages": msgs, "tool_choice": {"type": "function", "function": {"name": "g"}}, "tools": [{"type": "function", "function": {"name": "f"}}]}),
        json!({"model": "mock-gpt", "messages": msgs, "response_format": "json"}),
        json!({"model": "mock-gpt", "messages": msgs, "response_format": {"type": "xml"}}),
        json!({"model": "mock-gpt", "messages": msgs, "response_format": {"type": "json_schema"}}),
        json!({"model": "mock-gpt", "messages": msgs, "response_format": {"type": "json_schema", "json_schema": {"schema": {}}}}),
        json!({"model": "nope", "messages": msgs}),
    ];
    for c in &chat_cases {
        cases.push(("/v1/chat/completions", serde_json::to_vec(c).unwrap()));
    }
    for c in [
        json!({"model": "mock-gpt"}),
        json!({"model": "mock-gpt", "prompt": 5}),
        json!({"model": "mock-gpt", "prompt": [1, "a"]}),
        json!({"model": "mock-gpt", "prompt": []}),
        json!({"model": "mock-gpt", "prompt": "x", "echo": "yes"}),
        json!({"model": "mock-gpt", "prompt": "x", "n": 100, "max_tokens": 1, "best_of": 1, "stop": 3}),
    ] {
        cases.push(("/v1/completions", serde_json::to_vec(&c).unwrap()));
    }
    for c in [
        json!({"model": "mock-gpt"}),
        json!({"model": "mock-gpt", "input": ""}),
        json!({"model": "mock-gpt", "input": [[]]}),
        json!({"model": "mock-gpt", "input": "x", "encoding_format": "hex"}),
        json!({"model": "mock-gpt", "input": "x", "dimensions": 0}),
        json!({"model": "mock-gpt", "input": {"text": "x"}}),
    ] {
        cases.push(("/v1/embeddings", serde_json::to_vec(&c).unwrap()));
    }
    cases.push(("/v1/chat/completions", vec![b'x'; 10_000]));
    let huge =
        json!({"model": "mock-gpt", "messages": [{"role": "user", "content": "y".repeat(8000)}]});
    cases.push(("/v1/chat/completions", serde_json::to_vec(&huge).unwrap()));
    assert!(cases.len() >= 50, "{} cases", cases.len());

    for path in ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"] {
        let of_path: Vec<Vec<u8>> = cases
            .iter()
            .filter(|(p, _)| *p == path)
            .map(|(_, b)| b.clone())
            .collect();
        common::assert_4xx_bodies(&s, path, &of_path, |shown, _, v| {
            common::assert_openai_error(shown, v)
        })
        .await;
    }
    let http = client();
    let (status, _) = common::raw_get(&s.addr(), "/health").unwrap();
    assert_eq!(status, 200, "still serving after the malformed batch");
    // The over-limit bodies are 413, a wrongly typed field names its parameter.
    let r = http
        .post(format!("{}/v1/chat/completions", s.url))
        .body(vec![b'x'; 10_000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let (_, v) = post_json(
        &s,
        "/v1/chat/completions",
        &[],
        &chat_body(json!({"max_tokens": "5"})),
    )
    .await;
    assert_eq!(v["error"]["param"], "max_tokens");
    assert_eq!(v["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn fault_header_and_seeded_schedule() {
    let s = Server::start(&[]);
    let streamed = chat_body(json!({"stream": true}));
    for (fault, status) in [("429", 429), ("500", 500), ("503", 503)] {
        let r = post_fault(&s, CHAT, fault, &chat_body(json!({}))).await;
        assert_eq!(r.status().as_u16(), status);
        if status != 500 {
            assert!(r.headers().contains_key("retry-after"));
        }
        let v: Value = r.json().await.unwrap();
        assert!(v["error"]["message"].is_string());
    }
    // Error event at token 3: three content deltas, then the error, no [DONE].
    let r = post_fault(&s, CHAT, "error@3", &streamed).await;
    let events = sse_events(&r.text().await.unwrap());
    assert!(events.last().unwrap().contains("\"error\""));
    assert!(!events.iter().any(|e| e == "[DONE]"));
    let contents = events
        .iter()
        .filter(|e| e.contains("\"content\":\"") && !e.contains("\"content\":\"\""))
        .count();
    assert_eq!(contents, 3);
    // Reset: the body ends abruptly, the client sees an error.
    let r = post_fault(&s, CHAT, "reset@2", &streamed).await;
    assert!(r.text().await.is_err(), "reset must break the body");
    // Stall: the gap shows up in the timing.
    let t = Instant::now();
    let r = post_fault(&s, CHAT, "stall@2:300", &streamed).await;
    let events = sse_events(&r.text().await.unwrap());
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(events.last().unwrap(), "[DONE]");

    // Same seed → same fault schedule across two fresh servers.
    let schedule = |seed: &'static str| {
        let args = [
            "--fault-seed",
            seed,
            "--error-rate",
            "0.3",
            "--error-statuses",
            "500,503",
        ];
        async move { common::statuses(&args, "/v1/chat/completions", &chat_body(json!({})), 30).await }
    };
    let a = schedule("42").await;
    let b = schedule("42").await;
    let c = schedule("43").await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.contains(&200) && a.iter().any(|s| *s >= 500));
}

/// Sends raw bytes on one connection and reads until the server closes it (or 2 s pass).
fn raw_exchange(addr: &str, chunks: &[&[u8]]) -> (String, Option<std::io::ErrorKind>) {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    for c in chunks {
        s.write_all(c).unwrap();
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let err = loop {
        match s.read(&mut buf) {
            Ok(0) => break None,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => break Some(e.kind()),
        }
    };
    (String::from_utf8_lossy(&out).into_owned(), err)
}

/// The server's own HTTP/1.1 loop: pipelining, keep-alive and close, bad heads as OpenAI
/// errors, HEAD, and the requests it hands to hyper (HTTP/1.0, chunked bodies, Expect).
#[tokio::test]
async fn http1_framing_pipelining_and_handoff() {
    // A token gap makes streams chunked (without one the whole stream is one body).
    let s = Server::start(&["--itl-ms", "2"]);
    let addr = s.addr();
    let body = serde_json::to_string(&chat_body(json!({}))).unwrap();
    let post = |extra: &str| {
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
            body.len()
        )
    };
    // Two pipelined requests in one write, the second asking to close: two answers in order.
    let two = format!("{}{}", post(""), post("Connection: close\r\n"));
    let (out, err) = raw_exchange(&addr, &[two.as_bytes()]);
    assert_eq!(err, None, "{out}");
    assert_eq!(out.matches("HTTP/1.1 200 OK\r\n").count(), 2, "{out}");
    assert_eq!(
        out.matches("\"object\":\"chat.completion\"").count(),
        2,
        "{out}"
    );
    assert!(out.contains("\r\nconnection: close\r\n"), "{out}");
    assert!(out.contains("\r\ndate: "), "{out}");
    // A request split across writes (head, then the body in two parts).
    let one = post("Connection: close\r\n");
    let (head, rest) = one.split_at(one.find("\r\n\r\n").unwrap() + 4);
    let (b1, b2) = rest.split_at(rest.len() / 2);
    let (out, _) = raw_exchange(&addr, &[head.as_bytes(), b1.as_bytes(), b2.as_bytes()]);
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    // Streams are chunked, end with the zero chunk, and keep the connection.
    let stream_body =
        serde_json::to_string(&chat_body(json!({"stream": true, "max_tokens": 3}))).unwrap();
    let stream = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{stream_body}GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        stream_body.len()
    );
    let (out, _) = raw_exchange(&addr, &[stream.as_bytes()]);
    assert!(out.contains("transfer-encoding: chunked\r\n"), "{out}");
    assert!(
        out.contains("data: [DONE]\n\n\r\n0\r\n\r\nHTTP/1.1 200 OK"),
        "{out}"
    );
    // HEAD: headers only.
    let (out, _) = raw_exchange(
        &addr,
        &[b"HEAD /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"],
    );
    assert!(
        out.starts_with("HTTP/1.1 200 OK\r\n") && out.ends_with("\r\n\r\n"),
        "{out}"
    );
    // Malformed heads: OpenAI error bodies, then the connection closes.
    for (raw, status) in [
        ("GARBAGE\r\n\r\n".to_string(), "400"),
        (
            "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n".to_string(),
            "400",
        ),
        (
            format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(70_000)),
            "431",
        ),
        (
            format!("GET / HTTP/1.1\r\n{}\r\n", "X-A: 1\r\n".repeat(100)),
            "431",
        ),
    ] {
        let (out, _) = raw_exchange(&addr, &[raw.as_bytes()]);
        assert!(
            out.starts_with(&format!("HTTP/1.1 {status} ")),
            "{status}: {out}"
        );
        assert!(out.contains("\"error\":{\"message\":"), "{out}");
        assert!(out.contains("\r\nconnection: close\r\n"), "{out}");
    }
    // Over the body limit: 413 before the body is read.
    let big = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n";
    let (out, _) = raw_exchange(&addr, &[big.as_bytes()]);
    assert!(out.starts_with("HTTP/1.1 413 "), "{out}");
    // Handed to hyper: HTTP/1.0, a chunked request body, Expect: 100-continue.
    let (out, _) = raw_exchange(&addr, &[b"GET /health HTTP/1.0\r\n\r\n"]);
    assert!(
        out.starts_with("HTTP/1.0 200 OK\r\n") && out.ends_with("{\"status\":\"ok\"}"),
        "{out}"
    );
    // A request whose body comes as one chunk of a chunked transfer.
    let chunked = |body: &str| {
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        )
    };
    let (out, _) = raw_exchange(&addr, &[chunked(&body).as_bytes()]);
    assert!(
        out.starts_with("HTTP/1.1 200 OK\r\n") && out.contains("chat.completion"),
        "{out}"
    );
    // A stream on a handed-off connection: hyper polls the response body, which writes the
    // same events as the server's own loop.
    let (out, _) = raw_exchange(&addr, &[chunked(&stream_body).as_bytes()]);
    assert!(
        out.starts_with("HTTP/1.1 200 OK\r\n")
            && out.matches("\"delta\":{\"content\":").count() == 3
            && out.contains("data: [DONE]\n\n"),
        "{out}"
    );
    let expect = post("Expect: 100-continue\r\nConnection: close\r\n");
    let (head, rest) = expect.split_at(expect.find("\r\n\r\n").unwrap() + 4);
    let (out, _) = raw_exchange(&addr, &[head.as_bytes(), rest.as_bytes()]);
    assert!(out.contains("chat.completion"), "{out}");
    // The reset fault is a real TCP reset.
    let reset_body = serde_json::to_string(&chat_body(json!({"stream": true}))).unwrap();
    let reset = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Mock-Fault: reset@2\r\nContent-Length: {}\r\n\r\n{reset_body}",
        reset_body.len()
    );
    let (out, err) = raw_exchange(&addr, &[reset.as_bytes()]);
    assert_eq!(err, Some(std::io::ErrorKind::ConnectionReset), "{out}");
    let (status, _) = common::raw_get(&addr, "/health").unwrap();
    assert_eq!(status, 200, "still serving");
}

#[tokio::test]
async fn queue_full_gives_429_with_retry_after() {
    let s = Server::start(&[
        "--max-running",
        "1",
        "--max-queue",
        "1",
        // Long enough that the first request is still running while the test queues the
        // second and sends the third, however busy the machine.
        "--ttft-ms",
        "2000",
        "--retry-after-secs",
        "2",
    ]);
    let url = format!("{}/v1/chat/completions", s.url);
    let body = chat_body(json!({}));
    let mut handles = Vec::new();
    for _ in 0..2 {
        let (url, body) = (url.clone(), body.clone());
        handles.push(tokio::spawn(async move {
            client()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
        // Admission order matters for the assertion below, not timing: wait until counted.
        let want = handles.len() as i64;
        wait_metric(
            &s,
            if want == 1 {
                "vllm:num_requests_running"
            } else {
                "vllm:num_requests_waiting"
            },
            1,
        )
        .await;
    }
    let r = client().post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    for h in handles {
        assert_eq!(h.await.unwrap(), 200);
    }
}

async fn wait_metric(s: &Server, name: &str, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if metric(s, name).await as i64 == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{name} never reached {want}");
}

#[tokio::test]
async fn metrics_count_and_pass_promtool() {
    let s = Server::start(&["--itl-ms", "1"]);
    for stream in [false, true] {
        let (status, _, _) = post(
            &s,
            "/v1/chat/completions",
            &chat_body(json!({"stream": stream})),
        )
        .await;
        assert_eq!(status, 200);
    }
    assert_metrics(
        &s,
        &[
            ("vllm:generation_tokens_total", 22.0),
            ("vllm:prompt_tokens_total", 18.0),
            ("vllm:time_to_first_token_seconds_count", 2.0),
            ("vllm:inter_token_latency_seconds_count", 10.0),
        ],
    )
    .await;
    let text = common::metrics_text(&s).await;
    for name in [
        "vllm:time_to_first_token_seconds",
        "vllm:inter_token_latency_seconds",
        "vllm:e2e_request_latency_seconds",
        "vllm:num_requests_running",
        "vllm:num_requests_waiting",
        "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total",
        "vllm:request_success_total",
    ] {
        assert!(text.contains(&format!("# TYPE {name} ")), "{name} missing");
    }
    let Some(promtool) = which("promtool") else {
        panic!(
            "promtool is not installed: run `make setup` (scripts/dev/setup.d/mock-inference.sh installs Debian's prometheus)"
        );
    };
    // vLLM's names contain ':', which promtool's linter always flags; every other rule must pass.
    let (code, out) = promtool_check(&promtool, &text);
    let problems: Vec<&str> = out
        .lines()
        .filter(|l| !l.ends_with("metric names should not contain ':'"))
        .collect();
    assert!(problems.is_empty(), "promtool: {out}");
    assert!(code == 0 || code == 3, "promtool exit {code}: {out}");
    // With colon-free names the exposition passes promtool outright.
    let u = Server::start(&["--metric-names", "underscore"]);
    post(&u, "/v1/chat/completions", &chat_body(json!({}))).await;
    let text = common::metrics_text(&u).await;
    let (code, out) = promtool_check(&promtool, &text);
    assert_eq!(code, 0, "promtool: {out}");
}

#[tokio::test]
async fn latency_profile_shapes_ttft_and_itl() {
    let s = Server::start(&["--ttft-ms", "150", "--itl-ms", "20"]);
    let t = Instant::now();
    let r = client()
        .post(format!("{}/v1/chat/completions", s.url))
        .json(&chat_body(json!({"stream": true, "max_tokens": 6})))
        .send()
        .await
        .unwrap();
    let mut r = r;
    let first = r.chunk().await.unwrap().unwrap();
    let ttft = t.elapsed();
    assert!(String::from_utf8_lossy(&first).contains("assistant"));
    while r.chunk().await.unwrap().is_some() {}
    let total = t.elapsed();
    assert!(
        ttft >= Duration::from_millis(150) && ttft < Duration::from_millis(2000),
        "ttft {ttft:?}"
    );
    // 5 more tokens at 20 ms after the first.
    assert!(total >= Duration::from_millis(250), "total {total:?}");
}

#[tokio::test]
async fn sigterm_drains_open_streams_then_exits() {
    let mut s = Server::start(&["--itl-ms", "50", "--drain-deadline-secs", "5"]);
    let url = format!("{}/v1/chat/completions", s.url);
    let stream = tokio::spawn(async move {
        client()
            .post(url)
            .json(&chat_body(json!({"stream": true, "max_tokens": 10})))
            .send()
            .await
            .unwrap()
            .text()
            .await
    });
    // Two idle keep-alive connections: one on the server's own loop, one handed to hyper
    // (a chunked request body). Neither may hold the drain open until its deadline.
    use std::io::{Read as _, Write as _};
    let mut idle = Vec::new();
    for req in [
        "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ] {
        let mut c = std::net::TcpStream::connect(s.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(req.as_bytes()).unwrap();
        let mut buf = [0u8; 4096];
        let n = c.read(&mut buf).unwrap();
        assert!(
            buf[..n].starts_with(b"HTTP/1.1 "),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        );
        idle.push(c);
    }
    wait_metric(&s, "vllm:num_requests_running", 1).await;
    s.signal("TERM");
    let body = stream.await.unwrap().expect("the open stream completes");
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
    // Well inside the 5 s drain deadline: idle connections do not count. (Held open by them,
    // the server would exit about 4.5 s after the 0.5 s stream ends.)
    let status = wait_exit(&mut s.child, Duration::from_millis(3500));
    assert_eq!(status, Some(0));
    assert!(
        std::net::TcpStream::connect(s.addr()).is_err(),
        "no longer accepting"
    );
}

fn wait_exit(child: &mut std::process::Child, within: Duration) -> Option<i32> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[tokio::test]
async fn config_file_and_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("scenario.yaml");
    std::fs::write(
        &scenario,
        r#"rules:
  - match: { message: "(?i)weather" }
    respond: { tool_call: { name: get_weather, arguments: { city: Paris } } }
  - match: { message: "flaky" }
    sequence:
      - error: { status: 503, message: "try again" }
      - text: "worked the second time"
"#,
    )
    .unwrap();
    let cfg = dir.path().join("mock.yaml");
    std::fs::write(
        &cfg,
        format!(
            "models: [alpha, beta]\nresponse:\n  mode: scenario\n  text: Fallback text.\n  scenario_file: {}\n",
            scenario.display()
        ),
    )
    .unwrap();
    let s = Server::start(&["--config", cfg.to_str().unwrap()]);
    let msg =
        |text: &str| json!({"model": "beta", "messages": [{"role": "user", "content": text}]});
    let (_, v) = post_json(&s, "/v1/chat/completions", &[], &msg("What's the weather?")).await;
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
        "{\"city\":\"Paris\"}"
    );
    let (status, _, body) = post(&s, "/v1/chat/completions", &msg("flaky")).await;
    assert_eq!(status, 503);
    assert!(body.contains("try again"));
    let (status, _, body) = post(&s, "/v1/chat/completions", &msg("flaky")).await;
    assert_eq!(status, 200);
    assert!(body.contains("worked the second time"));
    let (_, _, body) = post(&s, "/v1/chat/completions", &msg("anything")).await;
    assert!(body.contains("Fallback text."));

    // A broken config is a usage error (exit 2) naming the file and the fix.
    std::fs::write(&cfg, "modles: [x]\n").unwrap();
    let err = common::config_refused(&cfg);
    assert!(
        err.contains("mock.yaml") && err.contains("modles") && err.contains("fix:"),
        "{err}"
    );
}

/// The whole bodies, as snapshots: ids and timestamps redacted, everything else exact.
#[tokio::test]
async fn response_bodies_snapshot() {
    let s = Server::start(&[]);
    let (_, v) = post_json(&s, "/v1/chat/completions", &[], &chat_body(json!({}))).await;
    insta::assert_json_snapshot!("chat_completion", v, {".id" => "[id]", ".created" => "[created]"});
    let body = chat_body(
        json!({"stream": true, "stream_options": {"include_usage": true}, "max_tokens": 2}),
    );
    let (_, _, text) = post(&s, "/v1/chat/completions", &body).await;
    let events: Vec<Value> = sse_events(&text)
        .iter()
        .map(|e| serde_json::from_str(e).unwrap_or(Value::String(e.clone())))
        .collect();
    insta::assert_json_snapshot!("chat_stream", events, {"[].id" => "[id]", "[].created" => "[created]"});
    let (_, _, body) = post(
        &s,
        "/v1/chat/completions",
        &chat_body(json!({"model": "gpt-nope"})),
    )
    .await;
    insta::assert_json_snapshot!(
        "unknown_model",
        serde_json::from_str::<Value>(&body).unwrap()
    );
}

/// Compose files and systemd units write switches as 1/0 or yes/no: the env forms take them.
#[tokio::test]
async fn switches_from_env_take_1_and_yes() {
    let s = Server::start_env(
        &[],
        &[
            ("MOCK_INFERENCE_STRICT", "1"),
            ("MOCK_INFERENCE_ACCEPT_ANY_MODEL", "yes"),
        ],
    );
    let (status, _, body) = post(
        &s,
        "/v1/chat/completions",
        &json!({"model": "any-model-at-all", "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(status, 200, "accept-any-model from env: {body}");
    let unknown_field = json!({"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}], "no_such_field": 1});
    let (status, _, body) = post(&s, "/v1/chat/completions", &unknown_field).await;
    assert_eq!(status, 400, "strict from env: {body}");
    assert!(body.contains("no_such_field"), "{body}");

    let off = Server::start_env(&[], &[("MOCK_INFERENCE_STRICT", "0")]);
    let (status, _, body) = post(&off, "/v1/chat/completions", &unknown_field).await;
    assert_eq!(status, 200, "MOCK_INFERENCE_STRICT=0 is off: {body}");
}
