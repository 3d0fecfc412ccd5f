//! Everything the server prints on stdout: the startup line (human, a JSON document, or
//! nothing under `--quiet`) and the exit's failure message. Logs go to stderr through
//! `tracing`; nothing else in the crate prints.

use std::net::SocketAddr;
use std::process::ExitCode;

use devenv_core::output::{self, Failure, Format};

use crate::server::App;

pub fn announce(app: &App, addr: SocketAddr, format: Format) {
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

/// The process's exit: the failure's message on stderr (redacted), its code.
pub fn finish(result: Result<u8, Failure>) -> ExitCode {
    output::finish(result)
}
