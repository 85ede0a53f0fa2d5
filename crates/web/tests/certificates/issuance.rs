//! Issuance paths, renewal and revocation.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use panel1_ca::dns::DnsClient;
use panel1_store::db_tests;
use panel1_store::testing::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Env, Options, unique};

async fn http01_single_name_through_the_api(t: TestDb) {
    let env = Env::start(t).await;
    let client = env.client("Ann").await;
    let name = format!("{}.example.test", unique("www"));
    let r = env
        .post(
            "/api/v1/certificates",
            json!({"client_id": client, "names": [name.to_uppercase() + "."]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["certificate"]["names"], json!([name]));
    assert_eq!(r.body["certificate"]["validation_method"], "http-01");
    assert_eq!(r.body["certificate"]["key_type"], "ecdsa-p256");
    assert!(r.body["job_id"].as_str().unwrap().starts_with("job_"));
    let id = r.body["certificate"]["id"].as_str().unwrap().to_owned();

    // The same names again while the first order is open: refused, naming the order.
    let again = env
        .post(
            "/api/v1/certificates",
            json!({"client_id": client, "names": [name]}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert!(
        again.body["detail"].as_str().unwrap().contains(&id),
        "{}",
        again.body
    );

    let cert = env.wait_status(&id, &["issued", "failed"]).await;
    assert_eq!(cert["status"], "issued", "{cert}");
    assert!(cert["serial"].as_str().unwrap().len() > 8);
    assert!(
        cert["issuer"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("pebble"),
        "{cert}"
    );
    assert_eq!(cert["sans"], json!([name]));
    assert!(cert["days_left"].as_i64().unwrap() > 1);
    assert!(cert["renew_at"].as_str().is_some());
    assert_eq!(cert["renewal_basis"], "lifetime");
    // Panel1 served the token: Pebble resolved the name through the test DNS and fetched it.
    let v = &cert["validations"][0];
    assert_eq!(v["identifier"], name.as_str());
    assert_eq!(v["method"], "http-01");
    assert_eq!(v["status"], "valid", "{cert}");
    assert!(env.dns.queries().iter().any(|(n, _)| n == &name));
    // The token is no longer answered once the challenge is done.
    let token = v["http_token"].as_str().unwrap();
    let gone = env
        .http
        .get(format!("{}/.well-known/acme-challenge/{token}", env.url))
        .header("host", &name)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    // Every CA call is in the operations log, step by step.
    let ops = env
        .get(&format!("/api/v1/certificates/{id}/operations"))
        .await;
    assert_eq!(ops.status, StatusCode::OK, "{}", ops.body);
    let steps: Vec<&str> = ops
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["step"].as_str().unwrap())
        .collect();
    for s in ["account", "order", "ready", "poll", "finalize", "download"] {
        assert!(steps.contains(&s), "no `{s}` call in {steps:?}");
    }
    assert!(ops.body.as_array().unwrap().iter().all(|o| {
        o["url"].as_str().unwrap().starts_with("https://127.0.0.1")
            && o["status"].as_i64().is_some()
    }));

    let events = env.events(&id).await;
    assert!(
        events.contains(&"ssl.certificate.requested".to_owned()),
        "{events:?}"
    );
    assert!(
        events.contains(&"ssl.certificate.issued".to_owned()),
        "{events:?}"
    );

    // Listings and downloads carry no key unless asked for explicitly.
    let list = env.get("/api/v1/certificates?status=issued").await;
    assert_eq!(list.body["total"], 1, "{}", list.body);
    let d = env
        .get(&format!("/api/v1/certificates/{id}/download"))
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.body);
    assert!(
        d.body["fullchain_pem"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    assert!(d.body.get("private_key_pem").is_none());
    let k = env
        .get(&format!(
            "/api/v1/certificates/{id}/download?include_key=true"
        ))
        .await;
    assert_eq!(k.status, StatusCode::OK, "{}", k.body);
    let key_pem = k.body["private_key_pem"].as_str().unwrap();
    assert!(key_pem.contains("PRIVATE KEY"));
    // The key really belongs to the certificate.
    let chain =
        panel1_ca::CertificateChain::from_pem(k.body["fullchain_pem"].as_str().unwrap()).unwrap();
    assert!(chain.matches_key(&panel1_ca::PrivateKey::from_pem(key_pem).unwrap()));
    // ... and the download is in the audit log.
    let audit = env
        .get(&format!(
            "/api/v1/audit?object_type=certificate&object_id={id}"
        ))
        .await;
    assert!(
        audit.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "certificate.private_key.download"),
        "{}",
        audit.body
    );

    // A client user of another client cannot see it; the owning client's user can.
    let other = env.client("Bob").await;
    let bob = user_token(&env, "bob@example.com", &other).await;
    let r = env
        .send(
            Method::GET,
            &format!("/api/v1/certificates/{id}"),
            &bob,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = env
        .send(
            Method::GET,
            &format!("/api/v1/certificates/{id}/download?include_key=true"),
            &bob,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let ann = user_token(&env, "ann@example.com", &client).await;
    let r = env
        .send(Method::GET, "/api/v1/certificates", &ann, None)
        .await;
    assert_eq!(r.body["total"], 1, "{}", r.body);
    // Client users do not read the CA operations log.
    let r = env
        .send(
            Method::GET,
            &format!("/api/v1/certificates/{id}/operations"),
            &ann,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    env.assert_no_key_in_responses(&["include_key=true"]);
    env.assert_no_key_in_database().await;
}

/// A user with the client role for `client`, and a token for it.
pub async fn user_token(env: &Env, email: &str, client: &str) -> String {
    let r = env
        .post(
            "/api/v1/users",
            json!({"email": email, "name": email, "role": "client", "client_id": client}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let user = r.body["id"].as_str().unwrap().to_owned();
    let r = env
        .post("/api/v1/tokens", json!({"name": "t", "user_id": user}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["secret"].as_str().unwrap().to_owned()
}

/// The TXT values Panel1's DNS server answers at `name` (asked as an authoritative question).
async fn served_txt(server: SocketAddr, name: &str) -> Vec<String> {
    DnsClient::new(server)
        .query(name, RecordType::TXT, false)
        .await
        .unwrap()
        .txt_values()
}

/// DNS-01 for a wildcard and its apex in a zone hosted by Panel1, with Pebble resolving
/// through Panel1's own DNS server: the zone is created through the API, the TXT records are
/// written through the zone service (audited as the system actor `certificates`), Panel1's
/// checks (CAA, "served by every authoritative server") and Pebble's validation both ask
/// Panel1's server, and the records are removed afterwards.
async fn dns01_wildcard_plus_apex(t: TestDb) {
    let env = Env::with(
        t,
        Options {
            panel1_dns: true,
            ..Default::default()
        },
    )
    .await;
    let server = env.panel1_dns.unwrap();
    let client = env.client("Ann").await;
    let zone = format!("{}.test", unique("zone"));
    let r = env
        .post(
            "/api/v1/dns/zones",
            json!({"name": zone, "client_id": client}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let zid = r.body["id"].as_str().unwrap().to_owned();
    let records = format!("/api/v1/dns/zones/{zid}/records");

    // The zone's name servers are Panel1's server: in-zone names on loopback (asked on
    // `ssl_nameserver_port`) instead of the tenant's default `ns1.panel1.invalid`. And a CAA
    // record that allows only another CA, below the apex.
    let ns = env.get(&format!("{records}?type=NS&limit=100")).await;
    assert_eq!(ns.status, StatusCode::OK, "{}", ns.body);
    let old_ns: Vec<Value> = ns.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert!(!old_ns.is_empty(), "{}", ns.body);
    let r = env
        .send(
            Method::PATCH,
            &records,
            &env.token,
            Some(json!({
                "delete": old_ns,
                "create": [
                    {"name": "@", "type": "NS", "content": format!("ns1.{zone}.")},
                    {"name": "@", "type": "NS", "content": format!("ns2.{zone}.")},
                    {"name": "ns1", "type": "A", "content": "127.0.0.1"},
                    {"name": "ns2", "type": "A", "content": "127.0.0.1"},
                    {"name": "other-ca", "type": "CAA", "content": "0 issue \"ca.invalid\""},
                ],
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let ns1 = format!("ns1.{zone}");
    let started = Instant::now();
    loop {
        let a = DnsClient::new(server)
            .query(&zone, RecordType::NS, false)
            .await
            .unwrap();
        if a.answers.iter().any(|r| r.data.to_string().contains(&ns1)) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "Panel1's DNS server does not serve the new NS set: {a:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // CAA is read from Panel1's server: a name whose CAA allows another CA stops before any
    // order, with the record in the message.
    let id = env
        .issue(json!({"client_id": client, "names": [format!("other-ca.{zone}")], "validation_method": "dns-01"}))
        .await;
    let cert = env.wait_status(&id, &["issued", "failed"]).await;
    assert_eq!(cert["status"], "failed", "{cert}");
    assert_eq!(cert["failure_kind"], "caa", "{cert}");
    assert!(
        cert["status_detail"]
            .as_str()
            .unwrap()
            .contains("ca.invalid"),
        "{cert}"
    );

    // A wildcard cannot be validated with HTTP-01, and the refusal says so.
    let r = env
        .post(
            "/api/v1/certificates",
            json!({"client_id": client, "names": [format!("*.{zone}"), zone], "validation_method": "http-01"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "validation_method");
    assert!(
        r.body["detail"].as_str().unwrap().contains("DNS-01"),
        "{}",
        r.body
    );

    // The CAA climb from the apex meets `test`, which Panel1's server refuses (it is not
    // authoritative there): no CAA record, so anyone may issue.
    let record = format!("_acme-challenge.{zone}");
    let id = env
        .issue(json!({"client_id": client, "names": [format!("*.{zone}"), zone], "key_type": "ecdsa-p384", "dns_mode": "hosted"}))
        .await;
    // While the order runs, the records are visible through the API and on the server.
    let started = Instant::now();
    let mut listed = Vec::new();
    let mut served = Vec::new();
    let cert = loop {
        let c = env.get(&format!("/api/v1/certificates/{id}")).await.body;
        let txt = env
            .get(&format!("{records}?name=_acme-challenge&type=TXT"))
            .await;
        assert_eq!(txt.status, StatusCode::OK, "{}", txt.body);
        for r in txt.body["items"].as_array().unwrap() {
            let v = r["content"].as_str().unwrap().trim_matches('"').to_owned();
            if !listed.contains(&v) {
                listed.push(v);
            }
        }
        for v in served_txt(server, &record).await {
            if !served.contains(&v) {
                served.push(v);
            }
        }
        if ["issued", "failed"].contains(&c["status"].as_str().unwrap_or_default()) {
            break c;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "not issued in time: {c}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(cert["status"], "issued", "{cert}");
    assert_eq!(cert["validation_method"], "dns-01");
    assert_eq!(cert["key_type"], "ecdsa-p384");
    let vals = cert["validations"].as_array().unwrap();
    assert_eq!(vals.len(), 2, "{cert}");
    let mut values = Vec::new();
    for v in vals {
        assert_eq!(v["dns_mode"], "hosted", "{v}");
        assert_eq!(v["record_name"], record.as_str());
        assert_eq!(v["status"], "valid");
        values.push(v["record_value"].as_str().unwrap().to_owned());
    }
    assert_ne!(values[0], values[1], "{cert}");
    eprintln!(
        "seen while the order ran: {} of 2 values listed by the API, {} served",
        values.iter().filter(|v| listed.contains(v)).count(),
        values.iter().filter(|v| served.contains(v)).count()
    );

    // Removed before the certificate was stored: gone from the zone and from the server.
    let txt = env
        .get(&format!("{records}?name=_acme-challenge&type=TXT"))
        .await;
    assert_eq!(txt.body["items"], json!([]), "{}", txt.body);
    let started = Instant::now();
    while !served_txt(server, &record).await.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "Panel1's server still answers the challenge"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Both values were written through the zone service and removed the same way, by the
    // system actor `certificates`, in the zone's audit log.
    let audit = env
        .get(&format!(
            "/api/v1/audit?object_type=dns_zone&object_id={zid}&limit=100"
        ))
        .await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    let by_certificates: Vec<&Value> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"]["kind"] == "system" && e["actor"]["id"] == "certificates")
        .collect();
    let mut created = Vec::new();
    let mut deleted = 0;
    for e in &by_certificates {
        assert_eq!(e["action"], "dns.zone.change", "{e}");
        for r in e["after"]["created"].as_array().unwrap() {
            assert_eq!(r["type"], "TXT", "{r}");
            assert_eq!(r["name"], "_acme-challenge", "{r}");
            created.push(r["content"].as_str().unwrap().trim_matches('"').to_owned());
        }
        deleted += e["after"]["deleted"].as_array().unwrap().len();
    }
    created.sort();
    values.sort();
    assert_eq!(created, values, "{}", audit.body);
    assert_eq!(deleted, 2, "{}", audit.body);

    let d = env
        .get(&format!("/api/v1/certificates/{id}/download"))
        .await;
    let chain =
        panel1_ca::CertificateChain::from_pem(d.body["fullchain_pem"].as_str().unwrap()).unwrap();
    assert!(chain.leaf.matches_host(&format!("www.{zone}")));
    assert!(chain.leaf.matches_host(&zone));
}

async fn multi_domain_certificate(t: TestDb) {
    let env = Env::start(t).await;
    let client = env.client("Ann").await;
    let base = unique("san");
    let names = [
        format!("{base}.example.test"),
        format!("www.{base}.example.test"),
        format!("{base}.example.org"),
    ];
    let id = env
        .issue(json!({"client_id": client, "names": names, "key_type": "rsa-2048"}))
        .await;
    let cert = env.wait_status(&id, &["issued", "failed"]).await;
    assert_eq!(cert["status"], "issued", "{cert}");
    let mut sans: Vec<String> = serde_json::from_value(cert["sans"].clone()).unwrap();
    sans.sort();
    let mut want = names.to_vec();
    want.sort();
    assert_eq!(sans, want);
    assert_eq!(cert["validations"].as_array().unwrap().len(), 3);
    assert_eq!(cert["key_type"], "rsa-2048");
}

async fn renewal_replaces_the_old_certificate(t: TestDb) {
    let env = Env::start(t).await;
    let client = env.client("Ann").await;
    let name = format!("{}.example.test", unique("renew"));
    let first = env
        .issue(json!({"client_id": client, "names": [name]}))
        .await;
    let old = env.wait_status(&first, &["issued", "failed"]).await;
    assert_eq!(old["status"], "issued", "{old}");
    let old_serial = old["serial"].as_str().unwrap().to_owned();

    // Renewal on request.
    let r = env
        .post(&format!("/api/v1/certificates/{first}/renew"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let second = r.body["certificate"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["certificate"]["replaces_id"], first.as_str());
    assert_eq!(
        r.body["certificate"]["replaces_serial"],
        old_serial.as_str()
    );
    // Renewing the same certificate again while that runs is refused.
    let dup = env
        .post(&format!("/api/v1/certificates/{first}/renew"), json!({}))
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.body);
    let new = env.wait_status(&second, &["issued", "failed"]).await;
    assert_eq!(new["status"], "issued", "{new}");
    assert_ne!(new["serial"], old_serial.as_str());
    let old = env.get(&format!("/api/v1/certificates/{first}")).await.body;
    assert_eq!(old["status"], "replaced");
    assert_eq!(old["replaced_by_id"], second.as_str());
    assert!(old["renew_at"].is_null());
    let events = env.events(&second).await;
    assert!(
        events.contains(&"ssl.certificate.renewed".to_owned()),
        "{events:?}"
    );
    // Both certificates share one subscription (one term covers every renewal in it).
    assert_eq!(old["subscription_id"], new["subscription_id"]);

    // Renewal by the schedule: the renewal time has come.
    {
        let mut tx = env.app.db.begin().await.unwrap();
        let tenant = env.tenant().await;
        panel1_store::certificates::set_renewal(
            tx.conn(),
            &tenant,
            &second.parse().unwrap(),
            &panel1_store::certificates::RenewalPlan {
                renew_at: chrono::Utc::now() - chrono::Duration::minutes(1),
                basis: "lifetime",
                ari_window: None,
                ari_next_check: None,
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    panel1_jobs::enqueue_now(
        &env.app.db,
        &panel1_app::certificates::RenewalSweep {},
        Default::default(),
    )
    .await
    .unwrap();
    let third = env
        .wait(&second, Duration::from_secs(60), |b| {
            b["replaced_by_id"].is_string()
        })
        .await["replaced_by_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let third = env.wait_status(&third, &["issued", "failed"]).await;
    assert_eq!(third["status"], "issued", "{third}");
    assert_eq!(third["replaces_serial"], new["serial"]);
    let list = env
        .get(&format!("/api/v1/certificates?search={name}"))
        .await;
    assert_eq!(list.body["total"], 3);
}

async fn revocation(t: TestDb) {
    let env = Env::start(t).await;
    let client = env.client("Ann").await;
    let id = env
        .issue(json!({"client_id": client, "names": [format!("{}.example.test", unique("rev"))]}))
        .await;
    assert_eq!(
        env.wait_status(&id, &["issued", "failed"]).await["status"],
        "issued"
    );
    let r = env
        .post(
            &format!("/api/v1/certificates/{id}/revoke"),
            json!({"reason": "nonsense"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = env
        .post(
            &format!("/api/v1/certificates/{id}/revoke"),
            json!({"reason": "key_compromise"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["certificate"]["status"], "revoking");
    let cert = env.wait_status(&id, &["revoked", "issued"]).await;
    assert_eq!(cert["status"], "revoked", "{cert}");
    assert_eq!(cert["revocation_reason"], "key_compromise");
    assert!(cert["revoked_at"].is_string());
    assert!(!cert["auto_renew"].as_bool().unwrap());
    let ops = env
        .get(&format!("/api/v1/certificates/{id}/operations"))
        .await;
    assert!(
        ops.body
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["step"] == "revoke" && o["status"] == 200),
        "{}",
        ops.body
    );
    assert!(
        env.events(&id)
            .await
            .contains(&"ssl.certificate.revoked".to_owned())
    );
    let again = env
        .post(&format!("/api/v1/certificates/{id}/revoke"), json!({}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    let renew = env
        .post(&format!("/api/v1/certificates/{id}/renew"), json!({}))
        .await;
    assert_eq!(renew.status, StatusCode::CONFLICT, "{}", renew.body);
}

async fn external_account_binding(t: TestDb) {
    const KID: &str = "kid-1";
    const HMAC: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    let env = Env::with(
        t,
        Options {
            eab_keys: vec![(KID.into(), HMAC.into())],
            env: vec![("PANEL1_SSL_ISSUE_ATTEMPTS".into(), "1".into())],
            ..Default::default()
        },
    )
    .await;
    let client = env.client("Ann").await;
    // The default account has no binding: the order fails and says what to configure.
    let id = env
        .issue(json!({"client_id": client, "names": [format!("{}.example.test", unique("eab"))]}))
        .await;
    let cert = env.wait_status(&id, &["issued", "failed"]).await;
    assert_eq!(cert["status"], "failed", "{cert}");
    assert_eq!(cert["failure_kind"], "eab");
    assert!(
        cert["status_detail"]
            .as_str()
            .unwrap()
            .contains("External Account Binding"),
        "{cert}"
    );

    // A bad HMAC key is refused before anything is stored.
    let r = env
        .post(
            "/api/v1/ca-accounts",
            json!({"name": "pebble-eab", "directory": env.pebble.directory_url, "eab": {"key_id": KID, "hmac_key": "not base64!"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "eab.hmac_key");

    let r = env
        .post(
            "/api/v1/ca-accounts",
            json!({"name": "pebble-eab", "directory": env.pebble.directory_url, "eab": {"key_id": KID, "hmac_key": HMAC}, "default": true, "contact_email": "ops@example.test"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(!r.text.contains(HMAC), "the HMAC key came back: {}", r.text);
    assert_eq!(r.body["has_eab_hmac"], true);
    assert_eq!(r.body["status"], "unregistered");
    let account = r.body["id"].as_str().unwrap().to_owned();

    let id = env
        .issue(json!({"client_id": client, "names": [format!("{}.example.test", unique("eab"))]}))
        .await;
    let cert = env.wait_status(&id, &["issued", "failed"]).await;
    assert_eq!(cert["status"], "issued", "{cert}");
    assert_eq!(cert["ca_account_id"], account.as_str());
    let accounts = env.get("/api/v1/ca-accounts").await;
    assert!(!accounts.text.contains(HMAC));
    let a = accounts
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == account.as_str())
        .unwrap();
    assert_eq!(a["status"], "registered");
    assert!(a["account_url"].as_str().unwrap().starts_with("https://"));
    assert!(a.get("credentials_sealed").is_none() && a.get("eab_hmac_sealed").is_none());
    env.assert_no_key_in_database().await;
}

db_tests!(http01_single_name_through_the_api, dns01_wildcard_plus_apex);

mod sqlite_only {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn multi_domain_certificate() {
        super::multi_domain_certificate(TestDb::sqlite().await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn renewal_replaces_the_old_certificate() {
        super::renewal_replaces_the_old_certificate(TestDb::sqlite().await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn revocation() {
        super::revocation(TestDb::sqlite().await).await
    }
}

mod postgres_only {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn external_account_binding() {
        super::external_account_binding(TestDb::postgres().await).await
    }
}
