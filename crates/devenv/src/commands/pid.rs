//! `devenv pid record SERVICE PID` / `devenv pid check SERVICE` / `devenv pid signal stop|cont`.

use devenv_core::exit;
use devenv_core::output::{self, Failure};
use devenv_core::paths::Workspace;

use rustix::process::{Pid, Signal};

use crate::cli::{PauseSignal, PidAction};

pub fn run(ws: &Workspace, action: PidAction) -> Result<u8, Failure> {
    match action {
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
        PidAction::Signal { signal, services } => signal_services(ws, signal, &services),
    }
}

/// SIGSTOP / SIGCONT to each service's process tree: the recorded process first (so it starts
/// no new child meanwhile), then its descendants.
fn signal_services(ws: &Workspace, signal: PauseSignal, only: &[String]) -> Result<u8, Failure> {
    let sig = match signal {
        PauseSignal::Stop => Signal::STOP,
        PauseSignal::Cont => Signal::CONT,
    };
    let mut services = ws.own_pids();
    services.sort();
    services.retain(|(name, _)| only.is_empty() || only.contains(name));
    if services.is_empty() {
        output::eprintln_redacted("no service is running (no live pid file in .devenv/run/)");
        return Ok(exit::FAILED);
    }
    let parents = parent_map();
    for (service, pid) in services {
        let tree = tree_of(pid, &parents);
        for p in &tree {
            if let Some(p) = i32::try_from(*p).ok().and_then(Pid::from_raw) {
                rustix::process::kill_process(p, sig).map_err(|e| {
                    Failure::new(
                        exit::FAILED,
                        format!("{service}: cannot signal pid {p:?}: {e} — is it yours?"),
                    )
                })?;
            }
        }
        let pids: Vec<String> = tree.iter().map(u32::to_string).collect();
        output::println_redacted(&format!("{service} {}", pids.join(" ")));
    }
    Ok(exit::OK)
}

/// Every process's parent, from /proc/PID/stat.
fn parent_map() -> Vec<(u32, u32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // The command name may hold spaces and parentheses: the fields follow the last `)`.
            let rest = &stat[stat.rfind(')')? + 2..];
            let ppid: u32 = rest.split(' ').nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect()
}

/// `root` and all its descendants, parents before children.
fn tree_of(root: u32, parents: &[(u32, u32)]) -> Vec<u32> {
    let mut tree = vec![root];
    let mut n = 0;
    while n < tree.len() {
        let parent = tree[n];
        tree.extend(
            parents
                .iter()
                .filter(|(pid, ppid)| *ppid == parent && !tree.contains(pid))
                .map(|(pid, _)| *pid)
                .collect::<Vec<_>>(),
        );
        n += 1;
    }
    tree
}
