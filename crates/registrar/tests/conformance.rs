//! The registrar conformance battery, run against every adapter: the sandbox registry, the
//! Namecheap adapter against a local server replaying Namecheap's documented responses, and
//! the EPP adapter against a local EPP server over TLS.

mod support;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use panel1_core::SecretString;
use panel1_core::domain_name::DomainName;
use panel1_registrar::epp::{Epp, EppConfig};
use panel1_registrar::namecheap::{Namecheap, NamecheapConfig};
use panel1_registrar::sandbox::{Faults, PlantedDomain, SandboxConfig, SandboxRegistry};
use panel1_registrar::*;
use support::battery::{Harness, fresh};
use support::epp_server::{self, EppServer};
use support::namecheap_server::{self, NamecheapServer};

struct SandboxHarness {
    _dir: tempfile::TempDir,
    registry: SandboxRegistry,
    registrar: Arc<dyn Registrar>,
}

async fn sandbox() -> SandboxHarness {
    let dir = tempfile::tempdir().unwrap();
    let config = SandboxConfig::new(dir.path().join("registry.sqlite3"));
    let registry = SandboxRegistry::open(&config).await.unwrap();
    let registrar: Arc<dyn Registrar> = Arc::new(registry.registrar("panel1"));
    SandboxHarness {
        _dir: dir,
        registry,
        registrar,
    }
}

#[async_trait]
impl Harness for SandboxHarness {
    fn registrar(&self) -> Arc<dyn Registrar> {
        self.registrar.clone()
    }

    async fn foreign_domain(&self) -> (DomainName, SecretString) {
        let name = fresh(self, "foreign");
        let code = SecretString::new(format!("code-{}", name.as_ascii().len() * 7919));
        let now = self.registry.now().await.unwrap();
        self.registry
            .plant(&PlantedDomain {
                name: name.clone(),
                account: "other-registrar".into(),
                created_at: now - chrono::Duration::days(400),
                expires_at: now + chrono::Duration::days(200),
                locked: false,
                nameservers: vec![],
                auth_code: code.clone(),
            })
            .await
            .unwrap();
        (name, code)
    }

    async fn complete_transfer(&self, _name: &DomainName) {
        // Nobody answers: the registry approves by itself after 5 days.
        self.registry
            .advance(chrono::Duration::days(5))
            .await
            .unwrap();
    }

    async fn arm_lost_response(&self) {
        self.registry
            .set_faults(Faults {
                lost_response_rate: 1.0,
                ..Faults::default()
            })
            .await
            .unwrap();
    }

    async fn disarm(&self) {
        self.registry.set_faults(Faults::default()).await.unwrap();
    }

    fn secrets(&self) -> Vec<String> {
        Vec::new()
    }
}

battery!(sandbox_battery, sandbox());

#[tokio::test]
async fn the_sandbox_clock_is_shared() {
    let h = sandbox().await;
    let before = h.registry.now().await.unwrap();
    h.registry.advance(chrono::Duration::days(3)).await.unwrap();
    let after = h.registry.now().await.unwrap();
    assert!(after - before >= chrono::Duration::days(3));
    assert!(after - Utc::now() < chrono::Duration::days(3) + chrono::Duration::minutes(1));
}

struct NamecheapHarness {
    server: NamecheapServer,
    registrar: Arc<dyn Registrar>,
}

pub fn namecheap_config(url: &str) -> NamecheapConfig {
    NamecheapConfig {
        api_user: namecheap_server::API_USER.into(),
        api_key: SecretString::new(namecheap_server::API_KEY),
        username: None,
        client_ip: namecheap_server::CLIENT_IP.into(),
        sandbox: true,
        endpoint: Some(url.to_owned()),
        timeout_secs: 1,
    }
}

async fn namecheap() -> NamecheapHarness {
    let server = namecheap_server::start().await;
    let registrar: Arc<dyn Registrar> =
        Arc::new(Namecheap::new(namecheap_config(&server.url)).unwrap());
    NamecheapHarness { server, registrar }
}

#[async_trait]
impl Harness for NamecheapHarness {
    fn registrar(&self) -> Arc<dyn Registrar> {
        self.registrar.clone()
    }

    async fn foreign_domain(&self) -> (DomainName, SecretString) {
        let name = fresh(self, "foreign");
        let code = format!("EPP-{}", name.as_ascii().len() * 31);
        self.server.plant_foreign(name.as_ascii(), &code);
        (name, SecretString::new(code))
    }

    async fn complete_transfer(&self, name: &DomainName) {
        self.server.complete_transfer(name.as_ascii());
    }

    async fn arm_lost_response(&self) {
        self.server.state.lock().unwrap().lose_next = true;
    }

    async fn disarm(&self) {
        self.server.state.lock().unwrap().lose_next = false;
    }

    fn secrets(&self) -> Vec<String> {
        vec![namecheap_server::API_KEY.to_owned()]
    }
}

battery!(namecheap_battery, namecheap());

struct EppHarness {
    server: EppServer,
    registrar: Arc<dyn Registrar>,
}

impl Drop for EppHarness {
    fn drop(&mut self) {
        // Every frame the adapter sent was checked against the IANA schemas by the server.
        let invalid = self.server.invalid_frames();
        if !std::thread::panicking() {
            assert!(
                invalid.is_empty(),
                "frames that fail the EPP schemas: {invalid:#?}"
            );
            assert!(!self.server.frames().is_empty());
        }
    }
}

pub fn epp_config(server: &EppServer) -> EppConfig {
    EppConfig {
        host: "127.0.0.1".into(),
        port: server.port,
        client_id: epp_server::CLIENT_ID.into(),
        password: SecretString::new(epp_server::PASSWORD),
        ca_pem: Some(server.ca_pem.clone()),
        client_cert_pem: None,
        client_key_pem: None,
        timeout_secs: 5,
        tlds: vec!["com".into(), "net".into(), "org".into()],
    }
}

async fn epp() -> EppHarness {
    let server = epp_server::start().await;
    let registrar: Arc<dyn Registrar> = Arc::new(Epp::new(epp_config(&server)).unwrap());
    EppHarness { server, registrar }
}

#[async_trait]
impl Harness for EppHarness {
    fn registrar(&self) -> Arc<dyn Registrar> {
        self.registrar.clone()
    }

    async fn foreign_domain(&self) -> (DomainName, SecretString) {
        let name = fresh(self, "foreign");
        let code = format!("Tr4nsfer-{}", name.as_ascii().len());
        self.server.plant_foreign(name.as_ascii(), &code);
        (name, SecretString::new(code))
    }

    async fn complete_transfer(&self, name: &DomainName) {
        self.server.approve_transfer(name.as_ascii());
    }

    async fn arm_lost_response(&self) {
        self.server.state.lock().unwrap().lose_next = true;
    }

    async fn disarm(&self) {
        self.server.state.lock().unwrap().lose_next = false;
    }

    fn secrets(&self) -> Vec<String> {
        vec![epp_server::PASSWORD.to_owned()]
    }
}

battery!(epp_battery, epp());
