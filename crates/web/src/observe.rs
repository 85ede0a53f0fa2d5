//! `/metrics` (Prometheus text) and the HTTP request metrics behind it.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use panel1_app::App;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

pub async fn http_metrics(req: Request, next: Next) -> Response {
    let _ = handle();
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("panel1_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("panel1_http_request_duration_seconds", "method" => method, "route" => route).record(start.elapsed().as_secs_f64());
    resp
}

pub async fn metrics(State(app): State<App>) -> Response {
    // Gauges read at scrape time: the queue by status and the outbox backlog.
    if let Ok(mut r) = app.db.read().await {
        if let Ok(counts) = panel1_store::jobs::status_counts(r.conn()).await {
            for status in ["ready", "running", "done", "dead", "cancelled"] {
                let n = counts
                    .iter()
                    .find(|(s, _)| s == status)
                    .map_or(0, |(_, n)| *n);
                metrics::gauge!("panel1_jobs", "status" => status).set(n as f64);
            }
        }
        if let Ok(n) = panel1_store::events::count_undispatched(r.conn()).await {
            metrics::gauge!("panel1_outbox_undispatched").set(n as f64);
        }
    }
    let body = handle().map(|h| h.render()).unwrap_or_default();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
        .into_response()
}
