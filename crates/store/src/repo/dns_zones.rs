//! DNS zones and their records.
//!
//! A zone row holds the SOA fields, the serial, the next record id and a `version` bumped
//! with every committed change; `changed_at` lets DNS servers in other processes find what
//! moved since their last look. Records are one row each, keyed by `(zone_seq, id)` where
//! `zone_seq` is the zone's internal number and `id` a number per zone that is never
//! reused. Owner names are stored relative to the zone (`@`, `www`), content in canonical
//! presentation text.
//!
//! Bulk writes ([`insert_records`]) take the fast path of each backend: `COPY` on
//! PostgreSQL, one `INSERT … SELECT FROM json_each(…)` per batch of rows on SQLite.

use chrono::{DateTime, Utc};
use panel1_core::time::{from_millis, now_millis};
use panel1_core::{ClientId, DnsProviderId, PageRequest, Scope, TenantId, ZoneId};
use serde::Serialize;

use crate::{Backend, Conn, Result, StoreError, exec, on};

use super::contains_pattern;

/// The SOA fields of a zone (the serial included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SoaFields {
    /// The primary name server (MNAME), absolute: `ns1.example.net.`
    pub mname: String,
    /// The zone contact as an SOA RNAME: `hostmaster.example.net.`
    pub rname: String,
    pub serial: i64,
    pub refresh: i64,
    pub retry: i64,
    pub expire: i64,
    /// The negative-caching TTL (RFC 2308).
    pub minimum: i64,
    /// The TTL of the SOA record.
    pub ttl: i64,
}

/// A zone as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// Internal key of the zone's records.
    pub seq: i64,
    pub id: ZoneId,
    pub tenant_id: TenantId,
    pub client_id: Option<ClientId>,
    /// ASCII (punycode), lowercase, no final dot.
    pub name: String,
    pub name_unicode: String,
    pub provider_id: Option<DnsProviderId>,
    pub domain_id: Option<String>,
    pub soa: SoaFields,
    pub default_ttl: i64,
    pub next_record_id: i64,
    pub record_count: i64,
    pub version: i64,
    pub provider_status: Option<String>,
    pub provider_version: Option<i64>,
    pub provider_error: Option<String>,
    pub provider_synced_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new zone.
#[derive(Debug, Clone)]
pub struct NewZone<'a> {
    pub id: &'a ZoneId,
    pub tenant_id: &'a TenantId,
    pub client_id: Option<&'a ClientId>,
    pub name: &'a str,
    pub name_unicode: &'a str,
    pub provider_id: Option<&'a DnsProviderId>,
    pub domain_id: Option<&'a str>,
    pub soa: &'a SoaFields,
    pub default_ttl: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    id: String,
    tenant_id: String,
    client_id: Option<String>,
    name: String,
    name_unicode: String,
    provider_id: Option<String>,
    domain_id: Option<String>,
    soa_mname: String,
    soa_rname: String,
    serial: i64,
    refresh: i64,
    retry: i64,
    expire: i64,
    minimum: i64,
    soa_ttl: i64,
    default_ttl: i64,
    next_record_id: i64,
    record_count: i64,
    version: i64,
    provider_status: Option<String>,
    provider_version: Option<i64>,
    provider_error: Option<String>,
    provider_synced_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str = "seq, id, tenant_id, client_id, name, name_unicode, provider_id, domain_id, \
    soa_mname, soa_rname, serial, refresh, retry, expire, minimum, soa_ttl, default_ttl, \
    next_record_id, record_count, version, provider_status, provider_version, provider_error, \
    provider_synced_at, created_at, updated_at";

impl Row {
    fn into_model(self) -> Result<Zone> {
        Ok(Zone {
            seq: self.seq,
            id: super::id(&self.id)?,
            tenant_id: super::id(&self.tenant_id)?,
            client_id: super::opt_id(self.client_id.as_deref())?,
            name: self.name,
            name_unicode: self.name_unicode,
            provider_id: super::opt_id(self.provider_id.as_deref())?,
            domain_id: self.domain_id,
            soa: SoaFields {
                mname: self.soa_mname,
                rname: self.soa_rname,
                serial: self.serial,
                refresh: self.refresh,
                retry: self.retry,
                expire: self.expire,
                minimum: self.minimum,
                ttl: self.soa_ttl,
            },
            default_ttl: self.default_ttl,
            next_record_id: self.next_record_id,
            record_count: self.record_count,
            version: self.version,
            provider_status: self.provider_status,
            provider_version: self.provider_version,
            provider_error: self.provider_error,
            provider_synced_at: self.provider_synced_at.map(from_millis),
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
        })
    }
}

/// Inserts a zone (without records). A name already used in the tenant, or already served
/// by this installation, is a [`StoreError::Conflict`] naming `dns_zones_name` or
/// `dns_zones_served_name`.
pub async fn insert(mut c: Conn<'_>, z: &NewZone<'_>) -> Result<Zone> {
    let now = now_millis();
    let provider_status = z.provider_id.map(|_| "pending");
    let seq: i64 = on!(c.reborrow(), c => sqlx::query_scalar(
        "INSERT INTO dns_zones (id, tenant_id, client_id, name, name_unicode, provider_id, domain_id,
            soa_mname, soa_rname, serial, refresh, retry, expire, minimum, soa_ttl, default_ttl,
            provider_status, changed_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18, $18)
         RETURNING seq")
        .bind(z.id.as_str()).bind(z.tenant_id.as_str()).bind(z.client_id.map(ClientId::as_str))
        .bind(z.name).bind(z.name_unicode).bind(z.provider_id.map(DnsProviderId::as_str)).bind(z.domain_id)
        .bind(&z.soa.mname).bind(&z.soa.rname).bind(z.soa.serial).bind(z.soa.refresh).bind(z.soa.retry)
        .bind(z.soa.expire).bind(z.soa.minimum).bind(z.soa.ttl).bind(z.default_ttl)
        .bind(provider_status).bind(now)
        .fetch_one(c).await)
    .map_err(|e| conflict_by_name(e.into()))?;
    super::counters::add(c.reborrow(), z.tenant_id, "dns_zones", 1).await?;
    Ok(Zone {
        seq,
        id: z.id.clone(),
        tenant_id: z.tenant_id.clone(),
        client_id: z.client_id.cloned(),
        name: z.name.to_owned(),
        name_unicode: z.name_unicode.to_owned(),
        provider_id: z.provider_id.cloned(),
        domain_id: z.domain_id.map(str::to_owned),
        soa: z.soa.clone(),
        default_ttl: z.default_ttl,
        next_record_id: 1,
        record_count: 0,
        version: 1,
        provider_status: provider_status.map(str::to_owned),
        provider_version: None,
        provider_error: None,
        provider_synced_at: None,
        created_at: from_millis(now),
        updated_at: from_millis(now),
    })
}

/// SQLite names a unique violation by its columns; map both backends to the index name.
fn conflict_by_name(e: StoreError) -> StoreError {
    match e {
        StoreError::Conflict { constraint } => {
            let constraint =
                if constraint.contains("dns_zones_served_name") || constraint == "dns_zones.name" {
                    "dns_zones_served_name".to_owned()
                } else if constraint.contains("dns_zones_name")
                    || constraint == "dns_zones.tenant_id, dns_zones.name"
                {
                    "dns_zones_name".to_owned()
                } else {
                    constraint
                };
            StoreError::Conflict { constraint }
        }
        other => other,
    }
}

async fn fetch_one_where(
    c: Conn<'_>,
    scope: &Scope,
    cond: &str,
    key: &str,
    lock: bool,
) -> Result<Option<Zone>> {
    let lock = if lock && c.backend() == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM dns_zones WHERE tenant_id = $1 AND {cond} AND deleted_at IS NULL{lock}"
    ));
    let row: Option<Row> = on!(c, c => sqlx::query_as(sql).bind(scope.tenant_id.as_str()).bind(key).fetch_optional(c).await)?;
    let zone = row.map(Row::into_model).transpose()?;
    Ok(zone.filter(|z| scope.sees_client(z.client_id.as_ref())))
}

/// A live zone in the caller's scope.
pub async fn get(c: Conn<'_>, scope: &Scope, id: &ZoneId) -> Result<Option<Zone>> {
    fetch_one_where(c, scope, "id = $2", id.as_str(), false).await
}

/// Like [`get`], and locks the zone row for the rest of the transaction (PostgreSQL; SQLite's
/// write transaction already excludes other writers), so changes to one zone queue up.
pub async fn get_for_update(c: Conn<'_>, scope: &Scope, id: &ZoneId) -> Result<Option<Zone>> {
    fetch_one_where(c, scope, "id = $2", id.as_str(), true).await
}

/// A live zone by its ASCII name (no final dot) in the caller's scope.
pub async fn get_by_name(c: Conn<'_>, scope: &Scope, name: &str) -> Result<Option<Zone>> {
    fetch_one_where(c, scope, "name = $2", name, false).await
}

/// Like [`get_by_name`], locking the row.
pub async fn get_by_name_for_update(
    c: Conn<'_>,
    scope: &Scope,
    name: &str,
) -> Result<Option<Zone>> {
    fetch_one_where(c, scope, "name = $2", name, true).await
}

/// The live zones of a tenant (and client) whose names are `name` or one of its parents,
/// most specific first (where a record for `name` would be written).
pub async fn enclosing(c: Conn<'_>, scope: &Scope, name: &str) -> Result<Vec<Zone>> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let mut candidates: Vec<String> = Vec::new();
    let mut rest = name.as_str();
    loop {
        candidates.push(rest.to_owned());
        match rest.split_once('.') {
            Some((_, parent)) if !parent.is_empty() => rest = parent,
            _ => break,
        }
    }
    let rows: Vec<Row> = match c {
        Conn::Sqlite(c) => {
            let json = serde_json::to_string(&candidates).map_err(StoreError::corrupt)?;
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM dns_zones WHERE tenant_id = $1 AND deleted_at IS NULL
                 AND name IN (SELECT value FROM json_each($2))"
            ));
            sqlx::query_as(sql)
                .bind(scope.tenant_id.as_str())
                .bind(json)
                .fetch_all(c)
                .await?
        }
        Conn::Postgres(c) => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM dns_zones WHERE tenant_id = $1 AND deleted_at IS NULL
                 AND name = ANY($2)"
            ));
            sqlx::query_as(sql)
                .bind(scope.tenant_id.as_str())
                .bind(&candidates)
                .fetch_all(c)
                .await?
        }
    };
    let mut zones = rows
        .into_iter()
        .map(Row::into_model)
        .collect::<Result<Vec<_>>>()?;
    zones.retain(|z| scope.sees_client(z.client_id.as_ref()));
    zones.sort_by_key(|z| std::cmp::Reverse(z.name.len()));
    Ok(zones)
}

#[derive(Debug, Clone, Default)]
pub struct ZoneFilter {
    /// Part of the zone's name (ASCII or Unicode), case-insensitive.
    pub search: Option<String>,
    pub client_id: Option<ClientId>,
}

/// A page of live zones in the caller's scope, by name.
pub async fn list(
    mut c: Conn<'_>,
    scope: &Scope,
    f: &ZoneFilter,
    page: PageRequest,
) -> Result<(Vec<Zone>, u64)> {
    let mut cond = String::from("tenant_id = $1 AND deleted_at IS NULL");
    let mut binds: Vec<String> = Vec::new();
    let client = scope.client_id.as_ref().or(f.client_id.as_ref());
    if let Some(cl) = client {
        binds.push(cl.as_str().to_owned());
        cond.push_str(&format!(" AND client_id = ${}", binds.len() + 1));
    }
    if let Some(s) = f.search.as_deref().filter(|s| !s.trim().is_empty()) {
        binds.push(contains_pattern(s.trim()));
        let n = binds.len() + 1;
        cond.push_str(&format!(
            " AND (name LIKE ${n} ESCAPE '\\' OR lower(name_unicode) LIKE ${n} ESCAPE '\\')"
        ));
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM dns_zones WHERE {cond} ORDER BY name, id LIMIT {} OFFSET {}",
        page.limit(),
        page.offset()
    ));
    let rows: Vec<Row> = on!(c.reborrow(), c => {
        let mut q = sqlx::query_as(sql).bind(scope.tenant_id.as_str());
        for b in &binds { q = q.bind(b); }
        q.fetch_all(c).await
    })?;
    let total = if binds.is_empty() {
        super::counters::get(c.reborrow(), &scope.tenant_id, "dns_zones").await?
    } else {
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM dns_zones WHERE {cond}"));
        on!(c.reborrow(), c => {
            let mut q = sqlx::query_scalar::<_, i64>(sql).bind(scope.tenant_id.as_str());
            for b in &binds { q = q.bind(b); }
            q.fetch_one(c).await
        })?
    };
    let items = rows
        .into_iter()
        .map(Row::into_model)
        .collect::<Result<Vec<_>>>()?;
    Ok((items, u64::try_from(total).unwrap_or(0)))
}

/// What a committed change did to a zone's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneUpdate<'a> {
    pub soa: &'a SoaFields,
    pub next_record_id: i64,
    pub record_count: i64,
    /// Marks the external provider's copy as behind (for zones pushed to a provider).
    pub provider_pending: bool,
}

/// Records a change: the new SOA (serial), counters, and a new version. Returns the version.
pub async fn record_change(c: Conn<'_>, zone: &Zone, u: &ZoneUpdate<'_>) -> Result<i64> {
    let now = now_millis();
    let version = zone.version + 1;
    let pending = if u.provider_pending {
        ", provider_status = 'pending'"
    } else {
        ""
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "UPDATE dns_zones SET soa_mname = $2, soa_rname = $3, serial = $4, refresh = $5, retry = $6,
            expire = $7, minimum = $8, soa_ttl = $9, next_record_id = $10, record_count = $11,
            version = $12, changed_at = $13, updated_at = $13{pending}
         WHERE seq = $1 AND version = $14 AND deleted_at IS NULL"
    ));
    let n = exec!(c, c => sqlx::query(sql)
        .bind(zone.seq).bind(&u.soa.mname).bind(&u.soa.rname).bind(u.soa.serial).bind(u.soa.refresh)
        .bind(u.soa.retry).bind(u.soa.expire).bind(u.soa.minimum).bind(u.soa.ttl)
        .bind(u.next_record_id).bind(u.record_count).bind(version).bind(now).bind(zone.version)
        .execute(c).await)?;
    if n == 0 {
        // The row moved since it was read in this transaction: a caller bug (read without lock).
        return Err(StoreError::corrupt(format!(
            "zone {} changed under a transaction that held it",
            zone.id
        )));
    }
    Ok(version)
}

/// Deletes a zone: its records go, its row stays as a tombstone (so DNS servers in other
/// processes see the removal) with a new version.
pub async fn delete(mut c: Conn<'_>, zone: &Zone) -> Result<()> {
    delete_all_records(c.reborrow(), zone.seq).await?;
    let now = now_millis();
    exec!(c.reborrow(), c => sqlx::query(
        "UPDATE dns_zones SET deleted_at = $2, changed_at = $2, updated_at = $2, version = version + 1,
            record_count = 0 WHERE seq = $1 AND deleted_at IS NULL")
        .bind(zone.seq).bind(now).execute(c).await)?;
    super::counters::add(c, &zone.tenant_id, "dns_zones", -1).await?;
    Ok(())
}

/// Where the external provider's copy of a zone stands after a push.
pub async fn set_provider_status(
    c: Conn<'_>,
    zone_seq: i64,
    status: &str,
    version: i64,
    error: Option<&str>,
) -> Result<()> {
    let now = now_millis();
    let synced = (status == "synced").then_some(now);
    exec!(c, c => sqlx::query(
        "UPDATE dns_zones SET provider_status = $2, provider_version = $3, provider_error = $4,
            provider_synced_at = COALESCE($5, provider_synced_at)
         WHERE seq = $1 AND deleted_at IS NULL AND (provider_version IS NULL OR provider_version <= $3)")
        .bind(zone_seq).bind(status).bind(version).bind(error).bind(synced)
        .execute(c).await)?;
    Ok(())
}

/// A zone as the DNS servers see it: enough to decide whether to (re)publish or remove it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedZone {
    pub seq: i64,
    pub id: ZoneId,
    pub tenant_id: TenantId,
    pub name: String,
    pub version: i64,
    /// Served by Panel1's own server (not deleted, no external provider).
    pub hosted: bool,
    pub changed_at: i64,
}

#[derive(sqlx::FromRow)]
struct ServedRow {
    seq: i64,
    id: String,
    tenant_id: String,
    name: String,
    version: i64,
    hosted: bool,
    changed_at: i64,
}

const SERVED_COLUMNS: &str = "seq, id, tenant_id, name, version, \
    (deleted_at IS NULL AND provider_id IS NULL) AS hosted, changed_at";

fn served(rows: Vec<ServedRow>) -> Result<Vec<ServedZone>> {
    rows.into_iter()
        .map(|r| {
            Ok(ServedZone {
                seq: r.seq,
                id: super::id(&r.id)?,
                tenant_id: super::id(&r.tenant_id)?,
                name: r.name,
                version: r.version,
                hosted: r.hosted,
                changed_at: r.changed_at,
            })
        })
        .collect()
}

/// Every zone Panel1's own server should serve, with its version (across tenants).
pub async fn served_zones(c: Conn<'_>) -> Result<Vec<ServedZone>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {SERVED_COLUMNS} FROM dns_zones WHERE deleted_at IS NULL AND provider_id IS NULL"
    ));
    let rows: Vec<ServedRow> = on!(c, c => sqlx::query_as(sql).fetch_all(c).await)?;
    served(rows)
}

/// Zones (live or deleted, any tenant) whose row changed at or after `since_ms`.
pub async fn changed_since(c: Conn<'_>, since_ms: i64) -> Result<Vec<ServedZone>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {SERVED_COLUMNS} FROM dns_zones WHERE changed_at >= $1 ORDER BY changed_at"
    ));
    let rows: Vec<ServedRow> = on!(c, c => sqlx::query_as(sql).bind(since_ms).fetch_all(c).await)?;
    served(rows)
}

/// A zone by its internal number, for system work (DNS servers, provider pushes): no scope.
pub async fn get_by_seq(c: Conn<'_>, seq: i64) -> Result<Option<Zone>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM dns_zones WHERE seq = $1 AND deleted_at IS NULL"
    ));
    let row: Option<Row> = on!(c, c => sqlx::query_as(sql).bind(seq).fetch_optional(c).await)?;
    row.map(Row::into_model).transpose()
}

// --- Records ------------------------------------------------------------------------------

/// Target size of a chunk's text: under PostgreSQL's TOAST threshold, two to an SQLite page.
const CHUNK_BYTES: usize = 1_900;

/// A record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    pub id: i64,
    /// Relative to the zone: `@`, `www`.
    pub name: String,
    pub rtype: String,
    pub ttl: i64,
    pub content: String,
}

impl RecordRow {
    pub fn as_ref(&self) -> RecordRef<'_> {
        RecordRef {
            id: self.id,
            name: &self.name,
            rtype: &self.rtype,
            ttl: self.ttl,
            content: &self.content,
        }
    }
}

/// A record to write (or just read), borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub id: i64,
    pub name: &'a str,
    pub rtype: &'a str,
    pub ttl: i64,
    pub content: &'a str,
}

impl RecordRef<'_> {
    pub fn to_row(&self) -> RecordRow {
        RecordRow {
            id: self.id,
            name: self.name.to_owned(),
            rtype: self.rtype.to_owned(),
            ttl: self.ttl,
            content: self.content.to_owned(),
        }
    }
}

/// Appends `id TAB name TAB type TAB ttl TAB content LF`, with backslash, tab, LF and CR
/// escaped in the text fields.
fn encode_line(buf: &mut String, r: &RecordRef<'_>) {
    use std::fmt::Write as _;
    let _ = write!(buf, "{}\t", r.id);
    push_escaped(buf, r.name);
    buf.push('\t');
    push_escaped(buf, r.rtype);
    let _ = write!(buf, "\t{}\t", r.ttl);
    push_escaped(buf, r.content);
    buf.push('\n');
}

fn push_escaped(buf: &mut String, v: &str) {
    if !v
        .bytes()
        .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
    {
        buf.push_str(v);
        return;
    }
    for ch in v.chars() {
        match ch {
            '\\' => buf.push_str("\\\\"),
            '\t' => buf.push_str("\\t"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            c => buf.push(c),
        }
    }
}

fn unescape<'a>(v: &'a str, scratch: &'a mut String) -> &'a str {
    if !v.contains('\\') {
        return v;
    }
    scratch.clear();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('t') => scratch.push('\t'),
                Some('n') => scratch.push('\n'),
                Some('r') => scratch.push('\r'),
                Some(o) => scratch.push(o),
                None => {}
            }
        } else {
            scratch.push(c);
        }
    }
    scratch
}

/// Calls `f` with each record of a chunk's text, in id order.
fn decode_chunk(text: &str, mut f: impl FnMut(RecordRef<'_>)) -> Result<()> {
    let (mut s1, mut s2) = (String::new(), String::new());
    for line in text.split_terminator('\n') {
        let mut parts = line.splitn(5, '\t');
        let (Some(id), Some(name), Some(rtype), Some(ttl), Some(content)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(StoreError::corrupt(
                "a DNS record chunk line has too few fields",
            ));
        };
        let id = id.parse::<i64>().map_err(StoreError::corrupt)?;
        let ttl = ttl.parse::<i64>().map_err(StoreError::corrupt)?;
        f(RecordRef {
            id,
            name: unescape(name, &mut s1),
            rtype,
            ttl,
            content: unescape(content, &mut s2),
        });
    }
    Ok(())
}

/// One chunk to write.
struct NewChunk {
    first_id: i64,
    count: i64,
    text: String,
}

/// Cuts records (ids ascending) into chunks of about [`CHUNK_BYTES`].
fn build_chunks<'a>(
    rows: impl Iterator<Item = RecordRef<'a>>,
    first_key: Option<i64>,
) -> Vec<NewChunk> {
    let mut chunks: Vec<NewChunk> = Vec::new();
    let mut cur: Option<NewChunk> = None;
    for r in rows {
        let c = cur.get_or_insert_with(|| NewChunk {
            first_id: if chunks.is_empty() {
                first_key.unwrap_or(r.id).min(r.id)
            } else {
                r.id
            },
            count: 0,
            text: String::with_capacity(CHUNK_BYTES + 256),
        });
        encode_line(&mut c.text, &r);
        c.count += 1;
        if c.text.len() >= CHUNK_BYTES {
            chunks.extend(cur.take());
        }
    }
    chunks.extend(cur);
    chunks
}

async fn write_chunks(c: Conn<'_>, zone_seq: i64, chunks: &[NewChunk]) -> Result<()> {
    if chunks.is_empty() {
        return Ok(());
    }
    match c {
        Conn::Sqlite(c) => {
            const PER_STATEMENT: usize = 100;
            for batch in chunks.chunks(PER_STATEMENT) {
                let mut sql = String::from(
                    "INSERT INTO dns_record_chunks (zone_seq, first_id, count, records) VALUES ",
                );
                for i in 0..batch.len() {
                    if i > 0 {
                        sql.push(',');
                    }
                    let b = i * 3 + 2;
                    sql.push_str(&format!("($1, ${b}, ${}, ${})", b + 1, b + 2));
                }
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(zone_seq);
                for ch in batch {
                    q = q.bind(ch.first_id).bind(ch.count).bind(ch.text.as_str());
                }
                q.execute(&mut *c).await?;
            }
        }
        Conn::Postgres(c) => {
            let mut copy = c
                .copy_in_raw(
                    "COPY dns_record_chunks (zone_seq, first_id, count, records) FROM STDIN",
                )
                .await?;
            let mut buf: Vec<u8> = Vec::with_capacity((1 << 20) + 8192);
            for ch in chunks {
                buf.extend_from_slice(
                    format!("{zone_seq}\t{}\t{}\t", ch.first_id, ch.count).as_bytes(),
                );
                push_copy_text(&mut buf, &ch.text);
                buf.push(b'\n');
                if buf.len() >= 1 << 20 {
                    copy.send(buf.as_slice()).await?;
                    buf.clear();
                }
            }
            if !buf.is_empty() {
                copy.send(buf.as_slice()).await?;
            }
            copy.finish().await?;
        }
    }
    Ok(())
}

/// Text-format COPY escaping: backslash, tab, newline and carriage return.
fn push_copy_text(buf: &mut Vec<u8>, v: &str) {
    for &b in v.as_bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            _ => buf.push(b),
        }
    }
}

/// Writes records into a zone that holds none with these ids or higher (a new zone, an
/// import after [`delete_all_records`]): ids ascending. One `COPY` on PostgreSQL, a few
/// multi-row inserts on SQLite.
pub async fn insert_records(c: Conn<'_>, zone_seq: i64, rows: &[RecordRef<'_>]) -> Result<()> {
    let chunks = build_chunks(rows.iter().copied(), None);
    write_chunks(c, zone_seq, &chunks).await
}

#[derive(sqlx::FromRow)]
struct ChunkIndex {
    first_id: i64,
    count: i64,
}

async fn chunk_index(c: Conn<'_>, zone_seq: i64) -> Result<Vec<ChunkIndex>> {
    Ok(on!(c, c => sqlx::query_as(
        "SELECT first_id, count FROM dns_record_chunks WHERE zone_seq = $1 ORDER BY first_id")
        .bind(zone_seq).fetch_all(c).await)?)
}

async fn chunk_texts(c: Conn<'_>, zone_seq: i64, keys: &[i64]) -> Result<Vec<(i64, String)>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    Ok(match c {
        Conn::Sqlite(c) => {
            let json = serde_json::to_string(keys).map_err(StoreError::corrupt)?;
            sqlx::query_as(
                "SELECT first_id, records FROM dns_record_chunks
                 WHERE zone_seq = $1 AND first_id IN (SELECT value FROM json_each($2)) ORDER BY first_id",
            )
            .bind(zone_seq)
            .bind(json)
            .fetch_all(c)
            .await?
        }
        Conn::Postgres(c) => {
            sqlx::query_as(
                "SELECT first_id, records FROM dns_record_chunks
                 WHERE zone_seq = $1 AND first_id = ANY($2) ORDER BY first_id",
            )
            .bind(zone_seq)
            .bind(keys)
            .fetch_all(c)
            .await?
        }
    })
}

/// Calls `f` with every record of a zone, in id order; returns how many there were.
pub async fn for_each_record(
    c: Conn<'_>,
    zone_seq: i64,
    mut f: impl FnMut(RecordRef<'_>),
) -> Result<usize> {
    let texts: Vec<String> = on!(c, c => sqlx::query_scalar(
        "SELECT records FROM dns_record_chunks WHERE zone_seq = $1 ORDER BY first_id")
        .bind(zone_seq).fetch_all(c).await)?;
    let mut n = 0;
    for t in &texts {
        decode_chunk(t, |r| {
            n += 1;
            f(r);
        })?;
    }
    Ok(n)
}

/// Every record of a zone, in id order.
pub async fn all_records(c: Conn<'_>, zone_seq: i64) -> Result<Vec<RecordRow>> {
    let mut rows = Vec::new();
    for_each_record(c, zone_seq, |r| rows.push(r.to_row())).await?;
    Ok(rows)
}

/// One record by id.
pub async fn get_record(c: Conn<'_>, zone_seq: i64, id: i64) -> Result<Option<RecordRow>> {
    let text: Option<String> = on!(c, c => sqlx::query_scalar(
        "SELECT records FROM dns_record_chunks WHERE zone_seq = $1 AND first_id <= $2
         ORDER BY first_id DESC LIMIT 1")
        .bind(zone_seq).bind(id).fetch_optional(c).await)?;
    let mut found = None;
    if let Some(t) = text {
        decode_chunk(&t, |r| {
            if r.id == id {
                found = Some(r.to_row());
            }
        })?;
    }
    Ok(found)
}

#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    /// Exact owner name, relative (`www`, `@`).
    pub name: Option<String>,
    /// Exact type (`MX`).
    pub rtype: Option<String>,
}

/// A page of a zone's records, in id order. Without a filter only the chunks of the page
/// are read; a filter reads the whole zone.
pub async fn list_records(
    mut c: Conn<'_>,
    zone: &Zone,
    f: &RecordFilter,
    page: PageRequest,
) -> Result<(Vec<RecordRow>, u64)> {
    let offset = usize::try_from(page.offset()).unwrap_or(usize::MAX);
    let limit = usize::try_from(page.limit()).unwrap_or(usize::MAX);
    if f.name.is_none() && f.rtype.is_none() {
        let index = chunk_index(c.reborrow(), zone.seq).await?;
        let mut skip = offset;
        let mut keys = Vec::new();
        let mut want = limit;
        for ch in &index {
            let count = usize::try_from(ch.count).unwrap_or(0);
            if skip >= count && keys.is_empty() {
                skip -= count;
                continue;
            }
            keys.push(ch.first_id);
            let available = if keys.len() == 1 { count - skip } else { count };
            if available >= want {
                break;
            }
            want -= available;
        }
        let mut rows = Vec::with_capacity(limit);
        let mut to_skip = skip;
        for (_, text) in chunk_texts(c.reborrow(), zone.seq, &keys).await? {
            decode_chunk(&text, |r| {
                if to_skip > 0 {
                    to_skip -= 1;
                } else if rows.len() < limit {
                    rows.push(r.to_row());
                }
            })?;
        }
        let total: i64 = index.iter().map(|i| i.count).sum();
        return Ok((rows, u64::try_from(total).unwrap_or(0)));
    }
    let mut rows = Vec::new();
    let mut total = 0usize;
    for_each_record(c, zone.seq, |r| {
        let keep = f
            .name
            .as_deref()
            .is_none_or(|n| n.eq_ignore_ascii_case(r.name))
            && f.rtype
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case(r.rtype));
        if keep {
            if total >= offset && rows.len() < limit {
                rows.push(r.to_row());
            }
            total += 1;
        }
    })
    .await?;
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}

/// Writes a batch of record changes: `upserts` replace the records with their ids (or add
/// them), `deletes` remove records. Only the chunks holding those ids are read and
/// rewritten; a chunk that grows past twice the target size is split, an emptied one goes.
pub async fn change_records(
    mut c: Conn<'_>,
    zone_seq: i64,
    upserts: &[RecordRef<'_>],
    deletes: &[i64],
) -> Result<()> {
    use std::collections::{BTreeMap, BTreeSet};
    if upserts.is_empty() && deletes.is_empty() {
        return Ok(());
    }
    let index = chunk_index(c.reborrow(), zone_seq).await?;
    let keys: Vec<i64> = index.iter().map(|i| i.first_id).collect();
    // The chunk whose range holds `id`; None when below every chunk.
    let home = |id: i64| -> Option<i64> {
        match keys.binary_search(&id) {
            Ok(i) => Some(keys[i]),
            Err(0) => None,
            Err(i) => Some(keys[i - 1]),
        }
    };
    let mut touched: BTreeSet<i64> = BTreeSet::new();
    let mut orphans: Vec<RecordRef<'_>> = Vec::new();
    for r in upserts {
        match home(r.id) {
            Some(k) => {
                touched.insert(k);
            }
            None => orphans.push(*r),
        }
    }
    for id in deletes {
        if let Some(k) = home(*id) {
            touched.insert(k);
        }
    }
    let touched: Vec<i64> = touched.into_iter().collect();
    let texts = chunk_texts(c.reborrow(), zone_seq, &touched).await?;
    let deleted: BTreeSet<i64> = deletes.iter().copied().collect();
    let mut updates: Vec<(i64, NewChunk)> = Vec::new();
    let mut removed: Vec<i64> = Vec::new();
    let mut created: Vec<NewChunk> = Vec::new();
    for (key, text) in texts {
        let mut lines: BTreeMap<i64, RecordRow> = BTreeMap::new();
        decode_chunk(&text, |r| {
            if !deleted.contains(&r.id) {
                lines.insert(r.id, r.to_row());
            }
        })?;
        for r in upserts.iter().filter(|r| home(r.id) == Some(key)) {
            lines.insert(r.id, r.to_row());
        }
        if lines.is_empty() {
            removed.push(key);
            continue;
        }
        let mut pieces = build_chunks(lines.values().map(RecordRow::as_ref), Some(key));
        // Keep chunks near the target: merge the pieces back unless the text got big.
        let total: usize = pieces.iter().map(|p| p.text.len()).sum();
        if total < 2 * CHUNK_BYTES && pieces.len() > 1 {
            let mut one = NewChunk {
                first_id: key,
                count: 0,
                text: String::with_capacity(total),
            };
            for p in pieces.drain(..) {
                one.count += p.count;
                one.text.push_str(&p.text);
            }
            pieces.push(one);
        }
        let mut pieces = pieces.into_iter();
        if let Some(first) = pieces.next() {
            updates.push((key, first));
        }
        created.extend(pieces);
    }
    orphans.sort_by_key(|r| r.id);
    created.extend(build_chunks(orphans.into_iter(), None));
    for key in removed {
        exec!(c.reborrow(), c => sqlx::query("DELETE FROM dns_record_chunks WHERE zone_seq = $1 AND first_id = $2")
            .bind(zone_seq).bind(key).execute(c).await)?;
    }
    for (key, ch) in &updates {
        exec!(c.reborrow(), c => sqlx::query(
            "UPDATE dns_record_chunks SET count = $3, records = $4 WHERE zone_seq = $1 AND first_id = $2")
            .bind(zone_seq).bind(key).bind(ch.count).bind(ch.text.as_str()).execute(c).await)?;
    }
    write_chunks(c, zone_seq, &created).await
}

/// Deletes every record of a zone.
pub async fn delete_all_records(c: Conn<'_>, zone_seq: i64) -> Result<u64> {
    Ok(
        exec!(c, c => sqlx::query("DELETE FROM dns_record_chunks WHERE zone_seq = $1")
        .bind(zone_seq).execute(c).await)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec<'a>(id: i64, name: &'a str, content: &'a str) -> RecordRef<'a> {
        RecordRef {
            id,
            name,
            rtype: "TXT",
            ttl: 300,
            content,
        }
    }

    #[test]
    fn chunk_lines_escape_and_decode_back() {
        let tricky = "\"a\\\"b\" \"tab\there\"\nline";
        let mut text = String::new();
        encode_line(&mut text, &rec(7, "w\\x", tricky));
        encode_line(&mut text, &rec(9, "@", "plain"));
        assert_eq!(text.lines().count(), 2);
        let mut back = Vec::new();
        decode_chunk(&text, |r| back.push(r.to_row())).unwrap();
        assert_eq!(back[0], rec(7, "w\\x", tricky).to_row());
        assert_eq!(back[1], rec(9, "@", "plain").to_row());
        assert!(decode_chunk("1\tonly\n", |_| {}).is_err());
    }

    #[test]
    fn chunks_cut_near_the_target_and_keep_the_first_key() {
        let content = "x".repeat(100);
        let rows: Vec<RecordRef<'_>> = (10..110).map(|i| rec(i, "n", &content)).collect();
        let chunks = build_chunks(rows.iter().copied(), Some(5));
        assert!(chunks.len() > 3, "{}", chunks.len());
        assert_eq!(chunks[0].first_id, 5);
        assert_eq!(chunks[1].first_id, 10 + chunks[0].count);
        assert_eq!(chunks.iter().map(|c| c.count).sum::<i64>(), 100);
        assert!(chunks.iter().all(|c| c.text.len() < CHUNK_BYTES + 200));
    }

    #[test]
    fn copy_text_escapes_the_separators() {
        let mut b = Vec::new();
        push_copy_text(&mut b, "a\tb\\c\nd\re");
        assert_eq!(b, b"a\\tb\\\\c\\nd\\re");
    }
}
