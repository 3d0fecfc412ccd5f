//! The Anthropic Messages API against the real binary: bodies, stop reasons, the named event
//! stream, tool use, count_tokens, Anthropic's error bodies and the faults.

mod common;

use std::time::{Duration, Instant};

use common::{
    SENTENCE, Server, assert_metrics, client, merged, post, post_fault, post_ok, post_stream,
    post_with, sse_named, stream_error_at_2,
};
use serde_json::{Value, json};

const HEADERS: &[(&str, &str)] = &[
    ("x-api-key", "sk-ant-mock"),
    ("anthropic-version", "2023-06-01"),
];

fn body(extra: Value) -> Value {
    merged(
        json!({"model": "mock-gpt", "max_tokens": 256, "messages": [{"role": "user", "content": "Say hello"}]}),
        extra,
    )
}

async fn create(s: &Server, extra: Value) -> Value {
    let (status, _, text) = post_with(s, "/v1/messages", HEADERS, &body(extra)).await;
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

fn tools() -> Value {
    json!([
        {"name": "lookup", "description": "Search", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}},
        {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}, "days": {"type": "integer", "minimum": 2}}, "required": ["city", "unit", "days"]}}
    ])
}

#[tokio::test]
async fn message_matches_anthropic_shape_and_stop_reasons() {
    let s = Server::start(&[]);
    let v = create(
        &s,
        json!({"system": "Be brief.", "temperature": 0.5, "metadata": {"user_id": "u1"}}),
    )
    .await;
    assert!(v["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "mock-gpt");
    assert_eq!(v["content"], json!([{"type": "text", "text": SENTENCE}]));
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["stop_sequence"], Value::Null);
    assert_eq!(v["usage"]["output_tokens"], 11);
    assert_eq!(v["usage"]["cache_read_input_tokens"], 0);
    let plain = create(&s, json!({})).await;
    assert!(
        v["usage"]["input_tokens"].as_u64() > plain["usage"]["input_tokens"].as_u64(),
        "the system prompt counts as input"
    );
    // System as blocks works too.
    let blocks = create(
        &s,
        json!({"system": [{"type": "text", "text": "Be brief."}]}),
    )
    .await;
    assert_eq!(blocks["usage"]["input_tokens"], v["usage"]["input_tokens"]);

    let v = create(&s, json!({"max_tokens": 3})).await;
    assert_eq!(v["stop_reason"], "max_tokens");
    assert_eq!(v["content"][0]["text"], "This is a");
    assert_eq!(v["usage"]["output_tokens"], 3);
    let v = create(&s, json!({"stop_sequences": ["zebra", " response"]})).await;
    assert_eq!(v["stop_reason"], "stop_sequence");
    assert_eq!(v["stop_sequence"], " response");
    assert_eq!(v["content"][0]["text"], "This is a mock");
}

#[tokio::test]
async fn stream_sends_named_events_with_cumulative_usage() {
    let s = Server::start(&["--itl-ms", "2"]);
    let text = post_stream(&s, "/v1/messages", HEADERS, &body(json!({"stream": true}))).await;
    let events = sse_named(&text);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let mut want = vec!["message_start", "content_block_start", "ping"];
    want.extend(std::iter::repeat_n("content_block_delta", 11));
    want.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names, want);
    for (name, data) in &events {
        assert_eq!(data["type"], name.as_str(), "event line and type agree");
    }
    let start = &events[0].1["message"];
    assert!(start["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(start["content"], json!([]));
    assert_eq!(start["stop_reason"], Value::Null);
    assert_eq!(
        events[1].1["content_block"],
        json!({"type": "text", "text": ""})
    );
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, d)| {
            assert_eq!(d["index"], 0);
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(text, SENTENCE);
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 11);
    assert_eq!(
        delta["usage"]["input_tokens"],
        start["usage"]["input_tokens"]
    );
    assert_metrics(
        &s,
        &[
            ("vllm:time_to_first_token_seconds_count", 1.0),
            ("vllm:generation_tokens_total", 11.0),
        ],
    )
    .await;
    // A stop sequence in a stream.
    let (_, _, text) = post(
        &s,
        "/v1/messages",
        &body(json!({"stream": true, "stop_sequences": ["mock"]})),
    )
    .await;
    let events = sse_named(&text);
    let delta = &events[events.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "stop_sequence");
    assert_eq!(delta["delta"]["stop_sequence"], "mock");
}

#[tokio::test]
async fn latency_schedule_reaches_the_stream() {
    // A TTFT far beyond the request's own set-up (a debug client and server, on a machine
    // that may be busy), so "before the TTFT" cannot be mistaken for slow set-up.
    let s = Server::start(&["--ttft-ms", "1000", "--itl-ms", "20"]);
    let t = Instant::now();
    let mut r = client()
        .post(format!("{}/v1/messages", s.url))
        .json(&body(json!({"stream": true, "max_tokens": 6})))
        .send()
        .await
        .unwrap();
    let first = r.chunk().await.unwrap().unwrap();
    // message_start goes out at once; the first token after the TTFT.
    assert!(String::from_utf8_lossy(&first).starts_with("event: message_start"));
    assert!(
        t.elapsed() < Duration::from_millis(1000),
        "{:?}",
        t.elapsed()
    );
    let mut rest = Vec::new();
    while let Some(c) = r.chunk().await.unwrap() {
        rest.extend_from_slice(&c);
    }
    // TTFT + 5 gaps of 20 ms.
    assert!(
        t.elapsed() >= Duration::from_millis(1100),
        "{:?}",
        t.elapsed()
    );
    assert!(
        String::from_utf8_lossy(&rest)
            .ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
    );
}

#[tokio::test]
async fn tool_use_follows_the_schema_and_round_trips() {
    let s = Server::start(&["--itl-ms", "1"]);
    let v = create(
        &s,
        json!({"tools": tools(), "tool_choice": {"type": "tool", "name": "get_weather"}}),
    )
    .await;
    assert_eq!(v["stop_reason"], "tool_use");
    let block = &v["content"][0];
    assert_eq!(block["type"], "tool_use");
    assert_eq!(block["name"], "get_weather");
    assert!(block["id"].as_str().unwrap().starts_with("toolu_"));
    assert_eq!(
        block["input"],
        json!({"city": "mock", "unit": "c", "days": 2})
    );
    let any = create(
        &s,
        json!({"tools": tools(), "tool_choice": {"type": "any"}}),
    )
    .await;
    assert_eq!(any["content"][0]["name"], "lookup");
    let none = create(
        &s,
        json!({"tools": tools(), "tool_choice": {"type": "none"}}),
    )
    .await;
    assert_eq!(none["content"][0]["type"], "text");
    assert_eq!(none["stop_reason"], "end_turn");

    // Streamed: input_json_delta fragments add up to the input.
    let (_, _, text) = post(
        &s,
        "/v1/messages",
        &body(json!({"tools": tools(), "tool_choice": {"type": "tool", "name": "get_weather"}, "stream": true})),
    )
    .await;
    let events = sse_named(&text);
    let start = &events[1].1["content_block"];
    assert_eq!(start["type"], "tool_use");
    assert_eq!(start["input"], json!({}));
    let partial: String = events
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, d)| {
            assert_eq!(d["delta"]["type"], "input_json_delta");
            d["delta"]["partial_json"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&partial).unwrap(),
        block["input"]
    );
    assert_eq!(
        events[events.len() - 2].1["delta"]["stop_reason"],
        "tool_use"
    );

    // The tool's result goes back in; auto answers in words.
    let messages = json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [block]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block["id"], "content": "21 degrees"}]}
    ]);
    let v = create(&s, json!({"tools": tools(), "messages": messages})).await;
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["content"][0]["text"], SENTENCE);
}

#[tokio::test]
async fn count_tokens_agrees_with_usage() {
    let s = Server::start(&[]);
    let req = json!({
        "system": "You are terse.",
        "tools": tools(),
        "messages": [{"role": "user", "content": [{"type": "text", "text": "How warm is Paris today?"}]}]
    });
    let created = create(&s, req.clone()).await;
    let mut count_req = body(req);
    count_req.as_object_mut().unwrap().remove("max_tokens");
    let v = post_ok(&s, "/v1/messages/count_tokens", HEADERS, &count_req).await;
    assert_eq!(v["input_tokens"], created["usage"]["input_tokens"]);
    assert!(v["input_tokens"].as_u64().unwrap() > 20);
    let (status, _, text) = post(
        &s,
        "/v1/messages/count_tokens",
        &json!({"model": "mock-gpt", "messages": "x"}),
    )
    .await;
    assert_eq!(status, 400);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "invalid_request_error");
}

/// Malformed bodies: every answer a 4xx with Anthropic's error body, never a 5xx.
#[tokio::test]
async fn malformed_bodies_get_4xx_anthropic_errors() {
    let s = Server::start(&[]);
    let msgs = json!([{"role": "user", "content": "x"}]);
    let tool = json!({"name": "f", "input_schema": {"type": "object"}});
    let cases = common::bodies(
        &["", "{", "[]", "null", "7", "{\"model\":\"mock-gpt\",}"],
        &[
            json!({}),
            json!({"model": "mock-gpt", "messages": msgs}),
            json!({"max_tokens": 5, "messages": msgs}),
            json!({"model": "mock-gpt", "max_tokens": 5}),
            json!({"model": 5, "max_tokens": 5, "messages": msgs}),
            json!({"model": "mock-gpt", "max_tokens": "5", "messages": msgs}),
            json!({"model": "mock-gpt", "max_tokens": 0, "messages": msgs}),
            json!({"model": "mock-gpt", "max_tokens": -3, "messages": msgs}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": []}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": "hi"}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": [1]}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": [{"role": "user"}]}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": [{"role": "user", "content": 5}]}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text"}]}]}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "video"}]}]}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "tool_result"}]}]}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": "x"}]}]}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image"}]}]}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": msgs, "system": 5}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": msgs, "system": [{"type": "text"}]}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": msgs, "stop_sequences": "x"}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": msgs, "stop_sequences": [1]}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": msgs, "stream": "yes"}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": msgs, "temperature": 1.5}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": msgs, "top_k": -1}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": msgs, "metadata": {"user_id": 5}}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": msgs, "tools": {}}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": msgs, "tools": [{"name": "f"}]}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": msgs, "tools": [{"name": "bad name!", "input_schema": {}}]}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": msgs, "tools": [{"type": "web_search_20250305", "name": "w"}]}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": msgs, "tool_choice": "auto", "tools": [tool]}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": msgs, "tool_choice": {"type": "sometimes"}, "tools": [tool]}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": msgs, "tool_choice": {"type": "tool", "name": "g"}, "tools": [tool]}),
            json!({"model": "mock-gpt", "max_tokens": 5, "messages": msgs, "tool_choice": {"type": "any"}}),
            json!({"model": "nope", "max_tokens": 5, "messages": msgs}),
        ],
    );
    assert!(cases.len() >= 40, "{} cases", cases.len());
    common::assert_4xx_bodies(&s, "/v1/messages", &cases, |shown, status, v| {
        assert_eq!(v["type"], "error", "{shown}");
        let want = if status == 404 {
            "not_found_error"
        } else {
            "invalid_request_error"
        };
        assert_eq!(v["error"]["type"], want, "{shown}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{shown}"
        );
        assert!(
            v["error"].get("param").is_none(),
            "Anthropic's shape, not OpenAI's"
        );
    })
    .await;
}

#[tokio::test]
async fn faults_speak_anthropic() {
    let s = Server::start(&[]);
    let streamed = body(json!({"stream": true}));
    for (fault, status, kind) in [
        ("503", 529, "overloaded_error"),
        ("429", 429, "rate_limit_error"),
        ("500", 500, "api_error"),
    ] {
        let (got, headers, text) = post_with(
            &s,
            "/v1/messages",
            &[("X-Mock-Fault", fault)],
            &body(json!({})),
        )
        .await;
        assert_eq!(got, status, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], kind);
        if status != 500 {
            assert!(headers.contains_key("retry-after"));
        }
    }
    // A mid-stream error: two deltas, then an `error` event, no message_stop.
    let events = stream_error_at_2(&s, "/v1/messages", &streamed, "content_block_delta").await;
    let (name, last) = events.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(last["error"]["type"], "overloaded_error");
    assert!(!events.iter().any(|(n, _)| n == "message_stop"));
    // The reset fault cuts the stream.
    let r = post_fault(&s, "/v1/messages", "reset@2", &streamed).await;
    assert!(r.text().await.is_err(), "reset must break the body");
    // The seeded schedule, with overloads as 529.
    let args = [
        "--fault-seed",
        "5",
        "--error-rate",
        "0.4",
        "--error-statuses",
        "503",
    ];
    let req = body(json!({}));
    let schedule = || common::statuses(&args, "/v1/messages", &req, 20);
    let a = schedule().await;
    assert_eq!(a, schedule().await);
    assert!(a.contains(&200) && a.contains(&529), "{a:?}");
}
