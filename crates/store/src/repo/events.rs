//! The event outbox: events are appended in the same transaction as the change they
//! describe, then fanned out by the dispatcher to handlers and webhooks.

use chrono::{DateTime, Utc};
use panel1_core::time::{from_millis, now_millis};
use panel1_core::{EventId, TenantId};
use serde::Serialize;

use crate::{Backend, Conn, Result, Tx, exec, on};

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Event {
    /// Position in the outbox; events of one object are delivered in this order.
    #[serde(skip)]
    pub seq: i64,
    pub id: EventId,
    pub tenant_id: TenantId,
    /// `client.created`, `domain.renewed`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub object_type: String,
    pub object_id: String,
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub tenant_id: &'a TenantId,
    pub kind: &'a str,
    pub object_type: &'a str,
    pub object_id: &'a str,
    pub payload: serde_json::Value,
}

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    id: String,
    tenant_id: String,
    kind: String,
    object_type: String,
    object_id: String,
    payload: String,
    created_at: i64,
}

const COLUMNS: &str = "seq, id, tenant_id, kind, object_type, object_id, payload, created_at";

impl Row {
    fn into_model(self) -> Result<Event> {
        Ok(Event {
            seq: self.seq,
            id: super::id(&self.id)?,
            tenant_id: super::id(&self.tenant_id)?,
            kind: self.kind,
            object_type: self.object_type,
            object_id: self.object_id,
            payload: serde_json::from_str(&self.payload).map_err(crate::StoreError::corrupt)?,
            created_at: from_millis(self.created_at),
        })
    }
}

/// Appends an event to the outbox in `tx`; the dispatcher is woken when `tx` commits.
pub async fn append(tx: &mut Tx, e: NewEvent<'_>) -> Result<EventId> {
    let id = EventId::new();
    let c = tx.conn();
    exec!(c, c => sqlx::query(
        "INSERT INTO events (id, tenant_id, kind, object_type, object_id, payload, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(id.as_str()).bind(e.tenant_id.as_str()).bind(e.kind).bind(e.object_type).bind(e.object_id)
        .bind(e.payload.to_string()).bind(now_millis())
        .execute(c).await)?;
    tx.mark_events_appended();
    Ok(id)
}

/// Takes the oldest undispatched events for fan-out, in outbox order. Only one dispatcher at a
/// time gets any (an advisory lock on PostgreSQL; the write lock on SQLite), so per-object
/// order carries over to the jobs it creates. Call inside a transaction.
pub async fn take_undispatched(mut c: Conn<'_>, limit: i64) -> Result<Vec<Event>> {
    if c.backend() == Backend::Postgres {
        let got: bool = on!(c.reborrow(), c => sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(7061001)").fetch_one(c).await)?;
        if !got {
            return Ok(Vec::new());
        }
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM events WHERE dispatched_at IS NULL ORDER BY seq LIMIT $1"
    ));
    let rows: Vec<Row> = on!(c, c => sqlx::query_as(sql).bind(limit).fetch_all(c).await)?;
    rows.into_iter().map(Row::into_model).collect()
}

pub async fn mark_dispatched(c: Conn<'_>, seqs: &[i64]) -> Result<()> {
    let now = now_millis();
    match c {
        Conn::Sqlite(c) => sqlx::query(
            "UPDATE events SET dispatched_at = $2 WHERE seq IN (SELECT value FROM json_each($1))",
        )
        .bind(serde_json::to_string(seqs).unwrap_or_default())
        .bind(now)
        .execute(c)
        .await?
        .rows_affected(),
        Conn::Postgres(c) => {
            sqlx::query("UPDATE events SET dispatched_at = $2 WHERE seq = ANY($1)")
                .bind(seqs)
                .bind(now)
                .execute(c)
                .await?
                .rows_affected()
        }
    };
    Ok(())
}

pub async fn get(c: Conn<'_>, id: &EventId) -> Result<Option<Event>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM events WHERE id = $1"));
    let row: Option<Row> =
        on!(c, c => sqlx::query_as(sql).bind(id.as_str()).fetch_optional(c).await)?;
    row.map(Row::into_model).transpose()
}

/// Events of one object, oldest first.
pub async fn for_object(
    c: Conn<'_>,
    tenant: &TenantId,
    object_type: &str,
    object_id: &str,
    limit: i64,
) -> Result<Vec<Event>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM events WHERE tenant_id = $1 AND object_type = $2 AND object_id = $3 ORDER BY seq LIMIT $4"
    ));
    let rows: Vec<Row> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(object_type).bind(object_id).bind(limit).fetch_all(c).await)?;
    rows.into_iter().map(Row::into_model).collect()
}

pub async fn count_undispatched(c: Conn<'_>) -> Result<i64> {
    Ok(
        on!(c, c => sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE dispatched_at IS NULL").fetch_one(c).await)?,
    )
}

/// Deletes dispatched events older than `before` (their deliveries have long been made or
/// given up). Returns how many were deleted.
pub async fn prune(c: Conn<'_>, before: chrono::DateTime<chrono::Utc>) -> Result<u64> {
    Ok(
        exec!(c, c => sqlx::query("DELETE FROM events WHERE dispatched_at IS NOT NULL AND created_at < $1")
        .bind(before.timestamp_millis()).execute(c).await)?,
    )
}
