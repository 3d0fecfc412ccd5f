//! Pid files that cannot point at a stranger. A native service's pid file records the pid, the
//! process's start time (`/proc/PID/stat` field 22, clock ticks since boot) and its executable.
//! After a reboot or pid reuse the pid may name another live process: its start time or
//! executable differs, so it is not ours — never signalled, and the service counts as stopped.
//!
//! File format (text, one item a line, so `head -n1` still gives the pid):
//! ```text
//! 12345
//! start_time 987654
//! exe /usr/bin/redis-server
//! ```

use std::io;
use std::path::{Path, PathBuf};

/// What identifies one process across pid reuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessIdentity {
    pub pid: u32,
    /// `/proc/PID/stat` field 22: when the process started, in clock ticks since boot.
    pub start_time: u64,
    /// `/proc/PID/exe`, when readable (another user's process may hide it).
    pub exe: Option<PathBuf>,
}

/// The identity of a live (not zombie) process, or None when there is no such process.
pub fn identity(pid: u32) -> Option<ProcessIdentity> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parens: fields resume after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = *fields.first()?;
    if state == "Z" || state == "X" {
        return None;
    }
    let start_time = fields.get(19)?.parse().ok()?; // field 22 is the 20th after the name
    Some(ProcessIdentity {
        pid,
        start_time,
        exe: exe_of(pid),
    })
}

/// `/proc/PID/exe` without the ` (deleted)` the kernel appends once the file was replaced
/// (a rebuilt binary is still the same program).
fn exe_of(pid: u32) -> Option<PathBuf> {
    let link = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let text = link.to_string_lossy();
    Some(match text.strip_suffix(" (deleted)") {
        Some(stripped) => PathBuf::from(stripped),
        None => link,
    })
}

/// Writes `path` for the live process `pid` (atomically: a reader never sees half a file).
pub fn record(path: &Path, pid: u32) -> io::Result<ProcessIdentity> {
    let id = identity(pid).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("process {pid} is not running (it exited right after it started? see its log)"),
        )
    })?;
    let mut text = format!("{}\nstart_time {}\n", id.pid, id.start_time);
    if let Some(exe) = &id.exe {
        text.push_str(&format!("exe {}\n", exe.display()));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("pid.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(id)
}

/// Reads a pid file. A file holding only a pid (older format) has no start time: it cannot be
/// checked, so it is treated as not ours.
pub fn read(path: &Path) -> Option<ProcessIdentity> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let pid = lines.next()?.trim().parse().ok()?;
    let mut start_time = None;
    let mut exe = None;
    for line in lines {
        match line.split_once(' ') {
            Some(("start_time", v)) => start_time = v.trim().parse().ok(),
            Some(("exe", v)) => exe = Some(PathBuf::from(v)),
            _ => {}
        }
    }
    Some(ProcessIdentity {
        pid,
        start_time: start_time?,
        exe,
    })
}

/// The recorded pid when that very process is still alive: same start time and, where the
/// executable was recorded, the same executable (unreadable now means not ours).
pub fn live_pid(path: &Path) -> Option<u32> {
    let recorded = read(path)?;
    let now = identity(recorded.pid)?;
    let same_exe = match &recorded.exe {
        Some(exe) => now.exe.as_ref() == Some(exe),
        None => true,
    };
    (now.start_time == recorded.start_time && same_exe).then_some(recorded.pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pid file named `name` in a fresh directory, holding `text` when given.
    fn pid_file(name: &str, text: Option<String>) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        if let Some(text) = text {
            std::fs::write(&path, text).unwrap();
        }
        (dir, path)
    }

    #[test]
    fn our_own_process_is_recorded_and_recognised() {
        let (_dir, path) = pid_file("run/self.pid", None);
        let me = std::process::id();
        let id = record(&path, me).unwrap();
        assert_eq!(id.pid, me);
        assert_eq!(live_pid(&path), Some(me));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().next(), Some(me.to_string().as_str()));
    }

    #[test]
    fn a_live_process_that_differs_is_a_stranger() {
        let me = identity(std::process::id()).unwrap();
        for (name, rest) in [
            // the pid reused by another process
            ("reused.pid", format!("start_time {}\n", me.start_time + 1)),
            // the same process start, another program
            (
                "other.pid",
                format!("start_time {}\nexe /usr/bin/redis-server\n", me.start_time),
            ),
            // a bare pid cannot be checked, so it is not ours
            ("old.pid", String::new()),
        ] {
            let (_dir, path) = pid_file(name, Some(format!("{}\n{rest}", me.pid)));
            assert_eq!(live_pid(&path), None, "{name}");
        }
    }

    #[test]
    fn a_dead_pid_is_not_live() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(identity(pid).is_none());
    }
}
