//! The `Registrar` trait and the registry of configured registrars.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use panel1_core::SecretString;
use panel1_core::contact::{Contact, DomainContacts};
use panel1_core::domain_name::DomainName;

use crate::error::RegistrarError;
use crate::types::*;

/// A registrar (or a registry spoken to directly): the operations Panel1 needs on domain
/// names.
///
/// Required methods are what every registrar can do. The rest are optional capabilities:
/// their default answers [`RegistrarError::NotSupported`], and an adapter overrides those it
/// has. Every method that changes something takes an [`IdempotencyKey`]; an adapter passes
/// it on where the protocol has a place for it (EPP clTRID) and records it otherwise.
///
/// Each call returns a [`Reply`]: the result and the redacted transcript of what was sent
/// and received, for the operations log.
#[async_trait]
pub trait Registrar: Send + Sync {
    /// The adapter kind (`sandbox`, `namecheap`, `epp`).
    fn kind(&self) -> &'static str;

    /// Availability of many names at once, with price and premium flag where given.
    async fn check(&self, names: &[DomainName]) -> Reply<Vec<Availability>>;

    async fn register(&self, req: &RegisterRequest, key: &IdempotencyKey) -> Reply<Registered>;

    /// Adds `years` to the current expiry. Renewing twice really renews twice: the caller
    /// checks [`Registrar::info`] first when an earlier attempt's outcome is unknown.
    async fn renew(&self, req: &RenewRequest, key: &IdempotencyKey) -> Reply<Renewed>;

    /// Status, expiry, nameservers, lock, privacy, contacts, EPP and RGP statuses.
    /// A domain that does not exist answers `Failed` with [`crate::FailureKind::NotFound`];
    /// one that belongs to another account answers `in_account: false` where the registrar
    /// tells the difference.
    async fn info(&self, name: &DomainName) -> Reply<DomainInfo>;

    /// Whether the credentials work and the registrar answers.
    async fn health(&self) -> Reply<Health>;

    async fn transfer_in(
        &self,
        req: &TransferRequest,
        key: &IdempotencyKey,
    ) -> Reply<TransferInfo> {
        let _ = (req, key);
        Reply::err(RegistrarError::not_supported(self.kind(), "transfer_in"))
    }

    /// Where a transfer into this account stands. `transfer_id` is what `transfer_in`
    /// answered, for registrars that track transfers by id.
    async fn transfer_status(
        &self,
        name: &DomainName,
        transfer_id: Option<&str>,
    ) -> Reply<TransferInfo> {
        let _ = (name, transfer_id);
        Reply::err(RegistrarError::not_supported(
            self.kind(),
            "transfer_status",
        ))
    }

    async fn update_nameservers(
        &self,
        name: &DomainName,
        nameservers: &[DomainName],
        key: &IdempotencyKey,
    ) -> Reply<()> {
        let _ = (name, nameservers, key);
        Reply::err(RegistrarError::not_supported(
            self.kind(),
            "update_nameservers",
        ))
    }

    async fn update_contacts(
        &self,
        name: &DomainName,
        contacts: &DomainContacts<Contact>,
        key: &IdempotencyKey,
    ) -> Reply<()> {
        let _ = (name, contacts, key);
        Reply::err(RegistrarError::not_supported(
            self.kind(),
            "update_contacts",
        ))
    }

    /// Registrar lock (clientTransferProhibited) on or off.
    async fn set_lock(&self, name: &DomainName, locked: bool, key: &IdempotencyKey) -> Reply<()> {
        let _ = (name, locked, key);
        Reply::err(RegistrarError::not_supported(self.kind(), "set_lock"))
    }

    /// WHOIS privacy on or off.
    async fn set_privacy(
        &self,
        name: &DomainName,
        enabled: bool,
        key: &IdempotencyKey,
    ) -> Reply<()> {
        let _ = (name, enabled, key);
        Reply::err(RegistrarError::not_supported(self.kind(), "set_privacy"))
    }

    /// Registry hold (clientHold) on or off: how Panel1 suspends a domain at the registry.
    async fn set_hold(&self, name: &DomainName, hold: bool, key: &IdempotencyKey) -> Reply<()> {
        let _ = (name, hold, key);
        Reply::err(RegistrarError::not_supported(self.kind(), "set_hold"))
    }

    /// The transfer auth code (EPP authInfo), for the registrant to move the domain away.
    async fn auth_code(&self, name: &DomainName) -> Reply<SecretString> {
        let _ = name;
        Reply::err(RegistrarError::not_supported(self.kind(), "auth_code"))
    }

    /// Restore from redemption (RFC 3915).
    async fn restore(&self, name: &DomainName, key: &IdempotencyKey) -> Reply<Restored> {
        let _ = (name, key);
        Reply::err(RegistrarError::not_supported(self.kind(), "restore"))
    }

    /// A page of the domains in this account, for import and sync.
    async fn list_domains(&self, page: &ListRequest) -> Reply<DomainList> {
        let _ = page;
        Reply::err(RegistrarError::not_supported(self.kind(), "list_domains"))
    }
}

/// The configured registrars, by name (one per tenant registrar account, e.g.
/// `namecheap-main`). Cheap to clone.
#[derive(Clone, Default)]
pub struct RegistrarRegistry {
    by_name: BTreeMap<String, Arc<dyn Registrar>>,
}

impl std::fmt::Debug for RegistrarRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.by_name.iter().map(|(k, v)| (k, v.kind())))
            .finish()
    }
}

impl RegistrarRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a registrar under `name`.
    pub fn insert(&mut self, name: impl Into<String>, registrar: Arc<dyn Registrar>) {
        self.by_name.insert(name.into(), registrar);
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn Registrar>> {
        self.by_name.get(name).cloned()
    }

    /// The registrar, or an error naming the missing one and the configured ones.
    pub fn require(&self, name: &str) -> Result<Arc<dyn Registrar>, RegistrarError> {
        self.get(name).ok_or_else(|| {
            RegistrarError::config(
                name,
                format!(
                    "no registrar named `{name}` is configured (configured: {})",
                    if self.by_name.is_empty() {
                        "none".to_owned()
                    } else {
                        self.names().collect::<Vec<_>>().join(", ")
                    }
                ),
            )
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}
