//! The audit log: who did what to which object, when, with a before/after summary. Written in
//! the same transaction as the change it records.

use chrono::{DateTime, Utc};
use panel1_core::time::{from_millis, now_millis};
use panel1_core::{AuditId, PageRequest, TenantId};
use serde::Serialize;

use crate::{Conn, Result, exec, on};

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Actor {
    /// `user`, `token` or `system`.
    pub kind: String,
    /// The user id (for users and tokens) or the system component.
    pub id: Option<String>,
    pub token_id: Option<String>,
}

impl Actor {
    pub fn system(component: &str) -> Self {
        Self {
            kind: "system".into(),
            id: Some(component.into()),
            token_id: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: AuditId,
    pub tenant_id: TenantId,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub summary: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewAudit<'a> {
    pub tenant_id: &'a TenantId,
    pub actor: &'a Actor,
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: &'a str,
    pub summary: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub request_id: Option<&'a str>,
}

pub async fn append(c: Conn<'_>, e: NewAudit<'_>) -> Result<AuditId> {
    let id = AuditId::new();
    exec!(c, c => sqlx::query(
        "INSERT INTO audit_log (id, tenant_id, at, actor_kind, actor_id, token_id, action, object_type, object_id, summary, before, after, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
        .bind(id.as_str()).bind(e.tenant_id.as_str()).bind(now_millis()).bind(&e.actor.kind).bind(&e.actor.id)
        .bind(&e.actor.token_id).bind(e.action).bind(e.object_type).bind(e.object_id).bind(&e.summary)
        .bind(e.before.as_ref().map(|v| v.to_string())).bind(e.after.as_ref().map(|v| v.to_string()))
        .bind(e.request_id)
        .execute(c).await)?;
    Ok(id)
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    tenant_id: String,
    at: i64,
    actor_kind: String,
    actor_id: Option<String>,
    token_id: Option<String>,
    action: String,
    object_type: String,
    object_id: String,
    summary: String,
    before: Option<String>,
    after: Option<String>,
    request_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub object_type: Option<String>,
    pub object_id: Option<String>,
}

pub async fn list(
    mut c: Conn<'_>,
    tenant: &TenantId,
    f: &AuditFilter,
    page: PageRequest,
) -> Result<(Vec<AuditEntry>, u64)> {
    let mut cond = String::from("tenant_id = $1");
    let mut binds = Vec::new();
    if let Some(t) = &f.object_type {
        binds.push(t.clone());
        cond.push_str(&format!(" AND object_type = ${}", binds.len() + 1));
    }
    if let Some(o) = &f.object_id {
        binds.push(o.clone());
        cond.push_str(&format!(" AND object_id = ${}", binds.len() + 1));
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT id, tenant_id, at, actor_kind, actor_id, token_id, action, object_type, object_id, summary, before, after, request_id
         FROM audit_log WHERE {cond} ORDER BY at DESC, id DESC LIMIT {} OFFSET {}",
        page.limit(),
        page.offset()
    ));
    let rows: Vec<Row> = on!(c.reborrow(), c => {
        let mut q = sqlx::query_as(sql).bind(tenant.as_str());
        for b in &binds { q = q.bind(b); }
        q.fetch_all(c).await
    })?;
    let count_sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM audit_log WHERE {cond}"));
    let total: i64 = on!(c, c => {
        let mut q = sqlx::query_scalar(count_sql).bind(tenant.as_str());
        for b in &binds { q = q.bind(b); }
        q.fetch_one(c).await
    })?;
    let parse = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
    let items = rows
        .into_iter()
        .map(|r| {
            Ok(AuditEntry {
                id: super::id(&r.id)?,
                tenant_id: super::id(&r.tenant_id)?,
                at: from_millis(r.at),
                actor: Actor {
                    kind: r.actor_kind,
                    id: r.actor_id,
                    token_id: r.token_id,
                },
                action: r.action,
                object_type: r.object_type,
                object_id: r.object_id,
                summary: r.summary,
                before: parse(r.before),
                after: parse(r.after),
                request_id: r.request_id,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((items, u64::try_from(total).unwrap_or(0)))
}
