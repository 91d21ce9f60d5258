use std::path::PathBuf;

/// What can go wrong below the [`Store`](eventforge_core::Store) contract. Reaches callers as
/// `StoreError::Backend`, except for [`SqliteStore::open`](crate::SqliteStore::open).
#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    #[error("cannot create the database directory {path}: {source}")]
    CreateDirectory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the SQLite database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the database was written by a newer EventForge (schema version {found}, this build knows {known}); \
         upgrade, or point --db at another file"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("SQLite failed: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("a stored record is not valid JSON: {0}")]
    Encoding(#[source] serde_json::Error),
    #[error("a stored {0} is malformed")]
    Corrupt(&'static str),
    #[error("the total quantity of {0} overflows")]
    Overflow(String),
    #[error(transparent)]
    Writer(#[from] eventforge_sqlite_writer::WriterError),
    #[error("cannot start the writer: {0}")]
    WriterStart(#[from] eventforge_sqlite_writer::StartError),
}
