//! Test support for the panel: the real router (`panel1_web::serve`, panel merged in) on a
//! free port over a fresh database; users made through the services; an HTTP client that
//! signs in like a browser (cookies, CSRF token, TOTP); and a headless Chromium driven
//! through chromedriver, both started on free ports and killed when the test ends.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of these helpers"
)]

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use panel1_app::{App, Caller, Settings, bootstrap, events};
use panel1_core::crypto::{Keyring, MasterKey};
use panel1_core::{ClientId, Principal, Role, SecretString, TenantId, UserId};
use panel1_jobs::{EnqueueOptions, Job, JobContext, JobError, Runner, RunnerConfig};
use panel1_store::testing::TestDb;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct OtherTenant {
    pub tenant: TenantId,
    pub admin: UserId,
    pub email: String,
    pub password: String,
    pub client: ClientId,
}

pub struct TestPanel {
    pub url: String,
    pub app: App,
    pub tenant: TenantId,
    /// The operator made by bootstrap (staff, no second factor yet).
    pub operator: UserId,
    pub operator_email: String,
    pub operator_password: String,
    pub cancel: CancellationToken,
    /// The sandbox registry's file and the data directory live here.
    pub dir: tempfile::TempDir,
    _db: TestDb,
}

impl TestPanel {
    pub async fn new(db: TestDb) -> TestPanel {
        Self::with_env(db, &[]).await
    }

    pub async fn with_env(db: TestDb, env: &[(&str, &str)]) -> TestPanel {
        Self::with_listener(db, env, None).await
    }

    /// Serves on `listener` when given (a port announced to a peer before start, as Pebble's
    /// HTTP-01 port), else on a free port. The sandbox registry and the data directory are in
    /// a directory of the test's own.
    pub async fn with_listener(
        db: TestDb,
        env: &[(&str, &str)],
        listener: Option<tokio::net::TcpListener>,
    ) -> TestPanel {
        let dir = tempfile::tempdir().unwrap();
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        for (k, v) in [
            ("PANEL1_DATA_DIR", dir.path().display().to_string()),
            (
                "PANEL1_SANDBOX_REGISTRY",
                dir.path().join("registry.sqlite3").display().to_string(),
            ),
            ("PANEL1_REGISTRAR_RETRY_MS", "50".to_owned()),
        ] {
            if !env.iter().any(|(n, _)| n == k) {
                env.push((k.to_owned(), v));
            }
        }
        let settings = Settings::load(None, |k| match k {
            "PANEL1_HTTP_ADDR" => Some("127.0.0.1:0".into()),
            "PANEL1_DATABASE_URL" => Some(db.url().to_owned()),
            _ => env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
        })
        .unwrap();
        let keyring = Keyring::new(MasterKey::generate().unwrap(), []);
        // The internal event handlers of `panel1 serve` (a paid invoice releases its domain
        // work, certificates follow their orders).
        let app = App::new(
            db.db.clone(),
            keyring,
            settings,
            panel1_app::worker::handlers(),
        )
        .unwrap();
        let b = bootstrap::run(&app, "test").await.unwrap();
        seed_prices(&app, &b.tenant.id).await;
        let cancel = CancellationToken::new();
        let listener = match listener {
            Some(l) => l,
            None => tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        };
        let addr: SocketAddr = listener.local_addr().unwrap();
        let router = panel1_web::router(app.clone());
        let stop = cancel.clone();
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        });
        TestPanel {
            url: format!("http://{addr}"),
            app,
            tenant: b.tenant.id.clone(),
            operator: b.user.id.clone(),
            operator_email: b.user.email.clone(),
            operator_password: b.password.unwrap().expose().to_owned(),
            cancel,
            dir,
            _db: db,
        }
    }

    /// The tenant starts registrar work before its invoice is paid (for tests about something
    /// other than billing: their domains move on without anyone paying).
    pub async fn work_on_credit(&self) {
        let mut tx = self.app.db.begin().await.unwrap();
        let mut s = panel1_store::domain_automation::settings(tx.conn(), &self.tenant)
            .await
            .unwrap();
        s.work_on_credit = true;
        panel1_store::domain_automation::save_settings(tx.conn(), &self.tenant, &s)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    /// Adds credit to a client (as staff recording a payment received).
    pub async fn add_credit(&self, client: &ClientId, amount: &str) {
        panel1_app::billing::add_credit(
            &self.app,
            self.operator_caller().staff().unwrap(),
            client,
            &panel1_app::billing::CreditInput {
                amount: amount.into(),
                currency: "USD".into(),
                note: Some("payment received".into()),
            },
        )
        .await
        .unwrap();
    }

    /// Starts Panel1's job workers (every job type) and the event dispatcher, stopped with
    /// the panel.
    pub fn start_workers(&self) {
        let mut cfg = panel1_app::worker::runner_config(&self.app);
        cfg.poll_interval = Duration::from_millis(50);
        events::start_dispatcher(self.app.clone(), self.cancel.clone());
        panel1_app::worker::runner(&self.app, cfg).start(self.cancel.clone());
    }

    /// The operator as a service caller (to set up data).
    pub fn operator_caller(&self) -> Caller {
        Caller::new(
            Principal {
                tenant_id: self.tenant.clone(),
                user_id: self.operator.clone(),
                role: Role::Operator,
                client_id: None,
                token_id: None,
            },
            None,
        )
    }

    pub async fn client(&self, name: &str) -> ClientId {
        let c = self.operator_caller();
        panel1_app::clients::create(
            &self.app,
            c.staff().unwrap(),
            &panel1_app::clients::NewClient {
                name: name.into(),
                company: None,
                email: "owner@example.com".into(),
                phone: None,
                address1: None,
                address2: None,
                city: None,
                state: None,
                postal_code: None,
                country: None,
                status: None,
                notes: None,
            },
        )
        .await
        .unwrap()
        .id
    }

    /// A user with [`PASSWORD`] in the first tenant.
    pub async fn user(&self, email: &str, role: Role, client: Option<&ClientId>) -> UserId {
        let c = self.operator_caller();
        panel1_app::users::create(
            &self.app,
            c.admin().unwrap(),
            &panel1_app::users::NewUser {
                email: email.into(),
                name: email.split('@').next().unwrap().into(),
                role,
                client_id: client.cloned(),
                password: Some(SecretString::new(PASSWORD)),
            },
        )
        .await
        .unwrap()
        .id
    }

    /// A second tenant with an admin and one client; returns (tenant, admin id, admin
    /// e-mail, admin password, client).
    pub async fn other_tenant(&self, slug: &str) -> OtherTenant {
        let c = self.operator_caller();
        let email = format!("admin@{slug}.test");
        let t = panel1_app::tenants::create(
            &self.app,
            c.operator().unwrap(),
            &panel1_app::tenants::NewTenant {
                name: format!("Tenant {slug}"),
                slug: slug.into(),
                admin_email: email.clone(),
                admin_name: None,
            },
        )
        .await
        .unwrap();
        let admin = Caller::new(
            Principal {
                tenant_id: t.tenant.id.clone(),
                user_id: t.admin.id.clone(),
                role: Role::Admin,
                client_id: None,
                token_id: None,
            },
            None,
        );
        let client = panel1_app::clients::create(
            &self.app,
            admin.staff().unwrap(),
            &panel1_app::clients::NewClient {
                name: format!("Client of {slug}"),
                company: None,
                email: "c@example.com".into(),
                phone: None,
                address1: None,
                address2: None,
                city: None,
                state: None,
                postal_code: None,
                country: None,
                status: None,
                notes: None,
            },
        )
        .await
        .unwrap();
        OtherTenant {
            tenant: t.tenant.id,
            admin: t.admin.id,
            email,
            password: t.password.expose().to_owned(),
            client: client.id,
        }
    }

    /// Gives a user a second factor with a known secret (as if enrolled).
    pub async fn enrol_totp(&self, tenant: &TenantId, user: &UserId) -> SecretString {
        let secret = panel1_panel::totp::new_secret().unwrap();
        let sealed = self
            .app
            .keyring
            .seal_str(&panel1_panel::totp::context(user.as_str()), &secret)
            .unwrap();
        let mut tx = self.app.db.begin().await.unwrap();
        panel1_store::sessions::enable_totp(tx.conn(), tenant, user, &sealed, 0)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        secret
    }

    /// Starts a worker for the test job kind; `fail` decides whether runs fail.
    pub fn start_flaky_worker(&self, fail: Arc<AtomicBool>) {
        let cfg = RunnerConfig {
            queues: vec![Flaky::QUEUE.into()],
            poll_interval: Duration::from_millis(50),
            concurrency: 2,
            ..RunnerConfig::default()
        };
        Runner::new(self.app.db.clone(), fail, cfg)
            .register::<Flaky>()
            .start(self.cancel.clone());
    }

    /// Enqueues a flaky job for the first tenant and waits until it is dead.
    pub async fn dead_job(&self) -> panel1_core::JobId {
        let id = panel1_jobs::enqueue_now(
            &self.app.db,
            &Flaky {
                target: "https://billing.example.test/hook".into(),
            },
            EnqueueOptions {
                tenant_id: Some(self.tenant.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id()
        .clone();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let j = {
                let mut r = self.app.db.read().await.unwrap();
                panel1_store::jobs::get(r.conn(), &panel1_store::jobs::JobScope::All, &id)
                    .await
                    .unwrap()
                    .unwrap()
            };
            if j.status == panel1_store::jobs::JobStatus::Dead {
                return id;
            }
            assert!(Instant::now() < deadline, "the flaky job never died: {j:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The tenant's .test price list in USD, as a hosting company would have it before selling
/// domains: a registration is invoiced at 12.99, a renewal 12.99, a transfer 10.99, a restore
/// 59.00. (Without a price, domain orders are refused.)
pub const TEST_PRICES: [(&str, i64); 4] = [
    ("register", 1299),
    ("renew", 1299),
    ("transfer", 1099),
    ("restore", 5900),
];

async fn seed_prices(app: &App, tenant: &TenantId) {
    use panel1_core::money::Currency;
    let mut tx = app.db.begin().await.unwrap();
    for (op, price) in TEST_PRICES {
        panel1_store::billing::upsert_price(
            tx.conn(),
            tenant,
            &panel1_store::billing::TldPrice {
                tld: "test".into(),
                operation: op.into(),
                years: 1,
                currency: Currency::USD,
                price,
                cost: None,
                markup: None,
                updated_at: chrono::Utc::now(),
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

impl Drop for TestPanel {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A job that fails while the flag says so (a provider that is down).
#[derive(Debug, Serialize, Deserialize)]
pub struct Flaky {
    pub target: String,
}

#[async_trait]
impl Job for Flaky {
    const KIND: &'static str = "test::flaky";
    const QUEUE: &'static str = "panel-test";
    const MAX_ATTEMPTS: i64 = 1;
    type Context = Arc<AtomicBool>;

    async fn run(&self, fail: &Arc<AtomicBool>, _job: &JobContext) -> Result<(), JobError> {
        if fail.load(Ordering::SeqCst) {
            Err(JobError::Retry(format!(
                "{} answered HTTP 503 Service Unavailable",
                self.target
            )))
        } else {
            // A slow provider: long enough for a page to show the job under way.
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------
// HTTP, like a browser without JavaScript.

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The first `_csrf` value on the page.
    pub fn csrf(&self) -> String {
        attr_after(&self.body, "name=\"_csrf\" value=\"").unwrap_or_default()
    }
}

fn attr_after(body: &str, marker: &str) -> Option<String> {
    let i = body.find(marker)? + marker.len();
    Some(body[i..].split('"').next()?.to_owned())
}

/// The text of the element with `id` (the first tag with it), without markup.
pub fn text_of(body: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\"");
    let i = body.find(&marker)?;
    let rest = &body[i..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')? + start;
    Some(rest[start..end].trim().to_owned())
}

/// A cookie jar of one, by name, that does not follow redirects.
pub struct Browser {
    pub base: String,
    pub http: reqwest::Client,
    pub cookies: Vec<(String, String)>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Browser {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: vec![],
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn take_cookies(&mut self, h: &HeaderMap) {
        for v in h.get_all(SET_COOKIE) {
            let s = v.to_str().unwrap();
            let kv = s.split(';').next().unwrap();
            let (k, v) = kv.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            if !s.contains("Max-Age=0") {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Resp {
        self.post_with(path, fields, &[]).await
    }

    pub async fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Resp {
        let ct = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map_or("application/x-www-form-urlencoded", |(_, v)| *v);
        let mut rb = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("content-type", ct)
            .body(
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(fields.iter())
                    .finish(),
            );
        for (k, v) in headers
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("content-type"))
        {
            rb = rb.header(*k, *v);
        }
        let r = rb.send().await.unwrap();
        self.finish(r).await
    }

    async fn finish(&mut self, r: reqwest::Response) -> Resp {
        let status = r.status();
        let headers = r.headers().clone();
        self.take_cookies(&headers);
        Resp {
            status,
            headers,
            body: r.text().await.unwrap(),
        }
    }

    /// Posts a form found on the page at `page` (its CSRF token included).
    pub async fn submit(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> Resp {
        let p = self.get(page).await;
        assert_eq!(p.status, 200, "{page}: {}", p.body);
        let token = p.csrf();
        let mut all: Vec<(&str, &str)> = vec![("_csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }

    /// Signs in with a password (and a TOTP code when the account has a second factor);
    /// returns the last answer (a redirect into the panel on success).
    pub async fn sign_in(
        &mut self,
        tenant: &str,
        email: &str,
        password: &str,
        totp: Option<&SecretString>,
    ) -> Resp {
        let r = self
            .submit(
                "/login",
                "/login",
                &[("tenant", tenant), ("email", email), ("password", password)],
            )
            .await;
        if r.status != StatusCode::SEE_OTHER || !r.location().starts_with("/login/totp") {
            return r;
        }
        let secret = totp.expect("this account has a second factor: pass its secret");
        let code = fresh_code(secret);
        self.submit("/login/totp", "/login/totp", &[("code", &code)])
            .await
    }
}

/// A code for the step after the current one: valid now (one step of drift is allowed) and
/// never used before by the tests, which may sign in twice within 30 s.
pub fn fresh_code(secret: &SecretString) -> String {
    panel1_panel::totp::code_at(secret, panel1_panel::totp::now_secs() + 30).unwrap()
}

pub fn code_now(secret: &SecretString) -> String {
    panel1_panel::totp::code_at(secret, panel1_panel::totp::now_secs()).unwrap()
}

// ---------------------------------------------------------------------------------------
// Chromium through chromedriver.

/// A chromedriver process and the Chromium it starts, in a process group of their own that is
/// killed on drop (so a failing test leaves no browser behind).
pub struct Driver {
    child: Child,
    pub url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Driver {
    pub async fn start() -> Driver {
        let port = free_port();
        let child = Command::new("chromedriver")
            .process_group(0)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (Debian package chromium-driver)");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{url}/status")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Driver {
            child,
            url,
            _profile: tempfile::tempdir().unwrap(),
        }
    }

    /// A new headless browser session (a fresh profile, so no cookies are shared).
    pub async fn browser(&self) -> fantoccini::Client {
        let profile = tempfile::Builder::new()
            .prefix("chromium-")
            .tempdir_in(self._profile.path())
            .unwrap();
        let profile = profile.keep();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

/// Where the tests leave screenshots for people to look at: `target/screenshots/`.
pub fn screenshot_dir() -> std::path::PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub async fn screenshot(c: &fantoccini::Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

/// Waits (polling, up to 15 s) until `check` holds.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the browser is at a path starting with `prefix`; returns the path.
pub async fn wait_path(c: &fantoccini::Client, prefix: &str) -> String {
    let mut last = String::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(u) = c.current_url().await {
            last = u.path().to_owned();
            if last.starts_with(prefix)
                && c.execute("return document.readyState", vec![]).await.ok()
                    == Some(serde_json::json!("complete"))
            {
                return last;
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {prefix}, at {last}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the browser has left `path` and the new page has loaded; returns the new path.
pub async fn wait_leave(c: &fantoccini::Client, path: &str) -> String {
    let mut last = String::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(u) = c.current_url().await {
            last = u.path().to_owned();
            if last != path
                && c.execute("return document.readyState", vec![]).await.ok()
                    == Some(serde_json::json!("complete"))
            {
                return last;
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting to leave {path} (at {last})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The text of the first element matching `css`, waiting for it to appear. An element that
/// the page's script replaces between finding and reading it (a progress region) is looked
/// up again.
pub async fn text(c: &fantoccini::Client, css: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let found = c.find(fantoccini::Locator::Css(css)).await;
        let last = match found {
            Ok(e) => match e.text().await {
                Ok(t) => return t,
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        };
        assert!(Instant::now() < deadline, "no element {css}: {last}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn fill(c: &fantoccini::Client, css: &str, value: &str) {
    let e = c
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no field {css}: {e}"));
    e.clear().await.unwrap();
    e.send_keys(value).await.unwrap();
}

pub async fn click(c: &fantoccini::Client, css: &str) {
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("nothing to click at {css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Signs in through the form in Chromium; enrols a second factor when asked (returns its
/// secret), or answers the second-factor question with `secret`.
pub async fn sign_in_browser(
    c: &fantoccini::Client,
    base: &str,
    email: &str,
    password: &str,
    secret: Option<&SecretString>,
) -> Option<SecretString> {
    c.goto(&format!("{base}/login")).await.unwrap();
    fill(c, "#f-email", email).await;
    fill(c, "#f-password", password).await;
    click(c, "form.login-box button[type=submit]").await;
    let path = wait_leave(c, "/login").await;
    if path == "/login/enrol" {
        let shown = text(c, "#totp-secret").await.replace(' ', "");
        let s = SecretString::new(shown);
        fill(c, "#f-code", &code_now(&s)).await;
        click(c, "form.login-box button[type=submit]").await;
        wait_path(c, "/admin").await;
        return Some(s);
    }
    if path == "/login/totp" {
        fill(c, "#f-code", &fresh_code(secret.expect("a second factor"))).await;
        click(c, "form.login-box button[type=submit]").await;
        wait_path(c, "/admin").await;
    }
    None
}
