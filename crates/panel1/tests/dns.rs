//! Two processes on one database: a record saved through `panel1 serve`'s API is answered by
//! a separate `panel1 dns` within a second (it polls the zones' versions), on SQLite and
//! PostgreSQL; `serve` answers on its own DNS address too.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use panel1_store::db_tests;
use panel1_store::testing::TestDb;
use serde_json::json;

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `panel1 <command>` and reads its stdout until a line starting with `until`.
fn start(
    dir: &std::path::Path,
    db: &TestDb,
    key: &str,
    command: &str,
    until: &str,
) -> (Running, Vec<String>) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_panel1"));
    c.current_dir(dir)
        .arg(command)
        .env("PANEL1_DATABASE_URL", db.url())
        .env("PANEL1_MASTER_KEY", key)
        .env("PANEL1_HTTP_ADDR", "127.0.0.1:0")
        .env("PANEL1_DNS_ADDR", "127.0.0.1:0")
        .env("PANEL1_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = c.spawn().expect("panel1 starts");
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for line in out.lines() {
        let line = line.unwrap();
        let done = line.starts_with(until);
        lines.push(line);
        if done {
            break;
        }
    }
    assert!(
        lines.last().is_some_and(|l| l.starts_with(until)),
        "panel1 {command} did not start: {lines:?}"
    );
    (Running(child), lines)
}

fn dns_addr(lines: &[String]) -> SocketAddr {
    let l = lines
        .iter()
        .find_map(|l| l.strip_prefix("DNS on "))
        .expect("the DNS address is printed");
    l.split_whitespace().next().unwrap().parse().unwrap()
}

fn dig_short(addr: SocketAddr, name: &str, rtype: &str) -> String {
    let out = Command::new("dig")
        .args([
            format!("@{}", addr.ip()),
            "-p".into(),
            addr.port().to_string(),
            "+norec".into(),
            "+time=1".into(),
            "+tries=1".into(),
            "+short".into(),
            name.into(),
            rtype.into(),
        ])
        .output()
        .expect("dig runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

async fn a_record_saved_through_serve_is_answered_by_a_separate_dns_process(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let key = panel1_core::crypto::MasterKey::generate()
        .unwrap()
        .to_text()
        .expose()
        .to_owned();
    let (_serve, lines) = start(dir.path(), &db, &key, "serve", "Listening on ");
    let base = lines
        .last()
        .unwrap()
        .strip_prefix("Listening on ")
        .unwrap()
        .to_owned();
    let token = lines
        .iter()
        .find(|l| l.starts_with("p1_"))
        .expect("a token")
        .clone();
    let serve_dns = dns_addr(&lines);
    let (_dns, lines) = start(dir.path(), &db, &key, "dns", "DNS on ");
    let dns = dns_addr(&lines);
    assert_ne!(dns, serve_dns);

    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/api/v1/dns/zones"))
        .bearer_auth(&token)
        .json(&json!({"name": "two.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let zone: serde_json::Value = r.json().await.unwrap();
    let zid = zone["id"].as_str().unwrap();
    let wait = |addr: SocketAddr, name: &'static str, want: &'static str| async move {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            let got = tokio::task::spawn_blocking(move || dig_short(addr, name, "A"))
                .await
                .unwrap();
            if got == want {
                return Some(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    };
    for (i, ip) in ["192.0.2.1", "192.0.2.2", "192.0.2.3"].iter().enumerate() {
        let name: &'static str = Box::leak(format!("h{i}.two.test").into_boxed_str());
        let ip: &'static str = ip;
        let r = http
            .post(format!("{base}/api/v1/dns/zones/{zid}/records"))
            .bearer_auth(&token)
            .json(&json!({"name": format!("h{i}"), "type": "A", "content": ip}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let (other, own) = tokio::join!(wait(dns, name, ip), wait(serve_dns, name, ip));
        eprintln!("record {i}: `panel1 dns` after {other:?}, `panel1 serve` after {own:?}");
        let other = other.expect("the separate DNS process answers");
        assert!(
            other < Duration::from_secs(1),
            "answered {other:?} after the save"
        );
        assert!(own.expect("serve answers") < Duration::from_secs(1));
    }
    // A deleted zone stops being answered there too.
    let r = http
        .delete(format!("{base}/api/v1/dns/zones/{zid}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let start = Instant::now();
    while dig_short(dns, "two.test", "SOA").contains("hostmaster") {
        assert!(start.elapsed() < Duration::from_secs(2), "still served");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn a_bad_dns_address_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_panel1"))
        .current_dir(dir.path())
        .arg("dns")
        .env_remove("PANEL1_DATABASE_URL")
        .env("PANEL1_DNS_ADDR", "localhost")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dns_addr"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

db_tests!(a_record_saved_through_serve_is_answered_by_a_separate_dns_process);
