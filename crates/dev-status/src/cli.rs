//! Command line of `dev-status`. Other scripts rely on these flags (`scripts/dev/up.sh`,
//! `scripts/dev/status.sh`); README.md documents them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use devenv_core::output::OutputArgs;
use devenv_core::paths::Mode;

#[derive(Debug, Parser)]
#[command(
    name = "dev-status",
    version,
    about = "Health of the devenv dependency suite: every check speaks its protocol",
    after_help = "Exit codes: 0 healthy (degraded allowed unless --strict), 1 unhealthy, \
                  2 bad configuration, 4 --wait timed out. history: 1 no history yet."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub check: CheckArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub log: devenv_core::output::LogArgs,
}

#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    /// The secrets bundle to read [default: <workspace>/.env.local, or .env.linode with --mode remote].
    #[arg(long, value_name = "PATH", env = "DEVENV_ENV_FILE", global = true)]
    pub env_file: Option<PathBuf>,

    /// Which bundle to read when --env-file is not given [default: MODE, else DEVENV_MODE, else local].
    #[arg(long, value_enum, global = true)]
    pub mode: Option<Mode>,

    /// Extra HTTP checks and per-component thresholds [default: <workspace>/configs/health.yaml if present].
    #[arg(long, value_name = "PATH", env = "DEVENV_HEALTH_CONFIG")]
    pub config: Option<PathBuf>,

    /// Poll until every component is ready, printing a line as each one becomes ready.
    #[arg(long)]
    pub wait: bool,

    /// With --wait (and `bucket`): give up after this many seconds (exit 4).
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0, global = true)]
    pub timeout: f64,

    /// Re-check every N seconds until interrupted.
    #[arg(long, value_name = "N", conflicts_with = "wait")]
    pub watch: Option<f64>,

    /// With --watch: stop after this many refreshes.
    #[arg(long, value_name = "COUNT", requires = "watch")]
    pub count: Option<u64>,

    /// Check only these components (comma separated).
    #[arg(long, value_delimiter = ',', value_name = "a,b")]
    pub only: Vec<String>,

    /// Do not check these components (comma separated).
    #[arg(long, value_delimiter = ',', value_name = "c")]
    pub skip: Vec<String>,

    /// Treat degraded as a failure (exit 1).
    #[arg(long)]
    pub strict: bool,

    /// Answers slower than this are `degraded` [default: 2000, or the component's `threshold_ms`].
    #[arg(long, value_name = "N")]
    pub threshold_ms: Option<u64>,

    /// A probe still unanswered after this long is `unhealthy`/`timeout` [default: the threshold].
    #[arg(long, value_name = "N")]
    pub probe_timeout_ms: Option<u64>,
}

impl CheckArgs {
    /// `--mode`, else the one rule of devenv-core (`MODE`, else `DEVENV_MODE`, else local);
    /// a bad variable is an error naming it.
    pub fn mode(&self) -> Result<Mode, String> {
        self.mode.map_or_else(Mode::from_env, Ok)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Can this machine run the stack? CPU, memory, disk, Docker, binaries, ports.
    Preflight,
    /// Create the bundle's S3_BUCKET unless it exists (what `make up` runs; idempotent). Waits
    /// up to --timeout seconds for a starting S3 server; exit 5 when it refuses us.
    Bucket,
    /// Ship the events appended to .devenv/events.jsonl since the last shipment to Loki
    /// (DEVENV_LOKI_URL; nothing without it), each exactly once: scripts call it after
    /// recording an event.
    ShipEvents,
    /// Summarise the recorded health checks (.devenv/health/) per service: checks,
    /// availability, latency p50/p95/max and state changes. Human output unless --json.
    History(HistoryArgs),
    /// Print a shell completion script (bash, zsh or fish) on stdout.
    Completions {
        shell: devenv_core::completions::Shell,
    },
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only this service (a component name: redis, postgres, an HTTP check's name…).
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,

    /// Only checks from the last DURATION (30m, 1h, 7d) or since an RFC 3339 time.
    #[arg(long, value_name = "DURATION|TIME")]
    pub since: Option<String>,
}
