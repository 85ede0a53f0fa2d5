//! What needs a person's attention, for the panel's dashboard: queries across aggregates
//! that only read.

use chrono::{DateTime, Utc};
use panel1_core::time::from_millis;
use panel1_core::{TenantId, WebhookId};

use crate::{Conn, Result, on};

/// A webhook whose deliveries failed recently.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailingWebhook {
    pub webhook_id: WebhookId,
    pub url: String,
    /// Failed attempts since the cut-off.
    pub failures: i64,
    pub last_failure_at: DateTime<Utc>,
    /// The error (or HTTP status) of the most recent failed attempt.
    pub last_error: Option<String>,
    pub last_status: Option<i64>,
}

/// (id, url, failures, last failure, last error, last status)
type Row = (String, String, i64, i64, Option<String>, Option<i64>);

/// Live webhooks of `tenant` with failed deliveries since `since`, most recent first.
pub async fn failing_webhooks(
    c: Conn<'_>,
    tenant: &TenantId,
    since: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<FailingWebhook>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT w.id, w.url, f.failures, f.last_at,
                (SELECT d.error FROM webhook_deliveries d WHERE d.tenant_id = w.tenant_id AND d.webhook_id = w.id
                   AND d.outcome = 'failed' ORDER BY d.at DESC, d.id DESC LIMIT 1) AS last_error,
                (SELECT d.response_status FROM webhook_deliveries d WHERE d.tenant_id = w.tenant_id AND d.webhook_id = w.id
                   AND d.outcome = 'failed' ORDER BY d.at DESC, d.id DESC LIMIT 1) AS last_status
         FROM (SELECT webhook_id, COUNT(*) AS failures, MAX(at) AS last_at FROM webhook_deliveries
               WHERE tenant_id = $1 AND outcome = 'failed' AND at >= $2 GROUP BY webhook_id) f
         JOIN webhooks w ON w.id = f.webhook_id AND w.tenant_id = $1 AND w.deleted_at IS NULL
         ORDER BY f.last_at DESC LIMIT {}",
        limit.clamp(1, 100)
    ));
    let rows: Vec<Row> = on!(c, c => sqlx::query_as(sql)
        .bind(tenant.as_str()).bind(since.timestamp_millis()).fetch_all(c).await)?;
    rows.into_iter()
        .map(|(id, url, failures, last, last_error, last_status)| {
            Ok(FailingWebhook {
                webhook_id: super::id(&id)?,
                url,
                failures,
                last_failure_at: from_millis(last),
                last_error,
                last_status,
            })
        })
        .collect()
}
