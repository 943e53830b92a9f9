use thiserror::Error;

/// What can go wrong below the REST layer. Apart from `ConcurrentCreate`
/// (a lost race, 409) none are the client's fault: they map to 500/503
/// without showing detail.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL '{0}': expected sqlite:<path> or postgres://…")]
    UnsupportedUrl(String),
    #[error("cannot create the database folder {path}: {source}")]
    CreateDir { path: String, source: std::io::Error },
    /// Two transactions created the same resource id at once; one loses
    /// (and writes nothing).
    #[error("a resource was created by a concurrent request with the same id")]
    ConcurrentCreate,
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}
