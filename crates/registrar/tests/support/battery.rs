//! The registrar conformance battery: one generic async function per behaviour, run by
//! `battery!` against every adapter through its [`Harness`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Months, Utc};
use panel1_core::SecretString;
use panel1_core::contact::{Contact, ContactData, DomainContacts};
use panel1_core::domain_name::DomainName;
use panel1_registrar::*;

/// What the battery needs from each adapter's test setup.
#[async_trait]
pub trait Harness: Send + Sync {
    fn registrar(&self) -> Arc<dyn Registrar>;
    /// A TLD the registrar sells, e.g. `com`.
    fn tld(&self) -> &str {
        "com"
    }
    /// A name in a TLD the registrar does not sell.
    fn unsupported(&self) -> DomainName {
        DomainName::parse("example.unsupportedtld").unwrap()
    }
    /// A domain registered in another account, with its auth code.
    async fn foreign_domain(&self) -> (DomainName, SecretString);
    /// The losing side approves (or the auto-approve period passes).
    async fn complete_transfer(&self, name: &DomainName);
    /// The next mutating call is received and applied, but its answer never arrives.
    async fn arm_lost_response(&self);
    async fn disarm(&self);
    /// Secrets of the configuration that must never show.
    fn secrets(&self) -> Vec<String>;
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn fresh(h: &dyn Harness, prefix: &str) -> DomainName {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = Utc::now().timestamp_subsec_nanos();
    DomainName::parse(&format!(
        "{prefix}-{}-{n}-{nanos}.{}",
        std::process::id(),
        h.tld()
    ))
    .unwrap()
}

pub fn key(name: &DomainName, op: &str) -> IdempotencyKey {
    IdempotencyKey::derive(
        name,
        op,
        &Utc::now().timestamp_nanos_opt().unwrap().to_string(),
    )
}

pub fn contact(email: &str) -> Contact {
    Contact::parse(ContactData {
        first_name: "Ann".into(),
        last_name: "Example".into(),
        organization: None,
        email: email.into(),
        phone: "+44.2079460000".into(),
        fax: None,
        address1: "1 High Street".into(),
        address2: None,
        city: "London".into(),
        state_province: Some("London".into()),
        postal_code: Some("SW1A 1AA".into()),
        country: "GB".into(),
    })
    .unwrap()
}

pub fn register_request(name: &DomainName, years: u8) -> RegisterRequest {
    RegisterRequest {
        name: name.clone(),
        years,
        nameservers: vec![
            DomainName::parse("ns1.panel1.test").unwrap(),
            DomainName::parse("ns2.panel1.test").unwrap(),
        ],
        contacts: DomainContacts::all(contact("ann@example.com")),
        privacy: false,
        premium_price: None,
    }
}

fn same_day(a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
    a.date_naive() == b.date_naive()
}

fn plus_years(t: DateTime<Utc>, y: u32) -> DateTime<Utc> {
    t.checked_add_months(Months::new(12 * y)).unwrap()
}

pub async fn registered(h: &dyn Harness, prefix: &str, years: u8) -> (DomainName, Registered) {
    let name = fresh(h, prefix);
    let r = h
        .registrar()
        .register(&register_request(&name, years), &key(&name, "register"))
        .await
        .result
        .unwrap_or_else(|e| panic!("registering {name} failed: {e}"));
    (name, r)
}

fn assert_no_secret(h: &dyn Harness, text: &str) {
    for s in h.secrets() {
        assert!(!text.contains(&s), "a secret leaked into: {text}");
    }
}

pub async fn check_many_names(h: &dyn Harness) {
    let free = fresh(h, "free");
    let (taken, _) = h.foreign_domain().await;
    let reply = h.registrar().check(&[free.clone(), taken.clone()]).await;
    assert_no_secret(h, &reply.transcript.text());
    let got = reply.result.expect("check answers");
    assert_eq!(got.len(), 2, "{got:?}");
    let f = got
        .iter()
        .find(|a| a.name == free)
        .expect("the free name is answered");
    let t = got
        .iter()
        .find(|a| a.name == taken)
        .expect("the taken name is answered");
    assert!(f.available, "{f:?}");
    assert!(!t.available, "{t:?}");
}

pub async fn register_then_info_shows_the_registrars_expiry(h: &dyn Harness) {
    let (name, reg) = registered(h, "reg", 2).await;
    assert_eq!(reg.name, name);
    assert!(
        same_day(reg.expires_at, plus_years(reg.created_at, 2)),
        "2 years: created {} expires {}",
        reg.created_at,
        reg.expires_at
    );
    let info = h
        .registrar()
        .info(&name)
        .await
        .result
        .expect("info answers");
    assert!(info.in_account);
    assert!(
        same_day(info.expires_at.expect("expiry"), reg.expires_at),
        "{info:?}"
    );
    let ns: Vec<&str> = info.nameservers.iter().map(|n| n.as_ascii()).collect();
    assert_eq!(ns, ["ns1.panel1.test", "ns2.panel1.test"]);
    let derived = panel1_core::domain_lifecycle::derive_state(
        panel1_core::domain_lifecycle::DomainState::PendingRegistration,
        &info.report(),
        Utc::now(),
    );
    assert_eq!(derived, panel1_core::domain_lifecycle::DomainState::Active);
}

pub async fn registering_a_taken_name_is_a_definite_failure(h: &dyn Harness) {
    let (taken, _) = h.foreign_domain().await;
    let e = h
        .registrar()
        .register(&register_request(&taken, 1), &key(&taken, "register"))
        .await
        .result
        .expect_err("a taken name cannot be registered");
    assert_eq!(e.failure_kind(), Some(FailureKind::NotAvailable), "{e}");
    assert!(e.is_definite());
}

pub async fn renew_moves_expiry_by_exactly_one_term(h: &dyn Harness) {
    let (name, reg) = registered(h, "renew", 1).await;
    let before = h
        .registrar()
        .info(&name)
        .await
        .result
        .unwrap()
        .expires_at
        .unwrap();
    assert!(same_day(before, reg.expires_at));
    let renewed = h
        .registrar()
        .renew(
            &RenewRequest {
                name: name.clone(),
                years: 1,
                current_expiry: before,
                premium_price: None,
            },
            &key(&name, "renew"),
        )
        .await
        .result
        .expect("renew");
    assert!(
        same_day(renewed.expires_at, plus_years(before, 1)),
        "{before} -> {}",
        renewed.expires_at
    );
    let after = h
        .registrar()
        .info(&name)
        .await
        .result
        .unwrap()
        .expires_at
        .unwrap();
    assert!(
        same_day(after, plus_years(before, 1)),
        "{before} -> {after}"
    );
    assert_eq!(after.year(), before.year() + 1);
}

pub async fn transfer_with_the_right_auth_code_completes(h: &dyn Harness) {
    let r = h.registrar();
    let (name, code) = h.foreign_domain().await;
    let reply = r
        .transfer_in(
            &TransferRequest {
                name: name.clone(),
                auth_code: code.clone(),
                years: 1,
                contacts: None,
            },
            &key(&name, "transfer"),
        )
        .await;
    if let Err(e) = &reply.result
        && e.is_not_supported()
    {
        return;
    }
    assert!(
        !reply.transcript.text().contains(code.expose()),
        "the auth code leaked"
    );
    let started = reply.result.expect("transfer accepted");
    assert!(
        matches!(
            started.state,
            TransferState::Pending | TransferState::Completed
        ),
        "{started:?}"
    );
    h.complete_transfer(&name).await;
    let status = r
        .transfer_status(&name, started.transfer_id.as_deref())
        .await
        .result
        .expect("transfer status");
    assert_eq!(status.state, TransferState::Completed, "{status:?}");
    let info = r.info(&name).await.result.expect("info after transfer");
    assert!(info.in_account, "{info:?}");
}

pub async fn transfer_with_a_wrong_auth_code_fails_clearly(h: &dyn Harness) {
    let r = h.registrar();
    let (name, _) = h.foreign_domain().await;
    let reply = r
        .transfer_in(
            &TransferRequest {
                name: name.clone(),
                auth_code: SecretString::new("wrong-code-123"),
                years: 1,
                contacts: None,
            },
            &key(&name, "transfer"),
        )
        .await;
    match reply.result {
        Err(e) if e.is_not_supported() => {}
        Err(e) => assert_eq!(e.failure_kind(), Some(FailureKind::BadAuthCode), "{e}"),
        Ok(started) => {
            // Registrars that check the code asynchronously report it in the status.
            let status = r
                .transfer_status(&name, started.transfer_id.as_deref())
                .await
                .result
                .expect("transfer status");
            assert!(
                matches!(
                    status.state,
                    TransferState::Cancelled | TransferState::Rejected
                ),
                "{status:?}"
            );
            let msg = status.message.unwrap_or_default().to_lowercase();
            assert!(msg.contains("invalid") || msg.contains("auth"), "{msg}");
        }
    }
    let info = r.info(&name).await.result;
    if let Ok(info) = info {
        assert!(
            !info.in_account,
            "a refused transfer leaves the domain where it was"
        );
    }
}

pub async fn nameserver_changes_show_in_info(h: &dyn Harness) {
    let r = h.registrar();
    let (name, _) = registered(h, "ns", 1).await;
    let ns = vec![
        DomainName::parse("a.dns.panel1.test").unwrap(),
        DomainName::parse("b.dns.panel1.test").unwrap(),
        DomainName::parse("c.dns.panel1.test").unwrap(),
    ];
    match r
        .update_nameservers(&name, &ns, &key(&name, "ns"))
        .await
        .result
    {
        Err(e) if e.is_not_supported() => return,
        other => other.expect("update nameservers"),
    }
    let info = r.info(&name).await.result.unwrap();
    assert_eq!(info.nameservers, ns);
}

pub async fn contact_changes_show_in_info(h: &dyn Harness) {
    let r = h.registrar();
    let (name, _) = registered(h, "contacts", 1).await;
    let mut c = DomainContacts::all(contact("ann@example.com"));
    c.tech = contact("tech@example.net");
    match r
        .update_contacts(&name, &c, &key(&name, "contacts"))
        .await
        .result
    {
        Err(e) if e.is_not_supported() => return,
        other => other.expect("update contacts"),
    }
    let info = r.info(&name).await.result.unwrap();
    if let Some(got) = info.contacts {
        assert_eq!(got.tech.email, "tech@example.net");
        assert_eq!(got.registrant.email, "ann@example.com");
        assert_eq!(got.registrant.phone, "+44.2079460000");
    }
}

pub async fn lock_changes_show_in_info(h: &dyn Harness) {
    let r = h.registrar();
    let (name, _) = registered(h, "lock", 1).await;
    for want in [true, false, true] {
        match r.set_lock(&name, want, &key(&name, "lock")).await.result {
            Err(e) if e.is_not_supported() => return,
            other => other.expect("set lock"),
        }
        let info = r.info(&name).await.result.unwrap();
        assert_eq!(info.locked, want);
        assert_eq!(
            info.epp_statuses
                .contains(&panel1_core::domain_lifecycle::EppStatus::ClientTransferProhibited),
            want,
            "{:?}",
            info.epp_statuses
        );
    }
}

pub async fn privacy_changes_show_in_info(h: &dyn Harness) {
    let r = h.registrar();
    let (name, _) = registered(h, "privacy", 1).await;
    for want in [true, false] {
        match r
            .set_privacy(&name, want, &key(&name, "privacy"))
            .await
            .result
        {
            Err(e) if e.is_not_supported() => return,
            other => other.expect("set privacy"),
        }
        let info = r.info(&name).await.result.unwrap();
        assert_eq!(info.privacy, Some(want));
    }
}

pub async fn a_lost_response_is_an_unknown_outcome_and_info_tells_the_truth(h: &dyn Harness) {
    let r = h.registrar();
    let name = fresh(h, "lost");
    h.arm_lost_response().await;
    let reply = r
        .register(&register_request(&name, 1), &key(&name, "register"))
        .await;
    h.disarm().await;
    let e = reply.result.expect_err("the answer was lost");
    assert!(e.is_unknown_outcome(), "{e}");
    assert!(e.to_string().contains("ask the registrar"), "{e}");
    // The registration happened: info says so, and a second register is refused.
    let info = r
        .info(&name)
        .await
        .result
        .expect("info after a lost response");
    assert!(info.in_account);
    let again = r
        .register(&register_request(&name, 1), &key(&name, "register"))
        .await
        .result
        .expect_err("already registered");
    assert_eq!(
        again.failure_kind(),
        Some(FailureKind::NotAvailable),
        "{again}"
    );
}

pub async fn errors_are_mapped(h: &dyn Harness) {
    let r = h.registrar();
    let never = fresh(h, "never");
    let e = r.info(&never).await.result.expect_err("not registered");
    assert_eq!(e.failure_kind(), Some(FailureKind::NotFound), "{e}");
    let unsupported = h.unsupported();
    let e = r
        .register(
            &register_request(&unsupported, 1),
            &key(&unsupported, "register"),
        )
        .await
        .result
        .expect_err("unsupported TLD");
    assert_eq!(e.failure_kind(), Some(FailureKind::UnsupportedTld), "{e}");
    assert!(e.is_definite());
}

pub async fn auth_code_is_secret(h: &dyn Harness) {
    let r = h.registrar();
    let (name, _) = registered(h, "auth", 1).await;
    let reply = r.auth_code(&name).await;
    match reply.result {
        Err(e) if e.is_not_supported() => {}
        Err(e) => panic!("auth code: {e}"),
        Ok(code) => {
            assert!(!code.expose().is_empty());
            assert_eq!(format!("{code:?}"), "***");
            assert!(
                !reply.transcript.text().contains(code.expose()),
                "{}",
                reply.transcript.text()
            );
        }
    }
}

pub async fn listing_shows_registered_domains(h: &dyn Harness) {
    let r = h.registrar();
    let (name, reg) = registered(h, "list", 1).await;
    let mut page = ListRequest {
        page: 1,
        page_size: 2,
    };
    let mut seen = None;
    for _ in 0..1000 {
        let list = match r.list_domains(&page).await.result {
            Err(e) if e.is_not_supported() => return,
            other => other.expect("list"),
        };
        if let Some(d) = list.domains.iter().find(|d| d.name == name) {
            seen = Some(d.clone());
        }
        match list.next_page {
            Some(p) => page.page = p,
            None => break,
        }
    }
    let d = seen.expect("the new domain is listed");
    assert!(same_day(d.expires_at.unwrap(), reg.expires_at));
}

pub async fn health_answers_and_hides_secrets(h: &dyn Harness) {
    let r = h.registrar();
    let reply = r.health().await;
    assert_no_secret(h, &reply.transcript.text());
    reply.result.expect("health");
}
