//! HTTP layer: routes, admission (running limit + queue), faults, latency, and the response
//! writers. Responses are assembled by copying pre-escaped bytes; nothing on the hot path
//! builds a `serde_json::Value`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::api::{self, responses::ResponsesRequest};
use crate::config::{Config, Latency, ResponseMode};
use crate::error::ApiError;
use crate::generate::{self, ChoiceOut, TextPlan, escape, splitmix64};
use crate::metrics::{FaultKind, Finish, Metrics};
use crate::request::{self, ChatRequest, CompletionRequest, PromptItem, ToolMode};
use crate::scenario::Scenario;
use crate::stream::{self, StreamKind, StreamPlan};
use crate::tokenizer;

/// Shared state of the server.
pub struct App {
    pub cfg: Config,
    pub latency: Latency,
    pub metrics: Metrics,
    fixed: Arc<TextPlan>,
    scenario: Option<Scenario>,
    limiter: Option<Limiter>,
    fault_seed: u64,
    request_seq: AtomicU64,
    pub draining: AtomicBool,
    /// `created` of every model object: the server's start.
    started: u64,
    models_body: Bytes,
    escaped_models: Vec<String>,
    /// `system_fingerprint`, JSON-escaped once.
    pub fingerprint: String,
    /// Stored Responses API responses.
    pub responses: crate::api::responses::Store,
}

struct Limiter {
    slots: Arc<Semaphore>,
    max_queue: usize,
    waiting: AtomicUsize,
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl App {
    pub fn new(cfg: Config) -> Result<Self, crate::config::ConfigError> {
        let scenario = match (&cfg.response.mode, &cfg.response.scenario_file) {
            (ResponseMode::Scenario, Some(path)) => Some(Scenario::load(path)?),
            _ => None,
        };
        let limiter = (cfg.limits.max_running > 0).then(|| Limiter {
            slots: Arc::new(Semaphore::new(cfg.limits.max_running)),
            max_queue: cfg.limits.max_queue,
            waiting: AtomicUsize::new(0),
        });
        let started = unix_now();
        let models_body = Bytes::from(
            serde_json::to_vec(&serde_json::json!({
                "object": "list",
                "data": cfg.models.iter().map(|m| model_object(m, started)).collect::<Vec<_>>(),
            }))
            .expect("JSON values serialise"),
        );
        let fault_seed = cfg.faults.seed.unwrap_or_else(rand::random);
        Ok(Self {
            latency: cfg.latency.resolve(),
            metrics: Metrics::new(&cfg.models[0], cfg.metrics.names),
            fixed: Arc::new(TextPlan::new(&cfg.response.text)),
            escaped_models: cfg.models.iter().map(|m| escape(m)).collect(),
            fingerprint: escape(&cfg.system_fingerprint),
            scenario,
            limiter,
            fault_seed,
            request_seq: AtomicU64::new(0),
            draining: AtomicBool::new(false),
            started,
            models_body,
            responses: Default::default(),
            cfg,
        })
    }

    /// The model id echoed in responses, escaped; 404 unless served or `accept_any_model`.
    fn model(&self, requested: &str) -> Result<String, ApiError> {
        if let Some(i) = self.cfg.models.iter().position(|m| m == requested) {
            return Ok(self.escaped_models[i].clone());
        }
        if self.cfg.accept_any_model {
            return Ok(escape(requested));
        }
        Err(ApiError::model_not_found(requested))
    }
}

fn model_object(id: &str, created: u64) -> serde_json::Value {
    serde_json::json!({"id": id, "object": "model", "created": created, "owned_by": "devenv"})
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/responses", post(serve::<ResponsesRequest>))
        .route("/v1/responses/{id}", get(api::responses::get))
        .route(
            "/v1/messages",
            post(serve::<api::messages::MessagesRequest>),
        )
        .route(
            "/v1/messages/count_tokens",
            post(api::messages::count_tokens),
        )
        .route("/v1/models", get(models))
        .route("/v1/models/{*id}", get(model_by_id))
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

pub fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
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
    if app.cfg.models.contains(&id) || app.cfg.accept_any_model {
        json_response(StatusCode::OK, model_object(&id, app.started).to_string())
    } else {
        ApiError::model_not_found(&id).into_response()
    }
}

// ---------------------------------------------------------------- body, faults, admission

pub(crate) async fn read_body(
    app: &App,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, ApiError> {
    let limit = app.cfg.max_body_bytes;
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

pub(crate) fn fault_header(headers: &HeaderMap) -> Option<&[u8]> {
    headers.get(FAULT_HEADER).map(HeaderValue::as_bytes)
}

/// Requests a fault: `429`, `500`, `503`, `error[@K]`, `reset[@K]`, `stall[@K[:MS]]`.
pub const FAULT_HEADER: &str = "x-mock-fault";

/// A fault decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    Status(u16),
    /// Error event after this many content tokens.
    StreamError(usize),
    /// Connection cut after this many content tokens.
    Reset(usize),
    /// Pause this long after this many content tokens.
    Stall(usize, Duration),
}

/// `X-Mock-Fault`: `429`, `500`, `503`, `error[@K]`, `reset[@K]`, `stall[@K[:MS]]`.
pub fn parse_fault_header(v: &str, default_k: usize, default_stall: Duration) -> Option<Fault> {
    let v = v.trim();
    match v {
        "429" => return Some(Fault::Status(429)),
        "500" => return Some(Fault::Status(500)),
        "503" => return Some(Fault::Status(503)),
        "none" => return Some(Fault::None),
        _ => {}
    }
    let (kind, rest) = v.split_once('@').unwrap_or((v, ""));
    let (k, ms) = rest.split_once(':').unwrap_or((rest, ""));
    let k = if k.is_empty() {
        default_k
    } else {
        k.parse().ok()?
    };
    match kind {
        "error" if ms.is_empty() => Some(Fault::StreamError(k)),
        "reset" if ms.is_empty() => Some(Fault::Reset(k)),
        "stall" => {
            let d = if ms.is_empty() {
                default_stall
            } else {
                Duration::from_millis(ms.parse().ok()?)
            };
            Some(Fault::Stall(k, d))
        }
        _ => None,
    }
}

impl App {
    /// The fault for one request: the `X-Mock-Fault` header's, else the seeded schedule's.
    fn decide_fault(&self, header: Option<&[u8]>) -> Result<Fault, ApiError> {
        let f = &self.cfg.faults;
        let stall = Duration::from_millis(f.stall_ms);
        if let Some(v) = header {
            let text = std::str::from_utf8(v).unwrap_or("");
            return parse_fault_header(text, f.fault_at_token, stall).ok_or_else(|| {
                ApiError::invalid(format!(
                    "Invalid X-Mock-Fault header '{text}': use 429, 500, 503, error[@K], reset[@K] or stall[@K[:MS]]."
                ))
                .param("X-Mock-Fault")
                .code("invalid_value")
            });
        }
        if f.error_rate == 0.0
            && f.stream_error_rate == 0.0
            && f.reset_rate == 0.0
            && f.stall_rate == 0.0
        {
            return Ok(Fault::None);
        }
        // Request number i draws from splitmix(seed, i): the same schedule in every run.
        let i = self.request_seq.fetch_add(1, Ordering::Relaxed);
        let r = splitmix64(self.fault_seed ^ splitmix64(i));
        let u1 = unit(r);
        if u1 < f.error_rate {
            let pick = splitmix64(r) as usize % f.error_statuses.len();
            return Ok(Fault::Status(f.error_statuses[pick]));
        }
        let u2 = unit(splitmix64(r ^ 0xA5A5));
        let k = f.fault_at_token;
        Ok(if u2 < f.stream_error_rate {
            Fault::StreamError(k)
        } else if u2 < f.stream_error_rate + f.reset_rate {
            Fault::Reset(k)
        } else if u2 < f.stream_error_rate + f.reset_rate + f.stall_rate {
            Fault::Stall(k, stall)
        } else {
            Fault::None
        })
    }

    /// The escaped model and the fault of a parsed request; an unknown model is 404 and a
    /// status fault is the error it injects.
    pub(crate) fn admissible(
        &self,
        model: &str,
        fault_header: Option<&[u8]>,
    ) -> Result<(String, Fault), ApiError> {
        let model = self.model(model)?;
        let fault = self.decide_fault(fault_header)?;
        if let Fault::Status(s) = fault {
            self.metrics.fault(FaultKind::Status);
            return Err(ApiError::fault(s, self.cfg.limits.retry_after_secs));
        }
        Ok((model, fault))
    }

    /// True when a chat request never waits before its response starts: no latency, no
    /// running limit, no scenario. [`chat_now`] then answers it on the spot.
    pub fn chat_never_waits(&self) -> bool {
        self.latency.is_zero() && self.limiter.is_none() && self.scenario.is_none()
    }

    /// Waits for a running slot (or refuses with 429 when the queue is full).
    async fn admit(self: &Arc<Self>) -> Result<Running, ApiError> {
        let permit = match &self.limiter {
            None => None,
            Some(l) => match l.slots.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    if l.waiting.fetch_add(1, Ordering::AcqRel) >= l.max_queue {
                        l.waiting.fetch_sub(1, Ordering::AcqRel);
                        self.metrics.rejected();
                        return Err(ApiError::queue_full(self.cfg.limits.retry_after_secs));
                    }
                    self.metrics.waiting.fetch_add(1, Ordering::Relaxed);
                    // Decrements even when the client goes away while queued.
                    let _queued = WaitingGuard(self.clone());
                    let p = l.slots.clone().acquire_owned().await;
                    Some(p.expect("the semaphore is never closed"))
                }
            },
        };
        Ok(self.running(permit))
    }

    fn running(self: &Arc<Self>, permit: Option<OwnedSemaphorePermit>) -> Running {
        let running = self.metrics.running.fetch_add(1, Ordering::Relaxed) + 1;
        Running {
            app: self.clone(),
            _permit: permit,
            slowdown: 1.0 + self.latency.concurrency_slowdown * (running - 1).max(0) as f64,
        }
    }
}

fn unit(r: u64) -> f64 {
    (r >> 11) as f64 / (1u64 << 53) as f64
}

struct WaitingGuard(Arc<App>);

impl Drop for WaitingGuard {
    fn drop(&mut self) {
        self.0.metrics.waiting.fetch_sub(1, Ordering::Relaxed);
        if let Some(l) = &self.0.limiter {
            l.waiting.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// A request holding a running slot; the gauge drops with it (also on client disconnect).
pub struct Running {
    pub app: Arc<App>,
    _permit: Option<OwnedSemaphorePermit>,
    /// Latency multiplier from the requests running beside this one.
    pub slowdown: f64,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.app.metrics.running.fetch_sub(1, Ordering::Relaxed);
    }
}

fn ms(v: f64) -> Duration {
    Duration::from_secs_f64((v / 1000.0).max(0.0))
}

// ---------------------------------------------------------------- generation, any API

/// What a scenario rule decided before generation.
pub enum Plan {
    Text(Arc<TextPlan>),
    Tool {
        name: String,
        arguments: Option<serde_json::Value>,
    },
}

/// The output format a request asks for.
#[derive(Clone, Copy)]
pub enum Format<'a> {
    Text,
    /// `json_object`: `{"response": …}`.
    JsonObject,
    /// `json_schema`: an instance of the schema (`json_object`'s answer when none is given).
    JsonSchema(Option<&'a serde_json::Value>),
}

/// What one request asks to be answered, in any API's terms.
pub struct Ask<'a> {
    /// The last user message (echo mode).
    pub text: &'a str,
    /// A hash of the conversation (lorem mode), computed only when needed.
    pub hash: &'a dyn Fn() -> u64,
    pub seed: u64,
    /// The callable tools: name and parameter schema.
    pub tools: Vec<(&'a str, Option<&'a serde_json::Value>)>,
    pub tool_mode: ToolMode,
    pub format: Format<'a>,
    pub stop: &'a [String],
    pub max_tokens: Option<usize>,
}

impl App {
    /// Choice `i` of an answer: the scenario's plan, else a tool call when the tool mode
    /// asks for one, else text (JSON for a JSON format) cut by `stop` and `max_tokens`.
    pub fn answer(&self, ask: &Ask, plan: Option<&Plan>, i: usize) -> ChoiceOut {
        let schema = |name: &str| {
            ask.tools
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, s)| *s)
        };
        let wants_tool = match ask.tool_mode {
            ToolMode::None => None,
            ToolMode::Auto if !self.cfg.response.tool_call_on_auto => None,
            ToolMode::Auto | ToolMode::Required => Some(0),
            ToolMode::Named(i) => Some(i),
        };
        match plan {
            Some(Plan::Tool { name, arguments }) => {
                return generate::tool_call_choice(name, schema(name), arguments.clone());
            }
            Some(Plan::Text(_)) => {}
            None => {
                if let Some((name, schema)) = wants_tool.and_then(|i| ask.tools.get(i)) {
                    return generate::tool_call_choice(name, *schema, None);
                }
            }
        }
        let json = |value: serde_json::Value| {
            Arc::new(TextPlan::new(
                &serde_json::to_string(&value).expect("JSON values serialise"),
            ))
        };
        let base: Arc<TextPlan> = match (plan, ask.format) {
            (Some(Plan::Text(t)), _) => t.clone(),
            (None, Format::JsonSchema(Some(schema))) => json(generate::example_for_schema(schema)),
            (None, Format::JsonSchema(None) | Format::JsonObject) => {
                json(serde_json::json!({"response": self.cfg.response.text}))
            }
            _ => match self.cfg.response.mode {
                ResponseMode::Echo => Arc::new(TextPlan::new(ask.text)),
                ResponseMode::Lorem => generate::lorem_plan(
                    ask.seed.wrapping_add(i as u64),
                    (ask.hash)(),
                    self.cfg.response.lorem_tokens,
                ),
                ResponseMode::Fixed | ResponseMode::Scenario => self.fixed.clone(),
            },
        };
        let (text, finish, stop_sequence) = generate::shape_text(base, ask.stop, ask.max_tokens);
        ChoiceOut {
            text: Some(text),
            tool_calls: Vec::new(),
            finish_reason: finish,
            echoed_tokens: 0,
            stop_sequence,
        }
    }

    /// The scenario's rule for a request: its plan and delay, or the error it injects (after
    /// its delay).
    async fn scenario_plan(
        &self,
        model: &str,
        text: &str,
    ) -> Result<(Option<Plan>, Duration), ApiError> {
        let Some(action) = self.scenario.as_ref().and_then(|sc| sc.answer(model, text)) else {
            return Ok((None, Duration::ZERO));
        };
        let delay = Duration::from_millis(action.delay_ms.unwrap_or(0));
        if let Some(e) = action.error {
            tokio::time::sleep(delay).await;
            let mut err = ApiError::fault(e.status, self.cfg.limits.retry_after_secs);
            err.status =
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if (400..500).contains(&e.status) && e.status != 429 {
                err.kind = "invalid_request_error";
                err.code = None;
            }
            if let Some(m) = e.message {
                err.message = m;
            }
            return Err(err);
        }
        let plan = if let Some(t) = action.tool_call {
            Some(Plan::Tool {
                name: t.name,
                arguments: t.arguments,
            })
        } else {
            action.text.map(|t| Plan::Text(Arc::new(TextPlan::new(&t))))
        };
        Ok((plan, delay))
    }
}

/// A parsed request's place in its response: model, fault, scenario delay, arrival.
pub struct Admitted {
    /// Escaped model id.
    pub model: String,
    pub fault: Fault,
    pub extra_delay: Duration,
    pub start: Instant,
}

impl Admitted {
    /// The plan of a one-choice answer in another API's shapes (`wire`).
    pub fn wire_plan(
        self,
        id: String,
        choice: ChoiceOut,
        prompt_tokens: usize,
        seed: u64,
        wire: Box<dyn stream::Wire>,
    ) -> StreamPlan {
        StreamPlan {
            kind: StreamKind::Chat,
            wire: Some(wire),
            id,
            created: unix_now(),
            model: self.model,
            choices: vec![choice],
            prompt_tokens,
            include_usage: false,
            fault: self.fault,
            extra_delay: self.extra_delay,
            seed,
            start: self.start,
        }
    }
}

/// An API served by [`serve`]: parse, admit, scenario, plan, then stream or not.
pub trait Api: Sized {
    fn parse(app: &App, body: &[u8]) -> Result<Self, ApiError>;
    fn model(&self) -> &str;
    fn stream(&self) -> bool;
    /// The text scenario rules match (the last user message).
    fn last_user_text(&self) -> &str;
    fn plan(
        self,
        app: &Arc<App>,
        scenario: Option<Plan>,
        admitted: Admitted,
    ) -> Result<StreamPlan, ApiError>;
    /// The API's own error response.
    fn error(e: ApiError) -> Response {
        e.into_response()
    }
}

// The whole request, not the `HeaderMap` extractor: that one clones the headers.
pub(crate) async fn serve<A: Api>(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    serve_inner::<A>(app, parts.headers, body)
        .await
        .unwrap_or_else(A::error)
}

async fn serve_inner<A: Api>(
    app: Arc<App>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let start = Instant::now();
    let bytes = read_body(&app, &headers, body).await?;
    let req = A::parse(&app, &bytes)?;
    let (model, fault) = app.admissible(req.model(), fault_header(&headers))?;
    let (plan, extra_delay) = app.scenario_plan(req.model(), req.last_user_text()).await?;
    let running = app.admit().await?;
    let stream = req.stream();
    let admitted = Admitted {
        model,
        fault,
        extra_delay,
        start,
    };
    let sp = req.plan(&app, plan, admitted)?;
    if stream {
        Ok(stream::respond(running, sp))
    } else {
        non_stream(running, sp).await
    }
}

// ---------------------------------------------------------------- chat

pub(crate) async fn chat(app: State<Arc<App>>, req: Request) -> Response {
    serve::<ChatRequest>(app, req).await
}

/// A chat request answered without waiting (see [`App::chat_never_waits`]): the same
/// response as [`chat`], without the request and future plumbing. The response body may
/// still stream (a mid-stream fault).
pub fn chat_now(app: &Arc<App>, fault_header: Option<&[u8]>, body: &[u8]) -> Response {
    debug_assert!(app.chat_never_waits());
    let start = Instant::now();
    let answer = request::parse_chat(body, app.cfg.strict).and_then(|req| {
        let (model, fault) = app.admissible(&req.model, fault_header)?;
        let running = app.running(None);
        let stream = req.stream();
        let admitted = Admitted {
            model,
            fault,
            extra_delay: Duration::ZERO,
            start,
        };
        let sp = req.plan(app, None, admitted)?;
        Ok(if stream {
            stream::respond(running, sp)
        } else {
            non_stream_now(running, sp, Duration::ZERO)
        })
    });
    answer.unwrap_or_else(IntoResponse::into_response)
}

impl Api for ChatRequest {
    fn parse(app: &App, body: &[u8]) -> Result<Self, ApiError> {
        request::parse_chat(body, app.cfg.strict)
    }
    fn model(&self) -> &str {
        &self.model
    }
    fn stream(&self) -> bool {
        ChatRequest::stream(self)
    }
    fn last_user_text(&self) -> &str {
        ChatRequest::last_user_text(self)
    }

    fn plan(
        self,
        app: &Arc<App>,
        scenario: Option<Plan>,
        a: Admitted,
    ) -> Result<StreamPlan, ApiError> {
        let req = &self;
        let prompt_tokens = tokenizer::chat_prompt_tokens(req.messages.iter().map(|m| {
            (
                m.role.as_str(),
                m.content.as_ref().map_or("", |c| c.text.as_str()),
                m.name.as_deref(),
            )
        }));
        let seed = req.seed.map(|s| s as u64).unwrap_or(app.cfg.response.seed);
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
            tools: req
                .tools
                .iter()
                .flatten()
                .map(|t| (t.function.name.as_str(), t.function.parameters.as_ref()))
                .collect(),
            tool_mode: req.tool_mode(),
            format,
            stop: req.stop(),
            max_tokens: req.max_tokens(),
        };
        let choices = (0..req.n())
            .map(|i| app.answer(&ask, scenario.as_ref(), i))
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
        })
    }
}

/// Simulated time a whole non-streamed answer takes.
fn non_stream_delay(
    lat: &Latency,
    slowdown: f64,
    prompt_tokens: usize,
    tokens: usize,
) -> (Duration, Duration) {
    let ttft = ms(lat.ttft_ms + lat.prefill_us_per_token * prompt_tokens as f64 / 1000.0)
        .mul_f64(slowdown);
    let rest = ms(lat.itl_ms * tokens.saturating_sub(1) as f64).mul_f64(slowdown);
    (ttft, rest)
}

async fn non_stream(running: Running, sp: StreamPlan) -> Result<Response, ApiError> {
    let app = running.app.clone();
    let completion_tokens = sp.completion_tokens();
    let (ttft, rest) = non_stream_delay(
        &app.latency,
        running.slowdown,
        sp.prompt_tokens,
        completion_tokens,
    );
    let wait = ttft + rest + sp.extra_delay;
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    Ok(non_stream_now(running, sp, ttft))
}

/// The whole non-streamed response, once its time has come.
fn non_stream_now(running: Running, sp: StreamPlan, ttft: Duration) -> Response {
    let app = running.app.clone();
    let completion_tokens = sp.completion_tokens();
    let mut sp = sp;
    let body = match (sp.wire.take(), sp.kind) {
        (Some(mut wire), _) => wire.body(&sp),
        (None, StreamKind::Chat) => chat_body(&app, &sp, completion_tokens),
        (None, StreamKind::Completion) => completion_body(&app, &sp, completion_tokens),
    };
    app.metrics.ttft.observe(ttft + sp.extra_delay);
    sp.record_success(&app.metrics);
    drop(running);
    json_response(StatusCode::OK, body)
}

pub fn push_u64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

pub fn push_usage(buf: &mut Vec<u8>, prompt: usize, completion: usize, chat: bool) {
    buf.extend_from_slice(b"\"usage\":{\"prompt_tokens\":");
    push_u64(buf, prompt as u64);
    buf.extend_from_slice(b",\"completion_tokens\":");
    push_u64(buf, completion as u64);
    buf.extend_from_slice(b",\"total_tokens\":");
    push_u64(buf, (prompt + completion) as u64);
    if chat {
        buf.extend_from_slice(b",\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}");
    }
    buf.push(b'}');
}

fn chat_body(app: &App, sp: &StreamPlan, completion_tokens: usize) -> Bytes {
    let content_len: usize = sp
        .choices
        .iter()
        .map(|c| c.text.as_ref().map_or(64, |t| t.full_escaped.len()))
        .sum();
    let mut b = Vec::with_capacity(640 + content_len + sp.choices.len() * 160);
    b.extend_from_slice(b"{\"id\":\"");
    b.extend_from_slice(sp.id.as_bytes());
    b.extend_from_slice(b"\",\"object\":\"chat.completion\",\"created\":");
    push_u64(&mut b, sp.created);
    b.extend_from_slice(b",\"model\":\"");
    b.extend_from_slice(sp.model.as_bytes());
    b.extend_from_slice(b"\",\"choices\":[");
    for (i, c) in sp.choices.iter().enumerate() {
        if i > 0 {
            b.push(b',');
        }
        b.extend_from_slice(b"{\"index\":");
        push_u64(&mut b, i as u64);
        b.extend_from_slice(b",\"message\":{\"role\":\"assistant\",\"content\":");
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
        b.extend_from_slice(
            b",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"",
        );
        b.extend_from_slice(c.finish_reason.as_bytes());
        b.extend_from_slice(b"\"}");
    }
    b.extend_from_slice(b"],");
    push_usage(&mut b, sp.prompt_tokens, completion_tokens, true);
    b.extend_from_slice(b",\"service_tier\":\"default\",\"system_fingerprint\":\"");
    b.extend_from_slice(app.fingerprint.as_bytes());
    b.extend_from_slice(b"\"}");
    Bytes::from(b)
}

// ---------------------------------------------------------------- completions

// The whole request, not the `HeaderMap` extractor: that one clones the headers.
async fn completions(State(app): State<Arc<App>>, req: Request) -> Response {
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
    let bytes = read_body(&app, &headers, body).await?;
    let req = request::parse_completion(&bytes, app.cfg.strict)?;
    let (model, fault) = app.admissible(&req.model, fault_header(&headers))?;
    let running = app.admit().await?;
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
    if req.stream() {
        Ok(stream::respond(running, sp))
    } else {
        non_stream(running, sp).await
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

fn completion_body(app: &App, sp: &StreamPlan, completion_tokens: usize) -> Bytes {
    let mut b = Vec::with_capacity(
        512 + sp
            .choices
            .iter()
            .map(|c| c.text.as_ref().map_or(0, |t| t.full_escaped.len()) + 96)
            .sum::<usize>(),
    );
    b.extend_from_slice(b"{\"id\":\"");
    b.extend_from_slice(sp.id.as_bytes());
    b.extend_from_slice(b"\",\"object\":\"text_completion\",\"created\":");
    push_u64(&mut b, sp.created);
    b.extend_from_slice(b",\"model\":\"");
    b.extend_from_slice(sp.model.as_bytes());
    b.extend_from_slice(b"\",\"system_fingerprint\":\"");
    b.extend_from_slice(app.fingerprint.as_bytes());
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
        b.extend_from_slice(b",\"logprobs\":null,\"finish_reason\":\"");
        b.extend_from_slice(c.finish_reason.as_bytes());
        b.extend_from_slice(b"\"}");
    }
    b.extend_from_slice(b"],");
    push_usage(&mut b, sp.prompt_tokens, completion_tokens, false);
    b.push(b'}');
    Bytes::from(b)
}

// ---------------------------------------------------------------- embeddings

// The whole request, not the `HeaderMap` extractor: that one clones the headers.
async fn embeddings(State(app): State<Arc<App>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    embeddings_inner(app, parts.headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn embeddings_inner(
    app: Arc<App>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let start = Instant::now();
    let bytes = read_body(&app, &headers, body).await?;
    let req = request::parse_embeddings(&bytes, app.cfg.strict, app.cfg.embeddings.dimensions)?;
    // Only a status fault applies: an embedding has no stream to break.
    let (model, _) = app.admissible(&req.model, fault_header(&headers))?;
    let running = app.admit().await?;
    let dims = req
        .dimensions
        .map_or(app.cfg.embeddings.dimensions, |d| d as usize);
    let mut prompt_tokens = 0;
    let mut data = Vec::new();
    for (i, item) in req.input.items().into_iter().enumerate() {
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
        let embedding = if req.base64() {
            use base64::Engine as _;
            let raw: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            serde_json::Value::from(base64::engine::general_purpose::STANDARD.encode(raw))
        } else {
            serde_json::Value::from(v)
        };
        data.push(serde_json::json!({"object": "embedding", "index": i, "embedding": embedding}));
    }
    let body = serde_json::json!({
        "object": "list",
        "data": data,
        "model": serde_json::Value::String(req.model.clone()),
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    });
    let _ = model;
    let lat = &app.latency;
    let wait = ms(lat.ttft_ms + lat.prefill_us_per_token * prompt_tokens as f64 / 1000.0)
        .mul_f64(running.slowdown);
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    let m = &app.metrics;
    m.prompt_tokens.add(prompt_tokens as u64);
    m.e2e.observe(start.elapsed());
    m.success(Finish::Stop);
    Ok(json_response(
        StatusCode::OK,
        serde_json::to_vec(&body).expect("JSON values serialise"),
    ))
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
    fn fault_header_syntax() {
        let d = Duration::from_millis(100);
        assert_eq!(parse_fault_header("503", 5, d), Some(Fault::Status(503)));
        assert_eq!(
            parse_fault_header("error@3", 5, d),
            Some(Fault::StreamError(3))
        );
        assert_eq!(parse_fault_header("reset", 5, d), Some(Fault::Reset(5)));
        assert_eq!(
            parse_fault_header("stall@2:50", 5, d),
            Some(Fault::Stall(2, Duration::from_millis(50)))
        );
        assert_eq!(parse_fault_header("explode", 5, d), None);
        assert_eq!(parse_fault_header("error@x", 5, d), None);
    }

    #[test]
    fn embeddings_are_unit_and_stable() {
        let a = embedding(42, 64);
        assert_eq!(a, embedding(42, 64));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
}
