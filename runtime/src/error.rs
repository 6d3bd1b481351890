//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong inside the runtime, as seen by its callers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file or an environment override is invalid.
    #[error("configuration: {0}")]
    Config(String),

    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },

    /// The database failed (disk full, corrupted file, ...).
    #[error("database: {0}")]
    Database(#[from] redb::Error),

    /// The database file cannot be opened: damaged, truncated, or written by a newer redb.
    #[error("the database {path} is damaged and cannot be opened: {reason}")]
    DamagedDatabase {
        /// The file.
        path: PathBuf,
        /// What redb said.
        reason: String,
    },

    /// The PostgreSQL store failed (connection lost, server refused a statement).
    #[error("PostgreSQL: {0}")]
    Postgres(String),

    /// A stored record could not be decoded; the database was written by an incompatible version.
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),

    /// A module file is not a valid component for this contract, or its `init` failed.
    #[error("module {name}: {reason}")]
    Module {
        /// The module's file or name.
        name: String,
        /// Why it was rejected.
        reason: String,
    },

    /// The WebAssembly engine failed outside of any module's fault.
    #[error("sandbox: {0}")]
    Sandbox(String),

    /// The Bot API refused a request or could not be reached.
    #[error("Bot API: {0}")]
    Telegram(#[from] teloxide_core::RequestError),

    /// The named thing (a module, ...) does not exist.
    #[error("{0}")]
    NotFound(String),

    /// The request conflicts with the current state (a module of that name exists, ...).
    #[error("{0}")]
    Conflict(String),

    /// A module version waits for the operator's approval: it would replace a module and asks
    /// for more than the version it replaces, or came through a path where a swap is confirmed.
    /// It carries the registry's `Awaiting` (what the version asks for), found with
    /// `Awaiting::of`.
    #[error("{0}")]
    AwaitingApproval(Box<dyn std::error::Error + Send + Sync>),

    /// A background task (blocking work handed to a thread, a spawned task) panicked or was
    /// cancelled before it finished.
    #[error("a background task failed: {0}")]
    Join(String),

    /// A backup was refused: it is encrypted and no key (or the wrong key) was given, or it is
    /// older than the newest one this bot knows of. Nothing was replaced.
    #[error("backup: {0}")]
    Backup(String),

    /// The runtime is shutting down and no longer accepts work.
    #[error("the runtime is shutting down")]
    ShuttingDown,

    /// The disk holding the database is full: nothing new is taken until there is room (see
    /// `store/disk_full.rs`).
    #[error("the disk holding the database is full")]
    DiskFull,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! redb_error {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Database(e.into())
            }
        }
    )*};
}
redb_error!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<tokio::task::JoinError> for Error {
    fn from(e: tokio::task::JoinError) -> Self {
        Error::Join(e.to_string())
    }
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn module(name: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Error::Module {
            name: name.into(),
            reason: reason.to_string(),
        }
    }
}
