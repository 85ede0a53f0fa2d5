//! Where certificates are installed (files + reload command, or a webhook), what the last
//! installation did, and what each health probe of the live endpoint saw. Installer secrets
//! are only stored sealed and never serialised.

use chrono::{DateTime, Utc};
use panel1_core::time::{from_millis, now_millis};
use panel1_core::{CertificateId, ClientId, InstallationId, Scope, TenantId};
use serde::Serialize;

use crate::{Conn, Result, StoreError, exec, on};

/// An installation target of a certificate.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Installation {
    pub id: InstallationId,
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    /// The certificate it serves (moved to the replacement when a certificate is renewed).
    pub certificate_id: CertificateId,
    /// `files` or `webhook`.
    pub kind: String,
    /// The installer's settings without secrets, and the probe target.
    pub config: serde_json::Value,
    /// `pending`, `installing`, `installed` or `failed`.
    pub status: String,
    /// What the installer and the probe reported last.
    pub last_result: Option<serde_json::Value>,
    pub last_error: Option<String>,
    /// The serial Panel1 installed last, and the one the endpoint served at the last probe.
    pub installed_serial: Option<String>,
    pub served_serial: Option<String>,
    pub days_left: Option<i64>,
    pub hostname_matches: Option<bool>,
    pub trusted: Option<bool>,
    /// Whether the last probe found everything in order.
    pub healthy: Option<bool>,
    pub installed_at: Option<DateTime<Utc>>,
    pub checked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub secret_sealed: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    tenant_id: String,
    client_id: String,
    certificate_id: String,
    kind: String,
    config: String,
    secret_sealed: Option<String>,
    status: String,
    last_result: Option<String>,
    last_error: Option<String>,
    installed_serial: Option<String>,
    served_serial: Option<String>,
    days_left: Option<i64>,
    hostname_matches: Option<bool>,
    trusted: Option<bool>,
    healthy: Option<bool>,
    installed_at: Option<i64>,
    checked_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str = "id, tenant_id, client_id, certificate_id, kind, config, secret_sealed, status, last_result, last_error, installed_serial, served_serial, days_left, hostname_matches, trusted, healthy, installed_at, checked_at, created_at, updated_at";

impl Row {
    fn into_model(self) -> Result<Installation> {
        Ok(Installation {
            id: super::id(&self.id)?,
            tenant_id: super::id(&self.tenant_id)?,
            client_id: super::id(&self.client_id)?,
            certificate_id: super::id(&self.certificate_id)?,
            kind: self.kind,
            config: serde_json::from_str(&self.config).map_err(StoreError::corrupt)?,
            status: self.status,
            last_result: self
                .last_result
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok()),
            last_error: self.last_error,
            installed_serial: self.installed_serial,
            served_serial: self.served_serial,
            days_left: self.days_left,
            hostname_matches: self.hostname_matches,
            trusted: self.trusted,
            healthy: self.healthy,
            installed_at: self.installed_at.map(from_millis),
            checked_at: self.checked_at.map(from_millis),
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
            secret_sealed: self.secret_sealed,
        })
    }
}

/// An installation to store.
pub struct NewInstallation<'a> {
    pub id: &'a InstallationId,
    pub client_id: &'a ClientId,
    pub certificate_id: &'a CertificateId,
    pub kind: &'a str,
    pub config: &'a serde_json::Value,
    pub secret_sealed: Option<&'a str>,
}

pub async fn insert(
    c: Conn<'_>,
    tenant: &TenantId,
    n: &NewInstallation<'_>,
) -> Result<Installation> {
    let now = now_millis();
    exec!(c, c => sqlx::query(
        "INSERT INTO certificate_installations (id, tenant_id, client_id, certificate_id, kind, config, secret_sealed, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $8)")
        .bind(n.id.as_str()).bind(tenant.as_str()).bind(n.client_id.as_str()).bind(n.certificate_id.as_str())
        .bind(n.kind).bind(n.config.to_string()).bind(n.secret_sealed).bind(now)
        .execute(c).await)?;
    Ok(Installation {
        id: n.id.clone(),
        tenant_id: tenant.clone(),
        client_id: n.client_id.clone(),
        certificate_id: n.certificate_id.clone(),
        kind: n.kind.to_owned(),
        config: n.config.clone(),
        status: "pending".into(),
        last_result: None,
        last_error: None,
        installed_serial: None,
        served_serial: None,
        days_left: None,
        hostname_matches: None,
        trusted: None,
        healthy: None,
        installed_at: None,
        checked_at: None,
        created_at: from_millis(now),
        updated_at: from_millis(now),
        secret_sealed: n.secret_sealed.map(str::to_owned),
    })
}

pub async fn get(c: Conn<'_>, scope: &Scope, id: &InstallationId) -> Result<Option<Installation>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM certificate_installations WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
    ));
    let row: Option<Row> = on!(c, c => sqlx::query_as(sql).bind(scope.tenant_id.as_str()).bind(id.as_str()).fetch_optional(c).await)?;
    let i = row.map(Row::into_model).transpose()?;
    Ok(i.filter(|i| scope.sees_client(Some(&i.client_id))))
}

/// The live installations of a certificate.
pub async fn list_for_certificate(
    c: Conn<'_>,
    tenant: &TenantId,
    certificate: &CertificateId,
) -> Result<Vec<Installation>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM certificate_installations WHERE tenant_id = $1 AND certificate_id = $2 AND deleted_at IS NULL ORDER BY created_at, id"
    ));
    let rows: Vec<Row> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(certificate.as_str()).fetch_all(c).await)?;
    rows.into_iter().map(Row::into_model).collect()
}

/// Points every live installation of `old` at `new` (a renewal); returns them.
pub async fn move_to(
    mut c: Conn<'_>,
    tenant: &TenantId,
    old: &CertificateId,
    new: &CertificateId,
) -> Result<Vec<Installation>> {
    exec!(c.reborrow(), c => sqlx::query(
        "UPDATE certificate_installations SET certificate_id = $3, status = 'pending', updated_at = $4
         WHERE tenant_id = $1 AND certificate_id = $2 AND deleted_at IS NULL")
        .bind(tenant.as_str()).bind(old.as_str()).bind(new.as_str()).bind(now_millis())
        .execute(c).await)?;
    list_for_certificate(c, tenant, new).await
}

pub async fn set_status(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &InstallationId,
    status: &str,
    error: Option<&str>,
) -> Result<()> {
    exec!(c, c => sqlx::query(
        "UPDATE certificate_installations SET status = $3, last_error = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(id.as_str()).bind(status).bind(error).bind(now_millis())
        .execute(c).await)?;
    Ok(())
}

/// What an installation run found.
#[derive(Debug, Clone)]
pub struct InstallResult<'a> {
    pub status: &'a str,
    pub result: &'a serde_json::Value,
    pub error: Option<&'a str>,
    pub installed_serial: Option<&'a str>,
    pub probe: Option<ProbeSeen<'a>>,
}

/// What a probe saw.
#[derive(Debug, Clone, Copy)]
pub struct ProbeSeen<'a> {
    pub served_serial: Option<&'a str>,
    pub days_left: Option<i64>,
    pub hostname_matches: Option<bool>,
    pub trusted: Option<bool>,
    pub healthy: bool,
}

pub async fn record_install(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &InstallationId,
    r: &InstallResult<'_>,
) -> Result<()> {
    let now = now_millis();
    let p = r.probe;
    exec!(c, c => sqlx::query(
        "UPDATE certificate_installations SET status = $3, last_result = $4, last_error = $5,
            installed_serial = COALESCE($6, installed_serial), installed_at = CASE WHEN $3 = 'installed' THEN $7 ELSE installed_at END,
            served_serial = COALESCE($8, served_serial), days_left = COALESCE($9, days_left), hostname_matches = COALESCE($10, hostname_matches),
            trusted = COALESCE($11, trusted), healthy = $12, checked_at = CASE WHEN $13 THEN $7 ELSE checked_at END, updated_at = $7
         WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(id.as_str()).bind(r.status).bind(r.result.to_string()).bind(r.error)
        .bind(r.installed_serial).bind(now)
        .bind(p.and_then(|p| p.served_serial)).bind(p.and_then(|p| p.days_left)).bind(p.and_then(|p| p.hostname_matches))
        .bind(p.and_then(|p| p.trusted)).bind(p.map(|p| p.healthy)).bind(p.is_some())
        .execute(c).await)?;
    Ok(())
}

/// Records a health probe on the installation and in its history.
pub async fn record_health(
    mut c: Conn<'_>,
    tenant: &TenantId,
    i: &Installation,
    h: &NewHealthCheck<'_>,
) -> Result<()> {
    let now = now_millis();
    exec!(c.reborrow(), c => sqlx::query(
        "UPDATE certificate_installations SET served_serial = $3, days_left = $4, hostname_matches = $5, trusted = $6, healthy = $7, checked_at = $8, updated_at = $8
         WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(i.id.as_str()).bind(h.served_serial).bind(h.days_left).bind(h.hostname_matches)
        .bind(h.trusted).bind(h.healthy).bind(now)
        .execute(c).await)?;
    let id = format!("hck_{}", panel1_core::ids::new_id_body());
    exec!(c, c => sqlx::query(
        "INSERT INTO certificate_health_checks (id, tenant_id, installation_id, certificate_id, expected_serial, served_serial, days_left, hostname_matches,
            trusted, chain_length, healthy, problems, checked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
        .bind(id).bind(tenant.as_str()).bind(i.id.as_str()).bind(i.certificate_id.as_str()).bind(h.expected_serial)
        .bind(h.served_serial).bind(h.days_left).bind(h.hostname_matches).bind(h.trusted).bind(h.chain_length)
        .bind(h.healthy).bind(serde_json::to_string(h.problems).unwrap_or_else(|_| "[]".into())).bind(now)
        .execute(c).await)?;
    Ok(())
}

/// One probe of an installed endpoint.
#[derive(Debug, Clone)]
pub struct NewHealthCheck<'a> {
    pub expected_serial: Option<&'a str>,
    pub served_serial: Option<&'a str>,
    pub days_left: Option<i64>,
    pub hostname_matches: Option<bool>,
    pub trusted: Option<bool>,
    pub chain_length: Option<i64>,
    pub healthy: bool,
    pub problems: &'a [String],
}

/// A stored health probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HealthCheck {
    pub id: String,
    pub installation_id: InstallationId,
    pub certificate_id: CertificateId,
    pub expected_serial: Option<String>,
    pub served_serial: Option<String>,
    pub days_left: Option<i64>,
    pub hostname_matches: Option<bool>,
    pub trusted: Option<bool>,
    pub chain_length: Option<i64>,
    pub healthy: bool,
    /// What was wrong, in words.
    pub problems: Vec<String>,
    pub checked_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct HealthRow {
    id: String,
    installation_id: String,
    certificate_id: String,
    expected_serial: Option<String>,
    served_serial: Option<String>,
    days_left: Option<i64>,
    hostname_matches: Option<bool>,
    trusted: Option<bool>,
    chain_length: Option<i64>,
    healthy: bool,
    problems: String,
    checked_at: i64,
}

/// The latest probes of an installation, newest first.
pub async fn list_health(
    c: Conn<'_>,
    tenant: &TenantId,
    installation: &InstallationId,
    limit: i64,
) -> Result<Vec<HealthCheck>> {
    let rows: Vec<HealthRow> = on!(c, c => sqlx::query_as(
        "SELECT id, installation_id, certificate_id, expected_serial, served_serial, days_left, hostname_matches, trusted, chain_length, healthy, problems, checked_at
         FROM certificate_health_checks WHERE tenant_id = $1 AND installation_id = $2 ORDER BY checked_at DESC, id DESC LIMIT $3")
        .bind(tenant.as_str()).bind(installation.as_str()).bind(limit).fetch_all(c).await)?;
    rows.into_iter()
        .map(|r| {
            Ok(HealthCheck {
                id: r.id,
                installation_id: super::id(&r.installation_id)?,
                certificate_id: super::id(&r.certificate_id)?,
                expected_serial: r.expected_serial,
                served_serial: r.served_serial,
                days_left: r.days_left,
                hostname_matches: r.hostname_matches,
                trusted: r.trusted,
                chain_length: r.chain_length,
                healthy: r.healthy,
                problems: serde_json::from_str(&r.problems).map_err(StoreError::corrupt)?,
                checked_at: from_millis(r.checked_at),
            })
        })
        .collect()
}

/// Live installations that were installed (for the daily health probe), across tenants.
pub async fn installed(c: Conn<'_>, limit: i64) -> Result<Vec<(TenantId, InstallationId)>> {
    let rows: Vec<(String, String)> = on!(c, c => sqlx::query_as(
        "SELECT tenant_id, id FROM certificate_installations WHERE deleted_at IS NULL AND status IN ('installed', 'failed') AND installed_serial IS NOT NULL
         ORDER BY checked_at NULLS FIRST, id LIMIT $1")
        .bind(limit).fetch_all(c).await)?;
    rows.into_iter()
        .map(|(t, i)| Ok((super::id(&t)?, super::id(&i)?)))
        .collect()
}
