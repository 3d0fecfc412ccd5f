//! Embeddings: `POST /v1/embeddings` — deterministic unit vectors per input (`dimensions`,
//! `encoding_format` float/base64).

use axum::response::Response;
use http::StatusCode;

use crate::admission::Running;
use crate::body::json_response;
use crate::error::ApiError;
use crate::generate::{self, splitmix64, unit};
use crate::metrics::Finish;
use crate::request::{
    self, Prompt, PromptItem, Req, Shape, check_prompt, range_error, request_body,
};
use crate::server::{Admitted, App, Direct, Incoming};
use crate::tokenizer;

request_body! {
    pub struct EmbeddingRequest {
        model: String => Req(Shape::Str),
        input: Prompt => check_prompt,
        encoding_format: Option<String> => Shape::Str,
        dimensions: Option<u32> => Shape::Count,
        user: Option<String> => Shape::Str,
    }
    unread {}
}
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

pub fn parse(
    body: &[u8],
    strict: bool,
    max_dimensions: usize,
) -> Result<EmbeddingRequest, ApiError> {
    let req: EmbeddingRequest = request::parse(body, strict)?;
    req.validate(max_dimensions)?;
    Ok(req)
}

impl Incoming for EmbeddingRequest {
    fn parse(app: &App, body: &[u8]) -> Result<Self, ApiError> {
        parse(body, app.cfg.strict, app.cfg.embeddings.dimensions)
    }
}

impl Direct for EmbeddingRequest {
    async fn answer(
        self,
        app: &App,
        a: Admitted,
        mut running: Running,
    ) -> Result<Response, ApiError> {
        // An embedding has no stream: a stream fault is its error (or its pause).
        let stall = app.unstreamed_fault(a.fault)?.unwrap_or_default();
        let dims = self
            .dimensions
            .map_or(app.cfg.embeddings.dimensions, |d| d as usize);
        let mut prompt_tokens = 0;
        let mut data = Vec::new();
        for (i, item) in self.input.items().into_iter().enumerate() {
            let h = match item {
                PromptItem::Text(t) => {
                    prompt_tokens += tokenizer::count(t);
                    generate::hash_str(t)
                }
                PromptItem::Tokens(t) => {
                    prompt_tokens += t.len();
                    t.iter().fold(0x5151u64, |h, x| splitmix64(h ^ *x as u64))
                }
            };
            let v = embedding(h, dims);
            let embedding = if self.base64() {
                use base64::Engine as _;
                let raw: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                serde_json::Value::from(base64::engine::general_purpose::STANDARD.encode(raw))
            } else {
                serde_json::Value::from(v)
            };
            data.push(
                serde_json::json!({"object": "embedding", "index": i, "embedding": embedding}),
            );
        }
        let body = serde_json::json!({
            "object": "list",
            "data": data,
            "model": serde_json::Value::String(self.model.clone()),
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        });
        app.charge(prompt_tokens);
        running.hold_kv(prompt_tokens);
        let wait = app.latency.ttft(prompt_tokens, running.slowdown) + stall;
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let m = &app.metrics;
        m.prompt_tokens.add(prompt_tokens as u64);
        m.e2e.observe(a.start.elapsed());
        m.success(Finish::Stop);
        drop(running);
        Ok(json_response(
            StatusCode::OK,
            serde_json::to_vec(&body).expect("JSON values serialise"),
        ))
    }
}

/// A deterministic unit vector for an input hash: same input, same embedding.
pub fn embedding(hash: u64, dims: usize) -> Vec<f32> {
    let mut state = hash;
    let mut v: Vec<f32> = (0..dims)
        .map(|_| {
            state = splitmix64(state);
            (unit(state) * 2.0 - 1.0) as f32
        })
        .collect();
    let norm = v
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_are_unit_and_stable() {
        let a = embedding(42, 64);
        assert_eq!(a, embedding(42, 64));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
}
