//! Logging: `tracing` to stderr, every line through the redactor. Level from `DEVENV_LOG`
//! (or `RUST_LOG`), default `warn`; `-v` raises it per binary.

use std::io::Write;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::redact;

/// A stderr writer that buffers one formatted event and writes it redacted.
pub struct RedactingStderr {
    buf: Vec<u8>,
}

impl Write for RedactingStderr {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buf).into_owned();
        self.buf.clear();
        std::io::stderr()
            .lock()
            .write_all(redact::redact(&text).as_bytes())
    }
}

impl Drop for RedactingStderr {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[derive(Clone, Copy, Default)]
pub struct RedactingMakeWriter;

impl<'a> MakeWriter<'a> for RedactingMakeWriter {
    type Writer = RedactingStderr;
    fn make_writer(&'a self) -> Self::Writer {
        RedactingStderr { buf: Vec::new() }
    }
}

/// Installs the subscriber and the redacting panic hook. `verbosity` 0 = warn, 1 = info,
/// 2 = debug, 3+ = trace; `DEVENV_LOG` / `RUST_LOG` win when set.
pub fn init(verbosity: u8) {
    init_with(verbosity, &[]);
}

/// Like [`init`], but the given library targets (e.g. `vaultrs`, `rustify`, which log every
/// error they return at ERROR level) stay silent below debug verbosity: the binary reports
/// those errors itself, once, with a remedy.
pub fn init_with(verbosity: u8, quiet_targets: &[&str]) {
    crate::output::install_panic_hook();
    let default = match verbosity {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = std::env::var("DEVENV_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| {
            let mut directives = default.to_string();
            if verbosity < 2 {
                for target in quiet_targets {
                    directives.push_str(&format!(",{target}=off"));
                }
            }
            EnvFilter::new(directives)
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactingMakeWriter)
        .with_target(false)
        .with_ansi(crate::output::Style::stderr().color)
        .try_init();
}
