//! Request parsing and validation. The fast path deserialises straight into typed structs
//! (borrowing nothing, no `Value` tree); only when that fails does [`diagnose`] walk a
//! `serde_json::Value` to name the offending parameter the way OpenAI does.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde_json::Value;

use crate::error::ApiError;

// ---------------------------------------------------------------- chat completions

#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub max_completion_tokens: Option<u32>,
    #[serde(default)]
    pub stop: Option<Stop>,
    #[serde(default)]
    pub n: Option<u32>,
    #[serde(default)]
    pub seed: Option<i64>,
    #[serde(default)]
    pub tools: Option<Vec<Tool>>,
    #[serde(default)]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default)]
    pub response_format: Option<ResponseFormat>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub presence_penalty: Option<f64>,
    #[serde(default)]
    pub frequency_penalty: Option<f64>,
    #[serde(default)]
    pub user: Option<String>,
}

const CHAT_FIELDS: &[&str] = &[
    "model",
    "messages",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "n",
    "seed",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "user",
    "metadata",
    "store",
    "service_tier",
    "modalities",
    "reasoning_effort",
    "prediction",
    "audio",
    "functions",
    "function_call",
];

#[derive(Debug, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: Option<bool>,
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
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tool_call_id: Option<String>,
    #[serde(default)]
    pub tool_calls: Option<Vec<Value>>,
}

/// Message content: a string, or an array of parts (only text parts carry tokens here).
#[derive(Debug, Default, PartialEq)]
pub struct Content {
    pub text: String,
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Content;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of content parts")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Content, E> {
                Ok(Content { text: v.to_owned() })
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Content, E> {
                Ok(Content { text: v })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Content, A::Error> {
                let mut text = String::new();
                while let Some(part) = seq.next_element::<ContentPart>()? {
                    if let Some(t) = part.text {
                        if !text.is_empty() {
                            text.push('\n');
                        }
                        text.push_str(&t);
                    }
                }
                Ok(Content { text })
            }
        }
        d.deserialize_any(V)
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

/// `stop`: a string or up to four strings.
#[derive(Debug, Default, PartialEq)]
pub struct Stop(pub Vec<String>);

impl<'de> Deserialize<'de> for Stop {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Stop;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Stop, E> {
                Ok(Stop(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Stop, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(Stop(out))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
pub struct Tool {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionDef,
}

#[derive(Debug, Deserialize)]
pub struct FunctionDef {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default)]
    pub strict: Option<bool>,
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

/// What the generator does with `tools`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolMode {
    None,
    Auto,
    Required,
    /// Index into `tools`.
    Named(usize),
}

impl ChatRequest {
    pub fn stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }

    pub fn n(&self) -> usize {
        self.n.unwrap_or(1) as usize
    }

    pub fn max_tokens(&self) -> Option<usize> {
        self.max_completion_tokens
            .or(self.max_tokens)
            .map(|v| v as usize)
    }

    pub fn stop(&self) -> &[String] {
        self.stop.as_ref().map(|s| s.0.as_slice()).unwrap_or(&[])
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
        validate_common(
            self.n,
            self.max_completion_tokens.or(self.max_tokens),
            if self.max_completion_tokens.is_some() {
                "max_completion_tokens"
            } else {
                "max_tokens"
            },
            self.stop.as_ref(),
            self.temperature,
            self.top_p,
            self.presence_penalty,
            self.frequency_penalty,
            self.stream(),
            self.stream_options.is_some(),
        )?;
        if let Some(tools) = &self.tools {
            for (i, t) in tools.iter().enumerate() {
                if t.kind != "function" {
                    return Err(ApiError::invalid_value(
                        &format!("tools[{i}].type"),
                        format!(
                            "Invalid value: '{}'. Supported values are: 'function'.",
                            t.kind
                        ),
                    ));
                }
                let name = &t.function.name;
                if !crate::generate::valid_function_name(name) {
                    return Err(ApiError::invalid_value(
                        &format!("tools[{i}].function.name"),
                        format!(
                            "Invalid 'tools[{i}].function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$' (at most 64 characters)."
                        ),
                    ));
                }
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
                if !matches!(m.as_str(), "none" | "auto" | "required") {
                    return Err(ApiError::invalid_value(
                        "tool_choice",
                        format!(
                            "Invalid value: '{m}'. Supported values are: 'none', 'auto', and 'required'."
                        ),
                    ));
                }
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

#[allow(clippy::too_many_arguments)]
fn validate_common(
    n: Option<u32>,
    max_tokens: Option<u32>,
    max_tokens_name: &str,
    stop: Option<&Stop>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    presence_penalty: Option<f64>,
    frequency_penalty: Option<f64>,
    stream: bool,
    has_stream_options: bool,
) -> Result<(), ApiError> {
    if let Some(n) = n
        && !(1..=128).contains(&n)
    {
        return Err(range_error("n", &n.to_string(), 1.0, 128.0));
    }
    if max_tokens == Some(0) {
        return Err(ApiError::invalid_value(
            max_tokens_name,
            format!(
                "Invalid '{max_tokens_name}': integer below minimum value. Expected a value >= 1, but got 0 instead."
            ),
        )
        .code("integer_below_min_value"));
    }
    if let Some(stop) = stop
        && stop.0.len() > 4
    {
        return Err(ApiError::invalid_value(
            "stop",
            format!(
                "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length {} instead.",
                stop.0.len()
            ),
        )
        .code("array_above_max_length"));
    }
    for (name, v, lo, hi) in [
        ("temperature", temperature, 0.0, 2.0),
        ("top_p", top_p, 0.0, 1.0),
        ("presence_penalty", presence_penalty, -2.0, 2.0),
        ("frequency_penalty", frequency_penalty, -2.0, 2.0),
    ] {
        if let Some(v) = v
            && !(lo..=hi).contains(&v)
        {
            return Err(range_error(name, &v.to_string(), lo, hi));
        }
    }
    if has_stream_options && !stream {
        return Err(ApiError::invalid_value(
            "stream_options",
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        ));
    }
    Ok(())
}

pub(crate) fn range_error(name: &str, got: &str, lo: f64, hi: f64) -> ApiError {
    ApiError::invalid_value(
        name,
        format!("Invalid '{name}': expected a value between {lo} and {hi}, but got {got} instead."),
    )
}

// ---------------------------------------------------------------- completions, embeddings

/// `prompt` / `input`: a string, strings, token ids or batches of token ids.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Prompt {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
    TokenBatches(Vec<Vec<u32>>),
}

/// One prompt of a batch.
#[derive(Debug)]
pub enum PromptItem<'a> {
    Text(&'a str),
    Tokens(&'a [u32]),
}

impl Prompt {
    pub fn items(&self) -> Vec<PromptItem<'_>> {
        match self {
            Prompt::Text(s) => vec![PromptItem::Text(s)],
            Prompt::Texts(v) => v.iter().map(|s| PromptItem::Text(s)).collect(),
            Prompt::Tokens(t) => vec![PromptItem::Tokens(t)],
            Prompt::TokenBatches(b) => b.iter().map(|t| PromptItem::Tokens(t)).collect(),
        }
    }

    fn is_empty_batch(&self) -> bool {
        match self {
            Prompt::Text(_) => false,
            Prompt::Texts(v) => v.is_empty(),
            Prompt::Tokens(t) => t.is_empty(),
            Prompt::TokenBatches(b) => b.is_empty() || b.iter().any(|t| t.is_empty()),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CompletionRequest {
    pub model: String,
    pub prompt: Prompt,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub stop: Option<Stop>,
    #[serde(default)]
    pub n: Option<u32>,
    #[serde(default)]
    pub seed: Option<i64>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    #[serde(default)]
    pub echo: Option<bool>,
    #[serde(default)]
    pub suffix: Option<String>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub presence_penalty: Option<f64>,
    #[serde(default)]
    pub frequency_penalty: Option<f64>,
    #[serde(default)]
    pub user: Option<String>,
}

const COMPLETION_FIELDS: &[&str] = &[
    "model",
    "prompt",
    "max_tokens",
    "stop",
    "n",
    "seed",
    "stream",
    "stream_options",
    "echo",
    "suffix",
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "best_of",
    "logit_bias",
    "logprobs",
    "user",
];

/// OpenAI's default `max_tokens` for legacy completions.
pub const COMPLETION_DEFAULT_MAX_TOKENS: usize = 16;

impl CompletionRequest {
    pub fn stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }
    pub fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }
    pub fn n(&self) -> usize {
        self.n.unwrap_or(1) as usize
    }
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
            .map(|v| v as usize)
            .unwrap_or(COMPLETION_DEFAULT_MAX_TOKENS)
    }
    pub fn stop(&self) -> &[String] {
        self.stop.as_ref().map(|s| s.0.as_slice()).unwrap_or(&[])
    }

    fn validate(&self) -> Result<(), ApiError> {
        if self.prompt.is_empty_batch() {
            return Err(ApiError::invalid_value(
                "prompt",
                "Invalid 'prompt': the prompt must not be an empty array.",
            ));
        }
        validate_common(
            self.n,
            self.max_tokens,
            "max_tokens",
            self.stop.as_ref(),
            self.temperature,
            self.top_p,
            self.presence_penalty,
            self.frequency_penalty,
            self.stream(),
            self.stream_options.is_some(),
        )?;
        let batch = self.prompt.items().len() * self.n();
        if batch > 128 {
            return Err(ApiError::invalid_value(
                "n",
                format!("Too many choices: {batch} (prompts × n); the maximum is 128."),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
pub struct EmbeddingRequest {
    pub model: String,
    pub input: Prompt,
    #[serde(default)]
    pub encoding_format: Option<String>,
    #[serde(default)]
    pub dimensions: Option<u32>,
    #[serde(default)]
    pub user: Option<String>,
}

const EMBEDDING_FIELDS: &[&str] = &["model", "input", "encoding_format", "dimensions", "user"];

impl EmbeddingRequest {
    pub fn base64(&self) -> bool {
        self.encoding_format.as_deref() == Some("base64")
    }

    fn validate(&self, max_dimensions: usize) -> Result<(), ApiError> {
        let empty = match &self.input {
            Prompt::Text(s) => s.is_empty(),
            Prompt::Texts(v) => v.is_empty() || v.iter().any(|s| s.is_empty()),
            other => other.is_empty_batch(),
        };
        if empty {
            return Err(ApiError::invalid_value(
                "input",
                "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
            ));
        }
        if self.input.items().len() > 2048 {
            return Err(ApiError::invalid_value(
                "input",
                "Invalid 'input': array too long. Expected an array with maximum length 2048.",
            )
            .code("array_above_max_length"));
        }
        if let Some(f) = &self.encoding_format
            && f != "float"
            && f != "base64"
        {
            return Err(ApiError::invalid_value(
                "encoding_format",
                format!("Invalid value: '{f}'. Supported values are: 'float' and 'base64'."),
            ));
        }
        if let Some(d) = self.dimensions
            && (d == 0 || d as usize > max_dimensions)
        {
            return Err(range_error(
                "dimensions",
                &d.to_string(),
                1.0,
                max_dimensions as f64,
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- entry points

/// Parses and validates a chat completion body.
pub fn parse_chat(body: &[u8], strict: bool) -> Result<ChatRequest, ApiError> {
    let req: ChatRequest = parse(body, Endpoint::Chat)?;
    if strict {
        reject_unknown(body, CHAT_FIELDS)?;
    }
    req.validate()?;
    Ok(req)
}

pub fn parse_completion(body: &[u8], strict: bool) -> Result<CompletionRequest, ApiError> {
    let req: CompletionRequest = parse(body, Endpoint::Completion)?;
    if strict {
        reject_unknown(body, COMPLETION_FIELDS)?;
    }
    req.validate()?;
    Ok(req)
}

pub fn parse_embeddings(
    body: &[u8],
    strict: bool,
    max_dimensions: usize,
) -> Result<EmbeddingRequest, ApiError> {
    let req: EmbeddingRequest = parse(body, Endpoint::Embeddings)?;
    if strict {
        reject_unknown(body, EMBEDDING_FIELDS)?;
    }
    req.validate(max_dimensions)?;
    Ok(req)
}

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Chat,
    Completion,
    Embeddings,
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8], endpoint: Endpoint) -> Result<T, ApiError> {
    match serde_json::from_slice::<T>(body) {
        Ok(v) => Ok(v),
        Err(typed) => Err(diagnose(body, endpoint, &typed)),
    }
}

pub(crate) fn reject_unknown(body: &[u8], known: &[&str]) -> Result<(), ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| diagnose_json(&e))?;
    if let Some(obj) = value.as_object()
        && let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str()))
    {
        return Err(
            ApiError::invalid(format!("Unrecognized request argument supplied: {k}"))
                .param(k.clone())
                .code("unknown_parameter"),
        );
    }
    Ok(())
}

pub(crate) fn diagnose_json(e: &serde_json::Error) -> ApiError {
    ApiError::malformed_json(&e.to_string())
}

pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a decimal",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Expected shape of a field, for messages naming the parameter.
#[derive(Clone, Copy)]
pub(crate) enum Shape {
    Str,
    Bool,
    /// Non-negative integer that fits u32.
    Count,
    Int,
    Num,
    Obj,
    Arr,
    StrOrArr,
    Prompt,
    /// String or object (tool_choice).
    StrOrObj,
}

impl Shape {
    fn expected(self) -> &'static str {
        match self {
            Shape::Str => "a string",
            Shape::Bool => "a boolean",
            Shape::Count | Shape::Int => "an integer",
            Shape::Num => "a number",
            Shape::Obj => "an object",
            Shape::Arr => "an array",
            Shape::StrOrArr => "a string or an array",
            Shape::Prompt => "a string, an array of strings or an array of token ids",
            Shape::StrOrObj => "a string or an object",
        }
    }

    fn accepts(self, v: &Value) -> bool {
        match self {
            Shape::Str => v.is_string(),
            Shape::Bool => v.is_boolean(),
            Shape::Count | Shape::Int => v.is_i64() || v.is_u64(),
            Shape::Num => v.is_number(),
            Shape::Obj => v.is_object(),
            Shape::Arr => v.is_array(),
            Shape::StrOrArr => v.is_string() || v.is_array(),
            Shape::Prompt => v.is_string() || v.is_array(),
            Shape::StrOrObj => v.is_string() || v.is_object(),
        }
    }
}

pub(crate) fn check(
    obj: &serde_json::Map<String, Value>,
    name: &str,
    shape: Shape,
    required: bool,
) -> Result<(), ApiError> {
    match obj.get(name) {
        None if required => Err(ApiError::missing(name)),
        None => Ok(()),
        // Optional fields may be null, as the SDKs send them.
        Some(Value::Null) if !required => Ok(()),
        Some(v) if !shape.accepts(v) => {
            Err(ApiError::wrong_type(name, shape.expected(), json_kind(v)))
        }
        Some(v) => {
            if let Shape::Count = shape {
                let n = v.as_i64().unwrap_or(i64::MAX);
                if n < 0 {
                    return Err(ApiError::invalid_value(
                        name,
                        format!("Invalid '{name}': integer below minimum value. Expected a value >= 0, but got {n} instead."),
                    )
                    .code("integer_below_min_value"));
                }
                if n > u32::MAX as i64 {
                    return Err(ApiError::invalid_value(
                        name,
                        format!("Invalid '{name}': integer above maximum value. Expected a value <= {}, but got {v} instead.", u32::MAX),
                    )
                    .code("integer_above_max_value"));
                }
            }
            if let Shape::Int = shape
                && v.as_i64().is_none()
            {
                return Err(ApiError::invalid_value(
                    name,
                    format!("Invalid '{name}': integer out of range, got {v}."),
                ));
            }
            Ok(())
        }
    }
}

pub(crate) fn check_array_of(
    arr: &[Value],
    param: &str,
    item: impl Fn(&str, &Value) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    for (i, v) in arr.iter().enumerate() {
        item(&format!("{param}[{i}]"), v)?;
    }
    Ok(())
}

/// Each item of the array `param` must be an object, which `item` checks; its errors name
/// the item's path (`param[i].field`).
pub(crate) fn check_objects(
    arr: &[Value],
    param: &str,
    item: impl Fn(&str, &serde_json::Map<String, Value>) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    check_array_of(arr, param, |p, v| {
        let Some(o) = v.as_object() else {
            return Err(ApiError::wrong_type(p, "an object", json_kind(v)));
        };
        item(p, o).map_err(|e| {
            if e.param.as_deref().is_some_and(|q| q.starts_with(p)) {
                e
            } else {
                prefix_param(e, p)
            }
        })
    })
}

/// The object field `name`, if it is an array, checked item by item with [`check_objects`]
/// (its own shape is [`check`]ed separately).
pub(crate) fn check_object_array(
    obj: &serde_json::Map<String, Value>,
    name: &str,
    item: impl Fn(&str, &serde_json::Map<String, Value>) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    match obj.get(name) {
        Some(Value::Array(a)) => check_objects(a, name, item),
        _ => Ok(()),
    }
}

/// A string field that must be one of `allowed` (listed in the message in this order).
pub(crate) fn check_enum(
    obj: &serde_json::Map<String, Value>,
    name: &str,
    allowed: &[&str],
    required: bool,
) -> Result<(), ApiError> {
    check(obj, name, Shape::Str, required)?;
    match obj.get(name) {
        Some(Value::String(v)) if !allowed.contains(&v.as_str()) => {
            let quoted: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
            let list = match quoted.split_last() {
                Some((last, rest)) if !rest.is_empty() => {
                    format!("{}, and {last}", rest.join(", "))
                }
                _ => quoted.concat(),
            };
            Err(ApiError::invalid_value(
                name,
                format!("Invalid value: '{v}'. Supported values are: {list}."),
            ))
        }
        _ => Ok(()),
    }
}

pub(crate) fn check_stop(obj: &serde_json::Map<String, Value>) -> Result<(), ApiError> {
    check(obj, "stop", Shape::StrOrArr, false)?;
    if let Some(Value::Array(a)) = obj.get("stop") {
        check_array_of(a, "stop", |p, v| {
            if v.is_string() {
                Ok(())
            } else {
                Err(ApiError::wrong_type(p, "a string", json_kind(v)))
            }
        })?;
    }
    Ok(())
}

fn check_prompt(obj: &serde_json::Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check(obj, name, Shape::Prompt, true)?;
    if let Some(Value::Array(a)) = obj.get(name) {
        let all_str = a.iter().all(Value::is_string);
        let all_tok = a
            .iter()
            .all(|v| v.as_u64().is_some_and(|n| n <= u32::MAX as u64));
        let all_batches = a.iter().all(|v| {
            v.as_array().is_some_and(|t| {
                t.iter()
                    .all(|n| n.as_u64().is_some_and(|n| n <= u32::MAX as u64))
            })
        });
        if !(all_str || all_tok || all_batches) {
            return Err(ApiError::wrong_type(
                name,
                "a string, an array of strings, an array of token ids or an array of token id arrays",
                "a mixed or invalid array",
            ));
        }
    }
    Ok(())
}

fn check_stream_options(obj: &serde_json::Map<String, Value>) -> Result<(), ApiError> {
    check(obj, "stream_options", Shape::Obj, false)?;
    if let Some(Value::Object(o)) = obj.get("stream_options") {
        check(o, "include_usage", Shape::Bool, false)
            .map_err(|e| prefix_param(e, "stream_options"))?;
    }
    Ok(())
}

pub(crate) fn prefix_param(mut e: ApiError, prefix: &str) -> ApiError {
    if let Some(p) = &e.param {
        let full = format!("{prefix}.{p}");
        e.message = e.message.replace(&format!("'{p}'"), &format!("'{full}'"));
        e.param = Some(full);
    }
    e
}

/// Names what is wrong with a body the typed parser refused, as OpenAI's API would.
fn diagnose(body: &[u8], endpoint: Endpoint, typed: &serde_json::Error) -> ApiError {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return diagnose_json(&e),
    };
    let Some(obj) = value.as_object() else {
        return ApiError::invalid(format!(
            "Invalid request body: expected a JSON object, but got {} instead.",
            json_kind(&value)
        ));
    };
    let result = match endpoint {
        Endpoint::Chat => diagnose_chat(obj),
        Endpoint::Completion => diagnose_completion(obj),
        Endpoint::Embeddings => diagnose_embeddings(obj),
    };
    match result {
        Err(e) => e,
        // The walk found nothing more precise: report the parser's words.
        Ok(()) => ApiError::invalid(format!("Invalid request body: {typed}")),
    }
}

fn diagnose_common(obj: &serde_json::Map<String, Value>) -> Result<(), ApiError> {
    check(obj, "model", Shape::Str, true)?;
    check(obj, "stream", Shape::Bool, false)?;
    check_stream_options(obj)?;
    check(obj, "n", Shape::Count, false)?;
    check(obj, "seed", Shape::Int, false)?;
    check(obj, "max_tokens", Shape::Count, false)?;
    check_stop(obj)?;
    for f in [
        "temperature",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
    ] {
        check(obj, f, Shape::Num, false)?;
    }
    check(obj, "user", Shape::Str, false)?;
    Ok(())
}

fn diagnose_chat(obj: &serde_json::Map<String, Value>) -> Result<(), ApiError> {
    diagnose_common(obj)?;
    check(obj, "messages", Shape::Arr, true)?;
    check(obj, "max_completion_tokens", Shape::Count, false)?;
    check_object_array(obj, "messages", |_, mo| {
        check_enum(
            mo,
            "role",
            &[
                "system",
                "assistant",
                "user",
                "function",
                "tool",
                "developer",
            ],
            true,
        )?;
        check(mo, "content", Shape::StrOrArr, false)?;
        check_object_array(mo, "content", |_, po| {
            check(po, "type", Shape::Str, true)?;
            check(po, "text", Shape::Str, false)
        })?;
        check(mo, "name", Shape::Str, false)?;
        check(mo, "tool_call_id", Shape::Str, false)?;
        check(mo, "tool_calls", Shape::Arr, false)
    })?;
    check(obj, "tools", Shape::Arr, false)?;
    check_object_array(obj, "tools", |p, to| {
        check(to, "type", Shape::Str, true)?;
        check(to, "function", Shape::Obj, true)?;
        let fo = to["function"].as_object().expect("checked above");
        let fp = format!("{p}.function");
        let ferr = |e: ApiError| prefix_param(e, &fp);
        check(fo, "name", Shape::Str, true).map_err(ferr)?;
        check(fo, "description", Shape::Str, false).map_err(ferr)?;
        check(fo, "parameters", Shape::Obj, false).map_err(ferr)?;
        check(fo, "strict", Shape::Bool, false).map_err(ferr)
    })?;
    check(obj, "tool_choice", Shape::StrOrObj, false)?;
    if let Some(Value::Object(tc)) = obj.get("tool_choice") {
        let err = |e: ApiError| prefix_param(e, "tool_choice");
        check(tc, "type", Shape::Str, true).map_err(err)?;
        check(tc, "function", Shape::Obj, true).map_err(err)?;
        check(
            tc["function"].as_object().expect("checked above"),
            "name",
            Shape::Str,
            true,
        )
        .map_err(|e| prefix_param(e, "tool_choice.function"))?;
    }
    check(obj, "response_format", Shape::Obj, false)?;
    if let Some(Value::Object(rf)) = obj.get("response_format") {
        let err = |e: ApiError| prefix_param(e, "response_format");
        check(rf, "type", Shape::Str, true).map_err(err)?;
        check(rf, "json_schema", Shape::Obj, false).map_err(err)?;
        if let Some(Value::Object(js)) = rf.get("json_schema") {
            let err = |e: ApiError| prefix_param(e, "response_format.json_schema");
            check(js, "name", Shape::Str, true).map_err(err)?;
            check(js, "schema", Shape::Obj, false).map_err(err)?;
            check(js, "strict", Shape::Bool, false).map_err(err)?;
        }
    }
    Ok(())
}

fn diagnose_completion(obj: &serde_json::Map<String, Value>) -> Result<(), ApiError> {
    diagnose_common(obj)?;
    check_prompt(obj, "prompt")?;
    check(obj, "echo", Shape::Bool, false)?;
    check(obj, "suffix", Shape::Str, false)?;
    Ok(())
}

fn diagnose_embeddings(obj: &serde_json::Map<String, Value>) -> Result<(), ApiError> {
    check(obj, "model", Shape::Str, true)?;
    check_prompt(obj, "input")?;
    check(obj, "encoding_format", Shape::Str, false)?;
    check(obj, "dimensions", Shape::Count, false)?;
    check(obj, "user", Shape::Str, false)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_chat_parses() {
        let r = parse_chat(
            br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
            false,
        )
        .unwrap();
        assert_eq!(r.last_user_text(), "hi");
        assert_eq!(r.tool_mode(), ToolMode::None);
    }

    #[test]
    fn content_parts_join_text() {
        let r = parse_chat(
            br#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"b"}]}]}"#,
            false,
        )
        .unwrap();
        assert_eq!(r.last_user_text(), "a\nb");
    }

    #[test]
    fn wrong_type_names_param() {
        let e = parse_chat(br#"{"model":"m","messages":[],"max_tokens":"5"}"#, false).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("max_tokens"));
        assert_eq!(e.code, Some("invalid_type"));
        let e = parse_chat(
            br#"{"model":"m","messages":[{"role":"robot","content":"x"}]}"#,
            false,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages[0].role"));
        let e = parse_chat(br#"{"messages":[]}"#, false).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("model"));
        assert_eq!(e.code, Some("missing_required_parameter"));
    }

    #[test]
    fn strict_rejects_unknown_fields() {
        let body = br#"{"model":"m","messages":[{"role":"user","content":"x"}],"bogus":1}"#;
        assert!(parse_chat(body, false).is_ok());
        let e = parse_chat(body, true).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("bogus"));
    }

    #[test]
    fn prompt_shapes() {
        for body in [
            r#"{"model":"m","prompt":"x"}"#,
            r#"{"model":"m","prompt":["x","y"]}"#,
            r#"{"model":"m","prompt":[1,2,3]}"#,
            r#"{"model":"m","prompt":[[1],[2,3]]}"#,
        ] {
            parse_completion(body.as_bytes(), false).unwrap();
        }
        let e = parse_completion(br#"{"model":"m","prompt":[1,"x"]}"#, false).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("prompt"));
    }
}
