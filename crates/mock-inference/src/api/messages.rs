//! The Anthropic Messages API: `POST /v1/messages` (streamed or not) and
//! `POST /v1/messages/count_tokens`. `system` at the top level, `max_tokens` required, content
//! blocks (text, `tool_use`, `tool_result`, …), tools with `input_schema`, `tool_choice`
//! auto/any/tool/none, `stop_sequences`, and `stop_reason` end_turn / max_tokens /
//! stop_sequence / tool_use. Streams send Anthropic's named events. Errors are Anthropic's
//! `{"type":"error","error":{"type","message"}}`; the overload fault (503) is its 529
//! `overloaded_error`. `anthropic-version` is accepted and not checked; `x-api-key` see
//! [`crate::access`].

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{TokenEvent, content_text, json_bytes, push_event};
use crate::body::json_response;
use crate::error::ApiError;
use crate::generate::{self, ChoiceOut};
use crate::plan::{Piece, piece_at};
use crate::plan::{StreamPlan, Wire};
use crate::request::{
    self, Req, Shape, ToolMode, check, check_array_of, check_each, check_enum, check_nested,
    check_object_array, json_kind, range_error, request_body,
};
use crate::server::{Admitted, Api, App, Ask, Format, Incoming, tool_schemas};
use crate::tokenizer;

request_body! {
    /// The body, typed once its shape is checked (so the container default never stands
    /// in for a missing required field).
    #[derive(Default)]
    #[serde(default)]
    pub struct MessagesRequest {
        model: String => Req(Shape::Str),
        // Required but in count_tokens bodies: see [`parse`].
        max_tokens: Option<u32> => Shape::Count,
        messages: Vec<InputMessage> => check_messages,
        system: Option<Value> => check_system,
        stop_sequences: Option<Vec<String>> => check_stop_sequences,
        stream: Option<bool> => Shape::Bool,
        temperature: Option<f64> => Shape::Num,
        top_p: Option<f64> => Shape::Num,
        tools: Option<Vec<Tool>> => check_tools,
        tool_choice: Option<ToolChoice> => check_tool_choice,
        // vLLM's extra body fields.
        seed: Option<i64> => Shape::Int,
        ignore_eos: Option<bool> => Shape::Bool,
        min_tokens: Option<u32> => Shape::Count,
        thinking: Option<Thinking> => check_thinking,
    }
    unread {
        top_k => Shape::Count,
        metadata => check_metadata,
        service_tier, container, mcp_servers,
    }
}

/// Extended thinking: `{"type": "enabled", "budget_tokens": N}` (or `disabled`).
#[derive(Debug, Deserialize)]
pub struct Thinking {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub budget_tokens: Option<u32>,
}

/// Anthropic's smallest thinking budget.
const MIN_THINKING_BUDGET: u32 = 1024;

fn check_thinking(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check(obj, name, Shape::Obj, false)?;
    check_nested(obj, name, |t| {
        check_enum(t, "type", &["enabled", "disabled"], true)?;
        let enabled = t.get("type").and_then(Value::as_str) == Some("enabled");
        check(t, "budget_tokens", Shape::Count, enabled)
    })
}

#[derive(Debug, Deserialize)]
pub struct InputMessage {
    pub role: String,
    pub content: Value,
}

#[derive(Debug, Deserialize)]
pub struct Tool {
    pub name: String,
    #[serde(default)]
    pub input_schema: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct ToolChoice {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub name: Option<String>,
    /// True: at most one tool call.
    #[serde(default)]
    pub disable_parallel_tool_use: Option<bool>,
}

fn check_messages(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check(obj, name, Shape::Arr, true)?;
    check_object_array(obj, name, |_, mo| {
        check_enum(mo, "role", &["user", "assistant"], true)?;
        check(mo, "content", Shape::StrOrArr, true)?;
        check_object_array(mo, "content", check_block)
    })
}

fn check_system(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check(obj, name, Shape::StrOrArr, false)?;
    check_object_array(obj, name, check_block)
}

fn check_stop_sequences(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check(obj, name, Shape::Arr, false)?;
    if let Some(Value::Array(a)) = obj.get(name) {
        check_array_of(a, name, |p, v| match v {
            Value::String(_) => Ok(()),
            _ => Err(ApiError::wrong_type(p, "a string", json_kind(v))),
        })?;
    }
    Ok(())
}

fn check_metadata(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check(obj, name, Shape::Obj, false)?;
    check_nested(obj, name, |m| check(m, "user_id", Shape::Str, false))
}

fn check_tools(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check(obj, name, Shape::Arr, false)?;
    check_object_array(obj, name, |_, to| {
        // The mock serves custom (client) tools only.
        check_enum(to, "type", &["custom"], false)?;
        check_each(
            to,
            &[
                ("name", Shape::Str, true),
                ("description", Shape::Str, false),
                ("input_schema", Shape::Obj, true),
            ],
        )
    })
}

fn check_tool_choice(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check(obj, name, Shape::Obj, false)?;
    check_nested(obj, name, |tc| {
        check_enum(tc, "type", &["auto", "any", "tool", "none"], true)?;
        let flag = ("disable_parallel_tool_use", Shape::Bool, false);
        check_each(tc, &[("name", Shape::Str, false), flag])
    })
}

/// The content block types a message or `system` may hold.
const BLOCK_TYPES: &[&str] = &[
    "text",
    "image",
    "document",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
    "search_result",
];

fn check_block(_: &str, b: &Map<String, Value>) -> Result<(), ApiError> {
    check_enum(b, "type", BLOCK_TYPES, true)?;
    match b["type"].as_str().unwrap_or_default() {
        "text" => check(b, "text", Shape::Str, true),
        "image" | "document" => check(b, "source", Shape::Obj, true),
        "tool_use" => {
            check(b, "id", Shape::Str, true)?;
            check(b, "name", Shape::Str, true)?;
            check(b, "input", Shape::Obj, true)
        }
        "tool_result" => {
            check(b, "tool_use_id", Shape::Str, true)?;
            check(b, "content", Shape::StrOrArr, false)?;
            check(b, "is_error", Shape::Bool, false)
        }
        _ => Ok(()),
    }
}

impl MessagesRequest {
    fn validate(&self) -> Result<(), ApiError> {
        if self.messages.is_empty() {
            return Err(ApiError::invalid_value(
                "messages",
                "messages: at least one message is required",
            ));
        }
        if self.max_tokens == Some(0) {
            return Err(ApiError::invalid_value(
                "max_tokens",
                "max_tokens: Input should be greater than or equal to 1",
            ));
        }
        request::check_min_tokens(self.min_tokens, self.max_tokens, "max_tokens")?;
        if let Some(budget) = self.thinking_budget() {
            if budget < MIN_THINKING_BUDGET {
                return Err(ApiError::invalid_value(
                    "thinking.budget_tokens",
                    format!(
                        "thinking.enabled.budget_tokens: Input should be greater than or equal \
                         to {MIN_THINKING_BUDGET}"
                    ),
                ));
            }
            if self.max_tokens.is_some_and(|m| m <= budget) {
                return Err(ApiError::invalid_value(
                    "max_tokens",
                    "`max_tokens` must be greater than `thinking.budget_tokens`.",
                ));
            }
        }
        for (name, v) in [("temperature", self.temperature), ("top_p", self.top_p)] {
            if let Some(v) = v
                && !(0.0..=1.0).contains(&v)
            {
                return Err(range_error(name, &v.to_string(), 0.0, 1.0));
            }
        }
        for (i, t) in self.tools.iter().flatten().enumerate() {
            if !generate::valid_function_name(&t.name) {
                return Err(ApiError::invalid_value(
                    &format!("tools[{i}].name"),
                    format!(
                        "tools.{i}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
                    ),
                ));
            }
        }
        if let Some(tc) = &self.tool_choice {
            match tc.kind.as_str() {
                "auto" | "any" | "none" => {}
                "tool" => {
                    let name = tc.name.as_deref().unwrap_or_default();
                    if self.tool_index(name).is_none() {
                        return Err(ApiError::invalid_value(
                            "tool_choice.name",
                            format!("tool_choice.name: no tool named '{name}' in 'tools'."),
                        ));
                    }
                }
                other => {
                    return Err(ApiError::invalid_value(
                        "tool_choice.type",
                        format!(
                            "tool_choice.type: Input tag '{other}' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'."
                        ),
                    ));
                }
            }
            if tc.kind == "any" && self.tools.as_ref().is_none_or(|t| t.is_empty()) {
                return Err(ApiError::invalid_value(
                    "tool_choice",
                    "tool_choice: 'any' requires 'tools'.",
                ));
            }
        }
        Ok(())
    }

    fn tool_index(&self, name: &str) -> Option<usize> {
        self.tools.iter().flatten().position(|t| t.name == name)
    }

    /// Whether a turn may call several tools (`tool_choice.disable_parallel_tool_use` not
    /// true).
    fn parallel_tool_use(&self) -> bool {
        self.tool_choice
            .as_ref()
            .and_then(|t| t.disable_parallel_tool_use)
            != Some(true)
    }

    /// The thinking budget when extended thinking is enabled.
    fn thinking_budget(&self) -> Option<u32> {
        self.thinking
            .as_ref()
            .filter(|t| t.kind == "enabled")
            .map(|t| t.budget_tokens.unwrap_or(0))
    }

    /// Whether the conversation ends with a user turn carrying a `tool_result`.
    fn ends_with_tool_result(&self) -> bool {
        self.messages.last().is_some_and(|m| {
            m.role == "user"
                && m.content.as_array().is_some_and(|blocks| {
                    blocks
                        .iter()
                        .any(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
                })
        })
    }

    fn tool_mode(&self) -> ToolMode {
        if self.tools.as_ref().is_none_or(|t| t.is_empty()) {
            return ToolMode::None;
        }
        match self.tool_choice.as_ref().map(|t| t.kind.as_str()) {
            Some("none") => ToolMode::None,
            Some("any") => ToolMode::Required,
            Some("tool") => self
                .tool_choice
                .as_ref()
                .and_then(|t| t.name.as_deref())
                .and_then(|n| self.tool_index(n))
                .map_or(ToolMode::Auto, ToolMode::Named),
            // A model that just got its tool's result answers in words.
            _ if self.ends_with_tool_result() => ToolMode::None,
            _ => ToolMode::Auto,
        }
    }

    /// The text a message carries: text blocks, tool calls and tool results.
    fn message_text(m: &InputMessage) -> String {
        match &m.content {
            Value::Array(blocks) => blocks
                .iter()
                .map(|b| match b.get("type").and_then(Value::as_str) {
                    Some("text") => b["text"].as_str().unwrap_or_default().to_string(),
                    Some("tool_use") => {
                        format!("{}{}", b["name"].as_str().unwrap_or_default(), b["input"])
                    }
                    Some("tool_result") => content_text(b.get("content"), &["text"]),
                    _ => String::new(),
                })
                .collect::<Vec<_>>()
                .join("\n"),
            other => content_text(Some(other), &["text"]),
        }
    }

    /// Input tokens: the system prompt, every message, and the tool definitions.
    fn input_tokens(&self) -> usize {
        let system = content_text(self.system.as_ref(), &["text"]);
        let texts: Vec<String> = self.messages.iter().map(Self::message_text).collect();
        let tools = self
            .tools
            .as_ref()
            .filter(|t| !t.is_empty())
            .map(|t| {
                t.iter()
                    .map(|t| format!("{}{}", t.name, t.input_schema.clone().unwrap_or_default()))
                    .collect::<String>()
            })
            .unwrap_or_default();
        tokenizer::chat_prompt_tokens(
            [
                ("system", system.as_str(), None),
                ("system", tools.as_str(), None),
            ]
            .into_iter()
            .filter(|(_, t, _)| !t.is_empty())
            .chain(
                self.messages
                    .iter()
                    .zip(&texts)
                    .map(|(m, t)| (m.role.as_str(), t.as_str(), None)),
            ),
        )
    }
}

/// Parses and validates a Messages body (`counting`: a count_tokens body, no `max_tokens`).
pub fn parse(body: &[u8], strict: bool, counting: bool) -> Result<MessagesRequest, ApiError> {
    let req: MessagesRequest = request::parse_checked(body, strict, |obj| {
        if counting {
            Ok(())
        } else {
            check(obj, "max_tokens", Shape::Count, true)
        }
    })?;
    req.validate()?;
    Ok(req)
}

/// An error as Anthropic sends it: `{"type":"error","error":{"type","message"}}`, the type
/// named by the status; an overload (503) is Anthropic's 529 `overloaded_error`.
pub fn error_response(e: ApiError) -> Response {
    let (status, kind) = match e.status.as_u16() {
        400 | 422 => (400, "invalid_request_error"),
        401 => (401, "authentication_error"),
        403 => (403, "permission_error"),
        404 => (404, "not_found_error"),
        413 => (413, "request_too_large"),
        429 => (429, "rate_limit_error"),
        503 | 529 => (529, "overloaded_error"),
        s if s < 500 => (s, "invalid_request_error"),
        s => (s, "api_error"),
    };
    let body = json!({
        "type": "error",
        "error": {"type": kind, "message": e.message},
        "request_id": generate::random_id("req_"),
    });
    let mut r = json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        json_bytes(&body),
    );
    if let Some(secs) = e.retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}

/// `POST /v1/messages/count_tokens`: `{"input_tokens": N}`, what `usage.input_tokens` of
/// the same request would be.
pub async fn count_tokens(State(app): State<Arc<App>>, req: Request) -> Response {
    // A count_tokens body may leave out `max_tokens`.
    let received = app.receive_with(req, |body| parse(body, app.cfg.strict, true));
    match received.await {
        Ok((req, _)) => {
            let v = json!({"input_tokens": req.input_tokens()});
            json_response(StatusCode::OK, json_bytes(&v))
        }
        Err(e) => error_response(e),
    }
}

impl Incoming for MessagesRequest {
    fn parse(app: &App, body: &[u8]) -> Result<Self, ApiError> {
        parse(body, app.cfg.strict, false)
    }
}

impl Api for MessagesRequest {
    fn stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }
    fn last_user_text(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == "user")
            .and_then(|m| m.content.as_str())
            .unwrap_or("")
    }
    fn error(e: ApiError) -> Response {
        error_response(e)
    }

    fn plan(self, app: &Arc<App>, a: Admitted) -> Result<StreamPlan, ApiError> {
        let texts: Vec<(&str, String)> = self
            .messages
            .iter()
            .map(|m| (m.role.as_str(), Self::message_text(m)))
            .collect();
        let last_user = texts
            .iter()
            .rev()
            .find(|(r, _)| *r == "user")
            .map_or("", |(_, t)| t.as_str());
        let hash = || generate::conversation_hash(texts.iter().map(|(_, t)| t.as_str()));
        let request_seed = self.seed.map(|s| s as u64);
        let seed = request_seed.unwrap_or(app.cfg.response.seed);
        let stop = self.stop_sequences.as_deref().unwrap_or(&[]);
        let ask = Ask {
            text: last_user,
            hash: &hash,
            seed,
            tools: tool_schemas(&self.tools, |t| (t.name.as_str(), t.input_schema.as_ref())),
            tool_mode: self.tool_mode(),
            format: Format::Text,
            stop,
            max_tokens: self.max_tokens.map(|m| m as usize),
            request_seed,
            ignore_eos: self.ignore_eos.unwrap_or(false),
            min_tokens: self.min_tokens.unwrap_or(0) as usize,
            // Thinking as long as a medium effort, within the budget.
            reasoning: self.thinking_budget().map_or(0, |b| {
                (b as usize).min(app.cfg.reasoning.effort_tokens.medium)
            }),
            max_calls: app.calls_per_turn(self.parallel_tool_use(), a.tool_calls),
        };
        let mut choice = app.answer(&ask, a.scenario.as_ref(), 0);
        for call in &mut choice.tool_calls {
            call.id = generate::random_id("toolu_");
        }
        let (stop_reason, stop_sequence) = match (choice.finish_reason, choice.stop_sequence) {
            ("tool_calls", _) => ("tool_use", None),
            ("length", _) => ("max_tokens", None),
            (_, Some(i)) => ("stop_sequence", stop.get(i).cloned()),
            _ => ("end_turn", None),
        };
        // A thinking block comes first; the answer's blocks (its text, or one `tool_use`
        // block per call) follow it.
        let answer_index = usize::from(choice.reasoning.is_some());
        let blocks = choice.tool_calls.len().max(1);
        let deltas = (answer_index..answer_index + blocks)
            .map(|index| {
                let delta = if choice.tool_calls.is_empty() {
                    "\"type\":\"text_delta\",\"text\""
                } else {
                    "\"type\":\"input_json_delta\",\"partial_json\""
                };
                TokenEvent::new(
                    "content_block_delta",
                    &format!(
                        "{{\"type\":\"content_block_delta\",\"index\":{index},\
                         \"delta\":{{{delta}:\""
                    ),
                    b"\"}}",
                )
            })
            .collect();
        let id = generate::random_id("msg_");
        let wire = MessagesWire {
            id: id.clone(),
            model: self.model.clone(),
            stop_reason,
            stop_sequence,
            deltas,
            answer_index,
            open: None,
            signature: thinking_signature(&id),
        };
        let prompt_tokens = self.input_tokens();
        Ok(a.wire_plan(id, choice, prompt_tokens, seed, Box::new(wire)))
    }
}

/// Anthropic's bodies and events for one message.
struct MessagesWire {
    id: String,
    /// The model as requested (unescaped).
    model: String,
    stop_reason: &'static str,
    stop_sequence: Option<String>,
    /// The per-token event of each answer block.
    deltas: Vec<TokenEvent>,
    /// The first answer block's index: 1 after a thinking block, else 0.
    answer_index: usize,
    /// The answer block the stream has started and not stopped yet (by its place in the
    /// answer); `None` before the first.
    open: Option<usize>,
    /// The thinking block's `signature`.
    signature: String,
}

/// A thinking block's signature: opaque to the client, which sends it back unchanged.
fn thinking_signature(message_id: &str) -> String {
    use base64::Engine as _;
    let h = generate::splitmix64(generate::hash_str(message_id));
    base64::engine::general_purpose::STANDARD.encode(h.to_le_bytes().repeat(4))
}

impl MessagesWire {
    fn usage(plan: &StreamPlan, output_tokens: usize) -> Value {
        json!({
            "input_tokens": plan.prompt_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output_tokens,
        })
    }

    /// Answer block `k` (tool call `k`, or the text): whole, or empty as
    /// `content_block_start` opens it.
    fn block(c: &ChoiceOut, k: usize, whole: bool) -> Value {
        match c.tool_calls.get(k) {
            Some(call) => {
                let input = if whole {
                    serde_json::from_str(&call.arguments.pieces.concat()).unwrap_or(json!({}))
                } else {
                    json!({})
                };
                json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input})
            }
            None => {
                let text = if whole {
                    c.text
                        .as_ref()
                        .map(|t| t.pieces.concat())
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                json!({"type": "text", "text": text})
            }
        }
    }

    /// The thinking block of `c`, if it thinks: whole, or empty as it opens.
    fn thinking_block(&self, c: &ChoiceOut, whole: bool) -> Option<Value> {
        let r = c.reasoning.as_ref()?;
        Some(if whole {
            json!({"type": "thinking", "thinking": r.pieces.concat(), "signature": self.signature})
        } else {
            json!({"type": "thinking", "thinking": "", "signature": ""})
        })
    }

    /// Moves the stream to answer block `k`: stops the block before it (the thinking block
    /// after its signature, or the previous answer block), then starts it.
    fn move_to(&mut self, c: &ChoiceOut, k: usize, out: &mut Vec<u8>) {
        let stop = match self.open {
            Some(j) if j == k => return,
            Some(j) => self.answer_index + j,
            None => {
                let sig = json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "signature_delta", "signature": self.signature}});
                push_event(out, "content_block_delta", &sig);
                0
            }
        };
        let stop = json!({"type": "content_block_stop", "index": stop});
        push_event(out, "content_block_stop", &stop);
        self.start_block(c, k, out);
    }

    fn start_block(&mut self, c: &ChoiceOut, k: usize, out: &mut Vec<u8>) {
        self.open = Some(k);
        let start = json!({"type": "content_block_start", "index": self.answer_index + k,
            "content_block": Self::block(c, k, false)});
        push_event(out, "content_block_start", &start);
    }

    fn message(&self, plan: &StreamPlan, whole: bool) -> Value {
        let c = &plan.choices[0];
        let (content, stop_reason, stop_sequence, usage) = if whole {
            (
                Value::Array(
                    self.thinking_block(c, true)
                        .into_iter()
                        .chain((0..self.deltas.len()).map(|k| Self::block(c, k, true)))
                        .collect(),
                ),
                json!(self.stop_reason),
                json!(self.stop_sequence),
                Self::usage(plan, plan.completion_tokens()),
            )
        } else {
            (json!([]), Value::Null, Value::Null, Self::usage(plan, 1))
        };
        let mut usage = usage;
        usage["service_tier"] = json!("standard");
        json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": stop_sequence,
            "usage": usage,
        })
    }
}

impl Wire for MessagesWire {
    fn body(&mut self, plan: &StreamPlan) -> Bytes {
        json_bytes(&self.message(plan, true))
    }

    fn open(&mut self, plan: &StreamPlan, out: &mut Vec<u8>) {
        let start = json!({"type": "message_start", "message": self.message(plan, false)});
        push_event(out, "message_start", &start);
        let c = &plan.choices[0];
        match self.thinking_block(c, false) {
            Some(first) => {
                let block =
                    json!({"type": "content_block_start", "index": 0, "content_block": first});
                push_event(out, "content_block_start", &block);
            }
            None => self.start_block(c, 0, out),
        }
        push_event(out, "ping", &json!({"type": "ping"}));
    }

    fn token(&mut self, plan: &StreamPlan, step: usize, out: &mut Vec<u8>) -> usize {
        let c = &plan.choices[0];
        let (k, piece) = match piece_at(c, step) {
            None => return 0,
            Some(Piece::Reasoning(_)) => {
                let r = c.reasoning.as_ref().expect("a reasoning piece");
                let delta = json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "thinking_delta", "thinking": r.pieces[step]}});
                push_event(out, "content_block_delta", &delta);
                return 1;
            }
            Some(Piece::Text(p)) => (0, p),
            Some(Piece::Args { call, piece, .. }) => (call, piece),
        };
        self.move_to(c, k, out);
        self.deltas[k].push(out, piece, b"");
        1
    }

    fn finish(&mut self, plan: &StreamPlan, out: &mut Vec<u8>) {
        // Every answer block is started and stopped in order (an answer without tokens of
        // its own is started here, after the thinking).
        let c = &plan.choices[0];
        let last = self.deltas.len() - 1;
        for k in self.open.unwrap_or(0)..=last {
            self.move_to(c, k, out);
        }
        let stop = json!({"type": "content_block_stop", "index": self.answer_index + last});
        push_event(out, "content_block_stop", &stop);
        let delta = json!({
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason, "stop_sequence": self.stop_sequence},
            "usage": Self::usage(plan, plan.completion_tokens()),
        });
        push_event(out, "message_delta", &delta);
        push_event(out, "message_stop", &json!({"type": "message_stop"}));
    }

    fn error(&mut self, _plan: &StreamPlan, out: &mut Vec<u8>) {
        let e = json!({
            "type": "error",
            "error": {"type": "overloaded_error", "message": "Overloaded (injected mid-stream fault)"},
        });
        push_event(out, "error", &e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_tokens_is_required_except_when_counting() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
        let e = parse(body, false, false).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("max_tokens"));
        let r = parse(body, false, true).unwrap();
        assert!(r.input_tokens() > 0);
        let with_tools = br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f","input_schema":{"type":"object"}}]}"#;
        assert!(parse(with_tools, false, true).unwrap().input_tokens() > r.input_tokens());
    }

    #[test]
    fn overload_is_529() {
        let r = error_response(ApiError::fault(503, 1));
        assert_eq!(r.status().as_u16(), 529);
    }
}
