//! One fluent builder over the workspace's real binaries. Every run starts from the same
//! environment: whatever the developer exported that a binary reads (DEVENV_*, MODE,
//! MOCK_INFERENCE_*, MODEL_NAME, VAULT_*, the bundle's keys, RUST_LOG…) is removed, so an
//! exported variable never changes a test's result; the test sets what it means to.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Names a binary of this workspace reads from the environment: removed before every run.
const CLEARED_PREFIXES: &[&str] = &[
    "DEVENV_",
    "MOCK_INFERENCE_",
    "VAULT_",
    "POSTGRES_",
    "REDIS_",
    "NATS_",
    "S3_",
    "RABBITMQ_",
    "LINODE_",
];
const CLEARED_NAMES: &[&str] = &[
    "MODE",
    "MODEL_NAME",
    "DATABASE_URL",
    "METRICS",
    "RUST_LOG",
    "CLICOLOR_FORCE",
];

/// True for a variable [`Cmd`] removes before running a binary.
pub fn is_cleared(name: &str) -> bool {
    CLEARED_NAMES.contains(&name) || CLEARED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Where cargo put the workspace's binaries for this test run: the test executable lives in
/// `target/<profile>/deps/`, the binaries one level up (what `cargo test` and nextest build).
pub fn bin_path(name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(format!("CARGO_BIN_EXE_{name}")) {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("the test executable has a path");
    let dir = exe
        .parent()
        .and_then(|deps| {
            if deps.ends_with("deps") {
                deps.parent()
            } else {
                Some(deps)
            }
        })
        .expect("the test executable is inside target/");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build -p {name}` (cargo test builds a crate's own binaries)",
        path.display()
    );
    path
}

/// The binary `name` as a `std::process::Command` with [`Cmd`]'s cleared environment, for a
/// crate's own helpers (assert_cmd wraps it: `assert_cmd::Command::from_std(command(name))`).
pub fn command(name: &str) -> Command {
    Cmd::bin(name).command
}

/// Runs a helper program (`initdb`, `psql`, the venv's python…) to its end; panics with its
/// stderr unless it ran and succeeded.
pub fn output_ok(command: &mut Command, what: &str) -> Output {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what} ({e}): run `make setup`"));
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A run of one of the workspace's binaries.
#[derive(Debug)]
pub struct Cmd {
    command: Command,
    program: String,
}

impl Cmd {
    /// The binary `name` of this workspace, in a cleared environment (see the module docs),
    /// with NO_COLOR set so human output is stable.
    pub fn bin(name: &str) -> Self {
        let mut command = Command::new(bin_path(name));
        for (key, _) in std::env::vars_os() {
            if key.to_str().is_some_and(is_cleared) {
                command.env_remove(&key);
            }
        }
        command.env("NO_COLOR", "1").stdin(Stdio::null());
        Self {
            command,
            program: name.to_string(),
        }
    }

    /// Runs in the workspace at `root` (DEVENV_ROOT and the working directory).
    pub fn workspace(mut self, root: &Path) -> Self {
        self.command.env("DEVENV_ROOT", root).current_dir(root);
        self
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.command.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.command.current_dir(dir);
        self
    }

    /// The underlying command, for what the builder does not cover (spawning a server).
    pub fn command(&mut self) -> &mut Command {
        &mut self.command
    }

    /// Runs to completion and captures stdout and stderr.
    pub fn run(mut self) -> Run {
        let output = self
            .command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.program));
        Run::from_output(&self.program, output)
    }
}

/// The result of [`Cmd::run`], with assertions that print both streams when they fail.
#[derive(Debug)]
pub struct Run {
    pub program: String,
    /// The exit code; None when a signal ended the process.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from_output(program: &str, output: Output) -> Self {
        Self {
            program: program.to_string(),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panics unless the exit code is `code`.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "{} exited {:?}, expected {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.program,
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        self.code(0)
    }

    /// stdout as one JSON document.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "{} printed no JSON document ({e}):\n{}",
                self.program, self.stdout
            )
        })
    }

    /// Panics when `secret` appears in stdout or stderr.
    #[track_caller]
    pub fn assert_hides(&self, secret: &str) -> &Self {
        assert!(
            !self.stdout.contains(secret) && !self.stderr.contains(secret),
            "{} printed a secret:\n--- stdout\n{}\n--- stderr\n{}",
            self.program,
            self.stdout,
            self.stderr
        );
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_binary_reads_is_cleared_and_the_rest_is_kept() {
        for name in [
            "MODE",
            "DEVENV_MODE",
            "MOCK_INFERENCE_ERROR_RATE",
            "MODEL_NAME",
            "VAULT_TOKEN",
            "REDIS_URL",
        ] {
            assert!(is_cleared(name), "{name}");
        }
        for name in ["PATH", "HOME", "USER", "TMPDIR", "CARGO_TARGET_DIR"] {
            assert!(!is_cleared(name), "{name}");
        }
    }
}
