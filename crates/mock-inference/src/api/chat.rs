//! Chat completions: `POST /v1/chat/completions`, the hot route. Its body, validation, plan
//! and the no-wait answer the connection loop calls directly ([`now`]).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::Deserializer;
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::body::unix_now;
use crate::error::ApiError;
use crate::generate;
use crate::http1::Answer;
use crate::logprobs::{Logprobs, MAX_TOP};
use crate::plan::{StreamKind, StreamPlan};
use crate::request::{
    self, FUNCTION_FIELDS, FunctionDef, Shape, ToolMode, check, check_each, check_enum,
    check_function_tool, check_nested, check_object_array, check_tool_choice_mode, json_kind,
    range_error, request_body, str_or_seq,
};
use crate::server::{
    Admitted, Api, App, Ask, Format, Incoming, MockHeaders, non_stream_body, non_stream_now, serve,
    tool_schemas,
};
use crate::tokenizer;

request_body! {
    pub struct ChatRequest {
        ..openai_sampling,
        messages: Vec<Message> => check_messages,
        max_completion_tokens: Option<u32> => Shape::Count,
        tools: Option<Vec<Tool>> => check_tools,
        tool_choice: Option<ToolChoice> => check_tool_choice,
        response_format: Option<ResponseFormat> => check_response_format,
        logprobs: Option<bool> => Shape::Bool,
        top_logprobs: Option<u32> => Shape::Count,
        reasoning_effort: Option<String> => check_reasoning_effort,
        parallel_tool_calls: Option<bool> => Shape::Bool,
    }
    unread {
        logit_bias, metadata, store, service_tier,
        modalities, prediction, audio, functions, function_call,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
    Function,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::Developer => "developer",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
            Role::Function => "function",
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Option<Content>,
    pub name: Option<String>,
    pub tool_call_id: Option<String>,
    pub tool_calls: Option<Vec<Value>>,
}

/// Message content: a string, or an array of parts (only text parts carry tokens here).
#[derive(Debug, Default, PartialEq)]
pub struct Content {
    pub text: String,
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let one = |text| Content { text };
        let many = |parts: Vec<ContentPart>| {
            let mut text = String::new();
            for t in parts.into_iter().filter_map(|part| part.text) {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&t);
            }
            Content { text }
        };
        str_or_seq(d, "a string or an array of content parts", one, many)
    }
}

#[derive(Debug, Deserialize)]
struct ContentPart {
    #[serde(rename = "type")]
    #[allow(dead_code)]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Tool {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionDef,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    Mode(String),
    Named(NamedToolChoice),
}

#[derive(Debug, Deserialize)]
pub struct NamedToolChoice {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: NamedFunction,
}

#[derive(Debug, Deserialize)]
pub struct NamedFunction {
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct ResponseFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub json_schema: Option<JsonSchemaFormat>,
}

#[derive(Debug, Deserialize)]
pub struct JsonSchemaFormat {
    pub name: String,
    #[serde(default)]
    pub schema: Option<Value>,
    #[serde(default)]
    pub strict: Option<bool>,
}

impl ChatRequest {
    pub fn max_tokens(&self) -> Option<usize> {
        self.max_completion_tokens
            .or(self.max_tokens)
            .map(|v| v as usize)
    }

    pub fn tool_mode(&self) -> ToolMode {
        let Some(tools) = self.tools.as_ref().filter(|t| !t.is_empty()) else {
            return ToolMode::None;
        };
        match &self.tool_choice {
            None => ToolMode::Auto,
            Some(ToolChoice::Mode(m)) => match m.as_str() {
                "none" => ToolMode::None,
                "required" => ToolMode::Required,
                _ => ToolMode::Auto,
            },
            Some(ToolChoice::Named(n)) => tools
                .iter()
                .position(|t| t.function.name == n.function.name)
                .map(ToolMode::Named)
                .unwrap_or(ToolMode::Auto),
        }
    }

    /// The text of the last user message (echo mode, scenario matching).
    pub fn last_user_text(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == Role::User)
            .and_then(|m| m.content.as_ref())
            .map(|c| c.text.as_str())
            .unwrap_or("")
    }

    fn validate(&self) -> Result<(), ApiError> {
        if self.messages.is_empty() {
            return Err(ApiError::invalid(
                "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            )
            .param("messages")
            .code("empty_array"));
        }
        for (i, m) in self.messages.iter().enumerate() {
            if m.role == Role::Tool && m.tool_call_id.is_none() {
                return Err(ApiError::missing(&format!("messages[{i}].tool_call_id")));
            }
            let has_calls = m.tool_calls.as_ref().is_some_and(|c| !c.is_empty());
            if m.content.is_none() && !(m.role == Role::Assistant && has_calls) {
                return Err(ApiError::missing(&format!("messages[{i}].content")));
            }
        }
        let max_tokens_name = if self.max_completion_tokens.is_some() {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        self.validate_sampling(
            self.max_completion_tokens.or(self.max_tokens),
            max_tokens_name,
        )?;
        if let Some(effort) = &self.reasoning_effort
            && !EFFORTS.contains(&effort.as_str())
        {
            return Err(ApiError::invalid_value(
                "reasoning_effort",
                format!(
                    "Invalid value: '{effort}'. Supported values are: \
                     'none', 'minimal', 'low', 'medium', and 'high'."
                ),
            ));
        }
        if let Some(n) = self.top_logprobs {
            if n > MAX_TOP {
                return Err(range_error(
                    "top_logprobs",
                    &n.to_string(),
                    0.0,
                    MAX_TOP as f64,
                ));
            }
            if self.logprobs != Some(true) {
                return Err(ApiError::invalid_value(
                    "top_logprobs",
                    concat!(
                        "Invalid value for 'top_logprobs': 'logprobs' must be set to true ",
                        "when 'top_logprobs' is given."
                    ),
                ));
            }
        }
        if let Some(tools) = &self.tools {
            for (i, t) in tools.iter().enumerate() {
                let supported = "Supported values are: 'function'.";
                check_function_tool(i, &t.kind, supported, "function.name", &t.function.name)?;
                if let Some(p) = &t.function.parameters
                    && !p.is_object()
                {
                    return Err(ApiError::wrong_type(
                        &format!("tools[{i}].function.parameters"),
                        "an object",
                        json_kind(p),
                    ));
                }
            }
        }
        match &self.tool_choice {
            None => {}
            Some(ToolChoice::Mode(m)) => {
                check_tool_choice_mode(m)?;
                if m != "none" && self.tools.as_ref().is_none_or(|t| t.is_empty()) {
                    return Err(ApiError::invalid_value(
                        "tool_choice",
                        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
                    ));
                }
            }
            Some(ToolChoice::Named(n)) => {
                let known = self
                    .tools
                    .as_ref()
                    .is_some_and(|t| t.iter().any(|t| t.function.name == n.function.name));
                if n.kind != "function" || !known {
                    return Err(ApiError::invalid_value(
                        "tool_choice",
                        format!(
                            "Invalid value for 'tool_choice': no function named '{}' was specified in the 'tools' parameter.",
                            n.function.name
                        ),
                    ));
                }
            }
        }
        if let Some(rf) = &self.response_format {
            match rf.kind.as_str() {
                "text" | "json_object" => {}
                "json_schema" => match &rf.json_schema {
                    None => return Err(ApiError::missing("response_format.json_schema")),
                    Some(js) => {
                        if let Some(s) = &js.schema
                            && !s.is_object()
                        {
                            return Err(ApiError::wrong_type(
                                "response_format.json_schema.schema",
                                "an object",
                                json_kind(s),
                            ));
                        }
                    }
                },
                other => {
                    return Err(ApiError::invalid_value(
                        "response_format.type",
                        format!(
                            "Invalid value: '{other}'. Supported values are: 'json_object', 'json_schema', and 'text'."
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Parses and validates a chat completion body.
pub fn parse(body: &[u8], strict: bool) -> Result<ChatRequest, ApiError> {
    let req: ChatRequest = request::parse(body, strict)?;
    req.validate()?;
    Ok(req)
}

fn check_messages(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check(obj, name, Shape::Arr, true)?;
    check_object_array(obj, name, |_, mo| {
        let roles = [
            "system",
            "assistant",
            "user",
            "function",
            "tool",
            "developer",
        ];
        check_enum(mo, "role", &roles, true)?;
        check(mo, "content", Shape::StrOrArr, false)?;
        check_object_array(mo, "content", |_, po| {
            check(po, "type", Shape::Str, true)?;
            check(po, "text", Shape::Str, false)
        })?;
        check(mo, "name", Shape::Str, false)?;
        check(mo, "tool_call_id", Shape::Str, false)?;
        check(mo, "tool_calls", Shape::Arr, false)
    })
}

/// The efforts chat's `reasoning_effort` and the Responses API's `reasoning.effort` take.
pub(crate) const EFFORTS: &[&str] = &["none", "minimal", "low", "medium", "high"];

fn check_reasoning_effort(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check_enum(obj, name, EFFORTS, false)
}

fn check_tools(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check(obj, name, Shape::Arr, false)?;
    check_object_array(obj, name, |_, to| {
        check_each(
            to,
            &[("type", Shape::Str, true), ("function", Shape::Obj, true)],
        )?;
        check_nested(to, "function", |fo| check_each(fo, FUNCTION_FIELDS))
    })
}

fn check_tool_choice(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    request::check_tool_choice_object(obj, name, |tc| {
        check_each(
            tc,
            &[("type", Shape::Str, true), ("function", Shape::Obj, true)],
        )?;
        check_nested(tc, "function", |f| check(f, "name", Shape::Str, true))
    })
}

fn check_response_format(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check(obj, name, Shape::Obj, false)?;
    check_nested(obj, name, |rf| {
        check_each(
            rf,
            &[
                ("type", Shape::Str, true),
                ("json_schema", Shape::Obj, false),
            ],
        )?;
        check_nested(rf, "json_schema", |js| {
            check_each(
                js,
                &[
                    ("name", Shape::Str, true),
                    ("schema", Shape::Obj, false),
                    ("strict", Shape::Bool, false),
                ],
            )
        })
    })
}

pub async fn handle(app: State<Arc<App>>, req: Request) -> Response {
    serve::<ChatRequest>(app, req).await
}

/// A chat request answered without waiting (see [`App::chat_never_waits`]): the same
/// response as [`handle`], without the request and future plumbing. The response body may
/// still stream (a mid-stream fault).
pub fn now(app: &Arc<App>, headers: MockHeaders, body: &[u8]) -> Answer {
    debug_assert!(app.chat_never_waits());
    let start = Instant::now();
    let answer = parse(body, app.cfg.strict).and_then(|req| {
        let admitted = app.admit_parsed(&req, headers, start)?;
        let running = app.admission.running(None);
        let stream = req.stream();
        let sp = req.plan(app, admitted)?;
        if stream {
            return Ok(Answer::Response(app.stream(running, sp)));
        }
        let stall = app.unstreamed_fault(sp.fault)?;
        Ok(match stall {
            Some(pause) => Answer::Response(crate::body::delayed(
                non_stream_now(app, running, sp, Duration::ZERO),
                pause,
            )),
            None => Answer::Json(non_stream_body(app, running, sp, Duration::ZERO)),
        })
    });
    answer.unwrap_or_else(|e| Answer::Response(e.into_response()))
}

impl Incoming for ChatRequest {
    fn parse(app: &App, body: &[u8]) -> Result<Self, ApiError> {
        parse(body, app.cfg.strict)
    }
}

impl Api for ChatRequest {
    fn stream(&self) -> bool {
        ChatRequest::stream(self)
    }
    fn last_user_text(&self) -> &str {
        ChatRequest::last_user_text(self)
    }

    fn plan(self, app: &Arc<App>, a: Admitted) -> Result<StreamPlan, ApiError> {
        let req = &self;
        let prompt_tokens = tokenizer::chat_prompt_tokens(req.messages.iter().map(|m| {
            (
                m.role.as_str(),
                m.content.as_ref().map_or("", |c| c.text.as_str()),
                m.name.as_deref(),
            )
        }));
        let seed = req.seed_or(app.cfg.response.seed);
        let hash = || {
            generate::conversation_hash(
                req.messages
                    .iter()
                    .map(|m| m.content.as_ref().map_or("", |c| c.text.as_str())),
            )
        };
        let format = match &req.response_format {
            Some(rf) if rf.kind == "json_schema" => {
                Format::JsonSchema(rf.json_schema.as_ref().and_then(|j| j.schema.as_ref()))
            }
            Some(rf) if rf.kind == "json_object" => Format::JsonObject,
            _ => Format::Text,
        };
        let ask = Ask {
            text: req.last_user_text(),
            hash: &hash,
            seed,
            tools: tool_schemas(&req.tools, |t| t.function.schema()),
            tool_mode: req.tool_mode(),
            format,
            stop: req.stop(),
            max_tokens: req.max_tokens(),
            request_seed: req.request_seed(),
            ignore_eos: req.ignore_eos(),
            min_tokens: req.min_tokens(),
            reasoning: app.reasoning_tokens(&req.model, req.reasoning_effort.as_deref()),
            max_calls: app.calls_per_turn(req.parallel_tool_calls != Some(false), a.tool_calls),
        };
        let choices = (0..req.n())
            .map(|i| app.answer(&ask, a.scenario.as_ref(), i))
            .collect();
        Ok(StreamPlan {
            kind: StreamKind::Chat,
            wire: None,
            id: generate::random_id("chatcmpl-"),
            created: unix_now(),
            model: a.model,
            choices,
            prompt_tokens,
            include_usage: req.include_usage(),
            fault: a.fault,
            extra_delay: a.extra_delay,
            seed,
            start: a.start,
            logprobs: (req.logprobs == Some(true)).then(|| Logprobs {
                top: req.top_logprobs.unwrap_or(0) as usize,
                seed,
            }),
            reasoning_field: app.cfg.reasoning.field.as_str(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn minimal_chat_parses() {
        let r = parse(
            br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
            false,
        )
        .unwrap();
        assert_eq!(r.last_user_text(), "hi");
        assert_eq!(r.tool_mode(), ToolMode::None);
    }

    #[test]
    fn content_parts_join_text() {
        let r = parse(
            br#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"b"}]}]}"#,
            false,
        )
        .unwrap();
        assert_eq!(r.last_user_text(), "a\nb");
    }

    #[test]
    fn wrong_type_names_param() {
        let e = parse(br#"{"model":"m","messages":[],"max_tokens":"5"}"#, false).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("max_tokens"));
        assert_eq!(e.code, Some("invalid_type"));
        let e = parse(
            br#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#,
            false,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages[0].role"));
        let e = parse(br#"{"messages":[]}"#, false).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("model"));
        assert_eq!(e.code, Some("missing_required_parameter"));
    }

    #[test]
    fn strict_rejects_unknown_fields() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"x"}],"bogus":1}"#;
        assert!(parse(body, false).is_ok());
        let e = parse(body, true).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("bogus"));
    }

    #[test]
    fn prompt_shapes() {
        use crate::api::completions;
        for body in [
            r#"{"model":"m","prompt":"x"}"#,
            r#"{"model":"m","prompt":["x","y"]}"#,
            r#"{"model":"m","prompt":[1,2,3]}"#,
            r#"{"model":"m","prompt":[[1],[2,3]]}"#,
        ] {
            completions::parse(body.as_bytes(), false).unwrap();
        }
        let e = completions::parse(br#"{"model":"m","prompt":[1,"x"]}"#, false).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("prompt"));
    }
}
