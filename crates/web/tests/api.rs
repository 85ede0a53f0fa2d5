//! The HTTP API, black-box, on SQLite and PostgreSQL: tenancy and client isolation, tokens,
//! problem documents for bad input, idempotency keys, jobs and schedules, the audit log,
//! signed webhook deliveries with retries in order, the OpenAPI document and metrics.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{TestApp, assert_problem};
use panel1_store::db_tests;
use panel1_store::testing::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn foreign_tenant_objects_answer_404_like_missing_ones(t: TestDb) {
    let app = TestApp::new(t).await;
    let mine = app.client(&app.token, "Ann").await;
    let other_admin = app.other_tenant("other").await;
    let theirs = app.client(&other_admin, "Eve").await;

    let foreign = app
        .get(&format!("/api/v1/clients/{theirs}"), &app.token)
        .await;
    let missing = app
        .get(
            "/api/v1/clients/cli_00000000000000000000000000000000",
            &app.token,
        )
        .await;
    assert_problem(&foreign, 404, None);
    assert_problem(&missing, 404, None);
    assert_eq!(foreign.body["type"], missing.body["type"]);
    assert_eq!(foreign.body["title"], missing.body["title"]);
    let garbage = app.get("/api/v1/clients/not-an-id", &app.token).await;
    assert_problem(&garbage, 404, None);

    let r = app
        .patch(
            &format!("/api/v1/clients/{theirs}"),
            &app.token,
            json!({"name": "Mallory"}),
        )
        .await;
    assert_problem(&r, 404, None);
    let r = app
        .get(&format!("/api/v1/clients/{theirs}"), &other_admin)
        .await;
    assert_eq!(
        (r.status, r.body["name"].as_str()),
        (StatusCode::OK, Some("Eve")),
        "the rename did not happen"
    );

    let list = app.get("/api/v1/clients", &other_admin).await;
    let ids: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [theirs.as_str()]);
    assert!(!ids.contains(&mine.as_str()));
    // The other tenant's admin is not an operator.
    assert_problem(&app.get("/api/v1/tenants", &other_admin).await, 403, None);
}

async fn a_client_token_sees_only_its_own_client(t: TestDb) {
    let app = TestApp::new(t).await;
    let ann = app.client(&app.token, "Ann").await;
    let bob = app.client(&app.token, "Bob").await;
    let (_, ann_token) = app
        .user_token(&app.token, "ann@client.test", "client", Some(&ann))
        .await;

    let list = app.get("/api/v1/clients", &ann_token).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["total"], 1);
    assert_eq!(list.body["items"][0]["id"], ann.as_str());
    assert_problem(
        &app.get(&format!("/api/v1/clients/{bob}"), &ann_token).await,
        404,
        None,
    );
    assert_eq!(
        app.get(&format!("/api/v1/clients/{ann}"), &ann_token)
            .await
            .status,
        StatusCode::OK
    );
    // Staff-only operations are refused, and nothing changes.
    assert_problem(
        &app.post(
            "/api/v1/clients",
            &ann_token,
            json!({"name": "X", "email": "x@example.com"}),
        )
        .await,
        403,
        None,
    );
    assert_problem(
        &app.patch(
            &format!("/api/v1/clients/{ann}"),
            &ann_token,
            json!({"name": "X"}),
        )
        .await,
        403,
        None,
    );
    assert_problem(&app.get("/api/v1/audit", &ann_token).await, 403, None);
    assert_problem(&app.get("/api/v1/jobs", &ann_token).await, 403, None);
    let users = app.get("/api/v1/users", &ann_token).await;
    assert_eq!(
        users.body["total"], 1,
        "a client user sees only its client's users: {}",
        users.body
    );
}

async fn tokens_of_deleted_users_and_revoked_tokens_are_refused(t: TestDb) {
    let app = TestApp::new(t).await;
    let (user_id, token) = app
        .user_token(&app.token, "staff@x.test", "staff", None)
        .await;
    assert_eq!(app.get("/api/v1/me", &token).await.status, StatusCode::OK);
    assert_eq!(
        app.delete(&format!("/api/v1/users/{user_id}"), &app.token)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_problem(&app.get("/api/v1/me", &token).await, 401, None);
    assert_problem(&app.get("/api/v1/clients", &token).await, 401, None);

    let (_, t2) = app
        .user_token(&app.token, "staff2@x.test", "staff", None)
        .await;
    let tokens = app.get("/api/v1/tokens", &app.token).await;
    let listed = serde_json::to_string(&tokens.body).unwrap();
    assert!(!listed.contains(&t2), "token secrets are never listed");
    let tid = app.get("/api/v1/me", &t2).await.body["token_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.delete(&format!("/api/v1/tokens/{tid}"), &t2)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_problem(&app.get("/api/v1/me", &t2).await, 401, None);
    assert_problem(
        &app.send(Method::GET, "/api/v1/me", None, None, &[]).await,
        401,
        None,
    );
    assert_problem(&app.get("/api/v1/me", "p1_0000").await, 401, None);
}

async fn bad_input_answers_4xx_problems_naming_the_field(t: TestDb) {
    let app = TestApp::new(t).await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"name": 5, "email": "a@b.co"}), 422, "name"),
        (
            json!({"name": "A", "email": "a@b.co", "colour": "red"}),
            422,
            "colour",
        ),
        (json!({"email": "a@b.co"}), 422, "name"),
        (json!({"name": "  ", "email": "a@b.co"}), 422, "name"),
        (json!({"name": "A", "email": "not-an-email"}), 422, "email"),
        (
            json!({"name": "A", "email": "a@b.co", "country": "Netherlands"}),
            422,
            "country",
        ),
        (
            json!({"name": "A", "email": "a@b.co", "phone": "call me"}),
            422,
            "phone",
        ),
        (
            json!({"name": "A", "email": "a@b.co", "status": "gone"}),
            422,
            "status",
        ),
        (json!([1, 2]), 422, ""),
    ];
    for (body, status, field) in cases {
        let r = app.post("/api/v1/clients", &app.token, body.clone()).await;
        assert_problem(
            &r,
            status,
            if field.is_empty() { None } else { Some(field) },
        );
    }
    // Every error at once.
    let r = app
        .post(
            "/api/v1/clients",
            &app.token,
            json!({"name": "", "email": "x", "country": "XYZ"}),
        )
        .await;
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "email", "country"]);

    let raw = |body: &'static str, ct: &'static str| {
        let http = app.http.clone();
        let url = format!("{}/api/v1/clients", app.url);
        let token = app.token.clone();
        async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .header("content-type", ct)
                .body(body)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.headers().get("content-type").cloned(),
                r.text().await.unwrap(),
            )
        }
    };
    let (s, ct, _) = raw("{not json", "application/json").await;
    assert_eq!(
        (s, ct.unwrap()),
        (400, "application/problem+json".parse().unwrap())
    );
    let (s, _, _) = raw("name=x", "application/x-www-form-urlencoded").await;
    assert_eq!(s, 415);
    let big = "x".repeat(3 * 1024 * 1024);
    let r = app
        .http
        .post(format!("{}/api/v1/clients", app.url))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        // The server answers 413 without reading the body and drops the connection; without
        // this the client could pool it and send the next request into the closed socket.
        .header("connection", "close")
        .body(format!("{{\"name\":\"{big}\",\"email\":\"a@b.co\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);

    for (q, field) in [
        ("page=0", "page"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("page=abc", "page"),
        ("limit=-1", "limit"),
        ("sort=name", "sort"),
    ] {
        let r = app.get(&format!("/api/v1/clients?{q}"), &app.token).await;
        assert!(r.status.is_client_error(), "{q}: {}", r.status);
        assert_problem(&r, r.status.as_u16(), Some(field));
    }
    assert_problem(
        &app.get("/api/v1/jobs?status=exploded", &app.token).await,
        400,
        Some("status"),
    );
    assert_problem(&app.get("/api/v1/nowhere", &app.token).await, 404, None);
    assert_problem(
        &app.send(Method::PUT, "/api/v1/clients", Some(&app.token), None, &[])
            .await,
        405,
        None,
    );

    // None of the refused requests created anything.
    let list = app.get("/api/v1/clients", &app.token).await;
    assert_eq!(list.body["total"], 0);
}

async fn pagination_counts_and_pages(t: TestDb) {
    let app = TestApp::new(t).await;
    for i in 0..25 {
        app.client(&app.token, &format!("C{i:02}")).await;
    }
    let r = app.get("/api/v1/clients?page=2&limit=10", &app.token).await;
    assert_eq!(
        (
            r.body["total"].as_u64(),
            r.body["page"].as_u64(),
            r.body["limit"].as_u64()
        ),
        (Some(25), Some(2), Some(10))
    );
    let names: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (5..15).rev().map(|i| format!("C{i:02}")).collect();
    assert_eq!(names, expected, "newest first, the whole page in order");
    let r = app.get("/api/v1/clients?search=c0", &app.token).await;
    assert_eq!(r.body["total"], 10);
}

async fn idempotency_keys_make_retries_safe(t: TestDb) {
    let app = TestApp::new(t).await;
    let body = json!({"name": "Ann", "email": "ann@example.com"});
    let h = [("idempotency-key", "k-123")];
    let a = app
        .send(
            Method::POST,
            "/api/v1/clients",
            Some(&app.token),
            Some(body.clone()),
            &h,
        )
        .await;
    let b = app
        .send(
            Method::POST,
            "/api/v1/clients",
            Some(&app.token),
            Some(body.clone()),
            &h,
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(b.status, StatusCode::CREATED);
    assert_eq!(a.body["id"], b.body["id"], "the same response");
    assert_eq!(b.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(
        app.get("/api/v1/clients", &app.token).await.body["total"],
        1,
        "created once"
    );
    let c = app
        .send(
            Method::POST,
            "/api/v1/clients",
            Some(&app.token),
            Some(json!({"name": "Bob", "email": "b@example.com"})),
            &h,
        )
        .await;
    assert_problem(&c, 422, Some("Idempotency-Key"));
    // A refused request is replayed as refused, and still changes nothing.
    let h2 = [("idempotency-key", "k-bad")];
    let bad = app
        .send(
            Method::POST,
            "/api/v1/clients",
            Some(&app.token),
            Some(json!({"name": ""})),
            &h2,
        )
        .await;
    let again = app
        .send(
            Method::POST,
            "/api/v1/clients",
            Some(&app.token),
            Some(json!({"name": ""})),
            &h2,
        )
        .await;
    assert_eq!((bad.status.as_u16(), again.status.as_u16()), (422, 422));
    assert_eq!(
        app.get("/api/v1/clients", &app.token).await.body["total"],
        1
    );
}

async fn changes_are_in_the_audit_log_per_object(t: TestDb) {
    let app = TestApp::new(t).await;
    let id = app.client(&app.token, "Ann").await;
    app.patch(
        &format!("/api/v1/clients/{id}"),
        &app.token,
        json!({"city": "Utrecht"}),
    )
    .await;
    let r = app
        .get(
            &format!("/api/v1/audit?object_type=client&object_id={id}"),
            &app.token,
        )
        .await;
    let items = r.body["items"].as_array().unwrap();
    let actions: Vec<&str> = items
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["client.update", "client.create"]);
    assert_eq!(items[0]["before"]["city"], Value::Null);
    assert_eq!(items[0]["after"]["city"], "Utrecht");
    assert_eq!(items[0]["actor"]["kind"], "token");
    let me = app.get("/api/v1/me", &app.token).await;
    assert_eq!(items[0]["actor"]["id"], me.body["user_id"]);
    assert_eq!(items[0]["actor"]["token_id"], me.body["token_id"]);
}

/// What a receiver got: the parsed body, the headers and the raw body bytes.
type Received = Arc<Mutex<Vec<(Value, axum::http::HeaderMap, Vec<u8>)>>>;

/// A webhook receiver that records deliveries and fails the first `fail_first` of them.
async fn receiver(fail_first: usize) -> (String, Received) {
    let got: Received = Arc::default();
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let g = got.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let g = g.clone();
                let seen = seen.clone();
                async move {
                    if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < fail_first {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    g.lock().unwrap().push((
                        serde_json::from_slice(&body).unwrap(),
                        headers,
                        body.to_vec(),
                    ));
                    StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, router).await.unwrap() });
    (format!("http://{addr}/hook"), got)
}

async fn webhooks_are_signed_and_delivered_in_order_per_object(t: TestDb) {
    let app = TestApp::new(t).await;
    app.start_background();
    let (url, got) = receiver(0).await;
    let r = app
        .post(
            "/api/v1/webhooks",
            &app.token,
            json!({"url": url, "events": ["client.*"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let secret = panel1_core::SecretString::new(r.body["secret"].as_str().unwrap());
    let hook_id = r.body["id"].as_str().unwrap().to_owned();
    assert!(
        !serde_json::to_string(&app.get("/api/v1/webhooks", &app.token).await.body)
            .unwrap()
            .contains(secret.expose())
    );

    let id = app.client(&app.token, "Ann").await;
    for city in ["A", "B", "C"] {
        app.patch(
            &format!("/api/v1/clients/{id}"),
            &app.token,
            json!({"city": city}),
        )
        .await;
    }
    wait("four deliveries", || got.lock().unwrap().len() == 4).await;
    let got = got.lock().unwrap().clone();
    let kinds: Vec<&str> = got
        .iter()
        .map(|(b, _, _)| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "client.created",
            "client.updated",
            "client.updated",
            "client.updated"
        ]
    );
    let cities: Vec<&str> = got[1..]
        .iter()
        .map(|(b, _, _)| b["data"]["city"].as_str().unwrap())
        .collect();
    assert_eq!(cities, ["A", "B", "C"], "in order per object");
    for (body, headers, raw) in &got {
        let ts: i64 = headers["panel1-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let sig = headers["panel1-signature"]
            .to_str()
            .unwrap()
            .strip_prefix("v1=")
            .unwrap();
        assert!(
            panel1_core::crypto::verify_webhook(&secret, ts, raw, sig),
            "signature verifies"
        );
        assert!(
            !panel1_core::crypto::verify_webhook(&secret, ts + 1, raw, sig),
            "the timestamp is signed too"
        );
        assert_eq!(headers["panel1-event"], body["type"].as_str().unwrap());
        assert_eq!(body["object"]["id"], id.as_str());
    }
    // The receiver answers before the worker records the attempt: wait for the log too.
    let log_url = format!("/api/v1/webhooks/{hook_id}/deliveries");
    wait_for(
        "four logged deliveries",
        Duration::from_secs(10),
        || async { app.get(&log_url, &app.token).await.body["total"] == 4 },
    )
    .await;
    let log = app.get(&log_url, &app.token).await;
    assert_eq!(log.body["total"], 4);
    assert!(
        log.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["outcome"] == "delivered" && d["response_status"] == 204)
    );
}

async fn failed_webhook_deliveries_are_retried_and_logged(t: TestDb) {
    let app = TestApp::new(t).await;
    app.start_background();
    let (url, got) = receiver(1).await;
    let r = app
        .post(
            "/api/v1/webhooks",
            &app.token,
            json!({"url": url, "events": ["*"]}),
        )
        .await;
    let hook_id = r.body["id"].as_str().unwrap().to_owned();
    app.client(&app.token, "Ann").await;
    // The first attempt fails (HTTP 500); the retry comes after the 10 s backoff.
    wait_for(
        "a failed attempt is logged",
        Duration::from_secs(20),
        || async {
            app.get(
                &format!("/api/v1/webhooks/{hook_id}/deliveries"),
                &app.token,
            )
            .await
            .body["total"]
                == 1
        },
    )
    .await;
    let log = app
        .get(
            &format!("/api/v1/webhooks/{hook_id}/deliveries"),
            &app.token,
        )
        .await;
    assert_eq!(log.body["items"][0]["outcome"], "failed");
    assert_eq!(log.body["items"][0]["response_status"], 500);
    wait_for("the retry delivers", Duration::from_secs(30), || async {
        got.lock().unwrap().len() == 1
    })
    .await;
    let log = app
        .get(
            &format!("/api/v1/webhooks/{hook_id}/deliveries"),
            &app.token,
        )
        .await;
    let attempts: Vec<(i64, &str)> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["attempt"].as_i64().unwrap(),
                d["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(attempts, [(2, "delivered"), (1, "failed")]);
}

async fn dead_jobs_are_listed_and_retried(t: TestDb) {
    let app = TestApp::new(t).await;
    // A job kind no worker knows, with one attempt, becomes a dead letter.
    let mut job = panel1_store::jobs::NewJob::new("test::unknown", json!({}));
    job.max_attempts = 1;
    job.tenant_id = Some(
        app.get("/api/v1/me", &app.token).await.body["tenant_id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    );
    let mut tx = app.app.db.begin().await.unwrap();
    let id = panel1_store::jobs::enqueue(&mut tx, &job)
        .await
        .unwrap()
        .id()
        .clone();
    tx.commit().await.unwrap();
    app.start_background();
    wait_for("the job is dead", Duration::from_secs(20), || async {
        app.get("/api/v1/jobs?status=dead", &app.token).await.body["total"] == 1
    })
    .await;
    let j = app.get(&format!("/api/v1/jobs/{id}"), &app.token).await;
    assert_eq!(j.body["status"], "dead");
    assert!(
        j.body["last_error"]
            .as_str()
            .unwrap()
            .contains("no handler"),
        "{}",
        j.body
    );
    let r = app
        .post(&format!("/api/v1/jobs/{id}/retry"), &app.token, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["attempts"], 0);
    let again = app
        .post(&format!("/api/v1/jobs/{id}/retry"), &app.token, json!({}))
        .await;
    assert!(
        again.status == StatusCode::CONFLICT || again.status == StatusCode::OK,
        "retrying a job that is no longer dead: {}",
        again.status
    );

    let other = app.other_tenant("other").await;
    assert_problem(
        &app.get(&format!("/api/v1/jobs/{id}"), &other).await,
        404,
        None,
    );
    let s = app.get("/api/v1/schedules", &app.token).await;
    assert!(
        s.body
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "system.prune"),
        "{}",
        s.body
    );
    let r = app
        .patch(
            "/api/v1/schedules/system.prune",
            &app.token,
            json!({"cron": "every day"}),
        )
        .await;
    assert_problem(&r, 422, Some("cron"));
    let r = app
        .patch(
            "/api/v1/schedules/system.prune",
            &app.token,
            json!({"cron": "0 4 * * *"}),
        )
        .await;
    assert_eq!(r.body["cron"], "0 4 * * *");
    assert_problem(
        &app.patch(
            "/api/v1/schedules/system.prune",
            &other,
            json!({"enabled": false}),
        )
        .await,
        403,
        None,
    );
}

async fn openapi_health_and_metrics(t: TestDb) {
    let app = TestApp::new(t).await;
    let doc = app
        .send(Method::GET, "/api/v1/openapi.json", None, None, &[])
        .await;
    assert_eq!(doc.body["openapi"].as_str().unwrap().get(..3), Some("3.1"));
    let mut ops: Vec<String> = Vec::new();
    for (_, item) in doc.body["paths"].as_object().unwrap() {
        for (_, op) in item.as_object().unwrap() {
            if let Some(id) = op.get("operationId") {
                ops.push(id.as_str().unwrap().to_owned());
            }
        }
    }
    for expected in [
        "listClients",
        "createClient",
        "getClient",
        "updateClient",
        "createUser",
        "listUsers",
        "deleteUser",
        "createToken",
        "listTokens",
        "revokeToken",
        "listAuditLog",
        "listJobs",
        "getJob",
        "retryJob",
        "listSchedules",
        "createWebhook",
        "listWebhooks",
        "deleteWebhook",
        "listWebhookDeliveries",
        "createTenant",
    ] {
        assert!(
            ops.iter().any(|o| o == expected),
            "operationId {expected} missing from {ops:?}"
        );
    }
    assert!(
        ops.iter()
            .all(|o| o.chars().next().unwrap().is_ascii_lowercase() && !o.contains('_')),
        "lowerCamelCase: {ops:?}"
    );
    assert_eq!(
        app.send(Method::GET, "/healthz", None, None, &[])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.send(Method::GET, "/readyz", None, None, &[])
            .await
            .status,
        StatusCode::OK
    );
    app.get("/api/v1/clients", &app.token).await;
    let m = app.send(Method::GET, "/metrics", None, None, &[]).await;
    let text = m.body.as_str().unwrap().to_owned();
    assert!(text.contains("panel1_http_requests_total"), "{text}");
    assert!(text.contains("panel1_jobs{"), "{text}");
    assert!(text.contains("panel1_outbox_undispatched"), "{text}");
}

async fn wait(what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for<F, Fut>(what: &str, timeout: Duration, f: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !f().await {
        assert!(start.elapsed() < timeout, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

db_tests!(
    foreign_tenant_objects_answer_404_like_missing_ones,
    a_client_token_sees_only_its_own_client,
    tokens_of_deleted_users_and_revoked_tokens_are_refused,
    bad_input_answers_4xx_problems_naming_the_field,
    pagination_counts_and_pages,
    idempotency_keys_make_retries_safe,
    changes_are_in_the_audit_log_per_object,
    webhooks_are_signed_and_delivered_in_order_per_object,
    failed_webhook_deliveries_are_retried_and_logged,
    dead_jobs_are_listed_and_retried,
    openapi_health_and_metrics,
);
