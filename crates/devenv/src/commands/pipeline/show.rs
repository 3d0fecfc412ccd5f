//! `devenv pipeline list` and `devenv pipeline show ID`, human or `--json`.

use devenv_core::exit;
use devenv_core::output::{self, Failure, Format};
use devenv_core::paths::Workspace;

use super::record::{self, PipelineRun, StageStatus};

/// The `pipeline_run` document (schema/pipeline-run.schema.json).
pub fn document(run: &PipelineRun) -> serde_json::Value {
    output::document(
        "pipeline_run",
        serde_json::to_value(run).expect("a run serialises"),
    )
}

pub fn list(ws: &Workspace, json: bool) -> Result<u8, Failure> {
    let mut runs = Vec::new();
    for id in record::ids(ws).iter().rev() {
        runs.push(PipelineRun::load(ws, id)?);
    }
    if Format::choose(json, false, false, Format::Human, Format::Human) == Format::Json {
        let items: Vec<serde_json::Value> = runs
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id,
                    "status": r.status,
                    "trigger": r.trigger,
                    "started_at": r.started_at,
                    "total_duration_seconds": r.total_duration_seconds,
                    "git_context": r.git_context,
                    "summary": r.summary,
                })
            })
            .collect();
        output::print_json(&output::document(
            "pipeline_runs",
            serde_json::json!({ "runs": items }),
        ));
        return Ok(exit::OK);
    }
    if runs.is_empty() {
        output::println_redacted("no pipeline runs yet — `make pipeline` runs one");
    }
    for r in &runs {
        let s = &r.summary;
        output::println_redacted(&format!(
            "{}  {:<7}  {:>7}  {}/{} passed  {}",
            r.id,
            status_word(r),
            r.total_duration_seconds
                .map_or("-".into(), |d| format!("{d:.1}s")),
            s.passed_stages,
            s.total_stages,
            r.git_context.as_ref().map_or(String::new(), |g| format!(
                "{} {}",
                g.branch,
                short(&g.commit_sha)
            ))
        ));
    }
    Ok(exit::OK)
}

fn status_word(run: &PipelineRun) -> &'static str {
    match run.status {
        record::RunStatus::Running => "running",
        record::RunStatus::Passed => "passed",
        record::RunStatus::Failed => "failed",
        record::RunStatus::Cancelled => "cancelled",
    }
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(10)]
}

pub fn show(ws: &Workspace, id: &str, json: bool) -> Result<u8, Failure> {
    let id = if id == "latest" {
        record::ids(ws).pop().ok_or_else(|| {
            Failure::new(
                exit::USAGE,
                "no pipeline runs yet — `make pipeline` runs one",
            )
        })?
    } else {
        id.to_string()
    };
    let run = PipelineRun::load(ws, &id)?;
    if Format::choose(json, false, false, Format::Human, Format::Human) == Format::Json {
        output::print_json(&document(&run));
        return Ok(exit::OK);
    }
    let style = output::Style::stdout();
    output::println_redacted(&format!(
        "run {}  {}  trigger {}  started {}{}",
        run.id,
        style.bold(status_word(&run)),
        serde_json::to_value(run.trigger)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        run.started_at,
        run.total_duration_seconds
            .map_or(String::new(), |d| format!("  took {d:.1}s"))
    ));
    if let Some(g) = &run.git_context {
        output::println_redacted(&format!(
            "git {} {} {}",
            g.branch,
            short(&g.commit_sha),
            g.commit_message
        ));
    }
    for s in &run.stages {
        let mark = match s.status {
            StageStatus::Passed => style.green("✓"),
            StageStatus::Failed => style.red("✗"),
            StageStatus::Skipped => style.dim("-"),
            StageStatus::Pending | StageStatus::Running => style.yellow("…"),
        };
        output::println_redacted(&format!(
            "{mark} {}. {} {}  {}{}{}",
            s.order,
            s.name,
            s.status.as_str(),
            s.command,
            s.duration_seconds
                .map_or(String::new(), |d| format!("  {d:.1}s")),
            s.exit_code.map_or(String::new(), |c| format!("  exit {c}")),
        ));
        if let Some(detail) = &s.detail {
            output::println_redacted(&format!("    {detail}"));
        }
        if s.metadata.retry_count > 0 {
            output::println_redacted(&format!("    retries: {}", s.metadata.retry_count));
        }
        if s.status != StageStatus::Skipped && s.status != StageStatus::Pending {
            output::println_redacted(&format!("    logs: {} {}", s.logs.stdout, s.logs.stderr));
        }
        for a in &s.artifacts {
            output::println_redacted(&format!(
                "    artifact: {} ({}, {} bytes)",
                a.path, a.format, a.size_bytes
            ));
        }
    }
    Ok(exit::OK)
}
