//! `devenv`: the lifecycle scripts' way into devenv-core, so the workflow state machine and the
//! event format live in one place (Rust) instead of being re-implemented in bash.
//!
//! - `devenv state` prints the stage; `devenv state set STAGE --reason R` moves it (illegal
//!   transitions are refused with exit 2).
//! - `devenv event NAME key=value…` appends a redacted event to `.devenv/events.jsonl`.
//! - `devenv which NAME…` finds programs where distributions put them, even off PATH (the one
//!   lookup dev-status' preflight uses too); `--path` prints the directories it searches.
//! - `devenv pid record SERVICE PID` / `devenv pid check SERVICE`: pid files that remember the
//!   process's start time and executable, so a reused pid is never taken for a service.

use clap::{Parser, Subcommand};
use devenv_core::events::Event;
use devenv_core::exit;
use devenv_core::output::{self, Failure, Format};
use devenv_core::paths::Workspace;
use devenv_core::state::{Stage, WorkflowState};

#[derive(Debug, Parser)]
#[command(name = "devenv", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show or change the workflow stage in .devenv/state.json.
    State {
        #[command(subcommand)]
        action: Option<StateAction>,
        /// Print the whole state document as JSON.
        #[arg(long)]
        json: bool,
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
        bundle: Option<std::path::PathBuf>,
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
}

#[derive(Debug, Subcommand)]
enum PidAction {
    /// Record PID as SERVICE's process.
    Record { service: String, pid: u32 },
    /// Print SERVICE's pid when that very process is alive; exit 1 otherwise (never running,
    /// exited, or the pid now belongs to another process).
    Check { service: String },
}

#[derive(Debug, Subcommand)]
enum StateAction {
    /// Move to STAGE (uninitialized, provisioning, ready, stopped, failed).
    Set {
        stage: Stage,
        #[arg(long, default_value = "")]
        reason: String,
    },
}

pub fn run() -> std::process::ExitCode {
    devenv_core::logging::init(0);
    let cli = Cli::parse();
    output::finish(dispatch(cli))
}

fn dispatch(cli: Cli) -> Result<u8, Failure> {
    let ws = Workspace::discover();
    match cli.command {
        Command::State { action, json } => {
            let path = ws.state_file();
            let mut state = WorkflowState::load(&path).map_err(|e| Failure::from_coded(&e))?;
            if let Some(StateAction::Set { stage, reason }) = action {
                let from = state.stage;
                state
                    .transition(stage, &reason)
                    .map_err(|e| Failure::from_coded(&e))?;
                state.save(&path).map_err(|e| Failure::from_coded(&e))?;
                if from != stage {
                    Event::new("state", "stage_changed")
                        .field("from", from.as_str())
                        .field("to", stage.as_str())
                        .field("reason", reason)
                        .append_to(&ws.events_file());
                }
            }
            let format = Format::choose(json, false, false, Format::Human, Format::Human);
            if format == Format::Json {
                output::print_json(&output::document(
                    "state",
                    serde_json::to_value(&state).expect("state serialises"),
                ));
            } else {
                output::println_redacted(state.stage.as_str());
            }
            Ok(exit::OK)
        }
        Command::Event {
            name,
            fields,
            source,
        } => {
            // Who ran the script: the user's login, as every lifecycle event carries it.
            let actor = std::env::var("USER").unwrap_or_default();
            let mut event = Event::new(&source, &name).field("actor", actor);
            for field in fields {
                let (key, value) = field.split_once('=').ok_or_else(|| {
                    Failure::new(
                        exit::USAGE,
                        format!("`{field}` is not key=value — write fields as key=value"),
                    )
                })?;
                event = event.field(key, scalar(value));
            }
            event.append_to(&ws.events_file());
            Ok(exit::OK)
        }
        Command::Which { names, path } => {
            if path {
                let dirs = devenv_core::tools::search_dirs();
                let joined = std::env::join_paths(dirs).map_err(|e| {
                    Failure::new(
                        exit::USAGE,
                        format!("a search directory holds a ':' ({e}) — fix PATH"),
                    )
                })?;
                output::println_redacted(&joined.to_string_lossy());
                return Ok(exit::OK);
            }
            let mut missing = Vec::new();
            for name in &names {
                match devenv_core::tools::find(name) {
                    Some(found) => output::println_redacted(&found.display().to_string()),
                    None => missing.push(name.as_str()),
                }
            }
            if missing.is_empty() {
                Ok(exit::OK)
            } else {
                Err(Failure::new(
                    exit::FAILED,
                    format!(
                        "not found: {} (looked in PATH, /usr/sbin, /usr/lib/postgresql/*/bin and ~/.cargo/bin) — run `make setup`",
                        missing.join(", ")
                    ),
                ))
            }
        }
        Command::Summary { bundle } => {
            let path = match bundle {
                Some(path) => path,
                None => ws.bundle_path(devenv_core::paths::Mode::from_env().map_err(|e| {
                    Failure::new(exit::USAGE, format!("{e} — set MODE to local or remote"))
                })?),
            };
            let bundle = devenv_core::bundle::Bundle::read(&path).map_err(|e| {
                Failure::new(
                    exit::USAGE,
                    format!("{e} — run `make secrets-sync` (or `make up`)"),
                )
            })?;
            bundle.register_secrets();
            for line in summary_lines(&bundle, &path) {
                output::println_redacted(&line);
            }
            Ok(exit::OK)
        }
        Command::Json { fields } => {
            let object = json_object(&fields)?;
            output::println_redacted(&serde_json::Value::Object(object).to_string());
            Ok(exit::OK)
        }
        Command::Mode { bundle } => {
            let mode = devenv_core::paths::Mode::from_env().map_err(|e| {
                Failure::new(exit::USAGE, format!("{e} — set MODE to local or remote"))
            })?;
            if bundle {
                output::println_redacted(&ws.bundle_path(mode).display().to_string());
            } else {
                output::println_redacted(mode.as_str());
            }
            Ok(exit::OK)
        }
        Command::Pid { action } => match action {
            PidAction::Record { service, pid } => {
                devenv_core::pidfile::record(&ws.pid_file(&service), pid).map_err(|e| {
                    Failure::new(
                        exit::FAILED,
                        format!("{service}: cannot record pid {pid}: {e}"),
                    )
                })?;
                Ok(exit::OK)
            }
            PidAction::Check { service } => {
                match devenv_core::pidfile::live_pid(&ws.pid_file(&service)) {
                    Some(pid) => {
                        output::println_redacted(&pid.to_string());
                        Ok(exit::OK)
                    }
                    // Not running is an answer, not an error: exit 1 without a message.
                    None => Ok(exit::FAILED),
                }
            }
        },
    }
}

/// A script's `key=value` as JSON: numbers as numbers and true/false as booleans (bash has only
/// strings), everything else a string.
fn scalar(value: &str) -> serde_json::Value {
    if let Ok(n) = value.parse::<i64>() {
        return n.into();
    }
    if let Ok(x) = value.parse::<f64>()
        && x.is_finite()
        && value.contains('.')
    {
        return x.into();
    }
    match value {
        "true" => true.into(),
        "false" => false.into(),
        _ => value.into(),
    }
}

/// One line per service the bundle describes (profiles' services only when their keys are
/// there), URLs with their passwords masked: the redactor runs over every line as well.
fn summary_lines(bundle: &devenv_core::bundle::Bundle, path: &std::path::Path) -> Vec<String> {
    use devenv_core::redact::mask_url;
    let get = |k: &str| bundle.get(k).unwrap_or("");
    let mut rows: Vec<(&str, String)> = Vec::new();
    let mut add = |name: &'static str, keys: &[&str], text: String| {
        if keys
            .iter()
            .all(|k| bundle.get(k).is_some_and(|v| !v.is_empty()))
        {
            rows.push((name, text));
        }
    };
    add("postgres", &["DATABASE_URL"], mask_url(get("DATABASE_URL")));
    add("redis", &["REDIS_URL"], mask_url(get("REDIS_URL")));
    add(
        "nats",
        &["NATS_URL"],
        format!(
            "{} (user {}; monitor http://127.0.0.1:{})",
            mask_url(get("NATS_URL")),
            get("NATS_USER"),
            get("NATS_MONITOR_PORT")
        ),
    );
    add(
        "s3",
        &["S3_ENDPOINT"],
        format!(
            "{} (bucket {}, access key {})",
            get("S3_ENDPOINT"),
            get("S3_BUCKET"),
            get("S3_ACCESS_KEY")
        ),
    );
    add(
        "mock-inference",
        &["MOCK_INFERENCE_URL"],
        format!(
            "{} (model {})",
            get("MOCK_INFERENCE_URL"),
            get("MOCK_INFERENCE_MODEL")
        ),
    );
    add(
        "rabbitmq",
        &["RABBITMQ_URL"],
        format!(
            "{} (management {})",
            mask_url(get("RABBITMQ_URL")),
            mask_url(get("RABBITMQ_MANAGEMENT_URL"))
        ),
    );
    add(
        "vault",
        &["VAULT_ADDR"],
        format!("{} (role {})", get("VAULT_ADDR"), get("VAULT_ROLE_ID")),
    );
    rows.push((
        "credentials",
        format!("{} (mode 0600, git-ignored)", path.display()),
    ));
    rows.into_iter()
        .map(|(name, text)| format!("  {name:<15} {text}"))
        .collect()
}

/// The object `devenv json` prints (see its help for the field forms).
fn json_object(fields: &[String]) -> Result<serde_json::Map<String, serde_json::Value>, Failure> {
    use serde_json::Value;
    let mut object = serde_json::Map::new();
    for field in fields {
        let (key, value) = field.split_once('=').ok_or_else(|| {
            Failure::new(
                exit::USAGE,
                format!("`{field}` is not key=text, key:=json or key[]=text"),
            )
        })?;
        if let Some(key) = key.strip_suffix("[]") {
            let slot = object
                .entry(key.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(items) = slot else {
                return Err(Failure::new(
                    exit::USAGE,
                    format!("`{key}` is given both as a value and as an array"),
                ));
            };
            items.push(value.into());
        } else if let Some(key) = key.strip_suffix(':') {
            let parsed: Value = serde_json::from_str(value).map_err(|e| {
                Failure::new(
                    exit::USAGE,
                    format!("`{key}:=` needs a JSON value ({e}) — use `{key}=` for text"),
                )
            })?;
            object.insert(key.to_string(), parsed);
        } else {
            object.insert(key.to_string(), value.into());
        }
    }
    Ok(object)
}
