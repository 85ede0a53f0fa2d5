//! The built-in server against real resolvers' tools: `dig` (BIND) and `kdig` (Knot).

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dig_gets_every_published_record_type() {
    let (_catalog, server) = serve(&[example_zone(), reverse_zone()], test_config()).await;
    let addr = server.udp_addr();
    let cases: &[(&str, &str, &[&str])] = &[
        ("example.test", "A", &["example.test. A 192.0.2.10"]),
        ("example.test", "AAAA", &["example.test. AAAA 2001:db8::10"]),
        (
            "example.test",
            "MX",
            &[
                "example.test. MX 10 mail.example.test.",
                "example.test. MX 20 mail2.example.net.",
            ],
        ),
        (
            "example.test",
            "NS",
            &[
                "example.test. NS ns1.example.test.",
                "example.test. NS ns2.example.net.",
            ],
        ),
        (
            "example.test",
            "TXT",
            &["example.test. TXT \"v=spf1 mx include:_spf.example.net -all\""],
        ),
        (
            "example.test",
            "CAA",
            &[
                "example.test. CAA 0 issue \"letsencrypt.org\"",
                "example.test. CAA 0 iodef \"mailto:security@example.test\"",
            ],
        ),
        (
            "example.test",
            "HTTPS",
            &["example.test. HTTPS 1 . alpn=\"h2,h3\""],
        ),
        (
            "www.example.test",
            "CNAME",
            &["www.example.test. CNAME example.test."],
        ),
        (
            "_sip._tcp.example.test",
            "SRV",
            &["_sip._tcp.example.test. SRV 10 60 5060 sip.example.test."],
        ),
        (
            "_443._tcp.www.example.test",
            "TLSA",
            &[
                "_443._tcp.www.example.test. TLSA 3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B566 64C5D3D6",
            ],
        ),
        (
            "svc.example.test",
            "SVCB",
            &["svc.example.test. SVCB 1 sip.example.test. alpn=\"h2\" port=8443"],
        ),
        (
            "sub.example.test",
            "DS",
            &[
                "sub.example.test. DS 12345 13 2 3A9C8C7E1F0D2B4A5968778695A4B3C2D1E0F9A8B7C6D5E4F3021122 3344556A",
            ],
        ),
        (
            "sshhost.example.test",
            "SSHFP",
            &[
                "sshhost.example.test. SSHFP 4 2 ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF01 23456789",
            ],
        ),
        (
            "10.2.0.192.in-addr.arpa",
            "PTR",
            &["10.2.0.192.in-addr.arpa. PTR example.test."],
        ),
        (
            "mail._domainkey.example.test",
            "TXT",
            &[
                "mail._domainkey.example.test. TXT \"v=DKIM1; k=rsa; \" \"p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAx5Ww1wB2Sz0ZbmjxJ0IV\"",
            ],
        ),
    ];
    for (name, rtype, want) in cases {
        let a = dig(addr, name, rtype, &[]).await;
        assert_eq!(a.status, "NOERROR", "{name} {rtype}: {}", a.raw);
        assert!(
            a.has_flag("aa"),
            "{name} {rtype} is authoritative: {}",
            a.raw
        );
        let mut got = a.answer_data();
        got.sort();
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "{name} {rtype}: {}", a.raw);
    }
    // Additional section: the in-zone mail exchange's addresses.
    let a = dig(addr, "example.test", "MX", &[]).await;
    let mut add = a.additional_data();
    add.sort();
    assert_eq!(
        add,
        vec![
            "mail.example.test. A 192.0.2.25",
            "mail.example.test. AAAA 2001:db8::25"
        ]
    );
    // Per-record TTL as published.
    let a = dig(addr, "mail.example.test", "A", &[]).await;
    assert!(a.answer[0].contains(" 300 IN A "), "{}", a.raw);
    // Case does not matter and the question's spelling is echoed.
    let a = dig(addr, "MaIl.ExAmPlE.TeSt", "A", &[]).await;
    assert_eq!(a.status, "NOERROR");
    assert_eq!(a.answer.len(), 1);
    assert!(a.raw.contains("MaIl.ExAmPlE.TeSt."), "{}", a.raw);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_answers_carry_the_soa_with_the_negative_ttl() {
    let (_catalog, server) = serve(&[example_zone()], test_config()).await;
    let addr = server.udp_addr();
    // NXDOMAIN.
    let a = dig(addr, "nope.example.test", "A", &[]).await;
    assert_eq!(a.status, "NXDOMAIN", "{}", a.raw);
    assert!(a.has_flag("aa"));
    assert!(a.answer.is_empty());
    assert_eq!(
        a.authority_data(),
        vec![
            "example.test. SOA ns1.example.test. hostmaster.example.test. 2026010100 7200 3600 1209600 300"
        ]
    );
    // RFC 2308 §3: min(SOA TTL 3600, MINIMUM 300).
    assert_eq!(a.ttl_of_first_authority(), 300);
    // NODATA at an existing name, and at an empty non-terminal.
    for (name, rtype) in [("mail.example.test", "TXT"), ("ent.example.test", "A")] {
        let a = dig(addr, name, rtype, &[]).await;
        assert_eq!(a.status, "NOERROR", "{name}: {}", a.raw);
        assert!(a.answer.is_empty(), "{name}: {}", a.raw);
        assert_eq!(a.authority.len(), 1, "{name}: {}", a.raw);
        assert!(a.authority[0].contains(" SOA "));
        assert_eq!(a.ttl_of_first_authority(), 300);
    }
    // Under an existing name's child that does not exist: NXDOMAIN, not NODATA.
    let a = dig(addr, "x.host.ent.example.test", "A", &[]).await;
    assert_eq!(a.status, "NXDOMAIN");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegations_cname_chains_wildcards_and_refused() {
    let (_catalog, server) = serve(&[example_zone()], test_config()).await;
    let addr = server.udp_addr();
    // Referral: NS in authority, glue in additional, not authoritative.
    for name in ["sub.example.test", "deep.host.sub.example.test"] {
        let a = dig(addr, name, "A", &[]).await;
        assert_eq!(a.status, "NOERROR", "{}", a.raw);
        assert!(
            !a.has_flag("aa"),
            "a referral is not authoritative: {}",
            a.raw
        );
        assert!(a.answer.is_empty());
        let mut ns = a.authority_data();
        ns.sort();
        assert_eq!(
            ns,
            vec![
                "sub.example.test. NS ns1.sub.example.test.",
                "sub.example.test. NS ns2.sub.example.test."
            ]
        );
        let mut glue = a.additional_data();
        glue.sort();
        assert_eq!(
            glue,
            vec![
                "ns1.sub.example.test. A 192.0.2.100",
                "ns2.sub.example.test. AAAA 2001:db8::100"
            ]
        );
    }
    // DS at the cut is the parent's: answered with AA.
    let a = dig(addr, "sub.example.test", "DS", &[]).await;
    assert!(a.has_flag("aa"));
    assert_eq!(a.answer.len(), 1);
    // CNAME chain inside the zone: alias → www → apex A.
    let a = dig(addr, "alias.example.test", "A", &[]).await;
    assert_eq!(a.status, "NOERROR");
    assert!(a.has_flag("aa"));
    assert_eq!(
        a.answer_data(),
        vec![
            "alias.example.test. CNAME www.example.test.",
            "www.example.test. CNAME example.test.",
            "example.test. A 192.0.2.10"
        ]
    );
    // A CNAME out of the zone stops there.
    let a = dig(addr, "shop.example.test", "A", &[]).await;
    assert_eq!(
        a.answer_data(),
        vec!["shop.example.test. CNAME shops.example.net."]
    );
    // Wildcards synthesize the query name; the types still matter.
    let a = dig(addr, "anything.apps.example.test", "A", &[]).await;
    assert_eq!(a.status, "NOERROR");
    assert_eq!(
        a.answer_data(),
        vec!["anything.apps.example.test. A 192.0.2.80"]
    );
    let a = dig(addr, "a.b.apps.example.test", "TXT", &[]).await;
    assert_eq!(
        a.answer_data(),
        vec!["a.b.apps.example.test. TXT \"wildcard\""]
    );
    let a = dig(addr, "anything.apps.example.test", "MX", &[]).await;
    assert_eq!(a.status, "NOERROR");
    assert!(a.answer.is_empty());
    assert!(a.authority[0].contains(" SOA "));
    // A zone we do not serve.
    let a = dig(addr, "example.org", "A", &[]).await;
    assert_eq!(a.status, "REFUSED", "{}", a.raw);
    assert!(!a.has_flag("aa"));
    // Without EDNS too, and over the full decoder (ANY goes there).
    let a = dig(addr, "example.org", "A", &["+noedns"]).await;
    assert_eq!(a.status, "REFUSED");
    let a = dig(addr, "mail.example.test", "ANY", &[]).await;
    assert_eq!(a.answer.len(), 2, "{}", a.raw);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_and_truncation_with_fallback() {
    let (_catalog, server) = serve(&[example_zone()], test_config()).await;
    let addr = server.udp_addr();
    // Plain TCP with kdig.
    let a = kdig(addr, "www.example.test", "A", &["+tcp"]).await;
    assert_eq!(a.status, "NOERROR", "{}", a.raw);
    assert!(a.raw.contains("TCP"), "{}", a.raw);
    assert_eq!(a.answer.len(), 2, "{}", a.raw);
    // A 40-record TXT set (~3 KB) does not fit 512 or 1232 octets: TC over UDP …
    for extra in [
        &["+ignore", "+noedns"][..],
        &["+ignore", "+bufsize=1232"][..],
    ] {
        let a = dig(addr, "big.example.test", "TXT", extra).await;
        assert!(a.has_flag("tc"), "{extra:?}: {}", a.raw);
        assert!(a.answer.is_empty(), "{}", a.raw);
    }
    // … and dig falls back to TCP by itself and gets all 40.
    let a = dig(addr, "big.example.test", "TXT", &[]).await;
    assert!(!a.has_flag("tc"), "{}", a.raw);
    assert_eq!(a.answer.len(), 40, "{}", a.raw);
    // With a large EDNS buffer it is not truncated… up to our 1232-octet limit.
    let a = dig(
        addr,
        "big.example.test",
        "TXT",
        &["+ignore", "+bufsize=4096"],
    )
    .await;
    assert!(
        a.has_flag("tc"),
        "we cap UDP answers at 1232 octets: {}",
        a.raw
    );
    // kdig falls back to TCP too.
    let a = kdig(addr, "big.example.test", "TXT", &[]).await;
    assert_eq!(a.answer.len(), 40, "{}", a.raw);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edns_is_echoed_and_changes_are_served_at_once() {
    let (catalog, server) = serve(&[example_zone()], test_config()).await;
    let addr = server.udp_addr();
    let a = dig(addr, "www.example.test", "A", &["+dnssec"]).await;
    assert!(
        a.raw.contains("EDNS: version: 0, flags: do; udp: 1232"),
        "{}",
        a.raw
    );
    let a = dig(
        addr,
        "www.example.test",
        "A",
        &["+edns=1", "+noednsnegotiation"],
    )
    .await;
    assert_eq!(a.status, "BADVERS", "{}", a.raw);
    // Warm the cache, change the zone, and the next answer is the new one.
    let before = dig(addr, "ns1.example.test", "A", &[]).await;
    assert_eq!(before.answer_data(), vec!["ns1.example.test. A 192.0.2.53"]);
    let mut zone = example_zone();
    for r in &mut zone.records {
        if r.name.to_ascii() == "ns1.example.test." {
            r.data = hickory_proto::rr::RData::A(hickory_proto::rr::rdata::A(
                "192.0.2.54".parse().unwrap(),
            ));
        }
    }
    zone.soa.serial += 1;
    catalog.publish(&zone);
    let after = dig(addr, "ns1.example.test", "A", &[]).await;
    assert_eq!(after.answer_data(), vec!["ns1.example.test. A 192.0.2.54"]);
    let soa = dig(addr, "example.test", "SOA", &[]).await;
    assert!(soa.answer[0].contains(" 2026010101 "), "{}", soa.raw);
    // Removing the zone makes it REFUSED.
    assert!(catalog.remove(&zone.origin));
    let a = dig(addr, "ns1.example.test", "A", &[]).await;
    assert_eq!(a.status, "REFUSED");
    let stats = server.stats();
    assert!(stats.refused.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    server.shutdown().await;
}
