//! Panel1's durable job runner, on the store's job table.
//!
//! - A job is data plus a trait: a small serialisable struct implementing [`Job`], with a
//!   unique namespaced [`Job::KIND`] (`domain::renew`), a queue, a priority, and an idempotent
//!   [`Job::run`]. All job types of a process are registered on one [`Runner`].
//! - [`enqueue`] writes the job inside the caller's transaction, so it exists exactly when the
//!   business change does.
//! - The [`Runner`] claims due jobs under a lease, runs them concurrently, extends the lease
//!   while they run, retries failures with exponential backoff and jitter, turns jobs that
//!   used their last attempt into dead letters, releases jobs of workers that died (their
//!   lease expired), and stops gracefully.
//! - The [`Scheduler`] fires recurring schedules (cron) exactly once per tick however many
//!   processes run it, and keeps each schedule's last run, item count and failures visible.

mod runner;
mod scheduler;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use panel1_core::{JobId, TenantId};
use panel1_store::jobs::{self, Enqueued, NewJob};
use panel1_store::{Db, StoreError, Tx};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use runner::{Runner, RunnerConfig, RunnerHandle};
pub use scheduler::{ScheduleDef, Scheduler};

/// A unit of background work.
#[async_trait]
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Unique, namespaced name, stored with the job: `domain::renew`.
    const KIND: &'static str;
    const QUEUE: &'static str = "default";
    const PRIORITY: i64 = 0;
    const MAX_ATTEMPTS: i64 = 10;

    /// What the job needs to run (services, clients). One type per runner.
    type Context: Clone + Send + Sync + 'static;

    /// At most one job with this key is ever enqueued (e.g. `renew:dom_…:2027`).
    fn unique_key(&self) -> Option<String> {
        None
    }

    /// Jobs with the same ordering key run one at a time, in the order they were enqueued.
    fn ordering_key(&self) -> Option<String> {
        None
    }

    /// Delay before the next attempt after `attempt` failed: exponential from 2 s, capped at
    /// one hour; the runner adds ±25 % jitter.
    fn backoff(attempt: i64) -> Duration {
        let exp = u32::try_from(attempt.clamp(1, 12) - 1).unwrap_or(0);
        Duration::from_secs(2u64.saturating_mul(1 << exp)).min(Duration::from_secs(3600))
    }

    /// Does the work. Must be idempotent: after a crash it may run again.
    async fn run(&self, ctx: &Self::Context, job: &JobContext) -> Result<(), JobError>;
}

/// Why a run did not succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// Try again later, with backoff.
    #[error("{0}")]
    Retry(String),
    /// Try again at (or after) this time, e.g. a provider's `Retry-After`; counts as an attempt.
    #[error("{message}")]
    RetryAt { message: String, at: DateTime<Utc> },
    /// Not an error: the job is waiting on something outside (a pending transfer, an order
    /// being validated). Run again at this time without counting an attempt.
    #[error("waiting until {at}: {note}")]
    Wait { note: String, at: DateTime<Utc> },
    /// Retrying cannot help; the job becomes a dead letter at once.
    #[error("{0}")]
    Permanent(String),
    /// Another worker took this job over (our lease expired); our work must not count.
    #[error("the lease on this job was lost")]
    LeaseLost,
}

impl JobError {
    pub fn retry(e: impl std::fmt::Display) -> Self {
        JobError::Retry(e.to_string())
    }

    pub fn permanent(e: impl std::fmt::Display) -> Self {
        JobError::Permanent(e.to_string())
    }
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        JobError::Retry(format!("database: {e}"))
    }
}

/// What a running job knows about itself, and how it reports.
pub struct JobContext {
    pub id: JobId,
    pub kind: String,
    pub tenant_id: Option<TenantId>,
    /// 1 on the first run.
    pub attempt: i64,
    pub max_attempts: i64,
    pub schedule_name: Option<String>,
    lease_token: String,
    state: std::sync::Mutex<RunState>,
}

#[derive(Default)]
struct RunState {
    items: Option<i64>,
    failures: Option<i64>,
    completed: bool,
}

impl JobContext {
    /// Records how many items this run processed and how many of them failed (shown on the
    /// schedule that fired the job, and in the job's result).
    pub fn report(&self, items: i64, failures: i64) {
        let mut s = self.state.lock().expect("job state lock");
        s.items = Some(items);
        s.failures = Some(failures);
    }

    /// Whether this is the last attempt the job gets.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }

    /// Marks the job done inside the handler's own transaction, so its database effects and
    /// its completion commit together (exactly once, even if the worker dies right after).
    /// Fails with [`JobError::LeaseLost`] if another worker took the job over.
    pub async fn complete_in(&self, tx: &mut Tx) -> Result<(), JobError> {
        let result = self.result();
        if !jobs::complete(tx.conn(), &self.id, &self.lease_token, result.as_ref()).await? {
            return Err(JobError::LeaseLost);
        }
        if let Some(name) = &self.schedule_name {
            let (items, failures) = self.counts();
            panel1_store::schedules::record_run(tx.conn(), name, "done", items, failures, None)
                .await?;
        }
        self.state.lock().expect("job state lock").completed = true;
        Ok(())
    }

    fn counts(&self) -> (Option<i64>, Option<i64>) {
        let s = self.state.lock().expect("job state lock");
        (s.items, s.failures)
    }

    fn result(&self) -> Option<serde_json::Value> {
        let s = self.state.lock().expect("job state lock");
        match (s.items, s.failures) {
            (None, None) => None,
            (items, failures) => Some(serde_json::json!({ "items": items, "failures": failures })),
        }
    }

    fn completed(&self) -> bool {
        self.state.lock().expect("job state lock").completed
    }
}

/// Options of one enqueue beyond what the job type says.
#[derive(Debug, Clone, Default)]
pub struct EnqueueOptions {
    pub tenant_id: Option<TenantId>,
    /// Run no earlier than this.
    pub run_at: Option<DateTime<Utc>>,
    pub schedule_name: Option<String>,
}

/// The stored form of a job.
pub fn new_job<J: Job>(job: &J, opts: EnqueueOptions) -> Result<NewJob, StoreError> {
    let payload = serde_json::to_value(job).map_err(StoreError::corrupt)?;
    Ok(NewJob {
        kind: J::KIND.to_owned(),
        queue: J::QUEUE.to_owned(),
        tenant_id: opts.tenant_id,
        payload,
        priority: J::PRIORITY,
        unique_key: job.unique_key().map(|k| format!("{}:{k}", J::KIND)),
        ordering_key: job.ordering_key(),
        run_at: opts.run_at.unwrap_or_else(Utc::now),
        max_attempts: J::MAX_ATTEMPTS,
        schedule_name: opts.schedule_name,
    })
}

/// Enqueues `job` inside the caller's transaction.
pub async fn enqueue<J: Job>(
    tx: &mut Tx,
    job: &J,
    opts: EnqueueOptions,
) -> Result<Enqueued, StoreError> {
    jobs::enqueue(tx, &new_job(job, opts)?).await
}

/// Enqueues `job` in a transaction of its own (for callers with no business change to make).
pub async fn enqueue_now<J: Job>(
    db: &Db,
    job: &J,
    opts: EnqueueOptions,
) -> Result<Enqueued, StoreError> {
    let mut tx = db.begin().await?;
    let e = enqueue(&mut tx, job, opts).await?;
    tx.commit().await?;
    Ok(e)
}
