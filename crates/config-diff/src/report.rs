//! The seed's ConfigurationDiffReport: building it, printing it for humans (grouped by
//! service, coloured unless NO_COLOR) and as a versioned JSON document, saving it.

use std::path::{Path, PathBuf};

use devenv_core::output::{self, Style};
use serde::Serialize;
use serde_json::{Value, json};

use crate::archive;
use crate::diff::{self, DiffType, OverallStatus, ServiceDiff, ServiceStatus, Summary};
use crate::error::Result;
use crate::model::Environment;
use crate::rules::{Baseline, RuleSet, Severity};

/// `kind` of the JSON document (see schema/report.schema.json).
pub const KIND: &str = "configuration_diff_report";

#[derive(Debug, Clone, Serialize)]
pub struct EnvironmentRef {
    pub name: String,
    pub files: Vec<String>,
    pub env_files: Vec<String>,
    pub profiles: Vec<String>,
}

impl From<&Environment> for EnvironmentRef {
    fn from(e: &Environment) -> Self {
        Self {
            name: e.name.clone(),
            files: e.files.clone(),
            env_files: e.env_files.clone(),
            profiles: e.profiles.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub id: String,
    pub timestamp: String,
    pub source: EnvironmentRef,
    pub target: EnvironmentRef,
    pub overall_status: OverallStatus,
    pub service_diffs: Vec<ServiceDiff>,
    pub summary: Summary,
    pub metadata: Value,
}

impl Report {
    pub fn build(
        source: &Environment,
        target: &Environment,
        rules: &RuleSet,
        baseline: &Baseline,
    ) -> Self {
        let started = std::time::Instant::now();
        let (service_diffs, summary, overall_status) =
            diff::compare(source, target, rules, baseline);
        let metadata = json!({
            "tool": "config-diff",
            "tool_version": env!("CARGO_PKG_VERSION"),
            "rules_file": rules.source,
            "baseline_file": baseline.source,
            "unset_variables": {
                "source": source.unset_variables,
                "target": target.unset_variables,
            },
            "inactive_services": {
                "source": source.inactive_services,
                "target": target.inactive_services,
            },
            "compare_ms": started.elapsed().as_secs_f64() * 1000.0,
        });
        Self {
            id: devenv_core::ids::new_id(),
            timestamp: devenv_core::ids::now_rfc3339(),
            source: source.into(),
            target: target.into(),
            overall_status,
            service_diffs,
            summary,
            metadata,
        }
    }

    /// The versioned document (`schema_version`, `kind`, `correlation_id`, then the report),
    /// redacted: values of secret keys were never kept, URL passwords are masked here too.
    pub fn document(&self) -> Value {
        let body = serde_json::to_value(self).expect("the report serialises");
        let mut doc = output::document(KIND, body);
        devenv_core::redact::redact_json(&mut doc);
        doc
    }

    /// Keeps the report in `dir` (`<timestamp>.json` and `latest.json`, atomically; see
    /// [`crate::archive`]), pruning to the newest `keep`; returns its path.
    pub fn save(&self, dir: &Path, keep: usize) -> Result<PathBuf> {
        let text = serde_json::to_string_pretty(&self.document()).expect("JSON serialises");
        archive::save(dir, &self.timestamp, &text, keep)
    }

    pub fn human(&self, style: Style) -> String {
        let mut out = String::new();
        let side = |e: &EnvironmentRef| {
            let mut files = e.files.clone();
            files.extend(e.env_files.iter().cloned());
            if e.name.is_empty() || files.first() == Some(&e.name) {
                files.join(" + ")
            } else {
                format!("{} ({})", e.name, files.join(" + "))
            }
        };
        out.push_str(&format!(
            "{} {} → {}\n",
            style.bold("config-diff"),
            side(&self.source),
            side(&self.target)
        ));
        let s = &self.summary;
        out.push_str(&format!(
            "overall: {} — {} incompatible, {} major, {} minor, {} accepted; {} services ({} identical, {} different, {} missing in source, {} missing in target)\n",
            paint_status(style, self.overall_status),
            s.incompatible,
            s.major,
            s.minor,
            s.accepted,
            s.services_total,
            s.services_identical,
            s.services_different,
            s.services_missing_in_source,
            s.services_missing_in_target,
        ));
        let mut identical = Vec::new();
        for sd in &self.service_diffs {
            if sd.status == ServiceStatus::Identical {
                identical.push(sd.service.as_str());
                continue;
            }
            out.push('\n');
            out.push_str(&format!(
                "{}  {}\n",
                style.bold(&sd.service),
                style.dim(sd.status.as_str())
            ));
            let width = sd
                .differences
                .iter()
                .map(|d| d.field_path.chars().count())
                .max()
                .unwrap_or(0);
            for d in &sd.differences {
                let label = if d.accepted {
                    style.dim("accepted")
                } else {
                    paint_severity(style, d.severity)
                };
                let value = |v: &Option<String>| match v {
                    Some(v) if v.is_empty() => "\"\"".to_string(),
                    Some(v) => truncate(v, 60),
                    None => "(absent)".to_string(),
                };
                let change = match d.kind {
                    DiffType::ValueChanged => {
                        format!("{} → {}", value(&d.source_value), value(&d.target_value))
                    }
                    DiffType::MissingInSource => {
                        format!("only in target: {}", value(&d.target_value))
                    }
                    DiffType::MissingInTarget => {
                        format!("only in source: {}", value(&d.source_value))
                    }
                };
                out.push_str(&format!(
                    "  {} {}  {}  {}\n",
                    output::pad(&label, 12),
                    output::pad(&d.field_path, width),
                    change,
                    style.dim(&format!("[{}]", d.rule_id)),
                ));
                let mut note = match &d.accepted_reason {
                    Some(reason) => format!("baseline: {reason}"),
                    None => format!("{} — {}", d.impact_description, d.recommendation),
                };
                if d.source_origin.is_some() || d.target_origin.is_some() {
                    let o = |x: &Option<String>| x.clone().unwrap_or_else(|| "-".into());
                    note.push_str(&format!(
                        " (from {} → {})",
                        o(&d.source_origin),
                        o(&d.target_origin)
                    ));
                }
                out.push_str(&format!("  {} {}\n", " ".repeat(12), style.dim(&note)));
            }
        }
        if !identical.is_empty() {
            out.push_str(&format!(
                "\n{} {}\n",
                style.green("identical:"),
                identical.join(", ")
            ));
        }
        for (label, env) in [
            ("source", &self.metadata["unset_variables"]["source"]),
            ("target", &self.metadata["unset_variables"]["target"]),
        ] {
            if let Some(list) = env.as_array().filter(|l| !l.is_empty()) {
                let names: Vec<String> = list
                    .iter()
                    .map(|u| {
                        format!(
                            "{} ({})",
                            u["name"].as_str().unwrap_or(""),
                            u["file"].as_str().unwrap_or("")
                        )
                    })
                    .collect();
                out.push_str(&format!(
                    "{} {label}: {}\n",
                    style.yellow("unset variables in"),
                    names.join(", ")
                ));
            }
        }
        out
    }
}

fn truncate(text: &str, max: usize) -> String {
    let one_line = text.replace('\n', "⏎");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

pub fn paint_severity(style: Style, s: Severity) -> String {
    match s {
        Severity::Minor => style.yellow("minor"),
        Severity::Major => style.red("major"),
        Severity::Incompatible => style.bold(&style.red("incompatible")),
    }
}

fn paint_status(style: Style, s: OverallStatus) -> String {
    match s {
        OverallStatus::Identical => style.green(s.as_str()),
        OverallStatus::MinorDifferences => style.yellow(s.as_str()),
        OverallStatus::MajorDifferences | OverallStatus::Incompatible => style.red(s.as_str()),
    }
}
