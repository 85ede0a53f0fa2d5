//! Issues N certificates from a local Pebble (`PEBBLE_VA_NOSLEEP=1`, HTTP-01) THROUGH Panel1:
//! the HTTP API (`issueCertificate`), the database, the `ssl::issue` jobs run by a worker
//! (`worker_concurrency` at once) with the CA's rate limit configured
//! (`acme_orders_limit` new orders per `acme_orders_window_secs`), and Panel1's own HTTP
//! server answering the HTTP-01 challenges. Then issues N with `lego`, one after another as an
//! operator scripts it, and prints both times side by side.
//!
//! `cargo run -p panel1-web --example certificates_bench -- [--count N] [--concurrency C]
//! [--orders-limit L --orders-window SECS] [--postgres] [--skip-lego]` (see `bench/ca/service`).

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use panel1_app::{App, Settings, bootstrap, events, worker};
use panel1_ca::testing::{Pebble, PebbleOptions, TestDns};
use panel1_core::crypto::{Keyring, MasterKey};
use panel1_store::testing::TestDb;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    count: usize,
    concurrency: usize,
    orders_limit: u32,
    orders_window: u64,
    postgres: bool,
    skip_lego: bool,
}

fn args() -> Args {
    let mut a = Args {
        count: 100,
        concurrency: 16,
        // Let's Encrypt: 300 new orders per account per 3 hours.
        orders_limit: 300,
        orders_window: 3 * 3600,
        postgres: false,
        skip_lego: false,
    };
    let mut it = std::env::args().skip(1);
    let num = |v: Option<String>, what: &str| -> u64 {
        v.and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{what} needs a number"))
    };
    while let Some(x) = it.next() {
        match x.as_str() {
            "--count" => a.count = num(it.next(), "--count") as usize,
            "--concurrency" => a.concurrency = num(it.next(), "--concurrency") as usize,
            "--orders-limit" => a.orders_limit = num(it.next(), "--orders-limit") as u32,
            "--orders-window" => a.orders_window = num(it.next(), "--orders-window"),
            "--postgres" => a.postgres = true,
            "--skip-lego" => a.skip_lego = true,
            other => panic!(
                "unknown argument {other}; use --count N --concurrency C --orders-limit L --orders-window SECS --postgres --skip-lego"
            ),
        }
    }
    a
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args = args();
    let run = hex_suffix();
    let dns = Arc::new(TestDns::start(Some(Ipv4Addr::LOCALHOST)).await?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let mut po = PebbleOptions::new(dns.addr());
    po.http_port = Some(port);
    let pebble = Pebble::start(po).await?;
    let dir = std::env::temp_dir().join(format!("p1-ssl-bench-{run}"));
    std::fs::create_dir_all(&dir)?;
    let roots = dir.join("pebble-listener-root.pem");
    std::fs::write(&roots, pebble.listener_root_pem())?;
    let db = if args.postgres {
        TestDb::postgres().await
    } else {
        TestDb::sqlite().await
    };
    println!(
        "Pebble at {} (PEBBLE_VA_NOSLEEP=1), HTTP-01 on Panel1's port {port}; {} certificates each; Panel1 on {}, {} jobs at once, CA rate limit {} new orders per {} s",
        pebble.directory_url,
        args.count,
        db.backend().as_str(),
        args.concurrency,
        args.orders_limit,
        args.orders_window
    );

    // Panel1: the API, the database, the jobs.
    let env: Vec<(String, String)> = vec![
        ("PANEL1_DATABASE_URL".into(), db.url().to_owned()),
        ("PANEL1_HTTP_ADDR".into(), format!("127.0.0.1:{port}")),
        (
            "PANEL1_ACME_DIRECTORY_URL".into(),
            pebble.directory_url.clone(),
        ),
        (
            "PANEL1_ACME_ROOT_CERTIFICATES_FILE".into(),
            roots.display().to_string(),
        ),
        (
            "PANEL1_ACME_ORDERS_LIMIT".into(),
            args.orders_limit.to_string(),
        ),
        (
            "PANEL1_ACME_ORDERS_WINDOW_SECS".into(),
            args.orders_window.to_string(),
        ),
        ("PANEL1_SSL_RESOLVER".into(), dns.addr().to_string()),
        (
            "PANEL1_WORKER_CONCURRENCY".into(),
            args.concurrency.to_string(),
        ),
        ("PANEL1_SANDBOX_DEMO".into(), "false".into()),
        ("PANEL1_LOG".into(), "warn".into()),
    ];
    let settings = Settings::load(None, |k| {
        env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    })?;
    let keyring = Keyring::new(MasterKey::generate()?, []);
    let app = App::new(db.db.clone(), keyring, settings, events::Handlers::new())
        .map_err(|e| -> Error { e.to_string().into() })?;
    let token = bootstrap::run(&app, "bench")
        .await
        .map_err(|e| -> Error { e.to_string().into() })?
        .token
        .expose()
        .to_owned();
    let cancel = CancellationToken::new();
    let router = panel1_web::router(app.clone());
    let c = cancel.clone();
    let server = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { c.cancelled().await })
        .await;
    });
    let url = format!("http://127.0.0.1:{port}/api/v1");
    let http = reqwest::Client::new();
    let client: Value = http
        .post(format!("{url}/clients"))
        .bearer_auth(&token)
        .json(&json!({"name": "Bench", "email": "bench@example.test"}))
        .send()
        .await?
        .json()
        .await?;
    let client = client["id"].as_str().ok_or("no client id")?.to_owned();

    let started = Instant::now();
    let mut cfg = worker::runner_config(&app);
    cfg.poll_interval = Duration::from_millis(50);
    let runner = worker::runner(&app, cfg).start(cancel.clone());
    for i in 0..args.count {
        let r = http
            .post(format!("{url}/certificates"))
            .bearer_auth(&token)
            .json(&json!({"client_id": client, "names": [format!("p1-{run}-{i}.bench.test")]}))
            .send()
            .await?;
        if r.status() != 202 {
            return Err(format!(
                "issueCertificate answered {}: {}",
                r.status(),
                r.text().await?
            )
            .into());
        }
    }
    let queued = started.elapsed();
    let (issued, failed) = loop {
        let count = |status: &'static str| {
            let http = http.clone();
            let url = url.clone();
            let token = token.clone();
            async move {
                let v: Value = http
                    .get(format!("{url}/certificates?status={status}&limit=1"))
                    .bearer_auth(&token)
                    .send()
                    .await?
                    .json()
                    .await?;
                Ok::<u64, Error>(v["total"].as_u64().unwrap_or(0))
            }
        };
        let (i, f) = (count("issued").await?, count("failed").await?);
        if (i + f) as usize >= args.count {
            break (i as usize, f as usize);
        }
        if started.elapsed() > Duration::from_secs(1800) {
            return Err(format!("only {i} issued after 30 minutes").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let panel1 = (issued, started.elapsed());
    println!(
        "panel1: {issued}/{} issued ({failed} failed) in {:.2}s (all {} orders accepted by the API after {:.2}s)",
        args.count,
        panel1.1.as_secs_f64(),
        args.count,
        queued.as_secs_f64()
    );
    cancel.cancel();
    runner.shutdown().await;
    let _ = server.await;

    // lego: one process per certificate, one after another, sharing its account; it serves
    // HTTP-01 itself on the port Panel1 used.
    let lego = if args.skip_lego {
        None
    } else {
        let started = Instant::now();
        let mut ok = 0;
        for i in 0..args.count {
            let out = Command::new("lego")
                .env("LEGO_CA_CERTIFICATES", &roots)
                .args([
                    "--accept-tos",
                    "--email",
                    "bench@example.test",
                    "--server",
                    &pebble.directory_url,
                    "--http",
                    "--http.port",
                    &format!("127.0.0.1:{port}"),
                    "--key-type",
                    "ec256",
                    "--domains",
                    &format!("lego-{run}-{i}.bench.test"),
                    "--path",
                ])
                .arg(dir.join("lego"))
                .arg("run")
                .output()?;
            if out.status.success() {
                ok += 1;
            } else {
                eprintln!(
                    "lego: {}",
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .last()
                        .unwrap_or("")
                );
            }
        }
        Some((ok, started.elapsed()))
    };
    let _ = std::fs::remove_dir_all(&dir);

    println!();
    println!("| client | issued | wall time | per certificate | certificates/s |");
    println!("|---|---|---|---|---|");
    let row = |label: &str, (ok, t): (usize, Duration)| {
        println!(
            "| {label} | {ok}/{} | {:.2} s | {:.0} ms | {:.1} |",
            args.count,
            t.as_secs_f64(),
            t.as_secs_f64() * 1000.0 / args.count as f64,
            ok as f64 / t.as_secs_f64()
        );
    };
    row(
        &format!(
            "panel1 API + jobs ({}, {} workers)",
            db.backend().as_str(),
            args.concurrency
        ),
        panel1,
    );
    if let Some(l) = lego {
        row("lego (sequential)", l);
        println!();
        println!(
            "panel1 is {:.1}x faster than lego",
            l.1.as_secs_f64() / panel1.1.as_secs_f64()
        );
        if panel1.0 != args.count || l.0 != args.count {
            return Err("some certificates were not issued".into());
        }
    } else if panel1.0 != args.count {
        return Err("some certificates were not issued".into());
    }
    Ok(())
}

fn hex_suffix() -> String {
    panel1_core::ids::new_id_body()[24..].to_owned()
}
