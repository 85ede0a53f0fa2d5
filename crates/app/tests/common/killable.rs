//! Worker processes the exactly-once tests can SIGKILL: the test binary started again with
//! `PANEL1_KILLABLE_TEST_CHILD` set runs a Panel1 worker (its `child_worker` test calls
//! [`child_worker_main`]) until the test kills it. Workers share the database (by URL) and the
//! sandbox registry (by file path) with the test. `PANEL1_KILLABLE_TEST_LOG=<file>` keeps
//! their logs.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use panel1_app::{App, Settings, worker};
use panel1_core::SecretString;
use panel1_core::crypto::{Keyring, MasterKey};
use panel1_jobs::RunnerConfig;
use panel1_store::{Db, DbOptions};
use tokio_util::sync::CancellationToken;

pub fn settings(url: &str, sandbox: &str, data: &str) -> Settings {
    let (url, sandbox, data) = (url.to_owned(), sandbox.to_owned(), data.to_owned());
    Settings::load(None, move |k| match k {
        "PANEL1_DATABASE_URL" => Some(url.clone()),
        "PANEL1_SANDBOX_REGISTRY" => Some(sandbox.clone()),
        "PANEL1_DATA_DIR" => Some(data.clone()),
        "PANEL1_REGISTRAR_TIMEOUT_SECS" => Some("2".into()),
        "PANEL1_REGISTRAR_RETRY_MS" => Some("25".into()),
        "PANEL1_WORKER_LEASE_SECS" => Some("2".into()),
        _ => None,
    })
    .unwrap()
}

/// A worker process.
pub struct ChildWorker(Child);

impl ChildWorker {
    pub fn spawn(url: &str, sandbox: &str, data: &str, key: &SecretString, name: &str) -> Self {
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_worker", "--nocapture", "--test-threads=1"])
            .env("PANEL1_KILLABLE_TEST_CHILD", url)
            .env("PANEL1_KILLABLE_TEST_SANDBOX", sandbox)
            .env("PANEL1_KILLABLE_TEST_DATA", data)
            .env("PANEL1_KILLABLE_TEST_KEY", key.expose())
            .env("PANEL1_KILLABLE_TEST_NAME", name)
            .stdout(Stdio::null())
            .stderr(match std::env::var("PANEL1_KILLABLE_TEST_LOG") {
                Ok(path) => std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
                Err(_) => Stdio::null(),
            })
            .spawn()
            .expect("spawn a worker process");
        Self(child)
    }

    /// SIGKILL: no graceful shutdown, no chance to hand jobs back or record an answer.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ChildWorker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The body of a worker process; does nothing unless the test started this binary as one.
/// `setup` starts what else the process runs beside the job runner (a dispatcher, a
/// scheduler), stopped by the token when the process ends.
pub fn child_worker_main(setup: impl FnOnce(&App, &CancellationToken) + Send + 'static) {
    let Ok(url) = std::env::var("PANEL1_KILLABLE_TEST_CHILD") else {
        return;
    };
    let sandbox = std::env::var("PANEL1_KILLABLE_TEST_SANDBOX").unwrap();
    let data = std::env::var("PANEL1_KILLABLE_TEST_DATA").unwrap();
    let key = MasterKey::parse(&std::env::var("PANEL1_KILLABLE_TEST_KEY").unwrap()).unwrap();
    let name = std::env::var("PANEL1_KILLABLE_TEST_NAME").unwrap();
    if std::env::var("PANEL1_KILLABLE_TEST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info,sqlx=warn"))
            .with_writer(std::io::stderr)
            .try_init();
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let db = Db::connect(&DbOptions::new(&url)).await.unwrap();
        let s = settings(&url, &sandbox, &data);
        let app = App::new(db, Keyring::new(key, []), s, worker::handlers()).unwrap();
        let cfg = RunnerConfig {
            worker_id: name,
            concurrency: 16,
            lease: Duration::from_secs(2),
            poll_interval: Duration::from_millis(50),
            reap_interval: Duration::from_millis(300),
            shutdown_grace: Duration::from_secs(1),
            ..RunnerConfig::default()
        };
        let cancel = CancellationToken::new();
        setup(&app, &cancel);
        // Runs until the parent kills this process.
        worker::runner(&app, cfg).start(cancel).join().await;
    });
}

/// A cheap, seeded generator for the kill schedule.
pub struct Dice(pub u64);

impl Dice {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}
