//! A Panel1 (real router, real job workers, SQLite or PostgreSQL) with a real Pebble whose
//! HTTP-01 port is Panel1's HTTP port, and a test DNS server both resolve through — or, with
//! [`Options::panel1_dns`], Panel1's own authoritative DNS server in its place.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use panel1_app::certificates::dns::{ChallengeDns, ChallengeDnsError};
use panel1_app::{App, Settings, bootstrap, events, worker};
use panel1_ca::testing::{Pebble, PebbleOptions, TestDns, free_udp_tcp_port};
use panel1_core::crypto::{Keyring, MasterKey};
use panel1_store::testing::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// A directory removed when dropped.
pub struct TmpDir(pub PathBuf);

impl TmpDir {
    pub fn new() -> Self {
        let p = std::env::temp_dir().join(format!("p1-ssl-{}", unique("d")));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh label, so names never collide between tests (and Pebble reuses no authorization).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &panel1_core::ids::new_id_body()[20..])
}

pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

#[derive(Default)]
pub struct Options {
    /// Pebble in External Account Binding mode with these (key id, HMAC key).
    pub eab_keys: Vec<(String, String)>,
    /// Extra `PANEL1_…` settings.
    pub env: Vec<(String, String)>,
    /// Start no job workers (the test runs its own).
    pub no_workers: bool,
    /// Start Panel1's own DNS server (`app::dns::view`, as `panel1 serve` does) on a loopback
    /// port, and point Pebble's resolver and Panel1's pre-flight checks (`ssl_resolver`,
    /// `ssl_nameserver_port`) at it instead of the test DNS server. Only the zones hosted in
    /// Panel1 resolve then.
    pub panel1_dns: bool,
}

pub struct Env {
    pub dns: Arc<TestDns>,
    /// Panel1's own DNS server (UDP and TCP), with [`Options::panel1_dns`].
    pub panel1_dns: Option<SocketAddr>,
    pub pebble: Pebble,
    pub url: String,
    pub app: App,
    pub db: TestDb,
    pub http: reqwest::Client,
    /// The operator of the first tenant.
    pub token: String,
    pub cancel: CancellationToken,
    pub dir: TmpDir,
    /// Every response body seen, to check that no private key leaks.
    pub seen: Mutex<Vec<(String, String)>>,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Env {
    pub async fn start(db: TestDb) -> Env {
        Self::with(db, Options::default()).await
    }

    pub async fn with(db: TestDb, opts: Options) -> Env {
        let dns = Arc::new(TestDns::start(Some(Ipv4Addr::LOCALHOST)).await.unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Panel1's server starts after the app (it reads the zones); its port is chosen now,
        // because Pebble and the settings must name it first.
        let panel1_dns = opts
            .panel1_dns
            .then(|| SocketAddr::from((Ipv4Addr::LOCALHOST, free_udp_tcp_port())));
        let resolver = panel1_dns.unwrap_or(dns.addr());
        let mut po = PebbleOptions::new(resolver);
        po.http_port = Some(port);
        po.eab_keys = opts.eab_keys.clone();
        let pebble = Pebble::start(po).await.unwrap();
        let dir = TmpDir::new();
        let roots = dir.0.join("acme-roots.pem");
        std::fs::write(&roots, pebble.listener_root_pem()).unwrap();
        // The root that signs what Pebble issues: the TLS probe of installations trusts it.
        let issuing = dir.0.join("issuing-root.pem");
        std::fs::write(&issuing, pebble.issuing_root_pem().await.unwrap()).unwrap();
        let mut env: Vec<(String, String)> = vec![
            ("PANEL1_DATABASE_URL".into(), db.url().to_owned()),
            ("PANEL1_HTTP_ADDR".into(), format!("127.0.0.1:{port}")),
            (
                "PANEL1_ACME_DIRECTORY_URL".into(),
                pebble.directory_url.clone(),
            ),
            (
                "PANEL1_ACME_ROOT_CERTIFICATES_FILE".into(),
                roots.display().to_string(),
            ),
            (
                "PANEL1_SSL_PROBE_ROOTS_FILE".into(),
                issuing.display().to_string(),
            ),
            ("PANEL1_SSL_RESOLVER".into(), resolver.to_string()),
            (
                "PANEL1_SSL_NAMESERVER_PORT".into(),
                resolver.port().to_string(),
            ),
            ("PANEL1_SSL_RETRY_MS".into(), "200".into()),
            ("PANEL1_SSL_ISSUE_ATTEMPTS".into(), "3".into()),
            ("PANEL1_SSL_DNS_PROPAGATION_SECS".into(), "10".into()),
            ("PANEL1_SSL_MANUAL_DNS_POLL_SECS".into(), "1".into()),
            ("PANEL1_SANDBOX_DEMO".into(), "false".into()),
        ];
        for (k, v) in opts.env {
            env.retain(|(n, _)| n != &k);
            env.push((k, v));
        }
        let settings = Settings::load(None, |k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
        .unwrap();
        let keyring = Keyring::new(MasterKey::generate().unwrap(), []);
        let handlers = events::Handlers::new().with(panel1_app::certificates::handler());
        let app = App::new(db.db.clone(), keyring, settings, handlers).unwrap();
        let b = bootstrap::run(&app, "test").await.unwrap();
        let cancel = CancellationToken::new();
        if let Some(addr) = panel1_dns {
            let h = panel1_app::dns::view::start_server_on(&app, addr, cancel.clone())
                .await
                .unwrap();
            assert_eq!(h.udp_addr, addr);
            assert_eq!(h.tcp_addr, addr);
        }
        let router = panel1_web::router(app.clone());
        let c = cancel.clone();
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { c.cancelled().await })
            .await;
        });
        let env = Env {
            dns,
            panel1_dns,
            pebble,
            url: format!("http://127.0.0.1:{port}"),
            app,
            db,
            http: reqwest::Client::new(),
            token: b.token.expose().to_owned(),
            cancel,
            dir,
            seen: Mutex::new(Vec::new()),
        };
        if !opts.no_workers {
            env.start_workers(env.cancel.clone());
        }
        env
    }

    /// Starts job workers and the event dispatcher, stopped by `cancel`.
    pub fn start_workers(&self, cancel: CancellationToken) -> panel1_jobs::RunnerHandle {
        let mut cfg = worker::runner_config(&self.app);
        cfg.poll_interval = Duration::from_millis(50);
        events::start_dispatcher(self.app.clone(), cancel.clone());
        worker::runner(&self.app, cfg).start(cancel)
    }

    pub async fn send(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Resp {
        let mut rb = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        self.seen
            .lock()
            .unwrap()
            .push((format!("{method} {path}"), text.clone()));
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        Resp { status, body, text }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, &self.token, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, &self.token, Some(body)).await
    }

    /// Creates a client and returns its id.
    pub async fn client(&self, name: &str) -> String {
        let r = self
            .post(
                "/api/v1/clients",
                json!({"name": name, "email": format!("{}@example.com", name.to_lowercase())}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// Orders a certificate; returns its id.
    pub async fn issue(&self, body: Value) -> String {
        let r = self.post("/api/v1/certificates", body).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        r.body["certificate"]["id"].as_str().unwrap().to_owned()
    }

    /// Polls a certificate until `done` holds (or fails the test after `timeout`).
    pub async fn wait(&self, id: &str, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let start = std::time::Instant::now();
        loop {
            let r = self.get(&format!("/api/v1/certificates/{id}")).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            if done(&r.body) {
                return r.body;
            }
            assert!(
                start.elapsed() < timeout,
                "certificate {id} did not get there in {timeout:?}: {}\nPebble: {}",
                serde_json::to_string_pretty(&r.body).unwrap(),
                self.pebble
                    .log()
                    .lines()
                    .rev()
                    .take(15)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for a status among `statuses`.
    pub async fn wait_status(&self, id: &str, statuses: &[&str]) -> Value {
        self.wait(id, Duration::from_secs(60), |b| {
            statuses.contains(&b["status"].as_str().unwrap_or_default())
        })
        .await
    }

    /// The event types recorded for a certificate, in order.
    pub async fn events(&self, certificate: &str) -> Vec<String> {
        let mut r = self.app.db.read().await.unwrap();
        let tenant = self.tenant().await;
        panel1_store::events::for_object(r.conn(), &tenant, "certificate", certificate, 200)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    pub async fn tenant(&self) -> panel1_core::TenantId {
        let r = self.get("/api/v1/me").await;
        let id = r.body["tenant_id"]
            .as_str()
            .or_else(|| r.body["tenant"]["id"].as_str())
            .unwrap_or_else(|| panic!("no tenant in /me: {}", r.body));
        id.parse().unwrap()
    }

    /// Asserts that no response so far carried a private key, except those of `allowed`
    /// requests (the explicit key downloads).
    pub fn assert_no_key_in_responses(&self, allowed: &[&str]) {
        for (req, body) in self.seen.lock().unwrap().iter() {
            if allowed.iter().any(|a| req.contains(a)) {
                continue;
            }
            assert!(
                !body.contains("PRIVATE KEY"),
                "{req} answered a private key: {body}"
            );
        }
    }

    /// Asserts that the database holds certificates but no private key in clear text: the
    /// SQLite file (and its WAL), or a `pg_dump` of the test schema.
    pub async fn assert_no_key_in_database(&self) {
        let dump: Vec<u8> = match self.db.backend() {
            panel1_store::Backend::Sqlite => {
                let path = self.db.url().trim_start_matches("sqlite://").to_owned();
                // Make the WAL part of the main file too, then read both.
                let tx = self.app.db.begin().await.unwrap();
                tx.commit().await.unwrap();
                let mut bytes = std::fs::read(&path).unwrap();
                if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
                    bytes.extend(wal);
                }
                bytes
            }
            panel1_store::Backend::Postgres => {
                let url = self.db.url();
                let schema = url
                    .split("search_path]=")
                    .nth(1)
                    .unwrap()
                    .split('&')
                    .next()
                    .unwrap()
                    .to_owned();
                let base = panel1_store::testing::postgres_base_url();
                let out = std::process::Command::new("pg_dump")
                    .args(["--schema", &schema, "--data-only", &base])
                    .output()
                    .expect("pg_dump (package postgresql-client)");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                out.stdout
            }
        };
        let text = String::from_utf8_lossy(&dump);
        assert!(
            text.contains("BEGIN CERTIFICATE"),
            "the dump holds no certificate: the scan would prove nothing"
        );
        assert!(
            !text.contains("PRIVATE KEY"),
            "a private key is stored in clear text"
        );
    }
}

/// Panel1's own DNS for these tests: records written "through the zone service" land on the
/// test DNS server that Pebble and the pre-flight resolve through.
pub struct TestZone(pub Arc<TestDns>);

#[async_trait]
impl ChallengeDns for TestZone {
    fn mode(&self) -> &'static str {
        "hosted"
    }

    async fn publish(&self, record: &str, value: &str) -> Result<(), ChallengeDnsError> {
        self.0.add_txt(record, value);
        Ok(())
    }

    async fn remove(&self, record: &str, value: &str) -> Result<(), ChallengeDnsError> {
        self.0.remove_txt(record, value);
        Ok(())
    }
}
