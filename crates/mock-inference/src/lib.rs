//! mock-inference: an OpenAI-compatible mock inference server for offline development and
//! load tests. See README.md for the API, configuration, response modes, latency profiles,
//! faults and metrics.

pub mod config;
pub mod error;
pub mod generate;
pub mod metrics;
pub mod request;
pub mod scenario;
pub mod server;
pub mod stream;
pub mod tokenizer;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Parser as _;
use devenv_core::exit::{self, ExitCoded};
use devenv_core::output::{self, Failure, Format};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use crate::config::{Cli, Config};
use crate::server::App;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(
        "cannot listen on {addr}: {source}{holder}; fix: pass another --port (or stop the holder)"
    )]
    Bind {
        addr: String,
        source: std::io::Error,
        holder: String,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl ExitCoded for ServeError {
    fn exit_code(&self) -> u8 {
        match self {
            ServeError::Config(e) => e.exit_code(),
            ServeError::Bind { .. } => exit::USAGE,
            ServeError::Runtime(_) => exit::FAILED,
        }
    }
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    devenv_core::logging::init(cli.verbose);
    output::finish(serve_cli(cli).map_err(|e| Failure::from_coded(&e)))
}

fn serve_cli(cli: Cli) -> Result<u8, ServeError> {
    let cfg = Config::load(&cli)?;
    let format = Format::choose(cli.json, false, cli.quiet, Format::Human, Format::Human);
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(w) = cli.workers {
        rt.worker_threads(w.max(1));
    }
    let rt = rt.build().map_err(ServeError::Runtime)?;
    rt.block_on(serve(cfg, format))
}

async fn serve(cfg: Config, format: Format) -> Result<u8, ServeError> {
    tokenizer::init();
    let addr_text = format!("{}:{}", cfg.host, cfg.port);
    let listener = TcpListener::bind(&addr_text).await.map_err(|source| {
        let holder = devenv_core::netproc::port_holder(cfg.port)
            .map(|h| format!(" (held by {h})"))
            .unwrap_or_default();
        ServeError::Bind {
            addr: addr_text.clone(),
            source,
            holder,
        }
    })?;
    let local: SocketAddr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: addr_text.clone(),
        source,
        holder: String::new(),
    })?;
    let drain = Duration::from_secs_f64(cfg.shutdown.drain_deadline_secs);
    let app = Arc::new(App::new(cfg)?);
    announce(&app, local, format);
    let router = server::router(app.clone());
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .keep_alive(true)
        .header_read_timeout(Duration::from_secs(30));
    let signal = shutdown_signal();
    tokio::pin!(signal);
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
                let conn = http.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(router.clone()));
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("connection ended: {e}");
                    }
                });
            }
            sig = &mut signal => {
                tracing::info!("{sig}: no new connections; draining open requests for up to {drain:?}");
                break;
            }
        }
    }
    app.draining.store(true, Ordering::Relaxed);
    drop(listener);
    let open = app.metrics.running.load(Ordering::Relaxed);
    match tokio::time::timeout(drain, graceful.shutdown()).await {
        Ok(()) => tracing::info!("drained ({open} requests were running); exiting"),
        Err(_) => tracing::warn!(
            "drain deadline of {drain:?} passed with {} requests still running; exiting",
            app.metrics.running.load(Ordering::Relaxed)
        ),
    }
    Ok(exit::OK)
}

fn announce(app: &App, addr: SocketAddr, format: Format) {
    let url = format!("http://{addr}");
    match format {
        Format::Quiet => {}
        Format::Json => output::print_json(&output::document(
            "mock-inference.listening",
            serde_json::json!({
                "url": url,
                "models": app.cfg.models,
                "response_mode": format!("{:?}", app.cfg.response.mode).to_lowercase(),
                "latency": {
                    "ttft_ms": app.latency.ttft_ms,
                    "itl_ms": app.latency.itl_ms,
                    "itl_jitter_ms": app.latency.itl_jitter_ms,
                },
            }),
        )),
        Format::Human => output::println_redacted(&format!(
            "mock-inference listening on {url} (models: {})",
            app.cfg.models.join(", ")
        )),
    }
    tracing::info!("listening on {url}");
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
