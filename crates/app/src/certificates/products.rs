//! Certificate products and subscriptions.
//!
//! A product is what a tenant sells: a kind (DV single name, multi-domain, wildcard, OV, EV),
//! a key type, the CA account that issues it, a term and a price. Ordering a certificate
//! starts a subscription: one term with one invoice (billing key
//! `ssl:<subscription>:<term start>`, so a term is charged at most once). Every issuance,
//! reissue and renewal of the subscription's names within the term is covered; a renewal after
//! the term starts the next term (and invoices it) when the subscription renews itself.

use chrono::{DateTime, Months, Utc};
use panel1_ca::KeyType;
use panel1_core::money::{Currency, Money};
use panel1_core::validate::{self, Checker};
use panel1_core::{
    CaAccountId, CertificateProductId, CertificateSubscriptionId, ClientId, FieldError, InvoiceId,
    TenantId, ValidationError,
};
use panel1_store::Tx;
use panel1_store::billing::InvoiceStatus;
use panel1_store::certificates::{self as repo, CertificateProduct, Subscription};
use panel1_store::{StoreError, ca_accounts};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::audit::{self, Change};
use crate::billing::{self, Charge, PayOutcome};
use crate::{Admin, App, AppError, AppResult};

/// The product kinds.
pub const KINDS: [&str; 5] = ["dv_single", "dv_multi", "dv_wildcard", "ov", "ev"];

/// A new product.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProductInput {
    #[schema(example = "Wildcard SSL")]
    pub name: String,
    /// `dv_single`, `dv_multi`, `dv_wildcard`, `ov` or `ev`.
    #[schema(example = "dv_wildcard")]
    pub kind: String,
    /// The most names per certificate (default: 1 for `dv_single`, 100 otherwise).
    pub max_names: Option<i64>,
    /// The CA account that issues it (default: the tenant's default account).
    pub ca_account_id: Option<CaAccountId>,
    /// `ecdsa-p256` (default), `ecdsa-p384`, `rsa-2048`, `rsa-3072` or `rsa-4096`.
    pub key_type: Option<String>,
    /// An ACME profile the CA offers (e.g. Let's Encrypt `shortlived`).
    pub profile: Option<String>,
    /// Subscription term in months (default 12).
    pub term_months: Option<i64>,
    /// ISO 4217 (default `USD`).
    pub currency: Option<String>,
    /// Price of one term as a decimal, e.g. `49.00` (default 0: free).
    pub price: Option<String>,
}

/// Checks a key type name.
pub fn parse_key_type(s: &str) -> Result<KeyType, ValidationError> {
    s.parse::<KeyType>()
        .map_err(|e| ValidationError::field("", "enum", e.to_string()))
}

pub(crate) fn check_profile(p: Option<&str>) -> Result<Option<String>, ValidationError> {
    match p.map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(None),
        Some(p)
            if p.len() <= 64
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.') =>
        {
            Ok(Some(p.to_owned()))
        }
        Some(_) => Err(ValidationError::field(
            "",
            "format",
            "an ACME profile name as the CA's directory lists it, e.g. shortlived",
        )),
    }
}

/// Creates a product (administrators).
pub async fn create(
    app: &App,
    admin: Admin<'_>,
    input: &NewProductInput,
) -> AppResult<CertificateProduct> {
    let caller = admin.0;
    let tenant = caller.tenant();
    let mut c = Checker::new();
    let name = c.take("name", validate::text(&input.name, 100));
    if !KINDS.contains(&input.kind.as_str()) {
        c.push(FieldError::new(
            "kind",
            "enum",
            "must be one of dv_single, dv_multi, dv_wildcard, ov, ev",
        ));
    }
    let max_names = input
        .max_names
        .unwrap_or(if input.kind == "dv_single" { 1 } else { 100 });
    if !(1..=100).contains(&max_names) || (input.kind == "dv_single" && max_names != 1) {
        c.push(FieldError::new(
            "max_names",
            "range",
            "1 to 100 names (exactly 1 for dv_single)",
        ));
    }
    let key_type = c.take(
        "key_type",
        parse_key_type(input.key_type.as_deref().unwrap_or("ecdsa-p256")),
    );
    let profile = c.take("profile", check_profile(input.profile.as_deref()));
    let term = input.term_months.unwrap_or(12);
    if !(1..=120).contains(&term) {
        c.push(FieldError::new("term_months", "range", "1 to 120 months"));
    }
    let currency = c.take(
        "currency",
        Currency::parse(input.currency.as_deref().unwrap_or("USD")),
    );
    let price = currency.and_then(|cur| {
        c.take(
            "price",
            Money::parse_decimal(input.price.as_deref().unwrap_or("0"), cur),
        )
    });
    if price.is_some_and(|p| p.amount < 0) {
        c.push(FieldError::new("price", "range", "must not be negative"));
    }
    let mut tx = app.db.begin().await?;
    if let Some(id) = &input.ca_account_id
        && ca_accounts::get(tx.conn(), tenant, id).await?.is_none()
    {
        c.push(FieldError::new(
            "ca_account_id",
            "not_found",
            format!("no CA account `{id}` exists"),
        ));
    }
    c.finish()?;
    let (Some(name), Some(key_type), Some(profile), Some(price)) = (name, key_type, profile, price)
    else {
        return Err(AppError::internal(anyhow::anyhow!(
            "validated input lost a field"
        )));
    };
    let now = Utc::now();
    let product = CertificateProduct {
        id: CertificateProductId::new(),
        tenant_id: tenant.clone(),
        name: name.clone(),
        kind: input.kind.clone(),
        max_names,
        ca_account_id: input.ca_account_id.clone(),
        key_type: key_type.as_str().to_owned(),
        profile,
        term_months: term,
        currency: price.currency,
        price: price.amount,
        created_at: now,
        updated_at: now,
    };
    match repo::insert_product(tx.conn(), &product).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => {
            return Err(AppError::conflict(
                format!("a certificate product named `{name}` already exists"),
                Some("name"),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "certificate_product.create",
            object_type: "certificate_product",
            object_id: product.id.as_str(),
            summary: format!("added certificate product `{name}` ({})", product.kind),
            before: None,
            after: Some(serde_json::to_value(&product).map_err(AppError::internal)?),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(product)
}

/// The tenant's products. Client users see them too (to order).
pub async fn list(app: &App, caller: &crate::Caller) -> AppResult<Vec<CertificateProduct>> {
    let mut r = app.db.read().await?;
    Ok(repo::list_products(r.conn(), caller.tenant()).await?)
}

/// Deletes a product (administrators); existing subscriptions keep their terms.
pub async fn delete(app: &App, admin: Admin<'_>, id: &CertificateProductId) -> AppResult<()> {
    let caller = admin.0;
    let mut tx = app.db.begin().await?;
    if !repo::delete_product(tx.conn(), caller.tenant(), id).await? {
        return Err(AppError::not_found("certificate product", id));
    }
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "certificate_product.delete",
            object_type: "certificate_product",
            object_id: id.as_str(),
            summary: "deleted a certificate product".into(),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The client's subscriptions (staff see all of the tenant's).
pub async fn list_subscriptions(
    app: &App,
    caller: &crate::Caller,
    page: panel1_core::PageRequest,
) -> AppResult<panel1_core::Page<Subscription>> {
    let mut r = app.db.read().await?;
    let (items, total) = repo::list_subscriptions(r.conn(), &caller.scope(), page).await?;
    Ok(panel1_core::Page::new(items, page, total))
}

fn add_months(t: DateTime<Utc>, months: i64) -> DateTime<Utc> {
    t.checked_add_months(Months::new(
        u32::try_from(months.clamp(1, 1200)).unwrap_or(12),
    ))
    .unwrap_or(t)
}

/// Invoices one term and pays it from credit when asked. Returns the invoice and whether it
/// is paid.
async fn invoice_term(
    app: &App,
    tx: &mut Tx,
    sub: &Subscription,
    product_name: &str,
    pay: bool,
    actor: &str,
) -> AppResult<(InvoiceId, bool)> {
    let (invoice, status) = billing::invoice(
        app,
        tx,
        &sub.tenant_id,
        &sub.client_id,
        Charge {
            description: format!(
                "{product_name} certificate for {}, {} month(s) from {}",
                sub.names.join(", "),
                sub.term_months,
                sub.term_start.format("%Y-%m-%d")
            ),
            amount: Money::new(sub.price, sub.currency),
            object_type: "certificate_subscription".into(),
            object_id: sub.id.to_string(),
            operation: "subscribe".into(),
            term_years: None,
            billing_key: format!("ssl:{}:{}", sub.id, sub.term_start.format("%Y-%m-%d")),
        },
    )
    .await?;
    let mut paid = status == InvoiceStatus::Paid;
    if !paid && pay {
        // Only try when the credit suffices: a refused payment leaves the transaction to be
        // rolled back, and this one goes on (the order waits for the invoice).
        let balance = panel1_store::billing::balances(tx.conn(), &sub.tenant_id, &sub.client_id)
            .await?
            .into_iter()
            .find(|m| m.currency == sub.currency)
            .map_or(0, |m| m.amount);
        if balance >= sub.price {
            let (outcome, _) = billing::pay_in(tx, &sub.tenant_id, &invoice, actor).await?;
            paid = match outcome {
                PayOutcome::Paid | PayOutcome::AlreadyPaid => true,
                PayOutcome::Insufficient { .. } => {
                    return Err(AppError::conflict(
                        "the client's credit changed while the certificate was being ordered; try again",
                        None,
                    ));
                }
                PayOutcome::NotPayable(_) => false,
            };
        }
    }
    Ok((invoice, paid))
}

/// A subscription to start.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewSubscription<'a> {
    pub tenant: &'a TenantId,
    pub client: &'a ClientId,
    pub product: Option<&'a CertificateProduct>,
    pub names: &'a [String],
    /// Pay the invoice from the client's credit at once when it suffices.
    pub pay: bool,
    pub actor: &'a str,
}

/// Starts a subscription for a client's names: free (active at once) or invoiced (active when
/// paid; `pay` pays from the client's credit at once if it suffices).
pub(crate) async fn start(
    app: &App,
    tx: &mut Tx,
    n: &NewSubscription<'_>,
) -> AppResult<Subscription> {
    let NewSubscription {
        tenant,
        client,
        product,
        names,
        pay,
        actor,
    } = *n;
    let now = Utc::now();
    let (term, currency, price) = match product {
        Some(p) => (p.term_months, p.currency, p.price),
        None => (
            12,
            Currency::parse("USD").map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?,
            0,
        ),
    };
    let mut sub = Subscription {
        id: CertificateSubscriptionId::new(),
        tenant_id: tenant.clone(),
        client_id: client.clone(),
        product_id: product.map(|p| p.id.clone()),
        names: names.to_vec(),
        term_months: term,
        currency,
        price,
        status: "active".into(),
        term_start: now,
        term_end: add_months(now, term),
        invoice_id: None,
        auto_renew: true,
        created_at: now,
        updated_at: now,
    };
    if price > 0 {
        let name = product.map(|p| p.name.as_str()).unwrap_or("TLS");
        let (invoice, paid) = invoice_term(app, tx, &sub, name, pay, actor).await?;
        sub.invoice_id = Some(invoice);
        if !paid {
            sub.status = "awaiting_payment".into();
        }
    }
    repo::insert_subscription(tx.conn(), &sub).await?;
    Ok(sub)
}

/// Whether the subscription covers work at `at`: an active term, or a term that was waiting
/// for its invoice and is now paid (then it becomes active). A subscription that renews
/// itself starts its next term when the current one is over (free, or invoiced and paid
/// from credit when possible).
pub(crate) async fn covers(
    app: &App,
    tx: &mut Tx,
    sub: &Subscription,
    at: DateTime<Utc>,
) -> AppResult<bool> {
    let tenant = &sub.tenant_id;
    let scope = panel1_core::Scope::tenant(tenant.clone());
    if sub.status == "awaiting_payment" {
        let paid = match &sub.invoice_id {
            Some(inv) => panel1_store::billing::get_invoice(tx.conn(), &scope, inv, false)
                .await?
                .is_some_and(|i| i.status == InvoiceStatus::Paid),
            None => true,
        };
        if !paid {
            return Ok(false);
        }
        repo::set_subscription_status(tx.conn(), tenant, &sub.id, "active").await?;
        return Ok(sub.term_end > at);
    }
    if sub.status != "active" {
        return Ok(false);
    }
    if sub.term_end > at {
        return Ok(true);
    }
    if !sub.auto_renew {
        repo::set_subscription_status(tx.conn(), tenant, &sub.id, "expired").await?;
        return Ok(false);
    }
    let mut next = sub.clone();
    next.term_start = sub.term_end;
    next.term_end = add_months(sub.term_end, sub.term_months);
    while next.term_end <= at {
        next.term_start = next.term_end;
        next.term_end = add_months(next.term_end, sub.term_months);
    }
    if sub.price == 0 {
        repo::start_term(
            tx.conn(),
            tenant,
            &sub.id,
            next.term_start,
            next.term_end,
            None,
            "active",
        )
        .await?;
        return Ok(true);
    }
    let product_name = match &sub.product_id {
        Some(p) => repo::get_product(tx.conn(), tenant, p)
            .await?
            .map(|p| p.name)
            .unwrap_or_else(|| "TLS".into()),
        None => "TLS".into(),
    };
    let (invoice, paid) =
        invoice_term(app, tx, &next, &product_name, true, "system:certificates").await?;
    let status = if paid { "active" } else { "awaiting_payment" };
    repo::start_term(
        tx.conn(),
        tenant,
        &sub.id,
        next.term_start,
        next.term_end,
        Some(&invoice),
        status,
    )
    .await?;
    Ok(paid)
}
