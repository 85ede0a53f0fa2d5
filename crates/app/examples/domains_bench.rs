//! The renewal sweep and a full registrar sync over N domains (100,000 by default), on SQLite
//! and on PostgreSQL, printed side by side.
//!
//! Per backend: a fresh database, N domains of one tenant in one sandbox registrar account
//! (planted in the sandbox registry, stored in Panel1 in bulk), all expiring within the next
//! 25 days and so all due. Then:
//!
//! - **sweep**: one `renewals::sweep` — finding the due domains and storing a renewal operation
//!   plus its share of a `domain::bill` job for each, marking the reminders due and enqueueing
//!   their `domain::notify` jobs (the jobs themselves are not run: that is the workers' part);
//! - **sync**: one `sync::sync_account` over every domain at the account's rate limit
//!   (`--rate`, calls per minute): an `info` call per domain to the sandbox registry, and the
//!   unchanged domains stamped in bulk. The floor is N / rate minutes; the report shows how
//!   close the run came to it.
//!
//! `cargo run --release -p panel1-app --example domains_bench -- [--count N] [--rate R]
//! [--only sqlite|postgres]` (see `bench/domains/run`). PostgreSQL comes from
//! `PANEL1_TEST_POSTGRES_URL` (default: the local test server).

use std::time::{Duration, Instant};

use chrono::Utc;
use panel1_app::domains::{renewals, sync};
use panel1_app::{App, Settings, bootstrap, worker};
use panel1_core::crypto::{Keyring, MasterKey};
use panel1_core::domain_lifecycle::DomainState;
use panel1_core::domain_name::DomainName;
use panel1_core::{ClientId, DomainId, SecretString, TenantId};
use panel1_registrar::sandbox::{PlantedDomain, SandboxConfig, SandboxRegistry};
use panel1_store::Backend;
use panel1_store::domains::{ContactIds, Domain};
use panel1_store::testing::TestDb;

struct Args {
    count: usize,
    rate: i64,
    only: Option<String>,
    skip_sync: bool,
}

fn args() -> Args {
    let mut a = Args {
        count: 100_000,
        rate: 100_000,
        only: None,
        skip_sync: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        let mut num = |what: &str| -> i64 {
            it.next()
                .and_then(|v| v.replace('_', "").parse().ok())
                .unwrap_or_else(|| panic!("{what} needs a number"))
        };
        match x.as_str() {
            "--count" => a.count = usize::try_from(num("--count")).unwrap(),
            "--rate" => a.rate = num("--rate"),
            "--only" => a.only = it.next(),
            "--skip-sync" => a.skip_sync = true,
            other => {
                panic!(
                    "unknown argument {other}; use --count N --rate R --only sqlite|postgres --skip-sync"
                )
            }
        }
    }
    a
}

#[derive(Debug, Default, Clone)]
struct Figures {
    backend: &'static str,
    setup: Duration,
    sweep: Duration,
    renewals: usize,
    notices: usize,
    sync: Duration,
    checked: i64,
    drift: i64,
    failures: i64,
}

async fn run(db: TestDb, count: usize, rate: i64, skip_sync: bool) -> Figures {
    let backend = match db.backend() {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let sandbox = dir.path().join("registry.sqlite3").display().to_string();
    let data = dir.path().display().to_string();
    let url = db.url().to_owned();
    let settings = Settings::load(None, |k| match k {
        "PANEL1_DATABASE_URL" => Some(url.clone()),
        "PANEL1_SANDBOX_REGISTRY" => Some(sandbox.clone()),
        "PANEL1_DATA_DIR" => Some(data.clone()),
        _ => None,
    })
    .unwrap();
    let app = App::new(
        db.db.clone(),
        Keyring::new(MasterKey::generate().unwrap(), []),
        settings,
        worker::handlers(),
    )
    .unwrap();
    let b = bootstrap::run(&app, "bench").await.unwrap();
    let tenant: TenantId = b.tenant.id.clone();
    panel1_app::domains::accounts::ensure_demo(&app, &tenant)
        .await
        .unwrap();
    let (account, client) = {
        let mut tx = app.db.begin().await.unwrap();
        let account = panel1_store::registrars::account_for_tld(tx.conn(), &tenant, "test")
            .await
            .unwrap()
            .unwrap();
        panel1_store::domain_automation::set_sync_rate(tx.conn(), &tenant, &account.id, Some(rate))
            .await
            .unwrap();
        let client = panel1_store::clients::insert(
            tx.conn(),
            &tenant,
            &panel1_store::clients::ClientDetails {
                name: "Bench".into(),
                company: None,
                email: "bench@example.com".into(),
                phone: None,
                address1: None,
                address2: None,
                city: None,
                state: None,
                postal_code: None,
                country: None,
                status: "active".into(),
                notes: None,
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        (account, client.id)
    };

    // The registry's view and Panel1's, identical (the sync finds nothing to change).
    let registry = SandboxRegistry::open(&SandboxConfig::new(&sandbox))
        .await
        .unwrap();
    let now = registry.now().await.unwrap();
    let created = now - chrono::Duration::days(340);
    let ms = |i: usize| i64::try_from(i).unwrap() * 25 * 86_400_000 / i64::try_from(count).unwrap();
    let mut domains = Vec::with_capacity(count);
    let plants: Vec<PlantedDomain> = (0..count)
        .map(|i| {
            let name = DomainName::parse(&format!("bench-{i:06}.test")).unwrap();
            let expires = now + chrono::Duration::hours(1) + chrono::Duration::milliseconds(ms(i));
            domains.push(domain(
                &tenant,
                &client,
                &account.id,
                &name,
                created,
                expires,
            ));
            PlantedDomain {
                name,
                account: tenant.to_string(),
                created_at: created,
                expires_at: expires,
                locked: false,
                nameservers: vec![],
                auth_code: SecretString::new(String::from("Bench!2026")),
            }
        })
        .collect();
    registry.plant_many(&plants).await.unwrap();
    for chunk in domains.chunks(5_000) {
        let mut tx = app.db.begin().await.unwrap();
        panel1_store::domains::insert_many(tx.conn(), chunk)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    if db.backend() == Backend::Postgres {
        let mut tx = app.db.begin().await.unwrap();
        if let panel1_store::Conn::Postgres(c) = tx.conn() {
            sqlx::query("ANALYZE").execute(&mut *c).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    let setup = t0.elapsed();
    eprintln!(
        "[{backend}] {count} domains set up in {:.1} s",
        setup.as_secs_f64()
    );

    if std::env::var("BENCH_PROBE").is_ok() {
        // Reading the due domains alone, page by page, as the sweep does.
        let t = Instant::now();
        let now = app.clock.now();
        let horizon = now + chrono::Duration::days(30);
        let mut after: Option<(chrono::DateTime<Utc>, DomainId)> = None;
        let mut n = 0;
        loop {
            let mut r = app.db.read().await.unwrap();
            let batch = panel1_store::domain_automation::due_for_renewal(
                r.conn(),
                now,
                horizon,
                after.as_ref().map(|(a, i)| (*a, i)),
                2_000,
            )
            .await
            .unwrap();
            n += batch.due.len();
            match batch.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        eprintln!(
            "[{backend}] probe: {n} due read in {:.2} s",
            t.elapsed().as_secs_f64()
        );
        // Storing 2,000 renewal operations in one transaction.
        let ops: Vec<panel1_store::domain_operations::DomainOperation> = domains[..2_000]
            .iter()
            .map(|d| panel1_store::domain_operations::DomainOperation {
                id: panel1_core::DomainOperationId::new(),
                tenant_id: d.tenant_id.clone(),
                domain_id: d.id.clone(),
                client_id: d.client_id.clone(),
                operation: "renew".into(),
                term: "x".into(),
                years: Some(1),
                idempotency_key: format!("renew:{}:x", d.name),
                registrar_account_id: d.registrar_account_id.clone(),
                status: panel1_store::domain_operations::OperationStatus::AwaitingPayment,
                params: serde_json::json!({}),
                result: None,
                outcome: None,
                error: None,
                failure_kind: None,
                attempts: 0,
                uncertain: false,
                expiry_before: d.expires_at,
                job_id: None,
                invoice_id: None,
                requested_by: None,
                request_id: None,
                created_at: Utc::now(),
                updated_at: Utc::now(),
                finished_at: None,
                secret_sealed: None,
            })
            .collect();
        let t = Instant::now();
        let mut tx = app.db.begin().await.unwrap();
        let t1 = t.elapsed();
        panel1_store::domain_operations::insert_many(tx.conn(), &ops)
            .await
            .unwrap();
        let t2 = t.elapsed();
        tx.commit().await.unwrap();
        let t3 = t.elapsed();
        eprintln!(
            "[{backend}] probe: begin {t1:?}, insert 2000 ops {:?}, commit {:?}",
            t2 - t1,
            t3 - t2
        );
    }
    let t = Instant::now();
    let report = renewals::sweep(&app).await.unwrap();
    let sweep = t.elapsed();
    eprintln!(
        "[{backend}] sweep: {report:?} in {:.2} s",
        sweep.as_secs_f64()
    );

    if skip_sync {
        return Figures {
            backend,
            setup,
            sweep,
            renewals: report.renewals,
            notices: report.notices,
            ..Figures::default()
        };
    }
    let t = Instant::now();
    let counts = sync::sync_account(&app, &tenant, &account.id, Some(count), Some(rate))
        .await
        .unwrap();
    let sync_time = t.elapsed();
    eprintln!(
        "[{backend}] sync: {counts:?} in {:.1} s",
        sync_time.as_secs_f64()
    );

    Figures {
        backend,
        setup,
        sweep,
        renewals: report.renewals,
        notices: report.notices,
        sync: sync_time,
        checked: counts.checked,
        drift: counts.drift,
        failures: counts.failures,
    }
}

fn domain(
    tenant: &TenantId,
    client: &ClientId,
    account: &panel1_core::RegistrarAccountId,
    name: &DomainName,
    created: chrono::DateTime<Utc>,
    expires: chrono::DateTime<Utc>,
) -> Domain {
    Domain {
        id: DomainId::new(),
        tenant_id: tenant.clone(),
        client_id: client.clone(),
        name: name.as_ascii().to_owned(),
        name_unicode: name.unicode().to_owned(),
        tld: name.public_suffix().to_owned(),
        registrar_account_id: account.clone(),
        state: DomainState::Active,
        epp_statuses: vec!["ok".into()],
        rgp_statuses: vec![],
        registry_id: None,
        registered_at: Some(created),
        expires_at: Some(expires),
        nameservers: vec![],
        locked: false,
        privacy: false,
        auto_renew: true,
        contacts: ContactIds::default(),
        suspension_reason: None,
        synced_at: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    let mut rows = Vec::new();
    if a.only.as_deref() != Some("postgres") {
        rows.push(run(TestDb::sqlite().await, a.count, a.rate, a.skip_sync).await);
    }
    if a.only.as_deref() != Some("sqlite") {
        rows.push(run(TestDb::postgres().await, a.count, a.rate, a.skip_sync).await);
    }
    let floor = a.count as f64 / a.rate as f64 * 60.0;
    println!();
    println!(
        "domains: {} (all due), sync rate limit {} calls/min: a full sync takes at least {floor:.1} s",
        a.count, a.rate
    );
    println!(
        "{:<11} {:>10} {:>12} {:>9} {:>9} {:>10} {:>9} {:>7} {:>8} {:>12}",
        "backend",
        "setup s",
        "sweep s",
        "renewals",
        "notices",
        "sync s",
        "checked",
        "drift",
        "failed",
        "sync/floor"
    );
    for f in &rows {
        println!(
            "{:<11} {:>10.1} {:>12.2} {:>9} {:>9} {:>10.1} {:>9} {:>7} {:>8} {:>12.3}",
            f.backend,
            f.setup.as_secs_f64(),
            f.sweep.as_secs_f64(),
            f.renewals,
            f.notices,
            f.sync.as_secs_f64(),
            f.checked,
            f.drift,
            f.failures,
            f.sync.as_secs_f64() / floor,
        );
    }
}
