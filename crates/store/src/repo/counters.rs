//! Exact per-tenant counts (for the `total` of unfiltered listings), maintained in the same
//! transaction as the rows they count, so a page of 50 out of 100,000 needs no `COUNT(*)`.

use panel1_core::TenantId;

use crate::{Conn, Result, exec, on};

pub async fn add(c: Conn<'_>, tenant: &TenantId, name: &str, delta: i64) -> Result<()> {
    exec!(c, c => sqlx::query(
        "INSERT INTO counters (tenant_id, name, value) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, name) DO UPDATE SET value = counters.value + excluded.value")
        .bind(tenant.as_str()).bind(name).bind(delta)
        .execute(c).await)?;
    Ok(())
}

pub async fn get(c: Conn<'_>, tenant: &TenantId, name: &str) -> Result<i64> {
    let v: Option<i64> = on!(c, c => sqlx::query_scalar("SELECT value FROM counters WHERE tenant_id = $1 AND name = $2")
        .bind(tenant.as_str()).bind(name).fetch_optional(c).await)?;
    Ok(v.unwrap_or(0))
}

/// Adds one to a counter and returns the new value (invoice numbers, sequences). The row is
/// locked until the transaction ends, so concurrent callers get distinct values.
pub async fn next(c: Conn<'_>, tenant: &TenantId, name: &str) -> Result<i64> {
    Ok(on!(c, c => sqlx::query_scalar(
        "INSERT INTO counters (tenant_id, name, value) VALUES ($1, $2, 1)
         ON CONFLICT (tenant_id, name) DO UPDATE SET value = counters.value + 1
         RETURNING value")
        .bind(tenant.as_str()).bind(name).fetch_one(c).await)?)
}

/// An expression for the tenant's counter `name` (the tenant id bound as `$1`), so an unfiltered
/// listing reads its page and its `total` in one statement (`repo::fetch_list`). `name` is a
/// constant of the caller's, never input.
pub(crate) fn total_column(name: &'static str) -> String {
    format!("(SELECT value FROM counters WHERE tenant_id = $1 AND name = '{name}')")
}
