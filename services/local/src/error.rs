//! The one error type of the local runtime.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("the state machine definition is not one this runtime can run: {0}")]
    Definition(String),
    #[error("invalid event pattern: {0}")]
    Pattern(String),
    #[error("no queue named {0}")]
    UnknownQueue(String),
    #[error("runtime database {path}: {source}")]
    Database {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("runtime database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("runtime database: {0}")]
    Writer(#[from] eventforge_sqlite_writer::WriterError),
    #[error("runtime database {path}: cannot start its writer: {source}")]
    WriterStart {
        path: PathBuf,
        #[source]
        source: eventforge_sqlite_writer::StartError,
    },
    #[error("runtime data is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("store: {0}")]
    Store(#[from] eventforge_core::StoreError),
    #[error("background task failed: {0}")]
    Task(String),
}

pub type LocalResult<T> = Result<T, LocalError>;
