//! Extractors that answer bad input with a problem naming the field: JSON bodies (wrong types,
//! unknown or missing fields, oversized bodies), query strings, and the bearer token.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use bytes::Bytes;
use panel1_app::{App, AppError, Caller};
use serde::de::DeserializeOwned;

use crate::problem::{ApiError, Problem, problem_for};

/// A JSON body, refused with a problem that names the offending field.
pub struct Json<T>(pub T);

fn field_from_message(path: &str, msg: &str) -> String {
    // serde reports unknown/missing fields at the parent's path; name the field itself.
    for marker in ["unknown field `", "missing field `"] {
        if let Some(rest) = msg.find(marker).map(|i| &msg[i + marker.len()..])
            && let Some(name) = rest.split('`').next()
        {
            return if path == "."
                || path.is_empty()
                || path == name
                || path.ends_with(&format!(".{name}"))
            {
                if path == "." || path.is_empty() {
                    name.to_owned()
                } else {
                    path.to_owned()
                }
            } else {
                format!("{path}.{name}")
            };
        }
    }
    if path == "." {
        String::new()
    } else {
        path.to_owned()
    }
}

#[expect(
    clippy::result_large_err,
    reason = "a Problem is built once per refused request, never on the hot path"
)]
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            return Problem::bad_request(
                "malformed-json",
                format!("the body is not valid JSON: {msg}"),
            );
        }
        // Strip serde's " at line 1 column 12" suffix: the field says where.
        let clean = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
        let field = field_from_message(&path, &clean);
        let detail = if field.is_empty() {
            clean.clone()
        } else {
            format!("{field}: {clean}")
        };
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "The input was refused; nothing was changed",
            detail,
        );
        p.errors = vec![panel1_core::FieldError::new(field.clone(), "type", clean)];
        p.with_field(field)
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        let ct = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct.starts_with("application/json") {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(Json)
    }
}

pub fn body_rejection(e: axum::extract::rejection::BytesRejection) -> Problem {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Body too large",
            "the request body is larger than this endpoint accepts; send less data per request",
        )
    } else {
        Problem::bad_request(
            "unreadable-body",
            format!("the request body could not be read: {e}"),
        )
    }
}

/// A query string, refused with a problem that names the offending parameter.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| {
                let path = e.path().to_string();
                let msg = e.into_inner().to_string();
                let field = field_from_message(&path, &msg);
                let mut p = Problem::bad_request(
                    "invalid-query",
                    if field.is_empty() {
                        msg.clone()
                    } else {
                        format!("{field}: {msg}")
                    },
                );
                p.errors = vec![panel1_core::FieldError::new(field.clone(), "type", msg)];
                p.with_field(field)
            })
    }
}

/// The authenticated caller (`Authorization: Bearer <token>`), with the request id.
pub struct Auth(pub Caller);

impl FromRequestParts<App> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        if let Some(c) = parts.extensions.get::<Caller>() {
            return Ok(Auth(c.clone()));
        }
        let token = bearer(parts).ok_or(ApiError(AppError::Unauthenticated))?;
        let principal = panel1_app::auth::authenticate_token(app, token).await?;
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let caller = Caller::new(principal, request_id);
        parts.extensions.insert(caller.clone());
        Ok(Auth(caller))
    }
}

pub fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The query of a list call that takes nothing but a page (`page`, `limit`).
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    pub page: Option<u32>,
    pub limit: Option<u32>,
}

/// Checks `page` and `limit` query parameters.
pub fn page_request(
    page: Option<u32>,
    limit: Option<u32>,
) -> Result<panel1_core::PageRequest, ApiError> {
    panel1_core::PageRequest::new(page, limit).map_err(|e| ApiError(AppError::Invalid(e)))
}

/// Parses an id from a path segment; a malformed id answers 404 like a missing one.
pub fn path_id<T: std::str::FromStr>(what: &'static str, s: &str) -> Result<T, ApiError> {
    s.parse::<T>()
        .map_err(|_| ApiError(AppError::not_found(what, s)))
}

pub fn problem(e: AppError) -> Problem {
    problem_for(e)
}
