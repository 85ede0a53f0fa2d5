//! A `TestApp`: the real router on a free port, over a fresh database (SQLite or PostgreSQL),
//! with an operator token from bootstrap; job workers and the event dispatcher start on demand.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of these helpers"
)]

use std::net::SocketAddr;

use panel1_app::{App, Settings, bootstrap, events, worker};
use panel1_core::crypto::{Keyring, MasterKey};
use panel1_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub struct TestApp {
    pub url: String,
    pub app: App,
    /// Keeps the database alive as long as the app.
    _db: TestDb,
    pub http: reqwest::Client,
    /// The operator of the first tenant.
    pub token: String,
    pub cancel: CancellationToken,
}

pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl TestApp {
    pub async fn new(db: TestDb) -> TestApp {
        Self::with_env(db, &[]).await
    }

    /// A test app with extra settings, as `PANEL1_…` variables (e.g. `PANEL1_SMTP_URL`).
    pub async fn with_env(db: TestDb, env: &[(&str, &str)]) -> TestApp {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let settings = Settings::load(None, |k| match k {
            "PANEL1_HTTP_ADDR" => Some("127.0.0.1:0".into()),
            "PANEL1_DATABASE_URL" => Some(db.url().to_owned()),
            _ => env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
        })
        .unwrap();
        let keyring = Keyring::new(MasterKey::generate().unwrap(), []);
        let app = App::new(db.db.clone(), keyring, settings, worker::handlers()).unwrap();
        let b = bootstrap::run(&app, "test").await.unwrap();
        let cancel = CancellationToken::new();
        let (addr, _task): (SocketAddr, _) =
            panel1_web::serve(app.clone(), "127.0.0.1:0".parse().unwrap(), cancel.clone())
                .await
                .unwrap();
        TestApp {
            url: format!("http://{addr}"),
            app,
            _db: db,
            http: reqwest::Client::new(),
            token: b.token.expose().to_owned(),
            cancel,
        }
    }

    /// Starts job workers and the event dispatcher (stopped with the app).
    pub fn start_background(&self) {
        let mut cfg = worker::runner_config(&self.app);
        cfg.poll_interval = std::time::Duration::from_millis(50);
        worker::runner(&self.app, cfg).start(self.cancel.clone());
        events::start_dispatcher(self.app.clone(), self.cancel.clone());
        panel1_jobs::Scheduler::new(self.app.db.clone(), worker::schedules())
            .start(self.cancel.clone());
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut rb = self.http.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.send(reqwest::Method::GET, path, Some(token), None, &[])
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.send(reqwest::Method::POST, path, Some(token), Some(body), &[])
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.send(reqwest::Method::PATCH, path, Some(token), Some(body), &[])
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.send(reqwest::Method::DELETE, path, Some(token), None, &[])
            .await
    }

    /// Creates a client and returns its id.
    pub async fn client(&self, token: &str, name: &str) -> String {
        let r = self.post("/api/v1/clients", token, serde_json::json!({"name": name, "email": format!("{}@example.com", name.to_lowercase())})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// Creates a user with `role` (and client) and returns a token for it.
    pub async fn user_token(
        &self,
        admin_token: &str,
        email: &str,
        role: &str,
        client_id: Option<&str>,
    ) -> (String, String) {
        let r = self.post("/api/v1/users", admin_token, serde_json::json!({"email": email, "name": email, "role": role, "client_id": client_id})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let user_id = r.body["id"].as_str().unwrap().to_owned();
        let r = self
            .post(
                "/api/v1/tokens",
                admin_token,
                serde_json::json!({"name": "t", "user_id": user_id}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        (user_id, r.body["secret"].as_str().unwrap().to_owned())
    }

    /// A second tenant with its admin's token.
    pub async fn other_tenant(&self, slug: &str) -> String {
        let r = self.post("/api/v1/tenants", &self.token, serde_json::json!({"name": slug, "slug": slug, "admin_email": format!("admin@{slug}.test")})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        let admin_id = r.body["admin"]["id"].as_str().unwrap();
        // Issue a token for the new tenant's admin directly (the operator cannot act inside it).
        let tenant: panel1_core::TenantId =
            r.body["tenant"]["id"].as_str().unwrap().parse().unwrap();
        let mut tx = self.app.db.begin().await.unwrap();
        let (secret, hash) = panel1_core::crypto::new_api_token().unwrap();
        panel1_store::tokens::insert(
            tx.conn(),
            &tenant,
            &admin_id.parse().unwrap(),
            "t",
            &hash,
            "p1_",
            None,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        secret.expose().to_owned()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Asserts a problem+json answer with `status` that names `field` (when given).
pub fn assert_problem(r: &Resp, status: u16, field: Option<&str>) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(
        r.headers.get("content-type").unwrap(),
        "application/problem+json",
        "{}",
        r.body
    );
    assert!(
        r.body["type"]
            .as_str()
            .unwrap()
            .starts_with("https://panel1.dev/problems/"),
        "{}",
        r.body
    );
    assert!(!r.body["detail"].as_str().unwrap().is_empty());
    if let Some(f) = field {
        assert_eq!(r.body["field"], f, "{}", r.body);
    }
}
