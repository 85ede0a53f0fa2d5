//! Shared set-up for the tests against real peers: a test DNS server answering 127.0.0.1,
//! a Pebble resolving through it, an HTTP-01 responder on Pebble's HTTP port, the ACME
//! adapter and an account.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use panel1_ca::authority::{Authorization, Challenge, Publication};
use panel1_ca::issue::{ChallengeSolver, SolverError};
use panel1_ca::preflight::Preflight;
use panel1_ca::testing::{Http01Server, Pebble, PebbleOptions, TestDns};
use panel1_ca::{
    AccountRequest, AcmeAuthority, CaAccount, CertificateAuthority, PollPolicy, ValidationMethod,
};

pub struct Env {
    pub dns: Arc<TestDns>,
    pub pebble: Pebble,
    pub http: Http01Server,
    pub ca: Arc<AcmeAuthority>,
    pub account: CaAccount,
}

pub async fn env() -> Env {
    env_with(|_| {}).await
}

/// The peers without an account (EAB mode cannot create one without a binding).
pub struct Peers {
    pub dns: Arc<TestDns>,
    pub pebble: Pebble,
    pub http: Http01Server,
    pub ca: Arc<AcmeAuthority>,
}

pub async fn peers(tweak: impl FnOnce(&mut PebbleOptions)) -> Peers {
    let dns = Arc::new(TestDns::start(Some(Ipv4Addr::LOCALHOST)).await.unwrap());
    let mut opts = PebbleOptions::new(dns.addr());
    tweak(&mut opts);
    let pebble = Pebble::start(opts).await.unwrap();
    let http = Http01Server::start(pebble.http_port).await.unwrap();
    let ca = Arc::new(AcmeAuthority::new(pebble.acme_config("pebble")).unwrap());
    Peers {
        dns,
        pebble,
        http,
        ca,
    }
}

pub async fn env_with(tweak: impl FnOnce(&mut PebbleOptions)) -> Env {
    let Peers {
        dns,
        pebble,
        http,
        ca,
    } = peers(tweak).await;
    let account = ca
        .create_account(&AccountRequest {
            contacts: vec!["ops@example.test".into()],
            terms_of_service_agreed: true,
            ..Default::default()
        })
        .await
        .unwrap();
    Env {
        dns,
        pebble,
        http,
        ca,
        account,
    }
}

/// A fresh label, so Pebble never reuses an authorization between tests.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", hex::encode(rand::random::<[u8; 4]>()))
}

pub fn quick_poll() -> PollPolicy {
    PollPolicy {
        initial_delay: Duration::from_millis(100),
        backoff: 1.5,
        timeout: Duration::from_secs(30),
    }
}

/// A DNS-01 solver that publishes on the test DNS server, then waits until the zone's
/// authoritative servers (found through SOA/NS) serve the value, as the platform does
/// before telling the CA.
pub struct VerifyingDnsSolver {
    pub dns: Arc<TestDns>,
    pub preflight: Preflight,
}

impl VerifyingDnsSolver {
    pub fn new(dns: Arc<TestDns>) -> Self {
        let preflight = Preflight::new(panel1_ca::dns::DnsClient::new(dns.addr()))
            .with_ns_port(dns.addr().port());
        Self { dns, preflight }
    }
}

#[async_trait]
impl ChallengeSolver for VerifyingDnsSolver {
    fn method(&self) -> ValidationMethod {
        ValidationMethod::Dns01
    }

    async fn present(&self, a: &Authorization, c: &Challenge) -> Result<(), SolverError> {
        self.dns.present(a, c).await?;
        let Publication::Dns01 { record_name, value } = &c.publication else {
            unreachable!("dns-01 only");
        };
        self.preflight
            .wait_txt_visible(
                record_name,
                value,
                Duration::from_secs(5),
                Duration::from_millis(100),
            )
            .await
            .map(|_| ())
            .map_err(|e| SolverError {
                identifier: a.identifier.clone(),
                method: c.method,
                reason: e.to_string(),
            })
    }

    async fn cleanup(&self, a: &Authorization, c: &Challenge) -> Result<(), SolverError> {
        self.dns.cleanup(a, c).await
    }
}

/// A solver that publishes nothing: the CA's validation must fail.
pub struct NoopSolver(pub ValidationMethod);

#[async_trait]
impl ChallengeSolver for NoopSolver {
    fn method(&self) -> ValidationMethod {
        self.0
    }
    async fn present(&self, _: &Authorization, _: &Challenge) -> Result<(), SolverError> {
        Ok(())
    }
    async fn cleanup(&self, _: &Authorization, _: &Challenge) -> Result<(), SolverError> {
        Ok(())
    }
}
