//! Issuance against a real Pebble: HTTP-01, DNS-01 wildcard + apex, multi-domain,
//! renewal, revocation, External Account Binding, and resuming after a crash.

use std::sync::{Arc, Mutex};

use panel1_ca::acme::record_calls;
use panel1_ca::authority::{OrderStatus, RevocationReason};
use panel1_ca::issue::Issuance;
use panel1_ca::testing::PebbleOptions;
use panel1_ca::{
    AccountRequest, AcmeAuthority, CaError, CertificateAuthority, IdentifierSet, KeyType,
    OrderRequest, PrivateKey,
};
use panel1_core::SecretString;

use crate::common::{VerifyingDnsSolver, env, peers, quick_poll, unique};

#[tokio::test]
async fn http01_single_name() {
    let e = env().await;
    let name = format!("{}.example.test", unique("www"));
    let names = IdentifierSet::new([name.as_str()]).unwrap();
    let req = OrderRequest::dv(names.clone());
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let (issued, calls) = record_calls(
        Issuance {
            ca: e.ca.as_ref(),
            account: &e.account,
            request: &req,
            key: &key,
            solver: &e.http,
            poll: quick_poll(),
            resume_order_url: None,
        }
        .run(&mut |o| s.lock().unwrap().push((o.url.clone(), o.status))),
    )
    .await;
    let issued = issued.unwrap();
    let leaf = &issued.chain.leaf;
    assert_eq!(leaf.names, std::slice::from_ref(&name));
    assert!(issued.chain.matches_key(&key));
    assert!(!issued.chain.intermediates.is_empty());
    assert!(
        leaf.issuer.to_lowercase().contains("pebble"),
        "{}",
        leaf.issuer
    );
    assert!(leaf.not_after > chrono::Utc::now());
    // The order URL was handed out first, before any challenge was published.
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].0, issued.order_url);
    assert_eq!(seen[0].1, OrderStatus::Pending);
    // Tokens are removed once done.
    assert!(e.http.is_empty());
    // Every CA call is recorded, without bodies, for the operations log.
    assert!(
        calls
            .iter()
            .any(|c| c.method == "POST" && c.status == Some(201))
    );
    assert!(
        calls
            .iter()
            .all(|c| !c.url.is_empty() && c.status.is_some())
    );
    // Pebble fetched the token over HTTP, resolving the name through our DNS server.
    assert!(e.dns.queries().iter().any(|(n, _)| n == &name));
}

#[tokio::test]
async fn dns01_wildcard_plus_apex() {
    let e = env().await;
    let zone = format!("{}.test", unique("zone"));
    e.dns.add_zone(&zone);
    let names = IdentifierSet::new([format!("*.{zone}"), zone.clone()]).unwrap();
    let req = OrderRequest::dv(names.clone());
    let key = PrivateKey::generate(KeyType::EcdsaP384).unwrap();
    let solver = VerifyingDnsSolver::new(e.dns.clone());

    // The wildcard cannot go through HTTP-01, and the error says why.
    let err = Issuance {
        ca: e.ca.as_ref(),
        account: &e.account,
        request: &req,
        key: &key,
        solver: &e.http,
        poll: quick_poll(),
        resume_order_url: None,
    }
    .run(&mut |_| {})
    .await
    .unwrap_err();
    assert!(err.to_string().contains("DNS-01"), "{err}");

    let issued = Issuance {
        ca: e.ca.as_ref(),
        account: &e.account,
        request: &req,
        key: &key,
        solver: &solver,
        poll: quick_poll(),
        resume_order_url: None,
    }
    .run(&mut |_| {})
    .await
    .unwrap();
    assert!(issued.chain.names_match(&names));
    assert_eq!(issued.chain.leaf.names.len(), 2);
    assert!(issued.chain.leaf.matches_host(&format!("www.{zone}")));
    assert!(issued.chain.leaf.matches_host(&zone));
    // Both TXT values were published at the same name and are gone afterwards.
    let record = format!("_acme-challenge.{zone}");
    assert!(e.dns.txt(&record).is_empty());
    let asked = e.dns.queries();
    assert!(
        asked
            .iter()
            .any(|(n, t)| n == &record && t.to_string() == "TXT")
    );
}

#[tokio::test]
async fn multi_domain_certificate() {
    let e = env().await;
    let base = unique("san");
    let names = IdentifierSet::new([
        format!("{base}.example.test"),
        format!("www.{base}.example.test"),
        format!("{base}.example.org"),
    ])
    .unwrap();
    let key = PrivateKey::generate(KeyType::Rsa2048).unwrap();
    let issued = Issuance {
        ca: e.ca.as_ref(),
        account: &e.account,
        request: &OrderRequest::dv(names.clone()),
        key: &key,
        solver: &e.http,
        poll: quick_poll(),
        resume_order_url: None,
    }
    .run(&mut |_| {})
    .await
    .unwrap();
    assert!(issued.chain.names_match(&names));
    assert_eq!(issued.chain.leaf.names.len(), 3);
    assert!(issued.chain.matches_key(&key));
}

#[tokio::test]
async fn renewal_issues_a_new_certificate_with_a_new_serial() {
    let e = env().await;
    let names = IdentifierSet::new([format!("{}.example.test", unique("renew"))]).unwrap();
    let req = OrderRequest::dv(names.clone());
    let mut serials = Vec::new();
    let mut keys = Vec::new();
    for _ in 0..2 {
        let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let issued = Issuance {
            ca: e.ca.as_ref(),
            account: &e.account,
            request: &req,
            key: &key,
            solver: &e.http,
            poll: quick_poll(),
            resume_order_url: None,
        }
        .run(&mut |_| {})
        .await
        .unwrap();
        serials.push(issued.chain.leaf.serial_hex.clone());
        keys.push(key.public_key_bits().to_vec());
    }
    assert_ne!(serials[0], serials[1]);
    assert_ne!(keys[0], keys[1]);
    // Pebble 2.4 has no ARI: asking to replace a certificate is refused cleanly, before any
    // order is placed, so the platform orders without `replaces` for this CA.
    let dir = e.ca.directory().await.unwrap();
    assert!(!dir.renewal_info);
    let mut with_replaces = req.clone();
    with_replaces.replaces = Some("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".into());
    let err =
        e.ca.new_order(&e.account, &with_replaces)
            .await
            .unwrap_err();
    assert!(matches!(err, CaError::NotSupported { .. }), "{err}");
}

#[tokio::test]
async fn revocation() {
    let e = env().await;
    let names = IdentifierSet::new([format!("{}.example.test", unique("revoke"))]).unwrap();
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let issued = Issuance {
        ca: e.ca.as_ref(),
        account: &e.account,
        request: &OrderRequest::dv(names),
        key: &key,
        solver: &e.http,
        poll: quick_poll(),
        resume_order_url: None,
    }
    .run(&mut |_| {})
    .await
    .unwrap();
    e.ca.revoke(
        &e.account,
        issued.chain.leaf_der(),
        RevocationReason::Superseded,
    )
    .await
    .unwrap();
    // A second revocation is refused by the CA with its reason: the first one took.
    let again =
        e.ca.revoke(
            &e.account,
            issued.chain.leaf_der(),
            RevocationReason::Superseded,
        )
        .await
        .unwrap_err();
    match &again {
        CaError::Rejected { problem, .. } => {
            assert_eq!(problem.short_kind(), Some("alreadyRevoked"), "{again}")
        }
        other => panic!("expected a refusal, got {other}"),
    }
    assert!(!again.is_retryable());
}

#[tokio::test]
async fn external_account_binding() {
    // Pebble's example EAB key.
    const KID: &str = "kid-1";
    const HMAC: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    let e = peers(|o: &mut PebbleOptions| {
        o.eab_keys = vec![(KID.into(), HMAC.into())];
    })
    .await;
    let dir = e.ca.directory().await.unwrap();
    assert!(dir.external_account_required);

    // Without a binding: a clear error naming what to configure.
    let err =
        e.ca.create_account(&AccountRequest {
            terms_of_service_agreed: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, CaError::ExternalAccountRequired { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("External Account Binding"));

    // A wrong HMAC key is refused by the CA.
    let wrong = panel1_ca::authority::ExternalAccountBinding {
        key_id: KID.into(),
        hmac_key: SecretString::new("d3Jvbmcta2V5LXdyb25nLWtleQ"),
    };
    let err =
        e.ca.create_account(&AccountRequest {
            eab: Some(wrong),
            terms_of_service_agreed: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, CaError::Rejected { .. }), "{err}");
    assert!(
        !err.to_string().contains("d3Jvbmc"),
        "the key leaked: {err}"
    );

    // The configured binding works, and the bound account issues.
    let mut cfg = e.pebble.acme_config("pebble-eab");
    cfg.eab = Some(panel1_ca::authority::ExternalAccountBinding {
        key_id: KID.into(),
        hmac_key: SecretString::new(HMAC),
    });
    let ca = AcmeAuthority::new(cfg).unwrap();
    let account = ca
        .create_account(&AccountRequest {
            contacts: vec!["ops@example.test".into()],
            terms_of_service_agreed: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!format!("{account:?}").contains("key_pkcs8"));
    let names = IdentifierSet::new([format!("{}.example.test", unique("eab"))]).unwrap();
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let issued = Issuance {
        ca: &ca,
        account: &account,
        request: &OrderRequest::dv(names.clone()),
        key: &key,
        solver: &e.http,
        poll: quick_poll(),
        resume_order_url: None,
    }
    .run(&mut |_| {})
    .await
    .unwrap();
    assert!(issued.chain.names_match(&names));
}
