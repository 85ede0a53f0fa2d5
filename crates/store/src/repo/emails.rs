//! E-mail: per-tenant template overrides and the record of every e-mail (to, template,
//! object, sent-at, outcome).

use chrono::{DateTime, Utc};
use panel1_core::time::{from_millis, now_millis};
use panel1_core::{EmailId, PageRequest, TenantId};
use serde::Serialize;

use crate::{Conn, Result, exec, on};

/// A tenant's version of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TemplateOverride {
    pub key: String,
    pub subject: String,
    pub body: String,
    pub updated_at: DateTime<Utc>,
}

pub async fn get_template(
    c: Conn<'_>,
    tenant: &TenantId,
    key: &str,
) -> Result<Option<TemplateOverride>> {
    let row: Option<(String, String, String, i64)> = on!(c, c => sqlx::query_as(
        "SELECT key, subject, body, updated_at FROM email_templates WHERE tenant_id = $1 AND key = $2")
        .bind(tenant.as_str()).bind(key).fetch_optional(c).await)?;
    Ok(row.map(|(key, subject, body, at)| TemplateOverride {
        key,
        subject,
        body,
        updated_at: from_millis(at),
    }))
}

pub async fn list_templates(c: Conn<'_>, tenant: &TenantId) -> Result<Vec<TemplateOverride>> {
    let rows: Vec<(String, String, String, i64)> = on!(c, c => sqlx::query_as(
        "SELECT key, subject, body, updated_at FROM email_templates WHERE tenant_id = $1 ORDER BY key")
        .bind(tenant.as_str()).fetch_all(c).await)?;
    Ok(rows
        .into_iter()
        .map(|(key, subject, body, at)| TemplateOverride {
            key,
            subject,
            body,
            updated_at: from_millis(at),
        })
        .collect())
}

pub async fn upsert_template(
    c: Conn<'_>,
    tenant: &TenantId,
    key: &str,
    subject: &str,
    body: &str,
) -> Result<()> {
    exec!(c, c => sqlx::query(
        "INSERT INTO email_templates (tenant_id, key, subject, body, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, key) DO UPDATE SET subject = excluded.subject, body = excluded.body, updated_at = excluded.updated_at")
        .bind(tenant.as_str()).bind(key).bind(subject).bind(body).bind(now_millis()).execute(c).await)?;
    Ok(())
}

pub async fn delete_template(c: Conn<'_>, tenant: &TenantId, key: &str) -> Result<bool> {
    Ok(
        exec!(c, c => sqlx::query("DELETE FROM email_templates WHERE tenant_id = $1 AND key = $2").bind(tenant.as_str()).bind(key).execute(c).await)?
            == 1,
    )
}

/// A recorded e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Email {
    pub id: EmailId,
    pub to: String,
    pub template: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub subject: String,
    #[serde(skip)]
    pub body: String,
    /// `queued`, `sent`, `failed` (will be retried) or `logged` (no SMTP server configured).
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    to_address: String,
    template: String,
    object_type: Option<String>,
    object_id: Option<String>,
    subject: String,
    body: String,
    status: String,
    attempts: i64,
    last_error: Option<String>,
    created_at: i64,
    sent_at: Option<i64>,
}

const COLUMNS: &str = "id, to_address, template, object_type, object_id, subject, body, status, attempts, last_error, created_at, sent_at";

impl Row {
    fn into_model(self) -> Result<Email> {
        Ok(Email {
            id: super::id(&self.id)?,
            to: self.to_address,
            template: self.template,
            object_type: self.object_type,
            object_id: self.object_id,
            subject: self.subject,
            body: self.body,
            status: self.status,
            attempts: self.attempts,
            last_error: self.last_error,
            created_at: from_millis(self.created_at),
            sent_at: self.sent_at.map(from_millis),
        })
    }
}

pub struct NewEmail<'a> {
    pub to: &'a str,
    pub template: &'a str,
    pub object_type: Option<&'a str>,
    pub object_id: Option<&'a str>,
    pub subject: &'a str,
    pub body: &'a str,
    /// At most one e-mail with this key is recorded (reminders per domain and date).
    pub dedupe_key: Option<&'a str>,
}

/// Records an e-mail to send. Returns `None` when one with the same dedupe key exists.
pub async fn insert(c: Conn<'_>, tenant: &TenantId, e: &NewEmail<'_>) -> Result<Option<EmailId>> {
    let id = EmailId::new();
    let n = exec!(c, c => sqlx::query(
        "INSERT INTO emails (id, tenant_id, to_address, template, object_type, object_id, subject, body, status, dedupe_key, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9, $10) ON CONFLICT (dedupe_key) DO NOTHING")
        .bind(id.as_str()).bind(tenant.as_str()).bind(e.to).bind(e.template).bind(e.object_type).bind(e.object_id)
        .bind(e.subject).bind(e.body).bind(e.dedupe_key).bind(now_millis())
        .execute(c).await)?;
    Ok((n == 1).then_some(id))
}

#[derive(sqlx::FromRow)]
struct TenantRow {
    tenant_id: String,
    #[sqlx(flatten)]
    row: Row,
}

pub async fn get(c: Conn<'_>, id: &EmailId) -> Result<Option<(TenantId, Email)>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT tenant_id, {COLUMNS} FROM emails WHERE id = $1"
    ));
    let row: Option<TenantRow> =
        on!(c, c => sqlx::query_as(sql).bind(id.as_str()).fetch_optional(c).await)?;
    row.map(|r| Ok((super::id(&r.tenant_id)?, r.row.into_model()?)))
        .transpose()
}

/// Records the outcome of one sending attempt.
pub async fn record_attempt(
    c: Conn<'_>,
    id: &EmailId,
    status: &str,
    error: Option<&str>,
) -> Result<()> {
    let now = now_millis();
    exec!(c, c => sqlx::query(
        "UPDATE emails SET status = $2, attempts = attempts + 1, last_error = $3, sent_at = CASE WHEN $2 IN ('sent', 'logged') THEN $4 ELSE sent_at END WHERE id = $1")
        .bind(id.as_str()).bind(status).bind(error).bind(now).execute(c).await)?;
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct EmailFilter {
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub template: Option<String>,
}

pub async fn list(
    mut c: Conn<'_>,
    tenant: &TenantId,
    f: &EmailFilter,
    page: PageRequest,
) -> Result<(Vec<Email>, u64)> {
    let mut cond = String::from("tenant_id = $1");
    let mut binds = Vec::new();
    for (col, v) in [
        ("object_type", &f.object_type),
        ("object_id", &f.object_id),
        ("template", &f.template),
    ] {
        if let Some(v) = v {
            binds.push(v.clone());
            cond.push_str(&format!(" AND {col} = ${}", binds.len() + 1));
        }
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM emails WHERE {cond} ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}",
        page.limit(),
        page.offset()
    ));
    let rows: Vec<Row> = on!(c.reborrow(), c => {
        let mut q = sqlx::query_as(sql).bind(tenant.as_str());
        for b in &binds { q = q.bind(b); }
        q.fetch_all(c).await
    })?;
    let count = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM emails WHERE {cond}"));
    let total: i64 = on!(c, c => {
        let mut q = sqlx::query_scalar(count).bind(tenant.as_str());
        for b in &binds { q = q.bind(b); }
        q.fetch_one(c).await
    })?;
    Ok((
        rows.into_iter()
            .map(Row::into_model)
            .collect::<Result<_>>()?,
        u64::try_from(total).unwrap_or(0),
    ))
}
