//! Server-Sent Events exactly as OpenAI sends them: a role delta, content (or tool-call
//! argument) deltas, a finish chunk per choice, the usage chunk when
//! `stream_options.include_usage`, then `data: [DONE]`. Token times follow an absolute
//! schedule (first token + k·ITL + jitter), so sleeps never accumulate drift — until the
//! server falls behind it (an overloaded machine): then the schedule slips to the late
//! token, as a real decode loop's does, instead of bursting tokens to catch up.

use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::stream;
use http::{HeaderValue, StatusCode, header};
use tokio::time::Instant;

use crate::admission::Running;
use crate::body::{push_object_head, push_usage};
use crate::config::Latency;
use crate::decoder::{Emit, Events};
use crate::faults::Fault;
use crate::generate::{ChoiceOut, escape, push_u64, splitmix64, unit};
use crate::http1::EventSlot;
use crate::metrics::FaultKind;
use crate::plan::{Piece, StreamKind, StreamPlan, Wire, piece_at};

enum Phase {
    /// A [`Wire`]'s opening events, sent as soon as the response starts.
    Open,
    /// Waiting for the first token; then role chunk + token 0.
    First,
    Tokens,
    Finish,
    Done,
}

pub struct Job {
    running: Running,
    plan: StreamPlan,
    wire: Option<Box<dyn Wire>>,
    /// `data: {"id":…,"object":…,"created":…,"model":…,` shared by every chunk.
    head: Vec<u8>,
    step: usize,
    steps: usize,
    phase: Phase,
    schedule: Schedule,
    last_token_at: Option<Instant>,
    fault_fired: bool,
    /// The step at which the request's mid-stream fault fires; `usize::MAX` when it has
    /// none, so the check per token reads neither the plan nor its fault.
    fault_step: usize,
    generated: usize,
    /// The content deltas of a single-choice chat answer, rendered up front.
    text: Option<TextChunks>,
}

/// The content-delta chunks of a single-choice chat stream without logprobs (what load tests
/// stream): the chunk's bytes before and after the token and every token piece, in one
/// buffer. At thousands of concurrent streams each stream's state is cold by its next token:
/// rendering each chunk from the plan (head, choice, piece vectors) costs a cache miss per
/// pointer followed; copying from one buffer costs about one.
struct TextChunks {
    /// The chunk before its token ‖ the chunk after it ‖ per piece: its length (u16, little
    /// endian) and its JSON-escaped bytes.
    buf: Vec<u8>,
    prefix: usize,
    suffix: usize,
    /// Where in `buf` the next piece's length is.
    at: usize,
    /// The stream step of the next piece (the reasoning's steps come first).
    step: usize,
}

impl TextChunks {
    /// The chunks of `plan`, when it streams one chat choice's text without logprobs.
    fn new(plan: &StreamPlan, head: &[u8]) -> Option<Self> {
        let [c] = plan.choices.as_slice() else {
            return None;
        };
        let text = c.text.as_ref()?;
        let simple = plan.kind == StreamKind::Chat
            && plan.wire.is_none()
            && plan.logprobs.is_none()
            && c.tool_calls.is_empty();
        if !simple || text.escaped.iter().any(|p| p.len() > usize::from(u16::MAX)) {
            return None;
        }
        // The head, the two chunk parts (under 100 bytes), a length and bytes per piece.
        let pieces = 2 * text.escaped.len() + text.full_escaped.len();
        let mut buf = Vec::with_capacity(head.len() + 100 + pieces);
        buf.extend_from_slice(head);
        buf.extend_from_slice(b"\"choices\":[{\"index\":0,\"delta\":{\"content\":\"");
        let prefix = buf.len();
        buf.extend_from_slice(b"\"},\"logprobs\":null,\"finish_reason\":null}");
        push_chunk_close(&mut buf, plan.include_usage);
        let suffix = buf.len() - prefix;
        for p in &text.escaped {
            buf.extend_from_slice(&(p.len() as u16).to_le_bytes());
            buf.extend_from_slice(p.as_bytes());
        }
        Some(Self {
            buf,
            prefix,
            suffix,
            at: prefix + suffix,
            step: c.reasoning_tokens(),
        })
    }

    /// Appends the chunk of stream step `step`, when it is the next text piece.
    fn push(&mut self, out: &mut Vec<u8>, step: usize) -> bool {
        if step != self.step || self.at >= self.buf.len() {
            return false;
        }
        let at = self.at;
        let len = usize::from(u16::from_le_bytes([self.buf[at], self.buf[at + 1]]));
        let (prefix, suffix) = (self.prefix, self.suffix);
        out.reserve(prefix + len + suffix);
        out.extend_from_slice(&self.buf[..prefix]);
        out.extend_from_slice(&self.buf[at + 2..at + 2 + len]);
        out.extend_from_slice(&self.buf[prefix..prefix + suffix]);
        self.at = at + 2 + len;
        self.step += 1;
        true
    }
}

/// Closes a chunk's `choices` array and the chunk (`usage: null` when the stream ends with
/// a usage chunk, as OpenAI's chunks do).
fn push_chunk_close(out: &mut Vec<u8>, include_usage: bool) {
    if include_usage {
        out.extend_from_slice(b"],\"usage\":null}\n\n");
    } else {
        out.extend_from_slice(b"]}\n\n");
    }
}

/// The streamed response of `plan`: its events on the latency schedule `lat`, chunks
/// stamped with `fingerprint` (JSON-escaped).
pub fn respond(
    running: Running,
    mut plan: StreamPlan,
    lat: &Latency,
    fingerprint: &str,
) -> Response {
    let slowdown = running.slowdown;
    let ttft = lat.ttft(plan.prompt_tokens, slowdown) + plan.extra_delay;
    let itl = lat.itl(slowdown);
    let steps = plan
        .choices
        .iter()
        .map(ChoiceOut::stream_len)
        .max()
        .unwrap_or(0)
        .max(1);
    let mut head = Vec::with_capacity(200);
    head.extend_from_slice(b"data: ");
    let object = match plan.kind {
        StreamKind::Chat => "chat.completion.chunk",
        StreamKind::Completion => "text_completion",
    };
    push_object_head(&mut head, &plan, object);
    head.extend_from_slice(b",\"system_fingerprint\":\"");
    head.extend_from_slice(fingerprint.as_bytes());
    head.extend_from_slice(b"\",");
    let text = TextChunks::new(&plan, &head);
    let fault_step = match plan.fault {
        Fault::StreamError(k) | Fault::Reset(k) | Fault::Stall(k, _) => k.min(steps),
        _ => usize::MAX,
    };
    let wire = plan.wire.take();
    let job = Job {
        phase: if wire.is_some() {
            Phase::Open
        } else {
            Phase::First
        },
        wire,
        schedule: Schedule {
            next_at: plan.start + ttft,
            base_at: plan.start + ttft,
            rng: splitmix64(plan.seed ^ 0x5EED),
            jitter_ms: lat.itl_jitter_ms * slowdown,
            itl,
        },
        head,
        step: 0,
        steps,
        last_token_at: None,
        fault_fired: false,
        fault_step,
        generated: 0,
        text,
        running,
        plan,
    };
    let no_wait = ttft.is_zero() && itl.is_zero() && job.plan.fault == Fault::None;
    let mut slot = None;
    let body = if no_wait {
        // Nothing to wait for: the whole event stream in one write.
        let mut job = job;
        let mut all = Vec::with_capacity(512 * (job.steps + 4));
        while let Emit::Event = job.emit(Instant::now(), &mut all) {}
        Body::from(all)
    } else {
        // mock-inference's own connection loop takes the job out of the response and hands it
        // to its worker's decode loop (crate::decoder), which writes each event straight to
        // the socket; any other server (hyper, for the connections handed to it) polls the
        // body, which takes the job itself.
        let shared = EventSlot::new(job);
        slot = Some(shared.clone());
        // The body takes the job out of the slot on its first poll and owns it from then on.
        enum Held {
            Slot(EventSlot<Job>),
            Own(Box<Job>),
        }
        Body::from_stream(stream::unfold(Held::Slot(shared), |held| async move {
            let mut job = match held {
                Held::Slot(shared) => Box::new(shared.take()?),
                Held::Own(job) => job,
            };
            job.wait_due().await;
            let mut out = Vec::with_capacity(256 * job.plan.choices.len());
            let item = match job.emit(Instant::now(), &mut out) {
                Emit::Event => Ok(Bytes::from(out)),
                // An error from the body makes hyper drop the connection mid-response.
                Emit::Reset => Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected connection reset",
                )),
                Emit::End => return None,
            };
            Some((item, Held::Own(job)))
        }))
    };
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    if let Some(slot) = slot {
        r.extensions_mut().insert(slot);
    }
    r
}

impl Job {
    /// Whether the next event can go out at `now` without waiting.
    pub fn due(&self, now: Instant) -> bool {
        match self.phase {
            Phase::Open | Phase::Finish | Phase::Done => true,
            Phase::First | Phase::Tokens => match self.pending_fault() {
                Some(Fault::StreamError(_) | Fault::Reset(_)) => true,
                Some(Fault::Stall(..)) => false,
                _ => now >= self.schedule.next_at,
            },
        }
    }

    /// When the next event is due: its token's time, or the end of a stall fault, which
    /// starts at `now` when its token has come.
    pub fn wake_at(&mut self, now: Instant) -> Instant {
        if let Some(Fault::Stall(_, d)) = self.pending_fault() {
            self.fault_fired = true;
            self.running.metrics.fault(FaultKind::Stall);
            // The schedule resumes after the stall.
            self.schedule.restart(now + d);
            return self.schedule.next_at;
        }
        match self.phase {
            Phase::First | Phase::Tokens => self.schedule.next_at,
            Phase::Open | Phase::Finish | Phase::Done => now,
        }
    }

    /// Waits until the next event is due (see [`Job::wake_at`]).
    pub async fn wait(&mut self) {
        tokio::time::sleep_until(self.wake_at(Instant::now())).await;
    }

    async fn wait_due(&mut self) {
        while !self.due(Instant::now()) {
            self.wait().await;
        }
    }

    /// The request's mid-stream fault, when its token has come and it has not fired yet.
    fn pending_fault(&self) -> Option<Fault> {
        if self.step != self.fault_step || self.fault_fired {
            return None;
        }
        (!matches!(self.phase, Phase::Open)).then_some(self.plan.fault)
    }

    fn chunk_open(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.head);
        out.extend_from_slice(b"\"choices\":[");
    }

    fn chunk_close(&self, out: &mut Vec<u8>) {
        push_chunk_close(out, self.plan.include_usage);
    }

    /// The role delta of every choice (a tool call's id and name ride on it, as OpenAI's do).
    fn role_events(&self, out: &mut Vec<u8>) {
        if self.plan.kind != StreamKind::Chat {
            return;
        }
        for (i, c) in self.plan.choices.iter().enumerate() {
            self.chunk_open(out);
            out.extend_from_slice(b"{\"index\":");
            push_u64(out, i as u64);
            out.extend_from_slice(b",\"delta\":{\"role\":\"assistant\",");
            match c.tool_calls.first() {
                Some(call) => {
                    out.extend_from_slice(
                        b"\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"",
                    );
                    out.extend_from_slice(call.id.as_bytes());
                    out.extend_from_slice(b"\",\"type\":\"function\",\"function\":{\"name\":\"");
                    out.extend_from_slice(escape(&call.name).as_bytes());
                    out.extend_from_slice(b"\",\"arguments\":\"\"}}]");
                }
                None => out.extend_from_slice(b"\"content\":\"\""),
            }
            out.extend_from_slice(b",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}");
            self.chunk_close(out);
        }
    }

    /// The choice of a chunk whose delta opens tool call `call` of `c` (choice `i`): its
    /// index, id, type and name, with empty arguments, as OpenAI streams each call's start.
    fn call_header(&self, out: &mut Vec<u8>, i: usize, c: &ChoiceOut, call: usize) {
        let tc = &c.tool_calls[call];
        out.extend_from_slice(b"{\"index\":");
        push_u64(out, i as u64);
        out.extend_from_slice(b",\"delta\":{\"tool_calls\":[{\"index\":");
        push_u64(out, call as u64);
        out.extend_from_slice(b",\"id\":\"");
        out.extend_from_slice(tc.id.as_bytes());
        out.extend_from_slice(b"\",\"type\":\"function\",\"function\":{\"name\":\"");
        out.extend_from_slice(escape(&tc.name).as_bytes());
        out.extend_from_slice(
            b"\",\"arguments\":\"\"}}]},\"logprobs\":null,\"finish_reason\":null}",
        );
    }

    /// One event per choice that has a token at `step`.
    fn token_events(&self, out: &mut Vec<u8>, step: usize) -> usize {
        let mut sent = 0;
        for (i, c) in self.plan.choices.iter().enumerate() {
            let Some(piece) = piece_at(c, step) else {
                continue;
            };
            self.chunk_open(out);
            match (self.plan.kind, piece) {
                (StreamKind::Chat, Piece::Reasoning(p)) => {
                    out.extend_from_slice(b"{\"index\":");
                    push_u64(out, i as u64);
                    out.extend_from_slice(b",\"delta\":{\"");
                    out.extend_from_slice(self.plan.reasoning_field.as_bytes());
                    out.extend_from_slice(b"\":\"");
                    out.extend_from_slice(p.as_bytes());
                    out.extend_from_slice(b"\"},\"logprobs\":null,\"finish_reason\":null}");
                }
                (StreamKind::Chat, Piece::Text(p)) => {
                    out.extend_from_slice(b"{\"index\":");
                    push_u64(out, i as u64);
                    out.extend_from_slice(b",\"delta\":{\"content\":\"");
                    out.extend_from_slice(p.as_bytes());
                    out.extend_from_slice(b"\"},\"logprobs\":");
                    match (&self.plan.logprobs, &c.text) {
                        (Some(lp), Some(t)) => {
                            out.extend_from_slice(b"{\"content\":[");
                            let at = step - c.reasoning_tokens();
                            lp.push_entry(out, &t.pieces[at], i, at);
                            out.extend_from_slice(b"],\"refusal\":null}");
                        }
                        _ => out.extend_from_slice(b"null"),
                    }
                    out.extend_from_slice(b",\"finish_reason\":null}");
                }
                (StreamKind::Chat, Piece::Args { call, at, piece }) => {
                    if at == 0 && call > 0 {
                        // A later call opens with its own header chunk: index, id, name.
                        self.call_header(out, i, c, call);
                        self.chunk_close(out);
                        self.chunk_open(out);
                    }
                    out.extend_from_slice(b"{\"index\":");
                    push_u64(out, i as u64);
                    out.extend_from_slice(b",\"delta\":{\"tool_calls\":[{\"index\":");
                    push_u64(out, call as u64);
                    out.extend_from_slice(b",\"function\":{\"arguments\":\"");
                    out.extend_from_slice(piece.as_bytes());
                    out.extend_from_slice(b"\"}}]},\"logprobs\":null,\"finish_reason\":null}");
                }
                // A legacy completion carries text only; tool calls are chat's.
                (StreamKind::Completion, piece) => {
                    out.extend_from_slice(b"{\"text\":\"");
                    if let Piece::Text(p) = piece {
                        out.extend_from_slice(p.as_bytes());
                    }
                    out.extend_from_slice(b"\",\"index\":");
                    push_u64(out, i as u64);
                    out.extend_from_slice(b",\"logprobs\":");
                    match (&self.plan.logprobs, &c.text) {
                        (Some(lp), Some(t)) => {
                            let offset = t.pieces[..step].iter().map(|p| p.chars().count()).sum();
                            lp.push_completion(out, &t.pieces, (step, step + 1), offset, i);
                        }
                        _ => out.extend_from_slice(b"null"),
                    }
                    out.extend_from_slice(b",\"finish_reason\":null}");
                }
            }
            self.chunk_close(out);
            sent += 1;
        }
        sent
    }

    fn finish_events(&self, out: &mut Vec<u8>) {
        for (i, c) in self.plan.choices.iter().enumerate() {
            self.chunk_open(out);
            match self.plan.kind {
                StreamKind::Chat => {
                    out.extend_from_slice(b"{\"index\":");
                    push_u64(out, i as u64);
                    out.extend_from_slice(b",\"delta\":{},\"logprobs\":null,\"finish_reason\":\"");
                }
                StreamKind::Completion => {
                    out.extend_from_slice(b"{\"text\":\"\",\"index\":");
                    push_u64(out, i as u64);
                    out.extend_from_slice(b",\"logprobs\":null,\"finish_reason\":\"");
                }
            }
            out.extend_from_slice(c.finish_reason.as_bytes());
            out.extend_from_slice(b"\"}");
            self.chunk_close(out);
        }
        if self.plan.include_usage {
            self.chunk_open(out);
            out.extend_from_slice(b"],");
            push_usage(
                out,
                self.plan.prompt_tokens,
                self.plan.completion_tokens(),
                (self.plan.kind == StreamKind::Chat).then(|| self.plan.reasoning_tokens()),
            );
            out.extend_from_slice(b"}\n\n");
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
    }

    /// Appends the next event(s) to `out`, assuming their time has come ([`Job::due`]) at
    /// `now`.
    pub fn emit(&mut self, now: Instant, out: &mut Vec<u8>) -> Emit {
        let metrics = &self.running.metrics;
        match self.pending_fault() {
            Some(Fault::StreamError(_)) => {
                self.fault_fired = true;
                metrics.fault(FaultKind::StreamError);
                self.phase = Phase::Done;
                self.running.finish();
                if let Some(w) = &mut self.wire {
                    w.error(&self.plan, out);
                    return Emit::Event;
                }
                out.extend_from_slice(
                    b"data: {\"error\":{\"message\":\"The server had an error while processing your request. (injected mid-stream fault)\",\"type\":\"server_error\",\"param\":null,\"code\":\"internal_error\"}}\n\n",
                );
                return Emit::Event;
            }
            Some(Fault::Reset(_)) => {
                self.fault_fired = true;
                metrics.fault(FaultKind::Reset);
                self.phase = Phase::Done;
                return Emit::Reset;
            }
            _ => {}
        }
        match self.phase {
            Phase::Open => {
                if let Some(w) = &mut self.wire {
                    w.open(&self.plan, out);
                }
                self.phase = Phase::First;
            }
            Phase::First | Phase::Tokens => {
                let first = matches!(self.phase, Phase::First);
                if first {
                    metrics.ttft.observe(now - self.plan.start);
                } else if let Some(prev) = self.last_token_at {
                    metrics.itl.observe(now - prev);
                }
                self.last_token_at = Some(now);
                self.generated += match &mut self.wire {
                    Some(w) => w.token(&self.plan, self.step, out),
                    None => {
                        if first {
                            self.role_events(out);
                        }
                        let step = self.step;
                        if self.text.as_mut().is_some_and(|t| t.push(out, step)) {
                            1
                        } else {
                            self.token_events(out, step)
                        }
                    }
                };
                self.step += 1;
                self.phase = if self.step >= self.steps {
                    Phase::Finish
                } else {
                    Phase::Tokens
                };
                self.schedule.advance(now);
            }
            Phase::Finish => {
                match &mut self.wire {
                    Some(w) => w.finish(&self.plan, out),
                    None => self.finish_events(out),
                }
                self.phase = Phase::Done;
                self.plan.record_success(metrics);
                self.running.finish();
            }
            Phase::Done => return Emit::End,
        }
        Emit::Event
    }
}

/// A stream's token times: an absolute schedule from its first token, ITL apart, each with
/// its own jitter.
struct Schedule {
    next_at: Instant,
    /// The schedule without jitter.
    base_at: Instant,
    itl: Duration,
    jitter_ms: f64,
    rng: u64,
}

impl Schedule {
    /// The schedule starts again at `at` (after a stall).
    fn restart(&mut self, at: Instant) {
        self.next_at = at;
        self.base_at = at;
    }

    /// Moves the schedule one inter-token gap on from the token sent at `sent`, with uniform
    /// jitter in ±`itl_jitter_ms` drawn from the request's seed. Jitter is applied around the
    /// unjittered schedule, so it never accumulates. A token sent later than its time plus
    /// [`SLIP_AFTER`] moves the schedule to itself (less the timer's allowance, which the next
    /// token will take too): the next gap is about a whole ITL instead of a burst to catch
    /// up. Only moving it when a token is a whole gap late was tried: the catch-up gaps then
    /// doubled each late token's jitter, p99 1.2-1.4x higher at 1,000 streams in paired rounds
    /// (scripts/bench/mock.sh).
    fn advance(&mut self, sent: Instant) {
        if sent > self.next_at + SLIP_AFTER {
            self.base_at = sent.checked_sub(SLIP_AFTER).unwrap_or(sent);
        }
        self.base_at += self.itl;
        self.next_at = self.base_at;
        if self.jitter_ms == 0.0 {
            return;
        }
        self.rng = splitmix64(self.rng);
        let u = unit(self.rng);
        let j = (u * 2.0 - 1.0) * self.jitter_ms / 1000.0;
        if j >= 0.0 {
            self.next_at += Duration::from_secs_f64(j);
        } else {
            self.next_at = self
                .base_at
                .checked_sub(Duration::from_secs_f64(-j))
                .unwrap_or(self.base_at);
        }
    }
}

/// Timers fire up to a millisecond late (tokio's resolution): lateness within this keeps the
/// absolute schedule.
const SLIP_AFTER: Duration = Duration::from_millis(1);

impl Events for Job {
    fn due(&self, now: Instant) -> bool {
        Job::due(self, now)
    }

    fn wake_at(&mut self, now: Instant) -> Instant {
        Job::wake_at(self, now)
    }

    fn emit(&mut self, now: Instant, out: &mut Vec<u8>) -> Emit {
        Job::emit(self, now, out)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;

    use axum::extract::State;

    use super::*;
    use crate::config::Config;
    use crate::server::App;

    /// A stream gives back its running slot and KV cache as it renders its last event, before
    /// its job goes: a client that has read `[DONE]` and then scrapes `/metrics` finds the
    /// request finished (the job is dropped only after the decode loop's write, a race the
    /// LoRA metrics test lost under load).
    #[tokio::test]
    async fn a_stream_frees_its_slot_and_kv_cache_with_its_last_event() {
        let mut cfg = Config::default();
        cfg.latency.ttft_ms = Some(50.0);
        cfg.latency.itl_ms = Some(20.0);
        let model = cfg.models[0].clone();
        let app = Arc::new(App::new(cfg).unwrap());
        let body = format!(
            r#"{{"model":"{model}","messages":[{{"role":"user","content":"hi"}}],"stream":true,"max_tokens":3}}"#
        );
        let request = http::Request::post("/v1/chat/completions")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        let response = crate::api::chat::handle(State(app.clone()), request).await;
        assert_eq!(response.status(), StatusCode::OK);
        let mut job = response
            .extensions()
            .get::<EventSlot<Job>>()
            .and_then(EventSlot::take)
            .expect("a scheduled stream's job waits in its response for the decode loop");
        let running = || app.metrics.running.load(Ordering::Relaxed);
        assert_eq!(running(), 1);
        assert!(app.metrics.kv_cache_usage() > 0.0);
        let mut out = Vec::new();
        while let Emit::Event = job.emit(Instant::now(), &mut out) {}
        assert!(out.ends_with(b"data: [DONE]\n\n"));
        assert_eq!(running(), 0, "the slot is free before the job is dropped");
        assert_eq!(app.metrics.kv_cache_usage(), 0.0);
        drop(job);
        assert_eq!(
            running(),
            0,
            "dropping a finished job gives nothing back twice"
        );
    }

    fn schedule(itl_ms: u64) -> (Instant, Schedule) {
        let t0 = Instant::now();
        let s = Schedule {
            next_at: t0,
            base_at: t0,
            itl: Duration::from_millis(itl_ms),
            jitter_ms: 0.0,
            rng: 1,
        };
        (t0, s)
    }

    const MS: Duration = Duration::from_millis(1);

    /// Tokens on time or late within the timer's resolution keep the times the stream
    /// started with, so no drift builds up.
    #[test]
    fn lateness_within_the_timers_resolution_keeps_the_schedule() {
        let (t0, mut s) = schedule(20);
        s.advance(t0);
        assert_eq!(s.next_at, t0 + 20 * MS);
        s.advance(t0 + 20 * MS + MS / 2);
        assert_eq!(s.next_at, t0 + 40 * MS);
        s.advance(t0 + 40 * MS + MS);
        assert_eq!(s.next_at, t0 + 60 * MS, "exactly the allowance is not late");
    }

    /// A token later than that moves the schedule to itself, less the allowance: the next
    /// token comes about a whole ITL after it, not at once to catch up.
    #[test]
    fn a_late_token_moves_the_schedule() {
        let (t0, mut s) = schedule(20);
        let sent = t0 + 5 * MS;
        s.advance(sent);
        assert_eq!(s.next_at, sent + 19 * MS);
        s.advance(sent + 19 * MS);
        assert_eq!(
            s.next_at,
            sent + 39 * MS,
            "on time again: absolute from the new start"
        );
        let way_late = sent + 80 * MS;
        s.advance(way_late);
        assert_eq!(
            s.next_at,
            way_late + 19 * MS,
            "no burst after a stall of the machine"
        );
    }

    /// Under a millisecond ITL the same allowance holds.
    #[test]
    fn short_gaps_tolerate_the_timers_resolution() {
        let (t0, mut s) = schedule(0);
        s.itl = MS / 2;
        s.advance(t0 + MS * 9 / 10);
        assert_eq!(s.next_at, t0 + MS / 2);
        s.advance(t0 + 2 * MS);
        assert_eq!(s.next_at, t0 + MS + MS / 2);
    }

    /// Jitter stays within ±itl_jitter_ms of the unjittered schedule and does not accumulate.
    #[test]
    fn jitter_is_around_the_schedule() {
        let (t0, mut s) = schedule(20);
        s.jitter_ms = 5.0;
        let mut base = t0;
        for _ in 0..1000 {
            let sent = s.next_at;
            s.advance(sent);
            base += 20 * MS;
            assert_eq!(s.base_at, base);
            let off = if s.next_at >= base {
                s.next_at - base
            } else {
                base - s.next_at
            };
            assert!(off <= 5 * MS, "{off:?}");
        }
    }
}
