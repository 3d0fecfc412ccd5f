//! The record of a run (seed 001's PipelineRun, PipelineStage, PipelineArtifact):
//! `.devenv/pipelines/<id>.json`, written atomically after every stage, with the logs and
//! artifacts in `.devenv/pipelines/<id>/`. Runs beyond `keep_runs` are pruned with their logs.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use devenv_core::exit;
use devenv_core::output::Failure;
use devenv_core::paths::Workspace;

use super::config::ArtifactType;
use crate::cli::RunTrigger;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Passed,
    Failed,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    Pending,
    Running,
    Passed,
    Failed,
    Skipped,
}

impl StageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StageStatus::Pending => "pending",
            StageStatus::Running => "running",
            StageStatus::Passed => "passed",
            StageStatus::Failed => "failed",
            StageStatus::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitContext {
    pub branch: String,
    pub commit_sha: String,
    pub commit_message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub total_stages: usize,
    pub passed_stages: usize,
    pub failed_stages: usize,
    pub skipped_stages: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMetadata {
    /// What ran the pipeline: always `devenv` (the seed's act / github_actions are not local).
    pub tool: String,
    /// The pipeline file, relative to the workspace root when inside it.
    pub workflow_file: String,
    pub keep_runs: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineRun {
    pub id: String,
    pub environment_id: String,
    pub trigger: RunTrigger,
    pub triggered_by: String,
    /// Null outside a git work tree.
    pub git_context: Option<GitContext>,
    pub status: RunStatus,
    pub stages: Vec<StageRecord>,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub total_duration_seconds: Option<f64>,
    /// 0 passed, 1 a stage failed; null while running.
    pub exit_code: Option<u8>,
    pub summary: Summary,
    pub metadata: RunMetadata,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Logs {
    /// Relative to the workspace root.
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageMetadata {
    /// Attempts after the first (seed: retry_count).
    pub retry_count: u32,
    pub max_retries: u32,
    pub timeout_seconds: f64,
    pub service_dependencies: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    pub id: String,
    pub pipeline_run_id: String,
    pub name: String,
    pub order: usize,
    pub status: StageStatus,
    pub command: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub duration_seconds: Option<f64>,
    /// The command's exit code (128 + N when signal N ended it); null when it never ran or
    /// was killed at its timeout.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    /// Why it failed or was skipped, in words.
    pub detail: Option<String>,
    pub logs: Logs,
    pub artifacts: Vec<Artifact>,
    pub metadata: StageMetadata,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub stage_id: String,
    #[serde(rename = "type")]
    pub kind: ArtifactType,
    /// The copy kept with the run, relative to the workspace root.
    pub path: String,
    /// Where the stage wrote it.
    pub source: String,
    pub size_bytes: u64,
    pub format: String,
}

pub fn dir(ws: &Workspace) -> PathBuf {
    ws.state_dir().join("pipelines")
}

pub fn record_path(ws: &Workspace, id: &str) -> PathBuf {
    dir(ws).join(format!("{id}.json"))
}

/// Where a run's logs and artifacts live.
pub fn run_dir(ws: &Workspace, id: &str) -> PathBuf {
    dir(ws).join(id)
}

/// A new run id: the UTC start time (sorts as the runs happened) and 6 random hex digits.
pub fn new_id() -> String {
    let random = devenv_core::ids::new_id().replace('-', "");
    format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ"),
        &random[random.len() - 6..]
    )
}

/// `path` relative to the workspace root when it is inside it.
pub fn relative(ws: &Workspace, path: &Path) -> String {
    path.strip_prefix(&ws.root)
        .unwrap_or(path)
        .display()
        .to_string()
}

impl PipelineRun {
    pub fn save(&self, ws: &Workspace) -> Result<(), Failure> {
        let text = serde_json::to_string_pretty(self).expect("a run serialises") + "\n";
        let path = record_path(ws, &self.id);
        devenv_core::bundle::write_atomic(&path, text.as_bytes(), 0o644).map_err(|e| {
            Failure::new(
                exit::FAILED,
                format!(
                    "cannot write {}: {e} — check that .devenv/ is writable",
                    path.display()
                ),
            )
        })
    }

    pub fn load(ws: &Workspace, id: &str) -> Result<Self, Failure> {
        let path = record_path(ws, id);
        let text = std::fs::read_to_string(&path).map_err(|_| {
            Failure::new(
                exit::USAGE,
                format!("no pipeline run `{id}` — `devenv pipeline list` shows the runs"),
            )
        })?;
        serde_json::from_str(&text).map_err(|e| {
            Failure::new(
                exit::FAILED,
                format!("{} is not a pipeline run: {e} — delete it", path.display()),
            )
        })
    }

    pub fn count(&mut self) {
        let count = |s: StageStatus| self.stages.iter().filter(|x| x.status == s).count();
        self.summary = Summary {
            total_stages: self.stages.len(),
            passed_stages: count(StageStatus::Passed),
            failed_stages: count(StageStatus::Failed),
            skipped_stages: count(StageStatus::Skipped),
        };
    }
}

/// Every recorded run id, oldest first.
pub fn ids(ws: &Workspace) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir(ws)) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".json").map(str::to_string)
        })
        .filter(|id| !id.starts_with('.'))
        .collect();
    ids.sort();
    ids
}

/// Removes every run but the newest `keep`, with its logs and artifacts; the removed ids.
pub fn prune(ws: &Workspace, keep: usize) -> Vec<String> {
    let ids = ids(ws);
    let excess = ids.len().saturating_sub(keep);
    let removed: Vec<String> = ids.into_iter().take(excess).collect();
    for id in &removed {
        let _ = std::fs::remove_file(record_path(ws, id));
        let _ = std::fs::remove_dir_all(run_dir(ws, id));
    }
    removed
}

/// The branch, commit and subject of HEAD in the workspace; None outside a git work tree.
pub fn git_context(root: &Path) -> Option<GitContext> {
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    Some(GitContext {
        commit_sha: git(&["rev-parse", "HEAD"])?,
        branch: git(&["rev-parse", "--abbrev-ref", "HEAD"])?,
        commit_message: git(&["log", "-1", "--format=%s"])?,
    })
}
