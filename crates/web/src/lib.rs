//! Panel1's HTTP surface: `/api/v1` (JSON, documented by the OpenAPI 3.1 document at
//! `/api/v1/openapi.json`), `/healthz`, `/readyz` and `/metrics`.
//!
//! Handlers are thin: authenticate ([`extract::Auth`]), parse input ([`extract::Json`],
//! [`extract::Query`]), call one service in `panel1-app`, answer JSON or a
//! [`problem::Problem`].

mod acme_challenge;
pub mod api;
pub mod extract;
mod idempotency;
mod observe;
pub mod problem;

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use panel1_app::App;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::problem::Problem;

#[derive(OpenApi)]
#[openapi(
    info(title = "Panel1 API", description = "Domains, DNS and TLS certificates for hosting companies. Every error is an RFC 9457 problem document (application/problem+json).", license(name = "AGPL-3.0-only")),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "clients", description = "The tenant's customers"),
        (name = "users", description = "Users and API tokens"),
        (name = "tenants", description = "Hosting companies on the installation (operator)"),
        (name = "audit", description = "Who did what, when"),
        (name = "jobs", description = "The durable job queue and recurring schedules"),
        (name = "webhooks", description = "Signed event deliveries"),
        (name = "auth", description = "Identity"),
        (name = "domains", description = "Domain names: availability, registration, renewal, restore, transfer, nameservers, contacts, lock, privacy, suspension, operations log; automatic renewal and reminders, drift found by the registrar sync, the tenant's domain settings"),
        (name = "contacts", description = "Reusable WHOIS contacts of clients"),
        (name = "registrars", description = "Registrar accounts per tenant (credentials write-only), TLD routing, the sync's rate limit, importing an account's domains"),
        (name = "billing", description = "TLD prices, invoices, client credit and e-mail"),
        (name = "dns", description = "DNS hosting: zones, records, zone files, DNS provider accounts and secondaries"),
        (name = "certificates", description = "TLS certificates: ordering (ACME, HTTP-01 and DNS-01), validation records, renewal, revocation, installation, downloads; CA accounts and products"),
    ),
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("p1_…")
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api::routes())
        .split_for_parts();
    api
}

/// The whole HTTP application.
pub fn router(app: App) -> Router {
    let (api_router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api::routes())
        .split_for_parts();
    let doc = std::sync::Arc::new(doc);
    let request_id = HeaderName::from_static("x-request-id");
    let max_body = app.settings.max_body_bytes;
    api_router
        .route("/api/v1/openapi.json", get(move || {
            let doc = doc.clone();
            async move { Json(doc.as_ref().clone()) }
        }))
        .route("/.well-known/acme-challenge/{token}", get(acme_challenge::serve))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(observe::metrics))
        .merge(panel1_panel::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(app.clone(), idempotency::layer))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(observe::http_metrics))
        .layer(CatchPanicLayer::custom(|_| {
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error", "something went wrong on our side; it has been logged").into_response()
        }))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(app)
}

async fn readyz(State(app): State<App>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), app.db.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Not ready",
                "the database is not reachable",
            )
            .into_response()
        }
        Err(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Not ready",
            "the database did not answer within 2 s",
        )
        .into_response(),
    }
}

async fn not_found(uri: axum::http::Uri) -> Problem {
    Problem::not_found(format!(
        "there is nothing at {}; see /api/v1/openapi.json for the API",
        uri.path()
    ))
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// Serves `router` on `addr` until `cancel` fires; returns the bound address at once.
pub async fn serve(
    app: App,
    addr: SocketAddr,
    cancel: CancellationToken,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (http_addr): {e}"))?;
    let bound = listener.local_addr()?;
    let router = router(app);
    let task = tokio::spawn(async move {
        let r = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "HTTP server stopped with an error");
        }
    });
    Ok((bound, task))
}
