//! The routes: every API's handler, and the small endpoints (health, readiness, metrics,
//! models, version) answered here.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, Uri, header};

use crate::api::{chat, completions, embeddings, messages, responses, tokenize};
use crate::body::json_response;
use crate::error::ApiError;
use crate::server::{App, serve, serve_direct};
use crate::tokenizer;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat::handle))
        .route(
            "/v1/completions",
            post(serve_direct::<completions::CompletionRequest>),
        )
        .route(
            "/v1/embeddings",
            post(serve_direct::<embeddings::EmbeddingRequest>),
        )
        .route("/v1/responses", post(serve::<responses::ResponsesRequest>))
        .route("/v1/responses/{id}", get(responses::get))
        .route("/v1/messages", post(serve::<messages::MessagesRequest>))
        .route("/v1/messages/count_tokens", post(messages::count_tokens))
        .route("/v1/models", get(models))
        .route("/v1/models/{*id}", get(model_by_id))
        .route("/tokenize", post(tokenize::tokenize))
        .route("/detokenize", post(tokenize::detokenize))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/version", get(version))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(uri.path())
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::method_not_allowed(method.as_str(), uri.path())
}

async fn health() -> Response {
    json_response(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#))
}

async fn ready(State(app): State<Arc<App>>) -> Response {
    if app.draining.load(Ordering::Relaxed) {
        json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            Bytes::from_static(br#"{"status":"draining"}"#),
        )
    } else {
        json_response(StatusCode::OK, Bytes::from_static(br#"{"status":"ready"}"#))
    }
}

async fn version(State(app): State<Arc<App>>) -> Response {
    let body = serde_json::json!({
        "name": "mock-inference",
        "version": env!("CARGO_PKG_VERSION"),
        "tokenizer": tokenizer::NAME,
        "models": app.cfg.models,
        "system_fingerprint": app.cfg.system_fingerprint,
    });
    json_response(StatusCode::OK, body.to_string())
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let mut r = Response::new(Body::from(app.metrics.render()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

async fn models(State(app): State<Arc<App>>) -> Response {
    json_response(StatusCode::OK, app.models_body.clone())
}

async fn model_by_id(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    match app.model_object(&id) {
        Some(model) => json_response(StatusCode::OK, model.to_string()),
        None => ApiError::model_not_found(&id).into_response(),
    }
}
