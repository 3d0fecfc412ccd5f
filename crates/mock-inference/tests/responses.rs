//! The OpenAI Responses API against the real binary: bodies, the semantic event stream,
//! function calls, text.format, max_output_tokens, the store, errors and faults.

mod common;

use common::{
    SENTENCE, Server, assert_metrics, get_json, merged, post, post_json, post_ok, post_stream,
    post_with, sse_named, stream_error_at_2,
};
use serde_json::{Value, json};

fn body(extra: Value) -> Value {
    merged(json!({"model": "mock-gpt", "input": "Say hello"}), extra)
}

/// POSTs `body(extra)` (with extra headers) to `/v1/responses`: status, headers, body text.
async fn respond(
    s: &Server,
    headers: &[(&str, &str)],
    extra: Value,
) -> (u16, reqwest::header::HeaderMap, String) {
    post_with(s, "/v1/responses", headers, &body(extra)).await
}

fn weather_tools() -> Value {
    json!([
        {"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
        {"type": "function", "name": "get_weather", "strict": true, "parameters": {"type": "object", "properties": {"city": {"type": "string", "minLength": 5}, "unit": {"enum": ["c", "f"]}}, "required": ["city", "unit"], "additionalProperties": false}}
    ])
}

fn output_text(v: &Value) -> String {
    v["output"][0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn response_object_matches_openai_and_is_stored() {
    let s = Server::start(&[]);
    let req = body(
        json!({"instructions": "Be brief.", "metadata": {"team": "qa"}, "temperature": 0.3, "top_p": 0.9}),
    );
    let v = post_ok(&s, "/v1/responses", &[], &req).await;
    assert!(v["id"].as_str().unwrap().starts_with("resp_"));
    assert_eq!(v["object"], "response");
    assert!(v["created_at"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(v["status"], "completed");
    assert_eq!(v["model"], "mock-gpt");
    assert_eq!(v["instructions"], "Be brief.");
    assert_eq!(v["metadata"], json!({"team": "qa"}));
    assert_eq!(v["temperature"], 0.3);
    assert_eq!(v["error"], Value::Null);
    assert_eq!(v["incomplete_details"], Value::Null);
    let item = &v["output"][0];
    assert_eq!(item["type"], "message");
    assert_eq!(item["role"], "assistant");
    assert_eq!(item["status"], "completed");
    assert!(item["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(item["content"][0]["type"], "output_text");
    assert_eq!(item["content"][0]["annotations"], json!([]));
    assert_eq!(output_text(&v), SENTENCE);
    let u = &v["usage"];
    assert_eq!(u["output_tokens"], 11);
    assert_eq!(u["input_tokens_details"]["cached_tokens"], 0);
    assert_eq!(u["output_tokens_details"]["reasoning_tokens"], 0);
    assert_eq!(
        u["total_tokens"].as_u64().unwrap(),
        u["input_tokens"].as_u64().unwrap() + 11
    );
    // Instructions count as input.
    let (_, plain) = post_json(&s, "/v1/responses", &[], &body(json!({}))).await;
    assert!(u["input_tokens"].as_u64() > plain["usage"]["input_tokens"].as_u64());

    let id = v["id"].as_str().unwrap();
    let (status, stored) = get_json(&s, &format!("/v1/responses/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(stored, v, "GET returns the response as created");
    let (_, unstored) = post_json(&s, "/v1/responses", &[], &body(json!({"store": false}))).await;
    assert_eq!(unstored["store"], false);
    let (status, e) = get_json(
        &s,
        &format!("/v1/responses/{}", unstored["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 404, "store: false is not kept");
    assert_eq!(e["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn stream_sends_openai_semantic_events_in_order() {
    let s = Server::start(&["--itl-ms", "2"]);
    let text = post_stream(&s, "/v1/responses", &[], &body(json!({"stream": true}))).await;
    assert!(!text.contains("[DONE]"));
    let events = sse_named(&text);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let deltas = names
        .iter()
        .filter(|n| **n == "response.output_text.delta")
        .count();
    assert_eq!(deltas, 11, "one delta per token");
    let mut want = vec![
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ];
    want.extend(std::iter::repeat_n("response.output_text.delta", 11));
    want.extend([
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]);
    assert_eq!(names, want);
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], name.as_str(), "event line and type agree");
        assert_eq!(data["sequence_number"], i, "sequence numbers count up");
    }
    let created = &events[0].1["response"];
    assert_eq!(created["status"], "in_progress");
    assert_eq!(created["output"], json!([]));
    let item_id = events[2].1["item"]["id"].as_str().unwrap();
    let streamed: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| {
            assert_eq!(d["item_id"], item_id);
            d["delta"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(streamed, SENTENCE);
    assert_eq!(events[15].1["text"], SENTENCE);
    let done = &events.last().unwrap().1["response"];
    assert_eq!(done["id"], created["id"]);
    assert_eq!(done["status"], "completed");
    assert_eq!(output_text(done), SENTENCE);
    assert_eq!(done["usage"]["output_tokens"], 11);
    // The completed stream was stored.
    let (status, stored) = get_json(
        &s,
        &format!("/v1/responses/{}", done["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(output_text(&stored), SENTENCE);
    // Streams reach the metrics like chat's: a first token and 10 inter-token gaps.
    assert_metrics(
        &s,
        &[
            ("vllm:time_to_first_token_seconds_count", 1.0),
            ("vllm:inter_token_latency_seconds_count", 10.0),
            ("vllm:generation_tokens_total", 11.0),
        ],
    )
    .await;
}

#[tokio::test]
async fn function_calls_follow_the_schema_and_round_trip() {
    let s = Server::start(&["--itl-ms", "1"]);
    let named = json!({"type": "function", "name": "get_weather"});
    let v = post_ok(
        &s,
        "/v1/responses",
        &[],
        &body(
            json!({"tools": weather_tools(), "tool_choice": named, "parallel_tool_calls": false}),
        ),
    )
    .await;
    assert_eq!(v["parallel_tool_calls"], false);
    assert_eq!(v["tools"][1]["strict"], true);
    let call = &v["output"][0];
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["status"], "completed");
    assert_eq!(call["name"], "get_weather");
    assert!(call["id"].as_str().unwrap().starts_with("fc_"));
    assert!(call["call_id"].as_str().unwrap().starts_with("call_"));
    let args: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "mockx", "unit": "c"}));

    // Streamed: the arguments arrive as deltas that add up to the .done event's.
    let (_, _, text) = post(
        &s,
        "/v1/responses",
        &body(json!({"tools": weather_tools(), "tool_choice": "required", "stream": true})),
    )
    .await;
    let events = sse_named(&text);
    assert_eq!(events[2].0, "response.output_item.added");
    assert_eq!(events[2].1["item"]["type"], "function_call");
    assert_eq!(events[2].1["item"]["arguments"], "");
    let deltas: String = events
        .iter()
        .filter(|(n, _)| n == "response.function_call_arguments.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap().to_string())
        .collect();
    let done = events
        .iter()
        .find(|(n, _)| n == "response.function_call_arguments.done")
        .unwrap();
    assert_eq!(done.1["arguments"], deltas.as_str());
    assert_eq!(done.1["name"], "lookup", "required picks the first tool");
    assert!(!events.iter().any(|(n, _)| n.contains("content_part")));
    assert_eq!(events.last().unwrap().0, "response.completed");

    // The function's output goes back in; the model answers in words.
    let call_id = call["call_id"].as_str().unwrap();
    let input = json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": call_id, "name": "get_weather", "arguments": call["arguments"]},
        {"type": "function_call_output", "call_id": call_id, "output": "{\"temp\": 21}"}
    ]);
    let v = post_ok(
        &s,
        "/v1/responses",
        &[],
        &json!({"model": "mock-gpt", "input": input, "tools": weather_tools()}),
    )
    .await;
    assert_eq!(v["output"][0]["type"], "message");
    assert_eq!(output_text(&v), SENTENCE);
}

#[tokio::test]
async fn text_format_json_schema_gives_a_valid_instance() {
    let s = Server::start(&[]);
    let schema = json!({"type": "object", "properties": {"answer": {"type": "integer", "minimum": 3}, "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2}, "mood": {"enum": ["calm", "busy"]}}, "required": ["answer", "tags", "mood"], "additionalProperties": false});
    let format = json!({"format": {"type": "json_schema", "name": "reply", "schema": schema, "strict": true}});
    let v = post_ok(&s, "/v1/responses", &[], &body(json!({"text": format}))).await;
    assert_eq!(v["text"]["format"]["name"], "reply");
    let out: Value = serde_json::from_str(&output_text(&v)).unwrap();
    assert_eq!(out["answer"], 3);
    assert_eq!(out["tags"].as_array().unwrap().len(), 2);
    assert_eq!(out["mood"], "calm");
    let (_, v) = post_json(
        &s,
        "/v1/responses",
        &[],
        &body(json!({"text": {"format": {"type": "json_object"}}})),
    )
    .await;
    let out: Value = serde_json::from_str(&output_text(&v)).unwrap();
    assert_eq!(out["response"], SENTENCE);
}

#[tokio::test]
async fn max_output_tokens_makes_an_incomplete_response() {
    let s = Server::start(&["--response-mode", "lorem"]);
    let (_, v) = post_json(
        &s,
        "/v1/responses",
        &[],
        &body(json!({"max_output_tokens": 16})),
    )
    .await;
    assert_eq!(v["status"], "incomplete");
    assert_eq!(v["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(v["output"][0]["status"], "incomplete");
    assert_eq!(v["usage"]["output_tokens"], 16);
    assert_eq!(v["max_output_tokens"], 16);
    let (_, _, text) = post(
        &s,
        "/v1/responses",
        &body(json!({"max_output_tokens": 16, "stream": true})),
    )
    .await;
    let events = sse_named(&text);
    let (name, last) = events.last().unwrap();
    assert_eq!(name, "response.incomplete");
    assert_eq!(
        last["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
    assert!(!events.iter().any(|(n, _)| n == "response.completed"));
}

#[tokio::test]
async fn previous_response_id_chains_or_is_404() {
    let s = Server::start(&[]);
    let missing = json!({"previous_response_id": "resp_doesnotexist"});
    let (status, _, text) = respond(&s, &[], missing).await;
    assert_eq!(status, 404, "{text}");
    let e: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert_eq!(e["error"]["param"], "previous_response_id");
    assert_eq!(e["error"]["code"], "previous_response_not_found");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("resp_doesnotexist")
    );
    let (status, e) = get_json(&s, "/v1/responses/resp_nope").await;
    assert_eq!(status, 404);
    assert!(e["error"]["message"].is_string());

    let (_, first) = post_json(&s, "/v1/responses", &[], &body(json!({}))).await;
    let second = post_ok(
        &s,
        "/v1/responses",
        &[],
        &body(json!({"previous_response_id": first["id"]})),
    )
    .await;
    assert_eq!(second["previous_response_id"], first["id"]);
    // The earlier turn (its input and its answer) counts as input of the next.
    let earlier = first["usage"]["total_tokens"].as_u64().unwrap();
    assert_eq!(
        second["usage"]["input_tokens"].as_u64().unwrap(),
        earlier + first["usage"]["input_tokens"].as_u64().unwrap()
    );
}

/// Malformed bodies: every answer a 4xx with OpenAI's error body, never a 5xx.
#[tokio::test]
async fn malformed_bodies_get_4xx_openai_errors() {
    let s = Server::start(&[]);
    let tool = json!({"type": "function", "name": "f"});
    let cases = common::bodies(
        &["", "{", "[]", "null", "\"x\"", "{\"model\":\"mock-gpt\",}"],
        &[
            json!({}),
            json!({"model": "mock-gpt"}),
            json!({"input": "x"}),
            json!({"model": 5, "input": "x"}),
            json!({"model": "mock-gpt", "input": 5}),
            json!({"model": "mock-gpt", "input": [5]}),
            json!({"model": "mock-gpt", "input": [{"role": "robot", "content": "x"}]}),
            json!({"model": "mock-gpt", "input": [{"role": "user"}]}),
            json!({"model": "mock-gpt", "input": [{"role": "user", "content": 5}]}),
            json!({"model": "mock-gpt", "input": [{"role": "user", "content": [{"type": "input_text"}]}]}),
            json!({"model": "mock-gpt", "input": [{"role": "user", "content": [{"type": "hologram"}]}]}),
            json!({"model": "mock-gpt", "input": [{"type": "teleport"}]}),
            json!({"model": "mock-gpt", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}),
            json!({"model": "mock-gpt", "input": [{"type": "function_call_output", "call_id": "c"}]}),
            json!({"model": "mock-gpt", "input": "x", "instructions": 5}),
            json!({"model": "mock-gpt", "input": "x", "max_output_tokens": "9"}),
            json!({"model": "mock-gpt", "input": "x", "max_output_tokens": 8}),
            json!({"model": "mock-gpt", "input": "x", "max_output_tokens": -1}),
            json!({"model": "mock-gpt", "input": "x", "temperature": 3}),
            json!({"model": "mock-gpt", "input": "x", "top_p": "high"}),
            json!({"model": "mock-gpt", "input": "x", "stream": "yes"}),
            json!({"model": "mock-gpt", "input": "x", "store": 1}),
            json!({"model": "mock-gpt", "input": "x", "metadata": "m"}),
            json!({"model": "mock-gpt", "input": "x", "metadata": {"k": 5}}),
            json!({"model": "mock-gpt", "input": "x", "tools": {}}),
            json!({"model": "mock-gpt", "input": "x", "tools": [{"type": "function"}]}),
            json!({"model": "mock-gpt", "input": "x", "tools": [{"type": "web_search", "name": "w"}]}),
            json!({"model": "mock-gpt", "input": "x", "tools": [{"type": "function", "name": "bad name!"}]}),
            json!({"model": "mock-gpt", "input": "x", "tools": [{"type": "function", "name": "f", "parameters": []}]}),
            json!({"model": "mock-gpt", "input": "x", "tool_choice": "sometimes", "tools": [tool]}),
            json!({"model": "mock-gpt", "input": "x", "tool_choice": "required"}),
            json!({"model": "mock-gpt", "input": "x", "tool_choice": {"type": "function", "name": "g"}, "tools": [tool]}),
            json!({"model": "mock-gpt", "input": "x", "parallel_tool_calls": "no"}),
            json!({"model": "mock-gpt", "input": "x", "text": "json"}),
            json!({"model": "mock-gpt", "input": "x", "text": {"format": {"type": "xml"}}}),
            json!({"model": "mock-gpt", "input": "x", "text": {"format": {"type": "json_schema", "name": "n"}}}),
            json!({"model": "mock-gpt", "input": "x", "text": {"format": {"type": "json_schema", "schema": {}}}}),
            json!({"model": "mock-gpt", "input": "x", "previous_response_id": 7}),
            json!({"model": "nope", "input": "x"}),
        ],
    );
    assert!(cases.len() >= 40, "{} cases", cases.len());
    common::assert_4xx_bodies(&s, "/v1/responses", &cases, |shown, _, v| {
        common::assert_openai_error(shown, v)
    })
    .await;
    let (_, v) = post_json(&s, "/v1/responses", &[], &body(json!({"temperature": 3}))).await;
    assert_eq!(v["error"]["param"], "temperature");
}

#[tokio::test]
async fn faults_reach_the_responses_api() {
    let s = Server::start(&[]);
    let (status, headers, text) = respond(&s, &[("X-Mock-Fault", "503")], json!({})).await;
    assert_eq!(status, 503);
    assert!(headers.contains_key("retry-after"));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["type"], "server_error");
    // A mid-stream error: two deltas, then response.failed, nothing after it.
    let events = stream_error_at_2(
        &s,
        "/v1/responses",
        &body(json!({"stream": true})),
        "response.output_text.delta",
    )
    .await;
    let (name, last) = events.last().unwrap();
    assert_eq!(name, "response.failed");
    assert_eq!(last["response"]["status"], "failed");
    assert_eq!(last["response"]["error"]["code"], "server_error");
    assert_eq!(
        last["sequence_number"].as_u64().unwrap() as usize,
        events.len() - 1
    );
    // The seeded schedule covers this API too: same seed, same statuses.
    let args = ["--fault-seed", "9", "--error-rate", "0.4"];
    let req = body(json!({}));
    let schedule = || common::statuses(&args, "/v1/responses", &req, 20);
    let a = schedule().await;
    assert_eq!(a, schedule().await);
    assert!(a.contains(&200) && a.contains(&500), "{a:?}");
}
