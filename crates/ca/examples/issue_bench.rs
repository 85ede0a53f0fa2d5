//! Issues N certificates from a local Pebble (`PEBBLE_VA_NOSLEEP=1`, HTTP-01) with Panel1's
//! ACME adapter (concurrently, at most C at a time: the stand-in for the CA's rate limit) and
//! with `lego` (one after another, as an operator scripts it), and prints both times.
//!
//! `cargo run -p panel1-ca --example issue_bench -- [--count N] [--concurrency C] [--skip-lego]`
//! (see `bench/ca/run`).

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use panel1_ca::issue::Issuance;
use panel1_ca::testing::{Http01Server, Pebble, PebbleOptions, TestDns};
use panel1_ca::{
    AccountRequest, AcmeAuthority, CertificateAuthority, IdentifierSet, KeyType, OrderRequest,
    PollPolicy, PrivateKey,
};
use tokio::sync::Semaphore;

struct Args {
    count: usize,
    concurrency: usize,
    skip_lego: bool,
}

fn args() -> Args {
    let mut a = Args {
        count: 100,
        concurrency: 10,
        skip_lego: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--count" => a.count = it.next().and_then(|v| v.parse().ok()).expect("--count N"),
            "--concurrency" => {
                a.concurrency = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--concurrency C")
            }
            "--skip-lego" => a.skip_lego = true,
            other => panic!("unknown argument {other}; use --count N --concurrency C --skip-lego"),
        }
    }
    a
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args = args();
    let run = hex::encode(rand::random::<[u8; 3]>());
    let dns = TestDns::start(Some(Ipv4Addr::LOCALHOST)).await?;
    let pebble = Pebble::start(PebbleOptions::new(dns.addr())).await?;
    println!(
        "Pebble at {} (PEBBLE_VA_NOSLEEP=1), HTTP-01 on port {}; {} certificates each",
        pebble.directory_url, pebble.http_port, args.count
    );

    // Panel1: concurrent issuances, at most `concurrency` in flight.
    let panel1 = {
        let http = Arc::new(Http01Server::start(pebble.http_port).await?);
        let mut cfg = pebble.acme_config("pebble");
        cfg.max_in_flight = args.concurrency * 2;
        let ca = Arc::new(AcmeAuthority::new(cfg)?);
        let started = Instant::now();
        let account = ca
            .create_account(&AccountRequest {
                contacts: vec!["bench@example.test".into()],
                terms_of_service_agreed: true,
                ..Default::default()
            })
            .await?;
        let limit = Arc::new(Semaphore::new(args.concurrency));
        let mut tasks = Vec::new();
        for i in 0..args.count {
            let (ca, account, http, limit) =
                (ca.clone(), account.clone(), http.clone(), limit.clone());
            let name = format!("p1-{run}-{i}.bench.test");
            tasks.push(tokio::spawn(async move {
                let _permit = limit.acquire().await.expect("semaphore open");
                let key = PrivateKey::generate(KeyType::EcdsaP256)?;
                let req = OrderRequest::dv(IdentifierSet::new([name])?);
                Issuance {
                    ca: ca.as_ref(),
                    account: &account,
                    request: &req,
                    key: &key,
                    solver: http.as_ref(),
                    poll: PollPolicy {
                        initial_delay: Duration::from_millis(50),
                        backoff: 1.5,
                        timeout: Duration::from_secs(60),
                    },
                    resume_order_url: None,
                }
                .run(&mut |_| {})
                .await
                .map(|i| i.chain.leaf.serial_hex)
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.to_string().into() })
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await? {
                Ok(_) => ok += 1,
                Err(e) => eprintln!("panel1: {e}"),
            }
        }
        let elapsed = started.elapsed();
        drop(http);
        (ok, elapsed)
    };
    println!(
        "panel1: {}/{} issued in {:.2}s",
        panel1.0,
        args.count,
        panel1.1.as_secs_f64()
    );

    // lego: one process per certificate, one after another, sharing its account.
    let lego = if args.skip_lego {
        None
    } else {
        let dir = tempfile::tempdir()?;
        let root = dir.path().join("pebble-listener-root.pem");
        std::fs::write(&root, pebble.listener_root_pem())?;
        let started = Instant::now();
        let mut ok = 0;
        for i in 0..args.count {
            let out = Command::new("lego")
                .env("LEGO_CA_CERTIFICATES", &root)
                .args([
                    "--accept-tos",
                    "--email",
                    "bench@example.test",
                    "--server",
                    &pebble.directory_url,
                    "--http",
                    "--http.port",
                    &format!("127.0.0.1:{}", pebble.http_port),
                    "--key-type",
                    "ec256",
                    "--domains",
                    &format!("lego-{run}-{i}.bench.test"),
                    "--path",
                ])
                .arg(dir.path().join("lego"))
                .arg("run")
                .output()?;
            if i == 0 && std::env::var_os("BENCH_LEGO_LOG").is_some() {
                eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            }
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
        &format!("panel1 (concurrency {})", args.concurrency),
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
