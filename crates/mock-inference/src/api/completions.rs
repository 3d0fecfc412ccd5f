//! Legacy completions: `POST /v1/completions` — a string, strings, token ids or batches as
//! `prompt`, `echo`, `n`, `stop`, `max_tokens` (default 16), streamed or not.

use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;

use crate::admission::Running;
use crate::body::unix_now;
use crate::config::ResponseMode;
use crate::error::ApiError;
use crate::generate::{self, ChoiceOut, TextPlan};
use crate::logprobs::{Logprobs, MAX_TOP};
use crate::plan::{StreamKind, StreamPlan};
use crate::request::{self, Prompt, PromptItem, Shape, check_prompt, range_error, request_body};
use crate::server::{Admitted, App, Direct, Incoming};
use crate::tokenizer;

request_body! {
    pub struct CompletionRequest {
        ..openai_sampling,
        prompt: Prompt => check_prompt,
        echo: Option<bool> => Shape::Bool,
        suffix: Option<String> => Shape::Str,
        logprobs: Option<u32> => Shape::Count,
    }
    unread { best_of, logit_bias }
}

/// OpenAI's default `max_tokens` for legacy completions.
pub const DEFAULT_MAX_TOKENS: usize = 16;

impl CompletionRequest {
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
            .map(|v| v as usize)
            .unwrap_or(DEFAULT_MAX_TOKENS)
    }

    fn validate(&self) -> Result<(), ApiError> {
        if self.prompt.is_empty_batch() {
            return Err(ApiError::invalid_value(
                "prompt",
                "Invalid 'prompt': the prompt must not be an empty array.",
            ));
        }
        self.validate_sampling(self.max_tokens, "max_tokens")?;
        if let Some(n) = self.logprobs
            && n > MAX_TOP
        {
            return Err(range_error("logprobs", &n.to_string(), 0.0, MAX_TOP as f64));
        }
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

impl Incoming for CompletionRequest {
    fn parse(app: &App, body: &[u8]) -> Result<Self, ApiError> {
        parse(body, app.cfg.strict)
    }
}

impl Direct for CompletionRequest {
    async fn answer(
        self,
        app: &App,
        a: Admitted,
        mut running: Running,
    ) -> Result<Response, ApiError> {
        let (choices, prompt_tokens) = completion_choices(app, &self);
        let sp = StreamPlan {
            kind: StreamKind::Completion,
            wire: None,
            id: generate::random_id("cmpl-"),
            created: unix_now(),
            model: a.model,
            choices,
            prompt_tokens,
            include_usage: self.include_usage(),
            fault: a.fault,
            extra_delay: Duration::ZERO,
            seed: self.seed_or(app.cfg.response.seed),
            start: a.start,
            logprobs: self.logprobs.map(|n| Logprobs {
                top: n as usize,
                seed: self.seed_or(app.cfg.response.seed),
            }),
            reasoning_field: app.cfg.reasoning.field.as_str(),
        };
        let tokens = sp.prompt_tokens + sp.completion_tokens();
        app.charge(tokens);
        running.hold_kv(tokens);
        app.respond(running, sp, self.stream()).await
    }
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
            let seed = req.seed_or(app.cfg.response.seed);
            let hash = || generate::hash_str(&prompt_text);
            let scenario = match app.cfg.response.mode {
                ResponseMode::Scenario => app
                    .scenario
                    .as_ref()
                    .and_then(|s| s.answer(&req.model, &prompt_text))
                    .and_then(|a| a.text),
                _ => None,
            };
            let (base, target) = match scenario {
                Some(text) => (Arc::new(TextPlan::new(&text)), None),
                None => app.mode_text(&prompt_text, seed, &hash, req.request_seed(), i),
            };
            let length = generate::Length {
                ignore_eos: req.ignore_eos(),
                min_tokens: req.min_tokens(),
                target,
                seed: seed.wrapping_add(i as u64),
                hash: &hash,
            };
            let (mut text, finish, stop_sequence) =
                generate::shape_text(base, req.stop(), Some(req.max_tokens()), &length);
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
                reasoning: None,
            });
        }
    }
    (choices, prompt_tokens)
}
