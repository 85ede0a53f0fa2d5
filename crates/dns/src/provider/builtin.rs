//! The built-in server as a provider: publishing to the [`Catalog`] it serves from.

use async_trait::async_trait;
use hickory_proto::rr::Name;

use super::{DnsProvider, ProviderError, RrsetChange};
use crate::record::DnsRecord;
use crate::serve::Catalog;
use crate::zone::{Soa, Zone};

/// Serves zones from Panel1's own authoritative server.
#[derive(Debug, Clone)]
pub struct BuiltinProvider {
    catalog: Catalog,
}

impl BuiltinProvider {
    pub fn new(catalog: Catalog) -> Self {
        Self { catalog }
    }

    fn not_found(origin: &Name) -> ProviderError {
        ProviderError::ZoneNotFound {
            provider: "builtin".into(),
            zone: origin.to_ascii(),
        }
    }
}

#[async_trait]
impl DnsProvider for BuiltinProvider {
    fn kind(&self) -> &'static str {
        "builtin"
    }

    async fn health_check(&self) -> Result<(), ProviderError> {
        Ok(())
    }

    async fn apply_changes(
        &self,
        origin: &Name,
        soa: &Soa,
        changes: &[RrsetChange],
    ) -> Result<(), ProviderError> {
        let current = self
            .catalog
            .get(origin)
            .ok_or_else(|| Self::not_found(origin))?;
        let mut zone = current.to_zone();
        for c in changes {
            zone.records
                .retain(|r| !(r.name == c.name && r.record_type() == c.rtype));
            zone.records.extend(c.records.iter().map(|d| DnsRecord {
                name: c.name.clone(),
                ttl: c.ttl,
                data: d.clone(),
            }));
        }
        zone.soa = soa.clone();
        self.catalog.publish(&zone);
        Ok(())
    }

    async fn create_zone(&self, zone: &Zone) -> Result<(), ProviderError> {
        if self.catalog.get(&zone.origin).is_some() {
            return Err(ProviderError::ZoneExists {
                provider: "builtin".into(),
                zone: zone.origin.to_ascii(),
            });
        }
        self.catalog.publish(zone);
        Ok(())
    }

    async fn sync_zone(&self, zone: &Zone) -> Result<(), ProviderError> {
        self.catalog.publish(zone);
        Ok(())
    }

    async fn delete_zone(&self, origin: &Name) -> Result<(), ProviderError> {
        self.catalog.remove(origin);
        Ok(())
    }

    async fn get_zone(&self, origin: &Name) -> Result<Option<Zone>, ProviderError> {
        Ok(self.catalog.get(origin).map(|s| s.to_zone()))
    }

    async fn list_zones(&self) -> Result<Vec<Name>, ProviderError> {
        Ok(self.catalog.zones())
    }
}
