//! Exit codes: named once here, same meaning in every binary and script (DESIGN.md).

/// Everything checked is fine.
pub const OK: u8 = 0;
/// The checked thing is bad: unhealthy, differences at/above `--fail-on`, a migration failed.
pub const FAILED: u8 = 1;
/// Usage or configuration error: bad flag, malformed file.
pub const USAGE: u8 = 2;
/// Integrity refusal: checksum tamper, bundle path not ignored by git.
pub const INTEGRITY: u8 = 3;
/// Timed out: readiness wait, lock.
pub const TIMEOUT: u8 = 4;
/// An external service refused us: unreachable, auth failed.
pub const EXTERNAL: u8 = 5;

/// Errors that know which exit code they map to. Binaries convert their error into a
/// process exit code through this trait, so the mapping lives next to the error type.
pub trait ExitCoded {
    fn exit_code(&self) -> u8;
}

/// Name of an exit code, for docs and `--help` output.
pub fn name(code: u8) -> &'static str {
    match code {
        OK => "ok",
        FAILED => "failed",
        USAGE => "usage",
        INTEGRITY => "integrity",
        TIMEOUT => "timeout",
        EXTERNAL => "external",
        _ => "unknown",
    }
}
