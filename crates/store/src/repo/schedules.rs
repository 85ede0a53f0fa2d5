//! Recurring schedules. Every worker process looks for due schedules; advancing
//! `next_run_at` is a compare-and-set, so exactly one of them fires each tick, and the job it
//! enqueues carries a unique key per tick as a second guard.

use chrono::{DateTime, Utc};
use panel1_core::JobId;
use panel1_core::time::{from_millis, now_millis};
use serde::Serialize;

use crate::{Conn, Result, exec, on};

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Schedule {
    pub name: String,
    pub cron: String,
    pub job_kind: String,
    pub payload: serde_json::Value,
    pub enabled: bool,
    pub next_run_at: DateTime<Utc>,
    pub last_fired_at: Option<DateTime<Utc>>,
    pub last_job_id: Option<JobId>,
    pub last_finished_at: Option<DateTime<Utc>>,
    /// `done`, `failed` or `dead`, for the last run that finished.
    pub last_status: Option<String>,
    /// How many items the last run processed, and how many of them failed.
    pub last_items: Option<i64>,
    pub last_failures: Option<i64>,
    pub last_error: Option<String>,
    pub runs: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    name: String,
    cron: String,
    job_kind: String,
    payload: String,
    enabled: bool,
    next_run_at: i64,
    last_fired_at: Option<i64>,
    last_job_id: Option<String>,
    last_finished_at: Option<i64>,
    last_status: Option<String>,
    last_items: Option<i64>,
    last_failures: Option<i64>,
    last_error: Option<String>,
    runs: i64,
}

const COLUMNS: &str = "name, cron, job_kind, payload, enabled, next_run_at, last_fired_at, last_job_id, last_finished_at, last_status, last_items, last_failures, last_error, runs";

impl Row {
    fn into_model(self) -> Result<Schedule> {
        Ok(Schedule {
            name: self.name,
            cron: self.cron,
            job_kind: self.job_kind,
            payload: serde_json::from_str(&self.payload).map_err(crate::StoreError::corrupt)?,
            enabled: self.enabled,
            next_run_at: from_millis(self.next_run_at),
            last_fired_at: self.last_fired_at.map(from_millis),
            last_job_id: super::opt_id(self.last_job_id.as_deref())?,
            last_finished_at: self.last_finished_at.map(from_millis),
            last_status: self.last_status,
            last_items: self.last_items,
            last_failures: self.last_failures,
            last_error: self.last_error,
            runs: self.runs,
        })
    }
}

/// Declares a schedule if it does not exist yet. An existing schedule keeps its (possibly
/// operator-edited) cron and state.
pub async fn declare(
    c: Conn<'_>,
    name: &str,
    cron: &str,
    job_kind: &str,
    payload: &serde_json::Value,
    next_run_at: DateTime<Utc>,
) -> Result<()> {
    let now = now_millis();
    exec!(c, c => sqlx::query(
        "INSERT INTO schedules (name, cron, job_kind, payload, enabled, next_run_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, TRUE, $5, $6, $6) ON CONFLICT (name) DO NOTHING")
        .bind(name).bind(cron).bind(job_kind).bind(payload.to_string()).bind(next_run_at.timestamp_millis()).bind(now)
        .execute(c).await)?;
    Ok(())
}

pub async fn list(c: Conn<'_>) -> Result<Vec<Schedule>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM schedules ORDER BY name"));
    let rows: Vec<Row> = on!(c, c => sqlx::query_as(sql).fetch_all(c).await)?;
    rows.into_iter().map(Row::into_model).collect()
}

pub async fn get(c: Conn<'_>, name: &str) -> Result<Option<Schedule>> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM schedules WHERE name = $1"));
    let row: Option<Row> = on!(c, c => sqlx::query_as(sql).bind(name).fetch_optional(c).await)?;
    row.map(Row::into_model).transpose()
}

/// Enabled schedules whose next tick is due.
pub async fn due(c: Conn<'_>, now: DateTime<Utc>) -> Result<Vec<Schedule>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM schedules WHERE enabled AND next_run_at <= $1 ORDER BY next_run_at"
    ));
    let rows: Vec<Row> =
        on!(c, c => sqlx::query_as(sql).bind(now.timestamp_millis()).fetch_all(c).await)?;
    rows.into_iter().map(Row::into_model).collect()
}

/// Moves a schedule from the tick `expected` to `next`, if no other worker did it first.
/// Returns true for the one worker that wins the tick.
pub async fn advance(
    c: Conn<'_>,
    name: &str,
    expected: DateTime<Utc>,
    next: DateTime<Utc>,
) -> Result<bool> {
    let now = now_millis();
    let n = exec!(c, c => sqlx::query(
        "UPDATE schedules SET next_run_at = $3, last_fired_at = $4, updated_at = $4, runs = runs + 1
         WHERE name = $1 AND next_run_at = $2 AND enabled")
        .bind(name).bind(expected.timestamp_millis()).bind(next.timestamp_millis()).bind(now)
        .execute(c).await)?;
    Ok(n == 1)
}

pub async fn set_last_job(c: Conn<'_>, name: &str, job: &JobId) -> Result<()> {
    exec!(c, c => sqlx::query("UPDATE schedules SET last_job_id = $2 WHERE name = $1").bind(name).bind(job.as_str()).execute(c).await)?;
    Ok(())
}

/// Records how a scheduled run ended.
pub async fn record_run(
    c: Conn<'_>,
    name: &str,
    status: &str,
    items: Option<i64>,
    failures: Option<i64>,
    error: Option<&str>,
) -> Result<()> {
    let now = now_millis();
    exec!(c, c => sqlx::query(
        "UPDATE schedules SET last_finished_at = $2, last_status = $3, last_items = $4, last_failures = $5, last_error = $6, updated_at = $2
         WHERE name = $1")
        .bind(name).bind(now).bind(status).bind(items).bind(failures).bind(error)
        .execute(c).await)?;
    Ok(())
}

/// Changes a schedule's cron and/or enabled flag; `next_run_at` is recomputed by the caller.
pub async fn update(
    c: Conn<'_>,
    name: &str,
    cron: &str,
    enabled: bool,
    next_run_at: DateTime<Utc>,
) -> Result<bool> {
    let n = exec!(c, c => sqlx::query("UPDATE schedules SET cron = $2, enabled = $3, next_run_at = $4, updated_at = $5 WHERE name = $1")
        .bind(name).bind(cron).bind(enabled).bind(next_run_at.timestamp_millis()).bind(now_millis())
        .execute(c).await)?;
    Ok(n == 1)
}
