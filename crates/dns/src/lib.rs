//! DNS for Panel1: record rules, zone files, the built-in authoritative server and external
//! DNS providers. A library with no database and no HTTP: the application stores zones and
//! calls into this crate.
//!
//! | module | what it holds |
//! |---|---|
//! | [`record`] | a record as it travels (`{name, type, ttl, content}`), parsed into hickory-proto's `RData` with field errors that say how to fix the input; canonical presentation text |
//! | [`zone`] | a zone (origin, SOA, records), new zones from defaults, the rules across records (CNAME exclusivity, duplicates, one TTL per RRset, alias targets, delegations and glue), atomic change batches and SOA serials (YYYYMMDDnn, RFC 1982) |
//! | [`zonefile`] | RFC 1035 master files: import with a per-line error report (nothing applied on error), export for `named-checkzone`/`kzonecheck` |
//! | `text` | the master-file tokenizer (entries, parentheses, quotes, comments, line numbers) |
//!
//! Names are stored absolute, lowercase and in punycode; [`record::display_name`] shows
//! them in Unicode.
//!
//! Error policy: input errors are `panel1_core::validate::FieldError`s (the `field` names
//! the offending input, the `code` the rule, the `message` the fix); zone files report
//! [`zonefile::LineError`]s. Other failures are `thiserror` enums per module. Secrets
//! (TSIG keys, API keys) are `panel1_core::SecretString` and never reach `Debug` output,
//! logs or error messages.

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
pub use serve::{Catalog, DnsServer, NotifyConfig, RunningServer, ServerConfig, ZoneSnapshot};
pub use tsig::TsigKey;
pub use zone::{Change, ChangeOutcome, Soa, Zone, ZoneDefaults};
