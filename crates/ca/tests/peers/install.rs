//! Installation into a real nginx, verified by a TLS handshake that sees the new serial;
//! an installation nginx does not pick up is reported as failed. The webhook installer
//! against a local receiver that checks the signature.

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use panel1_ca::certificate::split_pem;
use panel1_ca::install::{
    FilesInstaller, InstallBundle, InstallError, Installer, ProbeTarget, ReloadCommand,
    WebhookInstaller, install_and_verify, probe,
};
use panel1_ca::issue::Issuance;
use panel1_ca::testing::{Nginx, TestCa};
use panel1_ca::{CertificateChain, IdentifierSet, KeyType, OrderRequest, PrivateKey};
use panel1_core::SecretString;

use crate::common::{Env, env, quick_poll, unique};

async fn issue(e: &Env, name: &str) -> InstallBundle {
    let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    let issued = Issuance {
        ca: e.ca.as_ref(),
        account: &e.account,
        request: &OrderRequest::dv(IdentifierSet::new([name]).unwrap()),
        key: &key,
        solver: &e.http,
        poll: quick_poll(),
        resume_order_url: None,
    }
    .run(&mut |_| {})
    .await
    .unwrap();
    InstallBundle {
        chain: issued.chain,
        key,
    }
}

#[tokio::test]
async fn nginx_serves_the_installed_certificate_and_a_missed_reload_fails_verification() {
    let e = env().await;
    let site = format!("{}.example.test", unique("site"));
    // nginx starts with some other certificate for the site.
    let old_ca = TestCa::new("Old CA").unwrap();
    let (old_cert, old_key) = old_ca.leaf(&[&site]).unwrap();
    let nginx = Nginx::start(&site, &old_cert, &old_key).await.unwrap();
    let old_serial = CertificateChain::from_pem(&old_cert)
        .unwrap()
        .leaf
        .serial_hex;

    let roots = split_pem(&e.pebble.issuing_root_pem().await.unwrap()).unwrap();
    let target = ProbeTarget::new("127.0.0.1", nginx.port, &site).with_roots(roots);
    let before = probe(&target).await.unwrap();
    assert_eq!(before.serial_hex, old_serial);
    assert!(!before.trusted, "the old CA is not a Pebble root");

    let installer = FilesInstaller {
        certificate_path: Some(nginx.dir().join("cert-only.pem")),
        chain_path: Some(nginx.dir().join("chain.pem")),
        fullchain_path: Some(nginx.cert_path()),
        key_path: nginx.key_path(),
        reload: Some(nginx.reload_command()),
    };
    let first = issue(&e, &site).await;
    let outcome = install_and_verify(&installer, &first, Some(&target), Duration::from_secs(10))
        .await
        .unwrap_or_else(|err| panic!("{err}\n{}", nginx.error_log()));
    let seen = outcome.probe.unwrap();
    assert_eq!(seen.serial_hex, first.chain.leaf.serial_hex);
    assert!(seen.trusted, "{:?}", seen.trust_error);
    assert!(seen.hostname_matches);
    assert!(seen.days_left > 0);
    assert_eq!(seen.chain.len(), first.chain.intermediates.len());
    assert_eq!(outcome.report.written.len(), 4);
    assert_eq!(outcome.report.command.as_ref().unwrap().status, Some(0));
    let mode = std::fs::metadata(nginx.key_path())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(
        std::fs::read_to_string(nginx.dir().join("chain.pem")).unwrap(),
        first.chain.chain_pem
    );

    // The renewal is written but nginx is never told: verification fails, naming both serials.
    let second = issue(&e, &site).await;
    let lazy = FilesInstaller {
        reload: Some(ReloadCommand::new("true", Vec::<String>::new())),
        ..installer.clone()
    };
    let err = install_and_verify(&lazy, &second, Some(&target), Duration::from_secs(2))
        .await
        .unwrap_err();
    let InstallError::NotServing {
        served, expected, ..
    } = &err
    else {
        panic!("expected a failed verification, got {err}");
    };
    assert_eq!(
        served.as_deref(),
        Some(first.chain.leaf.serial_hex.as_str())
    );
    assert_eq!(expected, &second.chain.leaf.serial_hex);
    assert!(err.to_string().contains(&second.chain.leaf.serial_hex));

    // Installing again with the real reload fixes it.
    install_and_verify(&installer, &second, Some(&target), Duration::from_secs(10))
        .await
        .unwrap();

    // Probed under another name: served, but not valid for it.
    let other = ProbeTarget {
        server_name: "other.example.test".into(),
        ..target.clone()
    };
    let r = probe(&other).await.unwrap();
    assert!(!r.hostname_matches);
    assert!(!r.trusted);
}

type Deliveries = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

#[derive(Clone, Default)]
struct Received(Deliveries);

#[tokio::test]
async fn webhook_installer_posts_a_signed_bundle() {
    let ca = TestCa::new("Webhook CA").unwrap();
    let (cert, key_pem) = ca.leaf(&["hook.example.test"]).unwrap();
    let chain = CertificateChain::from_pem(&format!("{cert}{}", ca.cert_pem)).unwrap();
    let bundle = InstallBundle {
        chain,
        key: PrivateKey::from_pem(&key_pem).unwrap(),
    };
    assert!(!format!("{bundle:?}").contains("PRIVATE KEY"));

    let got = Received::default();
    let status = Arc::new(Mutex::new(StatusCode::NO_CONTENT));
    let app = axum::Router::new().route(
        "/install",
        axum::routing::post({
            let got = got.clone();
            let status = status.clone();
            move |headers: HeaderMap, body: axum::body::Bytes| async move {
                got.0.lock().unwrap().push((headers, body.to_vec()));
                *status.lock().unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let secret = SecretString::new("whsec_test-secret");
    let hook = WebhookInstaller::new(format!("http://{addr}/install"), secret.clone());
    let report = hook.install(&bundle).await.unwrap();
    assert_eq!(report.webhook_status, Some(204));

    let (headers, body) = got.0.lock().unwrap()[0].clone();
    let ts: i64 = headers["panel1-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let sig = headers["panel1-signature"]
        .to_str()
        .unwrap()
        .strip_prefix("v1=")
        .unwrap()
        .to_owned();
    assert!(panel1_core::crypto::verify_webhook(
        &secret, ts, &body, &sig
    ));
    assert!(!panel1_core::crypto::verify_webhook(
        &SecretString::new("other"),
        ts,
        &body,
        &sig
    ));
    assert_eq!(headers["panel1-event"], "ssl.certificate.install");
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["serial"], bundle.chain.leaf.serial_hex.as_str());
    assert_eq!(json["fullchain_pem"], bundle.chain.fullchain_pem.as_str());
    assert!(
        json["private_key_pem"]
            .as_str()
            .unwrap()
            .contains("PRIVATE KEY")
    );

    // A receiver that fails: reported with its status.
    *status.lock().unwrap() = StatusCode::INTERNAL_SERVER_ERROR;
    let err = hook.install(&bundle).await.unwrap_err();
    assert!(
        matches!(err, InstallError::WebhookRejected { status: 500, .. }),
        "{err}"
    );
    // The key never goes to a plain-HTTP URL off loopback.
    let far = WebhookInstaller::new("http://install.example.test/hook", secret);
    assert!(matches!(
        far.install(&bundle).await.unwrap_err(),
        InstallError::InsecureWebhook { .. }
    ));
}
