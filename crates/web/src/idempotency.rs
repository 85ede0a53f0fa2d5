//! `Idempotency-Key` on mutating API calls: the first response is stored and returned again
//! for a retry with the same key, so a retried request does nothing twice. A key reused for a
//! different request is refused; a retry that arrives while the first is still running gets
//! 409. Responses of 5xx are not kept, so a retry after a server error runs again.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use panel1_app::App;
use panel1_core::crypto::sha256_hex;
use panel1_store::idempotency::{self, Begin, KeyedRequest};

use crate::problem::Problem;

const HEADER: &str = "idempotency-key";
/// An `in_progress` key older than this belongs to a request that died; a retry takes over.
const STALE_AFTER_MS: i64 = 120_000;

pub async fn layer(State(app): State<App>, req: Request, next: Next) -> Response {
    let mutating = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let Some(key) = req.headers().get(HEADER).cloned() else {
        return next.run(req).await;
    };
    if !mutating || !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let Some(key) = key
        .to_str()
        .ok()
        .map(str::to_owned)
        .filter(|k| !k.is_empty() && k.len() <= 255)
    else {
        return Problem::bad_request(
            "invalid-idempotency-key",
            "Idempotency-Key must be 1–255 visible ASCII characters, e.g. a UUID",
        )
        .with_field("Idempotency-Key")
        .into_response();
    };
    // The key belongs to the caller; without valid credentials the handler answers 401 itself.
    let (mut parts, body) = req.into_parts();
    let Ok(principal) = (match crate::extract::bearer(&parts) {
        Some(t) => panel1_app::auth::authenticate_token(&app, t).await,
        None => Err(panel1_app::AppError::Unauthenticated),
    }) else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    let bytes = match to_bytes(body, app.settings.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Body too large",
                "the request body is larger than this endpoint accepts",
            )
            .into_response();
        }
    };
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let hash = sha256_hex(&bytes);
    let principal_id = principal.user_id.to_string();
    let keyed = KeyedRequest {
        tenant_id: &principal.tenant_id,
        principal_id: &principal_id,
        key: &key,
        method: &method,
        path: &path,
        request_hash: &hash,
    };

    let begin = async {
        let mut tx = app.db.begin().await?;
        let b = idempotency::begin(tx.conn(), &keyed, STALE_AFTER_MS).await?;
        tx.commit().await?;
        Ok::<_, panel1_store::StoreError>(b)
    }
    .await;
    match begin {
        Err(e) => return crate::problem::problem_for(e.into()).into_response(),
        Ok(Begin::Replay {
            status,
            body,
            content_type,
        }) => {
            let mut r = Response::new(Body::from(body));
            *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                r.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            r.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return r;
        }
        Ok(Begin::InProgress) => {
            return Problem::new(
                StatusCode::CONFLICT,
                "idempotency-in-progress",
                "Request in progress",
                "a request with this Idempotency-Key is still being processed; retry in a moment",
            )
            .into_response();
        }
        Ok(Begin::Mismatch) => {
            return Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                "this Idempotency-Key was already used for a different request; use a new key for a new request",
            )
            .with_field("Idempotency-Key")
            .into_response();
        }
        Ok(Begin::Proceed) => {}
    }
    parts.extensions.insert(panel1_app::Caller::new(
        principal.clone(),
        parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    ));
    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (rparts, rbody) = resp.into_parts();
    let rbytes = to_bytes(rbody, 16 * 1024 * 1024).await.unwrap_or_default();
    let status = rparts.status;
    let content_type = rparts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let store = async {
        let mut tx = app.db.begin().await?;
        if status.is_server_error() {
            idempotency::abandon(tx.conn(), &keyed).await?;
        } else {
            idempotency::finish(
                tx.conn(),
                &keyed,
                status.as_u16(),
                &rbytes,
                content_type.as_deref(),
            )
            .await?;
        }
        tx.commit().await
    }
    .await;
    if let Err(e) = store {
        tracing::warn!(error = %e, "could not store the idempotent response");
    }
    Response::from_parts(rparts, Body::from(rbytes))
}
