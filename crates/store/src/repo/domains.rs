//! Domains: Panel1's own state of each name next to what the registry last reported (EPP and
//! RGP statuses, expiry, nameservers, lock, privacy), the contacts per role, and the registrar
//! account that sponsors it.

use chrono::{DateTime, Utc};
use panel1_core::domain_lifecycle::DomainState;
use panel1_core::time::{from_millis, now_millis, to_millis};
use panel1_core::{
    ClientId, ContactId, DomainId, PageRequest, RegistrarAccountId, Scope, TenantId,
};
use serde::{Deserialize, Serialize};

use crate::{Conn, Result, StoreError, exec, on};

use super::contains_pattern;

/// The contact ids of a domain, per WHOIS role.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContactIds {
    pub registrant: Option<ContactId>,
    pub admin: Option<ContactId>,
    pub tech: Option<ContactId>,
    pub billing: Option<ContactId>,
}

impl ContactIds {
    /// The distinct ids set.
    pub fn ids(&self) -> Vec<ContactId> {
        let mut v: Vec<ContactId> = [&self.registrant, &self.admin, &self.tech, &self.billing]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Domain {
    pub id: DomainId,
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    /// The name in A-label (ASCII) form, as registries see it.
    #[schema(example = "xn--bcher-kva.example")]
    pub name: String,
    /// The name for people (Unicode).
    #[schema(example = "bücher.example")]
    pub name_unicode: String,
    /// The public suffix it is registered under (`com`, `co.uk`).
    pub tld: String,
    pub registrar_account_id: RegistrarAccountId,
    /// Panel1's state of the domain.
    pub state: DomainState,
    /// EPP statuses (RFC 5731) as the registrar last reported them.
    pub epp_statuses: Vec<String>,
    /// Grace-period states (RFC 3915) as the registrar last reported them.
    pub rgp_statuses: Vec<String>,
    /// The registry's id for the domain (ROID), when known.
    pub registry_id: Option<String>,
    pub registered_at: Option<DateTime<Utc>>,
    /// The registry's expiry.
    pub expires_at: Option<DateTime<Utc>>,
    pub nameservers: Vec<String>,
    /// Registrar lock (clientTransferProhibited).
    pub locked: bool,
    /// WHOIS privacy.
    pub privacy: bool,
    pub auto_renew: bool,
    pub contacts: ContactIds,
    /// Why the domain is suspended, while it is.
    pub suspension_reason: Option<String>,
    /// When the registry's state was last read.
    pub synced_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    tenant_id: String,
    client_id: String,
    name: String,
    name_unicode: String,
    tld: String,
    registrar_account_id: String,
    state: String,
    epp_statuses: String,
    rgp_statuses: String,
    registry_id: Option<String>,
    registered_at: Option<i64>,
    expires_at: Option<i64>,
    nameservers: String,
    locked: bool,
    privacy: bool,
    auto_renew: bool,
    registrant_contact_id: Option<String>,
    admin_contact_id: Option<String>,
    tech_contact_id: Option<String>,
    billing_contact_id: Option<String>,
    suspension_reason: Option<String>,
    synced_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str = "id, tenant_id, client_id, name, name_unicode, tld, registrar_account_id, state, epp_statuses, rgp_statuses, registry_id, registered_at, expires_at, nameservers, locked, privacy, auto_renew, registrant_contact_id, admin_contact_id, tech_contact_id, billing_contact_id, suspension_reason, synced_at, created_at, updated_at";

fn list_json(s: &str) -> Result<Vec<String>> {
    serde_json::from_str(s).map_err(StoreError::corrupt)
}

fn to_json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

impl Row {
    fn into_model(self) -> Result<Domain> {
        Ok(Domain {
            id: super::id(&self.id)?,
            tenant_id: super::id(&self.tenant_id)?,
            client_id: super::id(&self.client_id)?,
            name: self.name,
            name_unicode: self.name_unicode,
            tld: self.tld,
            registrar_account_id: super::id(&self.registrar_account_id)?,
            state: DomainState::parse(&self.state)
                .ok_or_else(|| StoreError::corrupt(format!("domain state `{}`", self.state)))?,
            epp_statuses: list_json(&self.epp_statuses)?,
            rgp_statuses: list_json(&self.rgp_statuses)?,
            registry_id: self.registry_id,
            registered_at: self.registered_at.map(from_millis),
            expires_at: self.expires_at.map(from_millis),
            nameservers: list_json(&self.nameservers)?,
            locked: self.locked,
            privacy: self.privacy,
            auto_renew: self.auto_renew,
            contacts: ContactIds {
                registrant: super::opt_id(self.registrant_contact_id.as_deref())?,
                admin: super::opt_id(self.admin_contact_id.as_deref())?,
                tech: super::opt_id(self.tech_contact_id.as_deref())?,
                billing: super::opt_id(self.billing_contact_id.as_deref())?,
            },
            suspension_reason: self.suspension_reason,
            synced_at: self.synced_at.map(from_millis),
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
        })
    }
}

fn search_text(d: &Domain) -> String {
    if d.name == d.name_unicode {
        d.name.clone()
    } else {
        format!("{} {}", d.name, d.name_unicode.to_lowercase())
    }
}

/// Stores a new domain (its id, timestamps and every field as given).
pub async fn insert(mut c: Conn<'_>, d: &Domain) -> Result<()> {
    exec!(c.reborrow(), c => sqlx::query(
        "INSERT INTO domains (id, tenant_id, client_id, name, name_unicode, tld, registrar_account_id, state, epp_statuses, rgp_statuses,
           registry_id, registered_at, expires_at, nameservers, locked, privacy, auto_renew, registrant_contact_id, admin_contact_id,
           tech_contact_id, billing_contact_id, suspension_reason, synced_at, search_text, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)")
        .bind(d.id.as_str()).bind(d.tenant_id.as_str()).bind(d.client_id.as_str()).bind(&d.name).bind(&d.name_unicode)
        .bind(&d.tld).bind(d.registrar_account_id.as_str()).bind(d.state.as_str()).bind(to_json(&d.epp_statuses))
        .bind(to_json(&d.rgp_statuses)).bind(&d.registry_id).bind(d.registered_at.map(to_millis))
        .bind(d.expires_at.map(to_millis)).bind(to_json(&d.nameservers)).bind(d.locked).bind(d.privacy).bind(d.auto_renew)
        .bind(d.contacts.registrant.as_ref().map(ContactId::as_str)).bind(d.contacts.admin.as_ref().map(ContactId::as_str))
        .bind(d.contacts.tech.as_ref().map(ContactId::as_str)).bind(d.contacts.billing.as_ref().map(ContactId::as_str))
        .bind(&d.suspension_reason).bind(d.synced_at.map(to_millis)).bind(search_text(d))
        .bind(to_millis(d.created_at)).bind(to_millis(d.updated_at))
        .execute(c).await)?;
    super::counters::add(c, &d.tenant_id, "domains", 1).await
}

/// Writes every changeable field of `d` (the row is found by tenant and id) and stamps
/// `updated_at`. Returns the row as written.
pub async fn update(c: Conn<'_>, d: &Domain) -> Result<Domain> {
    update_where(c, d, None).await?.ok_or(StoreError::NotFound)
}

/// Replaces a domain's stored state unless it changed since it was read (its `updated_at` is
/// no longer `read_at`); `None` then, and nothing is written.
pub async fn update_if_unchanged(
    c: Conn<'_>,
    d: &Domain,
    read_at: DateTime<Utc>,
) -> Result<Option<Domain>> {
    update_where(c, d, Some(to_millis(read_at))).await
}

async fn update_where(c: Conn<'_>, d: &Domain, read_at: Option<i64>) -> Result<Option<Domain>> {
    let now = now_millis();
    let n = exec!(c, c => sqlx::query(
        "UPDATE domains SET client_id = $3, registrar_account_id = $4, state = $5, epp_statuses = $6, rgp_statuses = $7,
           registry_id = $8, registered_at = $9, expires_at = $10, nameservers = $11, locked = $12, privacy = $13,
           auto_renew = $14, registrant_contact_id = $15, admin_contact_id = $16, tech_contact_id = $17,
           billing_contact_id = $18, suspension_reason = $19, synced_at = $20, search_text = $21, updated_at = $22
         WHERE tenant_id = $1 AND id = $2 AND ($23 IS NULL OR updated_at = $23)")
        .bind(d.tenant_id.as_str()).bind(d.id.as_str()).bind(d.client_id.as_str()).bind(d.registrar_account_id.as_str())
        .bind(d.state.as_str()).bind(to_json(&d.epp_statuses)).bind(to_json(&d.rgp_statuses)).bind(&d.registry_id)
        .bind(d.registered_at.map(to_millis)).bind(d.expires_at.map(to_millis)).bind(to_json(&d.nameservers))
        .bind(d.locked).bind(d.privacy).bind(d.auto_renew)
        .bind(d.contacts.registrant.as_ref().map(ContactId::as_str)).bind(d.contacts.admin.as_ref().map(ContactId::as_str))
        .bind(d.contacts.tech.as_ref().map(ContactId::as_str)).bind(d.contacts.billing.as_ref().map(ContactId::as_str))
        .bind(&d.suspension_reason).bind(d.synced_at.map(to_millis)).bind(search_text(d)).bind(now).bind(read_at)
        .execute(c).await)?;
    Ok((n == 1).then(|| Domain {
        updated_at: from_millis(now),
        ..d.clone()
    }))
}

/// Locks the tenant's domains `ids` for the rest of the transaction (PostgreSQL, in id order
/// so two lockers never wait on each other; SQLite's one writer needs no row locks).
pub async fn lock_many(c: Conn<'_>, tenant: &TenantId, ids: &[DomainId]) -> Result<()> {
    if let Conn::Postgres(c) = c {
        let list: Vec<&str> = ids.iter().map(DomainId::as_str).collect();
        sqlx::query(
            "SELECT id FROM domains WHERE tenant_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE",
        )
        .bind(tenant.as_str())
        .bind(&list)
        .fetch_all(c)
        .await?;
    }
    Ok(())
}

async fn get_where(
    c: Conn<'_>,
    scope: &Scope,
    id: &DomainId,
    for_update: bool,
) -> Result<Option<Domain>> {
    let lock = if for_update && c.backend() == crate::Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM domains WHERE tenant_id = $1 AND id = $2{lock}"
    ));
    let row: Option<Row> = on!(c, c => sqlx::query_as(sql).bind(scope.tenant_id.as_str()).bind(id.as_str()).fetch_optional(c).await)?;
    let Some(d) = row.map(Row::into_model).transpose()? else {
        return Ok(None);
    };
    Ok(scope.sees_client(Some(&d.client_id)).then_some(d))
}

/// The domain, when visible in `scope` (another tenant's or client's is simply not found).
pub async fn get(c: Conn<'_>, scope: &Scope, id: &DomainId) -> Result<Option<Domain>> {
    get_where(c, scope, id, false).await
}

/// Like [`get`], locking the row for the rest of the transaction on PostgreSQL (SQLite's write
/// transaction already excludes other writers).
pub async fn get_for_update(c: Conn<'_>, scope: &Scope, id: &DomainId) -> Result<Option<Domain>> {
    get_where(c, scope, id, true).await
}

/// The tenant's record of a name (A-label form), whoever the client.
pub async fn get_by_name(c: Conn<'_>, tenant: &TenantId, name: &str) -> Result<Option<Domain>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM domains WHERE tenant_id = $1 AND name = $2"
    ));
    let row: Option<Row> =
        on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(name).fetch_optional(c).await)?;
    row.map(Row::into_model).transpose()
}

#[derive(Debug, Clone, Default)]
pub struct DomainFilter {
    pub client_id: Option<ClientId>,
    pub state: Option<DomainState>,
    /// The public suffix, A-label form.
    pub tld: Option<String>,
    /// Only domains expiring before this instant.
    pub expiring_before: Option<DateTime<Utc>>,
    /// Part of the name (A-label or Unicode), case-insensitive.
    pub search: Option<String>,
}

/// A page of domains, newest first (or soonest expiring first with `expiring_before`).
pub async fn list(
    mut c: Conn<'_>,
    scope: &Scope,
    f: &DomainFilter,
    page: PageRequest,
) -> Result<(Vec<Domain>, u64)> {
    let mut cond = String::from("tenant_id = $1");
    let mut texts: Vec<String> = Vec::new();
    let mut filtered = false;
    for client in [scope.client_id.as_ref(), f.client_id.as_ref()]
        .into_iter()
        .flatten()
    {
        texts.push(client.as_str().to_owned());
        cond.push_str(&format!(" AND client_id = ${}", texts.len() + 1));
        filtered = true;
    }
    if let Some(s) = f.state {
        texts.push(s.as_str().to_owned());
        cond.push_str(&format!(" AND state = ${}", texts.len() + 1));
        filtered = true;
    }
    if let Some(t) = &f.tld {
        texts.push(t.clone());
        cond.push_str(&format!(" AND tld = ${}", texts.len() + 1));
        filtered = true;
    }
    if let Some(s) = f.search.as_deref().filter(|s| !s.trim().is_empty()) {
        texts.push(contains_pattern(s.trim()));
        cond.push_str(&format!(
            " AND search_text LIKE ${} ESCAPE '\\'",
            texts.len() + 1
        ));
        filtered = true;
    }
    // The instant is bound last, as a number.
    let before = f.expiring_before.map(to_millis);
    if before.is_some() {
        cond.push_str(&format!(
            " AND expires_at IS NOT NULL AND expires_at < ${}",
            texts.len() + 2
        ));
        filtered = true;
    }
    let order = if before.is_some() {
        "expires_at, id"
    } else {
        "created_at DESC, id DESC"
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM domains WHERE {cond} ORDER BY {order} LIMIT {} OFFSET {}",
        page.limit(),
        page.offset()
    ));
    let rows: Vec<Row> = on!(c.reborrow(), c => {
        let mut q = sqlx::query_as(sql).bind(scope.tenant_id.as_str());
        for b in &texts { q = q.bind(b); }
        if let Some(b) = before { q = q.bind(b); }
        q.fetch_all(c).await
    })?;
    let total = if filtered {
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM domains WHERE {cond}"));
        let t: i64 = on!(c.reborrow(), c => {
            let mut q = sqlx::query_scalar(sql).bind(scope.tenant_id.as_str());
            for b in &texts { q = q.bind(b); }
            if let Some(b) = before { q = q.bind(b); }
            q.fetch_one(c).await
        })?;
        t
    } else {
        super::counters::get(c.reborrow(), &scope.tenant_id, "domains").await?
    };
    let items = rows
        .into_iter()
        .map(Row::into_model)
        .collect::<Result<Vec<_>>>()?;
    Ok((items, u64::try_from(total).unwrap_or(0)))
}

/// Names of the tenant's domains that use a contact and are not over (cancelled or
/// transferred away).
pub async fn using_contact(
    c: Conn<'_>,
    tenant: &TenantId,
    contact: &ContactId,
    limit: i64,
) -> Result<Vec<String>> {
    Ok(on!(c, c => sqlx::query_scalar(
        "SELECT name FROM domains WHERE tenant_id = $1 AND state NOT IN ('cancelled', 'transferred_away')
           AND (registrant_contact_id = $2 OR admin_contact_id = $2 OR tech_contact_id = $2 OR billing_contact_id = $2)
         ORDER BY name LIMIT $3")
        .bind(tenant.as_str()).bind(contact.as_str()).bind(limit).fetch_all(c).await)?)
}

/// How many of the tenant's domains that are not over a registrar account sponsors.
pub async fn count_for_account(
    c: Conn<'_>,
    tenant: &TenantId,
    account: &RegistrarAccountId,
) -> Result<i64> {
    Ok(on!(c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM domains WHERE tenant_id = $1 AND registrar_account_id = $2 AND state NOT IN ('cancelled', 'transferred_away')")
        .bind(tenant.as_str()).bind(account.as_str()).fetch_one(c).await)?)
}

/// Up to `limit` of an account's domains that the sync follows (not ended, not pending) and
/// that were not read from the registrar since `cutoff`, least recently synced first.
pub async fn to_sync(
    mut c: Conn<'_>,
    account: &RegistrarAccountId,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Domain>> {
    // Never synced first, then the oldest: two index-ordered reads of
    // (registrar_account_id, synced_at, id), where one `IS NULL OR <` read would sort every
    // candidate of the account for each page.
    const FOLLOWED: &str = "state NOT IN ('cancelled', 'transferred_away', 'pending_registration', 'pending_transfer_in')";
    let never = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM domains WHERE registrar_account_id = $1 AND synced_at IS NULL AND {FOLLOWED}
         ORDER BY id LIMIT $2"
    ));
    let rows: Vec<Row> = on!(c.reborrow(), c => sqlx::query_as(never).bind(account.as_str()).bind(limit).fetch_all(c).await)?;
    let mut list: Vec<Domain> = rows
        .into_iter()
        .map(Row::into_model)
        .collect::<Result<_>>()?;
    let left = limit - i64::try_from(list.len()).unwrap_or(limit);
    if left > 0 {
        let old = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM domains WHERE registrar_account_id = $1 AND synced_at < $2 AND {FOLLOWED}
             ORDER BY synced_at, id LIMIT $3"
        ));
        let rows: Vec<Row> = on!(c, c => sqlx::query_as(old).bind(account.as_str()).bind(to_millis(cutoff)).bind(left).fetch_all(c).await)?;
        for r in rows {
            list.push(r.into_model()?);
        }
    }
    Ok(list)
}

/// Stamps `synced_at` on domains the sync found unchanged (one statement per 500), unless
/// they changed since they were read (`updated_at` moved).
pub async fn mark_synced(
    mut c: Conn<'_>,
    seen: &[(DomainId, DateTime<Utc>)],
    at: DateTime<Utc>,
) -> Result<u64> {
    let mut n = 0;
    for chunk in seen.chunks(500) {
        let ids: Vec<&str> = chunk.iter().map(|(id, _)| id.as_str()).collect();
        let stamps: Vec<i64> = chunk.iter().map(|(_, u)| to_millis(*u)).collect();
        n += match c.reborrow() {
            Conn::Postgres(c) => sqlx::query(
                "UPDATE domains d SET synced_at = $1 FROM UNNEST($2::text[], $3::bigint[]) AS s(id, updated_at)
                 WHERE d.id = s.id AND d.updated_at = s.updated_at",
            )
            .bind(to_millis(at))
            .bind(&ids)
            .bind(&stamps)
            .execute(c)
            .await?
            .rows_affected(),
            Conn::Sqlite(c) => {
                let pairs: Vec<(&str, i64)> = ids.iter().copied().zip(stamps.iter().copied()).collect();
                sqlx::query(
                    "UPDATE domains SET synced_at = $1
                     FROM (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS updated_at FROM json_each($2)) AS s
                     WHERE domains.id = s.id AND domains.updated_at = s.updated_at",
                )
                .bind(to_millis(at))
                .bind(serde_json::to_string(&pairs).map_err(StoreError::corrupt)?)
                .execute(c)
                .await?
                .rows_affected()
            }
        };
    }
    Ok(n)
}

/// Stores many new domains with one statement per 200 (imports, benchmarks), skipping names
/// the tenant already has. Returns the ids actually stored; the tenant's domain counter
/// follows.
pub async fn insert_many(mut c: Conn<'_>, list: &[Domain]) -> Result<Vec<DomainId>> {
    const COLS: usize = 26;
    let mut stored = Vec::with_capacity(list.len());
    for chunk in list.chunks(200) {
        let mut sql = String::from(
            "INSERT INTO domains (id, tenant_id, client_id, name, name_unicode, tld, registrar_account_id, state, epp_statuses, rgp_statuses,
               registry_id, registered_at, expires_at, nameservers, locked, privacy, auto_renew, registrant_contact_id, admin_contact_id,
               tech_contact_id, billing_contact_id, suspension_reason, synced_at, search_text, created_at, updated_at) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            let b = i * COLS;
            let params: Vec<String> = (1..=COLS).map(|k| format!("${}", b + k)).collect();
            sql.push('(');
            sql.push_str(&params.join(", "));
            sql.push(')');
        }
        sql.push_str(" ON CONFLICT (tenant_id, name) DO NOTHING RETURNING id, tenant_id");
        let sql = sqlx::AssertSqlSafe(sql);
        let rows: Vec<(String, String)> = on!(c.reborrow(), c => {
            let mut q = sqlx::query_as(sql);
            for d in chunk {
                q = q.bind(d.id.as_str()).bind(d.tenant_id.as_str()).bind(d.client_id.as_str()).bind(&d.name).bind(&d.name_unicode)
                    .bind(&d.tld).bind(d.registrar_account_id.as_str()).bind(d.state.as_str()).bind(to_json(&d.epp_statuses))
                    .bind(to_json(&d.rgp_statuses)).bind(&d.registry_id).bind(d.registered_at.map(to_millis))
                    .bind(d.expires_at.map(to_millis)).bind(to_json(&d.nameservers)).bind(d.locked).bind(d.privacy).bind(d.auto_renew)
                    .bind(d.contacts.registrant.as_ref().map(ContactId::as_str)).bind(d.contacts.admin.as_ref().map(ContactId::as_str))
                    .bind(d.contacts.tech.as_ref().map(ContactId::as_str)).bind(d.contacts.billing.as_ref().map(ContactId::as_str))
                    .bind(&d.suspension_reason).bind(d.synced_at.map(to_millis)).bind(search_text(d))
                    .bind(to_millis(d.created_at)).bind(to_millis(d.updated_at));
            }
            q.fetch_all(c).await
        })?;
        let mut per_tenant: std::collections::BTreeMap<String, i64> = Default::default();
        for (id, tenant) in rows {
            *per_tenant.entry(tenant).or_default() += 1;
            stored.push(super::id(&id)?);
        }
        for (tenant, n) in per_tenant {
            super::counters::add(c.reborrow(), &super::id(&tenant)?, "domains", n).await?;
        }
    }
    Ok(stored)
}
