//! One module per aggregate. Every function takes a [`Conn`](crate::Conn) and, for tenant
//! data, the tenant scope; none of them commits: the caller owns the transaction.

pub mod audit;
pub mod billing;
pub mod ca_accounts;
pub mod certificate_installations;
pub mod certificates;
pub mod clients;
pub mod contacts;
pub mod counters;
pub mod dns_providers;
pub mod dns_zones;
pub mod domain_automation;
pub mod domain_operations;
pub mod domains;
pub mod emails;
pub mod events;
pub mod idempotency;
pub mod jobs;
pub mod panel;
pub mod registrars;
pub mod schedules;
pub mod sessions;
pub mod tenants;
pub mod tokens;
pub mod users;
pub mod webhooks;

use crate::{Result, StoreError};

/// Parses an id column read back from the database.
pub(crate) fn id<T: std::str::FromStr>(s: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    s.parse::<T>().map_err(StoreError::corrupt)
}

pub(crate) fn opt_id<T: std::str::FromStr>(s: Option<&str>) -> Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    s.map(id).transpose()
}

/// A `LIKE` pattern that matches `needle` anywhere, with `%`, `_` and `\` escaped
/// (use with `ESCAPE '\'`).
pub(crate) fn contains_pattern(needle: &str) -> String {
    let mut p = String::with_capacity(needle.len() + 2);
    p.push('%');
    for ch in needle.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// A short random suffix (for test schema names and similar).
pub fn test_suffix() -> String {
    panel1_core::ids::new_id_body()[20..].to_owned()
}
