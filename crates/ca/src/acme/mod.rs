//! The ACME adapter: any RFC 8555 directory through instant-acme.
//!
//! - [`AcmeConfig`] names a directory (presets for Let's Encrypt production and staging,
//!   ZeroSSL, Google Trust Services, Sectigo, DigiCert, GlobalSign; External Account Binding
//!   for the commercial ones), the roots to trust (the platform's by default; a private root
//!   for Pebble), and the limits that stand for the CA's rate limits: requests in flight and
//!   new orders per window.
//! - [`AcmeAuthority`] implements [`CertificateAuthority`]. Every step is stateless apart
//!   from a cache of loaded accounts: a killed job resumes from the sealed account
//!   credentials and the order URL.
//! - Problems from the CA become [`CaError`]s: rate limits carry the `Retry-After`, invalid
//!   orders carry the CA's detail for each name, transport failures are `Unreachable`.

mod http;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use instant_acme::{
    Account, CertificateIdentifier, ChallengeType, ExternalAccountKey, Identifier, NewAccount,
    NewOrder, RetryPolicy,
};
use panel1_core::SecretString;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use self::http::{AcmeHttp, ExchangeError, TransportError, with_calls};
pub use self::http::{CaCall, record_calls};
use crate::authority::{
    AccountRequest, Authorization, AuthorizationStatus, CaAccount, CaError, CaProblem,
    CertificateAuthority, Challenge, ChallengeStatus, DirectoryInfo, ExternalAccountBinding,
    HealthReport, Order, OrderRequest, OrderStatus, PollPolicy, Publication, RenewalInfo,
    RevocationReason, ValidationLevel, ValidationMethod,
};
use crate::certificate::{CertificateChain, CertificateInfo};
use crate::keys::Csr;
use crate::renewal::RenewalWindow;

/// A local limit on new orders, standing for the CA's (Let's Encrypt: 300 per 3 hours per
/// account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct OrderRateLimit {
    pub orders: u32,
    pub window_secs: u64,
}

/// How to reach and use one ACME CA.
#[derive(Debug, Clone, Deserialize)]
pub struct AcmeConfig {
    /// The registry name (`letsencrypt`, `zerossl`, ...).
    pub name: String,
    pub directory_url: String,
    /// Issuer domains for CAA checks (the directory may list its own: see
    /// [`DirectoryInfo::caa_identities`]).
    #[serde(default)]
    pub caa_identities: Vec<String>,
    /// The binding used when creating accounts (commercial CAs).
    #[serde(default)]
    pub eab: Option<ExternalAccountBinding>,
    /// PEM roots to trust instead of the platform's (a private CA; Pebble's listener).
    #[serde(default)]
    pub root_certificates_pem: Option<String>,
    #[serde(default = "default_timeout_secs")]
    pub request_timeout_secs: u64,
    /// Requests in flight to this CA at once.
    #[serde(default = "default_in_flight")]
    pub max_in_flight: usize,
    #[serde(default)]
    pub new_orders: Option<OrderRateLimit>,
    /// The profile to request when an order names none.
    #[serde(default)]
    pub default_profile: Option<String>,
    #[serde(default = "default_methods")]
    pub validation_methods: Vec<ValidationMethod>,
}

fn default_timeout_secs() -> u64 {
    30
}
fn default_in_flight() -> usize {
    16
}
fn default_methods() -> Vec<ValidationMethod> {
    vec![ValidationMethod::Http01, ValidationMethod::Dns01]
}

impl AcmeConfig {
    /// Any RFC 8555 directory.
    pub fn new(name: impl Into<String>, directory_url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            directory_url: directory_url.into(),
            caa_identities: Vec::new(),
            eab: None,
            root_certificates_pem: None,
            request_timeout_secs: default_timeout_secs(),
            max_in_flight: default_in_flight(),
            new_orders: None,
            default_profile: None,
            validation_methods: default_methods(),
        }
    }

    fn with_caa(mut self, ids: &[&str]) -> Self {
        self.caa_identities = ids.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    pub fn with_eab(mut self, eab: ExternalAccountBinding) -> Self {
        self.eab = Some(eab);
        self
    }

    pub fn lets_encrypt() -> Self {
        let mut c = Self::new("letsencrypt", instant_acme::LetsEncrypt::Production.url())
            .with_caa(&["letsencrypt.org"]);
        c.new_orders = Some(OrderRateLimit {
            orders: 300,
            window_secs: 3 * 3600,
        });
        c
    }

    pub fn lets_encrypt_staging() -> Self {
        Self::new(
            "letsencrypt-staging",
            instant_acme::LetsEncrypt::Staging.url(),
        )
        .with_caa(&["letsencrypt.org"])
    }

    pub fn zerossl(eab: ExternalAccountBinding) -> Self {
        Self::new("zerossl", instant_acme::ZeroSsl::Production.url())
            .with_caa(&["sectigo.com", "zerossl.com"])
            .with_eab(eab)
    }

    pub fn google_trust_services(eab: ExternalAccountBinding) -> Self {
        Self::new("google", "https://dv.acme-v02.api.pki.goog/directory")
            .with_caa(&["pki.goog"])
            .with_eab(eab)
    }

    pub fn google_trust_services_staging(eab: ExternalAccountBinding) -> Self {
        Self::new(
            "google-staging",
            "https://dv.acme-v02.test-api.pki.goog/directory",
        )
        .with_caa(&["pki.goog"])
        .with_eab(eab)
    }

    pub fn sectigo(eab: ExternalAccountBinding) -> Self {
        Self::new("sectigo", "https://acme.sectigo.com/v2/DV")
            .with_caa(&["sectigo.com", "comodoca.com"])
            .with_eab(eab)
    }

    /// DigiCert's CertCentral ACME directory; regional or per-account directory URLs from
    /// the CA's console replace `directory_url`.
    pub fn digicert(eab: ExternalAccountBinding) -> Self {
        Self::new("digicert", "https://acme.digicert.com/v2/acme/directory/")
            .with_caa(&["digicert.com", "www.digicert.com"])
            .with_eab(eab)
    }

    pub fn globalsign(eab: ExternalAccountBinding) -> Self {
        Self::new(
            "globalsign",
            "https://emea.acme.atlas.globalsign.com/directory",
        )
        .with_caa(&["globalsign.com"])
        .with_eab(eab)
    }
}

/// The ACME implementation of [`CertificateAuthority`].
pub struct AcmeAuthority {
    config: AcmeConfig,
    http: AcmeHttp,
    /// Loaded accounts by SHA-256 of their credentials (loading fetches the directory).
    accounts: Mutex<HashMap<String, Account>>,
    order_times: Mutex<VecDeque<Instant>>,
    directory: Mutex<Option<(Instant, DirectoryInfo, Option<String>)>>,
}

impl std::fmt::Debug for AcmeAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcmeAuthority")
            .field("name", &self.config.name)
            .field("directory_url", &self.config.directory_url)
            .finish_non_exhaustive()
    }
}

/// How long a fetched directory is reused for renewal-information URLs.
const DIRECTORY_TTL: Duration = Duration::from_secs(3600);

/// RFC 9773: when the CA gives no `Retry-After`, ask again in six hours.
const ARI_DEFAULT_RETRY: Duration = Duration::from_secs(6 * 3600);

/// The longest the local order limit waits in-line before answering `RateLimited`.
const MAX_LOCAL_WAIT: Duration = Duration::from_secs(30);

impl AcmeAuthority {
    pub fn new(config: AcmeConfig) -> Result<Self, CaError> {
        let roots = match &config.root_certificates_pem {
            Some(pem) => {
                let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| CaError::Protocol {
                        ca: config.name.clone(),
                        detail: format!("the configured root certificates are not PEM: {e}"),
                    })?;
                if certs.is_empty() {
                    return Err(CaError::Protocol {
                        ca: config.name.clone(),
                        detail: "root_certificates_pem holds no certificate".into(),
                    });
                }
                Some(certs)
            }
            None => None,
        };
        let http = AcmeHttp::new(
            roots,
            Duration::from_secs(config.request_timeout_secs.max(1)),
            config.max_in_flight,
        )
        .map_err(|e| CaError::Protocol {
            ca: config.name.clone(),
            detail: format!("cannot set up TLS: {e}"),
        })?;
        Ok(Self {
            config,
            http,
            accounts: Mutex::new(HashMap::new()),
            order_times: Mutex::new(VecDeque::new()),
            directory: Mutex::new(None),
        })
    }

    pub fn config(&self) -> &AcmeConfig {
        &self.config
    }

    fn ca(&self) -> String {
        self.config.name.clone()
    }

    /// Maps an instant-acme error, using the calls of the step for context.
    fn map_err(&self, err: instant_acme::Error, calls: &[CaCall]) -> CaError {
        let ca = self.ca();
        let last = calls.last();
        match err {
            instant_acme::Error::Api(p) => {
                let problem = problem_from(&p);
                match problem.short_kind() {
                    Some("rateLimited") => CaError::RateLimited {
                        ca,
                        detail: problem.detail,
                        retry_after: calls
                            .iter()
                            .rev()
                            .find_map(|c| c.retry_after_secs)
                            .map(Duration::from_secs),
                    },
                    Some("externalAccountRequired") => CaError::ExternalAccountRequired { ca },
                    _ => CaError::Rejected {
                        ca,
                        problem: Box::new(problem),
                    },
                }
            }
            instant_acme::Error::Other(e) if e.downcast_ref::<TransportError>().is_some() => {
                CaError::Unreachable {
                    ca,
                    url: last.map(|c| c.url.clone()).unwrap_or_default(),
                    reason: e.to_string(),
                }
            }
            instant_acme::Error::Timeout(next) => CaError::Timeout {
                ca,
                what: "finish the order",
                waited: Duration::ZERO,
                retry_after: next.map(|n| n.saturating_duration_since(Instant::now())),
            },
            instant_acme::Error::KeyRejected | instant_acme::Error::Crypto => {
                CaError::BadCredentials {
                    ca,
                    reason: "the account key is not a P-256 PKCS#8 key".into(),
                }
            }
            instant_acme::Error::Unsupported(what) => CaError::NotSupported {
                ca,
                capability: what.to_owned(),
            },
            other => match last.and_then(|c| c.status) {
                // A 5xx answer whose body is not a problem document: the CA is down.
                Some(s) if s >= 500 => CaError::Unreachable {
                    ca,
                    url: last.map(|c| c.url.clone()).unwrap_or_default(),
                    reason: format!(
                        "HTTP {s}{}",
                        last.and_then(|c| c.error.as_deref())
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    ),
                },
                _ => CaError::Protocol {
                    ca,
                    detail: other.to_string(),
                },
            },
        }
    }

    async fn account(&self, account: &CaAccount) -> Result<Account, CaError> {
        if account.ca != self.config.name {
            return Err(CaError::WrongAccount {
                ca: self.ca(),
                account_ca: account.ca.clone(),
            });
        }
        let key = panel1_core::crypto::sha256_hex(account.credentials.expose().as_bytes());
        if let Some(a) = self.accounts.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(a);
        }
        let creds: instant_acme::AccountCredentials =
            serde_json::from_str(account.credentials.expose()).map_err(|_| {
                CaError::BadCredentials {
                    ca: self.ca(),
                    reason: "they are not ACME account credentials".into(),
                }
            })?;
        let (res, calls) = with_calls(
            Account::builder_with_http(Box::new(self.http.clone())).from_credentials(creds),
        )
        .await;
        let acct = res.map_err(|e| self.map_err(e, &calls))?;
        if acct.id() != account.url {
            return Err(CaError::BadCredentials {
                ca: self.ca(),
                reason: "the credentials name another account URL".into(),
            });
        }
        if let Ok(mut m) = self.accounts.lock() {
            m.insert(key, acct.clone());
        }
        Ok(acct)
    }

    /// Waits for a slot under the local new-order limit, or answers `RateLimited` when the
    /// wait would be long (the job is rescheduled instead of holding a worker).
    async fn order_slot(&self) -> Result<(), CaError> {
        let Some(limit) = self.config.new_orders else {
            return Ok(());
        };
        let window = Duration::from_secs(limit.window_secs);
        loop {
            let wait = {
                let mut times = self.order_times.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= window)
                {
                    times.pop_front();
                }
                if times.len() < limit.orders as usize {
                    times.push_back(now);
                    return Ok(());
                }
                times
                    .front()
                    .map(|t| window.saturating_sub(now.duration_since(*t)))
                    .unwrap_or_default()
            };
            if wait > MAX_LOCAL_WAIT {
                return Err(CaError::RateLimited {
                    ca: self.ca(),
                    detail: format!(
                        "the configured limit of {} new orders per {}s is reached",
                        limit.orders, limit.window_secs
                    ),
                    retry_after: Some(wait),
                });
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Loads an order by URL and reads it, retrying on a bad nonce (reads are idempotent).
    async fn load_view(
        &self,
        acct: &Account,
        order_url: &str,
    ) -> Result<Order, instant_acme::Error> {
        nonce_retry(move || async move {
            let mut order = acct.order(order_url.to_owned()).await?;
            self.view(acct, &mut order).await
        })
        .await
    }

    /// Reads an order and all its authorizations into the trait's view.
    async fn view(
        &self,
        acct: &Account,
        order: &mut instant_acme::Order,
    ) -> Result<Order, instant_acme::Error> {
        let thumb = acct.key_thumbprint().to_owned();
        let url = order.url().to_owned();
        let mut authorizations = Vec::new();
        {
            let mut it = order.authorizations();
            while let Some(a) = it.next().await {
                let a = a?;
                let identifier = a.identifier().to_string();
                let challenges = a
                    .challenges
                    .iter()
                    .filter_map(|c| challenge_view(c, &identifier, a.wildcard, &thumb))
                    .collect();
                authorizations.push(Authorization {
                    url: a.url().to_owned(),
                    identifier,
                    wildcard: a.wildcard,
                    status: authz_status(a.status),
                    challenges,
                });
            }
        }
        let state = order.state();
        Ok(Order {
            url,
            status: order_status(state.status),
            identifiers: authorizations
                .iter()
                .map(|a| a.identifier.clone())
                .collect(),
            authorizations,
            error: state.error.as_ref().map(problem_from),
            certificate_url: state.certificate.clone(),
            profile: state.profile.clone(),
            replaces: state.replaces.as_ref().map(|r| r.to_string()),
        })
    }

    /// The CA's problem for an invalid order: the order's error plus each failed
    /// challenge's error, per name.
    async fn invalid_problem(
        &self,
        acct: &Account,
        order: &mut instant_acme::Order,
        fallback: Option<CaProblem>,
    ) -> CaProblem {
        let view = self.view(acct, order).await.ok();
        let mut problem = view
            .as_ref()
            .and_then(|v| v.error.clone())
            .or(fallback)
            .unwrap_or_else(|| CaProblem::new("the order became invalid"));
        if let Some(v) = view {
            for a in &v.authorizations {
                for c in &a.challenges {
                    if let Some(e) = &c.error {
                        let mut e = e.clone();
                        e.identifier = Some(format!("{} ({})", a.identifier, c.method));
                        if !problem.subproblems.contains(&e) {
                            problem.subproblems.push(e);
                        }
                    }
                }
                if a.status == AuthorizationStatus::Invalid
                    && !a.challenges.iter().any(|c| c.error.is_some())
                {
                    problem.subproblems.push(CaProblem {
                        kind: None,
                        detail: "authorization is invalid".into(),
                        identifier: Some(a.identifier.clone()),
                        subproblems: vec![],
                    });
                }
            }
        }
        problem
    }

    /// The directory, fetched at most once an hour, with its `renewalInfo` URL.
    async fn cached_directory(&self) -> Result<(DirectoryInfo, Option<String>), CaError> {
        if let Some((at, d, r)) = self.directory.lock().ok().and_then(|c| c.clone())
            && at.elapsed() < DIRECTORY_TTL
        {
            return Ok((d, r));
        }
        let (d, r) = self.fetch_directory().await?;
        if let Ok(mut c) = self.directory.lock() {
            *c = Some((Instant::now(), d.clone(), r.clone()));
        }
        Ok((d, r))
    }

    fn exchange_err(&self, e: ExchangeError, url: &str) -> CaError {
        match e {
            ExchangeError::Transport(t) => CaError::Unreachable {
                ca: self.ca(),
                url: url.to_owned(),
                reason: t.to_string(),
            },
            ExchangeError::Request(r) => CaError::Protocol {
                ca: self.ca(),
                detail: format!("invalid URL `{url}`: {r}"),
            },
        }
    }

    /// An error answer to a plain GET: 5xx is an outage, 429 a rate limit, the rest a
    /// refusal carrying the CA's problem document.
    fn status_err(
        &self,
        parts: &::http::response::Parts,
        body: &[u8],
        url: &str,
        calls: &[CaCall],
    ) -> CaError {
        let status = parts.status;
        let problem = serde_json::from_slice::<instant_acme::Problem>(body)
            .map(|p| problem_from(&p))
            .unwrap_or_else(|_| CaProblem::new(format!("HTTP {status}")));
        if status.is_server_error() {
            CaError::Unreachable {
                ca: self.ca(),
                url: url.to_owned(),
                reason: format!("HTTP {status}: {}", problem.detail),
            }
        } else if status.as_u16() == 429 {
            CaError::RateLimited {
                ca: self.ca(),
                detail: problem.detail,
                retry_after: self::http::retry_after(parts).or_else(|| {
                    calls
                        .iter()
                        .rev()
                        .find_map(|c| c.retry_after_secs)
                        .map(Duration::from_secs)
                }),
            }
        } else {
            CaError::Rejected {
                ca: self.ca(),
                problem: Box::new(problem),
            }
        }
    }

    async fn fetch_directory(&self) -> Result<(DirectoryInfo, Option<String>), CaError> {
        #[derive(Deserialize, Default)]
        #[serde(rename_all = "camelCase")]
        struct Meta {
            terms_of_service: Option<String>,
            website: Option<String>,
            #[serde(default)]
            caa_identities: Vec<String>,
            #[serde(default)]
            external_account_required: bool,
            #[serde(default)]
            profiles: BTreeMap<String, String>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Dir {
            #[expect(
                dead_code,
                reason = "required member: proves the document is a directory"
            )]
            new_order: String,
            renewal_info: Option<String>,
            #[serde(default)]
            meta: Meta,
        }
        let url = &self.config.directory_url;
        let (parts, body) = self
            .http
            .get(url)
            .await
            .map_err(|e| self.exchange_err(e, url))?;
        if !parts.status.is_success() {
            return Err(CaError::Unreachable {
                ca: self.ca(),
                url: url.clone(),
                reason: format!("HTTP {}", parts.status),
            });
        }
        let dir: Dir = serde_json::from_slice(&body).map_err(|e| CaError::Protocol {
            ca: self.ca(),
            detail: format!("`{url}` is not an ACME directory: {e}"),
        })?;
        let info = DirectoryInfo {
            url: url.clone(),
            profiles: dir.meta.profiles,
            renewal_info: dir.renewal_info.is_some(),
            external_account_required: dir.meta.external_account_required,
            terms_of_service: dir.meta.terms_of_service,
            caa_identities: dir.meta.caa_identities,
            website: dir.meta.website,
        };
        Ok((info, dir.renewal_info))
    }
}

/// A bare HTTPS client trusting `roots`, for the test harness.
#[cfg(feature = "testing")]
pub(crate) fn test_http(roots: Vec<CertificateDer<'static>>) -> Result<AcmeHttp, rustls::Error> {
    AcmeHttp::new(Some(roots), Duration::from_secs(5), 4)
}

fn is_bad_nonce(e: &instant_acme::Error) -> bool {
    matches!(e, instant_acme::Error::Api(p)
        if p.r#type.as_deref() == Some("urn:ietf:params:acme:error:badNonce"))
}

/// Runs an idempotent step again when the CA rejected a nonce after instant-acme's own three
/// tries (RFC 8555 §6.5: such a request is not processed). Pebble rejects 5% of nonces.
async fn nonce_retry<T, F, Fut>(f: F) -> Result<T, instant_acme::Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, instant_acme::Error>>,
{
    let mut tries = 0;
    loop {
        match f().await {
            Err(e) if is_bad_nonce(&e) && tries < 3 => {
                tries += 1;
                tracing::debug!(tries, "bad nonce; trying the step again");
            }
            other => return other,
        }
    }
}

fn retry_policy(p: &PollPolicy) -> RetryPolicy {
    RetryPolicy::new()
        .initial_delay(p.initial_delay)
        .backoff(p.backoff.max(1.0))
        .timeout(p.timeout)
}

fn problem_from(p: &instant_acme::Problem) -> CaProblem {
    CaProblem {
        kind: p.r#type.clone(),
        detail: p.detail.clone().unwrap_or_else(|| "no detail given".into()),
        identifier: None,
        subproblems: p
            .subproblems
            .iter()
            .map(|s| CaProblem {
                kind: s.r#type.clone(),
                detail: s.detail.clone().unwrap_or_default(),
                identifier: s
                    .identifier
                    .as_ref()
                    .map(|i| i.authorized(false).to_string()),
                subproblems: vec![],
            })
            .collect(),
    }
}

fn order_status(s: instant_acme::OrderStatus) -> OrderStatus {
    match s {
        instant_acme::OrderStatus::Pending => OrderStatus::Pending,
        instant_acme::OrderStatus::Ready => OrderStatus::Ready,
        instant_acme::OrderStatus::Processing => OrderStatus::Processing,
        instant_acme::OrderStatus::Valid => OrderStatus::Valid,
        instant_acme::OrderStatus::Invalid => OrderStatus::Invalid,
    }
}

fn authz_status(s: instant_acme::AuthorizationStatus) -> AuthorizationStatus {
    use instant_acme::AuthorizationStatus as A;
    match s {
        A::Pending => AuthorizationStatus::Pending,
        A::Valid => AuthorizationStatus::Valid,
        A::Invalid => AuthorizationStatus::Invalid,
        A::Revoked => AuthorizationStatus::Revoked,
        A::Expired => AuthorizationStatus::Expired,
        A::Deactivated => AuthorizationStatus::Deactivated,
    }
}

fn challenge_view(
    c: &instant_acme::Challenge,
    identifier: &str,
    wildcard: bool,
    thumbprint: &str,
) -> Option<Challenge> {
    let key_authorization = format!("{}.{thumbprint}", c.token);
    let digest = Sha256::digest(key_authorization.as_bytes());
    let base = identifier.strip_prefix("*.").unwrap_or(identifier);
    let (method, publication) = match c.r#type {
        ChallengeType::Http01 if !wildcard => (
            ValidationMethod::Http01,
            Publication::Http01 {
                token: c.token.clone(),
                path: format!("/.well-known/acme-challenge/{}", c.token),
                key_authorization,
            },
        ),
        ChallengeType::Dns01 => (
            ValidationMethod::Dns01,
            Publication::Dns01 {
                record_name: format!("_acme-challenge.{base}"),
                value: URL_SAFE_NO_PAD.encode(digest),
            },
        ),
        ChallengeType::TlsAlpn01 if !wildcard => (
            ValidationMethod::TlsAlpn01,
            Publication::TlsAlpn01 {
                digest_hex: hex::encode(digest),
            },
        ),
        _ => return None,
    };
    let status = match c.status {
        instant_acme::ChallengeStatus::Pending => ChallengeStatus::Pending,
        instant_acme::ChallengeStatus::Processing => ChallengeStatus::Processing,
        instant_acme::ChallengeStatus::Valid => ChallengeStatus::Valid,
        instant_acme::ChallengeStatus::Invalid => ChallengeStatus::Invalid,
    };
    Some(Challenge {
        url: c.url.clone(),
        method,
        status,
        publication,
        error: c.error.as_ref().map(problem_from),
    })
}

fn decode_hmac_key(key: &SecretString) -> Result<Vec<u8>, CaError> {
    let k = key.expose().trim();
    URL_SAFE_NO_PAD
        .decode(k)
        .or_else(|_| URL_SAFE.decode(k))
        .or_else(|_| STANDARD.decode(k))
        .ok()
        .filter(|k| !k.is_empty())
        .ok_or(CaError::BadExternalAccountKey)
}

fn certificate_identifier(ari_id: &str) -> Option<CertificateIdentifier<'static>> {
    let (aki, serial) = ari_id.split_once('.')?;
    if aki.is_empty() || serial.is_empty() || serial.contains('.') {
        return None;
    }
    Some(CertificateIdentifier {
        authority_key_identifier: Cow::Owned(aki.to_owned()),
        serial: Cow::Owned(serial.to_owned()),
    })
}

#[async_trait]
impl CertificateAuthority for AcmeAuthority {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn caa_identities(&self) -> Vec<String> {
        self.config.caa_identities.clone()
    }

    fn validation_methods(&self) -> Vec<ValidationMethod> {
        self.config.validation_methods.clone()
    }

    #[tracing::instrument(skip_all, fields(ca = %self.config.name))]
    async fn health_check(&self) -> Result<HealthReport, CaError> {
        let started = Instant::now();
        let (directory, _) = self.fetch_directory().await?;
        Ok(HealthReport {
            ca: self.ca(),
            latency: started.elapsed(),
            directory: Some(directory),
        })
    }

    #[tracing::instrument(skip_all, fields(ca = %self.config.name))]
    async fn create_account(&self, request: &AccountRequest) -> Result<CaAccount, CaError> {
        let contacts: Vec<String> = request
            .contacts
            .iter()
            .map(|c| {
                if c.contains(':') {
                    c.clone()
                } else {
                    format!("mailto:{c}")
                }
            })
            .collect();
        let contact_refs: Vec<&str> = contacts.iter().map(String::as_str).collect();
        let eab = match request.eab.as_ref().or(self.config.eab.as_ref()) {
            Some(b) => Some(ExternalAccountKey::new(
                b.key_id.clone(),
                &decode_hmac_key(&b.hmac_key)?,
            )),
            None => None,
        };
        let new = NewAccount {
            contact: &contact_refs,
            terms_of_service_agreed: request.terms_of_service_agreed,
            only_return_existing: false,
        };
        let (new, eab) = (&new, eab.as_ref());
        let (res, calls) = with_calls(nonce_retry(move || async move {
            Account::builder_with_http(Box::new(self.http.clone()))
                .create(new, self.config.directory_url.clone(), eab)
                .await
        }))
        .await;
        let (acct, creds) = res.map_err(|e| self.map_err(e, &calls))?;
        let credentials = serde_json::to_string(&creds).map_err(|e| CaError::Protocol {
            ca: self.ca(),
            detail: format!("cannot serialise account credentials: {e}"),
        })?;
        let account = CaAccount {
            ca: self.ca(),
            url: acct.id().to_owned(),
            credentials: SecretString::new(credentials),
        };
        tracing::info!(account = %account.url, "ACME account ready");
        let key = panel1_core::crypto::sha256_hex(account.credentials.expose().as_bytes());
        if let Ok(mut m) = self.accounts.lock() {
            m.insert(key, acct);
        }
        Ok(account)
    }

    #[tracing::instrument(skip_all, fields(ca = %self.config.name, names = %request.identifiers))]
    async fn new_order(
        &self,
        account: &CaAccount,
        request: &OrderRequest,
    ) -> Result<Order, CaError> {
        if request.validation_level != ValidationLevel::Dv {
            return Err(CaError::NotSupported {
                ca: self.ca(),
                capability: "OV/EV certificates (ACME issues domain-validated certificates only; use a commercial order API)".into(),
            });
        }
        let acct = self.account(account).await?;
        self.order_slot().await?;
        let ids: Vec<Identifier> = request
            .identifiers
            .iter()
            .map(|n| Identifier::Dns(n.to_owned()))
            .collect();
        let profile = request
            .profile
            .as_deref()
            .or(self.config.default_profile.as_deref());
        let mut new = NewOrder::new(&ids);
        if let Some(p) = profile {
            new = new.profile(p);
        }
        if let Some(r) = &request.replaces {
            let id = certificate_identifier(r).ok_or_else(|| CaError::Protocol {
                ca: self.ca(),
                detail: format!("`{r}` is not an RFC 9773 certificate identifier"),
            })?;
            new = new.replaces(id);
        }
        let (acct, new) = (&acct, &new);
        let (res, calls) = with_calls(async {
            // The creation alone is retried on a bad nonce (such a request is never
            // processed); a read that fails after it re-reads the order, never re-creates it.
            let mut order = nonce_retry(move || async move { acct.new_order(new).await }).await?;
            match self.view(acct, &mut order).await {
                Err(e) if is_bad_nonce(&e) => {
                    let url = order.url().to_owned();
                    self.load_view(acct, &url).await
                }
                other => other,
            }
        })
        .await;
        let order = res.map_err(|e| self.map_err(e, &calls))?;
        tracing::info!(order = %order.url, status = ?order.status, "ACME order placed");
        Ok(order)
    }

    #[tracing::instrument(skip_all, fields(ca = %self.config.name, order = %order_url))]
    async fn order(&self, account: &CaAccount, order_url: &str) -> Result<Order, CaError> {
        let acct = self.account(account).await?;
        let (res, calls) = with_calls(self.load_view(&acct, order_url)).await;
        res.map_err(|e| self.map_err(e, &calls))
    }

    #[tracing::instrument(skip_all, fields(ca = %self.config.name, order = %order_url))]
    async fn ready(
        &self,
        account: &CaAccount,
        order_url: &str,
        challenge_urls: &[String],
    ) -> Result<(), CaError> {
        let acct = self.account(account).await?;
        let acct = &acct;
        let (res, calls) = with_calls(nonce_retry(move || async move {
            let mut order = acct.order(order_url.to_owned()).await?;
            let mut found = 0usize;
            let mut it = order.authorizations();
            while let Some(a) = it.next().await {
                let mut a = a?;
                let Some(kind) = a
                    .challenges
                    .iter()
                    .find(|c| challenge_urls.contains(&c.url))
                    .map(|c| (c.r#type.clone(), c.status))
                else {
                    continue;
                };
                found += 1;
                // Only a pending challenge is told: telling a processing or valid one again
                // (a resumed job) is pointless, and an invalid one needs a new order.
                if kind.1 == instant_acme::ChallengeStatus::Pending
                    && let Some(mut c) = a.challenge(kind.0)
                {
                    c.set_ready().await?;
                }
            }
            Ok::<_, instant_acme::Error>(found)
        }))
        .await;
        let found = res.map_err(|e| self.map_err(e, &calls))?;
        if found < challenge_urls.len() {
            return Err(CaError::Protocol {
                ca: self.ca(),
                detail: format!(
                    "{} of the challenges are not part of order {order_url}",
                    challenge_urls.len() - found
                ),
            });
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(ca = %self.config.name, order = %order_url))]
    async fn poll_ready(
        &self,
        account: &CaAccount,
        order_url: &str,
        policy: &PollPolicy,
    ) -> Result<Order, CaError> {
        let acct = self.account(account).await?;
        let started = Instant::now();
        let acct = &acct;
        let (res, calls) = with_calls(nonce_retry(move || async move {
            let mut order = acct.order(order_url.to_owned()).await?;
            let mut failure = None;
            if order.state().status == instant_acme::OrderStatus::Pending {
                match order.poll_ready(&retry_policy(policy)).await {
                    Ok(_) => {}
                    // Either the order carries an error, or the request itself failed:
                    // only the order's state tells them apart.
                    Err(instant_acme::Error::Api(p)) => {
                        let state = order.refresh().await?;
                        if state.status != instant_acme::OrderStatus::Invalid
                            && state.error.is_none()
                        {
                            return Err(instant_acme::Error::Api(p));
                        }
                        failure = Some(problem_from(&p));
                    }
                    Err(e) => return Err(e),
                }
            }
            if failure.is_some() || order.state().status == instant_acme::OrderStatus::Invalid {
                // Fresh authorizations carry the per-name errors.
                order.refresh().await?;
                let problem = self.invalid_problem(acct, &mut order, failure).await;
                return Ok(Err(problem));
            }
            self.view(acct, &mut order).await.map(Ok)
        }))
        .await;
        match res {
            Ok(Ok(order)) => Ok(order),
            Ok(Err(problem)) => {
                tracing::warn!(%problem, "ACME order invalid");
                Err(CaError::OrderInvalid {
                    ca: self.ca(),
                    order_url: order_url.to_owned(),
                    problem: Box::new(problem),
                })
            }
            Err(instant_acme::Error::Timeout(next)) => Err(CaError::Timeout {
                ca: self.ca(),
                what: "validate the order",
                waited: started.elapsed(),
                retry_after: next.map(|n| n.saturating_duration_since(Instant::now())),
            }),
            Err(e) => Err(self.map_err(e, &calls)),
        }
    }

    #[tracing::instrument(skip_all, fields(ca = %self.config.name, order = %order_url))]
    async fn finalize(
        &self,
        account: &CaAccount,
        order_url: &str,
        csr: &Csr,
    ) -> Result<Order, CaError> {
        let acct = self.account(account).await?;
        let acct = &acct;
        let (res, calls) = with_calls(nonce_retry(move || async move {
            let mut order = acct.order(order_url.to_owned()).await?;
            // A resumed job may have finalized already: only a ready order takes a CSR.
            if order.state().status == instant_acme::OrderStatus::Ready {
                order.finalize_csr(&csr.der).await?;
            }
            self.view(acct, &mut order).await
        }))
        .await;
        let order = res.map_err(|e| self.map_err(e, &calls))?;
        match order.status {
            OrderStatus::Processing | OrderStatus::Valid => Ok(order),
            OrderStatus::Invalid => Err(CaError::OrderInvalid {
                ca: self.ca(),
                order_url: order_url.to_owned(),
                problem: Box::new(
                    order
                        .error
                        .unwrap_or_else(|| CaProblem::new("the CA rejected the CSR")),
                ),
            }),
            other => Err(CaError::Protocol {
                ca: self.ca(),
                detail: format!(
                    "order {order_url} is {other:?}, not ready: complete its challenges first"
                ),
            }),
        }
    }

    #[tracing::instrument(skip_all, fields(ca = %self.config.name, order = %order_url))]
    async fn certificate(
        &self,
        account: &CaAccount,
        order_url: &str,
        policy: &PollPolicy,
    ) -> Result<CertificateChain, CaError> {
        let acct = self.account(account).await?;
        let started = Instant::now();
        let acct = &acct;
        let (res, calls) = with_calls(nonce_retry(move || async move {
            let mut order = acct.order(order_url.to_owned()).await?;
            let status = order.state().status;
            match status {
                instant_acme::OrderStatus::Valid => {
                    order.certificate().await.map(|c| Ok(c.unwrap_or_default()))
                }
                instant_acme::OrderStatus::Processing => {
                    order.poll_certificate(&retry_policy(policy)).await.map(Ok)
                }
                other => Ok(Err(other)),
            }
        }))
        .await;
        let pem = match res {
            Ok(Ok(pem)) => pem,
            Ok(Err(instant_acme::OrderStatus::Invalid)) => {
                return Err(CaError::OrderInvalid {
                    ca: self.ca(),
                    order_url: order_url.to_owned(),
                    problem: Box::new(CaProblem::new(
                        "the order is invalid; no certificate was issued",
                    )),
                });
            }
            Ok(Err(other)) => {
                return Err(CaError::Protocol {
                    ca: self.ca(),
                    detail: format!(
                        "order {order_url} is {other:?}: finalize it before fetching the certificate"
                    ),
                });
            }
            Err(instant_acme::Error::Timeout(next)) => {
                return Err(CaError::Timeout {
                    ca: self.ca(),
                    what: "issue the certificate",
                    waited: started.elapsed(),
                    retry_after: next.map(|n| n.saturating_duration_since(Instant::now())),
                });
            }
            Err(e) => return Err(self.map_err(e, &calls)),
        };
        let chain = CertificateChain::from_pem(&pem)?;
        tracing::info!(serial = %chain.leaf.serial_hex, not_after = %chain.leaf.not_after, "certificate downloaded");
        Ok(chain)
    }

    #[tracing::instrument(skip_all, fields(ca = %self.config.name))]
    async fn revoke(
        &self,
        account: &CaAccount,
        certificate_der: &[u8],
        reason: RevocationReason,
    ) -> Result<(), CaError> {
        let acct = self.account(account).await?;
        let reason = match reason {
            RevocationReason::Unspecified => instant_acme::RevocationReason::Unspecified,
            RevocationReason::KeyCompromise => instant_acme::RevocationReason::KeyCompromise,
            RevocationReason::AffiliationChanged => {
                instant_acme::RevocationReason::AffiliationChanged
            }
            RevocationReason::Superseded => instant_acme::RevocationReason::Superseded,
            RevocationReason::CessationOfOperation => {
                instant_acme::RevocationReason::CessationOfOperation
            }
        };
        let der = CertificateDer::from(certificate_der);
        let (acct, der, reason) = (&acct, &der, &reason);
        let (res, calls) = with_calls(nonce_retry(move || async move {
            acct.revoke(&instant_acme::RevocationRequest {
                certificate: der,
                reason: Some(reason.clone()),
            })
            .await
        }))
        .await;
        res.map_err(|e| self.map_err(e, &calls))?;
        tracing::info!("certificate revoked");
        Ok(())
    }

    /// RFC 9773 §4: an unauthenticated GET of `{renewalInfo}/{certificate id}`. A missing or
    /// unreadable `Retry-After` means six hours; any value is kept within a minute and a
    /// day, so a CA cannot make the platform poll in a loop or forget a certificate.
    #[tracing::instrument(skip_all, fields(ca = %self.config.name, serial = %certificate.serial_hex))]
    async fn renewal_info(
        &self,
        _account: &CaAccount,
        certificate: &CertificateInfo,
    ) -> Result<RenewalInfo, CaError> {
        let id = certificate
            .ari_id
            .as_deref()
            .and_then(certificate_identifier)
            .ok_or_else(|| CaError::NotSupported {
                ca: self.ca(),
                capability:
                    "renewal information for a certificate without an authority key identifier"
                        .into(),
            })?;
        let (_, base) = self.cached_directory().await?;
        let base = base.ok_or_else(|| CaError::NotSupported {
            ca: self.ca(),
            capability: "ACME renewal information (RFC 9773)".into(),
        })?;
        let url = format!("{}/{id}", base.trim_end_matches('/'));
        let (res, calls) = with_calls(self.http.get(&url)).await;
        let (parts, body) = res.map_err(|e| self.exchange_err(e, &url))?;
        if !parts.status.is_success() {
            return Err(self.status_err(&parts, &body, &url, &calls));
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Window {
            start: chrono::DateTime<chrono::Utc>,
            end: chrono::DateTime<chrono::Utc>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Info {
            suggested_window: Window,
            #[serde(rename = "explanationURL")]
            explanation_url: Option<String>,
        }
        let info: Info = serde_json::from_slice(&body).map_err(|e| CaError::Protocol {
            ca: self.ca(),
            detail: format!("the renewal information at {url} is not RFC 9773 JSON: {e}"),
        })?;
        if info.suggested_window.end <= info.suggested_window.start {
            return Err(CaError::Protocol {
                ca: self.ca(),
                detail: format!("the renewal window at {url} ends before it starts"),
            });
        }
        let retry_after = self::http::retry_after(&parts)
            .unwrap_or(ARI_DEFAULT_RETRY)
            .clamp(Duration::from_secs(60), Duration::from_secs(24 * 3600));
        Ok(RenewalInfo {
            window: RenewalWindow {
                start: info.suggested_window.start,
                end: info.suggested_window.end,
            },
            explanation_url: info.explanation_url,
            retry_after,
        })
    }

    async fn directory(&self) -> Result<DirectoryInfo, CaError> {
        Ok(self.fetch_directory().await?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eab_keys_decode_in_the_forms_cas_hand_out() {
        let raw = b"\xfb\xff\x01hmac-key";
        for text in [
            URL_SAFE_NO_PAD.encode(raw),
            URL_SAFE.encode(raw),
            STANDARD.encode(raw),
        ] {
            assert_eq!(decode_hmac_key(&SecretString::new(text)).unwrap(), raw);
        }
        assert!(matches!(
            decode_hmac_key(&SecretString::new("not base64 !")),
            Err(CaError::BadExternalAccountKey)
        ));
    }

    #[test]
    fn ari_identifiers_split_into_their_parts() {
        let id = certificate_identifier("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE").unwrap();
        assert_eq!(id.authority_key_identifier, "aYhba4dGQEHhs3uEe6CuLN4ByNQ");
        assert_eq!(id.serial, "AIdlQyE");
        assert_eq!(id.to_string(), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
        for bad in ["", "abc", ".x", "x.", "a.b.c"] {
            assert!(certificate_identifier(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn presets_know_their_caa_identities() {
        assert_eq!(
            AcmeConfig::lets_encrypt().caa_identities,
            ["letsencrypt.org"]
        );
        let eab = ExternalAccountBinding {
            key_id: "kid".into(),
            hmac_key: SecretString::new("a2V5"),
        };
        assert!(
            AcmeConfig::zerossl(eab.clone())
                .caa_identities
                .contains(&"sectigo.com".to_owned())
        );
        assert_eq!(
            AcmeConfig::google_trust_services(eab).caa_identities,
            ["pki.goog"]
        );
        let parsed: AcmeConfig = serde_json::from_str(
            r#"{"name":"x","directory_url":"https://ca/dir","eab":{"key_id":"k","hmac_key":"c2VjcmV0"}}"#,
        )
        .unwrap();
        assert_eq!(parsed.max_in_flight, 16);
        assert!(!format!("{parsed:?}").contains("c2VjcmV0"));
    }

    #[test]
    fn challenge_views_compute_what_to_publish() {
        let c: instant_acme::Challenge = serde_json::from_str(
            r#"{"type":"dns-01","url":"https://ca/c/1","token":"tok","status":"pending"}"#,
        )
        .unwrap();
        let v = challenge_view(&c, "*.example.com", true, "thumb").unwrap();
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(b"tok.thumb"));
        assert_eq!(
            v.publication,
            Publication::Dns01 {
                record_name: "_acme-challenge.example.com".into(),
                value: expected
            }
        );
        let h: instant_acme::Challenge = serde_json::from_str(
            r#"{"type":"http-01","url":"https://ca/c/2","token":"tok","status":"valid"}"#,
        )
        .unwrap();
        assert!(challenge_view(&h, "*.example.com", true, "thumb").is_none());
        let v = challenge_view(&h, "example.com", false, "thumb").unwrap();
        assert_eq!(v.status, ChallengeStatus::Valid);
        assert_eq!(
            v.publication,
            Publication::Http01 {
                token: "tok".into(),
                path: "/.well-known/acme-challenge/tok".into(),
                key_authorization: "tok.thumb".into()
            }
        );
    }
}
