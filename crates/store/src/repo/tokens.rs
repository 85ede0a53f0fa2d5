//! API tokens: stored as SHA-256 hashes; the secret is shown once at creation.

use chrono::{DateTime, Utc};
use panel1_core::time::{from_millis, now_millis};
use panel1_core::{ClientId, Principal, Role, Scope, TenantId, TokenId, UserId};

use crate::{Conn, Result, StoreError, exec, on};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Token {
    pub id: TokenId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub name: String,
    /// The first characters of the secret, to recognise it in a list.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    tenant_id: String,
    user_id: String,
    name: String,
    prefix: String,
    created_at: i64,
    last_used_at: Option<i64>,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
}

const COLUMNS: &str =
    "id, tenant_id, user_id, name, prefix, created_at, last_used_at, expires_at, revoked_at";

impl Row {
    fn into_model(self) -> Result<Token> {
        Ok(Token {
            id: super::id(&self.id)?,
            tenant_id: super::id(&self.tenant_id)?,
            user_id: super::id(&self.user_id)?,
            name: self.name,
            prefix: self.prefix,
            created_at: from_millis(self.created_at),
            last_used_at: self.last_used_at.map(from_millis),
            expires_at: self.expires_at.map(from_millis),
            revoked_at: self.revoked_at.map(from_millis),
        })
    }
}

pub async fn insert(
    c: Conn<'_>,
    tenant: &TenantId,
    user: &UserId,
    name: &str,
    token_hash: &str,
    prefix: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<Token> {
    let id = TokenId::new();
    let now = now_millis();
    exec!(c, c => sqlx::query(
        "INSERT INTO api_tokens (id, tenant_id, user_id, name, token_hash, prefix, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(id.as_str()).bind(tenant.as_str()).bind(user.as_str()).bind(name).bind(token_hash).bind(prefix)
        .bind(now).bind(expires_at.map(|t| t.timestamp_millis()))
        .execute(c).await)?;
    Ok(Token {
        id,
        tenant_id: tenant.clone(),
        user_id: user.clone(),
        name: name.to_owned(),
        prefix: prefix.to_owned(),
        created_at: from_millis(now),
        last_used_at: None,
        expires_at,
        revoked_at: None,
    })
}

#[derive(sqlx::FromRow)]
struct AuthRow {
    token_id: String,
    tenant_id: String,
    user_id: String,
    role: String,
    client_id: Option<String>,
    last_used_at: Option<i64>,
}

/// The principal behind a token hash, if the token is live (not revoked, not expired) and its
/// user still exists. Also returns when the token was last used, to throttle `touch`.
pub async fn authenticate(
    c: Conn<'_>,
    token_hash: &str,
    now: i64,
) -> Result<Option<(Principal, Option<i64>)>> {
    let row: Option<AuthRow> = on!(c, c => sqlx::query_as(
        "SELECT t.id AS token_id, t.tenant_id, t.user_id, u.role, u.client_id, t.last_used_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id AND u.tenant_id = t.tenant_id
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)
           AND u.deleted_at IS NULL")
        .bind(token_hash).bind(now).fetch_optional(c).await)?;
    let Some(r) = row else { return Ok(None) };
    let role =
        Role::parse(&r.role).ok_or_else(|| StoreError::corrupt(format!("role `{}`", r.role)))?;
    let principal = Principal {
        tenant_id: super::id(&r.tenant_id)?,
        user_id: super::id(&r.user_id)?,
        role,
        client_id: super::opt_id::<ClientId>(r.client_id.as_deref())?,
        token_id: Some(super::id(&r.token_id)?),
    };
    Ok(Some((principal, r.last_used_at)))
}

pub async fn touch(c: Conn<'_>, id: &TokenId, now: i64) -> Result<()> {
    exec!(c, c => sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1").bind(id.as_str()).bind(now).execute(c).await)?;
    Ok(())
}

/// Tokens of the tenant (for staff) or of one user.
pub async fn list(c: Conn<'_>, tenant: &TenantId, user: Option<&UserId>) -> Result<Vec<Token>> {
    let rows: Vec<Row> = match user {
        Some(u) => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM api_tokens WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at DESC"
            ));
            on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(u.as_str()).fetch_all(c).await)?
        }
        None => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM api_tokens WHERE tenant_id = $1 ORDER BY created_at DESC"
            ));
            on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).fetch_all(c).await)?
        }
    };
    rows.into_iter().map(Row::into_model).collect()
}

pub async fn get(c: Conn<'_>, tenant: &TenantId, id: &TokenId) -> Result<Option<Token>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM api_tokens WHERE tenant_id = $1 AND id = $2"
    ));
    let row: Option<Row> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(id.as_str()).fetch_optional(c).await)?;
    row.map(Row::into_model).transpose()
}

pub async fn revoke(c: Conn<'_>, scope: &Scope, id: &TokenId) -> Result<bool> {
    let n = exec!(c, c => sqlx::query("UPDATE api_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL")
        .bind(scope.tenant_id.as_str()).bind(id.as_str()).bind(now_millis()).execute(c).await)?;
    Ok(n > 0)
}
