//! DNS hosting end to end, on SQLite and PostgreSQL: zones and records through the HTTP API,
//! answered by Panel1's built-in server (`dig`/`kdig`: every record type, NXDOMAIN, NODATA,
//! TCP, REFUSED) within a second of the save; a real Knot secondary that follows by AXFR and
//! NOTIFY; a real PowerDNS fed through a provider account; zone-file import and export
//! (checked by `kzonecheck` and `named-checkzone`); bad input refused naming the field with
//! nothing changed; tenants and clients kept apart.

mod common;
#[path = "../../dns/tests/common/mod.rs"]
mod peers;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{TestApp, assert_problem};
use panel1_store::db_tests;
use panel1_store::testing::TestDb;
use peers::{DigAnswer, Peer, dig, free_port, kdig, run, wait_until};
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Env {
    t: TestApp,
    dns: SocketAddr,
}

impl Env {
    async fn start(db: TestDb) -> Env {
        // Certificate pre-flight lookups (DNS-01 plans) fail fast instead of leaving the box.
        let t = TestApp::with_env(db, &[("PANEL1_SSL_RESOLVER", "127.0.0.1:9")]).await;
        let h = panel1_app::dns::view::start_server_on(
            &t.app,
            "127.0.0.1:0".parse().unwrap(),
            t.cancel.clone(),
        )
        .await
        .unwrap();
        Env { dns: h.udp_addr, t }
    }

    async fn zone(&self, token: &str, name: &str) -> Value {
        let r = self
            .t
            .post("/api/v1/dns/zones", token, json!({ "name": name }))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }

    async fn record(&self, zone: &str, name: &str, rtype: &str, content: &str) -> Value {
        let r = self
            .t
            .post(
                &format!("/api/v1/dns/zones/{zone}/records"),
                &self.t.token,
                json!({"name": name, "type": rtype, "content": content}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "{name} {rtype} {content}: {}",
            r.body
        );
        r.body
    }

    async fn records(&self, zone: &str) -> Vec<Value> {
        let r = self
            .t
            .get(
                &format!("/api/v1/dns/zones/{zone}/records?limit=100"),
                &self.t.token,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body["items"].as_array().unwrap().clone()
    }

    async fn serial(&self, zone: &str) -> u32 {
        let r = self
            .t
            .get(&format!("/api/v1/dns/zones/{zone}"), &self.t.token)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        u32::try_from(r.body["soa"]["serial"].as_i64().unwrap()).unwrap()
    }

    async fn served_serial(&self, zone: &str) -> Option<u32> {
        soa_serial(&dig(self.dns, zone, "SOA", &[]).await)
    }
}

fn soa_serial(a: &DigAnswer) -> Option<u32> {
    a.answer
        .iter()
        .find(|l| l.contains(" SOA "))?
        .split_whitespace()
        .nth(6)?
        .parse()
        .ok()
}

/// Presentation text compared loosely: dig splits long hex and quotes SvcParams.
fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '"')
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The data of the answer lines of `rtype`.
fn data_of(a: &DigAnswer, rtype: &str) -> Vec<String> {
    a.answer
        .iter()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 4 && f[3] == rtype).then(|| f[4..].join(" "))
        })
        .collect()
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../dns/tests/fixtures")
        .join(name)
}

/// Every type through the API, answered by the built-in server as stored; negative answers,
/// TCP and zones it does not serve; a change answered within a second.
async fn records_saved_through_the_api_are_served(db: TestDb) {
    let env = Env::start(db).await;
    let z = env.zone(&env.t.token, "example.test").await;
    let zid = z["id"].as_str().unwrap().to_owned();
    assert_eq!(z["name"], "example.test");
    assert!(z["soa"]["serial"].as_i64().unwrap() >= 2026010100, "{z}");
    // The NS set came from the defaults.
    let ns = env.records(&zid).await;
    assert!(
        ns.iter().all(|r| r["type"] == "NS" && r["name"] == "@"),
        "{ns:?}"
    );
    assert_eq!(ns.len(), 2);

    // The first record: answered within one second of the API's answer.
    let serial_before = env.serial(&zid).await;
    env.record(&zid, "www", "A", "192.0.2.10").await;
    let saved = Instant::now();
    let seen = wait_until(Duration::from_secs(5), || async {
        data_of(&dig(env.dns, "www.example.test", "A", &[]).await, "A") == ["192.0.2.10"]
    })
    .await;
    let latency = saved.elapsed();
    assert!(seen, "the record is served");
    assert!(
        latency < Duration::from_millis(1000),
        "served {latency:?} after the save"
    );
    assert!(env.serial(&zid).await > serial_before, "the serial moved");

    let long_txt = format!("\"{}\"", "k".repeat(400));
    let cases: Vec<(&str, &str, String)> = vec![
        ("www", "AAAA", "2001:db8::10".into()),
        ("@", "MX", "10 mail.example.test.".into()),
        ("mail", "A", "192.0.2.25".into()),
        ("@", "TXT", "\"v=spf1 mx -all\"".into()),
        ("long", "TXT", long_txt.clone()),
        ("alias", "CNAME", "www.example.test.".into()),
        ("_sip._tcp", "SRV", "10 60 5060 sip.example.test.".into()),
        ("sip", "A", "192.0.2.60".into()),
        ("@", "CAA", "0 issue \"letsencrypt.org\"".into()),
        (
            "_443._tcp.www",
            "TLSA",
            "3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6".into(),
        ),
        ("@", "HTTPS", "1 . alpn=h2".into()),
        ("svc", "SVCB", "1 sip.example.test. port=8443".into()),
        ("ns1.sub", "A", "192.0.2.100".into()),
        ("sub", "NS", "ns1.sub.example.test.".into()),
        (
            "sub",
            "DS",
            "12345 13 2 3A9C8C7E1F0D2B4A5968778695A4B3C2D1E0F9A8B7C6D5E4F30211223344556A".into(),
        ),
        ("*.apps", "A", "192.0.2.80".into()),
    ];
    for (name, t, content) in &cases {
        env.record(&zid, name, t, content).await;
    }
    let stored = env.records(&zid).await;
    let pz = env.zone(&env.t.token, "2.0.192.in-addr.arpa").await;
    let pid = pz["id"].as_str().unwrap().to_owned();
    env.record(&pid, "10", "PTR", "www.example.test.").await;

    let serial = env.serial(&zid).await;
    assert!(
        wait_until(Duration::from_secs(5), || async {
            env.served_serial("example.test").await == Some(serial)
        })
        .await,
        "the last serial is served"
    );
    // Each record as the API stored it (canonical content) is what dig answers.
    for (name, t, _) in &cases {
        if name.ends_with("sub") {
            continue; // delegation data: checked below
        }
        let owner = if *name == "@" {
            "example.test".to_owned()
        } else {
            format!("{}.example.test", name.replace('*', "x"))
        };
        let want: BTreeSet<String> = stored
            .iter()
            .filter(|r| r["name"] == *name && r["type"] == *t)
            .map(|r| norm(r["content"].as_str().unwrap()))
            .collect();
        assert!(!want.is_empty(), "{name} {t} stored");
        let a = dig(env.dns, &owner, t, &[]).await;
        assert_eq!(a.status, "NOERROR", "{owner} {t}: {}", a.raw);
        assert!(a.has_flag("aa"), "{owner} {t} is authoritative: {}", a.raw);
        let got: BTreeSet<String> = data_of(&a, t).iter().map(|d| norm(d)).collect();
        assert_eq!(got, want, "{owner} {t}: {}", a.raw);
    }
    // TXT over 255 octets was split into strings of at most 255.
    let a = dig(env.dns, "long.example.test", "TXT", &[]).await;
    assert_eq!(norm(&data_of(&a, "TXT")[0]), "k".repeat(400));
    assert!(data_of(&a, "TXT")[0].contains("\" \""), "split: {}", a.raw);
    // A CNAME is followed inside the zone.
    let a = dig(env.dns, "alias.example.test", "A", &[]).await;
    assert_eq!(data_of(&a, "CNAME"), ["www.example.test."]);
    assert_eq!(data_of(&a, "A"), ["192.0.2.10"]);
    // Below a delegation: a referral with glue, not authoritative; DS at the parent.
    let a = dig(env.dns, "host.sub.example.test", "A", &[]).await;
    assert!(!a.has_flag("aa"), "{}", a.raw);
    assert!(
        a.authority
            .iter()
            .any(|l| l.contains("NS ns1.sub.example.test.")),
        "{}",
        a.raw
    );
    assert!(
        a.additional.iter().any(|l| l.contains("192.0.2.100")),
        "{}",
        a.raw
    );
    let a = dig(env.dns, "sub.example.test", "DS", &[]).await;
    assert!(
        a.has_flag("aa") && data_of(&a, "DS").len() == 1,
        "{}",
        a.raw
    );
    // PTR in the reverse zone.
    let a = dig(env.dns, "10.2.0.192.in-addr.arpa", "PTR", &[]).await;
    assert_eq!(data_of(&a, "PTR"), ["www.example.test."], "{}", a.raw);
    // NXDOMAIN and NODATA carry the SOA in the authority section.
    let a = dig(env.dns, "nope.example.test", "A", &[]).await;
    assert_eq!(a.status, "NXDOMAIN", "{}", a.raw);
    assert!(a.has_flag("aa"));
    assert!(a.authority.iter().any(|l| l.contains(" SOA ")), "{}", a.raw);
    let a = dig(env.dns, "www.example.test", "MX", &[]).await;
    assert_eq!(a.status, "NOERROR", "{}", a.raw);
    assert!(a.answer.is_empty(), "{}", a.raw);
    assert!(a.authority.iter().any(|l| l.contains(" SOA ")), "{}", a.raw);
    // TCP, and kdig agrees.
    let a = dig(env.dns, "www.example.test", "AAAA", &["+tcp"]).await;
    assert_eq!(data_of(&a, "AAAA"), ["2001:db8::10"], "{}", a.raw);
    let a = kdig(env.dns, "mail.example.test", "A", &["+tcp"]).await;
    assert!(
        a.answer.iter().any(|l| l.contains("192.0.2.25")),
        "{}",
        a.raw
    );
    // A zone it does not serve.
    let a = dig(env.dns, "www.example.org", "A", &[]).await;
    assert_eq!(a.status, "REFUSED", "{}", a.raw);

    // Update and delete are served too.
    let www = stored
        .iter()
        .find(|r| r["name"] == "www" && r["type"] == "A")
        .unwrap();
    let r = env
        .t
        .send(
            reqwest::Method::PUT,
            &format!(
                "/api/v1/dns/zones/{zid}/records/{}",
                www["id"].as_str().unwrap()
            ),
            Some(&env.t.token),
            Some(json!({"name": "www", "type": "A", "ttl": 300, "content": "192.0.2.11"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["ttl"], 300);
    assert!(
        wait_until(Duration::from_secs(2), || async {
            data_of(&dig(env.dns, "www.example.test", "A", &[]).await, "A") == ["192.0.2.11"]
        })
        .await
    );
    let sip = stored
        .iter()
        .find(|r| r["name"] == "sip" && r["type"] == "A")
        .unwrap();
    let r = env
        .t
        .delete(
            &format!(
                "/api/v1/dns/zones/{zid}/records/{}",
                sip["id"].as_str().unwrap()
            ),
            &env.t.token,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert!(
        wait_until(Duration::from_secs(2), || async {
            dig(env.dns, "sip.example.test", "A", &[]).await.status == "NXDOMAIN"
        })
        .await
    );
    // The record is gone from the API too, and a second delete is a 404.
    let r = env
        .t
        .delete(
            &format!(
                "/api/v1/dns/zones/{zid}/records/{}",
                sip["id"].as_str().unwrap()
            ),
            &env.t.token,
        )
        .await;
    assert_problem(&r, 404, None);

    // Deleting the zone stops the answers.
    let r = env
        .t
        .delete(&format!("/api/v1/dns/zones/{pid}"), &env.t.token)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(
        wait_until(Duration::from_secs(2), || async {
            dig(env.dns, "10.2.0.192.in-addr.arpa", "PTR", &[])
                .await
                .status
                == "REFUSED"
        })
        .await
    );

    // Every change is in the audit log and the outbox.
    let r = env
        .t
        .get(
            &format!("/api/v1/audit?object_type=dns_zone&object_id={zid}&limit=100"),
            &env.t.token,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let n = r.body["items"].as_array().map_or(0, Vec::len);
    assert!(n > cases.len(), "{}", r.body);
    let mut rd = env.t.app.db.read().await.unwrap();
    let kinds: Vec<String> = panel1_store::on!(rd.conn(), c => sqlx::query_scalar::<_, String>(
        "SELECT kind FROM events WHERE object_id = $1 ORDER BY seq").bind(&zid).fetch_all(c).await)
    .unwrap();
    assert_eq!(kinds.first().map(String::as_str), Some("dns.zone.created"));
    assert!(kinds.iter().filter(|k| *k == "dns.zone.changed").count() > cases.len());
}

/// Bad input names the field and the rule; a refused change or import changes nothing.
async fn bad_input_names_the_field_and_changes_nothing(db: TestDb) {
    let env = Env::start(db).await;
    let t = &env.t;
    let r = t
        .post("/api/v1/dns/zones", &t.token, json!({"name": "com"}))
        .await;
    assert_problem(&r, 422, Some("name"));
    let r = t
        .post(
            "/api/v1/dns/zones",
            &t.token,
            json!({"name": "exa mple.test"}),
        )
        .await;
    assert_problem(&r, 422, Some("name"));
    let z = env.zone(&t.token, "bad.test").await;
    let zid = z["id"].as_str().unwrap().to_owned();
    let r = t
        .post("/api/v1/dns/zones", &t.token, json!({"name": "BAD.test."}))
        .await;
    assert_problem(&r, 409, Some("name"));
    env.record(&zid, "www", "A", "192.0.2.1").await;
    let serial_before = env.serial(&zid).await;
    let count = env.records(&zid).await.len();

    let path = format!("/api/v1/dns/zones/{zid}/records");
    for (body, field, code) in [
        (
            json!({"name": "x", "type": "A", "content": "300.1.1.1"}),
            "content",
            "content",
        ),
        (
            json!({"name": "x", "type": "AAAA", "content": "192.0.2.1"}),
            "content",
            "content",
        ),
        (
            json!({"name": "x", "type": "BOGUS", "content": "1"}),
            "type",
            "",
        ),
        (
            json!({"name": "x", "type": "A", "ttl": 5, "content": "192.0.2.1"}),
            "ttl",
            "range",
        ),
        (
            json!({"name": "@", "type": "CNAME", "content": "other.test."}),
            "",
            "cname",
        ),
        (
            json!({"name": "www", "type": "CNAME", "content": "other.test."}),
            "",
            "cname",
        ),
        (
            json!({"name": "www", "type": "A", "content": "192.0.2.1"}),
            "",
            "duplicate",
        ),
        (
            json!({"name": "a.b.c.other.test.", "type": "A", "content": "192.0.2.1"}),
            "name",
            "",
        ),
        (
            json!({"name": format!("{}.x", "l".repeat(64)), "type": "A", "content": "192.0.2.1"}),
            "name",
            "",
        ),
        (
            json!({"name": "_s._tcp", "type": "SRV", "content": "10 60 99999 www"}),
            "content",
            "",
        ),
        (
            json!({"name": "@", "type": "CAA", "content": "300 issue \"x\""}),
            "content",
            "",
        ),
        (
            json!({"name": "x", "type": "PTR", "content": "www.bad.test."}),
            "",
            "",
        ),
    ] {
        let r = t.post(&path, &t.token, body.clone()).await;
        assert_eq!(r.status.as_u16(), 422, "{body}: {}", r.body);
        assert_eq!(
            r.headers.get("content-type").unwrap(),
            "application/problem+json"
        );
        let f = r.body["field"].as_str().unwrap_or("");
        if !field.is_empty() {
            assert_eq!(f, field, "{body}: {}", r.body);
        } else {
            assert!(!f.is_empty(), "{body}: a field is named: {}", r.body);
        }
        let text = r.body.to_string();
        if !code.is_empty() {
            assert!(
                text.to_lowercase().contains(code),
                "{body}: rule `{code}`: {}",
                r.body
            );
        }
        assert!(!r.body["detail"].as_str().unwrap().is_empty());
    }
    // A batch with one bad entry changes nothing, and names that entry.
    let r = t
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(&t.token),
            Some(json!({"create": [
                {"name": "ok", "type": "A", "content": "192.0.2.5"},
                {"name": "bad", "type": "MX", "content": "mail.bad.test."}
            ]})),
            &[],
        )
        .await;
    assert_problem(&r, 422, Some("create.1.content"));
    assert_eq!(
        env.serial(&zid).await,
        serial_before,
        "a refused batch changes nothing"
    );
    assert_eq!(env.records(&zid).await.len(), count);
    // An MX pointing at an alias is refused too (target rule across records).
    env.record(&zid, "alias", "CNAME", "www.bad.test.").await;
    let r = t
        .post(
            &path,
            &t.token,
            json!({"name": "@", "type": "MX", "content": "10 alias.bad.test."}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 422, "{}", r.body);
    let after_alias = env.serial(&zid).await;
    // An import with errors reports every wrong line and applies nothing.
    let bad = "$ORIGIN bad.test.\n$TTL 300\nok A 192.0.2.1\nx A 999.1.1.1\n$INCLUDE /etc/passwd\ny MX nope\n";
    let r = t
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/dns/zones/{zid}/import"),
            Some(&t.token),
            None,
            &[],
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.body);
    let resp = t
        .http
        .post(format!("{}/api/v1/dns/zones/{zid}/import", t.url))
        .bearer_auth(&t.token)
        .header("content-type", "text/dns")
        .body(bad)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let body: Value = resp.json().await.unwrap();
    let lines: Vec<String> = body["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|x| x["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_else(|| vec![body["field"].as_str().unwrap().to_owned()]);
    assert!(lines.contains(&"lines.4".to_owned()), "{body}");
    assert!(lines.contains(&"lines.5".to_owned()), "{body}");
    assert!(lines.contains(&"lines.6".to_owned()), "{body}");
    assert_eq!(env.serial(&zid).await, after_alias, "nothing changed");
    assert_eq!(env.records(&zid).await.len(), count + 1);
    // Unknown record ids are 404s.
    let r = t
        .send(
            reqwest::Method::PUT,
            &format!("{path}/999"),
            Some(&t.token),
            Some(json!({"name": "www", "type": "A", "content": "192.0.2.9"})),
            &[],
        )
        .await;
    assert_problem(&r, 404, None);
}

/// Another tenant's zone is a 404 everywhere; a client user sees only its own client's zones.
async fn tenants_and_clients_are_kept_apart(db: TestDb) {
    let env = Env::start(db).await;
    let t = &env.t;
    let ann = t.client(&t.token, "Ann").await;
    let bob = t.client(&t.token, "Bob").await;
    let r = t
        .post(
            "/api/v1/dns/zones",
            &t.token,
            json!({"name": "ann.test", "client_id": ann}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let ann_zone = r.body["id"].as_str().unwrap().to_owned();
    let r = t
        .post(
            "/api/v1/dns/zones",
            &t.token,
            json!({"name": "bob.test", "client_id": bob}),
        )
        .await;
    let bob_zone = r.body["id"].as_str().unwrap().to_owned();
    let (_, ann_token) = t
        .user_token(&t.token, "ann@ann.test", "client", Some(&ann))
        .await;
    let r = t.get("/api/v1/dns/zones", &ann_token).await;
    assert_eq!(r.body["total"], 1, "{}", r.body);
    assert_eq!(r.body["items"][0]["name"], "ann.test");
    let r = t
        .get(&format!("/api/v1/dns/zones/{bob_zone}/records"), &ann_token)
        .await;
    assert_problem(&r, 404, None);
    let r = t
        .post(
            &format!("/api/v1/dns/zones/{bob_zone}/records"),
            &ann_token,
            json!({"name": "x", "type": "A", "content": "192.0.2.1"}),
        )
        .await;
    assert_problem(&r, 404, None);
    // The client creates a zone of its own (its client implied) and edits it.
    let own = env.zone(&ann_token, "ann2.test").await;
    assert_eq!(own["client_id"], ann.as_str());
    let r = t
        .post(
            &format!("/api/v1/dns/zones/{ann_zone}/records"),
            &ann_token,
            json!({"name": "www", "type": "A", "content": "192.0.2.1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // A client cannot add provider accounts.
    let r = t
        .post(
            "/api/v1/dns/providers",
            &ann_token,
            json!({"name": "x", "kind": "powerdns", "settings": {"api_url": "http://127.0.0.1:1", "api_key": "k"}}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.body);

    let other = t.other_tenant("other").await;
    for (m, p) in [
        (
            reqwest::Method::GET,
            format!("/api/v1/dns/zones/{ann_zone}"),
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/dns/zones/{ann_zone}/records"),
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/dns/zones/{ann_zone}/export"),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/v1/dns/zones/{ann_zone}"),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/v1/dns/zones/{ann_zone}/records/1"),
        ),
    ] {
        let r = t.send(m.clone(), &p, Some(&other), None, &[]).await;
        assert_problem(&r, 404, None);
    }
    let r = t.get("/api/v1/dns/zones", &other).await;
    assert_eq!(r.body["total"], 0);
    // The other tenant cannot take a name this installation already serves.
    let r = t
        .post("/api/v1/dns/zones", &other, json!({"name": "ann.test"}))
        .await;
    assert_problem(&r, 409, Some("name"));
    // Still served for the owner.
    assert!(
        wait_until(Duration::from_secs(3), || async {
            data_of(&dig(env.dns, "www.ann.test", "A", &[]).await, "A") == ["192.0.2.1"]
        })
        .await
    );
}

/// A real-world zone file imported, exported, checked by BIND's and Knot's checkers, and
/// imported again: the same RRsets.
async fn zone_files_round_trip(db: TestDb) {
    let env = Env::start(db).await;
    let t = &env.t;
    let z = env.zone(&t.token, "example.test").await;
    let zid = z["id"].as_str().unwrap().to_owned();
    let text = std::fs::read_to_string(fixture("example.test.zone")).unwrap();
    let import = |body: String| {
        let t = &env.t;
        let zid = zid.clone();
        async move {
            t.http
                .post(format!("{}/api/v1/dns/zones/{zid}/import", t.url))
                .bearer_auth(&t.token)
                .header("content-type", "text/dns")
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let r = import(text.clone()).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let serial = body["serial"].as_i64().unwrap();
    assert!(
        serial > 2026010100,
        "the serial moved past the file's: {body}"
    );
    let r = t
        .http
        .get(format!("{}/api/v1/dns/zones/{zid}/export", t.url))
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/dns");
    let exported = r.text().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.test.zone");
    std::fs::write(&file, &exported).unwrap();
    let out = Command::new("named-checkzone")
        .args(["example.test", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "named-checkzone: {}\n{exported}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = Command::new("kzonecheck")
        .args(["-o", "example.test", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kzonecheck: {}{}\n{exported}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The same RRsets as the file (the SOA's serial aside).
    let origin = hickory_proto::rr::Name::from_ascii("example.test.").unwrap();
    let rules = panel1_dns::RecordRules::default();
    let sets = |text: &str| -> BTreeSet<(String, String, u32, String)> {
        panel1_dns::zonefile::import_zone(text, &origin, &rules)
            .unwrap()
            .records
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
    };
    assert_eq!(sets(&exported), sets(&text));
    // And it imports again, unchanged, with a newer serial.
    let r = import(exported.clone()).await;
    assert_eq!(r.status(), 200);
    let again: Value = r.json().await.unwrap();
    assert!(again["serial"].as_i64().unwrap() > serial);
    // Served as imported.
    assert!(
        wait_until(Duration::from_secs(3), || async {
            data_of(&dig(env.dns, "mail.example.test", "A", &[]).await, "A") == ["192.0.2.25"]
        })
        .await
    );
}

/// A Knot secondary configured through the API transfers a zone created through the API,
/// and after a record change (NOTIFY) serves the new serial.
async fn knot_secondary_follows_by_axfr_and_notify(db: TestDb) {
    let env = Env::start(db).await;
    let t = &env.t;
    let knot_port = free_port();
    // Before any secondary is configured, transfers are refused.
    let z = env.zone(&t.token, "sec.test").await;
    let zid = z["id"].as_str().unwrap().to_owned();
    let out = run(
        "kdig",
        &[
            format!("@{}", env.dns.ip()),
            "-p".into(),
            env.dns.port().to_string(),
            "+time=2".into(),
            "+retry=0".into(),
            "sec.test".into(),
            "AXFR".into(),
        ],
    )
    .await;
    assert!(
        !out.contains("hostmaster"),
        "no transfer without a secondary: {out}"
    );
    let r = t
        .post(
            "/api/v1/dns/secondaries",
            &t.token,
            json!({"name": "knot", "notify_address": format!("127.0.0.1:{knot_port}"), "allow_from": "127.0.0.1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    env.record(&zid, "www", "A", "192.0.2.10").await;
    let serial = env.serial(&zid).await;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in ["run", "db", "zones"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    let conf = format!(
        "server:\n    rundir: \"{d}/run\"\n    listen: 127.0.0.1@{knot_port}\n    automatic-acl: on\n\
         database:\n    storage: \"{d}/db\"\n\
         remote:\n  - id: primary\n    address: 127.0.0.1@{pport}\n\
         template:\n  - id: default\n    storage: \"{d}/zones\"\n\
         zone:\n  - domain: sec.test\n    master: primary\n",
        d = d.display(),
        pport = env.dns.port(),
    );
    std::fs::write(d.join("knot.conf"), conf).unwrap();
    let _knot = Peer::spawn(
        "knotd",
        Command::new("knotd").arg("-c").arg(d.join("knot.conf")),
    );
    let knot = SocketAddr::from(([127, 0, 0, 1], knot_port));
    let knot_serial = || async { soa_serial(&kdig(knot, "sec.test", "SOA", &[]).await) };
    assert!(
        wait_until(Duration::from_secs(20), || async {
            knot_serial().await == Some(serial)
        })
        .await,
        "Knot transferred the zone: {:?}",
        knot_serial().await
    );
    let a = kdig(knot, "www.sec.test", "A", &[]).await;
    assert!(
        a.answer.iter().any(|l| l.contains("192.0.2.10")),
        "{}",
        a.raw
    );

    // A change: NOTIFY makes Knot fetch the new serial (its SOA refresh is hours away).
    env.record(&zid, "new", "TXT", "\"after notify\"").await;
    let serial2 = env.serial(&zid).await;
    assert!(serial2 > serial);
    let started = Instant::now();
    assert!(
        wait_until(Duration::from_secs(20), || async {
            knot_serial().await == Some(serial2)
        })
        .await,
        "Knot followed the NOTIFY: {:?}",
        knot_serial().await
    );
    eprintln!(
        "Knot served serial {serial2} {:?} after the change",
        started.elapsed()
    );
    let a = kdig(knot, "new.sec.test", "TXT", &[]).await;
    assert!(a.raw.contains("after notify"), "{}", a.raw);
}

async fn axfr(addr: SocketAddr, zone: &str, extra: &[&str]) -> String {
    let mut args = vec![
        format!("@{}", addr.ip()),
        "-p".into(),
        addr.port().to_string(),
        "+time=2".into(),
        "+retry=0".into(),
        zone.into(),
        "AXFR".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    run("kdig", &args).await
}

/// The tenant's defaults shape new zones: SOA and NS as served.
async fn tenant_defaults_shape_new_zones(db: TestDb) {
    let env = Env::start(db).await;
    let t = &env.t;
    let r = t.get("/api/v1/dns/defaults", &t.token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut d = r.body.clone();
    d["nameservers"] = json!([
        "ns1.hoster.example",
        "ns2.hoster.example",
        "ns3.hoster.example"
    ]);
    d["primary_ns"] = json!("ns1.hoster.example");
    d["hostmaster"] = json!("dns.admin@hoster.example");
    d["minimum"] = json!(600);
    let bad = json!({"primary_ns": "bad name!", "hostmaster": "x@y.example", "nameservers": [],
        "refresh": 1, "retry": 1, "expire": 1, "minimum": 600, "soa_ttl": 3600, "ns_ttl": 3600});
    let r = t
        .send(
            reqwest::Method::PUT,
            "/api/v1/dns/defaults",
            Some(&t.token),
            Some(bad),
            &[],
        )
        .await;
    assert_problem(&r, 422, Some("primary_ns"));
    let r = t
        .send(
            reqwest::Method::PUT,
            "/api/v1/dns/defaults",
            Some(&t.token),
            Some(d),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    env.zone(&t.token, "hosted.test").await;
    assert!(
        wait_until(Duration::from_secs(3), || async {
            let a = dig(env.dns, "hosted.test", "NS", &[]).await;
            data_of(&a, "NS").len() == 3
        })
        .await
    );
    let a = dig(env.dns, "hosted.test", "SOA", &[]).await;
    let soa = &data_of(&a, "SOA")[0];
    assert!(
        soa.starts_with("ns1.hoster.example. dns\\.admin.hoster.example."),
        "{soa}"
    );
    assert!(soa.ends_with(" 600"), "{soa}");
    // A client user may not change them.
    let client = t.client(&t.token, "Ann").await;
    let (_, ann) = t
        .user_token(&t.token, "ann@ann.test", "client", Some(&client))
        .await;
    let r = t.get("/api/v1/dns/defaults", &ann).await;
    assert_eq!(r.status.as_u16(), 403);
}

/// A secondary's TSIG key transfers its tenant's zones, and only those.
async fn tsig_keys_open_only_their_tenants_zones(db: TestDb) {
    const SECRET: &str = "8eM4pnq3yNdR2uZk4eKX2gIJjFoxkHrEq3Jt1bO0nCk=";
    let env = Env::start(db).await;
    let t = &env.t;
    env.zone(&t.token, "mine.test").await;
    let other = t.other_tenant("other").await;
    env.zone(&other, "theirs.test").await;
    let key = format!("hmac-sha256:xfr-key:{SECRET}");
    let r = t
        .post(
            "/api/v1/dns/secondaries",
            &t.token,
            json!({"name": "signed", "tsig": {"name": "xfr-key", "secret": SECRET}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(!r.body.to_string().contains(SECRET), "{}", r.body);
    let r = t.get("/api/v1/dns/secondaries", &t.token).await;
    assert!(!r.body.to_string().contains(SECRET), "{}", r.body);
    let ok = wait_until(Duration::from_secs(5), || async {
        axfr(env.dns, "mine.test", &["-y", &key])
            .await
            .contains("hostmaster")
    })
    .await;
    assert!(ok, "{}", axfr(env.dns, "mine.test", &["-y", &key]).await);
    let out = axfr(env.dns, "theirs.test", &["-y", &key]).await;
    assert!(!out.contains("hostmaster"), "another tenant's zone: {out}");
    let out = axfr(env.dns, "mine.test", &[]).await;
    assert!(
        !out.contains("hostmaster"),
        "no key, no allowed address: {out}"
    );
    let wrong = "hmac-sha256:xfr-key:AAAAnq3yNdR2uZk4eKX2gIJjFoxkHrEq3Jt1bO0nCk=";
    let out = axfr(env.dns, "mine.test", &["-y", wrong]).await;
    assert!(!out.contains("hostmaster"), "a wrong secret: {out}");
}

/// A zone pushed by RFC 2136 dynamic updates (TSIG-signed) to a real Knot primary through a
/// provider account.
async fn rfc2136_provider_updates_a_knot_primary(db: TestDb) {
    const SECRET: &str = "yT9qkqRwdxJ0bLq2Hf7cQ1lO1nE1PqXrG1bq5n0m0rA=";
    let env = Env::start(db).await;
    env.t.start_background();
    let t = &env.t;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in ["run", "db", "zones"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::write(
        d.join("zones/upd.test.zone"),
        "$ORIGIN upd.test.\n$TTL 300\n@ SOA ns1.upd.test. hostmaster.upd.test. 1 3600 600 86400 300\n\
         @ NS ns1.upd.test.\nns1 A 192.0.2.53\n",
    )
    .unwrap();
    let port = free_port();
    let conf = format!(
        "server:\n    rundir: \"{d}/run\"\n    listen: 127.0.0.1@{port}\n\
         key:\n  - id: update-key\n    algorithm: hmac-sha256\n    secret: {SECRET}\n\
         acl:\n  - id: updaters\n    key: update-key\n    action: [update, transfer]\n\
         database:\n    storage: \"{d}/db\"\n\
         template:\n  - id: default\n    storage: \"{d}/zones\"\n\
         zone:\n  - domain: upd.test\n    file: upd.test.zone\n    acl: updaters\n",
        d = d.display()
    );
    std::fs::write(d.join("knot.conf"), conf).unwrap();
    let _knot = Peer::spawn(
        "knotd",
        Command::new("knotd").arg("-c").arg(d.join("knot.conf")),
    );
    let knot = SocketAddr::from(([127, 0, 0, 1], port));
    assert!(
        wait_until(Duration::from_secs(15), || async {
            dig(knot, "upd.test", "SOA", &[]).await.status == "NOERROR"
        })
        .await,
        "knotd serves the zone"
    );
    let r = t
        .post(
            "/api/v1/dns/providers",
            &t.token,
            json!({"name": "knot", "kind": "rfc2136", "settings": {
                "server": knot.to_string(),
                "key": {"name": "update-key", "algorithm": "hmac-sha256", "secret": SECRET}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(!r.body.to_string().contains(SECRET), "{}", r.body);
    let provider = r.body["id"].as_str().unwrap().to_owned();
    let r = t
        .post(
            "/api/v1/dns/zones",
            &t.token,
            json!({"name": "upd.test", "provider_id": provider}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let zid = r.body["id"].as_str().unwrap().to_owned();
    env.record(&zid, "www", "A", "192.0.2.10").await;
    env.record(&zid, "@", "TXT", "\"pushed by update\"").await;
    assert!(
        wait_until(Duration::from_secs(30), || async {
            data_of(&dig(knot, "www.upd.test", "A", &[]).await, "A") == ["192.0.2.10"]
                && dig(knot, "upd.test", "TXT", &[])
                    .await
                    .raw
                    .contains("pushed by update")
        })
        .await,
        "Knot received the updates: {}",
        dig(knot, "www.upd.test", "A", &[]).await.raw
    );
    let r = t
        .get(&format!("/api/v1/dns/zones/{zid}/provider-calls"), &t.token)
        .await;
    assert!(
        r.body
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["outcome"] == "ok"),
        "{}",
        r.body
    );
}

struct PowerDns {
    _peer: Peer,
    _dir: tempfile::TempDir,
    dns: SocketAddr,
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
        let http = reqwest::Client::new();
        let up = wait_until(Duration::from_secs(20), || async {
            http.get(format!("{api}/api/v1/servers/localhost"))
                .header("X-API-Key", "test-secret")
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        assert!(up, "pdns_server answers on its API");
        Self {
            _peer: peer,
            _dir: dir,
            dns: SocketAddr::from(([127, 0, 0, 1], dns_port)),
            api,
        }
    }
}

/// A zone pushed to a real PowerDNS through a provider account: created there, updated after
/// a change, deleted with the zone; every call logged; the API key never shown.
async fn powerdns_provider_gets_the_zone(db: TestDb) {
    let env = Env::start(db).await;
    env.t.start_background();
    let t = &env.t;
    let pdns = PowerDns::start().await;
    // Bad settings are refused, naming them.
    let r = t
        .post(
            "/api/v1/dns/providers",
            &t.token,
            json!({"name": "pdns", "kind": "powerdns", "settings": {"api_key": "x"}}),
        )
        .await;
    assert_problem(&r, 422, Some("settings"));
    let r = t
        .post(
            "/api/v1/dns/providers",
            &t.token,
            json!({"name": "pdns", "kind": "powerdns", "settings": {"api_url": pdns.api, "api_key": "test-secret"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(!r.body.to_string().contains("test-secret"), "{}", r.body);
    let provider = r.body["id"].as_str().unwrap().to_owned();
    let r = t.get("/api/v1/dns/providers", &t.token).await;
    assert!(!r.body.to_string().contains("test-secret"), "{}", r.body);

    let r = t
        .post(
            "/api/v1/dns/zones",
            &t.token,
            json!({"name": "pushed.test", "provider_id": provider}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let zid = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["provider_status"], "pending");
    env.record(&zid, "www", "A", "192.0.2.10").await;
    env.record(&zid, "@", "MX", "10 mail.pushed.test.").await;
    env.record(&zid, "mail", "A", "192.0.2.25").await;
    let synced = || async {
        let r = t.get(&format!("/api/v1/dns/zones/{zid}"), &t.token).await;
        r.body["provider_status"] == "synced"
    };
    let records_there = || async {
        data_of(&dig(pdns.dns, "www.pushed.test", "A", &[]).await, "A") == ["192.0.2.10"]
            && data_of(&dig(pdns.dns, "pushed.test", "MX", &[]).await, "MX")
                == ["10 mail.pushed.test."]
    };
    assert!(
        wait_until(Duration::from_secs(30), || async {
            synced().await && records_there().await
        })
        .await,
        "PowerDNS serves the zone: {}",
        dig(pdns.dns, "www.pushed.test", "A", &[]).await.raw
    );
    // Panel1's own server does not serve a provider's zone.
    assert_eq!(
        dig(env.dns, "www.pushed.test", "A", &[]).await.status,
        "REFUSED"
    );
    // An update reaches PowerDNS.
    let rec = env.records(&zid).await;
    let www = rec.iter().find(|r| r["name"] == "www").unwrap();
    let r = t
        .send(
            reqwest::Method::PUT,
            &format!(
                "/api/v1/dns/zones/{zid}/records/{}",
                www["id"].as_str().unwrap()
            ),
            Some(&t.token),
            Some(json!({"name": "www", "type": "A", "content": "192.0.2.99"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        wait_until(Duration::from_secs(30), || async {
            data_of(&dig(pdns.dns, "www.pushed.test", "A", &[]).await, "A") == ["192.0.2.99"]
        })
        .await,
        "the change reached PowerDNS"
    );
    let r = t
        .get(&format!("/api/v1/dns/zones/{zid}/provider-calls"), &t.token)
        .await;
    let calls = r.body.as_array().unwrap();
    assert!(
        calls
            .iter()
            .any(|c| c["operation"] == "sync_zone" && c["outcome"] == "ok"),
        "{}",
        r.body
    );
    // A provider in use cannot be deleted.
    let r = t
        .delete(&format!("/api/v1/dns/providers/{provider}"), &t.token)
        .await;
    assert_problem(&r, 409, None);
    // Deleting the zone deletes it there.
    let r = t
        .delete(&format!("/api/v1/dns/zones/{zid}"), &t.token)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(
        wait_until(Duration::from_secs(30), || async {
            let a = dig(pdns.dns, "www.pushed.test", "A", &[]).await;
            a.status == "REFUSED" || (a.status == "NOERROR" && a.answer.is_empty())
        })
        .await,
        "the zone is gone from PowerDNS"
    );
    // The API key is nowhere in the database in the clear.
    let mut rd = t.app.db.read().await.unwrap();
    let settings: Vec<String> = panel1_store::on!(rd.conn(), c => sqlx::query_scalar::<_, String>(
        "SELECT settings FROM dns_providers").fetch_all(c).await)
    .unwrap();
    assert!(settings.iter().all(|s| !s.contains("test-secret")));
}

/// DNS-01 for a name in a hosted zone: the TXT record is written through the zone service,
/// served by Panel1's server, and removed afterwards.
async fn dns01_records_go_through_the_zone_service(db: TestDb) {
    use panel1_app::certificates::dns::plan;
    let env = Env::start(db).await;
    let t = &env.t;
    let z = env.zone(&t.token, "acme.test").await;
    let zid = z["id"].as_str().unwrap().to_owned();
    let tenant: panel1_core::TenantId = {
        let r = t.get("/api/v1/me", &t.token).await;
        r.body["tenant_id"].as_str().unwrap().parse().unwrap()
    };
    let p = plan(
        &t.app,
        &tenant,
        "www.acme.test",
        "_acme-challenge.www.acme.test",
        "hosted",
    )
    .await
    .unwrap();
    assert_eq!(p.mode, "hosted");
    p.publisher
        .publish(&p.effective_name, "token-value-1")
        .await
        .unwrap();
    // Idempotent.
    p.publisher
        .publish(&p.effective_name, "token-value-1")
        .await
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(2), || async {
            dig(env.dns, "_acme-challenge.www.acme.test", "TXT", &[])
                .await
                .raw
                .contains("token-value-1")
        })
        .await
    );
    let recs = env.records(&zid).await;
    assert_eq!(
        recs.iter().filter(|r| r["type"] == "TXT").count(),
        1,
        "{recs:?}"
    );
    p.publisher
        .remove(&p.effective_name, "token-value-1")
        .await
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(2), || async {
            dig(env.dns, "_acme-challenge.www.acme.test", "TXT", &[])
                .await
                .status
                == "NXDOMAIN"
        })
        .await
    );
    // Another tenant's identifier is not written into this tenant's zone.
    let other = panel1_core::TenantId::new();
    assert!(
        plan(
            &t.app,
            &other,
            "www.acme.test",
            "_acme-challenge.www.acme.test",
            "hosted"
        )
        .await
        .is_err()
    );
}

/// The operations are in the OpenAPI document under their names; a retried create with the
/// same Idempotency-Key answers the first response and creates nothing more; listings page.
async fn openapi_idempotency_and_pages(db: TestDb) {
    let env = Env::start(db).await;
    let t = &env.t;
    let doc = t
        .send(
            reqwest::Method::GET,
            "/api/v1/openapi.json",
            None,
            None,
            &[],
        )
        .await;
    let mut ops = Vec::new();
    for (_, item) in doc.body["paths"].as_object().unwrap() {
        for (_, op) in item.as_object().unwrap() {
            if let Some(id) = op.get("operationId") {
                ops.push(id.as_str().unwrap().to_owned());
            }
        }
    }
    for expected in [
        "createZone",
        "listZones",
        "getZone",
        "deleteZone",
        "listDnsRecords",
        "createDnsRecord",
        "updateDnsRecord",
        "deleteDnsRecord",
        "changeDnsRecords",
        "importZone",
        "exportZone",
        "createDnsProvider",
        "listDnsProviders",
        "deleteDnsProvider",
        "createDnsSecondary",
        "listDnsSecondaries",
        "deleteDnsSecondary",
        "getDnsDefaults",
        "updateDnsDefaults",
    ] {
        assert!(
            ops.iter().any(|o| o == expected),
            "{expected} missing: {ops:?}"
        );
    }
    let export =
        &doc.body["paths"]["/api/v1/dns/zones/{id}/export"]["get"]["responses"]["200"]["content"];
    assert!(export.get("text/dns").is_some(), "{export}");
    let import =
        &doc.body["paths"]["/api/v1/dns/zones/{id}/import"]["post"]["requestBody"]["content"];
    assert!(import.get("text/dns").is_some(), "{import}");

    let send = || {
        t.send(
            reqwest::Method::POST,
            "/api/v1/dns/zones",
            Some(&t.token),
            Some(json!({"name": "idem.test"})),
            &[("Idempotency-Key", "zone-1")],
        )
    };
    let a = send().await;
    let b = send().await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    assert_eq!(a.body, b.body, "the first answer again");
    for i in 0..25 {
        env.zone(&t.token, &format!("z{i:02}.test")).await;
    }
    let r = t.get("/api/v1/dns/zones?limit=10&page=3", &t.token).await;
    assert_eq!(r.body["total"], 26, "{}", r.body);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 6);
    let r = t.get("/api/v1/dns/zones?search=idem", &t.token).await;
    assert_eq!(r.body["total"], 1, "{}", r.body);
    let r = t.get("/api/v1/dns/zones?limit=1000", &t.token).await;
    assert_problem(&r, 422, Some("limit"));
}

db_tests!(
    openapi_idempotency_and_pages,
    records_saved_through_the_api_are_served,
    bad_input_names_the_field_and_changes_nothing,
    tenants_and_clients_are_kept_apart,
    zone_files_round_trip,
    knot_secondary_follows_by_axfr_and_notify,
    tsig_keys_open_only_their_tenants_zones,
    tenant_defaults_shape_new_zones,
    powerdns_provider_gets_the_zone,
    rfc2136_provider_updates_a_knot_primary,
    dns01_records_go_through_the_zone_service,
);
