//! Where things live: the workspace root, `.devenv/` and its subdirectories, the bundles.

use std::path::{Path, PathBuf};

/// Overrides the workspace root (otherwise found by walking up to `configs/ports.yaml`).
pub const ROOT_ENV: &str = "DEVENV_ROOT";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub root: PathBuf,
}

impl Workspace {
    /// `DEVENV_ROOT`, else the nearest ancestor of the current directory holding
    /// `configs/ports.yaml`, else the current directory.
    pub fn discover() -> Self {
        if let Some(root) = std::env::var_os(ROOT_ENV).filter(|v| !v.is_empty()) {
            return Self::at(PathBuf::from(root));
        }
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let root = cwd
            .ancestors()
            .find(|dir| dir.join("configs/ports.yaml").is_file())
            .map(Path::to_path_buf)
            .unwrap_or(cwd);
        Self::at(root)
    }

    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The workspace's name (bundles, telemetry labels): `DEVENV_WORKSPACE`, else
    /// [`Workspace::dir_name`].
    pub fn name(&self) -> String {
        std::env::var("DEVENV_WORKSPACE")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| self.dir_name())
    }

    /// The root directory's name (`devenv` for a root without one, such as `/`).
    pub fn dir_name(&self) -> String {
        self.root.file_name().map_or_else(
            || "devenv".to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }

    pub fn ports_file(&self) -> PathBuf {
        std::env::var_os("DEVENV_PORTS_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.root.join("configs/ports.yaml"))
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join(".devenv")
    }

    pub fn data_dir(&self, service: &str) -> PathBuf {
        self.state_dir().join("data").join(service)
    }

    pub fn log_file(&self, service: &str) -> PathBuf {
        self.state_dir().join("logs").join(format!("{service}.log"))
    }

    pub fn pid_file(&self, service: &str) -> PathBuf {
        self.state_dir().join("run").join(format!("{service}.pid"))
    }

    pub fn state_file(&self) -> PathBuf {
        self.state_dir().join("state.json")
    }

    pub fn events_file(&self) -> PathBuf {
        self.state_dir().join("events.jsonl")
    }

    /// `.env.local` for local mode, `.env.linode` for remote mode.
    pub fn bundle_path(&self, mode: Mode) -> PathBuf {
        self.root.join(mode.bundle_file_name())
    }

    /// Pids recorded in `.devenv/run/*.pid` by the native runtime whose process is still the
    /// one recorded (see [`crate::pidfile`]): a reused pid is not ours.
    pub fn own_pids(&self) -> Vec<(String, u32)> {
        let Ok(entries) = std::fs::read_dir(self.state_dir().join("run")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let service = name.strip_suffix(".pid")?.to_string();
                let pid = crate::pidfile::live_pid(&e.path())?;
                Some((service, pid))
            })
            .collect()
    }
}

/// The variables that choose the mode, strongest first (see [`Mode::from_env`]).
pub const MODE_VARS: [&str; 2] = ["MODE", "DEVENV_MODE"];

/// Local laptop or remote workspace: decides the bundle name and how credentials are sourced.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Local,
    Remote,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Local => "local",
            Mode::Remote => "remote",
        }
    }

    /// The one rule every tool and script follows (bash asks `devenv mode`): `MODE` (the
    /// user's choice, as `make MODE=remote` exports it), else `DEVENV_MODE` (which sourcing a
    /// bundle exports, so it describes the last bundle read, not the request), else local.
    /// An unknown value is an error naming the variable.
    pub fn from_env() -> Result<Mode, String> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Mode, String> {
        for key in MODE_VARS {
            if let Some(value) = get(key).filter(|v| !v.is_empty()) {
                return value.parse().map_err(|e| format!("{key}={value}: {e}"));
            }
        }
        Ok(Mode::Local)
    }

    pub fn bundle_file_name(self) -> &'static str {
        match self {
            Mode::Local => ".env.local",
            Mode::Remote => ".env.linode",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;
    /// The names are the clap ones (`local`, `remote`), written once by the derive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        <Mode as clap::ValueEnum>::from_str(s, false)
            .map_err(|_| format!("unknown mode `{s}`: use local or remote"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_precedence_is_mode_then_devenv_mode_then_local() {
        assert_eq!(Mode::from_vars(crate::test_vars(&[])), Ok(Mode::Local));
        assert_eq!(
            Mode::from_vars(crate::test_vars(&[("DEVENV_MODE", "remote")])),
            Ok(Mode::Remote)
        );
        // A sourced .env.local exports DEVENV_MODE=local; `make MODE=remote` still means remote.
        assert_eq!(
            Mode::from_vars(crate::test_vars(&[
                ("MODE", "remote"),
                ("DEVENV_MODE", "local")
            ])),
            Ok(Mode::Remote)
        );
        assert_eq!(
            Mode::from_vars(crate::test_vars(&[("MODE", ""), ("DEVENV_MODE", "remote")])),
            Ok(Mode::Remote)
        );
        let err = Mode::from_vars(crate::test_vars(&[("MODE", "staging")])).unwrap_err();
        assert!(err.contains("MODE=staging"), "{err}");
    }

    #[test]
    fn the_directory_names_the_workspace() {
        assert_eq!(Workspace::at("/srv/team-a").dir_name(), "team-a");
        assert_eq!(Workspace::at("/").dir_name(), "devenv");
    }
}
