//! What goes into and comes out of a registrar call.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use panel1_core::SecretString;
use panel1_core::contact::{Contact, ContactData, DomainContacts};
use panel1_core::domain_lifecycle::{EppStatus, RegistryReport, RgpStatus};
use panel1_core::domain_name::DomainName;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::RegistrarError;

/// The key that makes a mutating call safe to repeat: derived by the caller from
/// (domain, operation, term), passed to the registrar where it supports one (EPP clTRID),
/// and recorded by the sandbox registry next to every charge.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// A key from the caller's own text (at most 200 characters, printable ASCII).
    pub fn new(key: impl Into<String>) -> Result<Self, RegistrarError> {
        let key = key.into();
        if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(RegistrarError::config(
                "-",
                "an idempotency key is 1 to 200 printable ASCII characters without spaces",
            ));
        }
        Ok(Self(key))
    }

    /// The conventional key for one operation on one domain for one term:
    /// `renew:example.com:2031-05-01` (the term says which renewal this is, e.g. the expiry
    /// date it starts from, so a second renewal next year gets a new key).
    pub fn derive(domain: &DomainName, operation: &str, term: &str) -> Self {
        Self(format!("{operation}:{}:{term}", domain.as_ascii()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A short form (`p1-` and 32 hex digits) that fits EPP's clTRID (3 to 64 characters).
    pub fn short(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        format!("p1-{}", hex::encode(&digest[..16]))
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({})", self.0)
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An amount of money in minor units (cents) with its ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Price {
    pub minor: i64,
    pub currency: String,
}

impl Price {
    pub fn new(minor: i64, currency: impl Into<String>) -> Self {
        Self {
            minor,
            currency: currency.into(),
        }
    }

    /// Parses a decimal amount as registrars write it (`650.0000`, `9.06`), rounding to
    /// cents.
    pub fn parse_decimal(amount: &str, currency: &str) -> Option<Self> {
        let a = amount.trim();
        let (neg, a) = match a.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, a),
        };
        let (whole, frac) = a.split_once('.').unwrap_or((a, ""));
        if whole.is_empty() && frac.is_empty() {
            return None;
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut digits = frac.bytes().map(|b| i64::from(b - b'0'));
        let c1 = digits.next().unwrap_or(0);
        let c2 = digits.next().unwrap_or(0);
        let round = i64::from(digits.next().unwrap_or(0) >= 5);
        let minor = whole.checked_mul(100)? + c1 * 10 + c2 + round;
        Some(Self::new(if neg { -minor } else { minor }, currency))
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let m = self.minor.abs();
        write!(f, "{sign}{}.{:02} {}", m / 100, m % 100, self.currency)
    }
}

/// One name's availability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability {
    pub name: DomainName,
    pub available: bool,
    /// A premium name, priced by the registry above the TLD's normal price.
    pub premium: bool,
    /// The registration price for one year, when the registrar gives one.
    pub price: Option<Price>,
    /// Why not available, in the registrar's words, when given.
    pub reason: Option<String>,
}

/// Register a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRequest {
    pub name: DomainName,
    /// 1 to 10.
    pub years: u8,
    /// Empty: the registrar's default nameservers.
    pub nameservers: Vec<DomainName>,
    pub contacts: DomainContacts<Contact>,
    pub privacy: bool,
    /// For a premium name: the price the customer accepted; the registrar refuses a
    /// premium name without it.
    pub premium_price: Option<Price>,
}

/// A registration the registrar confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registered {
    pub name: DomainName,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// What the registrar charged, when it says.
    pub charged: Option<Price>,
    /// The registrar's or registry's id for the domain (ROID, DomainID), when given.
    pub registry_id: Option<String>,
}

/// Renew a domain for `years` from its current expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewRequest {
    pub name: DomainName,
    pub years: u8,
    /// The expiry the caller believes is current: EPP requires it (curExpDate) so a
    /// repeated renew is refused instead of renewing twice.
    pub current_expiry: DateTime<Utc>,
    pub premium_price: Option<Price>,
}

/// A renewal the registrar confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renewed {
    pub name: DomainName,
    pub expires_at: DateTime<Utc>,
    pub charged: Option<Price>,
}

/// Restore a domain from redemption (RFC 3915).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restored {
    pub name: DomainName,
    pub expires_at: Option<DateTime<Utc>>,
    pub charged: Option<Price>,
}

/// Transfer a domain into this account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRequest {
    pub name: DomainName,
    pub auth_code: SecretString,
    /// Years added by the transfer (usually 1).
    pub years: u8,
    pub contacts: Option<DomainContacts<Contact>>,
}

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferState {
    /// Requested; waiting for the losing registrar or the auto-approve period.
    Pending,
    /// Done: the domain is in this account.
    Completed,
    /// Refused by the losing registrar or registrant.
    Rejected,
    /// Withdrawn, or cancelled by the registrar (wrong auth code, locked, …).
    Cancelled,
}

impl TransferState {
    pub fn is_final(self) -> bool {
        self != TransferState::Pending
    }
}

/// A transfer's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferInfo {
    pub name: DomainName,
    pub state: TransferState,
    /// The registrar's transfer id, when it has one (Namecheap's TransferID).
    pub transfer_id: Option<String>,
    pub requested_at: Option<DateTime<Utc>>,
    /// When the registry acts by itself (auto-approve) if nobody does.
    pub action_by: Option<DateTime<Utc>>,
    /// The expiry after the transfer, when known.
    pub expires_at: Option<DateTime<Utc>>,
    /// The registrar's own words about the status.
    pub message: Option<String>,
    pub charged: Option<Price>,
}

/// What the registrar says about a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainInfo {
    pub name: DomainName,
    /// Whether this account sponsors the domain. `false`: it exists but belongs to someone
    /// else (transferred away).
    pub in_account: bool,
    pub created_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub nameservers: Vec<DomainName>,
    /// Registrar lock (clientTransferProhibited).
    pub locked: bool,
    /// WHOIS privacy; `None` when the registrar does not say.
    pub privacy: Option<bool>,
    pub auto_renew: Option<bool>,
    /// Contacts as the registrar reports them (unchecked); `None` when not given.
    pub contacts: Option<DomainContacts<ContactData>>,
    pub epp_statuses: Vec<EppStatus>,
    pub rgp_statuses: Vec<RgpStatus>,
    pub registry_id: Option<String>,
}

impl DomainInfo {
    /// The registry's truth in the form `panel1_core::domain_lifecycle::derive_state` reads.
    pub fn report(&self) -> RegistryReport {
        RegistryReport {
            in_account: self.in_account,
            epp_statuses: self.epp_statuses.clone(),
            rgp_statuses: self.rgp_statuses.clone(),
            expires_at: self.expires_at,
        }
    }
}

/// A page of the account's domains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRequest {
    /// 1-based.
    pub page: u32,
    pub page_size: u32,
}

impl Default for ListRequest {
    fn default() -> Self {
        Self {
            page: 1,
            page_size: 100,
        }
    }
}

/// One domain in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedDomain {
    pub name: DomainName,
    pub created_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub locked: Option<bool>,
    pub auto_renew: Option<bool>,
    pub privacy: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainList {
    pub domains: Vec<ListedDomain>,
    pub total: Option<u64>,
    /// The next page to ask for, `None` on the last page.
    pub next_page: Option<u32>,
}

/// The answer of a health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The account's available balance, when the registrar says.
    pub balance: Option<Price>,
    pub message: String,
}

/// One request and its response, for the operations log. Secrets are already replaced by
/// `***` by the adapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exchange {
    /// The registrar command (`namecheap.domains.create`, `domain:create`, `register`).
    pub command: String,
    pub request: String,
    /// `None` when no response arrived.
    pub response: Option<String>,
    pub duration: Duration,
}

/// The redacted record of what an adapter sent and received during one call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transcript(pub Vec<Exchange>);

impl Transcript {
    pub fn push(&mut self, e: Exchange) {
        self.0.push(e);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Everything as one text, to search in tests and to show in the log.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for e in &self.0 {
            s.push_str(&format!(
                ">> {} ({} ms)\n{}\n<< {}\n",
                e.command,
                e.duration.as_millis(),
                e.request,
                e.response.as_deref().unwrap_or("(no response)")
            ));
        }
        s
    }
}

/// Replaces secrets in text with `***`.
#[derive(Clone, Default)]
pub struct Redactor(Vec<String>);

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.0.len())
    }
}

impl Redactor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secret (ignored when shorter than 4 characters, which would blank out
    /// ordinary text).
    pub fn add(&mut self, secret: &SecretString) {
        let s = secret.expose();
        if s.len() >= 4 && !self.0.iter().any(|x| x == s) {
            self.0.push(s.to_owned());
            // Also the forms it takes when URL- or XML-escaped.
            for escaped in [url_escape(s), xml_escape(s)] {
                if escaped != s && !self.0.contains(&escaped) {
                    self.0.push(escaped);
                }
            }
            self.0.sort_by_key(|x| std::cmp::Reverse(x.len()));
        }
    }

    pub fn with(mut self, secret: &SecretString) -> Self {
        self.add(secret);
        self
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.0 {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }
}

fn url_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(crate) fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The result of a registrar call together with its transcript. The transcript is there
/// whether the call succeeded or not, so the operations log can record both.
#[derive(Debug)]
#[must_use]
pub struct Reply<T> {
    pub result: Result<T, RegistrarError>,
    pub transcript: Transcript,
}

impl<T> Reply<T> {
    pub fn new(result: Result<T, RegistrarError>, transcript: Transcript) -> Self {
        Self { result, transcript }
    }

    pub fn err(e: RegistrarError) -> Self {
        Self {
            result: Err(e),
            transcript: Transcript::default(),
        }
    }

    pub fn into_result(self) -> Result<T, RegistrarError> {
        self.result
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Reply<U> {
        Reply {
            result: self.result.map(f),
            transcript: self.transcript,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_parse_as_registrars_write_them() {
        assert_eq!(
            Price::parse_decimal("650.0000", "USD"),
            Some(Price::new(65000, "USD"))
        );
        assert_eq!(
            Price::parse_decimal("9.06", "USD"),
            Some(Price::new(906, "USD"))
        );
        assert_eq!(
            Price::parse_decimal("9.065", "USD"),
            Some(Price::new(907, "USD"))
        );
        assert_eq!(
            Price::parse_decimal("12", "USD"),
            Some(Price::new(1200, "USD"))
        );
        assert_eq!(
            Price::parse_decimal("-1.5", "USD"),
            Some(Price::new(-150, "USD"))
        );
        assert_eq!(Price::parse_decimal("abc", "USD"), None);
        assert_eq!(Price::parse_decimal("", "USD"), None);
        assert_eq!(Price::new(-150, "EUR").to_string(), "-1.50 EUR");
    }

    #[test]
    fn idempotency_keys() {
        let d = DomainName::parse("example.com").unwrap();
        let k = IdempotencyKey::derive(&d, "renew", "2031-05-01");
        assert_eq!(k.as_str(), "renew:example.com:2031-05-01");
        let s = k.short();
        assert!(s.len() >= 3 && s.len() <= 64, "{s}");
        assert_eq!(s, k.short());
        assert_ne!(s, IdempotencyKey::derive(&d, "renew", "2032-05-01").short());
        assert!(IdempotencyKey::new("has space").is_err());
        assert!(IdempotencyKey::new("").is_err());
    }

    #[test]
    fn redaction_covers_escaped_forms() {
        let r = Redactor::new()
            .with(&SecretString::new("k3y&<secret>"))
            .with(&SecretString::new("abc"));
        let text = "ApiKey=k3y%26%3Csecret%3E <pw>k3y&amp;&lt;secret&gt;</pw> raw k3y&<secret> abc";
        let out = r.redact(text);
        assert_eq!(out, "ApiKey=*** <pw>***</pw> raw *** abc");
        assert!(!format!("{r:?}").contains("k3y"));
    }
}
