//! Several tool calls in one turn, against the real binary: how many (`--tool-calls-per-turn`,
//! `tools.calls_per_turn`/`tools.repeat`, the `X-Mock-Tool-Calls` header, scenario rules),
//! one when the request disallows parallel calls, and each API's wire: chat's calls with their
//! streamed deltas by `index`, the Responses API's `function_call` items, the Messages API's
//! `tool_use` blocks. Every call's arguments are checked against its tool's schema.

mod common;

use std::collections::{BTreeMap, HashSet};

use common::{Server, merged, post_json, post_ok, post_stream, sse_events, sse_named};
use serde_json::{Value, json};

const CHAT: &str = "/v1/chat/completions";
const RESPONSES: &str = "/v1/responses";
const MESSAGES: &str = "/v1/messages";
const HEADER: &str = "X-Mock-Tool-Calls";

/// The tools' names and parameter schemas, in the order the mock calls them.
fn schemas() -> Vec<(&'static str, Value)> {
    vec![
        (
            "get_weather",
            json!({"type": "object", "properties": {
                "city": {"type": "string", "minLength": 2},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7}},
                "required": ["city", "unit", "days"]}),
        ),
        (
            "get_time",
            json!({"type": "object", "properties": {
                "timezone": {"type": "string", "enum": ["UTC", "CET"]},
                "precise": {"type": "boolean"}},
                "required": ["timezone"]}),
        ),
        (
            "search",
            json!({"type": "object", "properties": {
                "query": {"type": "string", "minLength": 3},
                "limit": {"type": "integer", "minimum": 2, "maximum": 10},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2}},
                "required": ["query", "limit", "tags"]}),
        ),
    ]
}

fn schema_of(name: &str) -> Value {
    schemas()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no tool {name}"))
        .1
}

/// Whether `v` is an instance of `schema` (the keywords the tools above use).
fn validates(v: &Value, schema: &Value) -> Result<(), String> {
    let fail = |what: &str| Err(format!("{v} fails {what} of {schema}"));
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(v)
    {
        return fail("enum");
    }
    let ok = match schema["type"].as_str() {
        Some("object") => v.is_object(),
        Some("string") => v.is_string(),
        Some("integer") => v.is_i64() || v.is_u64(),
        Some("number") => v.is_number(),
        Some("boolean") => v.is_boolean(),
        Some("array") => v.is_array(),
        _ => true,
    };
    if !ok {
        return fail("type");
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && (v.as_str().unwrap().chars().count() as u64) < min
    {
        return fail("minLength");
    }
    if let Some(n) = v.as_f64() {
        if schema
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n < m)
        {
            return fail("minimum");
        }
        if schema
            .get("maximum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n > m)
        {
            return fail("maximum");
        }
    }
    if let Some(items) = v.as_array() {
        if schema
            .get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| (items.len() as u64) < m)
        {
            return fail("minItems");
        }
        for item in items {
            validates(item, &schema["items"])?;
        }
    }
    if let Some(obj) = v.as_object() {
        for req in schema["required"].as_array().into_iter().flatten() {
            if !obj.contains_key(req.as_str().unwrap()) {
                return fail("required");
            }
        }
        for (k, sub) in schema["properties"].as_object().into_iter().flatten() {
            if let Some(x) = obj.get(k) {
                validates(x, sub)?;
            }
        }
    }
    Ok(())
}

/// Parses a call's arguments (a JSON text or an object) and checks them against the schema
/// of the tool `name`.
fn assert_valid_call(name: &str, arguments: &Value) {
    let args: Value = match arguments {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| panic!("not JSON: {s}")),
        other => other.clone(),
    };
    validates(&args, &schema_of(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
}

fn chat_tools() -> Value {
    let tools: Vec<Value> = schemas()
        .into_iter()
        .map(|(name, p)| json!({"type": "function", "function": {"name": name, "parameters": p}}))
        .collect();
    json!(tools)
}

fn chat(extra: Value) -> Value {
    merged(
        json!({"model": "mock-gpt", "messages": [{"role": "user", "content": "Plan my day"}],
            "tools": chat_tools()}),
        extra,
    )
}

/// The calls of a chat body's first choice: (id, name, arguments text).
fn chat_calls(v: &Value) -> Vec<(String, String, String)> {
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls", "{v}");
    assert!(choice["message"]["content"].is_null(), "{v}");
    choice["message"]["tool_calls"]
        .as_array()
        .unwrap_or_else(|| panic!("no tool_calls in {v}"))
        .iter()
        .map(|c| {
            assert_eq!(c["type"], "function");
            let f = &c["function"];
            (
                c["id"].as_str().unwrap().to_string(),
                f["name"].as_str().unwrap().to_string(),
                f["arguments"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Checks calls: the names expected in order, distinct ids with `prefix`, valid arguments.
fn assert_calls(calls: &[(String, String, String)], names: &[&str], prefix: &str) {
    let got: Vec<&str> = calls.iter().map(|c| c.1.as_str()).collect();
    assert_eq!(got, names);
    let ids: HashSet<&str> = calls.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(ids.len(), calls.len(), "distinct ids: {calls:?}");
    for (id, name, args) in calls {
        assert!(id.starts_with(prefix), "{id}");
        assert_valid_call(name, &json!(args));
    }
}

const ALL: [&str; 3] = ["get_weather", "get_time", "search"];

#[tokio::test]
async fn chat_turns_call_as_many_tools_as_configured() {
    // Today's behaviour by default: one call.
    let s = Server::start(&[]);
    let v = post_ok(&s, CHAT, &[], &chat(json!({}))).await;
    assert_calls(&chat_calls(&v), &ALL[..1], "call_");
    // The header asks for more; more than there are tools calls each tool once.
    let v = post_ok(&s, CHAT, &[(HEADER, "2")], &chat(json!({}))).await;
    assert_calls(&chat_calls(&v), &ALL[..2], "call_");
    let v = post_ok(&s, CHAT, &[(HEADER, "9")], &chat(json!({}))).await;
    assert_calls(&chat_calls(&v), &ALL, "call_");
    for bad in ["0", "x", "129"] {
        let (status, v) = post_json(&s, CHAT, &[(HEADER, bad)], &chat(json!({}))).await;
        assert_eq!(status, 400, "{bad}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains(HEADER));
    }

    let s = Server::start(&["--tool-calls-per-turn", "3"]);
    let v = post_ok(&s, CHAT, &[], &chat(json!({"tool_choice": "required"}))).await;
    let calls = chat_calls(&v);
    assert_calls(&calls, &ALL, "call_");
    // The same request (and seed) makes the same calls.
    let again = post_ok(&s, CHAT, &[], &chat(json!({"tool_choice": "required"}))).await;
    let strip = |c: &[(String, String, String)]| -> Vec<(String, String)> {
        c.iter().map(|(_, n, a)| (n.clone(), a.clone())).collect()
    };
    assert_eq!(strip(&calls), strip(&chat_calls(&again)));
    // parallel_tool_calls: false, a named function: one call.
    let v = post_ok(&s, CHAT, &[], &chat(json!({"parallel_tool_calls": false}))).await;
    assert_calls(&chat_calls(&v), &ALL[..1], "call_");
    let named = json!({"tool_choice": {"type": "function", "function": {"name": "search"}}});
    let v = post_ok(&s, CHAT, &[], &chat(named)).await;
    assert_calls(&chat_calls(&v), &["search"], "call_");
    // The header overrides the configured count.
    let v = post_ok(&s, CHAT, &[(HEADER, "2")], &chat(json!({}))).await;
    assert_calls(&chat_calls(&v), &ALL[..2], "call_");
    let (status, v) = post_json(&s, CHAT, &[], &chat(json!({"parallel_tool_calls": "yes"}))).await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["param"], "parallel_tool_calls");
    // No tools asked for: text, as before.
    let v = post_ok(&s, CHAT, &[], &chat(json!({"tool_choice": "none"}))).await;
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["choices"][0]["message"].get("tool_calls").is_none());
}

/// A chat stream's tool calls reassembled by `index`: (id, name, arguments), checking the
/// shape of every delta on the way.
fn reassemble_chat(text: &str) -> Vec<(String, String, String)> {
    let mut calls: BTreeMap<u64, (String, String, String)> = BTreeMap::new();
    let mut order = Vec::new();
    let mut finish = None;
    for e in sse_events(text) {
        if e == "[DONE]" {
            continue;
        }
        let chunk: Value = serde_json::from_str(&e).unwrap();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        let choice = &chunk["choices"][0];
        if let Some(f) = choice["finish_reason"].as_str() {
            finish = Some(f.to_string());
        }
        for d in choice["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let index = d["index"]
                .as_u64()
                .expect("every tool-call delta has an index");
            let f = &d["function"];
            if let Some(id) = d.get("id") {
                // A call's first delta: id, type, name, empty arguments; once per index.
                assert!(
                    !calls.contains_key(&index),
                    "a second header for {index}: {e}"
                );
                assert_eq!(d["type"], "function", "{e}");
                assert_eq!(f["arguments"], "", "{e}");
                let name = f["name"].as_str().unwrap().to_string();
                calls.insert(
                    index,
                    (id.as_str().unwrap().to_string(), name, String::new()),
                );
            } else {
                // Later deltas: the index and an arguments fragment only.
                let mut keys: Vec<&String> = d.as_object().unwrap().keys().collect();
                keys.sort();
                assert_eq!(keys, ["function", "index"], "{e}");
                let fkeys: Vec<&String> = f.as_object().unwrap().keys().collect();
                assert_eq!(fkeys, ["arguments"], "{e}");
                let call = calls.get_mut(&index).expect("a fragment after its header");
                call.2.push_str(f["arguments"].as_str().unwrap());
            }
            order.push(index);
        }
    }
    assert_eq!(finish.as_deref(), Some("tool_calls"), "{text}");
    assert!(
        order.windows(2).all(|w| w[0] <= w[1]),
        "calls in turn: {order:?}"
    );
    let indices: Vec<u64> = calls.keys().copied().collect();
    assert_eq!(indices, (0..calls.len() as u64).collect::<Vec<_>>());
    calls.into_values().collect()
}

#[tokio::test]
async fn chat_streams_each_call_by_its_index() {
    for args in [&["--tool-calls-per-turn", "3"][..], &["--itl-ms", "1"]] {
        // The hot route (no latency) and the scheduled one (latency, header).
        let s = Server::start(args);
        let headers: &[(&str, &str)] = if args[0] == "--itl-ms" {
            &[(HEADER, "3")]
        } else {
            &[]
        };
        let body = chat(json!({"stream": true, "stream_options": {"include_usage": true}}));
        let text = post_stream(&s, CHAT, headers, &body).await;
        let calls = reassemble_chat(&text);
        assert_calls(&calls, &ALL, "call_");
        let whole = post_ok(&s, CHAT, headers, &chat(json!({}))).await;
        let args_of = |c: &[(String, String, String)]| -> Vec<String> {
            c.iter().map(|c| c.2.clone()).collect()
        };
        assert_eq!(args_of(&calls), args_of(&chat_calls(&whole)));
        let usage = &serde_json::from_str::<Value>(sse_events(&text).iter().rev().nth(1).unwrap())
            .unwrap()["usage"];
        assert_eq!(usage, &whole["usage"]);
        // Disallowed parallel calls stream one.
        let body = chat(json!({"stream": true, "parallel_tool_calls": false}));
        let calls = reassemble_chat(&post_stream(&s, CHAT, headers, &body).await);
        assert_calls(&calls, &ALL[..1], "call_");
    }
}

fn responses_body(extra: Value) -> Value {
    let tools: Vec<Value> = schemas()
        .into_iter()
        .map(|(name, p)| json!({"type": "function", "name": name, "parameters": p}))
        .collect();
    merged(
        json!({"model": "mock-gpt", "input": "Plan my day", "tools": tools}),
        extra,
    )
}

/// The function_call items of a response: (call_id, name, arguments), checking each item.
fn function_calls(output: &Value, first_index: usize) -> Vec<(String, String, String)> {
    let items = &output.as_array().unwrap()[first_index..];
    let ids: HashSet<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), items.len(), "distinct item ids: {output}");
    items
        .iter()
        .map(|i| {
            assert_eq!(i["type"], "function_call", "{i}");
            assert_eq!(i["status"], "completed");
            assert!(i["id"].as_str().unwrap().starts_with("fc_"), "{i}");
            (
                i["call_id"].as_str().unwrap().to_string(),
                i["name"].as_str().unwrap().to_string(),
                i["arguments"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn responses_send_one_function_call_item_per_call() {
    let s = Server::start(&["--tool-calls-per-turn", "3", "--reasoning-model", "thinker"]);
    let v = post_ok(&s, RESPONSES, &[], &responses_body(json!({}))).await;
    assert_eq!(v["status"], "completed");
    assert_eq!(v["parallel_tool_calls"], true);
    let calls = function_calls(&v["output"], 0);
    assert_calls(&calls, &ALL, "call_");

    // parallel_tool_calls: false → one call, and the response says so.
    let one = responses_body(json!({"parallel_tool_calls": false}));
    let v = post_ok(&s, RESPONSES, &[], &one).await;
    assert_eq!(v["parallel_tool_calls"], false);
    assert_calls(&function_calls(&v["output"], 0), &ALL[..1], "call_");

    // The round trip: every call and its output sent back; the model answers in words.
    let mut input = vec![json!({"role": "user", "content": "Plan my day"})];
    for (call_id, name, arguments) in &calls {
        input.push(
            json!({"type": "function_call", "call_id": call_id, "name": name,
            "arguments": arguments}),
        );
    }
    for (call_id, _, _) in &calls {
        input.push(json!({"type": "function_call_output", "call_id": call_id, "output": "ok"}));
    }
    let v = post_ok(&s, RESPONSES, &[], &responses_body(json!({"input": input}))).await;
    assert_eq!(v["output"][0]["type"], "message", "{v}");

    // Streamed, after a reasoning item: each call's events in turn at its output_index.
    let body = responses_body(json!({"stream": true, "model": "thinker"}));
    let events = sse_named(&post_stream(&s, RESPONSES, &[], &body).await);
    for (i, (name, data)) in events.iter().enumerate() {
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["sequence_number"], i as u64, "{name}");
    }
    let (last, done) = events.last().unwrap();
    assert_eq!(last, "response.completed");
    let final_calls = function_calls(&done["response"]["output"], 1);
    assert_calls(&final_calls, &ALL, "call_");
    let mut streamed: Vec<(String, String, String)> = Vec::new();
    let mut item_ids: Vec<String> = Vec::new();
    let mut open: Option<usize> = None;
    for (name, d) in &events {
        let index = d["output_index"].as_u64().map(|i| i as usize);
        match name.as_str() {
            "response.output_item.added" if d["item"]["type"] == "function_call" => {
                assert_eq!(open, None, "one item at a time");
                let k = index.unwrap() - 1;
                assert_eq!(k, streamed.len(), "items in order");
                let item = &d["item"];
                assert_eq!(
                    (&item["status"], &item["arguments"]),
                    (&json!("in_progress"), &json!(""))
                );
                item_ids.push(item["id"].as_str().unwrap().to_string());
                let call = (
                    item["call_id"].as_str().unwrap(),
                    item["name"].as_str().unwrap(),
                );
                streamed.push((call.0.to_string(), call.1.to_string(), String::new()));
                open = Some(k);
            }
            "response.function_call_arguments.delta" => {
                let k = open.expect("a delta inside its item");
                assert_eq!(index, Some(k + 1));
                assert_eq!(d["item_id"], item_ids[k].as_str());
                streamed[k].2.push_str(d["delta"].as_str().unwrap());
            }
            "response.function_call_arguments.done" => {
                let k = open.unwrap();
                assert_eq!(
                    (index, d["item_id"].as_str()),
                    (Some(k + 1), Some(&*item_ids[k]))
                );
                assert_eq!(d["arguments"], streamed[k].2.as_str());
            }
            "response.output_item.done" if d["item"]["type"] == "function_call" => {
                let k = open.take().unwrap();
                assert_eq!(index, Some(k + 1));
                assert_eq!(d["item"]["arguments"], streamed[k].2.as_str());
            }
            _ => {}
        }
    }
    assert_eq!(open, None);
    assert_eq!(streamed, final_calls);
}

fn anthropic_tools() -> Value {
    let tools: Vec<Value> = schemas()
        .into_iter()
        .map(|(name, p)| json!({"name": name, "input_schema": p}))
        .collect();
    json!(tools)
}

fn messages_body(extra: Value) -> Value {
    merged(
        json!({"model": "mock-gpt", "max_tokens": 256, "tools": anthropic_tools(),
            "messages": [{"role": "user", "content": "Plan my day"}]}),
        extra,
    )
}

/// The tool_use blocks of a message: (id, name, input as JSON text).
fn tool_uses(v: &Value) -> Vec<(String, String, String)> {
    assert_eq!(v["stop_reason"], "tool_use", "{v}");
    v["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] != "thinking")
        .map(|b| {
            assert_eq!(b["type"], "tool_use", "{b}");
            let input = serde_json::to_string(&b["input"]).unwrap();
            (
                b["id"].as_str().unwrap().to_string(),
                b["name"].as_str().unwrap().to_string(),
                input,
            )
        })
        .collect()
}

#[tokio::test]
async fn messages_send_one_tool_use_block_per_call() {
    let s = Server::start(&[]);
    let v = post_ok(&s, MESSAGES, &[(HEADER, "3")], &messages_body(json!({}))).await;
    let calls = tool_uses(&v);
    assert_calls(&calls, &ALL, "toolu_");
    // disable_parallel_tool_use → one call.
    let one = messages_body(json!({"tool_choice": {"type": "any",
        "disable_parallel_tool_use": true}}));
    let v = post_ok(&s, MESSAGES, &[(HEADER, "3")], &one).await;
    assert_calls(&tool_uses(&v), &ALL[..1], "toolu_");
    let (status, _) = post_json(
        &s,
        MESSAGES,
        &[],
        &messages_body(json!({"tool_choice": {"type": "auto",
            "disable_parallel_tool_use": "no"}})),
    )
    .await;
    assert_eq!(status, 400);

    // The round trip: a tool_result per tool_use; the model answers in words.
    let uses: Vec<Value> = calls
        .iter()
        .map(|(id, name, input)| {
            json!({"type": "tool_use", "id": id, "name": name,
                "input": serde_json::from_str::<Value>(input).unwrap()})
        })
        .collect();
    let results: Vec<Value> = calls
        .iter()
        .map(|(id, _, _)| json!({"type": "tool_result", "tool_use_id": id, "content": "ok"}))
        .collect();
    let messages = json!([{"role": "user", "content": "Plan my day"},
        {"role": "assistant", "content": uses}, {"role": "user", "content": results}]);
    let v = post_ok(
        &s,
        MESSAGES,
        &[(HEADER, "3")],
        &messages_body(json!({"messages": messages})),
    )
    .await;
    assert_eq!(v["stop_reason"], "end_turn", "{v}");

    // Streamed, after a thinking block: each block started, filled and stopped in turn.
    let body = messages_body(json!({"stream": true, "max_tokens": 4096,
        "thinking": {"type": "enabled", "budget_tokens": 1024}}));
    let events = sse_named(&post_stream(&s, MESSAGES, &[(HEADER, "3")], &body).await);
    let mut blocks: Vec<(String, String, String)> = Vec::new();
    let mut open: Option<u64> = None;
    for (name, d) in &events {
        assert_eq!(d["type"], name.as_str());
        let index = d["index"].as_u64();
        match name.as_str() {
            "content_block_start" => {
                assert_eq!(open, None, "one block at a time");
                let b = &d["content_block"];
                if b["type"] == "tool_use" {
                    assert_eq!(index, Some(blocks.len() as u64 + 1), "blocks in order");
                    assert_eq!(b["input"], json!({}));
                    let call = (b["id"].as_str().unwrap(), b["name"].as_str().unwrap());
                    blocks.push((call.0.to_string(), call.1.to_string(), String::new()));
                } else {
                    assert_eq!((index, &b["type"]), (Some(0), &json!("thinking")));
                }
                open = index;
            }
            "content_block_delta" => {
                assert_eq!(index, open, "a delta inside its block");
                if d["delta"]["type"] == "input_json_delta" {
                    let k = index.unwrap() as usize - 1;
                    blocks[k]
                        .2
                        .push_str(d["delta"]["partial_json"].as_str().unwrap());
                }
            }
            "content_block_stop" => {
                assert_eq!(index, open.take());
            }
            "message_delta" => assert_eq!(d["delta"]["stop_reason"], "tool_use"),
            _ => {}
        }
    }
    assert_eq!(open, None);
    assert_eq!(events.last().unwrap().0, "message_stop");
    assert_calls(&blocks, &ALL, "toolu_");
    let ids: HashSet<&String> = blocks.iter().map(|b| &b.0).collect();
    assert_eq!(ids.len(), 3);
}

#[tokio::test]
async fn scenario_rules_and_config_script_multi_call_turns() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("scenario.yaml");
    std::fs::write(
        &scenario,
        r#"rules:
  - match: { message: "(?i)compare" }
    respond:
      tool_calls:
        - { name: get_weather, arguments: { city: Paris, unit: celsius, days: 2 } }
        - { name: get_weather, arguments: { city: Rome, unit: celsius, days: 2 } }
        - { name: search }
"#,
    )
    .unwrap();
    let cfg = dir.path().join("mock.yaml");
    std::fs::write(
        &cfg,
        format!(
            "response:\n  scenario_file: {}\n  mode: scenario\ntools:\n  calls_per_turn: 4\n  \
             repeat: true\n",
            scenario.display()
        ),
    )
    .unwrap();
    let s = Server::start(&["--config", cfg.to_str().unwrap()]);
    let compare = json!({"messages": [{"role": "user", "content": "Compare Paris and Rome"}]});
    let v = post_ok(&s, CHAT, &[], &chat(compare.clone())).await;
    let calls = chat_calls(&v);
    assert_calls(&calls, &["get_weather", "get_weather", "search"], "call_");
    let cities: Vec<Value> = calls[..2]
        .iter()
        .map(|c| serde_json::from_str::<Value>(&c.2).unwrap()["city"].clone())
        .collect();
    assert_eq!(cities, [json!("Paris"), json!("Rome")]);
    // Streamed the same, each by its index.
    let streamed = reassemble_chat(
        &post_stream(
            &s,
            CHAT,
            &[],
            &chat(merged(compare.clone(), json!({"stream": true}))),
        )
        .await,
    );
    let strip = |c: &[(String, String, String)]| -> Vec<(String, String)> {
        c.iter().map(|(_, n, a)| (n.clone(), a.clone())).collect()
    };
    assert_eq!(strip(&streamed), strip(&calls));
    // The Messages API: the same script as tool_use blocks.
    let m = messages_body(json!({"messages": [{"role": "user", "content": "compare them"}]}));
    let v = post_ok(&s, MESSAGES, &[], &m).await;
    assert_calls(
        &tool_uses(&v),
        &["get_weather", "get_weather", "search"],
        "toolu_",
    );
    // A request that disallows parallel calls gets the script's first call only.
    let one = chat(merged(compare, json!({"parallel_tool_calls": false})));
    let v = post_ok(&s, CHAT, &[], &one).await;
    assert_calls(&chat_calls(&v), &["get_weather"], "call_");
    // Unmatched, `tools.repeat` goes round the tools: 4 calls of 3 tools.
    let v = post_ok(&s, CHAT, &[], &chat(json!({}))).await;
    assert_calls(&chat_calls(&v), &[ALL[0], ALL[1], ALL[2], ALL[0]], "call_");

    // An empty list is refused at startup.
    std::fs::write(
        &scenario,
        "rules:\n  - match: { message: x }\n    respond: { tool_calls: [] }\n",
    )
    .unwrap();
    let err = common::config_refused(&cfg);
    assert!(err.contains("tool_calls"), "{err}");
    std::fs::write(&cfg, "tools:\n  calls_per_turn: 0\n").unwrap();
    let err = common::config_refused(&cfg);
    assert!(err.contains("tools.calls_per_turn"), "{err}");
}
