//! Tenant-configured webhooks and the log of every delivery attempt.

use chrono::{DateTime, Utc};
use panel1_core::time::{from_millis, now_millis};
use panel1_core::{DeliveryId, EventId, PageRequest, TenantId, WebhookId};
use serde::Serialize;

use crate::{Conn, Result, exec, on};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Webhook {
    pub id: WebhookId,
    pub tenant_id: TenantId,
    pub url: String,
    pub description: Option<String>,
    /// Event types to deliver; `*` for all, `domain.*` for a family.
    pub events: Vec<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    /// The signing secret sealed with the master key. Never serialised.
    #[serde(skip)]
    pub secret_sealed: String,
}

impl Webhook {
    /// Whether this webhook wants events of `kind`.
    pub fn wants(&self, kind: &str) -> bool {
        self.active
            && self.events.iter().any(|p| {
                p == "*"
                    || p == kind
                    || p.strip_suffix(".*").is_some_and(|pre| {
                        kind.starts_with(pre) && kind[pre.len()..].starts_with('.')
                    })
            })
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    tenant_id: String,
    url: String,
    description: Option<String>,
    events: String,
    active: bool,
    created_at: i64,
    secret_sealed: String,
}

const COLUMNS: &str = "id, tenant_id, url, description, events, active, created_at, secret_sealed";

impl Row {
    fn into_model(self) -> Result<Webhook> {
        Ok(Webhook {
            id: super::id(&self.id)?,
            tenant_id: super::id(&self.tenant_id)?,
            url: self.url,
            description: self.description,
            events: serde_json::from_str(&self.events).map_err(crate::StoreError::corrupt)?,
            active: self.active,
            created_at: from_millis(self.created_at),
            secret_sealed: self.secret_sealed,
        })
    }
}

pub struct NewWebhook<'a> {
    pub id: &'a WebhookId,
    pub url: &'a str,
    pub description: Option<&'a str>,
    pub events: &'a [String],
    pub secret_sealed: &'a str,
}

pub async fn insert(c: Conn<'_>, tenant: &TenantId, w: &NewWebhook<'_>) -> Result<Webhook> {
    let now = now_millis();
    let events = serde_json::to_string(w.events).map_err(crate::StoreError::corrupt)?;
    exec!(c, c => sqlx::query(
        "INSERT INTO webhooks (id, tenant_id, url, description, events, secret_sealed, active, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $7)")
        .bind(w.id.as_str()).bind(tenant.as_str()).bind(w.url).bind(w.description).bind(&events).bind(w.secret_sealed).bind(now)
        .execute(c).await)?;
    Ok(Webhook {
        id: w.id.clone(),
        tenant_id: tenant.clone(),
        url: w.url.to_owned(),
        description: w.description.map(str::to_owned),
        events: w.events.to_vec(),
        active: true,
        created_at: from_millis(now),
        secret_sealed: w.secret_sealed.to_owned(),
    })
}

pub async fn get(c: Conn<'_>, tenant: &TenantId, id: &WebhookId) -> Result<Option<Webhook>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhooks WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
    ));
    let row: Option<Row> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(id.as_str()).fetch_optional(c).await)?;
    row.map(Row::into_model).transpose()
}

/// The tenant's live webhooks.
pub async fn list(c: Conn<'_>, tenant: &TenantId) -> Result<Vec<Webhook>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM webhooks WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY created_at"
    ));
    let rows: Vec<Row> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).fetch_all(c).await)?;
    rows.into_iter().map(Row::into_model).collect()
}

pub async fn delete(c: Conn<'_>, tenant: &TenantId, id: &WebhookId) -> Result<bool> {
    let now = now_millis();
    let n = exec!(c, c => sqlx::query("UPDATE webhooks SET deleted_at = $3, active = FALSE, updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL")
        .bind(tenant.as_str()).bind(id.as_str()).bind(now).execute(c).await)?;
    Ok(n == 1)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    pub event_id: EventId,
    pub event_type: String,
    pub attempt: i64,
    /// `delivered` or `failed`.
    pub outcome: String,
    pub response_status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub at: DateTime<Utc>,
}

pub struct NewDelivery<'a> {
    pub tenant_id: &'a TenantId,
    pub webhook_id: &'a WebhookId,
    pub event_id: &'a EventId,
    pub event_type: &'a str,
    pub attempt: i64,
    pub delivered: bool,
    pub response_status: Option<i64>,
    pub error: Option<&'a str>,
    pub duration_ms: i64,
}

pub async fn record_delivery(c: Conn<'_>, d: &NewDelivery<'_>) -> Result<DeliveryId> {
    let id = DeliveryId::new();
    exec!(c, c => sqlx::query(
        "INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, event_id, event_kind, attempt, outcome, response_status, error, duration_ms, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(id.as_str()).bind(d.tenant_id.as_str()).bind(d.webhook_id.as_str()).bind(d.event_id.as_str()).bind(d.event_type)
        .bind(d.attempt).bind(if d.delivered { "delivered" } else { "failed" }).bind(d.response_status).bind(d.error)
        .bind(d.duration_ms).bind(now_millis())
        .execute(c).await)?;
    Ok(id)
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    webhook_id: String,
    event_id: String,
    event_kind: String,
    attempt: i64,
    outcome: String,
    response_status: Option<i64>,
    error: Option<String>,
    duration_ms: i64,
    at: i64,
}

pub async fn deliveries(
    mut c: Conn<'_>,
    tenant: &TenantId,
    webhook: &WebhookId,
    page: PageRequest,
) -> Result<(Vec<Delivery>, u64)> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT id, webhook_id, event_id, event_kind, attempt, outcome, response_status, error, duration_ms, at
         FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2 ORDER BY at DESC, id DESC LIMIT {} OFFSET {}",
        page.limit(),
        page.offset()
    ));
    let rows: Vec<DeliveryRow> = on!(c.reborrow(), c => sqlx::query_as(sql).bind(tenant.as_str()).bind(webhook.as_str()).fetch_all(c).await)?;
    let total: i64 = on!(c, c => sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2")
        .bind(tenant.as_str()).bind(webhook.as_str()).fetch_one(c).await)?;
    let items = rows
        .into_iter()
        .map(|r| {
            Ok(Delivery {
                id: super::id(&r.id)?,
                webhook_id: super::id(&r.webhook_id)?,
                event_id: super::id(&r.event_id)?,
                event_type: r.event_kind,
                attempt: r.attempt,
                outcome: r.outcome,
                response_status: r.response_status,
                error: r.error,
                duration_ms: r.duration_ms,
                at: from_millis(r.at),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((items, u64::try_from(total).unwrap_or(0)))
}

/// Deletes delivery log entries older than `before`. Returns how many were deleted.
pub async fn prune_deliveries(c: Conn<'_>, before: DateTime<Utc>) -> Result<u64> {
    Ok(
        exec!(c, c => sqlx::query("DELETE FROM webhook_deliveries WHERE at < $1").bind(before.timestamp_millis()).execute(c).await)?,
    )
}
