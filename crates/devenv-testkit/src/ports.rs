//! Loopback ports for the servers the tests start, chosen so nothing else takes them between
//! the choice and the server's own bind.
//!
//! Binding port 0 and closing it (the usual trick) hands out a port from the kernel's ephemeral
//! range, which every other `bind(0)` and every outgoing `connect()` on the machine draws from
//! too. With nextest running tests in parallel, another test's in-process server or client
//! socket could take the port in the moments before redis-server bound it ("Address already in
//! use", a CI failure on 2026-12-05). So the ports come from below the ephemeral range
//! ([`devenv_core::netproc::free_ports`]), and each one is reserved for the lifetime of the
//! test process by an advisory lock on its byte of one file, so two test processes never pick
//! the same one.

use std::fs::File;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One open file per reserved port, each holding the lock on its port's byte until the process
/// exits (the kernel releases them then, whatever the exit).
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

/// A loopback port nothing listens on, outside the kernel's ephemeral range, reserved for this
/// process: no other test process gets it while this one runs.
pub fn free_port() -> u16 {
    let path = lock_file();
    let ports = devenv_core::netproc::free_ports(1, |port| {
        let lock = open(&path);
        // Refused: another test process (or thread) holds it.
        let locked = try_lock(&lock, port).is_ok();
        if locked {
            HELD.lock().unwrap_or_else(|e| e.into_inner()).push(lock);
        }
        locked
    });
    ports.unwrap_or_else(|e| panic!("{e} (or `pkill -f devenv-testkit`)"))[0]
}

/// Locks byte `port` of `file`, or fails at once when another open file holds it. Open file
/// description locks conflict between two opens of the file even within one process, and go
/// when the file is closed; the file never grows, a lock may lie past its end.
fn try_lock(file: &File, port: u16) -> nix::Result<()> {
    let range = libc::flock {
        l_type: libc::F_WRLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: libc::off_t::from(port),
        l_len: 1,
        l_pid: 0,
    };
    nix::fcntl::fcntl(file, nix::fcntl::FcntlArg::F_OFD_SETLK(&range)).map(drop)
}

/// One lock file per user, so a second user's tests are not refused a file the first one made.
fn lock_file() -> PathBuf {
    let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
    std::env::temp_dir().join(format!("devenv-testkit-ports-{uid}.lock"))
}

fn open(path: &Path) -> File {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_outside_the_ephemeral_range_and_never_handed_out_twice() {
        let ports: Vec<u16> = (0..64).map(|_| free_port()).collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique.len(),
            ports.len(),
            "a port was handed out twice: {ports:?}"
        );
        if let Some(range) = devenv_core::netproc::unassigned_range() {
            assert!(ports.iter().all(|p| range.contains(p)), "{ports:?}");
        }
    }

    #[test]
    fn a_port_held_by_another_process_is_skipped() {
        let port = free_port();
        // A second process (the locks belong to open files, so a fresh open stands in for one)
        // cannot take the lock this process holds.
        let other = open(&lock_file());
        assert!(try_lock(&other, port).is_err());
    }
}
