//! Automated renewals and the reminders around expiry.
//!
//! The **sweep** (`domain::renewal_sweep`, the daily `domains.renew` schedule, also runnable on
//! demand) does, on Panel1's [`crate::clock::Clock`]:
//!
//! 1. **Renewals**: reads the due domains in keyset batches of 2,000 (auto-renew on, still
//!    renewable, expiring within the TLD's or tenant's buffer, no renewal operation for the
//!    current expiry yet) and stores one `renew` operation per domain (`awaiting_payment`,
//!    idempotency key `renew:<name>:<expiry date>`) with one multi-row insert per 400 that
//!    skips keys already taken, then one `domain::bill` job per 200 stored operations. Two
//!    sweeps at once store each operation once. Billing invoices it, pays it from credit when
//!    possible and releases it (see [`super::billing`]); the renewal job retries failed
//!    registrar calls with backoff.
//! 2. **Reminders and alerts**: marks, with one `INSERT … SELECT … ON CONFLICT DO NOTHING`
//!    per stage, the domains that reached a stage for their current expiry (ICANN ERRP: about
//!    30 and 7 days before expiry, and within 5 days after; the tenant's alert days before
//!    expiry for auto-renewals not done yet) and enqueues one `domain::notify` job per 200.
//!    Each notice is sent once (claimed in the transaction that records its e-mail and event).
//! 3. **Stuck renewals** of current terms are pushed again: billed again when billing failed,
//!    released when their invoice is paid but the release was lost, reopened and retried when
//!    they failed in a way that retrying may fix — every day, until renewed or no longer
//!    renewable.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use panel1_core::domain_lifecycle::{DomainEvent, DomainState};
use panel1_core::money::Currency;
use panel1_core::validate::Checker;
use panel1_core::{DomainId, DomainOperationId, FieldError, JobId, Scope, TenantId};
use panel1_jobs::{EnqueueOptions, Job, JobContext, JobError};
use panel1_store::Tx;
use panel1_store::clients;
use panel1_store::domain_automation::{
    self as auto, DomainSettings, DueDomain, NoticeRef, NoticeStage, TldSetting,
};
use panel1_store::domain_operations::{self as ops, DomainOperation, OperationStatus};
use panel1_store::domains::{self as repo, Domain};
use panel1_store::events::{self, NewEvent};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::billing;
use crate::audit::{self, Change};
use crate::notify::{self, Notice};
use crate::{Admin, App, AppError, AppResult, Caller, Staff};

/// Due domains read per batch.
const BATCH: i64 = 2_000;

/// A renewal untouched this long (real time) is stuck and pushed again; a younger one is
/// still being billed or run (the sweep that stored it enqueued its billing). Pushing twice
/// is harmless (billing and release are idempotent), only wasteful.
const STUCK_AFTER: chrono::Duration = chrono::Duration::minutes(2);

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct SweepReport {
    /// Renewal operations stored (each billed by a job).
    pub renewals: usize,
    /// Reminders and alerts newly due (each sent by a job).
    pub notices: usize,
    /// Stuck renewals pushed again.
    pub revived: usize,
    pub elapsed_ms: u64,
    /// Of which: finding due domains and storing their renewals and billing jobs.
    pub renewals_ms: u64,
    /// Marking reminders and alerts and enqueueing their jobs.
    pub notices_ms: u64,
    /// Looking for stuck renewals and pushing them.
    pub revive_ms: u64,
}

fn ms_since(t: Instant) -> u64 {
    u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn renewal_op(d: &DueDomain) -> DomainOperation {
    let term = d.expires_at.format("%Y-%m-%d").to_string();
    let now = Utc::now();
    DomainOperation {
        id: DomainOperationId::new(),
        tenant_id: d.tenant_id.clone(),
        domain_id: d.id.clone(),
        client_id: d.client_id.clone(),
        operation: "renew".into(),
        idempotency_key: format!("renew:{}:{term}", d.name),
        term,
        years: Some(1),
        registrar_account_id: d.registrar_account_id.clone(),
        status: OperationStatus::AwaitingPayment,
        params: serde_json::json!({ "years": 1, "auto": true }),
        result: None,
        outcome: None,
        error: None,
        failure_kind: None,
        attempts: 0,
        uncertain: false,
        expiry_before: Some(d.expires_at),
        job_id: None,
        invoice_id: None,
        requested_by: Some("system:renewals".into()),
        request_id: None,
        created_at: now,
        updated_at: now,
        finished_at: None,
        secret_sealed: None,
    }
}

/// Runs the sweep once (see the module documentation). Safe to run concurrently with itself.
pub async fn sweep(app: &App) -> AppResult<SweepReport> {
    let started = Instant::now();
    let now = app.clock.now();
    let day = now.format("%Y-%m-%d").to_string();
    let max = {
        let mut r = app.db.read().await?;
        auto::max_buffer_days(r.conn()).await?
    };
    let horizon = now + chrono::Duration::days(max);
    let mut report = SweepReport::default();
    let read_page = |after: Option<(DateTime<Utc>, DomainId)>| async move {
        let mut r = app.db.read().await?;
        let page = auto::due_for_renewal(
            r.conn(),
            now,
            horizon,
            after.as_ref().map(|(a, i)| (*a, i)),
            BATCH,
        )
        .await?;
        AppResult::Ok(page)
    };
    let write_page = |due: Vec<auto::DueDomain>| {
        let day = &day;
        async move {
            if due.is_empty() {
                return AppResult::Ok(0);
            }
            let planned: Vec<DomainOperation> = due.iter().map(renewal_op).collect();
            let mut tx = app.db.begin().await?;
            let stored = ops::insert_many(tx.conn(), &planned).await?;
            billing::enqueue_billing(&mut tx, &stored, day).await?;
            tx.commit().await?;
            Ok(stored.len())
        }
    };
    // The next page is read while this one is written (pages never share a domain).
    let mut page = read_page(None).await?;
    loop {
        let next = page.next.take();
        let (written, following) = tokio::join!(write_page(std::mem::take(&mut page.due)), async {
            match next {
                Some(after) => read_page(Some(after)).await.map(Some),
                None => Ok(None),
            }
        });
        report.renewals += written?;
        match following? {
            Some(p) => page = p,
            None => break,
        }
    }
    report.renewals_ms = ms_since(started);
    let phase = Instant::now();
    for stage in NoticeStage::ALL {
        let mut tx = app.db.begin().await?;
        let marked = auto::mark_notices(tx.conn(), now, stage).await?;
        enqueue_notices(&mut tx, &marked, &day).await?;
        tx.commit().await?;
        report.notices += marked.len();
    }
    report.notices_ms = ms_since(phase);
    let phase = Instant::now();
    report.revived = revive(app, &day).await?;
    report.revive_ms = ms_since(phase);
    report.elapsed_ms = ms_since(started);
    tracing::info!(
        renewals = report.renewals,
        notices = report.notices,
        revived = report.revived,
        ms = report.elapsed_ms,
        "renewal sweep done"
    );
    Ok(report)
}

async fn enqueue_notices(tx: &mut Tx, marked: &[NoticeRef], day: &str) -> AppResult<()> {
    let mut list = Vec::new();
    for chunk in marked.chunks(200) {
        let first = &chunk[0];
        let job = NotifyDomains {
            key: format!(
                "{}:{}:{}:{day}",
                first.domain_id,
                first.term.timestamp_millis(),
                first.stage.as_str()
            ),
            notices: chunk.to_vec(),
        };
        list.push(panel1_jobs::new_job(&job, EnqueueOptions::default())?);
    }
    panel1_store::jobs::enqueue_many(tx, &list).await?;
    Ok(())
}

/// Pushes the stuck renewals of current terms again (see the module documentation).
async fn revive(app: &App, day: &str) -> AppResult<usize> {
    let stuck = {
        let mut r = app.db.read().await?;
        auto::stuck_renewals(r.conn(), Utc::now() - STUCK_AFTER, 1_000).await?
    };
    let mut n = 0;
    for s in stuck {
        let mut tx = app.db.begin().await?;
        let Some(mut op) = ops::get(tx.conn(), &s.tenant_id, &s.operation_id).await? else {
            continue;
        };
        let settings = billing::settings(&mut tx, &s.tenant_id).await?;
        let paid = s.invoice_status.as_deref() == Some("paid");
        let pushed = match op.status {
            OperationStatus::AwaitingPayment if op.invoice_id.is_none() => {
                billing::enqueue_billing(&mut tx, &[op.id.clone()], &format!("revive:{day}"))
                    .await?;
                true
            }
            OperationStatus::AwaitingPayment if paid => {
                billing::release(&mut tx, &mut op, None).await?.is_some()
            }
            OperationStatus::Failed => {
                if !auto::reopen(tx.conn(), &s.tenant_id, &op.id).await? {
                    false
                } else if op.invoice_id.is_none() {
                    billing::enqueue_billing(&mut tx, &[op.id.clone()], &format!("revive:{day}"))
                        .await?;
                    true
                } else if paid || settings.work_on_credit {
                    op.status = OperationStatus::AwaitingPayment;
                    billing::release(&mut tx, &mut op, Some(day.to_owned()))
                        .await?
                        .is_some()
                } else {
                    false
                }
            }
            _ => false,
        };
        if pushed {
            tracing::info!(operation = %op.id, domain = %op.domain_id, status = op.status.as_str(), "pushed a stuck renewal again");
            n += 1;
        }
        tx.commit().await?;
    }
    Ok(n)
}

/// The renewal sweep, fired by the `domains.renew` schedule.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RenewalSweep {}

#[async_trait]
impl Job for RenewalSweep {
    const KIND: &'static str = "domain::renewal_sweep";
    type Context = App;

    async fn run(&self, app: &App, job: &JobContext) -> Result<(), JobError> {
        let r = sweep(app)
            .await
            .map_err(|e| JobError::retry(format!("renewal sweep: {}", e.detail())))?;
        job.report(
            i64::try_from(r.renewals + r.notices + r.revived).unwrap_or(i64::MAX),
            0,
        );
        let mut tx = app.db.begin().await?;
        job.complete_in(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Sends a batch of reminders and alerts marked by the sweep.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotifyDomains {
    pub key: String,
    pub notices: Vec<NoticeRef>,
}

#[async_trait]
impl Job for NotifyDomains {
    const KIND: &'static str = "domain::notify";
    const MAX_ATTEMPTS: i64 = 12;
    type Context = App;

    fn unique_key(&self) -> Option<String> {
        Some(self.key.clone())
    }

    async fn run(&self, app: &App, job: &JobContext) -> Result<(), JobError> {
        let mut waiting = None;
        for n in &self.notices {
            match notice(app, n).await {
                Ok(Sent::Done) => {}
                Ok(Sent::Later(why)) => waiting = Some(why),
                Err(e) => return Err(JobError::retry(format!("notice: {}", e.detail()))),
            }
        }
        if let Some(note) = waiting {
            return Err(JobError::Wait {
                note,
                at: Utc::now() + chrono::Duration::seconds(2),
            });
        }
        job.report(i64::try_from(self.notices.len()).unwrap_or(i64::MAX), 0);
        let mut tx = app.db.begin().await?;
        job.complete_in(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

enum Sent {
    Done,
    /// Not yet: the renewal of the term is still being billed.
    Later(String),
}

/// Days from `now` until `at`, rounded up (a reminder 29.5 days ahead says 30).
fn days_until(at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let ms = (at - now).num_milliseconds();
    (ms + 86_400_000 - 1).div_euclid(86_400_000)
}

/// Sends one notice, once (claimed in the transaction that records its e-mail and event).
async fn notice(app: &App, n: &NoticeRef) -> AppResult<Sent> {
    let mut tx = app.db.begin().await?;
    if !auto::claim_notice(tx.conn(), n).await? {
        return Ok(Sent::Done);
    }
    let scope = Scope::tenant(n.tenant_id.clone());
    let Some(mut d) = repo::get_for_update(tx.conn(), &scope, &n.domain_id).await? else {
        tx.commit().await?;
        return Ok(Sent::Done);
    };
    if d.expires_at != Some(n.term) {
        // Renewed (or changed) since it was marked: nothing to remind.
        tx.commit().await?;
        return Ok(Sent::Done);
    }
    let renewal = if d.auto_renew {
        ops::for_term(tx.conn(), &n.tenant_id, &d.id, "renew", n.term)
            .await?
            .into_iter()
            .next()
    } else {
        None
    };
    let expires = n.term.format("%Y-%m-%d").to_string();
    let days = days_until(n.term, app.clock.now());
    match n.stage {
        NoticeStage::Reminder30 | NoticeStage::Reminder7 => {
            if let Some(op) = &renewal {
                let billing_pending = op.status == OperationStatus::AwaitingPayment
                    && op.invoice_id.is_none()
                    && Utc::now() - op.created_at < chrono::Duration::minutes(10);
                if billing_pending {
                    return Ok(Sent::Later(format!(
                        "the renewal of {} is being invoiced",
                        d.name
                    )));
                }
                if matches!(
                    op.status,
                    OperationStatus::Queued
                        | OperationStatus::Running
                        | OperationStatus::Waiting
                        | OperationStatus::Succeeded
                ) {
                    // Paid and under way: no reminder needed.
                    tx.commit().await?;
                    return Ok(Sent::Done);
                }
            }
            let invoice = match renewal.as_ref().and_then(|o| o.invoice_id.clone()) {
                Some(i) => panel1_store::billing::get_invoice(tx.conn(), &scope, &i, false)
                    .await?
                    .filter(|inv| inv.status == panel1_store::billing::InvoiceStatus::Unpaid)
                    .map(|inv| {
                        serde_json::json!({ "number": inv.number, "total": inv.total_money().to_string() })
                    }),
                None => None,
            };
            email_client(
                app,
                &mut tx,
                &d,
                "expiry_reminder",
                serde_json::json!({
                    "days": days, "expires_at": expires, "auto_renew": d.auto_renew, "invoice": invoice,
                }),
                format!(
                    "notice:{}:{}:{}",
                    d.id,
                    n.term.timestamp_millis(),
                    n.stage.as_str()
                ),
            )
            .await?;
            events::append(
                &mut tx,
                NewEvent {
                    tenant_id: &n.tenant_id,
                    kind: "domain.expiring",
                    object_type: "domain",
                    object_id: d.id.as_str(),
                    payload: serde_json::json!({ "domain": d, "days": days, "stage": n.stage }),
                },
            )
            .await?;
        }
        NoticeStage::RenewalAlert => {
            let reason = match &renewal {
                None => "no renewal was started for this term: check the TLD's renew price and the renewal buffer".to_owned(),
                Some(op) => match (op.status, &op.invoice_id) {
                    (OperationStatus::AwaitingPayment, Some(inv)) => {
                        let number = panel1_store::billing::get_invoice(tx.conn(), &scope, inv, false)
                            .await?
                            .map(|i| i.number)
                            .unwrap_or_else(|| inv.to_string());
                        format!("the renewal invoice {number} is not paid and the client's credit does not cover it")
                    }
                    (OperationStatus::AwaitingPayment, None) => format!(
                        "the renewal could not be invoiced: {}",
                        op.error.clone().unwrap_or_else(|| "unknown reason".into())
                    ),
                    (OperationStatus::Failed, _) => format!(
                        "the registrar refused the renewal: {}",
                        op.error.clone().unwrap_or_default()
                    ),
                    _ => format!(
                        "the renewal is still being retried; last error: {}",
                        op.error.clone().unwrap_or_else(|| "none yet".into())
                    ),
                },
            };
            events::append(
                &mut tx,
                NewEvent {
                    tenant_id: &n.tenant_id,
                    kind: "domain.renewal.failed",
                    object_type: "domain",
                    object_id: d.id.as_str(),
                    payload: serde_json::json!({
                        "domain": d, "days": days, "reason": reason,
                        "operation_id": renewal.as_ref().map(|o| o.id.clone()),
                    }),
                },
            )
            .await?;
            let client_name = clients::get(tx.conn(), &scope, &d.client_id)
                .await?
                .map(|c| c.details.name)
                .unwrap_or_default();
            email_tenant(
                app,
                &mut tx,
                &n.tenant_id,
                "renewal_failed",
                Some(("domain", d.id.as_str())),
                serde_json::json!({
                    "domain": d.name_unicode, "client_name": client_name, "expires_at": expires,
                    "days": days, "error": reason,
                }),
                &format!(
                    "notice:{}:{}:renewal_alert",
                    d.id,
                    n.term.timestamp_millis()
                ),
            )
            .await?;
        }
        NoticeStage::Expired => {
            if d.state == DomainState::Active {
                let before = d.clone();
                d.state = d
                    .state
                    .apply(DomainEvent::Expired)
                    .unwrap_or(DomainState::Expired);
                d = repo::update(tx.conn(), &d).await?;
                audit::record_as(
                    &mut tx,
                    &n.tenant_id,
                    &super::service::system_actor(),
                    None,
                    Change {
                        action: "domain.expired",
                        object_type: "domain",
                        object_id: d.id.as_str(),
                        summary: format!("{} expired on {expires}", d.name_unicode),
                        before: serde_json::to_value(&before).ok(),
                        after: serde_json::to_value(&d).ok(),
                    },
                )
                .await?;
            }
            events::append(
                &mut tx,
                NewEvent {
                    tenant_id: &n.tenant_id,
                    kind: "domain.expired",
                    object_type: "domain",
                    object_id: d.id.as_str(),
                    payload: serde_json::json!({ "domain": d }),
                },
            )
            .await?;
            email_client(
                app,
                &mut tx,
                &d,
                "expired_notice",
                serde_json::json!({ "expires_at": expires }),
                format!("notice:{}:{}:expired", d.id, n.term.timestamp_millis()),
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(Sent::Done)
}

/// Records an e-mail to the domain's client (with `domain` and `client_name` in its context)
/// in `tx`; the dedupe key makes it at most once.
pub async fn email_client(
    app: &App,
    tx: &mut Tx,
    d: &Domain,
    template: &str,
    extra: serde_json::Value,
    dedupe: String,
) -> AppResult<()> {
    let scope = Scope::tenant(d.tenant_id.clone());
    let Some(client) = clients::get(tx.conn(), &scope, &d.client_id).await? else {
        return Ok(());
    };
    let mut ctx = serde_json::json!({
        "domain": d.name_unicode,
        "client_name": client.details.name,
    });
    if let (Some(o), Some(e)) = (ctx.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    notify::queue(
        app,
        tx,
        Notice {
            tenant_id: &d.tenant_id,
            to: &client.details.email,
            template,
            object: Some(("domain", d.id.as_str())),
            context: ctx,
            dedupe_key: Some(dedupe),
        },
    )
    .await?;
    Ok(())
}

/// Records an e-mail to the tenant (its `notify_email`, else its administrators) in `tx`.
pub async fn email_tenant(
    app: &App,
    tx: &mut Tx,
    tenant: &TenantId,
    template: &str,
    object: Option<(&str, &str)>,
    ctx: serde_json::Value,
    dedupe: &str,
) -> AppResult<()> {
    let settings = auto::settings(tx.conn(), tenant).await?;
    let to = match settings.notify_email {
        Some(e) => vec![e],
        None => auto::admin_emails(tx.conn(), tenant).await?,
    };
    for addr in to {
        notify::queue(
            app,
            tx,
            Notice {
                tenant_id: tenant,
                to: &addr,
                template,
                object,
                context: ctx.clone(),
                dedupe_key: Some(format!("{dedupe}:{addr}")),
            },
        )
        .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- settings

/// The tenant's domain settings and per-TLD renewal buffers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DomainSettingsView {
    #[serde(flatten)]
    pub settings: DomainSettings,
    pub tlds: Vec<TldSetting>,
}

/// A markup rule for premium names.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PremiumMarkup {
    pub rule: panel1_core::money::Markup,
    /// Round up to this ending in minor units (e.g. 99 for x.99).
    pub ending: Option<i64>,
}

fn some<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

/// Changes to the domain settings; fields left out keep their value, `null` clears the
/// optional ones.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainSettingsInput {
    /// ISO 4217 code domain work is invoiced in.
    pub currency: Option<String>,
    /// Start registrar work before its invoice is paid.
    pub work_on_credit: Option<bool>,
    /// 1–365 days before expiry that auto-renewals start.
    pub renewal_buffer_days: Option<i64>,
    /// 0–365 days before expiry that an auto-renewal not done yet raises an alert.
    pub renewal_alert_days: Option<i64>,
    /// Where alerts go (`null`: the tenant's administrators).
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<String>)]
    pub notify_email: Option<Option<String>>,
    /// The markup for premium names when the TLD's register price has none (`null`: none).
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<PremiumMarkup>)]
    pub premium_markup: Option<Option<PremiumMarkup>>,
}

pub async fn get_settings(app: &App, staff: Staff<'_>) -> AppResult<DomainSettingsView> {
    let mut r = app.db.read().await?;
    let tenant = staff.0.tenant();
    Ok(DomainSettingsView {
        settings: auto::settings(r.conn(), tenant).await?,
        tlds: auto::tld_settings(r.conn(), tenant).await?,
    })
}

fn check_days(c: &mut Checker, field: &str, v: Option<i64>, lo: i64) {
    if let Some(d) = v
        && !(lo..=365).contains(&d)
    {
        c.push(FieldError::new(
            field,
            "range",
            format!("must be between {lo} and 365 days"),
        ));
    }
}

pub async fn update_settings(
    app: &App,
    admin: Admin<'_>,
    input: &DomainSettingsInput,
) -> AppResult<DomainSettingsView> {
    let mut c = Checker::new();
    let currency = input
        .currency
        .as_deref()
        .and_then(|cur| c.take("currency", Currency::parse(cur)));
    check_days(&mut c, "renewal_buffer_days", input.renewal_buffer_days, 1);
    check_days(&mut c, "renewal_alert_days", input.renewal_alert_days, 0);
    if let Some(Some(e)) = &input.notify_email {
        let e = e.trim();
        if e.len() > 254 || !e.contains('@') || e.starts_with('@') || e.ends_with('@') {
            c.push(FieldError::new(
                "notify_email",
                "format",
                "must be an e-mail address such as billing@example.com",
            ));
        }
    }
    if let Some(Some(m)) = &input.premium_markup
        && m.ending.is_some_and(|e| !(0..=99).contains(&e))
    {
        c.push(FieldError::new(
            "premium_markup.ending",
            "range",
            "must be 0 to 99 (the last two digits of the price in minor units)",
        ));
    }
    c.finish()?;
    let tenant = admin.0.tenant();
    let mut tx = app.db.begin().await?;
    let before = auto::settings(tx.conn(), tenant).await?;
    let mut s = before.clone();
    if let Some(cur) = currency {
        s.currency = cur;
    }
    if let Some(v) = input.work_on_credit {
        s.work_on_credit = v;
    }
    if let Some(v) = input.renewal_buffer_days {
        s.renewal_buffer_days = v;
    }
    if let Some(v) = input.renewal_alert_days {
        s.renewal_alert_days = v;
    }
    if let Some(v) = &input.notify_email {
        s.notify_email = v.as_ref().map(|e| e.trim().to_owned());
    }
    if let Some(v) = &input.premium_markup {
        s.premium_markup = v
            .as_ref()
            .map(|m| serde_json::to_value(m).map_err(AppError::internal))
            .transpose()?;
    }
    auto::save_settings(tx.conn(), tenant, &s).await?;
    audit::record(
        &mut tx,
        admin.0,
        Change {
            action: "domain_settings.update",
            object_type: "domain_settings",
            object_id: tenant.as_str(),
            summary: "changed the domain billing and renewal settings".into(),
            before: serde_json::to_value(&before).ok(),
            after: serde_json::to_value(&s).ok(),
        },
    )
    .await?;
    let tlds = auto::tld_settings(tx.conn(), tenant).await?;
    tx.commit().await?;
    let settings = {
        let mut r = app.db.read().await?;
        auto::settings(r.conn(), tenant).await?
    };
    Ok(DomainSettingsView { settings, tlds })
}

/// A TLD's own renewal buffer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TldSettingInput {
    /// 1–365 days before expiry that auto-renewals of this TLD start.
    pub renewal_buffer_days: i64,
}

pub async fn set_tld_setting(
    app: &App,
    admin: Admin<'_>,
    tld: &str,
    input: &TldSettingInput,
) -> AppResult<TldSetting> {
    let mut c = Checker::new();
    let tld = c.take("tld", super::accounts::parse_tld(tld));
    check_days(
        &mut c,
        "renewal_buffer_days",
        Some(input.renewal_buffer_days),
        1,
    );
    c.finish()?;
    let Some(tld) = tld else {
        return Err(AppError::internal(anyhow::anyhow!(
            "validated input lost a field"
        )));
    };
    let tenant = admin.0.tenant();
    let mut tx = app.db.begin().await?;
    auto::set_tld_setting(tx.conn(), tenant, &tld, input.renewal_buffer_days).await?;
    audit::record(
        &mut tx,
        admin.0,
        Change {
            action: "domain_settings.tld",
            object_type: "domain_settings",
            object_id: &tld,
            summary: format!(
                "auto-renewals of .{tld} start {} days before expiry",
                input.renewal_buffer_days
            ),
            before: None,
            after: None,
        },
    )
    .await?;
    let list = auto::tld_settings(tx.conn(), tenant).await?;
    tx.commit().await?;
    list.into_iter()
        .find(|t| t.tld == tld)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("the TLD setting was not stored")))
}

pub async fn remove_tld_setting(app: &App, admin: Admin<'_>, tld: &str) -> AppResult<()> {
    let tld = super::accounts::parse_tld(tld).map_err(|e| {
        panel1_core::ValidationError(e.0.into_iter().map(|f| f.under("tld")).collect())
    })?;
    let mut tx = app.db.begin().await?;
    if !auto::remove_tld_setting(tx.conn(), admin.0.tenant(), &tld).await? {
        return Err(AppError::not_found("TLD setting", &tld));
    }
    audit::record(
        &mut tx,
        admin.0,
        Change {
            action: "domain_settings.tld.remove",
            object_type: "domain_settings",
            object_id: &tld,
            summary: format!(".{tld} uses the tenant's renewal buffer again"),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Turns automatic renewal of a domain on or off (Panel1 renews; the registrar's own
/// auto-renew is not used).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetAutoRenew {
    pub enabled: bool,
}

pub async fn set_auto_renew(
    app: &App,
    caller: &Caller,
    id: &DomainId,
    input: &SetAutoRenew,
) -> AppResult<Domain> {
    let mut tx = app.db.begin().await?;
    let mut d = repo::get_for_update(tx.conn(), &caller.scope(), id)
        .await?
        .ok_or_else(|| AppError::not_found("domain", id))?;
    if d.auto_renew == input.enabled {
        return Ok(d);
    }
    d.auto_renew = input.enabled;
    let d = repo::update(tx.conn(), &d).await?;
    events::append(
        &mut tx,
        NewEvent {
            tenant_id: caller.tenant(),
            kind: "domain.auto_renew.updated",
            object_type: "domain",
            object_id: d.id.as_str(),
            payload: serde_json::json!({ "domain": d }),
        },
    )
    .await?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "domain.auto_renew",
            object_type: "domain",
            object_id: d.id.as_str(),
            summary: format!(
                "turned automatic renewal of {} {}",
                d.name_unicode,
                if input.enabled { "on" } else { "off" }
            ),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(d)
}

/// Runs the renewal sweep now (admin), as a job; answers the job.
pub async fn run_sweep(app: &App, admin: Admin<'_>) -> AppResult<JobId> {
    let mut tx = app.db.begin().await?;
    // The sweep covers every tenant; the job carries the caller's tenant so that its
    // administrators can follow it (getJob).
    let mut job = panel1_jobs::new_job(
        &RenewalSweep {},
        EnqueueOptions {
            tenant_id: Some(admin.0.tenant().clone()),
            ..Default::default()
        },
    )?;
    job.unique_key = Some(format!(
        "{}:manual:{}",
        RenewalSweep::KIND,
        panel1_core::ids::new_id_body()
    ));
    let e = panel1_store::jobs::enqueue(&mut tx, &job).await?;
    audit::record(
        &mut tx,
        admin.0,
        Change {
            action: "domain.renewal_sweep",
            object_type: "job",
            object_id: e.id().as_str(),
            summary: "ran the renewal sweep now".into(),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(e.id().clone())
}

/// How long a sweep waits between looking at the queue (tests, benchmarks).
pub const IDLE_POLL: Duration = Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_up() {
        let now = Utc::now();
        assert_eq!(days_until(now + chrono::Duration::hours(12), now), 1);
        assert_eq!(days_until(now + chrono::Duration::days(30), now), 30);
        assert_eq!(
            days_until(
                now + chrono::Duration::days(29) + chrono::Duration::hours(23),
                now
            ),
            30
        );
        assert_eq!(days_until(now - chrono::Duration::hours(1), now), 0);
    }
}
