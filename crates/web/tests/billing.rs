//! Billing through the API on SQLite and PostgreSQL: TLD prices (markup, endings, below-cost
//! warnings, CSV import that refuses a bad file whole), invoices and credit (a payment that
//! arrives twice, or ten at once, pays once), and invoice e-mails delivered to a real SMTP sink.

mod common;

use std::time::Duration;

use common::{TestApp, assert_problem};
use panel1_app::billing::{self, Charge};
use panel1_app::testing::SmtpSink;
use panel1_core::money::{Currency, Money};
use panel1_store::db_tests;
use panel1_store::testing::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn prices_from_markup_with_endings_and_warnings(t: TestDb) {
    let app = TestApp::new(t).await;
    let r = app
        .send(Method::PUT, "/api/v1/tld-prices", Some(&app.token), Some(json!({"tld": ".COM", "operation": "register", "currency": "usd", "cost": "8.50", "markup": {"kind": "percent", "basis_points": 2500}, "ending": 99})), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (
            r.body["tld"].as_str(),
            r.body["price"].as_i64(),
            r.body["cost"].as_i64()
        ),
        (Some("com"), Some(1099), Some(850))
    );
    assert_eq!(r.body["warnings"], json!([]));
    let r = app.send(Method::PUT, "/api/v1/tld-prices", Some(&app.token), Some(json!({"tld": "com", "operation": "renew", "currency": "USD", "price": "7.00", "cost": "8.50"})), &[]).await;
    assert!(
        r.body["warnings"][0].as_str().unwrap().contains("below"),
        "{}",
        r.body
    );

    for (body, field) in [
        (
            json!({"tld": "com", "operation": "sell", "currency": "USD", "price": "1"}),
            "operation",
        ),
        (
            json!({"tld": "com", "operation": "renew", "currency": "US", "price": "1"}),
            "currency",
        ),
        (
            json!({"tld": "com", "operation": "renew", "currency": "USD", "price": "1.234"}),
            "price",
        ),
        (
            json!({"tld": "com", "operation": "renew", "currency": "USD", "years": 11, "price": "1"}),
            "years",
        ),
        (
            json!({"tld": "com", "operation": "renew", "currency": "USD"}),
            "price",
        ),
        (
            json!({"tld": "c om", "operation": "renew", "currency": "USD", "price": "1"}),
            "tld",
        ),
    ] {
        assert_problem(
            &app.send(
                Method::PUT,
                "/api/v1/tld-prices",
                Some(&app.token),
                Some(body),
                &[],
            )
            .await,
            422,
            Some(field),
        );
    }

    let csv = |body: &'static str| {
        let http = app.http.clone();
        let url = format!("{}/api/v1/tld-prices/import", app.url);
        let token = app.token.clone();
        async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .header("content-type", "text/csv")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (s, b) = csv("tld,operation,years,currency,price,cost\nnet,register,1,USD,12.00,9.00\nnet,renew,x,USD,12.00,\norg,transfer,1,USD,abc,\n").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let fields: Vec<&str> = b["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["line 3", "line 4"]);
    let listed = app.get("/api/v1/tld-prices?tld=net", &app.token).await;
    assert_eq!(listed.body["total"], 0, "a bad file imports nothing");
    let (s, b) = csv("tld,operation,years,currency,price,cost\nnet,register,1,USD,12.00,9.00\nnet,renew,2,USD,20.00,25.00\n").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["imported"], 2);
    assert_eq!(
        b["warnings"].as_array().unwrap().len(),
        1,
        "renewing below cost: {b}"
    );
    assert_eq!(
        app.get("/api/v1/tld-prices?tld=net", &app.token).await.body["total"],
        2
    );
}

/// Invoices `amount` to `client` for a made-up piece of work with `key`.
async fn invoice(app: &TestApp, client: &str, amount: i64, key: &str) -> String {
    let tenant: panel1_core::TenantId = app.get("/api/v1/me", &app.token).await.body["tenant_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut tx = app.app.db.begin().await.unwrap();
    let (id, _) = billing::invoice(
        &app.app,
        &mut tx,
        &tenant,
        &client.parse().unwrap(),
        Charge {
            description: format!("Renewal {key}"),
            amount: Money::new(amount, Currency::USD),
            object_type: "domain".into(),
            object_id: key.into(),
            operation: "renew".into(),
            term_years: Some(1),
            billing_key: format!("domain:{key}:renew:2027"),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id.to_string()
}

async fn an_invoice_is_paid_from_credit_exactly_once(t: TestDb) {
    let app = TestApp::new(t).await;
    let ann = app.client(&app.token, "Ann").await;
    let bob = app.client(&app.token, "Bob").await;
    let inv = invoice(&app, &ann, 1299, "dom_a").await;
    // The same work invoiced again is the same invoice.
    assert_eq!(invoice(&app, &ann, 1299, "dom_a").await, inv);
    let (_, ann_token) = app
        .user_token(&app.token, "ann@client.test", "client", Some(&ann))
        .await;
    let (_, bob_token) = app
        .user_token(&app.token, "bob@client.test", "client", Some(&bob))
        .await;

    let got = app
        .get(&format!("/api/v1/invoices/{inv}"), &ann_token)
        .await;
    assert_eq!(
        (got.body["status"].as_str(), got.body["total"].as_i64()),
        (Some("unpaid"), Some(1299))
    );
    assert_eq!(got.body["lines"][0]["operation"], "renew");
    assert_problem(
        &app.get(&format!("/api/v1/invoices/{inv}"), &bob_token)
            .await,
        404,
        None,
    );
    assert_eq!(
        app.get("/api/v1/invoices", &bob_token).await.body["total"],
        0
    );
    assert_problem(
        &app.post(
            &format!("/api/v1/invoices/{inv}/pay"),
            &bob_token,
            json!({}),
        )
        .await,
        404,
        None,
    );

    let r = app
        .post(
            &format!("/api/v1/invoices/{inv}/pay"),
            &ann_token,
            json!({}),
        )
        .await;
    assert_problem(&r, 409, Some("credit"));
    assert!(
        r.body["detail"].as_str().unwrap().contains("add credit"),
        "{}",
        r.body
    );

    assert_problem(
        &app.post(
            &format!("/api/v1/clients/{ann}/credit"),
            &app.token,
            json!({"amount": "-5", "currency": "USD"}),
        )
        .await,
        422,
        Some("amount"),
    );
    assert_problem(
        &app.post(
            &format!("/api/v1/clients/{ann}/credit"),
            &ann_token,
            json!({"amount": "5", "currency": "USD"}),
        )
        .await,
        403,
        None,
    );
    let c = app
        .post(
            &format!("/api/v1/clients/{ann}/credit"),
            &app.token,
            json!({"amount": "20.00", "currency": "USD", "note": "bank transfer"}),
        )
        .await;
    assert_eq!(
        (c.status, c.body["balance_after"].as_i64()),
        (StatusCode::CREATED, Some(2000))
    );

    // Ten payments at once: one pays, the others are told it is paid; the credit moves once.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let http = app.http.clone();
        let url = format!("{}/api/v1/invoices/{inv}/pay", app.url);
        let token = ann_token.clone();
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    codes.sort_unstable();
    assert_eq!(
        codes.iter().filter(|c| **c == 200).count(),
        1,
        "exactly one payment succeeds: {codes:?}"
    );
    assert!(codes.iter().all(|c| *c == 200 || *c == 409), "{codes:?}");

    let credit = app
        .get(&format!("/api/v1/clients/{ann}/credit"), &ann_token)
        .await;
    assert_eq!(
        credit.body["balances"],
        json!([{"amount": 701, "currency": "USD"}])
    );
    let kinds: Vec<&str> = credit.body["ledger"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["invoice_payment", "credit"]);
    let paid = app
        .get(&format!("/api/v1/invoices/{inv}"), &app.token)
        .await;
    assert_eq!(paid.body["status"], "paid");
    assert!(paid.body["paid_at"].is_string());
    assert_problem(
        &app.post(
            &format!("/api/v1/invoices/{inv}/void"),
            &app.token,
            json!({}),
        )
        .await,
        409,
        None,
    );

    // Voiding frees the work to be invoiced again.
    let other = invoice(&app, &bob, 500, "dom_b").await;
    assert_eq!(
        app.post(
            &format!("/api/v1/invoices/{other}/void"),
            &app.token,
            json!({})
        )
        .await
        .body["status"],
        "void"
    );
    assert_ne!(invoice(&app, &bob, 500, "dom_b").await, other);
    let audit = app
        .get(
            &format!("/api/v1/audit?object_type=invoice&object_id={inv}"),
            &app.token,
        )
        .await;
    assert_eq!(audit.body["items"][0]["action"], "invoice.pay");
}

async fn invoice_emails_reach_a_real_smtp_server_with_tenant_templates(t: TestDb) {
    let sink = SmtpSink::start();
    let app = TestApp::with_env(
        t,
        &[
            ("PANEL1_SMTP_URL", &sink.url()),
            ("PANEL1_SMTP_FROM", "Billing <billing@host.test>"),
        ],
    )
    .await;
    app.start_background();
    let ann = app.client(&app.token, "Ann").await;
    let r = app
        .send(Method::PUT, "/api/v1/email-templates/invoice", Some(&app.token), Some(json!({"subject": "Your bill {{ number }} ({{ total }})", "body": "Dear {{ client_name }}, please pay {{ total }}."})), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_problem(
        &app.send(
            Method::PUT,
            "/api/v1/email-templates/invoice",
            Some(&app.token),
            Some(json!({"subject": "{{ broken", "body": "x"})),
            &[],
        )
        .await,
        422,
        Some("subject"),
    );
    assert_problem(
        &app.send(
            Method::PUT,
            "/api/v1/email-templates/nope",
            Some(&app.token),
            Some(json!({"subject": "x", "body": "x"})),
            &[],
        )
        .await,
        404,
        None,
    );
    let inv = invoice(&app, &ann, 1500, "dom_mail").await;
    let msgs = sink.wait_for(1, Duration::from_secs(30)).await;
    assert!(msgs[0].contains("Subject: Your bill 20"), "{}", msgs[0]);
    assert!(msgs[0].contains("15.00 USD"), "{}", msgs[0]);
    assert!(msgs[0].contains("To: ann@example.com"), "{}", msgs[0]);
    assert!(msgs[0].contains("billing@host.test"), "{}", msgs[0]);
    let emails = app
        .get(
            &format!("/api/v1/emails?object_type=invoice&object_id={inv}"),
            &app.token,
        )
        .await;
    assert_eq!(emails.body["total"], 1);
    assert_eq!(emails.body["items"][0]["status"], "sent");
    assert_eq!(emails.body["items"][0]["template"], "invoice");
    assert!(emails.body["items"][0]["sent_at"].is_string());
}

async fn emails_are_retried_when_the_smtp_server_is_down(t: TestDb) {
    // Nothing listens on this port until the sink starts below.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::with_env(
        t,
        &[("PANEL1_SMTP_URL", &format!("smtp://127.0.0.1:{port}"))],
    )
    .await;
    app.start_background();
    let ann = app.client(&app.token, "Ann").await;
    let inv = invoice(&app, &ann, 1500, "dom_retry").await;
    let start = std::time::Instant::now();
    loop {
        let e = app
            .get(&format!("/api/v1/emails?object_id={inv}"), &app.token)
            .await;
        if e.body["items"][0]["status"] == "failed" {
            assert!(
                e.body["items"][0]["last_error"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty())
            );
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{}", e.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let jobs = app.get("/api/v1/jobs?kind=email::send", &app.token).await;
    assert_eq!(
        jobs.body["items"][0]["status"], "ready",
        "the send is retried: {}",
        jobs.body
    );
    assert_eq!(jobs.body["items"][0]["attempts"], 1);
}

db_tests!(
    prices_from_markup_with_endings_and_warnings,
    an_invoice_is_paid_from_credit_exactly_once,
    invoice_emails_reach_a_real_smtp_server_with_tenant_templates,
    emails_are_retried_when_the_smtp_server_is_down,
);
