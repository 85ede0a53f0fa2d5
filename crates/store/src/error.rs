//! Errors of the storage layer.

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The row does not exist in the caller's scope.
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write; `constraint` names it (PostgreSQL) or lists its
    /// columns (SQLite).
    #[error("conflicts with an existing row ({constraint})")]
    Conflict { constraint: String },
    /// A stored value could not be read back (a bug or a hand-edited row).
    #[error("a stored value is invalid: {0}")]
    Corrupt(String),
    #[error("the database URL `{0}` is not supported: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            let constraint = db.constraint().map(str::to_owned).unwrap_or_else(|| {
                // SQLite: "UNIQUE constraint failed: users.tenant_id, users.email"
                db.message()
                    .rsplit(": ")
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            });
            return StoreError::Conflict { constraint };
        }
        if let sqlx::Error::RowNotFound = e {
            return StoreError::NotFound;
        }
        StoreError::Database(e)
    }
}

impl StoreError {
    /// Whether retrying the same transaction may succeed (lock contention, serialisation).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => {
                let code = db.code().unwrap_or_default();
                // SQLite BUSY/LOCKED; PostgreSQL serialization_failure / deadlock_detected.
                matches!(code.as_ref(), "5" | "6" | "517" | "40001" | "40P01")
            }
            StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) => true,
            _ => false,
        }
    }

    pub fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }
}
