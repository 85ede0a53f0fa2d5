//! The registrar sync: every domain is read from its registrar again at least every
//! `registrar_sync_interval_hours` (20 by default), at no more than the account's rate limit
//! (`registrar_sync_rate_per_minute`, 120 by default: 172,800 domains a day per account), and
//! every difference is recorded as a drift entry — what Panel1 had, what the registrar says,
//! what was done — instead of being overwritten silently.
//!
//! Each minute the `domains.sync` schedule enqueues one `domain::sync_account` job per
//! registrar account with domains to read (one at a time per account: an ordering key). A job
//! reads one minute's worth of the least recently synced domains, spacing its `info` calls
//! evenly over the minute (a few in flight at once), then:
//!
//! - stamps `synced_at` on the unchanged ones in bulk (skipping any that changed meanwhile);
//! - writes, per changed domain and in one transaction, the drift entries, the domain as the
//!   registry has it, `domain.drift.detected` (and `domain.transferred_away`), and the audit
//!   entry. What is done per field: expiry, statuses, state, nameservers and privacy follow
//!   the registry (`updated`); a registrar lock removed behind Panel1's back is put back
//!   (`reapplied`, a `lock` operation); a domain now in another account is
//!   `marked_transferred_away`, one the registry no longer has is `marked_released`. Paid work
//!   still waiting on a domain that left the account or entered redemption ends (invoice
//!   voided, or refunded when paid).
//!
//! A page's changes are written in one transaction (one commit per page, not per domain). A
//! domain with an operation in progress is not written (its registry state is moving; the
//! operation reads the registrar itself), and one the registrar could not answer for is
//! counted as a failure (the run's `last_error` names it): both are stamped due again 30
//! minutes later, and each domain is read at most once per run, so a pile of failing domains
//! never holds up the rest of the account.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use panel1_core::domain_lifecycle::{DomainState, derive_state};
use panel1_core::domain_name::DomainName;
use panel1_core::{DomainId, RegistrarAccountId, TenantId};
use panel1_jobs::{EnqueueOptions, Job, JobContext, JobError};
use panel1_registrar::{DomainInfo, FailureKind, Registrar};
use panel1_store::domain_automation::{self as auto, Drift, NewDrift, SyncCounts, SyncState};
use panel1_store::domains::{self as repo, Domain};
use panel1_store::events::{self, NewEvent};
use panel1_store::registrars;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use utoipa::ToSchema;

use super::accounts;
use crate::audit::{self, Change};
use crate::{Admin, App, AppError, AppResult, Caller, Staff};

/// Registrar calls in flight at once per account.
const IN_FLIGHT: usize = 8;

/// A domain the registrar could not answer for, or with an operation in progress, is read
/// again this long after (not a whole sync interval later).
const RETRY_FAILED_AFTER: chrono::Duration = chrono::Duration::minutes(30);

/// What the registrar answered about one domain.
#[expect(
    clippy::large_enum_variant,
    reason = "one answer per domain in flight (at most 8); boxing would buy nothing"
)]
#[derive(Debug, Clone)]
pub enum Answer {
    Info(DomainInfo),
    /// The registry no longer has the domain.
    NotFound,
    Failed(String),
}

/// What the sync does about one domain.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The domain as it should be stored.
    pub domain: Domain,
    pub drift: Vec<NewDrift>,
    /// Put the registrar lock back (a `lock` operation).
    pub reapply_lock: bool,
}

impl Plan {
    /// Whether anything needs writing besides `synced_at`.
    pub fn changes(&self, before: &Domain) -> bool {
        !self.drift.is_empty() || self.reapply_lock || self.domain != *before
    }
}

/// Statuses that come and go without meaning anything for Panel1 (the add, renew and
/// transfer grace periods; `ok`; the lock, which is compared on its own).
fn significant(list: &[String]) -> Vec<String> {
    let mut v: Vec<String> = list
        .iter()
        .filter(|s| {
            !matches!(
                s.as_str(),
                "ok" | "clientTransferProhibited" | "addPeriod" | "renewPeriod" | "transferPeriod"
            )
        })
        .cloned()
        .collect();
    v.sort();
    v.dedup();
    v
}

fn ns_set(list: &[String]) -> Vec<String> {
    let mut v: Vec<String> = list
        .iter()
        .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// What to do about a domain given the registrar's answer at `now` (pure: no I/O).
pub fn reconcile(d: &Domain, answer: &Answer, now: DateTime<Utc>) -> Option<Plan> {
    let mut n = d.clone();
    let mut drift = Vec::new();
    let info = match answer {
        Answer::Failed(_) => return None,
        Answer::NotFound => {
            if d.state.is_final() {
                return None;
            }
            n.state = DomainState::Cancelled;
            drift.push(NewDrift {
                field: "existence",
                panel1_value: serde_json::json!({ "state": d.state, "expires_at": d.expires_at }),
                registrar_value: serde_json::json!("not registered"),
                action: "marked_released",
            });
            return Some(Plan {
                domain: n,
                drift,
                reapply_lock: false,
            });
        }
        Answer::Info(i) => i,
    };
    let epp: Vec<String> = info
        .epp_statuses
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    let rgp: Vec<String> = info
        .rgp_statuses
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    if !info.in_account {
        n.state = derive_state(d.state, &info.report(), now);
        n.epp_statuses = epp;
        n.rgp_statuses = rgp;
        if n.state == d.state {
            return None;
        }
        drift.push(NewDrift {
            field: "sponsorship",
            panel1_value: serde_json::json!({ "registrar_account_id": d.registrar_account_id }),
            registrar_value: serde_json::json!("another registrar or account"),
            action: if n.state == DomainState::TransferredAway {
                "marked_transferred_away"
            } else {
                "marked_released"
            },
        });
        return Some(Plan {
            domain: n,
            drift,
            reapply_lock: false,
        });
    }
    if info.expires_at.is_some() && info.expires_at != d.expires_at {
        drift.push(NewDrift {
            field: "expires_at",
            panel1_value: serde_json::json!(d.expires_at),
            registrar_value: serde_json::json!(info.expires_at),
            action: "updated",
        });
        n.expires_at = info.expires_at;
    }
    if significant(&epp) != significant(&d.epp_statuses)
        || significant(&rgp) != significant(&d.rgp_statuses)
    {
        drift.push(NewDrift {
            field: "statuses",
            panel1_value: serde_json::json!({ "epp": d.epp_statuses, "rgp": d.rgp_statuses }),
            registrar_value: serde_json::json!({ "epp": epp, "rgp": rgp }),
            action: "updated",
        });
    }
    n.epp_statuses = epp;
    n.rgp_statuses = rgp;
    let state = derive_state(d.state, &info.report(), now);
    if state != d.state {
        drift.push(NewDrift {
            field: "state",
            panel1_value: serde_json::json!(d.state),
            registrar_value: serde_json::json!(state),
            action: "updated",
        });
        n.state = state;
    }
    let ns: Vec<String> = info
        .nameservers
        .iter()
        .map(|x| x.as_ascii().to_owned())
        .collect();
    if ns_set(&ns) != ns_set(&d.nameservers) {
        drift.push(NewDrift {
            field: "nameservers",
            panel1_value: serde_json::json!(d.nameservers),
            registrar_value: serde_json::json!(ns),
            action: "updated",
        });
        n.nameservers = ns;
    }
    let mut reapply_lock = false;
    if info.locked != d.locked {
        let changeable = matches!(
            n.state,
            DomainState::Active | DomainState::Expired | DomainState::AutoRenewGrace
        );
        if d.locked && changeable {
            // Unlocked behind Panel1's back: a transfer-away risk. Lock it again.
            reapply_lock = true;
            drift.push(NewDrift {
                field: "locked",
                panel1_value: serde_json::json!(true),
                registrar_value: serde_json::json!(false),
                action: "reapplied",
            });
        } else {
            drift.push(NewDrift {
                field: "locked",
                panel1_value: serde_json::json!(d.locked),
                registrar_value: serde_json::json!(info.locked),
                action: "updated",
            });
            n.locked = info.locked;
        }
    }
    if let Some(p) = info.privacy
        && p != d.privacy
    {
        drift.push(NewDrift {
            field: "privacy",
            panel1_value: serde_json::json!(d.privacy),
            registrar_value: serde_json::json!(p),
            action: "updated",
        });
        n.privacy = p;
    }
    if n.registry_id.is_none() && info.registry_id.is_some() {
        n.registry_id = info.registry_id.clone();
    }
    if n.registered_at.is_none() && info.created_at.is_some() {
        n.registered_at = info.created_at;
    }
    Some(Plan {
        domain: n,
        drift,
        reapply_lock,
    })
}

/// Asks the registrar about one domain, bounded by `timeout`.
async fn ask(registrar: Arc<dyn Registrar>, name: String, timeout: Duration) -> Answer {
    let Ok(name) = DomainName::parse(&name) else {
        return Answer::Failed(format!("`{name}` is not a valid name"));
    };
    match tokio::time::timeout(timeout, registrar.info(&name)).await {
        Err(_) => Answer::Failed(format!("no answer within {} s", timeout.as_secs())),
        Ok(reply) => match reply.result {
            Ok(info) => Answer::Info(info),
            Err(e) if e.failure_kind() == Some(FailureKind::NotFound) => Answer::NotFound,
            Err(e) => Answer::Failed(e.to_string()),
        },
    }
}

/// Writes what the sync found about a page of domains of one tenant, in one transaction (one
/// commit per page, not per domain). Per domain: the drift recorded, or `None` when it changed
/// since it was read or has an operation in progress (nothing is written for it then).
async fn apply_all(
    app: &App,
    tenant: &TenantId,
    list: Vec<(Domain, Plan)>,
    now: DateTime<Utc>,
) -> AppResult<Vec<(Domain, Option<Vec<Drift>>)>> {
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<DomainId> = list.iter().map(|(d, _)| d.id.clone()).collect();
    let mut tx = app.db.begin().await?;
    // Locked first, so no operation can start on them between this check and the writes.
    repo::lock_many(tx.conn(), tenant, &ids).await?;
    let busy = auto::with_open_operations(tx.conn(), tenant, &ids).await?;
    let mut out = Vec::with_capacity(list.len());
    for (read, plan) in list {
        let recorded = if busy.contains(&read.id) {
            None
        } else {
            apply_in(&mut tx, &read, plan, now).await?
        };
        out.push((read, recorded));
    }
    tx.commit().await?;
    Ok(out)
}

/// Writes what the sync found about one domain. `None` when the domain changed since it was
/// read.
async fn apply_in(
    tx: &mut panel1_store::Tx,
    read: &Domain,
    plan: Plan,
    now: DateTime<Utc>,
) -> AppResult<Option<Vec<Drift>>> {
    let mut n = plan.domain;
    n.synced_at = Some(now);
    let Some(n) = repo::update_if_unchanged(tx.conn(), &n, read.updated_at).await? else {
        return Ok(None);
    };
    let recorded = auto::insert_drift(
        tx.conn(),
        &read.tenant_id,
        &read.id,
        &read.name,
        &read.registrar_account_id,
        &plan.drift,
    )
    .await?;
    if !recorded.is_empty() {
        events::append(
            tx,
            NewEvent {
                tenant_id: &read.tenant_id,
                kind: "domain.drift.detected",
                object_type: "domain",
                object_id: read.id.as_str(),
                payload: serde_json::json!({ "domain": n, "drift": recorded }),
            },
        )
        .await?;
        if n.state == DomainState::TransferredAway && read.state != DomainState::TransferredAway {
            events::append(
                tx,
                NewEvent {
                    tenant_id: &read.tenant_id,
                    kind: "domain.transferred_away",
                    object_type: "domain",
                    object_id: read.id.as_str(),
                    payload: serde_json::json!({ "domain": n }),
                },
            )
            .await?;
        }
        let fields: Vec<&str> = recorded.iter().map(|x| x.field.as_str()).collect();
        audit::record_as(
            tx,
            &read.tenant_id,
            &panel1_store::audit::Actor::system("sync"),
            None,
            Change {
                action: "domain.sync",
                object_type: "domain",
                object_id: read.id.as_str(),
                summary: format!(
                    "the registrar differs from Panel1 about {} ({})",
                    read.name_unicode,
                    fields.join(", ")
                ),
                before: serde_json::to_value(read).ok(),
                after: serde_json::to_value(&n).ok(),
            },
        )
        .await?;
    }
    if plan.reapply_lock {
        super::service::queue_system_update(tx, &n, "lock", serde_json::json!({ "locked": true }))
            .await?;
    }
    match n.state {
        DomainState::Redemption | DomainState::PendingDelete if read.state != n.state => {
            super::billing::abandon_waiting(
                tx,
                &n,
                "superseded",
                "the domain entered redemption: it can only be restored now",
            )
            .await?;
            // A renewal of the lost term that was paid but failed will never happen now: its
            // payment goes back to the client's credit (once per invoice).
            if let Some(term) = read.expires_at {
                let lost = panel1_store::domain_operations::for_term(
                    tx.conn(),
                    &read.tenant_id,
                    &read.id,
                    "renew",
                    term,
                )
                .await?;
                for op in lost {
                    if op.status == panel1_store::domain_operations::OperationStatus::Failed
                        && let Some(inv) = &op.invoice_id
                    {
                        super::billing::settle_unused_invoice(
                            tx,
                            &read.tenant_id,
                            inv,
                            &format!(
                                "{} entered redemption before it could be renewed",
                                read.name_unicode
                            ),
                        )
                        .await?;
                    }
                }
            }
        }
        DomainState::TransferredAway | DomainState::Cancelled if read.state != n.state => {
            super::billing::abandon_waiting(
                tx,
                &n,
                "domain_gone",
                "the domain is no longer in this registrar account",
            )
            .await?;
        }
        _ => {}
    }
    Ok(Some(recorded))
}

/// The rate an account is synced at (calls per minute).
async fn rate_of(app: &App, tenant: &TenantId, account: &RegistrarAccountId) -> AppResult<i64> {
    let mut r = app.db.read().await?;
    let state = auto::sync_state(r.conn(), tenant, account).await?;
    Ok(state
        .rate_per_minute
        .unwrap_or(i64::from(app.settings.registrar_sync_rate_per_minute))
        .max(1))
}

/// Reads up to `max` domains of a registrar account (default: one minute's worth at the
/// account's rate) from the registrar, at no more than `rate_per_minute` calls per minute
/// (default: the account's rate), and records what differs. Returns the counts.
pub async fn sync_account(
    app: &App,
    tenant: &TenantId,
    account_id: &RegistrarAccountId,
    max: Option<usize>,
    rate_per_minute: Option<i64>,
) -> AppResult<SyncCounts> {
    let account = {
        let mut r = app.db.read().await?;
        registrars::get_any(r.conn(), tenant, account_id)
            .await?
            .ok_or_else(|| AppError::not_found("registrar account", account_id))?
    };
    let registrar = accounts::registrar(app, &account)
        .await
        .map_err(|e| AppError::Unavailable(format!("registrar `{}`: {e}", account.name)))?;
    let rate = match rate_per_minute {
        Some(r) => r.max(1),
        None => rate_of(app, tenant, account_id).await?,
    };
    let limit = max.unwrap_or(usize::try_from(rate).unwrap_or(usize::MAX));
    let now = app.clock.now();
    let cutoff =
        now - chrono::Duration::hours(i64::from(app.settings.registrar_sync_interval_hours));
    // A stamp that makes a domain due again `RETRY_FAILED_AFTER` from now.
    let retry_stamp = (cutoff + RETRY_FAILED_AFTER).min(now);
    let mut counts = SyncCounts::default();
    let spacing = Duration::from_secs_f64(60.0 / rate as f64);
    let timeout = Duration::from_secs(app.settings.registrar_check_timeout_secs);
    let sem = Arc::new(Semaphore::new(IN_FLIGHT));
    let started = tokio::time::Instant::now();
    let mut issued: u32 = 0;
    let mut last_error = None;
    let mut remaining = limit;
    // Domains read in this run: a domain the registrar could not answer for, or that changed
    // while it was read, is not read twice in one run.
    let mut seen: HashSet<DomainId> = HashSet::new();
    while remaining > 0 {
        let page = {
            let mut r = app.db.read().await?;
            repo::to_sync(
                r.conn(),
                account_id,
                cutoff,
                i64::try_from(remaining.min(1_000)).unwrap_or(1_000),
            )
            .await?
        };
        let full_page = page.len() == remaining.min(1_000);
        let page: Vec<Domain> = page
            .into_iter()
            .filter(|d| seen.insert(d.id.clone()))
            .collect();
        if page.is_empty() {
            break;
        }
        let got = page.len();
        remaining = remaining.saturating_sub(got);
        let mut set: JoinSet<(Domain, Answer)> = JoinSet::new();
        let mut unchanged: Vec<(DomainId, DateTime<Utc>)> = Vec::new();
        let mut retry: Vec<(DomainId, DateTime<Utc>)> = Vec::new();
        let mut changed: Vec<(Domain, Plan)> = Vec::new();
        for d in page {
            tokio::time::sleep_until(started + spacing * issued).await;
            issued = issued.saturating_add(1);
            let permit = sem
                .clone()
                .acquire_owned()
                .await
                .map_err(AppError::internal)?;
            let reg = registrar.clone();
            set.spawn(async move {
                let _permit = permit;
                let answer = ask(reg, d.name.clone(), timeout).await;
                (d, answer)
            });
            while let Some(done) = set.try_join_next() {
                sort(
                    done,
                    now,
                    &mut counts,
                    &mut unchanged,
                    &mut retry,
                    &mut changed,
                    &mut last_error,
                );
            }
        }
        while let Some(done) = set.join_next().await {
            sort(
                done,
                now,
                &mut counts,
                &mut unchanged,
                &mut retry,
                &mut changed,
                &mut last_error,
            );
        }
        for (read, recorded) in apply_all(app, tenant, changed, now).await? {
            match recorded {
                Some(recorded) if !recorded.is_empty() => counts.drift += 1,
                Some(_) => {}
                // An operation is under way (it reads the registrar itself): read again soon
                // after. One that changed meanwhile keeps its old stamp (`mark_synced` skips it).
                None => retry.push((read.id.clone(), read.updated_at)),
            }
        }
        if !unchanged.is_empty() || !retry.is_empty() {
            let mut tx = app.db.begin().await?;
            repo::mark_synced(tx.conn(), &unchanged, now).await?;
            repo::mark_synced(tx.conn(), &retry, retry_stamp).await?;
            tx.commit().await?;
        }
        if !full_page {
            break;
        }
    }
    let mut tx = app.db.begin().await?;
    auto::record_sync_run(tx.conn(), tenant, account_id, counts, last_error.as_deref()).await?;
    tx.commit().await?;
    tracing::info!(account = %account.name, checked = counts.checked, drift = counts.drift, failures = counts.failures, "registrar sync round done");
    Ok(counts)
}

fn sort(
    done: Result<(Domain, Answer), tokio::task::JoinError>,
    now: DateTime<Utc>,
    counts: &mut SyncCounts,
    unchanged: &mut Vec<(DomainId, DateTime<Utc>)>,
    retry: &mut Vec<(DomainId, DateTime<Utc>)>,
    changed: &mut Vec<(Domain, Plan)>,
    last_error: &mut Option<String>,
) {
    let Ok((d, answer)) = done else {
        counts.failures += 1;
        return;
    };
    counts.checked += 1;
    if let Answer::Failed(e) = &answer {
        counts.failures += 1;
        tracing::warn!(domain = %d.name, error = %e, "the registrar could not say how the domain stands");
        *last_error = Some(format!("{}: {e}", d.name));
        // Stamped as due again in `RETRY_FAILED_AFTER`: the domains behind it are not held up
        // (a run that re-read its failures first would never reach them), and it is not left
        // for a whole sync interval either.
        retry.push((d.id.clone(), d.updated_at));
        return;
    }
    match reconcile(&d, &answer, now) {
        Some(plan) if plan.changes(&d) => changed.push((d, plan)),
        _ => unchanged.push((d.id.clone(), d.updated_at)),
    }
}

/// What `syncDomain` found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncResult {
    pub domain: Domain,
    /// The differences found and recorded now (empty: Panel1 and the registrar agree).
    pub drift: Vec<Drift>,
}

/// Reads one domain from its registrar now (within the request, bounded by
/// `registrar_check_timeout_secs`) and records what differs.
pub async fn sync_domain(app: &App, caller: &Caller, id: &DomainId) -> AppResult<SyncResult> {
    let (d, account) = {
        let mut r = app.db.read().await?;
        let d = repo::get(r.conn(), &caller.scope(), id)
            .await?
            .ok_or_else(|| AppError::not_found("domain", id))?;
        let account = registrars::get_any(r.conn(), caller.tenant(), &d.registrar_account_id)
            .await?
            .ok_or_else(|| {
                AppError::internal(anyhow::anyhow!("the domain's registrar account is missing"))
            })?;
        (d, account)
    };
    if matches!(
        d.state,
        DomainState::PendingRegistration | DomainState::PendingTransferIn
    ) {
        return Err(AppError::conflict(
            format!(
                "{} is {}: it is synced once that finishes",
                d.name_unicode, d.state
            ),
            None,
        ));
    }
    {
        let mut r = app.db.read().await?;
        if auto::has_open_operation(r.conn(), caller.tenant(), &d.id).await? {
            return Err(AppError::conflict(
                format!(
                    "an operation on {} is in progress; sync it once it ends",
                    d.name_unicode
                ),
                None,
            ));
        }
    }
    let registrar = accounts::registrar(app, &account)
        .await
        .map_err(|e| AppError::Unavailable(format!("registrar `{}`: {e}", account.name)))?;
    let timeout = Duration::from_secs(app.settings.registrar_check_timeout_secs);
    let answer = ask(registrar, d.name.clone(), timeout).await;
    if let Answer::Failed(e) = &answer {
        return Err(AppError::Unavailable(format!(
            "registrar `{}` could not say how {} stands: {e}",
            account.name, d.name_unicode
        )));
    }
    let now = app.clock.now();
    let drift = match reconcile(&d, &answer, now) {
        Some(plan) => apply_all(app, caller.tenant(), vec![(d.clone(), plan)], now)
            .await?
            .pop()
            .and_then(|(_, recorded)| recorded)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    if drift.is_empty() {
        let mut tx = app.db.begin().await?;
        repo::mark_synced(tx.conn(), &[(d.id.clone(), d.updated_at)], now).await?;
        tx.commit().await?;
    }
    let mut r = app.db.read().await?;
    let domain = repo::get(r.conn(), &caller.scope(), id)
        .await?
        .ok_or_else(|| AppError::not_found("domain", id))?;
    Ok(SyncResult { domain, drift })
}

/// Enqueues one account sync per registrar account with domains to read (the `domains.sync`
/// schedule, each minute).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SyncSweep {}

#[async_trait]
impl Job for SyncSweep {
    const KIND: &'static str = "domain::sync_sweep";
    type Context = App;

    async fn run(&self, app: &App, job: &JobContext) -> Result<(), JobError> {
        let now = app.clock.now();
        let cutoff =
            now - chrono::Duration::hours(i64::from(app.settings.registrar_sync_interval_hours));
        let accounts = {
            let mut r = app.db.read().await?;
            auto::accounts_due_for_sync(r.conn(), cutoff).await?
        };
        let tick = now.timestamp_millis() / 60_000;
        let mut tx = app.db.begin().await?;
        for (tenant, account) in &accounts {
            panel1_jobs::enqueue(
                &mut tx,
                &SyncAccount {
                    tenant_id: tenant.clone(),
                    account_id: account.clone(),
                    tick,
                },
                EnqueueOptions {
                    tenant_id: Some(tenant.clone()),
                    ..Default::default()
                },
            )
            .await?;
        }
        job.report(i64::try_from(accounts.len()).unwrap_or(i64::MAX), 0);
        job.complete_in(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// One minute of one registrar account's sync.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncAccount {
    pub tenant_id: TenantId,
    pub account_id: RegistrarAccountId,
    /// The minute it was planned for.
    pub tick: i64,
}

#[async_trait]
impl Job for SyncAccount {
    const KIND: &'static str = "domain::sync_account";
    const MAX_ATTEMPTS: i64 = 3;
    type Context = App;

    fn unique_key(&self) -> Option<String> {
        Some(format!("{}:{}", self.account_id, self.tick))
    }

    fn ordering_key(&self) -> Option<String> {
        Some(format!("sync:{}", self.account_id))
    }

    async fn run(&self, app: &App, job: &JobContext) -> Result<(), JobError> {
        let started = Instant::now();
        let counts = sync_account(app, &self.tenant_id, &self.account_id, None, None)
            .await
            .map_err(|e| match e {
                AppError::NotFound { .. } => JobError::permanent(e),
                other => JobError::retry(other.detail()),
            })?;
        job.report(counts.checked, counts.failures);
        let mut tx = app.db.begin().await?;
        job.complete_in(&mut tx).await?;
        tx.commit().await?;
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            "account sync job done"
        );
        Ok(())
    }
}

/// An account's sync settings and last run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncView {
    #[serde(flatten)]
    pub state: SyncState,
    /// The rate in use (the account's, else the installation's default).
    pub effective_rate_per_minute: i64,
    /// The domains the sync follows in this account.
    pub domains: i64,
    /// How long one full pass takes at the effective rate, in hours.
    pub full_pass_hours: f64,
}

/// The sync's rate limit for one account.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncSettingsInput {
    /// Registrar calls per minute (1–100,000); `null`: the installation's default.
    pub rate_per_minute: Option<i64>,
}

pub async fn get_sync(
    app: &App,
    staff: Staff<'_>,
    account: &RegistrarAccountId,
) -> AppResult<SyncView> {
    let tenant = staff.0.tenant();
    let mut r = app.db.read().await?;
    if registrars::get(r.conn(), tenant, account).await?.is_none() {
        return Err(AppError::not_found("registrar account", account));
    }
    let state = auto::sync_state(r.conn(), tenant, account).await?;
    let domains = auto::syncable_count(r.conn(), account).await?;
    let rate = state
        .rate_per_minute
        .unwrap_or(i64::from(app.settings.registrar_sync_rate_per_minute));
    Ok(SyncView {
        state,
        effective_rate_per_minute: rate,
        domains,
        full_pass_hours: domains as f64 / rate.max(1) as f64 / 60.0,
    })
}

pub async fn update_sync(
    app: &App,
    admin: Admin<'_>,
    account: &RegistrarAccountId,
    input: &SyncSettingsInput,
) -> AppResult<SyncView> {
    if let Some(r) = input.rate_per_minute
        && !(1..=100_000).contains(&r)
    {
        return Err(panel1_core::ValidationError::field(
            "rate_per_minute",
            "range",
            "must be 1 to 100,000 calls per minute, or null for the installation's default",
        )
        .into());
    }
    let tenant = admin.0.tenant();
    let mut tx = app.db.begin().await?;
    if registrars::get(tx.conn(), tenant, account).await?.is_none() {
        return Err(AppError::not_found("registrar account", account));
    }
    auto::set_sync_rate(tx.conn(), tenant, account, input.rate_per_minute).await?;
    audit::record(
        &mut tx,
        admin.0,
        Change {
            action: "registrar_account.sync",
            object_type: "registrar_account",
            object_id: account.as_str(),
            summary: match input.rate_per_minute {
                Some(r) => format!("the sync reads at most {r} domains a minute"),
                None => "the sync uses the installation's rate".into(),
            },
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    get_sync(app, Staff(admin.0), account).await
}

/// The fields a drift entry can be about.
pub const DRIFT_FIELDS: [&str; 8] = [
    "expires_at",
    "state",
    "statuses",
    "nameservers",
    "locked",
    "privacy",
    "sponsorship",
    "existence",
];

/// What `listDrift` filters on.
#[derive(Debug, Clone, Default)]
pub struct DriftQuery {
    pub domain_id: Option<DomainId>,
    pub field: Option<String>,
}

/// The drift the sync recorded, newest first: the tenant's (staff), or a client user's own
/// domains'.
pub async fn list_drift(
    app: &App,
    caller: &Caller,
    q: &DriftQuery,
    page: panel1_core::PageRequest,
) -> AppResult<panel1_core::Page<Drift>> {
    if let Some(f) = &q.field
        && !DRIFT_FIELDS.contains(&f.as_str())
    {
        return Err(panel1_core::ValidationError::field(
            "field",
            "one_of",
            format!("must be one of {}", DRIFT_FIELDS.join(", ")),
        )
        .into());
    }
    let mut r = app.db.read().await?;
    if let Some(id) = &q.domain_id
        && repo::get(r.conn(), &caller.scope(), id).await?.is_none()
    {
        return Err(AppError::not_found("domain", id));
    }
    let f = auto::DriftFilter {
        domain_id: q.domain_id.clone(),
        client_id: caller.scope().client_id.clone(),
        field: q.field.clone(),
    };
    let (items, total) = auto::list_drift(r.conn(), caller.tenant(), &f, page).await?;
    Ok(panel1_core::Page::new(items, page, total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use panel1_core::domain_lifecycle::{EppStatus, RgpStatus};
    use panel1_core::{ClientId, TenantId};
    use panel1_store::domains::ContactIds;

    fn domain() -> Domain {
        let now = Utc::now();
        Domain {
            id: DomainId::new(),
            tenant_id: TenantId::new(),
            client_id: ClientId::new(),
            name: "drift.test".into(),
            name_unicode: "drift.test".into(),
            tld: "test".into(),
            registrar_account_id: RegistrarAccountId::new(),
            state: DomainState::Active,
            epp_statuses: vec!["clientTransferProhibited".into()],
            rgp_statuses: vec!["addPeriod".into()],
            registry_id: Some("SBX-1".into()),
            registered_at: Some(now),
            expires_at: Some(now + chrono::Duration::days(200)),
            nameservers: vec!["ns1.example.net".into(), "ns2.example.net".into()],
            locked: true,
            privacy: false,
            auto_renew: true,
            contacts: ContactIds::default(),
            suspension_reason: None,
            synced_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn info(d: &Domain) -> DomainInfo {
        DomainInfo {
            name: DomainName::parse(&d.name).unwrap(),
            in_account: true,
            created_at: d.registered_at,
            expires_at: d.expires_at,
            nameservers: d
                .nameservers
                .iter()
                .map(|n| DomainName::parse(n).unwrap())
                .collect(),
            locked: d.locked,
            privacy: Some(d.privacy),
            auto_renew: Some(false),
            contacts: None,
            epp_statuses: vec![EppStatus::ClientTransferProhibited],
            rgp_statuses: vec![],
            registry_id: d.registry_id.clone(),
        }
    }

    #[test]
    fn agreement_is_not_drift_and_grace_periods_are_not_noise() {
        let d = domain();
        let plan = reconcile(&d, &Answer::Info(info(&d)), Utc::now()).unwrap();
        assert!(plan.drift.is_empty(), "{:?}", plan.drift);
        assert!(!plan.reapply_lock);
        assert_eq!(
            plan.domain.rgp_statuses,
            Vec::<String>::new(),
            "refreshed quietly"
        );
    }

    #[test]
    fn each_difference_is_an_entry_with_what_was_done() {
        let d = domain();
        let mut i = info(&d);
        i.expires_at = Some(d.expires_at.unwrap() + chrono::Duration::days(365));
        i.locked = false;
        i.epp_statuses = vec![EppStatus::Ok];
        i.nameservers = vec![DomainName::parse("ns.elsewhere.example").unwrap()];
        let plan = reconcile(&d, &Answer::Info(i.clone()), Utc::now()).unwrap();
        let by = |f: &str| plan.drift.iter().find(|x| x.field == f).cloned();
        assert_eq!(by("expires_at").unwrap().action, "updated");
        assert_eq!(plan.domain.expires_at, i.expires_at);
        let lock = by("locked").unwrap();
        assert_eq!(lock.action, "reapplied");
        assert_eq!(lock.panel1_value, serde_json::json!(true));
        assert!(
            plan.reapply_lock && plan.domain.locked,
            "Panel1 keeps wanting the lock"
        );
        let ns = by("nameservers").unwrap();
        assert_eq!(
            ns.registrar_value,
            serde_json::json!(["ns.elsewhere.example"])
        );
        assert_eq!(plan.domain.nameservers, vec!["ns.elsewhere.example"]);
        assert!(by("statuses").is_none(), "the lock is not counted twice");
    }

    #[test]
    fn another_account_means_transferred_away_and_nothing_else() {
        let d = domain();
        let mut i = info(&d);
        i.in_account = false;
        i.nameservers.clear();
        let plan = reconcile(&d, &Answer::Info(i), Utc::now()).unwrap();
        assert_eq!(plan.domain.state, DomainState::TransferredAway);
        assert_eq!(plan.drift.len(), 1);
        assert_eq!(plan.drift[0].field, "sponsorship");
        assert_eq!(plan.drift[0].action, "marked_transferred_away");
        let gone = reconcile(&d, &Answer::NotFound, Utc::now()).unwrap();
        assert_eq!(gone.domain.state, DomainState::Cancelled);
        assert_eq!(gone.drift[0].action, "marked_released");
    }

    #[test]
    fn the_registry_lifecycle_moves_the_state() {
        let mut d = domain();
        d.expires_at = Some(Utc::now() - chrono::Duration::days(50));
        let mut i = info(&d);
        i.rgp_statuses = vec![RgpStatus::RedemptionPeriod];
        i.epp_statuses = vec![
            EppStatus::PendingDelete,
            EppStatus::ClientTransferProhibited,
        ];
        let plan = reconcile(&d, &Answer::Info(i), Utc::now()).unwrap();
        assert_eq!(plan.domain.state, DomainState::Redemption);
        assert!(plan.drift.iter().any(|x| x.field == "state"));
        assert!(plan.drift.iter().any(|x| x.field == "statuses"));
        assert!(reconcile(&d, &Answer::Failed("x".into()), Utc::now()).is_none());
    }
}
