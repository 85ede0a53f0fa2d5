//! Automatic renewals exactly once, whatever happens: 1,000 domains due for renewal, a sandbox
//! registry that fails 30 % of its calls (refusals before anything is applied, timeouts, and
//! calls applied whose answer is lost), worker processes SIGKILLed at random moments, and two
//! schedulers sweeping at the same time, again and again. Every domain ends renewed exactly
//! once and charged exactly once, counted three ways: the registry's own ledger, Panel1's
//! invoices, and the client's credit ledger.
//!
//! The domains come into Panel1 through the import (nothing charged); the tenant pays first
//! (no work on credit): each renewal is invoiced by the sweep's billing jobs, paid from the
//! client's credit and only then sent to the registrar.
//!
//! Worker processes are this test binary started again with `PANEL1_KILLABLE_TEST_CHILD` (see `common/killable.rs`)
//! set: the `child_worker` test then runs a Panel1 worker (job runner, event dispatcher and a
//! scheduler firing `domains.renew` every minute) until it is killed. They share the database
//! (by URL) and the sandbox registry (by file path) with the test.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Months, Utc};
use panel1_app::billing::CreditInput;
use panel1_app::domains::import::{self, ImportRequest};
use panel1_app::domains::renewals::{self, RenewalSweep};
use panel1_app::{App, Caller, billing, bootstrap, clients, events, worker};
use panel1_core::crypto::{Keyring, MasterKey};
use panel1_core::domain_name::DomainName;
use panel1_core::{SecretString, TenantId};
use panel1_jobs::{EnqueueOptions, Job, ScheduleDef, Scheduler};
use panel1_registrar::IdempotencyKey;
use panel1_registrar::sandbox::{Faults, PlantedDomain, SandboxConfig, SandboxRegistry};
use panel1_store::testing::TestDb;
use panel1_store::{Backend, Db, on};

use common::killable::{self, ChildWorker, Dice};

/// How many domains (1,000; `PANEL1_RENEWALS_TEST_COUNT` changes it for a quick look).
fn domain_count() -> usize {
    std::env::var("PANEL1_RENEWALS_TEST_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

/// The renewal price (cents) and the credit left over when every domain is renewed once.
const PRICE: i64 = 300;
const SPARE: i64 = 5_000;

/// The body of a worker process (does nothing unless started by the test as a child): every
/// worker also dispatches events and runs a scheduler whose renewal sweep fires every minute.
#[test]
fn child_worker() {
    killable::child_worker_main(|app, cancel| {
        events::start_dispatcher(app.clone(), cancel.clone());
        Scheduler::new(
            app.db.clone(),
            vec![ScheduleDef::new(
                "domains.renew",
                "* * * * *",
                RenewalSweep::KIND,
            )],
        )
        .with_interval(Duration::from_millis(200))
        .start(cancel.clone());
    });
}

/// Renewal operations by status; panics on a renewal stopped for review (a renewal that
/// could have been done twice).
async fn renewal_statuses(db: &Db) -> HashMap<String, i64> {
    let mut r = db.read().await.unwrap();
    let rows: Vec<(String, i64)> = on!(r.conn(), c => sqlx::query_as(
        "SELECT status, COUNT(*) FROM domain_operations WHERE operation = 'renew' GROUP BY status")
        .fetch_all(c).await)
    .unwrap();
    let review: Vec<(String, Option<String>)> = on!(r.conn(), c => sqlx::query_as(
        "SELECT idempotency_key, error FROM domain_operations
         WHERE operation = 'renew' AND failure_kind IN ('needs_review', 'superseded') LIMIT 5")
        .fetch_all(c).await)
    .unwrap();
    assert!(review.is_empty(), "renewals stopped: {review:?}");
    rows.into_iter().collect()
}

/// Sweeps twice at the same moment, as two schedulers would: one pair in this process, and
/// one pair of sweep jobs for the worker processes.
async fn double_sweep(app: &App, round: usize) {
    let mut tx = app.db.begin().await.unwrap();
    for n in 0..2 {
        let mut job = panel1_jobs::new_job(&RenewalSweep {}, EnqueueOptions::default()).unwrap();
        job.unique_key = Some(format!("{}:test:{round}:{n}", RenewalSweep::KIND));
        panel1_store::jobs::enqueue(&mut tx, &job).await.unwrap();
    }
    tx.commit().await.unwrap();
    let (a, b) = tokio::join!(renewals::sweep(app), renewals::sweep(app));
    // A sweep may lose a race for SQLite's write lock to the workers; the next one goes on.
    for r in [a, b] {
        if let Err(e) = r {
            eprintln!("a sweep failed (the next one picks up): {e:#}");
        }
    }
}

async fn renewals_happen_exactly_once_despite_kills_faults_and_two_schedulers(t: TestDb) {
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
    let tenant: TenantId = b.tenant.id.clone();
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

    // The tenant's renewal price for .test; the client pays first, from credit.
    panel1_app::domains::accounts::ensure_demo(&app, &tenant)
        .await
        .unwrap();
    let account = {
        let mut tx = app.db.begin().await.unwrap();
        panel1_store::billing::upsert_price(
            tx.conn(),
            &tenant,
            &panel1_store::billing::TldPrice {
                tld: "test".into(),
                operation: "renew".into(),
                years: 1,
                currency: panel1_core::money::Currency::USD,
                price: PRICE,
                cost: Some(100),
                markup: None,
                updated_at: Utc::now(),
            },
        )
        .await
        .unwrap();
        let account = panel1_store::registrars::account_for_tld(tx.conn(), &tenant, "test")
            .await
            .unwrap()
            .expect("the demo account serves .test");
        // The import reads the registry fast.
        panel1_store::domain_automation::set_sync_rate(
            tx.conn(),
            &tenant,
            &account.id,
            Some(100_000),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        account
    };
    billing::add_credit(
        &app,
        caller.staff().unwrap(),
        &client.id,
        &CreditInput {
            amount: format!(
                "{}.{:02}",
                (PRICE * domains as i64 + SPARE) / 100,
                (PRICE * domains as i64 + SPARE) % 100
            ),
            currency: "USD".into(),
            note: Some("prepaid renewals".into()),
        },
    )
    .await
    .unwrap();

    // 1,000 domains registered elsewhere, expiring within the next 5 to 25 days, imported.
    let registry = SandboxRegistry::open(&SandboxConfig::new(&sandbox))
        .await
        .unwrap();
    // Whole milliseconds, as both stores keep them.
    let now =
        DateTime::from_timestamp_millis(registry.now().await.unwrap().timestamp_millis()).unwrap();
    let mut planted: HashMap<String, DateTime<Utc>> = HashMap::new();
    for i in 0..domains {
        let name = format!("due-{i:04}.test");
        let expires = now
            + chrono::Duration::days(5)
            + chrono::Duration::minutes(i64::try_from(i).unwrap() * 28);
        registry
            .plant(&PlantedDomain {
                name: DomainName::parse(&name).unwrap(),
                account: tenant.to_string(),
                created_at: now - chrono::Duration::days(300),
                expires_at: expires,
                locked: true,
                nameservers: vec![],
                auth_code: SecretString::new(String::from("Ab3!planted")),
            })
            .await
            .unwrap();
        planted.insert(name, expires);
    }
    let report = import::run(
        &app,
        &tenant,
        &account.id,
        &ImportRequest {
            auto_renew: Some(true),
            fallback_client_id: Some(client.id.clone()),
        },
    )
    .await
    .unwrap();
    assert_eq!(report.imported, domains, "{report:?}");
    assert!(
        registry.ledger().await.unwrap().is_empty(),
        "the import charged nothing"
    );
    let imported_at = started.elapsed();

    registry
        .set_faults(Faults {
            error_rate: 0.15,
            timeout_rate: 0.05,
            lost_response_rate: 0.10,
            timeout: Duration::from_millis(150),
            seed: 20_261_127,
        })
        .await
        .unwrap();

    // Workers, killed at random; sweeps in pairs every 1.5–4 s until every domain is renewed.
    let url = t.url().to_owned();
    let spawn = |n: usize| ChildWorker::spawn(&url, &sandbox, &data, &key_text, &format!("w{n}"));
    let mut workers: Vec<ChildWorker> = (0..2).map(spawn).collect();
    let mut spawned = 2;
    let mut dice = Dice(11);
    let mut kills = 0;
    let mut sweeps = 0;
    let mut next_kill = Instant::now() + Duration::from_millis(dice.range(300, 1500));
    let mut next_sweep = Instant::now();
    let mut last_report = Instant::now();
    loop {
        let by = renewal_statuses(&t.db).await;
        let succeeded = usize::try_from(by.get("succeeded").copied().unwrap_or(0)).unwrap();
        if succeeded >= domains {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "renewals: {by:?} after {:.0} s, {kills} kills, {sweeps} sweeps",
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        assert!(
            started.elapsed() < Duration::from_secs(480),
            "only {succeeded} of {domains} renewed in 8 minutes: {by:?}"
        );
        if Instant::now() >= next_sweep {
            double_sweep(&app, sweeps).await;
            sweeps += 1;
            next_sweep = Instant::now() + Duration::from_millis(dice.range(1500, 4000));
        }
        if Instant::now() >= next_kill {
            let i = (dice.next() % workers.len() as u64) as usize;
            workers[i].kill();
            kills += 1;
            workers[i] = spawn(spawned);
            spawned += 1;
            next_kill = Instant::now() + Duration::from_millis(dice.range(300, 1500));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Two more sweeps at once after everything is done: nothing more may happen.
    double_sweep(&app, sweeps).await;
    for mut w in workers {
        w.kill();
    }
    registry.set_faults(Faults::default()).await.unwrap();
    let renewed_at = started.elapsed();

    // 1. The registry's ledger: one renewal per domain, under the operation's key.
    let ledger = registry.ledger().await.unwrap();
    let renewals_charged: Vec<_> = ledger.iter().filter(|l| l.operation == "renew").collect();
    assert_eq!(
        ledger.len(),
        renewals_charged.len(),
        "only renewals were charged"
    );
    let mut per_name: HashMap<&str, usize> = HashMap::new();
    for l in &renewals_charged {
        *per_name.entry(l.name.as_str()).or_default() += 1;
    }
    assert_eq!(per_name.len(), domains, "every domain was renewed");
    let twice: Vec<_> = per_name.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "renewed more than once: {twice:?}");
    let mut r = t.db.read().await.unwrap();
    let ops: Vec<(String, String, String)> = on!(r.conn(), c => sqlx::query_as(
        "SELECT idempotency_key, status, COALESCE(invoice_id, '') FROM domain_operations WHERE operation = 'renew'")
        .fetch_all(c).await)
    .unwrap();
    assert_eq!(ops.len(), domains, "one renewal operation per domain");
    for (key, status, _) in &ops {
        assert_eq!(status, "succeeded", "{key}");
        let charged = registry
            .ledger_for_key(&IdempotencyKey::new(key.clone()).unwrap())
            .await
            .unwrap();
        assert_eq!(charged.len(), 1, "{key} charged {} times", charged.len());
    }

    // 2. The invoices: one per renewal, paid, at the price; each billing key once.
    let invoices: Vec<(String, String, i64, i64)> = on!(r.conn(), c => sqlx::query_as(
        "SELECT i.id, i.status, i.total, (SELECT COUNT(*) FROM invoice_lines l WHERE l.invoice_id = i.id)
         FROM invoices i WHERE i.tenant_id = $1")
        .bind(tenant.as_str()).fetch_all(c).await)
    .unwrap();
    assert_eq!(invoices.len(), domains, "one invoice per renewal");
    assert!(
        invoices
            .iter()
            .all(|(_, s, total, lines)| s == "paid" && *total == PRICE && *lines == 1),
        "{:?}",
        invoices
            .iter()
            .filter(|(_, s, total, lines)| s != "paid" || *total != PRICE || *lines != 1)
            .take(5)
            .collect::<Vec<_>>()
    );
    let by_op: HashSet<&str> = ops.iter().map(|(_, _, inv)| inv.as_str()).collect();
    assert_eq!(by_op.len(), domains, "each renewal has its own invoice");
    assert!(
        invoices.iter().all(|(id, ..)| by_op.contains(id.as_str())),
        "every invoice pays a renewal"
    );
    let keys: i64 = on!(r.conn(), c => sqlx::query_scalar(
        "SELECT COUNT(DISTINCT l.billing_key) FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id WHERE i.tenant_id = $1")
        .bind(tenant.as_str()).fetch_one(c).await)
    .unwrap();
    assert_eq!(keys, i64::try_from(domains).unwrap());

    // 3. The credit ledger: one payment per invoice, no refund, the spare left.
    let payments: Vec<(String, i64, i64)> = on!(r.conn(), c => sqlx::query_as(
        "SELECT kind, COUNT(*), CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM credit_ledger WHERE tenant_id = $1 GROUP BY kind")
        .bind(tenant.as_str()).fetch_all(c).await)
    .unwrap();
    let kinds: HashMap<String, (i64, i64)> =
        payments.into_iter().map(|(k, n, s)| (k, (n, s))).collect();
    let n = i64::try_from(domains).unwrap();
    assert_eq!(
        kinds.get("invoice_payment").map(|(n, s)| (*n, s.abs())),
        Some((n, n * PRICE)),
        "{kinds:?}"
    );
    assert!(!kinds.contains_key("refund"), "{kinds:?}");
    drop(r);
    let credit = billing::credit(
        &app,
        &caller,
        &client.id,
        panel1_core::PageRequest::default(),
    )
    .await
    .unwrap();
    assert_eq!(
        credit.balances.iter().map(|b| b.amount).collect::<Vec<_>>(),
        [SPARE],
        "the credit moved once per renewal"
    );

    // 4. Every domain's expiry is one term later, in Panel1 and at the registry.
    let reg = registry.registrar(tenant.to_string());
    let mut r = t.db.read().await.unwrap();
    let stored: Vec<(String, i64)> = on!(r.conn(), c => sqlx::query_as(
        "SELECT name, expires_at FROM domains WHERE tenant_id = $1")
        .bind(tenant.as_str()).fetch_all(c).await)
    .unwrap();
    drop(r);
    assert_eq!(stored.len(), domains);
    for (name, exp) in stored {
        let expected = planted[&name].checked_add_months(Months::new(12)).unwrap();
        assert_eq!(
            exp,
            expected.timestamp_millis(),
            "{name} renewed by exactly one year"
        );
        if name.ends_with("0.test") {
            let info = panel1_registrar::Registrar::info(&reg, &DomainName::parse(&name).unwrap())
                .await
                .result
                .unwrap();
            assert_eq!(
                info.expires_at,
                Some(expected),
                "the registry agrees about {name}"
            );
        }
    }

    // What the faults and kills did, for the record.
    let mut r = t.db.read().await.unwrap();
    let outcomes: Vec<(String, i64)> = on!(r.conn(), c => sqlx::query_as(
        "SELECT outcome, COUNT(*) FROM domain_operation_calls GROUP BY outcome ORDER BY outcome").fetch_all(c).await)
    .unwrap();
    let backend = match t.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    eprintln!(
        "renewals exactly once [{backend}]: {domains} domains imported in {:.1} s, all renewed after {:.1} s; faults 15% error / 5% timeout / 10% lost answer; {kills} SIGKILLs; {sweeps} double sweeps; ledger {} renewals, {} invoices paid, credit left {SPARE}; calls by outcome {outcomes:?}",
        imported_at.as_secs_f64(),
        renewed_at.as_secs_f64(),
        renewals_charged.len(),
        invoices.len(),
    );
    assert!(kills >= 3, "the workers were killed {kills} times");
    assert!(sweeps >= 2, "{sweeps} double sweeps");
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn renewals_happen_exactly_once_despite_kills_faults_and_two_schedulers() {
        super::renewals_happen_exactly_once_despite_kills_faults_and_two_schedulers(
            panel1_store::testing::TestDb::sqlite().await,
        )
        .await
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn renewals_happen_exactly_once_despite_kills_faults_and_two_schedulers() {
        super::renewals_happen_exactly_once_despite_kills_faults_and_two_schedulers(
            panel1_store::testing::TestDb::postgres().await,
        )
        .await
    }
}
