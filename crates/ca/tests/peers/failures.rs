//! Failure paths end in a clear state with a clear message and no endless retries; a job
//! killed between steps resumes from the persisted order URL.

use std::time::{Duration, Instant};

use hickory_proto::rr::Name;
use hickory_proto::rr::rdata::CAA;
use panel1_ca::acme::{OrderRateLimit, record_calls};
use panel1_ca::authority::{OrderStatus, Publication};
use panel1_ca::dns::DnsClient;
use panel1_ca::issue::{Issuance, IssueError};
use panel1_ca::preflight::{CaaRequester, Preflight, PreflightError};
use panel1_ca::{
    AccountRequest, AcmeAuthority, AcmeConfig, CaAccount, CaError, CertificateAuthority,
    IdentifierSet, KeyType, OrderRequest, PrivateKey, ValidationMethod,
};

use crate::common::{NoopSolver, env, quick_poll, unique};

#[tokio::test]
async fn validation_fails_when_the_record_is_missing() {
    let e = env().await;
    let zone = format!("{}.test", unique("missing"));
    let names = IdentifierSet::new([zone.clone()]).unwrap();
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let started = Instant::now();
    let (res, calls) = record_calls(
        Issuance {
            ca: e.ca.as_ref(),
            account: &e.account,
            request: &OrderRequest::dv(names),
            key: &key,
            solver: &NoopSolver(ValidationMethod::Dns01),
            poll: quick_poll(),
            resume_order_url: None,
        }
        .run(&mut |_| {}),
    )
    .await;
    let err = res.unwrap_err();
    let IssueError::Ca(CaError::OrderInvalid {
        problem, order_url, ..
    }) = &err
    else {
        panic!("expected an invalid order, got {err}");
    };
    // The CA's own words, for the name that failed.
    let text = err.to_string();
    assert!(text.contains(&zone), "{text}");
    assert!(text.to_lowercase().contains("txt"), "{text}");
    assert!(
        problem.subproblems.iter().any(|p| p
            .identifier
            .as_deref()
            .is_some_and(|i| i.contains("dns-01"))),
        "{problem:?}"
    );
    assert!(!err.is_retryable());
    // It ended quickly, after a bounded number of requests.
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(calls.len() < 40, "{} calls", calls.len());
    // The order is invalid at the CA too, and a resumed job refuses to carry on with it.
    let o = e.ca.order(&e.account, order_url).await.unwrap();
    assert_eq!(o.status, OrderStatus::Invalid);
    let resumed = Issuance {
        ca: e.ca.as_ref(),
        account: &e.account,
        request: &OrderRequest::dv(IdentifierSet::new([zone.clone()]).unwrap()),
        key: &key,
        solver: &NoopSolver(ValidationMethod::Dns01),
        poll: quick_poll(),
        resume_order_url: Some(order_url),
    }
    .run(&mut |_| {})
    .await
    .unwrap_err();
    assert!(
        matches!(resumed, IssueError::OrderNotResumable { .. }),
        "{resumed}"
    );
}

#[tokio::test]
async fn unreachable_ca_is_a_retryable_error_naming_the_url() {
    let port = panel1_ca::testing::free_port();
    let url = format!("https://127.0.0.1:{port}/dir");
    let mut cfg = AcmeConfig::new("down", url.clone());
    cfg.request_timeout_secs = 2;
    let ca = AcmeAuthority::new(cfg).unwrap();
    let started = Instant::now();
    let err = ca
        .create_account(&AccountRequest {
            terms_of_service_agreed: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, CaError::Unreachable { .. }), "{err}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains(&url), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let health = ca.health_check().await.unwrap_err();
    assert!(matches!(health, CaError::Unreachable { .. }), "{health}");

    // A CA that goes away mid-flight: the account and order exist, then Pebble stops.
    let e = env().await;
    let names = IdentifierSet::new([format!("{}.example.test", unique("gone"))]).unwrap();
    let order =
        e.ca.new_order(&e.account, &OrderRequest::dv(names))
            .await
            .unwrap();
    let creds = e.account.clone();
    let cfg = e.pebble.acme_config("pebble");
    drop(e);
    let fresh = AcmeAuthority::new(cfg).unwrap();
    let err = fresh.order(&creds, &order.url).await.unwrap_err();
    assert!(matches!(err, CaError::Unreachable { .. }), "{err}");
}

#[tokio::test]
async fn caa_forbidding_the_ca_stops_before_any_order() {
    let e = env().await;
    let zone = format!("{}.test", unique("caa"));
    e.dns.add_zone(&zone);
    let other = |ca: &str| CAA::new_issue(false, Some(Name::from_ascii(ca).unwrap()), vec![]);
    e.dns.set_caa(&zone, vec![other("letsencrypt.org")]);
    let preflight = Preflight::new(DnsClient::new(e.dns.addr()));
    let ids = e.ca.caa_identities();
    let who = CaaRequester {
        identities: &ids,
        account_uri: Some(&e.account.url),
        method: Some(ValidationMethod::Http01),
    };
    // The record at the zone apex governs a name two labels down.
    let names = IdentifierSet::new([format!("www.shop.{zone}")]).unwrap();
    let (res, calls) = record_calls(preflight.check_caa(&names, &who)).await;
    let err = res.unwrap_err();
    let PreflightError::CaaForbids { found_at, .. } = &err else {
        panic!("expected a CAA refusal, got {err}");
    };
    assert_eq!(found_at, &zone);
    let msg = err.to_string();
    assert!(
        msg.contains("letsencrypt.org") && msg.contains("pebble.test"),
        "{msg}"
    );
    assert!(calls.is_empty(), "no CA call before the pre-flight passes");

    // Allowing the CA (and only for its DNS-01 validations) lets HTTP-01 fail and DNS-01 pass.
    let mut allow = CAA::new_issue(
        false,
        Some(Name::from_ascii("pebble.test").unwrap()),
        vec![hickory_proto::rr::rdata::caa::KeyValue::new(
            "validationmethods",
            "dns-01",
        )],
    );
    allow.issuer_critical = false;
    e.dns.set_caa(&zone, vec![allow]);
    assert!(preflight.check_caa(&names, &who).await.is_err());
    let dns_who = CaaRequester {
        method: Some(ValidationMethod::Dns01),
        ..who.clone()
    };
    preflight.check_caa(&names, &dns_who).await.unwrap();

    // A broken zone (SERVFAIL) is an error, not a pass.
    let broken = format!("{}.test", unique("servfail"));
    e.dns.set_servfail(&broken);
    let err = preflight
        .check_caa(&IdentifierSet::new([broken.clone()]).unwrap(), &who)
        .await
        .unwrap_err();
    assert!(
        matches!(err, PreflightError::CaaLookupFailed { .. }),
        "{err}"
    );

    // An authoritative-only server (Panel1's own) refuses the parents of its zones: no CAA
    // record there, so climbing goes on (RFC 8659) and the name may be issued for; a refused
    // question about the name itself is still an error.
    let served = format!("{}.test", unique("refused"));
    e.dns.add_zone(&served);
    e.dns.set_refused("test");
    let both = IdentifierSet::new([served.clone(), format!("*.{served}")]).unwrap();
    preflight.check_caa(&both, &who).await.unwrap();
    e.dns.set_refused(&served);
    let err = preflight.check_caa(&both, &who).await.unwrap_err();
    assert!(
        matches!(err, PreflightError::CaaLookupFailed { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn names_must_resolve_for_http01() {
    let dns = panel1_ca::testing::TestDns::start(None).await.unwrap();
    dns.set_a("up.example.test", std::net::Ipv4Addr::new(192, 0, 2, 10));
    let preflight = Preflight::new(DnsClient::new(dns.addr()));
    preflight
        .check_resolves(&IdentifierSet::new(["up.example.test", "*.example.test"]).unwrap())
        .await
        .unwrap();
    let err = preflight
        .check_resolves(&IdentifierSet::new(["down.example.test"]).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, PreflightError::DoesNotResolve { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("down.example.test"));
}

#[tokio::test]
async fn local_order_limit_answers_rate_limited_without_calling_the_ca() {
    let e = env().await;
    let mut cfg = e.pebble.acme_config("pebble");
    cfg.new_orders = Some(OrderRateLimit {
        orders: 2,
        window_secs: 3600,
    });
    let ca = AcmeAuthority::new(cfg).unwrap();
    let account = CaAccount {
        ca: "pebble".into(),
        ..e.account.clone()
    };
    for _ in 0..2 {
        let names = IdentifierSet::new([format!("{}.example.test", unique("rl"))]).unwrap();
        ca.new_order(&account, &OrderRequest::dv(names))
            .await
            .unwrap();
    }
    let names = IdentifierSet::new([format!("{}.example.test", unique("rl"))]).unwrap();
    let (res, calls) = record_calls(ca.new_order(&account, &OrderRequest::dv(names))).await;
    let err = res.unwrap_err();
    let CaError::RateLimited { retry_after, .. } = &err else {
        panic!("expected a rate limit, got {err}");
    };
    let ra = retry_after.unwrap();
    assert!(
        ra > Duration::from_secs(3500) && ra <= Duration::from_secs(3600),
        "{ra:?}"
    );
    assert!(err.is_retryable());
    assert!(calls.is_empty(), "{calls:?}");
}

#[tokio::test]
async fn a_killed_job_resumes_from_the_order_url() {
    let e = env().await;
    let names = IdentifierSet::new([format!("{}.example.test", unique("resume"))]).unwrap();
    let req = OrderRequest::dv(names.clone());
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();

    // First run: order placed, token published, CA told... then the worker dies.
    let order = e.ca.new_order(&e.account, &req).await.unwrap();
    let todo = order
        .challenges_to_complete(ValidationMethod::Http01)
        .unwrap();
    let (_, ch) = todo[0];
    let Publication::Http01 {
        token,
        key_authorization,
        ..
    } = &ch.publication
    else {
        panic!("http-01 expected");
    };
    e.http.set(token, key_authorization);
    e.ca.ready(&e.account, &order.url, std::slice::from_ref(&ch.url))
        .await
        .unwrap();
    let persisted_url = order.url.clone();
    let persisted_account = e.account.clone();

    // Second run, in a "new process": a fresh adapter, only the persisted state.
    let ca = AcmeAuthority::new(e.pebble.acme_config("pebble")).unwrap();
    let issued = Issuance {
        ca: &ca,
        account: &persisted_account,
        request: &req,
        key: &key,
        solver: &e.http,
        poll: quick_poll(),
        resume_order_url: Some(&persisted_url),
    }
    .run(&mut |_| {})
    .await
    .unwrap();
    assert_eq!(issued.order_url, persisted_url);
    assert!(issued.chain.names_match(&names));

    // Killed after finalize: resuming downloads the same certificate, no second CSR.
    let again = Issuance {
        ca: &ca,
        account: &persisted_account,
        request: &req,
        key: &key,
        solver: &e.http,
        poll: quick_poll(),
        resume_order_url: Some(&persisted_url),
    }
    .run(&mut |o| assert_eq!(o.status, OrderStatus::Valid))
    .await
    .unwrap();
    assert_eq!(again.chain.leaf.serial_hex, issued.chain.leaf.serial_hex);
}
