//! The server's own HTTP/1.1 connection loop.
//!
//! Why not hyper for every request: under `wrk -c64` on two cores the kernel's loopback TCP
//! path takes ~2/3 of the server's CPU, so the userspace per request decides how far above
//! the seed's Go mock we get. hyper's dispatcher, buffering and header bookkeeping were the
//! largest userspace item (scripts/bench/mock.sh). This loop parses a request head with
//! httparse, hands the handler a fully buffered body, and writes each response (or SSE
//! chunk) with one write(2).
//!
//! It only serves what it fully understands: HTTP/1.1 requests framed by Content-Length (or
//! without a body). Anything else — HTTP/1.0, `Transfer-Encoding`, `Expect`, `Upgrade`,
//! `CONNECT` — hands the connection, with the bytes read so far, to hyper for the rest of its
//! life ([`Prefixed`]), so those keep hyper's tested behaviour.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use axum::body::{Body, HttpBody as _};
use axum::response::Response;
use bytes::{Buf as _, Bytes, BytesMut};
use http::{HeaderName, HeaderValue, Method, StatusCode, Version, header};
use http_body_util::BodyExt as _;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::decoder::{Decoder, Emit, Events, push_chunk};

/// Header slots httparse fills; more headers get 431.
const MAX_HEADERS: usize = 64;
/// A request head larger than this gets 431.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// How many headers of a request [`Handler::answer_now`] reads.
pub const NOW_HEADERS: usize = 2;
/// A client has this long to finish a request it started (head and body).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the connection loop serves requests with. It owns this contract: the server's
/// handlers, error shapes and event streams come in through it, so the loop depends on no
/// other module of the crate but the decode loop it hands event streams to
/// ([`crate::decoder`], which owns the [`Events`] contract).
pub trait Handler: Clone + Send + 'static {
    /// The events of a streamed response, found in its [`EventSlot`] extension.
    type Events: Events;
    fn handle(&self, req: http::Request<Body>) -> impl Future<Output = Response> + Send;
    /// Requests [`Handler::answer_now`] answers: no `http::Request` is built for them.
    fn answers_now(&self, method: &Method, path: &str) -> bool;
    /// Answers a request of [`Handler::answers_now`] from its body and the headers that
    /// matter ([`Handler::NOW_HEADERS`], each value when present), without waiting.
    fn answer_now(&self, now_headers: [Option<&[u8]>; NOW_HEADERS], body: &[u8]) -> Answer;
    /// The headers [`Handler::answer_now`] reads (lowercase).
    const NOW_HEADERS: [&'static str; NOW_HEADERS];
    /// Largest request body accepted; a larger Content-Length gets 413 unread.
    fn max_body_bytes(&self) -> usize;
    /// True once the server drains: responses then close their connection.
    fn draining(&self) -> bool;
    /// The response refusing a request the loop cannot take (malformed head: 400, head too
    /// large: 431, too slow: 408, body too large: 413).
    fn refuse(&self, refusal: Refusal) -> Response;
}

/// What [`Handler::answer_now`] answers with.
pub enum Answer {
    /// `200 OK` with this JSON body, written straight from the bytes: no `http::Response` to
    /// build and take apart (a header map and a boxed body allocated per request; ~2% of the
    /// hot route's user CPU, scripts/bench/mock.sh).
    Json(Bytes),
    Response(Response),
}

/// Why the loop refuses a request before any handler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A Content-Length over [`Handler::max_body_bytes`] (413).
    BodyTooLarge(usize),
    /// Any other refusal, with its status and message.
    Other(StatusCode, String),
}

/// A streamed response's events, shared by the response's extension and its body: whichever
/// writer takes them first sends them (this loop writes them straight to the socket; hyper
/// polls the body).
pub struct EventSlot<E>(Arc<Mutex<Option<E>>>);

impl<E> EventSlot<E> {
    pub fn new(events: E) -> Self {
        Self(Arc::new(Mutex::new(Some(events))))
    }

    pub fn take(&self) -> Option<E> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

impl<E> Clone for EventSlot<E> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// Work the server must finish before it exits, on one worker thread: requests between their
/// head and the end of their response, and connections handed to hyper. The server drains
/// until this is zero, then drops the idle connections with the runtime.
#[derive(Clone, Default)]
pub struct InFlight(Arc<InFlightCount>);

#[derive(Default)]
pub struct InFlightCount {
    count: AtomicUsize,
    /// Set once something waits in [`InFlight::finished`]: until then a request ending does
    /// not touch `idle` (its lock would be taken on every request).
    watched: AtomicBool,
    /// Told each time the count drops to zero while watched.
    idle: tokio::sync::Notify,
}

impl InFlight {
    pub fn enter(&self) -> InFlightGuard {
        self.0.count.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(self.0.clone())
    }

    /// Returns once nothing is in flight.
    pub async fn finished(&self) {
        loop {
            // Created before the check, so a drop to zero in between still wakes it.
            let idle = self.0.idle.notified();
            self.0.watched.store(true, Ordering::SeqCst);
            if self.0.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

pub struct InFlightGuard(Arc<InFlightCount>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 && self.0.watched.load(Ordering::SeqCst)
        {
            self.0.idle.notify_waiters();
        }
    }
}

/// Serves requests on `tcp` until the client closes, a request needs hyper (then returns
/// the connection with the bytes read so far), or the connection sits idle — no request
/// started — for `keep_alive` (then closes it).
pub async fn serve<H: Handler>(
    mut tcp: TcpStream,
    handler: H,
    in_flight: InFlight,
    decoder: Decoder<H::Events>,
    keep_alive: Duration,
) -> Option<Prefixed> {
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut out: Vec<u8> = Vec::with_capacity(4 * 1024);
    // One timer per connection, re-armed only when it fires early: a busy connection's
    // requests never touch the timer wheel.
    let mut idle_since = Instant::now();
    let idle = tokio::time::sleep_until(idle_since + keep_alive);
    tokio::pin!(idle);
    loop {
        // A whole head: usually already in the first read.
        let mut deadline = None;
        let head = loop {
            if !buf.is_empty() {
                match parse_head(&buf, &handler) {
                    Parsed::Request(head) => break head,
                    Parsed::Handoff => return Some(Prefixed::new(buf.freeze(), tcp)),
                    Parsed::Bad(status, message) => {
                        let refusal = Refusal::Other(status, message);
                        let _ = write_refusal(&mut tcp, &mut out, &handler, refusal).await;
                        return None;
                    }
                    Parsed::Partial => {}
                }
                // A started head has REQUEST_TIMEOUT.
                if deadline.is_none() {
                    deadline = Some(Instant::now() + REQUEST_TIMEOUT);
                }
            } else {
                // Idle between requests: closed after `keep_alive` without a byte.
                reserve(&mut buf);
                let read = loop {
                    tokio::select! {
                        biased;
                        read = tcp.read_buf(&mut buf) => break read,
                        () = idle.as_mut() => {
                            let until = idle_since + keep_alive;
                            if Instant::now() >= until {
                                return None;
                            }
                            idle.as_mut().reset(until);
                        }
                    }
                };
                match read {
                    Ok(n) if n > 0 => continue,
                    _ => return None,
                }
            }
            if !read_request(&mut tcp, &mut buf, &mut out, &handler, deadline).await {
                return None;
            }
        };
        let _in_flight = in_flight.enter();
        if head.body_len > handler.max_body_bytes() {
            let refusal = Refusal::BodyTooLarge(handler.max_body_bytes());
            let _ = write_refusal(&mut tcp, &mut out, &handler, refusal).await;
            return None;
        }
        let need = head.head_len + head.body_len;
        let deadline = deadline.unwrap_or_else(|| Instant::now() + REQUEST_TIMEOUT);
        while buf.len() < need {
            buf.reserve(need - buf.len());
            if !read_request(&mut tcp, &mut buf, &mut out, &handler, Some(deadline)).await {
                return None;
            }
        }
        let now_headers = head
            .now_headers
            .map(|h| h.map(|(at, len)| Bytes::copy_from_slice(&buf[at..at + len])));
        buf.advance(head.head_len);
        let body = buf.split_to(head.body_len).freeze();
        let (response, no_body) = match head.parts {
            None => {
                let values = now_headers.each_ref().map(|h| h.as_deref());
                match handler.answer_now(values, &body) {
                    Answer::Json(json) => {
                        let keep = !head.close && !handler.draining();
                        match write_json(&mut tcp, &mut out, &json, keep).await {
                            Ok(()) if keep => {
                                idle_since = Instant::now();
                                continue;
                            }
                            _ => return None,
                        }
                    }
                    Answer::Response(response) => (response, false),
                }
            }
            Some(parts) => {
                let no_body = parts.method == Method::HEAD;
                let req = http::Request::from_parts(parts, Body::from(body));
                (handler.handle(req).await, no_body)
            }
        };
        let keep = !head.close && !handler.draining();
        let written =
            write_response::<H>(&mut tcp, &mut out, response, keep, no_body, Some(&decoder));
        match written.await {
            Ok(true) if keep => idle_since = Instant::now(),
            _ => return None,
        }
    }
}

/// Room for the next read; reuses the buffer's front once the requests before are consumed
/// and dropped.
fn reserve(buf: &mut BytesMut) {
    if buf.capacity() - buf.len() < 1024 {
        buf.reserve(8 * 1024);
    }
}

/// Reads more of a request; false when the connection is done: the client closed it, or
/// missed the deadline (then it gets a 408 first).
async fn read_request<H: Handler>(
    tcp: &mut TcpStream,
    buf: &mut BytesMut,
    out: &mut Vec<u8>,
    handler: &H,
    deadline: Option<Instant>,
) -> bool {
    reserve(buf);
    let read = match deadline {
        None => Some(tcp.read_buf(buf).await),
        Some(at) => tokio::time::timeout_at(at, tcp.read_buf(buf)).await.ok(),
    };
    match read {
        Some(Ok(n)) => n > 0,
        Some(Err(_)) => false,
        None => {
            let message = format!(
                "The request was not completed within {} s; send the whole request at once.",
                REQUEST_TIMEOUT.as_secs()
            );
            let refusal = Refusal::Other(StatusCode::REQUEST_TIMEOUT, message);
            let _ = write_refusal(tcp, out, handler, refusal).await;
            false
        }
    }
}

struct Head {
    /// None for a request the handler answers now.
    parts: Option<http::request::Parts>,
    /// Where the values of the handler's NOW_HEADERS are in the buffer (offset, length).
    now_headers: [Option<(usize, usize)>; NOW_HEADERS],
    head_len: usize,
    body_len: usize,
    /// The client asked to close after this response.
    close: bool,
}

#[expect(
    clippy::large_enum_variant,
    reason = "built once per request and moved once; a Box would add an allocation per request"
)]
enum Parsed {
    Partial,
    Request(Head),
    /// A request this loop leaves to hyper.
    Handoff,
    Bad(StatusCode, String),
}

fn parse_head<H: Handler>(buf: &[u8], handler: &H) -> Parsed {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
            return too_large_head();
        }
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => return too_large_head(),
        Err(e) => {
            return Parsed::Bad(
                StatusCode::BAD_REQUEST,
                format!("Malformed HTTP request ({e}); send an HTTP/1.1 request."),
            );
        }
    };
    if head_len > MAX_HEAD_BYTES {
        return too_large_head();
    }
    let (Some(method), Some(path), Some(1)) = (req.method, req.path, req.version) else {
        return Parsed::Handoff;
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return bad("Malformed HTTP method.");
    };
    if method == Method::CONNECT {
        return Parsed::Handoff;
    }
    // The hot route skips the request's URI and header map: only framing and its headers.
    let now = handler.answers_now(&method, path);
    let uri = if now {
        http::Uri::default()
    } else {
        match http::Uri::try_from(path) {
            Ok(uri) => uri,
            Err(_) => return bad("Malformed request target."),
        }
    };
    let mut headers = http::HeaderMap::new();
    let mut now_headers = [None; NOW_HEADERS];
    let mut body_len: Option<usize> = None;
    let mut close = false;
    for h in req.headers.iter() {
        let Ok(name) = HeaderName::from_bytes(h.name.as_bytes()) else {
            return bad("Malformed header name.");
        };
        if name == header::TRANSFER_ENCODING || name == header::EXPECT || name == header::UPGRADE {
            return Parsed::Handoff;
        }
        if name == header::CONTENT_LENGTH {
            let len = std::str::from_utf8(h.value)
                .ok()
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<usize>().ok());
            match (len, body_len) {
                (None, _) => return bad("Invalid Content-Length header."),
                (Some(a), Some(b)) if a != b => {
                    return bad("Conflicting Content-Length headers.");
                }
                (Some(a), _) => body_len = Some(a),
            }
        } else if name == header::CONNECTION {
            close |= h
                .value
                .split(|b| *b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"));
        }
        if now {
            if let Some(k) = H::NOW_HEADERS.iter().position(|n| name.as_str() == *n) {
                now_headers[k] = Some((
                    h.value.as_ptr() as usize - buf.as_ptr() as usize,
                    h.value.len(),
                ));
            }
            continue;
        }
        let Ok(value) = HeaderValue::from_bytes(h.value) else {
            return bad("Malformed header value.");
        };
        headers.append(name, value);
    }
    let parts = (!now).then(|| {
        let (mut parts, ()) = http::Request::new(()).into_parts();
        parts.method = method;
        parts.uri = uri;
        parts.version = Version::HTTP_11;
        parts.headers = headers;
        parts
    });
    Parsed::Request(Head {
        parts,
        now_headers,
        head_len,
        body_len: body_len.unwrap_or(0),
        close,
    })
}

fn bad(message: &str) -> Parsed {
    Parsed::Bad(StatusCode::BAD_REQUEST, message.to_string())
}

fn too_large_head() -> Parsed {
    Parsed::Bad(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        format!("The request head is over {MAX_HEAD_BYTES} bytes or {MAX_HEADERS} headers."),
    )
}

async fn write_refusal<H: Handler>(
    tcp: &mut TcpStream,
    out: &mut Vec<u8>,
    handler: &H,
    refusal: Refusal,
) -> io::Result<bool> {
    write_response::<H>(tcp, out, handler.refuse(refusal), false, false, None).await
}

/// Writes `200 OK` with `json` as its body: the bytes [`write_response`] writes for such a
/// response, without one.
async fn write_json(
    tcp: &mut TcpStream,
    out: &mut Vec<u8>,
    json: &[u8],
    keep_alive: bool,
) -> io::Result<()> {
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n");
    push_date_line(out);
    push_close_line(out, keep_alive);
    push_length_end(out, json.len());
    out.extend_from_slice(json);
    tcp.write_all(out).await
}

/// The `date` header line (the value cached per second).
fn push_date_line(out: &mut Vec<u8>) {
    out.extend_from_slice(b"date: ");
    push_date(out);
    out.extend_from_slice(b"\r\n");
}

/// `connection: close` unless the connection stays open.
fn push_close_line(out: &mut Vec<u8>, keep_alive: bool) {
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    }
}

/// The `content-length` line and the blank line that ends the head.
fn push_length_end(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(b"content-length: ");
    out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
}

/// Writes `response`; Ok(true) when it was written whole and the connection can go on.
/// A body that fails mid-way (the injected `reset` fault) resets the connection.
async fn write_response<H: Handler>(
    tcp: &mut TcpStream,
    out: &mut Vec<u8>,
    response: Response,
    keep_alive: bool,
    no_body: bool,
    decoder: Option<&Decoder<H::Events>>,
) -> io::Result<bool> {
    let (parts, mut body) = response.into_parts();
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(parts.status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(
        parts
            .status
            .canonical_reason()
            .unwrap_or("Unknown")
            .as_bytes(),
    );
    out.extend_from_slice(b"\r\n");
    let mut has_date = false;
    for (name, value) in &parts.headers {
        // Framing is this writer's: a handler's own framing headers would contradict it.
        if name == header::CONTENT_LENGTH
            || name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
        {
            continue;
        }
        has_date |= name == header::DATE;
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !has_date {
        push_date_line(out);
    }
    push_close_line(out, keep_alive);
    let status = parts.status;
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if bodiless {
        out.extend_from_slice(b"\r\n");
        tcp.write_all(out).await?;
        return Ok(true);
    }
    if let Some(len) = body.size_hint().exact() {
        push_length_end(out, len as usize);
        if !no_body {
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else {
                    return reset(tcp).map(|()| false);
                };
                if let Ok(data) = frame.into_data() {
                    out.extend_from_slice(&data);
                }
            }
        }
        tcp.write_all(out).await?;
        return Ok(true);
    }
    out.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
    if no_body {
        out.extend_from_slice(b"0\r\n\r\n");
        tcp.write_all(out).await?;
        return Ok(true);
    }
    // An event stream goes to the worker's decode loop; without one (a refusal never
    // streams) the body below takes the events itself.
    if let Some(decoder) = decoder
        && let Some(job) = parts
            .extensions
            .get::<EventSlot<H::Events>>()
            .and_then(EventSlot::take)
    {
        return decoder.stream(tcp, out, job).await;
    }
    // Any other body of unknown length (this server's handlers make none): a chunk per
    // frame as it comes.
    tcp.write_all(out).await?;
    out.clear();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return reset(tcp).map(|()| false);
        };
        if let Ok(data) = frame.into_data()
            && !data.is_empty()
        {
            push_chunk(out, &data);
            tcp.write_all(out).await?;
            out.clear();
        }
    }
    tcp.write_all(b"0\r\n\r\n").await?;
    Ok(true)
}

/// Closes with a TCP reset (SO_LINGER 0), as a crashed upstream does.
fn reset(tcp: &TcpStream) -> io::Result<()> {
    tcp.set_zero_linger()
}

thread_local! {
    /// The `Date` value, formatted once per second per worker thread.
    static DATE: std::cell::RefCell<(u64, String)> =
        const { std::cell::RefCell::new((0, String::new())) };
}

fn push_date(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with_borrow_mut(|(at, text)| {
        if *at != secs || text.is_empty() {
            *at = secs;
            *text = httpdate::fmt_http_date(now);
        }
        out.extend_from_slice(text.as_bytes());
    });
}

/// A connection handed to hyper: the bytes this loop already read come first.
pub struct Prefixed {
    prefix: Bytes,
    io: TcpStream,
}

impl Prefixed {
    fn new(prefix: Bytes, io: TcpStream) -> Self {
        Self { prefix, io }
    }
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// What the fuzz target `parse_head` (`fuzz/fuzz_targets/parse_head.rs`) runs, public for it
/// and for the unit test that runs the same body on mutated heads.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;

    /// The handler of the unit tests and the fuzz target: answers `POST /now` itself
    /// (reading `x-now`), `/stream` with a body of unknown length, the rest with an empty 200.
    #[derive(Clone)]
    pub struct Probe;

    /// What `POST /now` answers.
    pub const NOW_JSON: &[u8] = br#"{"now":true}"#;

    /// No streamed responses.
    pub struct NoEvents;

    impl Events for NoEvents {
        fn due(&self, _: Instant) -> bool {
            true
        }
        fn wake_at(&mut self, now: Instant) -> Instant {
            now
        }
        fn emit(&mut self, _: Instant, _: &mut Vec<u8>) -> Emit {
            Emit::End
        }
    }

    impl Handler for Probe {
        type Events = NoEvents;
        const NOW_HEADERS: [&'static str; NOW_HEADERS] = ["x-now", "x-also"];

        fn refuse(&self, refusal: Refusal) -> Response {
            let status = match refusal {
                Refusal::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                Refusal::Other(status, _) => status,
            };
            let mut r = Response::default();
            *r.status_mut() = status;
            r
        }

        /// `/stream` answers a body of unknown length: two frames.
        async fn handle(&self, req: http::Request<Body>) -> Response {
            if req.uri().path() == "/now-response" {
                let mut r = Response::new(Body::from(NOW_JSON));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                return r;
            }
            if req.uri().path() != "/stream" {
                return Response::default();
            }
            let frames = ["first", "second"].map(|f| Ok::<_, io::Error>(Bytes::from(f)));
            Response::new(Body::from_stream(futures::stream::iter(frames)))
        }

        fn answers_now(&self, method: &Method, path: &str) -> bool {
            method == Method::POST && path == "/now"
        }

        /// `POST /now` answers `{"now":true}` straight (`/now-response`, not a route the
        /// loop answers itself, answers the same as a `Response`).
        fn answer_now(&self, _: [Option<&[u8]>; NOW_HEADERS], _: &[u8]) -> Answer {
            Answer::Json(Bytes::from_static(NOW_JSON))
        }

        fn max_body_bytes(&self) -> usize {
            1024
        }

        fn draining(&self) -> bool {
            false
        }
    }

    /// Parses any bytes as a request head ([`parse_head`], the hot route `POST /now`) and
    /// checks what the connection loop relies on: a refusal is a 4xx with a message, a
    /// partial head is within the size limit, a parsed head lies within the bytes (and so
    /// does the hot route's header), and only the hot route skips the request parts.
    pub fn check_head(buf: &[u8]) {
        match parse_head(buf, &Probe) {
            Parsed::Bad(status, message) => {
                assert!(status.is_client_error() && !message.is_empty(), "{status}");
            }
            Parsed::Partial => assert!(buf.len() <= MAX_HEAD_BYTES),
            Parsed::Handoff => {}
            Parsed::Request(h) => {
                assert!(h.head_len <= buf.len().min(MAX_HEAD_BYTES));
                for (at, len) in h.now_headers.into_iter().flatten() {
                    assert!(h.parts.is_none() && at + len <= h.head_len);
                }
                if let Some(parts) = &h.parts {
                    assert_eq!(parts.version, Version::HTTP_11);
                }
            }
        }
    }
}

/// Where a whole HTTP/1.1 message ends in `buf` (its head, then a Content-Length body), once it
/// has all arrived: what a plain client or the bench's floor server needs instead of a parser.
pub fn message_end(buf: &[u8]) -> Option<usize> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let body_len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (buf.len() >= head_end + body_len).then_some(head_end + body_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_ends_after_its_content_length_body() {
        assert_eq!(message_end(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
        assert_eq!(message_end(b"GET / HTTP/1.1\r\n\r\n"), Some(18));
        let post = b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(message_end(&post[..post.len() - 1]), None);
        assert_eq!(message_end(post), Some(post.len()));
    }

    use super::fuzzing::Probe;

    fn parsed(raw: &str) -> Parsed {
        parse_head(raw.as_bytes(), &Probe)
    }

    #[test]
    fn heads_parse_or_hand_off() {
        let raw = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nConnection: keep-alive, Close\r\n\r\n{}";
        let Parsed::Request(h) = parsed(raw) else {
            panic!("a plain request parses");
        };
        assert_eq!((h.body_len, h.close), (12, true));
        assert_eq!(h.head_len, raw.find("\r\n\r\n").unwrap() + 4);
        assert!(
            h.parts
                .is_some_and(|p| p.uri.path() == "/v1/chat/completions")
        );
        // The hot route: no request parts, its headers located in the buffer.
        let raw = "POST /now HTTP/1.1\r\nX-Also: 2\r\nX-Now: yes\r\nContent-Length: 2\r\n\r\n{}";
        let Parsed::Request(h) = parsed(raw) else {
            panic!("a hot request parses");
        };
        assert!(h.parts.is_none());
        let (at, len) = h.now_headers[0].unwrap();
        assert_eq!(&raw[at..at + len], "yes");
        let (at, len) = h.now_headers[1].unwrap();
        assert_eq!(&raw[at..at + len], "2");
        assert_eq!(h.body_len, 2);
        assert!(matches!(
            parsed("GET / HTTP/1.1\r\nHost: x\r\n"),
            Parsed::Partial
        ));
        for raw in [
            "GET / HTTP/1.0\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
            "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            "CONNECT x:1 HTTP/1.1\r\n\r\n",
        ] {
            assert!(matches!(parsed(raw), Parsed::Handoff), "{raw}");
        }
        for raw in [
            "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "GET / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n",
            "G@T / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
        ] {
            assert!(
                matches!(parsed(raw), Parsed::Bad(StatusCode::BAD_REQUEST, _)),
                "{raw}"
            );
        }
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "X-A: 1\r\n".repeat(MAX_HEADERS + 1)
        );
        assert!(matches!(
            parsed(&many),
            Parsed::Bad(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, _)
        ));
        let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_HEAD_BYTES));
        assert!(matches!(
            parsed(&long),
            Parsed::Bad(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, _)
        ));
    }

    /// The fuzz target's body ([`fuzzing::check_head`]) on its seeds and on mutated heads
    /// (bytes flipped, cut, duplicated): never a panic, every refusal a 4xx.
    #[test]
    fn mutated_heads_never_panic() {
        let seeds = [
            include_bytes!("../fuzz/seeds_parse_head/chat").as_slice(),
            include_bytes!("../fuzz/seeds_parse_head/now"),
            include_bytes!("../fuzz/seeds_parse_head/now_two_headers"),
            include_bytes!("../fuzz/seeds_parse_head/chunked"),
            include_bytes!("../fuzz/seeds_parse_head/messages"),
            include_bytes!("../fuzz/seeds_parse_head/http10"),
            include_bytes!("../fuzz/seeds_parse_head/expect"),
        ];
        for seed in seeds {
            fuzzing::check_head(seed);
        }
        let mut rng = 0x5EED_u64;
        for i in 0..20_000 {
            let mut bytes = seeds[i % seeds.len()].to_vec();
            for _ in 0..1 + i % 4 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let at = (rng >> 8) as usize % bytes.len();
                match rng % 4 {
                    0 => bytes[at] = (rng >> 32) as u8,
                    1 => bytes.truncate(at.max(1)),
                    2 => bytes.insert(at, b"\r\n:0 \x7f\xff"[(rng >> 40) as usize % 7]),
                    _ => bytes.extend_from_within(at..),
                }
            }
            fuzzing::check_head(&bytes);
        }
    }

    /// `requests` sent on one connection to a [`serve`] loop with the [`Probe`] handler; all
    /// it answered until it closed.
    async fn exchange(requests: &[u8]) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let decoder = Decoder::start();
            let keep_alive = Duration::from_secs(60);
            serve(tcp, Probe, InFlight::default(), decoder, keep_alive).await;
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(requests).await.unwrap();
        let mut raw = String::new();
        client.read_to_string(&mut raw).await.unwrap();
        raw
    }

    /// A JSON answer written straight from its bytes is byte for byte what the loop writes
    /// for the same body as an `http::Response`, kept open and closing alike.
    #[tokio::test]
    async fn a_direct_json_answer_is_the_same_bytes_as_a_response() {
        for close in ["", "Connection: close\r\n"] {
            let direct =
                format!("POST /now HTTP/1.1\r\nHost: x\r\n{close}Content-Length: 0\r\n\r\n");
            let through = format!("GET /now-response HTTP/1.1\r\nHost: x\r\n{close}\r\n");
            let end = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
            let tail = if close.is_empty() { end } else { "" };
            let direct = exchange(format!("{direct}{tail}").as_bytes()).await;
            let through = exchange(format!("{through}{tail}").as_bytes()).await;
            let date = |raw: &str| {
                let at = raw.find("date: ").expect("a date header") + 6;
                format!("{}{}", &raw[..at], &raw[at + 29..])
            };
            assert_eq!(date(&direct), date(&through), "{close:?}");
            let json = std::str::from_utf8(fuzzing::NOW_JSON).unwrap();
            assert!(
                direct.contains(&format!("content-length: {}\r\n\r\n{json}", json.len())),
                "{direct}"
            );
            let first = &direct[..direct.find(json).unwrap()];
            assert_eq!(
                first.contains("connection: close"),
                !close.is_empty(),
                "{direct}"
            );
        }
    }

    /// A body of unknown length that is not an event stream goes out chunk by chunk, ends
    /// with the zero chunk, and keeps the connection.
    #[tokio::test]
    async fn bodies_of_unknown_length_are_chunked() {
        let raw = exchange(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
        let (first, second) = raw.split_once("0\r\n\r\n").expect("a zero chunk");
        assert!(
            first.starts_with("HTTP/1.1 200 OK\r\n")
                && first.contains("transfer-encoding: chunked\r\n")
                && first.ends_with("\r\n\r\n5\r\nfirst\r\n6\r\nsecond\r\n"),
            "{raw}"
        );
        assert!(second.starts_with("HTTP/1.1 200 OK\r\n"), "{raw}");
    }

    #[test]
    fn chunks_are_hex_framed() {
        let mut out = Vec::new();
        push_chunk(&mut out, &[b'x'; 300]);
        assert!(out.starts_with(b"12c\r\nxxx"));
        assert!(out.ends_with(b"x\r\n"));
        assert_eq!(out.len(), 3 + 2 + 300 + 2);
    }
}
