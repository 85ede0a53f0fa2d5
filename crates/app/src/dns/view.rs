//! Panel1's own DNS server, answering from an in-memory view of the hosted zones.
//!
//! The view loads every hosted zone at start, then refreshes: at once when a zone change is
//! committed in this process ([`super::subscribe`]), and every `poll` for changes committed
//! by other processes (zones whose `changed_at` moved; a zone is reloaded only when its
//! `version` differs from the one served). A reloaded zone is built into a new immutable
//! snapshot and swapped in atomically; NOTIFY then goes to the tenant's secondaries. Deleted
//! zones (tombstones) and zones moved to an external provider are dropped. The transfer ACL
//! (per tenant: the secondaries' networks and TSIG keys) is rebuilt with each refresh that
//! saw a change, and every few seconds.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::rr::Name;
use panel1_core::TenantId;
use panel1_dns::serve::{TransferAccess, ZoneAccess};
use panel1_dns::{Catalog, DnsServer, NotifyPolicy, RunningServer, ServerConfig};
use panel1_store::dns_zones::{self, ServedZone};
use tokio_util::sync::CancellationToken;

use crate::App;

/// A running DNS server and its view.
pub struct DnsHandle {
    pub udp_addr: SocketAddr,
    pub tcp_addr: SocketAddr,
    pub catalog: Catalog,
    task: tokio::task::JoinHandle<()>,
}

impl DnsHandle {
    /// Waits for the server to stop (after the cancellation token fired).
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

/// How often other processes' changes are looked for.
const POLL: Duration = Duration::from_millis(250);
/// How far back each poll looks (commits are stamped before they become visible).
const LOOKBACK_MS: i64 = 10_000;

struct Served {
    version: i64,
    name: Name,
    tenant: TenantId,
}

struct View {
    app: App,
    catalog: Catalog,
    served: HashMap<i64, Served>,
    /// Which zone row serves a name (a deleted zone's name may be reused by a new row).
    by_name: HashMap<Name, i64>,
    watermark: i64,
}

impl View {
    /// Loads (or reloads) what changed; returns the zones whose content was published.
    async fn refresh(&mut self, rows: Vec<ServedZone>) -> Vec<(Name, u32, TenantId)> {
        let mut published = Vec::new();
        for row in rows {
            self.watermark = self.watermark.max(row.changed_at);
            if row.hosted {
                if self
                    .served
                    .get(&row.seq)
                    .is_some_and(|s| s.version == row.version)
                {
                    continue;
                }
                match self.load(&row).await {
                    Ok(Some((name, serial))) => {
                        if let Some(old) = self.by_name.insert(name.clone(), row.seq)
                            && old != row.seq
                        {
                            self.served.remove(&old);
                        }
                        self.served.insert(
                            row.seq,
                            Served {
                                version: row.version,
                                name: name.clone(),
                                tenant: row.tenant_id.clone(),
                            },
                        );
                        published.push((name, serial, row.tenant_id.clone()));
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!(zone = %row.name, error = %e, "a zone could not be loaded; the previous content stays served");
                    }
                }
            } else if let Some(s) = self.served.remove(&row.seq)
                && self.by_name.get(&s.name) == Some(&row.seq)
            {
                self.by_name.remove(&s.name);
                self.catalog.remove(&s.name);
                tracing::info!(zone = %s.name, "zone no longer served");
            }
        }
        published
    }

    async fn load(&self, row: &ServedZone) -> anyhow::Result<Option<(Name, u32)>> {
        let mut r = self.app.db.read().await?;
        let Some(z) = dns_zones::get_by_seq(r.conn(), row.seq).await? else {
            return Ok(None);
        };
        if z.provider_id.is_some() {
            return Ok(None);
        }
        let zone = super::service::load_zone(r.conn(), &z)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        drop(r);
        let name = zone.origin.clone();
        let serial = zone.soa.serial;
        // Building a big zone's index takes a while: off the async threads.
        let catalog = self.catalog.clone();
        tokio::task::spawn_blocking(move || {
            catalog.publish(&zone);
        })
        .await?;
        Ok(Some((name, serial)))
    }

    /// Per-zone transfer rights and NOTIFY targets from the tenants' secondaries.
    async fn access(
        &self,
    ) -> anyhow::Result<(
        TransferAccess,
        HashMap<TenantId, Vec<super::providers::ServingSecondary>>,
    )> {
        let secondaries = super::providers::serving_secondaries(&self.app).await?;
        let mut by_tenant: HashMap<TenantId, Vec<super::providers::ServingSecondary>> =
            HashMap::new();
        let mut keys = Vec::new();
        for s in secondaries {
            if let Some(k) = &s.key {
                keys.push(k.clone());
            }
            by_tenant.entry(s.tenant_id.clone()).or_default().push(s);
        }
        let mut zones = HashMap::new();
        for s in self.served.values() {
            let Some(list) = by_tenant.get(&s.tenant) else {
                continue;
            };
            let access = ZoneAccess {
                allow: list.iter().filter_map(|x| x.allow).collect(),
                keys: list
                    .iter()
                    .filter_map(|x| x.key.as_ref().and_then(|k| k.key_name().ok()))
                    .collect(),
            };
            zones.insert(s.name.clone(), access);
        }
        Ok((TransferAccess { zones, keys }, by_tenant))
    }
}

/// Starts the DNS server on `settings.dns_addr` (UDP and TCP) with every hosted zone loaded,
/// and keeps it current until `cancel` fires.
pub async fn start_server(app: &App, cancel: CancellationToken) -> anyhow::Result<DnsHandle> {
    start_server_on(app, app.settings.dns_addr, cancel).await
}

pub async fn start_server_on(
    app: &App,
    listen: SocketAddr,
    cancel: CancellationToken,
) -> anyhow::Result<DnsHandle> {
    let catalog = Catalog::new();
    let mut view = View {
        app: app.clone(),
        catalog: catalog.clone(),
        served: HashMap::new(),
        by_name: HashMap::new(),
        watermark: 0,
    };
    let mut changes = super::subscribe();
    changes.mark_unchanged();
    let initial = {
        let mut r = app.db.read().await?;
        dns_zones::served_zones(r.conn()).await?
    };
    // Tombstones are not in the initial list: start from the newest live change.
    view.watermark = panel1_core::time::now_millis();
    let n = initial.len();
    view.refresh(initial).await;
    let server = DnsServer::start(
        ServerConfig {
            listen,
            ..ServerConfig::default()
        },
        catalog.clone(),
    )
    .await
    .map_err(|e| {
        anyhow::anyhow!(
            "cannot start the DNS server on {listen} (setting `dns_addr`, PANEL1_DNS_ADDR): {e}"
        )
    })?;
    let (access, _) = view.access().await?;
    server.set_transfer_access(access)?;
    let udp_addr = server.udp_addr();
    let tcp_addr = server.tcp_addr();
    tracing::info!(%udp_addr, zones = n, "DNS server answering for the hosted zones");
    let task = tokio::spawn(run(view, server, changes, cancel));
    Ok(DnsHandle {
        udp_addr,
        tcp_addr,
        catalog,
        task,
    })
}

async fn run(
    mut view: View,
    server: RunningServer,
    mut changes: tokio::sync::watch::Receiver<u64>,
    cancel: CancellationToken,
) {
    let mut last_access = std::time::Instant::now();
    let mut secondaries = match view.access().await {
        Ok((_, s)) => s,
        Err(_) => HashMap::new(),
    };
    loop {
        let local = tokio::select! {
            _ = cancel.cancelled() => break,
            r = changes.changed() => r.is_ok(),
            _ = tokio::time::sleep(POLL) => false,
        };
        let since = view.watermark - LOOKBACK_MS;
        let rows = match view.app.db.read().await {
            Ok(mut r) => dns_zones::changed_since(r.conn(), since).await,
            Err(e) => Err(e),
        };
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "the DNS view could not read zone changes; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let published = view.refresh(rows).await;
        if !published.is_empty() || local || last_access.elapsed() > Duration::from_secs(5) {
            match view.access().await {
                Ok((access, s)) => {
                    if let Err(e) = server.set_transfer_access(access) {
                        tracing::warn!(error = %e, "a secondary's TSIG key was refused");
                    }
                    secondaries = s;
                }
                Err(e) => tracing::warn!(error = %e, "secondaries could not be read"),
            }
            last_access = std::time::Instant::now();
        }
        for (name, serial, tenant) in published {
            let Some(list) = secondaries.get(&tenant) else {
                continue;
            };
            for s in list {
                let Some(target) = s.notify else { continue };
                let key = s.key.clone();
                let name = name.clone();
                tokio::spawn(async move {
                    let outcome = panel1_dns::notify(
                        &name,
                        serial,
                        &[target],
                        key.as_ref(),
                        &NotifyPolicy::default(),
                    )
                    .await;
                    tracing::debug!(zone = %name, serial, %target, ?outcome, "NOTIFY sent");
                });
            }
        }
    }
    server.shutdown().await;
}
