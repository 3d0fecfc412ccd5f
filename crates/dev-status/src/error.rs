//! What stops a dev-status command; converted to an exit code once, in `run`.

use devenv_core::exit::{self, ExitCoded};
use devenv_core::health_history::HistoryError;
use devenv_core::stack::StackError;

use crate::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error(transparent)]
    History(#[from] HistoryError),
    /// `history` found no record to summarise.
    #[error("{0}")]
    NoHistory(String),
    /// A bad flag value or a bad mode variable.
    #[error("{0}")]
    Usage(String),
    /// `--wait` gave up.
    #[error("{0}")]
    Timeout(String),
    /// A service refused us or answered with an error.
    #[error("{0}")]
    External(String),
}

impl ExitCoded for Error {
    fn exit_code(&self) -> u8 {
        match self {
            Error::Config(e) => e.exit_code(),
            Error::Stack(e) => e.exit_code(),
            Error::History(e) => e.exit_code(),
            // Not a usage error: the command is right, there is nothing to summarise yet.
            Error::NoHistory(_) => exit::FAILED,
            Error::Usage(_) => exit::USAGE,
            Error::Timeout(_) => exit::TIMEOUT,
            Error::External(_) => exit::EXTERNAL,
        }
    }
}
