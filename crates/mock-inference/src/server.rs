//! The server's shared state ([`App`]) and the path every API's request takes through it:
//! read, parse, model and fault ([`App::receive`]), scenario, a running slot, then the
//! response, streamed or not ([`serve`]); or, for the APIs that answer on their own,
//! receive, a running slot and their answer ([`serve_direct`]).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::StatusCode;
use tokio::time::Instant;

use crate::access::RateLimiter;
use crate::admission::{Admission, Running};
use crate::api::store::Store;
use crate::body::{self, json_response, read_body, unix_now};
use crate::config::{Config, Latency, MAX_CALLS_PER_TURN, ResponseMode};
use crate::error::ApiError;
use crate::faults::{self, FAULT_HEADER, Fault};
use crate::generate::{self, CallSpec, ChoiceOut, TextPlan, escape};
use crate::metrics::{FaultKind, Metrics};
use crate::plan::{StreamKind, StreamPlan, Wire};
use crate::request::{Body, ToolMode};
use crate::scenario::{Scenario, ToolCallAction};
use crate::stream;

/// Shared state of the server.
pub struct App {
    pub cfg: Config,
    pub latency: Latency,
    pub metrics: Arc<Metrics>,
    pub fixed: Arc<TextPlan>,
    pub scenario: Option<Scenario>,
    pub admission: Admission,
    faults: faults::Schedule,
    pub draining: AtomicBool,
    /// `created` of every model object: the server's start.
    pub started: u64,
    pub models_body: Bytes,
    escaped_models: Vec<String>,
    /// `system_fingerprint`, JSON-escaped once.
    pub fingerprint: String,
    /// Stored Responses API responses.
    pub responses: Store,
    /// The rate limits, when configured.
    pub rate: Option<RateLimiter>,
    /// LoRA adapter names, JSON-escaped (served like the models, after them).
    escaped_loras: Vec<String>,
}

impl App {
    pub fn new(cfg: Config) -> Result<Self, crate::config::ConfigError> {
        let scenario = match (&cfg.response.mode, &cfg.response.scenario_file) {
            (ResponseMode::Scenario, Some(path)) => Some(Scenario::load(path)?),
            _ => None,
        };
        let latency = cfg.latency.resolve();
        let loras: Vec<String> = cfg.lora_modules.iter().map(|l| l.name.clone()).collect();
        let metrics = Arc::new(Metrics::new(
            &cfg.models[0],
            cfg.metrics.names,
            cfg.limits.kv_cache_tokens,
            loras,
        ));
        let l = &cfg.limits;
        let admission = Admission::new(
            l.max_running,
            l.max_queue,
            l.retry_after_secs,
            latency.concurrency_slowdown,
            metrics.clone(),
        );
        let started = unix_now();
        let models_body = Bytes::from(
            serde_json::to_vec(&serde_json::json!({
                "object": "list",
                "data": cfg.models.iter().map(|m| model_object(m, started))
                    .chain(cfg.lora_modules.iter().map(|l| lora_object(l, &cfg.models[0], started)))
                    .collect::<Vec<_>>(),
            }))
            .expect("JSON values serialise"),
        );
        Ok(Self {
            latency,
            metrics,
            fixed: Arc::new(TextPlan::new(&cfg.response.text)),
            escaped_models: cfg.models.iter().map(|m| escape(m)).collect(),
            fingerprint: escape(&cfg.system_fingerprint),
            scenario,
            admission,
            faults: faults::Schedule::new(&cfg.faults),
            draining: AtomicBool::new(false),
            started,
            models_body,
            responses: Default::default(),
            rate: RateLimiter::new(&cfg.rate_limits),
            escaped_loras: cfg.lora_modules.iter().map(|l| escape(&l.name)).collect(),
            cfg,
        })
    }

    /// The model id echoed in responses, escaped; 404 unless served or `accept_any_model`.
    fn model(&self, requested: &str) -> Result<String, ApiError> {
        if let Some(i) = self.cfg.models.iter().position(|m| m == requested) {
            return Ok(self.escaped_models[i].clone());
        }
        if let Some(i) = self.lora_index(requested) {
            return Ok(self.escaped_loras[i].clone());
        }
        if self.cfg.accept_any_model {
            return Ok(escape(requested));
        }
        Err(ApiError::model_not_found(requested))
    }

    /// 404 unless `model` is served (or any model is accepted).
    pub fn admissible_model(&self, model: &str) -> Result<(), ApiError> {
        self.model(model).map(drop)
    }

    /// The escaped model and the fault of a parsed request; an unknown model is 404 and a
    /// status fault is the error it injects.
    pub fn admissible(
        &self,
        model: &str,
        fault_header: Option<&[u8]>,
    ) -> Result<(String, Fault), ApiError> {
        let model = self.model(model)?;
        let fault = self.faults.decide(fault_header)?;
        if let Fault::Status(s) = fault {
            self.metrics.fault(FaultKind::Status);
            return Err(ApiError::fault(s, self.cfg.limits.retry_after_secs));
        }
        Ok((model, fault))
    }

    /// True when a chat request never waits before its response starts: no latency, no
    /// running limit, no scenario. `api::chat::now` then answers it on the spot.
    pub fn chat_never_waits(&self) -> bool {
        self.latency.is_zero()
            && self.admission.unlimited()
            && self.scenario.is_none()
            && !self.access_checked()
    }

    /// True when requests pass the API key or rate-limit checks ([`crate::access`]).
    pub fn access_checked(&self) -> bool {
        self.cfg.api_key.is_some() || self.rate.is_some()
    }

    /// Counts `tokens` against the token rate limit, if there is one.
    pub fn charge(&self, tokens: usize) {
        if let Some(rate) = &self.rate {
            rate.charge(tokens);
        }
    }

    /// Reasoning tokens of a request to `model` with `effort`: none unless it is a
    /// reasoning model.
    pub fn reasoning_tokens(&self, model: &str, effort: Option<&str>) -> usize {
        let r = &self.cfg.reasoning;
        if r.models.iter().any(|m| m == model) {
            r.effort_tokens.of(effort)
        } else {
            0
        }
    }

    /// The index of the LoRA adapter named `model`.
    pub fn lora_index(&self, model: &str) -> Option<usize> {
        self.cfg.lora_modules.iter().position(|l| l.name == model)
    }

    /// The model object of a served model or adapter (`/v1/models/{id}`).
    pub fn model_object(&self, id: &str) -> Option<serde_json::Value> {
        if let Some(l) = self.cfg.lora_modules.iter().find(|l| l.name == id) {
            return Some(lora_object(l, &self.cfg.models[0], self.started));
        }
        (self.cfg.models.iter().any(|m| m == id) || self.cfg.accept_any_model)
            .then(|| model_object(id, self.started))
    }

    /// What a stream fault drawn for a non-streamed request does: the error and reset faults
    /// are a 500 (the caller's API shapes its body), a stall the pause it returns.
    pub fn unstreamed_fault(&self, fault: Fault) -> Result<Option<Duration>, ApiError> {
        let (kind, name) = match fault {
            Fault::StreamError(_) => (FaultKind::StreamError, "error"),
            Fault::Reset(_) => (FaultKind::Reset, "reset"),
            Fault::Stall(_, d) => {
                self.metrics.fault(FaultKind::Stall);
                return Ok(Some(d));
            }
            Fault::None | Fault::Status(_) => return Ok(None),
        };
        self.metrics.fault(kind);
        Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            format!(
                "The server had an error while processing your request. (injected fault '{name}' on a non-streamed request)"
            ),
        ))
    }

    /// The response of a planned request, streamed or not; a non-streamed one may be the
    /// error its fault injects.
    pub async fn respond(
        &self,
        running: Running,
        sp: StreamPlan,
        stream: bool,
    ) -> Result<Response, ApiError> {
        if stream {
            Ok(self.stream(running, sp))
        } else {
            non_stream(self, running, sp).await
        }
    }

    /// The streamed response of a planned request.
    pub fn stream(&self, running: Running, sp: StreamPlan) -> Response {
        stream::respond(running, sp, &self.latency, &self.fingerprint)
    }
}

/// A base model as vLLM lists it: its own `root`, no `parent`.
/// Mixed into the seed of reasoning texts, so they differ from the answer's lorem.
const REASONING_SEED: u64 = 0x7468_696e_6b69_6e67;

pub fn model_object(id: &str, created: u64) -> serde_json::Value {
    serde_json::json!({
        "id": id, "object": "model", "created": created, "owned_by": "devenv",
        "root": id, "parent": null,
    })
}

/// A LoRA adapter as vLLM lists it: `root` its path, `parent` its base model.
pub fn lora_object(
    l: &crate::config::LoraModule,
    default_base: &str,
    created: u64,
) -> serde_json::Value {
    serde_json::json!({
        "id": l.name, "object": "model", "created": created, "owned_by": "devenv",
        "root": l.path, "parent": l.base_model_name.as_deref().unwrap_or(default_base),
    })
}

// ---------------------------------------------------------------- generation, any API

/// What a scenario rule decided before generation.
pub enum Plan {
    Text(Arc<TextPlan>),
    /// A turn calling these tools, in order.
    Tools(Vec<ToolCallAction>),
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
    /// The request's own `seed` (the drawn answer length follows it).
    pub request_seed: Option<u64>,
    /// vLLM's `ignore_eos` and `min_tokens`.
    pub ignore_eos: bool,
    pub min_tokens: usize,
    /// Reasoning tokens before the answer (0: none), within `max_tokens`.
    pub reasoning: usize,
    /// The most tool calls this turn may make ([`App::calls_per_turn`]).
    pub max_calls: usize,
}

/// The callable tools of a request, for [`Ask::tools`]: each one's name and parameter
/// schema, as `of` reads them.
pub fn tool_schemas<'a, T>(
    tools: &'a Option<Vec<T>>,
    of: impl Fn(&'a T) -> (&'a str, Option<&'a serde_json::Value>),
) -> Vec<(&'a str, Option<&'a serde_json::Value>)> {
    tools.iter().flatten().map(of).collect()
}

impl App {
    /// Choice `i` of an answer: the scenario's plan, else a tool call when the tool mode
    /// asks for one, else text (JSON for a JSON format) cut by `stop` and `max_tokens`.
    /// With `ask.reasoning`, the choice reasons first: lorem from the seed, as long as asked
    /// but leaving the answer at least one token of the limit, which it shares.
    pub fn answer(&self, ask: &Ask, plan: Option<&Plan>, i: usize) -> ChoiceOut {
        let thought = match ask.max_tokens {
            Some(max) => ask.reasoning.min(max.saturating_sub(1)),
            None => ask.reasoning,
        };
        if thought == 0 {
            return self.answer_within(ask, plan, i, ask.max_tokens);
        }
        let mut c = self.answer_within(ask, plan, i, ask.max_tokens.map(|m| m - thought));
        let seed = ask.seed.wrapping_add(i as u64) ^ REASONING_SEED;
        let r = generate::lorem_plan(seed, (ask.hash)(), thought);
        c.reasoning = Some(generate::truncate(&r, thought));
        c
    }

    /// [`App::answer`] without reasoning, its text cut at `max_tokens`.
    fn answer_within<'a>(
        &self,
        ask: &Ask<'a>,
        plan: Option<&Plan>,
        i: usize,
        max_tokens: Option<usize>,
    ) -> ChoiceOut {
        let schema = |name: &str| {
            ask.tools
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, s)| *s)
        };
        let call = |(name, schema): &(&'a str, Option<&'a serde_json::Value>)| CallSpec {
            name,
            schema: *schema,
            arguments: None,
        };
        let calls: Option<Vec<CallSpec>> = match (plan, ask.tool_mode) {
            (Some(Plan::Tools(scripted)), _) => Some(
                scripted
                    .iter()
                    .take(ask.max_calls.max(1))
                    .map(|t| CallSpec {
                        name: &t.name,
                        schema: schema(&t.name),
                        arguments: t.arguments.clone(),
                    })
                    .collect(),
            ),
            (Some(Plan::Text(_)), _) | (None, ToolMode::None) => None,
            (None, ToolMode::Auto) if !self.cfg.response.tool_call_on_auto => None,
            (None, ToolMode::Named(i)) => ask.tools.get(i).map(|t| vec![call(t)]),
            (None, ToolMode::Auto | ToolMode::Required) if !ask.tools.is_empty() => {
                // The tools in order, each once unless `tools.repeat` goes round again.
                let n = if self.cfg.tools.repeat {
                    ask.max_calls
                } else {
                    ask.max_calls.min(ask.tools.len())
                };
                Some(ask.tools.iter().cycle().take(n.max(1)).map(call).collect())
            }
            (None, _) => None,
        };
        if let Some(calls) = calls {
            return generate::tool_calls_choice(calls);
        }
        let json = |value: serde_json::Value| {
            Arc::new(TextPlan::new(
                &serde_json::to_string(&value).expect("JSON values serialise"),
            ))
        };
        let (base, target) = match (plan, ask.format) {
            (Some(Plan::Text(t)), _) => (t.clone(), None),
            (None, Format::JsonSchema(Some(schema))) => {
                (json(generate::example_for_schema(schema)), None)
            }
            (None, Format::JsonSchema(None) | Format::JsonObject) => (
                json(serde_json::json!({"response": self.cfg.response.text})),
                None,
            ),
            _ => self.mode_text(ask.text, ask.seed, ask.hash, ask.request_seed, i),
        };
        let length = generate::Length {
            ignore_eos: ask.ignore_eos,
            min_tokens: ask.min_tokens,
            target,
            seed: ask.seed.wrapping_add(i as u64),
            hash: ask.hash,
        };
        let (text, finish, stop_sequence) =
            generate::shape_text(base, ask.stop, max_tokens, &length);
        ChoiceOut {
            text: Some(text),
            tool_calls: Vec::new(),
            finish_reason: finish,
            echoed_tokens: 0,
            stop_sequence,
            reasoning: None,
        }
    }

    /// Text answer `i` in the configured mode (fixed, echo of `text`, lorem; a scenario's
    /// unmatched requests get the fixed text) and its length drawn from `generation.length`.
    pub fn mode_text(
        &self,
        text: &str,
        seed: u64,
        hash: &dyn Fn() -> u64,
        request_seed: Option<u64>,
        i: usize,
    ) -> (Arc<TextPlan>, Option<usize>) {
        let target = generate::answer_length(self.cfg.generation.length, request_seed, i);
        let plan = match self.cfg.response.mode {
            ResponseMode::Echo => Arc::new(TextPlan::new(text)),
            ResponseMode::Lorem => generate::lorem_plan(
                seed.wrapping_add(i as u64),
                hash(),
                target.unwrap_or(self.cfg.response.lorem_tokens),
            ),
            ResponseMode::Fixed | ResponseMode::Scenario => self.fixed.clone(),
        };
        (plan, target)
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
            Some(Plan::Tools(vec![t]))
        } else if let Some(calls) = action.tool_calls {
            Some(Plan::Tools(calls))
        } else {
            action.text.map(|t| Plan::Text(Arc::new(TextPlan::new(&t))))
        };
        Ok((plan, delay))
    }
}

/// A parsed request's place in its response: model, fault, scenario, arrival.
pub struct Admitted {
    /// Escaped model id.
    pub model: String,
    pub fault: Fault,
    /// The scenario rule's plan, if one matched.
    pub scenario: Option<Plan>,
    /// The scenario rule's delay.
    pub extra_delay: Duration,
    pub start: Instant,
    /// The request's `X-Mock-Tool-Calls`: calls per tool-calling turn.
    pub tool_calls: Option<usize>,
}

impl Admitted {
    /// The plan of a one-choice answer in another API's shapes (`wire`).
    pub fn wire_plan(
        self,
        id: String,
        choice: ChoiceOut,
        prompt_tokens: usize,
        seed: u64,
        wire: Box<dyn Wire>,
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
            logprobs: None,
            reasoning_field: "reasoning",
        }
    }
}

/// The header that sets how many tools a request's tool-calling turn calls.
pub const TOOL_CALLS_HEADER: &str = "x-mock-tool-calls";

/// The `X-Mock-…` headers of a request, raw.
#[derive(Clone, Copy, Default)]
pub struct MockHeaders<'a> {
    /// `X-Mock-Fault`.
    pub fault: Option<&'a [u8]>,
    /// `X-Mock-Tool-Calls`.
    pub tool_calls: Option<&'a [u8]>,
}

impl<'a> MockHeaders<'a> {
    pub fn of(headers: &'a http::HeaderMap) -> Self {
        Self {
            fault: headers.get(FAULT_HEADER).map(http::HeaderValue::as_bytes),
            tool_calls: headers
                .get(TOOL_CALLS_HEADER)
                .map(http::HeaderValue::as_bytes),
        }
    }
}

/// `X-Mock-Tool-Calls: N`, N in 1..=[`MAX_CALLS_PER_TURN`]; else a 400.
fn parse_tool_calls(v: &[u8]) -> Result<usize, ApiError> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| (1..=MAX_CALLS_PER_TURN).contains(n))
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "Invalid X-Mock-Tool-Calls header '{}': expected a number of calls from 1 \
                 to {MAX_CALLS_PER_TURN}.",
                String::from_utf8_lossy(v)
            ))
        })
}

/// A request body an API parses: what [`App::receive`] needs of it.
pub trait Incoming: Body {
    fn parse(app: &App, body: &[u8]) -> Result<Self, ApiError>;
}

impl App {
    /// Admits a parsed request: its model and fault ([`App::admissible`]) and its
    /// `X-Mock-…` settings, no scenario yet.
    pub fn admit_parsed<R: Body>(
        &self,
        req: &R,
        headers: MockHeaders,
        start: Instant,
    ) -> Result<Admitted, ApiError> {
        let tool_calls = headers.tool_calls.map(parse_tool_calls).transpose()?;
        let (model, fault) = self.admissible(req.model(), headers.fault)?;
        Ok(Admitted {
            model,
            fault,
            scenario: None,
            extra_delay: Duration::ZERO,
            start,
            tool_calls,
        })
    }

    /// How many tools a tool-calling turn may call: one when the request disallows
    /// parallel calls (`parallel: false`), else the request's `X-Mock-Tool-Calls`, else
    /// `tools.calls_per_turn`.
    pub fn calls_per_turn(&self, parallel: bool, header: Option<usize>) -> usize {
        if parallel {
            header.unwrap_or(self.cfg.tools.calls_per_turn)
        } else {
            1
        }
    }

    /// The opening every API handler shares: read the body (413 past the limit), parse it,
    /// admit its model and fault.
    pub async fn receive<R: Incoming>(&self, req: Request) -> Result<(R, Admitted), ApiError> {
        self.receive_with(req, |body| R::parse(self, body)).await
    }

    /// [`App::receive`] with another parser of the same body.
    pub async fn receive_with<R: Body>(
        &self,
        req: Request,
        parse: impl FnOnce(&[u8]) -> Result<R, ApiError>,
    ) -> Result<(R, Admitted), ApiError> {
        let start = Instant::now();
        let (parts, body) = req.into_parts();
        let bytes = read_body(self.cfg.max_body_bytes, &parts.headers, body).await?;
        let req = parse(&bytes)?;
        let admitted = self.admit_parsed(&req, MockHeaders::of(&parts.headers), start)?;
        Ok((req, admitted))
    }
}

/// An API that answers a received request itself once it runs: no scenario rule, no
/// [`StreamPlan`] of its own making (legacy completions, embeddings).
pub trait Direct: Incoming + Send + 'static {
    fn answer(
        self,
        app: &App,
        admitted: Admitted,
        running: Running,
    ) -> impl Future<Output = Result<Response, ApiError>> + Send;
}

/// Serves a [`Direct`] API: receive, a running slot, then its answer.
pub async fn serve_direct<D: Direct>(State(app): State<Arc<App>>, req: Request) -> Response {
    let answer = async {
        let (req, admitted) = app.receive::<D>(req).await?;
        let lora = app.lora_index(req.model());
        let waiting = lora.map(|i| app.metrics.lora_waiting(i));
        let mut running = app.admission.admit().await?;
        drop(waiting);
        running.on_lora(lora);
        req.answer(&app, admitted, running).await
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// An API served by [`serve`]: receive, scenario, a running slot, plan, then stream or not.
pub trait Api: Incoming {
    fn stream(&self) -> bool;
    /// The text scenario rules match (the last user message).
    fn last_user_text(&self) -> &str;
    /// The response's plan, the scenario's decision in `admitted`.
    fn plan(self, app: &Arc<App>, admitted: Admitted) -> Result<StreamPlan, ApiError>;
    /// The API's own error response.
    fn error(e: ApiError) -> Response {
        e.into_response()
    }
}

// The whole request, not the `HeaderMap` extractor: that one clones the headers.
pub async fn serve<A: Api>(State(app): State<Arc<App>>, req: Request) -> Response {
    serve_inner::<A>(app, req).await.unwrap_or_else(A::error)
}

async fn serve_inner<A: Api>(app: Arc<App>, req: Request) -> Result<Response, ApiError> {
    let (req, mut admitted) = app.receive::<A>(req).await?;
    let (plan, extra_delay) = app.scenario_plan(req.model(), req.last_user_text()).await?;
    (admitted.scenario, admitted.extra_delay) = (plan, extra_delay);
    let lora = app.lora_index(req.model());
    let waiting = lora.map(|i| app.metrics.lora_waiting(i));
    let mut running = app.admission.admit().await?;
    drop(waiting);
    let stream = req.stream();
    let sp = req.plan(&app, admitted)?;
    let tokens = sp.prompt_tokens + sp.completion_tokens();
    app.charge(tokens);
    running.hold_kv(tokens);
    running.on_lora(lora);
    app.respond(running, sp, stream).await
}

async fn non_stream(app: &App, running: Running, sp: StreamPlan) -> Result<Response, ApiError> {
    let stall = app.unstreamed_fault(sp.fault)?.unwrap_or_default();
    let ttft = app.latency.ttft(sp.prompt_tokens, running.slowdown);
    let tokens = sp.completion_tokens().saturating_sub(1);
    let rest = app.latency.decode(tokens, running.slowdown);
    let wait = ttft + rest + sp.extra_delay + stall;
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    Ok(non_stream_now(app, running, sp, ttft))
}

/// The whole non-streamed response, once its time has come.
pub fn non_stream_now(app: &App, running: Running, sp: StreamPlan, ttft: Duration) -> Response {
    json_response(StatusCode::OK, non_stream_body(app, running, sp, ttft))
}

/// The body of [`non_stream_now`]'s response.
pub fn non_stream_body(app: &App, running: Running, mut sp: StreamPlan, ttft: Duration) -> Bytes {
    let completion_tokens = sp.completion_tokens();
    let body = match (sp.wire.take(), sp.kind) {
        (Some(mut wire), _) => wire.body(&sp),
        (None, StreamKind::Chat) => body::chat_body(&app.fingerprint, &sp, completion_tokens),
        (None, StreamKind::Completion) => {
            body::completion_body(&app.fingerprint, &sp, completion_tokens)
        }
    };
    app.metrics.ttft.observe(ttft + sp.extra_delay);
    sp.record_success(&app.metrics);
    drop(running);
    body
}
