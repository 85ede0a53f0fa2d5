//! Users: people who sign in. Deleting a user is a soft delete; its tokens stop working.

use chrono::{DateTime, Utc};
use panel1_core::time::{from_millis, now_millis};
use panel1_core::{ClientId, PageRequest, Role, Scope, TenantId, UserId};

use crate::{Conn, Result, StoreError, exec, on};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub client_id: Option<ClientId>,
    pub created_at: DateTime<Utc>,
}

/// A user with what sign-in needs; never leaves the service layer.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: Option<String>,
    pub failed_logins: i64,
    pub locked_until: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    tenant_id: String,
    email: String,
    name: String,
    role: String,
    client_id: Option<String>,
    created_at: i64,
    password_hash: Option<String>,
    failed_logins: i64,
    locked_until: Option<i64>,
}

const COLUMNS: &str = "id, tenant_id, email, name, role, client_id, created_at, password_hash, failed_logins, locked_until";

impl Row {
    fn into_credentials(self) -> Result<Credentials> {
        Ok(Credentials {
            user: User {
                id: super::id(&self.id)?,
                tenant_id: super::id(&self.tenant_id)?,
                email: self.email,
                name: self.name,
                role: Role::parse(&self.role)
                    .ok_or_else(|| StoreError::corrupt(format!("role `{}`", self.role)))?,
                client_id: super::opt_id(self.client_id.as_deref())?,
                created_at: from_millis(self.created_at),
            },
            password_hash: self.password_hash,
            failed_logins: self.failed_logins,
            locked_until: self.locked_until.map(from_millis),
        })
    }
}

#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub client_id: Option<&'a ClientId>,
    pub password_hash: Option<&'a str>,
}

pub async fn insert(c: Conn<'_>, tenant: &TenantId, u: &NewUser<'_>) -> Result<User> {
    let id = UserId::new();
    let now = now_millis();
    exec!(c, c => sqlx::query(
        "INSERT INTO users (id, tenant_id, email, name, role, client_id, password_hash, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)")
        .bind(id.as_str()).bind(tenant.as_str()).bind(u.email).bind(u.name).bind(u.role.as_str())
        .bind(u.client_id.map(ClientId::as_str)).bind(u.password_hash).bind(now)
        .execute(c).await)?;
    Ok(User {
        id,
        tenant_id: tenant.clone(),
        email: u.email.to_owned(),
        name: u.name.to_owned(),
        role: u.role,
        client_id: u.client_id.cloned(),
        created_at: from_millis(now),
    })
}

/// A live (not deleted) user visible in `scope`: client users see only their client's users.
pub async fn get(c: Conn<'_>, scope: &Scope, id: &UserId) -> Result<Option<User>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
    ));
    let row: Option<Row> = on!(c, c => sqlx::query_as(sql).bind(scope.tenant_id.as_str()).bind(id.as_str()).fetch_optional(c).await)?;
    let user = row
        .map(|r| r.into_credentials().map(|c| c.user))
        .transpose()?;
    Ok(user.filter(|u| scope.client_id.is_none() || scope.client_id == u.client_id))
}

pub async fn credentials_by_email(
    c: Conn<'_>,
    tenant: &TenantId,
    email: &str,
) -> Result<Option<Credentials>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND email = $2 AND deleted_at IS NULL"
    ));
    let row: Option<Row> =
        on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(email).fetch_optional(c).await)?;
    row.map(Row::into_credentials).transpose()
}

pub async fn list(mut c: Conn<'_>, scope: &Scope, page: PageRequest) -> Result<(Vec<User>, u64)> {
    let (cond, client) = match &scope.client_id {
        Some(cl) => (
            "tenant_id = $1 AND deleted_at IS NULL AND client_id = $2",
            Some(cl.as_str()),
        ),
        None => ("tenant_id = $1 AND deleted_at IS NULL", None),
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users WHERE {cond} ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}",
        page.limit(),
        page.offset()
    ));
    let rows: Vec<Row> = on!(c.reborrow(), c => {
        let mut q = sqlx::query_as(sql).bind(scope.tenant_id.as_str());
        if let Some(cl) = client { q = q.bind(cl); }
        q.fetch_all(c).await
    })?;
    let count_sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM users WHERE {cond}"));
    let total: i64 = on!(c, c => {
        let mut q = sqlx::query_scalar(count_sql).bind(scope.tenant_id.as_str());
        if let Some(cl) = client { q = q.bind(cl); }
        q.fetch_one(c).await
    })?;
    let users = rows
        .into_iter()
        .map(|r| r.into_credentials().map(|c| c.user))
        .collect::<Result<Vec<_>>>()?;
    Ok((users, u64::try_from(total).unwrap_or(0)))
}

/// Soft-deletes a user and revokes its tokens. Returns false if there was no such live user.
pub async fn delete(mut c: Conn<'_>, tenant: &TenantId, id: &UserId) -> Result<bool> {
    let now = now_millis();
    let n = exec!(c.reborrow(), c => sqlx::query(
        "UPDATE users SET deleted_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL")
        .bind(tenant.as_str()).bind(id.as_str()).bind(now).execute(c).await)?;
    if n == 0 {
        return Ok(false);
    }
    exec!(c, c => sqlx::query("UPDATE api_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL")
        .bind(tenant.as_str()).bind(id.as_str()).bind(now).execute(c).await)?;
    Ok(true)
}

/// Records a failed sign-in; locks the account until `lock_until` once `max_failures` is reached.
pub async fn record_login_failure(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &UserId,
    max_failures: i64,
    lock_until: DateTime<Utc>,
) -> Result<()> {
    exec!(c, c => sqlx::query(
        "UPDATE users SET failed_logins = failed_logins + 1,
            locked_until = CASE WHEN failed_logins + 1 >= $3 THEN $4 ELSE locked_until END
         WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(id.as_str()).bind(max_failures).bind(lock_until.timestamp_millis())
        .execute(c).await)?;
    Ok(())
}

pub async fn record_login_success(c: Conn<'_>, tenant: &TenantId, id: &UserId) -> Result<()> {
    exec!(c, c => sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(id.as_str()).execute(c).await)?;
    Ok(())
}

pub async fn count_all(c: Conn<'_>) -> Result<i64> {
    Ok(
        on!(c, c => sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE deleted_at IS NULL").fetch_one(c).await)?,
    )
}
