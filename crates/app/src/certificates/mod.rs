//! TLS certificates: CA accounts per tenant, products and subscriptions, issuance through
//! ACME with HTTP-01 and DNS-01, installation that is verified, renewal and monitoring.
//!
//! | module | what it owns |
//! |---|---|
//! | [`accounts`] | a tenant's CA accounts (directory, EAB sealed, the ACME account key sealed once registered), the CA adapters built from them, the default account from the settings |
//! | [`products`] | certificate products (DV single, multi-domain, wildcard, OV/EV; key types) and subscriptions: one term, one invoice, covering every reissue and renewal in it |
//! | [`service`] | what the API asks: issue, list, get, renew, revoke, download (the key only on explicit request, audited), validation records, re-validate |
//! | [`dns`] | the DNS-01 seam: [`dns::ChallengeDns`] (hosted zones, external `DnsProvider`s, manual records), CNAME delegation of `_acme-challenge`, visibility on the authoritative servers |
//! | `handler` | [`handler()`]: the internal event handler; `invoice.paid` releases orders waiting for their subscription's payment |
//! | [`install`] | installations (files + reload command, webhook) verified by a TLS probe |
//! | [`jobs`] | `ssl::issue` (resumable from the stored order URL), `ssl::revoke`, `ssl::install`, and the schedules `ssl::renew_due` (renewals, expiry alerts) and `ssl::health` (daily probes) |
//!
//! The flow of an issuance: the service checks the request (names, wildcard ⇒ DNS-01, key
//! type, product), then in one transaction writes the subscription (and its invoice), the
//! certificate (`pending`), the `ssl::issue` job, the event and the audit entry. The job runs
//! the pre-flight (CAA, names resolve), registers the tenant's ACME account if needed, seals a
//! new key, places the order and stores its URL before anything else, publishes each
//! challenge (HTTP-01 served by Panel1 at `/.well-known/acme-challenge/<token>`; DNS-01 in a
//! hosted zone, at a provider, or by the client), checks DNS-01 records on the zone's
//! authoritative servers, tells the CA, finalizes with a CSR of the sealed key and stores the
//! parsed chain. Every CA call is kept in the certificate operations log. A worker killed at
//! any point resumes from the stored order URL and the sealed key.
//!
//! Secrets: certificate keys, ACME account keys, EAB HMAC keys and installer secrets are
//! sealed with the master key, bound to their row; they never appear in listings, events,
//! logs or errors. Only `downloadCertificate?include_key=true` returns a key, audited.

pub mod accounts;
pub mod dns;
mod handler;
pub mod install;
pub mod jobs;
pub mod products;
pub mod service;

pub use handler::handler;
pub use jobs::{
    HealthSweep, InstallCertificate, IssueCertificate, RenewalSweep, RevokeCertificate,
};

use std::net::SocketAddr;

use panel1_ca::dns::DnsClient;
use panel1_ca::preflight::Preflight;

use crate::App;

/// The resolver for pre-flight checks: the `ssl_resolver` setting, else the first
/// `nameserver` of /etc/resolv.conf, else 127.0.0.1:53.
pub fn resolver(app: &App) -> SocketAddr {
    if let Some(a) = app.settings.ssl_resolver {
        return a;
    }
    std::fs::read_to_string("/etc/resolv.conf")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some("nameserver"))
                    .then(|| w.next())
                    .flatten()
                    .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
                    .map(|ip| SocketAddr::new(ip, 53))
            })
        })
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 53)))
}

/// Pre-flight checks through the configured resolver.
pub fn preflight(app: &App) -> Preflight {
    Preflight::new(DnsClient::new(resolver(app))).with_ns_port(app.settings.ssl_nameserver_port)
}

/// The key-sealing context of a certificate's private key.
pub(crate) fn key_context(id: &panel1_core::CertificateId) -> String {
    format!("certificate-key:{id}")
}
