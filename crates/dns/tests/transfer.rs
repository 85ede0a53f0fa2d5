//! Zone transfers to a real Knot secondary (AXFR, NOTIFY, TSIG) and the transfer ACL.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use panel1_core::SecretString;
use panel1_dns::{NotifyConfig, ServerConfig, TsigKey};

const SECRET: &str = "8eM4pnq3yNdR2uZk4eKX2gIJjFoxkHrEq3Jt1bO0nCk=";

fn key() -> TsigKey {
    TsigKey::new("xfr-key", "hmac-sha256", SecretString::new(SECRET))
}

/// Records of an AXFR printed by kdig (non-comment lines).
fn transferred(raw: &str) -> Vec<String> {
    raw.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(';') && !l.contains("TSIG"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

async fn axfr(addr: std::net::SocketAddr, zone: &str, extra: &[&str]) -> String {
    let mut args = vec![
        format!("@{}", addr.ip()),
        "-p".into(),
        addr.port().to_string(),
        "+time=3".into(),
        "+retry=0".into(),
        zone.into(),
        "AXFR".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    run("kdig", &args).await
}

struct Knot {
    _peer: Peer,
    dir: tempfile::TempDir,
    port: u16,
}

impl Knot {
    /// Starts knotd on `port` as a secondary of `primary` for `zone`.
    fn start(primary: std::net::SocketAddr, zone: &str, with_key: bool, port: u16) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        for sub in ["run", "db", "zones"] {
            std::fs::create_dir_all(d.join(sub)).expect("dirs");
        }
        let key_conf = if with_key {
            format!("key:\n  - id: xfr-key\n    algorithm: hmac-sha256\n    secret: {SECRET}\n")
        } else {
            String::new()
        };
        let remote_key = if with_key { "    key: xfr-key\n" } else { "" };
        let conf = format!(
            "server:\n    rundir: \"{d}/run\"\n    listen: 127.0.0.1@{port}\n    automatic-acl: on\n\
             {key_conf}\
             database:\n    storage: \"{d}/db\"\n\
             remote:\n  - id: primary\n    address: {ip}@{pport}\n{remote_key}\
             template:\n  - id: default\n    storage: \"{d}/zones\"\n\
             zone:\n  - domain: {zone}\n    master: primary\n",
            d = d.display(),
            ip = primary.ip(),
            pport = primary.port(),
        );
        std::fs::write(d.join("knot.conf"), conf).expect("knot.conf");
        let peer = Peer::spawn(
            "knotd",
            Command::new("knotd").arg("-c").arg(d.join("knot.conf")),
        );
        Self {
            _peer: peer,
            dir,
            port,
        }
    }

    fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    async fn serial(&self, zone: &str) -> Option<u32> {
        let a = kdig(self.addr(), zone, "SOA", &[]).await;
        let line = a.answer.first()?;
        line.split_whitespace().nth(6)?.parse().ok()
    }

    async fn status(&self, zone: &str) -> String {
        run(
            "knotc",
            &[
                "-c".into(),
                self.dir.path().join("knot.conf").display().to_string(),
                "zone-status".into(),
                zone.into(),
            ],
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knot_secondary_follows_by_axfr_and_notify_with_tsig() {
    let catalog = panel1_dns::Catalog::new();
    let mut zone = example_zone();
    catalog.publish(&zone);
    // Knot's port is chosen first: the server sends NOTIFY there.
    let knot_port = free_port();
    let config = ServerConfig {
        tsig_keys: vec![key()],
        notify: NotifyConfig {
            targets: vec![std::net::SocketAddr::from(([127, 0, 0, 1], knot_port))],
            key: Some(key()),
            ..NotifyConfig::default()
        },
        ..test_config()
    };
    let server = panel1_dns::DnsServer::start(config, catalog.clone())
        .await
        .expect("server starts");
    let knot = Knot::start(server.tcp_addr(), "example.test", true, knot_port);
    let ok = wait_until(Duration::from_secs(15), || async {
        knot.serial("example.test").await == Some(2026010100)
    })
    .await;
    assert!(
        ok,
        "Knot transferred the zone: {}",
        knot.status("example.test").await
    );
    // Knot answers with what it transferred, including the chained TSIG messages.
    let a = kdig(knot.addr(), "alias.example.test", "A", &[]).await;
    assert_eq!(a.answer.len(), 3, "{}", a.raw);
    let a = kdig(knot.addr(), "big.example.test", "TXT", &["+tcp"]).await;
    assert_eq!(a.answer.len(), 40, "{}", a.raw);

    // notify() on its own: Knot acknowledges a signed NOTIFY; an unsigned one is refused
    // (its automatic ACL expects the key); nobody listening is no answer.
    let origin = zone.origin.clone();
    let policy = panel1_dns::NotifyPolicy {
        attempts: 2,
        first_timeout: Duration::from_millis(200),
    };
    let out = panel1_dns::notify(&origin, 2026010100, &[knot.addr()], Some(&key()), &policy).await;
    assert!(
        matches!(out[0], panel1_dns::NotifyOutcome::Acknowledged { .. }),
        "{out:?}"
    );
    let out = panel1_dns::notify(&origin, 2026010100, &[knot.addr()], None, &policy).await;
    assert!(
        matches!(
            out[0],
            panel1_dns::NotifyOutcome::Refused { .. } | panel1_dns::NotifyOutcome::NoAnswer { .. }
        ),
        "{out:?}"
    );
    let nobody = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let out = panel1_dns::notify(&origin, 2026010100, &[nobody], None, &policy).await;
    assert_eq!(
        out,
        vec![panel1_dns::NotifyOutcome::NoAnswer {
            target: nobody,
            attempts: 2
        }]
    );

    // A change, published: NOTIFY makes Knot fetch the new serial.
    for r in &mut zone.records {
        if r.name.to_ascii() == "sip.example.test." {
            r.data = hickory_proto::rr::RData::A(hickory_proto::rr::rdata::A(
                "192.0.2.61".parse().unwrap(),
            ));
        }
    }
    zone.soa.serial = 2026010101;
    catalog.publish(&zone);
    let ok = wait_until(Duration::from_secs(15), || async {
        knot.serial("example.test").await == Some(2026010101)
    })
    .await;
    assert!(
        ok,
        "Knot serves the new serial: {}",
        knot.status("example.test").await
    );
    let a = kdig(knot.addr(), "sip.example.test", "A", &[]).await;
    assert_eq!(a.answer_data(), vec!["sip.example.test. A 192.0.2.61"]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn axfr_needs_an_allowed_address_or_the_key() {
    // Only 127.0.0.2 is allowed by address; kdig comes from 127.0.0.1.
    let config = ServerConfig {
        tsig_keys: vec![key()],
        axfr_allow: vec!["127.0.0.2/32".parse().unwrap()],
        ..test_config()
    };
    let (_catalog, server) = serve(&[example_zone()], config).await;
    let addr = server.tcp_addr();
    let refused = axfr(addr, "example.test", &[]).await;
    assert!(refused.contains("REFUSED"), "{refused}");
    assert!(transferred(&refused).is_empty(), "{refused}");
    // Over UDP an AXFR is refused outright.
    let a = dig(server.udp_addr(), "example.test", "AXFR", &["+notcp"]).await;
    assert!(
        a.raw.contains("REFUSED") || a.answer.is_empty(),
        "{}",
        a.raw
    );
    // With the key: the whole zone, SOA first and last, signed.
    let spec = format!("hmac-sha256:xfr-key:{SECRET}");
    let ok = axfr(addr, "example.test", &["-y", &spec]).await;
    let records = transferred(&ok);
    let expected = example_zone().records.len() + 2;
    assert_eq!(records.len(), expected, "{ok}");
    assert!(records[0].contains(" SOA "), "{ok}");
    assert!(records[records.len() - 1].contains(" SOA "), "{ok}");
    assert!(!ok.contains("TSIG") || !ok.contains("failed"), "{ok}");
    // dig checks the TSIG chain too.
    let a = run(
        "dig",
        &[
            format!("@{}", addr.ip()),
            "-p".into(),
            addr.port().to_string(),
            "-y".into(),
            spec.clone(),
            "example.test".into(),
            "AXFR".into(),
        ],
    )
    .await;
    assert!(
        !a.contains("tsig verify failure") && !a.contains("failed"),
        "{a}"
    );
    assert_eq!(transferred(&a).len(), expected, "{a}");
    // A wrong secret is NOTAUTH, and nothing is transferred.
    let wrong = "hmac-sha256:xfr-key:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=";
    let bad = axfr(addr, "example.test", &["-y", wrong]).await;
    assert!(transferred(&bad).is_empty(), "{bad}");
    assert!(bad.contains("NOTAUTH") || bad.contains("BADSIG"), "{bad}");
    server.shutdown().await;

    // The allowed address transfers without a key.
    let config = ServerConfig {
        axfr_allow: vec!["127.0.0.0/8".parse().unwrap()],
        ..test_config()
    };
    let (_catalog, server) = serve(&[example_zone()], config).await;
    let ok = axfr(server.tcp_addr(), "example.test", &[]).await;
    assert_eq!(
        transferred(&ok).len(),
        example_zone().records.len() + 2,
        "{ok}"
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knot_secondary_by_address_without_key() {
    let knot_port = free_port();
    let config = ServerConfig {
        axfr_allow: vec!["127.0.0.1/32".parse().unwrap()],
        notify: NotifyConfig {
            per_zone: [(
                "2.0.192.in-addr.arpa.".to_owned(),
                vec![std::net::SocketAddr::from(([127, 0, 0, 1], knot_port))],
            )]
            .into_iter()
            .collect(),
            ..NotifyConfig::default()
        },
        ..test_config()
    };
    let (catalog, server) = serve(&[reverse_zone()], config).await;
    let knot = Knot::start(server.tcp_addr(), "2.0.192.in-addr.arpa", false, knot_port);
    let ok = wait_until(Duration::from_secs(15), || async {
        knot.serial("2.0.192.in-addr.arpa").await == Some(2026010100)
    })
    .await;
    assert!(ok, "{}", knot.status("2.0.192.in-addr.arpa").await);
    let mut zone = reverse_zone();
    zone.soa.serial = 2026010105;
    catalog.publish(&zone);
    let ok = wait_until(Duration::from_secs(15), || async {
        knot.serial("2.0.192.in-addr.arpa").await == Some(2026010105)
    })
    .await;
    assert!(ok, "{}", knot.status("2.0.192.in-addr.arpa").await);
    let a = kdig(knot.addr(), "25.2.0.192.in-addr.arpa", "PTR", &[]).await;
    assert_eq!(
        a.answer_data(),
        vec!["25.2.0.192.in-addr.arpa. PTR mail.example.test."]
    );
    server.shutdown().await;
}
