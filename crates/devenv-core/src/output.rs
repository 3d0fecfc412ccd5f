//! Output rules shared by every binary: human on a TTY, `--json` for machines (one versioned
//! document), `--quiet`; results on stdout, logs on stderr; everything through the redactor.

use std::io::{IsTerminal as _, Write as _};

use serde_json::{Map, Value};

use crate::{ids, redact};

/// Version of every JSON document a binary prints.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Quiet,
}

impl Format {
    /// Picks the format from flags; with none given, `default_tty` on a terminal and
    /// `default_pipe` otherwise.
    pub fn choose(
        json: bool,
        human: bool,
        quiet: bool,
        default_tty: Format,
        default_pipe: Format,
    ) -> Format {
        if quiet {
            Format::Quiet
        } else if json {
            Format::Json
        } else if human {
            Format::Human
        } else if std::io::stdout().is_terminal() {
            default_tty
        } else {
            default_pipe
        }
    }
}

/// The output flags every binary takes, with the same conflicts everywhere: flatten it into the
/// top-level clap struct (`#[command(flatten)] output: OutputArgs`).
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct OutputArgs {
    /// One versioned JSON document on stdout.
    #[arg(long, global = true, conflicts_with_all = ["human", "quiet"])]
    pub json: bool,
    /// Human output even when stdout is not a terminal (colours unless NO_COLOR is set).
    #[arg(long, global = true, conflicts_with = "quiet")]
    pub human: bool,
    /// Nothing on stdout but what must show (see the binary's docs); the exit code tells.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// The logging flag every binary takes: flatten it next to [`OutputArgs`]
/// (`#[command(flatten)] log: LogArgs`) and pass `log.verbose` to `logging::init`.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub struct LogArgs {
    /// More logging on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

impl OutputArgs {
    /// The format these flags ask for; with none given, `default_tty` on a terminal and
    /// `default_pipe` otherwise.
    pub fn format(&self, default_tty: Format, default_pipe: Format) -> Format {
        Format::choose(self.json, self.human, self.quiet, default_tty, default_pipe)
    }
}

/// A versioned document: `{"schema_version":1,"kind":…,"correlation_id":…, …body}`.
pub fn document(kind: &str, body: Value) -> Value {
    let mut obj = Map::new();
    obj.insert("schema_version".into(), SCHEMA_VERSION.into());
    obj.insert("kind".into(), kind.into());
    obj.insert("correlation_id".into(), ids::correlation_id().into());
    if let Value::Object(fields) = body {
        for (k, v) in fields {
            obj.insert(k, v);
        }
    }
    Value::Object(obj)
}

/// Prints a JSON value to stdout, redacted; pretty on a terminal, one line otherwise.
pub fn print_json(value: &Value) {
    let mut value = value.clone();
    redact::redact_json(&mut value);
    let text = if std::io::stdout().is_terminal() {
        serde_json::to_string_pretty(&value)
    } else {
        serde_json::to_string(&value)
    }
    .expect("JSON values serialise");
    println_redacted(&text);
}

/// Prints a line to stdout through the redactor. A closed pipe (`| head`) is not an error.
pub fn println_redacted(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", redact::redact(text));
}

/// Prints a line to stderr through the redactor.
pub fn eprintln_redacted(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", redact::redact(text));
}

/// Replaces the panic hook with one that prints the panic message through the redactor, so a
/// secret inside a panic payload (e.g. from `expect` on a connection string) never reaches
/// stderr.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_string());
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln_redacted(&format!("internal error{location}: {payload}"));
        eprintln_redacted("this is a bug in devenv: please report it with the command you ran");
    }));
}

/// ANSI styling that honours NO_COLOR (any value), `TERM=dumb` and non-terminals.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// Colour when stdout is a terminal and neither NO_COLOR nor TERM=dumb is set.
    pub fn stdout() -> Self {
        Self::detect(std::io::stdout().is_terminal())
    }

    pub fn stderr() -> Self {
        Self::detect(std::io::stderr().is_terminal())
    }

    fn detect(is_tty: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let forced = std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| v != "0");
        Self {
            color: !no_color && (forced || (is_tty && !dumb)),
        }
    }

    pub fn plain() -> Self {
        Self { color: false }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn green(&self, t: &str) -> String {
        self.paint("32", t)
    }
    pub fn red(&self, t: &str) -> String {
        self.paint("31", t)
    }
    pub fn yellow(&self, t: &str) -> String {
        self.paint("33", t)
    }
    pub fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
    pub fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
}

/// Pads a string to `width` display columns, ignoring ANSI escapes in the count.
pub fn pad(text: &str, width: usize) -> String {
    let visible = strip_ansi(text).chars().count();
    let mut out = text.to_string();
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(visible)));
    out
}

pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for n in chars.by_ref() {
                if n.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// An error on its way out of a binary: the message (printed redacted) and the exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// From any error carrying an exit code, with its whole source chain.
    pub fn from_coded<E>(err: &E) -> Self
    where
        E: crate::exit::ExitCoded + std::error::Error + 'static,
    {
        Self::new(err.exit_code(), redact::error_chain(err))
    }
}

/// The end of every `run()`: prints a failure as `error: …` on stderr (redacted) and turns
/// the outcome into the process exit code.
pub fn finish(result: Result<u8, Failure>) -> std::process::ExitCode {
    match result {
        Ok(code) => std::process::ExitCode::from(code),
        Err(failure) => {
            let style = Style::stderr();
            eprintln_redacted(&format!("{} {}", style.red("error:"), failure.message));
            std::process::ExitCode::from(failure.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_versioned() {
        let d = document("status", serde_json::json!({"overall": "healthy"}));
        assert_eq!(d["schema_version"], 1);
        assert_eq!(d["kind"], "status");
        assert_eq!(d["overall"], "healthy");
        assert!(d["correlation_id"].as_str().is_some_and(|s| !s.is_empty()));
    }

    #[test]
    fn pad_ignores_escapes() {
        let s = Style { color: true };
        assert_eq!(strip_ansi(&pad(&s.green("ok"), 4)), "ok  ");
    }
}
