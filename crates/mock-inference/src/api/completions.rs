//! Legacy completions: `POST /v1/completions` — a string, strings, token ids or batches as
//! `prompt`, `echo`, `n`, `stop`, `max_tokens` (default 16), streamed or not.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use tokio::time::Instant;

use crate::body::{read_body, unix_now};
use crate::config::ResponseMode;
use crate::error::ApiError;
use crate::faults::fault_header;
use crate::generate::{self, ChoiceOut, TextPlan};
use crate::plan::{StreamKind, StreamPlan};
use crate::request::{
    self, Prompt, PromptItem, Shape, check_prompt, request_body, validate_common,
};
use crate::server::App;
use crate::tokenizer;

request_body! {
    pub struct CompletionRequest {
        ..openai_sampling,
        prompt: Prompt => check_prompt,
        echo: Option<bool> => Shape::Bool,
        suffix: Option<String> => Shape::Str,
    }
    unread { best_of, logit_bias, logprobs }
}

/// OpenAI's default `max_tokens` for legacy completions.
pub const DEFAULT_MAX_TOKENS: usize = 16;

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
            .unwrap_or(DEFAULT_MAX_TOKENS)
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

pub fn parse(body: &[u8], strict: bool) -> Result<CompletionRequest, ApiError> {
    let req: CompletionRequest = request::parse(body, strict)?;
    req.validate()?;
    Ok(req)
}

// The whole request, not the `HeaderMap` extractor: that one clones the headers.
pub async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    completions_inner(app, parts.headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn completions_inner(
    app: Arc<App>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let start = Instant::now();
    let bytes = read_body(app.cfg.max_body_bytes, &headers, body).await?;
    let req = parse(&bytes, app.cfg.strict)?;
    let (model, fault) = app.admissible(&req.model, fault_header(&headers))?;
    let running = app.admission.admit().await?;
    let (choices, prompt_tokens) = completion_choices(&app, &req);
    let sp = StreamPlan {
        kind: StreamKind::Completion,
        wire: None,
        id: generate::random_id("cmpl-"),
        created: unix_now(),
        model,
        choices,
        prompt_tokens,
        include_usage: req.include_usage(),
        fault,
        extra_delay: Duration::ZERO,
        seed: req.seed.map(|s| s as u64).unwrap_or(app.cfg.response.seed),
        start,
    };
    Ok(app.respond(running, sp, req.stream()).await)
}

fn completion_choices(app: &App, req: &CompletionRequest) -> (Vec<ChoiceOut>, usize) {
    let mut prompt_tokens = 0;
    let mut choices = Vec::new();
    let echo = req.echo.unwrap_or(false);
    for item in req.prompt.items() {
        let prompt_text: std::borrow::Cow<str> = match item {
            PromptItem::Text(t) => {
                prompt_tokens += tokenizer::count(t);
                t.into()
            }
            PromptItem::Tokens(t) => {
                prompt_tokens += t.len();
                tokenizer::decode_lossy(t).into()
            }
        };
        for i in 0..req.n() {
            let base = match app.cfg.response.mode {
                ResponseMode::Echo => Arc::new(TextPlan::new(&prompt_text)),
                ResponseMode::Lorem => {
                    let seed = req.seed.map(|s| s as u64).unwrap_or(app.cfg.response.seed);
                    generate::lorem_plan(
                        seed.wrapping_add(i as u64),
                        generate::hash_str(&prompt_text),
                        app.cfg.response.lorem_tokens,
                    )
                }
                ResponseMode::Scenario => match app
                    .scenario
                    .as_ref()
                    .and_then(|s| s.answer(&req.model, &prompt_text))
                {
                    Some(a) if a.text.is_some() => {
                        Arc::new(TextPlan::new(a.text.as_deref().unwrap_or("")))
                    }
                    _ => app.fixed.clone(),
                },
                ResponseMode::Fixed => app.fixed.clone(),
            };
            let (mut text, finish, stop_sequence) =
                generate::shape_text(base, req.stop(), Some(req.max_tokens()));
            let mut echoed_tokens = 0;
            if echo {
                // The prompt leads the text but does not count as completion tokens.
                let mut pieces = tokenizer::pieces(&prompt_text);
                echoed_tokens = pieces.len();
                pieces.extend(text.pieces.iter().cloned());
                text = Arc::new(TextPlan::from_pieces(pieces));
            }
            choices.push(ChoiceOut {
                text: Some(text),
                tool_calls: Vec::new(),
                finish_reason: finish,
                echoed_tokens,
                stop_sequence,
            });
        }
    }
    (choices, prompt_tokens)
}
