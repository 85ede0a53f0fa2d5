//! Platform benchmark: job queue throughput (enqueue, drain) on SQLite and PostgreSQL, and the
//! authenticated list call of the real `panel1 serve` binary (50 clients out of 100,000, 64
//! concurrent connections) with median and p99 latency, plus `serve`'s idle resident memory.
//!
//! Run: `cargo bench -p panel1 --bench platform` (or `bench/platform`). Needs PostgreSQL as the
//! tests do (`PANEL1_TEST_POSTGRES_URL`). `BENCH_JOBS` and `BENCH_CLIENTS` change the sizes;
//! `BENCH_PARTS` (`jobs,api`), `BENCH_BACKENDS` (`sqlite,postgres`) pick what runs, and
//! `BENCH_RUNS` repeats the list call (the tail moves between runs on a shared 2-core machine).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use panel1_core::crypto::{Keyring, MasterKey};
use panel1_core::{Role, Scope};
use panel1_jobs::{EnqueueOptions, Job, JobContext, JobError, Runner, RunnerConfig};
use panel1_store::jobs::{JobFilter, JobScope, JobStatus};
use panel1_store::testing::TestDb;
use panel1_store::{Backend, Db, clients, tenants, users};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

#[derive(Serialize, Deserialize)]
struct Noop {
    n: u64,
}

#[async_trait]
impl Job for Noop {
    const KIND: &'static str = "bench::noop";
    type Context = ();
    async fn run(&self, _: &(), _: &JobContext) -> Result<(), JobError> {
        Ok(())
    }
}

/// Whether the comma-separated list in `k` (all when unset) names `item`.
fn env_selects(k: &str, item: &str) -> bool {
    std::env::var(k).map_or(true, |v| v.split(',').any(|p| p.trim() == item))
}

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

async fn count(db: &Db, s: JobStatus) -> u64 {
    let mut r = db.read().await.unwrap();
    panel1_store::jobs::list(
        r.conn(),
        &JobScope::All,
        &JobFilter {
            status: Some(s),
            kind: None,
        },
        panel1_core::PageRequest::first(1),
    )
    .await
    .unwrap()
    .1
}

struct JobFigures {
    enqueue_batch: f64,
    enqueue_single: f64,
    drain: f64,
}

async fn jobs_bench(backend: Backend, n: usize) -> JobFigures {
    let t = TestDb::new(backend).await;
    let db = t.db.clone();
    // Batch enqueue: one transaction, multi-row inserts.
    let jobs: Vec<_> = (0..n as u64)
        .map(|i| panel1_jobs::new_job(&Noop { n: i }, EnqueueOptions::default()).unwrap())
        .collect();
    let start = Instant::now();
    let mut tx = db.begin().await.unwrap();
    panel1_store::jobs::enqueue_many(&mut tx, &jobs)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let enqueue_batch = n as f64 / start.elapsed().as_secs_f64();

    // Drain: two runners (128 no-op jobs at once each, so claims come in batches of up to 128), completions batched.
    let cancel = CancellationToken::new();
    let start = Instant::now();
    let runners: Vec<_> = (0..2)
        .map(|i| {
            let cfg = RunnerConfig {
                worker_id: format!("bench-{i}"),
                concurrency: 128,
                poll_interval: Duration::from_millis(20),
                ..RunnerConfig::default()
            };
            Runner::new(db.clone(), (), cfg)
                .register::<Noop>()
                .start(cancel.clone())
        })
        .collect();
    while count(&db, JobStatus::Done).await < n as u64 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drain = n as f64 / start.elapsed().as_secs_f64();
    cancel.cancel();
    for r in runners {
        r.join().await;
    }

    // Single enqueues: one transaction per job, 8 callers at once (as API requests would).
    let single = n / 4;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..8 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            for i in (w..single).step_by(8) {
                panel1_jobs::enqueue_now(&db, &Noop { n: i as u64 }, EnqueueOptions::default())
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let enqueue_single = single as f64 / start.elapsed().as_secs_f64();
    JobFigures {
        enqueue_batch,
        enqueue_single,
        drain,
    }
}

struct ApiFigures {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    idle_rss_mb: f64,
    /// `serve`'s CPU time (user + system) per request answered.
    serve_cpu_us: f64,
    /// PostgreSQL's CPU time per request (0 on SQLite, which runs inside `serve`).
    postgres_cpu_us: f64,
    errors: usize,
}

struct Serve(Child);
impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// What `wrk --latency` printed: requests answered, their rate, latency percentiles (ms) and
/// non-2xx responses.
struct WrkOutput {
    requests: f64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

impl WrkOutput {
    fn parse(text: &str) -> Self {
        let after = |prefix: &str| text.lines().find_map(|l| l.trim().strip_prefix(prefix));
        // "1.23ms", "850.00us", "1.02s" or a bare number.
        let figure = |prefix: &str| -> f64 {
            after(prefix)
                .map(|v| {
                    let v = v.trim();
                    let (num, mult) = if let Some(n) = v.strip_suffix("us") {
                        (n, 0.001)
                    } else if let Some(n) = v.strip_suffix("ms") {
                        (n, 1.0)
                    } else if let Some(n) = v.strip_suffix('s') {
                        (n, 1000.0)
                    } else {
                        (v, 1.0)
                    };
                    num.trim().parse::<f64>().unwrap_or(f64::NAN) * mult
                })
                .unwrap_or(f64::NAN)
        };
        WrkOutput {
            requests: text
                .lines()
                .find_map(|l| l.trim().split_once(" requests in "))
                .and_then(|(n, _)| n.trim().parse().ok())
                .unwrap_or(f64::NAN),
            rps: figure("Requests/sec:"),
            p50_ms: figure("50%"),
            p99_ms: figure("99%"),
            errors: after("Non-2xx or 3xx responses:")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0),
        }
    }
}

/// CPU time (user + system) a process has used, in microseconds.
fn cpu_us(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) closed by ')'; utime and stime are
    // the 14th and 15th fields of the line, in clock ticks (100 a second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    f.get(11)
        .zip(f.get(12))
        .map_or(0.0, |(u, s)| (u + s) * 10_000.0)
}

/// CPU time of each `postgres` process on this machine (the server and its backends), by pid.
fn postgres_cpu_us() -> std::collections::HashMap<u32, f64> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Default::default();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|pid| (pid, cpu_us(pid)))
        .collect()
}

async fn api_bench(backend: Backend, clients_n: usize, runs: usize) -> Vec<ApiFigures> {
    let t = TestDb::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::generate().unwrap();
    // Seed a tenant, a staff token and the clients directly through the store.
    let mut tx = t.db.begin().await.unwrap();
    let tenant = tenants::insert(tx.conn(), "Bench", "bench").await.unwrap();
    let user = users::insert(
        tx.conn(),
        &tenant.id,
        &users::NewUser {
            email: "s@bench.test",
            name: "S",
            role: Role::Staff,
            client_id: None,
            password_hash: None,
        },
    )
    .await
    .unwrap();
    let (secret, hash) = panel1_core::crypto::new_api_token().unwrap();
    panel1_store::tokens::insert(tx.conn(), &tenant.id, &user.id, "bench", &hash, "p1_", None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let _ = Keyring::new(key.clone(), []);
    let mut tx = t.db.begin().await.unwrap();
    for i in 0..clients_n {
        let d = clients::ClientDetails {
            name: format!("Client {i}"),
            company: Some(format!("Company {}", i % 977)),
            email: format!("c{i}@example.com"),
            phone: None,
            address1: Some("Main street 1".into()),
            address2: None,
            city: Some("Utrecht".into()),
            state: None,
            postal_code: Some("1234 AB".into()),
            country: Some("NL".into()),
            status: "active".into(),
            notes: None,
        };
        clients::insert(tx.conn(), &tenant.id, &d).await.unwrap();
        if i % 20_000 == 19_999 {
            tx.commit().await.unwrap();
            tx = t.db.begin().await.unwrap();
        }
    }
    tx.commit().await.unwrap();
    let _ = Scope::tenant(tenant.id.clone());
    // The steady state of a server that has had its clients a while: vacuumed and analysed, so
    // autovacuum does not work through the 100,000 fresh rows during the measurement.
    if backend == Backend::Postgres {
        let mut r = t.db.read().await.unwrap();
        if let panel1_store::Conn::Postgres(c) = r.conn() {
            sqlx::query("VACUUM ANALYZE")
                .execute(&mut *c)
                .await
                .unwrap();
        }
    }

    let mut child = Command::new(env!("CARGO_BIN_EXE_panel1"))
        .arg("serve")
        .current_dir(dir.path())
        .env("PANEL1_DATABASE_URL", t.url())
        .env("PANEL1_HTTP_ADDR", "127.0.0.1:0")
        .env("PANEL1_MASTER_KEY", key.to_text().expose())
        .env("PANEL1_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let mut base = String::new();
    for line in out {
        let line = line.unwrap();
        if let Some(a) = line.strip_prefix("Listening on ") {
            base = a.to_owned();
            break;
        }
    }
    let serve = Serve(child);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle_rss_mb = rss_mb(serve.0.id());

    // The load comes from wrk (a separate C process, as a real client would be).
    let path =
        std::env::var("BENCH_PATH").unwrap_or_else(|_| "/api/v1/clients?limit=50&page=3".into());
    let url = format!("{base}{path}");
    let auth = format!("Authorization: Bearer {}", secret.expose());
    let _ = Command::new("wrk")
        .args(["-t1", "-c8", "-d2s", "-H", &auth, &url])
        .output();
    let mut figures = Vec::new();
    for _ in 0..runs {
        let cpu_before = cpu_us(serve.0.id());
        let pg_before = postgres_cpu_us();
        let out = Command::new("wrk")
            .args(["-t2", "-c64", "-d10s", "--latency", "-H", &auth, &url])
            .output()
            .expect("wrk is installed (bench/platform installs it)");
        let cpu = cpu_us(serve.0.id()) - cpu_before;
        // Processes that started during the run count from zero.
        let pg_cpu: f64 = postgres_cpu_us()
            .into_iter()
            .map(|(pid, t)| t - pg_before.get(&pid).copied().unwrap_or(0.0))
            .sum();
        let w = WrkOutput::parse(&String::from_utf8_lossy(&out.stdout));
        figures.push(ApiFigures {
            serve_cpu_us: cpu / w.requests,
            postgres_cpu_us: pg_cpu / w.requests,
            rps: w.rps,
            p50_ms: w.p50_ms,
            p99_ms: w.p99_ms,
            idle_rss_mb,
            errors: w.errors,
        });
    }
    drop(serve);
    figures
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let n = env_usize("BENCH_JOBS", 20_000);
        let clients_n = env_usize("BENCH_CLIENTS", 100_000);
        println!("Panel1 platform benchmark ({} cores)", std::thread::available_parallelism().map_or(0, |n| n.get()));
        let pg = panel1_store::testing::postgres_base_url();
        println!("PostgreSQL: {}", if pg.contains("host=/") { "this machine, Unix socket" } else { "TCP" });
        println!();
        let backends: Vec<Backend> = [Backend::Sqlite, Backend::Postgres]
            .into_iter()
            .filter(|b| env_selects("BENCH_BACKENDS", b.as_str()))
            .collect();
        if env_selects("BENCH_PARTS", "jobs") {
            println!("job queue, {n} no-op jobs (target: drain >= 5,000 jobs/s on PostgreSQL)");
            println!("{:<12} {:>22} {:>26} {:>18}", "backend", "enqueue batch (jobs/s)", "enqueue 1 per tx (jobs/s)", "drain (jobs/s)");
            for &b in &backends {
                let f = jobs_bench(b, n).await;
                println!("{:<12} {:>22.0} {:>26.0} {:>18.0}", b.as_str(), f.enqueue_batch, f.enqueue_single, f.drain);
            }
            println!();
        }
        if env_selects("BENCH_PARTS", "api") {
            let runs = env_usize("BENCH_RUNS", 1).max(1);
            println!("GET /api/v1/clients?limit=50 out of {clients_n}, 64 connections, 10 s (target: p99 < 20 ms; serve idle < 60 MB)");
            println!("{:<12} {:>12} {:>12} {:>12} {:>16} {:>18} {:>19} {:>8}", "backend", "requests/s", "median ms", "p99 ms", "serve idle RSS", "serve CPU/request", "PostgreSQL CPU/req", "errors");
            for &b in &backends {
                for f in api_bench(b, clients_n, runs).await {
                    println!("{:<12} {:>12.0} {:>12.2} {:>12.2} {:>13.1} MB {:>15.0} µs {:>16.0} µs {:>8}", b.as_str(), f.rps, f.p50_ms, f.p99_ms, f.idle_rss_mb, f.serve_cpu_us, f.postgres_cpu_us, f.errors);
                }
            }
        }
    });
}
