//! Generic EPP over TLS (RFC 5730 framing and session, RFC 5731 domains, RFC 5732 hosts by
//! name, RFC 5733 contacts, RFC 5734 transport, RFC 3915 grace periods and restore), built on
//! the `instant-epp` crate's connection and command types.
//!
//! One session (TLS connection + `<login>`) per adapter, behind a mutex: EPP commands on a
//! session are sequential. The session is opened on first use and again after any transport
//! failure. Frames are serialised here (rather than through `EppClient::transact`, which logs
//! whole frames, passwords included) so that each request and response can be recorded,
//! redacted, in the [`Transcript`].
//!
//! The caller's idempotency key becomes the frame's `<clTRID>` (shortened to fit 64
//! characters), so the registry's own logs tie each command to the request that caused it.
//!
//! | operation | EPP |
//! |---|---|
//! | check | `domain:check` |
//! | register | `contact:create` ×≤4 (content-addressed ids, so a retry reuses them), `domain:create` |
//! | renew | `domain:renew` with `curExpDate` |
//! | info | `domain:info` (+ `rgp:infData`), `contact:info` for each contact |
//! | nameservers, lock, hold, contacts | `domain:update` add/rem/chg after an info |
//! | transfer | `domain:transfer op="request"`, `op="query"` |
//! | restore | `domain:update` + `rgp:restore op="request"` |
//! | auth code | `domain:info` (the sponsoring registrar sees `authInfo`) |
//! | health | `<hello>` (and login) |
//!
//! EPP has no listing of an account's domains and no standard privacy service: those answer
//! "not supported".

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use instant_epp::EppClient;
use instant_epp::client::RustlsConnector;
use instant_epp::common::NoExtension;
use instant_epp::contact::{self as epp_contact, ContactCreate, InfoType, PostalInfo, Voice};
use instant_epp::domain::update::{DomainAdd, DomainChangeInfo, DomainRemove};
use instant_epp::domain::{
    self as epp_domain, DomainAuthInfo, DomainCheck, DomainContact, DomainCreate,
    DomainInfo as EppDomainInfo, DomainRenew, DomainTransfer, DomainUpdate, HostInfo, HostObj,
    NameServers, Period, PeriodLength,
};
use instant_epp::extensions::rgp::request::{
    RgpRequestResponse, RgpRestoreRequest, Update as RgpUpdate,
};
use instant_epp::extensions::rgp::{self, RgpStatus as EppRgpStatus};
use instant_epp::login::Login;
use instant_epp::request::{Command, Extension, Transaction};
use instant_epp::response::Response;
use instant_xml::ser::Context;
use instant_xml::{FromXml, ToXml};
use panel1_core::SecretString;
use panel1_core::contact::{Contact, ContactData, DomainContacts};
use panel1_core::domain_lifecycle::{EppStatus, RgpStatus};
use panel1_core::domain_name::DomainName;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::error::{FailureKind, RegistrarError};
use crate::registrar::Registrar;
use crate::types::*;

const KIND: &str = "epp";
const EPP_NS: &str = "urn:ietf:params:xml:ns:epp-1.0";

/// Settings of an EPP account at a registry (or a registrar that speaks EPP).
#[derive(Debug, Clone, Deserialize)]
pub struct EppConfig {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// The EPP client id (`clID`).
    pub client_id: String,
    pub password: SecretString,
    /// PEM certificates to trust for the server, instead of the system's roots (a registry's
    /// own CA, or a test server).
    #[serde(default)]
    pub ca_pem: Option<String>,
    /// TLS client certificate and key (PEM), which most registries require.
    #[serde(default)]
    pub client_cert_pem: Option<String>,
    #[serde(default)]
    pub client_key_pem: Option<SecretString>,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// The TLDs this server sells (e.g. `["com", "net"]`); empty: any.
    #[serde(default)]
    pub tlds: Vec<String>,
}

fn default_port() -> u16 {
    700
}

fn default_timeout() -> u64 {
    30
}

/// The EPP adapter.
pub struct Epp {
    config: EppConfig,
    tls: Option<Arc<rustls::ClientConfig>>,
    session: Mutex<Option<EppClient<RustlsConnector>>>,
    redactor: Redactor,
}

impl std::fmt::Debug for Epp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Epp")
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .field("client_id", &self.config.client_id)
            .finish_non_exhaustive()
    }
}

// --- Framing ------------------------------------------------------------------------------

#[derive(ToXml)]
#[xml(rename = "epp", ns(EPP_NS))]
struct EppOut<T> {
    data: T,
}

#[derive(FromXml)]
#[xml(rename = "epp", ns(EPP_NS))]
struct EppIn<T> {
    data: T,
}

#[derive(ToXml)]
#[xml(rename = "extension", ns(EPP_NS))]
struct ExtOut<E> {
    inner: E,
}

struct CommandFrame<'a, C, E> {
    command: &'a C,
    extension: Option<&'a E>,
    cltrid: &'a str,
}

impl<C: ToXml, E: ToXml> ToXml for CommandFrame<'_, C, E> {
    fn serialize<W: std::fmt::Write + ?Sized>(
        &self,
        _: Option<instant_xml::Id<'_>>,
        s: &mut instant_xml::Serializer<W>,
    ) -> Result<(), instant_xml::Error> {
        let command = s.write_start("command", EPP_NS, None::<Context<0>>)?;
        s.end_start()?;
        self.command.serialize(None, s)?;
        if let Some(e) = self.extension {
            ExtOut { inner: e }.serialize(None, s)?;
        }
        let tr = s.write_start("clTRID", EPP_NS, None::<Context<0>>)?;
        s.end_start()?;
        self.cltrid.serialize(None, s)?;
        s.write_close(tr)?;
        s.write_close(command)
    }
}

#[derive(ToXml)]
#[xml(rename = "hello", ns(EPP_NS))]
struct Hello;

fn frame<C: ToXml, E: ToXml>(
    command: &C,
    extension: Option<&E>,
    cltrid: &str,
) -> Result<String, instant_xml::Error> {
    Ok(format!(
        "{}\r\n{}",
        instant_epp::xml::EPP_XML_HEADER,
        instant_xml::to_string(&EppOut {
            data: CommandFrame {
                command,
                extension,
                cltrid
            }
        })?
    ))
}

/// `<transfer op="query">` without authInfo (the gaining registrar is identified by its
/// session).
#[derive(Debug, ToXml)]
#[xml(rename = "transfer", ns(EPP_NS))]
struct TransferQuery<'a> {
    #[xml(attribute, rename = "op")]
    op: &'a str,
    domain: TransferQueryName<'a>,
}

#[derive(Debug, ToXml)]
#[xml(rename = "transfer", ns(epp_domain::XMLNS))]
struct TransferQueryName<'a> {
    name: &'a str,
}

impl Transaction<NoExtension> for TransferQuery<'_> {}
impl Command for TransferQuery<'_> {
    type Response = epp_domain::transfer::TransferData;
    const COMMAND: &'static str = "transfer";
}

/// `<contact:info>` without authInfo (for the sponsoring registrar's own contacts).
#[derive(Debug, ToXml)]
#[xml(rename = "info", ns(EPP_NS))]
struct ContactInfoQuery<'a> {
    contact: ContactInfoId<'a>,
}

#[derive(Debug, ToXml)]
#[xml(rename = "info", ns(epp_contact::XMLNS))]
struct ContactInfoId<'a> {
    id: &'a str,
}

impl Transaction<NoExtension> for ContactInfoQuery<'_> {}
impl Command for ContactInfoQuery<'_> {
    type Response = epp_contact::info::InfoData;
    const COMMAND: &'static str = "info";
}

/// Replaces the text of every `pw` / `newPW` element (passwords, auth codes) with `***`.
pub fn redact_passwords(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(lt) = rest.find('<') {
        let (before, tag_and_after) = rest.split_at(lt);
        out.push_str(before);
        let Some(gt) = tag_and_after.find('>') else {
            out.push_str(tag_and_after);
            return out;
        };
        let tag = &tag_and_after[..=gt];
        out.push_str(tag);
        rest = &tag_and_after[gt + 1..];
        let name = tag
            .trim_start_matches('<')
            .trim_end_matches('>')
            .split_whitespace()
            .next()
            .unwrap_or("");
        let local = name.rsplit(':').next().unwrap_or(name);
        if !name.starts_with('/') && !tag.ends_with("/>") && (local == "pw" || local == "newPW") {
            let end = rest.find('<').unwrap_or(rest.len());
            if end > 0 {
                out.push_str("***");
            }
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

fn map_code(operation: &'static str, code: u16, message: &str, mutating: bool) -> RegistrarError {
    let failed = |kind| RegistrarError::failed(KIND, operation, kind, code.to_string(), message);
    match code {
        2302 => failed(FailureKind::NotAvailable),
        2303 => failed(FailureKind::NotFound),
        2202 => failed(FailureKind::BadAuthCode),
        2104 => failed(FailureKind::InsufficientFunds),
        2200 | 2201 | 2501 => failed(FailureKind::Authentication),
        2300 | 2304 | 2305 => failed(FailureKind::StatusProhibits),
        2105 | 2106 | 2301 => failed(FailureKind::NotEligible),
        2307 => failed(FailureKind::UnsupportedTld),
        2001..=2005 | 2306 | 2308 => failed(FailureKind::InvalidInput),
        2400 | 2500 | 2502 => {
            let reason = format!("the server answered {code}: {message}");
            if mutating && code == 2500 {
                RegistrarError::unknown(KIND, operation, reason)
            } else {
                RegistrarError::retryable(KIND, operation, reason, None)
            }
        }
        _ => failed(FailureKind::Other),
    }
}

fn epp_status(s: &epp_domain::Status) -> Option<EppStatus> {
    EppStatus::parse(s.as_str())
}

fn rgp_status(s: &EppRgpStatus) -> RgpStatus {
    match s {
        EppRgpStatus::AddPeriod => RgpStatus::AddPeriod,
        EppRgpStatus::AutoRenewPeriod => RgpStatus::AutoRenewPeriod,
        EppRgpStatus::RenewPeriod => RgpStatus::RenewPeriod,
        EppRgpStatus::TransferPeriod => RgpStatus::TransferPeriod,
        EppRgpStatus::RedemptionPeriod => RgpStatus::RedemptionPeriod,
        EppRgpStatus::PendingRestore => RgpStatus::PendingRestore,
        EppRgpStatus::PendingDelete => RgpStatus::PendingDelete,
    }
}

fn transfer_state(s: &str) -> TransferState {
    match s {
        "clientApproved" | "serverApproved" => TransferState::Completed,
        "clientRejected" => TransferState::Rejected,
        "clientCancelled" | "serverCancelled" => TransferState::Cancelled,
        _ => TransferState::Pending,
    }
}

/// A contact id derived from the contact's content: the same person gets the same id, so a
/// retried registration reuses the contacts it already created. `p1` + 14 hex digits fits
/// the 3–16 characters of `clIDType`.
pub fn contact_id(c: &ContactData) -> String {
    let digest = Sha256::digest(serde_json::to_vec(c).unwrap_or_default());
    format!("p1{}", &hex::encode(digest)[..14])
}

fn generated_password(seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    // Letters, digits and a symbol, as registries' password rules want.
    format!("{}Aa9!", &hex::encode(digest)[..16])
}

fn years(op: &'static str, y: u8) -> Result<Period, RegistrarError> {
    PeriodLength::new(y).map(Period::Years).map_err(|_| {
        RegistrarError::failed(
            KIND,
            op,
            FailureKind::InvalidInput,
            "2004",
            format!("the period must be 1 to 99 years, not {y}"),
        )
    })
}

fn contact_data(i: &epp_contact::info::InfoData) -> ContactData {
    let full = i.postal_info.name.trim();
    let (first, last) = full.rsplit_once(' ').unwrap_or((full, ""));
    let a = &i.postal_info.address;
    ContactData {
        first_name: first.to_owned(),
        last_name: last.to_owned(),
        organization: i.postal_info.organization.as_ref().map(|o| o.to_string()),
        email: i.email.clone(),
        phone: i
            .voice
            .as_ref()
            .map(|v| v.number.to_string())
            .unwrap_or_default(),
        fax: i.fax.as_ref().map(|f| f.number.to_string()),
        address1: a.street.first().map(|s| s.to_string()).unwrap_or_default(),
        address2: a.street.get(1).map(|s| s.to_string()),
        city: a.city.to_string(),
        state_province: a.province.as_ref().map(|s| s.to_string()),
        postal_code: a.postal_code.as_ref().map(|s| s.to_string()),
        country: a.country.alpha2.to_owned(),
    }
}

struct DomainState {
    rsp: Response<epp_domain::InfoData, RgpRequestResponse>,
    rgp: Vec<RgpStatus>,
}

impl DomainState {
    fn info(&self) -> &epp_domain::InfoData {
        // `domain_state` only builds a DomainState when the answer has infData.
        self.rsp.res_data().expect("checked in domain_state")
    }
}

impl Epp {
    pub fn new(config: EppConfig) -> Result<Self, RegistrarError> {
        if config.client_id.trim().is_empty() || config.password.is_empty() {
            return Err(RegistrarError::config(
                KIND,
                "client_id and password are required",
            ));
        }
        let tls = match &config.ca_pem {
            None => None,
            Some(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                    let cert =
                        cert.map_err(|e| RegistrarError::config(KIND, format!("ca_pem: {e}")))?;
                    roots
                        .add(cert)
                        .map_err(|e| RegistrarError::config(KIND, format!("ca_pem: {e}")))?;
                }
                if roots.is_empty() {
                    return Err(RegistrarError::config(KIND, "ca_pem holds no certificate"));
                }
                let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
                let builder = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| RegistrarError::config(KIND, format!("TLS: {e}")))?
                    .with_root_certificates(roots);
                let cfg = match (&config.client_cert_pem, &config.client_key_pem) {
                    (Some(cert), Some(key)) => {
                        let (certs, key) = client_identity(cert, key)?;
                        builder.with_client_auth_cert(certs, key).map_err(|e| {
                            RegistrarError::config(KIND, format!("client certificate: {e}"))
                        })?
                    }
                    _ => builder.with_no_client_auth(),
                };
                Some(Arc::new(cfg))
            }
        };
        let redactor = Redactor::new().with(&config.password);
        Ok(Self {
            config,
            tls,
            session: Mutex::new(None),
            redactor,
        })
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.config.timeout_secs.max(1))
    }

    async fn connect(
        &self,
        t: &mut Transcript,
    ) -> Result<EppClient<RustlsConnector>, RegistrarError> {
        let server = (self.config.host.clone(), self.config.port);
        let builder = RustlsConnector::builder(server).map_err(|e| {
            RegistrarError::config(KIND, format!("host `{}`: {e}", self.config.host))
        })?;
        let connector = match &self.tls {
            Some(cfg) => builder.build_with_config(cfg.clone()),
            None => {
                let builder = match (&self.config.client_cert_pem, &self.config.client_key_pem) {
                    (Some(cert), Some(key)) => {
                        let (certs, key) = client_identity(cert, key)?;
                        builder.client_auth(certs, key)
                    }
                    _ => builder,
                };
                builder
                    .build()
                    .map_err(|e| RegistrarError::config(KIND, format!("TLS: {e}")))?
            }
        };
        let mut client = tokio::time::timeout(
            self.timeout(),
            EppClient::new(connector, self.config.host.clone(), self.timeout()),
        )
        .await
        .map_err(|_| {
            RegistrarError::retryable(KIND, "connect", "no greeting before the timeout", None)
        })?
        .map_err(|e| {
            RegistrarError::retryable(
                KIND,
                "connect",
                format!("cannot open the EPP session: {e}"),
                None,
            )
        })?;
        let pw = self.config.password.expose().to_owned();
        let ext = [rgp::XMLNS];
        let login = Login::new(&self.config.client_id, &pw, None, Some(&ext));
        let cltrid = format!(
            "p1-login-{}",
            &hex::encode(Sha256::digest(Utc::now().to_rfc3339()))[..12]
        );
        let xml = frame(&login, None::<&NoExtension>, &cltrid).map_err(|e| {
            RegistrarError::config(KIND, format!("cannot write the login frame: {e}"))
        })?;
        let started = Instant::now();
        let answer = tokio::time::timeout(self.timeout(), client.transact_xml(&xml)).await;
        let answer = match answer {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                self.record(t, "login", &xml, None, started);
                return Err(RegistrarError::retryable(
                    KIND,
                    "login",
                    format!("the login failed in transport: {e}"),
                    None,
                ));
            }
            Err(_) => {
                self.record(t, "login", &xml, None, started);
                return Err(RegistrarError::retryable(
                    KIND,
                    "login",
                    "no answer to login before the timeout",
                    None,
                ));
            }
        };
        self.record(t, "login", &xml, Some(&answer), started);
        let rsp: Response<(), NoExtension> = instant_xml::from_str::<
            EppIn<Response<(), NoExtension>>,
        >(&answer)
        .map(|e| e.data)
        .map_err(|e| {
            RegistrarError::retryable(KIND, "login", format!("unreadable login answer: {e}"), None)
        })?;
        if !rsp.result.code.is_success() {
            let code = rsp.result.code as u16;
            return Err(RegistrarError::failed(
                KIND,
                "login",
                FailureKind::Authentication,
                code.to_string(),
                rsp.result.message,
            ));
        }
        tracing::info!(registrar = KIND, host = %self.config.host, client_id = %self.config.client_id, "EPP session opened");
        Ok(client)
    }

    fn record(
        &self,
        t: &mut Transcript,
        command: &str,
        request: &str,
        response: Option<&str>,
        started: Instant,
    ) {
        let clean = |s: &str| self.redactor.redact(&redact_passwords(s));
        t.push(Exchange {
            command: command.to_owned(),
            request: clean(request),
            response: response.map(clean),
            duration: started.elapsed(),
        });
    }

    /// Sends one command on the session (opening it if needed) and answers the parsed
    /// response, or the mapped error.
    #[expect(
        clippy::too_many_arguments,
        reason = "the command, its extension, and how to record it"
    )]
    async fn exec<C, E>(
        &self,
        operation: &'static str,
        label: &str,
        command: &C,
        extension: Option<&E>,
        key: Option<&IdempotencyKey>,
        mutating: bool,
        t: &mut Transcript,
    ) -> Result<Response<C::Response, E::Response>, RegistrarError>
    where
        C: Transaction<E> + Command,
        E: Extension,
    {
        let cltrid = match key {
            Some(k) => k.short(),
            None => format!(
                "p1-q-{}",
                &hex::encode(Sha256::digest(format!("{:?}", Instant::now())))[..16]
            ),
        };
        let xml = frame(command, extension, &cltrid).map_err(|e| {
            RegistrarError::config(KIND, format!("cannot write the {label} frame: {e}"))
        })?;
        let mut guard = self.session.lock().await;
        if guard.is_none() {
            *guard = Some(self.connect(t).await?);
        }
        let Some(client) = guard.as_mut() else {
            return Err(RegistrarError::retryable(
                KIND,
                operation,
                "no EPP session",
                None,
            ));
        };
        let started = Instant::now();
        let sent = tokio::time::timeout(self.timeout(), client.transact_xml(&xml)).await;
        let answer = match sent {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                *guard = None;
                self.record(t, label, &xml, None, started);
                let reason = format!("the connection failed: {e}");
                return Err(if mutating {
                    RegistrarError::unknown(KIND, operation, reason)
                } else {
                    RegistrarError::retryable(KIND, operation, reason, None)
                });
            }
            Err(_) => {
                *guard = None;
                self.record(t, label, &xml, None, started);
                let reason = format!("no answer within {} s", self.timeout().as_secs());
                return Err(if mutating {
                    RegistrarError::unknown(KIND, operation, reason)
                } else {
                    RegistrarError::retryable(KIND, operation, reason, None)
                });
            }
        };
        self.record(t, label, &xml, Some(&answer), started);
        tracing::debug!(
            registrar = KIND,
            command = label,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "EPP command answered"
        );
        let rsp = match instant_xml::from_str::<EppIn<Response<C::Response, E::Response>>>(&answer)
        {
            Ok(r) => r.data,
            Err(e) => {
                // The frame may carry just a result code we can still read.
                if let Ok(status) =
                    instant_xml::from_str::<EppIn<instant_epp::response::ResponseStatus>>(&answer)
                {
                    let code = status.data.result.code as u16;
                    if code >= 2500 {
                        *guard = None;
                    }
                    return Err(map_code(
                        operation,
                        code,
                        &status.data.result.message,
                        mutating,
                    ));
                }
                let reason = format!("unreadable answer: {e}");
                return Err(if mutating {
                    RegistrarError::unknown(KIND, operation, reason)
                } else {
                    RegistrarError::retryable(KIND, operation, reason, None)
                });
            }
        };
        if rsp.result.code.is_success() {
            Ok(rsp)
        } else {
            let code = rsp.result.code as u16;
            if code >= 2500 {
                *guard = None;
            }
            Err(map_code(operation, code, &rsp.result.message, mutating))
        }
    }

    fn sold(&self, op: &'static str, name: &DomainName) -> Result<(), RegistrarError> {
        if self.config.tlds.is_empty()
            || self
                .config
                .tlds
                .iter()
                .any(|t| t.eq_ignore_ascii_case(name.public_suffix()))
        {
            Ok(())
        } else {
            Err(RegistrarError::failed(
                KIND,
                op,
                FailureKind::UnsupportedTld,
                "2307",
                format!(
                    "this EPP server sells {}, not .{}",
                    self.config.tlds.join(", "),
                    name.public_suffix()
                ),
            ))
        }
    }

    async fn domain_state(
        &self,
        op: &'static str,
        name: &DomainName,
        t: &mut Transcript,
    ) -> Result<DomainState, RegistrarError> {
        let cmd = EppDomainInfo::new(name.as_ascii(), None);
        // The RGP extension is answered, not requested: `rgp:infData` comes with the info.
        let rsp = self.exec_info(op, &cmd, t).await?;
        let rgp = match rsp.extension() {
            Some(RgpRequestResponse::Info(i)) => i.rgp_status.iter().map(rgp_status).collect(),
            Some(RgpRequestResponse::Update(u)) => u.rgp_status.iter().map(rgp_status).collect(),
            None => Vec::new(),
        };
        if rsp.res_data().is_none() {
            return Err(RegistrarError::retryable(
                KIND,
                op,
                "the info answer has no infData",
                None,
            ));
        }
        Ok(DomainState { rsp, rgp })
    }

    async fn exec_info(
        &self,
        op: &'static str,
        cmd: &EppDomainInfo<'_>,
        t: &mut Transcript,
    ) -> Result<Response<epp_domain::InfoData, RgpRequestResponse>, RegistrarError> {
        self.exec::<_, RgpInfoAnswer>(op, "domain:info", cmd, None, None, false, t)
            .await
    }

    async fn ensure_contact(
        &self,
        op: &'static str,
        c: &Contact,
        key: &IdempotencyKey,
        t: &mut Transcript,
    ) -> Result<String, RegistrarError> {
        let d = c.data();
        let id = contact_id(d);
        let streets: Vec<&str> = std::iter::once(d.address1.as_str())
            .chain(d.address2.as_deref())
            .collect();
        let country = d.country.parse::<epp_contact::Country>().map_err(|_| {
            RegistrarError::failed(
                KIND,
                op,
                FailureKind::InvalidInput,
                "2005",
                format!("unknown country {}", d.country),
            )
        })?;
        let address = epp_contact::Address::new(
            &streets,
            &d.city,
            d.state_province.as_deref(),
            d.postal_code.as_deref(),
            country,
        );
        let name = c.full_name();
        let info_type = if name.is_ascii() && d.address1.is_ascii() && d.city.is_ascii() {
            InfoType::International
        } else {
            InfoType::Local
        };
        let postal = PostalInfo::new(info_type, &name, d.organization.as_deref(), address);
        let pw = generated_password(&format!("{id}:{}", self.config.client_id));
        let mut create = ContactCreate::new(&id, &d.email, postal, Some(Voice::new(&d.phone)), &pw);
        if let Some(f) = &d.fax {
            create.set_fax(epp_contact::Fax::new(f));
        }
        match self
            .exec(
                op,
                "contact:create",
                &create,
                None::<&NoExtension>,
                Some(key),
                true,
                t,
            )
            .await
        {
            Ok(_) => Ok(id),
            // Content-addressed: an existing id is this very contact.
            Err(e) if e.failure_kind() == Some(FailureKind::NotAvailable) => Ok(id),
            Err(e) => Err(e),
        }
    }

    async fn contacts_of(
        &self,
        op: &'static str,
        info: &epp_domain::InfoData,
        t: &mut Transcript,
    ) -> Result<Option<DomainContacts<ContactData>>, RegistrarError> {
        let Some(registrant) = &info.registrant else {
            return Ok(None);
        };
        let role = |r: &str| {
            info.contacts
                .as_ref()
                .and_then(|cs| cs.iter().find(|c| c.contact_type == r))
                .map(|c| c.id.to_string())
        };
        let (Some(admin), Some(tech), Some(billing)) =
            (role("admin"), role("tech"), role("billing"))
        else {
            return Ok(None);
        };
        let mut cache: Vec<(String, ContactData)> = Vec::new();
        let mut get = async |id: &str, t: &mut Transcript| -> Result<ContactData, RegistrarError> {
            if let Some((_, c)) = cache.iter().find(|(i, _)| i == id) {
                return Ok(c.clone());
            }
            let q = ContactInfoQuery {
                contact: ContactInfoId { id },
            };
            let rsp = self
                .exec(op, "contact:info", &q, None::<&NoExtension>, None, false, t)
                .await?;
            let data = rsp.res_data().map(contact_data).ok_or_else(|| {
                RegistrarError::retryable(KIND, op, "the contact info answer has no infData", None)
            })?;
            cache.push((id.to_owned(), data.clone()));
            Ok(data)
        };
        Ok(Some(DomainContacts {
            registrant: get(registrant, t).await?,
            admin: get(&admin, t).await?,
            tech: get(&tech, t).await?,
            billing: get(&billing, t).await?,
        }))
    }

    async fn update_statuses(
        &self,
        op: &'static str,
        name: &DomainName,
        status: epp_domain::Status,
        on: bool,
        key: &IdempotencyKey,
    ) -> Reply<()> {
        let mut t = Transcript::default();
        let result = async {
            let st = self.domain_state(op, name, &mut t).await?;
            let has = st
                .info()
                .statuses
                .as_deref()
                .unwrap_or_default()
                .contains(&status);
            if has == on {
                return Ok(());
            }
            let statuses = [status];
            let mut upd = DomainUpdate::new(name.as_ascii());
            if on {
                upd.add(DomainAdd {
                    ns: None,
                    contacts: None,
                    statuses: Some(&statuses),
                });
            } else {
                upd.remove(DomainRemove {
                    ns: None,
                    contacts: None,
                    statuses: Some(&statuses),
                });
            }
            self.exec(
                op,
                "domain:update",
                &upd,
                None::<&NoExtension>,
                Some(key),
                true,
                &mut t,
            )
            .await?;
            Ok(())
        }
        .await;
        Reply::new(result, t)
    }
}

/// The extension answer of a domain info: `rgp:infData`, when the server adds it.
#[derive(Debug)]
struct RgpInfoAnswer;

impl ToXml for RgpInfoAnswer {
    fn serialize<W: std::fmt::Write + ?Sized>(
        &self,
        _: Option<instant_xml::Id<'_>>,
        _: &mut instant_xml::Serializer<W>,
    ) -> Result<(), instant_xml::Error> {
        Ok(())
    }
}

impl Extension for RgpInfoAnswer {
    type Response = RgpRequestResponse;
}

impl<'a> Transaction<RgpInfoAnswer> for EppDomainInfo<'a> {}

fn client_identity(
    cert_pem: &str,
    key_pem: &SecretString,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), RegistrarError> {
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RegistrarError::config(KIND, format!("client_cert_pem: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.expose().as_bytes())
        .map_err(|_| RegistrarError::config(KIND, "client_key_pem is not a PEM private key"))?;
    Ok((certs, key))
}

fn ns_objects(ns: &[DomainName]) -> Vec<HostInfo<'_>> {
    ns.iter()
        .map(|n| {
            HostInfo::Obj(HostObj {
                name: n.as_ascii().into(),
            })
        })
        .collect()
}

fn current_ns(info: &epp_domain::InfoData) -> Vec<String> {
    info.ns
        .as_ref()
        .map(|n| {
            n.ns.iter()
                .map(|h| match h {
                    HostInfo::Obj(o) => o.name.to_ascii_lowercase(),
                    HostInfo::Attr(a) => a.name.to_ascii_lowercase(),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[async_trait]
impl Registrar for Epp {
    fn kind(&self) -> &'static str {
        KIND
    }

    #[tracing::instrument(skip_all, fields(registrar = KIND, names = names.len()))]
    async fn check(&self, names: &[DomainName]) -> Reply<Vec<Availability>> {
        let mut t = Transcript::default();
        let result = async {
            let sold: Vec<&str> = names
                .iter()
                .filter(|n| self.sold("check", n).is_ok())
                .map(|n| n.as_ascii())
                .collect();
            let mut answered: Vec<(String, bool, Option<String>)> = Vec::new();
            for chunk in sold.chunks(50) {
                let rsp = self
                    .exec(
                        "check",
                        "domain:check",
                        &DomainCheck { domains: chunk },
                        None::<&NoExtension>,
                        None,
                        false,
                        &mut t,
                    )
                    .await?;
                let data = rsp
                    .res_data()
                    .ok_or_else(|| RegistrarError::retryable(KIND, "check", "no chkData", None))?;
                answered.extend(data.list.iter().map(|c| {
                    (
                        c.name.value.to_ascii_lowercase(),
                        c.name.available,
                        c.reason.as_ref().map(|r| r.value.clone()),
                    )
                }));
            }
            Ok(names
                .iter()
                .map(|n| {
                    if let Err(e) = self.sold("check", n) {
                        return Availability {
                            name: n.clone(),
                            available: false,
                            premium: false,
                            price: None,
                            reason: Some(e.to_string()),
                        };
                    }
                    let cd = answered.iter().find(|(name, _, _)| name == n.as_ascii());
                    Availability {
                        name: n.clone(),
                        available: cd.is_some_and(|c| c.1),
                        premium: false,
                        price: None,
                        reason: cd.and_then(|c| c.2.clone()),
                    }
                })
                .collect())
        }
        .await;
        Reply::new(result, t)
    }

    #[tracing::instrument(skip_all, fields(registrar = KIND, domain = %req.name, key = %key))]
    async fn register(&self, req: &RegisterRequest, key: &IdempotencyKey) -> Reply<Registered> {
        const OP: &str = "register";
        let mut t = Transcript::default();
        let result = async {
            self.sold(OP, &req.name)?;
            let period = years(OP, req.years)?;
            let c = &req.contacts;
            let registrant = self.ensure_contact(OP, &c.registrant, key, &mut t).await?;
            let admin = self.ensure_contact(OP, &c.admin, key, &mut t).await?;
            let tech = self.ensure_contact(OP, &c.tech, key, &mut t).await?;
            let billing = self.ensure_contact(OP, &c.billing, key, &mut t).await?;
            let contacts = [
                DomainContact {
                    contact_type: "admin".into(),
                    id: admin.into(),
                },
                DomainContact {
                    contact_type: "tech".into(),
                    id: tech.into(),
                },
                DomainContact {
                    contact_type: "billing".into(),
                    id: billing.into(),
                },
            ];
            let ns = ns_objects(&req.nameservers);
            let pw = generated_password(&format!(
                "{}:{}:{}",
                req.name,
                key,
                Utc::now().timestamp_nanos_opt().unwrap_or(0)
            ));
            let create = DomainCreate::new(
                req.name.as_ascii(),
                period,
                (!ns.is_empty()).then_some(ns.as_slice()),
                Some(&registrant),
                &pw,
                Some(&contacts),
            );
            let rsp = self
                .exec(
                    OP,
                    "domain:create",
                    &create,
                    None::<&NoExtension>,
                    Some(key),
                    true,
                    &mut t,
                )
                .await?;
            let data = rsp.res_data().ok_or_else(|| {
                RegistrarError::unknown(KIND, OP, "the create answer has no creData")
            })?;
            let expires_at = match data.expiring_at {
                Some(e) => e,
                None => self
                    .domain_state(OP, &req.name, &mut t)
                    .await?
                    .info()
                    .expiring_at
                    .ok_or_else(|| {
                        RegistrarError::unknown(KIND, OP, "no expiry date in the answers")
                    })?,
            };
            Ok(Registered {
                name: req.name.clone(),
                created_at: data.created_at,
                expires_at,
                charged: None,
                registry_id: None,
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
            let period = years(OP, req.years)?;
            let cmd =
                DomainRenew::new(req.name.as_ascii(), req.current_expiry.date_naive(), period);
            let rsp = self
                .exec(
                    OP,
                    "domain:renew",
                    &cmd,
                    None::<&NoExtension>,
                    Some(key),
                    true,
                    &mut t,
                )
                .await?;
            let expires_at = match rsp.res_data().and_then(|d| d.expiring_at) {
                Some(e) => e,
                None => self
                    .domain_state(OP, &req.name, &mut t)
                    .await?
                    .info()
                    .expiring_at
                    .ok_or_else(|| {
                        RegistrarError::unknown(KIND, OP, "no expiry date in the answers")
                    })?,
            };
            Ok(Renewed {
                name: req.name.clone(),
                expires_at,
                charged: None,
            })
        }
        .await;
        Reply::new(result, t)
    }

    #[tracing::instrument(skip_all, fields(registrar = KIND, domain = %name))]
    async fn info(&self, name: &DomainName) -> Reply<DomainInfo> {
        const OP: &str = "info";
        let mut t = Transcript::default();
        let result = async {
            let st = match self.domain_state(OP, name, &mut t).await {
                Ok(st) => st,
                // Exists, but another registrar sponsors it.
                Err(RegistrarError::Failed { code, .. }) if code == "2201" => {
                    return Ok(DomainInfo {
                        name: name.clone(),
                        in_account: false,
                        created_at: None,
                        expires_at: None,
                        nameservers: vec![],
                        locked: false,
                        privacy: None,
                        auto_renew: None,
                        contacts: None,
                        epp_statuses: vec![],
                        rgp_statuses: vec![],
                        registry_id: None,
                    });
                }
                Err(e) => return Err(e),
            };
            let i = st.info();
            let in_account = i.client_id == self.config.client_id;
            let statuses: Vec<EppStatus> = i
                .statuses
                .as_deref()
                .unwrap_or_default()
                .iter()
                .filter_map(epp_status)
                .collect();
            let contacts = if in_account {
                self.contacts_of(OP, i, &mut t).await?
            } else {
                None
            };
            Ok(DomainInfo {
                name: name.clone(),
                in_account,
                created_at: i.created_at,
                expires_at: i.expiring_at,
                nameservers: current_ns(i)
                    .iter()
                    .filter_map(|n| DomainName::parse(n).ok())
                    .collect(),
                locked: statuses.contains(&EppStatus::ClientTransferProhibited),
                privacy: None,
                auto_renew: None,
                contacts,
                epp_statuses: statuses,
                rgp_statuses: st.rgp.clone(),
                registry_id: Some(i.roid.clone()),
            })
        }
        .await;
        Reply::new(result, t)
    }

    async fn health(&self) -> Reply<Health> {
        let mut t = Transcript::default();
        let result = async {
            let mut guard = self.session.lock().await;
            if guard.is_none() {
                *guard = Some(self.connect(&mut t).await?);
            }
            let Some(client) = guard.as_mut() else {
                return Err(RegistrarError::retryable(
                    KIND,
                    "health",
                    "no EPP session",
                    None,
                ));
            };
            let xml = format!(
                "{}\r\n{}",
                instant_epp::xml::EPP_XML_HEADER,
                instant_xml::to_string(&EppOut { data: Hello })
                    .map_err(|e| RegistrarError::config(KIND, e.to_string()))?
            );
            let started = Instant::now();
            match tokio::time::timeout(self.timeout(), client.transact_xml(&xml)).await {
                Ok(Ok(greeting)) => {
                    self.record(&mut t, "hello", &xml, Some(&greeting), started);
                    let sv = roxmltree::Document::parse(&greeting)
                        .ok()
                        .and_then(|d| {
                            d.descendants()
                                .find(|n| n.has_tag_name("svID"))
                                .and_then(|n| n.text().map(str::to_owned))
                        })
                        .unwrap_or_default();
                    Ok(Health {
                        balance: None,
                        message: format!(
                            "EPP server {sv} at {}:{}",
                            self.config.host, self.config.port
                        ),
                    })
                }
                Ok(Err(e)) => {
                    *guard = None;
                    Err(RegistrarError::retryable(
                        KIND,
                        "health",
                        format!("hello failed: {e}"),
                        None,
                    ))
                }
                Err(_) => {
                    *guard = None;
                    Err(RegistrarError::retryable(
                        KIND,
                        "health",
                        "no greeting before the timeout",
                        None,
                    ))
                }
            }
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
            self.sold(OP, &req.name)?;
            let period = years(OP, req.years)?;
            let code = req.auth_code.expose().to_owned();
            let cmd = DomainTransfer::new(req.name.as_ascii(), Some(period), &code);
            let rsp = self
                .exec(
                    OP,
                    "domain:transfer request",
                    &cmd,
                    None::<&NoExtension>,
                    Some(key),
                    true,
                    &mut t,
                )
                .await?;
            let d = rsp.res_data().ok_or_else(|| {
                RegistrarError::unknown(KIND, OP, "the transfer answer has no trnData")
            })?;
            Ok(TransferInfo {
                name: req.name.clone(),
                state: transfer_state(&d.transfer_status),
                transfer_id: None,
                requested_at: Some(d.requested_at),
                action_by: Some(d.ack_by),
                expires_at: d.expiring_at,
                message: Some(d.transfer_status.clone()),
                charged: None,
            })
        }
        .await;
        Reply::new(result, t)
    }

    async fn transfer_status(
        &self,
        name: &DomainName,
        _transfer_id: Option<&str>,
    ) -> Reply<TransferInfo> {
        const OP: &str = "transfer_status";
        let mut t = Transcript::default();
        let result = async {
            let q = TransferQuery {
                op: "query",
                domain: TransferQueryName {
                    name: name.as_ascii(),
                },
            };
            let rsp = self
                .exec(
                    OP,
                    "domain:transfer query",
                    &q,
                    None::<&NoExtension>,
                    None,
                    false,
                    &mut t,
                )
                .await?;
            let d = rsp.res_data().ok_or_else(|| {
                RegistrarError::retryable(KIND, OP, "the transfer answer has no trnData", None)
            })?;
            let state = transfer_state(&d.transfer_status);
            // A transfer the registry finished is only "completed" for us if we won it.
            let state =
                if state == TransferState::Completed && d.requester_id != self.config.client_id {
                    TransferState::Cancelled
                } else {
                    state
                };
            Ok(TransferInfo {
                name: name.clone(),
                state,
                transfer_id: None,
                requested_at: Some(d.requested_at),
                action_by: Some(d.ack_by),
                expires_at: d.expiring_at,
                message: Some(d.transfer_status.clone()),
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
            let st = self.domain_state(OP, name, &mut t).await?;
            let have = current_ns(st.info());
            let want: Vec<String> = nameservers
                .iter()
                .map(|n| n.as_ascii().to_owned())
                .collect();
            let add: Vec<HostInfo<'_>> = want
                .iter()
                .filter(|n| !have.contains(n))
                .map(|n| {
                    HostInfo::Obj(HostObj {
                        name: n.as_str().into(),
                    })
                })
                .collect();
            let rem: Vec<HostInfo<'_>> = have
                .iter()
                .filter(|n| !want.contains(n))
                .map(|n| {
                    HostInfo::Obj(HostObj {
                        name: n.as_str().into(),
                    })
                })
                .collect();
            if add.is_empty() && rem.is_empty() {
                return Ok(());
            }
            let mut upd = DomainUpdate::new(name.as_ascii());
            if !add.is_empty() {
                upd.add(DomainAdd {
                    ns: Some(NameServers { ns: add.into() }),
                    contacts: None,
                    statuses: None,
                });
            }
            if !rem.is_empty() {
                upd.remove(DomainRemove {
                    ns: Some(NameServers { ns: rem.into() }),
                    contacts: None,
                    statuses: None,
                });
            }
            self.exec(
                OP,
                "domain:update",
                &upd,
                None::<&NoExtension>,
                Some(key),
                true,
                &mut t,
            )
            .await?;
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
            let st = self.domain_state(OP, name, &mut t).await?;
            let registrant = self
                .ensure_contact(OP, &contacts.registrant, key, &mut t)
                .await?;
            let mut want = Vec::new();
            for (role, c) in [
                ("admin", &contacts.admin),
                ("tech", &contacts.tech),
                ("billing", &contacts.billing),
            ] {
                want.push((role, self.ensure_contact(OP, c, key, &mut t).await?));
            }
            let have: Vec<(String, String)> = st
                .info()
                .contacts
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|c| (c.contact_type.to_string(), c.id.to_string()))
                .collect();
            let add: Vec<DomainContact<'_>> = want
                .iter()
                .filter(|(r, id)| !have.iter().any(|(hr, hid)| hr == r && hid == id))
                .map(|(r, id)| DomainContact {
                    contact_type: (*r).into(),
                    id: id.as_str().into(),
                })
                .collect();
            let rem: Vec<DomainContact<'_>> = have
                .iter()
                .filter(|(r, id)| !want.iter().any(|(wr, wid)| wr == r && wid == id))
                .map(|(r, id)| DomainContact {
                    contact_type: r.as_str().into(),
                    id: id.as_str().into(),
                })
                .collect();
            let change_registrant = st.info().registrant.as_deref() != Some(registrant.as_str());
            if add.is_empty() && rem.is_empty() && !change_registrant {
                return Ok(());
            }
            let mut upd = DomainUpdate::new(name.as_ascii());
            if !add.is_empty() {
                upd.add(DomainAdd {
                    ns: None,
                    contacts: Some(&add),
                    statuses: None,
                });
            }
            if !rem.is_empty() {
                upd.remove(DomainRemove {
                    ns: None,
                    contacts: Some(&rem),
                    statuses: None,
                });
            }
            if change_registrant {
                upd.info(DomainChangeInfo {
                    registrant: Some(&registrant),
                    auth_info: None,
                });
            }
            self.exec(
                OP,
                "domain:update",
                &upd,
                None::<&NoExtension>,
                Some(key),
                true,
                &mut t,
            )
            .await?;
            Ok(())
        }
        .await;
        Reply::new(result, t)
    }

    async fn set_lock(&self, name: &DomainName, locked: bool, key: &IdempotencyKey) -> Reply<()> {
        self.update_statuses(
            "set_lock",
            name,
            epp_domain::Status::ClientTransferProhibited,
            locked,
            key,
        )
        .await
    }

    async fn set_hold(&self, name: &DomainName, hold: bool, key: &IdempotencyKey) -> Reply<()> {
        self.update_statuses("set_hold", name, epp_domain::Status::ClientHold, hold, key)
            .await
    }

    async fn auth_code(&self, name: &DomainName) -> Reply<SecretString> {
        const OP: &str = "auth_code";
        let mut t = Transcript::default();
        let result = async {
            let st = self.domain_state(OP, name, &mut t).await?;
            if st.info().client_id != self.config.client_id {
                return Err(RegistrarError::failed(
                    KIND,
                    OP,
                    FailureKind::NotFound,
                    "2201",
                    format!("{name} is not sponsored by this account"),
                ));
            }
            st.info()
                .auth_info
                .as_ref()
                .map(|a: &DomainAuthInfo<'static>| SecretString::new(a.password.to_string()))
                .ok_or_else(|| {
                    RegistrarError::failed(
                        KIND,
                        OP,
                        FailureKind::Other,
                        "0",
                        "the registry did not return the auth code",
                    )
                })
        }
        .await;
        Reply::new(result, t)
    }

    #[tracing::instrument(skip_all, fields(registrar = KIND, domain = %name, key = %key))]
    async fn restore(&self, name: &DomainName, key: &IdempotencyKey) -> Reply<Restored> {
        const OP: &str = "restore";
        let mut t = Transcript::default();
        let result = async {
            let mut upd = DomainUpdate::new(name.as_ascii());
            upd.info(DomainChangeInfo {
                registrant: None,
                auth_info: None,
            });
            let ext = RgpUpdate {
                data: RgpRestoreRequest::default(),
            };
            self.exec(
                OP,
                "domain:update rgp:restore",
                &upd,
                Some(&ext),
                Some(key),
                true,
                &mut t,
            )
            .await?;
            let after = self.domain_state(OP, name, &mut t).await.ok();
            Ok(Restored {
                name: name.clone(),
                expires_at: after.and_then(|s| s.info().expiring_at),
                charged: None,
            })
        }
        .await;
        Reply::new(result, t)
    }
}

impl Epp {
    /// Drops the session after a polite `<logout>`.
    pub async fn logout(&self) {
        let mut guard = self.session.lock().await;
        if let Some(mut client) = guard.take() {
            if let Ok(xml) = frame(
                &instant_epp::logout::Logout,
                None::<&NoExtension>,
                "p1-logout",
            ) {
                let _ = tokio::time::timeout(self.timeout(), client.transact_xml(&xml)).await;
            }
            let _ = client.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_blanked_in_frames() {
        let xml = r#"<login><clID>me</clID><pw>s3cr&amp;t</pw><newPW>n3w</newPW></login><domain:authInfo><domain:pw>abc</domain:pw></domain:authInfo><domain:pw/>"#;
        assert_eq!(
            redact_passwords(xml),
            r#"<login><clID>me</clID><pw>***</pw><newPW>***</newPW></login><domain:authInfo><domain:pw>***</domain:pw></domain:authInfo><domain:pw/>"#
        );
    }

    #[test]
    fn result_codes_map_to_kinds() {
        assert_eq!(
            map_code("x", 2302, "exists", true).failure_kind(),
            Some(FailureKind::NotAvailable)
        );
        assert_eq!(
            map_code("x", 2303, "no", false).failure_kind(),
            Some(FailureKind::NotFound)
        );
        assert_eq!(
            map_code("x", 2202, "auth", true).failure_kind(),
            Some(FailureKind::BadAuthCode)
        );
        assert_eq!(
            map_code("x", 2104, "billing", true).failure_kind(),
            Some(FailureKind::InsufficientFunds)
        );
        assert_eq!(
            map_code("x", 2304, "prohibited", true).failure_kind(),
            Some(FailureKind::StatusProhibits)
        );
        assert!(map_code("x", 2400, "failed", true).is_retryable());
        assert!(map_code("x", 2500, "closing", true).is_unknown_outcome());
    }

    #[test]
    fn contact_ids_fit_epp_and_follow_the_content() {
        let mut c = ContactData {
            first_name: "Ann".into(),
            email: "a@example.com".into(),
            ..ContactData::default()
        };
        let a = contact_id(&c);
        assert_eq!(a.len(), 16);
        assert_eq!(a, contact_id(&c));
        c.email = "b@example.com".into();
        assert_ne!(a, contact_id(&c));
    }
}
