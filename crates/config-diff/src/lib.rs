//! config-diff: "how does my local environment differ from staging, and does it matter?"
//!
//! Compares the resolved compose model (not the text) of two environments, keyed by service,
//! port and volume target; grades every difference with a rule; never prints a secret.
//! Subcommands: `diff` (the default), `validate`, `images`. See README.md.

pub mod diff;
pub mod digests;
pub mod duration;
pub mod error;
pub mod image;
pub mod interpolate;
pub mod load;
pub mod model;
pub mod report;
pub mod rules;
pub mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use devenv_core::exit;
use devenv_core::output::{self, Failure, Format, Style};
use devenv_core::paths::Workspace;
use serde_json::json;

use crate::error::Error;
use crate::load::Side;
use crate::rules::{Baseline, RuleSet, Severity};

#[derive(Debug, Parser)]
#[command(
    name = "config-diff",
    version,
    about = "Compare environments by their resolved compose model; grade every difference",
    after_help = "Exit codes: 0 ok · 1 differences at/above --fail-on, validation errors, unpinned images · 2 usage or malformed input"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compare SOURCE with TARGET (the default subcommand)
    Diff(DiffArgs),
    /// Check one environment against the validation rules
    Validate(EnvArgs),
    /// Check every compose image against dev/IMAGE_DIGESTS
    Images(ImagesArgs),
}

#[derive(Debug, Args)]
struct OutputArgs {
    /// One versioned JSON document on stdout
    #[arg(long, global = true)]
    json: bool,
    /// Human output even when stdout is not a terminal
    #[arg(long, global = true, conflicts_with = "json")]
    human: bool,
    /// Print nothing; the exit code says it all
    #[arg(short, long, global = true)]
    quiet: bool,
    /// More logs on stderr (-v info, -vv debug)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
}

#[derive(Debug, Args)]
struct SideArgs {
    /// Compose file of the source side (repeat to merge, like `docker compose -f`)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Env file used for interpolation on the source side (repeatable; later wins)
    #[arg(long = "env-file", value_name = "FILE")]
    env_files: Vec<PathBuf>,
    /// Active profile on the source side (default: COMPOSE_PROFILES from the env files)
    #[arg(long = "profile", value_name = "NAME")]
    profiles: Vec<String>,
    /// Also interpolate with this process's environment variables (as compose does)
    #[arg(long)]
    inherit_env: bool,
}

#[derive(Debug, Args)]
struct DiffArgs {
    /// SOURCE and/or TARGET: a compose file or an EnvironmentConfiguration description.
    /// Positional paths fill the sides not given by -f / -F, source first.
    #[arg(value_name = "SOURCE|TARGET", num_args = 0..=2)]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    source: SideArgs,
    /// Compose file of the target side (repeatable)
    #[arg(short = 'F', long = "target-file", value_name = "FILE")]
    target_files: Vec<PathBuf>,
    /// Env file of the target side (repeatable)
    #[arg(long = "target-env-file", value_name = "FILE")]
    target_env_files: Vec<PathBuf>,
    /// Active profile on the target side
    #[arg(long = "target-profile", value_name = "NAME")]
    target_profiles: Vec<String>,
    /// Rules file overriding the default grading
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// Baseline of expected differences (reported as accepted)
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Also write the JSON report to reports/config-diffs/<timestamp>.json
    #[arg(long)]
    save: bool,
    /// Exit 1 when the overall status is at or above this severity
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<FailOn>,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FailOn {
    Minor,
    Major,
    Incompatible,
}

impl FailOn {
    fn severity(self) -> Severity {
        match self {
            FailOn::Minor => Severity::Minor,
            FailOn::Major => Severity::Major,
            FailOn::Incompatible => Severity::Incompatible,
        }
    }
}

#[derive(Debug, Args)]
struct EnvArgs {
    /// A compose file or an EnvironmentConfiguration description
    #[arg(value_name = "ENV")]
    path: Option<PathBuf>,
    #[command(flatten)]
    side: SideArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Args)]
struct ImagesArgs {
    #[command(flatten)]
    env: EnvArgs,
    /// The pin list (default: dev/IMAGE_DIGESTS of the workspace)
    #[arg(long, value_name = "FILE")]
    digests: Option<PathBuf>,
}

const SUBCOMMANDS: &[&str] = &[
    "diff",
    "validate",
    "images",
    "help",
    "-h",
    "--help",
    "-V",
    "--version",
];

/// The binary's entry point.
pub fn run() -> ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // `diff` is the default subcommand: `config-diff A B` means `config-diff diff A B`.
    if args
        .get(1)
        .and_then(|a| a.to_str())
        .is_none_or(|a| !SUBCOMMANDS.contains(&a))
    {
        args.insert(1, "diff".into());
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let verbosity = match &cli.command {
        Command::Diff(a) => a.output.verbose,
        Command::Validate(a) => a.output.verbose,
        Command::Images(a) => a.env.output.verbose,
    };
    devenv_core::logging::init(verbosity);
    output::finish(dispatch(cli.command))
}

fn fail(e: Error) -> Failure {
    Failure::from_coded(&e)
}

fn dispatch(command: Command) -> Result<u8, Failure> {
    match command {
        Command::Diff(a) => run_diff(a),
        Command::Validate(a) => run_validate(a),
        Command::Images(a) => run_images(a),
    }
}

fn format_of(o: &OutputArgs) -> Format {
    Format::choose(o.json, o.human, o.quiet, Format::Human, Format::Human)
}

fn side_from(
    flags_files: Vec<PathBuf>,
    env_files: Vec<PathBuf>,
    profiles: Vec<String>,
    inherit_env: bool,
    positional: &mut std::vec::IntoIter<PathBuf>,
    label: &str,
) -> Result<Side, Failure> {
    let mut side = if flags_files.is_empty() {
        let path = positional.next().ok_or_else(|| {
            Failure::new(
                exit::USAGE,
                format!("no {label} environment given; pass a compose file / EnvironmentConfiguration, or -f/-F FILE"),
            )
        })?;
        Side::from_path(&path).map_err(fail)?
    } else {
        Side::compose(flags_files, Vec::new())
    };
    side.env_files.extend(env_files);
    if !profiles.is_empty() {
        side.profiles = profiles;
    }
    side.inherit_env = inherit_env;
    Ok(side)
}

fn run_diff(a: DiffArgs) -> Result<u8, Failure> {
    let format = format_of(&a.output);
    let mut positional = a.paths.into_iter();
    let source = side_from(
        a.source.files,
        a.source.env_files,
        a.source.profiles,
        a.source.inherit_env,
        &mut positional,
        "source",
    )?;
    let target = side_from(
        a.target_files,
        a.target_env_files,
        a.target_profiles,
        a.source.inherit_env,
        &mut positional,
        "target",
    )?;
    if let Some(extra) = positional.next() {
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "unexpected argument {}: both sides are already given",
                extra.display()
            ),
        ));
    }
    let rules = match &a.rules {
        Some(p) => RuleSet::load(p).map_err(fail)?,
        None => RuleSet::default(),
    };
    let baseline = match &a.baseline {
        Some(p) => Baseline::load(p).map_err(fail)?,
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
    let (source_env, target_env) = (source_env.map_err(fail)?, target_env.map_err(fail)?);
    tracing::debug!(
        ms = started.elapsed().as_secs_f64() * 1e3,
        "both sides loaded"
    );
    let report = report::Report::build(&source_env, &target_env, &rules, &baseline);
    tracing::debug!(ms = started.elapsed().as_secs_f64() * 1e3, "compared");
    tracing::info!(
        overall = report.overall_status.as_str(),
        differences = report.summary.differences_total,
        "compared"
    );
    if a.save {
        let root = Workspace::discover().root;
        let path = report.save(&root).map_err(fail)?;
        if format != Format::Quiet {
            output::eprintln_redacted(&format!("saved {}", path.display()));
        }
    }
    match format {
        Format::Json => output::print_json(&report.document()),
        Format::Human => print_text(&report.human(Style::stdout())),
        Format::Quiet => {}
    }
    let failed = match (a.fail_on, report.overall_status.severity()) {
        (Some(threshold), Some(worst)) => worst >= threshold.severity(),
        _ => false,
    };
    // The process ends here: freeing hundreds of thousands of small allocations one by one
    // would cost ~10% of a large run and achieve nothing the OS does not do at exit.
    std::mem::forget((source_env, target_env, report));
    Ok(if failed { exit::FAILED } else { exit::OK })
}

fn print_text(text: &str) {
    output::println_redacted(text.trim_end_matches('\n'));
}

fn env_side(args: EnvArgs, default_compose: bool) -> Result<Side, Failure> {
    let mut positional = args.path.map(|p| vec![p]).unwrap_or_default();
    if positional.is_empty() && args.side.files.is_empty() && default_compose {
        let root = Workspace::discover().root;
        positional.push(root.join("dev/compose.local.yaml"));
    }
    side_from(
        args.side.files,
        args.side.env_files,
        args.side.profiles,
        args.side.inherit_env,
        &mut positional.into_iter(),
        "",
    )
}

fn run_validate(a: EnvArgs) -> Result<u8, Failure> {
    let format = format_of(&a.output);
    let side = env_side(a, false)?;
    let env = side.load().map_err(fail)?;
    let findings = validate::validate(&env);
    let errors = findings.iter().filter(|f| f.severity == "error").count();
    match format {
        Format::Json => output::print_json(&output::document(
            "configuration_validation",
            json!({
                "environment": report::EnvironmentRef::from(&env),
                "valid": errors == 0,
                "services": env.services.len(),
                "findings": findings,
                "unset_variables": env.unset_variables,
            }),
        )),
        Format::Human => {
            let style = Style::stdout();
            let mut out = String::new();
            for f in &findings {
                let label = if f.severity == "error" {
                    style.red("error")
                } else {
                    style.yellow("warning")
                };
                out.push_str(&format!(
                    "{} {} {}  {}\n",
                    output::pad(&label, 8),
                    style.bold(f.service.as_deref().unwrap_or("-")),
                    f.message,
                    style.dim(&format!("[{}]", f.rule))
                ));
            }
            for u in &env.unset_variables {
                out.push_str(&format!(
                    "{} {} is not set ({})\n",
                    output::pad(&style.yellow("warning"), 8),
                    u.name,
                    u.file
                ));
            }
            let verdict = if errors == 0 {
                style.green("valid")
            } else {
                style.red("invalid")
            };
            out.push_str(&format!(
                "{verdict}: {} services, {errors} errors, {} warnings",
                env.services.len(),
                findings.len() - errors
            ));
            print_text(&out);
        }
        Format::Quiet => {}
    }
    Ok(if errors == 0 { exit::OK } else { exit::FAILED })
}

fn run_images(a: ImagesArgs) -> Result<u8, Failure> {
    let format = format_of(&a.env.output);
    let root = Workspace::discover().root;
    let digests_path = a
        .digests
        .clone()
        .unwrap_or_else(|| root.join("dev/IMAGE_DIGESTS"));
    let mut side = env_side(a.env, true)?;
    // Pins do not depend on credentials: check them without the secrets bundle, and check
    // the images of every profile, not only the active ones.
    side.lenient = true;
    if side.profiles.is_empty() {
        side.profiles = vec!["*".to_string()];
    }
    let pins = digests::parse(&digests_path).map_err(fail)?;
    let env = side.load().map_err(fail)?;
    let checks = digests::check(&env, &pins);
    let bad = checks
        .iter()
        .filter(|c| c.status == "missing" || c.status == "pinned_differently")
        .count();
    match format {
        Format::Json => output::print_json(&output::document(
            "image_digest_policy",
            json!({
                "digests_file": digests_path.display().to_string(),
                "environment": report::EnvironmentRef::from(&env),
                "compliant": bad == 0,
                "images": checks,
            }),
        )),
        Format::Human => {
            let style = Style::stdout();
            let width = checks.iter().map(|c| c.service.len()).max().unwrap_or(0);
            let mut out = String::new();
            for c in &checks {
                let label = match c.status {
                    "ok" => style.green("ok"),
                    "built_locally" => style.dim("built"),
                    other => style.red(other),
                };
                out.push_str(&format!(
                    "{} {} {}  {}\n",
                    output::pad(&label, 18),
                    output::pad(&c.service, width),
                    c.image,
                    style.dim(&c.message)
                ));
            }
            out.push_str(&format!(
                "{} images checked against {}: {bad} not pinned as listed",
                checks.len(),
                display_relative(&digests_path, &root)
            ));
            print_text(&out);
        }
        Format::Quiet => {}
    }
    Ok(if bad == 0 { exit::OK } else { exit::FAILED })
}

fn display_relative(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}
