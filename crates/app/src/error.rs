//! Error policy.
//!
//! - Services return [`AppError`], the one user-facing error type; the web layer turns it into
//!   an RFC 9457 problem document. Its messages are written for the person who sent the
//!   request: what was wrong and how to fix it. They never contain secrets.
//! - Bad input is [`AppError::Invalid`] (field errors, 422) and is detected before anything is
//!   written, so a refused request changes nothing.
//! - Unexpected failures (database down, bugs) are [`AppError::Internal`]: logged once with
//!   their cause by the web layer, answered as a bare 500 without details.
//! - Outside the request path (jobs, start-up) `anyhow` and [`panel1_jobs::JobError`] are used.

use panel1_core::ValidationError;
use panel1_store::StoreError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// The object does not exist in the caller's scope (another tenant's objects answer the same).
    #[error("{what} `{id}` was not found")]
    NotFound { what: &'static str, id: String },
    /// The input was refused; nothing was changed.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The request conflicts with the current state (a duplicate, a state that does not allow it).
    #[error("{message}")]
    Conflict {
        message: String,
        field: Option<String>,
    },
    /// Authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// No valid credentials.
    #[error("a valid API token is required: send `Authorization: Bearer <token>`")]
    Unauthenticated,
    /// A dependency is not available right now; retrying later may work.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    pub fn not_found(what: &'static str, id: impl std::fmt::Display) -> Self {
        AppError::NotFound {
            what,
            id: id.to_string().chars().take(100).collect(),
        }
    }

    pub fn conflict(message: impl Into<String>, field: Option<&str>) -> Self {
        AppError::Conflict {
            message: message.into(),
            field: field.map(str::to_owned),
        }
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(e.into())
    }

    /// The whole story, the cause of an internal error included: for job errors and logs,
    /// never for API answers.
    pub fn detail(&self) -> String {
        match self {
            AppError::Internal(e) => format!("internal error: {e:#}"),
            other => other.to_string(),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound {
                what: "object",
                id: String::new(),
            },
            StoreError::Conflict { constraint } => AppError::Conflict {
                message: format!("this conflicts with an existing record ({constraint})"),
                field: None,
            },
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<panel1_core::crypto::CryptoError> for AppError {
    fn from(e: panel1_core::crypto::CryptoError) -> Self {
        AppError::Internal(e.into())
    }
}

pub type AppResult<T> = Result<T, AppError>;
