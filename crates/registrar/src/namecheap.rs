//! Namecheap's XML API (`https://api.namecheap.com/xml.response`, and the sandbox at
//! `https://api.sandbox.namecheap.com/xml.response`).
//!
//! Every call is a POST of form parameters: the global `ApiUser`, `ApiKey`, `UserName`,
//! `ClientIp` and `Command`, then the command's own. The answer is an `<ApiResponse
//! Status="OK|ERROR">` document; errors carry a number that [`map_error`] sorts into
//! [`FailureKind`]s.
//!
//! | operation | commands |
//! |---|---|
//! | check | `namecheap.domains.check` |
//! | register | `namecheap.domains.create`, then `getInfo` for the registrar's expiry |
//! | renew | `namecheap.domains.renew` |
//! | info | `namecheap.domains.getInfo`, `getRegistrarLock`, `domains.dns.getList`, `getContacts` |
//! | update nameservers | `namecheap.domains.dns.setCustom` |
//! | update contacts | `namecheap.domains.setContacts` |
//! | lock | `namecheap.domains.setRegistrarLock` |
//! | privacy | `namecheap.whoisguard.enable` / `disable` (the id comes from `getInfo`) |
//! | transfer | `namecheap.domains.transfer.create`, `transfer.getStatus` (`transfer.getList` finds the id) |
//! | restore | `namecheap.domains.reactivate` |
//! | list | `namecheap.domains.getList` |
//! | health | `namecheap.users.getBalances` |
//!
//! Namecheap has no idempotency parameter: the key is logged with each call, and the
//! caller's ask-before-retry rule is what prevents doubles. Namecheap gives no EPP statuses;
//! the lock is reported as `clientTransferProhibited`. It has no API for the auth code or
//! for a registry hold: those answer "not supported".

use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use panel1_core::SecretString;
use panel1_core::contact::{Contact, ContactData, DomainContacts};
use panel1_core::domain_lifecycle::EppStatus;
use panel1_core::domain_name::DomainName;
use serde::Deserialize;

use crate::error::{FailureKind, RegistrarError};
use crate::registrar::Registrar;
use crate::types::*;

const KIND: &str = "namecheap";
pub const PRODUCTION_ENDPOINT: &str = "https://api.namecheap.com/xml.response";
pub const SANDBOX_ENDPOINT: &str = "https://api.sandbox.namecheap.com/xml.response";

/// Settings of a Namecheap account.
#[derive(Debug, Clone, Deserialize)]
pub struct NamecheapConfig {
    pub api_user: String,
    pub api_key: SecretString,
    /// The account acted on; defaults to `api_user`.
    #[serde(default)]
    pub username: Option<String>,
    /// This server's public IPv4 address, as whitelisted at Namecheap.
    pub client_ip: String,
    /// Use Namecheap's sandbox (`api.sandbox.namecheap.com`).
    #[serde(default)]
    pub sandbox: bool,
    /// Overrides the endpoint (tests, proxies).
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_timeout() -> u64 {
    60
}

impl NamecheapConfig {
    pub fn endpoint(&self) -> &str {
        match &self.endpoint {
            Some(e) => e,
            None if self.sandbox => SANDBOX_ENDPOINT,
            None => PRODUCTION_ENDPOINT,
        }
    }
}

/// The Namecheap adapter.
pub struct Namecheap {
    config: NamecheapConfig,
    http: reqwest::Client,
    redactor: Redactor,
}

impl std::fmt::Debug for Namecheap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namecheap")
            .field("api_user", &self.config.api_user)
            .field("endpoint", &self.config.endpoint())
            .finish_non_exhaustive()
    }
}

/// A parsed `<ApiResponse Status="OK">`.
struct Answer {
    text: String,
}

impl Answer {
    fn doc(&self) -> roxmltree::Document<'_> {
        // Parsed once already in `call`; cannot fail here.
        roxmltree::Document::parse(&self.text).unwrap_or_else(|_| {
            roxmltree::Document::parse("<ApiResponse/>").expect("constant XML parses")
        })
    }
}

fn find<'a, 'i>(doc: &'a roxmltree::Document<'i>, tag: &str) -> Option<roxmltree::Node<'a, 'i>> {
    doc.descendants().find(|n| n.has_tag_name(tag))
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, tag: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|n| n.has_tag_name(tag))
}

fn text_of(node: Option<roxmltree::Node<'_, '_>>) -> Option<String> {
    node.and_then(|n| n.text())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn attr_bool(node: roxmltree::Node<'_, '_>, name: &str) -> Option<bool> {
    node.attribute(name)
        .map(|v| v.eq_ignore_ascii_case("true") || v == "1" || v.eq_ignore_ascii_case("yes"))
}

/// Namecheap writes dates as `MM/DD/YYYY`, sometimes with a time (`4/30/2021 11:31:13 AM`).
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%m/%d/%Y %I:%M:%S %p") {
        return Some(t.date().and_hms_opt(0, 0, 0)?.and_utc());
    }
    NaiveDate::parse_from_str(s, "%m/%d/%Y")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Sorts a Namecheap error number (and message) into a failure kind, or says the call must
/// be retried or its outcome is unknown. `mutating` says whether the command changes
/// something (an unknown provider error on a mutation may have been applied).
pub fn map_error(
    operation: &'static str,
    command: &str,
    number: &str,
    message: &str,
    mutating: bool,
) -> RegistrarError {
    let m = message.to_ascii_lowercase();
    let failed = |kind| RegistrarError::failed(KIND, operation, kind, number, message);
    if number == "500000" || m.contains("too many requests") {
        return RegistrarError::retryable(
            KIND,
            operation,
            format!("rate limited: {message} (error {number})"),
            Some(Duration::from_secs(60)),
        );
    }
    if m.contains("insufficient") || m.contains("not enough funds") || m.contains("balance") {
        return failed(FailureKind::InsufficientFunds);
    }
    let kind = match number {
        // Global authentication errors: API user, key, user name, client IP.
        "1010101" | "1010102" | "1011102" | "1011150" | "1017150" | "1017105" | "1017101"
        | "1019103" | "1016103" | "1017103" | "1017410" | "1017411" | "2033409" => {
            FailureKind::Authentication
        }
        "2030280" | "2011280" => FailureKind::UnsupportedTld,
        "2019166" | "3019166" | "4019166" if command == "namecheap.domains.create" => {
            FailureKind::NotAvailable
        }
        "2019166" | "2016166" | "3019510" | "4011103" | "2019329" | "4019329" | "2011331" => {
            FailureKind::NotFound
        }
        "2020166" => FailureKind::NotEligible,
        "2515610" | "2515623" => FailureKind::PremiumPriceRequired,
        "2011166" | "2030166" | "2015182" | "2015167" | "2011170" | "2011168" | "2010323"
        | "2015267" | "2011322" | "2005" => FailureKind::InvalidInput,
        n if n.starts_with("1010") || n.starts_with("1011") => FailureKind::InvalidInput,
        // Provider and unknown errors (3xxxxxx, 5xxxxxx): the order may or may not exist.
        n if n.starts_with('3') || n.starts_with('5') => {
            return if mutating {
                RegistrarError::unknown(
                    KIND,
                    operation,
                    format!("Namecheap answered error {number}: {message}"),
                )
            } else {
                RegistrarError::retryable(
                    KIND,
                    operation,
                    format!("Namecheap answered error {number}: {message}"),
                    None,
                )
            };
        }
        _ if m.contains("not available") || m.contains("already registered") => {
            FailureKind::NotAvailable
        }
        _ if m.contains("not found") || m.contains("not associated") => FailureKind::NotFound,
        _ => FailureKind::Other,
    };
    failed(kind)
}

fn split(name: &DomainName) -> (String, String) {
    (
        name.sld().unwrap_or(name.as_ascii()).to_owned(),
        name.public_suffix().to_owned(),
    )
}

/// Picks one role's contact out of the four.
type RolePick = fn(&DomainContacts<Contact>) -> &Contact;

const ROLES: [(&str, RolePick); 4] = [
    ("Registrant", |c| &c.registrant),
    ("Tech", |c| &c.tech),
    ("Admin", |c| &c.admin),
    ("AuxBilling", |c| &c.billing),
];

fn contact_params(contacts: &DomainContacts<Contact>) -> Vec<(String, String)> {
    let mut p = Vec::new();
    for (role, get) in ROLES {
        let c = get(contacts).data();
        let mut push = |field: &str, v: &str| p.push((format!("{role}{field}"), v.to_owned()));
        push("FirstName", &c.first_name);
        push("LastName", &c.last_name);
        if let Some(o) = &c.organization {
            push("OrganizationName", o);
        }
        push("Address1", &c.address1);
        if let Some(a) = &c.address2 {
            push("Address2", a);
        }
        push("City", &c.city);
        push("StateProvince", c.state_province.as_deref().unwrap_or("NA"));
        push("PostalCode", c.postal_code.as_deref().unwrap_or("NA"));
        push("Country", &c.country);
        push("Phone", &c.phone);
        if let Some(f) = &c.fax {
            push("Fax", f);
        }
        push("EmailAddress", &c.email);
    }
    p
}

fn parse_contact(node: roxmltree::Node<'_, '_>) -> ContactData {
    let t = |tag: &str| text_of(child(node, tag));
    ContactData {
        first_name: t("FirstName").unwrap_or_default(),
        last_name: t("LastName").unwrap_or_default(),
        organization: t("OrganizationName"),
        email: t("EmailAddress").unwrap_or_default(),
        phone: t("Phone").unwrap_or_default(),
        fax: t("Fax"),
        address1: t("Address1").unwrap_or_default(),
        address2: t("Address2"),
        city: t("City").unwrap_or_default(),
        state_province: t("StateProvince"),
        postal_code: t("PostalCode"),
        country: t("Country").unwrap_or_default(),
    }
}

fn transfer_state(status_id: &str, status: &str) -> TransferState {
    let s = status.to_ascii_lowercase();
    if status_id == "5" || s.contains("completed") || s.contains("transferred and paid") {
        TransferState::Completed
    } else if s.contains("reject") {
        TransferState::Rejected
    } else if s.contains("cancel") || s.contains("fail") {
        TransferState::Cancelled
    } else {
        TransferState::Pending
    }
}

impl Namecheap {
    pub fn new(config: NamecheapConfig) -> Result<Self, RegistrarError> {
        if config.api_user.trim().is_empty() || config.api_key.is_empty() {
            return Err(RegistrarError::config(
                KIND,
                "api_user and api_key are required (Profile → Tools → API Access at Namecheap)",
            ));
        }
        if config.client_ip.parse::<std::net::Ipv4Addr>().is_err() {
            return Err(RegistrarError::config(
                KIND,
                format!(
                    "client_ip must be this server's whitelisted IPv4 address, not `{}`",
                    config.client_ip
                ),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs.max(1)))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| RegistrarError::config(KIND, format!("HTTP client: {e}")))?;
        let redactor = Redactor::new().with(&config.api_key);
        Ok(Self {
            config,
            http,
            redactor,
        })
    }

    /// Sends one command; answers the OK document, or the mapped error. Every exchange,
    /// redacted, goes into the transcript.
    async fn call(
        &self,
        operation: &'static str,
        command: &str,
        params: Vec<(String, String)>,
        mutating: bool,
        extra_secret: Option<&SecretString>,
        transcript: &mut Transcript,
    ) -> Result<Answer, RegistrarError> {
        let username = self
            .config
            .username
            .clone()
            .unwrap_or_else(|| self.config.api_user.clone());
        let mut form: Vec<(String, String)> = vec![
            ("ApiUser".into(), self.config.api_user.clone()),
            ("ApiKey".into(), self.config.api_key.expose().to_owned()),
            ("UserName".into(), username),
            ("ClientIp".into(), self.config.client_ip.clone()),
            ("Command".into(), command.to_owned()),
        ];
        form.extend(params);
        let mut redactor = self.redactor.clone();
        if let Some(s) = extra_secret {
            redactor.add(s);
        }
        let shown: Vec<String> = form
            .iter()
            .map(|(k, v)| {
                if k == "ApiKey" || k == "EPPCode" {
                    format!("{k}=***")
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        let request_text = redactor.redact(&format!(
            "POST {}\n{}",
            self.config.endpoint(),
            shown.join("&")
        ));
        let started = Instant::now();
        let sent = self
            .http
            .post(self.config.endpoint())
            .form(&form)
            .send()
            .await;
        let (status, body, retry_after) = match sent {
            Ok(resp) => {
                let status = resp.status();
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                match resp.text().await {
                    Ok(b) => (status, b, retry_after),
                    Err(e) => {
                        transcript.push(Exchange {
                            command: command.to_owned(),
                            request: request_text,
                            response: None,
                            duration: started.elapsed(),
                        });
                        return Err(self.transport_error(operation, &e, mutating));
                    }
                }
            }
            Err(e) => {
                transcript.push(Exchange {
                    command: command.to_owned(),
                    request: request_text,
                    response: None,
                    duration: started.elapsed(),
                });
                return Err(self.transport_error(operation, &e, mutating));
            }
        };
        transcript.push(Exchange {
            command: command.to_owned(),
            request: request_text,
            response: Some(redactor.redact(&format!("HTTP {}\n{}", status.as_u16(), body))),
            duration: started.elapsed(),
        });
        tracing::debug!(
            registrar = KIND,
            command,
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "namecheap call answered"
        );
        if status.as_u16() == 429 || status.as_u16() == 503 {
            return Err(RegistrarError::retryable(
                KIND,
                operation,
                format!("Namecheap answered HTTP {}", status.as_u16()),
                retry_after.or(Some(Duration::from_secs(60))),
            ));
        }
        if status.is_server_error() {
            let reason = format!("Namecheap answered HTTP {}", status.as_u16());
            return Err(if mutating {
                RegistrarError::unknown(KIND, operation, reason)
            } else {
                RegistrarError::retryable(KIND, operation, reason, retry_after)
            });
        }
        let doc = match roxmltree::Document::parse(&body) {
            Ok(d) => d,
            Err(e) => {
                let reason = format!("the answer (HTTP {}) is not XML: {e}", status.as_u16());
                return Err(if mutating {
                    RegistrarError::unknown(KIND, operation, reason)
                } else {
                    RegistrarError::retryable(KIND, operation, reason, None)
                });
            }
        };
        let root = doc.root_element();
        let st = root.attribute("Status").unwrap_or("");
        if st.eq_ignore_ascii_case("OK") {
            return Ok(Answer { text: body.clone() });
        }
        let err = doc.descendants().find(|n| n.has_tag_name("Error"));
        let number = err.and_then(|e| e.attribute("Number")).unwrap_or("0");
        let message = err
            .and_then(|e| e.text())
            .map(str::trim)
            .unwrap_or("no message");
        Err(map_error(
            operation,
            command,
            number,
            &redactor.redact(message),
            mutating,
        ))
    }

    fn transport_error(
        &self,
        operation: &'static str,
        e: &reqwest::Error,
        mutating: bool,
    ) -> RegistrarError {
        // Only a failed connection proves the request never arrived.
        let reason = e.to_string();
        if e.is_connect() || !mutating {
            RegistrarError::retryable(KIND, operation, reason, None)
        } else {
            RegistrarError::unknown(KIND, operation, reason)
        }
    }

    async fn get_info_doc(
        &self,
        operation: &'static str,
        name: &DomainName,
        t: &mut Transcript,
    ) -> Result<Answer, RegistrarError> {
        self.call(
            operation,
            "namecheap.domains.getInfo",
            vec![("DomainName".into(), name.as_ascii().into())],
            false,
            None,
            t,
        )
        .await
    }

    async fn info_inner(
        &self,
        name: &DomainName,
        t: &mut Transcript,
    ) -> Result<DomainInfo, RegistrarError> {
        const OP: &str = "info";
        let a = self.get_info_doc(OP, name, t).await?;
        let doc = a.doc();
        let r = find(&doc, "DomainGetInfoResult")
            .ok_or_else(|| malformed(OP, "DomainGetInfoResult"))?;
        let in_account = attr_bool(r, "IsOwner").unwrap_or(true);
        let details = child(r, "DomainDetails");
        let created_at =
            text_of(details.and_then(|d| child(d, "CreatedDate"))).and_then(|s| parse_date(&s));
        let expires_at =
            text_of(details.and_then(|d| child(d, "ExpiredDate"))).and_then(|s| parse_date(&s));
        let wg = child(r, "Whoisguard");
        let privacy = wg.and_then(|w| attr_bool(w, "Enabled"));
        let status = r.attribute("Status").unwrap_or("").to_ascii_lowercase();
        let registry_id = r.attribute("ID").map(str::to_owned);
        if !in_account {
            return Ok(DomainInfo {
                name: name.clone(),
                in_account,
                created_at,
                expires_at,
                nameservers: vec![],
                locked: false,
                privacy: None,
                auto_renew: None,
                contacts: None,
                epp_statuses: vec![],
                rgp_statuses: vec![],
                registry_id,
            });
        }
        let lock = self
            .call(
                OP,
                "namecheap.domains.getRegistrarLock",
                vec![("DomainName".into(), name.as_ascii().into())],
                false,
                None,
                t,
            )
            .await?;
        let locked = find(&lock.doc(), "DomainGetRegistrarLockResult")
            .and_then(|n| attr_bool(n, "RegistrarLockStatus"))
            .unwrap_or(false);
        let (sld, tld) = split(name);
        let dns = self
            .call(
                OP,
                "namecheap.domains.dns.getList",
                vec![("SLD".into(), sld), ("TLD".into(), tld)],
                false,
                None,
                t,
            )
            .await?;
        let nameservers = dns
            .doc()
            .descendants()
            .filter(|n| n.has_tag_name("Nameserver"))
            .filter_map(|n| n.text().and_then(|s| DomainName::parse(s).ok()))
            .collect();
        let contacts_doc = self
            .call(
                OP,
                "namecheap.domains.getContacts",
                vec![("DomainName".into(), name.as_ascii().into())],
                false,
                None,
                t,
            )
            .await?;
        let cd = contacts_doc.doc();
        let contacts = find(&cd, "DomainContactsResult").and_then(|r| {
            Some(DomainContacts {
                registrant: parse_contact(child(r, "Registrant")?),
                admin: parse_contact(child(r, "Admin")?),
                tech: parse_contact(child(r, "Tech")?),
                billing: parse_contact(child(r, "AuxBilling")?),
            })
        });
        let mut epp = Vec::new();
        if locked {
            epp.push(EppStatus::ClientTransferProhibited);
        }
        if status.contains("hold") {
            epp.push(EppStatus::ClientHold);
        }
        if epp.is_empty() {
            epp.push(EppStatus::Ok);
        }
        Ok(DomainInfo {
            name: name.clone(),
            in_account,
            created_at,
            expires_at,
            nameservers,
            locked,
            privacy,
            auto_renew: None,
            contacts,
            epp_statuses: epp,
            rgp_statuses: vec![],
            registry_id,
        })
    }
}

fn malformed(op: &'static str, what: &str) -> RegistrarError {
    RegistrarError::retryable(KIND, op, format!("the answer has no {what} element"), None)
}

fn malformed_mut(op: &'static str, what: &str) -> RegistrarError {
    RegistrarError::unknown(KIND, op, format!("the answer has no {what} element"))
}

fn success(node: roxmltree::Node<'_, '_>, attr: &str) -> bool {
    attr_bool(node, attr).unwrap_or(false)
}

#[async_trait]
impl Registrar for Namecheap {
    fn kind(&self) -> &'static str {
        KIND
    }

    #[tracing::instrument(skip_all, fields(registrar = KIND, names = names.len()))]
    async fn check(&self, names: &[DomainName]) -> Reply<Vec<Availability>> {
        let mut t = Transcript::default();
        let list: Vec<&str> = names.iter().map(|n| n.as_ascii()).collect();
        let result = async {
            // Namecheap checks at most 50 names per call.
            let mut answers = Vec::new();
            for chunk in list.chunks(50) {
                answers.push(
                    self.call(
                        "check",
                        "namecheap.domains.check",
                        vec![("DomainList".into(), chunk.join(","))],
                        false,
                        None,
                        &mut t,
                    )
                    .await?,
                );
            }
            let docs: Vec<roxmltree::Document<'_>> = answers.iter().map(Answer::doc).collect();
            let mut out = Vec::new();
            for n in names {
                let r = docs.iter().flat_map(|d| d.descendants()).find(|x| {
                    x.has_tag_name("DomainCheckResult")
                        && x.attribute("Domain")
                            .is_some_and(|d| d.eq_ignore_ascii_case(n.as_ascii()))
                });
                let Some(r) = r else {
                    out.push(Availability {
                        name: n.clone(),
                        available: false,
                        premium: false,
                        price: None,
                        reason: Some("not answered".into()),
                    });
                    continue;
                };
                let premium = success(r, "IsPremiumName");
                let price = if premium {
                    r.attribute("PremiumRegistrationPrice")
                        .and_then(|p| Price::parse_decimal(p, "USD"))
                } else {
                    None
                };
                let description = r
                    .attribute("Description")
                    .filter(|d| !d.is_empty())
                    .map(str::to_owned);
                let available = success(r, "Available");
                out.push(Availability {
                    name: n.clone(),
                    available,
                    premium,
                    price,
                    reason: if available {
                        None
                    } else {
                        description.or_else(|| Some("not available".into()))
                    },
                });
            }
            Ok(out)
        }
        .await;
        Reply::new(result, t)
    }

    #[tracing::instrument(skip_all, fields(registrar = KIND, domain = %req.name, key = %key))]
    async fn register(&self, req: &RegisterRequest, key: &IdempotencyKey) -> Reply<Registered> {
        const OP: &str = "register";
        let mut t = Transcript::default();
        let result = async {
            let mut p: Vec<(String, String)> = vec![
                ("DomainName".into(), req.name.as_ascii().into()),
                ("Years".into(), req.years.to_string()),
            ];
            if !req.nameservers.is_empty() {
                p.push((
                    "Nameservers".into(),
                    req.nameservers
                        .iter()
                        .map(|n| n.as_ascii())
                        .collect::<Vec<_>>()
                        .join(","),
                ));
            }
            p.extend(contact_params(&req.contacts));
            p.push((
                "AddFreeWhoisguard".into(),
                if req.privacy { "yes" } else { "no" }.into(),
            ));
            p.push((
                "WGEnabled".into(),
                if req.privacy { "yes" } else { "no" }.into(),
            ));
            if let Some(pp) = &req.premium_price {
                p.push(("IsPremiumDomain".into(), "True".into()));
                p.push((
                    "PremiumPrice".into(),
                    format!("{}.{:02}", pp.minor / 100, pp.minor % 100),
                ));
            }
            let a = self
                .call(OP, "namecheap.domains.create", p, true, None, &mut t)
                .await?;
            let doc = a.doc();
            let r = find(&doc, "DomainCreateResult")
                .ok_or_else(|| malformed_mut(OP, "DomainCreateResult"))?;
            if !success(r, "Registered") {
                return Err(RegistrarError::failed(
                    KIND,
                    OP,
                    FailureKind::Other,
                    "0",
                    "Namecheap answered Registered=false",
                ));
            }
            let charged = r
                .attribute("ChargedAmount")
                .and_then(|c| Price::parse_decimal(c, "USD"));
            let registry_id = r.attribute("DomainID").map(str::to_owned);
            let now = Utc::now();
            // The create answer has no dates: ask for the registrar's own.
            let (created_at, expires_at) = match self.get_info_doc(OP, &req.name, &mut t).await {
                Ok(a) => {
                    let doc = a.doc();
                    let d = find(&doc, "DomainDetails");
                    (
                        text_of(d.and_then(|d| child(d, "CreatedDate")))
                            .and_then(|s| parse_date(&s)),
                        text_of(d.and_then(|d| child(d, "ExpiredDate")))
                            .and_then(|s| parse_date(&s)),
                    )
                }
                Err(_) => (None, None),
            };
            let created_at = created_at.unwrap_or(now);
            let expires_at = expires_at
                .or_else(|| {
                    created_at.checked_add_months(chrono::Months::new(12 * u32::from(req.years)))
                })
                .unwrap_or(now);
            Ok(Registered {
                name: req.name.clone(),
                created_at,
                expires_at,
                charged,
                registry_id,
            })
        }
        .await;
        Reply::new(result, t)
    }

    #[tracing::instrument(skip_all, fields(registrar = KIND, domain = %req.name, key = %key))]
    async fn renew(&self, req: &RenewRequest, key: &IdempotencyKey) -> Reply<Renewed> {
        const OP: &str = "renew";
        let mut t = Transcript::default();
        let result = async {
            let mut p: Vec<(String, String)> = vec![
                ("DomainName".into(), req.name.as_ascii().into()),
                ("Years".into(), req.years.to_string()),
            ];
            if let Some(pp) = &req.premium_price {
                p.push(("IsPremiumDomain".into(), "true".into()));
                p.push((
                    "PremiumPrice".into(),
                    format!("{}.{:02}", pp.minor / 100, pp.minor % 100),
                ));
            }
            let a = self
                .call(OP, "namecheap.domains.renew", p, true, None, &mut t)
                .await?;
            let doc = a.doc();
            let r = find(&doc, "DomainRenewResult")
                .ok_or_else(|| malformed_mut(OP, "DomainRenewResult"))?;
            if !success(r, "Renew") {
                return Err(RegistrarError::failed(
                    KIND,
                    OP,
                    FailureKind::Other,
                    "0",
                    "Namecheap answered Renew=false",
                ));
            }
            let expires_at =
                text_of(child(r, "DomainDetails").and_then(|d| child(d, "ExpiredDate")))
                    .and_then(|s| parse_date(&s))
                    .ok_or_else(|| malformed_mut(OP, "ExpiredDate"))?;
            Ok(Renewed {
                name: req.name.clone(),
                expires_at,
                charged: r
                    .attribute("ChargedAmount")
                    .and_then(|c| Price::parse_decimal(c, "USD")),
            })
        }
        .await;
        Reply::new(result, t)
    }

    #[tracing::instrument(skip_all, fields(registrar = KIND, domain = %name))]
    async fn info(&self, name: &DomainName) -> Reply<DomainInfo> {
        let mut t = Transcript::default();
        let result = self.info_inner(name, &mut t).await;
        Reply::new(result, t)
    }

    async fn health(&self) -> Reply<Health> {
        let mut t = Transcript::default();
        let result = async {
            let a = self
                .call(
                    "health",
                    "namecheap.users.getBalances",
                    vec![],
                    false,
                    None,
                    &mut t,
                )
                .await?;
            let doc = a.doc();
            let r = find(&doc, "UserGetBalancesResult")
                .ok_or_else(|| malformed("health", "UserGetBalancesResult"))?;
            let currency = r.attribute("Currency").unwrap_or("USD");
            Ok(Health {
                balance: r
                    .attribute("AvailableBalance")
                    .and_then(|b| Price::parse_decimal(b, currency)),
                message: format!("Namecheap API at {}", self.config.endpoint()),
            })
        }
        .await;
        Reply::new(result, t)
    }

    #[tracing::instrument(skip_all, fields(registrar = KIND, domain = %req.name, key = %key))]
    async fn transfer_in(
        &self,
        req: &TransferRequest,
        key: &IdempotencyKey,
    ) -> Reply<TransferInfo> {
        const OP: &str = "transfer_in";
        let mut t = Transcript::default();
        let result = async {
            let p = vec![
                ("DomainName".into(), req.name.as_ascii().into()),
                ("Years".into(), req.years.to_string()),
                ("EPPCode".into(), req.auth_code.expose().to_owned()),
            ];
            let a = self
                .call(
                    OP,
                    "namecheap.domains.transfer.create",
                    p,
                    true,
                    Some(&req.auth_code),
                    &mut t,
                )
                .await?;
            let doc = a.doc();
            let r = find(&doc, "DomainTransferCreateResult")
                .ok_or_else(|| malformed_mut(OP, "DomainTransferCreateResult"))?;
            if !success(r, "Transfer") {
                return Err(RegistrarError::failed(
                    KIND,
                    OP,
                    FailureKind::Other,
                    "0",
                    "Namecheap answered Transfer=false",
                ));
            }
            let status_id = r.attribute("StatusID").unwrap_or("");
            Ok(TransferInfo {
                name: req.name.clone(),
                state: transfer_state(status_id, r.attribute("Status").unwrap_or("")),
                transfer_id: r.attribute("TransferID").map(str::to_owned),
                requested_at: Some(Utc::now()),
                action_by: None,
                expires_at: None,
                message: r.attribute("Status").map(str::to_owned),
                charged: r
                    .attribute("ChargedAmount")
                    .and_then(|c| Price::parse_decimal(c, "USD")),
            })
        }
        .await;
        Reply::new(result, t)
    }

    async fn transfer_status(
        &self,
        name: &DomainName,
        transfer_id: Option<&str>,
    ) -> Reply<TransferInfo> {
        const OP: &str = "transfer_status";
        let mut t = Transcript::default();
        let result = async {
            let id = match transfer_id {
                Some(id) => id.to_owned(),
                None => {
                    let a = self
                        .call(
                            OP,
                            "namecheap.domains.transfer.getList",
                            vec![
                                ("SearchTerm".into(), name.as_ascii().into()),
                                ("ListType".into(), "ALL".into()),
                            ],
                            false,
                            None,
                            &mut t,
                        )
                        .await?;
                    let doc = a.doc();
                    doc.descendants()
                        .filter(|n| {
                            n.has_tag_name("Transfer")
                                && n.attribute("DomainName")
                                    .is_some_and(|d| d.eq_ignore_ascii_case(name.as_ascii()))
                        })
                        .filter_map(|n| n.attribute("ID").map(str::to_owned))
                        .max_by_key(|id| id.parse::<u64>().unwrap_or(0))
                        .ok_or_else(|| {
                            RegistrarError::failed(
                                KIND,
                                OP,
                                FailureKind::NotFound,
                                "0",
                                format!("no transfer of {name} in this account"),
                            )
                        })?
                }
            };
            let a = self
                .call(
                    OP,
                    "namecheap.domains.transfer.getStatus",
                    vec![("TransferID".into(), id.clone())],
                    false,
                    None,
                    &mut t,
                )
                .await?;
            let doc = a.doc();
            let r = find(&doc, "DomainTransferGetStatusResult")
                .ok_or_else(|| malformed(OP, "DomainTransferGetStatusResult"))?;
            let status = r.attribute("Status").unwrap_or("").to_owned();
            Ok(TransferInfo {
                name: name.clone(),
                state: transfer_state(r.attribute("StatusID").unwrap_or(""), &status),
                transfer_id: Some(id),
                requested_at: None,
                action_by: None,
                expires_at: None,
                message: Some(status),
                charged: None,
            })
        }
        .await;
        Reply::new(result, t)
    }

    #[tracing::instrument(skip_all, fields(registrar = KIND, domain = %name, key = %key))]
    async fn update_nameservers(
        &self,
        name: &DomainName,
        nameservers: &[DomainName],
        key: &IdempotencyKey,
    ) -> Reply<()> {
        const OP: &str = "update_nameservers";
        let mut t = Transcript::default();
        let result = async {
            let (sld, tld) = split(name);
            let ns = nameservers
                .iter()
                .map(|n| n.as_ascii())
                .collect::<Vec<_>>()
                .join(",");
            let a = self
                .call(
                    OP,
                    "namecheap.domains.dns.setCustom",
                    vec![
                        ("SLD".into(), sld),
                        ("TLD".into(), tld),
                        ("Nameservers".into(), ns),
                    ],
                    true,
                    None,
                    &mut t,
                )
                .await?;
            let doc = a.doc();
            let r = find(&doc, "DomainDNSSetCustomResult")
                .ok_or_else(|| malformed_mut(OP, "DomainDNSSetCustomResult"))?;
            if !success(r, "Updated") {
                return Err(RegistrarError::failed(
                    KIND,
                    OP,
                    FailureKind::Other,
                    "0",
                    "Namecheap answered Updated=false",
                ));
            }
            Ok(())
        }
        .await;
        Reply::new(result, t)
    }

    #[tracing::instrument(skip_all, fields(registrar = KIND, domain = %name, key = %key))]
    async fn update_contacts(
        &self,
        name: &DomainName,
        contacts: &DomainContacts<Contact>,
        key: &IdempotencyKey,
    ) -> Reply<()> {
        const OP: &str = "update_contacts";
        let mut t = Transcript::default();
        let result = async {
            let mut p = vec![("DomainName".to_owned(), name.as_ascii().to_owned())];
            p.extend(contact_params(contacts));
            let a = self
                .call(OP, "namecheap.domains.setContacts", p, true, None, &mut t)
                .await?;
            let doc = a.doc();
            let r = find(&doc, "DomainSetContactResult")
                .ok_or_else(|| malformed_mut(OP, "DomainSetContactResult"))?;
            if !success(r, "IsSuccess") {
                return Err(RegistrarError::failed(
                    KIND,
                    OP,
                    FailureKind::Other,
                    "0",
                    "Namecheap answered IsSuccess=false",
                ));
            }
            Ok(())
        }
        .await;
        Reply::new(result, t)
    }

    #[tracing::instrument(skip_all, fields(registrar = KIND, domain = %name, key = %key))]
    async fn set_lock(&self, name: &DomainName, locked: bool, key: &IdempotencyKey) -> Reply<()> {
        const OP: &str = "set_lock";
        let mut t = Transcript::default();
        let result = async {
            let p = vec![
                ("DomainName".into(), name.as_ascii().into()),
                (
                    "LockAction".into(),
                    if locked { "LOCK" } else { "UNLOCK" }.into(),
                ),
            ];
            let a = self
                .call(
                    OP,
                    "namecheap.domains.setRegistrarLock",
                    p,
                    true,
                    None,
                    &mut t,
                )
                .await?;
            let doc = a.doc();
            let r = find(&doc, "DomainSetRegistrarLockResult")
                .ok_or_else(|| malformed_mut(OP, "DomainSetRegistrarLockResult"))?;
            if !success(r, "IsSuccess") {
                return Err(RegistrarError::failed(
                    KIND,
                    OP,
                    FailureKind::Other,
                    "0",
                    "Namecheap answered IsSuccess=false",
                ));
            }
            Ok(())
        }
        .await;
        Reply::new(result, t)
    }

    #[tracing::instrument(skip_all, fields(registrar = KIND, domain = %name, key = %key))]
    async fn set_privacy(
        &self,
        name: &DomainName,
        enabled: bool,
        key: &IdempotencyKey,
    ) -> Reply<()> {
        const OP: &str = "set_privacy";
        let mut t = Transcript::default();
        let result = async {
            let info = self.get_info_doc(OP, name, &mut t).await?;
            let doc = info.doc();
            let id = find(&doc, "Whoisguard")
                .and_then(|w| text_of(child(w, "ID")))
                .filter(|id| id != "0")
                .ok_or_else(|| {
                    RegistrarError::failed(
                        KIND,
                        OP,
                        FailureKind::NotEligible,
                        "0",
                        format!("{name} has no privacy subscription (WhoisguardID) to switch"),
                    )
                })?;
            let (command, result_tag, mut p) = if enabled {
                let contacts = self
                    .call(
                        OP,
                        "namecheap.domains.getContacts",
                        vec![("DomainName".into(), name.as_ascii().into())],
                        false,
                        None,
                        &mut t,
                    )
                    .await?;
                let cd = contacts.doc();
                let email = find(&cd, "Registrant")
                    .and_then(|r| text_of(child(r, "EmailAddress")))
                    .ok_or_else(|| malformed(OP, "Registrant/EmailAddress"))?;
                (
                    "namecheap.whoisguard.enable",
                    "WhoisguardEnableResult",
                    vec![("ForwardedToEmail".to_owned(), email)],
                )
            } else {
                (
                    "namecheap.whoisguard.disable",
                    "WhoisguardDisableResult",
                    vec![],
                )
            };
            p.insert(0, ("WhoisguardID".into(), id));
            let a = self.call(OP, command, p, true, None, &mut t).await?;
            let doc = a.doc();
            let r = find(&doc, result_tag).ok_or_else(|| malformed_mut(OP, result_tag))?;
            if !success(r, "IsSuccess") {
                return Err(RegistrarError::failed(
                    KIND,
                    OP,
                    FailureKind::Other,
                    "0",
                    "Namecheap answered IsSuccess=false",
                ));
            }
            Ok(())
        }
        .await;
        Reply::new(result, t)
    }

    #[tracing::instrument(skip_all, fields(registrar = KIND, domain = %name, key = %key))]
    async fn restore(&self, name: &DomainName, key: &IdempotencyKey) -> Reply<Restored> {
        const OP: &str = "restore";
        let mut t = Transcript::default();
        let result = async {
            let a = self
                .call(
                    OP,
                    "namecheap.domains.reactivate",
                    vec![("DomainName".into(), name.as_ascii().into())],
                    true,
                    None,
                    &mut t,
                )
                .await?;
            let doc = a.doc();
            let r = find(&doc, "DomainReactivateResult")
                .ok_or_else(|| malformed_mut(OP, "DomainReactivateResult"))?;
            if !success(r, "IsSuccess") {
                return Err(RegistrarError::failed(
                    KIND,
                    OP,
                    FailureKind::Other,
                    "0",
                    "Namecheap answered IsSuccess=false",
                ));
            }
            Ok(Restored {
                name: name.clone(),
                expires_at: None,
                charged: r
                    .attribute("ChargedAmount")
                    .and_then(|c| Price::parse_decimal(c, "USD")),
            })
        }
        .await;
        Reply::new(result, t)
    }

    async fn list_domains(&self, page: &ListRequest) -> Reply<DomainList> {
        const OP: &str = "list_domains";
        let mut t = Transcript::default();
        let size = page.page_size.clamp(10, 100);
        let number = page.page.max(1);
        let result = async {
            let a = self
                .call(
                    OP,
                    "namecheap.domains.getList",
                    vec![
                        ("ListType".into(), "ALL".into()),
                        ("Page".into(), number.to_string()),
                        ("PageSize".into(), size.to_string()),
                    ],
                    false,
                    None,
                    &mut t,
                )
                .await?;
            let doc = a.doc();
            let domains = doc
                .descendants()
                .filter(|n| n.has_tag_name("Domain") && n.attribute("Name").is_some())
                .filter_map(|n| {
                    Some(ListedDomain {
                        name: DomainName::parse(n.attribute("Name")?).ok()?,
                        created_at: n.attribute("Created").and_then(parse_date),
                        expires_at: n.attribute("Expires").and_then(parse_date),
                        locked: attr_bool(n, "IsLocked"),
                        auto_renew: attr_bool(n, "AutoRenew"),
                        privacy: n
                            .attribute("WhoisGuard")
                            .map(|w| w.eq_ignore_ascii_case("ENABLED")),
                    })
                })
                .collect::<Vec<_>>();
            let total = text_of(find(&doc, "TotalItems")).and_then(|s| s.parse::<u64>().ok());
            let next_page = total
                .and_then(|tot| (u64::from(number) * u64::from(size) < tot).then_some(number + 1));
            Ok(DomainList {
                domains,
                total,
                next_page,
            })
        }
        .await;
        Reply::new(result, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_namecheap_writes_them() {
        assert_eq!(
            parse_date("09/05/2016").unwrap().to_rfc3339(),
            "2016-09-05T00:00:00+00:00"
        );
        assert_eq!(
            parse_date("4/30/2021 11:31:13 AM").unwrap().to_rfc3339(),
            "2021-04-30T00:00:00+00:00"
        );
        assert_eq!(parse_date("2021-04-30"), None);
    }

    #[test]
    fn documented_error_numbers_map_to_kinds() {
        let k = |n: &str, m: &str, cmd: &str, mutating: bool| map_error("op", cmd, n, m, mutating);
        assert_eq!(
            k(
                "2019166",
                "Domain not available",
                "namecheap.domains.create",
                true
            )
            .failure_kind(),
            Some(FailureKind::NotAvailable)
        );
        assert_eq!(
            k(
                "2019166",
                "Domain not found",
                "namecheap.domains.getInfo",
                false
            )
            .failure_kind(),
            Some(FailureKind::NotFound)
        );
        assert_eq!(
            k(
                "2030280",
                "TLD is not supported in API",
                "namecheap.domains.create",
                true
            )
            .failure_kind(),
            Some(FailureKind::UnsupportedTld)
        );
        assert_eq!(
            k(
                "1011102",
                "Parameter APIKey is invalid",
                "namecheap.domains.check",
                false
            )
            .failure_kind(),
            Some(FailureKind::Authentication)
        );
        assert_eq!(
            k(
                "2033409",
                "Possibly a logical error at the authentication phase",
                "namecheap.domains.create",
                true
            )
            .failure_kind(),
            Some(FailureKind::Authentication)
        );
        assert_eq!(
            k(
                "2528166",
                "Insufficient funds in your account",
                "namecheap.domains.create",
                true
            )
            .failure_kind(),
            Some(FailureKind::InsufficientFunds)
        );
        assert!(
            k(
                "500000",
                "Too many requests",
                "namecheap.domains.check",
                false
            )
            .is_retryable()
        );
        assert!(
            k(
                "3031166",
                "Error while getting information from the provider",
                "namecheap.domains.create",
                true
            )
            .is_unknown_outcome()
        );
        assert!(
            k(
                "3031166",
                "Error while getting information from the provider",
                "namecheap.domains.getInfo",
                false
            )
            .is_retryable()
        );
        assert_eq!(
            k(
                "2015182",
                "Contact phone is invalid",
                "namecheap.domains.create",
                true
            )
            .failure_kind(),
            Some(FailureKind::InvalidInput)
        );
    }

    #[test]
    fn transfer_statuses() {
        assert_eq!(
            transfer_state("-1", "Queued for submission"),
            TransferState::Pending
        );
        assert_eq!(
            transfer_state("5", "Transferred and paid successfully"),
            TransferState::Completed
        );
        assert_eq!(
            transfer_state("18", "Canceled - domain validation string is invalid"),
            TransferState::Cancelled
        );
        assert_eq!(transfer_state("-22", "Cancelled"), TransferState::Cancelled);
    }

    #[test]
    fn config_is_checked_and_debug_hides_the_key() {
        let c = NamecheapConfig {
            api_user: "ann".into(),
            api_key: SecretString::new("0123456789abcdef"),
            username: None,
            client_ip: "not-an-ip".into(),
            sandbox: true,
            endpoint: None,
            timeout_secs: 5,
        };
        let e = Namecheap::new(c.clone()).unwrap_err();
        assert!(e.to_string().contains("client_ip"), "{e}");
        let ok = Namecheap::new(NamecheapConfig {
            client_ip: "192.0.2.10".into(),
            ..c.clone()
        })
        .unwrap();
        assert!(!format!("{ok:?} {c:?}").contains("0123456789abcdef"));
        assert_eq!(c.endpoint(), SANDBOX_ENDPOINT);
        assert_eq!(
            NamecheapConfig {
                sandbox: false,
                ..c
            }
            .endpoint(),
            PRODUCTION_ENDPOINT
        );
    }
}
