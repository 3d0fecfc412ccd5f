//! HTTP bodies: reading a request's (bounded), and writing the chat and legacy-completion
//! response bodies by copying pre-escaped bytes (nothing on the hot path builds a
//! `serde_json::Value`).

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::error::ApiError;
use crate::generate::{escape, push_u64};
use crate::plan::StreamPlan;

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// `response` with its body held back for `pause` (a stall fault on a request answered at
/// once): the head goes out, the body after the pause.
pub fn delayed(response: Response, pause: std::time::Duration) -> Response {
    let (parts, body) = response.into_parts();
    let later = futures::stream::once(async move {
        tokio::time::sleep(pause).await;
        axum::body::to_bytes(body, usize::MAX).await
    });
    Response::from_parts(parts, Body::from_stream(later))
}

pub async fn read_body(limit: usize, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(ApiError::too_large(limit));
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // A length-limit error is the only one that carries this type in its chain.
        let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = src {
            if s.is::<http_body_util::LengthLimitError>() {
                return ApiError::too_large(limit);
            }
            src = s.source();
        }
        ApiError::invalid(format!("Could not read the request body: {e}"))
    })
}

/// `{"id":"…","object":"OBJECT","created":N,"model":"…"`: how every OpenAI object of a
/// plan opens (the chat and completion bodies, their stream chunks), left open.
pub fn push_object_head(b: &mut Vec<u8>, sp: &StreamPlan, object: &str) {
    b.extend_from_slice(b"{\"id\":\"");
    b.extend_from_slice(sp.id.as_bytes());
    b.extend_from_slice(b"\",\"object\":\"");
    b.extend_from_slice(object.as_bytes());
    b.extend_from_slice(b"\",\"created\":");
    push_u64(b, sp.created);
    b.extend_from_slice(b",\"model\":\"");
    b.extend_from_slice(sp.model.as_bytes());
    b.push(b'"');
}

/// `"usage":{…}`; chat's with its details (`reasoning` of the completion tokens).
pub fn push_usage(buf: &mut Vec<u8>, prompt: usize, completion: usize, chat: Option<usize>) {
    buf.extend_from_slice(b"\"usage\":{\"prompt_tokens\":");
    push_u64(buf, prompt as u64);
    buf.extend_from_slice(b",\"completion_tokens\":");
    push_u64(buf, completion as u64);
    buf.extend_from_slice(b",\"total_tokens\":");
    push_u64(buf, (prompt + completion) as u64);
    if let Some(reasoning) = chat {
        buf.extend_from_slice(
            b",\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},\
              \"completion_tokens_details\":{\"reasoning_tokens\":",
        );
        push_u64(buf, reasoning as u64);
        buf.extend_from_slice(b",\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}");
    }
    buf.push(b'}');
}

pub fn chat_body(fingerprint: &str, sp: &StreamPlan, completion_tokens: usize) -> Bytes {
    let content_len: usize = sp
        .choices
        .iter()
        .map(|c| c.text.as_ref().map_or(64, |t| t.full_escaped.len()))
        .sum();
    let mut b = Vec::with_capacity(640 + content_len + sp.choices.len() * 160);
    push_object_head(&mut b, sp, "chat.completion");
    b.extend_from_slice(b",\"choices\":[");
    for (i, c) in sp.choices.iter().enumerate() {
        if i > 0 {
            b.push(b',');
        }
        b.extend_from_slice(b"{\"index\":");
        push_u64(&mut b, i as u64);
        b.extend_from_slice(b",\"message\":{\"role\":\"assistant\",");
        if let Some(r) = &c.reasoning {
            b.push(b'"');
            b.extend_from_slice(sp.reasoning_field.as_bytes());
            b.extend_from_slice(b"\":\"");
            b.extend_from_slice(r.full_escaped.as_bytes());
            b.extend_from_slice(b"\",");
        }
        b.extend_from_slice(b"\"content\":");
        match &c.text {
            Some(t) => {
                b.push(b'"');
                b.extend_from_slice(t.full_escaped.as_bytes());
                b.push(b'"');
            }
            None => b.extend_from_slice(b"null"),
        }
        if !c.tool_calls.is_empty() {
            b.extend_from_slice(b",\"tool_calls\":[");
            for (j, call) in c.tool_calls.iter().enumerate() {
                if j > 0 {
                    b.push(b',');
                }
                b.extend_from_slice(b"{\"id\":\"");
                b.extend_from_slice(call.id.as_bytes());
                b.extend_from_slice(b"\",\"type\":\"function\",\"function\":{\"name\":\"");
                b.extend_from_slice(escape(&call.name).as_bytes());
                b.extend_from_slice(b"\",\"arguments\":\"");
                b.extend_from_slice(escape(&call.arguments.pieces.concat()).as_bytes());
                b.extend_from_slice(b"\"}}");
            }
            b.push(b']');
        }
        b.extend_from_slice(b",\"refusal\":null,\"annotations\":[]},\"logprobs\":");
        match (&sp.logprobs, &c.text) {
            (Some(lp), Some(t)) => {
                b.extend_from_slice(b"{\"content\":[");
                lp.push_entries(&mut b, &t.pieces, i);
                b.extend_from_slice(b"],\"refusal\":null}");
            }
            _ => b.extend_from_slice(b"null"),
        }
        b.extend_from_slice(b",\"finish_reason\":\"");
        b.extend_from_slice(c.finish_reason.as_bytes());
        b.extend_from_slice(b"\"}");
    }
    b.extend_from_slice(b"],");
    let reasoning = Some(sp.reasoning_tokens());
    push_usage(&mut b, sp.prompt_tokens, completion_tokens, reasoning);
    b.extend_from_slice(b",\"service_tier\":\"default\",\"system_fingerprint\":\"");
    b.extend_from_slice(fingerprint.as_bytes());
    b.extend_from_slice(b"\"}");
    Bytes::from(b)
}

pub fn completion_body(fingerprint: &str, sp: &StreamPlan, completion_tokens: usize) -> Bytes {
    let mut b = Vec::with_capacity(
        512 + sp
            .choices
            .iter()
            .map(|c| c.text.as_ref().map_or(0, |t| t.full_escaped.len()) + 96)
            .sum::<usize>(),
    );
    push_object_head(&mut b, sp, "text_completion");
    b.extend_from_slice(b",\"system_fingerprint\":\"");
    b.extend_from_slice(fingerprint.as_bytes());
    b.extend_from_slice(b"\",\"choices\":[");
    for (i, c) in sp.choices.iter().enumerate() {
        if i > 0 {
            b.push(b',');
        }
        b.extend_from_slice(b"{\"text\":\"");
        if let Some(t) = &c.text {
            b.extend_from_slice(t.full_escaped.as_bytes());
        }
        b.extend_from_slice(b"\",\"index\":");
        push_u64(&mut b, i as u64);
        b.extend_from_slice(b",\"logprobs\":");
        match (&sp.logprobs, &c.text) {
            (Some(lp), Some(t)) => lp.push_completion(&mut b, &t.pieces, (0, t.tokens()), 0, i),
            _ => b.extend_from_slice(b"null"),
        }
        b.extend_from_slice(b",\"finish_reason\":\"");
        b.extend_from_slice(c.finish_reason.as_bytes());
        b.extend_from_slice(b"\"}");
    }
    b.extend_from_slice(b"],");
    push_usage(&mut b, sp.prompt_tokens, completion_tokens, None);
    b.push(b'}');
    Bytes::from(b)
}
