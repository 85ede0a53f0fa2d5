//! Tenant webhooks: signed, retried deliveries of events, with a log of every attempt.
//!
//! Each delivery is a POST of the event as JSON with these headers:
//! `Panel1-Event` (the event type), `Panel1-Delivery` (the event id, stable across retries),
//! `Panel1-Timestamp` (Unix seconds) and `Panel1-Signature: v1=<hex HMAC-SHA256 of
//! "{timestamp}.{body}" under the webhook's secret>`. A 2xx answer is a delivery; anything
//! else is retried with backoff (about a day in all), in order per object.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use panel1_core::crypto::{new_webhook_secret, sign_webhook};
use panel1_core::validate::{self, Checker};
use panel1_core::{
    EventId, FieldError, Page, PageRequest, SecretString, ValidationError, WebhookId,
};
use panel1_jobs::{Job, JobContext, JobError};
use panel1_store::events;
use panel1_store::webhooks::{self, Delivery, NewDelivery, NewWebhook, Webhook};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{self, Change};
use crate::{Admin, App, AppError, AppResult};

/// A new webhook endpoint.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookInput {
    /// Where to POST events (http or https).
    #[schema(example = "https://billing.example.com/panel1-events")]
    pub url: String,
    pub description: Option<String>,
    /// Event types to send: exact (`domain.renewed`), a family (`domain.*`) or `*` for all.
    #[schema(example = json!(["domain.*", "client.created"]))]
    pub events: Vec<String>,
}

fn context(id: &WebhookId) -> String {
    format!("webhook-secret:{id}")
}

fn check_event_pattern(p: &str) -> Result<String, ValidationError> {
    let p = p.trim();
    let body = p.strip_suffix(".*").unwrap_or(p);
    let ok = p == "*"
        || (!body.is_empty()
            && body.len() <= 100
            && body.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            }));
    if ok {
        Ok(p.to_owned())
    } else {
        Err(ValidationError::field(
            "",
            "format",
            "an event type like `domain.renewed`, a family like `domain.*`, or `*`",
        ))
    }
}

/// Creates a webhook and returns it with its signing secret (shown this once).
pub async fn create(
    app: &App,
    admin: Admin<'_>,
    input: &NewWebhookInput,
) -> AppResult<(Webhook, SecretString)> {
    let caller = admin.0;
    let mut c = Checker::new();
    let url = c.take("url", check_url(&input.url));
    let description = c.take(
        "description",
        validate::optional_text(input.description.as_deref(), 500),
    );
    if input.events.is_empty() {
        c.push(FieldError::new(
            "events",
            "required",
            "list at least one event type, or `*` for all",
        ));
    }
    let events: Vec<String> = input
        .events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| c.take(&format!("events.{i}"), check_event_pattern(e)))
        .collect();
    c.finish()?;
    let (Some(url), Some(description)) = (url, description) else {
        return Err(AppError::internal(anyhow::anyhow!(
            "validated input lost a field"
        )));
    };
    let id = WebhookId::new();
    let secret = new_webhook_secret()?;
    let sealed = app.keyring.seal_str(&context(&id), &secret)?;
    let mut tx = app.db.begin().await?;
    let hook = webhooks::insert(
        tx.conn(),
        caller.tenant(),
        &NewWebhook {
            id: &id,
            url: &url,
            description: description.as_deref(),
            events: &events,
            secret_sealed: &sealed,
        },
    )
    .await?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "webhook.create",
            object_type: "webhook",
            object_id: id.as_str(),
            summary: format!("created webhook to {url} for {}", events.join(", ")),
            before: None,
            after: Some(serde_json::to_value(&hook).map_err(AppError::internal)?),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((hook, secret))
}

fn check_url(u: &str) -> Result<String, ValidationError> {
    let u = u.trim();
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"));
    match rest {
        Some(r) if !r.is_empty() && u.len() <= 2000 && !u.chars().any(char::is_whitespace) => {
            Ok(u.to_owned())
        }
        _ => Err(ValidationError::field(
            "",
            "format",
            "must be an http:// or https:// URL",
        )),
    }
}

pub async fn list(app: &App, admin: Admin<'_>) -> AppResult<Vec<Webhook>> {
    let mut r = app.db.read().await?;
    Ok(webhooks::list(r.conn(), admin.0.tenant()).await?)
}

pub async fn delete(app: &App, admin: Admin<'_>, id: &WebhookId) -> AppResult<()> {
    let caller = admin.0;
    let mut tx = app.db.begin().await?;
    let hook = webhooks::get(tx.conn(), caller.tenant(), id)
        .await?
        .ok_or_else(|| AppError::not_found("webhook", id))?;
    webhooks::delete(tx.conn(), caller.tenant(), id).await?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "webhook.delete",
            object_type: "webhook",
            object_id: id.as_str(),
            summary: format!("deleted webhook to {}", hook.url),
            before: Some(serde_json::to_value(&hook).map_err(AppError::internal)?),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn deliveries(
    app: &App,
    admin: Admin<'_>,
    id: &WebhookId,
    page: PageRequest,
) -> AppResult<Page<Delivery>> {
    let mut r = app.db.read().await?;
    if webhooks::get(r.conn(), admin.0.tenant(), id)
        .await?
        .is_none()
    {
        return Err(AppError::not_found("webhook", id));
    }
    let (items, total) = webhooks::deliveries(r.conn(), admin.0.tenant(), id, page).await?;
    Ok(Page::new(items, page, total))
}

/// The body of a webhook delivery.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookPayload {
    pub id: EventId,
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub tenant_id: panel1_core::TenantId,
    pub object: WebhookObject,
    pub data: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookObject {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

/// Delivers one event to one webhook.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeliverWebhook {
    pub webhook_id: WebhookId,
    pub event_id: EventId,
}

#[async_trait]
impl Job for DeliverWebhook {
    const KIND: &'static str = "webhook::deliver";
    const QUEUE: &'static str = "default";
    const MAX_ATTEMPTS: i64 = 12;
    type Context = App;

    fn unique_key(&self) -> Option<String> {
        Some(format!("{}:{}", self.webhook_id, self.event_id))
    }

    /// 10 s, 20 s, 40 s … capped at 4 h: twelve attempts span about a day.
    fn backoff(attempt: i64) -> Duration {
        let exp = u32::try_from(attempt.clamp(1, 16) - 1).unwrap_or(0);
        Duration::from_secs(10u64.saturating_mul(1 << exp)).min(Duration::from_secs(4 * 3600))
    }

    async fn run(&self, app: &App, job: &JobContext) -> Result<(), JobError> {
        let (hook, event) = {
            let mut r = app.db.read().await?;
            let event = events::get(r.conn(), &self.event_id).await?;
            let Some(event) = event else {
                return Err(JobError::permanent(format!(
                    "event {} no longer exists",
                    self.event_id
                )));
            };
            let hook = webhooks::get(r.conn(), &event.tenant_id, &self.webhook_id).await?;
            (hook, event)
        };
        let Some(hook) = hook.filter(|h| h.active) else {
            tracing::info!(webhook = %self.webhook_id, "webhook was deleted or disabled; dropping the delivery");
            return Ok(());
        };
        let secret = app
            .keyring
            .open_str(&context(&hook.id), &hook.secret_sealed)
            .map_err(|e| JobError::permanent(format!("webhook secret: {e}")))?;
        let payload = WebhookPayload {
            id: event.id.clone(),
            kind: event.kind.clone(),
            created_at: event.created_at,
            tenant_id: event.tenant_id.clone(),
            object: WebhookObject {
                kind: event.object_type.clone(),
                id: event.object_id.clone(),
            },
            data: event.payload.clone(),
        };
        let body = serde_json::to_vec(&payload).map_err(JobError::permanent)?;
        let ts = chrono::Utc::now().timestamp();
        let sig = sign_webhook(&secret, ts, &body);
        let started = Instant::now();
        let resp = app
            .http
            .post(&hook.url)
            .header("content-type", "application/json")
            .header("panel1-event", &event.kind)
            .header("panel1-delivery", event.id.as_str())
            .header("panel1-timestamp", ts.to_string())
            .header("panel1-signature", format!("v1={sig}"))
            .body(body)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (delivered, status, error) = match &resp {
            Ok(r) if r.status().is_success() => (true, Some(i64::from(r.status().as_u16())), None),
            Ok(r) => (
                false,
                Some(i64::from(r.status().as_u16())),
                Some(format!(
                    "the endpoint answered HTTP {}",
                    r.status().as_u16()
                )),
            ),
            Err(e) => (false, None, Some(describe(e))),
        };
        let mut tx = app.db.begin().await?;
        webhooks::record_delivery(
            tx.conn(),
            &NewDelivery {
                tenant_id: &event.tenant_id,
                webhook_id: &hook.id,
                event_id: &event.id,
                event_type: &event.kind,
                attempt: job.attempt,
                delivered,
                response_status: status,
                error: error.as_deref(),
                duration_ms: ms,
            },
        )
        .await?;
        tx.commit().await?;
        metrics::counter!("panel1_webhook_deliveries_total", "outcome" => if delivered { "delivered" } else { "failed" }).increment(1);
        match error {
            None => Ok(()),
            Some(e) => Err(JobError::Retry(format!(
                "delivery to {} failed: {e}",
                hook.url
            ))),
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the endpoint did not answer within 10 s".into()
    } else if e.is_connect() {
        "could not connect to the endpoint".into()
    } else {
        let mut msg = e.to_string();
        if let Some(u) = e.url() {
            msg = msg.replace(u.as_str(), "the endpoint");
        }
        format!("request failed: {msg}")
    }
}
