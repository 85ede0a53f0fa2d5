//! Benchmark helper for `bench/dns/run`.
//!
//! `dns-bench gen-zone N FILE` writes a generated zone of N records;
//! `dns-bench import FILE` times parse + validate of a zone file (records/second);
//! `dns-bench gen-queries N COUNT FILE` writes dnsperf input for that zone;
//! `dns-bench free-port` prints a free UDP port;
//! `dns-bench serve FILE ADDR` serves the zone with the built-in server until stdin closes
//! and prints its resident memory.

use std::fmt::Write as _;
use std::time::Instant;

use hickory_proto::rr::Name;
use panel1_dns::record::RecordRules;
use panel1_dns::zonefile::import_zone;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("gen-zone") => {
            let n: usize = args[2].parse().expect("N");
            let text = generate_zone(n);
            std::fs::write(&args[3], text).expect("write zone");
        }
        Some("import") => {
            let text = std::fs::read_to_string(&args[2]).expect("read zone");
            let origin = Name::from_ascii("bench.test.").expect("origin");
            let cpu0 = cpu_seconds();
            let start = Instant::now();
            let zone = import_zone(&text, &origin, &RecordRules::default()).expect("valid zone");
            let secs = start.elapsed().as_secs_f64();
            let cpu = cpu_seconds() - cpu0;
            let n = zone.records.len();
            println!(
                "import: {n} records in {secs:.3} s = {:.0} records/s (parse + validate); \
                 {cpu:.2} CPU-s = {:.0} records per CPU-second",
                n as f64 / secs,
                n as f64 / cpu.max(0.01)
            );
            let start = Instant::now();
            let problems =
                panel1_dns::zone::check_zone(&origin, &zone.records, &RecordRules::default());
            println!(
                "  of which zone-wide checks: {:.3} s ({} problems)",
                start.elapsed().as_secs_f64(),
                problems.len()
            );
        }
        Some("gen-queries") => {
            let n: usize = args[2].parse().expect("N");
            let count: usize = args[3].parse().expect("COUNT");
            std::fs::write(&args[4], generate_queries(n, count)).expect("write queries");
        }
        Some("serve") => serve(&args[2], &args[3]),
        Some("free-port") => {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
            println!("{}", s.local_addr().expect("addr").port());
        }
        _ => {
            eprintln!(
                "usage: dns-bench gen-zone N FILE | gen-queries N COUNT FILE | import FILE | serve FILE ADDR"
            );
            std::process::exit(2);
        }
    }
}

/// Serves a zone file with the built-in server until stdin closes; prints `ready` and the
/// resident memory once the zone is served.
fn serve(file: &str, addr: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let origin = Name::from_ascii("bench.test.").expect("origin");
        let catalog = panel1_dns::Catalog::new();
        {
            let text = std::fs::read_to_string(file).expect("read zone");
            let imported =
                import_zone(&text, &origin, &RecordRules::default()).expect("valid zone");
            let zone = panel1_dns::Zone {
                origin: origin.clone(),
                soa: imported.soa.expect("SOA"),
                records: imported.records,
            };
            let start = Instant::now();
            catalog.publish(&zone);
            eprintln!(
                "published {} records in {:.3} s",
                zone.records.len(),
                start.elapsed().as_secs_f64()
            );
        }
        let config = panel1_dns::ServerConfig {
            listen: addr.parse().expect("listen address"),
            ..panel1_dns::ServerConfig::default()
        };
        let server = panel1_dns::DnsServer::start(config, catalog.clone())
            .await
            .expect("server starts");
        println!("ready {} rss_kib={}", server.udp_addr(), rss_kib());
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin()
                .read_line(&mut sink)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                sink.clear();
            }
        })
        .await;
        let stats = server.stats();
        eprintln!(
            "served {} UDP queries, {} from cache; rss_kib={}",
            stats.udp_queries.load(std::sync::atomic::Ordering::Relaxed),
            stats.cache_hits.load(std::sync::atomic::Ordering::Relaxed),
            rss_kib()
        );
        server.shutdown().await;
    });
}

/// CPU time of this process (user + system, all threads), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// dnsperf input for a zone of `n` records made by `generate_zone`: 60 % answers
/// (A, AAAA, MX, TXT, SRV), 15 % CNAME chains, 10 % NODATA, 15 % NXDOMAIN.
fn generate_queries(n: usize, count: usize) -> String {
    let mut out = String::with_capacity(count * 32);
    let hosts = n.saturating_sub(4).max(10);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for q in 0..count {
        let r = next();
        let i = (r % hosts as u64) as usize;
        let base = i - i % 10;
        match q % 20 {
            0..=5 => {
                let _ = writeln!(out, "host{}.bench.test A", base + (r as usize >> 8) % 5);
            }
            6 => {
                let _ = writeln!(out, "host{}.bench.test AAAA", base + 5);
            }
            7 | 8 => {
                let _ = writeln!(out, "mail{}.bench.test MX", base + 7);
            }
            9 | 10 => {
                let _ = writeln!(out, "txt{}.bench.test TXT", base + 8);
            }
            11 => {
                let _ = writeln!(out, "_sip._tcp.svc{}.bench.test SRV", base + 9);
            }
            12..=14 => {
                let _ = writeln!(out, "www{}.bench.test A", base + 6);
            }
            15 | 16 => {
                let _ = writeln!(out, "host{}.bench.test TXT", base);
            }
            _ => {
                let _ = writeln!(out, "nx{}-{}.bench.test A", r % 1_000_000, q);
            }
        }
    }
    out
}

/// A zone of about `n` records: A/AAAA hosts, MX, TXT, CNAME, SRV in realistic proportions.
fn generate_zone(n: usize) -> String {
    let mut out = String::with_capacity(n * 48);
    out.push_str("$ORIGIN bench.test.\n$TTL 3600\n");
    out.push_str(
        "@ IN SOA ns1.bench.test. hostmaster.bench.test. 2026010100 7200 3600 1209600 300\n",
    );
    out.push_str("@ IN NS ns1.bench.test.\n@ IN NS ns2.bench.test.\nns1 IN A 192.0.2.53\nns2 IN A 192.0.2.54\n");
    let mut written = 4;
    let mut i = 0usize;
    while written < n {
        let a = (i >> 16) & 0xff;
        let b = (i >> 8) & 0xff;
        let c = i & 0xff;
        match i % 10 {
            0..=4 => {
                let _ = writeln!(out, "host{i} IN A 10.{a}.{b}.{c}");
            }
            5 => {
                let _ = writeln!(out, "host{i} IN AAAA 2001:db8::{a:x}:{b:x}:{c:x}");
            }
            6 => {
                let _ = writeln!(out, "www{i} IN CNAME host{}.bench.test.", i - 6);
            }
            7 => {
                let _ = writeln!(out, "mail{i} IN MX 10 host{}.bench.test.", i - 7);
            }
            8 => {
                let _ = writeln!(out, "txt{i} IN TXT \"v=spf1 ip4:10.{a}.{b}.{c} -all\"");
            }
            _ => {
                let _ = writeln!(
                    out,
                    "_sip._tcp.svc{i} IN SRV 10 5 5060 host{}.bench.test.",
                    i - 9
                );
            }
        }
        written += 1;
        i += 1;
    }
    out
}
