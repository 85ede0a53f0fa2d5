//! Domains through the HTTP API, end to end on the sandbox registry, on SQLite and PostgreSQL:
//! check → register → active with the registry's expiry; renew → one term later, once;
//! transfer in with a wrong and a right auth code; nameserver, contact, lock, privacy and
//! hold changes visible in `getDomain` and in the registry itself; a domain transferred away
//! behind Panel1's back; bad input refused with a problem naming the field and nothing
//! changed; registrar credentials never shown.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Months, Utc};
use panel1_app::{App, Settings, bootstrap, events, worker};
use panel1_core::SecretString;
use panel1_core::crypto::{Keyring, MasterKey};
use panel1_core::domain_name::DomainName;
use panel1_registrar::Registrar;
use panel1_registrar::sandbox::{PlantedDomain, SandboxConfig, SandboxRegistrar, SandboxRegistry};
use panel1_store::testing::TestDb;
use panel1_store::{db_tests, on};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The real router on a free port over a fresh database, a sandbox registry file of its own,
/// fast retries and transfer polls, and (optionally) workers running.
struct Harness {
    url: String,
    app: App,
    http: reqwest::Client,
    token: String,
    registry: SandboxRegistry,
    cancel: CancellationToken,
    _db: TestDb,
    _dir: tempfile::TempDir,
}

struct Resp {
    status: StatusCode,
    body: Value,
    headers: reqwest::header::HeaderMap,
}

impl Harness {
    async fn new(db: TestDb, background: bool) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = dir.path().join("registry.sqlite3");
        let data = dir.path().display().to_string();
        let sandbox_s = sandbox.display().to_string();
        let settings = Settings::load(None, |k| match k {
            "PANEL1_HTTP_ADDR" => Some("127.0.0.1:0".into()),
            "PANEL1_DATABASE_URL" => Some(db.url().to_owned()),
            "PANEL1_DATA_DIR" => Some(data.clone()),
            "PANEL1_SANDBOX_REGISTRY" => Some(sandbox_s.clone()),
            "PANEL1_TRANSFER_POLL_MS" => Some("150".into()),
            "PANEL1_REGISTRAR_RETRY_MS" => Some("30".into()),
            "PANEL1_REGISTRAR_TIMEOUT_SECS" => Some("5".into()),
            _ => None,
        })
        .unwrap();
        let keyring = Keyring::new(MasterKey::generate().unwrap(), []);
        let app = App::new(db.db.clone(), keyring, settings, worker::handlers()).unwrap();
        let b = bootstrap::run(&app, "test").await.unwrap();
        seed_billing(&app, &b.tenant.id).await;
        let cancel = CancellationToken::new();
        let (addr, _): (SocketAddr, _) =
            panel1_web::serve(app.clone(), "127.0.0.1:0".parse().unwrap(), cancel.clone())
                .await
                .unwrap();
        if background {
            let mut cfg = worker::runner_config(&app);
            cfg.poll_interval = Duration::from_millis(30);
            worker::runner(&app, cfg).start(cancel.clone());
            events::start_dispatcher(app.clone(), cancel.clone());
        }
        let registry = SandboxRegistry::open(&SandboxConfig::new(&sandbox))
            .await
            .unwrap();
        Harness {
            url: format!("http://{addr}"),
            app,
            http: reqwest::Client::new(),
            token: b.token.expose().to_owned(),
            registry,
            cancel,
            _db: db,
            _dir: dir,
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Resp {
        let mut rb = self
            .http
            .request(method, format!("{}/api/v1{path}", self.url))
            .bearer_auth(token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        Resp {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
            headers,
        }
    }

    async fn get(&self, path: &str) -> Resp {
        self.send(reqwest::Method::GET, path, &self.token, None)
            .await
    }

    async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::POST, path, &self.token, Some(body))
            .await
    }

    async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::PUT, path, &self.token, Some(body))
            .await
    }

    /// A client and a valid contact of it.
    async fn client_with_contact(&self, token: &str, name: &str) -> (String, String) {
        let r = self
            .send(
                reqwest::Method::POST,
                "/clients",
                token,
                Some(
                    json!({"name": name, "email": format!("{}@example.com", name.to_lowercase())}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let client = r.body["id"].as_str().unwrap().to_owned();
        let contact = self
            .contact(
                token,
                &client,
                &format!("{}@example.com", name.to_lowercase()),
            )
            .await;
        (client, contact)
    }

    async fn contact(&self, token: &str, client: &str, email: &str) -> String {
        let r = self
            .send(
                reqwest::Method::POST,
                "/contacts",
                token,
                Some(json!({
                    "client_id": client, "first_name": "Ann", "last_name": "Example", "email": email,
                    "phone": "+44 20 7946 0000", "address1": "1 High Street", "city": "London",
                    "postal_code": "SW1A 1AA", "country": "gb"
                })),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(r.body["phone"], "+44.2079460000", "stored normalised");
        assert_eq!(r.body["country"], "GB");
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// The sandbox registrar speaking for this tenant's demo account.
    fn registrar(&self, tenant: &str) -> SandboxRegistrar {
        self.registry.registrar(tenant)
    }

    async fn tenant(&self) -> String {
        self.get("/me").await.body["tenant_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits until the domain's operation `op` ends, and returns it.
    async fn wait_op(&self, domain: &str, op: &str) -> Value {
        let start = Instant::now();
        loop {
            let r = self
                .get(&format!("/domains/{domain}/operations?limit=100"))
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            let found = r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| o["id"] == op)
                .cloned()
                .unwrap_or_else(|| panic!("operation {op} is not in the log: {}", r.body));
            if found["status"] == "succeeded" || found["status"] == "failed" {
                return found;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "operation {op} did not end: {found}"
            );
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    }

    async fn domain(&self, id: &str) -> Value {
        let r = self.get(&format!("/domains/{id}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body
    }

    async fn event_kinds(&self) -> Vec<String> {
        let mut r = self.app.db.read().await.unwrap();
        on!(r.conn(), c => sqlx::query_scalar::<_, String>("SELECT kind FROM events ORDER BY seq").fetch_all(c).await).unwrap()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn assert_problem(r: &Resp, status: u16, field: Option<&str>) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(
        r.headers.get("content-type").unwrap(),
        "application/problem+json"
    );
    assert!(!r.body["detail"].as_str().unwrap_or_default().is_empty());
    if let Some(f) = field {
        assert_eq!(r.body["field"], f, "{}", r.body);
    }
}

/// Prices for the demo TLDs (the sale price is the sandbox's cost plus 2.00) and work on
/// credit: these tests are about the registrar side; `domain_billing.rs` tests payment first.
async fn seed_billing(app: &App, tenant: &panel1_core::TenantId) {
    use panel1_core::money::Currency;
    use panel1_store::billing::{TldPrice, upsert_price};
    let mut tx = app.db.begin().await.unwrap();
    let costs: [(&str, [i64; 4]); 5] = [
        ("com", [1099, 1299, 1099, 8000]),
        ("net", [1299, 1499, 1299, 8000]),
        ("org", [999, 1399, 999, 8000]),
        ("test", [100, 100, 100, 500]),
        ("example", [100, 100, 100, 500]),
    ];
    for (tld, c) in costs {
        for (op, cost) in ["register", "renew", "transfer", "restore"].iter().zip(c) {
            upsert_price(
                tx.conn(),
                tenant,
                &TldPrice {
                    tld: tld.into(),
                    operation: (*op).into(),
                    years: 1,
                    currency: Currency::USD,
                    price: cost + 200,
                    cost: Some(cost),
                    markup: None,
                    updated_at: Utc::now(),
                },
            )
            .await
            .unwrap();
        }
    }
    let mut s = panel1_store::domain_automation::settings(tx.conn(), tenant)
        .await
        .unwrap();
    s.work_on_credit = true;
    panel1_store::domain_automation::save_settings(tx.conn(), tenant, &s)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

fn time(v: &Value) -> DateTime<Utc> {
    serde_json::from_value(v.clone()).unwrap_or_else(|_| panic!("not a time: {v}"))
}

fn name(s: &str) -> DomainName {
    DomainName::parse(s).unwrap()
}

async fn register(h: &Harness, domain: &str, client: &str, contact: &str) -> (String, Value) {
    let r = h
        .post("/domains", json!({"name": domain, "client_id": client, "contacts": {"registrant": contact}, "nameservers": ["ns1.example.net", "ns2.example.net"]}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let id = r.body["domain"]["id"].as_str().unwrap().to_owned();
    let op = r.body["operation"]["id"].as_str().unwrap().to_owned();
    let done = h.wait_op(&id, &op).await;
    (id, done)
}

async fn check_register_and_renew_exactly_once(t: TestDb) {
    let h = Harness::new(t, true).await;
    let tenant = h.tenant().await;
    let (client, contact) = h.client_with_contact(&h.token, "Ann").await;

    let r = h
        .post(
            "/domains/check",
            json!({"names": ["fresh-name.com", "bücher.test"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["name"], "fresh-name.com");
    assert_eq!(results[0]["available"], true);
    assert_eq!(
        results[0]["price"]["minor"], 1299,
        "the tenant's price, not the registrar's"
    );
    assert_eq!(
        results[0]["registrar_cost"]["minor"], 1099,
        "staff also see the cost"
    );
    assert_eq!(results[1]["name"], "xn--bcher-kva.test");
    assert_eq!(results[1]["name_unicode"], "bücher.test");
    assert_eq!(results[1]["registrar"], "sandbox");

    let r = h
        .post("/domains", json!({"name": "Fresh-Name.com", "client_id": client, "years": 2, "contacts": {"registrant": contact}}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["domain"]["state"], "pending_registration");
    assert_eq!(r.body["operation"]["status"], "queued");
    assert!(r.body["job_id"].as_str().unwrap().starts_with("job_"));
    let id = r.body["domain"]["id"].as_str().unwrap().to_owned();
    let op = r.body["operation"]["id"].as_str().unwrap().to_owned();
    let key = r.body["operation"]["idempotency_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(key, format!("register:fresh-name.com:{op}"));
    let done = h.wait_op(&id, &op).await;
    assert_eq!(done["status"], "succeeded", "{done}");

    let d = h.domain(&id).await;
    assert_eq!(d["state"], "active");
    let info = h
        .registrar(&tenant)
        .info(&name("fresh-name.com"))
        .await
        .result
        .unwrap();
    assert!(info.in_account);
    assert_eq!(
        time(&d["expires_at"]),
        info.expires_at.unwrap(),
        "Panel1 keeps the registry's expiry"
    );
    assert_eq!(d["epp_statuses"], json!(["ok"]));
    assert_eq!(d["rgp_statuses"], json!(["addPeriod"]));
    assert_eq!(d["whois_contacts"]["registrant"]["id"], contact);
    assert_eq!(d["recent_operations"][0]["id"], op);
    let ledger = h
        .registry
        .ledger_for_key(&panel1_registrar::IdempotencyKey::new(key).unwrap())
        .await
        .unwrap();
    assert_eq!(ledger.len(), 1, "charged once");
    assert_eq!(
        (ledger[0].operation.as_str(), ledger[0].years),
        ("register", 2)
    );

    // Renew by one year: the expiry moves by exactly one term, and the charge happens once.
    let before = time(&d["expires_at"]);
    let r = h
        .post(&format!("/domains/{id}/renew"), json!({"years": 1}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let renew_key = r.body["operation"]["idempotency_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        renew_key,
        format!("renew:fresh-name.com:{}", before.format("%Y-%m-%d"))
    );
    let renew_op = r.body["operation"]["id"].as_str().unwrap().to_owned();
    let done = h.wait_op(&id, &renew_op).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let d = h.domain(&id).await;
    assert_eq!(
        time(&d["expires_at"]),
        before.checked_add_months(Months::new(12)).unwrap()
    );
    let info = h
        .registrar(&tenant)
        .info(&name("fresh-name.com"))
        .await
        .result
        .unwrap();
    assert_eq!(info.expires_at, Some(time(&d["expires_at"])));
    // Asking again for the renewal of the term already renewed answers the same operation.
    let r = h.get(&format!("/domains/{id}/operations")).await;
    let ops = r.body["items"].as_array().unwrap();
    let renew = ops.iter().find(|o| o["id"] == renew_op).unwrap();
    assert!(
        renew["calls"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["command"] == "renew" && c["outcome"] == "succeeded")
    );
    assert_eq!(renew["expiry_before"], json!(before));
    let ledger = h
        .registry
        .ledger_for_name(&name("fresh-name.com"))
        .await
        .unwrap();
    let renewals: Vec<_> = ledger.iter().filter(|l| l.operation == "renew").collect();
    assert_eq!(renewals.len(), 1);
    assert_eq!(renewals[0].idempotency_key, renew_key);

    // A name that is taken fails the registration with a clear reason, and says so in an event.
    h.registry
        .plant(&PlantedDomain {
            name: name("taken.com"),
            account: "someone-else".into(),
            created_at: Utc::now(),
            expires_at: Utc::now() + chrono::Duration::days(300),
            locked: false,
            nameservers: vec![],
            auth_code: SecretString::new("whatever-1"),
        })
        .await
        .unwrap();
    let (taken, done) = register(&h, "taken.com", &client, &contact).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["failure_kind"], "not_available");
    assert!(
        done["error"]
            .as_str()
            .unwrap()
            .contains("already registered"),
        "{done}"
    );
    assert_eq!(h.domain(&taken).await["state"], "cancelled");

    let kinds = h.event_kinds().await;
    for k in [
        "domain.registered",
        "domain.renewed",
        "domain.operation.failed",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
}

async fn the_same_renewal_asked_twice_is_one_operation(t: TestDb) {
    // Workers run only when this test says so: both renewal requests arrive while the first
    // one is still queued.
    let h = Harness::new(t, false).await;
    let tenant = h.tenant().await;
    let (client, contact) = h.client_with_contact(&h.token, "Bob").await;
    let drain = |op: String, id: String| {
        let h = &h;
        async move {
            let mut cfg = worker::runner_config(&h.app);
            cfg.poll_interval = Duration::from_millis(20);
            let handle = worker::runner(&h.app, cfg).start(CancellationToken::new());
            let done = h.wait_op(&id, &op).await;
            handle.shutdown().await;
            done
        }
    };

    // A name already in the tenant's registrar account is taken over, not registered (or
    // charged) again: the same check that recovers a registration whose answer was lost.
    h.registry
        .plant(&PlantedDomain {
            name: name("adopted.test"),
            account: tenant.clone(),
            created_at: Utc::now(),
            expires_at: Utc::now() + chrono::Duration::days(200),
            locked: false,
            nameservers: vec![],
            auth_code: SecretString::new("code-1234"),
        })
        .await
        .unwrap();
    let r = h
        .post("/domains", json!({"name": "adopted.test", "client_id": client, "contacts": {"registrant": contact}}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let id = r.body["domain"]["id"].as_str().unwrap().to_owned();
    let done = drain(
        r.body["operation"]["id"].as_str().unwrap().to_owned(),
        id.clone(),
    )
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert!(
        h.registry
            .ledger_for_name(&name("adopted.test"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(h.domain(&id).await["state"], "active");

    // Two renewal requests for one term: one operation, one job, one charge.
    let a = h.post(&format!("/domains/{id}/renew"), json!({})).await;
    let b = h
        .post(&format!("/domains/{id}/renew"), json!({"years": 1}))
        .await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    assert_eq!(b.status, StatusCode::ACCEPTED, "{}", b.body);
    assert_eq!(
        a.body["operation"]["id"], b.body["operation"]["id"],
        "one term, one operation"
    );
    assert_eq!(a.body["job_id"], b.body["job_id"]);
    let done = drain(
        a.body["operation"]["id"].as_str().unwrap().to_owned(),
        id.clone(),
    )
    .await;
    assert_eq!(done["status"], "succeeded");
    let renewals = h
        .registry
        .ledger_for_name(&name("adopted.test"))
        .await
        .unwrap();
    assert_eq!(
        renewals.iter().filter(|l| l.operation == "renew").count(),
        1
    );
    // The next term is a new renewal.
    let c = h.post(&format!("/domains/{id}/renew"), json!({})).await;
    assert_ne!(c.body["operation"]["id"], a.body["operation"]["id"]);
    let done = drain(
        c.body["operation"]["id"].as_str().unwrap().to_owned(),
        id.clone(),
    )
    .await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(
        h.registry
            .ledger_for_name(&name("adopted.test"))
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn transfer_in_with_a_wrong_then_the_right_auth_code(t: TestDb) {
    let h = Harness::new(t, true).await;
    let tenant = h.tenant().await;
    let (client, contact) = h.client_with_contact(&h.token, "Cat").await;
    // Milliseconds, as the registry keeps them.
    let expires = panel1_core::time::from_millis(
        (Utc::now() + chrono::Duration::days(100)).timestamp_millis(),
    );
    h.registry
        .plant(&PlantedDomain {
            name: name("moving.com"),
            account: "losing-registrar".into(),
            created_at: Utc::now() - chrono::Duration::days(400),
            expires_at: expires,
            locked: false,
            nameservers: vec![name("ns1.old.example")],
            auth_code: SecretString::new("Right-Code-77"),
        })
        .await
        .unwrap();

    let r = h
        .post(
            "/domains/transfers",
            json!({"name": "moving.com", "client_id": client, "auth_code": "wrong-code-00"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["domain"]["state"], "pending_transfer_in");
    let id = r.body["domain"]["id"].as_str().unwrap().to_owned();
    let done = h
        .wait_op(&id, r.body["operation"]["id"].as_str().unwrap())
        .await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["failure_kind"], "bad_auth_code");
    assert!(
        done["error"].as_str().unwrap().contains("auth code"),
        "{done}"
    );
    let tr = h.get(&format!("/domains/{id}/transfer")).await;
    assert_eq!(tr.status, StatusCode::OK, "{}", tr.body);
    assert_eq!(tr.body["state"], "failed");
    assert!(
        tr.body["message"].as_str().unwrap().contains("auth code"),
        "{}",
        tr.body
    );
    assert_eq!(h.domain(&id).await["state"], "cancelled");
    assert_eq!(
        h.registry
            .domain_account(&name("moving.com"))
            .await
            .unwrap()
            .as_deref(),
        Some("losing-registrar")
    );

    let r = h
        .post("/domains/transfers", json!({"name": "moving.com", "client_id": client, "auth_code": "Right-Code-77", "contacts": {"registrant": contact}}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(
        r.body["domain"]["id"], id,
        "the ended record is ordered again"
    );
    let op = r.body["operation"]["id"].as_str().unwrap().to_owned();
    let start = Instant::now();
    loop {
        let tr = h.get(&format!("/domains/{id}/transfer")).await;
        if tr.body["state"] == "pending" {
            assert!(tr.body["transfer_id"].is_string(), "{}", tr.body);
            assert!(tr.body["action_by"].is_string(), "{}", tr.body);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{}", tr.body);
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    assert_eq!(h.domain(&id).await["state"], "pending_transfer_in");
    // Five days pass at the registry: the transfer is approved by itself.
    h.registry.advance(chrono::Duration::days(6)).await.unwrap();
    let done = h.wait_op(&id, &op).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let d = h.domain(&id).await;
    assert_eq!(d["state"], "active");
    assert_eq!(
        time(&d["expires_at"]),
        expires.checked_add_months(Months::new(12)).unwrap(),
        "the transfer adds a year"
    );
    assert_eq!(
        h.registry
            .domain_account(&name("moving.com"))
            .await
            .unwrap(),
        Some(tenant.clone())
    );
    let tr = h.get(&format!("/domains/{id}/transfer")).await;
    assert_eq!(tr.body["state"], "completed");
    let charges = h
        .registry
        .ledger_for_name(&name("moving.com"))
        .await
        .unwrap();
    assert_eq!(charges.len(), 1);
    assert_eq!(
        charges[0].idempotency_key,
        done["idempotency_key"].as_str().unwrap()
    );
    // The auth code never reached the log or the audit trail.
    let log = h
        .get(&format!("/domains/{id}/operations"))
        .await
        .body
        .to_string();
    assert!(
        !log.contains("Right-Code-77") && !log.contains("wrong-code-00"),
        "{log}"
    );
    let audit = h.get("/audit?limit=100").await.body.to_string();
    assert!(!audit.contains("Right-Code-77"), "{audit}");
    // The contacts given with the transfer are set once it arrived (a follow-up operation).
    let start = Instant::now();
    loop {
        let info = h
            .registrar(&tenant)
            .info(&name("moving.com"))
            .await
            .result
            .unwrap();
        if info
            .contacts
            .as_ref()
            .is_some_and(|c| c.registrant.email == "cat@example.com")
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "contacts not set: {info:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let kinds = h.event_kinds().await;
    assert!(
        kinds.contains(&"domain.transfer.completed".to_owned()),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"domain.transfer.failed".to_owned()),
        "{kinds:?}"
    );
}

async fn changes_show_in_get_domain_and_in_the_registry(t: TestDb) {
    let h = Harness::new(t, true).await;
    let tenant = h.tenant().await;
    let reg = h.registrar(&tenant);
    let (client, contact) = h.client_with_contact(&h.token, "Dan").await;
    let (id, done) = register(&h, "changes.example", &client, &contact).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let n = name("changes.example");
    assert_eq!(
        reg.info(&n).await.result.unwrap().nameservers,
        [name("ns1.example.net"), name("ns2.example.net")]
    );

    let r = h
        .put(
            &format!("/domains/{id}/nameservers"),
            json!({"nameservers": ["ns1.panel1.test", "NS2.Panel1.Test."]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(
        h.wait_op(&id, r.body["operation"]["id"].as_str().unwrap())
            .await["status"],
        "succeeded"
    );
    assert_eq!(
        h.domain(&id).await["nameservers"],
        json!(["ns1.panel1.test", "ns2.panel1.test"])
    );
    assert_eq!(
        reg.info(&n).await.result.unwrap().nameservers,
        [name("ns1.panel1.test"), name("ns2.panel1.test")]
    );

    let tech = h.contact(&h.token, &client, "tech@example.org").await;
    let r = h
        .put(
            &format!("/domains/{id}/contacts"),
            json!({"registrant": contact, "tech": tech}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(
        h.wait_op(&id, r.body["operation"]["id"].as_str().unwrap())
            .await["status"],
        "succeeded"
    );
    let d = h.domain(&id).await;
    assert_eq!(d["contacts"]["tech"], tech);
    assert_eq!(d["whois_contacts"]["tech"]["email"], "tech@example.org");
    let c = reg.info(&n).await.result.unwrap().contacts.unwrap();
    assert_eq!(
        (c.tech.email.as_str(), c.registrant.email.as_str()),
        ("tech@example.org", "dan@example.com")
    );

    let r = h
        .put(&format!("/domains/{id}/lock"), json!({"locked": true}))
        .await;
    assert_eq!(
        h.wait_op(&id, r.body["operation"]["id"].as_str().unwrap())
            .await["status"],
        "succeeded"
    );
    let r = h
        .put(&format!("/domains/{id}/privacy"), json!({"enabled": true}))
        .await;
    assert_eq!(
        h.wait_op(&id, r.body["operation"]["id"].as_str().unwrap())
            .await["status"],
        "succeeded"
    );
    let d = h.domain(&id).await;
    assert_eq!(
        (d["locked"].as_bool(), d["privacy"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(
        d["epp_statuses"]
            .as_array()
            .unwrap()
            .contains(&json!("clientTransferProhibited")),
        "{d}"
    );
    let info = reg.info(&n).await.result.unwrap();
    assert!(info.locked);
    assert_eq!(info.privacy, Some(true));

    // The auth code comes from the registrar, is not cached, and is not written anywhere.
    let r = h.get(&format!("/domains/{id}/auth-code")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
    let code = reg.auth_code(&n).await.result.unwrap();
    assert_eq!(r.body["auth_code"], code.expose());
    let audit = h.get("/audit?limit=100").await.body.to_string();
    assert!(audit.contains("revealed the auth code"), "{audit}");
    assert!(!audit.contains(code.expose()));
    assert!(
        !h.get(&format!("/domains/{id}/operations"))
            .await
            .body
            .to_string()
            .contains(code.expose())
    );

    // Suspension: Panel1's state at once, then the registry hold; and back.
    let r = h
        .post(
            &format!("/domains/{id}/suspend"),
            json!({"reason": "abuse report #12"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["domain"]["state"], "suspended");
    assert_eq!(
        h.wait_op(&id, r.body["operation"]["id"].as_str().unwrap())
            .await["status"],
        "succeeded"
    );
    let info = reg.info(&n).await.result.unwrap();
    assert!(
        info.epp_statuses
            .contains(&panel1_core::domain_lifecycle::EppStatus::ClientHold)
    );
    assert_eq!(h.domain(&id).await["suspension_reason"], "abuse report #12");
    let again = h
        .post(&format!("/domains/{id}/suspend"), json!({"reason": "x"}))
        .await;
    assert_problem(&again, 409, None);
    assert!(
        again.body["detail"]
            .as_str()
            .unwrap()
            .contains("already suspended"),
        "{}",
        again.body
    );
    let r = h.post(&format!("/domains/{id}/unsuspend"), json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(
        h.wait_op(&id, r.body["operation"]["id"].as_str().unwrap())
            .await["status"],
        "succeeded"
    );
    let d = h.domain(&id).await;
    assert_eq!(d["state"], "active");
    assert!(
        !reg.info(&n)
            .await
            .result
            .unwrap()
            .epp_statuses
            .contains(&panel1_core::domain_lifecycle::EppStatus::ClientHold)
    );

    // Moved to another registrar behind Panel1's back: the next change finds out.
    h.registry
        .move_to_account(&n, "another-registrar")
        .await
        .unwrap();
    let r = h
        .put(&format!("/domains/{id}/lock"), json!({"locked": false}))
        .await;
    let done = h
        .wait_op(&id, r.body["operation"]["id"].as_str().unwrap())
        .await;
    assert_eq!(done["status"], "failed");
    assert_eq!(h.domain(&id).await["state"], "transferred_away");

    let kinds = h.event_kinds().await;
    for k in [
        "domain.registered",
        "domain.nameservers.updated",
        "domain.contacts.updated",
        "domain.lock.updated",
        "domain.privacy.updated",
        "domain.suspended",
        "domain.unsuspended",
        "domain.transferred_away",
        "domain.operation.failed",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} missing from {kinds:?}");
    }
    // Every change is in the audit log.
    let audit = h.get("/audit?limit=100").await.body;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "domain.register",
        "domain.register.succeeded",
        "domain.nameservers",
        "domain.nameservers.succeeded",
        "domain.suspend",
        "domain.unsuspend",
        "domain.lock.failed",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
}

async fn bad_input_is_refused_naming_the_field_and_changes_nothing(t: TestDb) {
    let h = Harness::new(t, true).await;
    let (client, contact) = h.client_with_contact(&h.token, "Eve").await;
    let body =
        |n: &str| json!({"name": n, "client_id": client, "contacts": {"registrant": contact}});

    let r = h.post("/domains", body("exa mple.com")).await;
    assert_problem(&r, 422, Some("name"));
    let r = h.post("/domains", body("pаypal.com")).await; // Cyrillic а
    assert_problem(&r, 422, Some("name"));
    assert_eq!(r.body["errors"][0]["code"], "mixed_script", "{}", r.body);
    let r = h.post("/domains", body("-bad-.com")).await;
    assert_problem(&r, 422, Some("name"));
    let r = h.post("/domains", body("www.example.com")).await;
    assert_problem(&r, 422, Some("name"));
    assert!(
        r.body["detail"].as_str().unwrap().contains("subdomain"),
        "{}",
        r.body
    );
    let r = h.post("/domains", body("example.xyz")).await;
    assert_problem(&r, 422, Some("name"));
    assert_eq!(r.body["errors"][0]["code"], "unsupported_tld");
    assert!(
        r.body["detail"].as_str().unwrap().contains(".xyz"),
        "{}",
        r.body
    );
    let r = h
        .post("/domains/check", json!({"names": ["ok.com", "nope.xyz"]}))
        .await;
    assert_problem(&r, 422, Some("names.1"));
    let r = h
        .post("/domains", json!({"name": "fine.com", "client_id": client, "years": 11, "contacts": {"registrant": contact}, "nameservers": ["ns1.example.net"]}))
        .await;
    assert_problem(&r, 422, Some("years"));
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["years", "nameservers"], "every problem at once");
    let r = h
        .post("/domains", json!({"name": "fine.com", "client_id": client, "contacts": {"registrant": "con_00000000000000000000000000000000"}}))
        .await;
    assert_problem(&r, 422, Some("contacts.registrant"));

    // Bad contact data.
    let r = h
        .post("/contacts", json!({"client_id": client, "first_name": "", "last_name": "X", "email": "not-mail", "phone": "020 7946 0000", "address1": "1 St", "city": "London", "country": "UK"}))
        .await;
    assert_problem(&r, 422, Some("first_name"));
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["first_name", "email", "phone", "country"]);

    // Another tenant's domain answers 404 exactly like a missing one.
    let (mine, done) = register(&h, "mine.com", &client, &contact).await;
    assert_eq!(done["status"], "succeeded");
    let other = other_tenant(&h, "other").await;
    for path in [
        format!("/domains/{mine}"),
        format!("/domains/{mine}/operations"),
        format!("/domains/{mine}/auth-code"),
    ] {
        let foreign = h.send(reqwest::Method::GET, &path, &other, None).await;
        assert_problem(&foreign, 404, None);
    }
    let foreign = h
        .send(
            reqwest::Method::POST,
            &format!("/domains/{mine}/renew"),
            &other,
            Some(json!({})),
        )
        .await;
    let missing = h
        .post(
            "/domains/dom_00000000000000000000000000000000/renew",
            json!({}),
        )
        .await;
    assert_problem(&foreign, 404, None);
    assert_problem(&missing, 404, None);
    assert_eq!(foreign.body["type"], missing.body["type"]);
    let r = h
        .send(
            reqwest::Method::PUT,
            &format!("/domains/{mine}/lock"),
            &other,
            Some(json!({"locked": true})),
        )
        .await;
    assert_problem(&r, 404, None);
    // The other tenant's contact cannot be used by this tenant either.
    let (other_client, other_contact) = h.client_with_contact(&other, "Mallory").await;
    let r = h.post("/domains", json!({"name": "steal.com", "client_id": client, "contacts": {"registrant": other_contact}})).await;
    assert_problem(&r, 422, Some("contacts.registrant"));
    let r = h.post("/domains", json!({"name": "steal.com", "client_id": other_client, "contacts": {"registrant": contact}})).await;
    assert_problem(&r, 422, Some("client_id"));

    // A client user reaches only its own client's domains and contacts.
    let (_, client_token) = user_token(&h, "eve-user@example.com", &client).await;
    let (bob, bob_contact) = h.client_with_contact(&h.token, "Bob").await;
    let (bobs, _) = register(&h, "bobs.com", &bob, &bob_contact).await;
    let r = h
        .send(
            reqwest::Method::GET,
            &format!("/domains/{bobs}"),
            &client_token,
            None,
        )
        .await;
    assert_problem(&r, 404, None);
    let r = h
        .send(
            reqwest::Method::GET,
            &format!("/contacts/{bob_contact}"),
            &client_token,
            None,
        )
        .await;
    assert_problem(&r, 404, None);
    let list = h
        .send(reqwest::Method::GET, "/domains", &client_token, None)
        .await;
    let names: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mine.com"]);
    let r = h
        .send(
            reqwest::Method::POST,
            "/domains",
            &client_token,
            Some(json!({"name": "mine2.com", "contacts": {"registrant": bob_contact}})),
        )
        .await;
    assert_problem(&r, 422, Some("contacts.registrant"));
    let r = h
        .send(
            reqwest::Method::POST,
            &format!("/domains/{mine}/suspend"),
            &client_token,
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_problem(&r, 403, None);

    // Nothing of the refused requests reached the database or the registry.
    let all = h.get("/domains?limit=100").await;
    let names: Vec<&str> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(all.body["total"], 2, "{names:?}");
    let ledger = h.registry.ledger().await.unwrap();
    let charged: Vec<&str> = ledger.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(charged, ["mine.com", "bobs.com"]);

    // Listing filters.
    let r = h.get("/domains?tld=com&status=active&search=bob").await;
    assert_eq!(r.body["total"], 1, "{}", r.body);
    let soon = (Utc::now() + chrono::Duration::days(400))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let r = h.get(&format!("/domains?expiring_before={soon}")).await;
    assert_eq!(r.body["total"], 2, "{}", r.body);
    let r = h.get(&format!("/domains?client={bob}")).await;
    assert_eq!(r.body["total"], 1, "{}", r.body);
    let r = h.get("/domains?status=sleeping").await;
    assert_problem(&r, 422, Some("status"));
}

async fn registrar_accounts_keep_credentials_sealed(t: TestDb) {
    let h = Harness::new(t, false).await;
    let r = h.get("/registrar-accounts").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let demo = &r.body[0];
    assert_eq!(
        (demo["name"].as_str(), demo["type"].as_str()),
        (Some("sandbox"), Some("sandbox"))
    );
    assert_eq!(
        demo["tlds"],
        json!(["com", "example", "net", "org", "test"])
    );

    let r = h
        .post("/registrar-accounts", json!({"name": "nc-main", "type": "namecheap", "settings": {"api_user": "ann", "api_key": "Top-Secret-Key-9", "client_ip": "192.0.2.10", "sandbox": true}, "tlds": ["xyz", ".io"]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["settings"]["api_key"], "***");
    assert_eq!(r.body["settings"]["api_user"], "ann");
    assert_eq!(r.body["tlds"], json!(["xyz", "io"]));
    let nc = r.body["id"].as_str().unwrap().to_owned();
    let listed = h.get("/registrar-accounts").await.body.to_string();
    assert!(!listed.contains("Top-Secret-Key-9"), "{listed}");
    let tlds = h.get("/registrar-tlds").await;
    assert!(
        tlds.body
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["tld"] == "xyz" && m["account_name"] == "nc-main")
    );
    let mut r = h.app.db.read().await.unwrap();
    let stored: Vec<String> = on!(r.conn(), c => sqlx::query_scalar("SELECT settings || ' ' || config_sealed FROM registrar_accounts").fetch_all(c).await).unwrap();
    drop(r);
    assert!(
        stored.iter().all(|s| !s.contains("Top-Secret-Key-9")),
        "sealed at rest: {stored:?}"
    );
    let audit = h.get("/audit?limit=100").await.body.to_string();
    assert!(!audit.contains("Top-Secret-Key-9"));

    // Bad settings name the setting.
    let r = h
        .post("/registrar-accounts", json!({"name": "nc2", "type": "namecheap", "settings": {"api_user": "ann", "client_ip": "192.0.2.10"}}))
        .await;
    assert_problem(&r, 422, Some("settings.api_key"));
    let r = h
        .post("/registrar-accounts", json!({"name": "nc2", "type": "namecheap", "settings": {"api_user": "ann", "api_key": "k3y-k3y-k3y", "client_ip": "localhost"}}))
        .await;
    assert_problem(&r, 422, Some("settings"));
    assert!(
        r.body["detail"].as_str().unwrap().contains("client_ip"),
        "{}",
        r.body
    );
    let r = h
        .post("/registrar-accounts", json!({"name": "x", "type": "gandi"}))
        .await;
    assert_problem(&r, 422, Some("type"));
    let r = h
        .post(
            "/registrar-accounts",
            json!({"name": "s2", "type": "sandbox", "settings": {"path": "/etc/passwd"}}),
        )
        .await;
    assert_problem(&r, 422, Some("settings.path"));
    let r = h
        .post(
            "/registrar-accounts",
            json!({"name": "nc-main", "type": "sandbox"}),
        )
        .await;
    assert_problem(&r, 409, Some("name"));
    let r = h
        .put(
            "/registrar-tlds/shop.example.com",
            json!({"account_id": nc}),
        )
        .await;
    assert_problem(&r, 422, Some("tld"));
    let r = h
        .put(
            "/registrar-tlds/dev",
            json!({"account_id": "rga_00000000000000000000000000000000"}),
        )
        .await;
    assert_problem(&r, 422, Some("account_id"));
    let r = h
        .put("/registrar-tlds/dev", json!({"account_id": nc}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // Staff may look, only administrators may change; a client user may do neither.
    let (client, _) = h.client_with_contact(&h.token, "Fay").await;
    let (_, client_token) = user_token(&h, "fay-user@example.com", &client).await;
    let r = h
        .send(
            reqwest::Method::GET,
            "/registrar-accounts",
            &client_token,
            None,
        )
        .await;
    assert_problem(&r, 403, None);

    let r = h
        .send(
            reqwest::Method::DELETE,
            &format!("/registrar-accounts/{nc}"),
            &h.token,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let tlds = h.get("/registrar-tlds").await.body.to_string();
    assert!(
        !tlds.contains("xyz"),
        "the account's TLDs went with it: {tlds}"
    );
}

async fn the_api_document_names_every_domain_operation(t: TestDb) {
    let h = Harness::new(t, false).await;
    let doc = h
        .http
        .get(format!("{}/api/v1/openapi.json", h.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for id in [
        "checkDomains",
        "registerDomain",
        "listDomains",
        "getDomain",
        "renewDomain",
        "transferDomain",
        "getDomainTransfer",
        "updateNameservers",
        "updateDomainContacts",
        "setDomainLock",
        "setDomainPrivacy",
        "getDomainAuthCode",
        "suspendDomain",
        "unsuspendDomain",
        "listDomainOperations",
        "restoreDomain",
        "setDomainAutoRenew",
        "syncDomain",
        "listDomainDrift",
        "listDrift",
        "getDomainSettings",
        "updateDomainSettings",
        "setTldRenewalSetting",
        "deleteTldRenewalSetting",
        "runRenewalSweep",
        "getRegistrarSync",
        "updateRegistrarSync",
        "importRegistrarDomains",
        "createContact",
        "listContacts",
        "getContact",
        "updateContact",
        "deleteContact",
        "createRegistrarAccount",
        "listRegistrarAccounts",
        "deleteRegistrarAccount",
        "setTldRegistrar",
        "listTldRegistrars",
    ] {
        assert!(
            doc.contains(&format!("\"operationId\":\"{id}\"")),
            "{id} missing"
        );
    }
}

async fn other_tenant(h: &Harness, slug: &str) -> String {
    let r = h
        .post(
            "/tenants",
            json!({"name": slug, "slug": slug, "admin_email": format!("admin@{slug}.test")}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let admin: panel1_core::UserId = r.body["admin"]["id"].as_str().unwrap().parse().unwrap();
    let tenant: panel1_core::TenantId = r.body["tenant"]["id"].as_str().unwrap().parse().unwrap();
    let mut tx = h.app.db.begin().await.unwrap();
    let (secret, hash) = panel1_core::crypto::new_api_token().unwrap();
    panel1_store::tokens::insert(tx.conn(), &tenant, &admin, "t", &hash, "p1_", None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    secret.expose().to_owned()
}

async fn user_token(h: &Harness, email: &str, client: &str) -> (String, String) {
    let r = h
        .post(
            "/users",
            json!({"email": email, "name": email, "role": "client", "client_id": client}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let user = r.body["id"].as_str().unwrap().to_owned();
    let r = h
        .post("/tokens", json!({"name": "t", "user_id": user}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (user, r.body["secret"].as_str().unwrap().to_owned())
}

db_tests!(
    check_register_and_renew_exactly_once,
    the_same_renewal_asked_twice_is_one_operation,
    transfer_in_with_a_wrong_then_the_right_auth_code,
    changes_show_in_get_domain_and_in_the_registry,
    bad_input_is_refused_naming_the_field_and_changes_nothing,
    registrar_accounts_keep_credentials_sealed,
    the_api_document_names_every_domain_operation,
);
