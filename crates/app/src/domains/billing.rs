//! Paid domain work: an invoice for every registration, renewal, transfer and restore, and the
//! registrar call that costs money only once that invoice is paid.
//!
//! - **Prices** come from the tenant's price list (`tld_prices`) in the tenant's domain
//!   currency; a term without its own price costs the one-year price times the years. A
//!   premium name is priced from the registrar's premium cost with the markup rule of the
//!   TLD's register price (else the tenant's `premium_markup`, else the price list's own
//!   price-to-cost ratio), never below cost.
//! - **Invoicing** ([`bill`]) runs in the caller's transaction, right after the operation was
//!   stored as `awaiting_payment`: the invoice line carries the billing key
//!   `domain:<id>:<operation>:<term>` (unique across invoices, so a term is invoiced once),
//!   the invoice is paid from the client's credit when it covers it, and the operation is
//!   released (its job enqueued) when the invoice is paid — or at once when the tenant works
//!   on credit.
//! - **Release** ([`release`]) is a conditional update `awaiting_payment → queued`: a payment
//!   that arrives twice, the `invoice.paid` handler and the payer's own transaction racing
//!   each other, all release the work once.
//! - [`PaidWorkHandler`] reacts to `invoice.paid` (release) and `invoice.voided` (the work is
//!   not done).
//! - A registration, transfer or restore that definitely failed after its invoice was paid is
//!   refunded to the client's credit (once per invoice: a unique index); an unpaid invoice for
//!   it is voided.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use panel1_core::money::{Currency, Markup, Money};
use panel1_core::{DomainOperationId, InvoiceId, JobId, Scope, TenantId};
use panel1_jobs::{EnqueueOptions, Job, JobContext, JobError};
use panel1_store::billing::{self as store_billing, CreditOutcome, InvoiceStatus, NewCredit};
use panel1_store::domain_automation::{self as auto, DomainSettings};
use panel1_store::domain_operations::{self as ops, DomainOperation, OperationStatus};
use panel1_store::domains::{self as repo, Domain};
use panel1_store::events::{self, Event, NewEvent};
use panel1_store::{Conn, Tx};
use serde::{Deserialize, Serialize};

use super::jobs;
use crate::billing::{Charge, PayOutcome};
use crate::events::EventHandler;
use crate::{App, AppError, AppResult};

/// Who pays automatically: the actor recorded on payments made from credit by Panel1.
pub const AUTO_PAYER: &str = "system:domains";

/// The tenant's domain settings.
pub async fn settings(tx: &mut Tx, tenant: &TenantId) -> AppResult<DomainSettings> {
    Ok(auto::settings(tx.conn(), tenant).await?)
}

/// What an operation costs the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub amount: Money,
    /// For a premium registration: what the registrar charges (sent as the accepted premium
    /// price).
    pub premium_cost: Option<Money>,
}

fn no_price(tld: &str, operation: &str, years: i64, currency: Currency) -> AppError {
    AppError::conflict(
        format!(
            "there is no {operation} price for .{tld} ({years} year(s), {currency}) in this tenant's price list; staff set one with upsertTldPrice before it can be ordered"
        ),
        Some("name"),
    )
}

/// The tenant's price for `operation` on `tld` for `years`: that term's own price, else the
/// one-year price times the years.
pub async fn price(
    mut c: Conn<'_>,
    tenant: &TenantId,
    tld: &str,
    operation: &str,
    years: i64,
    currency: Currency,
) -> AppResult<Money> {
    if let Some(p) =
        store_billing::get_price(c.reborrow(), tenant, tld, operation, years, currency).await?
    {
        return Ok(Money::new(p.price, p.currency));
    }
    if years > 1
        && let Some(p) = store_billing::get_price(c, tenant, tld, operation, 1, currency).await?
        && let Some(m) = Money::new(p.price, p.currency).checked_mul(years)
    {
        return Ok(m);
    }
    Err(no_price(tld, operation, years, currency))
}

/// The sale price of a premium name whose registrar cost is `cost` per year.
pub async fn premium_price(
    c: Conn<'_>,
    tenant: &TenantId,
    settings: &DomainSettings,
    tld: &str,
    cost: Money,
) -> AppResult<Money> {
    let listed = store_billing::get_price(c, tenant, tld, "register", 1, cost.currency).await?;
    let rule = |v: &serde_json::Value| -> Option<(Markup, Option<i64>)> {
        let m: Markup = serde_json::from_value(v.get("rule")?.clone()).ok()?;
        Some((m, v.get("ending").and_then(serde_json::Value::as_i64)))
    };
    let derived = listed
        .as_ref()
        .and_then(|p| p.markup.as_ref())
        .and_then(rule)
        .or_else(|| settings.premium_markup.as_ref().and_then(rule))
        .map(|(m, ending)| m.apply(cost, ending))
        .or_else(|| {
            // The price list's own margin on this TLD, applied to the premium cost.
            let p = listed.as_ref()?;
            let c = p.cost.filter(|c| *c > 0)?;
            let v = i128::from(cost.amount) * i128::from(p.price) / i128::from(c);
            Some(Money::new(i64::try_from(v).ok()?, cost.currency))
        });
    match derived {
        Some(m) if m.amount >= cost.amount => Ok(m),
        Some(_) => Ok(cost),
        None => Err(AppError::conflict(
            format!(
                "this is a premium name (the registrar charges {cost}) and no markup applies to it: set a markup on the .{tld} register price or the tenant's premium_markup (updateDomainSettings)"
            ),
            Some("name"),
        )),
    }
}

/// What [`bill`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Billed {
    pub invoice_id: InvoiceId,
    pub invoice_status: InvoiceStatus,
    /// The operation's job, when it was released.
    pub job_id: Option<JobId>,
}

/// The billing key of an operation: what is charged at most once.
pub fn billing_key(op: &DomainOperation) -> String {
    format!("domain:{}:{}:{}", op.domain_id, op.operation, op.term)
}

fn describe(op: &DomainOperation, d: &Domain) -> String {
    let years = op.years.unwrap_or(1);
    match op.operation.as_str() {
        "register" => format!("Registration of {} for {years} year(s)", d.name_unicode),
        "renew" => format!(
            "Renewal of {} for {years} year(s) from {}",
            d.name_unicode,
            op.expiry_before
                .map(|e| e.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| "its expiry".into())
        ),
        "transfer" => format!("Transfer of {} (adds {years} year(s))", d.name_unicode),
        "restore" => format!("Restore of {} from redemption", d.name_unicode),
        other => format!("{other} of {}", d.name_unicode),
    }
}

/// Invoices `op` (already stored, `awaiting_payment`) at `amount`, pays the invoice from the
/// client's credit when it covers it, and releases the operation when the invoice is paid or
/// the tenant works on credit. Everything happens in `tx`; the caller commits. An invoice that
/// already charges the operation's billing key is reused, never duplicated.
pub async fn bill(
    app: &App,
    tx: &mut Tx,
    op: &mut DomainOperation,
    d: &Domain,
    amount: Money,
    settings: &DomainSettings,
) -> AppResult<Billed> {
    let (invoice_id, mut status) = crate::billing::invoice(
        app,
        tx,
        &op.tenant_id,
        &op.client_id,
        Charge {
            description: describe(op, d),
            amount,
            object_type: "domain".into(),
            object_id: d.id.to_string(),
            operation: op.operation.clone(),
            term_years: op.years,
            billing_key: billing_key(op),
        },
    )
    .await?;
    if op.invoice_id.as_ref() != Some(&invoice_id) {
        op.invoice_id = Some(invoice_id.clone());
        *op = ops::save(tx.conn(), op).await?;
    }
    if status == InvoiceStatus::Unpaid {
        status = pay_from_credit(tx, &op.tenant_id, &invoice_id).await?;
    }
    let job_id = if status == InvoiceStatus::Paid || settings.work_on_credit {
        release(tx, op, None).await?
    } else {
        None
    };
    Ok(Billed {
        invoice_id,
        invoice_status: status,
        job_id,
    })
}

/// Pays an unpaid invoice from the client's credit if the balance covers it (the balance row
/// is locked first, so the payment cannot find it short). Returns the invoice's status after.
pub async fn pay_from_credit(
    tx: &mut Tx,
    tenant: &TenantId,
    invoice: &InvoiceId,
) -> AppResult<InvoiceStatus> {
    let scope = Scope::tenant(tenant.clone());
    let Some(inv) = store_billing::get_invoice(tx.conn(), &scope, invoice, true).await? else {
        return Err(AppError::not_found("invoice", invoice));
    };
    if inv.status != InvoiceStatus::Unpaid {
        return Ok(inv.status);
    }
    let balance = auto::balance_for_update(tx.conn(), tenant, &inv.client_id, inv.currency).await?;
    if balance < inv.total {
        return Ok(InvoiceStatus::Unpaid);
    }
    match crate::billing::pay_in(tx, tenant, invoice, AUTO_PAYER).await? {
        (PayOutcome::Paid | PayOutcome::AlreadyPaid, _) => Ok(InvoiceStatus::Paid),
        (PayOutcome::NotPayable(st), _) => Ok(st),
        (PayOutcome::Insufficient { .. }, _) => Err(AppError::conflict(
            "the client's credit changed while the invoice was being paid; try again",
            None,
        )),
    }
}

/// Releases an `awaiting_payment` operation: marks it `queued` and enqueues its job, in `tx`.
/// `round` distinguishes a later run of an operation that ended before (its earlier job still
/// holds the plain unique key). Returns the job, or `None` when the operation was not awaiting
/// payment (someone else released it, or it ended): nothing is enqueued then.
pub async fn release(
    tx: &mut Tx,
    op: &mut DomainOperation,
    round: Option<String>,
) -> AppResult<Option<JobId>> {
    if !ops::release(tx.conn(), &op.tenant_id, &op.id).await? {
        return Ok(None);
    }
    op.status = OperationStatus::Queued;
    let job = jobs::enqueue_round(tx, op, round).await?;
    ops::set_job(tx.conn(), &op.tenant_id, &op.id, &job).await?;
    op.job_id = Some(job.clone());
    tracing::info!(operation = %op.id, kind = %op.operation, job = %job, "paid domain work released");
    Ok(Some(job))
}

/// Ends an operation that waits for payment without doing it (its invoice was voided, the
/// domain left the account, a restore replaced the renewal): the operation fails with
/// `failure_kind`, an unpaid invoice is voided and a paid one refunded.
pub async fn abandon(
    tx: &mut Tx,
    op: &mut DomainOperation,
    failure_kind: &str,
    why: &str,
) -> AppResult<()> {
    op.status = OperationStatus::Failed;
    op.failure_kind = Some(failure_kind.to_owned());
    op.error = Some(why.to_owned());
    op.finished_at = Some(Utc::now());
    *op = ops::save(tx.conn(), op).await?;
    if let Some(inv) = op.invoice_id.clone() {
        settle_unused_invoice(tx, &op.tenant_id, &inv, why).await?;
    }
    events::append(
        tx,
        NewEvent {
            tenant_id: &op.tenant_id,
            kind: "domain.operation.failed",
            object_type: "domain",
            object_id: op.domain_id.as_str(),
            payload: serde_json::json!({ "operation": {
                "id": op.id, "operation": op.operation, "status": op.status, "error": why,
                "failure_kind": failure_kind, "invoice_id": op.invoice_id,
            }}),
        },
    )
    .await?;
    Ok(())
}

/// The work an invoice paid for will not happen: void it when unpaid, refund it to the
/// client's credit when paid (at most once per invoice).
pub async fn settle_unused_invoice(
    tx: &mut Tx,
    tenant: &TenantId,
    invoice: &InvoiceId,
    why: &str,
) -> AppResult<()> {
    let scope = Scope::tenant(tenant.clone());
    let Some(inv) = store_billing::get_invoice(tx.conn(), &scope, invoice, true).await? else {
        return Ok(());
    };
    match inv.status {
        InvoiceStatus::Unpaid | InvoiceStatus::Draft => {
            if store_billing::void(tx.conn(), tenant, invoice).await? {
                let after = store_billing::get_invoice(tx.conn(), &scope, invoice, false).await?;
                events::append(
                    tx,
                    NewEvent {
                        tenant_id: tenant,
                        kind: "invoice.voided",
                        object_type: "invoice",
                        object_id: invoice.as_str(),
                        payload: serde_json::to_value(&after).map_err(AppError::internal)?,
                    },
                )
                .await?;
            }
        }
        InvoiceStatus::Paid => {
            let note = format!("refund of invoice {}: {why}", inv.number);
            let refunded = store_billing::apply(
                tx.conn(),
                tenant,
                &NewCredit {
                    client_id: &inv.client_id,
                    currency: inv.currency,
                    amount: inv.total,
                    kind: "refund",
                    invoice_id: Some(invoice),
                    note: Some(&note),
                    actor: Some(AUTO_PAYER),
                    allow_negative: true,
                },
            )
            .await;
            match refunded {
                Ok(CreditOutcome::Applied(entry)) => {
                    events::append(
                        tx,
                        NewEvent {
                            tenant_id: tenant,
                            kind: "client.credit.refunded",
                            object_type: "client",
                            object_id: inv.client_id.as_str(),
                            payload: serde_json::to_value(&entry).map_err(AppError::internal)?,
                        },
                    )
                    .await?;
                }
                Ok(CreditOutcome::Insufficient { .. }) => {}
                // Refunded before (the unique index): nothing more.
                Err(panel1_store::StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        InvoiceStatus::Void => {}
    }
    Ok(())
}

/// Ends the paid work still waiting on a domain that can no longer get it (transferred away,
/// released, in redemption): see [`abandon`].
pub async fn abandon_waiting(
    tx: &mut Tx,
    d: &Domain,
    failure_kind: &str,
    why: &str,
) -> AppResult<usize> {
    let waiting = ops::awaiting_for_domain(tx.conn(), &d.tenant_id, &d.id).await?;
    let n = waiting.len();
    for mut op in waiting {
        abandon(tx, &mut op, failure_kind, why).await?;
    }
    Ok(n)
}

/// Bills a batch of operations stored by the renewal sweep (`awaiting_payment`, no invoice
/// yet): quote, invoice, pay from credit, release. Each operation is handled in its own
/// transaction; one that cannot be billed (no price) keeps its error and the others go on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BillOperations {
    /// Unique per batch (e.g. the first operation's id), so two sweeps never bill twice.
    pub key: String,
    pub operation_ids: Vec<DomainOperationId>,
}

#[async_trait]
impl Job for BillOperations {
    const KIND: &'static str = "domain::bill";
    const MAX_ATTEMPTS: i64 = 12;
    type Context = App;

    fn unique_key(&self) -> Option<String> {
        Some(self.key.clone())
    }

    async fn run(&self, app: &App, job: &JobContext) -> Result<(), JobError> {
        let list = {
            let mut r = app.db.read().await?;
            ops::get_many(r.conn(), &self.operation_ids).await?
        };
        let mut failures = 0i64;
        for op in &list {
            match bill_one(app, &op.tenant_id, &op.id).await {
                Ok(()) => {}
                Err(BillError::Store(e)) => return Err(JobError::retry(e)),
                Err(BillError::Refused(msg)) => {
                    failures += 1;
                    tracing::warn!(operation = %op.id, error = %msg, "a domain operation could not be billed; the sweep tries again tomorrow");
                }
            }
        }
        job.report(i64::try_from(list.len()).unwrap_or(i64::MAX), failures);
        let mut tx = app.db.begin().await?;
        job.complete_in(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

enum BillError {
    Store(String),
    Refused(String),
}

impl From<AppError> for BillError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Internal(e) => BillError::Store(format!("{e:#}")),
            other => BillError::Refused(other.to_string()),
        }
    }
}

impl From<panel1_store::StoreError> for BillError {
    fn from(e: panel1_store::StoreError) -> Self {
        BillError::Store(e.to_string())
    }
}

/// Bills one stored operation (idempotent: an operation already billed is only released if
/// its invoice got paid meanwhile).
async fn bill_one(app: &App, tenant: &TenantId, id: &DomainOperationId) -> Result<(), BillError> {
    let mut tx = app.db.begin().await?;
    let Some(mut op) = ops::get(tx.conn(), tenant, id).await? else {
        return Ok(());
    };
    if op.status != OperationStatus::AwaitingPayment {
        return Ok(());
    }
    let scope = Scope::tenant(tenant.clone());
    let Some(d) = repo::get_for_update(tx.conn(), &scope, &op.domain_id).await? else {
        return Ok(());
    };
    let settings = settings(&mut tx, tenant).await?;
    if op.operation == "renew" && d.expires_at != op.expiry_before {
        // The domain was renewed (or changed) since this renewal was planned.
        let mut op2 = op.clone();
        abandon(
            &mut tx,
            &mut op2,
            "superseded",
            "the domain's expiry changed since this renewal was planned; nothing was charged",
        )
        .await?;
        tx.commit().await?;
        return Ok(());
    }
    let amount = match price(
        tx.conn(),
        tenant,
        &d.tld,
        &op.operation,
        op.years.unwrap_or(1),
        settings.currency,
    )
    .await
    {
        Ok(a) => a,
        Err(e) => {
            // Kept on the operation, visible in its log; the alert before expiry reports it.
            drop(tx);
            let mut tx = app.db.begin().await?;
            if let Some(mut op) = ops::get(tx.conn(), tenant, id).await? {
                op.error = Some(e.to_string());
                ops::save(tx.conn(), &op).await?;
            }
            tx.commit().await?;
            return Err(e.into());
        }
    };
    let first_time = op.invoice_id.is_none();
    let billed = bill(app, &mut tx, &mut op, &d, amount, &settings).await?;
    if first_time && op.operation == "renew" {
        events::append(
            &mut tx,
            NewEvent {
                tenant_id: tenant,
                kind: "domain.renewal.due",
                object_type: "domain",
                object_id: d.id.as_str(),
                payload: serde_json::json!({
                    "domain": d, "operation_id": op.id, "invoice_id": billed.invoice_id,
                    "invoice_status": billed.invoice_status, "amount": amount,
                }),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Enqueues the billing of operations stored by a sweep, in batches of 200.
pub(crate) async fn enqueue_billing(
    tx: &mut Tx,
    ids: &[DomainOperationId],
    key_suffix: &str,
) -> AppResult<()> {
    let mut jobs_list = Vec::new();
    for chunk in ids.chunks(200) {
        let job = BillOperations {
            key: format!("{}:{key_suffix}", chunk[0]),
            operation_ids: chunk.to_vec(),
        };
        jobs_list.push(panel1_jobs::new_job(&job, EnqueueOptions::default())?);
    }
    panel1_store::jobs::enqueue_many(tx, &jobs_list).await?;
    Ok(())
}

/// Releases paid work when its invoice is paid, and ends it when its invoice is voided.
pub struct PaidWorkHandler;

impl PaidWorkHandler {
    #[expect(
        clippy::new_ret_no_self,
        reason = "handlers are registered as trait objects (`Handlers::with`)"
    )]
    pub fn new() -> Arc<dyn EventHandler> {
        Arc::new(PaidWorkHandler)
    }
}

#[async_trait]
impl EventHandler for PaidWorkHandler {
    fn name(&self) -> &'static str {
        "domains.paid_work"
    }

    fn wants(&self, kind: &str) -> bool {
        kind == "invoice.paid" || kind == "invoice.voided"
    }

    async fn handle(&self, app: &App, event: &Event) -> Result<(), JobError> {
        let invoice: InvoiceId = event
            .object_id
            .parse()
            .map_err(|e| JobError::permanent(format!("event {}: {e}", event.id)))?;
        let mut tx = app.db.begin().await?;
        let waiting = ops::awaiting_invoice(tx.conn(), &event.tenant_id, &invoice).await?;
        for mut op in waiting {
            let r = if event.kind == "invoice.paid" {
                release(&mut tx, &mut op, None).await.map(|_| ())
            } else {
                abandon(
                    &mut tx,
                    &mut op,
                    "invoice_voided",
                    "its invoice was voided, so the registrar was not asked",
                )
                .await
            };
            r.map_err(|e| JobError::retry(format!("releasing paid work: {}", e.detail())))?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billing_keys_name_domain_operation_and_term() {
        let now = Utc::now();
        let op = DomainOperation {
            id: DomainOperationId::new(),
            tenant_id: TenantId::new(),
            domain_id: "dom_0193f1c2a4b07c3e9d2f5a6b7c8d9e0f".parse().unwrap(),
            client_id: panel1_core::ClientId::new(),
            operation: "renew".into(),
            term: "2027-03-01".into(),
            years: Some(1),
            idempotency_key: "renew:example.com:2027-03-01".into(),
            registrar_account_id: panel1_core::RegistrarAccountId::new(),
            status: OperationStatus::AwaitingPayment,
            params: serde_json::json!({}),
            result: None,
            outcome: None,
            error: None,
            failure_kind: None,
            attempts: 0,
            uncertain: false,
            expiry_before: Some(now),
            job_id: None,
            invoice_id: None,
            requested_by: None,
            request_id: None,
            created_at: now,
            updated_at: now,
            finished_at: None,
            secret_sealed: None,
        };
        assert_eq!(
            billing_key(&op),
            "domain:dom_0193f1c2a4b07c3e9d2f5a6b7c8d9e0f:renew:2027-03-01"
        );
        let mut again = op.clone();
        again.id = DomainOperationId::new();
        again.idempotency_key = "renew:example.com:2027-03-01~2".into();
        assert_eq!(
            billing_key(&again),
            billing_key(&op),
            "a second request for the same term is charged under the same key"
        );
    }
}
