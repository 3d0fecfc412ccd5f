//! One attempt of one stage: its dependencies checked healthy by `dev-status`, then its command
//! run by bash in a process group of its own, output appended to the stage's logs, the whole
//! group killed at the timeout (SIGTERM, then SIGKILL after a grace period).

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use devenv_core::paths::Workspace;

use super::config::StageSpec;

/// How long a timed-out stage's group has between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(20);

pub struct LogFiles {
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl LogFiles {
    fn open(path: &Path) -> std::io::Result<File> {
        OpenOptions::new().create(true).append(true).open(path)
    }

    /// A line in both logs (`── attempt 2 of 3`), so retries are told apart.
    pub fn mark(&self, line: &str) {
        for path in [&self.stdout, &self.stderr] {
            if let Ok(mut f) = Self::open(path) {
                let _ = writeln!(f, "{line}");
            }
        }
    }

    /// The last `n` lines of both logs, for the failure message.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let mut lines = Vec::new();
        for path in [&self.stdout, &self.stderr] {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            lines.extend(
                all[all.len().saturating_sub(n)..]
                    .iter()
                    .map(|l| l.to_string()),
            );
        }
        lines
    }
}

pub struct Outcome {
    /// None when the timeout killed it.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.exit_code == Some(0)
    }
}

fn code_of(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

fn spawn(mut command: Command, logs: &LogFiles) -> std::io::Result<Child> {
    command
        .stdin(Stdio::null())
        .stdout(LogFiles::open(&logs.stdout)?)
        .stderr(LogFiles::open(&logs.stderr)?);
    command.spawn()
}

/// `dev-status` beside this binary (cargo and `make build` put them together), else on the
/// search path.
fn dev_status() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("dev-status")))
        .filter(|p| p.is_file())
        .or_else(|| devenv_core::tools::find("dev-status"))
        .unwrap_or_else(|| PathBuf::from("dev-status"))
}

/// Checks the stage's services healthy (`dev-status --only a,b --human`, output in the stage's
/// logs): None when healthy, else why not.
pub fn check_dependencies(ws: &Workspace, spec: &StageSpec, logs: &LogFiles) -> Option<String> {
    if spec.depends_on.is_empty() {
        return None;
    }
    let only = spec.depends_on.join(",");
    logs.mark(&format!("── dev-status --only {only}"));
    let mut command = Command::new(dev_status());
    command
        .args(["--only", &only, "--human"])
        .env("DEVENV_ROOT", &ws.root)
        .current_dir(&ws.root);
    match spawn(command, logs).and_then(|mut c| c.wait()) {
        Ok(status) if status.success() => None,
        Ok(status) => Some(format!(
            "not run: its services ({only}) are not healthy (dev-status exit {}) — `make \
             status` says why; `make up` starts them",
            code_of(status)
        )),
        Err(e) => Some(format!(
            "not run: cannot run dev-status to check {only}: {e} — run `make build`"
        )),
    }
}

/// Runs the stage's command once, killing its process group at the timeout.
pub fn run_once(
    ws: &Workspace,
    spec: &StageSpec,
    logs: &LogFiles,
    env: &[(&str, &str)],
) -> std::io::Result<Outcome> {
    let mut command = Command::new("bash");
    command
        .args(["-c", &spec.command])
        .current_dir(&ws.root)
        .env("DEVENV_ROOT", &ws.root)
        .envs(env.iter().copied())
        .process_group(0);
    let mut child = spawn(command, logs)?;
    let deadline = Instant::now() + spec.timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Outcome {
                exit_code: Some(code_of(status)),
                timed_out: false,
            });
        }
        if Instant::now() >= deadline {
            kill_group(&mut child);
            return Ok(Outcome {
                exit_code: None,
                timed_out: true,
            });
        }
        std::thread::sleep(POLL);
    }
}

/// SIGTERM to the whole group; SIGKILL to what is left after [`GRACE`]; the leader reaped.
fn kill_group(child: &mut Child) {
    let Some(pgid) = i32::try_from(child.id()).ok().and_then(Pid::from_raw) else {
        return;
    };
    let _ = rustix::process::kill_process_group(pgid, Signal::TERM);
    let until = Instant::now() + GRACE;
    while Instant::now() < until {
        let _ = child.try_wait();
        if rustix::process::test_kill_process_group(pgid).is_err() {
            break;
        }
        std::thread::sleep(POLL);
    }
    let _ = rustix::process::kill_process_group(pgid, Signal::KILL);
    let _ = child.wait();
}
