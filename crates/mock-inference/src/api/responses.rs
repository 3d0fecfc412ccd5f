//! The OpenAI Responses API: `POST /v1/responses` (streamed or not) and
//! `GET /v1/responses/{id}`. Input as a string or a list of items (messages, `function_call`,
//! `function_call_output`); `instructions`, `max_output_tokens` (→ `status: "incomplete"`),
//! function `tools`, `tool_choice`, `text.format` (json_schema, json_object), `store` and
//! `previous_response_id` over a bounded in-memory store. Streams send OpenAI's semantic
//! events, each with `event:` and an increasing `sequence_number`, and no `[DONE]`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse as _, Response};
use bytes::Bytes;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{TokenEvent, content_text, json_bytes, push_event};
use crate::body::{json_response, unix_now};
use crate::error::ApiError;
use crate::generate::{self, ChoiceOut};
use crate::logprobs::{Logprobs, MAX_TOP};
use crate::plan::{Piece, piece_at};
use crate::plan::{StreamPlan, Wire};
use crate::request::{
    self, FUNCTION_FIELDS, FunctionDef, Req, Shape, ToolMode, check, check_each, check_enum,
    check_function_tool, check_nested, check_object_array, check_tool_choice_mode, range_error,
    request_body,
};
use crate::server::{Admitted, Api, App, Ask, Format, Incoming, tool_schemas};
use crate::tokenizer;

/// OpenAI's lower bound for `max_output_tokens`.
const MIN_OUTPUT_TOKENS: u32 = 16;

request_body! {
    /// The body, typed once its shape is checked (so the container default never stands
    /// in for a missing required field).
    #[derive(Default)]
    #[serde(default)]
    pub struct ResponsesRequest {
        model: String => Req(Shape::Str),
        input: Value => check_input,
        instructions: Option<String> => Shape::Str,
        max_output_tokens: Option<u32> => Shape::Count,
        tools: Option<Vec<FunctionTool>> => check_tools,
        tool_choice: Option<Value> => check_tool_choice,
        parallel_tool_calls: Option<bool> => Shape::Bool,
        text: Option<TextConfig> => check_text,
        temperature: Option<f64> => Shape::Num,
        top_p: Option<f64> => Shape::Num,
        metadata: Option<Map<String, Value>> => Shape::Obj,
        store: Option<bool> => Shape::Bool,
        stream: Option<bool> => Shape::Bool,
        previous_response_id: Option<String> => Shape::Str,
        user: Option<String> => Shape::Str,
        // vLLM's extra body fields.
        seed: Option<i64> => Shape::Int,
        ignore_eos: Option<bool> => Shape::Bool,
        min_tokens: Option<u32> => Shape::Count,
        top_logprobs: Option<u32> => Shape::Count,
        include: Option<Vec<String>> => check_include,
        reasoning: Option<ReasoningParam> => check_reasoning,
    }
    unread {
        max_tool_calls, stream_options, truncation,
        service_tier, background, prompt_cache_key, safety_identifier, conversation, prompt,
    }
    skip {
        /// The conversation as (role, text) turns, from `input`.
        turns: Vec<(&'static str, String)>,
    }
}

/// A function tool: chat's function definition, flat beside `type`.
#[derive(Debug, Deserialize)]
pub struct FunctionTool {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(flatten)]
    pub function: FunctionDef,
}

#[derive(Debug, Deserialize)]
pub struct TextConfig {
    #[serde(default)]
    pub format: Option<TextFormat>,
}

#[derive(Debug, Deserialize, serde::Serialize)]
pub struct TextFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

const ROLES: &[&str] = &["assistant", "system", "developer", "user"];
const ITEM_TYPES: &[&str] = &[
    "message",
    "function_call",
    "function_call_output",
    "reasoning",
    "item_reference",
];
const PART_TYPES: &[&str] = &[
    "input_text",
    "output_text",
    "input_image",
    "input_file",
    "input_audio",
    "refusal",
];

fn role(r: &str) -> &'static str {
    ROLES.iter().find(|k| **k == r).copied().unwrap_or("user")
}

fn check_input(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check(obj, name, Shape::StrOrArr, true)?;
    check_object_array(obj, name, check_item)
}

fn check_tools(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check(obj, name, Shape::Arr, false)?;
    check_object_array(obj, name, |_, to| {
        check(to, "type", Shape::Str, true)?;
        check_each(to, FUNCTION_FIELDS)
    })
}

fn check_tool_choice(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    let fields = [("type", Shape::Str, true), ("name", Shape::Str, false)];
    request::check_tool_choice_object(obj, name, |tc| check_each(tc, &fields))
}

fn check_text(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check(obj, name, Shape::Obj, false)?;
    check_nested(obj, name, |text| {
        check(text, "format", Shape::Obj, false)?;
        check_nested(text, "format", |f| {
            check_enum(f, "type", &["text", "json_object", "json_schema"], true)?;
            check_each(
                f,
                &[
                    ("name", Shape::Str, false),
                    ("schema", Shape::Obj, false),
                    ("strict", Shape::Bool, false),
                    ("description", Shape::Str, false),
                ],
            )
        })
    })
}

/// `reasoning`: how hard a reasoning model thinks, and its summary.
#[derive(Debug, Deserialize)]
pub struct ReasoningParam {
    #[serde(default)]
    pub effort: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

fn check_reasoning(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check(obj, name, Shape::Obj, false)?;
    check_nested(obj, name, |r| {
        check_enum(r, "effort", super::chat::EFFORTS, false)?;
        check_enum(r, "summary", &["auto", "concise", "detailed"], false)?;
        check(r, "generate_summary", Shape::Str, false)
    })
}

fn check_include(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check(obj, name, Shape::Arr, false)?;
    if let Some(Value::Array(a)) = obj.get(name) {
        request::check_array_of(a, name, |p, v| match v {
            Value::String(_) => Ok(()),
            _ => Err(ApiError::wrong_type(p, "a string", request::json_kind(v))),
        })?;
    }
    Ok(())
}

/// The `include` value that asks for the output text's logprobs.
const INCLUDE_LOGPROBS: &str = "message.output_text.logprobs";

fn check_item(_: &str, o: &Map<String, Value>) -> Result<(), ApiError> {
    check_enum(o, "type", ITEM_TYPES, false)?;
    match o.get("type").and_then(Value::as_str).unwrap_or("message") {
        "message" => {
            check_enum(o, "role", ROLES, true)?;
            check(o, "content", Shape::StrOrArr, true)?;
            check_object_array(o, "content", |_, part| {
                check_enum(part, "type", PART_TYPES, true)?;
                let t = part["type"].as_str().unwrap_or_default();
                check(part, "text", Shape::Str, t.ends_with("_text"))
            })
        }
        "function_call" => {
            for f in ["call_id", "name", "arguments"] {
                check(o, f, Shape::Str, true)?;
            }
            Ok(())
        }
        "function_call_output" => {
            check(o, "call_id", Shape::Str, true)?;
            check(o, "output", Shape::StrOrArr, true)
        }
        _ => Ok(()),
    }
}

impl ResponsesRequest {
    fn validate(&self) -> Result<(), ApiError> {
        let max = self.max_output_tokens;
        request::check_min_tokens(self.min_tokens, max, "max_output_tokens")?;
        if let Some(m) = self.max_output_tokens
            && m < MIN_OUTPUT_TOKENS
        {
            return Err(ApiError::invalid_value(
                "max_output_tokens",
                format!(
                    "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= {MIN_OUTPUT_TOKENS}, but got {m} instead."
                ),
            )
            .code("integer_below_min_value"));
        }
        for (name, v, lo, hi) in [
            ("temperature", self.temperature, 0.0, 2.0),
            ("top_p", self.top_p, 0.0, 1.0),
        ] {
            if let Some(v) = v
                && !(lo..=hi).contains(&v)
            {
                return Err(range_error(name, &v.to_string(), lo, hi));
            }
        }
        for (i, t) in self.tools.iter().flatten().enumerate() {
            let supported = "The mock serves function tools only: 'function'.";
            check_function_tool(i, &t.kind, supported, "name", &t.function.name)?;
        }
        let has_tools = self.tools.as_ref().is_some_and(|t| !t.is_empty());
        match &self.tool_choice {
            None => {}
            Some(Value::String(m)) => {
                check_tool_choice_mode(m)?;
                if m == "required" && !has_tools {
                    return Err(ApiError::invalid_value(
                        "tool_choice",
                        "Tool choice 'required' must be specified with 'tools' parameter.",
                    ));
                }
            }
            Some(tc) => {
                let name = tc.get("name").and_then(Value::as_str).unwrap_or_default();
                let kind = tc.get("type").and_then(Value::as_str).unwrap_or_default();
                if kind != "function" || self.tool_index(name).is_none() {
                    return Err(ApiError::invalid_value(
                        "tool_choice",
                        format!(
                            "Tool choice '{kind}' named '{name}' not found in 'tools' parameter."
                        ),
                    ));
                }
            }
        }
        if let Some(n) = self.top_logprobs
            && n > MAX_TOP
        {
            return Err(range_error(
                "top_logprobs",
                &n.to_string(),
                0.0,
                MAX_TOP as f64,
            ));
        }
        if let Some(f) = self.text.as_ref().and_then(|t| t.format.as_ref()) {
            match f.kind.as_str() {
                "text" | "json_object" => {}
                "json_schema" => {
                    if f.name.is_none() {
                        return Err(ApiError::missing("text.format.function.name"));
                    }
                    if f.schema.is_none() {
                        return Err(ApiError::missing("text.format.schema"));
                    }
                }
                other => {
                    return Err(ApiError::invalid_value(
                        "text.format.type",
                        format!(
                            "Invalid value: '{other}'. Supported values are: 'text', 'json_object', and 'json_schema'."
                        ),
                    ));
                }
            }
        }
        if let Some(m) = &self.metadata {
            if m.len() > 16 {
                return Err(ApiError::invalid_value(
                    "metadata",
                    format!(
                        "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with {} properties instead.",
                        m.len()
                    ),
                ));
            }
            for (k, v) in m {
                if k.len() > 64 || v.as_str().is_none_or(|s| s.len() > 512) {
                    return Err(ApiError::invalid_value(
                        &format!("metadata.{k}"),
                        format!(
                            "Invalid 'metadata.{k}': keys are strings of at most 64 characters, values strings of at most 512."
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn tool_index(&self, name: &str) -> Option<usize> {
        self.tools
            .iter()
            .flatten()
            .position(|t| t.function.name == name)
    }

    /// The turns of `input`, and whether it ends with a function's output.
    fn read_input(&mut self) -> bool {
        let items = match &self.input {
            Value::String(s) => {
                self.turns.push(("user", s.clone()));
                return false;
            }
            Value::Array(items) => items,
            _ => return false,
        };
        let mut ends_with_output = false;
        for item in items {
            let kind = item
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("message");
            ends_with_output = kind == "function_call_output";
            let turn = match kind {
                "message" => (
                    role(item["role"].as_str().unwrap_or_default()),
                    content_text(item.get("content"), &["input_text", "output_text"]),
                ),
                "function_call" => (
                    "assistant",
                    format!(
                        "{}{}",
                        item["name"].as_str().unwrap_or_default(),
                        item["arguments"].as_str().unwrap_or_default()
                    ),
                ),
                "function_call_output" => (
                    "tool",
                    match &item["output"] {
                        Value::String(s) => s.clone(),
                        other => content_text(Some(other), &["input_text", "output_text"]),
                    },
                ),
                _ => continue,
            };
            self.turns.push(turn);
        }
        ends_with_output
    }

    fn format(&self) -> Format<'_> {
        match self.text.as_ref().and_then(|t| t.format.as_ref()) {
            Some(f) if f.kind == "json_schema" => Format::JsonSchema(f.schema.as_ref()),
            Some(f) if f.kind == "json_object" => Format::JsonObject,
            _ => Format::Text,
        }
    }

    fn tool_mode(&self, ends_with_output: bool) -> ToolMode {
        if self.tools.as_ref().is_none_or(|t| t.is_empty()) {
            return ToolMode::None;
        }
        match &self.tool_choice {
            Some(Value::String(m)) if m == "none" => ToolMode::None,
            Some(Value::String(m)) if m == "required" => ToolMode::Required,
            Some(Value::Object(o)) => o
                .get("name")
                .and_then(Value::as_str)
                .and_then(|n| self.tool_index(n))
                .map_or(ToolMode::Auto, ToolMode::Named),
            // A model that just got its function's output answers in words.
            _ if ends_with_output => ToolMode::None,
            _ => ToolMode::Auto,
        }
    }

    /// The request's fields as the response object repeats them.
    fn echo(&self) -> Map<String, Value> {
        let tools: Vec<Value> = self
            .tools
            .iter()
            .flatten()
            .map(|t| {
                json!({
                    "type": "function",
                    "name": t.function.name,
                    "description": t.function.description,
                    "parameters": t.function.parameters,
                    "strict": t.function.strict.unwrap_or(true),
                })
            })
            .collect();
        let format = self
            .text
            .as_ref()
            .and_then(|t| t.format.as_ref())
            .map_or_else(|| json!({"type": "text"}), |f| json!(f));
        let echo = json!({
            "background": false,
            "error": null,
            "instructions": self.instructions,
            "max_output_tokens": self.max_output_tokens,
            "max_tool_calls": null,
            "metadata": self.metadata.clone().unwrap_or_default(),
            "parallel_tool_calls": self.parallel_tool_calls.unwrap_or(true),
            "previous_response_id": self.previous_response_id,
            "prompt_cache_key": null,
            "reasoning": {
                "effort": self.reasoning.as_ref().and_then(|r| r.effort.clone()),
                "summary": self.reasoning.as_ref().and_then(|r| r.summary.clone()),
            },
            "safety_identifier": null,
            "service_tier": "default",
            "store": self.store.unwrap_or(true),
            "temperature": self.temperature.unwrap_or(1.0),
            "text": {"format": format, "verbosity": "medium"},
            "tool_choice": self.tool_choice.clone().unwrap_or_else(|| json!("auto")),
            "tools": tools,
            "top_logprobs": self.top_logprobs.unwrap_or(0),
            "top_p": self.top_p.unwrap_or(1.0),
            "truncation": "disabled",
            "user": self.user,
        });
        match echo {
            Value::Object(m) => m,
            _ => unreachable!("json! of an object"),
        }
    }
}

/// Parses and validates a `POST /v1/responses` body.
pub fn parse(body: &[u8], strict: bool) -> Result<ResponsesRequest, ApiError> {
    let req: ResponsesRequest = request::parse_checked(body, strict, |_| Ok(()))?;
    req.validate()?;
    Ok(req)
}

// ---------------------------------------------------------------- the store

fn not_found(id: &str, param: Option<&str>) -> ApiError {
    let what = if param.is_some() {
        "Previous response"
    } else {
        "Response"
    };
    let e = ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!("{what} with id '{id}' not found."),
    );
    match param {
        Some(p) => e.param(p).code("previous_response_not_found"),
        None => e,
    }
}

/// `GET /v1/responses/{id}`.
pub async fn get(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    match app.responses.body(&id) {
        Some(body) => json_response(StatusCode::OK, body),
        None => not_found(&id, None).into_response(),
    }
}

// ---------------------------------------------------------------- generation

impl Incoming for ResponsesRequest {
    fn parse(app: &App, body: &[u8]) -> Result<Self, ApiError> {
        parse(body, app.cfg.strict)
    }
}

impl Api for ResponsesRequest {
    fn stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }
    fn last_user_text(&self) -> &str {
        match &self.input {
            Value::String(s) => s,
            Value::Array(items) => items
                .iter()
                .rev()
                .find(|i| {
                    i.get("role").and_then(Value::as_str) == Some("user")
                        && i.get("content").is_some_and(Value::is_string)
                })
                .and_then(|i| i["content"].as_str())
                .unwrap_or(""),
            _ => "",
        }
    }

    fn plan(mut self, app: &Arc<App>, a: Admitted) -> Result<StreamPlan, ApiError> {
        let earlier = match &self.previous_response_id {
            Some(id) => app
                .responses
                .context_tokens(id)
                .ok_or_else(|| not_found(id, Some("previous_response_id")))?,
            None => 0,
        };
        let ends_with_output = self.read_input();
        let last_user = self
            .turns
            .iter()
            .rev()
            .find(|(r, _)| *r == "user")
            .map_or("", |(_, t)| t.as_str());
        let prompt_tokens = earlier
            + tokenizer::chat_prompt_tokens(
                self.instructions
                    .as_deref()
                    .map(|i| ("developer", i, None))
                    .into_iter()
                    .chain(self.turns.iter().map(|(r, t)| (*r, t.as_str(), None))),
            );
        let request_seed = self.seed.map(|s| s as u64);
        let seed = request_seed.unwrap_or(app.cfg.response.seed);
        let hash = || generate::conversation_hash(self.turns.iter().map(|(_, t)| t.as_str()));
        let ask = Ask {
            text: last_user,
            hash: &hash,
            seed,
            tools: tool_schemas(&self.tools, |t| t.function.schema()),
            tool_mode: self.tool_mode(ends_with_output),
            format: self.format(),
            stop: &[],
            max_tokens: self.max_output_tokens.map(|m| m as usize),
            request_seed,
            ignore_eos: self.ignore_eos.unwrap_or(false),
            min_tokens: self.min_tokens.unwrap_or(0) as usize,
            reasoning: app.reasoning_tokens(
                &self.model,
                self.reasoning.as_ref().and_then(|r| r.effort.as_deref()),
            ),
            max_calls: app.calls_per_turn(self.parallel_tool_calls != Some(false), a.tool_calls),
        };
        let choice = app.answer(&ask, a.scenario.as_ref(), 0);
        let id = generate::random_id("resp_");
        // A reasoning item comes first; the answer's items follow it.
        let answer_index = usize::from(choice.reasoning.is_some());
        // One output item per tool call (`fc_…`), else one message (`msg_…`).
        let item_ids: Vec<String> = match choice.tool_calls.len() {
            0 => vec![generate::random_id("msg_")],
            n => (0..n).map(|_| generate::random_id("fc_")).collect(),
        };
        let deltas = item_ids
            .iter()
            .enumerate()
            .map(|(k, item_id)| {
                let index = answer_index + k;
                if choice.tool_calls.is_empty() {
                    TokenEvent::new(
                        "response.output_text.delta",
                        &format!(
                            "{{\"type\":\"response.output_text.delta\",\"item_id\":\"{item_id}\",\
                             \"output_index\":{index},\"content_index\":0,\"logprobs\":[],\
                             \"sequence_number\":"
                        ),
                        b"\"}",
                    )
                } else {
                    TokenEvent::new(
                        "response.function_call_arguments.delta",
                        &format!(
                            "{{\"type\":\"response.function_call_arguments.delta\",\
                             \"item_id\":\"{item_id}\",\"output_index\":{index},\
                             \"sequence_number\":"
                        ),
                        b"\"}",
                    )
                }
            })
            .collect();
        let wants_logprobs = self.include.iter().flatten().any(|i| i == INCLUDE_LOGPROBS);
        let wire = ResponsesWire {
            logprobs: wants_logprobs.then(|| Logprobs {
                top: self.top_logprobs.unwrap_or(0) as usize,
                seed,
            }),
            reasoning_id: generate::random_id("rs_"),
            answer_index,
            open: None,
            app: app.clone(),
            echo: self.echo(),
            model: self.model.clone(),
            store: self.store.unwrap_or(true),
            id: id.clone(),
            item_ids,
            created_at: unix_now(),
            seq: 0,
            deltas,
        };
        Ok(a.wire_plan(id, choice, prompt_tokens, seed, Box::new(wire)))
    }
}

/// The Responses API's bodies and events for one response.
struct ResponsesWire {
    app: Arc<App>,
    echo: Map<String, Value>,
    /// The model as requested (unescaped).
    model: String,
    store: bool,
    id: String,
    /// Ids of the answer's output items: one `fc_…` per tool call, or one `msg_…`.
    item_ids: Vec<String>,
    created_at: u64,
    /// The next event's `sequence_number`.
    seq: u64,
    /// The per-token event of each answer item.
    deltas: Vec<TokenEvent>,
    /// The output text's logprobs, when `include` asks for them.
    logprobs: Option<Logprobs>,
    /// Id of the reasoning item (`rs_…`), output 0 when the model reasons.
    reasoning_id: String,
    /// The first answer item's `output_index`: 1 after a reasoning item, else 0.
    answer_index: usize,
    /// The answer item the stream has opened and not closed yet (by its place in the
    /// answer); `None` before the first.
    open: Option<usize>,
}

/// The state of a response or of its output item.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    InProgress,
    Completed,
    Incomplete,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Incomplete => "incomplete",
            Status::Failed => "failed",
        }
    }

    fn of(c: &ChoiceOut) -> Self {
        if c.finish_reason == "length" {
            Status::Incomplete
        } else {
            Status::Completed
        }
    }
}

fn text_part(text: &str, logprobs: Value) -> Value {
    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": logprobs})
}

impl ResponsesWire {
    /// Answer item `k` of `c` (tool call `k`, or the message); empty (as when it starts
    /// streaming) unless `status` is final.
    fn item(&self, c: &ChoiceOut, k: usize, status: Status) -> Value {
        let started = status == Status::InProgress;
        match c.tool_calls.get(k) {
            Some(call) => json!({
                "id": self.item_ids[k],
                "type": "function_call",
                "status": status.as_str(),
                "call_id": call.id,
                "name": call.name,
                "arguments": if started { String::new() } else { call.arguments.pieces.concat() },
            }),
            None => {
                let content = if started {
                    vec![]
                } else {
                    vec![text_part(&text_of(c), self.logprobs_of(c))]
                };
                json!({
                    "id": self.item_ids[k],
                    "type": "message",
                    "status": status.as_str(),
                    "role": "assistant",
                    "content": content,
                })
            }
        }
    }

    /// The `logprobs` of `c`'s output text: every token's entry when asked for, else `[]`.
    fn logprobs_of(&self, c: &ChoiceOut) -> Value {
        match (&self.logprobs, &c.text) {
            (Some(lp), Some(t)) => {
                let mut out = vec![b'['];
                lp.push_entries(&mut out, &t.pieces, 0);
                out.push(b']');
                serde_json::from_slice(&out).expect("entries are JSON")
            }
            _ => json!([]),
        }
    }

    /// The reasoning item of `c`, if it reasons; its summary (the reasoning's text) once
    /// `done`.
    fn reasoning_item(&self, c: &ChoiceOut, done: bool) -> Option<Value> {
        let r = c.reasoning.as_ref()?;
        let summary = if done {
            json!([{"type": "summary_text", "text": r.pieces.concat()}])
        } else {
            json!([])
        };
        Some(json!({"id": self.reasoning_id, "type": "reasoning", "summary": summary}))
    }

    /// The events that open answer item `k` (after the reasoning item, if any).
    fn open_item(&mut self, c: &ChoiceOut, k: usize, out: &mut Vec<u8>) {
        self.open = Some(k);
        let item = self.item(c, k, Status::InProgress);
        let index = self.answer_index + k;
        self.event(
            out,
            "response.output_item.added",
            json!({"output_index": index, "item": item}),
        );
        if c.tool_calls.is_empty() {
            let id = self.item_ids[k].clone();
            self.event(
                out,
                "response.content_part.added",
                json!({"item_id": id, "output_index": index, "content_index": 0,
                    "part": text_part("", json!([]))}),
            );
        }
    }

    /// The events that close answer item `k` with `status`: the arguments' or the text's
    /// done events, then `response.output_item.done`.
    fn close_item(&mut self, c: &ChoiceOut, k: usize, status: Status, out: &mut Vec<u8>) {
        let id = self.item_ids[k].clone();
        let index = self.answer_index + k;
        match c.tool_calls.get(k) {
            Some(call) => self.event(
                out,
                "response.function_call_arguments.done",
                json!({"item_id": id, "output_index": index, "name": call.name,
                    "arguments": call.arguments.pieces.concat()}),
            ),
            None => {
                let text = text_of(c);
                let logprobs = self.logprobs_of(c);
                self.event(
                    out,
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": index,
                        "content_index": 0, "text": text, "logprobs": logprobs}),
                );
                self.event(
                    out,
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": index,
                        "content_index": 0, "part": text_part(&text, logprobs)}),
                );
            }
        }
        let item = self.item(c, k, status);
        self.event(
            out,
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        );
    }

    /// Moves the stream to answer item `k`: closes the item open before it (or the
    /// reasoning item), then opens it.
    fn move_to(&mut self, c: &ChoiceOut, k: usize, out: &mut Vec<u8>) {
        match self.open {
            Some(j) if j == k => return,
            Some(j) => self.close_item(c, j, Status::Completed, out),
            None => self.close_reasoning(c, out),
        }
        self.open_item(c, k, out);
    }

    /// The events that close the reasoning item's summary and the item.
    fn close_reasoning(&mut self, c: &ChoiceOut, out: &mut Vec<u8>) {
        let Some(item) = self.reasoning_item(c, true) else {
            return;
        };
        let text = item["summary"][0]["text"].clone();
        let id = self.reasoning_id.clone();
        let at = json!({"item_id": id, "output_index": 0, "summary_index": 0});
        let with = |extra: Value| {
            let mut v = at.clone();
            if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
                o.extend(e);
            }
            v
        };
        self.event(
            out,
            "response.reasoning_summary_text.done",
            with(json!({"text": text})),
        );
        let part = json!({"part": {"type": "summary_text", "text": text}});
        self.event(out, "response.reasoning_summary_part.done", with(part));
        self.event(
            out,
            "response.output_item.done",
            json!({"output_index": 0, "item": item}),
        );
    }

    /// The response object: in progress (no output yet), or final with output and usage.
    fn response(&self, plan: &StreamPlan, status: Status) -> Value {
        let c = &plan.choices[0];
        let done = matches!(status, Status::Completed | Status::Incomplete);
        let (output, usage) = if done {
            let completion = plan.completion_tokens();
            (
                Value::Array(
                    self.reasoning_item(c, true)
                        .into_iter()
                        .chain((0..self.item_ids.len()).map(|k| self.item(c, k, status)))
                        .collect(),
                ),
                json!({
                    "input_tokens": plan.prompt_tokens,
                    "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                    "output_tokens": completion,
                    "output_tokens_details": {"reasoning_tokens": plan.reasoning_tokens()},
                    "total_tokens": plan.prompt_tokens + completion,
                }),
            )
        } else {
            (json!([]), Value::Null)
        };
        let mut r: Map<String, Value> = [
            ("id", json!(self.id)),
            ("object", json!("response")),
            ("created_at", json!(self.created_at)),
            ("status", json!(status.as_str())),
            (
                "completed_at",
                if status == Status::Completed {
                    json!(unix_now())
                } else {
                    Value::Null
                },
            ),
            (
                "incomplete_details",
                if status == Status::Incomplete {
                    json!({"reason": "max_output_tokens"})
                } else {
                    Value::Null
                },
            ),
            ("model", json!(self.model)),
            ("output", output),
            ("usage", usage),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        r.extend(self.echo.clone());
        if status == Status::Failed {
            r.insert(
                "error".into(),
                json!({"code": "server_error", "message": "The server had an error while processing your request. (injected mid-stream fault)"}),
            );
        }
        Value::Object(r)
    }

    /// The final response, stored when `store` asks for it.
    fn finished(&self, plan: &StreamPlan) -> (Value, Status) {
        let status = Status::of(&plan.choices[0]);
        let r = self.response(plan, status);
        if self.store {
            let context = plan.prompt_tokens + plan.completion_tokens();
            self.app.responses.put(&self.id, r.clone(), context);
        }
        (r, status)
    }

    fn event(&mut self, out: &mut Vec<u8>, name: &str, fields: Value) {
        let mut data = json!({"type": name, "sequence_number": self.seq});
        if let (Some(d), Value::Object(f)) = (data.as_object_mut(), fields) {
            d.extend(f);
        }
        self.seq += 1;
        push_event(out, name, &data);
    }
}

fn text_of(c: &ChoiceOut) -> String {
    c.text
        .as_ref()
        .map(|t| t.pieces.concat())
        .unwrap_or_default()
}

impl Wire for ResponsesWire {
    fn body(&mut self, plan: &StreamPlan) -> Bytes {
        json_bytes(&self.finished(plan).0)
    }

    fn open(&mut self, plan: &StreamPlan, out: &mut Vec<u8>) {
        let r = self.response(plan, Status::InProgress);
        self.event(out, "response.created", json!({"response": r}));
        self.event(out, "response.in_progress", json!({"response": r}));
        let c = &plan.choices[0];
        match self.reasoning_item(c, false) {
            Some(item) => {
                self.event(
                    out,
                    "response.output_item.added",
                    json!({"output_index": 0, "item": item}),
                );
                let id = self.reasoning_id.clone();
                self.event(
                    out,
                    "response.reasoning_summary_part.added",
                    json!({"item_id": id, "output_index": 0, "summary_index": 0,
                        "part": {"type": "summary_text", "text": ""}}),
                );
            }
            None => self.open_item(c, 0, out),
        }
    }

    fn token(&mut self, plan: &StreamPlan, step: usize, out: &mut Vec<u8>) -> usize {
        let c = &plan.choices[0];
        let thought = c.reasoning_tokens();
        let (k, piece) = match piece_at(c, step) {
            None => return 0,
            Some(Piece::Reasoning(_)) => {
                let id = self.reasoning_id.clone();
                let piece = &c.reasoning.as_ref().expect("a reasoning piece").pieces[step];
                self.event(
                    out,
                    "response.reasoning_summary_text.delta",
                    json!({"item_id": id, "output_index": 0, "summary_index": 0,
                        "delta": piece}),
                );
                return 1;
            }
            Some(Piece::Text(p)) => (0, p),
            Some(Piece::Args { call, piece, .. }) => (call, piece),
        };
        self.move_to(c, k, out);
        if let (Some(lp), Some(t)) = (self.logprobs, &c.text) {
            // With logprobs each delta carries its token's entry: built per event.
            let at = step - thought;
            let mut entry = Vec::new();
            lp.push_entry(&mut entry, &t.pieces[at], 0, at);
            let entry: Value = serde_json::from_slice(&entry).expect("entries are JSON");
            let fields = json!({"item_id": self.item_ids[0], "output_index": self.answer_index,
                "content_index": 0, "delta": t.pieces[at], "logprobs": [entry]});
            self.event(out, "response.output_text.delta", fields);
            return 1;
        }
        let mut seq = itoa::Buffer::new();
        let mut extra = Vec::with_capacity(32);
        extra.extend_from_slice(seq.format(self.seq).as_bytes());
        extra.extend_from_slice(b",\"delta\":\"");
        self.deltas[k].push(out, piece, &extra);
        self.seq += 1;
        1
    }

    fn finish(&mut self, plan: &StreamPlan, out: &mut Vec<u8>) {
        let c = &plan.choices[0];
        let (r, status) = self.finished(plan);
        // Every answer item is opened and closed in order; the last with the final status
        // (an answer without tokens of its own is opened here, after the reasoning).
        let last = self.item_ids.len() - 1;
        for k in self.open.unwrap_or(0)..=last {
            self.move_to(c, k, out);
        }
        self.close_item(c, last, status, out);
        let name = if status == Status::Incomplete {
            "response.incomplete"
        } else {
            "response.completed"
        };
        self.event(out, name, json!({"response": r}));
    }

    fn error(&mut self, plan: &StreamPlan, out: &mut Vec<u8>) {
        let r = self.response(plan, Status::Failed);
        self.event(out, "response.failed", json!({"response": r}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_shapes_and_errors_name_the_parameter() {
        let ok = parse(br#"{"model":"m","input":"hi"}"#, false).unwrap();
        assert_eq!(ok.input, json!("hi"));
        let items = br#"{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"a"}]},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"42"}]}"#;
        let mut r = parse(items, false).unwrap();
        assert!(r.read_input(), "ends with a function's output");
        assert_eq!(r.turns.len(), 3);
        for (body, param) in [
            (&br#"{"input":"x"}"#[..], "model"),
            (br#"{"model":"m"}"#, "input"),
            (
                br#"{"model":"m","input":[{"role":"robot","content":"x"}]}"#,
                "input[0].role",
            ),
            (
                br#"{"model":"m","input":[{"type":"function_call_output","output":"x"}]}"#,
                "input[0].call_id",
            ),
            (
                br#"{"model":"m","input":"x","max_output_tokens":8}"#,
                "max_output_tokens",
            ),
            (
                br#"{"model":"m","input":"x","text":{"format":{"type":"json_schema","name":"n"}}}"#,
                "text.format.schema",
            ),
        ] {
            let e = parse(body, false).unwrap_err();
            assert_eq!(
                e.param.as_deref(),
                Some(param),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
