//! The one place dev-status writes to stdout and stderr: results through devenv-core's
//! printer (redacted, JSON as one versioned document), progress lines on stderr.

use std::io::{IsTerminal as _, Write as _};

use devenv_core::output::{self, Format, Style};
use serde::Serialize;

use crate::preflight;
use crate::report::{self, StatusReport};

fn print_lines(lines: Vec<String>) {
    for line in lines {
        output::println_redacted(&line);
    }
}

fn print_document(kind: &str, report: &impl Serialize) {
    let body = serde_json::to_value(report).expect("reports serialise");
    output::print_json(&output::document(kind, body));
}

/// A status report: the `status` document or the table.
pub fn status(report: &StatusReport, format: Format) {
    match format {
        Format::Json => print_document("status", report),
        Format::Human => print_lines(report::table(
            report.components,
            report.duration_ms,
            Style::stdout(),
        )),
        Format::Quiet => {}
    }
}

/// A preflight report: the `preflight` document or its lines.
pub fn preflight(report: &preflight::Report, format: Format) {
    match format {
        Format::Json => print_document("preflight", report),
        Format::Human => print_lines(preflight::human(report, Style::stdout())),
        Format::Quiet => {}
    }
}

/// The bucket command's result: `{"kind":"bucket","bucket":…,"created":…}` or one line.
pub fn bucket(bucket: &str, created: bool, format: Format) {
    #[derive(Serialize)]
    struct Bucket<'a> {
        bucket: &'a str,
        created: bool,
    }
    match format {
        Format::Json => print_document("bucket", &Bucket { bucket, created }),
        Format::Human => output::println_redacted(&format!(
            "  bucket {bucket}: {}",
            if created { "created" } else { "exists" }
        )),
        Format::Quiet => {}
    }
}

/// `--watch` on a colour terminal: clears the screen and names the refresh.
pub fn watch_header(format: Format, checked_at: &str, every: f64) {
    if format == Format::Human && Style::stdout().color {
        output::println_redacted(&format!(
            "\x1b[2J\x1b[H{checked_at}  (every {every} s, Ctrl-C to stop)"
        ));
    }
}

/// `--wait`'s lines on stderr. On a terminal, a live line shows what is still pending and
/// why; it is cleared before each permanent line so the log of ready components stays readable.
pub struct Progress {
    quiet: bool,
    live: bool,
    pub style: Style,
}

impl Progress {
    pub fn new(format: Format) -> Self {
        let quiet = format == Format::Quiet;
        Self {
            quiet,
            live: !quiet && std::io::stderr().is_terminal(),
            style: Style::stderr(),
        }
    }

    pub fn is_live(&self) -> bool {
        self.live
    }

    fn clear_live(&self) {
        if self.live {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
        }
    }

    /// A permanent line (redacted).
    pub fn line(&self, text: &str) {
        if !self.quiet {
            self.clear_live();
            output::eprintln_redacted(text);
        }
    }

    /// Replaces the live line (redacted; terminals only).
    pub fn live(&self, text: &str) {
        if self.live {
            self.clear_live();
            let _ = write!(
                std::io::stderr().lock(),
                "{}",
                devenv_core::redact::redact(text)
            );
        }
    }
}
