//! Error pages. Every one says what went wrong and what to do next; the cause of an internal
//! error is logged once (with the request id shown on the page) and never shown.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
use panel1_app::AppError;

use crate::templates;

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PageError {
    /// Nothing here in the viewer's scope (another tenant's or client's objects answer the same).
    #[error("{0}")]
    NotFound(String),
    /// Signed in, but this page is not for this account.
    #[error("{0}")]
    Forbidden(String),
    /// The action conflicts with the object's current state.
    #[error("{0}")]
    Conflict(String),
    /// The input was refused and the page had no form to show it on.
    #[error("{0}")]
    Invalid(String),
    /// Not signed in (or not finished signing in): go there.
    #[error("redirect to {0}")]
    Redirect(String),
    /// A form that did not come from this session's page.
    #[error("{0}")]
    Csrf(String),
    /// A dependency is down.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type PageResult<T = Response> = Result<T, PageError>;

impl PageError {
    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        PageError::Internal(e.into())
    }

    pub fn not_found(what: &str) -> Self {
        PageError::NotFound(format!(
            "There is no {what} here. It may have been deleted, or the link may be wrong: go back to the list and pick it from there."
        ))
    }
}

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound { what, .. } => PageError::not_found(what),
            AppError::Forbidden(m) => PageError::Forbidden(m),
            AppError::Conflict { message, .. } => PageError::Conflict(message),
            AppError::Invalid(v) => PageError::Invalid(v.summary()),
            AppError::Unauthenticated => PageError::Redirect("/login".into()),
            AppError::Unavailable(m) => PageError::Unavailable(m),
            AppError::Internal(e) => PageError::Internal(e.into()),
            other => PageError::Internal(Box::new(other)),
        }
    }
}

impl From<panel1_store::StoreError> for PageError {
    fn from(e: panel1_store::StoreError) -> Self {
        PageError::from(AppError::from(e))
    }
}

impl From<panel1_core::crypto::CryptoError> for PageError {
    fn from(e: panel1_core::crypto::CryptoError) -> Self {
        PageError::Internal(Box::new(e))
    }
}

impl From<minijinja::Error> for PageError {
    fn from(e: minijinja::Error) -> Self {
        PageError::Internal(Box::new(e))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message, advice) = match &self {
            PageError::Redirect(to) => return Redirect::to(to).into_response(),
            PageError::NotFound(m) => (
                StatusCode::NOT_FOUND,
                "Not found",
                m.clone(),
                "Go back, or start again from the menu.",
            ),
            PageError::Forbidden(m) => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                m.clone(),
                "If you need this, ask an administrator of your account.",
            ),
            PageError::Conflict(m) => (
                StatusCode::CONFLICT,
                "Not possible now",
                m.clone(),
                "Reload the page to see the current state, then try again if it still applies.",
            ),
            PageError::Invalid(m) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "Not accepted",
                m.clone(),
                "Go back, correct the input and send it again.",
            ),
            PageError::Csrf(m) => (
                StatusCode::FORBIDDEN,
                "Form refused",
                m.clone(),
                "Go back, reload the page and send the form again.",
            ),
            PageError::Unavailable(m) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                m.clone(),
                "Try again in a minute.",
            ),
            PageError::Internal(e) => {
                tracing::error!(error = %e, source = ?std::error::Error::source(e.as_ref()), "panel page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Something went wrong on our side; it has been logged.".to_owned(),
                    "Try again in a moment. If it keeps happening, tell the operator the time and the page address.",
                )
            }
        };
        error_page(status, title, &message, advice)
    }
}

/// A stand-alone error page (no session needed).
pub fn error_page(status: StatusCode, title: &str, message: &str, advice: &str) -> Response {
    match templates::render_raw(
        "error.html",
        context! { title, message, advice, status => status.as_u16() },
    ) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "error page template failed");
            (status, format!("{title}: {message} {advice}")).into_response()
        }
    }
}
