//! Reasoning against the real binary: a model declared as reasoning (`--reasoning-model`)
//! streams its reasoning before the answer in chat (`reasoning`, or `reasoning_content`),
//! the Responses API (a `reasoning` item and its summary events) and, when the request
//! enables thinking, the Messages API (`thinking` blocks with a signature); the effort scales
//! its length.

mod common;

use common::{SENTENCE, Server, merged, post_json, post_ok, post_stream, sse_events, sse_named};
use serde_json::{Value, json};

const CHAT: &str = "/v1/chat/completions";
const REASONER: &str = "mock-reasoner";

fn chat(model: &str, extra: Value) -> Value {
    merged(
        json!({"model": model, "messages": [{"role": "user", "content": "Think"}]}),
        extra,
    )
}

fn server(extra: &[&str]) -> Server {
    let mut args = vec!["--reasoning-model", REASONER];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn reasoning_tokens(v: &Value) -> u64 {
    v["usage"]["completion_tokens_details"]["reasoning_tokens"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn chat_reasons_before_answering_scaled_by_effort() {
    let s = server(&[]);
    let v = post_ok(&s, CHAT, &[], &chat(REASONER, json!({}))).await;
    let message = &v["choices"][0]["message"];
    assert!(
        message["reasoning"].as_str().is_some_and(|r| !r.is_empty()),
        "{v}"
    );
    assert_eq!(message["content"], SENTENCE);
    assert_eq!(reasoning_tokens(&v), 64, "medium by default");
    assert_eq!(v["usage"]["completion_tokens"], 64 + 11);
    for (effort, tokens) in [("low", 16), ("medium", 64), ("high", 256), ("none", 0)] {
        let v = post_ok(
            &s,
            CHAT,
            &[],
            &chat(REASONER, json!({"reasoning_effort": effort})),
        )
        .await;
        assert_eq!(reasoning_tokens(&v), tokens, "{effort}");
    }
    // Not a reasoning model: no reasoning.
    let v = post_ok(&s, CHAT, &[], &chat("mock-gpt", json!({}))).await;
    assert!(v["choices"][0]["message"].get("reasoning").is_none());
    assert_eq!(reasoning_tokens(&v), 0);
    // The reasoning shares the token limit, leaving the answer at least one token.
    let v = post_ok(&s, CHAT, &[], &chat(REASONER, json!({"max_tokens": 20}))).await;
    assert_eq!(v["usage"]["completion_tokens"], 20);
    assert_eq!(reasoning_tokens(&v), 19);
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    let (status, v) = post_json(
        &s,
        CHAT,
        &[],
        &chat(REASONER, json!({"reasoning_effort": "max"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["param"], "reasoning_effort");

    // Streamed: the reasoning deltas, then the content deltas.
    let body = chat(
        REASONER,
        json!({"reasoning_effort": "low", "stream": true,
            "stream_options": {"include_usage": true}}),
    );
    let text = post_stream(&s, CHAT, &[], &body).await;
    let chunks: Vec<Value> = sse_events(&text)
        .iter()
        .filter(|e| *e != "[DONE]")
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let kinds: Vec<&str> = chunks
        .iter()
        .filter_map(|c| {
            let d = &c["choices"][0]["delta"];
            if d["reasoning"].is_string() {
                Some("r")
            } else {
                d["content"].as_str().filter(|t| !t.is_empty()).map(|_| "c")
            }
        })
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "r").count(), 16);
    assert_eq!(kinds.iter().filter(|k| **k == "c").count(), 11);
    assert!(
        kinds.windows(2).all(|w| w != ["c", "r"]),
        "reasoning comes first"
    );
    assert_eq!(reasoning_tokens(chunks.last().unwrap()), 16);
}

#[tokio::test]
async fn the_older_field_name_is_one_switch_away() {
    let s = server(&["--reasoning-field", "reasoning-content"]);
    let v = post_ok(&s, CHAT, &[], &chat(REASONER, json!({}))).await;
    let message = &v["choices"][0]["message"];
    assert!(message["reasoning_content"].is_string(), "{v}");
    assert!(message.get("reasoning").is_none());
    let text = post_stream(&s, CHAT, &[], &chat(REASONER, json!({"stream": true}))).await;
    assert!(text.contains("\"delta\":{\"reasoning_content\":"), "{text}");
}

#[tokio::test]
async fn responses_send_a_reasoning_item_with_its_summary_events() {
    let s = server(&[]);
    let body = json!({"model": REASONER, "input": "Think", "reasoning": {"effort": "low"}});
    let v = post_ok(&s, "/v1/responses", &[], &body).await;
    assert_eq!(v["output"][0]["type"], "reasoning", "{v}");
    assert!(v["output"][0]["id"].as_str().unwrap().starts_with("rs_"));
    assert_eq!(v["output"][0]["summary"][0]["type"], "summary_text");
    assert_eq!(v["output"][1]["type"], "message");
    assert_eq!(v["output"][1]["content"][0]["text"], SENTENCE);
    assert_eq!(v["usage"]["output_tokens_details"]["reasoning_tokens"], 16);
    assert_eq!(v["usage"]["output_tokens"], 16 + 11);
    assert_eq!(v["reasoning"]["effort"], "low");

    let body = merged(body, json!({"stream": true}));
    let events = sse_named(&post_stream(&s, "/v1/responses", &[], &body).await);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let deltas = |n: &str| names.iter().filter(|x| **x == n).count();
    assert_eq!(deltas("response.reasoning_summary_text.delta"), 16);
    assert_eq!(deltas("response.output_text.delta"), 11);
    let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert!(
        at("response.reasoning_summary_part.added") < at("response.reasoning_summary_text.delta")
    );
    assert!(at("response.reasoning_summary_text.done") < at("response.content_part.added"));
    assert!(at("response.reasoning_summary_part.done") < at("response.output_text.delta"));
    let items: Vec<(u64, &str)> = events
        .iter()
        .filter(|(n, _)| n == "response.output_item.added" || n == "response.output_item.done")
        .map(|(_, d)| {
            (
                d["output_index"].as_u64().unwrap(),
                d["item"]["type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        items,
        [
            (0, "reasoning"),
            (0, "reasoning"),
            (1, "message"),
            (1, "message")
        ]
    );
    let summary: String = events
        .iter()
        .filter(|(n, _)| n == "response.reasoning_summary_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    let done = &events[at("response.reasoning_summary_text.done")].1;
    assert_eq!(done["text"], summary);
    for (n, d) in &events {
        if n == "response.output_text.delta" {
            assert_eq!(d["output_index"], 1, "{d}");
        }
    }
    let seqs: Vec<u64> = events
        .iter()
        .map(|(_, d)| d["sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..events.len() as u64).collect::<Vec<_>>());
    let (name, last) = events.last().unwrap();
    assert_eq!(name, "response.completed");
    assert_eq!(last["response"]["output"][0]["summary"][0]["text"], summary);
}

#[tokio::test]
async fn messages_with_thinking_enabled_send_signed_thinking_blocks() {
    let s = server(&[]);
    let headers = [("anthropic-version", "2023-06-01")];
    let body = json!({"model": "mock-gpt", "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [{"role": "user", "content": "Think"}]});
    let v = post_ok(&s, "/v1/messages", &headers, &body).await;
    let content = v["content"].as_array().unwrap();
    assert_eq!(content.len(), 2, "{v}");
    assert_eq!(content[0]["type"], "thinking");
    assert!(
        content[0]["thinking"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(
        content[0]["signature"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert_eq!(content[1], json!({"type": "text", "text": SENTENCE}));
    assert_eq!(v["usage"]["output_tokens"], 64 + 11);

    let body = merged(body, json!({"stream": true}));
    let events = sse_named(&post_stream(&s, "/v1/messages", &headers, &body).await);
    let blocks: Vec<(String, u64, String)> = events
        .iter()
        .filter(|(n, _)| n.starts_with("content_block"))
        .map(|(n, d)| {
            let kind = d["delta"]["type"]
                .as_str()
                .or(d["content_block"]["type"].as_str())
                .unwrap_or("")
                .to_string();
            (n.clone(), d["index"].as_u64().unwrap(), kind)
        })
        .collect();
    let count = |kind: &str, index: u64| {
        blocks
            .iter()
            .filter(|(_, i, k)| k == kind && *i == index)
            .count()
    };
    assert_eq!(count("thinking", 0), 1, "{blocks:?}");
    assert_eq!(count("thinking_delta", 0), 64);
    assert_eq!(count("signature_delta", 0), 1);
    assert_eq!(count("text", 1), 1);
    assert_eq!(count("text_delta", 1), 11);
    let stops: Vec<u64> = blocks
        .iter()
        .filter(|(n, _, _)| n == "content_block_stop")
        .map(|(_, i, _)| *i)
        .collect();
    assert_eq!(stops, [0, 1]);
    let sig = blocks
        .iter()
        .position(|b| b.2 == "signature_delta")
        .unwrap();
    let first_text = blocks.iter().position(|b| b.2 == "text_delta").unwrap();
    assert!(sig < first_text);

    // Without thinking: one text block; Anthropic's budget rules are checked.
    let plain = json!({"model": "mock-gpt", "max_tokens": 64,
        "messages": [{"role": "user", "content": "Think"}]});
    let v = post_ok(&s, "/v1/messages", &headers, &plain).await;
    assert_eq!(v["content"].as_array().unwrap().len(), 1);
    for thinking in [
        json!({"type": "enabled", "budget_tokens": 100}),
        json!({"type": "enabled", "budget_tokens": 4096}),
        json!({"type": "enabled"}),
        json!({"type": "sometimes", "budget_tokens": 1024}),
    ] {
        let body = merged(
            plain.clone(),
            json!({"max_tokens": 2048, "thinking": thinking}),
        );
        let (status, v) = post_json(&s, "/v1/messages", &headers, &body).await;
        assert_eq!(status, 400, "{body} → {v}");
        assert_eq!(v["error"]["type"], "invalid_request_error");
    }
}
