//! Every way a run can fail, each with its exit code (devenv-core `exit`) and a remedy.

use devenv_core::exit::{self, ExitCoded};

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// Bad flag or argument.
    #[error("{message}")]
    Usage { message: String },
    /// The migrations directory is malformed: bad names, duplicates, gaps, out-of-order files.
    #[error("{message}")]
    Layout { message: String },
    /// An applied file changed, or the ledger disagrees with the files.
    #[error("{message}")]
    Integrity { message: String },
    /// No connection within `--wait-timeout`, or the lock was not free within `--lock-timeout`.
    #[error("{message}")]
    Timeout { message: String },
    /// The server refused us: unreachable, authentication failed, missing database.
    #[error("{message}: {source}")]
    Connect {
        message: String,
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed (rolled back) or a file is in doubt.
    #[error("{message}")]
    Failed { message: String },
    /// A query of our own failed (ledger read/write).
    #[error("{context}: {source}")]
    Database {
        context: String,
        #[source]
        source: sqlx::Error,
    },
    /// Writing the JSON ledger or a new file failed.
    #[error("{message}")]
    Io { message: String },
    #[error(transparent)]
    Bundle(#[from] devenv_core::bundle::BundleError),
}

impl ExitCoded for MigrateError {
    fn exit_code(&self) -> u8 {
        match self {
            MigrateError::Usage { .. } | MigrateError::Layout { .. } => exit::USAGE,
            MigrateError::Integrity { .. } => exit::INTEGRITY,
            MigrateError::Timeout { .. } => exit::TIMEOUT,
            MigrateError::Connect { .. } => exit::EXTERNAL,
            MigrateError::Failed { .. } | MigrateError::Database { .. } => exit::FAILED,
            MigrateError::Io { .. } => exit::USAGE,
            MigrateError::Bundle(e) => e.exit_code(),
        }
    }
}

/// Wraps a sqlx error of one of our own queries with what we were doing.
pub fn db(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> MigrateError {
    let context = context.into();
    move |source| MigrateError::Database { context, source }
}
