//! The Namecheap adapter against a local server replaying Namecheap's documented answers:
//! the request parameters it sends, the documented error numbers it maps, HTTP-level
//! failures, and secrets kept out of transcripts.

mod support;

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use panel1_core::SecretString;
use panel1_core::domain_name::DomainName;
use panel1_registrar::namecheap::{Namecheap, NamecheapConfig};
use panel1_registrar::*;
use support::battery::register_request;
use support::namecheap_server::{self, API_KEY};

fn config(url: &str) -> NamecheapConfig {
    NamecheapConfig {
        api_user: namecheap_server::API_USER.into(),
        api_key: SecretString::new(API_KEY),
        username: None,
        client_ip: namecheap_server::CLIENT_IP.into(),
        sandbox: false,
        endpoint: Some(url.to_owned()),
        timeout_secs: 1,
    }
}

fn name(s: &str) -> DomainName {
    DomainName::parse(s).unwrap()
}

fn k(s: &str) -> IdempotencyKey {
    IdempotencyKey::new(s).unwrap()
}

#[tokio::test]
async fn sends_the_documented_parameters() {
    let server = namecheap_server::start().await;
    let nc = Namecheap::new(config(&server.url)).unwrap();
    let n = name("params-test.co.uk");
    // co.uk is not sold by the replay server: the documented error comes back.
    let e = nc
        .register(&register_request(&n, 1), &k("r1"))
        .await
        .result
        .unwrap_err();
    assert_eq!(e.failure_kind(), Some(FailureKind::UnsupportedTld), "{e}");
    assert!(e.to_string().contains("2030280"), "{e}");
    let form = server.requests().pop().unwrap();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("Command"), Some("namecheap.domains.create"));
    assert_eq!(get("ApiUser"), Some("apiexample"));
    assert_eq!(get("UserName"), Some("apiexample"));
    assert_eq!(get("ClientIp"), Some("192.0.2.109"));
    assert_eq!(get("DomainName"), Some("params-test.co.uk"));
    assert_eq!(get("Years"), Some("1"));
    assert_eq!(get("Nameservers"), Some("ns1.panel1.test,ns2.panel1.test"));
    for role in ["Registrant", "Tech", "Admin", "AuxBilling"] {
        assert_eq!(get(&format!("{role}Phone")), Some("+44.2079460000"));
        assert_eq!(get(&format!("{role}Country")), Some("GB"));
        assert_eq!(get(&format!("{role}EmailAddress")), Some("ann@example.com"));
    }

    nc.register(&register_request(&name("split.com"), 1), &k("r2"))
        .await
        .result
        .unwrap();
    nc.update_nameservers(&name("split.com"), &[name("ns1.example.net")], &k("n1"))
        .await
        .result
        .unwrap();
    let form = server.requests().pop().unwrap();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("Command"), Some("namecheap.domains.dns.setCustom"));
    assert_eq!(get("SLD"), Some("split"));
    assert_eq!(get("TLD"), Some("com"));
}

#[tokio::test]
async fn documented_errors_are_mapped() {
    let server = namecheap_server::start().await;
    let nc = Namecheap::new(config(&server.url)).unwrap();
    let n = name("errors.com");
    let cases: [(&str, &str, Option<FailureKind>, &str); 6] = [
        (
            "2019166",
            "Domain not available",
            Some(FailureKind::NotAvailable),
            "failed",
        ),
        (
            "2033409",
            "Possibly a logical error at the authentication phase. The order chargeable for the Username is not found",
            Some(FailureKind::Authentication),
            "failed",
        ),
        (
            "2528166",
            "Order creation failed: Insufficient funds",
            Some(FailureKind::InsufficientFunds),
            "failed",
        ),
        (
            "2515623",
            "Domain is premium while considered regular or is regular while considered premium",
            Some(FailureKind::PremiumPriceRequired),
            "failed",
        ),
        (
            "5050900",
            "Unknown error while adding domain to your account",
            None,
            "unknown_outcome",
        ),
        ("500000", "Too many requests", None, "retryable"),
    ];
    for (num, msg, kind, outcome) in cases {
        server.fail_next(num, msg);
        let e = nc
            .register(&register_request(&n, 1), &k(num))
            .await
            .result
            .unwrap_err();
        assert_eq!(e.failure_kind(), kind, "{num}: {e}");
        assert_eq!(e.outcome(), outcome, "{num}: {e}");
        if num == "500000" {
            assert_eq!(e.retry_after(), Some(Duration::from_secs(60)));
        }
    }
    // Reads: an unknown provider error is simply retryable, "not found" is definite.
    server.fail_next(
        "3031166",
        "Error while getting information from the provider",
    );
    assert!(nc.info(&n).await.result.unwrap_err().is_retryable());
    let e = nc.info(&name("nowhere.com")).await.result.unwrap_err();
    assert_eq!(e.failure_kind(), Some(FailureKind::NotFound), "{e}");
    assert!(e.to_string().contains("2019166"), "{e}");
}

#[tokio::test]
async fn a_wrong_api_key_is_an_authentication_failure_and_never_shown() {
    let server = namecheap_server::start().await;
    let wrong = NamecheapConfig {
        api_key: SecretString::new("ffffffffffffffffffffffffffffffff"),
        ..config(&server.url)
    };
    let nc = Namecheap::new(wrong).unwrap();
    let reply = nc.health().await;
    let e = reply.result.unwrap_err();
    assert_eq!(e.failure_kind(), Some(FailureKind::Authentication), "{e}");
    assert!(e.to_string().contains("1011102"), "{e}");
    assert!(e.to_string().contains("IP address is allowed"), "{e}");
    let text = reply.transcript.text();
    assert!(text.contains("ApiKey=***"), "{text}");
    assert!(!text.contains("ffffffffffffffffffffffffffffffff"));
    assert!(!format!("{nc:?}").contains("ffffffff"));
}

#[tokio::test]
async fn the_transfer_code_is_sent_but_never_recorded() {
    let server = namecheap_server::start().await;
    let nc = Namecheap::new(config(&server.url)).unwrap();
    server.plant_foreign("incoming.com", "Xy7-secret-EPP");
    let reply = nc
        .transfer_in(
            &TransferRequest {
                name: name("incoming.com"),
                auth_code: SecretString::new("Xy7-secret-EPP"),
                years: 1,
                contacts: None,
            },
            &k("t1"),
        )
        .await;
    let t = reply.result.unwrap();
    assert_eq!(t.state, TransferState::Pending);
    assert_eq!(t.charged, Some(Price::new(958, "USD")));
    let form = server.requests().pop().unwrap();
    assert!(form.contains(&("EPPCode".into(), "Xy7-secret-EPP".into())));
    let text = reply.transcript.text();
    assert!(text.contains("EPPCode=***"), "{text}");
    assert!(!text.contains("Xy7-secret-EPP"));
    // Without the id, the status is found through transfer.getList.
    let s = nc
        .transfer_status(&name("incoming.com"), None)
        .await
        .result
        .unwrap();
    assert_eq!(s.transfer_id, t.transfer_id);
    assert_eq!(s.state, TransferState::Pending);
    server.complete_transfer("incoming.com");
    let s = nc
        .transfer_status(&name("incoming.com"), None)
        .await
        .result
        .unwrap();
    assert_eq!(s.state, TransferState::Completed);
}

async fn http_stub(
    status: StatusCode,
    body: &'static str,
) -> (String, tokio::task::JoinHandle<()>) {
    let app = Router::new().route(
        "/xml.response",
        post(move || async move {
            let mut h = HeaderMap::new();
            h.insert("retry-after", "7".parse().unwrap());
            (status, h, body)
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/xml.response", l.local_addr().unwrap());
    let task = tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (url, task)
}

#[tokio::test]
async fn http_failures_are_sorted_by_whether_the_request_may_have_been_applied() {
    let (url, task) = http_stub(StatusCode::SERVICE_UNAVAILABLE, "busy").await;
    let nc = Namecheap::new(config(&url)).unwrap();
    let e = nc
        .register(&register_request(&name("a.com"), 1), &k("h1"))
        .await
        .result
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    task.abort();

    let (url, task) = http_stub(StatusCode::BAD_GATEWAY, "<html>bad gateway</html>").await;
    let nc = Namecheap::new(config(&url)).unwrap();
    let e = nc
        .register(&register_request(&name("a.com"), 1), &k("h2"))
        .await
        .result
        .unwrap_err();
    assert!(e.is_unknown_outcome(), "{e}");
    assert!(
        nc.info(&name("a.com"))
            .await
            .result
            .unwrap_err()
            .is_retryable()
    );
    task.abort();

    let (url, task) = http_stub(StatusCode::OK, "<html>not the API</html").await;
    let nc = Namecheap::new(config(&url)).unwrap();
    let e = nc
        .renew(
            &RenewRequest {
                name: name("a.com"),
                years: 1,
                current_expiry: chrono::Utc::now(),
                premium_price: None,
            },
            &k("h3"),
        )
        .await
        .result
        .unwrap_err();
    assert!(e.is_unknown_outcome(), "{e}");
    task.abort();

    // Nothing listens: the request never left.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/xml.response", l.local_addr().unwrap());
    drop(l);
    let nc = Namecheap::new(config(&url)).unwrap();
    let e = nc
        .register(&register_request(&name("a.com"), 1), &k("h4"))
        .await
        .result
        .unwrap_err();
    assert!(e.is_retryable(), "{e}");
}

#[tokio::test]
async fn listing_pages_through_get_list() {
    let server = namecheap_server::start().await;
    let nc = Namecheap::new(config(&server.url)).unwrap();
    for i in 0..25 {
        nc.register(
            &register_request(&name(&format!("list{i:02}.com")), 1),
            &k(&format!("l{i}")),
        )
        .await
        .result
        .unwrap();
    }
    let p1 = nc
        .list_domains(&ListRequest {
            page: 1,
            page_size: 10,
        })
        .await
        .result
        .unwrap();
    assert_eq!(p1.total, Some(25));
    assert_eq!(p1.domains.len(), 10);
    assert_eq!(p1.next_page, Some(2));
    let p3 = nc
        .list_domains(&ListRequest {
            page: 3,
            page_size: 10,
        })
        .await
        .result
        .unwrap();
    assert_eq!(p3.domains.len(), 5);
    assert_eq!(p3.next_page, None);
    assert_eq!(p3.domains[4].name.as_ascii(), "list24.com");
    let h = nc.health().await.result.unwrap();
    assert_eq!(h.balance, Some(Price::new(493296, "USD")));
}
