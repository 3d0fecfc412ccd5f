//! Around the APIs, against the real binary: the API key, rate limits and their headers,
//! vLLM's /tokenize and /detokenize, LoRA adapters, the KV-cache and LoRA gauges, faults in
//! every API (stream faults on non-streamed requests included), and `seed` in the Responses
//! and Messages APIs.

mod common;

use std::time::{Duration, Instant};

use common::{
    SENTENCE, Server, get, get_json, merged, post_json, post_with, promtool_check, send_with,
    statuses, which,
};
use serde_json::{Value, json};

const CHAT: &str = "/v1/chat/completions";
const ANTHROPIC_VERSION: (&str, &str) = ("anthropic-version", "2023-06-01");

fn chat(extra: Value) -> Value {
    merged(
        json!({"model": "mock-gpt", "messages": [{"role": "user", "content": "Say hello"}]}),
        extra,
    )
}

fn message(extra: Value) -> Value {
    merged(
        json!({"model": "mock-gpt", "max_tokens": 64,
            "messages": [{"role": "user", "content": "Say hello"}]}),
        extra,
    )
}

/// Every API's generating route with a minimal body.
fn every_api() -> Vec<(&'static str, Value)> {
    vec![
        (CHAT, chat(json!({}))),
        (
            "/v1/completions",
            json!({"model": "mock-gpt", "prompt": "hi"}),
        ),
        (
            "/v1/embeddings",
            json!({"model": "mock-gpt", "input": "hi"}),
        ),
        ("/v1/responses", json!({"model": "mock-gpt", "input": "hi"})),
        ("/v1/messages", message(json!({}))),
    ]
}

fn assert_openai_401(v: &Value) {
    let e = &v["error"];
    assert_eq!(e["type"], "invalid_request_error", "{v}");
    assert_eq!(e["code"], "invalid_api_key", "{v}");
    assert!(e["param"].is_null(), "{v}");
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
}

fn assert_anthropic_error(v: &Value, kind: &str) {
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], kind, "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
}

#[tokio::test]
async fn api_key_guards_every_api_in_its_own_error_shape() {
    let s = Server::start(&["--api-key", "sk-mock-secret"]);
    let bearer = ("Authorization", "Bearer sk-mock-secret");
    for (path, body) in every_api() {
        let anthropic = path == "/v1/messages";
        for headers in [vec![], vec![("Authorization", "Bearer wrong")]] {
            let (status, v) = post_json(&s, path, &headers, &body).await;
            assert_eq!(status, 401, "{path} {v}");
            if anthropic {
                assert_anthropic_error(&v, "authentication_error");
            } else {
                assert_openai_401(&v);
            }
        }
        let (status, _, text) = post_with(&s, path, &[bearer], &body).await;
        assert_eq!(status, 200, "{path} {text}");
    }
    // Anthropic's own header, as its SDK sends it.
    let headers = [("x-api-key", "sk-mock-secret"), ANTHROPIC_VERSION];
    let (status, _, _) = post_with(&s, "/v1/messages", &headers, &message(json!({}))).await;
    assert_eq!(status, 200);
    let headers = [("x-api-key", "nope"), ANTHROPIC_VERSION];
    let (status, v) = post_json(&s, "/v1/messages", &headers, &message(json!({}))).await;
    assert_eq!(status, 401);
    assert_anthropic_error(&v, "authentication_error");
    // Streams too (the connection loop's own path), and the other /v1 routes.
    let (status, _, _) = post_with(&s, CHAT, &[], &chat(json!({"stream": true}))).await;
    assert_eq!(status, 401);
    let (status, text) = get(&s, "/v1/models").await;
    assert_eq!(status, 401, "{text}");
    // Health, readiness and metrics stay open.
    for path in ["/health", "/ready", "/metrics"] {
        assert_eq!(get(&s, path).await.0, 200, "{path}");
    }

    // The key from the environment, as compose files pass it.
    let e = Server::start_env(&[], &[("MOCK_INFERENCE_API_KEY", "from-env")]);
    let (status, _) = post_json(&e, CHAT, &[], &chat(json!({}))).await;
    assert_eq!(status, 401);
    let auth = [("Authorization", "Bearer from-env")];
    assert_eq!(post_with(&e, CHAT, &auth, &chat(json!({}))).await.0, 200);
}

fn header(h: &reqwest::header::HeaderMap, name: &str) -> String {
    h.get(name)
        .unwrap_or_else(|| panic!("no {name} in {h:?}"))
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn request_limit_sends_headers_then_429_in_each_shape() {
    let s = Server::start(&[
        "--rate-limit-requests",
        "3",
        "--rate-limit-window-secs",
        "1.5",
    ]);
    for remaining in ["2", "1", "0"] {
        let (status, h, _) = post_with(&s, CHAT, &[], &chat(json!({}))).await;
        assert_eq!(status, 200);
        assert_eq!(header(&h, "x-ratelimit-limit-requests"), "3");
        assert_eq!(header(&h, "x-ratelimit-remaining-requests"), remaining);
        let reset = header(&h, "x-ratelimit-reset-requests");
        assert!(reset.ends_with("ms") || reset.ends_with('s'), "{reset}");
        // No token limit configured: no token headers.
        assert!(h.get("x-ratelimit-limit-tokens").is_none());
    }
    let (status, h, text) = post_with(&s, CHAT, &[], &chat(json!({}))).await;
    assert_eq!(status, 429, "{text}");
    assert!(h.contains_key("retry-after"));
    assert_eq!(header(&h, "x-ratelimit-remaining-requests"), "0");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded", "{v}");
    assert_eq!(v["error"]["type"], "requests", "{v}");
    let (status, v) = post_json(&s, "/v1/messages", &[], &message(json!({}))).await;
    assert_eq!(status, 429);
    assert_anthropic_error(&v, "rate_limit_error");
    // Unmetered routes still answer.
    assert_eq!(get(&s, "/v1/models").await.0, 200);
    // A new window, new requests.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let (status, h, _) = post_with(&s, "/v1/messages", &[], &message(json!({}))).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "x-ratelimit-remaining-requests"), "2");
}

#[tokio::test]
async fn token_limit_counts_prompt_and_completion_tokens() {
    let s = Server::start(&["--rate-limit-tokens", "30"]);
    let (status, h, text) = post_with(&s, CHAT, &[], &chat(json!({}))).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    let used = v["usage"]["total_tokens"].as_u64().unwrap();
    assert_eq!(header(&h, "x-ratelimit-limit-tokens"), "30");
    let remaining: u64 = header(&h, "x-ratelimit-remaining-tokens").parse().unwrap();
    assert_eq!(remaining, 30 - used);
    assert!(h.get("x-ratelimit-limit-requests").is_none());
    // The second request is let in (tokens remain) and spends the rest.
    let (status, h, _) = post_with(&s, CHAT, &[], &chat(json!({}))).await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "x-ratelimit-remaining-tokens"), "0");
    let (status, v) = post_json(
        &s,
        "/v1/responses",
        &[],
        &json!({"model": "mock-gpt", "input": "x"}),
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(v["error"]["type"], "tokens", "{v}");
}

#[tokio::test]
async fn tokenize_and_detokenize_speak_vllm() {
    let s = Server::start(&["--max-model-len", "4096"]);
    let (status, v) = post_json(
        &s,
        "/tokenize",
        &[],
        &json!({"model": "mock-gpt", "prompt": "hello world", "add_special_tokens": true}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["tokens"], json!([15339, 1917]));
    assert_eq!(v["count"], 2);
    assert_eq!(v["max_model_len"], 4096);
    // Messages: as many tokens as the chat request's usage.prompt_tokens.
    let messages = json!([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello"}
    ]);
    let (_, t) = post_json(&s, "/tokenize", &[], &json!({"messages": messages})).await;
    let (_, c) = post_json(&s, CHAT, &[], &chat(json!({"messages": messages}))).await;
    assert_eq!(t["count"], c["usage"]["prompt_tokens"], "{t}");
    assert_eq!(
        t["tokens"].as_array().unwrap().len() as u64,
        t["count"].as_u64().unwrap()
    );
    // Round trip.
    let (status, d) = post_json(
        &s,
        "/detokenize",
        &[],
        &json!({"model": "mock-gpt", "tokens": [15339, 1917]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(d, json!({"prompt": "hello world"}));
    let (_, d) = post_json(&s, "/detokenize", &[], &json!({"tokens": t["tokens"]})).await;
    let text = d["prompt"].as_str().unwrap();
    assert!(
        text.contains("<|im_start|>user<|im_sep|>Say hello<|im_end|>"),
        "{text}"
    );
    // Bad input: 4xx with OpenAI's error body, never a panic.
    for (path, body, want) in [
        ("/tokenize", json!({"model": "mock-gpt"}), 400),
        (
            "/tokenize",
            json!({"prompt": "a", "messages": messages}),
            400,
        ),
        ("/tokenize", json!({"prompt": 7}), 400),
        (
            "/tokenize",
            json!({"messages": [{"role": "robot", "content": "x"}]}),
            400,
        ),
        ("/tokenize", json!({"model": "nope", "prompt": "a"}), 404),
        ("/detokenize", json!({"tokens": [4_000_000_000u64]}), 400),
        ("/detokenize", json!({"tokens": [-1]}), 400),
        ("/detokenize", json!({"tokens": "abc"}), 400),
        ("/detokenize", json!({}), 400),
    ] {
        let (status, v) = post_json(&s, path, &[], &body).await;
        assert_eq!(status, want, "{path} {body} → {v}");
        common::assert_openai_error(&format!("{path} {body}"), &v);
    }
}

#[tokio::test]
async fn lora_modules_are_listed_served_and_counted() {
    let s = Server::start(&[
        "--itl-ms",
        "40",
        "--lora-modules",
        "sql-lora=/loras/sql",
        r#"{"name":"chat-lora","path":"/loras/chat","base_model_name":"mock-gpt"}"#,
    ]);
    let (status, v) = get_json(&s, "/v1/models").await;
    assert_eq!(status, 200);
    let data = v["data"].as_array().unwrap();
    let ids: Vec<&str> = data.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["mock-gpt", "sql-lora", "chat-lora"]);
    assert_eq!(data[0]["root"], "mock-gpt");
    assert!(data[0]["parent"].is_null());
    assert_eq!(data[1]["root"], "/loras/sql");
    assert_eq!(data[1]["parent"], "mock-gpt");
    assert_eq!(data[2]["root"], "/loras/chat");
    let (status, m) = get_json(&s, "/v1/models/sql-lora").await;
    assert_eq!(status, 200);
    assert_eq!(m["parent"], "mock-gpt");

    // Served like any model: idle, the gauges show nothing running.
    let idle = common::metrics_text(&s).await;
    assert!(
        idle.contains("vllm:kv_cache_usage_perc{model_name=\"mock-gpt\"} 0\n"),
        "{idle}"
    );
    assert!(
        idle.contains(concat!(
            "vllm:lora_requests_info{max_lora=\"2\",",
            "running_lora_adapters=\"\",waiting_lora_adapters=\"\"}"
        )),
        "{idle}"
    );
    // A stream on the adapter in flight (50 tokens, 2 s: the two scrapes below land inside
    // it however busy the machine): it shows as running, and holds KV cache.
    let body =
        chat(json!({"model": "sql-lora", "stream": true, "max_tokens": 50, "ignore_eos": true}));
    let streaming = send_with(&s, CHAT, &[], &body).await;
    assert_eq!(streaming.status(), 200);
    let busy = common::metrics_text(&s).await;
    assert!(
        busy.contains("running_lora_adapters=\"sql-lora\""),
        "{busy}"
    );
    let usage = common::metric(&s, "vllm:kv_cache_usage_perc").await;
    assert!(usage > 0.0 && usage < 1.0, "{usage}");
    let text = streaming.text().await.unwrap();
    assert!(text.contains("\"model\":\"sql-lora\""), "{text}");
    assert_eq!(common::metric(&s, "vllm:kv_cache_usage_perc").await, 0.0);

    let promtool = which("promtool").expect("promtool is installed (make setup)");
    let (code, out) = promtool_check(&promtool, &busy);
    let problems: Vec<&str> = out
        .lines()
        .filter(|l| !l.ends_with("metric names should not contain ':'"))
        .collect();
    assert!(
        problems.is_empty() && (code == 0 || code == 3),
        "promtool {code}: {out}"
    );
}

#[tokio::test]
async fn bad_lora_modules_are_refused_at_startup() {
    for arg in ["no-path", "=x", r#"{"name":"a"}"#] {
        let cmd = devenv_testkit::cmd::command("mock-inference");
        let out = assert_cmd::Command::from_std(cmd)
            .args(["--port", "0", "--lora-modules", arg])
            .timeout(Duration::from_secs(10))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{arg}");
    }
}

#[tokio::test]
async fn stream_faults_on_non_streamed_requests_are_errors_in_every_api() {
    let s = Server::start(&[]);
    for fault in ["error@2", "reset@1"] {
        for (path, body) in every_api() {
            let (status, v) = post_json(&s, path, &[("X-Mock-Fault", fault)], &body).await;
            assert_eq!(status, 500, "{fault} {path} {v}");
            if path == "/v1/messages" {
                assert_anthropic_error(&v, "api_error");
            } else {
                assert_eq!(v["error"]["type"], "server_error", "{v}");
            }
        }
    }
    // A stall is the pause, then the answer; on the no-wait chat path too.
    for (path, body) in every_api() {
        let t = Instant::now();
        let (status, _, text) =
            post_with(&s, path, &[("X-Mock-Fault", "stall@0:250")], &body).await;
        assert_eq!(status, 200, "{path} {text}");
        assert!(t.elapsed() >= Duration::from_millis(250), "{path}");
        assert!(serde_json::from_str::<Value>(&text).is_ok(), "{text}");
    }
    assert_eq!(
        common::metric(&s, "mock_inference_faults_injected_total").await,
        0.0,
        "the status kind is listed first and none was injected"
    );
    let text = common::metrics_text(&s).await;
    assert!(text.contains("kind=\"stream_error\"} 5"), "{text}");
    assert!(text.contains("kind=\"stall\"} 5"), "{text}");
}

#[tokio::test]
async fn seeded_schedule_reaches_every_api() {
    let args = ["--fault-seed", "11", "--error-rate", "0.4"];
    for (path, body) in every_api() {
        let a = statuses(&args, path, &body, 16).await;
        assert_eq!(a, statuses(&args, path, &body, 16).await, "{path}");
        assert!(
            a.contains(&200) && a.iter().any(|s| *s >= 500),
            "{path} {a:?}"
        );
    }
    // A stream-error schedule turns non-streamed answers into errors too.
    let args = ["--fault-seed", "5", "--stream-error-rate", "0.5"];
    let a = statuses(&args, "/v1/embeddings", &every_api()[2].1, 16).await;
    assert!(a.contains(&200) && a.contains(&500), "{a:?}");
}

#[tokio::test]
async fn seed_makes_responses_and_messages_reproducible() {
    let s = Server::start(&["--response-mode", "lorem"]);
    let response_text = |v: &Value| {
        v["output"][0]["content"][0]["text"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let message_text = |v: &Value| v["content"][0]["text"].as_str().unwrap().to_owned();
    let mut seen = Vec::new();
    for seed in [1, 1, 2] {
        let body = json!({"model": "mock-gpt", "input": "hi", "seed": seed});
        let (_, r) = post_json(&s, "/v1/responses", &[], &body).await;
        let (_, m) = post_json(&s, "/v1/messages", &[], &message(json!({"seed": seed}))).await;
        seen.push((response_text(&r), message_text(&m)));
    }
    assert_eq!(seen[0], seen[1]);
    assert_ne!(seen[0].0, seen[2].0);
    assert_ne!(seen[0].1, seen[2].1);
    assert_ne!(seen[0].0, SENTENCE);
}
