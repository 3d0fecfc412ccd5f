//! Output length against the real binary: vLLM's `ignore_eos` and `min_tokens` in every API,
//! and answer lengths drawn from `generation.length`.

mod common;

use common::{SENTENCE, Server, merged, post_json, post_ok, post_stream, sse_events, sse_named};
use serde_json::{Value, json};

const ANTHROPIC: &[(&str, &str)] = &[
    ("x-api-key", "sk-ant-mock"),
    ("anthropic-version", "2023-06-01"),
];

fn chat(extra: Value) -> Value {
    merged(
        json!({"model": "mock-gpt", "messages": [{"role": "user", "content": "Load test"}]}),
        extra,
    )
}

fn completion(extra: Value) -> Value {
    merged(json!({"model": "mock-gpt", "prompt": "Load test"}), extra)
}

fn response(extra: Value) -> Value {
    merged(json!({"model": "mock-gpt", "input": "Load test"}), extra)
}

fn message(extra: Value) -> Value {
    merged(
        json!({"model": "mock-gpt", "max_tokens": 512, "messages": [{"role": "user", "content": "Load test"}]}),
        extra,
    )
}

async fn chat_ok(s: &Server, extra: Value) -> Value {
    post_ok(s, "/v1/chat/completions", &[], &chat(extra)).await
}

fn chat_tokens(v: &Value) -> u64 {
    v["usage"]["completion_tokens"].as_u64().unwrap()
}

/// A config file of `text` in a fresh directory (kept while the directory lives).
fn config_file(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("mock.yaml");
    std::fs::write(&cfg, text).unwrap();
    (dir, cfg)
}

/// A server started with `generation.length: <length>` (and `extra` YAML) in its config file.
fn with_length(length: &str, extra: &str) -> (Server, tempfile::TempDir) {
    let (dir, cfg) = config_file(&format!("generation:\n  length: {length}\n{extra}"));
    (Server::start(&["--config", cfg.to_str().unwrap()]), dir)
}

#[tokio::test]
async fn ignore_eos_runs_to_the_limit_in_every_api() {
    let s = Server::start(&[]);
    // Without it the fixed sentence ends on its own, far short of the limit.
    let v = chat_ok(&s, json!({"max_tokens": 512})).await;
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(chat_tokens(&v) < 20);

    for limit in [
        json!({"max_tokens": 512}),
        json!({"max_completion_tokens": 512}),
    ] {
        let v = chat_ok(&s, merged(limit, json!({"ignore_eos": true}))).await;
        assert_eq!(chat_tokens(&v), 512, "{v}");
        assert_eq!(v["choices"][0]["finish_reason"], "length");
        let text = v["choices"][0]["message"]["content"].as_str().unwrap();
        assert!(text.starts_with(SENTENCE), "{text}");
    }

    let body = chat(
        json!({"max_tokens": 512, "ignore_eos": true, "stream": true,
        "stream_options": {"include_usage": true}}),
    );
    let text = post_stream(&s, "/v1/chat/completions", &[], &body).await;
    let chunks: Vec<Value> = sse_events(&text)
        .iter()
        .filter(|e| *e != "[DONE]")
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let deltas = chunks
        .iter()
        .filter(|c| {
            c["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        })
        .count();
    assert_eq!(deltas, 512);
    assert!(
        chunks
            .iter()
            .any(|c| c["choices"][0]["finish_reason"] == "length")
    );
    assert_eq!(chat_tokens(chunks.last().unwrap()), 512);

    let body = completion(json!({"max_tokens": 512, "ignore_eos": true}));
    let v = post_ok(&s, "/v1/completions", &[], &body).await;
    assert_eq!(chat_tokens(&v), 512, "{v}");
    assert_eq!(v["choices"][0]["finish_reason"], "length");

    let body = response(json!({"max_output_tokens": 512, "ignore_eos": true}));
    let v = post_ok(&s, "/v1/responses", &[], &body).await;
    assert_eq!(v["usage"]["output_tokens"], 512, "{v}");
    assert_eq!(v["status"], "incomplete");
    assert_eq!(v["incomplete_details"]["reason"], "max_output_tokens");

    let body = message(json!({"ignore_eos": true}));
    let v = post_ok(&s, "/v1/messages", ANTHROPIC, &body).await;
    assert_eq!(v["usage"]["output_tokens"], 512, "{v}");
    assert_eq!(v["stop_reason"], "max_tokens");
    let body = message(json!({"ignore_eos": true, "stream": true}));
    let events = sse_named(&post_stream(&s, "/v1/messages", ANTHROPIC, &body).await);
    let deltas = events
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .count();
    assert_eq!(deltas, 512);
}

#[tokio::test]
async fn min_tokens_holds_back_stop_strings_and_the_end() {
    let s = Server::start(&[]);
    let content = |v: &Value| {
        v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // "mock" is the sentence's fourth token: the stop string cuts after three.
    let v = chat_ok(&s, json!({"stop": "mock"})).await;
    assert_eq!(content(&v), "This is a ");
    let v = chat_ok(&s, json!({"stop": "mock", "min_tokens": 8})).await;
    assert_eq!(content(&v), SENTENCE);
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    // Past the sentence's own end: continued to the minimum, under the limit.
    let v = chat_ok(&s, json!({"min_tokens": 40, "max_tokens": 50})).await;
    assert!((40..=50).contains(&chat_tokens(&v)), "{v}");
    assert!(content(&v).starts_with(SENTENCE));

    let body = completion(json!({"stop": ["mock"], "min_tokens": 8, "max_tokens": 64}));
    let v = post_ok(&s, "/v1/completions", &[], &body).await;
    assert_eq!(v["choices"][0]["text"], SENTENCE);

    let body = response(json!({"min_tokens": 40}));
    let v = post_ok(&s, "/v1/responses", &[], &body).await;
    assert!(v["usage"]["output_tokens"].as_u64().unwrap() >= 40, "{v}");
    assert_eq!(v["status"], "completed");

    let body = message(json!({"stop_sequences": ["mock"]}));
    let v = post_ok(&s, "/v1/messages", ANTHROPIC, &body).await;
    assert_eq!(v["stop_reason"], "stop_sequence");
    let body = message(json!({"stop_sequences": ["mock"], "min_tokens": 8}));
    let v = post_ok(&s, "/v1/messages", ANTHROPIC, &body).await;
    assert_eq!(v["stop_reason"], "end_turn", "{v}");
    assert_eq!(v["content"][0]["text"], SENTENCE);

    // vLLM's rule: no more than the limit.
    let (status, v) = post_json(
        &s,
        "/v1/chat/completions",
        &[],
        &chat(json!({"min_tokens": 9, "max_tokens": 8})),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["error"]["param"], "min_tokens");
    let (status, _) = post_json(
        &s,
        "/v1/messages",
        ANTHROPIC,
        &message(json!({"min_tokens": 600})),
    )
    .await;
    assert_eq!(status, 400);
}

/// The completion tokens of a lorem chat answer with `seed`, and its text.
async fn seeded(s: &Server, seed: u64, extra: Value) -> (u64, String, Value) {
    let v = chat_ok(s, merged(json!({"seed": seed}), extra)).await;
    let text = v["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    let finish = v["choices"][0]["finish_reason"].clone();
    (chat_tokens(&v), text, finish)
}

#[tokio::test]
async fn uniform_lengths_stay_in_bounds_and_follow_the_seed() {
    let (s, _dir) = with_length(
        "{kind: uniform, min: 20, max: 60}",
        "response: {mode: lorem}\n",
    );
    let mut lengths = std::collections::BTreeSet::new();
    for seed in 0..40 {
        let (n, text, finish) = seeded(&s, seed, json!({})).await;
        assert!((20..=60).contains(&n), "seed {seed}: {n}");
        assert_eq!(finish, "stop");
        assert_eq!(seeded(&s, seed, json!({})).await.1, text, "seed {seed}");
        lengths.insert(n);
    }
    assert!(lengths.len() > 10, "{lengths:?}");
    // The request's limit caps the drawn length.
    let mut cut = 0;
    for seed in 0..40 {
        let (n, _, finish) = seeded(&s, seed, json!({"max_tokens": 30})).await;
        assert!(n <= 30);
        cut += usize::from(finish == "length");
    }
    assert!(cut > 10, "{cut}");
    // Completions draw their lengths the same way.
    let body = completion(json!({"seed": 3, "max_tokens": 100}));
    let v = post_ok(&s, "/v1/completions", &[], &body).await;
    assert!((20..=60).contains(&chat_tokens(&v)), "{v}");
}

#[tokio::test]
async fn normal_and_fixed_lengths() {
    let (s, _dir) = with_length("{kind: normal, mean: 80, stddev: 8}", "");
    let mut lengths = Vec::new();
    for seed in 0..60 {
        let (n, _, _) = seeded(&s, seed, json!({})).await;
        assert_eq!(seeded(&s, seed, json!({})).await.0, n, "seed {seed}");
        lengths.push(n);
    }
    let mean = lengths.iter().sum::<u64>() as f64 / lengths.len() as f64;
    assert!((75.0..85.0).contains(&mean), "{lengths:?}");
    assert!(
        lengths.iter().all(|n| (40..=120).contains(n)),
        "{lengths:?}"
    );
    assert!(lengths.iter().any(|&n| n != lengths[0]));

    // The fixed sentence is continued to a fixed length.
    let (s, _dir) = with_length("{kind: fixed, tokens: 100}", "");
    let v = chat_ok(&s, json!({})).await;
    assert_eq!(chat_tokens(&v), 100);
    let text = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.starts_with(SENTENCE), "{text}");
}

#[test]
fn a_bad_distribution_is_a_usage_error() {
    let (dir, cfg) = config_file("generation:\n  length: {kind: uniform, min: 9, max: 3}\n");
    let err = common::config_refused(&cfg);
    assert!(err.contains("generation.length"), "{err}");
    drop(dir);
}
