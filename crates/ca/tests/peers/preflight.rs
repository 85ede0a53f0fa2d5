//! The DNS side against the test DNS server: TXT visibility on the zone's authoritative
//! servers (with CNAME delegation of `_acme-challenge`), and the client's TCP fallback.

use std::time::Duration;

use hickory_proto::rr::RecordType;
use panel1_ca::dns::DnsClient;
use panel1_ca::preflight::{Preflight, PreflightError, wait_txt_at};
use panel1_ca::testing::TestDns;

use crate::common::unique;

#[tokio::test]
async fn txt_records_are_checked_on_the_authoritative_servers() {
    let dns = TestDns::start(None).await.unwrap();
    let zone = format!("{}.test", unique("auth"));
    dns.add_zone(&zone);
    let pf = Preflight::new(DnsClient::new(dns.addr())).with_ns_port(dns.addr().port());
    let record = format!("_acme-challenge.www.{zone}");

    let (found, servers) = pf.authoritative_servers(&record).await.unwrap();
    assert_eq!(found, zone);
    assert_eq!(servers, vec![dns.addr()]);

    // Not there yet: a bounded wait, then an error showing what each server answers.
    let err = pf
        .wait_txt_visible(
            &record,
            "expected-value",
            Duration::from_millis(300),
            Duration::from_millis(100),
        )
        .await
        .unwrap_err();
    let PreflightError::TxtNotVisible { seen, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(seen.len(), 1);
    assert!(err.to_string().contains("expected-value"));

    // Published while we wait: seen.
    let d = std::sync::Arc::new(dns);
    let d2 = d.clone();
    let r2 = record.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        d2.add_txt(&r2, "other-value");
        d2.add_txt(&r2, "expected-value");
    });
    pf.wait_txt_visible(
        &record,
        "expected-value",
        Duration::from_secs(3),
        Duration::from_millis(50),
    )
    .await
    .unwrap();

    // `_acme-challenge` delegated by CNAME to a zone the platform hosts.
    let hosted = format!("{}.test", unique("acme-delegation"));
    d.add_zone(&hosted);
    let customer = format!("_acme-challenge.shop.{}.test", unique("customer"));
    let target = format!("shop.{hosted}");
    d.set_cname(&customer, &target);
    assert_eq!(pf.effective_record_name(&customer).await.unwrap(), target);
    d.add_txt(&target, "delegated");
    pf.wait_txt_visible(
        &customer,
        "delegated",
        Duration::from_secs(2),
        Duration::from_millis(50),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn large_answers_fall_back_to_tcp() {
    let dns = TestDns::start(None).await.unwrap();
    let name = "_acme-challenge.big.example.test";
    let values: Vec<String> = (0..40)
        .map(|i| format!("{i:02}-{}", "x".repeat(40)))
        .collect();
    for v in &values {
        dns.add_txt(name, v);
    }
    let ans = DnsClient::new(dns.addr())
        .query(name, RecordType::TXT, false)
        .await
        .unwrap();
    let mut got = ans.txt_values();
    got.sort();
    assert_eq!(got, values);
    wait_txt_at(
        &[dns.addr()],
        name,
        &values[39],
        Duration::from_secs(1),
        Duration::from_millis(50),
        Duration::from_secs(1),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_silent_server_times_out() {
    // A UDP socket that never answers.
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let client =
        DnsClient::new(sock.local_addr().unwrap()).with_timeout(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let err = client
        .query("example.test", RecordType::A, true)
        .await
        .unwrap_err();
    assert!(
        matches!(err, panel1_ca::dns::DnsError::Timeout { .. }),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}
