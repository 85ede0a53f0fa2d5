//! Fires recurring schedules. Every process may run a scheduler: advancing a schedule's next
//! tick is a compare-and-set in the same transaction as enqueueing its job (which also carries
//! a unique key per tick), so each tick fires exactly once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use panel1_core::cron::CronExpr;
use panel1_store::jobs::NewJob;
use panel1_store::{Db, StoreError, jobs, schedules};
use tokio_util::sync::CancellationToken;

/// A schedule declared by code. The stored schedule (which an operator may edit) wins over
/// the declared cron once it exists.
#[derive(Debug, Clone)]
pub struct ScheduleDef {
    pub name: String,
    pub cron: String,
    pub job_kind: String,
    pub payload: serde_json::Value,
    pub queue: String,
    pub max_attempts: i64,
}

impl ScheduleDef {
    pub fn new(name: &str, cron: &str, job_kind: &str) -> Self {
        Self {
            name: name.into(),
            cron: cron.into(),
            job_kind: job_kind.into(),
            payload: serde_json::json!({}),
            queue: "default".into(),
            max_attempts: 3,
        }
    }
}

/// Fires due schedules.
pub struct Scheduler {
    db: Db,
    defs: Vec<ScheduleDef>,
    interval: Duration,
}

impl Scheduler {
    pub fn new(db: Db, defs: Vec<ScheduleDef>) -> Self {
        Self {
            db,
            defs,
            interval: Duration::from_millis(500),
        }
    }

    /// How often to look for due schedules (default 500 ms).
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Stores the declared schedules that do not exist yet.
    pub async fn declare(&self) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        for d in &self.defs {
            let cron = CronExpr::parse(&d.cron).map_err(StoreError::corrupt)?;
            let next = cron.next_after(Utc::now()).unwrap_or_else(Utc::now);
            schedules::declare(tx.conn(), &d.name, &d.cron, &d.job_kind, &d.payload, next).await?;
        }
        tx.commit().await
    }

    pub fn start(self, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            if let Err(e) = self.declare().await {
                tracing::error!(error = %e, "could not declare schedules");
            }
            loop {
                match self.tick(Utc::now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(fired = n, "schedules fired"),
                    Err(e) => tracing::warn!(error = %e, "checking schedules failed"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(self.interval) => {}
                    _ = cancel.cancelled() => return,
                }
            }
        })
    }

    /// Fires every schedule due at `now` that no other scheduler fired first. Returns how many
    /// this scheduler fired.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let due = {
            let mut r = self.db.read().await?;
            schedules::due(r.conn(), now).await?
        };
        let mut fired = 0;
        for s in due {
            let next = match CronExpr::parse(&s.cron) {
                Ok(c) => c
                    .next_after(now.max(s.next_run_at))
                    .unwrap_or(now + chrono::Duration::days(365)),
                Err(e) => {
                    tracing::error!(schedule = %s.name, error = %e, "schedule has an invalid cron; skipping");
                    continue;
                }
            };
            let def = self.defs.iter().find(|d| d.name == s.name);
            let mut tx = self.db.begin().await?;
            if !schedules::advance(tx.conn(), &s.name, s.next_run_at, next).await? {
                continue; // another scheduler won this tick
            }
            let mut job = NewJob::new(s.job_kind.clone(), s.payload.clone());
            job.unique_key = Some(format!(
                "schedule:{}:{}",
                s.name,
                s.next_run_at.timestamp_millis()
            ));
            job.schedule_name = Some(s.name.clone());
            if let Some(d) = def {
                job.queue = d.queue.clone();
                job.max_attempts = d.max_attempts;
            }
            let e = jobs::enqueue(&mut tx, &job).await?;
            schedules::set_last_job(tx.conn(), &s.name, e.id()).await?;
            tx.commit().await?;
            tracing::info!(schedule = %s.name, job = %e.id(), tick = %s.next_run_at, "schedule fired");
            fired += 1;
        }
        Ok(fired)
    }
}
