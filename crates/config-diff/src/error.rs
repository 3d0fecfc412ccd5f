//! Everything that stops config-diff before it can report: each error names the input and
//! the fix, and maps to an exit code from devenv-core (usage/configuration errors: the checked
//! environments could not even be read; `history` with nothing saved is exit 1).

use std::io;
use std::path::PathBuf;

use devenv_core::exit::{self, ExitCoded};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}; check the path")]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "{path}:{line}:{column}: malformed YAML: {message}; fix the syntax at line {line}, column {column}"
    )]
    Yaml {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(
        "{path}: required variable `{name}` is not set ({message}); set it in an env file (--env-file) or the description's `variables`"
    )]
    RequiredVariable {
        path: PathBuf,
        name: String,
        message: String,
    },
    #[error("{path}:{line}: {message}")]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{0}")]
    Usage(String),
    /// `history` found no saved report.
    #[error("{0}")]
    NoReports(String),
}

impl Error {
    pub fn invalid(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }

    pub fn read(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Read {
            path: path.into(),
            source,
        }
    }

    /// A serde_norway error, with the line and column it carries (1-based).
    pub fn yaml(path: impl Into<PathBuf>, err: &serde_norway::Error) -> Self {
        let (line, column, message) = devenv_core::yaml::error_location(err);
        Error::Yaml {
            path: path.into(),
            line,
            column,
            message,
        }
    }
}

impl ExitCoded for Error {
    fn exit_code(&self) -> u8 {
        match self {
            // The command is right; there is nothing kept yet (as `dev-status history`).
            Error::NoReports(_) => exit::FAILED,
            _ => exit::USAGE,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
