//! TSIG keys (RFC 8945) for zone transfers, NOTIFY and dynamic updates: configuration,
//! request verification and response signing (including the chained messages of a zone
//! transfer, RFC 8945 §5.3.1). The MACs are computed by hickory-proto.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hickory_proto::op::Message;
use hickory_proto::rr::rdata::tsig::{TSIG, TsigAlgorithm, TsigError, make_tsig_record};
use hickory_proto::rr::{Name, TSigResponseContext, TSigner};
use panel1_core::SecretString;
use serde::Deserialize;

/// How far clocks may differ, in seconds (RFC 8945 recommends 300).
pub const FUDGE: u16 = 300;

/// A shared TSIG key. The secret is base64, as in BIND's and Knot's configuration, and is
/// never printed.
#[derive(Clone, Deserialize, PartialEq, Eq)]
pub struct TsigKey {
    /// The key name, like `transfer-key.` (BIND's `key "transfer-key"`).
    pub name: String,
    /// `hmac-sha256` (the default), `hmac-sha384` or `hmac-sha512`.
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
    pub secret: SecretString,
}

fn default_algorithm() -> String {
    "hmac-sha256".into()
}

impl std::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &self.secret)
            .finish()
    }
}

/// Why a TSIG key cannot be used. Never contains the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TsigKeyError {
    #[error("TSIG key `{0}`: the name is not a valid domain name; use a name like transfer-key.")]
    Name(String),
    #[error(
        "TSIG key `{0}`: the algorithm `{1}` is not supported; use hmac-sha256, hmac-sha384 or hmac-sha512"
    )]
    Algorithm(String, String),
    #[error(
        "TSIG key `{0}`: the secret is not base64 or is empty; generate one with `tsig-keygen` or `keymgr -t`"
    )]
    Secret(String),
}

impl TsigKey {
    pub fn new(name: &str, algorithm: &str, secret: SecretString) -> Self {
        Self {
            name: name.into(),
            algorithm: algorithm.into(),
            secret,
        }
    }

    /// Parses `hmac-sha256:name:base64secret` (the form `dig -y` and `kdig -y` take).
    pub fn parse_spec(spec: &str) -> Result<Self, TsigKeyError> {
        let mut parts = spec.splitn(3, ':');
        let (Some(alg), Some(name), Some(secret)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(TsigKeyError::Secret(String::new()));
        };
        let key = Self::new(name, alg, SecretString::new(secret));
        key.signer()?;
        Ok(key)
    }

    pub fn key_name(&self) -> Result<Name, TsigKeyError> {
        let mut n = Name::from_ascii(self.name.trim())
            .map_err(|_| TsigKeyError::Name(self.name.clone()))?
            .to_lowercase();
        n.set_fqdn(true);
        Ok(n)
    }

    pub fn tsig_algorithm(&self) -> Result<TsigAlgorithm, TsigKeyError> {
        match self.algorithm.trim().to_ascii_lowercase().as_str() {
            "hmac-sha256" => Ok(TsigAlgorithm::HmacSha256),
            "hmac-sha384" => Ok(TsigAlgorithm::HmacSha384),
            "hmac-sha512" => Ok(TsigAlgorithm::HmacSha512),
            _ => Err(TsigKeyError::Algorithm(
                self.name.clone(),
                self.algorithm.clone(),
            )),
        }
    }

    /// hickory's signer for this key.
    pub fn signer(&self) -> Result<TSigner, TsigKeyError> {
        let secret = base64::engine::general_purpose::STANDARD
            .decode(self.secret.expose().trim())
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| TsigKeyError::Secret(self.name.clone()))?;
        TSigner::new(secret, self.tsig_algorithm()?, self.key_name()?, FUDGE)
            .map_err(|_| TsigKeyError::Algorithm(self.name.clone(), self.algorithm.clone()))
    }
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A verified request: the key that signed it and its MAC, to sign the answer with.
#[derive(Clone)]
pub(crate) struct TsigContext {
    pub signer: TSigner,
    pub request_mac: Vec<u8>,
}

/// Why a signed request was not accepted, and the unsigned-or-signed TSIG record that
/// the error answer carries (RFC 8945 §5.2).
pub(crate) struct TsigFailure {
    pub error: TsigError,
    pub record: Option<Box<hickory_proto::rr::Record<TSIG>>>,
}

/// Verifies the TSIG of a request against the configured keys.
pub(crate) fn verify_request(
    raw: &[u8],
    msg: &Message,
    keys: &[TSigner],
) -> Option<Result<TsigContext, TsigFailure>> {
    let sig = msg.signature()?;
    let time = now();
    let Some(signer) = keys
        .iter()
        .find(|k| k.signer_name() == &sig.name && *k.algorithm() == sig.data.algorithm)
    else {
        let record = TSigResponseContext::unknown_key(msg.id, time, sig.name.clone())
            .sign(&[])
            .ok();
        return Some(Err(TsigFailure {
            error: TsigError::BadKey,
            record,
        }));
    };
    match signer.verify_message_byte(raw, None, true) {
        Ok((mac, _, range)) if range.contains(&time) => Some(Ok(TsigContext {
            signer: signer.clone(),
            request_mac: mac,
        })),
        Ok((mac, _, _)) => {
            let record = TSigResponseContext::new(
                msg.id,
                time,
                signer.clone(),
                mac,
                Some(TsigError::BadTime),
            )
            .sign(&[])
            .ok();
            Some(Err(TsigFailure {
                error: TsigError::BadTime,
                record,
            }))
        }
        Err(_) => {
            let record = TSigResponseContext::bad_signature(msg.id, time, signer.clone())
                .sign(&[])
                .ok();
            Some(Err(TsigFailure {
                error: TsigError::BadSig,
                record,
            }))
        }
    }
}

/// Signs the messages of one response stream: the first over the request MAC and the full
/// TSIG variables, each later one over the previous MAC and the timers (RFC 8945 §5.3.1).
pub(crate) struct ResponseSigner {
    signer: TSigner,
    previous_mac: Vec<u8>,
    first: bool,
}

impl ResponseSigner {
    pub fn new(ctx: &TsigContext) -> Self {
        Self {
            signer: ctx.signer.clone(),
            previous_mac: ctx.request_mac.clone(),
            first: true,
        }
    }

    /// Encodes `msg` with a TSIG record appended.
    pub fn sign(&mut self, msg: &mut Message) -> Option<Vec<u8>> {
        msg.signature = None;
        let unsigned = msg.to_vec().ok()?;
        let time = now();
        let stub = TSIG::new(
            self.signer.algorithm().clone(),
            time,
            self.signer.fudge(),
            Vec::new(),
            msg.id,
            None,
            Vec::new(),
        );
        let tbs = if self.first {
            self.signer
                .encode_response_tbs(&self.previous_mac, &unsigned, &stub)
                .ok()?
        } else {
            let mut tbs = Vec::with_capacity(unsigned.len() + self.previous_mac.len() + 10);
            tbs.extend_from_slice(&u16::try_from(self.previous_mac.len()).ok()?.to_be_bytes());
            tbs.extend_from_slice(&self.previous_mac);
            tbs.extend_from_slice(&unsigned);
            tbs.extend_from_slice(&((time >> 32) as u16).to_be_bytes());
            tbs.extend_from_slice(&(time as u32).to_be_bytes());
            tbs.extend_from_slice(&self.signer.fudge().to_be_bytes());
            tbs
        };
        let mac = self.signer.sign(&tbs).ok()?;
        self.first = false;
        self.previous_mac = mac.clone();
        msg.signature = Some(Box::new(make_tsig_record(
            self.signer.signer_name().clone(),
            stub.set_mac(mac),
        )));
        msg.to_vec().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_never_print_their_secret() {
        let k = TsigKey::parse_spec("hmac-sha256:xfr-key:c2VjcmV0c2VjcmV0c2VjcmV0").unwrap();
        assert_eq!(k.key_name().unwrap().to_ascii(), "xfr-key.");
        let dbg = format!("{k:?}");
        assert!(!dbg.contains("c2VjcmV0"), "{dbg}");
        assert!(matches!(
            TsigKey::parse_spec("hmac-md5:k:c2VjcmV0"),
            Err(TsigKeyError::Algorithm(..))
        ));
        let e = TsigKey::parse_spec("hmac-sha256:k:!!notbase64").unwrap_err();
        assert!(!e.to_string().contains("notbase64"));
    }
}
