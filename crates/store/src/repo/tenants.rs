//! Tenants: the hosting companies on one installation.

use chrono::{DateTime, Utc};
use panel1_core::TenantId;
use panel1_core::time::{from_millis, now_millis};

use crate::{Conn, Result, exec, on};

#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub slug: String,
    pub settings: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    name: String,
    slug: String,
    settings: String,
    created_at: i64,
}

impl Row {
    fn into_model(self) -> Result<Tenant> {
        Ok(Tenant {
            id: super::id(&self.id)?,
            name: self.name,
            slug: self.slug,
            settings: serde_json::from_str(&self.settings).map_err(crate::StoreError::corrupt)?,
            created_at: from_millis(self.created_at),
        })
    }
}

pub async fn insert(c: Conn<'_>, name: &str, slug: &str) -> Result<Tenant> {
    let id = TenantId::new();
    let now = now_millis();
    exec!(c, c => sqlx::query(
        "INSERT INTO tenants (id, name, slug, settings, created_at, updated_at) VALUES ($1, $2, $3, '{}', $4, $4)")
        .bind(id.as_str()).bind(name).bind(slug).bind(now)
        .execute(c).await)?;
    Ok(Tenant {
        id,
        name: name.to_owned(),
        slug: slug.to_owned(),
        settings: serde_json::json!({}),
        created_at: from_millis(now),
    })
}

pub async fn get(c: Conn<'_>, id: &TenantId) -> Result<Option<Tenant>> {
    let row: Option<Row> = on!(c, c => sqlx::query_as("SELECT id, name, slug, settings, created_at FROM tenants WHERE id = $1")
        .bind(id.as_str()).fetch_optional(c).await)?;
    row.map(Row::into_model).transpose()
}

pub async fn list(c: Conn<'_>) -> Result<Vec<Tenant>> {
    let rows: Vec<Row> = on!(c, c => sqlx::query_as("SELECT id, name, slug, settings, created_at FROM tenants ORDER BY created_at, id")
        .fetch_all(c).await)?;
    rows.into_iter().map(Row::into_model).collect()
}

/// Sets one top-level key of a tenant's settings (read, changed and written in the caller's
/// transaction).
pub async fn set_setting(
    mut c: Conn<'_>,
    id: &TenantId,
    key: &str,
    value: serde_json::Value,
) -> Result<bool> {
    let Some(t) = get(c.reborrow(), id).await? else {
        return Ok(false);
    };
    let mut settings = t.settings;
    if !settings.is_object() {
        settings = serde_json::json!({});
    }
    if let Some(o) = settings.as_object_mut() {
        o.insert(key.to_owned(), value);
    }
    let n = exec!(c, c => sqlx::query("UPDATE tenants SET settings = $2, updated_at = $3 WHERE id = $1")
        .bind(id.as_str()).bind(settings.to_string()).bind(now_millis())
        .execute(c).await)?;
    Ok(n > 0)
}

pub async fn count(c: Conn<'_>) -> Result<i64> {
    Ok(on!(c, c => sqlx::query_scalar("SELECT COUNT(*) FROM tenants").fetch_one(c).await)?)
}
