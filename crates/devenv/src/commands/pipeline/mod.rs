//! `devenv pipeline run|list|show`: local CI/CD runs of the stages in `configs/pipeline.yaml`
//! (seed 001's PipelineRun). Stages run in order; each first has its services checked healthy
//! (`dev-status --only`), then runs with its retries and timeout; the first failed stage ends
//! the run and the rest are skipped. A run moves the workflow stage like `make test` does
//! (testing, then active_development or debugging; see [`super::state::test_started`]).

pub mod config;
pub mod record;
pub mod runner;
mod show;

use std::time::Instant;

use devenv_core::events::Event;
use devenv_core::exit;
use devenv_core::output::{self, Failure};
use devenv_core::paths::Workspace;

use crate::cli::{PipelineAction, PipelineRunArgs};
use config::{PipelineConfig, StageSpec};
use record::{
    Artifact, Logs, PipelineRun, RunMetadata, RunStatus, StageMetadata, StageRecord, StageStatus,
};
use runner::LogFiles;

pub fn run(ws: &Workspace, action: PipelineAction) -> Result<u8, Failure> {
    match action {
        PipelineAction::Run(args) => run_pipeline(ws, &args),
        PipelineAction::List { json } => show::list(ws, json),
        PipelineAction::Show { id, json } => show::show(ws, &id, json),
    }
}

fn run_pipeline(ws: &Workspace, args: &PipelineRunArgs) -> Result<u8, Failure> {
    let path = args
        .config
        .clone()
        .map(|p| if p.is_absolute() { p } else { ws.root.join(p) })
        .unwrap_or_else(|| ws.root.join("configs/pipeline.yaml"));
    let config = PipelineConfig::load(&path).map_err(|e| Failure::from_coded(&e))?;
    let mut run = new_run(ws, &config, args);
    std::fs::create_dir_all(record::run_dir(ws, &run.id)).map_err(|e| {
        Failure::new(
            exit::FAILED,
            format!("cannot create .devenv/pipelines: {e} — check that .devenv/ is writable"),
        )
    })?;
    run.save(ws)?;
    super::state::test_started(ws, &args.command)?;
    Event::new("pipeline", "pipeline_started")
        .field("run_id", run.id.clone())
        .field("stages", config.stages.len())
        .append_to(&ws.events_file());
    if !args.json {
        output::println_redacted(&format!(
            "pipeline run {} ({} stages, {})",
            run.id,
            config.stages.len(),
            run.metadata.workflow_file
        ));
    }
    let clock = Instant::now();
    let mut failed = false;
    for (n, spec) in config.stages.iter().enumerate() {
        if failed {
            run.stages[n].status = StageStatus::Skipped;
            run.stages[n].detail = Some("an earlier stage failed".into());
            if !args.json {
                output::println_redacted(&format!("- {} skipped", spec.name));
            }
            continue;
        }
        run.stages[n].status = StageStatus::Running;
        run.stages[n].started_at = Some(devenv_core::ids::now_rfc3339());
        run.save(ws)?;
        failed = !run_stage(ws, &mut run, n, spec, args.json);
        run.save(ws)?;
    }
    let passed = !failed;
    run.status = if passed {
        RunStatus::Passed
    } else {
        RunStatus::Failed
    };
    run.exit_code = Some(if passed { exit::OK } else { exit::FAILED });
    run.completed_at = Some(devenv_core::ids::now_rfc3339());
    run.total_duration_seconds = Some(seconds(clock));
    run.count();
    run.save(ws)?;
    record::prune(ws, config.keep_runs);
    super::state::test_finished(ws, passed, &args.command)?;
    Event::new("pipeline", "pipeline_finished")
        .field("run_id", run.id.clone())
        .field("status", if passed { "passed" } else { "failed" })
        .field("duration_ms", clock.elapsed().as_millis() as u64)
        .append_to(&ws.events_file());
    if args.json {
        output::print_json(&show::document(&run));
    } else {
        let s = &run.summary;
        output::println_redacted(&format!(
            "pipeline {}: {} passed, {} failed, {} skipped in {:.1}s — `devenv pipeline show {}`",
            if passed { "passed" } else { "failed" },
            s.passed_stages,
            s.failed_stages,
            s.skipped_stages,
            run.total_duration_seconds.unwrap_or(0.0),
            run.id
        ));
    }
    Ok(run.exit_code.unwrap_or(exit::FAILED))
}

fn seconds(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1000.0).round() / 1000.0
}

fn new_run(ws: &Workspace, config: &PipelineConfig, args: &PipelineRunArgs) -> PipelineRun {
    let id = record::new_id();
    let dir = record::run_dir(ws, &id);
    let stages = config
        .stages
        .iter()
        .enumerate()
        .map(|(n, spec)| {
            let log = |stream: &str| {
                record::relative(
                    ws,
                    &dir.join(format!("{}-{}.{stream}.log", n + 1, spec.name)),
                )
            };
            StageRecord {
                id: format!("{id}-{}", n + 1),
                pipeline_run_id: id.clone(),
                name: spec.name.clone(),
                order: n + 1,
                status: StageStatus::Pending,
                command: spec.command.clone(),
                started_at: None,
                completed_at: None,
                duration_seconds: None,
                exit_code: None,
                timed_out: false,
                detail: None,
                logs: Logs {
                    stdout: log("stdout"),
                    stderr: log("stderr"),
                },
                artifacts: Vec::new(),
                metadata: StageMetadata {
                    retry_count: 0,
                    max_retries: spec.retries,
                    timeout_seconds: spec.timeout.as_secs_f64(),
                    service_dependencies: spec.depends_on.clone(),
                },
            }
        })
        .collect();
    let mut run = PipelineRun {
        id: id.clone(),
        environment_id: ws.name(),
        trigger: args.trigger,
        triggered_by: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
        git_context: record::git_context(&ws.root),
        status: RunStatus::Running,
        stages,
        started_at: devenv_core::ids::now_rfc3339(),
        completed_at: None,
        total_duration_seconds: None,
        exit_code: None,
        summary: Default::default(),
        metadata: RunMetadata {
            tool: "devenv".into(),
            workflow_file: record::relative(ws, &config.path),
            keep_runs: config.keep_runs,
        },
    };
    run.count();
    run
}

/// Runs stage `n` (dependencies, then up to 1 + retries attempts) and records it; true when
/// it passed.
fn run_stage(
    ws: &Workspace,
    run: &mut PipelineRun,
    n: usize,
    spec: &StageSpec,
    quiet: bool,
) -> bool {
    let clock = Instant::now();
    let logs = LogFiles {
        stdout: ws.root.join(&run.stages[n].logs.stdout),
        stderr: ws.root.join(&run.stages[n].logs.stderr),
    };
    if !quiet {
        output::println_redacted(&format!("▶ {}: {}", spec.name, spec.command));
    }
    let run_id = run.id.clone();
    let stage = &mut run.stages[n];
    let env = [
        ("DEVENV_PIPELINE_RUN", run_id.as_str()),
        ("DEVENV_PIPELINE_STAGE", spec.name.as_str()),
    ];
    let mut passed = false;
    if let Some(why) = runner::check_dependencies(ws, spec, &logs) {
        stage.detail = Some(why);
    } else {
        for attempt in 0..=spec.retries {
            stage.metadata.retry_count = attempt;
            logs.mark(&format!(
                "── attempt {} of {}",
                attempt + 1,
                spec.retries + 1
            ));
            match runner::run_once(ws, spec, &logs, &env) {
                Ok(outcome) => {
                    stage.exit_code = outcome.exit_code;
                    stage.timed_out = outcome.timed_out;
                    passed = outcome.passed();
                    stage.detail = if outcome.timed_out {
                        Some(format!(
                            "timed out after {} — its process group was killed; raise \
                             `timeout` in the pipeline file if it needs longer",
                            devenv_core::duration::display(spec.timeout)
                        ))
                    } else if passed {
                        None
                    } else {
                        Some(format!("exit {}", outcome.exit_code.unwrap_or(1)))
                    };
                }
                Err(e) => stage.detail = Some(format!("cannot run bash: {e}")),
            }
            if passed {
                break;
            }
        }
    }
    stage.artifacts = collect_artifacts(ws, &run_id, stage, spec);
    stage.status = if passed {
        StageStatus::Passed
    } else {
        StageStatus::Failed
    };
    stage.completed_at = Some(devenv_core::ids::now_rfc3339());
    stage.duration_seconds = Some(seconds(clock));
    if !quiet {
        report_stage(stage, &logs);
    }
    passed
}

fn report_stage(stage: &StageRecord, logs: &LogFiles) {
    let style = output::Style::stdout();
    let retries = match stage.metadata.retry_count {
        0 => String::new(),
        n => format!(" after {n} retr{}", if n == 1 { "y" } else { "ies" }),
    };
    let took = stage.duration_seconds.unwrap_or(0.0);
    if stage.status == StageStatus::Passed {
        output::println_redacted(&format!(
            "{} {} {took:.1}s{retries}",
            style.green("✓"),
            stage.name
        ));
        return;
    }
    output::println_redacted(&format!(
        "{} {} {took:.1}s{retries}: {}",
        style.red("✗"),
        stage.name,
        stage.detail.as_deref().unwrap_or("failed")
    ));
    for line in logs.tail(10) {
        output::eprintln_redacted(&format!("  {line}"));
    }
    output::eprintln_redacted(&format!(
        "  logs: {} {}",
        stage.logs.stdout, stage.logs.stderr
    ));
}

/// The stage's declared artifacts that exist, copied beside the run's logs (the stage's next
/// run overwrites the original) with their size.
fn collect_artifacts(
    ws: &Workspace,
    run_id: &str,
    stage: &StageRecord,
    spec: &StageSpec,
) -> Vec<Artifact> {
    let dir = record::run_dir(ws, run_id).join("artifacts");
    let mut found = Vec::new();
    for a in &spec.artifacts {
        let wanted = a.resolved_path();
        let source = ws.root.join(&wanted);
        if !source.is_file() {
            output::eprintln_redacted(&format!(
                "warning: {}: artifact {wanted} was not written",
                stage.name
            ));
            continue;
        }
        let name = source
            .file_name()
            .map_or_else(|| "artifact".into(), |n| n.to_string_lossy().into_owned());
        let copy = dir.join(format!("{}-{name}", stage.name));
        let copied = std::fs::create_dir_all(&dir).and_then(|()| std::fs::copy(&source, &copy));
        match copied {
            Ok(size) => found.push(Artifact {
                stage_id: stage.id.clone(),
                kind: a.kind,
                path: record::relative(ws, &copy),
                source: record::relative(ws, &source),
                size_bytes: size,
                format: a.format.clone(),
            }),
            Err(e) => output::eprintln_redacted(&format!(
                "warning: {}: cannot keep artifact {wanted}: {e}",
                stage.name
            )),
        }
    }
    found
}
