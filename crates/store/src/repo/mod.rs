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

/// Reads a listing page: `SELECT <columns><tail>` with `binds` (all text) as `$1…`, each row
/// decoded into `R` along with the tenant's counter `counter` (see `counters::total_column`),
/// read in the same statement when one is given; `None` when not, and on an empty page.
///
/// On SQLite each row comes back as one JSON array text (`json_array`, in column order), not
/// one value per column: sqlx's SQLite driver copies every value of a row with its own
/// allocation and looks columns up by name, and with 16 columns that was most of the CPU of a
/// 50-row page (bench/platform: 2,740 → 5,800 requests/s). PostgreSQL's typed rows are cheaper
/// than building JSON on the server, so it reads them as they are, by position.
pub(crate) async fn fetch_list<R>(
    c: crate::Conn<'_>,
    columns: &str,
    counter: Option<&'static str>,
    tail: &str,
    binds: &[&str],
) -> Result<Vec<(R, Option<i64>)>>
where
    R: serde::de::DeserializeOwned + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
{
    use sqlx::Row as _;
    let total = counter.map_or_else(|| "CAST(NULL AS BIGINT)".to_owned(), counters::total_column);
    match c {
        crate::Conn::Postgres(c) => {
            // The total follows the row's own columns.
            let at = columns.split(',').count();
            let sql = sqlx::AssertSqlSafe(format!("SELECT {columns}, {total}{tail}"));
            let mut q = sqlx::query(sql);
            for b in binds {
                q = q.bind(*b);
            }
            q.fetch_all(c)
                .await?
                .iter()
                .map(|row| Ok((R::from_row(row)?, row.try_get(at)?)))
                .collect()
        }
        crate::Conn::Sqlite(c) => {
            // A JSON array in column order: `R`'s derived `Deserialize` reads a sequence field
            // by field, so no column names are written by SQLite or matched by serde.
            let sql = sqlx::AssertSqlSafe(format!("SELECT json_array({columns}), {total}{tail}"));
            let mut q = sqlx::query_as::<_, (String, Option<i64>)>(sql);
            for b in binds {
                q = q.bind(*b);
            }
            q.fetch_all(c)
                .await?
                .into_iter()
                .map(|(j, total)| {
                    Ok((
                        serde_json::from_str(&j).map_err(StoreError::corrupt)?,
                        total,
                    ))
                })
                .collect()
        }
    }
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
