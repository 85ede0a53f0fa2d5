//! A tenant's accounts at certificate authorities: the ACME directory, the External Account
//! Binding (HMAC key sealed), and once registered the account URL and key (sealed). The
//! sealed columns are never serialised.

use chrono::{DateTime, Utc};
use panel1_core::time::{from_millis, now_millis};
use panel1_core::{CaAccountId, TenantId};
use serde::Serialize;

use crate::{Conn, Result, StoreError, exec, on};

/// A CA account of a tenant. Secrets live only in the `*_sealed` fields, never serialised.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CaAccount {
    pub id: CaAccountId,
    pub tenant_id: TenantId,
    /// Unique within the tenant, e.g. `letsencrypt`.
    pub name: String,
    /// The ACME directory URL.
    pub directory_url: String,
    /// Issuer domains the CA recognises in CAA records (`letsencrypt.org`).
    pub caa_identities: Vec<String>,
    pub contact_email: Option<String>,
    /// The External Account Binding key id, when the CA needs one (its HMAC key is never shown).
    pub eab_key_id: Option<String>,
    /// Whether an EAB HMAC key is stored.
    pub has_eab_hmac: bool,
    /// The account URL at the CA, once registered.
    pub account_url: Option<String>,
    /// `unregistered`, `registered` or `failed`.
    pub status: String,
    pub last_error: Option<String>,
    /// The account used when a product or request names none.
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub eab_hmac_sealed: Option<String>,
    #[serde(skip)]
    pub credentials_sealed: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    tenant_id: String,
    name: String,
    directory_url: String,
    caa_identities: String,
    contact_email: Option<String>,
    eab_key_id: Option<String>,
    eab_hmac_sealed: Option<String>,
    account_url: Option<String>,
    credentials_sealed: Option<String>,
    status: String,
    last_error: Option<String>,
    is_default: bool,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str = "id, tenant_id, name, directory_url, caa_identities, contact_email, eab_key_id, eab_hmac_sealed, account_url, credentials_sealed, status, last_error, is_default, created_at, updated_at";

impl Row {
    fn into_model(self) -> Result<CaAccount> {
        Ok(CaAccount {
            id: super::id(&self.id)?,
            tenant_id: super::id(&self.tenant_id)?,
            name: self.name,
            directory_url: self.directory_url,
            caa_identities: serde_json::from_str(&self.caa_identities)
                .map_err(StoreError::corrupt)?,
            contact_email: self.contact_email,
            eab_key_id: self.eab_key_id,
            has_eab_hmac: self.eab_hmac_sealed.is_some(),
            account_url: self.account_url,
            status: self.status,
            last_error: self.last_error,
            is_default: self.is_default,
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
            eab_hmac_sealed: self.eab_hmac_sealed,
            credentials_sealed: self.credentials_sealed,
        })
    }
}

/// A CA account to store.
pub struct NewCaAccount<'a> {
    pub id: &'a CaAccountId,
    pub name: &'a str,
    pub directory_url: &'a str,
    pub caa_identities: &'a [String],
    pub contact_email: Option<&'a str>,
    pub eab_key_id: Option<&'a str>,
    pub eab_hmac_sealed: Option<&'a str>,
    pub is_default: bool,
}

/// Stores an account; a live account with the same name answers [`StoreError::Conflict`].
/// A new default account takes the default over from the previous one.
pub async fn insert(mut c: Conn<'_>, tenant: &TenantId, a: &NewCaAccount<'_>) -> Result<CaAccount> {
    let now = now_millis();
    if a.is_default {
        exec!(c.reborrow(), c => sqlx::query(
            "UPDATE ca_accounts SET is_default = FALSE, updated_at = $2 WHERE tenant_id = $1 AND is_default AND deleted_at IS NULL")
            .bind(tenant.as_str()).bind(now).execute(c).await)?;
    }
    let ids = serde_json::to_string(a.caa_identities).map_err(StoreError::corrupt)?;
    exec!(c.reborrow(), c => sqlx::query(
        "INSERT INTO ca_accounts (id, tenant_id, name, directory_url, caa_identities, contact_email, eab_key_id, eab_hmac_sealed, status, is_default, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'unregistered', $9, $10, $10)")
        .bind(a.id.as_str()).bind(tenant.as_str()).bind(a.name).bind(a.directory_url).bind(ids)
        .bind(a.contact_email).bind(a.eab_key_id).bind(a.eab_hmac_sealed).bind(a.is_default).bind(now)
        .execute(c).await)?;
    get(c, tenant, a.id).await?.ok_or(StoreError::NotFound)
}

/// A live account of the tenant.
pub async fn get(c: Conn<'_>, tenant: &TenantId, id: &CaAccountId) -> Result<Option<CaAccount>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM ca_accounts WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
    ));
    let row: Option<Row> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(id.as_str()).fetch_optional(c).await)?;
    row.map(Row::into_model).transpose()
}

/// An account of the tenant even if deleted since (certificates keep pointing at it).
pub async fn get_any(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &CaAccountId,
) -> Result<Option<CaAccount>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM ca_accounts WHERE tenant_id = $1 AND id = $2"
    ));
    let row: Option<Row> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(id.as_str()).fetch_optional(c).await)?;
    row.map(Row::into_model).transpose()
}

/// The tenant's default live account.
pub async fn get_default(c: Conn<'_>, tenant: &TenantId) -> Result<Option<CaAccount>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM ca_accounts WHERE tenant_id = $1 AND is_default AND deleted_at IS NULL"
    ));
    let row: Option<Row> =
        on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).fetch_optional(c).await)?;
    row.map(Row::into_model).transpose()
}

/// The tenant's live accounts, oldest first.
pub async fn list(c: Conn<'_>, tenant: &TenantId) -> Result<Vec<CaAccount>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM ca_accounts WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY created_at, id"
    ));
    let rows: Vec<Row> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).fetch_all(c).await)?;
    rows.into_iter().map(Row::into_model).collect()
}

/// Records the registered ACME account, unless another worker registered one first (then
/// `false`: use the stored one).
pub async fn set_registered(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &CaAccountId,
    account_url: &str,
    credentials_sealed: &str,
) -> Result<bool> {
    let n = exec!(c, c => sqlx::query(
        "UPDATE ca_accounts SET account_url = $3, credentials_sealed = $4, status = 'registered', last_error = NULL, updated_at = $5
         WHERE tenant_id = $1 AND id = $2 AND credentials_sealed IS NULL")
        .bind(tenant.as_str()).bind(id.as_str()).bind(account_url).bind(credentials_sealed).bind(now_millis())
        .execute(c).await)?;
    Ok(n == 1)
}

/// Records why registering the account failed.
pub async fn set_failed(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &CaAccountId,
    error: &str,
) -> Result<()> {
    exec!(c, c => sqlx::query(
        "UPDATE ca_accounts SET status = CASE WHEN credentials_sealed IS NULL THEN 'failed' ELSE status END, last_error = $3, updated_at = $4
         WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(id.as_str()).bind(error).bind(now_millis())
        .execute(c).await)?;
    Ok(())
}

/// Deletes an account (kept for the certificates that name it).
pub async fn delete(c: Conn<'_>, tenant: &TenantId, id: &CaAccountId) -> Result<bool> {
    let now = now_millis();
    let n = exec!(c, c => sqlx::query(
        "UPDATE ca_accounts SET deleted_at = $3, is_default = FALSE, updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL")
        .bind(tenant.as_str()).bind(id.as_str()).bind(now).execute(c).await)?;
    Ok(n == 1)
}
