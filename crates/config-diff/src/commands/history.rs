//! `config-diff history`: the reports `diff --save` kept, newest first, so drift over time
//! shows (time, overall status, counts by severity, file).

use devenv_core::exit;
use devenv_core::output::{Format, Style, pad};
use serde::Serialize;

use crate::archive::{self, Entry};
use crate::cli::HistoryArgs;
use crate::error::{Error, Result};
use crate::output;

/// `kind` of the JSON document (see schema/history.schema.json).
pub const KIND: &str = "configuration_diff_history";

#[derive(Debug, Serialize)]
struct History {
    dir: String,
    reports: Vec<Entry>,
}

pub fn run(a: HistoryArgs, format: Format) -> Result<u8> {
    let dir = a.dir.unwrap_or_else(super::default_reports_dir);
    let reports = archive::list(&dir)?;
    if reports.is_empty() {
        return Err(Error::NoReports(format!(
            "no saved reports in {} — run `make parity` (or `config-diff diff --save …`) to \
             keep one",
            dir.display()
        )));
    }
    let history = History {
        dir: dir.display().to_string(),
        reports,
    };
    output::emit(
        format,
        || output::document(KIND, &history),
        |style| human(&history, style),
    );
    Ok(exit::OK)
}

fn human(history: &History, style: Style) -> String {
    let mut out = format!(
        "{} saved report(s) in {}, newest first\n",
        history.reports.len(),
        history.dir
    );
    out.push_str(&style.bold(&format!(
        "{}{}{}{}{}{}FILE\n",
        pad("TIME", 26),
        pad("STATUS", 19),
        pad("INCOMPAT", 10),
        pad("MAJOR", 7),
        pad("MINOR", 7),
        pad("ACCEPTED", 10),
    )));
    for r in &history.reports {
        let status = match r.overall_status.as_str() {
            "identical" => style.green(&r.overall_status),
            "minor_differences" => style.yellow(&r.overall_status),
            _ => style.red(&r.overall_status),
        };
        out.push_str(&format!(
            "{}{}{}{}{}{}{}\n",
            pad(&r.timestamp, 26),
            pad(&status, 19),
            pad(&r.counts.incompatible.to_string(), 10),
            pad(&r.counts.major.to_string(), 7),
            pad(&r.counts.minor.to_string(), 7),
            pad(&r.counts.accepted.to_string(), 10),
            r.file
        ));
    }
    out
}
