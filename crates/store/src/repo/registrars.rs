//! A tenant's registrar accounts (adapter, public settings, credentials sealed) and the
//! mapping from TLD to the account that registers it.

use chrono::{DateTime, Utc};
use panel1_core::time::{from_millis, now_millis};
use panel1_core::{RegistrarAccountId, TenantId};
use serde::Serialize;

use crate::{Conn, Result, StoreError, exec, on};

/// A registrar account of a tenant. Credentials live only in `config_sealed`, which is never
/// serialised.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RegistrarAccount {
    pub id: RegistrarAccountId,
    pub tenant_id: TenantId,
    /// Unique within the tenant, e.g. `namecheap-main`.
    pub name: String,
    /// The adapter: `sandbox`, `namecheap` or `epp`.
    #[serde(rename = "type")]
    pub adapter: String,
    /// The adapter's settings without credentials.
    pub settings: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Every setting, credentials included, sealed with the master key. Never serialised.
    #[serde(skip)]
    pub config_sealed: String,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    tenant_id: String,
    name: String,
    adapter: String,
    settings: String,
    config_sealed: String,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str =
    "a.id, a.tenant_id, a.name, a.adapter, a.settings, a.config_sealed, a.created_at, a.updated_at";

impl Row {
    fn into_model(self) -> Result<RegistrarAccount> {
        Ok(RegistrarAccount {
            id: super::id(&self.id)?,
            tenant_id: super::id(&self.tenant_id)?,
            name: self.name,
            adapter: self.adapter,
            settings: serde_json::from_str(&self.settings).map_err(StoreError::corrupt)?,
            config_sealed: self.config_sealed,
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
        })
    }
}

/// A registrar account to store.
pub struct NewAccount<'a> {
    pub id: &'a RegistrarAccountId,
    pub name: &'a str,
    pub adapter: &'a str,
    pub settings: &'a serde_json::Value,
    pub config_sealed: &'a str,
}

/// Stores an account; a live account of the same name answers [`StoreError::Conflict`].
pub async fn insert(
    c: Conn<'_>,
    tenant: &TenantId,
    a: &NewAccount<'_>,
) -> Result<RegistrarAccount> {
    let now = now_millis();
    exec!(c, c => sqlx::query(
        "INSERT INTO registrar_accounts (id, tenant_id, name, adapter, settings, config_sealed, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)")
        .bind(a.id.as_str()).bind(tenant.as_str()).bind(a.name).bind(a.adapter).bind(a.settings.to_string())
        .bind(a.config_sealed).bind(now)
        .execute(c).await)?;
    Ok(RegistrarAccount {
        id: a.id.clone(),
        tenant_id: tenant.clone(),
        name: a.name.to_owned(),
        adapter: a.adapter.to_owned(),
        settings: a.settings.clone(),
        config_sealed: a.config_sealed.to_owned(),
        created_at: from_millis(now),
        updated_at: from_millis(now),
    })
}

/// A live account of the tenant.
pub async fn get(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &RegistrarAccountId,
) -> Result<Option<RegistrarAccount>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM registrar_accounts a WHERE a.tenant_id = $1 AND a.id = $2 AND a.deleted_at IS NULL"
    ));
    let row: Option<Row> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(id.as_str()).fetch_optional(c).await)?;
    row.map(Row::into_model).transpose()
}

/// An account of the tenant even if it was deleted since (domains keep pointing at it).
pub async fn get_any(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &RegistrarAccountId,
) -> Result<Option<RegistrarAccount>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM registrar_accounts a WHERE a.tenant_id = $1 AND a.id = $2"
    ));
    let row: Option<Row> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(id.as_str()).fetch_optional(c).await)?;
    row.map(Row::into_model).transpose()
}

/// The tenant's live accounts, oldest first.
pub async fn list(c: Conn<'_>, tenant: &TenantId) -> Result<Vec<RegistrarAccount>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM registrar_accounts a WHERE a.tenant_id = $1 AND a.deleted_at IS NULL ORDER BY a.created_at, a.id"
    ));
    let rows: Vec<Row> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).fetch_all(c).await)?;
    rows.into_iter().map(Row::into_model).collect()
}

/// Whether the tenant ever had an account (deleted ones count), so a demo account is only
/// ever provisioned once.
pub async fn ever_had_one(c: Conn<'_>, tenant: &TenantId) -> Result<bool> {
    let n: i64 = on!(c, c => sqlx::query_scalar("SELECT COUNT(*) FROM registrar_accounts WHERE tenant_id = $1")
        .bind(tenant.as_str()).fetch_one(c).await)?;
    Ok(n > 0)
}

/// Deletes an account (kept for the domains that name it) and its TLD mappings.
pub async fn delete(mut c: Conn<'_>, tenant: &TenantId, id: &RegistrarAccountId) -> Result<bool> {
    let now = now_millis();
    let n = exec!(c.reborrow(), c => sqlx::query(
        "UPDATE registrar_accounts SET deleted_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL")
        .bind(tenant.as_str()).bind(id.as_str()).bind(now).execute(c).await)?;
    exec!(c, c => sqlx::query("DELETE FROM registrar_tlds WHERE tenant_id = $1 AND account_id = $2")
        .bind(tenant.as_str()).bind(id.as_str()).execute(c).await)?;
    Ok(n == 1)
}

/// Which account registers a TLD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TldMapping {
    /// The public suffix, e.g. `com` or `co.uk` (A-label form).
    pub tld: String,
    pub account_id: RegistrarAccountId,
    pub account_name: String,
    pub created_at: DateTime<Utc>,
}

/// Maps `tld` to `account` (replacing an earlier mapping).
pub async fn set_tld(
    c: Conn<'_>,
    tenant: &TenantId,
    tld: &str,
    account: &RegistrarAccountId,
) -> Result<()> {
    exec!(c, c => sqlx::query(
        "INSERT INTO registrar_tlds (tenant_id, tld, account_id, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, tld) DO UPDATE SET account_id = excluded.account_id, created_at = excluded.created_at")
        .bind(tenant.as_str()).bind(tld).bind(account.as_str()).bind(now_millis())
        .execute(c).await)?;
    Ok(())
}

pub async fn remove_tld(c: Conn<'_>, tenant: &TenantId, tld: &str) -> Result<bool> {
    let n = exec!(c, c => sqlx::query("DELETE FROM registrar_tlds WHERE tenant_id = $1 AND tld = $2")
        .bind(tenant.as_str()).bind(tld).execute(c).await)?;
    Ok(n == 1)
}

#[derive(sqlx::FromRow)]
struct TldRow {
    tld: String,
    account_id: String,
    account_name: String,
    created_at: i64,
}

/// The tenant's TLD mappings, by TLD.
pub async fn list_tlds(c: Conn<'_>, tenant: &TenantId) -> Result<Vec<TldMapping>> {
    let rows: Vec<TldRow> = on!(c, c => sqlx::query_as(
        "SELECT t.tld, t.account_id, a.name AS account_name, t.created_at FROM registrar_tlds t
         JOIN registrar_accounts a ON a.id = t.account_id
         WHERE t.tenant_id = $1 AND a.deleted_at IS NULL ORDER BY t.tld")
        .bind(tenant.as_str()).fetch_all(c).await)?;
    rows.into_iter()
        .map(|r| {
            Ok(TldMapping {
                tld: r.tld,
                account_id: super::id(&r.account_id)?,
                account_name: r.account_name,
                created_at: from_millis(r.created_at),
            })
        })
        .collect()
}

/// The live account that registers `tld` for the tenant.
pub async fn account_for_tld(
    c: Conn<'_>,
    tenant: &TenantId,
    tld: &str,
) -> Result<Option<RegistrarAccount>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM registrar_tlds t JOIN registrar_accounts a ON a.id = t.account_id
         WHERE t.tenant_id = $1 AND t.tld = $2 AND a.deleted_at IS NULL"
    ));
    let row: Option<Row> =
        on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(tld).fetch_optional(c).await)?;
    row.map(Row::into_model).transpose()
}
