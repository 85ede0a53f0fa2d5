//! Certificate private keys and certificate signing requests.
//!
//! Keys are generated with rcgen on the aws-lc-rs backend (ECDSA P-256 by default, P-384, RSA
//! 2048/3072/4096) and held as PKCS#8 PEM in a zeroizing buffer: [`PrivateKey`]'s `Debug`
//! prints only the key type, and the PEM is reached through [`PrivateKey::expose_pem`] or
//! [`PrivateKey::to_secret`] (which the platform seals with `panel1_core::crypto::Keyring`
//! before storing it).

use std::fmt;
use std::str::FromStr;

use panel1_core::SecretString;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256,
    PKCS_ECDSA_P384_SHA384, PKCS_RSA_SHA256, PublicKeyData, RsaKeySize, SignatureAlgorithm,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::identifiers::IdentifierSet;

/// Errors about keys and CSRs. Never carries key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error(
        "unknown key type `{0}`: use one of ecdsa-p256 (default), ecdsa-p384, rsa-2048, rsa-3072, rsa-4096"
    )]
    UnknownType(String),
    #[error("could not generate a {0} key: {1}")]
    Generate(KeyType, String),
    #[error(
        "the private key is not a PEM-encoded PKCS#8, SEC1 or PKCS#1 key of a supported type (ECDSA P-256/P-384, RSA 2048/3072/4096)"
    )]
    BadKey,
    #[error("could not build the certificate signing request: {0}")]
    Csr(String),
}

/// The key algorithm and size of a certificate's private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyType {
    #[default]
    EcdsaP256,
    EcdsaP384,
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl KeyType {
    pub const ALL: [KeyType; 5] = [
        KeyType::EcdsaP256,
        KeyType::EcdsaP384,
        KeyType::Rsa2048,
        KeyType::Rsa3072,
        KeyType::Rsa4096,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::EcdsaP384 => "ecdsa-p384",
            KeyType::Rsa2048 => "rsa-2048",
            KeyType::Rsa3072 => "rsa-3072",
            KeyType::Rsa4096 => "rsa-4096",
        }
    }

    fn algorithm(self) -> &'static SignatureAlgorithm {
        match self {
            KeyType::EcdsaP256 => &PKCS_ECDSA_P256_SHA256,
            KeyType::EcdsaP384 => &PKCS_ECDSA_P384_SHA384,
            KeyType::Rsa2048 | KeyType::Rsa3072 | KeyType::Rsa4096 => &PKCS_RSA_SHA256,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyType {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "ecdsa-p256" | "ec256" | "p256" | "p-256" | "ec-256" => KeyType::EcdsaP256,
            "ecdsa-p384" | "ec384" | "p384" | "p-384" | "ec-384" => KeyType::EcdsaP384,
            "rsa-2048" | "rsa2048" => KeyType::Rsa2048,
            "rsa-3072" | "rsa3072" => KeyType::Rsa3072,
            "rsa-4096" | "rsa4096" => KeyType::Rsa4096,
            _ => return Err(KeyError::UnknownType(s.to_owned())),
        })
    }
}

/// A certificate's private key. `Debug` never shows the key; the PEM buffer is zeroed on drop.
#[derive(Clone)]
pub struct PrivateKey {
    key_type: KeyType,
    pem: Zeroizing<String>,
    /// The raw subjectPublicKey bits, to match the key against a certificate.
    public_key: Vec<u8>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({}, ***)", self.key_type)
    }
}

impl PrivateKey {
    /// Generates a new key of the given type from the operating system's generator.
    pub fn generate(key_type: KeyType) -> Result<Self, KeyError> {
        let kp = match key_type {
            KeyType::EcdsaP256 | KeyType::EcdsaP384 => KeyPair::generate_for(key_type.algorithm()),
            KeyType::Rsa2048 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048),
            KeyType::Rsa3072 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_3072),
            KeyType::Rsa4096 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_4096),
        }
        .map_err(|e| KeyError::Generate(key_type, e.to_string()))?;
        Ok(Self::from_key_pair(key_type, &kp))
    }

    fn from_key_pair(key_type: KeyType, kp: &KeyPair) -> Self {
        Self {
            key_type,
            pem: Zeroizing::new(kp.serialize_pem()),
            public_key: kp.der_bytes().to_vec(),
        }
    }

    /// Loads a key from PEM (PKCS#8 `PRIVATE KEY`, SEC1 `EC PRIVATE KEY` or PKCS#1
    /// `RSA PRIVATE KEY`); the stored form is always PKCS#8.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let kp = KeyPair::from_pem(pem).map_err(|_| KeyError::BadKey)?;
        let alg = kp.algorithm();
        let key_type = if alg == &PKCS_ECDSA_P256_SHA256 {
            KeyType::EcdsaP256
        } else if alg == &PKCS_ECDSA_P384_SHA384 {
            KeyType::EcdsaP384
        } else if alg == &PKCS_RSA_SHA256 {
            let pkcs8 = Zeroizing::new(kp.serialize_der());
            let rsa = aws_lc_rs::rsa::KeyPair::from_pkcs8(&pkcs8).map_err(|_| KeyError::BadKey)?;
            match rsa.public_modulus_len() * 8 {
                2048 => KeyType::Rsa2048,
                3072 => KeyType::Rsa3072,
                4096 => KeyType::Rsa4096,
                _ => return Err(KeyError::BadKey),
            }
        } else {
            return Err(KeyError::BadKey);
        };
        Ok(Self::from_key_pair(key_type, &kp))
    }

    /// Loads a key from a secret (for example just opened with the keyring).
    pub fn from_secret(pem: &SecretString) -> Result<Self, KeyError> {
        Self::from_pem(pem.expose())
    }

    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The PKCS#8 PEM. Every use of it is a place where key material leaves this type:
    /// only to seal it, to write it for a server, or for an authorised download.
    pub fn expose_pem(&self) -> &str {
        &self.pem
    }

    /// The PEM as a [`SecretString`], ready for `Keyring::seal_str`.
    pub fn to_secret(&self) -> SecretString {
        SecretString::new(self.pem.as_str())
    }

    /// The raw public key (the subjectPublicKey bits of the SPKI).
    pub fn public_key_bits(&self) -> &[u8] {
        &self.public_key
    }

    fn key_pair(&self) -> Result<KeyPair, KeyError> {
        KeyPair::from_pem(&self.pem).map_err(|_| KeyError::BadKey)
    }

    /// Builds a CSR for the names: every name as a DNS SAN, the first one (when it fits the
    /// 64-character limit) also as the subject common name for old software.
    pub fn csr(&self, names: &IdentifierSet) -> Result<Csr, KeyError> {
        let kp = self.key_pair()?;
        let mut params = CertificateParams::new(names.names().to_vec())
            .map_err(|e| KeyError::Csr(e.to_string()))?;
        let mut dn = DistinguishedName::new();
        if let Some(first) = names.names().first().filter(|n| n.len() <= 64) {
            dn.push(DnType::CommonName, first.as_str());
        }
        params.distinguished_name = dn;
        let csr = params
            .serialize_request(&kp)
            .map_err(|e| KeyError::Csr(e.to_string()))?;
        Ok(Csr {
            der: csr.der().to_vec(),
            pem: csr.pem().map_err(|e| KeyError::Csr(e.to_string()))?,
        })
    }
}

/// A certificate signing request (public data: no secret inside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csr {
    pub der: Vec<u8>,
    pub pem: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::*;

    #[test]
    fn every_key_type_generates_round_trips_and_signs_a_csr() {
        let names = IdentifierSet::new(["*.example.com", "example.com"]).unwrap();
        for kt in KeyType::ALL {
            let key = PrivateKey::generate(kt).unwrap();
            assert_eq!(key.key_type(), kt);
            assert!(key.expose_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
            let back = PrivateKey::from_pem(key.expose_pem()).unwrap();
            assert_eq!(back.key_type(), kt, "{kt}");
            assert_eq!(back.public_key_bits(), key.public_key_bits());

            let csr = key.csr(&names).unwrap();
            let (_, req) = X509CertificationRequest::from_der(&csr.der).unwrap();
            assert_eq!(
                req.certification_request_info
                    .subject_pki
                    .subject_public_key
                    .data
                    .as_ref(),
                key.public_key_bits()
            );
            let sans: Vec<String> = req
                .requested_extensions()
                .into_iter()
                .flatten()
                .filter_map(|e| match e {
                    ParsedExtension::SubjectAlternativeName(s) => Some(s),
                    _ => None,
                })
                .flat_map(|s| s.general_names.iter())
                .filter_map(|g| match g {
                    GeneralName::DNSName(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect();
            assert_eq!(sans, ["*.example.com", "example.com"]);
            assert!(csr.pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let dbg = format!("{key:?}");
        assert_eq!(dbg, "PrivateKey(ecdsa-p256, ***)");
        assert!(!dbg.contains("PRIVATE KEY"));
        assert_eq!(format!("{:?}", key.to_secret()), "***");
    }

    #[test]
    fn key_types_parse_and_garbage_is_rejected() {
        assert_eq!("ec256".parse::<KeyType>().unwrap(), KeyType::EcdsaP256);
        assert_eq!("RSA-4096".parse::<KeyType>().unwrap(), KeyType::Rsa4096);
        assert!(
            "dsa"
                .parse::<KeyType>()
                .unwrap_err()
                .to_string()
                .contains("ecdsa-p256")
        );
        assert_eq!(
            serde_json::to_string(&KeyType::EcdsaP384).unwrap(),
            "\"ecdsa-p384\""
        );
        assert!(matches!(
            PrivateKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            Err(KeyError::BadKey)
        ));
    }
}
