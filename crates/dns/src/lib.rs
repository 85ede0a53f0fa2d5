//! DNS for Panel1: record rules, zone files, the built-in authoritative server and external
//! DNS providers. A library with no database and no HTTP: the application stores zones,
//! and calls into this crate to check changes, publish zones and push them to providers.
//!
//! | module | what it holds |
//! |---|---|
//! | [`record`] | a record as it travels (`{name, type, ttl, content}`), parsed into hickory-proto's `RData` with field errors that say how to fix the input; canonical presentation text; IDN names stored as punycode, shown as Unicode |
//! | [`zone`] | a zone (origin, SOA, records), new zones from defaults, the rules across records (CNAME exclusivity, duplicates, one TTL per RRset, alias targets, delegations and glue, DS placement, apex NS), atomic change batches by record id, SOA serials (YYYYMMDDnn, RFC 1982) |
//! | [`zonefile`] | RFC 1035 master files: import with a per-line error report (nothing applied on error; `$INCLUDE` refused), export that `named-checkzone` and `kzonecheck` accept |
//! | [`serve`] | the authoritative server: [`Catalog`] of immutable indexed zone snapshots swapped atomically, UDP worker threads with per-worker answer caches, TCP, AXFR (address ACL or TSIG), NOTIFY after every publish |
//! | [`mod@notify`] | NOTIFY (RFC 1996) with retries, optionally TSIG-signed |
//! | [`tsig`] | TSIG keys (HMAC-SHA256/384/512), request verification, response signing incl. chained AXFR messages |
//! | [`provider`] | the [`DnsProvider`] trait, its registry and config enum, adapters: `builtin` (the catalog), `powerdns` (HTTP API), `rfc2136` (dynamic update + TSIG) |
//! | `text` | the master-file tokenizer (entries, parentheses, quotes, comments, line numbers) |
//!
//! # Integration in three calls
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use panel1_dns::{Catalog, DnsServer, ServerConfig, zone};
//! let catalog = Catalog::new();
//! let server = DnsServer::start(ServerConfig::default(), catalog.clone()).await?;
//! // On start and after every committed change (the store holds the records):
//! let origin = zone::parse_zone_name("example.com")?;
//! let z = zone::new_zone(&origin, &Default::default(), chrono::Utc::now().date_naive())?;
//! catalog.publish(&z); // answered at once; NOTIFY goes to the configured secondaries
//! # server.shutdown().await; Ok(()) }
//! ```
//!
//! # The serving path
//!
//! Per DESIGN.md ("measured, not assumed"): hickory-proto reads and writes the wire format;
//! the lookup is ours. Each zone is an immutable [`ZoneSnapshot`]: names hashed by their
//! lowercase wire form, every ancestor of an owner present as a node (empty non-terminals
//! included), so the closest encloser is found by hashing suffixes of the query name (no
//! scan), the wildcard is `*.` + closest encloser, and every node knows the delegation
//! point above it. Encoded answers are cached per (snapshot, name, type, EDNS/DO) and
//! reused with the query id, flags and question spelling patched in; plain queries are read
//! straight from the packet, anything unusual goes through hickory's full decoder.
//! `bench/dns/run` measures it against PowerDNS and Knot with dnsperf.
//!
//! Error policy: input errors are `panel1_core::validate::FieldError`s (the `field` names
//! the offending input, the `code` the rule, the `message` the fix); zone files report
//! [`zonefile::LineError`]s. Other failures are `thiserror` enums per module
//! ([`serve::ServerError`], [`tsig::TsigKeyError`], [`ProviderError`] which says whether a
//! retry can help). Secrets (TSIG keys, API keys) are `panel1_core::SecretString` and never
//! reach `Debug` output, logs or error messages.

pub mod notify;
pub mod provider;
pub mod record;
pub mod serve;
pub(crate) mod text;
pub mod tsig;
pub mod zone;
pub mod zonefile;

pub use notify::{NotifyOutcome, NotifyPolicy, notify};
pub use provider::{DnsProvider, ProviderConfig, ProviderError, ProviderRegistry};
pub use record::{DnsRecord, RecordInput, RecordRules};
pub use serve::{
    Catalog, DnsServer, NotifyConfig, RunningServer, ServerConfig, TransferAccess, ZoneAccess,
    ZoneSnapshot,
};
pub use tsig::TsigKey;
pub use zone::{Change, ChangeOutcome, Soa, Zone, ZoneDefaults};
