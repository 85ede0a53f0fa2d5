//! A worker killed in the middle of an issuance: the next worker carries on from the stored
//! order URL and the sealed key, and the certificate is issued once.

use std::time::Duration;

use panel1_app::worker;
use panel1_store::db_tests;
use panel1_store::testing::TestDb;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::harness::{Env, Options, unique};

async fn killed_workers_resume_from_the_stored_order(t: TestDb) {
    let env = Env::with(
        t,
        Options {
            no_workers: true,
            ..Default::default()
        },
    )
    .await;
    panel1_app::events::start_dispatcher(env.app.clone(), env.cancel.clone());
    let client = env.client("Ann").await;
    let names = [
        format!("{}.example.test", unique("kill")),
        format!("{}.example.test", unique("kill")),
    ];
    let id = env
        .issue(json!({"client_id": client, "names": names}))
        .await;
    let mut orders = Vec::new();
    let mut keys = Vec::new();
    let mut kills = 0;
    let mut last = String::new();
    // Kill the worker at a different point each time: any await point of the job may be the
    // last thing it did (the runner aborts it and hands the job back, like a lost process).
    // A kill counts when the session moved the certificate on without issuing it.
    for delay_ms in [
        10u64, 25, 15, 40, 20, 60, 30, 80, 45, 120, 70, 200, 100, 400, 800, 1600, 3200,
    ] {
        let cancel = CancellationToken::new();
        let mut cfg = worker::runner_config(&env.app);
        cfg.poll_interval = Duration::from_millis(5);
        cfg.shutdown_grace = Duration::ZERO;
        let runner = worker::runner(&env.app, cfg).start(cancel.clone());
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        runner.shutdown().await;
        let c = env.get(&format!("/api/v1/certificates/{id}")).await.body;
        if let Some(o) = c["order_url"].as_str()
            && !orders.contains(&o.to_owned())
        {
            orders.push(o.to_owned());
        }
        // The stored key never changes once stored (the issued certificate must match it).
        let key = stored_key(&env, &id).await;
        let progress = format!(
            "{}|{}|{}|{}",
            c["status"],
            c["order_url"],
            key.is_some(),
            c["validations"]
        );
        if let Some(k) = key
            && !keys.contains(&k)
        {
            keys.push(k);
        }
        if c["status"] == "issued" {
            break;
        }
        if progress != last {
            kills += 1;
            last = progress;
        }
    }
    // Finish with a worker that is left alone.
    let _runner = env.start_workers(env.cancel.clone());
    let cert = env.wait_status(&id, &["issued", "failed"]).await;
    assert_eq!(cert["status"], "issued", "{cert}");
    assert!(kills >= 2, "the worker was never killed mid-way");
    assert!(
        orders.len() <= 1,
        "a new order was placed after a kill: {orders:?}"
    );
    if let Some(first) = orders.first() {
        assert_eq!(cert["order_url"].as_str(), Some(first.as_str()));
    }
    assert_eq!(keys.len(), 1, "the key changed: {keys:?}");
    let events = env.events(&id).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "ssl.certificate.issued")
            .count(),
        1,
        "{events:?}"
    );
    // The certificate holds the stored key.
    let d = env
        .get(&format!(
            "/api/v1/certificates/{id}/download?include_key=true"
        ))
        .await;
    let chain =
        panel1_ca::CertificateChain::from_pem(d.body["fullchain_pem"].as_str().unwrap()).unwrap();
    let key = panel1_ca::PrivateKey::from_pem(d.body["private_key_pem"].as_str().unwrap()).unwrap();
    assert!(chain.matches_key(&key));
}

async fn stored_key(env: &Env, id: &str) -> Option<String> {
    let mut r = env.app.db.read().await.unwrap();
    let tenant = env.tenant().await;
    panel1_store::certificates::get(
        r.conn(),
        &panel1_core::Scope::tenant(tenant),
        &id.parse().unwrap(),
    )
    .await
    .unwrap()
    .and_then(|c| c.private_key_sealed)
}

db_tests!(killed_workers_resume_from_the_stored_order);
