//! Installation into a real nginx on a loopback port, verified by a TLS handshake that sees
//! the new serial; renewals installed at the same place; the daily health probe.

use std::time::Duration;

use panel1_ca::install::{ProbeTarget, probe};
use panel1_ca::testing::{Nginx, TestCa};
use panel1_store::testing::TestDb;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Env, Options, unique};
use crate::issuance::user_token;

async fn served_serial(port: u16, name: &str) -> Option<String> {
    probe(&ProbeTarget::new("127.0.0.1", port, name))
        .await
        .ok()
        .map(|r| r.serial_hex)
}

async fn installation(env: &Env, id: &str, statuses: &[&str]) -> Value {
    let cert = env
        .wait(id, Duration::from_secs(90), |b| {
            b["installations"]
                .as_array()
                .and_then(|a| a.first())
                .is_some_and(|i| statuses.contains(&i["status"].as_str().unwrap_or_default()))
        })
        .await;
    cert["installations"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installs_into_nginx_and_follows_renewals() {
    let env = Env::with(
        TestDb::sqlite().await,
        Options {
            env: vec![
                (
                    "PANEL1_SSL_INSTALL_DIRS".into(),
                    std::env::temp_dir().display().to_string(),
                ),
                ("PANEL1_SSL_RELOAD_PROGRAMS".into(), "nginx".into()),
                ("PANEL1_SSL_INSTALL_VERIFY_SECS".into(), "3".into()),
            ],
            ..Default::default()
        },
    )
    .await;
    let client = env.client("Ann").await;
    let name = format!("{}.example.test", unique("site"));
    let id = env
        .issue(json!({"client_id": client, "names": [name]}))
        .await;
    let cert = env.wait_status(&id, &["issued", "failed"]).await;
    assert_eq!(cert["status"], "issued", "{cert}");
    let serial = cert["serial"].as_str().unwrap().to_owned();

    // nginx serves a certificate of its own to begin with.
    let ca = TestCa::new("before Panel1").unwrap();
    let (c0, k0) = ca.leaf(&[&name]).unwrap();
    let nginx = Nginx::start(&name, &c0, &k0).await.unwrap();
    let before = served_serial(nginx.port, &name).await.unwrap();
    assert_ne!(before, serial);

    let reload = nginx.reload_command();
    let body = json!({
        "kind": "files",
        "files": {
            "fullchain_path": nginx.cert_path(),
            "key_path": nginx.key_path(),
            "reload": {"program": reload.program, "args": reload.args},
        },
        "probe": {"address": "127.0.0.1", "port": nginx.port, "server_name": name},
    });

    // Refusals: client users, paths outside the allowed directories, programs not allowed.
    let ann = user_token(&env, "ann@example.com", &client).await;
    let r = env
        .send(
            Method::POST,
            &format!("/api/v1/certificates/{id}/installations"),
            &ann,
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let mut bad = body.clone();
    bad["files"]["key_path"] = json!("/etc/panel1-test/privkey.pem");
    bad["files"]["reload"]["program"] = json!("sh");
    let r = env
        .post(&format!("/api/v1/certificates/{id}/installations"), bad)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let fields: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["files.key_path", "files.reload.program"],
        "{}",
        r.body
    );

    let r = env
        .post(&format!("/api/v1/certificates/{id}/installations"), body)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let inst = installation(&env, &id, &["installed", "failed"]).await;
    assert_eq!(inst["status"], "installed", "{inst}\n{}", nginx.error_log());
    assert_eq!(inst["installed_serial"], serial.as_str());
    assert_eq!(inst["served_serial"], serial.as_str());
    assert_eq!(inst["hostname_matches"], true);
    assert_eq!(inst["trusted"], true, "{inst}");
    // Independent handshakes see the new serial; the key file is private.
    wait_serial(nginx.port, &name, &serial).await;
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(nginx.key_path()).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        env.events(&id)
            .await
            .contains(&"ssl.certificate.installed".to_owned())
    );

    // A renewal is installed at the same place and verified.
    let r = env
        .post(&format!("/api/v1/certificates/{id}/renew"), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let renewed = r.body["certificate"]["id"].as_str().unwrap().to_owned();
    let new_serial = env.wait_status(&renewed, &["issued", "failed"]).await["serial"]
        .as_str()
        .unwrap()
        .to_owned();
    let inst = installation(&env, &renewed, &["installed", "failed"]).await;
    assert_eq!(inst["status"], "installed", "{inst}");
    assert_eq!(inst["installed_serial"], new_serial.as_str());
    wait_serial(nginx.port, &name, &new_serial).await;
    let old = env.get(&format!("/api/v1/certificates/{id}")).await.body;
    assert_eq!(old["installations"], json!([]), "the installation moved");

    // The daily probe: healthy now.
    run_health(&env).await;
    let checks = env
        .get(&format!("/api/v1/certificates/{renewed}/health"))
        .await;
    assert_eq!(checks.body[0]["healthy"], true, "{}", checks.body);
    assert_eq!(checks.body[0]["served_serial"], new_serial.as_str());

    // Someone puts the old certificate back: the probe notices and alerts.
    std::fs::write(nginx.cert_path(), &c0).unwrap();
    std::fs::write(nginx.key_path(), &k0).unwrap();
    nginx.reload_command().run().await.unwrap();
    wait_serial(nginx.port, &name, &before).await;
    run_health(&env).await;
    let checks = env
        .get(&format!("/api/v1/certificates/{renewed}/health"))
        .await;
    let last = &checks.body[0];
    assert_eq!(last["healthy"], false, "{}", checks.body);
    assert_eq!(last["served_serial"], before.as_str());
    let problems = last["problems"].to_string();
    assert!(
        problems.contains(&new_serial) && problems.contains("not trusted"),
        "{problems}"
    );
    assert!(
        env.events(&renewed)
            .await
            .contains(&"ssl.installation.unhealthy".to_owned())
    );
    env.assert_no_key_in_responses(&[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_that_does_not_verify_fails() {
    let env = Env::with(
        TestDb::sqlite().await,
        Options {
            env: vec![
                (
                    "PANEL1_SSL_INSTALL_DIRS".into(),
                    std::env::temp_dir().display().to_string(),
                ),
                ("PANEL1_SSL_INSTALL_VERIFY_SECS".into(), "1".into()),
            ],
            ..Default::default()
        },
    )
    .await;
    let client = env.client("Ann").await;
    let name = format!("{}.example.test", unique("stale"));
    let id = env
        .issue(json!({"client_id": client, "names": [name]}))
        .await;
    assert_eq!(
        env.wait_status(&id, &["issued", "failed"]).await["status"],
        "issued"
    );
    let ca = TestCa::new("other").unwrap();
    let (c0, k0) = ca.leaf(&[&name]).unwrap();
    let nginx = Nginx::start(&name, &c0, &k0).await.unwrap();
    // Files written where nginx does not read them, and no reload: nginx keeps its own.
    let elsewhere = env.dir.0.join("unused");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let r = env
        .post(
            &format!("/api/v1/certificates/{id}/installations"),
            json!({"kind": "files", "files": {"directory": elsewhere}, "probe": {"address": "127.0.0.1", "port": nginx.port, "server_name": name}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let inst = installation(&env, &id, &["installed", "failed"]).await;
    assert_eq!(inst["status"], "failed", "{inst}");
    let err = inst["last_error"].as_str().unwrap();
    assert!(
        err.contains("still serves") && err.contains(&format!("127.0.0.1:{}", nginx.port)),
        "{err}"
    );
    assert!(
        env.events(&id)
            .await
            .contains(&"ssl.installation.failed".to_owned())
    );
}

async fn run_health(env: &Env) {
    let job = panel1_jobs::enqueue_now(
        &env.app.db,
        &panel1_app::certificates::HealthSweep {},
        Default::default(),
    )
    .await
    .unwrap();
    let start = std::time::Instant::now();
    loop {
        let r = env.get(&format!("/api/v1/jobs/{}", job.id())).await;
        if r.body["status"] == "done" {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{}", r.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until nginx serves `serial` on five handshakes in a row (a reload lets old workers
/// finish, so the old certificate can still answer for a moment).
async fn wait_serial(port: u16, name: &str, serial: &str) {
    let mut streak = 0;
    for _ in 0..200 {
        if served_serial(port, name).await.as_deref() == Some(serial) {
            streak += 1;
            if streak == 5 {
                return;
            }
        } else {
            streak = 0;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nginx does not serve {serial}");
}
