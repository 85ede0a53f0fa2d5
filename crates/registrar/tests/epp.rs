//! The EPP adapter against the local EPP server: every kind of frame it sends validates
//! against the IANA schemas, the idempotency key travels as clTRID, RGP restore, login
//! failures, and the curExpDate guard against a repeated renewal.

mod support;

use std::collections::BTreeSet;

use chrono::Months;
use panel1_core::SecretString;
use panel1_core::domain_lifecycle::{DomainState, EppStatus, RgpStatus, derive_state};
use panel1_core::domain_name::DomainName;
use panel1_registrar::epp::{Epp, EppConfig};
use panel1_registrar::*;
use support::battery::{contact, register_request};
use support::epp_server::{self, EppServer};

fn config(server: &EppServer) -> EppConfig {
    EppConfig {
        host: "127.0.0.1".into(),
        port: server.port,
        client_id: epp_server::CLIENT_ID.into(),
        password: SecretString::new(epp_server::PASSWORD),
        ca_pem: Some(server.ca_pem.clone()),
        client_cert_pem: None,
        client_key_pem: None,
        timeout_secs: 5,
        tlds: vec![],
    }
}

fn name(s: &str) -> DomainName {
    DomainName::parse(s).unwrap()
}

fn k(s: &str) -> IdempotencyKey {
    IdempotencyKey::new(s).unwrap()
}

#[tokio::test]
async fn xmllint_refuses_a_frame_that_breaks_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let good = r#"<?xml version="1.0" encoding="UTF-8"?><epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><command><check><domain:check xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"><domain:name>example.com</domain:name></domain:check></check><clTRID>ABC-12345</clTRID></command></epp>"#;
    epp_server::validate(dir.path(), good).await.unwrap();
    // domain:create without the required authInfo.
    let bad = r#"<?xml version="1.0" encoding="UTF-8"?><epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><command><create><domain:create xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"><domain:name>example.com</domain:name></domain:create></create><clTRID>ABC-12345</clTRID></command></epp>"#;
    let why = epp_server::validate(dir.path(), bad).await.unwrap_err();
    assert!(
        why.contains("authInfo") || why.contains("fails to validate"),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_frame_kind_validates_and_carries_the_key() {
    let server = epp_server::start().await;
    let epp = Epp::new(config(&server)).unwrap();
    let n = name("frames.com");
    epp.health().await.result.unwrap();
    epp.check(&[n.clone(), name("other.net")])
        .await
        .result
        .unwrap();
    let key = k("register:frames.com:1");
    let reg = epp
        .register(&register_request(&n, 2), &key)
        .await
        .result
        .unwrap();
    assert_eq!(
        reg.expires_at,
        reg.created_at.checked_add_months(Months::new(24)).unwrap()
    );
    assert!(server.state.lock().unwrap().cltrids.contains(&key.short()));
    let info = epp.info(&n).await.result.unwrap();
    assert_eq!(info.rgp_statuses, [RgpStatus::AddPeriod]);
    epp.renew(
        &RenewRequest {
            name: n.clone(),
            years: 1,
            current_expiry: info.expires_at.unwrap(),
            premium_price: None,
        },
        &k("renew:frames.com:a"),
    )
    .await
    .result
    .unwrap();
    epp.update_nameservers(&n, &[name("ns9.example.net")], &k("ns"))
        .await
        .result
        .unwrap();
    epp.set_lock(&n, true, &k("lock")).await.result.unwrap();
    epp.set_hold(&n, true, &k("hold")).await.result.unwrap();
    let mut contacts = panel1_core::contact::DomainContacts::all(contact("new@example.org"));
    contacts.admin = contact("admin@example.org");
    epp.update_contacts(&n, &contacts, &k("contacts"))
        .await
        .result
        .unwrap();
    let info = epp.info(&n).await.result.unwrap();
    assert!(info.epp_statuses.contains(&EppStatus::ClientHold));
    assert!(
        info.epp_statuses
            .contains(&EppStatus::ClientTransferProhibited)
    );
    assert_eq!(info.contacts.unwrap().admin.email, "admin@example.org");
    let code = epp.auth_code(&n).await;
    assert!(!code.result.unwrap().expose().is_empty());
    server.plant_foreign("away.com", "Aw4y-code");
    let t = epp
        .transfer_in(
            &TransferRequest {
                name: name("away.com"),
                auth_code: SecretString::new("Aw4y-code"),
                years: 1,
                contacts: None,
            },
            &k("transfer"),
        )
        .await;
    assert!(
        !t.transcript.text().contains("Aw4y-code"),
        "{}",
        t.transcript.text()
    );
    assert_eq!(t.result.unwrap().state, TransferState::Pending);
    epp.transfer_status(&name("away.com"), None)
        .await
        .result
        .unwrap();
    server.plant_in_redemption("redeem.com", "p1redeem");
    epp.restore(&name("redeem.com"), &k("restore"))
        .await
        .result
        .unwrap();
    epp.logout().await;

    let invalid = server.invalid_frames();
    assert!(invalid.is_empty(), "{invalid:#?}");
    let answers = server.invalid_answers();
    assert!(answers.is_empty(), "{answers:#?}");
    let kinds: BTreeSet<String> = server
        .frames()
        .into_iter()
        .map(|(label, _)| label)
        .collect();
    for want in [
        "hello",
        "login epp-1.0",
        "check domain-1.0",
        "create contact-1.0",
        "create domain-1.0",
        "info domain-1.0",
        "info contact-1.0",
        "renew domain-1.0",
        "update domain-1.0",
        "transfer domain-1.0",
        "logout",
    ] {
        assert!(
            kinds.iter().any(|k| k.starts_with(want) || k == want),
            "no {want} frame in {kinds:?}"
        );
    }
    assert!(server.frames().len() >= 25);
}

#[tokio::test]
async fn restore_brings_a_domain_back_from_redemption() {
    let server = epp_server::start().await;
    let epp = Epp::new(config(&server)).unwrap();
    let n = name("redeemed.com");
    server.plant_in_redemption(n.as_ascii(), "p1red");
    let info = epp.info(&n).await.result.unwrap();
    assert_eq!(info.rgp_statuses, [RgpStatus::RedemptionPeriod]);
    assert!(info.epp_statuses.contains(&EppStatus::PendingDelete));
    assert_eq!(
        derive_state(DomainState::Active, &info.report(), chrono::Utc::now()),
        DomainState::Redemption
    );
    epp.restore(&n, &k("restore-1")).await.result.unwrap();
    let info = epp.info(&n).await.result.unwrap();
    assert!(info.rgp_statuses.is_empty());
    let again = epp.restore(&n, &k("restore-2")).await.result.unwrap_err();
    assert_eq!(
        again.failure_kind(),
        Some(FailureKind::NotEligible),
        "{again}"
    );
    assert!(
        server.invalid_frames().is_empty(),
        "{:#?}",
        server.invalid_frames()
    );
}

#[tokio::test]
async fn a_stale_current_expiry_stops_a_repeated_renewal() {
    let server = epp_server::start().await;
    let epp = Epp::new(config(&server)).unwrap();
    let n = name("guarded.com");
    let reg = epp
        .register(&register_request(&n, 1), &k("reg"))
        .await
        .result
        .unwrap();
    let req = RenewRequest {
        name: n.clone(),
        years: 1,
        current_expiry: reg.expires_at,
        premium_price: None,
    };
    epp.renew(&req, &k("renew-1")).await.result.unwrap();
    // The same request again (a retry that did not ask first) is refused by the registry.
    let e = epp.renew(&req, &k("renew-1")).await.result.unwrap_err();
    assert_eq!(e.failure_kind(), Some(FailureKind::InvalidInput), "{e}");
    assert!(e.to_string().contains("curExpDate"), "{e}");
    let info = epp.info(&n).await.result.unwrap();
    assert_eq!(
        info.expires_at.unwrap(),
        reg.expires_at.checked_add_months(Months::new(12)).unwrap()
    );
}

#[tokio::test]
async fn a_wrong_password_is_an_authentication_failure_without_the_password() {
    let server = epp_server::start().await;
    let epp = Epp::new(EppConfig {
        password: SecretString::new("Wrong-passw0rd"),
        ..config(&server)
    })
    .unwrap();
    let reply = epp.check(&[name("x.com")]).await;
    let e = reply.result.unwrap_err();
    assert_eq!(e.failure_kind(), Some(FailureKind::Authentication), "{e}");
    let text = reply.transcript.text();
    assert!(text.contains("<pw>***</pw>"), "{text}");
    assert!(!text.contains("Wrong-passw0rd"));
    assert!(!format!("{epp:?} {e}").contains("Wrong-passw0rd"));
}

#[tokio::test]
async fn an_unreachable_server_is_retryable() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let server = epp_server::start().await;
    let epp = Epp::new(EppConfig {
        port,
        ..config(&server)
    })
    .unwrap();
    let e = epp
        .register(&register_request(&name("x.com"), 1), &k("x"))
        .await
        .result
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
}
