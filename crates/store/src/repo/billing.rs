//! Billing: TLD prices, invoices with their lines, and client credit with its ledger.

use chrono::{DateTime, Utc};
use panel1_core::money::{Currency, Money};
use panel1_core::time::{from_millis, now_millis};
use panel1_core::{ClientId, CreditEntryId, InvoiceId, PageRequest, Scope, TenantId};
use serde::Serialize;

use crate::{Backend, Conn, Result, StoreError, exec, on};

fn currency(s: &str) -> Result<Currency> {
    Currency::parse(s).map_err(StoreError::corrupt)
}

// ---------------------------------------------------------------- prices

/// The price of one operation on a TLD for a number of years, in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TldPrice {
    /// The TLD (public suffix) without a leading dot: `com`, `co.uk`.
    pub tld: String,
    /// `register`, `renew`, `transfer` or `restore`.
    pub operation: String,
    pub years: i64,
    pub currency: Currency,
    /// Minor units.
    pub price: i64,
    /// What the registrar charges, when known (minor units).
    pub cost: Option<i64>,
    /// The markup rule the price was derived from, if any.
    pub markup: Option<serde_json::Value>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct PriceRow {
    tld: String,
    operation: String,
    years: i64,
    currency: String,
    price: i64,
    cost: Option<i64>,
    markup: Option<String>,
    updated_at: i64,
}

impl PriceRow {
    fn into_model(self) -> Result<TldPrice> {
        Ok(TldPrice {
            tld: self.tld,
            operation: self.operation,
            years: self.years,
            currency: currency(&self.currency)?,
            price: self.price,
            cost: self.cost,
            markup: self.markup.and_then(|m| serde_json::from_str(&m).ok()),
            updated_at: from_millis(self.updated_at),
        })
    }
}

pub async fn upsert_price(c: Conn<'_>, tenant: &TenantId, p: &TldPrice) -> Result<()> {
    exec!(c, c => sqlx::query(
        "INSERT INTO tld_prices (tenant_id, tld, operation, years, currency, price, cost, markup, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant_id, tld, operation, years, currency)
         DO UPDATE SET price = excluded.price, cost = excluded.cost, markup = excluded.markup, updated_at = excluded.updated_at")
        .bind(tenant.as_str()).bind(&p.tld).bind(&p.operation).bind(p.years).bind(p.currency.as_str()).bind(p.price)
        .bind(p.cost).bind(p.markup.as_ref().map(|m| m.to_string())).bind(now_millis())
        .execute(c).await)?;
    Ok(())
}

pub async fn get_price(
    c: Conn<'_>,
    tenant: &TenantId,
    tld: &str,
    operation: &str,
    years: i64,
    cur: Currency,
) -> Result<Option<TldPrice>> {
    let row: Option<PriceRow> = on!(c, c => sqlx::query_as(
        "SELECT tld, operation, years, currency, price, cost, markup, updated_at FROM tld_prices
         WHERE tenant_id = $1 AND tld = $2 AND operation = $3 AND years = $4 AND currency = $5")
        .bind(tenant.as_str()).bind(tld).bind(operation).bind(years).bind(cur.as_str()).fetch_optional(c).await)?;
    row.map(PriceRow::into_model).transpose()
}

#[derive(Debug, Clone, Default)]
pub struct PriceFilter {
    pub tld: Option<String>,
    pub operation: Option<String>,
    pub currency: Option<String>,
}

pub async fn list_prices(
    mut c: Conn<'_>,
    tenant: &TenantId,
    f: &PriceFilter,
    page: PageRequest,
) -> Result<(Vec<TldPrice>, u64)> {
    let mut cond = String::from("tenant_id = $1");
    let mut binds = Vec::new();
    for (col, v) in [
        ("tld", &f.tld),
        ("operation", &f.operation),
        ("currency", &f.currency),
    ] {
        if let Some(v) = v {
            binds.push(v.clone());
            cond.push_str(&format!(" AND {col} = ${}", binds.len() + 1));
        }
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT tld, operation, years, currency, price, cost, markup, updated_at FROM tld_prices WHERE {cond}
         ORDER BY tld, operation, years, currency LIMIT {} OFFSET {}",
        page.limit(),
        page.offset()
    ));
    let rows: Vec<PriceRow> = on!(c.reborrow(), c => {
        let mut q = sqlx::query_as(sql).bind(tenant.as_str());
        for b in &binds { q = q.bind(b); }
        q.fetch_all(c).await
    })?;
    let count = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM tld_prices WHERE {cond}"));
    let total: i64 = on!(c, c => {
        let mut q = sqlx::query_scalar(count).bind(tenant.as_str());
        for b in &binds { q = q.bind(b); }
        q.fetch_one(c).await
    })?;
    Ok((
        rows.into_iter()
            .map(PriceRow::into_model)
            .collect::<Result<_>>()?,
        u64::try_from(total).unwrap_or(0),
    ))
}

// ---------------------------------------------------------------- invoices

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InvoiceStatus {
    Draft,
    Unpaid,
    Paid,
    Void,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Draft => "draft",
            InvoiceStatus::Unpaid => "unpaid",
            InvoiceStatus::Paid => "paid",
            InvoiceStatus::Void => "void",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Draft, Self::Unpaid, Self::Paid, Self::Void]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct InvoiceLine {
    pub description: String,
    pub quantity: i64,
    /// Minor units.
    pub unit_price: i64,
    /// Minor units: quantity × unit price.
    pub amount: i64,
    /// What the line pays for (`domain`, `certificate_subscription`, …) and its id.
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    /// `register`, `renew`, `transfer`, `restore`, …
    pub operation: Option<String>,
    pub term_years: Option<i64>,
    /// What is charged at most once, e.g. `domain:dom_…:renew:2027-03-01`.
    #[serde(skip)]
    pub billing_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Invoice {
    pub id: InvoiceId,
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    /// Per-tenant number, e.g. `2026-000042`.
    pub number: String,
    pub currency: Currency,
    pub status: InvoiceStatus,
    pub subtotal: i64,
    pub total: i64,
    pub lines: Vec<InvoiceLine>,
    pub created_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
}

impl Invoice {
    pub fn total_money(&self) -> Money {
        Money::new(self.total, self.currency)
    }
}

#[derive(sqlx::FromRow)]
struct InvoiceRow {
    id: String,
    tenant_id: String,
    client_id: String,
    number: String,
    currency: String,
    status: String,
    subtotal: i64,
    total: i64,
    created_at: i64,
    due_at: i64,
    paid_at: Option<i64>,
    voided_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct LineRow {
    invoice_id: String,
    description: String,
    quantity: i64,
    unit_price: i64,
    amount: i64,
    object_type: Option<String>,
    object_id: Option<String>,
    operation: Option<String>,
    term_years: Option<i64>,
    billing_key: Option<String>,
}

const INVOICE_COLUMNS: &str = "id, tenant_id, client_id, number, currency, status, subtotal, total, created_at, due_at, paid_at, voided_at";

impl InvoiceRow {
    fn into_model(self, lines: Vec<InvoiceLine>) -> Result<Invoice> {
        Ok(Invoice {
            id: super::id(&self.id)?,
            tenant_id: super::id(&self.tenant_id)?,
            client_id: super::id(&self.client_id)?,
            number: self.number,
            currency: currency(&self.currency)?,
            status: InvoiceStatus::parse(&self.status)
                .ok_or_else(|| StoreError::corrupt(&self.status))?,
            subtotal: self.subtotal,
            total: self.total,
            lines,
            created_at: from_millis(self.created_at),
            due_at: from_millis(self.due_at),
            paid_at: self.paid_at.map(from_millis),
            voided_at: self.voided_at.map(from_millis),
        })
    }
}

impl From<LineRow> for InvoiceLine {
    fn from(r: LineRow) -> Self {
        InvoiceLine {
            description: r.description,
            quantity: r.quantity,
            unit_price: r.unit_price,
            amount: r.amount,
            object_type: r.object_type,
            object_id: r.object_id,
            operation: r.operation,
            term_years: r.term_years,
            billing_key: r.billing_key,
        }
    }
}

/// A new invoice.
#[derive(Debug, Clone)]
pub struct NewInvoice {
    pub client_id: ClientId,
    pub currency: Currency,
    pub status: InvoiceStatus,
    pub lines: Vec<InvoiceLine>,
    pub due_at: DateTime<Utc>,
}

/// Inserts an invoice with the next number of the tenant. A line whose billing key was already
/// invoiced makes the insert fail with a conflict on `invoice_lines.billing_key`.
pub async fn insert_invoice(mut c: Conn<'_>, tenant: &TenantId, n: &NewInvoice) -> Result<Invoice> {
    let now = Utc::now();
    let year = now.format("%Y").to_string();
    let seq = super::counters::next(c.reborrow(), tenant, &format!("invoice:{year}")).await?;
    let number = format!("{year}-{seq:06}");
    let id = InvoiceId::new();
    let subtotal: i64 = n.lines.iter().map(|l| l.amount).sum();
    exec!(c.reborrow(), c => sqlx::query(
        "INSERT INTO invoices (id, tenant_id, client_id, number, currency, status, subtotal, total, created_at, due_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $8)")
        .bind(id.as_str()).bind(tenant.as_str()).bind(n.client_id.as_str()).bind(&number).bind(n.currency.as_str())
        .bind(n.status.as_str()).bind(subtotal).bind(now.timestamp_millis()).bind(n.due_at.timestamp_millis())
        .execute(c).await)?;
    for (i, l) in n.lines.iter().enumerate() {
        exec!(c.reborrow(), c => sqlx::query(
            "INSERT INTO invoice_lines (invoice_id, line_no, description, quantity, unit_price, amount, object_type, object_id, operation, term_years, billing_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
            .bind(id.as_str()).bind(i as i64 + 1).bind(&l.description).bind(l.quantity).bind(l.unit_price).bind(l.amount)
            .bind(&l.object_type).bind(&l.object_id).bind(&l.operation).bind(l.term_years).bind(&l.billing_key)
            .execute(c).await)?;
    }
    Ok(Invoice {
        id,
        tenant_id: tenant.clone(),
        client_id: n.client_id.clone(),
        number,
        currency: n.currency,
        status: n.status,
        subtotal,
        total: subtotal,
        lines: n.lines.clone(),
        created_at: from_millis(now.timestamp_millis()),
        due_at: n.due_at,
        paid_at: None,
        voided_at: None,
    })
}

async fn lines_of(c: Conn<'_>, ids: &[String]) -> Result<Vec<LineRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    const COLS: &str = "invoice_id, description, quantity, unit_price, amount, object_type, object_id, operation, term_years, billing_key";
    Ok(match c {
        Conn::Postgres(c) => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM invoice_lines WHERE invoice_id = ANY($1) ORDER BY invoice_id, line_no"
            ));
            sqlx::query_as(sql).bind(ids).fetch_all(c).await?
        }
        Conn::Sqlite(c) => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM invoice_lines WHERE invoice_id IN (SELECT value FROM json_each($1)) ORDER BY invoice_id, line_no"
            ));
            sqlx::query_as(sql)
                .bind(serde_json::to_string(ids).unwrap_or_default())
                .fetch_all(c)
                .await?
        }
    })
}

async fn with_lines(c: Conn<'_>, rows: Vec<InvoiceRow>) -> Result<Vec<Invoice>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut lines = lines_of(c, &ids).await?;
    rows.into_iter()
        .map(|r| {
            let mine: Vec<InvoiceLine> = lines
                .extract_if(.., |l| l.invoice_id == r.id)
                .map(InvoiceLine::from)
                .collect();
            r.into_model(mine)
        })
        .collect()
}

/// An invoice visible in `scope` (client users: only their own), optionally locked for update.
pub async fn get_invoice(
    mut c: Conn<'_>,
    scope: &Scope,
    id: &InvoiceId,
    for_update: bool,
) -> Result<Option<Invoice>> {
    let lock = if for_update && c.backend() == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {INVOICE_COLUMNS} FROM invoices WHERE tenant_id = $1 AND id = $2{lock}"
    ));
    let row: Option<InvoiceRow> = on!(c.reborrow(), c => sqlx::query_as(sql).bind(scope.tenant_id.as_str()).bind(id.as_str()).fetch_optional(c).await)?;
    let Some(row) = row else { return Ok(None) };
    if let Some(cl) = &scope.client_id
        && cl.as_str() != row.client_id
    {
        return Ok(None);
    }
    Ok(with_lines(c, vec![row]).await?.pop())
}

#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    pub client_id: Option<ClientId>,
    pub status: Option<InvoiceStatus>,
}

pub async fn list_invoices(
    mut c: Conn<'_>,
    scope: &Scope,
    f: &InvoiceFilter,
    page: PageRequest,
) -> Result<(Vec<Invoice>, u64)> {
    let mut cond = String::from("tenant_id = $1");
    let mut binds: Vec<String> = Vec::new();
    let client = scope.client_id.as_ref().or(f.client_id.as_ref());
    if let Some(cl) = client {
        binds.push(cl.to_string());
        cond.push_str(&format!(" AND client_id = ${}", binds.len() + 1));
    }
    if let (Some(a), Some(b)) = (&scope.client_id, &f.client_id)
        && a != b
    {
        return Ok((Vec::new(), 0));
    }
    if let Some(s) = f.status {
        binds.push(s.as_str().to_owned());
        cond.push_str(&format!(" AND status = ${}", binds.len() + 1));
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {INVOICE_COLUMNS} FROM invoices WHERE {cond} ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}",
        page.limit(),
        page.offset()
    ));
    let rows: Vec<InvoiceRow> = on!(c.reborrow(), c => {
        let mut q = sqlx::query_as(sql).bind(scope.tenant_id.as_str());
        for b in &binds { q = q.bind(b); }
        q.fetch_all(c).await
    })?;
    let count = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM invoices WHERE {cond}"));
    let total: i64 = on!(c.reborrow(), c => {
        let mut q = sqlx::query_scalar(count).bind(scope.tenant_id.as_str());
        for b in &binds { q = q.bind(b); }
        q.fetch_one(c).await
    })?;
    Ok((
        with_lines(c, rows).await?,
        u64::try_from(total).unwrap_or(0),
    ))
}

/// Marks an unpaid invoice paid. Returns false if it was not unpaid (already paid, void, draft).
pub async fn mark_paid(c: Conn<'_>, tenant: &TenantId, id: &InvoiceId) -> Result<bool> {
    let now = now_millis();
    Ok(
        exec!(c, c => sqlx::query("UPDATE invoices SET status = 'paid', paid_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND status = 'unpaid'")
        .bind(tenant.as_str()).bind(id.as_str()).bind(now).execute(c).await)?
            == 1,
    )
}

/// Voids an unpaid or draft invoice and frees its billing keys so the work can be invoiced again.
pub async fn void(mut c: Conn<'_>, tenant: &TenantId, id: &InvoiceId) -> Result<bool> {
    let now = now_millis();
    let n = exec!(c.reborrow(), c => sqlx::query("UPDATE invoices SET status = 'void', voided_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND status IN ('unpaid', 'draft')")
        .bind(tenant.as_str()).bind(id.as_str()).bind(now).execute(c).await)?;
    if n == 1 {
        exec!(c, c => sqlx::query("UPDATE invoice_lines SET billing_key = NULL WHERE invoice_id = $1").bind(id.as_str()).execute(c).await)?;
    }
    Ok(n == 1)
}

/// The invoice (id, status) that already charges `billing_key`, if any.
pub async fn invoice_for_billing_key(
    c: Conn<'_>,
    tenant: &TenantId,
    billing_key: &str,
) -> Result<Option<(InvoiceId, InvoiceStatus)>> {
    let row: Option<(String, String)> = on!(c, c => sqlx::query_as(
        "SELECT i.id, i.status FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id WHERE i.tenant_id = $1 AND l.billing_key = $2")
        .bind(tenant.as_str()).bind(billing_key).fetch_optional(c).await)?;
    row.map(|(id, st)| {
        Ok((
            super::id(&id)?,
            InvoiceStatus::parse(&st).ok_or_else(|| StoreError::corrupt(st))?,
        ))
    })
    .transpose()
}

// ---------------------------------------------------------------- credit

/// One movement of a client's credit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CreditEntry {
    pub id: CreditEntryId,
    pub client_id: ClientId,
    pub currency: Currency,
    /// Minor units; positive adds credit, negative spends it.
    pub amount: i64,
    pub balance_after: i64,
    /// `credit`, `invoice_payment`, `refund` or `adjustment`.
    pub kind: String,
    pub invoice_id: Option<InvoiceId>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A movement to apply.
pub struct NewCredit<'a> {
    pub client_id: &'a ClientId,
    pub currency: Currency,
    pub amount: i64,
    pub kind: &'a str,
    pub invoice_id: Option<&'a InvoiceId>,
    pub note: Option<&'a str>,
    pub actor: Option<&'a str>,
    /// Whether the balance may go below zero (the tenant allows work on credit).
    pub allow_negative: bool,
}

/// The outcome of applying a movement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditOutcome {
    Applied(CreditEntry),
    /// The balance would go below zero; nothing was written by this call, but the caller must
    /// roll its transaction back (the balance row was updated before the check).
    Insufficient {
        balance: i64,
    },
}

/// Applies a movement to the client's balance and appends it to the ledger. An invoice is paid
/// from credit at most once (a unique index); a second payment is a conflict.
pub async fn apply(mut c: Conn<'_>, tenant: &TenantId, m: &NewCredit<'_>) -> Result<CreditOutcome> {
    let now = now_millis();
    let balance: i64 = on!(c.reborrow(), c => sqlx::query_scalar(
        "INSERT INTO client_balances (tenant_id, client_id, currency, balance, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, client_id, currency) DO UPDATE SET balance = client_balances.balance + excluded.balance, updated_at = excluded.updated_at
         RETURNING balance")
        .bind(tenant.as_str()).bind(m.client_id.as_str()).bind(m.currency.as_str()).bind(m.amount).bind(now)
        .fetch_one(c).await)?;
    if balance < 0 && m.amount < 0 && !m.allow_negative {
        return Ok(CreditOutcome::Insufficient {
            balance: balance - m.amount,
        });
    }
    let id = CreditEntryId::new();
    exec!(c, c => sqlx::query(
        "INSERT INTO credit_ledger (id, tenant_id, client_id, currency, amount, balance_after, kind, invoice_id, note, actor, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(id.as_str()).bind(tenant.as_str()).bind(m.client_id.as_str()).bind(m.currency.as_str()).bind(m.amount).bind(balance)
        .bind(m.kind).bind(m.invoice_id.map(InvoiceId::as_str)).bind(m.note).bind(m.actor).bind(now)
        .execute(c).await)?;
    Ok(CreditOutcome::Applied(CreditEntry {
        id,
        client_id: m.client_id.clone(),
        currency: m.currency,
        amount: m.amount,
        balance_after: balance,
        kind: m.kind.to_owned(),
        invoice_id: m.invoice_id.cloned(),
        note: m.note.map(str::to_owned),
        created_at: from_millis(now),
    }))
}

/// The client's balances, one per currency.
pub async fn balances(c: Conn<'_>, tenant: &TenantId, client: &ClientId) -> Result<Vec<Money>> {
    let rows: Vec<(String, i64)> = on!(c, c => sqlx::query_as("SELECT currency, balance FROM client_balances WHERE tenant_id = $1 AND client_id = $2 ORDER BY currency")
        .bind(tenant.as_str()).bind(client.as_str()).fetch_all(c).await)?;
    rows.into_iter()
        .map(|(cur, b)| Ok(Money::new(b, currency(&cur)?)))
        .collect()
}

#[derive(sqlx::FromRow)]
struct CreditRow {
    id: String,
    client_id: String,
    currency: String,
    amount: i64,
    balance_after: i64,
    kind: String,
    invoice_id: Option<String>,
    note: Option<String>,
    created_at: i64,
}

pub async fn ledger(
    mut c: Conn<'_>,
    tenant: &TenantId,
    client: &ClientId,
    page: PageRequest,
) -> Result<(Vec<CreditEntry>, u64)> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT id, client_id, currency, amount, balance_after, kind, invoice_id, note, created_at FROM credit_ledger
         WHERE tenant_id = $1 AND client_id = $2 ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}",
        page.limit(),
        page.offset()
    ));
    let rows: Vec<CreditRow> = on!(c.reborrow(), c => sqlx::query_as(sql).bind(tenant.as_str()).bind(client.as_str()).fetch_all(c).await)?;
    let total: i64 = on!(c, c => sqlx::query_scalar("SELECT COUNT(*) FROM credit_ledger WHERE tenant_id = $1 AND client_id = $2")
        .bind(tenant.as_str()).bind(client.as_str()).fetch_one(c).await)?;
    let items = rows
        .into_iter()
        .map(|r| {
            Ok(CreditEntry {
                id: super::id(&r.id)?,
                client_id: super::id(&r.client_id)?,
                currency: currency(&r.currency)?,
                amount: r.amount,
                balance_after: r.balance_after,
                kind: r.kind,
                invoice_id: super::opt_id(r.invoice_id.as_deref())?,
                note: r.note,
                created_at: from_millis(r.created_at),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((items, u64::try_from(total).unwrap_or(0)))
}
