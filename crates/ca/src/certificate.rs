//! Certificates as the platform stores them: the PEM chain split into leaf and
//! intermediates, and the fields parsed with x509-parser (serial, issuer, subject, DNS names,
//! validity, SHA-256 fingerprint, the RFC 9773 renewal-information identifier).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x509_parser::prelude::*;

use crate::identifiers::IdentifierSet;
use crate::keys::PrivateKey;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    #[error("no certificate found in the PEM text: expected `-----BEGIN CERTIFICATE-----` blocks")]
    Empty,
    #[error("certificate {index} of the chain is not valid PEM/DER: {reason}")]
    Malformed { index: usize, reason: String },
}

/// The parsed fields of one X.509 certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateInfo {
    /// Serial number in lower-case hex, without separators or sign padding.
    pub serial_hex: String,
    pub issuer: String,
    pub subject: String,
    /// The DNS names of the subjectAltName extension, as written in the certificate.
    pub names: Vec<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub is_ca: bool,
    /// SHA-256 of the DER, lower-case hex.
    pub fingerprint_sha256: String,
    /// The RFC 9773 certificate identifier (`base64url(AKI keyIdentifier).base64url(serial)`),
    /// when the certificate carries an authority key identifier.
    pub ari_id: Option<String>,
}

impl CertificateInfo {
    /// Whole days until `not_after` (negative once expired).
    pub fn days_left(&self, now: DateTime<Utc>) -> i64 {
        (self.not_after - now).num_days()
    }

    /// Whether this certificate is valid for `host` (exact name or one-label wildcard).
    pub fn matches_host(&self, host: &str) -> bool {
        hostname_matches(&self.names, host)
    }
}

/// A leaf certificate with its intermediates, in PEM and parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateChain {
    pub leaf: CertificateInfo,
    pub intermediates: Vec<CertificateInfo>,
    /// The leaf alone.
    pub certificate_pem: String,
    /// The intermediates, leaf excluded.
    pub chain_pem: String,
    /// Leaf followed by the intermediates (what nginx's `ssl_certificate` wants).
    pub fullchain_pem: String,
    #[serde(skip)]
    ders: Vec<Vec<u8>>,
}

impl CertificateChain {
    /// Parses a PEM bundle whose first certificate is the leaf.
    pub fn from_pem(pem: &str) -> Result<Self, CertError> {
        let ders = split_pem(pem)?;
        Self::from_ders(ders)
    }

    pub fn from_ders(ders: Vec<Vec<u8>>) -> Result<Self, CertError> {
        if ders.is_empty() {
            return Err(CertError::Empty);
        }
        let infos = ders
            .iter()
            .enumerate()
            .map(|(i, d)| parse_der_at(d, i))
            .collect::<Result<Vec<_>, _>>()?;
        let pems: Vec<String> = ders.iter().map(|d| der_to_pem(d)).collect();
        let mut infos = infos.into_iter();
        let leaf = infos.next().ok_or(CertError::Empty)?;
        Ok(Self {
            leaf,
            intermediates: infos.collect(),
            certificate_pem: pems[0].clone(),
            chain_pem: pems[1..].concat(),
            fullchain_pem: pems.concat(),
            ders,
        })
    }

    /// The leaf certificate in DER.
    pub fn leaf_der(&self) -> &[u8] {
        &self.ders[0]
    }

    /// Every certificate of the chain in DER, leaf first.
    pub fn ders(&self) -> &[Vec<u8>] {
        &self.ders
    }

    /// Whether the leaf's public key is the one of `key`.
    pub fn matches_key(&self, key: &PrivateKey) -> bool {
        parse_x509_certificate(&self.ders[0])
            .map(|(_, c)| c.public_key().subject_public_key.data.as_ref() == key.public_key_bits())
            .unwrap_or(false)
    }

    /// Whether the leaf names exactly the given set (order and case aside).
    pub fn names_match(&self, names: &IdentifierSet) -> bool {
        let mut have: Vec<String> = self
            .leaf
            .names
            .iter()
            .map(|n| n.to_ascii_lowercase())
            .collect();
        have.sort();
        have.dedup();
        have == names.names()
    }
}

fn der_to_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Splits a PEM bundle into the DER of each `CERTIFICATE` block, in order.
pub fn split_pem(pem: &str) -> Result<Vec<Vec<u8>>, CertError> {
    let mut out = Vec::new();
    for (i, block) in Pem::iter_from_buffer(pem.as_bytes()).enumerate() {
        let block = block.map_err(|e| CertError::Malformed {
            index: i,
            reason: e.to_string(),
        })?;
        if block.label == "CERTIFICATE" {
            out.push(block.contents);
        }
    }
    if out.is_empty() {
        return Err(CertError::Empty);
    }
    Ok(out)
}

/// Parses one DER certificate.
pub fn parse_der(der: &[u8]) -> Result<CertificateInfo, CertError> {
    parse_der_at(der, 0)
}

fn parse_der_at(der: &[u8], index: usize) -> Result<CertificateInfo, CertError> {
    let malformed = |reason: String| CertError::Malformed { index, reason };
    let (rest, cert) = parse_x509_certificate(der).map_err(|e| malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(malformed("trailing bytes after the certificate".into()));
    }
    let to_utc = |t: ASN1Time| {
        DateTime::<Utc>::from_timestamp(t.timestamp(), 0)
            .ok_or_else(|| malformed("a validity date is out of range".into()))
    };
    let mut names = Vec::new();
    let mut aki = None;
    let mut is_ca = false;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for g in &san.general_names {
                    if let GeneralName::DNSName(n) = g {
                        names.push((*n).to_owned());
                    }
                }
            }
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|k| k.0.to_vec());
            }
            ParsedExtension::BasicConstraints(bc) => is_ca = bc.ca,
            _ => {}
        }
    }
    let raw_serial = cert.tbs_certificate.raw_serial();
    let ari_id = aki.map(|aki| {
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(aki),
            URL_SAFE_NO_PAD.encode(raw_serial)
        )
    });
    Ok(CertificateInfo {
        serial_hex: serial_hex(raw_serial),
        issuer: cert.issuer().to_string(),
        subject: cert.subject().to_string(),
        names,
        not_before: to_utc(cert.validity().not_before)?,
        not_after: to_utc(cert.validity().not_after)?,
        is_ca,
        fingerprint_sha256: hex::encode(Sha256::digest(der)),
        ari_id,
    })
}

/// The canonical serial form: lower-case hex of the magnitude, no sign padding.
pub fn serial_hex(raw: &[u8]) -> String {
    let trimmed: &[u8] = match raw.iter().position(|b| *b != 0) {
        Some(i) => &raw[i..],
        None => &[0],
    };
    hex::encode(trimmed)
}

/// Whether any of `names` covers `host`: exact match, or a `*.` wildcard covering exactly
/// one leftmost label (RFC 6125 §6.4.3, no partial-label wildcards).
pub fn hostname_matches(names: &[String], host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    names.iter().any(|n| {
        let n = n.trim_end_matches('.').to_ascii_lowercase();
        if let Some(base) = n.strip_prefix("*.") {
            match host.split_once('.') {
                Some((label, rest)) => !label.is_empty() && rest == base,
                None => false,
            }
        } else {
            n == host
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyType;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

    fn make_chain() -> (String, PrivateKey) {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "Test Intermediate");
        ca.key_identifier_method = rcgen::KeyIdMethod::Sha256;
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);

        let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let kp = KeyPair::from_pem(key.expose_pem()).unwrap();
        let mut leaf =
            CertificateParams::new(vec!["example.com".to_owned(), "*.example.com".to_owned()])
                .unwrap();
        leaf.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x00, 0x8f, 0x01]));
        leaf.use_authority_key_identifier_extension = true;
        let leaf = leaf.signed_by(&kp, &issuer).unwrap();
        (format!("{}{}", leaf.pem(), ca_cert.pem()), key)
    }

    #[test]
    fn parses_a_chain_and_matches_its_key_and_names() {
        let (pem, key) = make_chain();
        let chain = CertificateChain::from_pem(&pem).unwrap();
        assert_eq!(chain.leaf.serial_hex, "8f01");
        assert_eq!(chain.leaf.names, ["example.com", "*.example.com"]);
        assert!(!chain.leaf.is_ca);
        assert_eq!(chain.intermediates.len(), 1);
        assert!(chain.intermediates[0].is_ca);
        assert!(chain.leaf.issuer.contains("Test Intermediate"));
        assert!(chain.matches_key(&key));
        assert!(!chain.matches_key(&PrivateKey::generate(KeyType::EcdsaP256).unwrap()));
        assert!(chain.names_match(&IdentifierSet::new(["*.example.com", "example.com"]).unwrap()));
        assert!(!chain.names_match(&IdentifierSet::new(["example.com"]).unwrap()));
        // RFC 9773: the serial part is the DER content bytes, sign byte included.
        let ari = chain.leaf.ari_id.as_deref().unwrap();
        assert!(ari.ends_with(".AI8B"), "{ari}");
        assert_eq!(chain.fullchain_pem, pem.replace("\r\n", "\n"));
        assert_eq!(
            CertificateChain::from_pem(&chain.fullchain_pem).unwrap(),
            chain
        );
        assert!(chain.leaf.days_left(Utc::now()) > 300);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert_eq!(CertificateChain::from_pem("hello"), Err(CertError::Empty));
        assert!(matches!(
            CertificateChain::from_pem(
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
            ),
            Err(CertError::Malformed { index: 0, .. })
        ));
    }

    #[test]
    fn hostname_matching_follows_rfc_6125() {
        let names = vec!["*.example.com".to_owned(), "example.com".to_owned()];
        assert!(hostname_matches(&names, "www.example.com"));
        assert!(hostname_matches(&names, "EXAMPLE.com."));
        assert!(!hostname_matches(&names, "a.b.example.com"));
        assert!(!hostname_matches(&names, "example.org"));
        assert!(!hostname_matches(&names, ".example.com"));
    }
}
