//! WHOIS contacts: reusable per client, stored as validated
//! [`ContactData`](panel1_core::contact::ContactData).

use chrono::{DateTime, Utc};
use panel1_core::contact::ContactData;
use panel1_core::time::{from_millis, now_millis};
use panel1_core::{ClientId, ContactId, PageRequest, Scope, TenantId};
use serde::Serialize;

use crate::{Conn, Result, StoreError, exec, on};

use super::contains_pattern;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ContactRecord {
    pub id: ContactId,
    pub tenant_id: TenantId,
    /// The client this contact belongs to.
    pub client_id: ClientId,
    #[serde(flatten)]
    pub data: ContactData,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    tenant_id: String,
    client_id: String,
    data: String,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str = "id, tenant_id, client_id, data, created_at, updated_at";

impl Row {
    fn into_model(self) -> Result<ContactRecord> {
        Ok(ContactRecord {
            id: super::id(&self.id)?,
            tenant_id: super::id(&self.tenant_id)?,
            client_id: super::id(&self.client_id)?,
            data: serde_json::from_str(&self.data).map_err(StoreError::corrupt)?,
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
        })
    }
}

fn search_text(d: &ContactData) -> String {
    [
        Some(d.first_name.as_str()),
        Some(d.last_name.as_str()),
        d.organization.as_deref(),
        Some(d.email.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ")
    .to_lowercase()
}

fn json(d: &ContactData) -> Result<String> {
    serde_json::to_string(d).map_err(StoreError::corrupt)
}

pub async fn insert(
    c: Conn<'_>,
    tenant: &TenantId,
    client: &ClientId,
    d: &ContactData,
) -> Result<ContactRecord> {
    let id = ContactId::new();
    let now = now_millis();
    exec!(c, c => sqlx::query(
        "INSERT INTO contacts (id, tenant_id, client_id, data, search_text, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)")
        .bind(id.as_str()).bind(tenant.as_str()).bind(client.as_str()).bind(json(d)?).bind(search_text(d)).bind(now)
        .execute(c).await)?;
    Ok(ContactRecord {
        id,
        tenant_id: tenant.clone(),
        client_id: client.clone(),
        data: d.clone(),
        created_at: from_millis(now),
        updated_at: from_millis(now),
    })
}

/// A live contact visible in `scope`.
pub async fn get(c: Conn<'_>, scope: &Scope, id: &ContactId) -> Result<Option<ContactRecord>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM contacts WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
    ));
    let row: Option<Row> = on!(c, c => sqlx::query_as(sql).bind(scope.tenant_id.as_str()).bind(id.as_str()).fetch_optional(c).await)?;
    let Some(rec) = row.map(Row::into_model).transpose()? else {
        return Ok(None);
    };
    Ok(scope.sees_client(Some(&rec.client_id)).then_some(rec))
}

/// Contacts of the tenant by id, deleted ones included (a domain keeps showing the contact it
/// was registered with).
pub async fn get_many(
    c: Conn<'_>,
    tenant: &TenantId,
    ids: &[ContactId],
) -> Result<Vec<ContactRecord>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<&str> = ids.iter().map(ContactId::as_str).collect();
    let rows: Vec<Row> = match c {
        Conn::Postgres(c) => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM contacts WHERE tenant_id = $1 AND id = ANY($2)"
            ));
            sqlx::query_as(sql)
                .bind(tenant.as_str())
                .bind(&list)
                .fetch_all(c)
                .await?
        }
        Conn::Sqlite(c) => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM contacts WHERE tenant_id = $1 AND id IN (SELECT value FROM json_each($2))"
            ));
            sqlx::query_as(sql)
                .bind(tenant.as_str())
                .bind(serde_json::to_string(&list).map_err(StoreError::corrupt)?)
                .fetch_all(c)
                .await?
        }
    };
    rows.into_iter().map(Row::into_model).collect()
}

#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    pub client_id: Option<ClientId>,
    /// Matches names, organisation or e-mail, case-insensitively.
    pub search: Option<String>,
}

pub async fn list(
    mut c: Conn<'_>,
    scope: &Scope,
    f: &ContactFilter,
    page: PageRequest,
) -> Result<(Vec<ContactRecord>, u64)> {
    let mut cond = String::from("tenant_id = $1 AND deleted_at IS NULL");
    let mut binds: Vec<String> = Vec::new();
    for client in [scope.client_id.as_ref(), f.client_id.as_ref()]
        .into_iter()
        .flatten()
    {
        binds.push(client.as_str().to_owned());
        cond.push_str(&format!(" AND client_id = ${}", binds.len() + 1));
    }
    if let Some(s) = f.search.as_deref().filter(|s| !s.trim().is_empty()) {
        binds.push(contains_pattern(s.trim()));
        cond.push_str(&format!(
            " AND search_text LIKE ${} ESCAPE '\\'",
            binds.len() + 1
        ));
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM contacts WHERE {cond} ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}",
        page.limit(),
        page.offset()
    ));
    let rows: Vec<Row> = on!(c.reborrow(), c => {
        let mut q = sqlx::query_as(sql).bind(scope.tenant_id.as_str());
        for b in &binds { q = q.bind(b); }
        q.fetch_all(c).await
    })?;
    let count = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM contacts WHERE {cond}"));
    let total: i64 = on!(c, c => {
        let mut q = sqlx::query_scalar(count).bind(scope.tenant_id.as_str());
        for b in &binds { q = q.bind(b); }
        q.fetch_one(c).await
    })?;
    let items = rows
        .into_iter()
        .map(Row::into_model)
        .collect::<Result<Vec<_>>>()?;
    Ok((items, u64::try_from(total).unwrap_or(0)))
}

/// Replaces a contact's data; returns it before and after, or `None` when not visible.
pub async fn update(
    mut c: Conn<'_>,
    scope: &Scope,
    id: &ContactId,
    d: &ContactData,
) -> Result<Option<(ContactRecord, ContactRecord)>> {
    let Some(before) = get(c.reborrow(), scope, id).await? else {
        return Ok(None);
    };
    let now = now_millis();
    exec!(c, c => sqlx::query(
        "UPDATE contacts SET data = $3, search_text = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2")
        .bind(scope.tenant_id.as_str()).bind(id.as_str()).bind(json(d)?).bind(search_text(d)).bind(now)
        .execute(c).await)?;
    let after = ContactRecord {
        data: d.clone(),
        updated_at: from_millis(now),
        ..before.clone()
    };
    Ok(Some((before, after)))
}

pub async fn delete(c: Conn<'_>, scope: &Scope, id: &ContactId) -> Result<bool> {
    let now = now_millis();
    let n = match &scope.client_id {
        Some(client) => exec!(c, c => sqlx::query(
            "UPDATE contacts SET deleted_at = $4, updated_at = $4 WHERE tenant_id = $1 AND id = $2 AND client_id = $3 AND deleted_at IS NULL")
            .bind(scope.tenant_id.as_str()).bind(id.as_str()).bind(client.as_str()).bind(now).execute(c).await)?,
        None => exec!(c, c => sqlx::query(
            "UPDATE contacts SET deleted_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL")
            .bind(scope.tenant_id.as_str()).bind(id.as_str()).bind(now).execute(c).await)?,
    };
    Ok(n == 1)
}
