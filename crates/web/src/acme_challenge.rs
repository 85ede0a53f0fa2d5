//! HTTP-01: Panel1 serves `/.well-known/acme-challenge/<token>` itself, so a name pointed at
//! Panel1's HTTP server validates without touching the web server behind it. The answer is
//! the key authorization of a challenge in progress, given only when the request's `Host`
//! is the name being validated; anything else is a plain 404.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use panel1_app::App;

pub async fn serve(
    State(app): State<App>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match panel1_app::certificates::service::http01_answer(&app, &token, host).await {
        Ok(Some(key_authorization)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            key_authorization,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no such challenge\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "answering an HTTP-01 challenge failed");
            (StatusCode::SERVICE_UNAVAILABLE, "try again\n").into_response()
        }
    }
}
