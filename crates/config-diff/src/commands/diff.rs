//! `config-diff [diff]`: two environments compared, graded, optionally saved.

use devenv_core::exit;
use devenv_core::output::Format;

use super::side_from;
use crate::cli::{DiffArgs, SideArgs};
use crate::error::{Error, Result};
use crate::output;
use crate::report::Report;
use crate::rules::{Baseline, RuleSet};

pub fn run(a: DiffArgs, format: Format) -> Result<u8> {
    let mut positional = a.paths.into_iter();
    let inherit_env = a.source.inherit_env;
    let source = side_from(a.source, &mut positional, "source")?;
    let target_flags = SideArgs {
        files: a.target.files,
        env_files: a.target.env_files,
        profiles: a.target.profiles,
        inherit_env,
    };
    let target = side_from(target_flags, &mut positional, "target")?;
    if let Some(extra) = positional.next() {
        return Err(Error::Usage(format!(
            "unexpected argument {}: both sides are already given",
            extra.display()
        )));
    }
    let rules = match &a.rules {
        Some(p) => RuleSet::load(p)?,
        None => RuleSet::default(),
    };
    let baseline = match &a.baseline {
        Some(p) => Baseline::load(p)?,
        None => Baseline::default(),
    };
    let started = std::time::Instant::now();
    // The two sides are independent: load them on two threads (half the wall time on the
    // large environments the benchmark generates).
    let (source_env, target_env) = std::thread::scope(|scope| {
        let target_job = scope.spawn(|| target.load());
        let source_env = source.load();
        let target_env = target_job.join().expect("loading does not panic");
        (source_env, target_env)
    });
    let (source_env, target_env) = (source_env?, target_env?);
    tracing::debug!(
        ms = started.elapsed().as_secs_f64() * 1e3,
        "both sides loaded"
    );
    let report = Report::build(&source_env, &target_env, &rules, &baseline);
    tracing::debug!(ms = started.elapsed().as_secs_f64() * 1e3, "compared");
    tracing::info!(
        overall = report.overall_status.as_str(),
        differences = report.summary.differences_total,
        "compared"
    );
    if a.save || a.save_dir.is_some() {
        let dir = a
            .save_dir
            .clone()
            .unwrap_or_else(super::default_reports_dir);
        let path = report.save(&dir, a.keep)?;
        output::note(format, &format!("saved {}", path.display()));
    }
    output::emit(format, || report.document(), |style| report.human(style));
    let failed = match (a.fail_on, report.overall_status.severity()) {
        (Some(threshold), Some(worst)) => worst >= threshold.severity(),
        _ => false,
    };
    // The process ends here: freeing hundreds of thousands of small allocations one by one
    // would cost ~10% of a large run and achieve nothing the OS does not do at exit.
    std::mem::forget((source_env, target_env, report));
    Ok(if failed { exit::FAILED } else { exit::OK })
}
