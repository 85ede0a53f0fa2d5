//! The TLS probe: connect to a live endpoint with rustls, record the chain it serves, and
//! report the serial, the chain, the days left, whether the certificate names the host, and
//! whether the chain is trusted. The handshake itself accepts any certificate (signatures are
//! still checked), so an endpoint serving the wrong certificate is reported, not just
//! refused; trust and hostname are judged afterwards.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;

use crate::certificate::{CertificateInfo, parse_der};

/// Where and how to probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeTarget {
    /// Host name or IP address to connect to.
    pub address: String,
    pub port: u16,
    /// The name sent as SNI and checked against the certificate.
    pub server_name: String,
    /// DER roots to judge trust with; `None` uses the platform's roots.
    #[serde(default)]
    pub roots_der: Option<Vec<Vec<u8>>>,
    #[serde(default = "default_probe_timeout")]
    pub timeout: Duration,
}

fn default_probe_timeout() -> Duration {
    Duration::from_secs(5)
}

impl ProbeTarget {
    pub fn new(address: impl Into<String>, port: u16, server_name: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            port,
            server_name: server_name.into(),
            roots_der: None,
            timeout: default_probe_timeout(),
        }
    }

    pub fn with_roots(mut self, roots_der: Vec<Vec<u8>>) -> Self {
        self.roots_der = Some(roots_der);
        self
    }
}

impl std::fmt::Display for ProbeTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{} (SNI {})",
            self.address, self.port, self.server_name
        )
    }
}

/// What the endpoint serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub serial_hex: String,
    pub leaf: CertificateInfo,
    /// The certificates sent after the leaf.
    pub chain: Vec<CertificateInfo>,
    pub days_left: i64,
    pub hostname_matches: bool,
    pub trusted: bool,
    /// Why the chain is not trusted, when it is not.
    pub trust_error: Option<String>,
    pub protocol: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    #[error("`{0}` is not a valid TLS server name")]
    BadServerName(String),
    #[error("cannot connect to {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error("the TLS handshake with {target} failed: {reason}")]
    Handshake { target: String, reason: String },
    #[error("{target} served a certificate that cannot be parsed: {reason}")]
    BadCertificate { target: String, reason: String },
}

#[derive(Debug)]
struct Recorder {
    provider: Arc<CryptoProvider>,
    seen: Mutex<Option<(CertificateDer<'static>, Vec<CertificateDer<'static>>)>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut s) = self.seen.lock() {
            *s = Some((
                end_entity.clone().into_owned(),
                intermediates
                    .iter()
                    .map(|c| c.clone().into_owned())
                    .collect(),
            ));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Connects once and reports what the endpoint serves.
#[tracing::instrument(skip_all, fields(target = %target))]
pub async fn probe(target: &ProbeTarget) -> Result<ProbeReport, ProbeError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let name = ServerName::try_from(target.server_name.clone())
        .map_err(|_| ProbeError::BadServerName(target.server_name.clone()))?;
    let recorder = Arc::new(Recorder {
        provider: provider.clone(),
        seen: Mutex::new(None),
    });
    let handshake_err = |reason: String| ProbeError::Handshake {
        target: target.to_string(),
        reason,
    };
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| handshake_err(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::time::timeout(
        target.timeout,
        TcpStream::connect((target.address.as_str(), target.port)),
    )
    .await
    .map_err(|_| ProbeError::Connect {
        target: target.to_string(),
        reason: format!("no connection within {:?}", target.timeout),
    })?
    .map_err(|e| ProbeError::Connect {
        target: target.to_string(),
        reason: e.to_string(),
    })?;
    let tls = tokio::time::timeout(target.timeout, connector.connect(name.clone(), tcp))
        .await
        .map_err(|_| handshake_err(format!("no handshake within {:?}", target.timeout)))?
        .map_err(|e| handshake_err(e.to_string()))?;
    let protocol = tls
        .get_ref()
        .1
        .protocol_version()
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    drop(tls);
    let (leaf_der, intermediates) = recorder
        .seen
        .lock()
        .ok()
        .and_then(|mut s| s.take())
        .ok_or_else(|| handshake_err("the server sent no certificate".into()))?;

    let bad = |e: crate::certificate::CertError| ProbeError::BadCertificate {
        target: target.to_string(),
        reason: e.to_string(),
    };
    let leaf = parse_der(&leaf_der).map_err(bad)?;
    let chain = intermediates
        .iter()
        .map(|c| parse_der(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;

    let verifier: Result<Arc<dyn ServerCertVerifier>, String> = match &target.roots_der {
        Some(roots) => {
            let mut store = rustls::RootCertStore::empty();
            for r in roots {
                let _ = store.add(CertificateDer::from(r.clone()));
            }
            WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                .build()
                .map(|v| v as Arc<dyn ServerCertVerifier>)
                .map_err(|e| e.to_string())
        }
        None => rustls_platform_verifier::Verifier::new(provider.clone())
            .map(|v| Arc::new(v) as Arc<dyn ServerCertVerifier>)
            .map_err(|e| e.to_string()),
    };
    let trust_error = match verifier {
        Ok(v) => v
            .verify_server_cert(&leaf_der, &intermediates, &name, &[], UnixTime::now())
            .err()
            .map(|e| e.to_string()),
        Err(e) => Some(e),
    };
    let report = ProbeReport {
        serial_hex: leaf.serial_hex.clone(),
        days_left: leaf.days_left(Utc::now()),
        hostname_matches: leaf.matches_host(&target.server_name),
        trusted: trust_error.is_none(),
        trust_error,
        leaf,
        chain,
        protocol,
    };
    tracing::debug!(serial = %report.serial_hex, trusted = report.trusted, "TLS probe");
    Ok(report)
}
