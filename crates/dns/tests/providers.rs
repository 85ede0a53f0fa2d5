//! The DNS provider adapters against real servers: PowerDNS with its HTTP API, and Knot as
//! an RFC 2136 primary with TSIG.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use common::*;
use hickory_proto::rr::rdata::{A, TXT};
use hickory_proto::rr::{Name, RData, RecordType};
use panel1_core::SecretString;
use panel1_dns::provider::{
    DnsProvider, PowerDnsConfig, PowerDnsProvider, ProviderError, Rfc2136Config, Rfc2136Provider,
    RrsetChange, diff_rrsets,
};
use panel1_dns::{DnsRecord, TsigKey, Zone};

fn rrsets(records: &[DnsRecord]) -> BTreeSet<(String, String, u32, String)> {
    records
        .iter()
        .map(|r| {
            (
                r.name.to_ascii(),
                r.record_type().to_string(),
                r.ttl,
                r.content(),
            )
        })
        .collect()
}

struct PowerDns {
    _peer: Peer,
    _dir: tempfile::TempDir,
    dns: std::net::SocketAddr,
    api: String,
}

impl PowerDns {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let db = d.join("pdns.sqlite3");
        let schema =
            std::fs::read_to_string("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
                .expect("pdns-backend-sqlite3 is installed");
        let mut sqlite = Command::new("sqlite3")
            .arg(&db)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("sqlite3 runs");
        use std::io::Write as _;
        sqlite
            .stdin
            .take()
            .unwrap()
            .write_all(schema.as_bytes())
            .unwrap();
        assert!(sqlite.wait().unwrap().success());
        let dns_port = free_port();
        let api_port = free_port();
        let conf = format!(
            "launch=gsqlite3\ngsqlite3-database={db}\nlocal-address=127.0.0.1\nlocal-port={dns_port}\n\
             socket-dir={d}\ndaemon=no\nguardian=no\nsetuid=\nsetgid=\ndisable-syslog=yes\n\
             api=yes\napi-key=test-secret\nwebserver=yes\nwebserver-address=127.0.0.1\n\
             webserver-port={api_port}\nwebserver-allow-from=127.0.0.0/8\nsecurity-poll-suffix=\n\
             zone-cache-refresh-interval=0\ncache-ttl=0\nnegquery-cache-ttl=0\n\
             query-cache-ttl=0\n",
            db = db.display(),
            d = d.display(),
        );
        std::fs::write(d.join("pdns.conf"), conf).unwrap();
        let peer = Peer::spawn(
            "pdns_server",
            Command::new("pdns_server").arg(format!("--config-dir={}", d.display())),
        );
        let api = format!("http://127.0.0.1:{api_port}");
        let me = Self {
            _peer: peer,
            _dir: dir,
            dns: std::net::SocketAddr::from(([127, 0, 0, 1], dns_port)),
            api,
        };
        let provider = me.provider("test-secret");
        let up = wait_until(Duration::from_secs(20), || async {
            provider.health_check().await.is_ok()
        })
        .await;
        assert!(up, "pdns_server answers on its API");
        me
    }

    fn provider(&self, key: &str) -> PowerDnsProvider {
        PowerDnsProvider::new(PowerDnsConfig::new(
            self.api.clone(),
            SecretString::new(key),
        ))
        .unwrap()
    }
}

async fn pdns_serial(pdns: &PowerDns) -> u32 {
    // +nocookie etc. are not needed; the packet cache is off (see the config).
    let a = dig(pdns.dns, "example.test", "SOA", &[]).await;
    a.answer[0]
        .split_whitespace()
        .nth(6)
        .unwrap()
        .parse()
        .unwrap()
}

fn set_a(zone: &mut Zone, name: &str, ip: &str) {
    for r in &mut zone.records {
        if r.name.to_ascii() == name && r.record_type() == RecordType::A {
            r.data = RData::A(A(ip.parse().unwrap()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn powerdns_adapter_creates_updates_and_deletes_zones() {
    let pdns = PowerDns::start().await;
    let provider = pdns.provider("test-secret");
    let mut zone = example_zone();
    provider.create_zone(&zone).await.expect("zone created");

    // dig against PowerDNS shows what the adapter stored.
    let checks: &[(&str, &str, usize)] = &[
        ("example.test", "MX", 2),
        ("example.test", "CAA", 2),
        ("alias.example.test", "CNAME", 1),
        ("_sip._tcp.example.test", "SRV", 1),
        ("_443._tcp.www.example.test", "TLSA", 1),
        ("mail._domainkey.example.test", "TXT", 1),
        ("sub.example.test", "DS", 1),
        ("anything.apps.example.test", "A", 1),
    ];
    for (name, t, n) in checks {
        let a = dig(pdns.dns, name, t, &[]).await;
        assert_eq!(a.status, "NOERROR", "{name} {t}: {}", a.raw);
        assert_eq!(
            a.answer
                .iter()
                .filter(|l| l.contains(&format!(" {t} ")))
                .count(),
            *n,
            "{name} {t}: {}",
            a.raw
        );
    }
    let a = dig(pdns.dns, "mail.example.test", "A", &[]).await;
    assert_eq!(a.answer_data(), vec!["mail.example.test. A 192.0.2.25"]);
    let serial_before = pdns_serial(&pdns).await;

    // The zone read back equals what was sent.
    let back = provider
        .get_zone(&zone.origin)
        .await
        .unwrap()
        .expect("zone exists");
    assert_eq!(rrsets(&back.records), rrsets(&zone.records));
    // soa_edit_api DEFAULT stamps the creation date into the stored serial (YYYYMMDDnn).
    assert!(back.soa.serial >= zone.soa.serial, "{}", back.soa.serial);
    assert!(provider.list_zones().await.unwrap().contains(&zone.origin));

    // Creating it again is a permanent error.
    let e = provider.create_zone(&zone).await.unwrap_err();
    assert!(matches!(e, ProviderError::ZoneExists { .. }), "{e}");
    assert!(!e.is_retryable());

    // Replace RRsets: change an address, drop the big TXT set, add a record.
    let old = zone.records.clone();
    set_a(&mut zone, "sip.example.test.", "192.0.2.61");
    zone.records
        .retain(|r| r.name.to_ascii() != "big.example.test.");
    zone.records.push(DnsRecord {
        name: Name::from_ascii("new.example.test.").unwrap(),
        ttl: 120,
        data: RData::TXT(TXT::new(vec!["hello".into()])),
    });
    zone.soa.serial = 2026010101;
    let changes = diff_rrsets(&old, &zone.records);
    assert_eq!(changes.len(), 3);
    provider
        .apply_changes(&zone.origin, &zone.soa, &changes)
        .await
        .expect("changes applied");
    let a = dig(pdns.dns, "sip.example.test", "A", &[]).await;
    assert_eq!(a.answer_data(), vec!["sip.example.test. A 192.0.2.61"]);
    let a = dig(pdns.dns, "big.example.test", "TXT", &[]).await;
    assert_eq!(a.status, "NXDOMAIN", "{}", a.raw);
    let a = dig(pdns.dns, "new.example.test", "TXT", &[]).await;
    assert_eq!(a.answer_data(), vec!["new.example.test. TXT \"hello\""]);
    // PowerDNS numbers its own serial (soa_edit_api DEFAULT): it went up.
    let serial_after = pdns_serial(&pdns).await;
    assert!(
        serial_after > serial_before,
        "{serial_before} → {serial_after}"
    );

    // sync_zone reads, diffs and applies.
    set_a(&mut zone, "ns1.example.test.", "192.0.2.99");
    zone.soa.serial = 2026010102;
    provider.sync_zone(&zone).await.expect("synced");
    let a = dig(pdns.dns, "ns1.example.test", "A", &[]).await;
    assert_eq!(a.answer_data(), vec!["ns1.example.test. A 192.0.2.99"]);
    let back = provider.get_zone(&zone.origin).await.unwrap().unwrap();
    assert_eq!(rrsets(&back.records), rrsets(&zone.records));

    // Bad data is rejected, permanently, and names the problem.
    let bad = [RrsetChange {
        name: Name::from_ascii("www.other.org.").unwrap(),
        rtype: RecordType::A,
        ttl: 60,
        records: vec![RData::A(A("192.0.2.1".parse().unwrap()))],
    }];
    let e = provider
        .apply_changes(&zone.origin, &zone.soa, &bad)
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::Rejected { .. }), "{e}");
    assert!(!e.is_retryable());

    // Delete: gone from DNS, and deleting again is fine.
    provider.delete_zone(&zone.origin).await.expect("deleted");
    let a = dig(pdns.dns, "www.example.test", "A", &[]).await;
    assert_eq!(a.status, "REFUSED", "{}", a.raw);
    assert!(provider.get_zone(&zone.origin).await.unwrap().is_none());
    provider
        .delete_zone(&zone.origin)
        .await
        .expect("idempotent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn powerdns_errors_tell_retryable_from_permanent() {
    let pdns = PowerDns::start().await;
    let wrong = pdns.provider("wrong-key");
    let e = wrong.health_check().await.unwrap_err();
    assert!(matches!(e, ProviderError::Unauthorized { .. }), "{e}");
    assert!(!e.is_retryable());
    assert!(
        !e.to_string().contains("wrong-key"),
        "no secret in errors: {e}"
    );
    assert!(
        !format!("{wrong:?}").contains("wrong-key"),
        "no secret in Debug"
    );
    let e = wrong.create_zone(&example_zone()).await.unwrap_err();
    assert!(matches!(e, ProviderError::Unauthorized { .. }), "{e}");
    // Nothing listens here: retry later.
    let port = free_port();
    let down = PowerDnsProvider::new(PowerDnsConfig::new(
        format!("http://127.0.0.1:{port}"),
        SecretString::new("test-secret"),
    ))
    .unwrap();
    let e = down.health_check().await.unwrap_err();
    assert!(matches!(e, ProviderError::Unreachable { .. }), "{e}");
    assert!(e.is_retryable());
    // A zone that is not there.
    let right = pdns.provider("test-secret");
    let zone = example_zone();
    let e = right
        .apply_changes(&zone.origin, &zone.soa, &[])
        .await
        .unwrap_err();
    assert!(!e.is_retryable(), "{e}");
}

const UPDATE_SECRET: &str = "yT9qkqRwdxJ0bLq2Hf7cQ1lO1nE1PqXrG1bq5n0m0rA=";

struct KnotPrimary {
    _peer: Peer,
    _dir: tempfile::TempDir,
    addr: std::net::SocketAddr,
}

impl KnotPrimary {
    async fn start(zone: &Zone) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["run", "db", "zones"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        std::fs::write(
            d.join("zones").join("example.test.zone"),
            panel1_dns::zonefile::export_zone(zone),
        )
        .unwrap();
        let port = free_port();
        let conf = format!(
            "server:\n    rundir: \"{d}/run\"\n    listen: 127.0.0.1@{port}\n\
             key:\n  - id: update-key\n    algorithm: hmac-sha256\n    secret: {UPDATE_SECRET}\n\
             acl:\n  - id: updaters\n    key: update-key\n    action: [update, transfer]\n\
             database:\n    storage: \"{d}/db\"\n\
             template:\n  - id: default\n    storage: \"{d}/zones\"\n\
             zone:\n  - domain: example.test\n    file: example.test.zone\n    acl: updaters\n",
            d = d.display()
        );
        std::fs::write(d.join("knot.conf"), conf).unwrap();
        let peer = Peer::spawn(
            "knotd",
            Command::new("knotd").arg("-c").arg(d.join("knot.conf")),
        );
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let up = wait_until(Duration::from_secs(15), || async {
            dig(addr, "example.test", "SOA", &[]).await.status == "NOERROR"
        })
        .await;
        assert!(up, "knotd serves the zone");
        Self {
            _peer: peer,
            _dir: dir,
            addr,
        }
    }
}

fn update_key() -> TsigKey {
    TsigKey::new(
        "update-key",
        "hmac-sha256",
        SecretString::new(UPDATE_SECRET),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc2136_adapter_updates_a_knot_primary_with_tsig() {
    let mut zone = example_zone();
    let knot = KnotPrimary::start(&zone).await;
    let provider = Rfc2136Provider::new(Rfc2136Config::new(knot.addr, Some(update_key()))).unwrap();
    provider.health_check().await.expect("reachable");
    let before: u32 = dig(knot.addr, "example.test", "SOA", &[]).await.answer[0]
        .split_whitespace()
        .nth(6)
        .unwrap()
        .parse()
        .unwrap();

    let old = zone.records.clone();
    set_a(&mut zone, "sip.example.test.", "192.0.2.61");
    zone.records
        .retain(|r| r.name.to_ascii() != "big.example.test.");
    zone.records.push(DnsRecord {
        name: Name::from_ascii("new.example.test.").unwrap(),
        ttl: 120,
        data: RData::TXT(TXT::new(vec!["hello".into()])),
    });
    let changes = diff_rrsets(&old, &zone.records);
    provider
        .apply_changes(&zone.origin, &zone.soa, &changes)
        .await
        .expect("update applied");

    let a = dig(knot.addr, "sip.example.test", "A", &[]).await;
    assert_eq!(a.answer_data(), vec!["sip.example.test. A 192.0.2.61"]);
    let a = dig(knot.addr, "new.example.test", "TXT", &[]).await;
    assert_eq!(a.answer_data(), vec!["new.example.test. TXT \"hello\""]);
    let a = dig(knot.addr, "big.example.test", "TXT", &[]).await;
    assert_eq!(a.status, "NXDOMAIN");
    let after: u32 = dig(knot.addr, "example.test", "SOA", &[]).await.answer[0]
        .split_whitespace()
        .nth(6)
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        after > before,
        "the primary bumped its serial ({before} → {after})"
    );

    // Read back by a TSIG-signed AXFR: the same RRsets.
    let back = provider
        .get_zone(&zone.origin)
        .await
        .unwrap()
        .expect("zone");
    assert_eq!(rrsets(&back.records), rrsets(&zone.records));

    // sync_zone: read, diff, update.
    set_a(&mut zone, "ns1.example.test.", "192.0.2.99");
    provider.sync_zone(&zone).await.expect("synced");
    let a = dig(knot.addr, "ns1.example.test", "A", &[]).await;
    assert_eq!(a.answer_data(), vec!["ns1.example.test. A 192.0.2.99"]);

    // A wrong key: refused, permanently; no key at all: refused too.
    let wrong = TsigKey::new(
        "update-key",
        "hmac-sha256",
        SecretString::new("c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="),
    );
    let bad = Rfc2136Provider::new(Rfc2136Config::new(knot.addr, Some(wrong))).unwrap();
    let e = bad
        .apply_changes(&zone.origin, &zone.soa, &changes)
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::Unauthorized { .. }), "{e}");
    assert!(!e.is_retryable());
    let unsigned = Rfc2136Provider::new(Rfc2136Config::new(knot.addr, None)).unwrap();
    let e = unsigned
        .apply_changes(&zone.origin, &zone.soa, &changes)
        .await
        .unwrap_err();
    assert!(!e.is_retryable(), "{e}");
    // create/delete are not part of RFC 2136.
    let e = provider.delete_zone(&zone.origin).await.unwrap_err();
    assert!(matches!(e, ProviderError::NotSupported { .. }), "{e}");
    // Nothing listening: retryable.
    let down = Rfc2136Provider::new(Rfc2136Config::new(
        std::net::SocketAddr::from(([127, 0, 0, 1], free_port())),
        Some(update_key()),
    ))
    .unwrap();
    let e = down.health_check().await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_provider_publishes_to_the_server() {
    let (catalog, server) = serve(&[], test_config()).await;
    let provider = panel1_dns::provider::BuiltinProvider::new(catalog.clone());
    let mut zone = example_zone();
    provider.create_zone(&zone).await.unwrap();
    let a = dig(server.udp_addr(), "sip.example.test", "A", &[]).await;
    assert_eq!(a.answer_data(), vec!["sip.example.test. A 192.0.2.60"]);
    let old = zone.records.clone();
    set_a(&mut zone, "sip.example.test.", "192.0.2.61");
    zone.soa.serial += 1;
    provider
        .apply_changes(&zone.origin, &zone.soa, &diff_rrsets(&old, &zone.records))
        .await
        .unwrap();
    let a = dig(server.udp_addr(), "sip.example.test", "A", &[]).await;
    assert_eq!(a.answer_data(), vec!["sip.example.test. A 192.0.2.61"]);
    let back = provider.get_zone(&zone.origin).await.unwrap().unwrap();
    assert_eq!(rrsets(&back.records), rrsets(&zone.records));
    provider.delete_zone(&zone.origin).await.unwrap();
    assert_eq!(
        dig(server.udp_addr(), "sip.example.test", "A", &[])
            .await
            .status,
        "REFUSED"
    );
    server.shutdown().await;
}
