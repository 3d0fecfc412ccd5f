//! `config-diff validate`: one environment against the validation rules.

use std::fmt::Write as _;

use devenv_core::exit;
use devenv_core::output::{Format, Style, pad};
use serde::Serialize;

use super::env_side;
use crate::cli::EnvArgs;
use crate::error::Result;
use crate::interpolate::UnsetVariable;
use crate::output;
use crate::report::EnvironmentRef;
use crate::validate::{Finding, validate};

/// The `configuration_validation` document.
#[derive(Debug, Serialize)]
pub struct ValidationReport {
    pub environment: EnvironmentRef,
    pub valid: bool,
    pub services: usize,
    pub findings: Vec<Finding>,
    pub unset_variables: Vec<UnsetVariable>,
}

impl ValidationReport {
    fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == "error")
            .count()
    }

    pub fn human(&self, style: Style) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let label = match f.severity {
                "error" => style.red("error"),
                _ => style.yellow("warning"),
            };
            let _ = writeln!(
                out,
                "{} {} {}  {}",
                pad(&label, 8),
                style.bold(f.service.as_deref().unwrap_or("-")),
                f.message,
                style.dim(&format!("[{}]", f.rule))
            );
        }
        for u in &self.unset_variables {
            let warning = pad(&style.yellow("warning"), 8);
            let _ = writeln!(out, "{warning} {} is not set ({})", u.name, u.file);
        }
        let errors = self.errors();
        let verdict = if errors == 0 {
            style.green("valid")
        } else {
            style.red("invalid")
        };
        let _ = write!(
            out,
            "{verdict}: {} services, {errors} errors, {} warnings",
            self.services,
            self.findings.len() - errors
        );
        out
    }
}

pub fn run(a: EnvArgs, format: Format) -> Result<u8> {
    let env = env_side(a, false)?.load()?;
    let findings = validate(&env);
    let mut report = ValidationReport {
        environment: EnvironmentRef::from(&env),
        valid: true,
        services: env.services.len(),
        findings,
        unset_variables: env.unset_variables.clone(),
    };
    report.valid = report.errors() == 0;
    output::emit(
        format,
        || output::document("configuration_validation", &report),
        |style| report.human(style),
    );
    Ok(if report.valid { exit::OK } else { exit::FAILED })
}
