//! Certificate products and subscriptions: a paid product invoices one term, the order waits
//! for the payment and goes ahead when the invoice is paid; renewals within the term are
//! covered without another invoice.

use panel1_store::db_tests;
use panel1_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Env, unique};

async fn invoices(env: &Env, client: &str) -> Vec<serde_json::Value> {
    let r = env
        .get(&format!("/api/v1/invoices?client_id={client}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

async fn a_paid_product_waits_for_its_invoice(t: TestDb) {
    let env = Env::start(t).await;
    let client = env.client("Ann").await;

    // Products: checked, then listed.
    let r = env
        .post(
            "/api/v1/certificate-products",
            json!({"name": "Single", "kind": "dv_single", "max_names": 3, "price": "9.99"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "max_names");
    let r = env
        .post(
            "/api/v1/certificate-products",
            json!({"name": "Single", "kind": "dv_single", "price": "9.99", "currency": "EUR", "term_months": 12, "key_type": "ecdsa-p384"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let product = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["price"], 999);
    let list = env.get("/api/v1/certificate-products").await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);

    // More names than the product covers, or a wildcard: refused.
    let r = env
        .post(
            "/api/v1/certificates",
            json!({"client_id": client, "product_id": product, "names": ["a.example.test", "b.example.test"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "names");

    // No credit: the term is invoiced and the order waits.
    let name = format!("{}.example.test", unique("paid"));
    let r = env
        .post(
            "/api/v1/certificates",
            json!({"client_id": client, "product_id": product, "names": [name]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let id = r.body["certificate"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["certificate"]["status"], "awaiting_payment");
    assert_eq!(r.body["certificate"]["key_type"], "ecdsa-p384");
    assert_eq!(r.body["subscription"]["status"], "awaiting_payment");
    assert_eq!(r.body["subscription"]["price"], 999);
    let invoice = r.body["subscription"]["invoice_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let inv = invoices(&env, &client).await;
    assert_eq!(inv.len(), 1);
    assert_eq!(inv[0]["total"], 999);
    assert_eq!(
        inv[0]["lines"][0]["object_type"],
        "certificate_subscription"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let cert = env.get(&format!("/api/v1/certificates/{id}")).await.body;
    assert_eq!(cert["status"], "awaiting_payment", "{cert}");
    assert!(
        cert["order_url"].is_null(),
        "nothing is ordered before payment"
    );

    // The client pays: the order goes ahead at once.
    let r = env
        .post(
            &format!("/api/v1/clients/{client}/credit"),
            json!({"amount": "20.00", "currency": "EUR"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = env
        .post(&format!("/api/v1/invoices/{invoice}/pay"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let cert = env.wait_status(&id, &["issued", "failed"]).await;
    assert_eq!(cert["status"], "issued", "{cert}");
    assert_eq!(cert["subscription"]["status"], "active");

    // A renewal within the term is covered: no new invoice.
    let r = env
        .post(&format!("/api/v1/certificates/{id}/renew"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let renewed = r.body["certificate"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        env.wait_status(&renewed, &["issued", "failed"]).await["status"],
        "issued"
    );
    assert_eq!(invoices(&env, &client).await.len(), 1);

    // With enough credit, a new order is paid at once and never waits.
    let name = format!("{}.example.test", unique("prepaid"));
    let r = env
        .post(
            "/api/v1/certificates",
            json!({"client_id": client, "product_id": product, "names": [name]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["certificate"]["status"], "pending");
    assert_eq!(r.body["subscription"]["status"], "active");
    let subs = env.get("/api/v1/certificate-subscriptions").await;
    assert_eq!(subs.body["total"], 2, "{}", subs.body);
    let inv = invoices(&env, &client).await;
    assert_eq!(inv.len(), 2);
    assert!(inv.iter().all(|i| i["status"] == "paid"), "{inv:?}");
}

db_tests!(a_paid_product_waits_for_its_invoice);
