//! Claims jobs, runs them, and writes their outcome back under their lease.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use panel1_core::JobId;
use panel1_store::jobs::{self, ClaimedJob, FailOutcome};
use panel1_store::{Db, schedules};
use rand::Rng;
use tokio::sync::{Mutex, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::{Job, JobContext, JobError, RunState};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A type-erased handler for one job kind.
trait Handler<C>: Send + Sync {
    fn run<'a>(
        &'a self,
        ctx: &'a C,
        payload: &'a serde_json::Value,
        job: &'a JobContext,
    ) -> BoxFuture<'a, Result<(), JobError>>;
    fn backoff(&self, attempt: i64) -> Duration;
}

struct TypedHandler<J>(std::marker::PhantomData<fn() -> J>);

impl<J: Job> Handler<J::Context> for TypedHandler<J> {
    fn run<'a>(
        &'a self,
        ctx: &'a J::Context,
        payload: &'a serde_json::Value,
        job: &'a JobContext,
    ) -> BoxFuture<'a, Result<(), JobError>> {
        Box::pin(async move {
            let j: J = serde_json::from_value(payload.clone()).map_err(|e| {
                JobError::Permanent(format!(
                    "the payload of this {} job cannot be read: {e}",
                    J::KIND
                ))
            })?;
            j.run(ctx, job).await
        })
    }

    fn backoff(&self, attempt: i64) -> Duration {
        J::backoff(attempt)
    }
}

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Names this worker in `locked_by` (host, process, and a counter make it unique).
    pub worker_id: String,
    pub queues: Vec<String>,
    /// Jobs running at once in this worker.
    pub concurrency: usize,
    /// How long a claim holds a job before others may take it over; extended every third of it
    /// while the job runs.
    pub lease: Duration,
    /// How often to look for jobs enqueued by other processes (local enqueues wake the worker).
    pub poll_interval: Duration,
    /// How often to release jobs whose worker died.
    pub reap_interval: Duration,
    /// How long graceful shutdown waits for running jobs before handing them back.
    pub shutdown_grace: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            worker_id: default_worker_id(),
            queues: vec!["default".into()],
            concurrency: 16,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            reap_interval: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// `host:pid:n`, unique per runner in this process.
pub fn default_worker_id() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{host}:{}:{n}", std::process::id())
}

/// Runs registered job kinds from the queue.
pub struct Runner<C> {
    db: Db,
    ctx: C,
    handlers: HashMap<&'static str, Arc<dyn Handler<C>>>,
    config: RunnerConfig,
}

/// A started runner: stop it with [`RunnerHandle::shutdown`].
pub struct RunnerHandle {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl RunnerHandle {
    /// Stops claiming, waits for running jobs (up to the grace period), hands back the rest.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        let _ = self.task.await;
    }

    /// Waits until the runner stops (after its cancellation token is cancelled elsewhere).
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

struct Completion {
    lease_token: String,
    id: JobId,
}

impl<C: Clone + Send + Sync + 'static> Runner<C> {
    pub fn new(db: Db, ctx: C, config: RunnerConfig) -> Self {
        Self {
            db,
            ctx,
            handlers: HashMap::new(),
            config,
        }
    }

    /// Registers a job type. Registering two types with one kind is a programming error.
    pub fn register<J: Job<Context = C>>(mut self) -> Self {
        let prev = self.handlers.insert(
            J::KIND,
            Arc::new(TypedHandler::<J>(std::marker::PhantomData)),
        );
        assert!(prev.is_none(), "job kind {} registered twice", J::KIND);
        self
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        let mut k: Vec<_> = self.handlers.keys().copied().collect();
        k.sort_unstable();
        k
    }

    /// Starts the worker; it stops when `cancel` is cancelled.
    pub fn start(self, cancel: CancellationToken) -> RunnerHandle {
        let c = cancel.clone();
        let task = tokio::spawn(async move { self.run(c).await });
        RunnerHandle { cancel, task }
    }

    async fn run(self, cancel: CancellationToken) {
        let this = Arc::new(self);
        let cfg = &this.config;
        let slots = Arc::new(Semaphore::new(cfg.concurrency));
        let leases: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (done_tx, done_rx) = mpsc::unbounded_channel::<Completion>();
        let flusher = tokio::spawn(flush_completions(this.db.clone(), done_rx));
        let keeper = tokio::spawn(keep_leases(
            this.db.clone(),
            leases.clone(),
            cfg.lease,
            cancel.clone(),
        ));
        let reaper = tokio::spawn(reap(this.db.clone(), cfg.reap_interval, cancel.clone()));
        let mut running: JoinSet<()> = JoinSet::new();
        tracing::info!(worker = %cfg.worker_id, queues = ?cfg.queues, concurrency = cfg.concurrency, "job worker started");

        'claiming: while !cancel.is_cancelled() {
            while running.try_join_next().is_some() {}
            let free = slots.available_permits();
            if free == 0 {
                tokio::select! {
                    _ = running.join_next() => continue,
                    _ = cancel.cancelled() => break,
                }
            }
            let token = panel1_core::ids::new_id_body();
            let claimed = match this.claim(&token, free).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming jobs failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(cfg.poll_interval) => continue,
                        _ = cancel.cancelled() => break,
                    }
                }
            };
            if claimed.is_empty() {
                tokio::select! {
                    _ = this.db.jobs_changed() => {}
                    _ = tokio::time::sleep(cfg.poll_interval) => {}
                    _ = cancel.cancelled() => break 'claiming,
                }
                continue;
            }
            leases.lock().await.insert(token.clone(), claimed.len());
            for job in claimed {
                let permit = slots
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("semaphore is never closed");
                let this = this.clone();
                let leases = leases.clone();
                let done_tx = done_tx.clone();
                running.spawn(async move {
                    let token = job.lease_token.clone();
                    this.run_one(job, &done_tx).await;
                    let mut l = leases.lock().await;
                    if let Some(n) = l.get_mut(&token) {
                        *n -= 1;
                        if *n == 0 {
                            l.remove(&token);
                        }
                    }
                    drop(permit);
                });
            }
        }

        // Graceful shutdown: let running jobs finish, then hand back what is left.
        let deadline = tokio::time::sleep(cfg.shutdown_grace);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                next = running.join_next() => if next.is_none() { break },
                _ = &mut deadline => {
                    tracing::warn!(still_running = running.len(), "shutdown grace period over; handing running jobs back");
                    running.abort_all();
                    while running.join_next().await.is_some() {}
                    let tokens: Vec<String> = leases.lock().await.keys().cloned().collect();
                    for t in tokens {
                        if let Err(e) = release(&this.db, &t).await {
                            tracing::warn!(error = %e, "could not hand back jobs; their lease will expire");
                        }
                    }
                    break;
                }
            }
        }
        drop(done_tx);
        let _ = flusher.await;
        keeper.abort();
        reaper.abort();
        tracing::info!(worker = %cfg.worker_id, "job worker stopped");
    }

    async fn claim(
        &self,
        token: &str,
        limit: usize,
    ) -> Result<Vec<ClaimedJob>, panel1_store::StoreError> {
        let lease_until = Utc::now()
            + chrono::Duration::from_std(self.config.lease)
                .unwrap_or(chrono::Duration::seconds(60));
        let mut tx = self.db.begin().await?;
        jobs::relax_durability(tx.conn()).await?;
        let jobs = jobs::claim(
            tx.conn(),
            &self.config.queues,
            &self.config.worker_id,
            token,
            i64::try_from(limit).unwrap_or(1),
            lease_until,
        )
        .await?;
        tx.commit().await?;
        Ok(jobs)
    }

    async fn run_one(&self, job: ClaimedJob, done_tx: &mpsc::UnboundedSender<Completion>) {
        let started = Instant::now();
        let ctx = JobContext {
            id: job.id.clone(),
            kind: job.kind.clone(),
            tenant_id: job.tenant_id.clone(),
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            schedule_name: job.schedule_name.clone(),
            lease_token: job.lease_token.clone(),
            state: std::sync::Mutex::new(RunState::default()),
        };
        let span =
            tracing::info_span!("job", kind = %job.kind, id = %job.id, attempt = job.attempt);
        let outcome = match self.handlers.get(job.kind.as_str()) {
            Some(h) => {
                let h = h.clone();
                let fut = h.run(&self.ctx, &job.payload, &ctx);
                tracing::Instrument::instrument(fut, span.clone()).await
            }
            None => Err(JobError::Retry(format!(
                "no handler for job kind `{}` in worker {}",
                job.kind, self.config.worker_id
            ))),
        };
        let secs = started.elapsed().as_secs_f64();
        metrics::histogram!("panel1_job_duration_seconds", "kind" => job.kind.clone()).record(secs);
        let handler = self.handlers.get(job.kind.as_str()).cloned();
        match outcome {
            Ok(()) if ctx.completed() => metrics::counter!("panel1_jobs_total", "kind" => job.kind.clone(), "outcome" => "done").increment(1),
            Ok(()) => {
                metrics::counter!("panel1_jobs_total", "kind" => job.kind.clone(), "outcome" => "done").increment(1);
                if job.schedule_name.is_some() || ctx.result().is_some() {
                    if let Err(e) = self.complete_with_result(&job, &ctx).await {
                        tracing::warn!(parent: &span, error = %e, "could not mark the job done; it will run again after its lease");
                    }
                } else {
                    let _ = done_tx.send(Completion { lease_token: job.lease_token.clone(), id: job.id.clone() });
                }
            }
            Err(JobError::LeaseLost) => {
                metrics::counter!("panel1_jobs_total", "kind" => job.kind.clone(), "outcome" => "lease_lost").increment(1);
                tracing::warn!(parent: &span, "another worker took this job over; dropping this run's result");
            }
            Err(JobError::Wait { note, at }) => {
                let mut tx = match self.db.begin().await {
                    Ok(tx) => tx,
                    Err(e) => return tracing::warn!(parent: &span, error = %e, "could not snooze job"),
                };
                let _ = jobs::snooze(tx.conn(), &job.id, &job.lease_token, at, Some(&note)).await;
                let _ = tx.commit().await;
            }
            Err(e) => {
                let (retry_at, permanent) = match &e {
                    JobError::RetryAt { at, .. } => (*at, false),
                    JobError::Permanent(_) => (Utc::now(), true),
                    _ => {
                        let base = handler.map(|h| h.backoff(job.attempt)).unwrap_or(Duration::from_secs(30));
                        let jitter = rand::rng().random_range(0.75..1.25);
                        (Utc::now() + chrono::Duration::from_std(base.mul_f64(jitter)).unwrap_or_default(), false)
                    }
                };
                let message = e.to_string();
                match self.fail(&job, &message, retry_at, permanent).await {
                    Ok(FailOutcome::Dead) => {
                        metrics::counter!("panel1_jobs_total", "kind" => job.kind.clone(), "outcome" => "dead").increment(1);
                        tracing::error!(parent: &span, error = %message, "job failed for good; it is now a dead letter");
                    }
                    Ok(FailOutcome::Retrying) => {
                        metrics::counter!("panel1_jobs_total", "kind" => job.kind.clone(), "outcome" => "retry").increment(1);
                        tracing::warn!(parent: &span, error = %message, retry_at = %retry_at, "job failed; will retry");
                    }
                    Ok(FailOutcome::LeaseLost) => tracing::warn!(parent: &span, "job failed after its lease was lost"),
                    Err(err) => tracing::warn!(parent: &span, error = %err, "could not record the failure; the job will run again after its lease"),
                }
            }
        }
    }

    async fn complete_with_result(
        &self,
        job: &ClaimedJob,
        ctx: &JobContext,
    ) -> Result<(), panel1_store::StoreError> {
        let mut tx = self.db.begin().await?;
        let result = ctx.result();
        if jobs::complete(tx.conn(), &job.id, &job.lease_token, result.as_ref()).await?
            && let Some(name) = &job.schedule_name
        {
            let (items, failures) = ctx.counts();
            schedules::record_run(tx.conn(), name, "done", items, failures, None).await?;
        }
        tx.commit().await
    }

    async fn fail(
        &self,
        job: &ClaimedJob,
        message: &str,
        retry_at: chrono::DateTime<Utc>,
        permanent: bool,
    ) -> Result<FailOutcome, panel1_store::StoreError> {
        let mut tx = self.db.begin().await?;
        let out = jobs::fail(
            tx.conn(),
            &job.id,
            &job.lease_token,
            message,
            retry_at,
            permanent,
        )
        .await?;
        if let Some(name) = &job.schedule_name {
            let status = match out {
                FailOutcome::Dead => "dead",
                _ => "failed",
            };
            schedules::record_run(tx.conn(), name, status, None, None, Some(message)).await?;
        }
        tx.commit().await?;
        Ok(out)
    }
}

/// Marks finished jobs done in batches: one statement for many jobs keeps the single SQLite
/// writer (and PostgreSQL's commit rate) from limiting throughput.
async fn flush_completions(db: Db, mut rx: mpsc::UnboundedReceiver<Completion>) {
    let mut batch: Vec<Completion> = Vec::new();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < 512 {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        let mut by_token: HashMap<String, Vec<JobId>> = HashMap::new();
        for c in batch.drain(..) {
            by_token.entry(c.lease_token).or_default().push(c.id);
        }
        for (token, ids) in by_token {
            for attempt in 0..5 {
                let r = async {
                    let mut tx = db.begin().await?;
                    jobs::relax_durability(tx.conn()).await?;
                    jobs::complete_many(tx.conn(), &token, &ids).await?;
                    tx.commit().await
                }
                .await;
                match r {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, attempt, jobs = ids.len(), "could not mark jobs done; retrying");
                        tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                    }
                }
            }
        }
    }
}

/// Extends the leases of running claims every third of the lease period.
async fn keep_leases(
    db: Db,
    leases: Arc<Mutex<HashMap<String, usize>>>,
    lease: Duration,
    cancel: CancellationToken,
) {
    let every = lease / 3;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = cancel.cancelled() => {}
        }
        let tokens: Vec<String> = leases.lock().await.keys().cloned().collect();
        if tokens.is_empty() && cancel.is_cancelled() {
            return;
        }
        let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
        for t in tokens {
            let r = async {
                let mut tx = db.begin().await?;
                jobs::relax_durability(tx.conn()).await?;
                jobs::extend_lease(tx.conn(), &t, until).await?;
                tx.commit().await
            }
            .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "could not extend a job lease");
            }
        }
    }
}

/// Releases jobs whose worker stopped extending its lease.
async fn reap(db: Db, every: Duration, cancel: CancellationToken) {
    loop {
        let jitter = rand::rng().random_range(0.8..1.2);
        tokio::select! {
            _ = tokio::time::sleep(every.mul_f64(jitter)) => {}
            _ = cancel.cancelled() => return,
        }
        let r = async {
            let mut tx = db.begin().await?;
            let n = jobs::reap_expired(tx.conn(), Utc::now()).await?;
            tx.commit().await?;
            Ok::<_, panel1_store::StoreError>(n)
        }
        .await;
        match r {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(jobs = n, "took over jobs whose worker stopped answering");
                db.notify_jobs();
            }
            Err(e) => tracing::warn!(error = %e, "could not release expired jobs"),
        }
    }
}

/// Hands the jobs of a claim back to the queue at once (shutdown), without counting the run.
async fn release(db: &Db, token: &str) -> Result<(), panel1_store::StoreError> {
    let mut tx = db.begin().await?;
    panel1_store::jobs::release_claim(tx.conn(), token).await?;
    tx.commit().await
}
