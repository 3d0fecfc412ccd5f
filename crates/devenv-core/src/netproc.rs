//! Who holds a TCP port: `/proc/net/tcp{,6}` listening sockets mapped to processes through
//! `/proc/<pid>/fd`. Reading other users' fds needs privileges; without them the holder is
//! reported as unknown but the port is still reported as taken.

use std::collections::HashSet;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};

/// The process listening on a port.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Holder {
    pub pid: Option<u32>,
    /// Short command name (`/proc/<pid>/comm`), e.g. `postgres`.
    pub command: Option<String>,
    /// Full command line, space separated.
    pub cmdline: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.command, self.pid) {
            (Some(cmd), Some(pid)) => write!(f, "{cmd} (pid {pid})"),
            (None, Some(pid)) => write!(f, "pid {pid}"),
            _ => write!(f, "an unknown process (run `ss -ltnp` as root to see it)"),
        }
    }
}

const TCP_LISTEN: &str = "0A";

/// Socket inodes listening on `port` (any address, IPv4 or IPv6).
fn listening_inodes(port: u16) -> HashSet<u64> {
    let mut inodes = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 10 || cols[3] != TCP_LISTEN {
                continue;
            }
            let local_port = cols[1]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if local_port == Some(port) {
                if let Ok(inode) = cols[9].parse::<u64>() {
                    inodes.insert(inode);
                }
            }
        }
    }
    inodes
}

/// True when something listens on the port or it cannot be bound on loopback.
pub fn port_in_use(port: u16) -> bool {
    !listening_inodes(port).is_empty()
        || TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).is_err()
}

/// The process listening on `port`, if any.
pub fn port_holder(port: u16) -> Option<Holder> {
    let inodes = listening_inodes(port);
    if inodes.is_empty() {
        if TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).is_err() {
            return Some(Holder {
                pid: None,
                command: None,
                cmdline: None,
            });
        }
        return None;
    }
    let wanted: HashSet<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let procs = fs::read_dir("/proc").ok()?;
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            fs::read_link(fd.path())
                .map(|target| wanted.contains(target.to_string_lossy().as_ref()))
                .unwrap_or(false)
        });
        if holds {
            return Some(describe(pid));
        }
    }
    Some(Holder {
        pid: None,
        command: None,
        cmdline: None,
    })
}

/// Command name and line of a pid.
pub fn describe(pid: u32) -> Holder {
    let command = fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_string());
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok().map(|raw| {
        raw.split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    });
    Holder {
        pid: Some(pid),
        command,
        cmdline,
    }
}

/// True when the pid exists.
pub fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// A port that is free right now, chosen by the kernel.
pub fn ephemeral_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_this_process_as_holder() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(port_in_use(port));
        let holder = port_holder(port).expect("holder");
        assert_eq!(holder.pid, Some(std::process::id()));
        assert!(holder.command.is_some());
        drop(listener);
        assert!(!port_in_use(port));
        assert_eq!(port_holder(port), None);
    }
}
