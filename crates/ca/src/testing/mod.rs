//! Real peers for tests, started on free loopback ports in private temp directories and
//! stopped when dropped, so suites run concurrently:
//!
//! - [`Pebble`]: Let's Encrypt's test CA, with its own TLS listener certificate, resolving
//!   through a DNS server you choose, optionally in External Account Binding mode.
//! - [`TestDns`]: a small authoritative DNS server (hickory-proto wire format) answering A
//!   for every name plus the TXT, CAA, CNAME, SOA and NS records a test sets; it is also a
//!   DNS-01 [`ChallengeSolver`](crate::issue::ChallengeSolver).
//! - [`Http01Server`]: serves `/.well-known/acme-challenge/<token>`; an HTTP-01 solver.
//! - [`Nginx`]: nginx serving TLS on a loopback port, with its reload command.
//! - [`TestCa`] and [`serve_tls`]: a private CA and an axum server over rustls, for local
//!   responders that need HTTPS.
//!
//! Only built with the `testing` feature.

mod dns;
mod http01;
mod nginx;
mod pebble;
mod tls;

pub use dns::TestDns;
pub use http01::Http01Server;
pub use nginx::Nginx;
pub use pebble::{Pebble, PebbleOptions};
pub use tls::{TestCa, serve_tls};

/// Errors of the test harness (a peer that does not start, mostly).
pub type TestingError = Box<dyn std::error::Error + Send + Sync>;

/// A port that was free a moment ago on 127.0.0.1 (bind port 0, read it, release it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// A port free for both TCP and UDP.
pub fn free_udp_tcp_port() -> u16 {
    for _ in 0..50 {
        let p = free_port();
        if std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
    free_port()
}

/// Waits until something accepts TCP connections on `port`.
pub async fn wait_for_port(port: u16, timeout: std::time::Duration) -> Result<(), TestingError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("nothing listens on 127.0.0.1:{port} after {timeout:?}").into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
