//! `devenv lock [--timeout S] [--label L] -- CMD…`: one lifecycle command at a time per workspace.
//!
//! The lock is `flock(2)` on `.devenv/lifecycle.lock`, held by this process (opened close-on-exec,
//! so the servers a script starts never inherit it) for as long as CMD runs. The kernel drops it
//! when the holder dies, however it dies: a lock left by a killed command is taken over at once.
//! Beside it, `.devenv/lifecycle.lock.holder` names the holder (pid, command, since) so a waiter
//! can say whom it waits for; the new holder rewrites it, so a stale record never outlives its
//! lock. CMD runs with `DEVENV_LOCK_HELD=1`, which the scripts read to skip taking it again
//! (`restart` runs `stop` and `up` under one lock), and `DEVENV_COMMAND=<label>`, which
//! `devenv state set` records as the command of each transition CMD makes.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use devenv_core::exit;
use devenv_core::output::{self, Failure};
use devenv_core::paths::Workspace;

use crate::cli::LockArgs;

/// The holder's label for what CMD runs (`make up`): `devenv state set` records it as the
/// command of the transitions CMD makes.
pub const COMMAND_ENV: &str = "DEVENV_COMMAND";

/// How often a waiter retries: the lock is held for seconds, a 100 ms poll costs nothing.
const POLL: Duration = Duration::from_millis(100);

pub fn lock_file(ws: &Workspace) -> PathBuf {
    ws.state_dir().join("lifecycle.lock")
}

fn holder_file(ws: &Workspace) -> PathBuf {
    ws.state_dir().join("lifecycle.lock.holder")
}

pub fn run(ws: &Workspace, args: &LockArgs) -> Result<u8, Failure> {
    let label = args.label.clone().unwrap_or_else(|| args.cmd.join(" "));
    let _held = acquire(ws, &label, Duration::from_secs(args.timeout))?;
    let status = std::process::Command::new(&args.cmd[0])
        .args(&args.cmd[1..])
        .env("DEVENV_LOCK_HELD", "1")
        .env(COMMAND_ENV, &label)
        .status()
        .map_err(|e| {
            Failure::new(
                exit::USAGE,
                format!("cannot run `{}`: {e} — check the command", args.cmd[0]),
            )
        })?;
    let _ = std::fs::remove_file(holder_file(ws));
    Ok(exit_code_of(status))
}

/// The child's exit code; a signal becomes 128 + its number, as a shell reports it.
fn exit_code_of(status: std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(exit::FAILED),
        (None, Some(sig)) => u8::try_from(128 + sig).unwrap_or(exit::FAILED),
        _ => exit::FAILED,
    }
}

/// The lock, held until the returned file is dropped.
/// How long a waiter waits for the holder's record before it announces an unnamed holder.
const ANNOUNCE_UNRECORDED_AFTER: Duration = Duration::from_millis(500);

pub fn acquire(ws: &Workspace, label: &str, timeout: Duration) -> Result<File, Failure> {
    let path = lock_file(ws);
    std::fs::create_dir_all(ws.state_dir()).map_err(|e| io_failure(&path, &e))?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_failure(&path, &e))?;
    let started = Instant::now();
    let mut announced = false;
    loop {
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => break,
            Err(rustix::io::Errno::WOULDBLOCK) => {}
            Err(e) => return Err(io_failure(&path, &e.into())),
        }
        let holder = describe_holder(&holder_file(ws));
        if started.elapsed() >= timeout {
            return Err(Failure::new(
                exit::TIMEOUT,
                format!(
                    "timed out after {}s waiting for the lifecycle lock ({}) held by {holder} — let it finish (or stop it), or wait longer with DEVENV_LOCK_TIMEOUT=SECONDS",
                    timeout.as_secs(),
                    path.display()
                ),
            ));
        }
        // The holder records itself just after it takes the lock: give it a moment, so the
        // message names it instead of "no holder recorded yet".
        let recorded = read_holder(&holder_file(ws)).is_some();
        if !announced && (recorded || started.elapsed() >= ANNOUNCE_UNRECORDED_AFTER) {
            let holder = describe_holder(&holder_file(ws));
            output::eprintln_redacted(&format!(
                "waiting for the lifecycle lock: held by {holder} (up to {}s, DEVENV_LOCK_TIMEOUT)",
                timeout.as_secs()
            ));
            announced = true;
        }
        std::thread::sleep(POLL);
    }
    let holder = holder_file(ws);
    if let Some((pid, cmd)) = read_holder(&holder)
        && devenv_core::pidfile::identity(pid).is_none()
    {
        output::eprintln_redacted(&format!(
            "taking over the lifecycle lock left by pid {pid} (`{cmd}`), which is no longer running"
        ));
    }
    let record = format!(
        "pid {}\ncommand {label}\nsince {}\n",
        std::process::id(),
        devenv_core::ids::now_rfc3339()
    );
    let tmp = holder.with_extension("holder.tmp");
    std::fs::write(&tmp, record)
        .and_then(|()| std::fs::rename(&tmp, &holder))
        .map_err(|e| io_failure(&holder, &e))?;
    Ok(file)
}

fn read_holder(path: &Path) -> Option<(u32, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut pid = None;
    let mut cmd = String::new();
    for line in text.lines() {
        match line.split_once(' ') {
            Some(("pid", v)) => pid = v.trim().parse().ok(),
            Some(("command", v)) => cmd = v.to_string(),
            _ => {}
        }
    }
    Some((pid?, cmd))
}

fn describe_holder(path: &Path) -> String {
    match read_holder(path) {
        Some((pid, cmd)) => format!("pid {pid} (`{cmd}`)"),
        None => "another process (no holder recorded yet)".to_string(),
    }
}

fn io_failure(path: &Path, e: &std::io::Error) -> Failure {
    Failure::new(
        exit::USAGE,
        format!(
            "cannot use the lifecycle lock {}: {e} — check that .devenv/ is writable",
            path.display()
        ),
    )
}
