//! Exactly once, whatever happens: 500 registrations and then 500 renewals run by worker
//! processes that are SIGKILLed at random moments, against a sandbox registry that fails 30 %
//! of its calls (refusals before anything is applied, timeouts, and calls applied whose answer
//! is lost). Counted from the registry's own ledger: every registration and every renewal is
//! charged exactly once, and every domain's expiry is the registry's.
//!
//! Worker processes are this test binary started again with `PANEL1_KILLABLE_TEST_CHILD` (see `common/killable.rs`) set:
//! the `child_worker` test then runs a Panel1 worker until it is killed. They share the
//! database (by URL) and the sandbox registry (by file path) with the test.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Months;
use panel1_app::domains::contacts::{self, NewContact};
use panel1_app::domains::service::{self, ContactsInput, RegisterDomain, RenewDomain};
use panel1_app::{App, Caller, bootstrap, clients, worker};
use panel1_core::DomainId;
use panel1_core::crypto::{Keyring, MasterKey};
use panel1_core::domain_name::DomainName;
use panel1_registrar::IdempotencyKey;
use panel1_registrar::sandbox::{Faults, SandboxConfig, SandboxRegistry};
use panel1_store::testing::TestDb;
use panel1_store::{Backend, Db, on};

use common::killable::{self, ChildWorker, Dice};

/// How many domains (500; `PANEL1_DOMAINS_TEST_COUNT` changes it for a quick look).
fn domain_count() -> usize {
    std::env::var("PANEL1_DOMAINS_TEST_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
}

/// The body of a worker process (does nothing unless started by the test as a child).
#[test]
fn child_worker() {
    killable::child_worker_main(|_, _| {});
}

/// Runs the workers, killing one at random every 0.3–1.5 s, until `done` says the work is over.
async fn run_with_kills<F, Fut>(
    what: &str,
    spawn: &dyn Fn(usize) -> ChildWorker,
    dice: &mut Dice,
    kills: &mut usize,
    mut done: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (usize, usize)>,
{
    let mut workers: Vec<ChildWorker> = (0..2).map(spawn).collect();
    let mut spawned = 2;
    let start = Instant::now();
    let mut next_kill = Instant::now() + Duration::from_millis(dice.range(300, 1500));
    let mut last_report = Instant::now();
    loop {
        let (finished, total) = done().await;
        if finished == total {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "{what}: {finished}/{total} after {:.0} s, {kills} kills",
                start.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "{what}: only {finished} of {total} finished in 10 minutes"
        );
        if Instant::now() >= next_kill {
            let i = (dice.next() % workers.len() as u64) as usize;
            workers[i].kill();
            *kills += 1;
            workers[i] = spawn(spawned);
            spawned += 1;
            next_kill = Instant::now() + Duration::from_millis(dice.range(300, 1500));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for mut w in workers {
        w.kill();
    }
}

async fn finished(db: &Db, operation: &str) -> (usize, usize) {
    let mut r = db.read().await.unwrap();
    let rows: Vec<(String, i64)> = on!(r.conn(), c => sqlx::query_as(
        "SELECT status, COUNT(*) FROM domain_operations WHERE operation = $1 GROUP BY status")
        .bind(operation).fetch_all(c).await)
    .unwrap();
    let by: HashMap<String, i64> = rows.into_iter().collect();
    let failed = by.get("failed").copied().unwrap_or(0);
    if failed > 0 {
        let why: Vec<(String, Option<String>, Option<String>)> = on!(r.conn(), c => sqlx::query_as(
            "SELECT idempotency_key, failure_kind, error FROM domain_operations WHERE operation = $1 AND status = 'failed' LIMIT 5")
            .bind(operation).fetch_all(c).await)
        .unwrap();
        panic!("no {operation} may fail: {by:?}: {why:?}");
    }
    let total: i64 = by.values().sum();
    (
        usize::try_from(by.get("succeeded").copied().unwrap_or(0)).unwrap(),
        usize::try_from(total).unwrap(),
    )
}

async fn registrations_and_renewals_happen_exactly_once_despite_kills_and_faults(t: TestDb) {
    let started = Instant::now();
    let domains = domain_count();
    let dir = tempfile::tempdir().unwrap();
    let sandbox = dir.path().join("registry.sqlite3").display().to_string();
    let data = dir.path().display().to_string();
    let master = MasterKey::generate().unwrap();
    let key_text = master.to_text();
    let app = App::new(
        t.db.clone(),
        Keyring::new(master, []),
        killable::settings(t.url(), &sandbox, &data),
        worker::handlers(),
    )
    .unwrap();
    let b = bootstrap::run(&app, "t").await.unwrap();
    // Prices for .test, and work on credit: this test is about the registrar side
    // (`renewals_exactly_once.rs` pays first).
    {
        let mut tx = app.db.begin().await.unwrap();
        for op in ["register", "renew"] {
            panel1_store::billing::upsert_price(
                tx.conn(),
                &b.tenant.id,
                &panel1_store::billing::TldPrice {
                    tld: "test".into(),
                    operation: op.into(),
                    years: 1,
                    currency: panel1_core::money::Currency::USD,
                    price: 300,
                    cost: Some(100),
                    markup: None,
                    updated_at: chrono::Utc::now(),
                },
            )
            .await
            .unwrap();
        }
        let mut s = panel1_store::domain_automation::settings(tx.conn(), &b.tenant.id)
            .await
            .unwrap();
        s.work_on_credit = true;
        panel1_store::domain_automation::save_settings(tx.conn(), &b.tenant.id, &s)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let principal = {
        let mut r = t.db.read().await.unwrap();
        panel1_store::tokens::authenticate(
            r.conn(),
            &panel1_core::crypto::hash_token(b.token.expose()),
            0,
        )
        .await
        .unwrap()
        .unwrap()
        .0
    };
    let caller = Caller::new(principal, None);
    let client = clients::create(
        &app,
        caller.staff().unwrap(),
        &serde_json::from_value(serde_json::json!({"name": "Ann", "email": "ann@example.com"}))
            .unwrap(),
    )
    .await
    .unwrap();
    let contact = contacts::create(
        &app,
        &caller,
        &serde_json::from_value::<NewContact>(serde_json::json!({
            "client_id": client.id, "first_name": "Ann", "last_name": "Example", "email": "ann@example.com",
            "phone": "+44.2079460000", "address1": "1 High Street", "city": "London", "country": "GB"
        }))
        .unwrap(),
    )
    .await
    .unwrap();

    let registry = SandboxRegistry::open(&SandboxConfig::new(&sandbox))
        .await
        .unwrap();
    let faults = Faults {
        error_rate: 0.15,
        timeout_rate: 0.05,
        lost_response_rate: 0.10,
        timeout: Duration::from_millis(150),
        seed: 20_240_501,
    };
    registry.set_faults(faults).await.unwrap();

    let mut ids: Vec<DomainId> = Vec::with_capacity(domains);
    for i in 0..domains {
        let a = service::register(
            &app,
            &caller,
            &RegisterDomain {
                name: format!("once-{i:04}.test"),
                client_id: Some(client.id.clone()),
                years: Some(1),
                contacts: ContactsInput {
                    registrant: contact.id.clone(),
                    admin: None,
                    tech: None,
                    billing: None,
                },
                nameservers: vec![],
                privacy: false,
                auto_renew: None,
                premium_price: None,
            },
        )
        .await
        .unwrap();
        ids.push(a.domain.id);
    }

    let url = t.url().to_owned();
    let spawn = |n: usize| ChildWorker::spawn(&url, &sandbox, &data, &key_text, &format!("w{n}"));
    let mut dice = Dice(7);
    let mut kills = 0;
    let db = t.db.clone();
    run_with_kills("registrations", &spawn, &mut dice, &mut kills, || {
        let db = db.clone();
        async move { finished(&db, "register").await }
    })
    .await;
    let registered_at = started.elapsed();

    // Renew every domain by one year, from the expiry the registry gave.
    let mut before = HashMap::new();
    for id in &ids {
        let d = service::get(&app, &caller, id).await.unwrap().domain;
        assert_eq!(d.state.as_str(), "active");
        before.insert(d.name.clone(), d.expires_at.unwrap());
        service::renew(&app, &caller, id, &RenewDomain { years: Some(1) })
            .await
            .unwrap();
    }
    run_with_kills("renewals", &spawn, &mut dice, &mut kills, || {
        let db = db.clone();
        async move { finished(&db, "renew").await }
    })
    .await;
    registry.set_faults(Faults::default()).await.unwrap();

    // The registry's ledger: one registration and one renewal per domain, each under its key.
    let ledger = registry.ledger().await.unwrap();
    let registrations = ledger.iter().filter(|l| l.operation == "register").count();
    let renewals = ledger.iter().filter(|l| l.operation == "renew").count();
    let mut r = t.db.read().await.unwrap();
    let keys: Vec<(String, String)> = on!(r.conn(), c => sqlx::query_as(
        "SELECT operation, idempotency_key FROM domain_operations ORDER BY idempotency_key").fetch_all(c).await)
    .unwrap();
    drop(r);
    assert_eq!(keys.len(), 2 * domains);
    for (_, k) in &keys {
        let charged = registry
            .ledger_for_key(&IdempotencyKey::new(k.clone()).unwrap())
            .await
            .unwrap();
        assert_eq!(charged.len(), 1, "{k} charged {} times", charged.len());
    }
    let reg = registry.registrar(caller.tenant().to_string());
    for id in &ids {
        let d = service::get(&app, &caller, id).await.unwrap().domain;
        let expected = before[&d.name].checked_add_months(Months::new(12)).unwrap();
        assert_eq!(
            d.expires_at,
            Some(expected),
            "{} renewed by exactly one year",
            d.name
        );
        let info = panel1_registrar::Registrar::info(&reg, &DomainName::parse(&d.name).unwrap())
            .await
            .result
            .unwrap();
        assert_eq!(
            info.expires_at,
            Some(expected),
            "the registry agrees about {}",
            d.name
        );
    }
    assert_eq!((registrations, renewals), (domains, domains));

    // What the faults and kills did, for the record.
    let mut r = t.db.read().await.unwrap();
    let outcomes: Vec<(String, i64)> = on!(r.conn(), c => sqlx::query_as(
        "SELECT outcome, COUNT(*) FROM domain_operation_calls GROUP BY outcome ORDER BY outcome").fetch_all(c).await)
    .unwrap();
    let uncertain_recoveries: i64 = on!(r.conn(), c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM domain_operation_calls WHERE command = 'info' OR command = 'transfer_status'").fetch_one(c).await)
    .unwrap();
    let backend = match t.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    eprintln!(
        "exactly-once [{backend}]: {domains} registrations + {domains} renewals; faults 15% error / 5% timeout / 10% lost answer; {kills} SIGKILLs; ledger: {registrations} register, {renewals} renew, every key once; calls by outcome {outcomes:?}; {uncertain_recoveries} info checks; registrations done after {:.1} s, all after {:.1} s",
        registered_at.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    assert!(kills >= 5, "the workers were killed {kills} times");
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn registrations_and_renewals_happen_exactly_once_despite_kills_and_faults() {
        super::registrations_and_renewals_happen_exactly_once_despite_kills_and_faults(
            panel1_store::testing::TestDb::sqlite().await,
        )
        .await
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn registrations_and_renewals_happen_exactly_once_despite_kills_and_faults() {
        super::registrations_and_renewals_happen_exactly_once_despite_kills_and_faults(
            panel1_store::testing::TestDb::postgres().await,
        )
        .await
    }
}
