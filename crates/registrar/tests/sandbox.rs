//! The sandbox registry's own behaviour: the lifecycle clock, the ledger, balances, premium
//! names, transfers, failure injection, and several handles on one file at once.

mod support;

use std::sync::Arc;

use chrono::{Duration, Months};
use panel1_core::SecretString;
use panel1_core::domain_lifecycle::{DomainState, EppStatus, RgpStatus, derive_state};
use panel1_core::domain_name::DomainName;
use panel1_registrar::sandbox::*;
use panel1_registrar::*;
use support::battery::{contact, register_request};

async fn open() -> (tempfile::TempDir, SandboxRegistry, SandboxRegistrar) {
    let dir = tempfile::tempdir().unwrap();
    let reg = SandboxRegistry::open(&SandboxConfig::new(dir.path().join("r.sqlite3")))
        .await
        .unwrap();
    let r = reg.registrar("panel1");
    (dir, reg, r)
}

fn name(s: &str) -> DomainName {
    DomainName::parse(s).unwrap()
}

fn k(s: &str) -> IdempotencyKey {
    IdempotencyKey::new(s).unwrap()
}

#[tokio::test]
async fn expiry_grace_redemption_restore_and_release() {
    let (_d, reg, r) = open().await;
    let n = name("lifecycle.com");
    let done = r
        .register(&register_request(&n, 1), &k("reg-1"))
        .await
        .result
        .unwrap();
    let info = r.info(&n).await.result.unwrap();
    assert!(info.rgp_statuses.contains(&RgpStatus::AddPeriod));
    assert_eq!(info.epp_statuses, [EppStatus::Ok]);

    // One day after expiry: auto-renew grace, still renewable at the renew price.
    let to_expiry = done.expires_at - reg.now().await.unwrap();
    reg.advance(to_expiry + Duration::days(1)).await.unwrap();
    let info = r.info(&n).await.result.unwrap();
    assert_eq!(info.rgp_statuses, [RgpStatus::AutoRenewPeriod]);
    let now = reg.now().await.unwrap();
    assert_eq!(
        derive_state(DomainState::Active, &info.report(), now),
        DomainState::AutoRenewGrace
    );

    // 45 days after expiry: redemption; renew is refused, restore works and charges.
    reg.advance(Duration::days(45)).await.unwrap();
    let info = r.info(&n).await.result.unwrap();
    assert_eq!(info.rgp_statuses, [RgpStatus::RedemptionPeriod]);
    assert!(info.epp_statuses.contains(&EppStatus::PendingDelete));
    let e = r
        .renew(
            &RenewRequest {
                name: n.clone(),
                years: 1,
                current_expiry: done.expires_at,
                premium_price: None,
            },
            &k("renew-in-redemption"),
        )
        .await
        .result
        .unwrap_err();
    assert_eq!(e.failure_kind(), Some(FailureKind::StatusProhibits), "{e}");
    assert!(e.to_string().contains("restore"), "{e}");
    let restored = r.restore(&n, &k("restore-1")).await.result.unwrap();
    assert!(restored.expires_at.unwrap() > reg.now().await.unwrap());
    assert_eq!(restored.charged, Some(Price::new(8000, "USD")));
    let info = r.info(&n).await.result.unwrap();
    assert!(info.rgp_statuses.is_empty() || info.rgp_statuses == [RgpStatus::AddPeriod]);
    assert_eq!(
        derive_state(
            DomainState::Redemption,
            &info.report(),
            reg.now().await.unwrap()
        ),
        DomainState::Active
    );

    // Not renewed again: grace, redemption, pending delete, then available.
    let exp = info.expires_at.unwrap();
    reg.advance(exp - reg.now().await.unwrap() + Duration::days(76))
        .await
        .unwrap();
    let info = r.info(&n).await.result.unwrap();
    assert_eq!(info.rgp_statuses, [RgpStatus::PendingDelete]);
    assert_eq!(
        r.restore(&n, &k("restore-2"))
            .await
            .result
            .unwrap_err()
            .failure_kind(),
        Some(FailureKind::NotEligible)
    );
    let listed = |l: &DomainList| l.domains.iter().any(|d| d.name == n);
    assert!(listed(
        &r.list_domains(&ListRequest::default())
            .await
            .result
            .unwrap()
    ));
    reg.advance(Duration::days(5)).await.unwrap();
    let list = r
        .list_domains(&ListRequest::default())
        .await
        .result
        .unwrap();
    assert_eq!(list.total, Some(0));
    assert!(!listed(&list));
    assert_eq!(
        r.info(&n).await.result.unwrap_err().failure_kind(),
        Some(FailureKind::NotFound)
    );
    let avail = r.check(std::slice::from_ref(&n)).await.result.unwrap();
    assert!(avail[0].available);

    let ops: Vec<String> = reg
        .ledger_for_name(&n)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.operation)
        .collect();
    assert_eq!(ops, ["register", "restore"]);
}

#[tokio::test]
async fn renewing_twice_charges_twice_and_the_ledger_keeps_the_keys() {
    let (_d, reg, r) = open().await;
    let n = name("twice.com");
    let reg_at = r
        .register(&register_request(&n, 1), &k("register:twice.com:1"))
        .await
        .result
        .unwrap();
    let before = reg.balance("panel1").await.unwrap();
    for (i, key) in ["renew:twice.com:a", "renew:twice.com:b"]
        .iter()
        .enumerate()
    {
        let out = r
            .renew(
                &RenewRequest {
                    name: n.clone(),
                    years: 1,
                    current_expiry: reg_at.expires_at,
                    premium_price: None,
                },
                &k(key),
            )
            .await
            .result
            .unwrap();
        let want = reg_at
            .expires_at
            .checked_add_months(Months::new(12 * (i as u32 + 1)))
            .unwrap();
        assert_eq!(out.expires_at, want);
    }
    let after = reg.balance("panel1").await.unwrap();
    assert_eq!(before.minor - after.minor, 2 * 1299);
    let ledger = reg.ledger().await.unwrap();
    assert_eq!(ledger.len(), 3);
    assert_eq!(ledger[0].idempotency_key, "register:twice.com:1");
    assert_eq!(ledger[1].operation, "renew");
    assert_eq!(ledger[2].balance_after_minor, after.minor);
    assert_eq!(
        reg.ledger_for_key(&k("renew:twice.com:b"))
            .await
            .unwrap()
            .len(),
        1
    );
    let reqs = reg.requests_for_key(&k("renew:twice.com:a")).await.unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].outcome, "applied");
}

#[tokio::test]
async fn balance_and_premium_names() {
    let (_d, reg, r) = open().await;
    let n = name("poor.com");
    reg.set_balance("panel1", 500).await.unwrap();
    let e = r
        .register(&register_request(&n, 1), &k("poor"))
        .await
        .result
        .unwrap_err();
    assert_eq!(
        e.failure_kind(),
        Some(FailureKind::InsufficientFunds),
        "{e}"
    );
    assert!(e.to_string().contains("top up"), "{e}");
    assert!(reg.ledger().await.unwrap().is_empty());
    assert_eq!(
        reg.requests_for_key(&k("poor")).await.unwrap()[0].outcome,
        "refused"
    );

    reg.set_balance("panel1", 1_000_000).await.unwrap();
    let p = name("gold.com");
    reg.set_premium(&p, 250_000, 250_000).await.unwrap();
    let a = r.check(std::slice::from_ref(&p)).await.result.unwrap();
    assert!(a[0].premium);
    assert_eq!(a[0].price, Some(Price::new(250_000, "USD")));
    let e = r
        .register(&register_request(&p, 1), &k("gold-1"))
        .await
        .result
        .unwrap_err();
    assert_eq!(e.failure_kind(), Some(FailureKind::PremiumPriceRequired));
    let mut req = register_request(&p, 1);
    req.premium_price = Some(Price::new(250_000, "USD"));
    let done = r.register(&req, &k("gold-2")).await.result.unwrap();
    assert_eq!(done.charged, Some(Price::new(250_000, "USD")));
    let e = r
        .register(&register_request(&name("x.notsold"), 1), &k("ns"))
        .await
        .result
        .unwrap_err();
    assert_eq!(e.failure_kind(), Some(FailureKind::UnsupportedTld));
    let e = r
        .register(&register_request(&name("www.example.co.uk"), 1), &k("sub"))
        .await
        .result
        .unwrap_err();
    assert_eq!(e.failure_kind(), Some(FailureKind::InvalidInput));
}

#[tokio::test]
async fn transfers_rejected_locked_and_approved() {
    let (_d, reg, r) = open().await;
    let n = name("moving.com");
    let code = SecretString::new("s3cret-code");
    let now = reg.now().await.unwrap();
    reg.plant(&PlantedDomain {
        name: n.clone(),
        account: "losing".into(),
        created_at: now - Duration::days(500),
        expires_at: now + Duration::days(100),
        locked: true,
        nameservers: vec![],
        auth_code: code.clone(),
    })
    .await
    .unwrap();
    let req = TransferRequest {
        name: n.clone(),
        auth_code: code.clone(),
        years: 1,
        contacts: None,
    };
    let e = r.transfer_in(&req, &k("t1")).await.result.unwrap_err();
    assert_eq!(e.failure_kind(), Some(FailureKind::StatusProhibits), "{e}");
    reg.set_locked(&n, false).await.unwrap();

    let t = r.transfer_in(&req, &k("t2")).await.result.unwrap();
    assert_eq!(t.state, TransferState::Pending);
    assert_eq!(
        t.action_by.unwrap().date_naive(),
        (reg.now().await.unwrap() + Duration::days(5)).date_naive()
    );
    let dup = r.transfer_in(&req, &k("t3")).await.result.unwrap_err();
    assert_eq!(dup.failure_kind(), Some(FailureKind::StatusProhibits));
    let theirs = r.info(&n).await.result.unwrap();
    assert!(!theirs.in_account);
    assert!(theirs.epp_statuses.contains(&EppStatus::PendingTransfer));
    reg.reject_transfer(&n).await.unwrap();
    let s = r
        .transfer_status(&n, t.transfer_id.as_deref())
        .await
        .result
        .unwrap();
    assert_eq!(s.state, TransferState::Rejected);
    assert!(
        reg.ledger().await.unwrap().is_empty(),
        "a rejected transfer is not charged"
    );

    let t = r.transfer_in(&req, &k("t4")).await.result.unwrap();
    reg.approve_transfer(&n).await.unwrap();
    let s = r
        .transfer_status(&n, t.transfer_id.as_deref())
        .await
        .result
        .unwrap();
    assert_eq!(s.state, TransferState::Completed);
    assert_eq!(s.charged, Some(Price::new(1099, "USD")));
    assert_eq!(
        s.expires_at.unwrap().date_naive(),
        (now + Duration::days(100))
            .checked_add_months(Months::new(12))
            .unwrap()
            .date_naive()
    );
    let ledger = reg.ledger().await.unwrap();
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].idempotency_key, "t4");
    let mine = r.info(&n).await.result.unwrap();
    assert!(mine.in_account);
    // The old code no longer works: the registry changed it.
    let new_code = r.auth_code(&n).await.result.unwrap();
    assert_ne!(new_code.expose(), code.expose());
}

#[tokio::test]
async fn hold_is_how_a_domain_is_suspended() {
    let (_d, _reg, r) = open().await;
    let n = name("held.com");
    r.register(&register_request(&n, 1), &k("h0"))
        .await
        .result
        .unwrap();
    r.set_hold(&n, true, &k("h1")).await.result.unwrap();
    let info = r.info(&n).await.result.unwrap();
    assert!(info.epp_statuses.contains(&EppStatus::ClientHold));
    r.set_hold(&n, false, &k("h2")).await.result.unwrap();
    assert!(
        !r.info(&n)
            .await
            .result
            .unwrap()
            .epp_statuses
            .contains(&EppStatus::ClientHold)
    );
}

#[tokio::test]
async fn injected_failures_follow_the_seed_and_lost_responses_are_applied() {
    let (_d, reg, r) = open().await;
    let faults = Faults {
        error_rate: 0.3,
        timeout_rate: 0.05,
        lost_response_rate: 0.2,
        timeout: std::time::Duration::from_millis(1),
        seed: 42,
    };
    let mut runs = Vec::new();
    for round in 0..2 {
        reg.set_faults(faults).await.unwrap();
        let mut outcomes = Vec::new();
        for i in 0..60 {
            let n = name(&format!("f{round}-{i}.com"));
            let reply = r
                .register(&register_request(&n, 1), &k(&format!("f{round}-{i}")))
                .await;
            let outcome = match &reply.result {
                Ok(_) => "ok",
                Err(e) => e.outcome(),
            };
            let charged = !reg.ledger_for_name(&n).await.unwrap().is_empty();
            match outcome {
                "ok" => assert!(charged),
                "retryable" => assert!(!charged, "an injected error applies nothing"),
                "unknown_outcome" => {
                    // Either a timeout (nothing applied) or a lost response (applied).
                    let rec = reg
                        .requests_for_key(&k(&format!("f{round}-{i}")))
                        .await
                        .unwrap();
                    assert_eq!(
                        charged,
                        rec[0].outcome == "applied_response_lost",
                        "{rec:?}"
                    );
                }
                other => panic!("unexpected {other}"),
            }
            outcomes.push(outcome);
        }
        runs.push(outcomes);
    }
    assert_eq!(runs[0], runs[1], "the same seed gives the same failures");
    let errors = runs[0].iter().filter(|o| **o == "retryable").count();
    let unknown = runs[0].iter().filter(|o| **o == "unknown_outcome").count();
    assert!(
        (8..=30).contains(&errors),
        "about 30% errors, got {errors}/60"
    );
    assert!(
        (3..=25).contains(&unknown),
        "about 25% unknown, got {unknown}/60"
    );
    reg.set_faults(Faults::default()).await.unwrap();
    assert_eq!(reg.faults().await.unwrap(), Faults::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_handles_on_one_file_never_double_register_or_lose_a_renewal() {
    let dir = tempfile::tempdir().unwrap();
    let config = SandboxConfig::new(dir.path().join("shared.sqlite3"));
    // Four independent handles (separate connection pools), as four processes would have.
    let mut handles = Vec::new();
    for _ in 0..4 {
        handles.push(Arc::new(SandboxRegistry::open(&config).await.unwrap()));
    }
    let n = name("contested.com");
    let mut tasks = Vec::new();
    for (i, h) in handles.iter().enumerate() {
        let h = h.clone();
        let n = n.clone();
        tasks.push(tokio::spawn(async move {
            h.registrar(format!("acct{i}"))
                .register(&register_request(&n, 1), &k(&format!("c{i}")))
                .await
                .result
        }));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => wins += 1,
            Err(e) => assert_eq!(e.failure_kind(), Some(FailureKind::NotAvailable), "{e}"),
        }
    }
    assert_eq!(wins, 1);
    let owner = handles[0].domain_account(&n).await.unwrap().unwrap();
    let start = handles[0]
        .registrar(owner.clone())
        .info(&n)
        .await
        .result
        .unwrap()
        .expires_at
        .unwrap();

    let mut tasks = Vec::new();
    for i in 0..8 {
        let h = handles[i % 4].clone();
        let n = n.clone();
        let owner = owner.clone();
        tasks.push(tokio::spawn(async move {
            h.registrar(owner)
                .renew(
                    &RenewRequest {
                        name: n,
                        years: 1,
                        current_expiry: start,
                        premium_price: None,
                    },
                    &k(&format!("r{i}")),
                )
                .await
                .result
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let end = handles[3]
        .registrar(owner)
        .info(&n)
        .await
        .result
        .unwrap()
        .expires_at
        .unwrap();
    assert_eq!(end, start.checked_add_months(Months::new(12 * 8)).unwrap());
    assert_eq!(handles[1].ledger().await.unwrap().len(), 9);
}

#[tokio::test]
async fn contacts_round_trip_and_listing_pages() {
    let (_d, _reg, r) = open().await;
    for i in 0..5 {
        let n = name(&format!("page{i}.com"));
        let mut req = register_request(&n, 1);
        req.contacts.admin = contact(&format!("admin{i}@example.org"));
        r.register(&req, &k(&format!("p{i}"))).await.result.unwrap();
    }
    let info = r.info(&name("page3.com")).await.result.unwrap();
    assert_eq!(info.contacts.unwrap().admin.email, "admin3@example.org");
    let p1 = r
        .list_domains(&ListRequest {
            page: 1,
            page_size: 2,
        })
        .await
        .result
        .unwrap();
    assert_eq!(p1.total, Some(5));
    assert_eq!(p1.next_page, Some(2));
    let p3 = r
        .list_domains(&ListRequest {
            page: 3,
            page_size: 2,
        })
        .await
        .result
        .unwrap();
    assert_eq!(p3.domains.len(), 1);
    assert_eq!(p3.domains[0].name.as_ascii(), "page4.com");
    assert_eq!(p3.next_page, None);
}
