//! DNS hosting: the zone service, DNS provider accounts and secondaries, and the in-memory view
//! that Panel1's own DNS server answers from.
//!
//! | module | what it owns |
//! |---|---|
//! | [`service`] | zones (SOA and NS from the tenant's defaults, client ownership), records (CRUD and atomic batches), zone-file import and export; every commit bumps the SOA serial, appends `dns.zone.*` events and an audit entry, and queues the provider push |
//! | [`providers`] | external provider accounts (PowerDNS, RFC 2136; credentials sealed), secondaries (NOTIFY targets, transfer ACL, TSIG keys), the `dns::sync_zone` and `dns::delete_zone` jobs and their call log |
//! | [`view`] | the DNS server of `panel1 serve` / `panel1 dns`: loads hosted zones from the store into a `panel1_dns::Catalog`, refreshes them on every commit (in-process signal, plus polling the zones' `version` for other processes), sends NOTIFY and keeps the transfer ACL |
//! | [`challenge`] | DNS-01 records written through the zone service, for the certificates module |
//!
//! Record rules, zone files and the wire format are `panel1_dns`'s; this module stores and
//! scopes them.

pub mod challenge;
pub mod providers;
pub mod service;
pub mod view;

use std::sync::LazyLock;

use tokio::sync::watch;

pub use providers::{DeleteProviderZone, SyncZone};
pub use view::{DnsHandle, start_server};

/// Counts committed zone changes in this process, so a DNS view here refreshes at once
/// (other processes find changes by polling).
static CHANGES: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::channel(0).0);

/// Signals that a zone change was committed.
pub(crate) fn changed() {
    CHANGES.send_modify(|n| *n = n.wrapping_add(1));
}

/// Wakes when a zone change is committed in this process.
pub fn subscribe() -> watch::Receiver<u64> {
    CHANGES.subscribe()
}
