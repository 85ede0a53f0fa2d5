//! Clients: a tenant's customers, with their contact details.

use chrono::{DateTime, Utc};
use panel1_core::time::{from_millis, now_millis};
use panel1_core::{ClientId, PageRequest, Scope, TenantId};
use serde::Serialize;

use crate::{Conn, Result, StoreError, exec, on};

use super::contains_pattern;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ClientDetails {
    pub name: String,
    pub company: Option<String>,
    pub email: String,
    pub phone: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub status: String,
    pub notes: Option<String>,
}

impl ClientDetails {
    fn search_text(&self) -> String {
        [
            Some(self.name.as_str()),
            self.company.as_deref(),
            Some(self.email.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Client {
    pub id: ClientId,
    pub tenant_id: TenantId,
    #[serde(flatten)]
    pub details: ClientDetails,
    #[serde(serialize_with = "panel1_core::time::serialize")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "panel1_core::time::serialize")]
    pub updated_at: DateTime<Utc>,
}

/// A client row as `SELECT {COLUMNS}` returns it (decoded by position, see the `FromRow`).
#[derive(serde::Deserialize)]
struct Row {
    id: String,
    tenant_id: String,
    name: String,
    company: Option<String>,
    email: String,
    phone: Option<String>,
    address1: Option<String>,
    address2: Option<String>,
    city: Option<String>,
    state: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
    status: String,
    notes: Option<String>,
    created_at: i64,
    updated_at: i64,
}

const COLUMNS: &str = "id, tenant_id, name, company, email, phone, address1, address2, city, state, postal_code, country, status, notes, created_at, updated_at";

/// By position in [`COLUMNS`] (every read here selects `COLUMNS` first), without per-column
/// type checks: looking each column up by name hashed its name for every value, a fifth of
/// `serve`'s CPU on a PostgreSQL page of 50 (bench/platform). The types are the schema's, and
/// the store tests read every column back on both backends.
impl<'r, R> sqlx::FromRow<'r, R> for Row
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database>,
    i64: sqlx::Decode<'r, R::Database>,
{
    fn from_row(r: &'r R) -> std::result::Result<Self, sqlx::Error> {
        Ok(Row {
            id: r.try_get_unchecked(0)?,
            tenant_id: r.try_get_unchecked(1)?,
            name: r.try_get_unchecked(2)?,
            company: r.try_get_unchecked(3)?,
            email: r.try_get_unchecked(4)?,
            phone: r.try_get_unchecked(5)?,
            address1: r.try_get_unchecked(6)?,
            address2: r.try_get_unchecked(7)?,
            city: r.try_get_unchecked(8)?,
            state: r.try_get_unchecked(9)?,
            postal_code: r.try_get_unchecked(10)?,
            country: r.try_get_unchecked(11)?,
            status: r.try_get_unchecked(12)?,
            notes: r.try_get_unchecked(13)?,
            created_at: r.try_get_unchecked(14)?,
            updated_at: r.try_get_unchecked(15)?,
        })
    }
}

impl Row {
    fn into_model(self) -> Result<Client> {
        Ok(Client {
            id: super::id(&self.id)?,
            tenant_id: super::id(&self.tenant_id)?,
            details: ClientDetails {
                name: self.name,
                company: self.company,
                email: self.email,
                phone: self.phone,
                address1: self.address1,
                address2: self.address2,
                city: self.city,
                state: self.state,
                postal_code: self.postal_code,
                country: self.country,
                status: self.status,
                notes: self.notes,
            },
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
        })
    }
}

pub async fn insert(mut c: Conn<'_>, tenant: &TenantId, d: &ClientDetails) -> Result<Client> {
    let id = ClientId::new();
    let now = now_millis();
    exec!(c.reborrow(), c => sqlx::query(
        "INSERT INTO clients (id, tenant_id, name, company, email, phone, address1, address2, city, state, postal_code, country, status, notes, search_text, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)")
        .bind(id.as_str()).bind(tenant.as_str()).bind(&d.name).bind(&d.company).bind(&d.email).bind(&d.phone)
        .bind(&d.address1).bind(&d.address2).bind(&d.city).bind(&d.state).bind(&d.postal_code).bind(&d.country)
        .bind(&d.status).bind(&d.notes).bind(d.search_text()).bind(now)
        .execute(c).await)?;
    super::counters::add(c.reborrow(), tenant, "clients", 1).await?;
    Ok(Client {
        id,
        tenant_id: tenant.clone(),
        details: d.clone(),
        created_at: from_millis(now),
        updated_at: from_millis(now),
    })
}

pub async fn get(c: Conn<'_>, scope: &Scope, id: &ClientId) -> Result<Option<Client>> {
    if !scope.sees_client(Some(id)) {
        return Ok(None);
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM clients WHERE tenant_id = $1 AND id = $2"
    ));
    let row: Option<Row> = on!(c, c => sqlx::query_as(sql).bind(scope.tenant_id.as_str()).bind(id.as_str()).fetch_optional(c).await)?;
    row.map(Row::into_model).transpose()
}

/// Locks the client row for the rest of the transaction (PostgreSQL; SQLite's write
/// transaction already excludes other writers) and returns it.
pub async fn get_for_update(c: Conn<'_>, scope: &Scope, id: &ClientId) -> Result<Option<Client>> {
    if !scope.sees_client(Some(id)) {
        return Ok(None);
    }
    let lock = if c.backend() == crate::Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM clients WHERE tenant_id = $1 AND id = $2{lock}"
    ));
    let row: Option<Row> = on!(c, c => sqlx::query_as(sql).bind(scope.tenant_id.as_str()).bind(id.as_str()).fetch_optional(c).await)?;
    row.map(Row::into_model).transpose()
}

#[derive(Debug, Clone, Default)]
pub struct ClientFilter {
    /// Matches name, company or e-mail, case-insensitively.
    pub search: Option<String>,
    pub status: Option<String>,
}

pub async fn list(
    mut c: Conn<'_>,
    scope: &Scope,
    f: &ClientFilter,
    page: PageRequest,
) -> Result<(Vec<Client>, u64)> {
    let mut cond = String::from("tenant_id = $1");
    let mut n = 1;
    let mut binds: Vec<String> = Vec::new();
    if let Some(cl) = &scope.client_id {
        n += 1;
        cond.push_str(&format!(" AND id = ${n}"));
        binds.push(cl.as_str().to_owned());
    }
    if let Some(s) = f.search.as_deref().filter(|s| !s.trim().is_empty()) {
        n += 1;
        cond.push_str(&format!(" AND search_text LIKE ${n} ESCAPE '\\'"));
        binds.push(contains_pattern(s.trim()));
    }
    if let Some(st) = &f.status {
        n += 1;
        cond.push_str(&format!(" AND status = ${n}"));
        binds.push(st.clone());
    }
    let filtered = n > 1;
    // Unfiltered, the page carries the tenant's counter (one statement); filtered, a count.
    let counter = (!filtered).then_some("clients");
    let tail = format!(
        " FROM clients WHERE {cond} ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}",
        page.limit(),
        page.offset()
    );
    let mut all_binds: Vec<&str> = vec![scope.tenant_id.as_str()];
    all_binds.extend(binds.iter().map(String::as_str));
    let rows: Vec<(Row, Option<i64>)> =
        super::fetch_list(c.reborrow(), COLUMNS, counter, &tail, &all_binds).await?;
    let carried = rows.first().and_then(|r| r.1);
    let total = match carried {
        Some(t) => t,
        None if filtered => {
            let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM clients WHERE {cond}"));
            on!(c.reborrow(), c => {
                let mut q = sqlx::query_scalar(sql).bind(scope.tenant_id.as_str());
                for b in &binds { q = q.bind(b); }
                q.fetch_one(c).await
            })?
        }
        // An empty page (past the end, or no clients yet).
        None => super::counters::get(c.reborrow(), &scope.tenant_id, "clients").await?,
    };
    let items = rows
        .into_iter()
        .map(|(r, _)| r.into_model())
        .collect::<Result<Vec<_>>>()?;
    Ok((items, u64::try_from(total).unwrap_or(0)))
}

/// Replaces a client's details; returns the row as it was before.
pub async fn update(
    mut c: Conn<'_>,
    scope: &Scope,
    id: &ClientId,
    d: &ClientDetails,
) -> Result<(Client, Client)> {
    let before = get_for_update(c.reborrow(), scope, id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let now = now_millis();
    exec!(c, c => sqlx::query(
        "UPDATE clients SET name = $3, company = $4, email = $5, phone = $6, address1 = $7, address2 = $8, city = $9, state = $10,
         postal_code = $11, country = $12, status = $13, notes = $14, search_text = $15, updated_at = $16
         WHERE tenant_id = $1 AND id = $2")
        .bind(scope.tenant_id.as_str()).bind(id.as_str()).bind(&d.name).bind(&d.company).bind(&d.email).bind(&d.phone)
        .bind(&d.address1).bind(&d.address2).bind(&d.city).bind(&d.state).bind(&d.postal_code).bind(&d.country)
        .bind(&d.status).bind(&d.notes).bind(d.search_text()).bind(now)
        .execute(c).await)?;
    let after = Client {
        details: d.clone(),
        updated_at: from_millis(now),
        ..before.clone()
    };
    Ok((before, after))
}
