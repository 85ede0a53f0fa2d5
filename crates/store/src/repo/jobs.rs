//! The job table: enqueue inside the caller's transaction, claim with a lease, complete or fail
//! under that lease, take over jobs whose lease expired.
//!
//! Claiming is the one place where the dialects differ: PostgreSQL selects with
//! `FOR UPDATE SKIP LOCKED`, so concurrent workers never wait on each other; SQLite runs one
//! `UPDATE … RETURNING` statement, which is atomic because SQLite has a single writer.
//!
//! A job with an `ordering_key` is not claimed while an earlier job with the same key is still
//! ready or running: that keeps per-object order (webhook deliveries, registrar calls for one
//! domain) without a lock held across the work.

use chrono::{DateTime, Utc};
use panel1_core::time::{from_millis, now_millis};
use panel1_core::{JobId, PageRequest, TenantId};
use serde::Serialize;

use crate::{Conn, Result, Tx, exec, on};

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub queue: String,
    pub tenant_id: Option<TenantId>,
    pub payload: serde_json::Value,
    pub priority: i64,
    /// At most one job with this key exists; enqueueing it again returns the existing job.
    pub unique_key: Option<String>,
    /// Jobs sharing this key run one at a time, in enqueue order.
    pub ordering_key: Option<String>,
    pub run_at: DateTime<Utc>,
    pub max_attempts: i64,
    pub schedule_name: Option<String>,
}

impl NewJob {
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            kind: kind.into(),
            queue: "default".into(),
            tenant_id: None,
            payload,
            priority: 0,
            unique_key: None,
            ordering_key: None,
            run_at: Utc::now(),
            max_attempts: 10,
            schedule_name: None,
        }
    }
}

/// The result of an enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    New(JobId),
    /// A job with the same unique key already existed; nothing was added.
    Existing(JobId),
}

impl Enqueued {
    pub fn id(&self) -> &JobId {
        match self {
            Enqueued::New(id) | Enqueued::Existing(id) => id,
        }
    }
}

/// Status of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Ready,
    Running,
    Done,
    Dead,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Ready => "ready",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Dead => "dead",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            JobStatus::Ready,
            JobStatus::Running,
            JobStatus::Done,
            JobStatus::Dead,
            JobStatus::Cancelled,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// A job as stored, for listings and the API.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct JobRecord {
    pub id: JobId,
    pub tenant_id: Option<TenantId>,
    pub kind: String,
    pub queue: String,
    pub priority: i64,
    pub payload: serde_json::Value,
    pub unique_key: Option<String>,
    pub ordering_key: Option<String>,
    pub status: JobStatus,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: DateTime<Utc>,
    pub locked_by: Option<String>,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub result: Option<serde_json::Value>,
    pub schedule_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A job taken by a worker under a lease.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: JobId,
    pub tenant_id: Option<TenantId>,
    pub kind: String,
    pub payload: serde_json::Value,
    /// 1 on the first run.
    pub attempt: i64,
    pub max_attempts: i64,
    pub schedule_name: Option<String>,
    pub lease_token: String,
}

fn opt_json(s: Option<String>) -> Option<serde_json::Value> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

/// Enqueues a job in `tx`. Local workers are woken when `tx` commits.
pub async fn enqueue(tx: &mut Tx, job: &NewJob) -> Result<Enqueued> {
    let id = JobId::new();
    let now = now_millis();
    let inserted = exec!(tx.conn(), c => sqlx::query(
        "INSERT INTO jobs (id, tenant_id, kind, queue, priority, payload, unique_key, ordering_key, status, attempts, max_attempts, run_at, schedule_name, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'ready', 0, $9, $10, $11, $12, $12)
         ON CONFLICT (unique_key) DO NOTHING")
        .bind(id.as_str()).bind(job.tenant_id.as_ref().map(TenantId::as_str)).bind(&job.kind).bind(&job.queue)
        .bind(job.priority).bind(job.payload.to_string()).bind(&job.unique_key).bind(&job.ordering_key)
        .bind(job.max_attempts.max(1)).bind(job.run_at.timestamp_millis()).bind(&job.schedule_name).bind(now)
        .execute(c).await)?;
    if inserted == 1 {
        tx.mark_jobs_enqueued();
        return Ok(Enqueued::New(id));
    }
    let key = job.unique_key.as_deref().unwrap_or_default();
    let existing: String = on!(tx.conn(), c => sqlx::query_scalar("SELECT id FROM jobs WHERE unique_key = $1")
        .bind(key).fetch_one(c).await)?;
    Ok(Enqueued::Existing(super::id(&existing)?))
}

/// Enqueues many jobs with one statement per 500 (bulk work, benchmarks). Jobs whose unique
/// key already exists are skipped. Returns how many were added.
pub async fn enqueue_many(tx: &mut Tx, jobs: &[NewJob]) -> Result<u64> {
    let now = now_millis();
    let mut added = 0;
    for chunk in jobs.chunks(500) {
        let mut sql = String::from(
            "INSERT INTO jobs (id, tenant_id, kind, queue, priority, payload, unique_key, ordering_key, status, attempts, max_attempts, run_at, schedule_name, created_at, updated_at) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 11;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, 'ready', 0, ${}, ${}, ${}, {now}, {now})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9,
                b + 10,
                b + 11
            ));
        }
        sql.push_str(" ON CONFLICT (unique_key) DO NOTHING");
        let sql = sqlx::AssertSqlSafe(sql);
        let n = exec!(tx.conn(), c => {
            let mut q = sqlx::query(sql);
            for j in chunk {
                q = q.bind(JobId::new().into_string()).bind(j.tenant_id.as_ref().map(|t| t.as_str().to_owned())).bind(&j.kind)
                    .bind(&j.queue).bind(j.priority).bind(j.payload.to_string()).bind(&j.unique_key).bind(&j.ordering_key)
                    .bind(j.max_attempts.max(1)).bind(j.run_at.timestamp_millis()).bind(&j.schedule_name);
            }
            q.execute(c).await
        })?;
        added += n;
    }
    if added > 0 {
        tx.mark_jobs_enqueued();
    }
    Ok(added)
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: String,
    tenant_id: Option<String>,
    kind: String,
    payload: String,
    attempts: i64,
    max_attempts: i64,
    schedule_name: Option<String>,
}

/// Claims up to `limit` due jobs of `queues` for `worker`, leased until `lease_until`.
/// All jobs of one claim share `lease_token`; every later write is fenced by it.
pub async fn claim(
    c: Conn<'_>,
    queues: &[String],
    worker: &str,
    lease_token: &str,
    limit: i64,
    lease_until: DateTime<Utc>,
) -> Result<Vec<ClaimedJob>> {
    let now = now_millis();
    const RETURNING: &str =
        "RETURNING id, tenant_id, kind, payload, attempts, max_attempts, schedule_name";
    let rows: Vec<ClaimRow> = match c {
        Conn::Postgres(c) => {
            let sql = sqlx::AssertSqlSafe(format!(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_token = $1, locked_by = $2, locked_until = $3, updated_at = $4
                 WHERE seq IN (
                    SELECT seq FROM jobs j
                    WHERE status = 'ready' AND queue = ANY($5) AND run_at <= $4
                      AND (ordering_key IS NULL OR NOT EXISTS (
                          SELECT 1 FROM jobs p WHERE p.ordering_key = j.ordering_key AND p.seq < j.seq AND p.status IN ('ready', 'running')))
                    ORDER BY priority DESC, run_at, seq
                    LIMIT $6
                    FOR UPDATE SKIP LOCKED)
                 {RETURNING}"
            ));
            sqlx::query_as(sql)
                .bind(lease_token)
                .bind(worker)
                .bind(lease_until.timestamp_millis())
                .bind(now)
                .bind(queues)
                .bind(limit)
                .fetch_all(c)
                .await?
        }
        Conn::Sqlite(c) => {
            let sql = sqlx::AssertSqlSafe(format!(
                "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_token = $1, locked_by = $2, locked_until = $3, updated_at = $4
                 WHERE seq IN (
                    SELECT seq FROM jobs j
                    WHERE status = 'ready' AND queue IN (SELECT value FROM json_each($5)) AND run_at <= $4
                      AND (ordering_key IS NULL OR NOT EXISTS (
                          SELECT 1 FROM jobs p WHERE p.ordering_key = j.ordering_key AND p.seq < j.seq AND p.status IN ('ready', 'running')))
                    ORDER BY priority DESC, run_at, seq
                    LIMIT $6)
                 {RETURNING}"
            ));
            sqlx::query_as(sql)
                .bind(lease_token)
                .bind(worker)
                .bind(lease_until.timestamp_millis())
                .bind(now)
                .bind(serde_json::to_string(queues).unwrap_or_default())
                .bind(limit)
                .fetch_all(c)
                .await?
        }
    };
    rows.into_iter()
        .map(|r| {
            Ok(ClaimedJob {
                id: super::id(&r.id)?,
                tenant_id: super::opt_id(r.tenant_id.as_deref())?,
                kind: r.kind,
                payload: serde_json::from_str(&r.payload).map_err(crate::StoreError::corrupt)?,
                attempt: r.attempts,
                max_attempts: r.max_attempts,
                schedule_name: r.schedule_name,
                lease_token: lease_token.to_owned(),
            })
        })
        .collect()
}

/// Marks a job done under its lease, with an optional result summary. Returns false if the
/// lease was lost (another worker took the job over): the caller's work must then not count.
pub async fn complete(
    c: Conn<'_>,
    id: &JobId,
    lease_token: &str,
    result: Option<&serde_json::Value>,
) -> Result<bool> {
    let now = now_millis();
    let n = exec!(c, c => sqlx::query(
        "UPDATE jobs SET status = 'done', finished_at = $3, updated_at = $3, locked_until = NULL, result = $4, last_error = NULL
         WHERE id = $1 AND lease_token = $2 AND status = 'running'")
        .bind(id.as_str()).bind(lease_token).bind(now).bind(result.map(|r| r.to_string()))
        .execute(c).await)?;
    Ok(n == 1)
}

/// Marks many jobs of one claim done at once. Returns how many were still held.
pub async fn complete_many(c: Conn<'_>, lease_token: &str, ids: &[JobId]) -> Result<u64> {
    let now = now_millis();
    let ids: Vec<&str> = ids.iter().map(JobId::as_str).collect();
    let n = match c {
        Conn::Postgres(c) => sqlx::query(
            "UPDATE jobs SET status = 'done', finished_at = $2, updated_at = $2, locked_until = NULL, last_error = NULL
             WHERE lease_token = $1 AND status = 'running' AND id = ANY($3)")
            .bind(lease_token).bind(now).bind(&ids).execute(c).await?.rows_affected(),
        Conn::Sqlite(c) => sqlx::query(
            "UPDATE jobs SET status = 'done', finished_at = $2, updated_at = $2, locked_until = NULL, last_error = NULL
             WHERE lease_token = $1 AND status = 'running' AND id IN (SELECT value FROM json_each($3))")
            .bind(lease_token).bind(now).bind(serde_json::to_string(&ids).unwrap_or_default()).execute(c).await?.rows_affected(),
    };
    Ok(n)
}

/// What happened to a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// It will run again at the given time.
    Retrying,
    /// It used its last attempt, or failed permanently: it is now a dead letter.
    Dead,
    /// The lease was lost; another worker owns the job.
    LeaseLost,
}

/// Records a failed run: back to `ready` at `retry_at`, or `dead` when attempts are used up
/// or `permanent` is set.
pub async fn fail(
    c: Conn<'_>,
    id: &JobId,
    lease_token: &str,
    error: &str,
    retry_at: DateTime<Utc>,
    permanent: bool,
) -> Result<FailOutcome> {
    let now = now_millis();
    let status: Option<String> = on!(c, c => sqlx::query_scalar(
        "UPDATE jobs SET
            status = CASE WHEN $5 OR attempts >= max_attempts THEN 'dead' ELSE 'ready' END,
            finished_at = CASE WHEN $5 OR attempts >= max_attempts THEN $3 ELSE NULL END,
            run_at = $4, last_error = $6, lease_token = NULL, locked_by = NULL, locked_until = NULL, updated_at = $3
         WHERE id = $1 AND lease_token = $2 AND status = 'running'
         RETURNING status")
        .bind(id.as_str()).bind(lease_token).bind(now).bind(retry_at.timestamp_millis()).bind(permanent)
        .bind(truncate(error, 4000))
        .fetch_optional(c).await)?;
    Ok(match status.as_deref() {
        Some("dead") => FailOutcome::Dead,
        Some(_) => FailOutcome::Retrying,
        None => FailOutcome::LeaseLost,
    })
}

/// Puts a running job back to wait until `run_at` without counting the run as an attempt
/// (for work that is waiting on something outside, such as a pending transfer).
pub async fn snooze(
    c: Conn<'_>,
    id: &JobId,
    lease_token: &str,
    run_at: DateTime<Utc>,
    note: Option<&str>,
) -> Result<bool> {
    let now = now_millis();
    let n = exec!(c, c => sqlx::query(
        "UPDATE jobs SET status = 'ready', attempts = attempts - 1, run_at = $3, last_error = $5, lease_token = NULL,
             locked_by = NULL, locked_until = NULL, updated_at = $4
         WHERE id = $1 AND lease_token = $2 AND status = 'running'")
        .bind(id.as_str()).bind(lease_token).bind(run_at.timestamp_millis()).bind(now).bind(note)
        .execute(c).await)?;
    Ok(n == 1)
}

/// Extends the lease of the jobs of one claim. Returns how many are still held.
pub async fn extend_lease(c: Conn<'_>, lease_token: &str, until: DateTime<Utc>) -> Result<u64> {
    let n = exec!(c, c => sqlx::query("UPDATE jobs SET locked_until = $2 WHERE lease_token = $1 AND status = 'running'")
        .bind(lease_token).bind(until.timestamp_millis()).execute(c).await)?;
    Ok(n)
}

/// Releases jobs whose lease expired (their worker died or hung): they become ready again, or
/// dead if that was their last attempt. Returns how many were released.
pub async fn reap_expired(c: Conn<'_>, now: DateTime<Utc>) -> Result<u64> {
    let now = now.timestamp_millis();
    let n = exec!(c, c => sqlx::query(
        "UPDATE jobs SET
            status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'ready' END,
            finished_at = CASE WHEN attempts >= max_attempts THEN $1 ELSE NULL END,
            last_error = 'the worker running this job stopped answering (lease expired); taken over',
            lease_token = NULL, locked_by = NULL, locked_until = NULL, run_at = locked_until, updated_at = $1
         WHERE status = 'running' AND locked_until < $1")
        .bind(now).execute(c).await)?;
    Ok(n)
}

/// Who may see which jobs: a tenant's own, or (operators) every job including system ones.
#[derive(Debug, Clone)]
pub enum JobScope {
    Tenant(TenantId),
    All,
}

#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub kind: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    tenant_id: Option<String>,
    kind: String,
    queue: String,
    priority: i64,
    payload: String,
    unique_key: Option<String>,
    ordering_key: Option<String>,
    status: String,
    attempts: i64,
    max_attempts: i64,
    run_at: i64,
    locked_by: Option<String>,
    locked_until: Option<i64>,
    last_error: Option<String>,
    result: Option<String>,
    schedule_name: Option<String>,
    created_at: i64,
    updated_at: i64,
    finished_at: Option<i64>,
}

const COLUMNS: &str = "id, tenant_id, kind, queue, priority, payload, unique_key, ordering_key, status, attempts, max_attempts, run_at, locked_by, locked_until, last_error, result, schedule_name, created_at, updated_at, finished_at";

impl Row {
    fn into_model(self) -> Result<JobRecord> {
        Ok(JobRecord {
            id: super::id(&self.id)?,
            tenant_id: super::opt_id(self.tenant_id.as_deref())?,
            kind: self.kind,
            queue: self.queue,
            priority: self.priority,
            payload: serde_json::from_str(&self.payload).map_err(crate::StoreError::corrupt)?,
            unique_key: self.unique_key,
            ordering_key: self.ordering_key,
            status: JobStatus::parse(&self.status)
                .ok_or_else(|| crate::StoreError::corrupt(&self.status))?,
            attempts: self.attempts,
            max_attempts: self.max_attempts,
            run_at: from_millis(self.run_at),
            locked_by: self.locked_by,
            locked_until: self.locked_until.map(from_millis),
            last_error: self.last_error,
            result: opt_json(self.result),
            schedule_name: self.schedule_name,
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
            finished_at: self.finished_at.map(from_millis),
        })
    }
}

fn scope_cond(scope: &JobScope) -> (&'static str, Option<&str>) {
    match scope {
        JobScope::Tenant(t) => ("tenant_id = $1", Some(t.as_str())),
        JobScope::All => ("1 = 1", None),
    }
}

pub async fn get(c: Conn<'_>, scope: &JobScope, id: &JobId) -> Result<Option<JobRecord>> {
    let (cond, t) = scope_cond(scope);
    let n = if t.is_some() { 2 } else { 1 };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM jobs WHERE {cond} AND id = ${n}"
    ));
    let row: Option<Row> = on!(c, c => {
        let mut q = sqlx::query_as(sql);
        if let Some(t) = t { q = q.bind(t); }
        q.bind(id.as_str()).fetch_optional(c).await
    })?;
    row.map(Row::into_model).transpose()
}

pub async fn list(
    mut c: Conn<'_>,
    scope: &JobScope,
    f: &JobFilter,
    page: PageRequest,
) -> Result<(Vec<JobRecord>, u64)> {
    let (base, t) = scope_cond(scope);
    let mut cond = base.to_owned();
    let mut binds: Vec<String> = t.map(str::to_owned).into_iter().collect();
    if let Some(s) = f.status {
        binds.push(s.as_str().to_owned());
        cond.push_str(&format!(" AND status = ${}", binds.len()));
    }
    if let Some(k) = &f.kind {
        binds.push(k.clone());
        cond.push_str(&format!(" AND kind = ${}", binds.len()));
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM jobs WHERE {cond} ORDER BY seq DESC LIMIT {} OFFSET {}",
        page.limit(),
        page.offset()
    ));
    let rows: Vec<Row> = on!(c.reborrow(), c => {
        let mut q = sqlx::query_as(sql);
        for b in &binds { q = q.bind(b); }
        q.fetch_all(c).await
    })?;
    let count_sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM jobs WHERE {cond}"));
    let total: i64 = on!(c, c => {
        let mut q = sqlx::query_scalar(count_sql);
        for b in &binds { q = q.bind(b); }
        q.fetch_one(c).await
    })?;
    let items = rows
        .into_iter()
        .map(Row::into_model)
        .collect::<Result<Vec<_>>>()?;
    Ok((items, u64::try_from(total).unwrap_or(0)))
}

/// Sends a dead (or cancelled) job back to the queue with fresh attempts. Returns false if the
/// job is not in a state that can be retried.
pub async fn retry(c: Conn<'_>, scope: &JobScope, id: &JobId) -> Result<bool> {
    const SET: &str = "UPDATE jobs SET status = 'ready', attempts = 0, run_at = $1, finished_at = NULL, updated_at = $1";
    let now = now_millis();
    let affected = match scope {
        JobScope::Tenant(t) => {
            let sql = sqlx::AssertSqlSafe(format!(
                "{SET} WHERE id = $2 AND status IN ('dead', 'cancelled') AND tenant_id = $3"
            ));
            exec!(c, c => sqlx::query(sql).bind(now).bind(id.as_str()).bind(t.as_str()).execute(c).await)?
        }
        JobScope::All => {
            let sql = sqlx::AssertSqlSafe(format!(
                "{SET} WHERE id = $2 AND status IN ('dead', 'cancelled')"
            ));
            exec!(c, c => sqlx::query(sql).bind(now).bind(id.as_str()).execute(c).await)?
        }
    };
    Ok(affected == 1)
}

/// Deletes finished jobs older than `before`. Returns how many were deleted.
pub async fn prune(c: Conn<'_>, before: DateTime<Utc>) -> Result<u64> {
    let n = exec!(c, c => sqlx::query("DELETE FROM jobs WHERE status IN ('done', 'cancelled') AND finished_at < $1")
        .bind(before.timestamp_millis()).execute(c).await)?;
    Ok(n)
}

/// Counts of jobs per status (for metrics and the dashboard).
pub async fn status_counts(c: Conn<'_>) -> Result<Vec<(String, i64)>> {
    Ok(
        on!(c, c => sqlx::query_as("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetch_all(c).await)?,
    )
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Hands every still-running job of a claim back to the queue now, without counting the run
/// as an attempt (a worker shutting down).
pub async fn release_claim(c: Conn<'_>, lease_token: &str) -> Result<u64> {
    let now = now_millis();
    Ok(exec!(c, c => sqlx::query(
        "UPDATE jobs SET status = 'ready', attempts = attempts - 1, run_at = $2, lease_token = NULL, locked_by = NULL,
             locked_until = NULL, updated_at = $2
         WHERE lease_token = $1 AND status = 'running'")
        .bind(lease_token).bind(now).execute(c).await)?)
}

/// Lets the current transaction commit without waiting for the write-ahead log to reach disk
/// (PostgreSQL `synchronous_commit = off`; nothing on SQLite, which already runs with
/// `synchronous = NORMAL` in WAL mode). For the queue's own bookkeeping only (claims, batched
/// completions, lease extensions): if the database itself crashes, the last few milliseconds of
/// such commits can be lost, which at worst makes a job run again — allowed, since jobs are
/// at-least-once. A handler's own effects committed with its completion keep full durability.
pub async fn relax_durability(c: Conn<'_>) -> Result<()> {
    if let Conn::Postgres(c) = c {
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(c)
            .await?;
    }
    Ok(())
}
