//! `Idempotency-Key` records: the first response to a mutating request, replayed to retries.

use panel1_core::TenantId;
use panel1_core::time::now_millis;

use crate::{Conn, Result, exec, on};

/// The request a key was first used with.
#[derive(Debug, Clone)]
pub struct KeyedRequest<'a> {
    pub tenant_id: &'a TenantId,
    /// The user (or token) that sent it: keys are per caller.
    pub principal_id: &'a str,
    pub key: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    /// SHA-256 of the body, so a key reused for a different request is refused.
    pub request_hash: &'a str,
}

/// What to do with a request that carries a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// First time: run it, then call [`finish`].
    Proceed,
    /// Already answered: send this response again.
    Replay {
        status: u16,
        body: Vec<u8>,
        content_type: Option<String>,
    },
    /// The first request with this key is still running.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}

#[derive(sqlx::FromRow)]
struct Row {
    method: String,
    path: String,
    request_hash: String,
    state: String,
    response_status: Option<i64>,
    response_body: Option<Vec<u8>>,
    response_type: Option<String>,
    created_at: i64,
}

/// Records the key, or reports what happened to its first use. An `in_progress` record older
/// than `stale_after_ms` (its request died) is taken over.
pub async fn begin(mut c: Conn<'_>, r: &KeyedRequest<'_>, stale_after_ms: i64) -> Result<Begin> {
    let now = now_millis();
    let inserted = exec!(c.reborrow(), c => sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, principal_id, key, method, path, request_hash, state, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'in_progress', $7) ON CONFLICT DO NOTHING")
        .bind(r.tenant_id.as_str()).bind(r.principal_id).bind(r.key).bind(r.method).bind(r.path).bind(r.request_hash).bind(now)
        .execute(c).await)?;
    if inserted == 1 {
        return Ok(Begin::Proceed);
    }
    let row: Row = on!(c.reborrow(), c => sqlx::query_as(
        "SELECT method, path, request_hash, state, response_status, response_body, response_type, created_at
         FROM idempotency_keys WHERE tenant_id = $1 AND principal_id = $2 AND key = $3")
        .bind(r.tenant_id.as_str()).bind(r.principal_id).bind(r.key).fetch_one(c).await)?;
    if row.method != r.method || row.path != r.path || row.request_hash != r.request_hash {
        return Ok(Begin::Mismatch);
    }
    if row.state == "done" {
        return Ok(Begin::Replay {
            status: u16::try_from(row.response_status.unwrap_or(200)).unwrap_or(200),
            body: row.response_body.unwrap_or_default(),
            content_type: row.response_type,
        });
    }
    if now - row.created_at > stale_after_ms {
        let took = exec!(c, c => sqlx::query(
            "UPDATE idempotency_keys SET created_at = $4 WHERE tenant_id = $1 AND principal_id = $2 AND key = $3 AND state = 'in_progress' AND created_at = $5")
            .bind(r.tenant_id.as_str()).bind(r.principal_id).bind(r.key).bind(now).bind(row.created_at)
            .execute(c).await)?;
        if took == 1 {
            return Ok(Begin::Proceed);
        }
    }
    Ok(Begin::InProgress)
}

/// Stores the response of the first request.
pub async fn finish(
    c: Conn<'_>,
    r: &KeyedRequest<'_>,
    status: u16,
    body: &[u8],
    content_type: Option<&str>,
) -> Result<()> {
    exec!(c, c => sqlx::query(
        "UPDATE idempotency_keys SET state = 'done', response_status = $4, response_body = $5, response_type = $6
         WHERE tenant_id = $1 AND principal_id = $2 AND key = $3")
        .bind(r.tenant_id.as_str()).bind(r.principal_id).bind(r.key).bind(i64::from(status)).bind(body).bind(content_type)
        .execute(c).await)?;
    Ok(())
}

/// Forgets a key whose request failed on the server side, so a retry runs again.
pub async fn abandon(c: Conn<'_>, r: &KeyedRequest<'_>) -> Result<()> {
    exec!(c, c => sqlx::query("DELETE FROM idempotency_keys WHERE tenant_id = $1 AND principal_id = $2 AND key = $3")
        .bind(r.tenant_id.as_str()).bind(r.principal_id).bind(r.key).execute(c).await)?;
    Ok(())
}

/// Deletes keys older than `before_ms`.
pub async fn prune(c: Conn<'_>, before_ms: i64) -> Result<u64> {
    Ok(
        exec!(c, c => sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1").bind(before_ms).execute(c).await)?,
    )
}
