//! The runner and scheduler against real databases: many workers drain a queue with every job
//! run exactly once, a killed worker's job is taken over after its lease, a schedule fires once
//! per tick with several schedulers, failures retry with backoff and end as dead letters.
//!
//! Worker processes are this test binary started again with `PANEL1_JOBS_TEST_CHILD` set: the
//! `child_worker` test then runs a worker until it is killed.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use panel1_core::PageRequest;
use panel1_jobs::{
    EnqueueOptions, Job, JobContext, JobError, Runner, RunnerConfig, ScheduleDef, Scheduler,
};
use panel1_store::jobs::{JobFilter, JobScope, JobStatus, NewJob};
use panel1_store::testing::TestDb;
use panel1_store::{Db, DbOptions, db_tests, exec, jobs, on, schedules};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
struct Ctx {
    db: Db,
    worker: String,
    flaky_runs: Arc<AtomicI64>,
}

/// Records each run in `probe_runs`, committing the record and the job's completion together.
#[derive(Serialize, Deserialize)]
struct Probe {
    n: i64,
    sleep_ms: u64,
}

#[async_trait]
impl Job for Probe {
    const KIND: &'static str = "test::probe";
    type Context = Ctx;

    async fn run(&self, ctx: &Ctx, job: &JobContext) -> Result<(), JobError> {
        if self.sleep_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.sleep_ms)).await;
        }
        let mut tx = ctx.db.begin().await?;
        exec!(tx.conn(), c => sqlx::query("INSERT INTO probe_runs (job_id, n, worker) VALUES ($1, $2, $3)")
            .bind(job.id.as_str()).bind(self.n).bind(&ctx.worker).execute(c).await)
        .map_err(JobError::retry)?;
        job.complete_in(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Fails its first `failures` runs, then succeeds.
#[derive(Serialize, Deserialize)]
struct Flaky {
    failures: i64,
    permanent: bool,
}

#[async_trait]
impl Job for Flaky {
    const KIND: &'static str = "test::flaky";
    const MAX_ATTEMPTS: i64 = 3;
    type Context = Ctx;

    fn backoff(_attempt: i64) -> Duration {
        Duration::from_millis(20)
    }

    async fn run(&self, ctx: &Ctx, job: &JobContext) -> Result<(), JobError> {
        ctx.flaky_runs.fetch_add(1, Ordering::SeqCst);
        if self.permanent {
            return Err(JobError::permanent("the input can never work"));
        }
        if job.attempt <= self.failures {
            return Err(JobError::retry(format!("flake #{}", job.attempt)));
        }
        job.report(7, 2);
        Ok(())
    }
}

fn runner(db: &Db, worker: &str, concurrency: usize, lease: Duration) -> Runner<Ctx> {
    let ctx = Ctx {
        db: db.clone(),
        worker: worker.into(),
        flaky_runs: Arc::default(),
    };
    let cfg = RunnerConfig {
        worker_id: worker.into(),
        concurrency,
        lease,
        poll_interval: Duration::from_millis(50),
        reap_interval: Duration::from_millis(200),
        shutdown_grace: Duration::from_secs(10),
        ..RunnerConfig::default()
    };
    Runner::new(db.clone(), ctx, cfg)
        .register::<Probe>()
        .register::<Flaky>()
}

async fn create_probe_table(db: &Db) {
    let mut tx = db.begin().await.unwrap();
    exec!(tx.conn(), c => sqlx::query("CREATE TABLE probe_runs (job_id TEXT NOT NULL, n BIGINT NOT NULL, worker TEXT NOT NULL)").execute(c).await).unwrap();
    tx.commit().await.unwrap();
}

async fn probe_stats(db: &Db) -> (i64, i64) {
    let mut r = db.read().await.unwrap();
    on!(r.conn(), c => sqlx::query_as::<_, (i64, i64)>("SELECT COUNT(*), COUNT(DISTINCT job_id) FROM probe_runs").fetch_one(c).await).unwrap()
}

async fn job_count(db: &Db, status: JobStatus) -> u64 {
    let mut r = db.read().await.unwrap();
    let f = JobFilter {
        status: Some(status),
        kind: None,
    };
    jobs::list(r.conn(), &JobScope::All, &f, PageRequest::first(1))
        .await
        .unwrap()
        .1
}

async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !f().await {
        assert!(start.elapsed() < timeout, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A worker process: this test binary, running only `child_worker`.
struct ChildWorker(Child);

impl ChildWorker {
    fn spawn(url: &str, name: &str, workers: usize, lease_ms: u64) -> Self {
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_worker", "--nocapture", "--test-threads=1"])
            .env("PANEL1_JOBS_TEST_CHILD", url)
            .env("PANEL1_JOBS_TEST_NAME", name)
            .env("PANEL1_JOBS_TEST_WORKERS", workers.to_string())
            .env("PANEL1_JOBS_TEST_LEASE_MS", lease_ms.to_string())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn worker process");
        Self(child)
    }

    /// SIGKILL: no graceful shutdown, no chance to hand jobs back.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ChildWorker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The body of a worker process (does nothing unless started by a test as a child).
#[test]
fn child_worker() {
    let Ok(url) = std::env::var("PANEL1_JOBS_TEST_CHILD") else {
        return;
    };
    let name = std::env::var("PANEL1_JOBS_TEST_NAME").unwrap();
    let workers: usize = std::env::var("PANEL1_JOBS_TEST_WORKERS")
        .unwrap()
        .parse()
        .unwrap();
    let lease = Duration::from_millis(
        std::env::var("PANEL1_JOBS_TEST_LEASE_MS")
            .unwrap()
            .parse()
            .unwrap(),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let db = Db::connect(&DbOptions::new(&url)).await.unwrap();
        let cancel = CancellationToken::new();
        let handles: Vec<_> = (0..workers)
            .map(|i| runner(&db, &format!("{name}-{i}"), 16, lease).start(cancel.clone()))
            .collect();
        // Runs until the parent kills this process.
        for h in handles {
            h.join().await;
        }
    });
}

async fn ten_thousand_jobs_run_exactly_once_with_four_workers(t: TestDb) {
    create_probe_table(&t.db).await;
    let jobs: Vec<NewJob> = (0..10_000)
        .map(|n| {
            panel1_jobs::new_job(&Probe { n, sleep_ms: 0 }, EnqueueOptions::default()).unwrap()
        })
        .collect();
    let mut tx = t.db.begin().await.unwrap();
    assert_eq!(
        panel1_store::jobs::enqueue_many(&mut tx, &jobs)
            .await
            .unwrap(),
        10_000
    );
    tx.commit().await.unwrap();

    let cancel = CancellationToken::new();
    let mut children = Vec::new();
    let mut local = Vec::new();
    match t.backend() {
        // Two processes with two workers each.
        panel1_store::Backend::Postgres => {
            children.push(ChildWorker::spawn(t.url(), "proc-a", 2, 30_000));
            children.push(ChildWorker::spawn(t.url(), "proc-b", 2, 30_000));
        }
        // One process, four workers: SQLite's single writer is shared in-process.
        panel1_store::Backend::Sqlite => {
            for i in 0..4 {
                local.push(
                    runner(&t.db, &format!("local-{i}"), 16, Duration::from_secs(30))
                        .start(cancel.clone()),
                );
            }
        }
    }
    wait_until("all jobs are done", Duration::from_secs(240), || async {
        job_count(&t.db, JobStatus::Done).await == 10_000
    })
    .await;
    let (runs, distinct) = probe_stats(&t.db).await;
    assert_eq!(
        (runs, distinct),
        (10_000, 10_000),
        "every job ran exactly once"
    );
    let mut r = t.db.read().await.unwrap();
    let workers: Vec<(String, i64)> = on!(r.conn(), c => sqlx::query_as("SELECT worker, COUNT(*) FROM probe_runs GROUP BY worker ORDER BY worker").fetch_all(c).await).unwrap();
    drop(r);
    assert_eq!(workers.len(), 4, "all four workers took part: {workers:?}");
    cancel.cancel();
    for h in local {
        h.join().await;
    }
    drop(children);
}

async fn a_killed_workers_job_is_finished_by_another_after_its_lease(t: TestDb) {
    create_probe_table(&t.db).await;
    let id = panel1_jobs::enqueue_now(
        &t.db,
        &Probe {
            n: 1,
            sleep_ms: 3_000,
        },
        EnqueueOptions::default(),
    )
    .await
    .unwrap()
    .id()
    .clone();
    let mut child = ChildWorker::spawn(t.url(), "doomed", 1, 1_500);
    wait_until(
        "the child process is running the job",
        Duration::from_secs(30),
        || async {
            let mut r = t.db.read().await.unwrap();
            let j = jobs::get(r.conn(), &JobScope::All, &id)
                .await
                .unwrap()
                .unwrap();
            j.status == JobStatus::Running && j.locked_by.as_deref() == Some("doomed-0")
        },
    )
    .await;
    child.kill();

    let cancel = CancellationToken::new();
    let rescuer = runner(&t.db, "rescuer", 4, Duration::from_secs(30)).start(cancel.clone());
    wait_until("the job is done", Duration::from_secs(30), || async {
        job_count(&t.db, JobStatus::Done).await == 1
    })
    .await;
    let mut r = t.db.read().await.unwrap();
    let j = jobs::get(r.conn(), &JobScope::All, &id)
        .await
        .unwrap()
        .unwrap();
    drop(r);
    assert_eq!(j.attempts, 2, "the killed run counted as an attempt");
    let mut r = t.db.read().await.unwrap();
    let rows: Vec<(String,)> =
        on!(r.conn(), c => sqlx::query_as("SELECT worker FROM probe_runs").fetch_all(c).await)
            .unwrap();
    drop(r);
    assert_eq!(
        rows,
        [("rescuer".to_owned(),)],
        "only the rescuer's run took effect"
    );
    rescuer.shutdown().await;
    cancel.cancel();
}

async fn a_schedule_fires_once_per_tick_with_three_schedulers(t: TestDb) {
    let def = ScheduleDef::new("test.every_second", "* * * * * *", "test::flaky");
    let cancel = CancellationToken::new();
    let scheds: Vec<_> = (0..3)
        .map(|_| {
            Scheduler::new(t.db.clone(), vec![def.clone()])
                .with_interval(Duration::from_millis(50))
                .start(cancel.clone())
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(4_200)).await;
    cancel.cancel();
    for s in scheds {
        s.await.unwrap();
    }
    let mut r = t.db.read().await.unwrap();
    let s = schedules::get(r.conn(), "test.every_second")
        .await
        .unwrap()
        .unwrap();
    let (fired, _) = jobs::list(
        r.conn(),
        &JobScope::All,
        &JobFilter {
            status: None,
            kind: Some("test::flaky".into()),
        },
        PageRequest::first(100),
    )
    .await
    .unwrap();
    drop(r);
    assert!(
        (3..=5).contains(&s.runs),
        "about one run per second over ~4 s, got {}",
        s.runs
    );
    assert_eq!(fired.len() as i64, s.runs, "one job per tick");
    let mut keys: Vec<_> = fired
        .iter()
        .map(|j| j.unique_key.clone().unwrap())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), fired.len(), "no tick fired twice");
    assert!(
        fired
            .iter()
            .all(|j| j.schedule_name.as_deref() == Some("test.every_second"))
    );
}

async fn failures_retry_with_backoff_then_dead_letter(t: TestDb) {
    let cancel = CancellationToken::new();
    let r = runner(&t.db, "w", 4, Duration::from_secs(30));
    let recovers = panel1_jobs::enqueue_now(
        &t.db,
        &Flaky {
            failures: 2,
            permanent: false,
        },
        EnqueueOptions::default(),
    )
    .await
    .unwrap();
    let dies = panel1_jobs::enqueue_now(
        &t.db,
        &Flaky {
            failures: 5,
            permanent: false,
        },
        EnqueueOptions::default(),
    )
    .await
    .unwrap();
    let hopeless = panel1_jobs::enqueue_now(
        &t.db,
        &Flaky {
            failures: 0,
            permanent: true,
        },
        EnqueueOptions::default(),
    )
    .await
    .unwrap();
    let h = r.start(cancel.clone());
    wait_until("all three settle", Duration::from_secs(30), || async {
        job_count(&t.db, JobStatus::Done).await == 1 && job_count(&t.db, JobStatus::Dead).await == 2
    })
    .await;
    h.shutdown().await;
    let mut rd = t.db.read().await.unwrap();
    let ok = jobs::get(rd.conn(), &JobScope::All, recovers.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((ok.status, ok.attempts), (JobStatus::Done, 3));
    assert_eq!(
        ok.result,
        Some(serde_json::json!({"items": 7, "failures": 2}))
    );
    let dead = jobs::get(rd.conn(), &JobScope::All, dies.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (dead.status, dead.attempts, dead.last_error.as_deref()),
        (JobStatus::Dead, 3, Some("flake #3"))
    );
    let perm = jobs::get(rd.conn(), &JobScope::All, hopeless.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (perm.status, perm.attempts),
        (JobStatus::Dead, 1),
        "a permanent failure is not retried"
    );
    // A dead letter can be retried by hand and then runs again.
    drop(rd);
    let mut tx = t.db.begin().await.unwrap();
    assert!(
        jobs::retry(tx.conn(), &JobScope::All, dies.id())
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let cancel2 = CancellationToken::new();
    let h = runner(&t.db, "w2", 4, Duration::from_secs(30)).start(cancel2.clone());
    wait_until(
        "the retried job runs again",
        Duration::from_secs(30),
        || async {
            let mut r = t.db.read().await.unwrap();
            jobs::get(r.conn(), &JobScope::All, dies.id())
                .await
                .unwrap()
                .unwrap()
                .attempts
                == 3
                && job_count(&t.db, JobStatus::Ready).await == 0
                && job_count(&t.db, JobStatus::Running).await == 0
        },
    )
    .await;
    h.shutdown().await;
    cancel.cancel();
}

async fn shutdown_waits_for_running_jobs(t: TestDb) {
    create_probe_table(&t.db).await;
    panel1_jobs::enqueue_now(
        &t.db,
        &Probe {
            n: 1,
            sleep_ms: 500,
        },
        EnqueueOptions::default(),
    )
    .await
    .unwrap();
    let h = runner(&t.db, "w", 4, Duration::from_secs(30)).start(CancellationToken::new());
    wait_until("the job runs", Duration::from_secs(10), || async {
        job_count(&t.db, JobStatus::Running).await == 1
    })
    .await;
    h.shutdown().await;
    assert_eq!(
        job_count(&t.db, JobStatus::Done).await,
        1,
        "the running job finished before the worker stopped"
    );
    assert_eq!(probe_stats(&t.db).await, (1, 1));
}

async fn the_same_logical_job_is_enqueued_once(t: TestDb) {
    #[derive(Serialize, Deserialize)]
    struct Renew {
        domain: String,
        term: u32,
    }
    #[async_trait]
    impl Job for Renew {
        const KIND: &'static str = "test::renew";
        type Context = Ctx;
        fn unique_key(&self) -> Option<String> {
            Some(format!("{}:{}", self.domain, self.term))
        }
        async fn run(&self, _: &Ctx, _: &JobContext) -> Result<(), JobError> {
            Ok(())
        }
    }
    let a = panel1_jobs::enqueue_now(
        &t.db,
        &Renew {
            domain: "x.test".into(),
            term: 2027,
        },
        EnqueueOptions::default(),
    )
    .await
    .unwrap();
    let b = panel1_jobs::enqueue_now(
        &t.db,
        &Renew {
            domain: "x.test".into(),
            term: 2027,
        },
        EnqueueOptions::default(),
    )
    .await
    .unwrap();
    let c = panel1_jobs::enqueue_now(
        &t.db,
        &Renew {
            domain: "x.test".into(),
            term: 2028,
        },
        EnqueueOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(a.id(), b.id());
    assert!(matches!(b, panel1_store::jobs::Enqueued::Existing(_)));
    assert_ne!(a.id(), c.id());
}

db_tests!(
    ten_thousand_jobs_run_exactly_once_with_four_workers,
    a_killed_workers_job_is_finished_by_another_after_its_lease,
    a_schedule_fires_once_per_tick_with_three_schedulers,
    failures_retry_with_backoff_then_dead_letter,
    shutdown_waits_for_running_jobs,
    the_same_logical_job_is_enqueued_once,
);
