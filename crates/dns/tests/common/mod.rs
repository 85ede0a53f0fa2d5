//! Shared helpers of the integration tests: fixtures, the server on a free port, `dig`
//! output parsing, and peer processes killed on drop.

#![allow(dead_code, reason = "each test binary uses a part of these helpers")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::rr::Name;
use panel1_dns::record::RecordRules;
use panel1_dns::zonefile::import_zone;
use panel1_dns::{Catalog, DnsServer, RunningServer, ServerConfig, Zone};

pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn load_zone(file: &str, origin: &str) -> Zone {
    let text = std::fs::read_to_string(fixture_path(file)).expect("fixture");
    let origin = Name::from_ascii(origin).expect("origin");
    let imported = import_zone(&text, &origin, &RecordRules::default()).expect("fixture imports");
    Zone {
        origin,
        soa: imported.soa.expect("fixture has an SOA"),
        records: imported.records,
    }
}

pub fn example_zone() -> Zone {
    load_zone("example.test.zone", "example.test.")
}

pub fn reverse_zone() -> Zone {
    load_zone("2.0.192.in-addr.arpa.zone", "2.0.192.in-addr.arpa.")
}

pub fn test_config() -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        udp_workers: 2,
        ..ServerConfig::default()
    }
}

pub async fn serve(zones: &[Zone], config: ServerConfig) -> (Catalog, RunningServer) {
    let catalog = Catalog::new();
    for z in zones {
        catalog.publish(z);
    }
    let server = DnsServer::start(config, catalog.clone())
        .await
        .expect("server starts");
    (catalog, server)
}

/// One `dig`/`kdig` answer, split into its parts.
#[derive(Debug, Default, Clone)]
pub struct DigAnswer {
    pub status: String,
    pub flags: Vec<String>,
    pub answer: Vec<String>,
    pub authority: Vec<String>,
    pub additional: Vec<String>,
    pub raw: String,
}

impl DigAnswer {
    pub fn has_flag(&self, f: &str) -> bool {
        self.flags.iter().any(|x| x == f)
    }

    /// Answer lines as `name type data` (TTL and class dropped).
    pub fn answer_data(&self) -> Vec<String> {
        strip(&self.answer)
    }

    pub fn authority_data(&self) -> Vec<String> {
        strip(&self.authority)
    }

    pub fn additional_data(&self) -> Vec<String> {
        strip(&self.additional)
    }

    pub fn ttl_of_first_authority(&self) -> u32 {
        self.authority[0]
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    }
}

fn strip(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let mut v = vec![f[0]];
            v.extend(&f[3..]);
            v.join(" ")
        })
        .collect()
}

/// Parses dig's and kdig's default output.
pub fn parse_dig(out: &str) -> DigAnswer {
    let mut a = DigAnswer {
        raw: out.to_owned(),
        ..DigAnswer::default()
    };
    let mut section = "";
    for line in out.lines() {
        let l = line.trim();
        if let Some(i) = l.find("status: ") {
            a.status = l[i + 8..]
                .split([',', ';'])
                .next()
                .unwrap_or("")
                .trim()
                .to_owned();
        }
        if let Some(rest) = l
            .strip_prefix(";; flags: ")
            .or_else(|| l.strip_prefix(";; Flags: "))
        {
            let flags = rest.split(';').next().unwrap_or("");
            a.flags = flags.split_whitespace().map(str::to_lowercase).collect();
        }
        if l.starts_with(";; ANSWER SECTION") {
            section = "answer";
            continue;
        }
        if l.starts_with(";; AUTHORITY SECTION") {
            section = "authority";
            continue;
        }
        if l.starts_with(";; ADDITIONAL SECTION") {
            section = "additional";
            continue;
        }
        if l.is_empty() || l.starts_with(';') {
            if l.is_empty() {
                section = "";
            }
            continue;
        }
        let norm = l.split_whitespace().collect::<Vec<_>>().join(" ");
        if norm.contains(" OPT ") {
            continue;
        }
        match section {
            "answer" => a.answer.push(norm),
            "authority" => a.authority.push(norm),
            "additional" => a.additional.push(norm),
            _ => {}
        }
    }
    a
}

pub async fn run(program: &str, args: &[String]) -> String {
    let out = tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    s
}

/// `dig @addr -p port NAME TYPE [extra…]`, no recursion, one try.
pub async fn dig(addr: SocketAddr, name: &str, rtype: &str, extra: &[&str]) -> DigAnswer {
    let mut args = vec![
        format!("@{}", addr.ip()),
        "-p".into(),
        addr.port().to_string(),
        "+norec".into(),
        "+time=3".into(),
        "+tries=1".into(),
        name.into(),
        rtype.into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    parse_dig(&run("dig", &args).await)
}

pub async fn kdig(addr: SocketAddr, name: &str, rtype: &str, extra: &[&str]) -> DigAnswer {
    let mut args = vec![
        format!("@{}", addr.ip()),
        "-p".into(),
        addr.port().to_string(),
        "+norec".into(),
        "+time=3".into(),
        "+retry=0".into(),
        name.into(),
        rtype.into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    parse_dig(&run("kdig", &args).await)
}

/// A peer process killed (and reaped) when the test ends, however it ends.
pub struct Peer {
    pub child: Child,
    pub name: &'static str,
}

impl Peer {
    pub fn spawn(name: &'static str, cmd: &mut Command) -> Self {
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts: {e}"));
        Self { child, name }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP+UDP port on 127.0.0.1 (bound, read back, released).
pub fn free_port() -> u16 {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
        let port = udp.local_addr().expect("addr").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Polls `check` until it returns true or `timeout` passes.
pub async fn wait_until<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}
