//! The jobs that carry out domain operations: every registrar call that changes something runs
//! here, never in an HTTP request.
//!
//! One job per operation (`domain::register`, `domain::renew`, `domain::transfer`,
//! `domain::update`), whose unique key is the operation's idempotency key (per tenant) and
//! whose ordering key is the domain, so a domain's operations run one at a time, in order.
//!
//! Every call goes through [`Run::call`]: "about to call" (the operation marked `uncertain`,
//! a `started` call row with the expiry seen, the operation's call fence taken) is committed
//! before the request leaves; the answer is written together with the operation's result, the
//! domain's new state, the events, the audit entry and the job's completion
//! ([`panel1_jobs::JobContext::complete_in`]). When an operation is `uncertain` (a call timed
//! out, lost its answer, or its worker died), the next run asks the registrar first:
//!
//! - register: is the name in our account? Then it was registered; if it does not exist, the
//!   registration is sent again with the same key; if someone else holds it, it failed.
//! - renew: the registry's expiry against the expiry recorded before the call: one term later
//!   means renewed; unchanged means not renewed (renew again); anything else stops the
//!   operation for a person to look at. A domain is never renewed twice for one request.
//! - transfer: the transfer status: pending or completed means it was requested.
//! - updates (nameservers, contacts, lock, privacy, hold) are sent again: setting the same
//!   value twice is harmless.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Months, Utc};
use panel1_core::contact::{Contact, DomainContacts};
use panel1_core::domain_lifecycle::DomainEvent;
use panel1_core::domain_name::DomainName;
use panel1_core::{DomainId, DomainOperationId, JobId, Scope, TenantId};
use panel1_jobs::{EnqueueOptions, Job, JobContext, JobError};
use panel1_registrar::{
    DomainInfo, FailureKind, IdempotencyKey, RegisterRequest, Registrar, RegistrarError,
    RenewRequest, Reply, TransferInfo, TransferRequest, TransferState,
};
use panel1_store::Tx;
use panel1_store::contacts;
use panel1_store::domain_operations::{
    self as ops, CallResult, CallTicket, DomainOperation, NewCall, OperationStatus,
};
use panel1_store::domains::{self as repo, ContactIds, Domain};
use panel1_store::events::{self, NewEvent};
use panel1_store::registrars::{self, RegistrarAccount};
use serde::{Deserialize, Serialize};

use super::accounts;
use crate::audit::{self, Change};
use crate::{App, AppError, AppResult};

/// `failure_kind` of an operation whose job ran out of attempts without a definite answer:
/// retrying its job continues it (asking the registrar first).
pub const GAVE_UP: &str = "gave_up";

/// `failure_kind` of a renewal stopped because the registry's expiry matched neither the
/// expiry before the call nor one term later.
pub const NEEDS_REVIEW: &str = "needs_review";

/// The sealing context of an operation's secret (a transfer auth code).
pub fn secret_context(op: &DomainOperationId) -> String {
    format!("domain-operation-secret:{op}")
}

/// What every domain job carries: which operation to carry out.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperationRef {
    pub tenant_id: TenantId,
    pub domain_id: DomainId,
    pub operation_id: DomainOperationId,
    /// The operation's idempotency key.
    pub key: String,
    /// A later run of an operation that ended before (revived by the renewal sweep): its
    /// earlier job keeps the plain unique key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round: Option<String>,
}

macro_rules! domain_job {
    ($(#[$m:meta])* $name:ident, $kind:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, Serialize, Deserialize)]
        pub struct $name(pub OperationRef);

        #[async_trait]
        impl Job for $name {
            const KIND: &'static str = $kind;
            const MAX_ATTEMPTS: i64 = 25;
            type Context = App;

            fn unique_key(&self) -> Option<String> {
                Some(match &self.0.round {
                    Some(r) => format!("{}:{}#{r}", self.0.tenant_id, self.0.key),
                    None => format!("{}:{}", self.0.tenant_id, self.0.key),
                })
            }

            fn ordering_key(&self) -> Option<String> {
                Some(format!("domain:{}", self.0.domain_id))
            }

            async fn run(&self, app: &App, job: &JobContext) -> Result<(), JobError> {
                execute(app, &self.0, job).await
            }
        }
    };
}

domain_job!(
    /// Registers a name.
    RegisterDomain,
    "domain::register"
);
domain_job!(
    /// Renews a domain by one term.
    RenewDomain,
    "domain::renew"
);
domain_job!(
    /// Requests a transfer in, then polls it until it ends.
    TransferDomain,
    "domain::transfer"
);
domain_job!(
    /// Changes nameservers, contacts, lock, privacy or the registry hold.
    UpdateDomain,
    "domain::update"
);
domain_job!(
    /// Restores a domain from redemption (RFC 3915).
    RestoreDomain,
    "domain::restore"
);

/// Enqueues the job of `op` in `tx`.
pub(crate) async fn enqueue(tx: &mut Tx, op: &DomainOperation) -> AppResult<JobId> {
    enqueue_round(tx, op, None).await
}

/// Enqueues the job of `op` in `tx`; `round` names a later run of an operation whose earlier
/// job ended.
pub(crate) async fn enqueue_round(
    tx: &mut Tx,
    op: &DomainOperation,
    round: Option<String>,
) -> AppResult<JobId> {
    let r = OperationRef {
        tenant_id: op.tenant_id.clone(),
        domain_id: op.domain_id.clone(),
        operation_id: op.id.clone(),
        key: op.idempotency_key.clone(),
        round,
    };
    let opts = EnqueueOptions {
        tenant_id: Some(op.tenant_id.clone()),
        ..Default::default()
    };
    let e = match op.operation.as_str() {
        "register" => panel1_jobs::enqueue(tx, &RegisterDomain(r), opts).await?,
        "renew" => panel1_jobs::enqueue(tx, &RenewDomain(r), opts).await?,
        "transfer" => panel1_jobs::enqueue(tx, &TransferDomain(r), opts).await?,
        "restore" => panel1_jobs::enqueue(tx, &RestoreDomain(r), opts).await?,
        "nameservers" | "contacts" | "lock" | "privacy" | "hold" => {
            panel1_jobs::enqueue(tx, &UpdateDomain(r), opts).await?
        }
        other => {
            return Err(AppError::internal(anyhow::anyhow!(
                "no job carries out domain operation `{other}`"
            )));
        }
    };
    Ok(e.id().clone())
}

/// A registrar call whose answer is not written yet.
struct CallRecord {
    ticket: CallTicket,
    outcome: &'static str,
    error: Option<String>,
    transcript: serde_json::Value,
    duration_ms: i64,
}

/// The end of an operation.
struct Conclusion {
    succeeded: bool,
    result: Option<serde_json::Value>,
    error: Option<String>,
    failure_kind: Option<String>,
    apply: Box<dyn FnOnce(&mut Domain) + Send>,
    events: Vec<&'static str>,
    summary: String,
    /// An operation to queue once this one ends (contacts after a transfer).
    follow_up: Option<(&'static str, serde_json::Value)>,
}

impl Conclusion {
    fn success(summary: String, apply: impl FnOnce(&mut Domain) + Send + 'static) -> Self {
        Self {
            succeeded: true,
            result: None,
            error: None,
            failure_kind: None,
            apply: Box::new(apply),
            events: Vec::new(),
            summary,
            follow_up: None,
        }
    }

    fn failure(
        error: String,
        kind: String,
        apply: impl FnOnce(&mut Domain) + Send + 'static,
    ) -> Self {
        Self {
            succeeded: false,
            result: None,
            error: Some(error),
            failure_kind: Some(kind),
            apply: Box::new(apply),
            events: vec!["domain.operation.failed"],
            summary: String::new(),
            follow_up: None,
        }
    }
}

/// One run of one operation's job.
struct Run<'a> {
    app: &'a App,
    job: &'a JobContext,
    op: DomainOperation,
    domain: Domain,
    name: DomainName,
    account: RegistrarAccount,
    registrar: Arc<dyn Registrar>,
    key: IdempotencyKey,
    unwritten: Vec<CallRecord>,
}

type BoxReply<'r, T> = Pin<Box<dyn Future<Output = Reply<T>> + Send + 'r>>;

/// Carries out one operation (the body of every domain job).
pub(crate) async fn execute(app: &App, r: &OperationRef, job: &JobContext) -> Result<(), JobError> {
    let (op, domain, account) = {
        let mut c = app.db.read().await?;
        let op = ops::get(c.conn(), &r.tenant_id, &r.operation_id).await?;
        let domain = repo::get(c.conn(), &Scope::tenant(r.tenant_id.clone()), &r.domain_id).await?;
        let (Some(op), Some(domain)) = (op, domain) else {
            return Err(JobError::permanent(format!(
                "domain operation {} or its domain no longer exists",
                r.operation_id
            )));
        };
        let account = registrars::get_any(c.conn(), &r.tenant_id, &op.registrar_account_id)
            .await?
            .ok_or_else(|| {
                JobError::permanent(format!(
                    "registrar account {} no longer exists",
                    op.registrar_account_id
                ))
            })?;
        (op, domain, account)
    };
    let gave_up =
        op.status == OperationStatus::Failed && op.failure_kind.as_deref() == Some(GAVE_UP);
    if op.status.is_final() && !gave_up {
        // Done by an earlier run whose completion was not recorded: nothing to do again.
        let mut tx = app.db.begin().await?;
        job.complete_in(&mut tx).await?;
        tx.commit().await?;
        return Ok(());
    }
    let name = DomainName::parse(&domain.name).map_err(JobError::permanent)?;
    let key = IdempotencyKey::new(op.idempotency_key.clone()).map_err(JobError::permanent)?;
    let registrar = match accounts::registrar(app, &account).await {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(account = %account.name, error = %e, "the registrar account cannot be used");
            None
        }
    };
    let Some(registrar) = registrar else {
        let mut run = Run {
            app,
            job,
            op,
            domain,
            name,
            registrar: Arc::new(Unusable),
            account,
            key,
            unwritten: Vec::new(),
        };
        let e = RegistrarError::config(
            &run.account.name,
            "the account's settings cannot be used; fix or replace the registrar account",
        );
        return run.refuse(&e).await;
    };
    let mut run = Run {
        app,
        job,
        op,
        domain,
        name,
        account,
        registrar,
        key,
        unwritten: Vec::new(),
    };
    if gave_up {
        run.op.status = OperationStatus::Running;
        run.op.failure_kind = None;
        run.op.finished_at = None;
    }
    let span = tracing::info_span!("domain_operation", operation = %run.op.operation, id = %run.op.id, domain = %run.name);
    let result = tracing::Instrument::instrument(
        async {
            match run.op.operation.as_str() {
                "register" => run.register().await,
                "renew" => run.renew().await,
                "transfer" => run.transfer().await,
                "restore" => run.restore().await,
                _ => run.update().await,
            }
        },
        span,
    )
    .await;
    match result {
        Err(e @ (JobError::Retry(_) | JobError::RetryAt { .. })) if job.is_last_attempt() => {
            run.give_up(&e.to_string()).await?;
            Err(JobError::Permanent(format!(
                "gave up after {} attempts: {e}; retrying this job continues the operation (it asks the registrar first)",
                job.attempt
            )))
        }
        other => other,
    }
}

/// Stands in for a registrar whose settings cannot be used.
struct Unusable;

#[async_trait]
impl Registrar for Unusable {
    fn kind(&self) -> &'static str {
        "unusable"
    }
    async fn check(&self, _: &[DomainName]) -> Reply<Vec<panel1_registrar::Availability>> {
        Reply::err(RegistrarError::config("unusable", "not configured"))
    }
    async fn register(
        &self,
        _: &RegisterRequest,
        _: &IdempotencyKey,
    ) -> Reply<panel1_registrar::Registered> {
        Reply::err(RegistrarError::config("unusable", "not configured"))
    }
    async fn renew(
        &self,
        _: &RenewRequest,
        _: &IdempotencyKey,
    ) -> Reply<panel1_registrar::Renewed> {
        Reply::err(RegistrarError::config("unusable", "not configured"))
    }
    async fn info(&self, _: &DomainName) -> Reply<DomainInfo> {
        Reply::err(RegistrarError::config("unusable", "not configured"))
    }
    async fn health(&self) -> Reply<panel1_registrar::Health> {
        Reply::err(RegistrarError::config("unusable", "not configured"))
    }
}

fn add_years(t: DateTime<Utc>, years: i64) -> Option<DateTime<Utc>> {
    t.checked_add_months(Months::new(12 * u32::try_from(years).ok()?))
}

fn statuses_of(info: &DomainInfo) -> (Vec<String>, Vec<String>) {
    (
        info.epp_statuses
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
        info.rgp_statuses
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
    )
}

/// Copies what the registry reports into the domain (not the lifecycle state: the caller
/// decides that).
fn apply_info(d: &mut Domain, info: &DomainInfo) {
    let (epp, rgp) = statuses_of(info);
    d.epp_statuses = epp;
    d.rgp_statuses = rgp;
    if let Some(e) = info.expires_at {
        d.expires_at = Some(e);
    }
    if d.registered_at.is_none() {
        d.registered_at = info.created_at;
    }
    if !info.nameservers.is_empty() {
        d.nameservers = info
            .nameservers
            .iter()
            .map(|n| n.as_ascii().to_owned())
            .collect();
    }
    d.locked = info.locked;
    if let Some(p) = info.privacy {
        d.privacy = p;
    }
    if info.registry_id.is_some() {
        d.registry_id = info.registry_id.clone();
    }
    d.synced_at = Some(Utc::now());
}

fn transition(d: &mut Domain, event: DomainEvent) {
    match d.state.apply(event) {
        Ok(s) => d.state = s,
        Err(e) => {
            tracing::warn!(domain = %d.name, error = %e, "the registry's answer does not fit the domain's state; keeping it")
        }
    }
}

/// What asking the registrar before acting again found.
enum Asked {
    /// The domain is in the account: the registry's view.
    Info(Box<DomainInfo>),
    /// The run was concluded (refused, or handed back to be retried).
    Concluded,
}

impl Run<'_> {
    fn tenant(&self) -> &TenantId {
        &self.op.tenant_id
    }

    /// Makes one registrar call: commits "about to call" first, bounds the call by the
    /// registrar timeout, and keeps the answer to be written with the next commit.
    async fn call<'r, T: Send>(
        &mut self,
        command: &'static str,
        mutating: bool,
        fut: BoxReply<'r, T>,
    ) -> Result<Result<T, RegistrarError>, JobError> {
        let timeout = Duration::from_secs(self.app.settings.registrar_timeout_secs);
        let hold = timeout + timeout.min(Duration::from_secs(30));
        let mut tx = self.app.db.begin().await?;
        // The answers of earlier calls of this run go first: writing them releases the fence.
        self.flush(&mut tx).await?;
        let ticket = ops::begin_call(
            tx.conn(),
            self.tenant(),
            &self.op.id,
            &NewCall {
                command,
                mutating,
                expiry_before: self.op.expiry_before,
                job_id: Some(&self.job.id),
                hold_until: Utc::now() + chrono::Duration::from_std(hold).unwrap_or_default(),
            },
        )
        .await?;
        let Some(ticket) = ticket else {
            let until = ops::fence_until(tx.conn(), self.tenant(), &self.op.id).await?;
            tx.commit().await?;
            return Err(JobError::Wait {
                note: "another registrar call for this operation is still in flight".into(),
                at: until.unwrap_or_else(Utc::now) + chrono::Duration::milliseconds(50),
            });
        };
        tx.commit().await?;
        if mutating {
            self.op.uncertain = true;
        }
        self.op.attempts = ticket.attempt;
        let started = Instant::now();
        let (result, transcript) = match tokio::time::timeout(timeout, fut).await {
            Ok(reply) => (reply.result, reply.transcript),
            Err(_) => {
                let why = format!("no answer within {} s", timeout.as_secs());
                let e = if mutating {
                    RegistrarError::unknown(&self.account.name, command, why)
                } else {
                    RegistrarError::retryable(&self.account.name, command, why, None)
                };
                (Err(e), Default::default())
            }
        };
        let elapsed = started.elapsed();
        if mutating {
            self.op.uncertain = matches!(&result, Err(e) if e.is_unknown_outcome());
        }
        let outcome = match &result {
            Ok(_) => "succeeded",
            Err(e) => e.outcome(),
        };
        metrics::counter!("panel1_registrar_calls_total", "registrar" => self.registrar.kind(), "command" => command, "outcome" => outcome).increment(1);
        metrics::histogram!("panel1_registrar_call_duration_seconds", "registrar" => self.registrar.kind(), "command" => command).record(elapsed.as_secs_f64());
        match &result {
            Ok(_) => tracing::info!(
                command,
                ms = elapsed.as_millis() as u64,
                "registrar call succeeded"
            ),
            Err(e) => tracing::warn!(command, outcome, error = %e, "registrar call failed"),
        }
        self.unwritten.push(CallRecord {
            ticket,
            outcome,
            error: result.as_ref().err().map(ToString::to_string),
            transcript: serde_json::to_value(&transcript).unwrap_or_default(),
            duration_ms: i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX),
        });
        Ok(result)
    }

    /// Writes the calls made since the last commit, in `tx`.
    async fn flush(&mut self, tx: &mut Tx) -> Result<(), JobError> {
        for c in self.unwritten.drain(..) {
            ops::finish_call(
                tx.conn(),
                &self.op.tenant_id,
                &self.op.id,
                &c.ticket,
                &CallResult {
                    outcome: c.outcome,
                    error: c.error.as_deref(),
                    transcript: Some(&c.transcript),
                    duration_ms: c.duration_ms,
                },
            )
            .await?;
        }
        Ok(())
    }

    /// Commits the calls and the operation's progress (status, result, uncertainty) without
    /// ending it.
    async fn checkpoint(&mut self) -> Result<(), JobError> {
        let mut tx = self.app.db.begin().await?;
        self.flush(&mut tx).await?;
        if self.op.status == OperationStatus::Queued {
            self.op.status = OperationStatus::Running;
        }
        self.op = ops::save(tx.conn(), &self.op).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a failed call and asks for another attempt after the backoff (or the
    /// registrar's `Retry-After`).
    async fn retry(&mut self, e: &RegistrarError) -> Result<(), JobError> {
        self.op.error = Some(e.to_string());
        self.checkpoint().await?;
        let base = self.app.settings.registrar_retry_ms;
        let exp = u32::try_from(self.job.attempt.clamp(1, 20) - 1).unwrap_or(0);
        let ms = base.saturating_mul(1u64 << exp).min(3_600_000);
        let jitter: f64 = rand_unit() * 0.5 + 0.75;
        let mut wait = Duration::from_millis(ms).mul_f64(jitter);
        if let Some(after) = e.retry_after() {
            wait = wait.max(after);
        }
        Err(JobError::RetryAt {
            message: e.to_string(),
            at: Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default(),
        })
    }

    /// Ends the operation: the domain's change, the operation's result, events, audit and the
    /// job's completion, in one transaction.
    async fn conclude(&mut self, c: Conclusion) -> Result<(), JobError> {
        let mut tx = self.app.db.begin().await?;
        self.flush(&mut tx).await?;
        let scope = Scope::tenant(self.op.tenant_id.clone());
        let mut d = repo::get_for_update(tx.conn(), &scope, &self.domain.id)
            .await?
            .ok_or_else(|| JobError::permanent("the domain vanished"))?;
        (c.apply)(&mut d);
        let d = repo::update(tx.conn(), &d).await?;
        self.op.status = if c.succeeded {
            OperationStatus::Succeeded
        } else {
            OperationStatus::Failed
        };
        if c.result.is_some() {
            self.op.result = c.result;
        }
        self.op.error = c.error.clone();
        self.op.failure_kind = c.failure_kind.clone();
        self.op.uncertain = false;
        self.op.secret_sealed = None;
        self.op.finished_at = Some(Utc::now());
        self.op = ops::save(tx.conn(), &self.op).await?;
        for kind in &c.events {
            events::append(
                &mut tx,
                NewEvent {
                    tenant_id: &self.op.tenant_id,
                    kind,
                    object_type: "domain",
                    object_id: d.id.as_str(),
                    payload: serde_json::json!({
                        "domain": d,
                        "operation": {
                            "id": self.op.id,
                            "operation": self.op.operation,
                            "status": self.op.status,
                            "idempotency_key": self.op.idempotency_key,
                            "error": self.op.error,
                            "failure_kind": self.op.failure_kind,
                            "result": self.op.result,
                        },
                    }),
                },
            )
            .await?;
        }
        self.after_conclusion(&mut tx, &d, c.succeeded).await?;
        let summary = if c.succeeded {
            c.summary
        } else {
            format!(
                "{} of {} failed: {}",
                self.op.operation,
                d.name_unicode,
                c.error.unwrap_or_default()
            )
        };
        audit::record_as(
            &mut tx,
            &self.op.tenant_id,
            &super::service::system_actor(),
            self.op.request_id.as_deref(),
            Change {
                action: &format!(
                    "domain.{}.{}",
                    self.op.operation,
                    if c.succeeded { "succeeded" } else { "failed" }
                ),
                object_type: "domain",
                object_id: d.id.as_str(),
                summary,
                before: Some(serde_json::to_value(&self.domain).map_err(JobError::permanent)?),
                after: Some(serde_json::to_value(&d).map_err(JobError::permanent)?),
            },
        )
        .await
        .map_err(|e| JobError::retry(format!("audit: {e}")))?;
        if let Some((kind, params)) = c.follow_up {
            let mut next = DomainOperation {
                id: DomainOperationId::new(),
                operation: kind.to_owned(),
                term: String::new(),
                years: None,
                status: OperationStatus::Queued,
                params,
                result: None,
                outcome: None,
                error: None,
                failure_kind: None,
                attempts: 0,
                uncertain: false,
                expiry_before: d.expires_at,
                job_id: None,
                invoice_id: None,
                created_at: Utc::now(),
                updated_at: Utc::now(),
                finished_at: None,
                secret_sealed: None,
                ..self.op.clone()
            };
            next.term = next.id.to_string();
            next.idempotency_key =
                IdempotencyKey::derive(&self.name, kind, next.id.as_str()).to_string();
            next.job_id = Some(
                enqueue(&mut tx, &next)
                    .await
                    .map_err(|e| JobError::retry(e.to_string()))?,
            );
            ops::insert(tx.conn(), &next).await?;
        }
        self.job.complete_in(&mut tx).await?;
        tx.commit().await?;
        self.domain = d;
        Ok(())
    }

    /// The registrar definitely refused: the operation failed and nothing was done.
    async fn refuse(&mut self, e: &RegistrarError) -> Result<(), JobError> {
        let kind = e
            .failure_kind()
            .map(|k| k.as_str().to_owned())
            .unwrap_or_else(|| e.outcome().to_owned());
        let event = match self.op.operation.as_str() {
            "register" => Some(DomainEvent::RegistrationFailed),
            "transfer" => Some(DomainEvent::TransferFailed),
            _ => None,
        };
        let mut c = Conclusion::failure(e.to_string(), kind, move |d| {
            if let Some(ev) = event {
                transition(d, ev);
            }
        });
        if self.op.operation == "transfer" {
            c.events.push("domain.transfer.failed");
        }
        self.conclude(c).await
    }

    /// Out of attempts without a definite answer: the operation is marked failed (`gave_up`),
    /// the domain is left as it is, and the job becomes a dead letter.
    async fn give_up(&mut self, why: &str) -> Result<(), JobError> {
        let mut tx = self.app.db.begin().await?;
        self.flush(&mut tx).await?;
        self.op.status = OperationStatus::Failed;
        self.op.failure_kind = Some(GAVE_UP.into());
        self.op.error = Some(why.to_owned());
        self.op.finished_at = Some(Utc::now());
        self.op = ops::save(tx.conn(), &self.op).await?;
        events::append(
            &mut tx,
            NewEvent {
                tenant_id: &self.op.tenant_id,
                kind: "domain.operation.failed",
                object_type: "domain",
                object_id: self.domain.id.as_str(),
                payload: serde_json::json!({
                    "domain": self.domain,
                    "operation": { "id": self.op.id, "operation": self.op.operation, "error": why, "failure_kind": GAVE_UP },
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Asks the registrar about the domain, recording the call; errors are kept in the log
    /// and answered `None`.
    async fn info_if_possible(&mut self) -> Result<Option<DomainInfo>, JobError> {
        let r = self.registrar.clone();
        let name = self.name.clone();
        Ok(self
            .call("info", false, Box::pin(async move { r.info(&name).await }))
            .await?
            .ok())
    }

    /// After a call whose outcome is unknown, the registrar is asked before acting again. A
    /// domain no longer in the account, a "not found" or a failed question concludes the run
    /// (refused, or retried later); otherwise the caller decides from what the registry says.
    async fn info_before_acting(&mut self, command: &'static str) -> Result<Asked, JobError> {
        let r = self.registrar.clone();
        let name = self.name.clone();
        let concluded = match self
            .call("info", false, Box::pin(async move { r.info(&name).await }))
            .await?
        {
            Ok(info) if info.in_account => return Ok(Asked::Info(Box::new(info))),
            Ok(_) => {
                let e = RegistrarError::failed(
                    &self.account.name,
                    command,
                    FailureKind::NotFound,
                    "-",
                    format!("{} is not in this account", self.name),
                );
                self.not_found(&e).await
            }
            Err(e) if e.failure_kind() == Some(FailureKind::NotFound) => self.refuse(&e).await,
            Err(e) => self.retry(&e).await,
        };
        concluded.map(|()| Asked::Concluded)
    }

    /// After a "not found" for a domain Panel1 holds: if the registry says it belongs to
    /// someone else now, it was transferred away.
    async fn not_found(&mut self, e: &RegistrarError) -> Result<(), JobError> {
        match self.info_if_possible().await? {
            Some(info) if !info.in_account => {
                let mut c = Conclusion::failure(
                    format!("{}: the domain is no longer in this registrar account", e),
                    FailureKind::NotFound.as_str().to_owned(),
                    move |d| {
                        let (epp, rgp) = statuses_of(&info);
                        d.epp_statuses = epp;
                        d.rgp_statuses = rgp;
                        d.synced_at = Some(Utc::now());
                        transition(d, DomainEvent::TransferredAway);
                    },
                );
                c.events.push("domain.transferred_away");
                self.conclude(c).await
            }
            _ => self.refuse(e).await,
        }
    }

    // --- register -------------------------------------------------------------------------

    async fn register(&mut self) -> Result<(), JobError> {
        if self.op.uncertain {
            let r = self.registrar.clone();
            let name = self.name.clone();
            match self
                .call("info", false, Box::pin(async move { r.info(&name).await }))
                .await?
            {
                Ok(info) if info.in_account => return self.registered(None, Some(info)).await,
                Ok(_) => {
                    let e = RegistrarError::failed(
                        &self.account.name,
                        "register",
                        FailureKind::NotAvailable,
                        "-",
                        format!("{} is registered in another account", self.name),
                    );
                    return self.refuse(&e).await;
                }
                Err(e) if e.failure_kind() == Some(FailureKind::NotFound) => {}
                Err(e) => return self.retry(&e).await,
            }
        }
        let req = match self.register_request().await? {
            Ok(r) => r,
            Err(e) => return self.refuse(&e).await,
        };
        let key = self.key.clone();
        let r = self.registrar.clone();
        let answer = self
            .call(
                "register",
                true,
                Box::pin(async move { r.register(&req, &key).await }),
            )
            .await?;
        match answer {
            Ok(reg) => {
                let info = self.info_if_possible().await?;
                self.registered(Some(reg), info).await
            }
            Err(e) if e.failure_kind() == Some(FailureKind::NotAvailable) => {
                // Ours already (an earlier attempt went through after all)?
                let r = self.registrar.clone();
                let name = self.name.clone();
                match self
                    .call("info", false, Box::pin(async move { r.info(&name).await }))
                    .await?
                {
                    Ok(info) if info.in_account => self.registered(None, Some(info)).await,
                    Ok(_) => self.refuse(&e).await,
                    Err(i) if i.failure_kind() == Some(FailureKind::NotFound) => {
                        self.refuse(&e).await
                    }
                    Err(i) => self.retry(&i).await,
                }
            }
            Err(e) if e.is_definite() => self.refuse(&e).await,
            Err(e) => self.retry(&e).await,
        }
    }

    async fn contacts(
        &self,
        ids: &ContactIds,
    ) -> Result<Result<DomainContacts<Contact>, RegistrarError>, JobError> {
        let recs = {
            let mut c = self.app.db.read().await?;
            contacts::get_many(c.conn(), self.tenant(), &ids.ids()).await?
        };
        let find = |id: &Option<panel1_core::ContactId>| {
            id.as_ref()
                .and_then(|i| recs.iter().find(|c| &c.id == i))
                .map(|c| c.data.clone())
        };
        let (Some(registrant), Some(admin), Some(tech), Some(billing)) = (
            find(&ids.registrant),
            find(&ids.admin),
            find(&ids.tech),
            find(&ids.billing),
        ) else {
            return Ok(Err(self.invalid(
                "the domain's contacts are missing; set its contacts again",
            )));
        };
        Ok(DomainContacts {
            registrant,
            admin,
            tech,
            billing,
        }
        .parse()
        .map_err(|e| {
            self.invalid(&format!(
                "the domain's contacts are invalid: {}",
                e.summary()
            ))
        }))
    }

    fn invalid(&self, msg: &str) -> RegistrarError {
        RegistrarError::failed(
            &self.account.name,
            "prepare",
            FailureKind::InvalidInput,
            "-",
            msg,
        )
    }

    async fn register_request(&self) -> Result<Result<RegisterRequest, RegistrarError>, JobError> {
        let contacts = match self.contacts(&self.domain.contacts).await? {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        let p = &self.op.params;
        let nameservers = p["nameservers"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str())
                    .filter_map(|s| DomainName::parse(s).ok())
                    .collect()
            })
            .unwrap_or_default();
        let premium_price = p
            .get("premium_price")
            .and_then(|v| serde_json::from_value::<super::service::Money>(v.clone()).ok())
            .map(|m| panel1_registrar::Price::new(m.minor, m.currency));
        Ok(Ok(RegisterRequest {
            name: self.name.clone(),
            years: u8::try_from(self.op.years.unwrap_or(1)).unwrap_or(1),
            nameservers,
            contacts,
            privacy: p["privacy"].as_bool().unwrap_or(false),
            premium_price,
        }))
    }

    async fn registered(
        &mut self,
        reg: Option<panel1_registrar::Registered>,
        info: Option<DomainInfo>,
    ) -> Result<(), JobError> {
        let expires = reg
            .as_ref()
            .map(|r| r.expires_at)
            .or_else(|| info.as_ref().and_then(|i| i.expires_at));
        let mut c = Conclusion::success(
            format!(
                "registered {} until {}",
                self.domain.name_unicode,
                expires
                    .map(|e| e.to_rfc3339())
                    .unwrap_or_else(|| "?".into())
            ),
            move |d| {
                if let Some(i) = &info {
                    apply_info(d, i);
                }
                if let Some(r) = &reg {
                    d.expires_at = Some(r.expires_at);
                    d.registered_at = Some(r.created_at);
                    if r.registry_id.is_some() {
                        d.registry_id = r.registry_id.clone();
                    }
                }
                transition(d, DomainEvent::Registered);
            },
        );
        c.result = Some(serde_json::json!({ "expires_at": expires }));
        c.events.push("domain.registered");
        self.conclude(c).await
    }

    // --- renew ----------------------------------------------------------------------------

    async fn renew(&mut self) -> Result<(), JobError> {
        let years = self.op.years.unwrap_or(1);
        let Some(before) = self.op.expiry_before else {
            let e = self.invalid("the expiry before the renewal is unknown");
            return self.refuse(&e).await;
        };
        let Some(expected) = add_years(before, years) else {
            let e = self.invalid("the renewal term is out of range");
            return self.refuse(&e).await;
        };
        if self.op.uncertain {
            let info = match self.info_before_acting("renew").await? {
                Asked::Concluded => return Ok(()),
                Asked::Info(info) => *info,
            };
            match info.expires_at.map(|e| e.date_naive()) {
                Some(now) if now == expected.date_naive() => {
                    let at = info.expires_at;
                    return self.renewed(at, None, Some(info)).await;
                }
                Some(now) if now == before.date_naive() => {}
                other => {
                    let msg = format!(
                        "the registry's expiry ({}) is neither the expiry before the renewal ({}) nor one term later ({}); nothing was renewed again: check the domain and renew it again if needed",
                        other
                            .map(|d| d.to_string())
                            .unwrap_or_else(|| "unknown".into()),
                        before.date_naive(),
                        expected.date_naive()
                    );
                    let c = Conclusion::failure(msg, NEEDS_REVIEW.into(), move |d| {
                        apply_info(d, &info)
                    });
                    return self.conclude(c).await;
                }
            }
        }
        let req = RenewRequest {
            name: self.name.clone(),
            years: u8::try_from(years).unwrap_or(1),
            current_expiry: before,
            premium_price: None,
        };
        let key = self.key.clone();
        let r = self.registrar.clone();
        match self
            .call(
                "renew",
                true,
                Box::pin(async move { r.renew(&req, &key).await }),
            )
            .await?
        {
            Ok(done) => {
                self.renewed(Some(done.expires_at), done.charged, None)
                    .await
            }
            Err(e) if e.failure_kind() == Some(FailureKind::NotFound) => self.not_found(&e).await,
            Err(e) if e.is_definite() => self.refuse(&e).await,
            Err(e) => self.retry(&e).await,
        }
    }

    async fn renewed(
        &mut self,
        expires: Option<DateTime<Utc>>,
        charged: Option<panel1_registrar::Price>,
        info: Option<DomainInfo>,
    ) -> Result<(), JobError> {
        let before = self.op.expiry_before;
        let mut c = Conclusion::success(
            format!(
                "renewed {} until {}",
                self.domain.name_unicode,
                expires
                    .map(|e| e.to_rfc3339())
                    .unwrap_or_else(|| "?".into())
            ),
            move |d| {
                if let Some(i) = &info {
                    apply_info(d, i);
                }
                if expires.is_some() {
                    d.expires_at = expires;
                }
                transition(d, DomainEvent::Renewed);
            },
        );
        c.result = Some(serde_json::json!({
            "expires_before": before,
            "expires_at": expires,
            "charged": charged,
        }));
        c.events.push("domain.renewed");
        self.conclude(c).await
    }

    /// What follows the end of an operation in the same transaction: the client's e-mail when
    /// paid work succeeded; when it definitely failed, its invoice voided (unpaid) or refunded
    /// (paid) — except a renewal, which the renewal sweep keeps trying while the domain can be
    /// renewed, and which raises `domain.renewal.failed` at once.
    async fn after_conclusion(
        &mut self,
        tx: &mut Tx,
        d: &Domain,
        succeeded: bool,
    ) -> Result<(), JobError> {
        let years = self.op.years.unwrap_or(1);
        let expires = d
            .expires_at
            .map(|e| e.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        let op = self.op.operation.clone();
        if succeeded {
            let template = match op.as_str() {
                "register" => Some("registration_confirmation"),
                "renew" => Some("renewal_done"),
                "restore" => Some("domain_restored"),
                _ => None,
            };
            if let Some(t) = template {
                super::renewals::email_client(
                    self.app,
                    tx,
                    d,
                    t,
                    serde_json::json!({ "years": years, "expires_at": expires }),
                    format!("{op}:{}", self.op.id),
                )
                .await
                .map_err(|e| JobError::retry(format!("e-mail: {e}")))?;
            }
            return Ok(());
        }
        match op.as_str() {
            "register" | "transfer" | "restore" => {
                if let Some(inv) = self.op.invoice_id.clone() {
                    let why = format!(
                        "{op} of {} failed: {}",
                        d.name_unicode,
                        self.op.error.clone().unwrap_or_default()
                    );
                    super::billing::settle_unused_invoice(tx, &self.op.tenant_id, &inv, &why)
                        .await
                        .map_err(|e| JobError::retry(format!("refund: {e}")))?;
                }
            }
            "renew" => {
                events::append(
                    tx,
                    NewEvent {
                        tenant_id: &self.op.tenant_id,
                        kind: "domain.renewal.failed",
                        object_type: "domain",
                        object_id: d.id.as_str(),
                        payload: serde_json::json!({
                            "domain": d,
                            "operation_id": self.op.id,
                            "error": self.op.error,
                            "failure_kind": self.op.failure_kind,
                            "automatic": self.op.params.get("auto").and_then(|v| v.as_bool()).unwrap_or(false),
                        }),
                    },
                )
                .await?;
            }
            _ => {}
        }
        Ok(())
    }

    // --- restore --------------------------------------------------------------------------

    async fn restore(&mut self) -> Result<(), JobError> {
        if self.op.uncertain {
            let info = match self.info_before_acting("restore").await? {
                Asked::Concluded => return Ok(()),
                Asked::Info(info) => *info,
            };
            if !info
                .rgp_statuses
                .contains(&panel1_core::domain_lifecycle::RgpStatus::RedemptionPeriod)
                && !info
                    .epp_statuses
                    .contains(&panel1_core::domain_lifecycle::EppStatus::PendingDelete)
            {
                // Out of redemption: the lost answer was a restore that went through.
                let at = info.expires_at;
                return self.restored(at, None, Some(info)).await;
            }
        }
        let key = self.key.clone();
        let r = self.registrar.clone();
        let name = self.name.clone();
        match self
            .call(
                "restore",
                true,
                Box::pin(async move { r.restore(&name, &key).await }),
            )
            .await?
        {
            Ok(done) => {
                let info = self.info_if_possible().await?;
                self.restored(done.expires_at, done.charged, info).await
            }
            Err(e) if e.failure_kind() == Some(FailureKind::NotFound) => self.not_found(&e).await,
            Err(e) if e.is_definite() => self.refuse(&e).await,
            Err(e) => self.retry(&e).await,
        }
    }

    async fn restored(
        &mut self,
        expires: Option<DateTime<Utc>>,
        charged: Option<panel1_registrar::Price>,
        info: Option<DomainInfo>,
    ) -> Result<(), JobError> {
        let mut c = Conclusion::success(
            format!(
                "restored {} from redemption, expiring {}",
                self.domain.name_unicode,
                expires
                    .map(|e| e.to_rfc3339())
                    .unwrap_or_else(|| "?".into())
            ),
            move |d| {
                if let Some(i) = &info {
                    apply_info(d, i);
                }
                if expires.is_some() {
                    d.expires_at = expires;
                }
                transition(d, DomainEvent::Restored);
            },
        );
        c.result = Some(serde_json::json!({ "expires_at": expires, "charged": charged }));
        c.events.push("domain.restored");
        self.conclude(c).await
    }

    // --- transfer -------------------------------------------------------------------------

    async fn transfer(&mut self) -> Result<(), JobError> {
        if self.op.status == OperationStatus::Waiting {
            return self.poll_transfer().await;
        }
        if self.op.uncertain {
            let r = self.registrar.clone();
            let name = self.name.clone();
            match self
                .call(
                    "transfer_status",
                    false,
                    Box::pin(async move { r.transfer_status(&name, None).await }),
                )
                .await?
            {
                Ok(ti) => return self.transfer_answer(ti).await,
                Err(e) if e.failure_kind() == Some(FailureKind::NotFound) => {}
                Err(e) => return self.retry(&e).await,
            }
        }
        let Some(sealed) = self.op.secret_sealed.clone() else {
            let e = self.invalid("the auth code is no longer stored; request the transfer again");
            return self.refuse(&e).await;
        };
        let code = self
            .app
            .keyring
            .open_str(&secret_context(&self.op.id), &sealed)
            .map_err(|e| {
                JobError::permanent(format!("the sealed auth code cannot be opened: {e}"))
            })?;
        let req = TransferRequest {
            name: self.name.clone(),
            auth_code: code,
            years: u8::try_from(self.op.years.unwrap_or(1)).unwrap_or(1),
            contacts: None,
        };
        let key = self.key.clone();
        let r = self.registrar.clone();
        match self
            .call(
                "transfer_in",
                true,
                Box::pin(async move { r.transfer_in(&req, &key).await }),
            )
            .await?
        {
            Ok(ti) => self.transfer_answer(ti).await,
            Err(e) if e.is_definite() => self.refuse(&e).await,
            Err(e) => self.retry(&e).await,
        }
    }

    async fn poll_transfer(&mut self) -> Result<(), JobError> {
        let id = self
            .op
            .result
            .as_ref()
            .and_then(|r| r.get("transfer_id"))
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let r = self.registrar.clone();
        let name = self.name.clone();
        match self
            .call(
                "transfer_status",
                false,
                Box::pin(async move { r.transfer_status(&name, id.as_deref()).await }),
            )
            .await?
        {
            Ok(ti) => self.transfer_answer(ti).await,
            Err(e) if e.is_definite() => self.refuse(&e).await,
            Err(e) => self.retry(&e).await,
        }
    }

    async fn transfer_answer(&mut self, ti: TransferInfo) -> Result<(), JobError> {
        let info_json = serde_json::to_value(&ti).unwrap_or_default();
        match ti.state {
            TransferState::Pending => {
                self.op.status = OperationStatus::Waiting;
                self.op.result = Some(info_json);
                self.op.uncertain = false;
                self.op.error = None;
                self.checkpoint().await?;
                let poll = Duration::from_millis(self.app.settings.transfer_poll_ms);
                Err(JobError::Wait {
                    note: format!("transfer of {} pending at the registry", self.name),
                    at: Utc::now() + chrono::Duration::from_std(poll).unwrap_or_default(),
                })
            }
            TransferState::Completed => {
                let info = self.info_if_possible().await?;
                let expires = ti
                    .expires_at
                    .or_else(|| info.as_ref().and_then(|i| i.expires_at));
                let mut c = Conclusion::success(
                    format!(
                        "{} arrived in `{}`, expiring {}",
                        self.domain.name_unicode,
                        self.account.name,
                        expires
                            .map(|e| e.to_rfc3339())
                            .unwrap_or_else(|| "?".into())
                    ),
                    move |d| {
                        if let Some(i) = &info {
                            apply_info(d, i);
                        }
                        if expires.is_some() {
                            d.expires_at = expires;
                        }
                        transition(d, DomainEvent::TransferCompleted);
                    },
                );
                c.result = Some(info_json);
                c.events.push("domain.transfer.completed");
                if let Some(contacts) = self.op.params.get("contacts").filter(|c| !c.is_null()) {
                    c.follow_up = Some(("contacts", serde_json::json!({ "contacts": contacts })));
                }
                self.conclude(c).await
            }
            TransferState::Rejected | TransferState::Cancelled => {
                let state = if ti.state == TransferState::Rejected {
                    "rejected"
                } else {
                    "cancelled"
                };
                let msg = format!(
                    "the transfer of {} was {state}: {}",
                    self.name,
                    ti.message
                        .clone()
                        .unwrap_or_else(|| "no reason given".into())
                );
                let mut c = Conclusion::failure(msg, format!("transfer_{state}"), |d| {
                    transition(d, DomainEvent::TransferFailed)
                });
                c.result = Some(info_json);
                c.events.push("domain.transfer.failed");
                self.conclude(c).await
            }
        }
    }

    // --- updates --------------------------------------------------------------------------

    async fn update(&mut self) -> Result<(), JobError> {
        let kind = self.op.operation.clone();
        let p = self.op.params.clone();
        let r = self.registrar.clone();
        let name = self.name.clone();
        let key = self.key.clone();
        let (command, fut): (&'static str, BoxReply<'static, ()>) = match kind.as_str() {
            "nameservers" => {
                let ns: Vec<DomainName> = p["nameservers"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str())
                            .filter_map(|s| DomainName::parse(s).ok())
                            .collect()
                    })
                    .unwrap_or_default();
                (
                    "update_nameservers",
                    Box::pin(async move { r.update_nameservers(&name, &ns, &key).await }),
                )
            }
            "contacts" => {
                let ids: ContactIds =
                    serde_json::from_value(p["contacts"].clone()).unwrap_or_default();
                let contacts = match self.contacts(&ids).await? {
                    Ok(c) => c,
                    Err(e) => return self.refuse(&e).await,
                };
                (
                    "update_contacts",
                    Box::pin(async move { r.update_contacts(&name, &contacts, &key).await }),
                )
            }
            "lock" => {
                let on = p["locked"].as_bool().unwrap_or(true);
                (
                    "set_lock",
                    Box::pin(async move { r.set_lock(&name, on, &key).await }),
                )
            }
            "privacy" => {
                let on = p["privacy"].as_bool().unwrap_or(false);
                (
                    "set_privacy",
                    Box::pin(async move { r.set_privacy(&name, on, &key).await }),
                )
            }
            "hold" => {
                let on = p["hold"].as_bool().unwrap_or(false);
                (
                    "set_hold",
                    Box::pin(async move { r.set_hold(&name, on, &key).await }),
                )
            }
            other => {
                return Err(JobError::permanent(format!(
                    "unknown domain operation `{other}`"
                )));
            }
        };
        match self.call(command, true, fut).await? {
            Ok(()) => self.updated(&kind, &p, None).await,
            Err(e) if e.is_not_supported() && kind == "hold" => {
                self.updated(&kind, &p, Some("the registrar has no registry hold: the domain is suspended in Panel1 only")).await
            }
            Err(e) if e.failure_kind() == Some(FailureKind::NotFound) => self.not_found(&e).await,
            Err(e) if e.is_definite() => self.refuse(&e).await,
            Err(e) => self.retry(&e).await,
        }
    }

    async fn updated(
        &mut self,
        kind: &str,
        p: &serde_json::Value,
        note: Option<&str>,
    ) -> Result<(), JobError> {
        let p2 = p.clone();
        let k = kind.to_owned();
        let name = self.domain.name_unicode.clone();
        let summary = match kind {
            "nameservers" => format!("{name} now uses nameservers {}", p["nameservers"]),
            "contacts" => format!("{name} has new WHOIS contacts"),
            "lock" => format!(
                "{name} registrar lock {}",
                if p["locked"].as_bool() == Some(true) {
                    "set"
                } else {
                    "removed"
                }
            ),
            "privacy" => format!(
                "{name} WHOIS privacy {}",
                if p["privacy"].as_bool() == Some(true) {
                    "on"
                } else {
                    "off"
                }
            ),
            _ => format!(
                "{name} registry hold {}",
                if p["hold"].as_bool() == Some(true) {
                    "set"
                } else {
                    "lifted"
                }
            ),
        };
        let mut c = Conclusion::success(summary, move |d| match k.as_str() {
            "nameservers" => {
                d.nameservers = p2["nameservers"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
            }
            "contacts" => {
                if let Ok(ids) = serde_json::from_value::<ContactIds>(p2["contacts"].clone()) {
                    d.contacts = ids;
                }
            }
            "lock" => {
                d.locked = p2["locked"].as_bool().unwrap_or(d.locked);
                set_status(d, "clientTransferProhibited", d.locked);
            }
            "privacy" => d.privacy = p2["privacy"].as_bool().unwrap_or(d.privacy),
            "hold" => {
                let on = p2["hold"].as_bool().unwrap_or(false);
                set_status(d, "clientHold", on);
            }
            _ => {}
        });
        if let Some(n) = note {
            c.result = Some(serde_json::json!({ "note": n }));
        }
        match kind {
            "nameservers" => c.events.push("domain.nameservers.updated"),
            "contacts" => c.events.push("domain.contacts.updated"),
            "lock" => c.events.push("domain.lock.updated"),
            "privacy" => c.events.push("domain.privacy.updated"),
            _ => {}
        }
        self.conclude(c).await
    }
}

/// Adds or removes an EPP status in the domain's reported list (after a change the registrar
/// confirmed), keeping `ok` only when nothing else is set.
fn set_status(d: &mut Domain, status: &str, on: bool) {
    d.epp_statuses.retain(|s| s != status && s != "ok");
    if on {
        d.epp_statuses.push(status.to_owned());
    }
    if d.epp_statuses.is_empty() {
        d.epp_statuses.push("ok".into());
    }
}

/// A number in [0, 1) for jitter.
fn rand_unit() -> f64 {
    match panel1_core::crypto::random_bytes::<8>() {
        Ok(b) => (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}
