//! `configs/pipeline.yaml`: the stages of a run, in order, and how many runs are kept.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use devenv_core::exit::{self, ExitCoded};

/// Runs kept when the file does not say (`keep_runs`).
pub const DEFAULT_KEEP_RUNS: usize = 50;
/// A stage's timeout when it names none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// What every key of the file is, for the fix of a parse error.
const KEYS: &str = "the top level takes keep_runs and stages; a stage takes name, command, \
                    depends_on, retries, timeout and artifacts (path, type, format)";

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub path: PathBuf,
    pub keep_runs: usize,
    pub stages: Vec<StageSpec>,
}

#[derive(Debug, Clone)]
pub struct StageSpec {
    pub name: String,
    pub command: String,
    /// Services checked healthy (`dev-status --only`) before the stage runs.
    pub depends_on: Vec<String>,
    /// Attempts after the first one fails.
    pub retries: u32,
    pub timeout: Duration,
    pub artifacts: Vec<ArtifactSpec>,
}

/// An artifact a stage declares: recorded (and copied beside the run's logs) when it exists
/// after the stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactSpec {
    /// Relative to the workspace root; `${NAME}` and `${NAME:-default}` are replaced from the
    /// environment (`${CARGO_TARGET_DIR:-target}/nextest/pipeline/junit.xml`).
    pub path: String,
    #[serde(rename = "type")]
    pub kind: ArtifactType,
    /// e.g. `junit-xml`, `lcov`, `tar.gz`.
    pub format: String,
}

/// Seed 001's PipelineArtifact.type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactType {
    TestResults,
    CoverageReport,
    BuildArtifact,
    LogFile,
}

impl ArtifactSpec {
    /// The path with its variables replaced ([`expand`]).
    pub fn resolved_path(&self) -> String {
        expand(&self.path, |name| std::env::var(name).ok())
    }
}

/// Replaces `${NAME}` (empty when unset) and `${NAME:-default}` (default when unset or empty).
pub fn expand(text: &str, get: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        let inner = &rest[start + 2..start + len];
        let (name, default) = inner.split_once(":-").unwrap_or((inner, ""));
        let value = get(name).filter(|v| !v.is_empty());
        out.push_str(value.as_deref().unwrap_or(default));
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    keep_runs: Option<i64>,
    #[serde(default)]
    stages: Vec<RawStage>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    name: String,
    command: String,
    #[serde(default)]
    depends_on: Vec<String>,
    #[serde(default)]
    retries: u32,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    artifacts: Vec<ArtifactSpec>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "cannot read {path}: {message} — create it (configs/pipeline.yaml is the default) or \
             name another with --config / PIPELINE_CONFIG"
    )]
    Read { path: String, message: String },
    #[error("{path}:{line}:{column}: {message} — {KEYS}")]
    Yaml {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: `{key}` {message} — {fix}")]
    Invalid {
        path: String,
        key: String,
        message: String,
        fix: String,
    },
}

/// A bad pipeline file is a configuration error (exit 2), never a failed run (exit 1).
impl ExitCoded for ConfigError {
    fn exit_code(&self) -> u8 {
        exit::USAGE
    }
}

impl PipelineConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let raw: RawConfig = serde_norway::from_str(&text).map_err(|e| {
            let (line, column, message) = devenv_core::yaml::error_location(&e);
            ConfigError::Yaml {
                path: shown.clone(),
                line,
                column,
                message,
            }
        })?;
        let invalid = |key: String, message: &str, fix: &str| ConfigError::Invalid {
            path: shown.clone(),
            key,
            message: message.to_string(),
            fix: fix.to_string(),
        };
        let keep_runs = match raw.keep_runs {
            None => DEFAULT_KEEP_RUNS,
            Some(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
            Some(_) => {
                return Err(invalid(
                    "keep_runs".into(),
                    "must be at least 1",
                    "set keep_runs: 50 (or leave it out for 50)",
                ));
            }
        };
        if raw.stages.is_empty() {
            return Err(invalid(
                "stages".into(),
                "lists no stage",
                "declare at least one: stages: [{name: lint, command: make lint}]",
            ));
        }
        let mut stages: Vec<StageSpec> = Vec::with_capacity(raw.stages.len());
        for (n, stage) in raw.stages.into_iter().enumerate() {
            let key = |field: &str| format!("stages[{n}].{field}");
            let name_ok = !stage.name.is_empty()
                && stage
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !name_ok {
                return Err(invalid(
                    key("name"),
                    &format!("`{}` is not a stage name", stage.name),
                    "use letters, digits, `_` and `-` (it names the stage's log files)",
                ));
            }
            if stages.iter().any(|s| s.name == stage.name) {
                return Err(invalid(
                    key("name"),
                    &format!("`{}` names two stages", stage.name),
                    "give every stage its own name",
                ));
            }
            if stage.command.trim().is_empty() {
                return Err(invalid(
                    key("command"),
                    "is empty",
                    "give the shell command the stage runs, e.g. `make lint`",
                ));
            }
            let timeout = match &stage.timeout {
                None => DEFAULT_TIMEOUT,
                Some(text) => devenv_core::duration::parse_flag(text)
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        invalid(
                            key("timeout"),
                            &format!("`{text}` is not a duration"),
                            "use e.g. 90s, 10m or 1h (default 30m)",
                        )
                    })?,
            };
            if let Some(a) = stage
                .artifacts
                .iter()
                .position(|a| a.path.trim().is_empty())
            {
                return Err(invalid(
                    key(&format!("artifacts[{a}].path")),
                    "is empty",
                    "name the file, relative to the workspace root",
                ));
            }
            stages.push(StageSpec {
                name: stage.name,
                command: stage.command,
                depends_on: stage.depends_on,
                retries: stage.retries,
                timeout,
                artifacts: stage.artifacts,
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            keep_runs,
            stages,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<PipelineConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipeline.yaml");
        std::fs::write(&path, text).unwrap();
        PipelineConfig::load(&path)
    }

    #[test]
    fn a_stage_takes_defaults() {
        let c = load("stages:\n  - name: lint\n    command: make lint\n").unwrap();
        assert_eq!(c.keep_runs, DEFAULT_KEEP_RUNS);
        assert_eq!(c.stages[0].timeout, DEFAULT_TIMEOUT);
        assert_eq!(c.stages[0].retries, 0);
    }

    #[test]
    fn the_committed_pipeline_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/pipeline.yaml");
        let c = PipelineConfig::load(&path).unwrap();
        let names: Vec<&str> = c.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["lint", "unit_tests", "integration_tests"]);
        assert_eq!(c.stages[1].artifacts[0].format, "junit-xml");
        assert!(!c.stages[2].depends_on.is_empty());
    }

    #[test]
    fn artifact_paths_take_variables() {
        let get = |n: &str| (n == "T").then(|| "/tmp/t".to_string());
        assert_eq!(expand("${T:-target}/x.xml", get), "/tmp/t/x.xml");
        assert_eq!(expand("${U:-target}/x.xml", get), "target/x.xml");
        assert_eq!(expand("a/${U}b", get), "a/b");
    }

    #[test]
    fn errors_name_the_key_and_the_fix() {
        let err = load("stages:\n  - name: a\n    command: x\n    timeout: soon\n").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("`stages[0].timeout`") && text.contains("90s"),
            "{text}"
        );
        let err = load("stages:\n  - name: a\n    comand: x\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("comand") && err.contains(":3:"), "{err}");
        let err = load("keep_runs: 0\nstages: []\n").unwrap_err().to_string();
        assert!(err.contains("`keep_runs`"), "{err}");
    }
}
