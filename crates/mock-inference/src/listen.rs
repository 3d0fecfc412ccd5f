//! Listening: one single-threaded runtime per worker, the accept loop, the dispatch of each
//! connection to the hand-written HTTP/1.1 loop ([`crate::http1`]) or hyper, and the drain
//! on SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use devenv_core::exit;
use devenv_core::output::Format;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpSocket};

use crate::ServeError;
use crate::access;
use crate::api::{chat, messages};
use crate::config::Config;
use crate::decoder::Decoder;
use crate::error::ApiError;
use crate::faults::FAULT_HEADER;
use crate::http1::{self, Refusal};
use crate::server::{App, MockHeaders, TOOL_CALLS_HEADER};
use crate::stream::Job;
use crate::{output, routes, tokenizer};

/// One single-threaded runtime per worker, each with its own SO_REUSEPORT listener on the
/// same address: the kernel spreads connections, and a connection's request, response and
/// stream timers stay on one thread (no work-stealing hand-offs on the hot path).
pub fn serve(cfg: Config, format: Format, workers: usize) -> Result<u8, ServeError> {
    pregrow_fd_table();
    keep_freed_memory();
    tokenizer::init();
    let addr_text = format!("{}:{}", cfg.host, cfg.port);
    let bind_err = |source: std::io::Error| {
        let holder = devenv_core::netproc::port_holder(cfg.port)
            .filter(|_| cfg.port != 0)
            .map(|h| format!(" (held by {h})"))
            .unwrap_or_default();
        ServeError::Bind {
            addr: addr_text.clone(),
            source,
            holder,
        }
    };
    let mut addr: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(&addr_text)
        .map_err(bind_err)?
        .next()
        .ok_or_else(|| bind_err(std::io::Error::other("the host resolves to no address")))?;
    // SO_REUSEPORT would let a second server silently share a taken port: probe with an
    // exclusive bind first, so a taken port is reported (and port 0 picks a free one).
    addr = std::net::TcpListener::bind(addr)
        .and_then(|probe| probe.local_addr())
        .map_err(bind_err)?;
    let mut shards = Vec::with_capacity(workers);
    for _ in 0..workers {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ServeError::Runtime)?;
        let listener = {
            let _entered = rt.enter();
            let socket = if addr.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }
            .map_err(bind_err)?;
            socket.set_reuseaddr(true).map_err(bind_err)?;
            socket.set_reuseport(true).map_err(bind_err)?;
            socket.bind(addr).map_err(bind_err)?;
            socket.listen(4096).map_err(bind_err)?
        };
        // With --port 0 the first bind picks the port; the others join it.
        addr = listener.local_addr().map_err(bind_err)?;
        shards.push((rt, listener));
    }
    let drain = Duration::from_secs_f64(cfg.shutdown.drain_deadline_secs);
    let app = Arc::new(App::new(cfg)?);
    output::announce(&app, addr, format);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let threads: Vec<_> = shards
        .into_iter()
        .enumerate()
        .map(|(i, (rt, listener))| {
            let (app, stop) = (app.clone(), stop_rx.clone());
            std::thread::Builder::new()
                .name(format!("mock-inference-{i}"))
                .spawn(move || rt.block_on(accept_loop(listener, app, stop, drain)))
                .map_err(ServeError::Runtime)
        })
        .collect::<Result<_, _>>()?;
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let sig = signals.block_on(shutdown_signal());
    let open = app.metrics.running.load(Ordering::Relaxed);
    tracing::info!("{sig}: no new connections; draining {open} open requests for up to {drain:?}");
    app.draining.store(true, Ordering::Relaxed);
    let _ = stop_tx.send(true);
    for t in threads {
        let _ = t.join();
    }
    let left = app.metrics.running.load(Ordering::Relaxed);
    if left > 0 {
        tracing::warn!(
            "drain deadline of {drain:?} passed with {left} requests still running; exiting"
        );
    } else {
        tracing::info!("drained; exiting");
    }
    Ok(exit::OK)
}

/// Grows the process's file-descriptor table to (up to 64 Ki entries of) the open-file limit
/// while the process is still single-threaded. The kernel doubles the table as connections
/// arrive, and in a multi-threaded process each doubling waits for an RCU grace period: it
/// stalled every worker for 10–20 ms at 256, 512, 1,024 and 2,048 open connections
/// (measured with examples/stream_load.rs). The table never shrinks, so growing it once here
/// costs ~0.5 MiB and removes those stalls.
pub fn pregrow_fd_table() {
    let mut top: i32 = 1 << 16;
    while top >= 256 {
        // The lowest free descriptor ≥ top - 1: never replaces an open one.
        if rustix::io::fcntl_dupfd_cloexec(std::io::stderr(), top - 1).is_ok() {
            return; // dropped (closed) at once; the grown table stays.
        }
        top /= 2;
    }
}

/// Makes glibc keep freed heap memory instead of handing it back at once. Every stream's
/// connection frees its buffers when it closes; with the default 128 KiB trim threshold each
/// worker's arena then shrank and grew again with mprotect(2) — ~3,600 calls a second at
/// 1,000 streams (strace), plus a page fault per page re-touched, on the cores the token
/// writes need. Memory stays at its high-water mark, which a mock server can afford.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn keep_freed_memory() {
    // SAFETY: mallopt only sets allocator parameters; it is thread-safe and takes no
    // pointers.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TOP_PAD, 16 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn keep_freed_memory() {}

async fn accept_loop(
    listener: TcpListener,
    app: Arc<App>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    drain: Duration,
) {
    let router = TowerToHyperService::new(routes::router(app.clone()));
    let keep_alive = Duration::from_secs_f64(app.cfg.limits.keep_alive_timeout_secs);
    // Draining waits for this thread's requests in flight and its connections handed to
    // hyper; idle connections then close with the runtime.
    let in_flight = http1::InFlight::default();
    let decoder = Decoder::start();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .writev(false)
        .keep_alive(true)
        .header_read_timeout(Duration::from_secs(30));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (tcp, _) = match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let service = Dispatch { app: app.clone(), router: router.clone() };
                let (in_flight, mut stop, http) = (in_flight.clone(), stop.clone(), http.clone());
                let decoder = decoder.clone();
                tokio::spawn(async move {
                    let served = http1::serve(
                        tcp,
                        service.clone(),
                        in_flight.clone(),
                        decoder,
                        keep_alive,
                    )
                    .await;
                    let Some(rest) = served else {
                        return;
                    };
                    // hyper's connection is in flight for its whole life; when the server
                    // stops, it finishes the request it has and closes.
                    let _in_flight = in_flight.enter();
                    let conn = http.serve_connection(TokioIo::new(rest), service);
                    tokio::pin!(conn);
                    let ended = tokio::select! {
                        ended = conn.as_mut() => ended,
                        _ = stop.changed() => {
                            conn.as_mut().graceful_shutdown();
                            conn.await
                        }
                    };
                    if let Err(e) = ended {
                        tracing::debug!("connection ended: {e}");
                    }
                });
            }
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(drain, in_flight.finished()).await;
}

/// The hot route (`POST /v1/chat/completions`) goes straight to its handler; everything
/// else through axum's router. Skipping the router's matching, extension bookkeeping and
/// service clones is measurable at ~100k requests/s (see scripts/bench/mock.sh).
#[derive(Clone)]
struct Dispatch {
    app: Arc<App>,
    router: TowerToHyperService<axum::Router>,
}

impl http1::Handler for Dispatch {
    type Events = Job;
    const NOW_HEADERS: [&'static str; http1::NOW_HEADERS] = [FAULT_HEADER, TOOL_CALLS_HEADER];

    fn answers_now(&self, method: &http::Method, path: &str) -> bool {
        method == http::Method::POST
            && path == "/v1/chat/completions"
            && self.app.chat_never_waits()
    }

    fn answer_now(
        &self,
        [fault, tool_calls]: [Option<&[u8]>; http1::NOW_HEADERS],
        body: &[u8],
    ) -> http1::Answer {
        chat::now(&self.app, MockHeaders { fault, tool_calls }, body)
    }

    fn handle(
        &self,
        req: http::Request<axum::body::Body>,
    ) -> impl Future<Output = axum::response::Response> + Send {
        use futures::FutureExt as _;
        if self.app.access_checked() {
            futures::future::Either::Left(checked(self.clone(), req).boxed())
        } else {
            futures::future::Either::Right(self.route(req))
        }
    }

    fn max_body_bytes(&self) -> usize {
        self.app.cfg.max_body_bytes
    }

    fn draining(&self) -> bool {
        self.app.draining.load(Ordering::Relaxed)
    }

    fn refuse(&self, refusal: Refusal) -> axum::response::Response {
        use axum::response::IntoResponse as _;
        match refusal {
            Refusal::BodyTooLarge(limit) => ApiError::too_large(limit).into_response(),
            Refusal::Other(status, message) => {
                let mut e = ApiError::invalid(message);
                e.status = status;
                e.into_response()
            }
        }
    }
}

/// A request through the API key and rate-limit checks ([`crate::access`]): refused in its
/// API's error shape, or routed; a metered route's answer carries the `x-ratelimit-*`
/// headers.
async fn checked(
    dispatch: Dispatch,
    req: http::Request<axum::body::Body>,
) -> axum::response::Response {
    let app = &dispatch.app;
    let path = req.uri().path();
    let dialect = access::Dialect::of(path);
    let refuse = |e: ApiError| match dialect {
        access::Dialect::Anthropic => messages::error_response(e),
        access::Dialect::OpenAi => axum::response::IntoResponse::into_response(e),
    };
    if let Some(key) = &app.cfg.api_key
        && access::guarded(path)
        && let Err(e) = access::check_key(key, req.headers(), dialect)
    {
        return refuse(e);
    }
    let rate = app
        .rate
        .as_ref()
        .filter(|_| req.method() == http::Method::POST && access::metered(path));
    let Some(rate) = rate else {
        return dispatch.route(req).await;
    };
    let mut response = match rate.admit() {
        Ok(()) => dispatch.route(req).await,
        Err(e) => refuse(e),
    };
    rate.snapshot().apply(response.headers_mut());
    response
}

impl Dispatch {
    fn route(
        &self,
        req: http::Request<axum::body::Body>,
    ) -> impl Future<Output = axum::response::Response> + Send + 'static {
        use futures::FutureExt as _;
        if req.method() == http::Method::POST && req.uri().path() == "/v1/chat/completions" {
            futures::future::Either::Left(chat::handle(axum::extract::State(self.app.clone()), req))
        } else {
            futures::future::Either::Right(hyper::service::Service::call(&self.router, req).map(
                |r| match r {
                    Ok(r) => r,
                    Err(never) => match never {},
                },
            ))
        }
    }
}

/// Connections handed over by http1::serve (HTTP/1.0, chunked bodies, `Expect`, …).
impl hyper::service::Service<http::Request<hyper::body::Incoming>> for Dispatch {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, req: http::Request<hyper::body::Incoming>) -> Self::Future {
        use futures::FutureExt as _;
        let this = self.clone();
        async move { Ok(http1::Handler::handle(&this, req.map(axum::body::Body::new)).await) }
            .boxed()
    }
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler installs");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler installs");
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
