//! External DNS providers: where a tenant's zones are served when not (only) by the
//! built-in server. One trait, adapters in submodules, a registry keyed by name, chosen by
//! a tagged config enum (the hickory `ZoneHandler`/`Catalog` shape).
//!
//! Error policy: every failure is a [`ProviderError`] that says whether retrying can help
//! ([`ProviderError::is_retryable`]: network failures, timeouts, 5xx, SERVFAIL) or not
//! (refused credentials, rejected data, a zone that does not exist). The job queue retries
//! only the first kind. Messages never contain credentials.

pub mod builtin;
pub mod powerdns;
pub mod rfc2136;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use hickory_proto::rr::{Name, RData, RecordType};
use serde::Deserialize;

use crate::record::DnsRecord;
use crate::zone::{Soa, Zone};

pub use builtin::BuiltinProvider;
pub use powerdns::{PowerDnsConfig, PowerDnsProvider};
pub use rfc2136::{Rfc2136Config, Rfc2136Provider};

/// Why a provider call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    #[error(
        "{provider}: cannot reach {endpoint}: {reason}; check the address and that the service runs"
    )]
    Unreachable {
        provider: String,
        endpoint: String,
        reason: String,
    },
    #[error("{provider}: no answer from {endpoint} within {seconds} s")]
    Timeout {
        provider: String,
        endpoint: String,
        seconds: u64,
    },
    #[error("{provider}: the server failed ({status}): {detail}")]
    ServerFailure {
        provider: String,
        status: String,
        detail: String,
    },
    #[error("{provider}: the credentials were refused ({status}); check the API key or TSIG key")]
    Unauthorized { provider: String, status: String },
    #[error("{provider}: the request was rejected ({status}): {detail}")]
    Rejected {
        provider: String,
        status: String,
        detail: String,
    },
    #[error("{provider}: the zone {zone} does not exist there; create it first")]
    ZoneNotFound { provider: String, zone: String },
    #[error("{provider}: the zone {zone} already exists there")]
    ZoneExists { provider: String, zone: String },
    #[error("{provider} cannot {operation}; {hint}")]
    NotSupported {
        provider: String,
        operation: &'static str,
        hint: &'static str,
    },
    #[error("{provider}: the answer could not be understood: {detail}")]
    Protocol { provider: String, detail: String },
    #[error("{provider}: bad configuration: {detail}")]
    Config { provider: String, detail: String },
}

impl ProviderError {
    /// Whether the same call may succeed later (network, timeouts, server failures).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Unreachable { .. } | Self::Timeout { .. } | Self::ServerFailure { .. }
        )
    }
}

/// The new content of one RRset: replace it with `records`, or delete it when empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrsetChange {
    pub name: Name,
    pub rtype: RecordType,
    pub ttl: u32,
    pub records: Vec<RData>,
}

impl RrsetChange {
    pub fn is_delete(&self) -> bool {
        self.records.is_empty()
    }
}

type RrsetMap<'a> = BTreeMap<(Name, u16), (u32, Vec<&'a RData>)>;

fn group(records: &[DnsRecord]) -> RrsetMap<'_> {
    let mut map: RrsetMap<'_> = BTreeMap::new();
    for r in records {
        let e = map
            .entry((r.name.clone(), u16::from(r.record_type())))
            .or_insert((r.ttl, Vec::new()));
        e.1.push(&r.data);
    }
    map
}

/// The RRset changes that turn `old` records into `new` ones (SOA excluded).
pub fn diff_rrsets(old: &[DnsRecord], new: &[DnsRecord]) -> Vec<RrsetChange> {
    let old = group(old);
    let new = group(new);
    let mut changes = Vec::new();
    for ((name, t), (ttl, data)) in &new {
        let same = old.get(&(name.clone(), *t)).is_some_and(|(ottl, odata)| {
            ottl == ttl && odata.len() == data.len() && data.iter().all(|d| odata.contains(d))
        });
        if !same {
            changes.push(RrsetChange {
                name: name.clone(),
                rtype: RecordType::from(*t),
                ttl: *ttl,
                records: data.iter().map(|d| (*d).clone()).collect(),
            });
        }
    }
    for ((name, t), (ttl, _)) in &old {
        if !new.contains_key(&(name.clone(), *t)) {
            changes.push(RrsetChange {
                name: name.clone(),
                rtype: RecordType::from(*t),
                ttl: *ttl,
                records: Vec::new(),
            });
        }
    }
    changes
}

/// A place that serves zones. Required: applying RRset changes and a health check; the
/// rest are capabilities an adapter may lack (they answer [`ProviderError::NotSupported`]).
#[async_trait]
pub trait DnsProvider: Send + Sync {
    /// The adapter kind (`powerdns`, `rfc2136`, `builtin`), for logs and errors.
    fn kind(&self) -> &'static str;

    /// Whether the provider answers at all, with these credentials.
    async fn health_check(&self) -> Result<(), ProviderError>;

    /// Replaces (or deletes, when empty) the given RRsets of a zone that exists there.
    /// `soa` is the zone's new SOA, for providers that store it.
    async fn apply_changes(
        &self,
        origin: &Name,
        soa: &Soa,
        changes: &[RrsetChange],
    ) -> Result<(), ProviderError>;

    /// Creates a zone with all its records.
    async fn create_zone(&self, zone: &Zone) -> Result<(), ProviderError> {
        let _ = zone;
        Err(self.unsupported(
            "create zones",
            "create the zone on the server by hand, then push records",
        ))
    }

    /// Deletes a zone. Deleting a zone that is already gone succeeds.
    async fn delete_zone(&self, origin: &Name) -> Result<(), ProviderError> {
        let _ = origin;
        Err(self.unsupported("delete zones", "delete the zone on the server by hand"))
    }

    /// The zone as the provider serves it, if it exists there.
    async fn get_zone(&self, origin: &Name) -> Result<Option<Zone>, ProviderError> {
        let _ = origin;
        Err(self.unsupported(
            "read zones",
            "use apply_changes with a known previous state",
        ))
    }

    /// The zones the provider serves.
    async fn list_zones(&self) -> Result<Vec<Name>, ProviderError> {
        Err(self.unsupported("list zones", "keep the list in Panel1"))
    }

    /// Makes the provider's copy equal `zone`: reads it, then applies the difference;
    /// creates the zone if it is missing and the provider can.
    async fn sync_zone(&self, zone: &Zone) -> Result<(), ProviderError> {
        match self.get_zone(&zone.origin).await? {
            None => self.create_zone(zone).await,
            Some(current) => {
                let changes = diff_rrsets(&current.records, &zone.records);
                // The SOA is each server's own (serials are bumped by the provider).
                if changes.is_empty() {
                    return Ok(());
                }
                self.apply_changes(&zone.origin, &zone.soa, &changes).await
            }
        }
    }

    fn unsupported(&self, operation: &'static str, hint: &'static str) -> ProviderError {
        ProviderError::NotSupported {
            provider: self.kind().to_owned(),
            operation,
            hint,
        }
    }
}

/// How a provider is configured (a tenant setting or a config file entry).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProviderConfig {
    /// Panel1's own server (needs the catalog it serves).
    Builtin,
    Powerdns(PowerDnsConfig),
    Rfc2136(Rfc2136Config),
}

impl ProviderConfig {
    /// Builds the adapter. `catalog` is required for `builtin`.
    pub fn build(
        &self,
        catalog: Option<&crate::serve::Catalog>,
    ) -> Result<Arc<dyn DnsProvider>, ProviderError> {
        Ok(match self {
            Self::Builtin => Arc::new(BuiltinProvider::new(catalog.cloned().ok_or_else(|| {
                ProviderError::Config {
                    provider: "builtin".into(),
                    detail: "the built-in provider needs the server's catalog".into(),
                }
            })?)),
            Self::Powerdns(c) => Arc::new(PowerDnsProvider::new(c.clone())?),
            Self::Rfc2136(c) => Arc::new(Rfc2136Provider::new(c.clone())?),
        })
    }
}

/// Providers by name (`default`, `pdns-eu`, …).
#[derive(Clone, Default)]
pub struct ProviderRegistry {
    providers: HashMap<String, Arc<dyn DnsProvider>>,
}

impl std::fmt::Debug for ProviderRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<(&String, &'static str)> =
            self.providers.iter().map(|(n, p)| (n, p.kind())).collect();
        names.sort();
        f.debug_struct("ProviderRegistry")
            .field("providers", &names)
            .finish()
    }
}

impl ProviderRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&mut self, name: impl Into<String>, provider: Arc<dyn DnsProvider>) {
        self.providers.insert(name.into(), provider);
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn DnsProvider>> {
        self.providers.get(name).cloned()
    }

    pub fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.providers.keys().cloned().collect();
        n.sort();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{RecordInput, RecordRules, parse_record};

    fn rec(name: &str, t: &str, ttl: u32, c: &str) -> DnsRecord {
        parse_record(
            &RecordInput {
                name: name.into(),
                rtype: t.into(),
                ttl: Some(ttl),
                content: c.into(),
            },
            &Name::from_ascii("example.com.").unwrap(),
            &RecordRules::default(),
            ttl,
        )
        .unwrap()
    }

    #[test]
    fn diff_replaces_changed_rrsets_and_deletes_missing_ones() {
        let old = vec![
            rec("www", "A", 300, "192.0.2.1"),
            rec("www", "A", 300, "192.0.2.2"),
            rec("mail", "A", 300, "192.0.2.3"),
            rec("gone", "TXT", 300, "x"),
        ];
        let new = vec![
            rec("www", "A", 300, "192.0.2.2"),
            rec("www", "A", 300, "192.0.2.1"),
            rec("mail", "A", 600, "192.0.2.3"),
            rec("new", "TXT", 300, "y"),
        ];
        let d = diff_rrsets(&old, &new);
        let summary: Vec<(String, bool)> = d
            .iter()
            .map(|c| (c.name.to_ascii(), c.is_delete()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("mail.example.com.".to_owned(), false),
                ("new.example.com.".to_owned(), false),
                ("gone.example.com.".to_owned(), true)
            ]
        );
        assert!(diff_rrsets(&old, &old).is_empty());
    }

    #[test]
    fn retryable_errors_are_the_transient_ones() {
        let p = || "x".to_owned();
        assert!(
            ProviderError::Timeout {
                provider: p(),
                endpoint: p(),
                seconds: 1
            }
            .is_retryable()
        );
        assert!(
            ProviderError::ServerFailure {
                provider: p(),
                status: p(),
                detail: p()
            }
            .is_retryable()
        );
        assert!(
            !ProviderError::Unauthorized {
                provider: p(),
                status: p()
            }
            .is_retryable()
        );
        assert!(
            !ProviderError::Rejected {
                provider: p(),
                status: p(),
                detail: p()
            }
            .is_retryable()
        );
    }
}
