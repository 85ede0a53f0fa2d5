//! RFC 9457 problem documents: the one envelope for every API failure.
//!
//! Each problem has a stable machine `type` (a URI under `https://panel1.dev/problems/`), a
//! `title`, the HTTP `status`, a `detail` for people that says what was wrong and how to fix
//! it, and for bad input the offending `field` plus every field error in `errors`. Not-found is
//! mapped here, once; the cause of a 500 is logged here, once, and never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use panel1_app::AppError;
use panel1_core::{FieldError, ValidationError};
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An API error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// Stable identifier of the kind of problem.
    #[serde(rename = "type")]
    #[schema(example = "https://panel1.dev/problems/validation")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What went wrong and what to do about it.
    pub detail: String,
    /// The first offending field, as a JSON path (`email`, `contacts.0.phone`, `limit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every field error, when the input was refused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("https://panel1.dev/problems/{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            errors: Vec::new(),
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn validation(e: ValidationError) -> Self {
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "The input was refused; nothing was changed",
            e.summary(),
        );
        p.field = e.0.first().map(|f| f.field.clone());
        p.errors = e.0;
        p
    }

    pub fn bad_request(kind: &str, detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, kind, "Bad request", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = (status, axum::Json(self)).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        r
    }
}

/// A service error on its way out.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        problem_for(self.0).into_response()
    }
}

pub fn problem_for(e: AppError) -> Problem {
    match e {
        AppError::NotFound { what, id } => {
            let detail = if id.is_empty() {
                format!("no such {what}")
            } else {
                format!("no {what} `{id}` exists (or it is not yours to see)")
            };
            Problem::not_found(detail)
        }
        AppError::Invalid(v) => Problem::validation(v),
        AppError::Conflict { message, field } => {
            let mut p = Problem::new(
                StatusCode::CONFLICT,
                "conflict",
                "Conflict with the current state",
                message,
            );
            p.field = field;
            p
        }
        AppError::Forbidden(m) => {
            Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", m)
        }
        AppError::Unauthenticated => Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
            AppError::Unauthenticated.to_string(),
        ),
        AppError::Unavailable(m) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Temporarily unavailable",
            m,
        ),
        AppError::Internal(cause) => {
            tracing::error!(error = ?cause, "internal error while handling a request");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "something went wrong on our side; it has been logged. Retrying with the same Idempotency-Key is safe",
            )
        }
        other => {
            tracing::error!(error = %other, "unmapped error");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "something went wrong on our side",
            )
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
