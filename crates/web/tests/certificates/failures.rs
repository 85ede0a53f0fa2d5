//! DNS-01 by hand and through a CNAME delegation, and the failure paths: a record that is
//! missing, a validation the CA refuses, a CA that cannot be reached, a CAA record that
//! forbids the CA. Each ends in a clear state and message, with no endless retries.

use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::Name;
use hickory_proto::rr::rdata::CAA;
use panel1_app::certificates::dns::{register_zone, unregister_zone};
use panel1_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Env, Options, TestZone, unique};

/// The jobs of a certificate's issuance: (status, attempts).
async fn issue_jobs(env: &Env, id: &str) -> Vec<(String, i64)> {
    let r = env.get("/api/v1/jobs?kind=ssl::issue&limit=100").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["payload"]["certificate_id"] == id)
        .map(|j| {
            (
                j["status"].as_str().unwrap().to_owned(),
                j["attempts"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn emails(env: &Env, template: &str) -> Vec<Value> {
    let r = env.get("/api/v1/emails?limit=100").await;
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["template"] == template)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_dns01_waits_for_the_record_then_issues() {
    let env = Env::start(TestDb::sqlite().await).await;
    let client = env.client("Ann").await;
    let zone = format!("{}.test", unique("manual"));
    env.dns.add_zone(&zone);
    let name = format!("www.{zone}");
    let id = env
        .issue(json!({"client_id": client, "names": [name], "validation_method": "dns-01", "dns_mode": "manual"}))
        .await;
    let cert = env
        .wait_status(&id, &["awaiting_validation", "failed"])
        .await;
    assert_eq!(cert["status"], "awaiting_validation", "{cert}");
    let record = format!("_acme-challenge.{name}");
    let detail = cert["status_detail"].as_str().unwrap();
    let v = &cert["validations"][0];
    let value = v["record_value"].as_str().unwrap().to_owned();
    assert_eq!(v["record_name"], record.as_str());
    assert_eq!(v["dns_mode"], "manual");
    assert_eq!(v["status"], "pending");
    assert!(
        detail.contains(&format!("{record}. 60 IN TXT \"{value}\"")),
        "the exact record is shown: {detail}"
    );
    assert!(
        v["last_error"].as_str().unwrap().contains("not served"),
        "{v}"
    );
    // The client is told what to create, once.
    let mails = emails(&env, "ssl_dns_records").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let body = {
        let mut r = env.app.db.read().await.unwrap();
        panel1_store::emails::get(r.conn(), &mails[0]["id"].as_str().unwrap().parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .1
            .body
    };
    assert!(
        body.contains(&format!("{record}. 60 IN TXT \"{value}\"")),
        "{body}"
    );

    // Re-checking before the record exists: nothing is sent to the CA.
    let vid = v["id"].as_str().unwrap();
    let path = format!("/api/v1/certificates/{id}/validations/{vid}/validate");
    let r = env.post(&path, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["visible"], false);
    assert!(
        r.body["detail"].as_str().unwrap().contains(&value),
        "{}",
        r.body
    );
    assert!(r.body["job_id"].is_null());

    // The client creates it: the re-check sees it on the authoritative server and tells the CA.
    env.dns.add_txt(&record, &value);
    let r = env.post(&path, json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["visible"], true);
    let cert = env.wait_status(&id, &["issued", "failed"]).await;
    assert_eq!(cert["status"], "issued", "{cert}");
    // A manual record is the client's: Panel1 leaves it.
    assert_eq!(env.dns.txt(&record), vec![value]);
    // No failed runs were counted while waiting.
    assert_eq!(cert["attempts"], 0, "{cert}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cname_delegation_into_a_panel1_zone() {
    let env = Env::start(TestDb::sqlite().await).await;
    let client = env.client("Ann").await;
    // The customer's zone is elsewhere; `_acme-challenge` is delegated into a Panel1 zone.
    let customer = format!("{}.test", unique("cust"));
    let panel_zone = format!("{}.test", unique("acme"));
    env.dns.add_zone(&customer);
    env.dns.add_zone(&panel_zone);
    register_zone(None, &panel_zone, Arc::new(TestZone(env.dns.clone())));
    let target = format!("www-{customer}.{panel_zone}").replace(".test.", "-test.");
    env.dns
        .set_cname(&format!("_acme-challenge.www.{customer}"), &target);
    let id = env
        .issue(json!({"client_id": client, "names": [format!("www.{customer}")], "validation_method": "dns-01", "dns_mode": "hosted"}))
        .await;
    let cert = env.wait_status(&id, &["issued", "failed"]).await;
    assert_eq!(cert["status"], "issued", "{cert}");
    let v = &cert["validations"][0];
    assert_eq!(v["dns_mode"], "hosted");
    assert_eq!(v["effective_name"], target.as_str(), "{v}");
    unregister_zone(None, &panel_zone);

    // Without a Panel1 zone, asking for a hosted record is refused with the way out.
    let other = format!("{}.test", unique("nohost"));
    let id = env
        .issue(json!({"client_id": client, "names": [format!("www.{other}")], "validation_method": "dns-01", "dns_mode": "hosted"}))
        .await;
    let cert = env.wait_status(&id, &["issued", "failed"]).await;
    assert_eq!(cert["status"], "failed", "{cert}");
    assert!(
        cert["status_detail"].as_str().unwrap().contains("CNAME"),
        "{cert}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_manual_record_fails_at_the_deadline() {
    let env = Env::start(TestDb::sqlite().await).await;
    let client = env.client("Ann").await;
    let zone = format!("{}.test", unique("late"));
    env.dns.add_zone(&zone);
    let id = env
        .issue(json!({"client_id": client, "names": [zone], "validation_method": "dns-01", "dns_mode": "manual"}))
        .await;
    let cert = env
        .wait_status(&id, &["awaiting_validation", "failed"])
        .await;
    assert_eq!(cert["status"], "awaiting_validation");
    // Three days later, still nothing: the next check ends it.
    {
        let mut tx = env.app.db.begin().await.unwrap();
        let tenant = env.tenant().await;
        panel1_store::certificates::set_manual_deadline(
            tx.conn(),
            &tenant,
            &id.parse().unwrap(),
            Some(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let cert = env.wait_status(&id, &["failed", "issued"]).await;
    assert_eq!(cert["status"], "failed", "{cert}");
    assert_eq!(cert["failure_kind"], "dns_records");
    let detail = cert["status_detail"].as_str().unwrap();
    assert!(
        detail.contains("were not found") && detail.contains("_acme-challenge"),
        "{detail}"
    );
    let events = env.events(&id).await;
    assert!(
        events.contains(&"ssl.validation.failed".to_owned()),
        "{events:?}"
    );
    assert_eq!(emails(&env, "ssl_validation_failed").await.len(), 1);
    // Nothing keeps running for it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(issue_jobs(&env, &id).await.iter().all(|(s, _)| s == "done"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_refused_by_the_ca_fails_once() {
    let env = Env::start(TestDb::sqlite().await).await;
    let client = env.client("Ann").await;
    // The name points at an address where nothing answers HTTP: the CA cannot fetch the token.
    let name = format!("{}.example.test", unique("away"));
    env.dns.set_a(&name, std::net::Ipv4Addr::new(127, 0, 0, 2));
    let id = env
        .issue(json!({"client_id": client, "names": [name]}))
        .await;
    let cert = env.wait_status(&id, &["failed", "issued"]).await;
    assert_eq!(cert["status"], "failed", "{cert}");
    assert_eq!(cert["failure_kind"], "validation");
    let detail = cert["status_detail"].as_str().unwrap();
    assert!(
        detail.contains(&name) && detail.contains("invalid"),
        "{detail}"
    );
    let v = &cert["validations"][0];
    assert_eq!(v["status"], "invalid", "{v}");
    assert!(
        v["last_error"].as_str().unwrap().contains("127.0.0.2"),
        "{v}"
    );
    assert!(
        env.events(&id)
            .await
            .contains(&"ssl.validation.failed".to_owned())
    );
    // One run, no retry of an invalid order.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(issue_jobs(&env, &id).await, vec![("done".to_owned(), 1)]);
    assert_eq!(cert["attempts"], 0);
    // The same names can be ordered again (a new order) once fixed.
    let r = env
        .post(&format!("/api/v1/certificates/{id}/renew"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_ca_is_retried_a_few_times_then_fails() {
    let env = Env::with(
        TestDb::sqlite().await,
        Options {
            env: vec![("PANEL1_SSL_ISSUE_ATTEMPTS".into(), "3".into())],
            ..Default::default()
        },
    )
    .await;
    let client = env.client("Ann").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = env
        .post(
            "/api/v1/ca-accounts",
            json!({"name": "down", "directory": format!("https://127.0.0.1:{closed}/dir"), "default": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = env
        .issue(json!({"client_id": client, "names": [format!("{}.example.test", unique("down"))]}))
        .await;
    let cert = env.wait_status(&id, &["failed", "issued"]).await;
    assert_eq!(cert["status"], "failed", "{cert}");
    assert_eq!(cert["failure_kind"], "ca_unreachable");
    assert_eq!(cert["attempts"], 3);
    let detail = cert["status_detail"].as_str().unwrap();
    assert!(
        detail.contains("gave up after 3 failed attempts") && detail.contains("cannot be reached"),
        "{detail}"
    );
    // Three runs, then nothing more.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let jobs = issue_jobs(&env, &id).await;
    assert_eq!(jobs, vec![("done".to_owned(), 3)], "{jobs:?}");
    let ops = env
        .get(&format!("/api/v1/certificates/{id}/operations"))
        .await;
    let failed_calls = ops
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["status"].is_null() && o["problem"].is_string())
        .count();
    assert!(failed_calls >= 3, "{}", ops.body);
    assert!(
        env.events(&id)
            .await
            .contains(&"ssl.certificate.failed".to_owned())
    );
    assert_eq!(emails(&env, "ssl_issue_failed").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caa_record_forbidding_the_ca_stops_before_ordering() {
    let env = Env::start(TestDb::sqlite().await).await;
    let client = env.client("Ann").await;
    let zone = format!("{}.test", unique("caa"));
    env.dns.add_zone(&zone);
    env.dns.set_caa(
        &zone,
        vec![CAA::new_issue(
            false,
            Some(Name::from_ascii("letsencrypt.org").unwrap()),
            vec![],
        )],
    );
    let id = env
        .issue(json!({"client_id": client, "names": [format!("shop.{zone}")]}))
        .await;
    let cert = env.wait_status(&id, &["failed", "issued"]).await;
    assert_eq!(cert["status"], "failed", "{cert}");
    assert_eq!(cert["failure_kind"], "caa");
    let detail = cert["status_detail"].as_str().unwrap();
    assert!(
        detail.contains("CAA") && detail.contains(&zone) && detail.contains("letsencrypt.org"),
        "{detail}"
    );
    assert!(cert["order_url"].is_null(), "no order was placed: {cert}");
    assert!(
        env.events(&id)
            .await
            .contains(&"ssl.validation.failed".to_owned())
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(issue_jobs(&env, &id).await, vec![("done".to_owned(), 1)]);

    // A CA account whose CAA identity the record names may issue.
    let r = env
        .post(
            "/api/v1/ca-accounts",
            json!({"name": "pebble-le", "directory": env.pebble.directory_url, "caa_identities": ["letsencrypt.org"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = env
        .issue(json!({"client_id": client, "names": [format!("shop.{zone}")], "ca_account_id": r.body["id"]}))
        .await;
    assert_eq!(
        env.wait_status(&id, &["failed", "issued"]).await["status"],
        "issued"
    );
}
