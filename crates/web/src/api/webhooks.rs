use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use panel1_app::App;
use panel1_app::webhooks::{self, NewWebhookInput};
use panel1_core::WebhookId;
use panel1_store::webhooks::{Delivery, Webhook};
use serde::Serialize;
use utoipa::ToSchema;

use super::PageOf;
use crate::extract::{self, Auth, PageParams, Query, page_request, path_id};
use crate::problem::{ApiResult, Problem};

/// A new webhook with its signing secret (shown only in this response).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// Verify deliveries with it: `Panel1-Signature: v1=hex(HMAC-SHA256(secret, "{Panel1-Timestamp}.{body}"))`.
    pub secret: String,
}

/// Lists the tenant's webhooks (administrators). Secrets are never listed.
#[utoipa::path(get, path = "/webhooks", operation_id = "listWebhooks", tag = "webhooks",
    responses((status = 200, body = Vec<Webhook>), (status = 403, body = Problem)))]
pub async fn list_webhooks(
    State(app): State<App>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<Webhook>>> {
    Ok(Json(webhooks::list(&app, caller.admin()?).await?))
}

/// Creates a webhook (administrators).
#[utoipa::path(post, path = "/webhooks", operation_id = "createWebhook", tag = "webhooks", request_body = NewWebhookInput,
    responses((status = 201, body = CreatedWebhook), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_webhook(
    State(app): State<App>,
    Auth(caller): Auth,
    extract::Json(input): extract::Json<NewWebhookInput>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    let (webhook, secret) = webhooks::create(&app, caller.admin()?, &input).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            webhook,
            secret: secret.expose().to_owned(),
        }),
    ))
}

/// Deletes a webhook (administrators); pending deliveries are dropped.
#[utoipa::path(delete, path = "/webhooks/{id}", operation_id = "deleteWebhook", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_webhook(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: WebhookId = path_id("webhook", &id)?;
    webhooks::delete(&app, caller.admin()?, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The delivery log of a webhook: every attempt, newest first.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", operation_id = "listWebhookDeliveries", tag = "webhooks",
    params(("id" = String, Path), PageParams),
    responses((status = 200, body = PageOf<Delivery>), (status = 404, body = Problem)))]
pub async fn list_webhook_deliveries(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(q): Query<PageParams>,
) -> ApiResult<Json<PageOf<Delivery>>> {
    let id: WebhookId = path_id("webhook", &id)?;
    let page = page_request(q.page, q.limit)?;
    Ok(Json(
        webhooks::deliveries(&app, caller.admin()?, &id, page)
            .await?
            .into(),
    ))
}
