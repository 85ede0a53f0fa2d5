//! External DNS provider accounts of a tenant (credentials sealed), the secondaries that follow
//! its hosted zones (NOTIFY targets, transfer ACL, TSIG keys sealed), and the log of provider
//! calls.

use chrono::{DateTime, Utc};
use panel1_core::time::{from_millis, now_millis};
use panel1_core::{DnsProviderCallId, DnsProviderId, DnsSecondaryId, Scope, TenantId, ZoneId};
use serde::Serialize;

use crate::{Conn, Result, exec, on};

/// A provider account as stored. `settings` holds no credential; `secret_sealed` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsProvider {
    pub id: DnsProviderId,
    pub tenant_id: TenantId,
    pub name: String,
    /// `powerdns` or `rfc2136`.
    pub kind: String,
    pub settings: serde_json::Value,
    pub secret_sealed: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ProviderRow {
    id: String,
    tenant_id: String,
    name: String,
    kind: String,
    settings: String,
    secret_sealed: Option<String>,
    created_at: i64,
}

impl ProviderRow {
    fn into_model(self) -> Result<DnsProvider> {
        Ok(DnsProvider {
            id: super::id(&self.id)?,
            tenant_id: super::id(&self.tenant_id)?,
            name: self.name,
            kind: self.kind,
            settings: serde_json::from_str(&self.settings).map_err(crate::StoreError::corrupt)?,
            secret_sealed: self.secret_sealed,
            created_at: from_millis(self.created_at),
        })
    }
}

const PROVIDER_COLUMNS: &str = "id, tenant_id, name, kind, settings, secret_sealed, created_at";

/// A new provider account; the caller mints the id (the sealed secret is bound to it).
pub struct NewProvider<'a> {
    pub id: &'a DnsProviderId,
    pub tenant_id: &'a TenantId,
    pub name: &'a str,
    pub kind: &'a str,
    pub settings: &'a serde_json::Value,
    pub secret_sealed: Option<&'a str>,
}

pub async fn insert_provider(c: Conn<'_>, p: &NewProvider<'_>) -> Result<DnsProvider> {
    let now = now_millis();
    exec!(c, c => sqlx::query(
        "INSERT INTO dns_providers (id, tenant_id, name, kind, settings, secret_sealed, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)")
        .bind(p.id.as_str()).bind(p.tenant_id.as_str()).bind(p.name).bind(p.kind)
        .bind(p.settings.to_string()).bind(p.secret_sealed).bind(now)
        .execute(c).await)?;
    Ok(DnsProvider {
        id: p.id.clone(),
        tenant_id: p.tenant_id.clone(),
        name: p.name.to_owned(),
        kind: p.kind.to_owned(),
        settings: p.settings.clone(),
        secret_sealed: p.secret_sealed.map(str::to_owned),
        created_at: from_millis(now),
    })
}

pub async fn get_provider(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &DnsProviderId,
) -> Result<Option<DnsProvider>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {PROVIDER_COLUMNS} FROM dns_providers WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
    ));
    let row: Option<ProviderRow> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(id.as_str()).fetch_optional(c).await)?;
    row.map(ProviderRow::into_model).transpose()
}

pub async fn list_providers(c: Conn<'_>, tenant: &TenantId) -> Result<Vec<DnsProvider>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {PROVIDER_COLUMNS} FROM dns_providers WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY name, id"
    ));
    let rows: Vec<ProviderRow> =
        on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).fetch_all(c).await)?;
    rows.into_iter().map(ProviderRow::into_model).collect()
}

/// How many live zones are pushed to the provider.
pub async fn zones_using(c: Conn<'_>, tenant: &TenantId, id: &DnsProviderId) -> Result<i64> {
    Ok(on!(c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM dns_zones WHERE tenant_id = $1 AND provider_id = $2 AND deleted_at IS NULL")
        .bind(tenant.as_str()).bind(id.as_str()).fetch_one(c).await)?)
}

/// Soft-deletes a provider account; returns whether it existed.
pub async fn delete_provider(c: Conn<'_>, tenant: &TenantId, id: &DnsProviderId) -> Result<bool> {
    let now = now_millis();
    let n = exec!(c, c => sqlx::query(
        "UPDATE dns_providers SET deleted_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL")
        .bind(tenant.as_str()).bind(id.as_str()).bind(now).execute(c).await)?;
    Ok(n > 0)
}

// --- Secondaries --------------------------------------------------------------------------

/// A secondary name server of a tenant's hosted zones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSecondary {
    pub id: DnsSecondaryId,
    pub tenant_id: TenantId,
    pub name: String,
    /// `192.0.2.53:53`: NOTIFY goes there after every change.
    pub notify_address: Option<String>,
    /// `192.0.2.0/24`: zone transfers are allowed from there without a key.
    pub allow_from: Option<String>,
    /// A TSIG key that may transfer the tenant's zones (and signs NOTIFY to this secondary).
    pub tsig_name: Option<String>,
    pub tsig_algorithm: Option<String>,
    pub tsig_sealed: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct SecondaryRow {
    id: String,
    tenant_id: String,
    name: String,
    notify_address: Option<String>,
    allow_from: Option<String>,
    tsig_name: Option<String>,
    tsig_algorithm: Option<String>,
    tsig_sealed: Option<String>,
    created_at: i64,
}

impl SecondaryRow {
    fn into_model(self) -> Result<DnsSecondary> {
        Ok(DnsSecondary {
            id: super::id(&self.id)?,
            tenant_id: super::id(&self.tenant_id)?,
            name: self.name,
            notify_address: self.notify_address,
            allow_from: self.allow_from,
            tsig_name: self.tsig_name,
            tsig_algorithm: self.tsig_algorithm,
            tsig_sealed: self.tsig_sealed,
            created_at: from_millis(self.created_at),
        })
    }
}

const SECONDARY_COLUMNS: &str = "id, tenant_id, name, notify_address, allow_from, tsig_name, tsig_algorithm, tsig_sealed, created_at";

pub async fn insert_secondary(c: Conn<'_>, s: &DnsSecondary) -> Result<()> {
    exec!(c, c => sqlx::query(
        "INSERT INTO dns_secondaries (id, tenant_id, name, notify_address, allow_from, tsig_name, tsig_algorithm, tsig_sealed, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(s.id.as_str()).bind(s.tenant_id.as_str()).bind(&s.name).bind(&s.notify_address)
        .bind(&s.allow_from).bind(&s.tsig_name).bind(&s.tsig_algorithm).bind(&s.tsig_sealed)
        .bind(s.created_at.timestamp_millis())
        .execute(c).await)?;
    Ok(())
}

pub async fn list_secondaries(c: Conn<'_>, tenant: &TenantId) -> Result<Vec<DnsSecondary>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {SECONDARY_COLUMNS} FROM dns_secondaries WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY name, id"
    ));
    let rows: Vec<SecondaryRow> =
        on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).fetch_all(c).await)?;
    rows.into_iter().map(SecondaryRow::into_model).collect()
}

/// The secondaries of every tenant (for the DNS server's transfer ACL and NOTIFY targets).
pub async fn all_secondaries(c: Conn<'_>) -> Result<Vec<DnsSecondary>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {SECONDARY_COLUMNS} FROM dns_secondaries WHERE deleted_at IS NULL ORDER BY tenant_id, id"
    ));
    let rows: Vec<SecondaryRow> = on!(c, c => sqlx::query_as(sql).fetch_all(c).await)?;
    rows.into_iter().map(SecondaryRow::into_model).collect()
}

/// Deletes a secondary; returns whether it existed.
pub async fn delete_secondary(c: Conn<'_>, tenant: &TenantId, id: &DnsSecondaryId) -> Result<bool> {
    let now = now_millis();
    let n = exec!(c, c => sqlx::query(
        "UPDATE dns_secondaries SET deleted_at = $3 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL")
        .bind(tenant.as_str()).bind(id.as_str()).bind(now).execute(c).await)?;
    Ok(n > 0)
}

// --- Provider calls -----------------------------------------------------------------------

/// One call to an external provider, as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProviderCall {
    #[schema(value_type = String)]
    pub id: DnsProviderCallId,
    #[schema(value_type = String)]
    pub provider_id: DnsProviderId,
    #[schema(value_type = Option<String>)]
    pub zone_id: Option<ZoneId>,
    pub zone_name: String,
    /// `sync_zone`, `delete_zone`, `health_check`.
    pub operation: String,
    /// `ok` or `error`.
    pub outcome: String,
    pub error: Option<String>,
    /// Whether the job retries after this error.
    pub retryable: bool,
    pub duration_ms: i64,
    pub at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct CallRow {
    id: String,
    provider_id: String,
    zone_id: Option<String>,
    zone_name: String,
    operation: String,
    outcome: String,
    error: Option<String>,
    retryable: bool,
    duration_ms: i64,
    at: i64,
}

pub struct NewProviderCall<'a> {
    pub tenant_id: &'a TenantId,
    pub provider_id: &'a DnsProviderId,
    pub zone_id: Option<&'a ZoneId>,
    pub zone_name: &'a str,
    pub operation: &'a str,
    pub error: Option<&'a str>,
    pub retryable: bool,
    pub duration_ms: i64,
}

pub async fn log_call(c: Conn<'_>, call: &NewProviderCall<'_>) -> Result<()> {
    let id = DnsProviderCallId::new();
    let outcome = if call.error.is_some() { "error" } else { "ok" };
    exec!(c, c => sqlx::query(
        "INSERT INTO dns_provider_calls (id, tenant_id, provider_id, zone_id, zone_name, operation, outcome, error, retryable, duration_ms, at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(id.as_str()).bind(call.tenant_id.as_str()).bind(call.provider_id.as_str())
        .bind(call.zone_id.map(ZoneId::as_str)).bind(call.zone_name).bind(call.operation).bind(outcome)
        .bind(call.error).bind(call.retryable).bind(call.duration_ms).bind(now_millis())
        .execute(c).await)?;
    Ok(())
}

/// The latest provider calls for a zone, newest first.
pub async fn list_calls(
    c: Conn<'_>,
    scope: &Scope,
    zone: &ZoneId,
    limit: i64,
) -> Result<Vec<ProviderCall>> {
    let rows: Vec<CallRow> = on!(c, c => sqlx::query_as(
        "SELECT id, provider_id, zone_id, zone_name, operation, outcome, error, retryable, duration_ms, at
         FROM dns_provider_calls WHERE tenant_id = $1 AND zone_id = $2 ORDER BY at DESC, id DESC LIMIT $3")
        .bind(scope.tenant_id.as_str()).bind(zone.as_str()).bind(limit).fetch_all(c).await)?;
    rows.into_iter()
        .map(|r| {
            Ok(ProviderCall {
                id: super::id(&r.id)?,
                provider_id: super::id(&r.provider_id)?,
                zone_id: super::opt_id(r.zone_id.as_deref())?,
                zone_name: r.zone_name,
                operation: r.operation,
                outcome: r.outcome,
                error: r.error,
                retryable: r.retryable,
                duration_ms: r.duration_ms,
                at: from_millis(r.at),
            })
        })
        .collect()
}
