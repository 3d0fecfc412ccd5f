//! The command line: clap types only.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use devenv_core::duration;
use devenv_core::output::OutputArgs;

#[derive(Debug, Parser)]
#[command(name = "migrate-ledger", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    #[command(flatten)]
    pub(crate) global: Global,
}

#[derive(Debug, Args)]
pub(crate) struct Global {
    /// PostgreSQL URL; else $DATABASE_URL; else DATABASE_URL from the bundle (.env.local).
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Directory of NNN_description.sql files [default: <workspace>/migrations].
    #[arg(long, global = true)]
    pub dir: Option<PathBuf>,
    /// Directory of seed files [default: <dir>/seeds].
    #[arg(long, global = true)]
    pub seeds_dir: Option<PathBuf>,
    /// JSON copy of the migration ledger [default: <workspace>/.devenv/migration-ledger.json].
    #[arg(long, global = true)]
    pub ledger_json: Option<PathBuf>,
    /// JSON copy of the seed ledger [default: <workspace>/.devenv/seed-ledger.json].
    #[arg(long, global = true)]
    pub seed_ledger_json: Option<PathBuf>,
    /// How long to wait for the migration lock (e.g. 500ms, 30s, 2m); then exit 4.
    #[arg(long, global = true, default_value = "60s", value_parser = duration::parse_flag)]
    pub lock_timeout: Duration,
    /// How long to retry while the database is still starting (0: fail at once, exit 5).
    #[arg(long, global = true, default_value = "0", value_parser = duration::parse_flag)]
    pub wait_timeout: Duration,
    // `--json`, `--human` (the default), `--quiet` (nothing but errors, the path `new`
    // created, and where a generated admin password was kept).
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub log: devenv_core::output::LogArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Apply pending migrations, each in its own transaction.
    Up(UpArgs),
    /// Applied / pending / changed / in-doubt files.
    Status(TrackArg),
    /// Reconcile files, the ledger table and the JSON ledger; say which differ.
    Verify(TrackArg),
    /// Create the next numbered migration file.
    New {
        /// What the migration does, e.g. add_invoices.
        name: String,
        /// Create a seed file instead.
        #[arg(long)]
        seeds: bool,
    },
    /// Apply pending seed files (migrations/seeds/), tracked in schema_seeds.
    Seed(SeedArgs),
    /// Record an audited acceptance of an applied file whose checksum changed.
    Repair {
        /// The applied file whose current content is accepted.
        #[arg(long, value_name = "FILE")]
        accept: String,
        /// Why (stored in the audit table).
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        track: TrackArg,
    },
    /// Settle an in-doubt no-transaction file.
    Resolve {
        /// It took effect: record it as applied.
        #[arg(
            long,
            value_name = "FILE",
            conflicts_with = "failed",
            required_unless_present = "failed"
        )]
        applied: Option<String>,
        /// It did not take effect (or was undone): forget it, so `up` runs it again.
        #[arg(long, value_name = "FILE")]
        failed: Option<String>,
        /// Why (stored in the audit table).
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        track: TrackArg,
    },
    /// Print a shell completion script (bash, zsh or fish) on stdout.
    Completions {
        shell: devenv_core::completions::Shell,
    },
}

impl Command {
    /// The name events use (`<name>_failed`).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Up(_) => "up",
            Command::Status(_) => "status",
            Command::Verify(_) => "verify",
            Command::New { .. } => "new",
            Command::Seed(_) => "seed",
            Command::Repair { .. } => "repair",
            Command::Resolve { .. } => "resolve",
            Command::Completions { .. } => "completions",
        }
    }
}

#[derive(Debug, Args, Clone)]
pub(crate) struct TrackArg {
    /// Work on the seed files (schema_seeds) instead of the migrations.
    #[arg(long)]
    pub seeds: bool,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct ApplyFlags {
    /// Show what would be applied; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Accept gaps in the numbering and new files below the highest applied one.
    #[arg(long)]
    pub allow_out_of_order: bool,
    /// Go on when applied files changed only in formatting (line endings, whitespace, BOM).
    #[arg(long)]
    pub accept_formatting: bool,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct UpArgs {
    #[command(flatten)]
    pub flags: ApplyFlags,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct SeedArgs {
    #[command(flatten)]
    pub flags: ApplyFlags,
    /// Model the seeded default mapping points at.
    #[arg(long, env = "MOCK_INFERENCE_MODEL")]
    pub model: Option<String>,
    /// E-mail of the seeded system admin.
    #[arg(long, default_value = "admin@devenv.local")]
    pub admin_email: String,
    /// Where a generated admin password is kept (a 0600 dotenv file; it is never printed)
    /// [default: <workspace>/.devenv/admin-credentials.env].
    #[arg(long)]
    pub admin_credentials: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
