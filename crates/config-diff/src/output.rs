//! The one place config-diff writes to stdout and stderr: every result goes through
//! devenv-core's printer (redacted; JSON as one versioned document), every note to stderr.

use devenv_core::output::{self, Format, Style};
use serde::Serialize;
use serde_json::Value;

/// Prints a command's result in `format`: `document` for `--json`, `human` (given the
/// stdout style) for people, nothing under `--quiet`.
pub fn emit(format: Format, document: impl FnOnce() -> Value, human: impl FnOnce(Style) -> String) {
    match format {
        Format::Json => output::print_json(&document()),
        Format::Human => output::println_redacted(human(Style::stdout()).trim_end_matches('\n')),
        Format::Quiet => {}
    }
}

/// `{"schema_version":1,"kind":…,…report}` of a typed report.
pub fn document(kind: &str, report: &impl Serialize) -> Value {
    output::document(
        kind,
        serde_json::to_value(report).expect("reports serialise"),
    )
}

/// A line on stderr (redacted), unless `--quiet`.
pub fn note(format: Format, text: &str) {
    if format != Format::Quiet {
        output::eprintln_redacted(text);
    }
}
