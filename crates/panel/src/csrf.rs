//! Cross-site request forgery protection for every form of the panel.
//!
//! A layer in front of all panel routes reads the body of every non-GET request, and lets it
//! through only if its `_csrf` field equals the token of the session in the request's cookie
//! (or, before sign-in, the token in the pre-session cookie the sign-in page set). A request
//! a browser marks as cross-site (`Sec-Fetch-Site: cross-site`) is refused too. Because the
//! check sits in the router, a new page's form is protected without doing anything; its
//! handler reads the already-parsed fields with the [`FormData`] extractor.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::PageError;
use crate::form::FormData;
use crate::session::{csrf_for, presession_cookie, read_cookie, same, session_cookie};

/// The largest form accepted (a zone file pasted into a text area fits).
pub const MAX_FORM_BYTES: usize = 4 * 1024 * 1024;

pub async fn layer(req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    if parts
        .headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return refuse("This form was sent from another site, so it was refused.");
    }
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return refuse("Panel pages only accept forms sent from their own pages.");
    }
    let bytes = match to_bytes(body, MAX_FORM_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return crate::error::error_page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Too large",
                "The form is larger than Panel1 accepts (4 MiB).",
                "Send less at once.",
            );
        }
    };
    let form = FormData::parse(&bytes);
    let sent = form.raw("_csrf");
    // The cookie names do not depend on the state here: accept either spelling. The
    // pre-session token only counts for the sign-in forms.
    let signing_in = parts.uri.path() == "/login";
    let expected = [true, false]
        .into_iter()
        .flat_map(|secure| {
            [
                read_cookie(&parts.headers, session_cookie(secure)).map(csrf_for),
                read_cookie(&parts.headers, presession_cookie(secure))
                    .filter(|_| signing_in)
                    .map(str::to_owned),
            ]
        })
        .flatten()
        .any(|token| !sent.is_empty() && same(&token, &sent));
    if !expected {
        tracing::info!(path = %parts.uri.path(), "form refused: missing or wrong CSRF token");
        return refuse(
            "This form did not carry the security token of your session (it may have expired, or come from another site).",
        );
    }
    parts.extensions.insert(form);
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn refuse(message: &str) -> Response {
    PageError::Csrf(message.to_owned()).into_response()
}
