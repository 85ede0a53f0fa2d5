//! The [`CertificateAuthority`] trait, the values that cross it, and the [`CaRegistry`].
//!
//! Every method is one step of an issuance and takes only what the platform persists (the
//! account credentials and the order URL), so a job killed between two steps resumes by
//! calling [`CertificateAuthority::order`] and carrying on from the order's status:
//!
//! ```text
//! create_account ─▶ new_order ─▶ (publish each challenge) ─▶ ready ─▶ poll_ready
//!      (seal & store)   (store URL)                                      │
//!                                      certificate ◀─ finalize(CSR) ◀────┘
//! ```
//!
//! Optional capabilities (renewal information, directory metadata) default to
//! [`CaError::NotSupported`], in the hickory `ZoneHandler` style, so a commercial order API
//! can implement the trait without them. OV/EV products use [`ValidationLevel`] and may leave
//! an order in [`OrderStatus::AwaitingOrganizationValidation`].

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use panel1_core::SecretString;
use serde::{Deserialize, Serialize};

use crate::certificate::{CertError, CertificateChain, CertificateInfo};
use crate::identifiers::{IdentifierSet, is_wildcard};
use crate::keys::{Csr, KeyError};
use crate::renewal::RenewalWindow;

/// How the CA checks control of a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ValidationMethod {
    #[serde(rename = "http-01")]
    Http01,
    #[serde(rename = "dns-01")]
    Dns01,
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
}

impl ValidationMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationMethod::Http01 => "http-01",
            ValidationMethod::Dns01 => "dns-01",
            ValidationMethod::TlsAlpn01 => "tls-alpn-01",
        }
    }
}

impl fmt::Display for ValidationMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Domain, organisation or extended validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationLevel {
    #[default]
    Dv,
    Ov,
    Ev,
}

/// The organisation an OV/EV certificate names (for commercial order APIs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationDetails {
    pub legal_name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub state: Option<String>,
    pub locality: Option<String>,
}

/// What to order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRequest {
    pub identifiers: IdentifierSet,
    /// An ACME profile offered by the CA's directory (e.g. Let's Encrypt `shortlived`).
    #[serde(default)]
    pub profile: Option<String>,
    /// The RFC 9773 identifier of the certificate this order replaces (renewals).
    #[serde(default)]
    pub replaces: Option<String>,
    #[serde(default)]
    pub validation_level: ValidationLevel,
    #[serde(default)]
    pub organization: Option<OrganizationDetails>,
}

impl OrderRequest {
    /// A DV order for the names, with the CA's default profile.
    pub fn dv(identifiers: IdentifierSet) -> Self {
        Self {
            identifiers,
            profile: None,
            replaces: None,
            validation_level: ValidationLevel::Dv,
            organization: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Authorizations are waiting for challenges.
    Pending,
    /// Every authorization is valid: finalize with a CSR.
    Ready,
    /// The CA is issuing.
    Processing,
    /// The certificate can be downloaded.
    Valid,
    /// The order failed for good (see its error); a new order is needed.
    Invalid,
    /// OV/EV: the CA is validating the organisation (commercial order APIs).
    AwaitingOrganizationValidation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizationStatus {
    Pending,
    Valid,
    Invalid,
    Deactivated,
    Expired,
    Revoked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeStatus {
    Pending,
    Processing,
    Valid,
    Invalid,
}

/// A problem reported by the CA (RFC 8555 §6.7 / RFC 7807), flattened for storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaProblem {
    /// The problem type, e.g. `urn:ietf:params:acme:error:unauthorized`.
    pub kind: Option<String>,
    pub detail: String,
    /// The identifier this problem is about, if any.
    pub identifier: Option<String>,
    #[serde(default)]
    pub subproblems: Vec<CaProblem>,
}

impl CaProblem {
    pub fn new(detail: impl Into<String>) -> Self {
        Self {
            kind: None,
            detail: detail.into(),
            identifier: None,
            subproblems: Vec::new(),
        }
    }

    /// The short type name (`unauthorized` for `urn:ietf:params:acme:error:unauthorized`).
    pub fn short_kind(&self) -> Option<&str> {
        self.kind
            .as_deref()
            .map(|k| k.rsplit(':').next().unwrap_or(k))
    }
}

impl fmt::Display for CaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(id) = &self.identifier {
            write!(f, "{id}: ")?;
        }
        f.write_str(&self.detail)?;
        if let Some(k) = self.short_kind() {
            write!(f, " ({k})")?;
        }
        for (i, s) in self.subproblems.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

/// What must be published for a challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method")]
pub enum Publication {
    /// A TXT record `record_name` with the value `value`.
    #[serde(rename = "dns-01")]
    Dns01 { record_name: String, value: String },
    /// The body `key_authorization` served at `http://<name>/.well-known/acme-challenge/<token>`.
    #[serde(rename = "http-01")]
    Http01 {
        token: String,
        path: String,
        key_authorization: String,
    },
    /// A self-signed certificate with the acmeIdentifier extension holding this SHA-256.
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01 { digest_hex: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    pub url: String,
    pub method: ValidationMethod,
    pub status: ChallengeStatus,
    pub publication: Publication,
    pub error: Option<CaProblem>,
}

/// One identifier's authorization with the challenges the CA offers for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    pub url: String,
    /// The name as ordered (`*.example.com` for a wildcard).
    pub identifier: String,
    pub wildcard: bool,
    pub status: AuthorizationStatus,
    pub challenges: Vec<Challenge>,
}

impl Authorization {
    pub fn challenge(&self, method: ValidationMethod) -> Option<&Challenge> {
        self.challenges.iter().find(|c| c.method == method)
    }
}

/// The state of an order as last seen at the CA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The order's URL: persist it to resume after a crash.
    pub url: String,
    pub status: OrderStatus,
    pub identifiers: Vec<String>,
    pub authorizations: Vec<Authorization>,
    pub error: Option<CaProblem>,
    pub certificate_url: Option<String>,
    pub profile: Option<String>,
    pub replaces: Option<String>,
}

impl Order {
    /// The challenges to complete with `method`, one per authorization still pending.
    /// A wildcard can only be validated with DNS-01: asking for another method is an error
    /// that says so.
    pub fn challenges_to_complete(
        &self,
        method: ValidationMethod,
    ) -> Result<Vec<(&Authorization, &Challenge)>, CaError> {
        let mut out = Vec::new();
        for a in &self.authorizations {
            if a.status != AuthorizationStatus::Pending {
                continue;
            }
            if (a.wildcard || is_wildcard(&a.identifier)) && method != ValidationMethod::Dns01 {
                return Err(CaError::WildcardNeedsDns01 {
                    name: a.identifier.clone(),
                });
            }
            let c = a
                .challenge(method)
                .ok_or_else(|| CaError::NoSuchChallenge {
                    identifier: a.identifier.clone(),
                    method,
                    offered: a.challenges.iter().map(|c| c.method).collect(),
                })?;
            out.push((a, c));
        }
        Ok(out)
    }
}

/// Why a certificate is revoked (RFC 5280 §5.3.1 reason codes accepted by ACME).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    #[default]
    Unspecified,
    KeyCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
}

/// External Account Binding credentials handed out by a CA (ZeroSSL, Google Trust Services,
/// Sectigo, DigiCert, GlobalSign...): the key id and the HMAC key, as the CA shows them
/// (base64url).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ExternalAccountBinding {
    pub key_id: String,
    pub hmac_key: SecretString,
}

/// What to send when creating an account.
#[derive(Debug, Clone, Default)]
pub struct AccountRequest {
    /// `mailto:` URLs (a bare address gets `mailto:` prepended).
    pub contacts: Vec<String>,
    /// Overrides the adapter's configured binding.
    pub eab: Option<ExternalAccountBinding>,
    pub terms_of_service_agreed: bool,
}

/// An account at a CA. `credentials` holds the account's private key: seal it with the
/// keyring before storing it, and never log it (its `Debug` prints `***`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaAccount {
    /// The registry name of the CA the account belongs to.
    pub ca: String,
    /// The account URL at the CA (public).
    pub url: String,
    pub credentials: SecretString,
}

/// The CA's renewal advice for a certificate (RFC 9773).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewalInfo {
    pub window: RenewalWindow,
    pub explanation_url: Option<String>,
    /// When to ask again (the response's `Retry-After`).
    pub retry_after: Duration,
}

/// What a CA's directory says about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryInfo {
    pub url: String,
    /// Profile name → description.
    pub profiles: BTreeMap<String, String>,
    /// Whether the CA offers ACME Renewal Information.
    pub renewal_info: bool,
    pub external_account_required: bool,
    pub terms_of_service: Option<String>,
    pub caa_identities: Vec<String>,
    pub website: Option<String>,
}

/// The answer of a health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    pub ca: String,
    pub latency: Duration,
    pub directory: Option<DirectoryInfo>,
}

/// How long and how often to poll an order; every wait is bounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollPolicy {
    /// The first wait before asking again.
    pub initial_delay: Duration,
    /// Each wait is the previous one times this factor.
    pub backoff: f32,
    /// Give up (with [`CaError::Timeout`]) after this long; a `Retry-After` beyond it also ends
    /// the poll, with its value in the error so the job can be rescheduled.
    pub timeout: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_millis(250),
            backoff: 1.5,
            timeout: Duration::from_secs(90),
        }
    }
}

/// Errors of a CA adapter. Messages say what went wrong and what to do; none carries a
/// secret. [`CaError::is_retryable`] tells a job whether trying again later can help.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    #[error("the certificate authority `{ca}` does not support {capability}")]
    NotSupported { ca: String, capability: String },
    #[error(
        "the certificate authority `{ca}` cannot be reached at {url}: {reason}; check the directory URL and the network, the job will retry"
    )]
    Unreachable {
        ca: String,
        url: String,
        reason: String,
    },
    #[error("the certificate authority `{ca}` is rate limiting this account: {detail}{}", retry_hint(*.retry_after))]
    RateLimited {
        ca: String,
        detail: String,
        retry_after: Option<Duration>,
    },
    #[error("the certificate authority `{ca}` refused the request: {problem}")]
    Rejected { ca: String, problem: Box<CaProblem> },
    #[error(
        "the order at `{ca}` is invalid and will not be retried: {problem}; fix the cause and place a new order"
    )]
    OrderInvalid {
        ca: String,
        order_url: String,
        problem: Box<CaProblem>,
    },
    #[error("gave up waiting {waited:?} for the certificate authority `{ca}` to {what}{}", retry_hint(*.retry_after))]
    Timeout {
        ca: String,
        what: &'static str,
        waited: Duration,
        retry_after: Option<Duration>,
    },
    #[error(
        "the certificate authority offers no {method} challenge for `{identifier}` (offered: {}); pick one of those methods",
        offered.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
    )]
    NoSuchChallenge {
        identifier: String,
        method: ValidationMethod,
        offered: Vec<ValidationMethod>,
    },
    #[error(
        "`{name}` is a wildcard: wildcard names can only be validated with DNS-01; choose dns-01 for this certificate"
    )]
    WildcardNeedsDns01 { name: String },
    #[error(
        "the certificate authority `{ca}` requires External Account Binding: configure the key id and HMAC key from the CA's account page"
    )]
    ExternalAccountRequired { ca: String },
    #[error("the External Account Binding HMAC key is not base64url text as issued by the CA")]
    BadExternalAccountKey,
    #[error(
        "the stored account credentials for `{ca}` cannot be used: {reason}; create a new account"
    )]
    BadCredentials { ca: String, reason: String },
    #[error("the account belongs to CA `{account_ca}`, not `{ca}`")]
    WrongAccount { ca: String, account_ca: String },
    #[error("unexpected answer from the certificate authority `{ca}`: {detail}")]
    Protocol { ca: String, detail: String },
    #[error(transparent)]
    Certificate(#[from] CertError),
    #[error(transparent)]
    Key(#[from] KeyError),
}

fn retry_hint(d: Option<Duration>) -> String {
    match d {
        Some(d) => format!("; retry after {}s", d.as_secs().max(1)),
        None => "; retry later".to_owned(),
    }
}

impl CaError {
    /// Whether the same step may succeed later (network, rate limit, slow CA). Invalid
    /// orders, refusals and configuration errors are final: retrying them only loops.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            CaError::Unreachable { .. } | CaError::RateLimited { .. } | CaError::Timeout { .. }
        )
    }

    /// When to try again, if the CA said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CaError::RateLimited { retry_after, .. } | CaError::Timeout { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }
}

/// A certificate authority: ACME (any RFC 8555 directory) or, later, a commercial order API.
#[async_trait]
pub trait CertificateAuthority: Send + Sync {
    /// The registry name (e.g. `letsencrypt`, `zerossl`).
    fn name(&self) -> &str;

    /// The issuer domain names this CA recognises in CAA `issue`/`issuewild` records
    /// (RFC 8659), e.g. `letsencrypt.org`.
    fn caa_identities(&self) -> Vec<String>;

    /// The validation methods this adapter can complete.
    fn validation_methods(&self) -> Vec<ValidationMethod>;

    /// Whether the CA answers (fetches its directory). Errors are [`CaError::Unreachable`].
    async fn health_check(&self) -> Result<HealthReport, CaError>;

    /// Creates (or finds, for the same key) an account.
    async fn create_account(&self, request: &AccountRequest) -> Result<CaAccount, CaError>;

    /// Places an order; the returned [`Order::url`] must be persisted before anything else.
    async fn new_order(
        &self,
        account: &CaAccount,
        request: &OrderRequest,
    ) -> Result<Order, CaError>;

    /// The current state of an order, with its authorizations and challenges.
    async fn order(&self, account: &CaAccount, order_url: &str) -> Result<Order, CaError>;

    /// Tells the CA the challenges (by URL) are published and may be checked.
    async fn ready(
        &self,
        account: &CaAccount,
        order_url: &str,
        challenge_urls: &[String],
    ) -> Result<(), CaError>;

    /// Waits (bounded, honouring `Retry-After`) until the order leaves `pending`. An order
    /// that turns invalid ends with [`CaError::OrderInvalid`] and the CA's detail per name.
    async fn poll_ready(
        &self,
        account: &CaAccount,
        order_url: &str,
        policy: &PollPolicy,
    ) -> Result<Order, CaError>;

    /// Sends the CSR of a `ready` order.
    async fn finalize(
        &self,
        account: &CaAccount,
        order_url: &str,
        csr: &Csr,
    ) -> Result<Order, CaError>;

    /// Waits (bounded) for a finalized order to be `valid` and downloads the chain.
    async fn certificate(
        &self,
        account: &CaAccount,
        order_url: &str,
        policy: &PollPolicy,
    ) -> Result<CertificateChain, CaError>;

    /// Revokes a certificate issued to this account.
    async fn revoke(
        &self,
        account: &CaAccount,
        certificate_der: &[u8],
        reason: RevocationReason,
    ) -> Result<(), CaError>;

    /// The CA's suggested renewal window for a certificate (RFC 9773).
    async fn renewal_info(
        &self,
        _account: &CaAccount,
        _certificate: &CertificateInfo,
    ) -> Result<RenewalInfo, CaError> {
        Err(CaError::NotSupported {
            ca: self.name().to_owned(),
            capability: "ACME renewal information (RFC 9773)".into(),
        })
    }

    /// The CA's directory metadata (profiles, ARI, EAB requirement, CAA identities).
    async fn directory(&self) -> Result<DirectoryInfo, CaError> {
        Err(CaError::NotSupported {
            ca: self.name().to_owned(),
            capability: "directory metadata".into(),
        })
    }
}

/// Certificate authorities by name, shared by every tenant and product that uses them.
#[derive(Clone, Default)]
pub struct CaRegistry {
    by_name: BTreeMap<String, Arc<dyn CertificateAuthority>>,
}

impl fmt::Debug for CaRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.by_name.keys()).finish()
    }
}

impl CaRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a CA under its [`CertificateAuthority::name`].
    pub fn insert(&mut self, ca: Arc<dyn CertificateAuthority>) {
        self.by_name.insert(ca.name().to_owned(), ca);
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn CertificateAuthority>> {
        self.by_name.get(name).cloned()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Builds every configured CA (a bad entry fails, naming it).
    pub fn from_configs(configs: &[CaConfig]) -> Result<Self, CaError> {
        let mut r = Self::new();
        for c in configs {
            r.insert(c.build()?);
        }
        Ok(r)
    }
}

/// How a CA is configured, tagged by kind (`kind = "acme"`); commercial order APIs become
/// further variants.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CaConfig {
    Acme(crate::acme::AcmeConfig),
}

impl CaConfig {
    pub fn name(&self) -> &str {
        match self {
            CaConfig::Acme(c) => &c.name,
        }
    }

    pub fn build(&self) -> Result<Arc<dyn CertificateAuthority>, CaError> {
        match self {
            CaConfig::Acme(c) => Ok(Arc::new(crate::acme::AcmeAuthority::new(c.clone())?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authz(identifier: &str, wildcard: bool, methods: &[ValidationMethod]) -> Authorization {
        Authorization {
            url: format!("https://ca/authz/{identifier}"),
            identifier: identifier.to_owned(),
            wildcard,
            status: AuthorizationStatus::Pending,
            challenges: methods
                .iter()
                .map(|m| Challenge {
                    url: format!("https://ca/chall/{identifier}/{m}"),
                    method: *m,
                    status: ChallengeStatus::Pending,
                    publication: Publication::TlsAlpn01 {
                        digest_hex: String::new(),
                    },
                    error: None,
                })
                .collect(),
        }
    }

    fn order(authorizations: Vec<Authorization>) -> Order {
        Order {
            url: "https://ca/order/1".into(),
            status: OrderStatus::Pending,
            identifiers: authorizations
                .iter()
                .map(|a| a.identifier.clone())
                .collect(),
            authorizations,
            error: None,
            certificate_url: None,
            profile: None,
            replaces: None,
        }
    }

    #[test]
    fn wildcards_need_dns01_and_the_error_says_so() {
        use ValidationMethod::*;
        let o = order(vec![
            authz("example.com", false, &[Http01, Dns01]),
            authz("*.example.com", true, &[Dns01]),
        ]);
        let err = o.challenges_to_complete(Http01).unwrap_err();
        assert!(matches!(err, CaError::WildcardNeedsDns01 { .. }));
        assert!(err.to_string().contains("DNS-01"), "{err}");
        let todo = o.challenges_to_complete(Dns01).unwrap();
        assert_eq!(todo.len(), 2);
        assert!(todo.iter().all(|(_, c)| c.method == Dns01));
    }

    #[test]
    fn missing_method_and_done_authorizations() {
        use ValidationMethod::*;
        let mut o = order(vec![authz("example.com", false, &[Http01])]);
        let err = o.challenges_to_complete(Dns01).unwrap_err();
        assert!(err.to_string().contains("offered: http-01"), "{err}");
        o.authorizations[0].status = AuthorizationStatus::Valid;
        assert!(o.challenges_to_complete(Dns01).unwrap().is_empty());
    }

    #[test]
    fn problems_render_with_identifiers_and_retry_advice() {
        let p = CaProblem {
            kind: Some("urn:ietf:params:acme:error:unauthorized".into()),
            detail: "validation failed".into(),
            identifier: None,
            subproblems: vec![CaProblem {
                kind: Some("urn:ietf:params:acme:error:dns".into()),
                detail: "No TXT record found".into(),
                identifier: Some("example.com".into()),
                subproblems: vec![],
            }],
        };
        assert_eq!(
            p.to_string(),
            "validation failed (unauthorized): example.com: No TXT record found (dns)"
        );
        let e = CaError::RateLimited {
            ca: "le".into(),
            detail: "too many orders".into(),
            retry_after: Some(Duration::from_secs(3600)),
        };
        assert!(e.is_retryable());
        assert!(e.to_string().ends_with("retry after 3600s"), "{e}");
        let invalid = CaError::OrderInvalid {
            ca: "le".into(),
            order_url: "u".into(),
            problem: Box::new(p),
        };
        assert!(!invalid.is_retryable());
    }

    #[test]
    fn registry_builds_from_tagged_configs() {
        let configs: Vec<CaConfig> = serde_json::from_str(
            r#"[{"kind":"acme","name":"letsencrypt","directory_url":"https://acme-v02.api.letsencrypt.org/directory","caa_identities":["letsencrypt.org"]},
                {"kind":"acme","name":"zerossl","directory_url":"https://acme.zerossl.com/v2/DV90","eab":{"key_id":"kid","hmac_key":"c2VjcmV0"}}]"#,
        )
        .unwrap();
        assert_eq!(configs[1].name(), "zerossl");
        let r = CaRegistry::from_configs(&configs).unwrap();
        assert_eq!(r.names().collect::<Vec<_>>(), ["letsencrypt", "zerossl"]);
        let le = r.get("letsencrypt").unwrap();
        assert_eq!(le.caa_identities(), ["letsencrypt.org"]);
        assert!(r.get("nope").is_none());
        assert!(!format!("{configs:?}").contains("c2VjcmV0"));
        let bad: CaConfig = serde_json::from_str(
            r#"{"kind":"acme","name":"x","directory_url":"https://x/dir","root_certificates_pem":"nope"}"#,
        )
        .unwrap();
        assert!(bad.build().is_err());
    }

    #[test]
    fn account_debug_hides_credentials() {
        let a = CaAccount {
            ca: "le".into(),
            url: "https://ca/acct/1".into(),
            credentials: SecretString::new("{\"key_pkcs8\":\"SECRET\"}"),
        };
        assert!(!format!("{a:?}").contains("SECRET"));
    }
}
