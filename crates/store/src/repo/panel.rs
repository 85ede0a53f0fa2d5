//! Read-only queries the web panel needs beyond the aggregates' own listings: what needs a
//! person's attention (the dashboard) and finding users by name or e-mail.

use chrono::{DateTime, Utc};
use panel1_core::time::from_millis;
use panel1_core::{PageRequest, Role, Scope, TenantId, WebhookId};

use super::contains_pattern;
use crate::users::User;
use crate::{Conn, Result, StoreError, on};

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

/// What to look for in the users of a scope.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Matches name or e-mail, case-insensitively.
    pub search: Option<String>,
    pub role: Option<Role>,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    tenant_id: String,
    email: String,
    name: String,
    role: String,
    client_id: Option<String>,
    created_at: i64,
}

/// Live users visible in `scope` that match `f`, newest first, with the number that match.
pub async fn search_users(
    mut c: Conn<'_>,
    scope: &Scope,
    f: &UserFilter,
    page: PageRequest,
) -> Result<(Vec<User>, u64)> {
    let mut cond = String::from("tenant_id = $1 AND deleted_at IS NULL");
    let mut binds: Vec<String> = vec![scope.tenant_id.as_str().to_owned()];
    if let Some(cl) = &scope.client_id {
        binds.push(cl.as_str().to_owned());
        cond.push_str(&format!(" AND client_id = ${}", binds.len()));
    }
    if let Some(s) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        binds.push(contains_pattern(s));
        let n = binds.len();
        cond.push_str(&format!(
            " AND (LOWER(name) LIKE ${n} ESCAPE '\\' OR LOWER(email) LIKE ${n} ESCAPE '\\')"
        ));
    }
    if let Some(r) = f.role {
        binds.push(r.as_str().to_owned());
        cond.push_str(&format!(" AND role = ${}", binds.len()));
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT id, tenant_id, email, name, role, client_id, created_at FROM users WHERE {cond}
         ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}",
        page.limit(),
        page.offset()
    ));
    let rows: Vec<UserRow> = on!(c.reborrow(), c => {
        let mut q = sqlx::query_as(sql);
        for b in &binds { q = q.bind(b); }
        q.fetch_all(c).await
    })?;
    let count = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM users WHERE {cond}"));
    let total: i64 = on!(c, c => {
        let mut q = sqlx::query_scalar(count);
        for b in &binds { q = q.bind(b); }
        q.fetch_one(c).await
    })?;
    let users = rows
        .into_iter()
        .map(|r| {
            Ok(User {
                id: super::id(&r.id)?,
                tenant_id: super::id(&r.tenant_id)?,
                email: r.email,
                name: r.name,
                role: Role::parse(&r.role)
                    .ok_or_else(|| StoreError::corrupt(format!("role `{}`", r.role)))?,
                client_id: super::opt_id(r.client_id.as_deref())?,
                created_at: from_millis(r.created_at),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((users, u64::try_from(total).unwrap_or(0)))
}
