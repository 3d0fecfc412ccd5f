//! The command line: every subcommand and its flags. The work is in [`crate::commands`].

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use devenv_core::state::{Stage, Trigger};

#[derive(Debug, Parser)]
#[command(name = "devenv", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show or change the workflow stage in .devenv/state.json: the stage and its timeline on a
    /// terminal (or with --human), the stage alone through a pipe, the state document with
    /// --json.
    State {
        #[command(subcommand)]
        action: Option<StateAction>,
        /// Print the state document (versioned JSON).
        #[arg(long, conflicts_with = "human")]
        json: bool,
        /// The stage and its timeline even when stdout is not a terminal.
        #[arg(long)]
        human: bool,
    },
    /// Local CI/CD pipelines: the stages of configs/pipeline.yaml, each run recorded under
    /// .devenv/pipelines/.
    Pipeline {
        #[command(subcommand)]
        action: PipelineAction,
    },
    /// Append an event to .devenv/events.jsonl.
    Event {
        /// Event name, e.g. `up_finished`.
        name: String,
        /// Fields as key=value.
        fields: Vec<String>,
        /// The component emitting it.
        #[arg(long, default_value = "scripts")]
        source: String,
    },
    /// Print where each program is (PATH, /usr/sbin, PostgreSQL's bin, ~/.cargo/bin); exit 1
    /// when one is missing.
    Which {
        /// Program names, e.g. `nats-server initdb`.
        #[arg(required_unless_present = "path")]
        names: Vec<String>,
        /// Print the search path (colon-separated), for scripts that extend PATH with it.
        #[arg(long, conflicts_with = "names")]
        path: bool,
    },
    /// Print every service of the bundle with its URL, passwords masked (what `make up` ends
    /// with); the bundle of the current mode unless --bundle names one.
    Summary {
        #[arg(long)]
        bundle: Option<PathBuf>,
    },
    /// Print one JSON object built from fields, so scripts never hand-build JSON:
    /// `key=text` (a string), `key:=json` (a JSON value, checked), `key[]=text` (appended to an
    /// array of strings).
    Json {
        #[arg(required = true)]
        fields: Vec<String>,
    },
    /// The mode every tool uses (MODE, else DEVENV_MODE, else local); `--bundle` prints the
    /// bundle path of that mode instead.
    Mode {
        #[arg(long)]
        bundle: bool,
    },
    /// Pid files under .devenv/run/ that know their process (start time and executable).
    Pid {
        #[command(subcommand)]
        action: PidAction,
    },
    /// Every service's log (.devenv/logs/*.log) interleaved as lines arrive, each prefixed with
    /// its service (coloured on a terminal unless NO_COLOR is set).
    Logs(LogsArgs),
    /// Consistent copies of the services' data under .devenv/snapshots/NAME/.
    Snapshot {
        #[command(subcommand)]
        action: SnapshotAction,
    },
    /// Run CMD holding the workspace's lifecycle lock (.devenv/lifecycle.lock): a second
    /// lifecycle command waits, saying who holds it; exit 4 after --timeout.
    Lock(LockArgs),
    /// Print COUNT distinct loopback ports nothing listens on, one per line, from below the
    /// kernel's ephemeral range (nothing else takes them before their server binds), for the
    /// servers of end-to-end tests and benchmarks; exit 1 when too few are free.
    FreePorts {
        #[arg(default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
        count: u16,
    },
    /// Print shell completions for devenv.
    Completions {
        shell: devenv_core::completions::Shell,
    },
}

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Only these services (comma separated), e.g. `redis,postgres`.
    #[arg(long, value_delimiter = ',')]
    pub service: Vec<String>,
    /// Start this far back (e.g. `10m`, `2h`): lines stamped earlier are skipped.
    #[arg(long)]
    pub since: Option<String>,
    /// Start with the last N lines of each log [default: 10; with --since, every line since then].
    #[arg(long)]
    pub lines: Option<usize>,
    /// Keep following (the default); `--follow 0` prints and exits.
    #[arg(long, default_value = "1", value_parser = parse_bool, action = clap::ArgAction::Set)]
    pub follow: bool,
    /// How often the files are polled, in milliseconds.
    #[arg(long, default_value_t = 50, hide = true)]
    pub poll_ms: u64,
}

fn parse_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "true" | "yes" | "" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        other => Err(format!("`{other}` is not 0/1/true/false")),
    }
}

#[derive(Debug, Subcommand)]
pub enum SnapshotAction {
    /// Snapshot the native services' data as NAME.
    Create {
        name: String,
        /// Services to include (comma separated) [default: postgres,redis,s3 — those with data].
        #[arg(long, value_delimiter = ',')]
        services: Vec<String>,
        /// The script that stops/starts one service: `CTL stop SVC`, `CTL start SVC`.
        #[arg(long)]
        ctl: PathBuf,
        /// Replace an existing snapshot of that name.
        #[arg(long)]
        force: bool,
    },
    /// Verify NAME, then restore it into the live data, one service at a time.
    Restore {
        name: String,
        #[arg(long)]
        ctl: PathBuf,
    },
    /// Every snapshot: name, age, size, services.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Check NAME against its manifest without touching anything (exit 3 when it does not match).
    Verify { name: String },
}

#[derive(Debug, clap::Args)]
pub struct LockArgs {
    /// Give up waiting after this many seconds (exit 4).
    #[arg(long, env = "DEVENV_LOCK_TIMEOUT", default_value_t = 300)]
    pub timeout: u64,
    /// What to record as the holder's command (default: CMD itself).
    #[arg(long)]
    pub label: Option<String>,
    /// The command to run while holding the lock.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum PidAction {
    /// Record PID as SERVICE's process.
    Record { service: String, pid: u32 },
    /// Print SERVICE's pid when that very process is alive; exit 1 otherwise (never running,
    /// exited, or the pid now belongs to another process).
    Check { service: String },
    /// Send SIGNAL to every recorded service's process and all its descendants (PostgreSQL's
    /// backends too): `stop` freezes the stack (`make pause`), `cont` resumes it. Prints each
    /// service with its pids; exit 1 when no service runs.
    Signal {
        signal: PauseSignal,
        /// Only these services [default: every one with a live pid file].
        services: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PauseSignal {
    /// SIGSTOP.
    Stop,
    /// SIGCONT.
    Cont,
}

#[derive(Debug, Subcommand)]
pub enum StateAction {
    /// Move to STAGE (uninitialized, provisioning, ready, active_development, testing,
    /// debugging, paused, stopped, failed); an illegal move exits 2.
    Set {
        stage: Stage,
        /// Free-text context recorded with the transition.
        #[arg(long, default_value = "")]
        reason: String,
        /// What caused it [default: failure into failed/debugging, automatic for provisioning →
        /// ready|stopped and testing → active_development, else manual].
        #[arg(long, env = "DEVENV_TRIGGER", value_enum)]
        trigger: Option<Trigger>,
        /// The command that caused it [default: the lifecycle lock's label, else this command].
        #[arg(long, env = "DEVENV_COMMAND")]
        command: Option<String>,
        /// The task being worked on, e.g. `ABC-123 fix the login` (active_development only).
        #[arg(long)]
        task: Option<String>,
    },
    /// A test run starts: testing, when `make up` brought the stack up (ready,
    /// active_development, debugging); otherwise nothing changes.
    TestStarted {
        /// The command running the tests.
        #[arg(
            long,
            env = "DEVENV_COMMAND",
            default_value = "devenv state test-started"
        )]
        command: String,
    },
    /// A test run ended: from testing, active_development when it passed (recording
    /// last_successful_test_run), debugging when it failed; from any other stage, nothing.
    TestFinished {
        #[arg(long, value_enum)]
        result: TestResult,
        /// The command running the tests.
        #[arg(
            long,
            env = "DEVENV_COMMAND",
            default_value = "devenv state test-finished"
        )]
        command: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TestResult {
    Passed,
    Failed,
}

#[derive(Debug, Subcommand)]
pub enum PipelineAction {
    /// Run the stages of the pipeline file in order; exit 1 when a stage fails.
    Run(PipelineRunArgs),
    /// Every recorded run, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One recorded run: its stages, logs and artifacts.
    Show {
        /// The run's id (`devenv pipeline list` shows them); `latest` for the newest.
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct PipelineRunArgs {
    /// The pipeline file [default: configs/pipeline.yaml of the workspace].
    #[arg(long, env = "PIPELINE_CONFIG")]
    pub config: Option<PathBuf>,
    /// What started the run.
    #[arg(long, value_enum, default_value = "manual")]
    pub trigger: RunTrigger,
    /// The command recorded with the workflow transitions.
    #[arg(long, env = "DEVENV_COMMAND", default_value = "devenv pipeline run")]
    pub command: String,
    /// Print the run record (versioned JSON) at the end instead of the human summary.
    #[arg(long)]
    pub json: bool,
}

/// Seed 001's PipelineRun.trigger.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    Manual,
    GitPush,
    PrValidation,
    Scheduled,
}
