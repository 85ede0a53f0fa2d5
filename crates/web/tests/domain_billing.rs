//! Domain billing and automation through the HTTP API, end to end on the sandbox registry,
//! on SQLite and PostgreSQL, with e-mails delivered to a real SMTP sink (aiosmtpd):
//!
//! - paid registration: invoice → paid from credit → active; without credit the registrar is
//!   not called until the invoice is paid, and paying twice charges once;
//! - automatic renewal: due (Panel1's clock and the registry's moved together) → invoice →
//!   paid from credit → renewed, expiry exactly one term later;
//! - no credit: reminders about 30 and 7 days before expiry and after it, the renewal alert
//!   to the tenant, expiry, auto-renew grace, redemption, and a restore at the restore price;
//! - the registrar sync: a changed expiry, a removed lock, changed nameservers and a domain
//!   transferred away, planted in the registry, each reported as drift through the API;
//! - import: a registrar account's unknown domains taken over with their real expiry and
//!   statuses, clients matched or created, nothing invoiced or charged.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Months, Utc};
use panel1_app::testing::SmtpSink;
use panel1_app::{App, Settings, bootstrap, events, worker};
use panel1_core::SecretString;
use panel1_core::contact::{Contact, ContactData, DomainContacts};
use panel1_core::crypto::{Keyring, MasterKey};
use panel1_core::domain_name::DomainName;
use panel1_registrar::sandbox::{
    Faults, PlantedDomain, SandboxConfig, SandboxRegistrar, SandboxRegistry,
};
use panel1_registrar::{IdempotencyKey, Registrar};
use panel1_store::testing::TestDb;
use panel1_store::{db_tests, on};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);

/// The real router on a free port over a fresh database, a sandbox registry file of its own,
/// an SMTP sink, workers and the event dispatcher running; prices for .test set through the
/// API; the tenant pays first (no work on credit).
struct Harness {
    url: String,
    app: App,
    http: reqwest::Client,
    token: String,
    tenant: String,
    registry: SandboxRegistry,
    sink: SmtpSink,
    cancel: CancellationToken,
    _db: TestDb,
    _dir: tempfile::TempDir,
}

struct Resp {
    status: StatusCode,
    body: Value,
}

impl Harness {
    async fn new(db: TestDb) -> Harness {
        let sink = SmtpSink::start();
        let dir = tempfile::tempdir().unwrap();
        let sandbox = dir.path().join("registry.sqlite3").display().to_string();
        let data = dir.path().display().to_string();
        let smtp = sink.url();
        let settings = Settings::load(None, |k| match k {
            "PANEL1_HTTP_ADDR" => Some("127.0.0.1:0".into()),
            "PANEL1_DATABASE_URL" => Some(db.url().to_owned()),
            "PANEL1_DATA_DIR" => Some(data.clone()),
            "PANEL1_SANDBOX_REGISTRY" => Some(sandbox.clone()),
            "PANEL1_REGISTRAR_RETRY_MS" => Some("30".into()),
            "PANEL1_REGISTRAR_TIMEOUT_SECS" => Some("5".into()),
            "PANEL1_SMTP_URL" => Some(smtp.clone()),
            "PANEL1_SMTP_FROM" => Some("Domains <domains@host.test>".into()),
            _ => None,
        })
        .unwrap();
        let keyring = Keyring::new(MasterKey::generate().unwrap(), []);
        let app = App::new(db.db.clone(), keyring, settings, worker::handlers()).unwrap();
        let b = bootstrap::run(&app, "test").await.unwrap();
        let cancel = CancellationToken::new();
        let (addr, _): (SocketAddr, _) =
            panel1_web::serve(app.clone(), "127.0.0.1:0".parse().unwrap(), cancel.clone())
                .await
                .unwrap();
        let mut cfg = worker::runner_config(&app);
        cfg.poll_interval = Duration::from_millis(30);
        worker::runner(&app, cfg).start(cancel.clone());
        events::start_dispatcher(app.clone(), cancel.clone());
        let registry = SandboxRegistry::open(&SandboxConfig::new(&sandbox))
            .await
            .unwrap();
        let mut h = Harness {
            url: format!("http://{addr}"),
            app,
            http: reqwest::Client::new(),
            token: b.token.expose().to_owned(),
            tenant: String::new(),
            registry,
            sink,
            cancel,
            _db: db,
            _dir: dir,
        };
        h.tenant = h.get("/me").await.body["tenant_id"]
            .as_str()
            .unwrap()
            .to_owned();
        // The tenant's prices for .test (the sandbox charges 1.00 to register and renew and
        // 5.00 to restore).
        for (op, price) in [
            ("register", "3.00"),
            ("renew", "4.00"),
            ("transfer", "3.00"),
            ("restore", "30.00"),
        ] {
            let r = h
                .put(
                    "/tld-prices",
                    json!({"tld": "test", "operation": op, "currency": "USD", "price": price}),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        }
        h
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let mut rb = self
            .http
            .request(method, format!("{}/api/v1{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        Resp {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        }
    }

    async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(Method::POST, path, Some(body)).await
    }

    async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PUT, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(Method::PATCH, path, Some(body)).await
    }

    /// A client (e-mail `<name>@example.com`) and a valid contact of it.
    async fn client(&self, name: &str) -> (String, String) {
        let email = format!("{}@example.com", name.to_lowercase());
        let r = self
            .post("/clients", json!({"name": name, "email": email}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let client = r.body["id"].as_str().unwrap().to_owned();
        let r = self
            .post(
                "/contacts",
                json!({
                    "client_id": client, "first_name": name, "last_name": "Example", "email": email,
                    "phone": "+44 20 7946 0000", "address1": "1 High Street", "city": "London",
                    "postal_code": "SW1A 1AA", "country": "GB"
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        (client, r.body["id"].as_str().unwrap().to_owned())
    }

    async fn add_credit(&self, client: &str, amount: &str) {
        let r = self
            .post(
                &format!("/clients/{client}/credit"),
                json!({"amount": amount, "currency": "USD", "note": "bank transfer"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }

    /// The client's balance in USD, in cents.
    async fn balance(&self, client: &str) -> i64 {
        let r = self.get(&format!("/clients/{client}/credit")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body["balances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["currency"] == "USD")
            .map_or(0, |b| b["amount"].as_i64().unwrap())
    }

    /// Kinds of the client's credit ledger entries, newest first.
    async fn ledger_kinds(&self, client: &str) -> Vec<String> {
        let r = self
            .get(&format!("/clients/{client}/credit?limit=100"))
            .await;
        r.body["ledger"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Orders the registration of `name` for the client; answers (domain id, operation).
    async fn order(&self, name: &str, client: &str, contact: &str) -> (String, Value) {
        let r = self
            .post(
                "/domains",
                json!({"name": name, "client_id": client, "contacts": {"registrant": contact},
                       "nameservers": ["ns1.example.net", "ns2.example.net"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        (
            r.body["domain"]["id"].as_str().unwrap().to_owned(),
            r.body["operation"].clone(),
        )
    }

    async fn operations(&self, domain: &str) -> Vec<Value> {
        let r = self
            .get(&format!("/domains/{domain}/operations?limit=100"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body["items"].as_array().unwrap().clone()
    }

    /// Waits until `pred` holds for one of the domain's operations, and returns it.
    async fn wait_op_where(
        &self,
        domain: &str,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let start = Instant::now();
        loop {
            let ops = self.operations(domain).await;
            if let Some(o) = ops.iter().find(|o| pred(o)) {
                return o.clone();
            }
            assert!(start.elapsed() < WAIT, "{what}: {ops:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until operation `op` of the domain succeeded.
    async fn wait_succeeded(&self, domain: &str, op: &str) -> Value {
        let o = self
            .wait_op_where(domain, &format!("operation {op} ends"), |o| {
                o["id"] == op && (o["status"] == "succeeded" || o["status"] == "failed")
            })
            .await;
        assert_eq!(o["status"], "succeeded", "{o:#}");
        o
    }

    async fn domain(&self, id: &str) -> Value {
        let r = self.get(&format!("/domains/{id}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body
    }

    async fn wait_domain(&self, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let d = self.domain(id).await;
            if pred(&d) {
                return d;
            }
            assert!(start.elapsed() < WAIT, "{what}: {d:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn invoice(&self, id: &str) -> Value {
        let r = self.get(&format!("/invoices/{id}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body
    }

    /// The client's invoices, newest first.
    async fn invoices(&self, client: &str) -> Vec<Value> {
        let r = self
            .get(&format!("/invoices?client_id={client}&limit=100"))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body["items"].as_array().unwrap().clone()
    }

    /// Moves Panel1's clock and the registry's clock forward together.
    async fn advance(&self, by: chrono::Duration) {
        self.app.clock.advance(by);
        self.registry.advance(by).await.unwrap();
    }

    /// Moves both clocks so that `expiry` is `left` away.
    async fn move_to(&self, expiry: DateTime<Utc>, left: chrono::Duration) {
        let by = expiry - left - self.app.clock.now();
        assert!(by > chrono::Duration::zero(), "clocks only move forward");
        self.advance(by).await;
    }

    /// Runs the renewal sweep through the API and waits for its job to finish.
    async fn sweep(&self) {
        let r = self.post("/domain-renewals/run", json!({})).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        let job = r.body["job_id"].as_str().unwrap().to_owned();
        let start = Instant::now();
        loop {
            let j = self.get(&format!("/jobs/{job}")).await;
            assert_eq!(j.status, StatusCode::OK, "{}", j.body);
            if j.body["status"] == "done" {
                return;
            }
            assert!(
                j.body["status"] != "dead" && start.elapsed() < WAIT,
                "the sweep did not finish: {}",
                j.body
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for an e-mail whose raw text contains every one of `parts`.
    async fn wait_mail(&self, parts: &[&str]) -> String {
        let start = Instant::now();
        loop {
            let found = self
                .sink
                .messages()
                .into_iter()
                .map(|m| unfold(&m))
                .find(|m| parts.iter().all(|p| m.contains(p)));
            if let Some(m) = found {
                return m;
            }
            assert!(
                start.elapsed() < WAIT,
                "no e-mail with {parts:?}; got subjects {:?}",
                self.subjects()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The subjects of every e-mail received so far.
    fn subjects(&self) -> Vec<String> {
        self.sink
            .messages()
            .iter()
            .filter_map(|m| {
                m.lines()
                    .find(|l| l.starts_with("Subject: "))
                    .map(|l| l["Subject: ".len()..].to_owned())
            })
            .collect()
    }

    /// Event kinds appended for `object_id`, in order.
    async fn events_for(&self, object_id: &str) -> Vec<String> {
        let mut r = self.app.db.read().await.unwrap();
        on!(r.conn(), c => sqlx::query_scalar::<_, String>(
            "SELECT kind FROM events WHERE object_id = $1 ORDER BY seq").bind(object_id).fetch_all(c).await)
        .unwrap()
    }

    /// Waits until an event of `kind` was appended for `object_id`.
    async fn wait_event(&self, object_id: &str, kind: &str) {
        let start = Instant::now();
        loop {
            let kinds = self.events_for(object_id).await;
            if kinds.iter().any(|k| k == kind) {
                return;
            }
            assert!(
                start.elapsed() < WAIT,
                "no {kind} for {object_id}: {kinds:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The drift recorded for a domain, newest first.
    async fn drift(&self, id: &str) -> Vec<Value> {
        let r = self.get(&format!("/domains/{id}/drift")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body["items"].as_array().unwrap().clone()
    }

    fn registrar(&self) -> SandboxRegistrar {
        self.registry.registrar(self.tenant.clone())
    }

    /// What the registry charged for `name`, as (operation, idempotency key).
    async fn charges(&self, name: &str) -> Vec<(String, String)> {
        self.registry
            .ledger_for_name(&DomainName::parse(name).unwrap())
            .await
            .unwrap()
            .into_iter()
            .map(|l| (l.operation, l.idempotency_key))
            .collect()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// A message with quoted-printable soft line breaks and `=3D` undone, to search its text.
fn unfold(m: &str) -> String {
    m.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

fn time(v: &Value) -> DateTime<Utc> {
    serde_json::from_value(v.clone()).unwrap_or_else(|_| panic!("not a time: {v}"))
}

fn assert_problem(r: &Resp, status: u16, field: &str) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(r.body["field"], field, "{}", r.body);
    assert!(!r.body["detail"].as_str().unwrap_or_default().is_empty());
}

async fn registration_waits_for_payment_and_is_charged_once(t: TestDb) {
    let h = Harness::new(t).await;
    let (ann, ann_contact) = h.client("Ann").await;

    // No credit: the invoice waits, and the registrar is not asked.
    let (id, op) = h.order("paid-first.test", &ann, &ann_contact).await;
    assert_eq!(op["status"], "awaiting_payment", "{op:#}");
    let inv = op["invoice_id"].as_str().expect("an invoice").to_owned();
    let invoice = h.invoice(&inv).await;
    assert_eq!(
        (invoice["status"].as_str(), invoice["total"].as_i64()),
        (Some("unpaid"), Some(300))
    );
    assert_eq!(invoice["lines"][0]["operation"], "register");
    // The invoice e-mail went out through the same workers that would have called the
    // registrar: by then, nothing may have reached the registry.
    h.wait_mail(&["To: ann@example.com", "Subject: Invoice", "3.00 USD"])
        .await;
    h.wait_event(&inv, "invoice.created").await;
    let key = IdempotencyKey::new(op["idempotency_key"].as_str().unwrap().to_owned()).unwrap();
    assert!(
        h.registry.requests_for_key(&key).await.unwrap().is_empty(),
        "the registrar was called before the invoice was paid"
    );
    assert!(h.charges("paid-first.test").await.is_empty());
    assert_eq!(h.domain(&id).await["state"], "pending_registration");

    // Paying without credit is refused and changes nothing.
    let r = h.post(&format!("/invoices/{inv}/pay"), json!({})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(h.invoice(&inv).await["status"], "unpaid");

    // Paid twice at once: charged once, registered once.
    h.add_credit(&ann, "10.00").await;
    let pay = format!("/invoices/{inv}/pay");
    let (a, b) = tokio::join!(h.post(&pay, json!({})), h.post(&pay, json!({})));
    let mut codes = [a.status.as_u16(), b.status.as_u16()];
    codes.sort_unstable();
    assert!(
        codes == [200, 409] || codes == [200, 200],
        "one payment, the other told it is paid: {codes:?} {} {}",
        a.body,
        b.body
    );
    let again = h.post(&format!("/invoices/{inv}/pay"), json!({})).await;
    assert_ne!(again.status, StatusCode::OK, "{}", again.body);
    let done = h.wait_succeeded(&id, op["id"].as_str().unwrap()).await;
    assert_eq!(done["invoice_id"], inv.as_str());
    let d = h.domain(&id).await;
    assert_eq!(d["state"], "active", "{d:#}");
    assert_eq!(h.invoice(&inv).await["status"], "paid");
    assert_eq!(h.balance(&ann).await, 700, "10.00 - 3.00, once");
    assert_eq!(h.ledger_kinds(&ann).await, ["invoice_payment", "credit"]);
    assert_eq!(
        h.charges("paid-first.test").await,
        [("register".to_owned(), key.as_str().to_owned())],
        "the registry charged once"
    );
    h.wait_event(&inv, "invoice.paid").await;
    h.wait_mail(&["Subject: paid-first.test is registered"])
        .await;

    // With enough credit the invoice is paid at once and the domain becomes active.
    let (id2, op2) = h.order("credit-ok.test", &ann, &ann_contact).await;
    let inv2 = op2["invoice_id"].as_str().unwrap().to_owned();
    assert_eq!(h.invoice(&inv2).await["status"], "paid");
    assert_ne!(op2["status"], "awaiting_payment", "{op2:#}");
    h.wait_succeeded(&id2, op2["id"].as_str().unwrap()).await;
    assert_eq!(h.domain(&id2).await["state"], "active");
    assert_eq!(h.balance(&ann).await, 400);
    assert_eq!(h.charges("credit-ok.test").await.len(), 1);

    // Ordering the same name again answers a conflict and invoices nothing more.
    let before = h.invoices(&ann).await.len();
    let r = h
        .post(
            "/domains",
            json!({"name": "credit-ok.test", "client_id": ann, "contacts": {"registrant": ann_contact}}),
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.body);
    assert_eq!(h.invoices(&ann).await.len(), before);

    // Bad input: a 422 naming the field, nothing stored or invoiced.
    for (body, field) in [
        (
            json!({"name": "bad name.test", "client_id": ann, "contacts": {"registrant": ann_contact}}),
            "name",
        ),
        (
            json!({"name": "ok-name.test", "client_id": ann, "years": 0, "contacts": {"registrant": ann_contact}}),
            "years",
        ),
    ] {
        assert_problem(&h.post("/domains", body).await, 422, field);
    }
    for (body, field) in [
        (json!({"renewal_buffer_days": 0}), "renewal_buffer_days"),
        (json!({"renewal_alert_days": 400}), "renewal_alert_days"),
        (json!({"currency": "DOLLARS"}), "currency"),
        (json!({"notify_email": "not-an-address"}), "notify_email"),
        (json!({"work_on_credit": "yes"}), "work_on_credit"),
    ] {
        assert_problem(&h.patch("/domain-settings", body).await, 422, field);
    }
    let s = h.get("/domain-settings").await;
    assert_eq!(
        (
            s.body["renewal_buffer_days"].as_i64(),
            s.body["work_on_credit"].as_bool(),
            s.body["currency"].as_str()
        ),
        (Some(30), Some(false), Some("USD")),
        "{}",
        s.body
    );
    assert_problem(
        &h.put(
            "/domain-settings/tlds/test",
            json!({"renewal_buffer_days": 0}),
        )
        .await,
        422,
        "renewal_buffer_days",
    );
    assert_problem(
        &h.put(
            "/domain-settings/tlds/te st",
            json!({"renewal_buffer_days": 40}),
        )
        .await,
        422,
        "tld",
    );
    assert_eq!(h.invoices(&ann).await.len(), before);
}

async fn renewal_is_invoiced_paid_and_done_once(t: TestDb) {
    let h = Harness::new(t).await;
    let (bob, contact) = h.client("Bob").await;
    h.add_credit(&bob, "10.00").await;
    let (id, op) = h.order("renew-me.test", &bob, &contact).await;
    h.wait_succeeded(&id, op["id"].as_str().unwrap()).await;
    let d = h.domain(&id).await;
    let expiry = time(&d["expires_at"]);
    assert_eq!(h.balance(&bob).await, 700);

    // 40 days before expiry: not due yet (30-day buffer).
    h.move_to(expiry, chrono::Duration::days(40)).await;
    h.sweep().await;
    assert!(
        h.operations(&id)
            .await
            .iter()
            .all(|o| o["operation"] != "renew"),
        "nothing is due 40 days ahead"
    );

    // 20 days before: due; invoiced, paid from credit, renewed.
    h.move_to(expiry, chrono::Duration::days(20)).await;
    h.sweep().await;
    let renewal = h
        .wait_op_where(&id, "the renewal ends", |o| {
            o["operation"] == "renew" && (o["status"] == "succeeded" || o["status"] == "failed")
        })
        .await;
    assert_eq!(renewal["status"], "succeeded", "{renewal:#}");
    let inv = renewal["invoice_id"].as_str().unwrap().to_owned();
    let invoice = h.invoice(&inv).await;
    assert_eq!(
        (invoice["status"].as_str(), invoice["total"].as_i64()),
        (Some("paid"), Some(400))
    );
    assert_eq!(invoice["lines"][0]["operation"], "renew");
    let d = h
        .wait_domain(&id, "the new expiry", |d| time(&d["expires_at"]) != expiry)
        .await;
    assert_eq!(
        time(&d["expires_at"]),
        expiry.checked_add_months(Months::new(12)).unwrap(),
        "exactly one term later"
    );
    assert_eq!(h.balance(&bob).await, 300);
    let charges = h.charges("renew-me.test").await;
    assert_eq!(
        charges.iter().filter(|(op, _)| op == "renew").count(),
        1,
        "{charges:?}"
    );
    let info = h
        .registrar()
        .info(&DomainName::parse("renew-me.test").unwrap())
        .await
        .result
        .unwrap();
    assert_eq!(
        info.expires_at,
        Some(time(&d["expires_at"])),
        "the registry agrees"
    );
    h.wait_event(&id, "domain.renewed").await;
    let kinds = h.events_for(&id).await;
    assert!(
        kinds.contains(&"domain.renewal.due".to_owned()),
        "{kinds:?}"
    );
    let inv_kinds = h.events_for(&inv).await;
    assert!(
        inv_kinds.starts_with(&["invoice.created".to_owned()])
            && inv_kinds.contains(&"invoice.paid".to_owned()),
        "{inv_kinds:?}"
    );
    h.wait_mail(&["Subject: renew-me.test is renewed until"])
        .await;

    // Sweeping again (another scheduler, the next day) renews nothing more.
    h.sweep().await;
    h.advance(chrono::Duration::days(1)).await;
    h.sweep().await;
    let renewals: Vec<Value> = h
        .operations(&id)
        .await
        .into_iter()
        .filter(|o| o["operation"] == "renew")
        .collect();
    assert_eq!(renewals.len(), 1, "{renewals:#?}");
    assert_eq!(h.balance(&bob).await, 300);
    assert_eq!(
        h.charges("renew-me.test")
            .await
            .iter()
            .filter(|(op, _)| op == "renew")
            .count(),
        1
    );
    // Paid and renewed: no reminder was needed.
    assert!(
        !h.subjects().iter().any(|s| s.contains("expires in")),
        "{:?}",
        h.subjects()
    );

    // The registrar account runs dry: the paid renewal is refused, the tenant is alerted with
    // the registrar's words, and once the domain reaches redemption the payment goes back to
    // the client's credit.
    h.add_credit(&bob, "7.00").await;
    let (dry, op) = h.order("dry.test", &bob, &contact).await;
    h.wait_succeeded(&dry, op["id"].as_str().unwrap()).await;
    assert_eq!(h.balance(&bob).await, 700);
    let dry_expiry = time(&h.domain(&dry).await["expires_at"]);
    h.registry.set_balance(&h.tenant, 0).await.unwrap();
    h.move_to(dry_expiry, chrono::Duration::days(20)).await;
    h.sweep().await;
    let refused = h
        .wait_op_where(&dry, "the renewal is refused", |o| {
            o["operation"] == "renew" && o["status"] == "failed"
        })
        .await;
    let dry_inv = refused["invoice_id"].as_str().unwrap().to_owned();
    assert_eq!(h.invoice(&dry_inv).await["status"], "paid");
    assert_eq!(h.balance(&bob).await, 300);
    h.wait_event(&dry, "domain.renewal.failed").await;
    h.move_to(dry_expiry, chrono::Duration::days(6)).await;
    h.sweep().await;
    let alert = h
        .wait_mail(&["Subject: Renewal of dry.test is failing"])
        .await;
    assert!(alert.contains("refused"), "{alert}");
    h.advance(dry_expiry - h.app.clock.now() + chrono::Duration::days(50))
        .await;
    let r = h.post(&format!("/domains/{dry}/sync"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["domain"]["state"], "redemption", "{}", r.body);
    assert_eq!(
        h.balance(&bob).await,
        700,
        "the renewal's payment is refunded"
    );
    assert_eq!(h.ledger_kinds(&bob).await[0], "refund");
    // Syncing again refunds nothing more.
    h.advance(chrono::Duration::days(1)).await;
    let r = h.post(&format!("/domains/{dry}/sync"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(h.balance(&bob).await, 700);
    assert!(
        h.charges("dry.test")
            .await
            .iter()
            .all(|(op, _)| op != "renew"),
        "the registry charged no renewal"
    );
}

async fn unpaid_renewal_reminds_expires_and_is_restored(t: TestDb) {
    let h = Harness::new(t).await;
    let r = h
        .patch("/domain-settings", json!({"notify_email": "ops@host.test"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (cy, contact) = h.client("Cy").await;
    h.add_credit(&cy, "3.00").await;
    let (id, op) = h.order("lapse.test", &cy, &contact).await;
    h.wait_succeeded(&id, op["id"].as_str().unwrap()).await;
    assert_eq!(h.balance(&cy).await, 0);
    let expiry = time(&h.domain(&id).await["expires_at"]);

    // About 30 days before: the renewal is invoiced (no credit: unpaid) and the client is
    // reminded, with the invoice.
    h.move_to(
        expiry,
        chrono::Duration::days(30) - chrono::Duration::hours(6),
    )
    .await;
    h.sweep().await;
    let m = h
        .wait_mail(&[
            "To: cy@example.com",
            "Subject: lapse.test expires in 30 days",
        ])
        .await;
    assert!(m.contains("renewed automatically"), "{m}");
    assert!(
        m.contains("for 4.00 USD is waiting for payment"),
        "the reminder names the unpaid invoice: {m}"
    );
    let renewal = h
        .wait_op_where(&id, "the renewal is invoiced", |o| {
            o["operation"] == "renew" && o["invoice_id"].is_string()
        })
        .await;
    assert_eq!(renewal["status"], "awaiting_payment", "{renewal:#}");
    let renewal_inv = renewal["invoice_id"].as_str().unwrap().to_owned();
    assert_eq!(h.invoice(&renewal_inv).await["status"], "unpaid");
    assert_eq!(h.invoice(&renewal_inv).await["total"], 400);
    h.wait_event(&id, "domain.expiring").await;
    h.wait_event(&renewal_inv, "invoice.created").await;
    assert!(
        h.events_for(&id)
            .await
            .contains(&"domain.renewal.due".to_owned())
    );
    let renew_key =
        IdempotencyKey::new(renewal["idempotency_key"].as_str().unwrap().to_owned()).unwrap();

    // A second sweep the same day sends nothing twice.
    h.sweep().await;

    // About 7 days before: the second reminder, and the alert to the tenant (the renewal
    // still is not done): domain.renewal.failed and an e-mail to notify_email.
    h.move_to(
        expiry,
        chrono::Duration::days(7) - chrono::Duration::hours(6),
    )
    .await;
    h.sweep().await;
    h.wait_mail(&[
        "To: cy@example.com",
        "Subject: lapse.test expires in 7 days",
    ])
    .await;
    let alert = h
        .wait_mail(&[
            "To: ops@host.test",
            "Subject: Renewal of lapse.test is failing",
        ])
        .await;
    assert!(alert.contains("not paid"), "{alert}");
    h.wait_event(&id, "domain.renewal.failed").await;
    assert!(
        h.registry
            .requests_for_key(&renew_key)
            .await
            .unwrap()
            .is_empty(),
        "an unpaid renewal never reaches the registrar"
    );

    // Just after expiry: expired, the client told.
    h.move_to(expiry, -chrono::Duration::hours(12)).await;
    h.sweep().await;
    h.wait_mail(&["To: cy@example.com", "Subject: lapse.test has expired"])
        .await;
    h.wait_event(&id, "domain.expired").await;
    assert_eq!(h.domain(&id).await["state"], "expired");

    // Each reminder went out once, however many sweeps ran.
    h.sweep().await;
    let subjects = h.subjects();
    for s in [
        "lapse.test expires in 30 days",
        "lapse.test expires in 7 days",
        "lapse.test has expired",
        "Renewal of lapse.test is failing",
    ] {
        assert_eq!(
            subjects.iter().filter(|x| x.as_str() == s).count(),
            1,
            "{s}: {subjects:?}"
        );
    }

    // The registry's auto-renew grace, then redemption, as the sync reads them.
    h.advance(chrono::Duration::days(2)).await;
    let r = h.post(&format!("/domains/{id}/sync"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["domain"]["state"], "auto_renew_grace", "{}", r.body);
    h.advance(chrono::Duration::days(45)).await;
    let r = h.post(&format!("/domains/{id}/sync"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["domain"]["state"], "redemption", "{}", r.body);
    assert!(
        r.body["drift"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["field"] == "state" && x["registrar_value"] == "redemption"),
        "{}",
        r.body
    );
    // The renewal can no longer happen: its unpaid invoice is voided.
    assert_eq!(h.invoice(&renewal_inv).await["status"], "void");
    let r = h
        .post(&format!("/domains/{id}/renew"), json!({"years": 1}))
        .await;
    assert!(r.status.is_client_error(), "{}", r.body);

    // Restore, at the restore price: invoiced, paid, restored.
    let r = h.post(&format!("/domains/{id}/restore"), json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let restore = r.body["operation"].clone();
    assert_eq!(restore["status"], "awaiting_payment");
    let restore_inv = restore["invoice_id"].as_str().unwrap().to_owned();
    let invoice = h.invoice(&restore_inv).await;
    assert_eq!(
        (
            invoice["total"].as_i64(),
            invoice["lines"][0]["operation"].as_str()
        ),
        (Some(3000), Some("restore"))
    );
    // Asking twice answers the same operation and invoice.
    let again = h.post(&format!("/domains/{id}/restore"), json!({})).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    assert_eq!(again.body["operation"]["id"], restore["id"]);
    h.add_credit(&cy, "30.00").await;
    let r = h
        .post(&format!("/invoices/{restore_inv}/pay"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    h.wait_succeeded(&id, restore["id"].as_str().unwrap()).await;
    let d = h
        .wait_domain(&id, "restored", |d| d["state"] == "active")
        .await;
    assert!(time(&d["expires_at"]) > h.app.clock.now(), "{d:#}");
    assert_eq!(h.balance(&cy).await, 0);
    let charges = h.charges("lapse.test").await;
    let ops: Vec<&str> = charges.iter().map(|(o, _)| o.as_str()).collect();
    assert_eq!(ops, ["register", "restore"], "no renewal was charged");
    let restore_cost = h
        .registry
        .ledger_for_name(&DomainName::parse("lapse.test").unwrap())
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.operation == "restore")
        .unwrap();
    assert_eq!(restore_cost.amount.minor, 500, "the registry's restore fee");
    h.wait_mail(&["Subject: lapse.test is restored"]).await;
}

async fn sync_reports_drift_planted_in_the_registry(t: TestDb) {
    let h = Harness::new(t).await;
    let (dee, contact) = h.client("Dee").await;
    h.add_credit(&dee, "100.00").await;
    let names = [
        "expiry.test",
        "unlocked.test",
        "moved-ns.test",
        "gone.test",
        "calm.test",
    ];
    let mut ids = Vec::new();
    for n in names {
        let (id, op) = h.order(n, &dee, &contact).await;
        h.wait_succeeded(&id, op["id"].as_str().unwrap()).await;
        ids.push(id);
    }
    // The lock, as Panel1 wants it.
    let r = h
        .put(
            &format!("/domains/{}/lock", ids[1]),
            json!({"locked": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    h.wait_succeeded(&ids[1], r.body["operation"]["id"].as_str().unwrap())
        .await;
    assert_eq!(h.domain(&ids[1]).await["locked"], true);
    let before: Vec<Value> = {
        let mut v = Vec::new();
        for id in &ids {
            v.push(h.domain(id).await);
        }
        v
    };

    // Changes behind Panel1's back.
    let n = |s: &str| DomainName::parse(s).unwrap();
    let new_expiry = time(&before[0]["expires_at"])
        .checked_add_months(Months::new(24))
        .unwrap();
    h.registry
        .set_expiry(&n("expiry.test"), new_expiry)
        .await
        .unwrap();
    h.registry
        .set_locked(&n("unlocked.test"), false)
        .await
        .unwrap();
    h.registry
        .set_nameservers(
            &n("moved-ns.test"),
            &[n("ns1.elsewhere.example"), n("ns2.elsewhere.example")],
        )
        .await
        .unwrap();
    h.registry
        .move_to_account(&n("gone.test"), "another-registrar")
        .await
        .unwrap();

    // Bad input to the sync settings: 422, nothing changed.
    let account = before[0]["registrar_account_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_problem(
        &h.put(
            &format!("/registrar-accounts/{account}/sync"),
            json!({"rate_per_minute": 0}),
        )
        .await,
        422,
        "rate_per_minute",
    );
    let s = h.get(&format!("/registrar-accounts/{account}/sync")).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.body);
    assert_eq!(s.body["rate_per_minute"], Value::Null, "{}", s.body);
    assert_eq!(s.body["effective_rate_per_minute"], 120);
    let r = h
        .put(
            &format!("/registrar-accounts/{account}/sync"),
            json!({"rate_per_minute": 6000}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["effective_rate_per_minute"], 6000);
    assert_eq!(r.body["domains"], 5);

    // A day later every domain is due for its sync; the account's sync job runs.
    h.advance(chrono::Duration::days(1)).await;
    let tenant: panel1_core::TenantId = h.tenant.parse().unwrap();
    let account_id: panel1_core::RegistrarAccountId = account.parse().unwrap();
    // One run of the account's sync job (a minute's worth at its rate).
    let sync = async || {
        panel1_app::domains::sync::sync_account(&h.app, &tenant, &account_id, None, None)
            .await
            .unwrap()
    };
    let counts = sync().await;
    assert_eq!((counts.checked, counts.failures), (5, 0), "{counts:?}");
    assert_eq!(counts.drift, 4, "{counts:?}");

    let drift_of = |i: usize| h.drift(&ids[i]);
    let by_field = |list: &[Value], f: &str| {
        list.iter()
            .find(|x| x["field"] == f)
            .cloned()
            .unwrap_or_else(|| panic!("no {f} drift: {list:#?}"))
    };

    let e = drift_of(0).await;
    let x = by_field(&e, "expires_at");
    assert_eq!(time(&x["panel1_value"]), time(&before[0]["expires_at"]));
    assert_eq!(time(&x["registrar_value"]), new_expiry);
    assert_eq!(x["action"], "updated");
    assert_eq!(time(&h.domain(&ids[0]).await["expires_at"]), new_expiry);

    let l = drift_of(1).await;
    let x = by_field(&l, "locked");
    assert_eq!(
        (
            &x["panel1_value"],
            &x["registrar_value"],
            x["action"].as_str()
        ),
        (&json!(true), &json!(false), Some("reapplied"))
    );
    // The lock is put back at the registry.
    let start = Instant::now();
    loop {
        let info = h
            .registrar()
            .info(&n("unlocked.test"))
            .await
            .result
            .unwrap();
        if info.locked {
            break;
        }
        assert!(start.elapsed() < WAIT, "the lock was not put back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let ns = drift_of(2).await;
    let x = by_field(&ns, "nameservers");
    assert_eq!(
        x["panel1_value"],
        json!(["ns1.example.net", "ns2.example.net"])
    );
    assert_eq!(
        x["registrar_value"],
        json!(["ns1.elsewhere.example", "ns2.elsewhere.example"])
    );
    assert_eq!(x["action"], "updated");
    assert_eq!(
        h.domain(&ids[2]).await["nameservers"],
        json!(["ns1.elsewhere.example", "ns2.elsewhere.example"])
    );

    let g = drift_of(3).await;
    let x = by_field(&g, "sponsorship");
    assert_eq!(x["action"], "marked_transferred_away");
    assert_eq!(h.domain(&ids[3]).await["state"], "transferred_away");
    h.wait_event(&ids[3], "domain.transferred_away").await;

    assert!(
        drift_of(4).await.is_empty(),
        "no drift for an unchanged domain"
    );
    for id in &ids[..4] {
        h.wait_event(id, "domain.drift.detected").await;
    }

    // The tenant's view: every entry, filterable by field.
    let all = h.get("/domain-drift?limit=100").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(all.body["total"], 4, "{}", all.body);
    let locked = h.get("/domain-drift?field=locked").await;
    assert_eq!(locked.body["total"], 1, "{}", locked.body);
    assert_eq!(locked.body["items"][0]["domain_id"], ids[1].as_str());
    let bad = h.get("/domain-drift?field=colour").await;
    assert_eq!(bad.status.as_u16(), 422, "{}", bad.body);
    assert_eq!(bad.body["field"], "field", "{}", bad.body);

    // A second run finds nothing new.
    h.advance(chrono::Duration::days(1)).await;
    let counts = sync().await;
    assert_eq!(counts.drift, 0, "{counts:?}");
    assert_eq!(h.get("/domain-drift").await.body["total"], 4);
    let s = h.get(&format!("/registrar-accounts/{account}/sync")).await;
    assert!(s.body["last_run_at"].is_string(), "{}", s.body);

    // A registrar that fails every call: each domain is read once in the run (not again and
    // again until the minute's budget is spent), counted as failed and named.
    h.advance(chrono::Duration::days(1)).await;
    h.registry
        .set_faults(Faults {
            error_rate: 1.0,
            ..Faults::default()
        })
        .await
        .unwrap();
    let counts = sync().await;
    h.registry.set_faults(Faults::default()).await.unwrap();
    assert_eq!(
        (counts.checked, counts.failures, counts.drift),
        (4, 4, 0),
        "the four domains still in the account, once each: {counts:?}"
    );
    let s = h.get(&format!("/registrar-accounts/{account}/sync")).await;
    assert_eq!(s.body["last_failures"], 4, "{}", s.body);
    assert!(
        s.body["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("injected"),
        "{}",
        s.body
    );

    // The failed reads are due again half an hour later, not a whole sync interval later: ten
    // minutes on, nothing is due; forty minutes on, the four are read (and answer now).
    h.advance(chrono::Duration::minutes(10)).await;
    let counts = sync().await;
    assert_eq!(counts.checked, 0, "read too soon after failing: {counts:?}");
    h.advance(chrono::Duration::minutes(30)).await;
    let counts = sync().await;
    assert_eq!(
        (counts.checked, counts.failures),
        (4, 0),
        "failed reads retried within the hour: {counts:?}"
    );
}

fn registrant(first: &str, email: &str) -> Contact {
    Contact::parse(ContactData {
        first_name: first.into(),
        last_name: "Holder".into(),
        organization: None,
        email: email.into(),
        phone: "+44.2079460000".into(),
        fax: None,
        address1: "2 Market Street".into(),
        address2: None,
        city: "Leeds".into(),
        state_province: None,
        postal_code: Some("LS1 1AA".into()),
        country: "GB".into(),
    })
    .unwrap()
}

async fn import_takes_over_an_account_without_charging(t: TestDb) {
    let h = Harness::new(t).await;
    let (eve, eve_contact) = h.client("Eve").await;
    h.add_credit(&eve, "10.00").await;
    // One domain Panel1 already has.
    let (known, op) = h.order("known.test", &eve, &eve_contact).await;
    h.wait_succeeded(&known, op["id"].as_str().unwrap()).await;
    let balance_before = h.registry.balance(&h.tenant).await.unwrap();
    let ledger_before = h.registry.ledger().await.unwrap().len();

    // The account holds three more, registered elsewhere: one whose registrant is Eve, one
    // whose registrant is a new person, one without contacts.
    let now = h.registry.now().await.unwrap();
    let n = |s: &str| DomainName::parse(s).unwrap();
    for (name, months, locked) in [
        ("eves-old.test", 7, true),
        ("stranger.test", 20, false),
        ("anonymous.test", 3, false),
    ] {
        h.registry
            .plant(&PlantedDomain {
                name: n(name),
                account: h.tenant.clone(),
                created_at: now - chrono::Duration::days(400),
                expires_at: now.checked_add_months(Months::new(months)).unwrap(),
                locked,
                nameservers: vec![n("ns1.legacy.example"), n("ns2.legacy.example")],
                auth_code: SecretString::new(String::from("Xy7!planted")),
            })
            .await
            .unwrap();
    }
    let reg = h.registrar();
    for (name, c) in [
        ("eves-old.test", registrant("Eve", "EVE@example.com")),
        ("stranger.test", registrant("Sam", "sam@elsewhere.example")),
    ] {
        let contacts = DomainContacts {
            registrant: c.clone(),
            admin: c.clone(),
            tech: c.clone(),
            billing: c,
        };
        reg.update_contacts(
            &n(name),
            &contacts,
            &IdempotencyKey::new(format!("setup:{name}")).unwrap(),
        )
        .await
        .result
        .unwrap();
    }
    let account = h.domain(&known).await["registrar_account_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = h
        .put(
            &format!("/registrar-accounts/{account}/sync"),
            json!({"rate_per_minute": 6000}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // Bad input: 422 naming the field, nothing imported.
    assert_problem(
        &h.post(
            &format!("/registrar-accounts/{account}/import"),
            json!({"fallback_client_id": "cli_0193f1c2a4b07c3e9d2f5a6b7c8d9e0f"}),
        )
        .await,
        422,
        "fallback_client_id",
    );
    assert_problem(
        &h.post(
            &format!("/registrar-accounts/{account}/import"),
            json!({"auto_renew": "sure"}),
        )
        .await,
        422,
        "auto_renew",
    );

    let r = h
        .post(
            &format!("/registrar-accounts/{account}/import"),
            json!({"fallback_client_id": eve}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let job = r.body["job_id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    loop {
        let j = h.get(&format!("/jobs/{job}")).await;
        if j.body["status"] == "done" {
            break;
        }
        assert!(
            j.body["status"] != "dead" && start.elapsed() < WAIT,
            "{}",
            j.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let list = h.get("/domains?limit=100").await;
    assert_eq!(list.body["total"], 4, "{}", list.body);
    let find = |name: &str| {
        list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} was not imported: {}", list.body))
    };
    for name in ["eves-old.test", "stranger.test", "anonymous.test"] {
        let d = find(name);
        let info = reg.info(&n(name)).await.result.unwrap();
        assert_eq!(d["state"], "active", "{d:#}");
        assert_eq!(
            time(&d["expires_at"]),
            info.expires_at.unwrap(),
            "{name}: the real expiry"
        );
        assert_eq!(d["locked"], info.locked, "{name}");
        assert_eq!(
            d["nameservers"],
            json!(["ns1.legacy.example", "ns2.legacy.example"])
        );
        assert_eq!(d["auto_renew"], true);
        assert!(
            h.operations(d["id"].as_str().unwrap()).await.is_empty(),
            "{name}: no operation"
        );
    }
    assert_eq!(
        find("eves-old.test")["client_id"],
        eve.as_str(),
        "matched by e-mail"
    );
    assert_eq!(
        find("anonymous.test")["client_id"],
        eve.as_str(),
        "the fallback client"
    );
    let sam = find("stranger.test")["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(sam, eve);
    let c = h.get(&format!("/clients/{sam}")).await;
    assert_eq!(c.body["email"], "sam@elsewhere.example", "{}", c.body);

    // Nothing invoiced, nothing charged.
    assert_eq!(
        h.invoices(&eve).await.len(),
        1,
        "only the registration of known.test"
    );
    assert!(h.invoices(&sam).await.is_empty());
    assert_eq!(h.registry.balance(&h.tenant).await.unwrap(), balance_before);
    assert_eq!(h.registry.ledger().await.unwrap().len(), ledger_before);

    // Importing again adds nothing.
    let r = h
        .post(
            &format!("/registrar-accounts/{account}/import"),
            json!({"fallback_client_id": eve}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let job = r.body["job_id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    while h.get(&format!("/jobs/{job}")).await.body["status"] != "done" {
        assert!(start.elapsed() < WAIT);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(h.get("/domains").await.body["total"], 4);
    assert_eq!(h.registry.ledger().await.unwrap().len(), ledger_before);
}

db_tests!(
    registration_waits_for_payment_and_is_charged_once,
    renewal_is_invoiced_paid_and_done_once,
    unpaid_renewal_reminds_expires_and_is_restored,
    sync_reports_drift_planted_in_the_registry,
    import_takes_over_an_account_without_charging,
);
