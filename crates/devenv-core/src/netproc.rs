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

/// The lowest port [`free_ports`] hands out: clear of the well-known service ports (5432,
/// 6379, 8200, …) a developer's own stack may use.
const FREE_PORTS_LOWEST: u16 = 15_000;

/// `[15000, the first ephemeral port)`: ports the kernel never hands out by itself. A port
/// from the ephemeral range (what binding port 0 gives) can be taken by any `bind(0)` or
/// outgoing `connect()` on the machine before the server it was chosen for binds it; one from
/// here cannot. `None` when the ephemeral range leaves under 1,000 ports below it.
pub fn unassigned_range() -> Option<std::ops::Range<u16>> {
    let text = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let first: u16 = text.split_whitespace().next()?.parse().ok()?;
    (first >= FREE_PORTS_LOWEST + 1_000).then_some(FREE_PORTS_LOWEST..first)
}

/// `count` distinct loopback ports nothing listens on, from [`unassigned_range`] in random
/// order (the kernel's pick when there is no such range), each one also accepted by `claim`
/// (a caller's own reservation, e.g. the test kit's lock; `|_| true` for none). For test and
/// benchmark servers started next to each other; the stack's own ports come from
/// configs/ports.yaml.
pub fn free_ports(
    count: usize,
    mut claim: impl FnMut(u16) -> bool,
) -> Result<Vec<u16>, FreePortsError> {
    // Each port stays bound until all are found, so none is handed out twice.
    let mut held = Vec::with_capacity(count);
    let mut take = |port: u16, held: &mut Vec<TcpListener>| {
        if let Ok(listener) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            let port = listener.local_addr().map_or(0, |a| a.port());
            if port != 0 && claim(port) {
                held.push(listener);
            }
        }
    };
    match unassigned_range() {
        Some(range) => {
            let span = u32::from(range.end - range.start);
            let start = random_below(span);
            for step in 0..span {
                if held.len() == count {
                    break;
                }
                take(range.start + ((start + step) % span) as u16, &mut held);
            }
        }
        None => {
            for _ in 0..count * 4 {
                if held.len() == count {
                    break;
                }
                take(0, &mut held);
            }
        }
    }
    if held.len() < count {
        return Err(FreePortsError {
            found: held.len(),
            wanted: count,
        });
    }
    Ok(held
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .map(|a| a.port())
        .collect())
}

/// Fewer free ports than asked for.
#[derive(Debug, thiserror::Error)]
#[error(
    "found {found} of {wanted} free loopback ports — stop leftover servers (`make stop` in their workspaces) or free ports above 15000"
)]
pub struct FreePortsError {
    pub found: usize,
    pub wanted: usize,
}

/// A number in `[0, below)` that differs between calls and processes (no rand dependency in
/// the core: the standard library's hasher keys are random).
fn random_below(below: u32) -> u32 {
    use std::hash::BuildHasher as _;
    let seed = std::collections::hash_map::RandomState::new()
        .hash_one((std::process::id(), std::time::SystemTime::now()));
    (seed % u64::from(below.max(1))) as u32
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

    #[test]
    fn free_ports_are_distinct_unassigned_and_claimed() {
        let mut offered = Vec::new();
        // Refuse every other port offered: the refused ones are never handed out.
        let ports = free_ports(16, |p| {
            offered.push(p);
            offered.len() % 2 == 0
        })
        .unwrap();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 16, "{ports:?}");
        let refused: Vec<u16> = offered.iter().step_by(2).copied().collect();
        assert!(ports.iter().all(|p| !refused.contains(p)), "{ports:?}");
        if let Some(range) = unassigned_range() {
            assert!(ports.iter().all(|p| range.contains(p)), "{ports:?}");
        }
        for port in ports {
            assert!(!port_in_use(port), "{port} is free once handed out");
        }
    }

    #[test]
    fn too_few_free_ports_is_an_error_naming_the_remedy() {
        let err = free_ports(3, |_| false).unwrap_err();
        assert_eq!((err.found, err.wanted), (0, 3));
        assert!(err.to_string().contains("make stop"), "{err}");
    }
}
