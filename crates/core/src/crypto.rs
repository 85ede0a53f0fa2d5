//! Secrets at rest and on the wire.
//!
//! - [`Keyring`]: AES-256-GCM sealing under the master key. A sealed value carries the id of
//!   the key that sealed it, so the master key can be rotated: new values are sealed with
//!   the current key, old ones still open with the previous keys until re-sealed.
//! - API tokens: random, shown once, stored only as a SHA-256 hash.
//! - Webhook signatures: HMAC-SHA256 over `timestamp.body`.

use std::collections::HashMap;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::secret::SecretString;

const SEAL_PREFIX: &str = "p1s1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    #[error(
        "the master key must be 32 bytes encoded as standard base64 (44 characters); generate one with `panel1 admin gen-key`"
    )]
    BadMasterKey,
    #[error(
        "this value was sealed with master key `{0}`, which is not configured: add it to the previous keys"
    )]
    UnknownKey(String),
    #[error("a sealed value is malformed")]
    Malformed,
    #[error("a sealed value failed authentication: wrong key, wrong context, or tampered data")]
    Tampered,
    #[error("the operating system's random generator failed")]
    Random,
}

/// Fills a buffer from the operating system's generator.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|_| CryptoError::Random)?;
    Ok(b)
}

/// A 256-bit master key and its short id.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    key: [u8; 32],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({}, ***)", self.id)
    }
}

impl MasterKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self::from_bytes(random_bytes::<32>()?))
    }

    pub fn from_bytes(key: [u8; 32]) -> Self {
        let digest = Sha256::digest(key);
        Self {
            id: hex::encode(&digest[..4]),
            key,
        }
    }

    /// Parses the base64 text form (as in the key file or `PANEL1_MASTER_KEY`).
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| CryptoError::BadMasterKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadMasterKey)?;
        Ok(Self::from_bytes(key))
    }

    /// The base64 text form, for writing the key file.
    pub fn to_text(&self) -> SecretString {
        SecretString::new(STANDARD.encode(self.key))
    }

    /// The key id: the first 4 bytes of SHA-256 of the key, in hex. Safe to show.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The current master key plus any previous ones still needed to open old values.
#[derive(Clone, Debug)]
pub struct Keyring {
    current: MasterKey,
    previous: HashMap<String, MasterKey>,
}

impl Keyring {
    pub fn new(current: MasterKey, previous: impl IntoIterator<Item = MasterKey>) -> Self {
        let previous = previous.into_iter().map(|k| (k.id.clone(), k)).collect();
        Self { current, previous }
    }

    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    fn key(&self, id: &str) -> Option<&MasterKey> {
        if self.current.id == id {
            Some(&self.current)
        } else {
            self.previous.get(id)
        }
    }

    /// Seals `plaintext`, bound to `context` (for example `"webhook-secret:whk_…"`): the value
    /// only opens with the same context, so a sealed value cannot be moved to another row.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<String, CryptoError> {
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.current.key));
        let nonce = random_bytes::<12>()?;
        let ct = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Malformed)?;
        let mut blob = Vec::with_capacity(12 + ct.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ct);
        Ok(format!(
            "{SEAL_PREFIX}.{}.{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(blob)
        ))
    }

    /// Opens a value sealed by [`Keyring::seal`] with the same context.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, CryptoError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(SEAL_PREFIX), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CryptoError::Malformed);
        };
        let key = self
            .key(kid)
            .ok_or_else(|| CryptoError::UnknownKey(kid.to_owned()))?;
        let blob = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| CryptoError::Malformed)?;
        if blob.len() < 12 + 16 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ct) = blob.split_at(12);
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.key))
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Tampered)
    }

    pub fn seal_str(&self, context: &str, secret: &SecretString) -> Result<String, CryptoError> {
        self.seal(context, secret.expose().as_bytes())
    }

    pub fn open_str(&self, context: &str, sealed: &str) -> Result<SecretString, CryptoError> {
        let bytes = self.open(context, sealed)?;
        String::from_utf8(bytes)
            .map(SecretString::new)
            .map_err(|_| CryptoError::Malformed)
    }

    /// Whether a sealed value should be re-sealed under the current key.
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        sealed.split('.').nth(1) != Some(self.current.id.as_str())
    }
}

/// The public prefix of every API token, so secret scanners can find leaked ones.
pub const TOKEN_PREFIX: &str = "p1_";

/// A new API token: the secret (shown once) and the hash to store.
pub fn new_api_token() -> Result<(SecretString, String), CryptoError> {
    let secret = format!("{TOKEN_PREFIX}{}", hex::encode(random_bytes::<24>()?));
    let hash = hash_token(&secret);
    Ok((SecretString::new(secret), hash))
}

/// The stored form of a token: SHA-256 in hex. Tokens carry 192 random bits, so a fast hash
/// is enough (a slow one would only slow every request).
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// SHA-256 of arbitrary bytes, hex encoded (request fingerprints, key ids).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A new webhook signing secret (`whsec_…`).
pub fn new_webhook_secret() -> Result<SecretString, CryptoError> {
    Ok(SecretString::new(format!(
        "whsec_{}",
        URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)
    )))
}

/// The webhook signature: hex HMAC-SHA256 of `"{timestamp}.{body}"` under the secret.
pub fn sign_webhook(secret: &SecretString, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a webhook signature in constant time (for receivers and tests).
pub fn verify_webhook(
    secret: &SecretString,
    timestamp: i64,
    body: &[u8],
    signature_hex: &str,
) -> bool {
    let Ok(sig) = hex::decode(signature_hex) else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ring() -> Keyring {
        Keyring::new(MasterKey::generate().unwrap(), [])
    }

    #[test]
    fn seal_and_open_round_trip_bound_to_context() {
        let k = ring();
        let s = k.seal("cred:a", b"secret").unwrap();
        assert!(!s.contains("secret"));
        assert_eq!(k.open("cred:a", &s).unwrap(), b"secret");
        assert_eq!(k.open("cred:b", &s), Err(CryptoError::Tampered));
        // Two seals of one value differ (random nonce).
        assert_ne!(s, k.seal("cred:a", b"secret").unwrap());
    }

    #[test]
    fn rotation_opens_old_values_with_previous_keys() {
        let old = MasterKey::generate().unwrap();
        let sealed = Keyring::new(old.clone(), []).seal("c", b"v").unwrap();
        let new = Keyring::new(MasterKey::generate().unwrap(), [old.clone()]);
        assert_eq!(new.open("c", &sealed).unwrap(), b"v");
        assert!(new.needs_reseal(&sealed));
        let without = ring();
        assert_eq!(
            without.open("c", &sealed),
            Err(CryptoError::UnknownKey(old.id().to_owned()))
        );
    }

    #[test]
    fn tampering_is_detected() {
        let k = ring();
        let mut s = k.seal("c", b"value").unwrap();
        let last = s.pop().unwrap();
        s.push(if last == 'A' { 'B' } else { 'A' });
        assert!(k.open("c", &s).is_err());
    }

    #[test]
    fn master_key_text_round_trip_and_errors() {
        let k = MasterKey::generate().unwrap();
        let back = MasterKey::parse(k.to_text().expose()).unwrap();
        assert_eq!(back.id(), k.id());
        assert_eq!(
            MasterKey::parse("short").unwrap_err(),
            CryptoError::BadMasterKey
        );
        assert!(!format!("{k:?}").contains(k.to_text().expose()));
    }

    #[test]
    fn tokens_hash_and_webhooks_sign() {
        let (t, h) = new_api_token().unwrap();
        assert!(t.expose().starts_with(TOKEN_PREFIX));
        assert_eq!(hash_token(t.expose()), h);
        let secret = new_webhook_secret().unwrap();
        let sig = sign_webhook(&secret, 1700000000, b"{}");
        assert!(verify_webhook(&secret, 1700000000, b"{}", &sig));
        assert!(!verify_webhook(&secret, 1700000001, b"{}", &sig));
    }

    proptest! {
        #[test]
        fn open_never_panics_on_garbage(s in "\\PC{0,200}") {
            let _ = ring().open("c", &s);
        }
    }
}
