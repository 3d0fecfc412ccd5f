//! The command line: clap types and the default subcommand (`config-diff A B` means
//! `config-diff diff A B`). README.md documents every flag.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use devenv_core::output::OutputArgs;

use crate::rules::Severity;

#[derive(Debug, Parser)]
#[command(
    name = "config-diff",
    version,
    about = "Compare environments by their resolved compose model; grade every difference",
    after_help = "Exit codes: 0 ok · 1 differences at/above --fail-on, validation errors, unpinned images · 2 usage or malformed input"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub log: devenv_core::output::LogArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compare SOURCE with TARGET (the default subcommand)
    Diff(DiffArgs),
    /// Check one environment against the validation rules
    Validate(EnvArgs),
    /// Check every compose image against dev/IMAGE_DIGESTS
    Images(ImagesArgs),
    /// List the saved reports (diff --save), newest first: time, overall status, counts
    History(HistoryArgs),
    /// Print a shell completion script (bash, zsh or fish) on stdout.
    Completions {
        shell: devenv_core::completions::Shell,
    },
}

/// The flags of one side (compose files, env files, profiles), declared once for the source
/// side (`-f/--file`, `--env-file`, `--profile`) and the target side (`-F/--target-file`, …).
macro_rules! side_flags {
    (
        $name:ident { $short:literal $file:literal: $file_help:literal,
        $env_file:literal: $env_help:literal, $profile:literal: $profile_help:literal, }
        $($extra:tt)*
    ) => {
        #[derive(Debug, Args)]
        pub struct $name {
            #[arg(id = $file, short = $short, long = $file, value_name = "FILE", help = $file_help)]
            pub files: Vec<PathBuf>,
            #[arg(id = $env_file, long = $env_file, value_name = "FILE", help = $env_help)]
            pub env_files: Vec<PathBuf>,
            #[arg(id = $profile, long = $profile, value_name = "NAME", help = $profile_help)]
            pub profiles: Vec<String>,
            $($extra)*
        }
    };
}

side_flags! {
    SideArgs {
        'f' "file": "Compose file of the source side (repeat to merge, like `docker compose -f`)",
        "env-file": "Env file used for interpolation on the source side (repeatable; later wins)",
        "profile": "Active profile on the source side (default: COMPOSE_PROFILES from the env files)",
    }
    /// Also interpolate with this process's environment variables (as compose does)
    #[arg(long)]
    pub inherit_env: bool,
}

side_flags! {
    TargetArgs {
        'F' "target-file": "Compose file of the target side (repeatable)",
        "target-env-file": "Env file of the target side (repeatable)",
        "target-profile": "Active profile on the target side",
    }
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub source: SideArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// SOURCE and/or TARGET: a compose file or an EnvironmentConfiguration description.
    /// Positional paths fill the sides not given by -f / -F, source first.
    #[arg(value_name = "SOURCE|TARGET", num_args = 0..=2)]
    pub paths: Vec<PathBuf>,
    /// Rules file overriding the default grading
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Baseline of expected differences (reported as accepted)
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Also keep the JSON report as <timestamp>.json and latest.json in the reports directory
    #[arg(long)]
    pub save: bool,
    /// The reports directory for --save (implies --save) [default: <workspace>/reports/config-diffs]
    #[arg(long, value_name = "DIR")]
    pub save_dir: Option<PathBuf>,
    /// With --save: keep only the newest N reports in the directory
    #[arg(long, value_name = "N", default_value_t = crate::archive::DEFAULT_KEEP,
          value_parser = clap::value_parser!(usize))]
    pub keep: usize,
    /// Exit 1 when the overall status is at or above this severity
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FailOn {
    Minor,
    Major,
    Incompatible,
}

impl FailOn {
    pub fn severity(self) -> Severity {
        match self {
            FailOn::Minor => Severity::Minor,
            FailOn::Major => Severity::Major,
            FailOn::Incompatible => Severity::Incompatible,
        }
    }
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The reports directory [default: <workspace>/reports/config-diffs]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// A compose file or an EnvironmentConfiguration description
    #[arg(value_name = "ENV")]
    pub path: Option<PathBuf>,
    #[command(flatten)]
    pub side: SideArgs,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    #[command(flatten)]
    pub env: EnvArgs,
    /// The pin list (default: dev/IMAGE_DIGESTS of the workspace)
    #[arg(long, value_name = "FILE")]
    pub digests: Option<PathBuf>,
}

const SUBCOMMANDS: &[&str] = &[
    "diff",
    "history",
    "validate",
    "images",
    "completions",
    "help",
    "-h",
    "--help",
    "-V",
    "--version",
];

/// A global flag that may come before the subcommand and takes no value.
fn is_global_flag(arg: &str) -> bool {
    matches!(arg, "--json" | "--human" | "--quiet" | "--verbose")
        || arg
            .strip_prefix('-')
            .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b == b'q' || b == b'v'))
}

/// `diff` is the default subcommand: inserts it after the program name unless the first
/// argument that is not a global flag (`-v`, `--json`, …) names a subcommand, so
/// `config-diff -v validate f` stays `validate` and `config-diff -v a b` becomes `diff -v a b`.
pub fn with_default_subcommand(mut args: Vec<OsString>) -> Vec<OsString> {
    let names_subcommand = args
        .iter()
        .skip(1)
        .map(|a| a.to_str())
        .find(|a| !a.is_some_and(is_global_flag))
        .flatten()
        .is_some_and(|a| SUBCOMMANDS.contains(&a));
    if !names_subcommand {
        args.insert(1.min(args.len()), "diff".into());
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(args: &[&str]) -> Vec<String> {
        let args = args.iter().map(OsString::from).collect();
        with_default_subcommand(args)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn a_global_flag_before_the_subcommand_keeps_it() {
        assert_eq!(
            rewrite(&["c", "-v", "validate", "f"]),
            ["c", "-v", "validate", "f"]
        );
        assert_eq!(
            rewrite(&["c", "--json", "-vv", "images"]),
            ["c", "--json", "-vv", "images"]
        );
        assert_eq!(
            rewrite(&["c", "-v", "a", "b"]),
            ["c", "diff", "-v", "a", "b"]
        );
        assert_eq!(rewrite(&["c", "a", "b"]), ["c", "diff", "a", "b"]);
        assert_eq!(
            rewrite(&["c", "-f", "validate"]),
            ["c", "diff", "-f", "validate"]
        );
        assert_eq!(rewrite(&["c"]), ["c", "diff"]);
    }
}
