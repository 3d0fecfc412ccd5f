//! The one place dev-status writes to stdout and stderr: results through devenv-core's
//! printer (redacted, JSON as one versioned document), progress lines on stderr.

use std::io::{IsTerminal as _, Write as _};

use devenv_core::output::{self, Format, Style, pad};
use serde::Serialize;

use crate::history::summary::HistoryReport;
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

/// The health history: the `history` document, or a table per service and its state
/// changes (the last few per service; the document lists all).
pub fn history(report: &HistoryReport, format: Format) {
    match format {
        Format::Json => print_document("history", report),
        Format::Human => print_lines(history_lines(report, Style::stdout())),
        Format::Quiet => {}
    }
}

/// State changes shown per service in the table.
const CHANGES_SHOWN: usize = 10;

fn history_lines(report: &HistoryReport, style: Style) -> Vec<String> {
    let span = match (&report.first_at, &report.last_at) {
        (Some(first), Some(last)) => format!(", {first} … {last}"),
        _ => String::new(),
    };
    let mut lines = vec![format!(
        "{} checks of {} service(s) in {} file(s) under {}{span}",
        report.checks,
        report.services.len(),
        report.files,
        report.dir
    )];
    let width = report
        .services
        .iter()
        .map(|s| s.service.len())
        .max()
        .unwrap_or(7)
        .max(7)
        + 2;
    lines.push(style.bold(&format!(
        "{}{}{}{}{}{}LAST",
        pad("SERVICE", width),
        pad("CHECKS", 9),
        pad("AVAILABLE", 11),
        pad("P50", 9),
        pad("P95", 9),
        pad("MAX", 9),
    )));
    let ms = |v: Option<u64>| v.map_or("-".to_string(), |v| format!("{v} ms"));
    for s in &report.services {
        let latency = s.latency_ms.as_ref();
        lines.push(format!(
            "{}{}{}{}{}{}{} at {}",
            pad(&s.service, width),
            pad(&s.checks.to_string(), 9),
            pad(&format!("{:.1}%", s.availability_pct), 11),
            pad(&ms(latency.map(|l| l.p50)), 9),
            pad(&ms(latency.map(|l| l.p95)), 9),
            pad(&ms(latency.map(|l| l.max)), 9),
            paint_status(style, &s.last_status),
            s.last_checked_at
        ));
    }
    for s in report.services.iter().filter(|s| !s.changes.is_empty()) {
        let hidden = s.changes.len().saturating_sub(CHANGES_SHOWN);
        let mut head = format!("{} state changes of {}", s.changes.len(), s.service);
        if hidden > 0 {
            head.push_str(&format!(" (the last {CHANGES_SHOWN}; --json lists all)"));
        }
        lines.push(format!("{head}:"));
        for c in &s.changes[hidden..] {
            lines.push(format!(
                "  {}  {} → {}",
                c.at,
                paint_status(style, &c.from),
                paint_status(style, &c.to)
            ));
        }
    }
    lines
}

fn paint_status(style: Style, status: &str) -> String {
    match status {
        "healthy" => style.green(status),
        "degraded" => style.yellow(status),
        "unhealthy" => style.red(status),
        other => other.to_string(),
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
