use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::{TestCa, TestingError, free_port};
use crate::acme::AcmeConfig;

/// How to start Pebble.
#[derive(Debug, Clone)]
pub struct PebbleOptions {
    /// Where Pebble resolves every name it validates (`-dnsserver`).
    pub dns_server: SocketAddr,
    /// The port Pebble fetches HTTP-01 tokens from; a free one when `None`.
    pub http_port: Option<u16>,
    /// External Account Binding keys (key id → base64url HMAC key); EAB is then required.
    pub eab_keys: Vec<(String, String)>,
    /// Percentage of nonces Pebble rejects (its default is 5; clients must cope).
    pub nonce_reject_percent: u8,
    /// Percentage of valid authorizations Pebble reuses (its default is 50).
    pub authz_reuse_percent: u8,
}

impl PebbleOptions {
    pub fn new(dns_server: SocketAddr) -> Self {
        Self {
            dns_server,
            http_port: None,
            eab_keys: Vec::new(),
            nonce_reject_percent: 5,
            authz_reuse_percent: 0,
        }
    }
}

/// A running Pebble (`PEBBLE_VA_NOSLEEP=1`), killed on drop.
pub struct Pebble {
    dir: tempfile::TempDir,
    child: Child,
    pub directory_url: String,
    pub management_url: String,
    pub http_port: u16,
    listener_root_pem: String,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Pebble {
    pub async fn start(opts: PebbleOptions) -> Result<Self, TestingError> {
        let dir = tempfile::tempdir()?;
        let d = dir.path();
        let ca = TestCa::new("Pebble listener test CA")?;
        let (cert, key) = ca.leaf(&["localhost", "127.0.0.1"])?;
        std::fs::write(d.join("cert.pem"), cert)?;
        std::fs::write(d.join("key.pem"), key)?;
        let listen = free_port();
        let mgmt = free_port();
        let http_port = opts.http_port.unwrap_or_else(free_port);
        let tls_port = free_port();
        let eab: serde_json::Map<String, serde_json::Value> = opts
            .eab_keys
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let config = serde_json::json!({
            "pebble": {
                "listenAddress": format!("127.0.0.1:{listen}"),
                "managementListenAddress": format!("127.0.0.1:{mgmt}"),
                "certificate": d.join("cert.pem"),
                "privateKey": d.join("key.pem"),
                "httpPort": http_port,
                "tlsPort": tls_port,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": !eab.is_empty(),
                "externalAccountMACKeys": eab,
            }
        });
        std::fs::write(d.join("pebble.json"), serde_json::to_vec_pretty(&config)?)?;
        let log = std::fs::File::create(d.join("pebble.log"))?;
        let child = Command::new("pebble")
            .arg("-config")
            .arg(d.join("pebble.json"))
            .arg("-dnsserver")
            .arg(opts.dns_server.to_string())
            .arg("-strict=false")
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env(
                "PEBBLE_WFE_NONCEREJECT",
                opts.nonce_reject_percent.to_string(),
            )
            .env("PEBBLE_AUTHZREUSE", opts.authz_reuse_percent.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let me = Self {
            dir,
            child,
            directory_url: format!("https://127.0.0.1:{listen}/dir"),
            management_url: format!("https://127.0.0.1:{mgmt}"),
            http_port,
            listener_root_pem: ca.cert_pem,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if me.get(&me.directory_url).await.is_ok() {
                return Ok(me);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("Pebble did not start: {}", me.log()).into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn get(&self, url: &str) -> Result<String, TestingError> {
        let roots = CertificateDer::pem_slice_iter(self.listener_root_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()?;
        let http = crate::acme::test_http(roots)?;
        let (parts, body) = http.get(url).await?;
        if !parts.status.is_success() {
            return Err(format!("GET {url}: HTTP {}", parts.status).into());
        }
        Ok(String::from_utf8(body.to_vec())?)
    }

    /// The root of Pebble's own HTTPS listener (give it to the ACME client).
    pub fn listener_root_pem(&self) -> &str {
        &self.listener_root_pem
    }

    /// An ACME configuration for this Pebble under the registry name `name`.
    pub fn acme_config(&self, name: &str) -> AcmeConfig {
        let mut c = AcmeConfig::new(name, self.directory_url.clone());
        c.root_certificates_pem = Some(self.listener_root_pem.clone());
        c.caa_identities = vec!["pebble.test".into()];
        c
    }

    /// The root that signs issued certificates (new at every start).
    pub async fn issuing_root_pem(&self) -> Result<String, TestingError> {
        self.get(&format!("{}/roots/0", self.management_url)).await
    }

    /// Pebble's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }
}
