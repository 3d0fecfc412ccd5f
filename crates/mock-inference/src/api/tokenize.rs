//! vLLM's `POST /tokenize` and `POST /detokenize` with the built-in tokenizer (cl100k_base):
//! `{model, prompt | messages, add_special_tokens, add_generation_prompt}` →
//! `{count, max_model_len, tokens, token_strs}`, and `{model, tokens}` → `{prompt}`. Chat
//! messages are encoded in the chat format whose length `usage.prompt_tokens` of the same
//! chat request counts.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse as _, Response};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::chat::Message;
use super::json_bytes;
use crate::body::{json_response, read_body};
use crate::error::ApiError;
use crate::request::{Shape, check, check_array_of, check_each, json_kind};
use crate::server::App;
use crate::tokenizer;

#[derive(Debug, Deserialize)]
pub struct TokenizeRequest {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub messages: Option<Vec<Message>>,
    /// cl100k_base has no BOS/EOS to add: accepted, no effect.
    #[serde(default)]
    pub add_special_tokens: Option<bool>,
    #[serde(default)]
    pub add_generation_prompt: Option<bool>,
    #[serde(default)]
    pub return_token_strs: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct DetokenizeRequest {
    #[serde(default)]
    pub model: Option<String>,
    pub tokens: Vec<u32>,
}

/// Parses a `/tokenize` body: exactly one of `prompt` and `messages`.
pub fn parse_tokenize(body: &[u8]) -> Result<TokenizeRequest, ApiError> {
    let obj = crate::request::object(body)?;
    check_each(
        &obj,
        &[
            ("model", Shape::Str, false),
            ("prompt", Shape::Str, false),
            ("messages", Shape::Arr, false),
            ("add_special_tokens", Shape::Bool, false),
            ("add_generation_prompt", Shape::Bool, false),
            ("return_token_strs", Shape::Bool, false),
        ],
    )?;
    let present = |k: &str| obj.get(k).is_some_and(|v| !v.is_null());
    match (present("prompt"), present("messages")) {
        (true, true) => {
            return Err(ApiError::invalid_value(
                "messages",
                "Give either 'prompt' or 'messages', not both.",
            ));
        }
        (false, false) => return Err(ApiError::missing("prompt")),
        _ => {}
    }
    let req: TokenizeRequest = typed(obj)?;
    if let Some(m) = &req.messages
        && m.is_empty()
    {
        return Err(ApiError::invalid_value(
            "messages",
            "Invalid 'messages': empty array.",
        ));
    }
    Ok(req)
}

/// Parses a `/detokenize` body: `tokens`, an array of token ids.
pub fn parse_detokenize(body: &[u8]) -> Result<DetokenizeRequest, ApiError> {
    let obj = crate::request::object(body)?;
    check(&obj, "model", Shape::Str, false)?;
    check(&obj, "tokens", Shape::Arr, true)?;
    if let Some(Value::Array(ids)) = obj.get("tokens") {
        check_array_of(ids, "tokens", |p, v| match v.as_u64() {
            Some(n) if n <= u32::MAX as u64 => Ok(()),
            _ => Err(ApiError::wrong_type(p, "a token id", json_kind(v))),
        })?;
    }
    typed(obj)
}

fn typed<T: for<'de> Deserialize<'de>>(obj: Map<String, Value>) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(obj))
        .map_err(|e| ApiError::invalid(format!("Invalid request body: {e}")))
}

/// The body of a request to these routes, with its model checked (it may be left out).
async fn receive<T>(
    app: &App,
    req: Request,
    parse: fn(&[u8]) -> Result<T, ApiError>,
    model: fn(&T) -> Option<&str>,
) -> Result<T, ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = read_body(app.cfg.max_body_bytes, &parts.headers, body).await?;
    let req = parse(&bytes)?;
    if let Some(m) = model(&req) {
        app.admissible_model(m)?;
    }
    Ok(req)
}

/// `POST /tokenize`.
pub async fn tokenize(State(app): State<Arc<App>>, req: Request) -> Response {
    let received = receive(&app, req, parse_tokenize, |r| r.model.as_deref()).await;
    let req = match received {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let tokens = match &req.messages {
        Some(messages) => tokenizer::encode_chat(
            messages.iter().map(|m| {
                (
                    m.role.as_str(),
                    m.content.as_ref().map_or("", |c| c.text.as_str()),
                    m.name.as_deref(),
                )
            }),
            req.add_generation_prompt.unwrap_or(true),
        ),
        None => tokenizer::encode(req.prompt.as_deref().unwrap_or_default()),
    };
    let token_strs = req.return_token_strs.unwrap_or(false).then(|| {
        tokens
            .iter()
            .map(|t| tokenizer::decode(&[*t]).unwrap_or_default())
            .collect::<Vec<_>>()
    });
    let body = json!({
        "count": tokens.len(),
        "max_model_len": app.cfg.max_model_len,
        "tokens": tokens,
        "token_strs": token_strs,
    });
    json_response(StatusCode::OK, json_bytes(&body))
}

/// `POST /detokenize`.
pub async fn detokenize(State(app): State<Arc<App>>, req: Request) -> Response {
    let received = receive(&app, req, parse_detokenize, |r| r.model.as_deref()).await;
    let req = match received {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    match tokenizer::decode(&req.tokens) {
        Ok(prompt) => json_response(StatusCode::OK, json_bytes(&json!({"prompt": prompt}))),
        Err(id) => {
            let at = req.tokens.iter().position(|t| *t == id).unwrap_or(0);
            ApiError::invalid_value(
                &format!("tokens[{at}]"),
                format!("Token id {id} is out of vocabulary ({}).", tokenizer::NAME),
            )
            .into_response()
        }
    }
}
