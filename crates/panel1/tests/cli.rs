//! The `panel1` binary as a newcomer and an operator use it: first start on the embedded
//! default, bootstrap, bad settings, and `migrate` + `serve` on PostgreSQL.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use panel1_store::testing::TestDb;

fn panel1(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_panel1"));
    c.current_dir(dir)
        .env_remove("PANEL1_DATABASE_URL")
        .env_remove("PANEL1_MASTER_KEY")
        .env("PANEL1_LOG", "warn");
    c
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `panel1 serve` on a free port and returns it with the stdout lines up to "Listening on".
fn serve(mut cmd: Command) -> (Running, Vec<String>, String) {
    cmd.arg("serve")
        .env("PANEL1_HTTP_ADDR", "127.0.0.1:0")
        .env("PANEL1_DNS_ADDR", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("start panel1 serve");
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let mut base = String::new();
    for line in out.lines() {
        let line = line.unwrap();
        if let Some(addr) = line.strip_prefix("Listening on ") {
            base = addr.to_owned();
            break;
        }
        lines.push(line);
    }
    assert!(!base.is_empty(), "serve did not start: {lines:?}");
    (Running(child), lines, base)
}

fn terminate(mut r: Running) -> std::process::ExitStatus {
    let pid = r.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let start = Instant::now();
    loop {
        if let Some(s) = r.0.try_wait().unwrap() {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn first_start_on_the_embedded_default_prints_a_working_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let (running, lines, base) = serve(panel1(dir.path()));
    let token = lines
        .iter()
        .find(|l| l.starts_with("p1_"))
        .expect("a token line")
        .clone();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Sign in as admin@panel1.local with password:")),
        "{lines:?}"
    );

    let http = reqwest::Client::new();
    let me: serde_json::Value = http
        .get(format!("{base}/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "operator");
    assert_eq!(
        http.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let data = dir.path().join("panel1-data");
    assert!(data.join("panel1.db").exists());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(data.join("master.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the master key file is private");
    let mode = Command::new("sqlite3")
        .arg(data.join("panel1.db"))
        .arg("PRAGMA journal_mode")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&mode.stdout).trim(),
        "wal",
        "the embedded database runs in WAL mode"
    );
    assert!(terminate(running).success(), "graceful shutdown exits 0");

    // A second start finds the tenant and prints no new credentials.
    let (running, lines, _) = serve(panel1(dir.path()));
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("p1_") || l.contains("password")),
        "{lines:?}"
    );
    drop(running);
}

#[test]
fn admin_bootstrap_is_idempotent_and_ends_with_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        let out = panel1(dir.path())
            .args(["admin", "bootstrap"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let first = run();
    let second = run();
    let last = |s: &str| s.lines().last().unwrap().to_owned();
    assert!(
        last(&first).starts_with("p1_") && last(&first).len() == 51,
        "{first}"
    );
    assert!(last(&second).starts_with("p1_"), "{second}");
    assert_ne!(last(&first), last(&second), "a new token each time");
    assert!(
        first.contains("password"),
        "the first run creates the operator: {first}"
    );
    assert!(
        !second.contains("password"),
        "the second run creates nobody: {second}"
    );
    let tenant = |s: &str| s.lines().next().unwrap().to_owned();
    assert_eq!(tenant(&first), tenant(&second), "the same tenant");
}

#[test]
fn a_bad_setting_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for (var, val, name) in [
        ("PANEL1_HTTP_ADDR", "localhost", "http_addr"),
        ("PANEL1_DATABASE_URL", "mysql://x", "database_url"),
        ("PANEL1_MASTER_KEY", "too-short", "master_key"),
        ("PANEL1_WORKER_CONCURRENCY", "0", "worker_concurrency"),
    ] {
        let out = panel1(dir.path())
            .arg("serve")
            .env(var, val)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(name), "{var}={val}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let cfg = dir.path().join("p1.toml");
    std::fs::write(&cfg, "http_adr = \"127.0.0.1:1\"\n").unwrap();
    let out = panel1(dir.path())
        .args(["--config", cfg.to_str().unwrap(), "serve"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("http_adr"));
}

#[tokio::test]
async fn migrate_then_serve_on_postgresql() {
    let db = TestDb::postgres().await;
    // A fresh schema: serve refuses until migrations are applied.
    let fresh_url = {
        let base = panel1_store::testing::postgres_base_url();
        let schema = format!("cli_{}", std::process::id());
        let mut c = Command::new("psql");
        c.env("PGOPTIONS", "--client-min-messages=warning");
        c.args([
            &base,
            "-qc",
            &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"),
        ]);
        assert!(c.status().unwrap().success());
        (format!("{base}?options[search_path]={schema}"), schema)
    };
    let dir = tempfile::tempdir().unwrap();
    let out = panel1(dir.path())
        .arg("serve")
        .env("PANEL1_DATABASE_URL", &fresh_url.0)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("panel1 migrate"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = panel1(dir.path())
        .arg("migrate")
        .env("PANEL1_DATABASE_URL", &fresh_url.0)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cmd = panel1(dir.path());
    cmd.env("PANEL1_DATABASE_URL", &fresh_url.0);
    let (running, lines, base) = serve(cmd);
    let token = lines.iter().find(|l| l.starts_with("p1_")).unwrap().clone();
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v1/clients"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(terminate(running).success());
    let base = panel1_store::testing::postgres_base_url();
    Command::new("psql")
        .env("PGOPTIONS", "--client-min-messages=warning")
        .args([
            &base,
            "-qc",
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", fresh_url.1),
        ])
        .status()
        .unwrap();
    drop(db);
}
