//! DNS-01 records in zones Panel1 holds: written through the zone service (stored, audited,
//! served by Panel1's DNS server, pushed to a zone's provider), for the certificates module's
//! [`ChallengeDns`] seam.

use std::sync::Arc;

use async_trait::async_trait;
use panel1_core::{Scope, TenantId, ZoneId};
use panel1_store::dns_zones::{self, RecordFilter};

use super::service::{self, Acting, ChangeBatch, RecordBody};
use crate::App;
use crate::certificates::dns::{ChallengeDns, ChallengeDnsError};

/// Writes `_acme-challenge` TXT records into one of a tenant's zones.
pub struct HostedZone {
    app: App,
    tenant: TenantId,
    zone: ZoneId,
    zone_name: String,
}

/// The publisher for `name` when one of the tenant's zones in Panel1 holds it.
pub async fn publisher(app: &App, tenant: &TenantId, name: &str) -> Option<Arc<dyn ChallengeDns>> {
    let mut r = app.db.read().await.ok()?;
    let zones = dns_zones::enclosing(r.conn(), &Scope::tenant(tenant.clone()), name)
        .await
        .ok()?;
    let z = zones.into_iter().next()?;
    Some(Arc::new(HostedZone {
        app: app.clone(),
        tenant: tenant.clone(),
        zone: z.id,
        zone_name: z.name,
    }))
}

fn quoted(value: &str) -> String {
    format!("\"{value}\"")
}

impl HostedZone {
    fn err(
        &self,
        action: &'static str,
        record: &str,
        reason: String,
        retryable: bool,
    ) -> ChallengeDnsError {
        ChallengeDnsError {
            action,
            record: record.to_owned(),
            via: format!("Panel1 zone {}", self.zone_name),
            reason,
            retryable,
        }
    }

    /// The ids of the TXT records at `record` holding `value`.
    async fn existing(&self, record: &str, value: &str) -> Result<Vec<String>, String> {
        let scope = Scope::tenant(self.tenant.clone());
        let mut r = self.app.db.read().await.map_err(|e| e.to_string())?;
        let z = dns_zones::get(r.conn(), &scope, &self.zone)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the zone was deleted".to_owned())?;
        let relative = record
            .trim_end_matches('.')
            .to_ascii_lowercase()
            .strip_suffix(&format!(".{}", z.name))
            .map(str::to_owned)
            .unwrap_or_else(|| "@".into());
        let (rows, _) = dns_zones::list_records(
            r.conn(),
            &z,
            &RecordFilter {
                name: Some(relative),
                rtype: Some("TXT".into()),
            },
            panel1_core::PageRequest::first(100),
        )
        .await
        .map_err(|e| e.to_string())?;
        let want = quoted(value);
        Ok(rows
            .into_iter()
            .filter(|r| r.content == want)
            .map(|r| r.id.to_string())
            .collect())
    }

    async fn apply(
        &self,
        action: &'static str,
        record: &str,
        batch: ChangeBatch,
    ) -> Result<(), ChallengeDnsError> {
        let acting = Acting::system(&self.tenant, "certificates");
        service::apply(&self.app, &acting, &self.zone, &batch, false)
            .await
            .map(|_| ())
            .map_err(|e| {
                let retryable = matches!(
                    e,
                    crate::AppError::Internal(_) | crate::AppError::Unavailable(_)
                );
                self.err(action, record, e.to_string(), retryable)
            })
    }
}

#[async_trait]
impl ChallengeDns for HostedZone {
    fn mode(&self) -> &'static str {
        "hosted"
    }

    async fn publish(&self, record: &str, value: &str) -> Result<(), ChallengeDnsError> {
        let found = self
            .existing(record, value)
            .await
            .map_err(|e| self.err("publish", record, e, true))?;
        if !found.is_empty() {
            return Ok(());
        }
        let name = format!("{}.", record.trim_end_matches('.'));
        self.apply(
            "publish",
            record,
            ChangeBatch {
                create: vec![RecordBody {
                    name,
                    rtype: "TXT".into(),
                    ttl: Some(60),
                    content: quoted(value),
                }],
                ..ChangeBatch::default()
            },
        )
        .await
    }

    async fn remove(&self, record: &str, value: &str) -> Result<(), ChallengeDnsError> {
        let found = self
            .existing(record, value)
            .await
            .map_err(|e| self.err("remove", record, e, true))?;
        if found.is_empty() {
            return Ok(());
        }
        self.apply(
            "remove",
            record,
            ChangeBatch {
                delete: found,
                ..ChangeBatch::default()
            },
        )
        .await
    }
}
