//! The certificate jobs.
//!
//! - `ssl::issue` ([`IssueCertificate`]): drives one certificate's order from where the
//!   database says it is. Every step is resumable: the key is sealed and stored before the
//!   order is placed, the order URL is stored before any challenge is published, and after
//!   that the CA's view of the order says what is left (publish and tell the CA while it is
//!   `pending`, finalize when `ready`, download when `processing`/`valid`). A worker killed
//!   anywhere is taken over and carries on from there.
//!
//!   Failures are classified once ([`Stop`]): a CA that is unreachable or slow is retried
//!   with backoff (`ssl_retry_ms`, doubling) and the certificate fails after
//!   `ssl_issue_attempts` failed runs; a rate limit with a `Retry-After` waits for it without
//!   counting; manual DNS records are checked every `ssl_manual_dns_poll_secs` without counting;
//!   an invalid order, a CAA record that forbids the CA, a name that does not resolve or a
//!   refusal end the certificate as `failed` at once with the CA's words. Nothing loops.
//! - `ssl::revoke` ([`RevokeCertificate`]), `ssl::install` ([`InstallCertificate`]).
//! - `ssl::renew_due` ([`RenewalSweep`], every 10 minutes): expires what is past, refreshes
//!   ARI windows, starts the renewals that are due, and alerts (event and e-mail) on
//!   certificates that expire within `ssl_expiry_warning_days` without a replacement.
//! - `ssl::health` ([`HealthSweep`], daily): probes every installation.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use panel1_ca::acme::record_calls;
use panel1_ca::authority::{
    Authorization, Challenge, Order, OrderStatus, Publication, RevocationReason,
};
use panel1_ca::issue::{ChallengeSolver, WebrootSolver};
use panel1_ca::preflight::{CaaRequester, PreflightError, check_methods};
use panel1_ca::renewal::{RenewalBasis, RenewalWindow, renewal_time};
use panel1_ca::{
    CaError, CertificateAuthority, CertificateChain, IdentifierSet, KeyType, OrderRequest,
    PollPolicy, PrivateKey, ValidationMethod,
};
use panel1_core::{CertificateId, InstallationId, JobId, Scope, TenantId};
use panel1_jobs::{EnqueueOptions, Job, JobContext, JobError};
use panel1_store::audit::Actor;
use panel1_store::ca_accounts::{self, CaAccount};
use panel1_store::certificates::{
    self as repo, Certificate, Issued, RenewalPlan, ValidationInput, ValidationRecord,
};
use panel1_store::events::{self, NewEvent};
use panel1_store::{StoreError, Tx, certificate_installations as installs, clients};
use serde::{Deserialize, Serialize};

use super::accounts::{self, RegisterError};
use super::dns;
use crate::App;
use crate::audit::{self, Change};
use crate::notify::{self, Notice};

/// The ordering key of a certificate's issuance jobs (one runs at a time).
pub(crate) fn issue_ordering_key(id: &CertificateId) -> String {
    format!("crt:{id}")
}

/// Runs the certificate's issuance at `at`: moves a waiting run forward, or queues a new run.
pub(crate) async fn schedule_issue(
    tx: &mut Tx,
    tenant: &TenantId,
    id: &CertificateId,
    at: DateTime<Utc>,
) -> Result<JobId, StoreError> {
    if let Some(job) = repo::wake_job(tx.conn(), &issue_ordering_key(id), at).await? {
        return Ok(job);
    }
    let run = repo::next_run(tx.conn(), tenant, id).await?;
    let e = panel1_jobs::enqueue(
        tx,
        &IssueCertificate {
            tenant_id: tenant.clone(),
            certificate_id: id.clone(),
            run,
        },
        EnqueueOptions {
            tenant_id: Some(tenant.clone()),
            run_at: Some(at),
            ..Default::default()
        },
    )
    .await?;
    Ok(e.id().clone())
}

/// Appends a certificate event whose payload is the certificate (never its key).
pub(crate) async fn certificate_event(
    tx: &mut Tx,
    kind: &str,
    cert: &Certificate,
    extra: Option<serde_json::Value>,
) -> Result<(), StoreError> {
    let mut payload = serde_json::to_value(cert).map_err(StoreError::corrupt)?;
    if let (Some(o), Some(serde_json::Value::Object(x))) = (payload.as_object_mut(), extra) {
        o.extend(x);
    }
    events::append(
        tx,
        NewEvent {
            tenant_id: &cert.tenant_id,
            kind,
            object_type: "certificate",
            object_id: cert.id.as_str(),
            payload,
        },
    )
    .await?;
    Ok(())
}

/// Queues an e-mail about a certificate to its client (at most once per `dedupe`).
async fn email_client(
    app: &App,
    tx: &mut Tx,
    cert: &Certificate,
    template: &str,
    mut context: serde_json::Value,
    dedupe: String,
) -> Result<bool, JobError> {
    let scope = Scope::tenant(cert.tenant_id.clone());
    let Some(client) = clients::get(tx.conn(), &scope, &cert.client_id).await? else {
        return Ok(false);
    };
    if let Some(o) = context.as_object_mut() {
        o.insert("client_name".into(), client.details.name.clone().into());
        o.insert("names".into(), cert.names.join(", ").into());
        o.insert("certificate_id".into(), cert.id.to_string().into());
    }
    let queued = notify::queue(
        app,
        tx,
        Notice {
            tenant_id: &cert.tenant_id,
            to: &client.details.email,
            template,
            object: Some(("certificate", cert.id.as_str())),
            context,
            dedupe_key: Some(dedupe),
        },
    )
    .await
    .map_err(|e| JobError::retry(format!("queueing the e-mail failed: {e}")))?;
    Ok(queued.is_some())
}

/// Why a run of the issuance stopped before the certificate was issued.
#[derive(Debug)]
pub(crate) enum Stop {
    /// Try again later; counts as a failed run.
    Retry {
        kind: &'static str,
        message: String,
        after: Option<Duration>,
    },
    /// Not a failure: wait until `at` (a rate limit, manual DNS records, a payment).
    Wait {
        message: String,
        at: DateTime<Utc>,
    },
    /// Give up: the certificate fails with this message.
    Fail {
        kind: &'static str,
        message: String,
    },
    Store(StoreError),
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Store(e)
    }
}

impl From<CaError> for Stop {
    fn from(e: CaError) -> Self {
        let message = e.to_string();
        match &e {
            CaError::RateLimited {
                retry_after: Some(d),
                ..
            } => Stop::Wait {
                message,
                at: Utc::now() + chrono::Duration::from_std(*d).unwrap_or_default(),
            },
            CaError::RateLimited { .. } => Stop::Retry {
                kind: "rate_limited",
                message,
                after: None,
            },
            CaError::Unreachable { .. } => Stop::Retry {
                kind: "ca_unreachable",
                message,
                after: None,
            },
            CaError::Timeout { retry_after, .. } => Stop::Retry {
                kind: "ca_timeout",
                message,
                after: *retry_after,
            },
            CaError::OrderInvalid { .. } => Stop::Fail {
                kind: "validation",
                message,
            },
            CaError::WildcardNeedsDns01 { .. } | CaError::NoSuchChallenge { .. } => Stop::Fail {
                kind: "validation_method",
                message,
            },
            CaError::ExternalAccountRequired { .. } | CaError::BadExternalAccountKey => {
                Stop::Fail {
                    kind: "eab",
                    message,
                }
            }
            CaError::BadCredentials { .. } | CaError::WrongAccount { .. } => Stop::Fail {
                kind: "ca_account",
                message,
            },
            _ => Stop::Fail {
                kind: "ca_rejected",
                message,
            },
        }
    }
}

impl From<RegisterError> for Stop {
    fn from(e: RegisterError) -> Self {
        match e {
            RegisterError::Ca(e) => e.into(),
            RegisterError::Store(e) => Stop::Store(e),
        }
    }
}

impl From<PreflightError> for Stop {
    fn from(e: PreflightError) -> Self {
        let message = e.to_string();
        match e {
            PreflightError::CaaForbids { .. } => Stop::Fail {
                kind: "caa",
                message,
            },
            PreflightError::DoesNotResolve { .. } => Stop::Fail {
                kind: "dns_resolution",
                message,
            },
            PreflightError::WildcardNeedsDns01 { .. } => Stop::Fail {
                kind: "validation_method",
                message,
            },
            _ => Stop::Retry {
                kind: "dns_lookup",
                message,
                after: None,
            },
        }
    }
}

fn method_of(cert: &Certificate) -> ValidationMethod {
    if cert.validation_method == "dns-01" {
        ValidationMethod::Dns01
    } else {
        ValidationMethod::Http01
    }
}

fn poll_policy() -> PollPolicy {
    PollPolicy {
        initial_delay: Duration::from_millis(200),
        backoff: 1.5,
        timeout: Duration::from_secs(90),
    }
}

/// Issues (or carries on issuing) one certificate.
#[derive(Debug, Serialize, Deserialize)]
pub struct IssueCertificate {
    pub tenant_id: TenantId,
    pub certificate_id: CertificateId,
    /// The run number (the certificate's `run_seq` when this run was queued).
    pub run: i64,
}

#[async_trait]
impl Job for IssueCertificate {
    const KIND: &'static str = "ssl::issue";
    /// The certificate counts its own failed runs (`ssl_issue_attempts`); this is a backstop.
    const MAX_ATTEMPTS: i64 = 100;
    type Context = App;

    fn unique_key(&self) -> Option<String> {
        Some(format!("{}:{}", self.certificate_id, self.run))
    }

    fn ordering_key(&self) -> Option<String> {
        Some(issue_ordering_key(&self.certificate_id))
    }

    #[tracing::instrument(skip_all, fields(certificate = %self.certificate_id, run = self.run))]
    async fn run(&self, app: &App, job: &JobContext) -> Result<(), JobError> {
        let scope = Scope::tenant(self.tenant_id.clone());
        let cert = {
            let mut r = app.db.read().await?;
            repo::get(r.conn(), &scope, &self.certificate_id).await?
        };
        let Some(cert) = cert else {
            return Err(JobError::permanent(format!(
                "certificate {} no longer exists",
                self.certificate_id
            )));
        };
        if !cert.is_open() || cert.status == "awaiting_organization_validation" {
            return Ok(());
        }
        let mut run = match Issuance::new(app, job, cert).await {
            Ok(r) => r,
            Err(stop) => {
                return settle(app, job, &self.tenant_id, &self.certificate_id, stop).await;
            }
        };
        match run.drive().await {
            Ok(()) => Ok(()),
            Err(stop) => {
                if matches!(stop, Stop::Fail { .. }) {
                    run.cleanup().await;
                }
                settle(app, job, &self.tenant_id, &self.certificate_id, stop).await
            }
        }
    }
}

/// Turns a stopped run into the certificate's next state and the job's outcome.
async fn settle(
    app: &App,
    job: &JobContext,
    tenant: &TenantId,
    id: &CertificateId,
    stop: Stop,
) -> Result<(), JobError> {
    let scope = Scope::tenant(tenant.clone());
    match stop {
        Stop::Store(e) => Err(JobError::Retry(format!("database: {e}"))),
        Stop::Wait { message, at } => {
            let mut r = app.db.read().await?;
            // A newer run queued behind this one carries on instead of this one waiting.
            if repo::other_job_queued(r.conn(), &issue_ordering_key(id), &job.id).await? {
                drop(r);
                let mut tx = app.db.begin().await?;
                job.complete_in(&mut tx).await?;
                tx.commit().await?;
                return Ok(());
            }
            tracing::info!(%at, reason = %message, "issuance waiting");
            Err(JobError::Wait { note: message, at })
        }
        Stop::Retry {
            kind,
            message,
            after,
        } => {
            let mut tx = app.db.begin().await?;
            let attempts = repo::add_attempt(tx.conn(), tenant, id, &message, kind).await?;
            let limit = i64::from(app.settings.ssl_issue_attempts.max(1));
            if attempts >= limit {
                let message = format!("gave up after {attempts} failed attempts: {message}");
                fail_in(app, &mut tx, &scope, id, kind, &message).await?;
                job.complete_in(&mut tx).await?;
                tx.commit().await?;
                tracing::warn!(kind, %message, "issuance failed");
                return Ok(());
            }
            let exp = u32::try_from(attempts.clamp(1, 16) - 1).unwrap_or(0);
            let backoff =
                Duration::from_millis(app.settings.ssl_retry_ms.saturating_mul(1u64 << exp))
                    .min(Duration::from_secs(3600));
            let wait = after.map_or(backoff, |a| a.max(backoff));
            let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
            tx.commit().await?;
            tracing::info!(kind, attempts, %at, reason = %message, "issuance will retry");
            Err(JobError::RetryAt { message, at })
        }
        Stop::Fail { kind, message } => {
            let mut tx = app.db.begin().await?;
            fail_in(app, &mut tx, &scope, id, kind, &message).await?;
            job.complete_in(&mut tx).await?;
            tx.commit().await?;
            tracing::warn!(kind, %message, "issuance failed");
            Ok(())
        }
    }
}

/// Fails a certificate: status, events, e-mail, and for a renewal, the next try of the
/// certificate it was to replace.
async fn fail_in(
    app: &App,
    tx: &mut Tx,
    scope: &Scope,
    id: &CertificateId,
    kind: &str,
    message: &str,
) -> Result<(), JobError> {
    let tenant = &scope.tenant_id;
    let Some(before) = repo::get(tx.conn(), scope, id).await? else {
        return Ok(());
    };
    if !before.is_open() {
        return Ok(());
    }
    repo::set_status(tx.conn(), tenant, id, "failed", Some(message), Some(kind)).await?;
    let Some(cert) = repo::get(tx.conn(), scope, id).await? else {
        return Ok(());
    };
    let validations = repo::list_validations(tx.conn(), tenant, id).await?;
    let validation_failed = matches!(
        kind,
        "validation" | "caa" | "dns_resolution" | "validation_method" | "dns_records"
    );
    if validation_failed {
        certificate_event(
            tx,
            "ssl.validation.failed",
            &cert,
            Some(serde_json::json!({ "error": message, "validations": validations })),
        )
        .await?;
    }
    certificate_event(
        tx,
        "ssl.certificate.failed",
        &cert,
        Some(serde_json::json!({ "error": message })),
    )
    .await?;
    email_client(
        app,
        tx,
        &cert,
        if validation_failed {
            "ssl_validation_failed"
        } else {
            "ssl_issue_failed"
        },
        serde_json::json!({ "error": message, "records": record_lines(&validations) }),
        format!("ssl-failed:{id}"),
    )
    .await?;
    if let Some(old_id) = &cert.replaces_id
        && let Some(old) = repo::get(tx.conn(), scope, old_id).await?
        && old.status == "issued"
    {
        // Try the renewal again later, sooner as expiry nears; never in a tight loop.
        let failures = old.renewal_failures + 1;
        let hours = (1i64 << failures.clamp(0, 5)).min(24);
        let mut retry = Utc::now() + chrono::Duration::hours(hours);
        if let Some(na) = old.not_after {
            let left = na - Utc::now();
            if left < chrono::Duration::days(2) {
                retry = Utc::now() + chrono::Duration::hours(1);
            }
        }
        repo::renewal_failed(tx.conn(), tenant, old_id, retry).await?;
        let days = old.not_after.map(|na| (na - Utc::now()).num_days());
        email_client(
            app,
            tx,
            &old,
            "ssl_renewal_failed",
            serde_json::json!({
                "error": message,
                "not_after": old.not_after.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
                "days": days,
                "retry_at": retry.format("%Y-%m-%d %H:%M UTC").to_string(),
            }),
            format!("ssl-renewal-failed:{old_id}:{failures}"),
        )
        .await?;
    }
    audit::record_as(
        tx,
        tenant,
        &Actor::system("certificates"),
        None,
        Change {
            action: "certificate.failed",
            object_type: "certificate",
            object_id: id.as_str(),
            summary: format!(
                "certificate for {} failed: {message}",
                cert.names.join(", ")
            ),
            before: None,
            after: None,
        },
    )
    .await
    .map_err(|e| JobError::retry(e.to_string()))?;
    Ok(())
}

/// The records to publish, as lines for e-mails and messages.
pub(crate) fn record_lines(v: &[ValidationRecord]) -> Vec<String> {
    v.iter()
        .filter_map(|r| match (&r.record_name, &r.record_value, &r.http_token) {
            (Some(n), Some(val), _) => Some(format!("{n}. 60 IN TXT \"{val}\"")),
            (_, _, Some(t)) => Some(format!(
                "http://{}/.well-known/acme-challenge/{t}",
                r.identifier
            )),
            _ => None,
        })
        .collect()
}

/// One run of the issuance of one certificate.
struct Issuance<'a> {
    app: &'a App,
    job: &'a JobContext,
    cert: Certificate,
    account: CaAccount,
    ca: Arc<dyn CertificateAuthority>,
    acme: Option<panel1_ca::CaAccount>,
}

impl<'a> Issuance<'a> {
    async fn new(app: &'a App, job: &'a JobContext, cert: Certificate) -> Result<Self, Stop> {
        let account = {
            let mut r = app.db.read().await?;
            ca_accounts::get_any(r.conn(), &cert.tenant_id, &cert.ca_account_id).await?
        };
        let Some(account) = account else {
            return Err(Stop::Fail {
                kind: "ca_account",
                message: format!("the CA account {} no longer exists", cert.ca_account_id),
            });
        };
        let ca = accounts::authority(app, &account)?;
        Ok(Self {
            app,
            job,
            cert,
            account,
            ca,
            acme: None,
        })
    }

    fn tenant(&self) -> &TenantId {
        &self.cert.tenant_id
    }

    fn scope(&self) -> Scope {
        Scope::tenant(self.cert.tenant_id.clone())
    }

    /// Runs a CA step, recording its calls in the operations log.
    async fn step<T>(
        &self,
        step: &str,
        fut: impl std::future::Future<Output = Result<T, CaError>>,
    ) -> Result<T, CaError> {
        let (out, calls) = record_calls(fut).await;
        accounts::log_calls(
            self.app,
            self.tenant(),
            Some(&self.cert.id),
            &self.account.id,
            step,
            &calls,
            Some(&self.job.id),
        )
        .await;
        out
    }

    async fn reload(&mut self) -> Result<(), Stop> {
        let mut r = self.app.db.read().await?;
        if let Some(c) = repo::get(r.conn(), &self.scope(), &self.cert.id).await? {
            self.cert = c;
        }
        Ok(())
    }

    async fn set_status(&mut self, status: &str, detail: Option<&str>) -> Result<(), Stop> {
        if self.cert.status == status && self.cert.status_detail.as_deref() == detail {
            return Ok(());
        }
        let mut tx = self.app.db.begin().await?;
        repo::set_status(
            tx.conn(),
            self.tenant(),
            &self.cert.id,
            status,
            detail,
            None,
        )
        .await?;
        tx.commit().await?;
        self.cert.status = status.to_owned();
        self.cert.status_detail = detail.map(str::to_owned);
        Ok(())
    }

    fn acme(&self) -> Result<&panel1_ca::CaAccount, Stop> {
        self.acme.as_ref().ok_or_else(|| Stop::Fail {
            kind: "internal",
            message: "the ACME account was not loaded".into(),
        })
    }

    fn identifiers(&self) -> Result<IdentifierSet, Stop> {
        IdentifierSet::new(self.cert.names.iter().map(String::as_str)).map_err(|e| Stop::Fail {
            kind: "names",
            message: e.to_string(),
        })
    }

    async fn drive(&mut self) -> Result<(), Stop> {
        if self.cert.status == "awaiting_payment" {
            self.payment().await?;
        }
        let acme = accounts::registered(
            self.app,
            self.ca.as_ref(),
            &self.account,
            Some(&self.cert.id),
            Some(&self.job.id),
        )
        .await?;
        self.acme = Some(acme);
        let key = self.key().await?;
        let mut order = match self.cert.order_url.clone() {
            None => self.place_order().await?,
            Some(url) => {
                let acme = self.acme()?.clone();
                self.step("order", self.ca.order(&acme, &url)).await?
            }
        };
        for _ in 0..4 {
            match order.status {
                OrderStatus::Invalid => return Err(self.invalid(&order).await),
                OrderStatus::Pending => order = self.validate(order).await?,
                OrderStatus::Ready => order = self.finalize(&order, &key).await?,
                OrderStatus::Processing | OrderStatus::Valid => {
                    return self.download(&order, &key).await;
                }
                OrderStatus::AwaitingOrganizationValidation => {
                    self.set_status(
                        "awaiting_organization_validation",
                        Some("the CA is validating the organisation; Panel1 checks the order again every hour"),
                    )
                    .await?;
                    return Err(Stop::Wait {
                        message: "waiting for organisation validation".into(),
                        at: Utc::now() + chrono::Duration::hours(1),
                    });
                }
            }
        }
        Err(Stop::Retry {
            kind: "ca_protocol",
            message: format!("the order {} did not progress", order.url),
            after: None,
        })
    }

    /// Waits for the subscription's invoice to be paid.
    async fn payment(&mut self) -> Result<(), Stop> {
        let mut tx = self.app.db.begin().await?;
        let sub =
            repo::get_subscription(tx.conn(), &self.scope(), &self.cert.subscription_id).await?;
        let covered = match &sub {
            Some(s) => super::products::covers(self.app, &mut tx, s, Utc::now())
                .await
                .map_err(|e| Stop::Retry {
                    kind: "billing",
                    message: e.to_string(),
                    after: None,
                })?,
            None => true,
        };
        if !covered {
            tx.commit().await?;
            return Err(Stop::Wait {
                message: "waiting for the subscription's invoice to be paid".into(),
                at: Utc::now() + chrono::Duration::minutes(10),
            });
        }
        repo::set_status(
            tx.conn(),
            self.tenant(),
            &self.cert.id,
            "pending",
            None,
            None,
        )
        .await?;
        tx.commit().await?;
        self.cert.status = "pending".into();
        Ok(())
    }

    /// The certificate's key: generated, sealed and stored on first use.
    async fn key(&mut self) -> Result<PrivateKey, Stop> {
        let context = super::key_context(&self.cert.id);
        if self.cert.private_key_sealed.is_none() {
            let kt: KeyType =
                self.cert
                    .key_type
                    .parse()
                    .map_err(|e: panel1_ca::keys::KeyError| Stop::Fail {
                        kind: "key",
                        message: e.to_string(),
                    })?;
            let key = tokio::task::spawn_blocking(move || PrivateKey::generate(kt))
                .await
                .map_err(|e| Stop::Retry {
                    kind: "key",
                    message: e.to_string(),
                    after: None,
                })?
                .map_err(|e| Stop::Fail {
                    kind: "key",
                    message: e.to_string(),
                })?;
            let sealed = self
                .app
                .keyring
                .seal_str(&context, &key.to_secret())
                .map_err(|e| Stop::Fail {
                    kind: "key",
                    message: format!("cannot seal the key: {e}"),
                })?;
            let mut tx = self.app.db.begin().await?;
            repo::set_private_key(tx.conn(), self.tenant(), &self.cert.id, &sealed).await?;
            tx.commit().await?;
            self.reload().await?;
        }
        let sealed = self.cert.private_key_sealed.as_deref().unwrap_or_default();
        let pem = self
            .app
            .keyring
            .open_str(&context, sealed)
            .map_err(|e| Stop::Fail {
                kind: "key",
                message: format!("the sealed key cannot be opened: {e}"),
            })?;
        PrivateKey::from_secret(&pem).map_err(|e| Stop::Fail {
            kind: "key",
            message: e.to_string(),
        })
    }

    /// Pre-flight, then the order; its URL is stored before anything else.
    async fn place_order(&mut self) -> Result<Order, Stop> {
        let names = self.identifiers()?;
        let method = method_of(&self.cert);
        check_methods(&names, method)?;
        let pre = super::preflight(self.app);
        let mut ids = self.account.caa_identities.clone();
        if ids.is_empty()
            && let Ok(d) = self.ca.directory().await
        {
            ids = d.caa_identities;
        }
        let acme = self.acme()?.clone();
        pre.check_caa(
            &names,
            &CaaRequester {
                identities: &ids,
                account_uri: Some(&acme.url),
                method: Some(method),
            },
        )
        .await?;
        if method == ValidationMethod::Http01 {
            pre.check_resolves(&names).await?;
        }
        let request = OrderRequest {
            identifiers: names,
            profile: self.cert.profile.clone(),
            replaces: None,
            validation_level: Default::default(),
            organization: None,
        };
        let order = self
            .step("order", self.ca.new_order(&acme, &request))
            .await?;
        let mut tx = self.app.db.begin().await?;
        repo::set_order(
            tx.conn(),
            self.tenant(),
            &self.cert.id,
            Some(&order.url),
            Some(order_status(order.status)),
        )
        .await?;
        tx.commit().await?;
        self.cert.order_url = Some(order.url.clone());
        tracing::info!(order = %order.url, "order placed");
        Ok(order)
    }

    /// Publishes what the pending authorizations need, checks DNS-01 records, tells the CA
    /// and waits (bounded) for the order to leave `pending`.
    async fn validate(&mut self, order: Order) -> Result<Order, Stop> {
        let method = method_of(&self.cert);
        let todo: Vec<(Authorization, Challenge)> = order
            .challenges_to_complete(method)?
            .into_iter()
            .map(|(a, c)| (a.clone(), c.clone()))
            .collect();
        self.set_status("validating", None).await?;
        let mut records = Vec::new();
        for (a, c) in &todo {
            records.push(self.publish(a, c).await?);
        }
        if method == ValidationMethod::Dns01 {
            self.check_dns(&records).await?;
        }
        let urls: Vec<String> = todo
            .iter()
            .filter(|(_, c)| c.status == panel1_ca::authority::ChallengeStatus::Pending)
            .map(|(_, c)| c.url.clone())
            .collect();
        let acme = self.acme()?.clone();
        if !urls.is_empty() {
            self.step("ready", self.ca.ready(&acme, &order.url, &urls))
                .await?;
        }
        {
            let mut tx = self.app.db.begin().await?;
            for r in &records {
                if r.status != "valid" {
                    repo::set_validation_status(tx.conn(), self.tenant(), &r.id, "ready", None)
                        .await?;
                }
            }
            tx.commit().await?;
        }
        match self
            .step(
                "poll",
                self.ca.poll_ready(&acme, &order.url, &poll_policy()),
            )
            .await
        {
            Ok(o) => {
                let mut tx = self.app.db.begin().await?;
                for r in &records {
                    repo::set_validation_status(tx.conn(), self.tenant(), &r.id, "valid", None)
                        .await?;
                }
                repo::set_order(
                    tx.conn(),
                    self.tenant(),
                    &self.cert.id,
                    Some(&o.url),
                    Some(order_status(o.status)),
                )
                .await?;
                tx.commit().await?;
                Ok(o)
            }
            Err(CaError::OrderInvalid { problem, .. }) => {
                let current = self.step("order", self.ca.order(&acme, &order.url)).await;
                match current {
                    Ok(o) => Err(self.invalid(&o).await),
                    Err(_) => Err(Stop::Fail {
                        kind: "validation",
                        message: format!("the CA refused the validation: {problem}"),
                    }),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Records and publishes one challenge; returns its validation record.
    async fn publish(
        &mut self,
        a: &Authorization,
        c: &Challenge,
    ) -> Result<ValidationRecord, Stop> {
        let tenant = self.tenant().clone();
        match &c.publication {
            Publication::Http01 {
                token,
                key_authorization,
                ..
            } => {
                let mut tx = self.app.db.begin().await?;
                let r = repo::upsert_validation(
                    tx.conn(),
                    &tenant,
                    &self.cert.id,
                    &ValidationInput {
                        identifier: &a.identifier,
                        method: "http-01",
                        dns_mode: None,
                        record_name: None,
                        record_value: None,
                        http_token: Some(token),
                        key_authorization: Some(key_authorization),
                        authorization_url: Some(&a.url),
                        challenge_url: Some(&c.url),
                        status: "published",
                    },
                )
                .await?;
                tx.commit().await?;
                if let Some(root) = &self.cert.webroot {
                    let solver = WebrootSolver { root: root.into() };
                    solver.present(a, c).await.map_err(|e| Stop::Retry {
                        kind: "webroot",
                        message: e.to_string(),
                        after: None,
                    })?;
                }
                Ok(r)
            }
            Publication::Dns01 { record_name, value } => {
                let existing = {
                    let mut rd = self.app.db.read().await?;
                    repo::get_validation_by_identifier(
                        rd.conn(),
                        &tenant,
                        &self.cert.id,
                        &a.identifier,
                    )
                    .await?
                };
                let requested = existing
                    .as_ref()
                    .and_then(|r| r.dns_mode.clone())
                    .filter(|m| m == "manual" || m == "hosted")
                    .or_else(|| self.cert.dns_mode.clone())
                    .unwrap_or_else(|| "auto".into());
                let plan = dns::plan(self.app, &tenant, &a.identifier, record_name, &requested)
                    .await
                    .map_err(|e| Stop::Fail {
                        kind: "dns_records",
                        message: e.to_string(),
                    })?;
                let mut tx = self.app.db.begin().await?;
                let r = repo::upsert_validation(
                    tx.conn(),
                    &tenant,
                    &self.cert.id,
                    &ValidationInput {
                        identifier: &a.identifier,
                        method: "dns-01",
                        dns_mode: Some(plan.mode),
                        record_name: Some(&plan.record_name),
                        record_value: Some(value),
                        http_token: None,
                        key_authorization: None,
                        authorization_url: Some(&a.url),
                        challenge_url: Some(&c.url),
                        status: "pending",
                    },
                )
                .await?;
                repo::set_validation_dns(
                    tx.conn(),
                    &tenant,
                    &r.id,
                    plan.mode,
                    (plan.effective_name != plan.record_name)
                        .then_some(plan.effective_name.as_str()),
                )
                .await?;
                tx.commit().await?;
                if let Err(e) = plan.publisher.publish(&plan.effective_name, value).await {
                    let mut tx = self.app.db.begin().await?;
                    repo::set_validation_status(
                        tx.conn(),
                        &tenant,
                        &r.id,
                        "pending",
                        Some(&e.to_string()),
                    )
                    .await?;
                    tx.commit().await?;
                    return Err(if e.retryable {
                        Stop::Retry {
                            kind: "dns_publish",
                            message: e.to_string(),
                            after: None,
                        }
                    } else {
                        Stop::Fail {
                            kind: "dns_records",
                            message: e.to_string(),
                        }
                    });
                }
                if plan.mode != "manual" {
                    let mut tx = self.app.db.begin().await?;
                    repo::set_validation_status(tx.conn(), &tenant, &r.id, "published", None)
                        .await?;
                    tx.commit().await?;
                }
                let mut rd = self.app.db.read().await?;
                Ok(
                    repo::get_validation(rd.conn(), &tenant, &self.cert.id, &r.id)
                        .await?
                        .unwrap_or(r),
                )
            }
            Publication::TlsAlpn01 { .. } => Err(Stop::Fail {
                kind: "validation_method",
                message: "TLS-ALPN-01 is not supported; use http-01 or dns-01".into(),
            }),
        }
    }

    /// DNS-01: every record must be served by every authoritative server of its zone before
    /// the CA is told. Records Panel1 published get `ssl_dns_propagation_secs`; manual ones
    /// are checked once per run, and the run waits for the client to create them.
    async fn check_dns(&mut self, records: &[ValidationRecord]) -> Result<(), Stop> {
        let tenant = self.tenant().clone();
        let mut missing = Vec::new();
        for r in records {
            let (Some(name), Some(value)) = (&r.record_name, &r.record_value) else {
                continue;
            };
            let manual = r.dns_mode.as_deref() == Some("manual");
            let timeout = if manual {
                Duration::from_secs(3)
            } else {
                Duration::from_secs(self.app.settings.ssl_dns_propagation_secs)
            };
            match dns::wait_visible(self.app, name, value, timeout).await {
                Ok(()) => {
                    let mut tx = self.app.db.begin().await?;
                    repo::set_validation_status(tx.conn(), &tenant, &r.id, "published", None)
                        .await?;
                    tx.commit().await?;
                }
                Err(e) => {
                    let mut tx = self.app.db.begin().await?;
                    repo::set_validation_status(
                        tx.conn(),
                        &tenant,
                        &r.id,
                        "pending",
                        Some(&e.to_string()),
                    )
                    .await?;
                    tx.commit().await?;
                    if !manual {
                        return Err(Stop::Retry {
                            kind: "dns_propagation",
                            message: format!("Panel1 published the record but {e}"),
                            after: None,
                        });
                    }
                    missing.push(r.clone());
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let lines = record_lines(&missing);
        let detail = format!(
            "create these DNS records, then call validateDomain (Panel1 also checks every {} s): {}",
            self.app.settings.ssl_manual_dns_poll_secs,
            lines.join("; ")
        );
        let now = Utc::now();
        let deadline = match self.cert.manual_deadline {
            Some(d) => d,
            None => {
                let d = now + chrono::Duration::days(3);
                let mut tx = self.app.db.begin().await?;
                repo::set_manual_deadline(tx.conn(), &tenant, &self.cert.id, Some(d)).await?;
                let all = repo::list_validations(tx.conn(), &tenant, &self.cert.id).await?;
                email_client(
                    self.app,
                    &mut tx,
                    &self.cert,
                    "ssl_dns_records",
                    serde_json::json!({ "records": record_lines(&all), "deadline": d.format("%Y-%m-%d %H:%M UTC").to_string() }),
                    format!("ssl-dns:{}:{}", self.cert.id, self.cert.order_url.clone().unwrap_or_default()),
                )
                .await
                .map_err(|e| Stop::Retry {
                    kind: "email",
                    message: e.to_string(),
                    after: None,
                })?;
                tx.commit().await?;
                self.cert.manual_deadline = Some(d);
                d
            }
        };
        if now > deadline {
            return Err(Stop::Fail {
                kind: "dns_records",
                message: format!(
                    "the DNS records were not found on the authoritative name servers before {}: {}",
                    deadline.format("%Y-%m-%d %H:%M UTC"),
                    lines.join("; ")
                ),
            });
        }
        self.set_status("awaiting_validation", Some(&detail))
            .await?;
        Err(Stop::Wait {
            message: "waiting for manually created DNS records".into(),
            at: (now
                + chrono::Duration::seconds(
                    i64::try_from(self.app.settings.ssl_manual_dns_poll_secs).unwrap_or(300),
                ))
            .min(deadline + chrono::Duration::seconds(1)),
        })
    }

    /// An invalid order: record each identifier's error and fail with the CA's words.
    async fn invalid(&mut self, order: &Order) -> Stop {
        let tenant = self.tenant().clone();
        let mut details = Vec::new();
        let result = async {
            let mut tx = self.app.db.begin().await?;
            for a in &order.authorizations {
                let error = a
                    .challenges
                    .iter()
                    .find_map(|c| c.error.as_ref())
                    .map(|p| p.to_string());
                let existing = repo::get_validation_by_identifier(
                    tx.conn(),
                    &tenant,
                    &self.cert.id,
                    &a.identifier,
                )
                .await?;
                if let Some(r) = existing {
                    let failed = a.status != panel1_ca::authority::AuthorizationStatus::Valid;
                    repo::set_validation_status(
                        tx.conn(),
                        &tenant,
                        &r.id,
                        if failed { "invalid" } else { "valid" },
                        error.as_deref().filter(|_| failed),
                    )
                    .await?;
                }
                if let Some(e) = error {
                    details.push(format!("{}: {e}", a.identifier));
                }
            }
            tx.commit().await
        }
        .await;
        if let Err(e) = result {
            return Stop::Store(e);
        }
        let mut message = match &order.error {
            Some(p) => format!("the CA found the order invalid: {p}"),
            None => "the CA found the order invalid".to_owned(),
        };
        if !details.is_empty() {
            message.push_str(&format!(" ({})", details.join("; ")));
        }
        message.push_str("; fix the records and renew to place a new order");
        Stop::Fail {
            kind: "validation",
            message,
        }
    }

    async fn finalize(&mut self, order: &Order, key: &PrivateKey) -> Result<Order, Stop> {
        self.set_status("issuing", None).await?;
        let csr = key.csr(&self.identifiers()?).map_err(|e| Stop::Fail {
            kind: "key",
            message: e.to_string(),
        })?;
        let acme = self.acme()?.clone();
        let o = self
            .step("finalize", self.ca.finalize(&acme, &order.url, &csr))
            .await?;
        let mut tx = self.app.db.begin().await?;
        repo::set_order(
            tx.conn(),
            self.tenant(),
            &self.cert.id,
            Some(&o.url),
            Some(order_status(o.status)),
        )
        .await?;
        tx.commit().await?;
        Ok(o)
    }

    /// Downloads and checks the chain, then records the certificate, its renewal plan, the
    /// replacement of the old one and its events together with the job's completion.
    async fn download(&mut self, order: &Order, key: &PrivateKey) -> Result<(), Stop> {
        let acme = self.acme()?.clone();
        let chain = self
            .step(
                "download",
                self.ca.certificate(&acme, &order.url, &poll_policy()),
            )
            .await?;
        let names = self.identifiers()?;
        if !chain.matches_key(key) {
            return Err(Stop::Fail {
                kind: "mismatch",
                message: "the issued certificate does not hold the key of the request; it was not accepted".into(),
            });
        }
        if !chain.names_match(&names) {
            return Err(Stop::Fail {
                kind: "mismatch",
                message: format!(
                    "the issued certificate names {} instead of {names}; it was not accepted",
                    chain.leaf.names.join(", ")
                ),
            });
        }
        let plan = self.renewal_plan(&acme, &chain).await;
        self.cleanup().await;
        let tenant = self.tenant().clone();
        let scope = self.scope();
        let leaf = &chain.leaf;
        let mut tx = self.app.db.begin().await?;
        let stored = repo::set_issued(
            tx.conn(),
            &tenant,
            &self.cert.id,
            &Issued {
                serial: &leaf.serial_hex,
                issuer: &leaf.issuer,
                subject: &leaf.subject,
                sans: &leaf.names,
                fingerprint: &leaf.fingerprint_sha256,
                ari_id: leaf.ari_id.as_deref(),
                not_before: leaf.not_before,
                not_after: leaf.not_after,
                chain_pem: &chain.fullchain_pem,
            },
        )
        .await?;
        if !stored {
            // Another run recorded it first.
            self.job
                .complete_in(&mut tx)
                .await
                .map_err(|e| Stop::Retry {
                    kind: "job",
                    message: e.to_string(),
                    after: None,
                })?;
            tx.commit().await?;
            return Ok(());
        }
        repo::set_renewal(tx.conn(), &tenant, &self.cert.id, &plan.as_plan()).await?;
        let mut kind = "ssl.certificate.issued";
        let mut moved = Vec::new();
        if let Some(old_id) = self.cert.replaces_id.clone() {
            repo::mark_replaced(tx.conn(), &tenant, &old_id, &self.cert.id).await?;
            moved = installs::move_to(tx.conn(), &tenant, &old_id, &self.cert.id).await?;
            kind = "ssl.certificate.renewed";
        }
        let cert = repo::get(tx.conn(), &scope, &self.cert.id)
            .await?
            .ok_or(StoreError::NotFound)?;
        certificate_event(&mut tx, "ssl.certificate.issued", &cert, None).await?;
        if kind == "ssl.certificate.renewed" {
            certificate_event(
                &mut tx,
                kind,
                &cert,
                Some(serde_json::json!({ "replaced_serial": cert.replaces_serial })),
            )
            .await?;
        }
        for i in &moved {
            panel1_jobs::enqueue(
                &mut tx,
                &InstallCertificate {
                    tenant_id: tenant.clone(),
                    installation_id: i.id.clone(),
                    certificate_id: cert.id.clone(),
                },
                EnqueueOptions {
                    tenant_id: Some(tenant.clone()),
                    ..Default::default()
                },
            )
            .await?;
        }
        audit::record_as(
            &mut tx,
            &tenant,
            &Actor::system("certificates"),
            None,
            Change {
                action: "certificate.issued",
                object_type: "certificate",
                object_id: cert.id.as_str(),
                summary: format!(
                    "certificate for {} issued (serial {}){}",
                    cert.names.join(", "),
                    leaf.serial_hex,
                    cert.replaces_serial
                        .as_deref()
                        .map(|s| format!(", replacing serial {s}"))
                        .unwrap_or_default()
                ),
                before: None,
                after: Some(serde_json::to_value(&cert).map_err(StoreError::corrupt)?),
            },
        )
        .await
        .map_err(|e| Stop::Retry {
            kind: "audit",
            message: e.to_string(),
            after: None,
        })?;
        self.job
            .complete_in(&mut tx)
            .await
            .map_err(|e| Stop::Retry {
                kind: "job",
                message: e.to_string(),
                after: None,
            })?;
        tx.commit().await?;
        tracing::info!(serial = %leaf.serial_hex, not_after = %leaf.not_after, "certificate issued");
        Ok(())
    }

    async fn renewal_plan(&self, acme: &panel1_ca::CaAccount, chain: &CertificateChain) -> Plan {
        let leaf = &chain.leaf;
        let now = Utc::now();
        let ari = ari_window(self.ca.as_ref(), acme, leaf).await;
        let window = ari.as_ref().map(|(w, _)| *w);
        let t = renewal_time(leaf.not_before, leaf.not_after, window.as_ref(), now);
        Plan {
            at: t.at,
            basis: t.basis,
            window,
            next_check: ari.map(|(_, next)| next),
        }
    }

    /// Removes what was published for the challenges (best effort).
    async fn cleanup(&self) {
        let tenant = self.tenant();
        let records = match self.app.db.read().await {
            Ok(mut r) => repo::list_validations(r.conn(), tenant, &self.cert.id)
                .await
                .unwrap_or_default(),
            Err(_) => return,
        };
        for r in records {
            if let (Some(name), Some(value)) = (&r.record_name, &r.record_value)
                && matches!(r.dns_mode.as_deref(), Some("hosted" | "provider"))
            {
                let target = r.effective_name.clone().unwrap_or_else(|| name.clone());
                if let Some(p) = dns::publisher_at(self.app, tenant, &target).await
                    && let Err(e) = p.remove(&target, value).await
                {
                    tracing::warn!(record = %target, error = %e, "could not remove a DNS-01 record");
                }
            }
            if let (Some(root), Some(token)) = (&self.cert.webroot, &r.http_token) {
                let path = std::path::Path::new(root)
                    .join(".well-known/acme-challenge")
                    .join(token);
                if token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    let _ = tokio::fs::remove_file(path).await;
                }
            }
        }
    }
}

fn order_status(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Pending => "pending",
        OrderStatus::Ready => "ready",
        OrderStatus::Processing => "processing",
        OrderStatus::Valid => "valid",
        OrderStatus::Invalid => "invalid",
        OrderStatus::AwaitingOrganizationValidation => "awaiting_organization_validation",
    }
}

struct Plan {
    at: DateTime<Utc>,
    basis: RenewalBasis,
    window: Option<RenewalWindow>,
    next_check: Option<DateTime<Utc>>,
}

impl Plan {
    fn as_plan(&self) -> RenewalPlan<'static> {
        RenewalPlan {
            renew_at: self.at,
            basis: match self.basis {
                RenewalBasis::AriWindow => "ari_window",
                RenewalBasis::Lifetime => "lifetime",
            },
            ari_window: self.window.map(|w| (w.start, w.end)),
            ari_next_check: self.next_check,
        }
    }
}

/// The CA's renewal window (RFC 9773) and when to ask again, when the CA offers it.
async fn ari_window(
    ca: &dyn CertificateAuthority,
    acme: &panel1_ca::CaAccount,
    leaf: &panel1_ca::CertificateInfo,
) -> Option<(RenewalWindow, DateTime<Utc>)> {
    let offered = tokio::time::timeout(Duration::from_secs(10), ca.directory())
        .await
        .ok()?
        .ok()?
        .renewal_info;
    if !offered || leaf.ari_id.is_none() {
        return None;
    }
    match tokio::time::timeout(Duration::from_secs(10), ca.renewal_info(acme, leaf)).await {
        Ok(Ok(info)) => Some((
            info.window,
            Utc::now() + chrono::Duration::from_std(info.retry_after).unwrap_or_default(),
        )),
        Ok(Err(e)) => {
            tracing::info!(error = %e, "no renewal information from the CA");
            None
        }
        Err(_) => None,
    }
}

// ---------------------------------------------------------------- revoke

/// Revokes a certificate at its CA.
#[derive(Debug, Serialize, Deserialize)]
pub struct RevokeCertificate {
    pub tenant_id: TenantId,
    pub certificate_id: CertificateId,
}

pub(crate) fn parse_reason(s: &str) -> Option<RevocationReason> {
    Some(match s {
        "unspecified" => RevocationReason::Unspecified,
        "key_compromise" => RevocationReason::KeyCompromise,
        "affiliation_changed" => RevocationReason::AffiliationChanged,
        "superseded" => RevocationReason::Superseded,
        "cessation_of_operation" => RevocationReason::CessationOfOperation,
        _ => return None,
    })
}

#[async_trait]
impl Job for RevokeCertificate {
    const KIND: &'static str = "ssl::revoke";
    const MAX_ATTEMPTS: i64 = 8;
    type Context = App;

    fn unique_key(&self) -> Option<String> {
        Some(self.certificate_id.to_string())
    }

    #[tracing::instrument(skip_all, fields(certificate = %self.certificate_id))]
    async fn run(&self, app: &App, job: &JobContext) -> Result<(), JobError> {
        let scope = Scope::tenant(self.tenant_id.clone());
        let tenant = &self.tenant_id;
        let (cert, account) = {
            let mut r = app.db.read().await?;
            let Some(cert) = repo::get(r.conn(), &scope, &self.certificate_id).await? else {
                return Err(JobError::permanent("the certificate no longer exists"));
            };
            let account = ca_accounts::get_any(r.conn(), tenant, &cert.ca_account_id).await?;
            (cert, account)
        };
        if cert.status != "revoking" {
            return Ok(());
        }
        let back = |cert: &Certificate| {
            if cert.not_after.is_some_and(|na| na < Utc::now()) {
                "expired"
            } else if cert.replaced_by_id.is_some() {
                "replaced"
            } else {
                "issued"
            }
        };
        let outcome: Result<(), String> = async {
            let account = account.ok_or("the CA account no longer exists")?;
            let ca = accounts::authority(app, &account).map_err(|e| e.to_string())?;
            let acme =
                accounts::registered(app, ca.as_ref(), &account, Some(&cert.id), Some(&job.id))
                    .await
                    .map_err(|e| e.to_string())?;
            let chain = CertificateChain::from_pem(cert.chain_pem.as_deref().unwrap_or_default())
                .map_err(|e| e.to_string())?;
            let reason = parse_reason(cert.revocation_reason.as_deref().unwrap_or("unspecified"))
                .unwrap_or_default();
            let (r, calls) = record_calls(ca.revoke(&acme, chain.leaf_der(), reason)).await;
            accounts::log_calls(
                app,
                tenant,
                Some(&cert.id),
                &account.id,
                "revoke",
                &calls,
                Some(&job.id),
            )
            .await;
            match r {
                Ok(()) => Ok(()),
                Err(CaError::Rejected { problem, .. })
                    if problem.short_kind() == Some("alreadyRevoked") =>
                {
                    Ok(())
                }
                Err(e) if e.is_retryable() && !job.is_last_attempt() => Err(format!("retry:{e}")),
                Err(e) => Err(e.to_string()),
            }
        }
        .await;
        let mut tx = app.db.begin().await?;
        match outcome {
            Ok(()) => {
                repo::set_revoked(tx.conn(), tenant, &cert.id).await?;
                let cert = repo::get(tx.conn(), &scope, &cert.id)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                certificate_event(&mut tx, "ssl.certificate.revoked", &cert, None).await?;
                job.complete_in(&mut tx).await?;
                tx.commit().await?;
                tracing::info!("certificate revoked");
                Ok(())
            }
            Err(m) if m.starts_with("retry:") => {
                drop(tx);
                Err(JobError::Retry(m.trim_start_matches("retry:").to_owned()))
            }
            Err(m) => {
                let detail = format!("the revocation failed: {m}");
                repo::set_status(
                    tx.conn(),
                    tenant,
                    &cert.id,
                    back(&cert),
                    Some(&detail),
                    Some("revocation"),
                )
                .await?;
                job.complete_in(&mut tx).await?;
                tx.commit().await?;
                tracing::warn!(error = %m, "revocation failed");
                Ok(())
            }
        }
    }
}

// ---------------------------------------------------------------- install

/// Installs a certificate at one installation target and verifies it is served.
#[derive(Debug, Serialize, Deserialize)]
pub struct InstallCertificate {
    pub tenant_id: TenantId,
    pub installation_id: InstallationId,
    pub certificate_id: CertificateId,
}

#[async_trait]
impl Job for InstallCertificate {
    const KIND: &'static str = "ssl::install";
    const MAX_ATTEMPTS: i64 = 3;
    type Context = App;

    fn ordering_key(&self) -> Option<String> {
        Some(format!("cin:{}", self.installation_id))
    }

    fn backoff(attempt: i64) -> Duration {
        Duration::from_secs(5u64.saturating_mul(1 << attempt.clamp(0, 6)))
    }

    #[tracing::instrument(skip_all, fields(installation = %self.installation_id, certificate = %self.certificate_id))]
    async fn run(&self, app: &App, job: &JobContext) -> Result<(), JobError> {
        super::install::run(app, job, self).await
    }
}

// ---------------------------------------------------------------- schedules

/// Renewals that are due, ARI refreshes, expiry alerts.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RenewalSweep {}

#[async_trait]
impl Job for RenewalSweep {
    const KIND: &'static str = "ssl::renew_due";
    type Context = App;

    async fn run(&self, app: &App, job: &JobContext) -> Result<(), JobError> {
        let now = Utc::now();
        let mut items = 0i64;
        let mut failures = 0i64;
        {
            let mut tx = app.db.begin().await?;
            for d in repo::expire_past(tx.conn(), now).await? {
                if let Some(c) =
                    repo::get(tx.conn(), &Scope::tenant(d.tenant_id.clone()), &d.id).await?
                {
                    certificate_event(&mut tx, "ssl.certificate.expired", &c, None).await?;
                }
            }
            tx.commit().await?;
        }
        let ari = {
            let mut r = app.db.read().await?;
            repo::ari_due(r.conn(), now, 100).await?
        };
        for d in ari {
            if let Err(e) = refresh_ari(app, &d.tenant_id, &d.id).await {
                tracing::warn!(certificate = %d.id, error = %e, "refreshing the renewal window failed");
            }
        }
        let due = {
            let mut r = app.db.read().await?;
            repo::due_for_renewal(r.conn(), now, 500).await?
        };
        for d in due {
            items += 1;
            match super::service::start_renewal(app, &d.tenant_id, &d.id).await {
                Ok(_) => {}
                Err(e) => {
                    failures += 1;
                    tracing::warn!(certificate = %d.id, error = %e, "could not start a renewal");
                }
            }
        }
        let warn_before =
            now + chrono::Duration::days(i64::from(app.settings.ssl_expiry_warning_days));
        let expiring = {
            let mut r = app.db.read().await?;
            repo::expiring(r.conn(), warn_before, 1000).await?
        };
        for d in expiring {
            if let Err(e) = expiry_alert(app, &d.tenant_id, &d.id).await {
                tracing::warn!(certificate = %d.id, error = %e, "expiry alert failed");
            }
        }
        job.report(items, failures);
        let mut tx = app.db.begin().await?;
        job.complete_in(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn refresh_ari(app: &App, tenant: &TenantId, id: &CertificateId) -> Result<(), JobError> {
    let scope = Scope::tenant(tenant.clone());
    let (cert, account) = {
        let mut r = app.db.read().await?;
        let Some(cert) = repo::get(r.conn(), &scope, id).await? else {
            return Ok(());
        };
        let account = ca_accounts::get_any(r.conn(), tenant, &cert.ca_account_id).await?;
        (cert, account)
    };
    let Some(account) = account else {
        return Ok(());
    };
    let ca = accounts::authority(app, &account).map_err(JobError::retry)?;
    let acme = accounts::registered(app, ca.as_ref(), &account, Some(id), None)
        .await
        .map_err(JobError::retry)?;
    let chain = CertificateChain::from_pem(cert.chain_pem.as_deref().unwrap_or_default())
        .map_err(JobError::permanent)?;
    let ari = ari_window(ca.as_ref(), &acme, &chain.leaf).await;
    let now = Utc::now();
    let window = ari.as_ref().map(|(w, _)| *w);
    let t = renewal_time(
        chain.leaf.not_before,
        chain.leaf.not_after,
        window.as_ref(),
        now,
    );
    let plan = Plan {
        at: match (cert.renew_at, t.basis) {
            // Keep the drawn time while the window is unchanged.
            (Some(at), RenewalBasis::AriWindow)
                if window.is_some_and(|w| at >= w.start && at <= w.end) =>
            {
                at
            }
            _ => t.at,
        },
        basis: t.basis,
        window,
        next_check: Some(ari.map_or(now + chrono::Duration::hours(6), |(_, n)| n)),
    };
    let mut tx = app.db.begin().await?;
    repo::set_renewal(tx.conn(), tenant, id, &plan.as_plan()).await?;
    tx.commit().await?;
    Ok(())
}

/// Raises `ssl.certificate.expiring` and e-mails the client, once per threshold (21, 14, 7, 3,
/// 1 days), for a certificate that nothing replaced yet.
async fn expiry_alert(app: &App, tenant: &TenantId, id: &CertificateId) -> Result<(), JobError> {
    let scope = Scope::tenant(tenant.clone());
    let mut tx = app.db.begin().await?;
    let Some(cert) = repo::get(tx.conn(), &scope, id).await? else {
        return Ok(());
    };
    let Some(na) = cert.not_after else {
        return Ok(());
    };
    let days = (na - Utc::now()).num_days();
    let bucket = [1, 3, 7, 14, 21, 30]
        .into_iter()
        .find(|b| days < *b)
        .unwrap_or(i64::from(app.settings.ssl_expiry_warning_days));
    let open = repo::open_for_names(tx.conn(), tenant, &names_key(&cert.names)).await?;
    let queued = email_client(
        app,
        &mut tx,
        &cert,
        "ssl_expiring",
        serde_json::json!({
            "days": days,
            "not_after": na.format("%Y-%m-%d %H:%M UTC").to_string(),
            "renewing": open.is_some(),
            "error": cert.status_detail,
        }),
        format!("ssl-expiring:{id}:{bucket}"),
    )
    .await?;
    if queued {
        certificate_event(
            &mut tx,
            "ssl.certificate.expiring",
            &cert,
            Some(serde_json::json!({ "days_left": days })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The de-duplication key of a name set.
pub(crate) fn names_key(names: &[String]) -> String {
    IdentifierSet::new(names.iter().map(String::as_str))
        .map(|s| s.fingerprint())
        .unwrap_or_else(|_| panel1_core::crypto::sha256_hex(names.join(",").as_bytes()))
}

/// The daily probe of every installation.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct HealthSweep {}

#[async_trait]
impl Job for HealthSweep {
    const KIND: &'static str = "ssl::health";
    type Context = App;

    async fn run(&self, app: &App, job: &JobContext) -> Result<(), JobError> {
        let list = {
            let mut r = app.db.read().await?;
            installs::installed(r.conn(), 10_000).await?
        };
        let mut items = 0;
        let mut unhealthy = 0;
        for (tenant, id) in list {
            items += 1;
            match super::install::check_health(app, &tenant, &id).await {
                Ok(true) => {}
                Ok(false) => unhealthy += 1,
                Err(e) => {
                    unhealthy += 1;
                    tracing::warn!(installation = %id, error = %e, "health check failed");
                }
            }
        }
        job.report(items, unhealthy);
        let mut tx = app.db.begin().await?;
        job.complete_in(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}
