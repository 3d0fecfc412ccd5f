//! Logprobs against the real binary: chat `logprobs`/`top_logprobs` (whole and streamed),
//! legacy completions `logprobs: N`, the Responses API's `include` of the output text's
//! logprobs, their validation, and their reproducibility with `seed`.

mod common;

use common::{Server, merged, post_json, post_ok, post_stream, sse_events, sse_named};
use serde_json::{Value, json};

const CHAT: &str = "/v1/chat/completions";

fn chat(extra: Value) -> Value {
    merged(
        json!({"model": "mock-gpt", "messages": [{"role": "user", "content": "Say hello"}]}),
        extra,
    )
}

/// One chat/Responses entry is well formed: bytes of its token, logprob ≤ 0, a top list of
/// `top` entries sorted descending whose first is the token itself.
fn check_entry(e: &Value, top: usize) {
    let token = e["token"].as_str().unwrap();
    let bytes: Vec<u8> = e["bytes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    assert_eq!(bytes, token.as_bytes(), "{e}");
    let lp = e["logprob"].as_f64().unwrap();
    assert!(lp <= 0.0, "{e}");
    let list = e["top_logprobs"].as_array().unwrap();
    assert_eq!(list.len(), top, "{e}");
    if top > 0 {
        assert_eq!(list[0]["logprob"].as_f64().unwrap(), lp, "{e}");
        assert_eq!(list[0]["token"], e["token"]);
    }
    let values: Vec<f64> = list
        .iter()
        .map(|t| t["logprob"].as_f64().unwrap())
        .collect();
    assert!(values.windows(2).all(|w| w[0] >= w[1]), "{e}");
    assert!(values.iter().all(|v| *v <= 0.0), "{e}");
    for t in list {
        assert!(t["bytes"].is_array() && t["token"].is_string(), "{t}");
    }
}

#[tokio::test]
async fn chat_logprobs_one_entry_per_token_reproducible_by_seed() {
    let s = Server::start(&[]);
    let ask = |seed: u64| chat(json!({"logprobs": true, "top_logprobs": 3, "seed": seed}));
    let v = post_ok(&s, CHAT, &[], &ask(5)).await;
    let choice = &v["choices"][0];
    let entries = choice["logprobs"]["content"].as_array().unwrap();
    assert_eq!(
        entries.len() as u64,
        v["usage"]["completion_tokens"].as_u64().unwrap()
    );
    let joined: String = entries
        .iter()
        .map(|e| e["token"].as_str().unwrap())
        .collect();
    assert_eq!(joined, choice["message"]["content"].as_str().unwrap());
    entries.iter().for_each(|e| check_entry(e, 3));
    assert_eq!(
        post_ok(&s, CHAT, &[], &ask(5)).await["choices"][0]["logprobs"],
        choice["logprobs"]
    );
    assert_ne!(
        post_ok(&s, CHAT, &[], &ask(6)).await["choices"][0]["logprobs"],
        choice["logprobs"]
    );
    // logprobs alone: entries without alternatives; not asked: null.
    let v = post_ok(&s, CHAT, &[], &chat(json!({"logprobs": true}))).await;
    check_entry(&v["choices"][0]["logprobs"]["content"][0], 0);
    let v = post_ok(&s, CHAT, &[], &chat(json!({}))).await;
    assert!(v["choices"][0]["logprobs"].is_null());

    // Streamed: each content chunk carries its token's entry.
    let body = chat(json!({"logprobs": true, "top_logprobs": 2, "seed": 5, "stream": true}));
    let text = post_stream(&s, CHAT, &[], &body).await;
    let mut streamed = Vec::new();
    for e in sse_events(&text).iter().filter(|e| *e != "[DONE]") {
        let c: Value = serde_json::from_str(e).unwrap();
        let delta = &c["choices"][0]["delta"]["content"];
        if delta.as_str().is_some_and(|t| !t.is_empty()) {
            let entries = c["choices"][0]["logprobs"]["content"].as_array().unwrap();
            assert_eq!(entries.len(), 1, "{c}");
            assert_eq!(entries[0]["token"], *delta);
            check_entry(&entries[0], 2);
            streamed.push(entries[0]["logprob"].as_f64().unwrap());
        }
    }
    let whole: Vec<f64> = entries
        .iter()
        .map(|e| e["logprob"].as_f64().unwrap())
        .collect();
    assert_eq!(
        streamed, whole,
        "the same seed, the same values streamed or not"
    );
}

#[tokio::test]
async fn completions_logprobs_have_tokens_offsets_and_top_dicts() {
    let s = Server::start(&[]);
    let body = json!({"model": "mock-gpt", "prompt": "x", "max_tokens": 6, "logprobs": 2,
        "seed": 1});
    let v = post_ok(&s, "/v1/completions", &[], &body).await;
    let lp = &v["choices"][0]["logprobs"];
    let tokens: Vec<&str> = lp["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tokens.len(), 6);
    assert_eq!(tokens.concat(), v["choices"][0]["text"].as_str().unwrap());
    let values = lp["token_logprobs"].as_array().unwrap();
    assert!(values.iter().all(|x| x.as_f64().unwrap() <= 0.0));
    let offsets: Vec<u64> = lp["text_offset"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_u64().unwrap())
        .collect();
    let mut at = 0;
    for (t, o) in tokens.iter().zip(&offsets) {
        assert_eq!(*o, at);
        at += t.chars().count() as u64;
    }
    for (i, top) in lp["top_logprobs"].as_array().unwrap().iter().enumerate() {
        let top = top.as_object().unwrap();
        assert_eq!(top.len(), 2, "{top:?}");
        assert_eq!(top[tokens[i]], values[i]);
    }
    // Streamed: one token per chunk, with its offset.
    let text = post_stream(
        &s,
        "/v1/completions",
        &[],
        &merged(body, json!({"stream": true})),
    )
    .await;
    let chunks: Vec<Value> = sse_events(&text)
        .iter()
        .filter(|e| *e != "[DONE]")
        .map(|e| serde_json::from_str(e).unwrap())
        .filter(|c: &Value| {
            c["choices"][0]["text"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        })
        .collect();
    assert_eq!(chunks.len(), 6);
    for (c, o) in chunks.iter().zip(&offsets) {
        let lp = &c["choices"][0]["logprobs"];
        assert_eq!(lp["text_offset"], json!([o]), "{c}");
        assert_eq!(lp["tokens"], json!([c["choices"][0]["text"]]));
    }
    let v = post_ok(
        &s,
        "/v1/completions",
        &[],
        &json!({"model": "mock-gpt", "prompt": "x"}),
    )
    .await;
    assert!(v["choices"][0]["logprobs"].is_null());
}

#[tokio::test]
async fn responses_output_text_logprobs_when_included() {
    let s = Server::start(&[]);
    let body = json!({"model": "mock-gpt", "input": "hi", "seed": 3,
        "include": ["message.output_text.logprobs"], "top_logprobs": 4});
    let v = post_ok(&s, "/v1/responses", &[], &body).await;
    assert_eq!(v["top_logprobs"], 4);
    let part = &v["output"][0]["content"][0];
    let entries = part["logprobs"].as_array().unwrap();
    assert_eq!(
        entries.len() as u64,
        v["usage"]["output_tokens"].as_u64().unwrap()
    );
    let joined: String = entries
        .iter()
        .map(|e| e["token"].as_str().unwrap())
        .collect();
    assert_eq!(joined, part["text"].as_str().unwrap());
    entries.iter().for_each(|e| check_entry(e, 4));
    // Streamed: each delta with its entry; the done event with all of them.
    let text = post_stream(
        &s,
        "/v1/responses",
        &[],
        &merged(body, json!({"stream": true})),
    )
    .await;
    let events = sse_named(&text);
    let deltas: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d)
        .collect();
    assert_eq!(deltas.len(), entries.len());
    for (d, e) in deltas.iter().zip(entries) {
        assert_eq!(d["logprobs"], json!([e]), "{d}");
        assert_eq!(d["delta"], e["token"]);
    }
    let seqs: Vec<u64> = events
        .iter()
        .map(|(_, d)| d["sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..events.len() as u64).collect::<Vec<_>>());
    let done = events
        .iter()
        .find(|(n, _)| n == "response.output_text.done")
        .unwrap();
    assert_eq!(done.1["logprobs"].as_array().unwrap(), entries);
    // Not included: empty.
    let v = post_ok(
        &s,
        "/v1/responses",
        &[],
        &json!({"model": "mock-gpt", "input": "hi"}),
    )
    .await;
    assert_eq!(v["output"][0]["content"][0]["logprobs"], json!([]));
}

#[tokio::test]
async fn logprob_fields_are_validated() {
    let s = Server::start(&[]);
    for (path, body, param) in [
        (
            CHAT,
            chat(json!({"logprobs": true, "top_logprobs": 21})),
            "top_logprobs",
        ),
        (CHAT, chat(json!({"top_logprobs": 2})), "top_logprobs"),
        (CHAT, chat(json!({"logprobs": "yes"})), "logprobs"),
        (
            "/v1/completions",
            json!({"model": "mock-gpt", "prompt": "x", "logprobs": 21}),
            "logprobs",
        ),
        (
            "/v1/completions",
            json!({"model": "mock-gpt", "prompt": "x", "logprobs": -1}),
            "logprobs",
        ),
        (
            "/v1/responses",
            json!({"model": "mock-gpt", "input": "x", "top_logprobs": 30}),
            "top_logprobs",
        ),
        (
            "/v1/responses",
            json!({"model": "mock-gpt", "input": "x", "include": [1]}),
            "include[0]",
        ),
    ] {
        let (status, v) = post_json(&s, path, &[], &body).await;
        assert_eq!(status, 400, "{body} → {v}");
        assert_eq!(v["error"]["param"], param, "{body} → {v}");
    }
}
