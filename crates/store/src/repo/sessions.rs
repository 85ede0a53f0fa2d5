//! Web panel sessions and the sign-in facts the panel needs: the tenant a sign-in form names,
//! a user's lock-out state and TOTP second factor.
//!
//! A session is a row keyed by the SHA-256 of the random id in the browser's cookie, so a
//! copy of the table does not let anyone sign in. A session belongs to one tenant and one
//! user; it is only found while its user is live in that same tenant.

use chrono::{DateTime, Utc};
use panel1_core::time::{from_millis, now_millis};
use panel1_core::{Role, TenantId, UserId};

use crate::users::User;
use crate::{Conn, Result, StoreError, exec, on};

/// How far a session has come through sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The password was right; a TOTP code is still needed.
    Totp,
    /// The password was right; the (staff) user must enrol a second factor first.
    Enrol,
    /// Signed in.
    Full,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Totp => "totp",
            Stage::Enrol => "enrol",
            Stage::Full => "full",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        [Stage::Totp, Stage::Enrol, Stage::Full]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// A live session with its user and tenant.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id_hash: String,
    pub stage: Stage,
    pub user: User,
    pub tenant_name: String,
    pub tenant_slug: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Whether the user has a confirmed TOTP second factor.
    pub totp_enabled: bool,
    pub totp_pending_sealed: Option<String>,
    pub flash_sealed: Option<String>,
}

/// A session to create.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub id_hash: &'a str,
    pub tenant_id: &'a TenantId,
    pub user_id: &'a UserId,
    pub stage: Stage,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
}

pub async fn insert(c: Conn<'_>, s: &NewSession<'_>) -> Result<()> {
    let now = now_millis();
    exec!(c, c => sqlx::query(
        "INSERT INTO web_sessions (id_hash, tenant_id, user_id, stage, created_at, last_seen_at, expires_at, user_agent, ip)
         VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8)")
        .bind(s.id_hash).bind(s.tenant_id.as_str()).bind(s.user_id.as_str()).bind(s.stage.as_str())
        .bind(now).bind(s.expires_at.timestamp_millis())
        .bind(s.user_agent.map(|u| u.chars().take(300).collect::<String>()))
        .bind(s.ip)
        .execute(c).await)?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    id_hash: String,
    stage: String,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    totp_pending_sealed: Option<String>,
    flash_sealed: Option<String>,
    user_id: String,
    tenant_id: String,
    email: String,
    name: String,
    role: String,
    client_id: Option<String>,
    user_created_at: i64,
    totp_enabled: bool,
    tenant_name: String,
    tenant_slug: String,
}

/// The session with this id hash, if it has not expired and its user is still live in the
/// session's tenant.
pub async fn get(c: Conn<'_>, id_hash: &str, now: DateTime<Utc>) -> Result<Option<SessionRecord>> {
    let row: Option<Row> = on!(c, c => sqlx::query_as(
        "SELECT s.id_hash, s.stage, s.created_at, s.last_seen_at, s.expires_at, s.totp_pending_sealed, s.flash_sealed,
                u.id AS user_id, u.tenant_id, u.email, u.name, u.role, u.client_id, u.created_at AS user_created_at,
                (u.totp_enabled_at IS NOT NULL) AS totp_enabled, t.name AS tenant_name, t.slug AS tenant_slug
         FROM web_sessions s
         JOIN users u ON u.id = s.user_id AND u.tenant_id = s.tenant_id AND u.deleted_at IS NULL
         JOIN tenants t ON t.id = s.tenant_id
         WHERE s.id_hash = $1 AND s.expires_at > $2")
        .bind(id_hash).bind(now.timestamp_millis()).fetch_optional(c).await)?;
    let Some(r) = row else { return Ok(None) };
    Ok(Some(SessionRecord {
        stage: Stage::parse(&r.stage)
            .ok_or_else(|| StoreError::corrupt(format!("session stage `{}`", r.stage)))?,
        user: User {
            id: super::id(&r.user_id)?,
            tenant_id: super::id(&r.tenant_id)?,
            email: r.email,
            name: r.name,
            role: Role::parse(&r.role)
                .ok_or_else(|| StoreError::corrupt(format!("role `{}`", r.role)))?,
            client_id: super::opt_id(r.client_id.as_deref())?,
            created_at: from_millis(r.user_created_at),
        },
        id_hash: r.id_hash,
        tenant_name: r.tenant_name,
        tenant_slug: r.tenant_slug,
        created_at: from_millis(r.created_at),
        last_seen_at: from_millis(r.last_seen_at),
        expires_at: from_millis(r.expires_at),
        totp_enabled: r.totp_enabled,
        totp_pending_sealed: r.totp_pending_sealed,
        flash_sealed: r.flash_sealed,
    }))
}

/// Records activity and moves the expiry (a sliding idle timeout, capped by the caller).
pub async fn touch(
    c: Conn<'_>,
    id_hash: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<()> {
    exec!(c, c => sqlx::query("UPDATE web_sessions SET last_seen_at = $2, expires_at = $3 WHERE id_hash = $1")
        .bind(id_hash).bind(now.timestamp_millis()).bind(expires_at.timestamp_millis()).execute(c).await)?;
    Ok(())
}

/// Sets (or clears) the one-time message shown by the next page.
pub async fn set_flash(c: Conn<'_>, id_hash: &str, sealed: Option<&str>) -> Result<()> {
    exec!(c, c => sqlx::query("UPDATE web_sessions SET flash_sealed = $2 WHERE id_hash = $1")
        .bind(id_hash).bind(sealed).execute(c).await)?;
    Ok(())
}

/// Clears the one-time message if it is still `sealed` (so a message set meanwhile survives).
/// Returns whether this call took it.
pub async fn take_flash(c: Conn<'_>, id_hash: &str, sealed: &str) -> Result<bool> {
    let n = exec!(c, c => sqlx::query("UPDATE web_sessions SET flash_sealed = NULL WHERE id_hash = $1 AND flash_sealed = $2")
        .bind(id_hash).bind(sealed).execute(c).await)?;
    Ok(n == 1)
}

/// Stores (or clears) the TOTP secret being enrolled in this session.
pub async fn set_totp_pending(c: Conn<'_>, id_hash: &str, sealed: Option<&str>) -> Result<()> {
    exec!(c, c => sqlx::query("UPDATE web_sessions SET totp_pending_sealed = $2 WHERE id_hash = $1")
        .bind(id_hash).bind(sealed).execute(c).await)?;
    Ok(())
}

pub async fn delete(c: Conn<'_>, id_hash: &str) -> Result<bool> {
    let n = exec!(c, c => sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1")
        .bind(id_hash).execute(c).await)?;
    Ok(n == 1)
}

/// Ends every session of a user (after a password or second-factor change, or a deletion).
pub async fn delete_for_user(c: Conn<'_>, tenant: &TenantId, user: &UserId) -> Result<u64> {
    Ok(
        exec!(c, c => sqlx::query("DELETE FROM web_sessions WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant.as_str()).bind(user.as_str()).execute(c).await)?,
    )
}

/// Deletes expired sessions; returns how many.
pub async fn prune(c: Conn<'_>, now: DateTime<Utc>) -> Result<u64> {
    Ok(
        exec!(c, c => sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
        .bind(now.timestamp_millis()).execute(c).await)?,
    )
}

/// How many live sessions a user has (for tests and the account page).
pub async fn count_for_user(c: Conn<'_>, tenant: &TenantId, user: &UserId) -> Result<i64> {
    Ok(on!(c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM web_sessions WHERE tenant_id = $1 AND user_id = $2 AND expires_at > $3")
        .bind(tenant.as_str()).bind(user.as_str()).bind(now_millis()).fetch_one(c).await)?)
}

/// The tenant with this slug, as `(id, name)`.
pub async fn tenant_by_slug(c: Conn<'_>, slug: &str) -> Result<Option<(TenantId, String)>> {
    let row: Option<(String, String)> = on!(c, c => sqlx::query_as("SELECT id, name FROM tenants WHERE slug = $1")
        .bind(slug).fetch_optional(c).await)?;
    row.map(|(id, name)| Ok((super::id(&id)?, name)))
        .transpose()
}

/// The only tenant of the installation, as `(id, slug)`, when there is exactly one.
pub async fn only_tenant(c: Conn<'_>) -> Result<Option<(TenantId, String)>> {
    let rows: Vec<(String, String)> = on!(c, c => sqlx::query_as("SELECT id, slug FROM tenants ORDER BY created_at LIMIT 2")
        .fetch_all(c).await)?;
    match rows.as_slice() {
        [(id, slug)] => Ok(Some((super::id(id)?, slug.clone()))),
        _ => Ok(None),
    }
}

/// A user's lock-out state: failed sign-ins in a row and the lock's end, if any.
pub async fn lock_state(
    c: Conn<'_>,
    tenant: &TenantId,
    user: &UserId,
) -> Result<Option<(i64, Option<DateTime<Utc>>)>> {
    let row: Option<(i64, Option<i64>)> = on!(c, c => sqlx::query_as(
        "SELECT failed_logins, locked_until FROM users WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL")
        .bind(tenant.as_str()).bind(user.as_str()).fetch_optional(c).await)?;
    Ok(row.map(|(n, t)| (n, t.map(from_millis))))
}

/// A user's confirmed TOTP secret (sealed) and the last time step accepted.
#[derive(Debug, Clone)]
pub struct TotpState {
    pub secret_sealed: Option<String>,
    pub last_step: Option<i64>,
}

pub async fn totp_state(c: Conn<'_>, tenant: &TenantId, user: &UserId) -> Result<TotpState> {
    let row: Option<(Option<String>, Option<i64>)> = on!(c, c => sqlx::query_as(
        "SELECT totp_secret_sealed, totp_last_step FROM users WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL")
        .bind(tenant.as_str()).bind(user.as_str()).fetch_optional(c).await)?;
    let (secret_sealed, last_step) = row.ok_or(StoreError::NotFound)?;
    Ok(TotpState {
        secret_sealed,
        last_step,
    })
}

/// Accepts TOTP time step `step` for a user unless it (or a later one) was already used:
/// a compare-and-set, so one code signs in once even when two requests race.
pub async fn use_totp_step(
    c: Conn<'_>,
    tenant: &TenantId,
    user: &UserId,
    step: i64,
) -> Result<bool> {
    let n = exec!(c, c => sqlx::query(
        "UPDATE users SET totp_last_step = $3 WHERE tenant_id = $1 AND id = $2 AND (totp_last_step IS NULL OR totp_last_step < $3)")
        .bind(tenant.as_str()).bind(user.as_str()).bind(step).execute(c).await)?;
    Ok(n == 1)
}

/// Confirms a user's TOTP secret (sealed), with the step of the code that confirmed it.
pub async fn enable_totp(
    c: Conn<'_>,
    tenant: &TenantId,
    user: &UserId,
    secret_sealed: &str,
    step: i64,
) -> Result<()> {
    let now = now_millis();
    exec!(c, c => sqlx::query(
        "UPDATE users SET totp_secret_sealed = $3, totp_enabled_at = $4, totp_last_step = $5, updated_at = $4
         WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL")
        .bind(tenant.as_str()).bind(user.as_str()).bind(secret_sealed).bind(now).bind(step).execute(c).await)?;
    Ok(())
}

/// Removes a user's second factor (an administrator's reset); the user enrols again.
pub async fn disable_totp(c: Conn<'_>, tenant: &TenantId, user: &UserId) -> Result<bool> {
    let n = exec!(c, c => sqlx::query(
        "UPDATE users SET totp_secret_sealed = NULL, totp_enabled_at = NULL, totp_last_step = NULL, updated_at = $3
         WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL AND totp_enabled_at IS NOT NULL")
        .bind(tenant.as_str()).bind(user.as_str()).bind(now_millis()).execute(c).await)?;
    Ok(n == 1)
}

/// Whether users have a second factor, for a list of users (the users page).
pub async fn totp_enabled_ids(c: Conn<'_>, tenant: &TenantId) -> Result<Vec<UserId>> {
    let rows: Vec<String> = on!(c, c => sqlx::query_scalar(
        "SELECT id FROM users WHERE tenant_id = $1 AND deleted_at IS NULL AND totp_enabled_at IS NOT NULL")
        .bind(tenant.as_str()).fetch_all(c).await)?;
    rows.iter().map(|s| super::id(s)).collect()
}
