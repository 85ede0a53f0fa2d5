//! Billing: TLD prices (by hand, or derived from the registrar's cost with a markup), invoices
//! and client credit.
//!
//! Exactly once, by construction: every invoice line that pays for work carries a billing key
//! `(object, operation, term)` that is unique across invoices; paying an invoice from credit
//! writes one ledger row that a unique index allows once per invoice; the invoice moves from
//! `unpaid` to `paid` with a conditional update. A payment that arrives twice, or two workers
//! paying at once, therefore pay once.

use chrono::{Duration, Utc};
use panel1_core::money::{Currency, Markup, Money};
use panel1_core::validate::{self, Checker};
use panel1_core::{ClientId, FieldError, InvoiceId, Page, PageRequest, TenantId, ValidationError};
use panel1_store::Tx;
use panel1_store::billing::{
    self, CreditEntry, CreditOutcome, Invoice, InvoiceFilter, InvoiceLine, InvoiceStatus,
    NewCredit, NewInvoice, PriceFilter, TldPrice,
};
use panel1_store::clients;
use panel1_store::events::{self, NewEvent};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{self, Change};
use crate::notify::{self, Notice};
use crate::{App, AppError, AppResult, Caller, Staff};

pub const OPERATIONS: [&str; 4] = ["register", "renew", "transfer", "restore"];

/// A price to set: either `price`, or `cost` with a `markup` (and optionally a price ending).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TldPriceInput {
    /// `com`, `co.uk` (no leading dot).
    pub tld: String,
    /// `register`, `renew`, `transfer` or `restore`.
    pub operation: String,
    /// Term in years, 1–10 (default 1).
    pub years: Option<i64>,
    /// ISO 4217, e.g. `USD`.
    pub currency: String,
    /// The sale price as a decimal, e.g. `12.99`.
    pub price: Option<String>,
    /// What the registrar charges, as a decimal.
    pub cost: Option<String>,
    /// Derive the price from `cost`.
    pub markup: Option<Markup>,
    /// Round the derived price up to this ending in minor units, e.g. 99 for x.99.
    pub ending: Option<i64>,
}

/// A price as set, with warnings (e.g. below cost).
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceResult {
    #[serde(flatten)]
    pub price: TldPrice,
    pub warnings: Vec<String>,
}

fn check_tld(t: &str) -> Result<String, ValidationError> {
    let t = t.trim().trim_start_matches('.').to_ascii_lowercase();
    let ok = !t.is_empty()
        && t.len() <= 63
        && t.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if ok {
        Ok(t)
    } else {
        Err(ValidationError::field(
            "",
            "format",
            "a TLD such as com or co.uk (IDN TLDs as xn--…)",
        ))
    }
}

/// Checks an input and computes the price; `Err` names every bad field.
pub fn price_from_input(i: &TldPriceInput) -> Result<(TldPrice, Vec<String>), ValidationError> {
    let mut c = Checker::new();
    let tld = c.take("tld", check_tld(&i.tld));
    if !OPERATIONS.contains(&i.operation.as_str()) {
        c.push(FieldError::new(
            "operation",
            "enum",
            "must be one of register, renew, transfer, restore",
        ));
    }
    let years = i.years.unwrap_or(1);
    if !(1..=10).contains(&years) {
        c.push(FieldError::new(
            "years",
            "range",
            "must be between 1 and 10",
        ));
    }
    let currency = c.take("currency", Currency::parse(&i.currency));
    let (price, cost) = match currency {
        Some(cur) => (
            i.price
                .as_deref()
                .and_then(|p| c.take("price", Money::parse_decimal(p, cur))),
            i.cost
                .as_deref()
                .and_then(|p| c.take("cost", Money::parse_decimal(p, cur))),
        ),
        None => (None, None),
    };
    if let Some(e) = i.ending
        && !(0..=99).contains(&e)
    {
        c.push(FieldError::new(
            "ending",
            "range",
            "must be 0 to 99 (the last two digits of the price in minor units)",
        ));
    }
    match (&i.price, &i.markup, &i.cost) {
        (None, None, _) => c.push(FieldError::new(
            "price",
            "required",
            "give a price, or a cost with a markup",
        )),
        (None, Some(_), None) => c.push(FieldError::new(
            "cost",
            "required",
            "a markup needs the registrar's cost to start from",
        )),
        (Some(_), Some(_), _) => c.push(FieldError::new(
            "markup",
            "conflict",
            "give either a price or a markup, not both",
        )),
        _ => {}
    }
    c.finish()?;
    let (Some(tld), Some(currency)) = (tld, currency) else {
        return Err(ValidationError::field("", "invalid", "invalid input"));
    };
    let amount = match (price, i.markup, cost) {
        (Some(p), _, _) => p,
        (None, Some(m), Some(cost)) => m.apply(cost, i.ending),
        _ => {
            return Err(ValidationError::field(
                "price",
                "required",
                "give a price, or a cost with a markup",
            ));
        }
    };
    let mut warnings = Vec::new();
    if let Some(cost) = cost
        && amount.amount < cost.amount
    {
        warnings.push(format!(
            "the price {amount} is below the registrar's cost {cost}: every sale loses money"
        ));
    }
    let markup = i
        .markup
        .map(|m| serde_json::json!({ "rule": m, "ending": i.ending }));
    Ok((
        TldPrice {
            tld,
            operation: i.operation.clone(),
            years,
            currency,
            price: amount.amount,
            cost: cost.map(|c| c.amount),
            markup,
            updated_at: Utc::now(),
        },
        warnings,
    ))
}

pub async fn upsert_price(
    app: &App,
    staff: Staff<'_>,
    input: &TldPriceInput,
) -> AppResult<PriceResult> {
    let (price, warnings) = price_from_input(input)?;
    let mut tx = app.db.begin().await?;
    billing::upsert_price(tx.conn(), staff.0.tenant(), &price).await?;
    audit::record(
        &mut tx,
        staff.0,
        Change {
            action: "price.set",
            object_type: "tld_price",
            object_id: &format!(
                "{}:{}:{}:{}",
                price.tld, price.operation, price.years, price.currency
            ),
            summary: format!(
                "set the {} price of .{} for {} year(s) to {}",
                price.operation,
                price.tld,
                price.years,
                Money::new(price.price, price.currency)
            ),
            before: None,
            after: Some(serde_json::to_value(&price).map_err(AppError::internal)?),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(PriceResult { price, warnings })
}

/// Imports prices from CSV with the header `tld,operation,years,currency,price,cost`
/// (`cost` optional). Every line is checked first; one bad line refuses the whole file.
pub async fn import_prices_csv(
    app: &App,
    staff: Staff<'_>,
    text: &str,
) -> AppResult<(usize, Vec<String>)> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Err(ValidationError::field("body", "required", "the CSV is empty; the first line must be the header tld,operation,years,currency,price,cost").into());
    };
    let cols: Vec<String> = header
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| cols.iter().position(|c| c == name);
    let (Some(ti), Some(oi), Some(yi), Some(ci), Some(pi)) = (
        col("tld"),
        col("operation"),
        col("years"),
        col("currency"),
        col("price"),
    ) else {
        return Err(ValidationError::field("body", "header", "the header must name the columns tld, operation, years, currency, price (and optionally cost)").into());
    };
    let cost_i = col("cost");
    let mut prices = Vec::new();
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    for (n, line) in lines {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let get = |i: usize| f.get(i).copied().unwrap_or("");
        let years = match get(yi).parse::<i64>() {
            Ok(y) => Some(y),
            Err(_) => {
                errors.push(FieldError::new(
                    format!("line {}", n + 1),
                    "years",
                    format!("years `{}` is not a whole number", get(yi)),
                ));
                continue;
            }
        };
        let input = TldPriceInput {
            tld: get(ti).to_owned(),
            operation: get(oi).to_owned(),
            years,
            currency: get(ci).to_owned(),
            price: Some(get(pi).to_owned()),
            cost: cost_i.map(get).filter(|s| !s.is_empty()).map(str::to_owned),
            markup: None,
            ending: None,
        };
        match price_from_input(&input) {
            Ok((p, w)) => {
                warnings.extend(w.into_iter().map(|w| format!("line {}: {w}", n + 1)));
                prices.push(p);
            }
            Err(e) => errors.extend(e.0.into_iter().map(|fe| {
                FieldError::new(
                    format!("line {}", n + 1),
                    fe.code,
                    format!("{}: {}", fe.field, fe.message),
                )
            })),
        }
    }
    if !errors.is_empty() {
        return Err(ValidationError(errors).into());
    }
    let mut tx = app.db.begin().await?;
    for p in &prices {
        billing::upsert_price(tx.conn(), staff.0.tenant(), p).await?;
    }
    audit::record(
        &mut tx,
        staff.0,
        Change {
            action: "price.import",
            object_type: "tld_price",
            object_id: "csv",
            summary: format!("imported {} prices from CSV", prices.len()),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((prices.len(), warnings))
}

pub async fn list_prices(
    app: &App,
    caller: &Caller,
    f: &PriceFilter,
    page: PageRequest,
) -> AppResult<Page<TldPrice>> {
    let mut r = app.db.read().await?;
    let (items, total) = billing::list_prices(r.conn(), caller.tenant(), f, page).await?;
    Ok(Page::new(items, page, total))
}

/// The tenant's price for an operation, or a clear error when none is set.
pub async fn quote(
    tx: &mut Tx,
    tenant: &TenantId,
    tld: &str,
    operation: &str,
    years: i64,
    currency: Currency,
) -> AppResult<Money> {
    match billing::get_price(tx.conn(), tenant, tld, operation, years, currency).await? {
        Some(p) => Ok(Money::new(p.price, p.currency)),
        None => Err(AppError::conflict(
            format!(
                "there is no {operation} price for .{tld} ({years} year(s), {currency}); set one with upsertTldPrice"
            ),
            Some("tld"),
        )),
    }
}

/// A line to invoice.
pub struct Charge {
    pub description: String,
    pub amount: Money,
    pub object_type: String,
    pub object_id: String,
    pub operation: String,
    pub term_years: Option<i64>,
    /// What this charge pays for, charged at most once: e.g. `domain:dom_…:renew:2027-03-01`.
    pub billing_key: String,
}

/// Invoices `charge` to a client inside the caller's transaction, unless an invoice already
/// charges its billing key (then that invoice is returned). Appends `invoice.created` and
/// e-mails the invoice to the client.
pub async fn invoice(
    app: &App,
    tx: &mut Tx,
    tenant: &TenantId,
    client: &ClientId,
    charge: Charge,
) -> AppResult<(InvoiceId, InvoiceStatus)> {
    if let Some(existing) =
        billing::invoice_for_billing_key(tx.conn(), tenant, &charge.billing_key).await?
    {
        return Ok(existing);
    }
    let client_row = clients::get(
        tx.conn(),
        &panel1_core::Scope::tenant(tenant.clone()),
        client,
    )
    .await?
    .ok_or_else(|| AppError::not_found("client", client))?;
    let inv = billing::insert_invoice(
        tx.conn(),
        tenant,
        &NewInvoice {
            client_id: client.clone(),
            currency: charge.amount.currency,
            status: InvoiceStatus::Unpaid,
            due_at: Utc::now() + Duration::days(7),
            lines: vec![InvoiceLine {
                description: charge.description,
                quantity: 1,
                unit_price: charge.amount.amount,
                amount: charge.amount.amount,
                object_type: Some(charge.object_type),
                object_id: Some(charge.object_id),
                operation: Some(charge.operation),
                term_years: charge.term_years,
                billing_key: Some(charge.billing_key),
            }],
        },
    )
    .await?;
    let view = serde_json::to_value(&inv).map_err(AppError::internal)?;
    events::append(
        tx,
        NewEvent {
            tenant_id: tenant,
            kind: "invoice.created",
            object_type: "invoice",
            object_id: inv.id.as_str(),
            payload: view,
        },
    )
    .await?;
    notify::queue(
        app,
        tx,
        Notice {
            tenant_id: tenant,
            to: &client_row.details.email,
            template: "invoice",
            object: Some(("invoice", inv.id.as_str())),
            context: serde_json::json!({
                "client_name": client_row.details.name,
                "number": inv.number,
                "total": inv.total_money().to_string(),
                "due_at": inv.due_at.format("%Y-%m-%d").to_string(),
                "lines": inv.lines.iter().map(|l| serde_json::json!({"description": l.description, "amount": Money::new(l.amount, inv.currency).to_string()})).collect::<Vec<_>>(),
            }),
            dedupe_key: Some(format!("invoice:{}", inv.id)),
        },
    )
    .await?;
    Ok((inv.id, InvoiceStatus::Unpaid))
}

/// Why paying from credit did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayOutcome {
    Paid,
    AlreadyPaid,
    Insufficient { balance: Money, total: Money },
    NotPayable(InvoiceStatus),
}

/// Pays an invoice from the client's credit inside `tx` (the caller commits). Idempotent: an
/// invoice already paid stays paid and nothing is charged again.
pub async fn pay_in(
    tx: &mut Tx,
    tenant: &TenantId,
    id: &InvoiceId,
    actor: &str,
) -> AppResult<(PayOutcome, Option<Invoice>)> {
    let scope = panel1_core::Scope::tenant(tenant.clone());
    let Some(inv) = billing::get_invoice(tx.conn(), &scope, id, true).await? else {
        return Err(AppError::not_found("invoice", id));
    };
    match inv.status {
        InvoiceStatus::Paid => return Ok((PayOutcome::AlreadyPaid, Some(inv))),
        InvoiceStatus::Unpaid => {}
        other => return Ok((PayOutcome::NotPayable(other), Some(inv))),
    }
    let out = billing::apply(
        tx.conn(),
        tenant,
        &NewCredit {
            client_id: &inv.client_id,
            currency: inv.currency,
            amount: -inv.total,
            kind: "invoice_payment",
            invoice_id: Some(&inv.id),
            note: Some(&format!("payment of invoice {}", inv.number)),
            actor: Some(actor),
            allow_negative: false,
        },
    )
    .await;
    match out {
        Ok(CreditOutcome::Applied(_)) => {}
        Ok(CreditOutcome::Insufficient { balance }) => {
            return Ok((
                PayOutcome::Insufficient {
                    balance: Money::new(balance, inv.currency),
                    total: inv.total_money(),
                },
                Some(inv),
            ));
        }
        // The unique index: another payment of this invoice won the race.
        Err(panel1_store::StoreError::Conflict { .. }) => {
            return Ok((PayOutcome::AlreadyPaid, Some(inv)));
        }
        Err(e) => return Err(e.into()),
    }
    if !billing::mark_paid(tx.conn(), tenant, &inv.id).await? {
        return Err(AppError::conflict(
            "the invoice changed while it was being paid; try again",
            None,
        ));
    }
    let paid = billing::get_invoice(tx.conn(), &scope, id, false).await?;
    let view = serde_json::to_value(&paid).map_err(AppError::internal)?;
    events::append(
        tx,
        NewEvent {
            tenant_id: tenant,
            kind: "invoice.paid",
            object_type: "invoice",
            object_id: inv.id.as_str(),
            payload: view,
        },
    )
    .await?;
    Ok((PayOutcome::Paid, paid))
}

/// `payInvoice`: pays from credit. Client users may pay their own invoices.
pub async fn pay(app: &App, caller: &Caller, id: &InvoiceId) -> AppResult<Invoice> {
    let mut tx = app.db.begin().await?;
    // Visibility first: a client user reaching another client's invoice gets 404.
    if billing::get_invoice(tx.conn(), &caller.scope(), id, false)
        .await?
        .is_none()
    {
        return Err(AppError::not_found("invoice", id));
    }
    let (out, inv) = pay_in(
        &mut tx,
        caller.tenant(),
        id,
        caller.principal.user_id.as_ref(),
    )
    .await?;
    match out {
        PayOutcome::Paid => {}
        PayOutcome::AlreadyPaid => {
            return Err(AppError::conflict(
                "this invoice is already paid; nothing was charged again",
                None,
            ));
        }
        PayOutcome::Insufficient { balance, total } => {
            return Err(AppError::conflict(
                format!(
                    "the client's credit ({balance}) does not cover the invoice ({total}); add credit first"
                ),
                Some("credit"),
            ));
        }
        PayOutcome::NotPayable(st) => {
            return Err(AppError::conflict(
                format!("a {} invoice cannot be paid", st.as_str()),
                None,
            ));
        }
    }
    let inv = inv.ok_or_else(|| AppError::not_found("invoice", id))?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "invoice.pay",
            object_type: "invoice",
            object_id: id.as_str(),
            summary: format!(
                "paid invoice {} ({}) from credit",
                inv.number,
                inv.total_money()
            ),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(inv)
}

pub async fn void(app: &App, staff: Staff<'_>, id: &InvoiceId) -> AppResult<Invoice> {
    let mut tx = app.db.begin().await?;
    let scope = staff.0.scope();
    let inv = billing::get_invoice(tx.conn(), &scope, id, true)
        .await?
        .ok_or_else(|| AppError::not_found("invoice", id))?;
    if !billing::void(tx.conn(), staff.0.tenant(), id).await? {
        return Err(AppError::conflict(
            format!("a {} invoice cannot be voided", inv.status.as_str()),
            None,
        ));
    }
    let after = billing::get_invoice(tx.conn(), &scope, id, false)
        .await?
        .ok_or_else(|| AppError::not_found("invoice", id))?;
    events::append(
        &mut tx,
        NewEvent {
            tenant_id: staff.0.tenant(),
            kind: "invoice.voided",
            object_type: "invoice",
            object_id: id.as_str(),
            payload: serde_json::to_value(&after).map_err(AppError::internal)?,
        },
    )
    .await?;
    audit::record(
        &mut tx,
        staff.0,
        Change {
            action: "invoice.void",
            object_type: "invoice",
            object_id: id.as_str(),
            summary: format!("voided invoice {}", inv.number),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn get_invoice(app: &App, caller: &Caller, id: &InvoiceId) -> AppResult<Invoice> {
    let mut r = app.db.read().await?;
    billing::get_invoice(r.conn(), &caller.scope(), id, false)
        .await?
        .ok_or_else(|| AppError::not_found("invoice", id))
}

pub async fn list_invoices(
    app: &App,
    caller: &Caller,
    f: &InvoiceFilter,
    page: PageRequest,
) -> AppResult<Page<Invoice>> {
    let mut r = app.db.read().await?;
    let (items, total) = billing::list_invoices(r.conn(), &caller.scope(), f, page).await?;
    Ok(Page::new(items, page, total))
}

/// Credit to add to a client.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditInput {
    /// A positive decimal amount, e.g. `25.00`.
    pub amount: String,
    /// ISO 4217, e.g. `USD`.
    pub currency: String,
    pub note: Option<String>,
}

pub async fn add_credit(
    app: &App,
    staff: Staff<'_>,
    client: &ClientId,
    input: &CreditInput,
) -> AppResult<CreditEntry> {
    let mut c = Checker::new();
    let currency = c.take("currency", Currency::parse(&input.currency));
    let amount =
        currency.and_then(|cur| c.take("amount", Money::parse_decimal(&input.amount, cur)));
    if amount.is_some_and(|a| a.amount == 0) {
        c.push(FieldError::new("amount", "range", "must be more than zero"));
    }
    let note = c.take("note", validate::optional_text(input.note.as_deref(), 500));
    c.finish()?;
    let (Some(amount), Some(note)) = (amount, note) else {
        return Err(AppError::internal(anyhow::anyhow!(
            "validated input lost a field"
        )));
    };
    let mut tx = app.db.begin().await?;
    if clients::get(tx.conn(), &staff.0.scope(), client)
        .await?
        .is_none()
    {
        return Err(AppError::not_found("client", client));
    }
    let entry = match billing::apply(
        tx.conn(),
        staff.0.tenant(),
        &NewCredit {
            client_id: client,
            currency: amount.currency,
            amount: amount.amount,
            kind: "credit",
            invoice_id: None,
            note: note.as_deref(),
            actor: Some(staff.0.principal.user_id.as_ref()),
            allow_negative: true,
        },
    )
    .await?
    {
        CreditOutcome::Applied(e) => e,
        CreditOutcome::Insufficient { .. } => {
            return Err(AppError::internal(anyhow::anyhow!(
                "adding credit cannot be insufficient"
            )));
        }
    };
    audit::record(
        &mut tx,
        staff.0,
        Change {
            action: "client.credit",
            object_type: "client",
            object_id: client.as_str(),
            summary: format!(
                "added {amount} credit (balance {})",
                Money::new(entry.balance_after, amount.currency)
            ),
            before: None,
            after: Some(serde_json::to_value(&entry).map_err(AppError::internal)?),
        },
    )
    .await?;
    events::append(
        &mut tx,
        NewEvent {
            tenant_id: staff.0.tenant(),
            kind: "client.credit.added",
            object_type: "client",
            object_id: client.as_str(),
            payload: serde_json::to_value(&entry).map_err(AppError::internal)?,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(entry)
}

/// A client's balances and recent ledger entries.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreditView {
    pub balances: Vec<Money>,
    pub ledger: Page<CreditEntry>,
}

pub async fn credit(
    app: &App,
    caller: &Caller,
    client: &ClientId,
    page: PageRequest,
) -> AppResult<CreditView> {
    let mut r = app.db.read().await?;
    if clients::get(r.conn(), &caller.scope(), client)
        .await?
        .is_none()
    {
        return Err(AppError::not_found("client", client));
    }
    let balances = billing::balances(r.conn(), caller.tenant(), client).await?;
    let (items, total) = billing::ledger(r.conn(), caller.tenant(), client, page).await?;
    Ok(CreditView {
        balances,
        ledger: Page::new(items, page, total),
    })
}
