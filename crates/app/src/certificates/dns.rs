//! DNS-01: where a `_acme-challenge` TXT record is written, and the check that it is served.
//!
//! [`ChallengeDns`] is the seam: one implementation per way a record gets published.
//!
//! - `hosted`: a zone Panel1 serves. The record must be written through the zone service, so
//!   it is stored, served by Panel1's DNS server and visible there before the CA is told.
//!   Zones register their publisher with [`register_zone`] (the zone service does so for the
//!   zones it serves; tests register a test server's).
//! - `provider`: [`ProviderDns`], an external `panel1_dns::DnsProvider` (PowerDNS, RFC 2136)
//!   serving the zone, registered the same way.
//! - `manual`: [`ManualDns`]; the client creates the record shown in the validation record,
//!   and Panel1 checks it on the zone's authoritative name servers before telling the CA.
//!
//! A CNAME at `_acme-challenge.<name>` pointing into a zone Panel1 serves (CNAME delegation)
//! is followed: the TXT record is written at the CNAME's target, in Panel1's zone.

use std::sync::{Arc, LazyLock, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use panel1_ca::identifiers::base_name;
use panel1_ca::preflight::PreflightError;
use panel1_core::TenantId;
use panel1_dns::DnsProvider;
use panel1_dns::provider::RrsetChange;

use crate::App;

/// Why a TXT record could not be published or removed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not {action} the TXT record `{record}` ({via}): {reason}")]
pub struct ChallengeDnsError {
    pub action: &'static str,
    pub record: String,
    pub via: String,
    pub reason: String,
    /// Whether trying again later may work (a provider that is down).
    pub retryable: bool,
}

/// Publishes `_acme-challenge` TXT values.
#[async_trait]
pub trait ChallengeDns: Send + Sync {
    /// `hosted`, `provider` or `manual`.
    fn mode(&self) -> &'static str;

    /// Adds `value` to the TXT RRset at `record` (other values stay: a wildcard and its base
    /// name validate at the same record).
    async fn publish(&self, record: &str, value: &str) -> Result<(), ChallengeDnsError>;

    /// Removes `value` from the TXT RRset at `record`.
    async fn remove(&self, record: &str, value: &str) -> Result<(), ChallengeDnsError>;
}

/// The client publishes the record; Panel1 only shows it and checks it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ManualDns;

#[async_trait]
impl ChallengeDns for ManualDns {
    fn mode(&self) -> &'static str {
        "manual"
    }

    async fn publish(&self, _record: &str, _value: &str) -> Result<(), ChallengeDnsError> {
        Ok(())
    }

    async fn remove(&self, _record: &str, _value: &str) -> Result<(), ChallengeDnsError> {
        Ok(())
    }
}

/// An external DNS provider serving the zone `origin`.
pub struct ProviderDns {
    pub provider: Arc<dyn DnsProvider>,
    pub origin: hickory_proto::rr::Name,
    /// Serialises changes to one RRset from this process (read, modify, write).
    lock: tokio::sync::Mutex<()>,
}

impl ProviderDns {
    pub fn new(provider: Arc<dyn DnsProvider>, origin: hickory_proto::rr::Name) -> Self {
        Self {
            provider,
            origin,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    async fn change(
        &self,
        action: &'static str,
        record: &str,
        edit: impl FnOnce(&mut Vec<String>),
    ) -> Result<(), ChallengeDnsError> {
        let err = |reason: String, retryable: bool| ChallengeDnsError {
            action,
            record: record.to_owned(),
            via: format!("DNS provider {}", self.provider.kind()),
            reason,
            retryable,
        };
        let name = panel1_ca::dns::fqdn(record).map_err(|e| err(e.to_string(), false))?;
        let _guard = self.lock.lock().await;
        let zone = self
            .provider
            .get_zone(&self.origin)
            .await
            .map_err(|e| err(e.to_string(), e.is_retryable()))?
            .ok_or_else(|| {
                err(
                    format!("the zone {} does not exist there", self.origin),
                    false,
                )
            })?;
        let mut values: Vec<String> = zone
            .records
            .iter()
            .filter(|r| r.name == name)
            .filter_map(|r| match &r.data {
                hickory_proto::rr::RData::TXT(t) => Some(
                    t.txt_data
                        .iter()
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect();
        edit(&mut values);
        values.sort();
        values.dedup();
        let change = RrsetChange {
            name,
            rtype: hickory_proto::rr::RecordType::TXT,
            ttl: 60,
            records: values
                .into_iter()
                .map(|v| hickory_proto::rr::RData::TXT(hickory_proto::rr::rdata::TXT::new(vec![v])))
                .collect(),
        };
        self.provider
            .apply_changes(&self.origin, &zone.soa, &[change])
            .await
            .map_err(|e| err(e.to_string(), e.is_retryable()))
    }
}

#[async_trait]
impl ChallengeDns for ProviderDns {
    fn mode(&self) -> &'static str {
        "provider"
    }

    async fn publish(&self, record: &str, value: &str) -> Result<(), ChallengeDnsError> {
        self.change("publish", record, |v| v.push(value.to_owned()))
            .await
    }

    async fn remove(&self, record: &str, value: &str) -> Result<(), ChallengeDnsError> {
        self.change("remove", record, |v| v.retain(|x| x != value))
            .await
    }
}

struct Registered {
    tenant: Option<TenantId>,
    zone: String,
    publisher: Arc<dyn ChallengeDns>,
}

/// Zones whose records Panel1 can write, with their publisher.
static ZONES: LazyLock<RwLock<Vec<Registered>>> = LazyLock::new(Default::default);

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Declares that Panel1 can write records in `zone` (for one tenant, or for all with
/// `None`) through `publisher`. Registering a zone again replaces its publisher.
pub fn register_zone(tenant: Option<&TenantId>, zone: &str, publisher: Arc<dyn ChallengeDns>) {
    let zone = key(zone);
    if let Ok(mut z) = ZONES.write() {
        z.retain(|r| !(r.zone == zone && r.tenant.as_ref() == tenant));
        z.push(Registered {
            tenant: tenant.cloned(),
            zone,
            publisher,
        });
    }
}

/// Forgets a zone registered with [`register_zone`].
pub fn unregister_zone(tenant: Option<&TenantId>, zone: &str) {
    let zone = key(zone);
    if let Ok(mut z) = ZONES.write() {
        z.retain(|r| !(r.zone == zone && r.tenant.as_ref() == tenant));
    }
}

/// The publisher of the most specific registered zone holding `name` for the tenant.
pub fn publisher_for(tenant: &TenantId, name: &str) -> Option<(String, Arc<dyn ChallengeDns>)> {
    let name = key(name);
    let z = ZONES.read().ok()?;
    z.iter()
        .filter(|r| r.tenant.as_ref().is_none_or(|t| t == tenant))
        .filter(|r| name == r.zone || name.ends_with(&format!(".{}", r.zone)))
        .max_by_key(|r| r.zone.len())
        .map(|r| (r.zone.clone(), r.publisher.clone()))
}

/// Who writes records at `name` for the tenant: a registered publisher, else a zone of the
/// tenant in Panel1 (the zone service). Publishing and removing both go through this, so a
/// record is removed the way it was written.
pub async fn publisher_at(
    app: &App,
    tenant: &TenantId,
    name: &str,
) -> Option<Arc<dyn ChallengeDns>> {
    match publisher_for(tenant, name) {
        Some((_, p)) => Some(p),
        None => crate::dns::challenge::publisher(app, tenant, name).await,
    }
}

/// How one identifier's DNS-01 record will be published.
pub struct DnsPlan {
    /// `hosted`, `provider` or `manual`.
    pub mode: &'static str,
    /// The record the CA looks at: `_acme-challenge.<name>`.
    pub record_name: String,
    /// Where the TXT record is written (the CNAME target when `_acme-challenge` is delegated).
    pub effective_name: String,
    pub publisher: Arc<dyn ChallengeDns>,
}

/// Why an identifier cannot be validated the way the request asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{identifier}` was asked to validate through a DNS zone served by Panel1, but neither `{record}` nor its CNAME target is in one; host the zone in Panel1, delegate `{record}` with a CNAME into a Panel1 zone, or use manual DNS"
)]
pub struct NotHosted {
    pub identifier: String,
    pub record: String,
}

/// Decides where the TXT record of `identifier` goes. `requested` is the certificate's
/// `dns_mode` (`auto`, `hosted` or `manual`).
pub async fn plan(
    app: &App,
    tenant: &TenantId,
    identifier: &str,
    record_name: &str,
    requested: &str,
) -> Result<DnsPlan, NotHosted> {
    let record = key(record_name);
    let manual = || DnsPlan {
        mode: "manual",
        record_name: record.clone(),
        effective_name: record.clone(),
        publisher: Arc::new(ManualDns),
    };
    if requested == "manual" {
        return Ok(manual());
    }
    // A CNAME delegation: the TXT record lives at the target.
    let effective = match super::preflight(app).effective_record_name(&record).await {
        Ok(e) => e,
        Err(e) => {
            tracing::debug!(record = %record, error = %e, "CNAME lookup failed; using the record itself");
            record.clone()
        }
    };
    let found = match publisher_at(app, tenant, &effective).await {
        Some(p) => Some((p, effective)),
        None => publisher_at(app, tenant, base_name(identifier))
            .await
            .map(|p| (p, record.clone())),
    };
    match found {
        Some((publisher, effective)) => Ok(DnsPlan {
            mode: publisher.mode(),
            record_name: record,
            effective_name: effective,
            publisher,
        }),
        None if requested == "hosted" => Err(NotHosted {
            identifier: identifier.to_owned(),
            record,
        }),
        None => Ok(manual()),
    }
}

/// Waits until every authoritative server of the record's zone serves `value` (following a
/// CNAME delegation), for at most `timeout`.
pub async fn wait_visible(
    app: &App,
    record_name: &str,
    value: &str,
    timeout: Duration,
) -> Result<(), PreflightError> {
    let interval = Duration::from_millis(200)
        .min(timeout / 4)
        .max(Duration::from_millis(50));
    super::preflight(app)
        .wait_txt_visible(record_name, value, timeout, interval)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_zone_wins_and_tenants_are_kept_apart() {
        let t1 = TenantId::new();
        let t2 = TenantId::new();
        let zone = format!("z{}.test", panel1_core::ids::new_id_body());
        register_zone(None, &zone, Arc::new(ManualDns));
        register_zone(Some(&t1), &format!("sub.{zone}"), Arc::new(ManualDns));
        let (z, _) = publisher_for(&t1, &format!("_acme-challenge.a.sub.{zone}")).unwrap();
        assert_eq!(z, format!("sub.{zone}"));
        let (z, _) = publisher_for(&t2, &format!("_acme-challenge.a.sub.{zone}")).unwrap();
        assert_eq!(z, zone, "another tenant's zone is not used");
        assert!(
            publisher_for(&t1, &format!("x{zone}")).is_none(),
            "a suffix is not a zone"
        );
        unregister_zone(None, &zone);
        unregister_zone(Some(&t1), &format!("sub.{zone}"));
        assert!(publisher_for(&t1, &format!("a.sub.{zone}")).is_none());
    }
}
