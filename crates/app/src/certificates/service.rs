//! What the API asks of certificates: issue, list, get, renew, revoke, download, the
//! validation records, and re-validating a domain.
//!
//! Every change validates its input first, then in one transaction writes the certificate
//! (and its subscription and invoice), enqueues the job that talks to the CA, appends the
//! event and records the audit entry. Nothing is sent to a CA inside a request.

use chrono::Utc;
use panel1_ca::identifiers::is_wildcard;
use panel1_ca::preflight::check_methods;
use panel1_ca::{IdentifierSet, PrivateKey, ValidationMethod};
use panel1_core::validate::Checker;
use panel1_core::{
    CaAccountId, CertificateId, CertificateProductId, ClientId, FieldError, JobId, Page,
    PageRequest, Scope, TenantId, ValidationError, ValidationRecordId,
};
use panel1_store::audit::Actor;
use panel1_store::ca_accounts;
use panel1_store::certificate_installations::{self as installs, Installation};
use panel1_store::certificates::{
    self as repo, CaOperation, Certificate, CertificateFilter, NewCertificate, Subscription,
    ValidationInput, ValidationRecord,
};
use panel1_store::{StoreError, Tx, clients};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::jobs::{RevokeCertificate, certificate_event, names_key, parse_reason, schedule_issue};
use super::products;
use crate::audit::{self, Change};
use crate::{App, AppError, AppResult, Caller};

/// A certificate to issue.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueInput {
    /// The client it is for (client users: their own, which is the default).
    pub client_id: Option<ClientId>,
    /// The names: one, several (SAN), or wildcards (`*.example.com`, DNS-01 only).
    #[schema(example = json!(["example.com", "www.example.com"]))]
    pub names: Vec<String>,
    /// The product sold (its price starts a subscription with an invoice). Without one the
    /// certificate is a free DV certificate.
    pub product_id: Option<CertificateProductId>,
    /// `http-01` (default without wildcards) or `dns-01` (default with wildcards).
    pub validation_method: Option<String>,
    /// DNS-01: `auto` (default: a zone Panel1 serves, else manual), `hosted` or `manual`.
    pub dns_mode: Option<String>,
    /// `ecdsa-p256` (default), `ecdsa-p384`, `rsa-2048`, `rsa-3072` or `rsa-4096`.
    pub key_type: Option<String>,
    /// The CA account (default: the product's, else the tenant's default).
    pub ca_account_id: Option<CaAccountId>,
    /// An ACME profile the CA offers.
    pub profile: Option<String>,
    /// Renew automatically (default true).
    pub auto_renew: Option<bool>,
    /// HTTP-01, staff only: also write the token under this document root (which must be
    /// inside one of the `ssl_install_dirs`).
    pub webroot: Option<String>,
    /// Pay the subscription's invoice from the client's credit at once (default true).
    pub pay_from_credit: Option<bool>,
}

/// An accepted request: the work goes on in a job.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub certificate: Certificate,
    pub subscription: Option<Subscription>,
    /// The job doing the work, when one was queued.
    pub job_id: Option<JobId>,
}

/// A certificate with its validation records and installations.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateDetail {
    #[serde(flatten)]
    pub certificate: Certificate,
    /// Days until `not_after`.
    pub days_left: Option<i64>,
    pub validations: Vec<ValidationRecord>,
    pub installations: Vec<Installation>,
    pub subscription: Option<Subscription>,
}

/// Why to revoke.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeInput {
    /// `unspecified` (default), `key_compromise`, `superseded`, `affiliation_changed` or
    /// `cessation_of_operation`.
    pub reason: Option<String>,
}

/// The certificate chain, and the private key when asked for.
#[derive(Serialize, ToSchema)]
pub struct CertificateDownload {
    pub certificate_id: CertificateId,
    pub serial: String,
    pub names: Vec<String>,
    pub not_after: Option<chrono::DateTime<Utc>>,
    /// The leaf certificate.
    pub certificate_pem: String,
    /// The intermediates.
    pub chain_pem: String,
    /// Leaf and intermediates.
    pub fullchain_pem: String,
    /// Only with `include_key=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key_pem: Option<String>,
}

impl std::fmt::Debug for CertificateDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateDownload")
            .field("certificate_id", &self.certificate_id)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

/// How to validate one identifier (createValidationRecord).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidationRecordInput {
    /// One of the certificate's names (`*.example.com` for a wildcard).
    pub identifier: String,
    /// `auto`, `hosted` (write it in a zone Panel1 serves, also through a CNAME delegation of
    /// `_acme-challenge`) or `manual` (the client creates it).
    pub dns_mode: String,
}

/// The outcome of re-checking a validation record (validateDomain).
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationCheck {
    pub record: ValidationRecord,
    /// Whether the record is served where the CA will look (DNS-01: on every authoritative
    /// name server of the zone).
    pub visible: bool,
    /// What was seen, when not visible.
    pub detail: Option<String>,
    /// The job that tells the CA, when the record is visible.
    pub job_id: Option<JobId>,
}

const METHODS: [&str; 2] = ["http-01", "dns-01"];
const DNS_MODES: [&str; 3] = ["auto", "hosted", "manual"];

/// Checks the names: canonical, each at most once; internationalised names are turned into
/// their A-label form.
fn parse_names(raw: &[String]) -> Result<IdentifierSet, ValidationError> {
    if raw.is_empty() {
        return Err(ValidationError::field(
            "",
            "required",
            "give at least one name",
        ));
    }
    let mut names = Vec::with_capacity(raw.len());
    for n in raw {
        let t = n.trim();
        let (wild, rest) = match t.strip_prefix("*.") {
            Some(r) => ("*.", r),
            None => ("", t),
        };
        if rest.is_ascii() {
            names.push(format!("{wild}{rest}"));
        } else {
            let d = panel1_core::domain_name::DomainName::parse(rest).map_err(|e| {
                ValidationError::field("", "name", format!("`{t}`: {}", e.summary()))
            })?;
            names.push(format!("{wild}{}", d.as_ascii()));
        }
    }
    IdentifierSet::new(names).map_err(|e| ValidationError::field("", "name", e.to_string()))
}

/// `issueCertificate`: places a certificate order (202; a job talks to the CA).
pub async fn issue(app: &App, caller: &Caller, input: &IssueInput) -> AppResult<Accepted> {
    let tenant = caller.tenant().clone();
    let scope = caller.scope();
    let staff = caller.principal.role.is_staff();
    let mut c = Checker::new();
    let client_id = match (&scope.client_id, &input.client_id) {
        (Some(mine), Some(asked)) if mine != asked => {
            return Err(AppError::not_found("client", asked));
        }
        (Some(mine), _) => Some(mine.clone()),
        (None, Some(asked)) => Some(asked.clone()),
        (None, None) => {
            c.push(FieldError::new(
                "client_id",
                "required",
                "name the client the certificate is for",
            ));
            None
        }
    };
    let names = c.take("names", parse_names(&input.names));
    let has_wildcard = names.as_ref().is_some_and(|n| n.has_wildcard());
    let method = input
        .validation_method
        .clone()
        .unwrap_or_else(|| if has_wildcard { "dns-01" } else { "http-01" }.into());
    if !METHODS.contains(&method.as_str()) {
        c.push(FieldError::new(
            "validation_method",
            "enum",
            "must be http-01 or dns-01",
        ));
    } else if let Some(n) = &names {
        let m = if method == "dns-01" {
            ValidationMethod::Dns01
        } else {
            ValidationMethod::Http01
        };
        if let Err(e) = check_methods(n, m) {
            c.push(FieldError::new(
                "validation_method",
                "wildcard",
                e.to_string(),
            ));
        }
    }
    let dns_mode = match (&input.dns_mode, method.as_str()) {
        (Some(m), "dns-01") if DNS_MODES.contains(&m.as_str()) => Some(m.clone()),
        (Some(_), "dns-01") => {
            c.push(FieldError::new(
                "dns_mode",
                "enum",
                "must be auto, hosted or manual",
            ));
            None
        }
        (Some(_), _) => {
            c.push(FieldError::new(
                "dns_mode",
                "forbidden",
                "dns_mode applies to dns-01 only",
            ));
            None
        }
        (None, "dns-01") => Some("auto".into()),
        (None, _) => None,
    };
    let profile = c.take("profile", products::check_profile(input.profile.as_deref()));
    let webroot = match &input.webroot {
        None => None,
        Some(_) if method != "http-01" => {
            c.push(FieldError::new(
                "webroot",
                "forbidden",
                "a webroot serves http-01 only",
            ));
            None
        }
        Some(_) if !staff => {
            c.push(FieldError::new(
                "webroot",
                "forbidden",
                "only staff may write tokens into a webroot",
            ));
            None
        }
        Some(w) => match super::install::allowed_path(app, w) {
            Ok(p) => Some(p.display().to_string()),
            Err(e) => {
                c.push(FieldError::new("webroot", "path", e));
                None
            }
        },
    };

    let mut tx = app.db.begin().await?;
    let product = match &input.product_id {
        Some(p) => {
            let found = repo::get_product(tx.conn(), &tenant, p).await?;
            if found.is_none() {
                c.push(FieldError::new(
                    "product_id",
                    "not_found",
                    format!("no certificate product `{p}` exists"),
                ));
            }
            found
        }
        None => None,
    };
    if let (Some(p), Some(n)) = (&product, &names) {
        let count = i64::try_from(n.len()).unwrap_or(i64::MAX);
        if count > p.max_names {
            c.push(FieldError::new(
                "names",
                "too_many",
                format!(
                    "the product `{}` covers at most {} name(s)",
                    p.name, p.max_names
                ),
            ));
        }
        match p.kind.as_str() {
            "dv_single" | "dv_multi" if n.has_wildcard() => c.push(FieldError::new(
                "names",
                "wildcard",
                format!(
                    "the product `{}` does not cover wildcard names; choose a wildcard product",
                    p.name
                ),
            )),
            "dv_wildcard" if !n.has_wildcard() => c.push(FieldError::new(
                "names",
                "wildcard",
                format!(
                    "the product `{}` is a wildcard certificate: include a name like *.example.com",
                    p.name
                ),
            )),
            _ => {}
        }
    }
    let key_type = input
        .key_type
        .clone()
        .or_else(|| product.as_ref().map(|p| p.key_type.clone()))
        .unwrap_or_else(|| "ecdsa-p256".into());
    let key_type = c.take("key_type", products::parse_key_type(&key_type));
    let account_id = input
        .ca_account_id
        .clone()
        .or_else(|| product.as_ref().and_then(|p| p.ca_account_id.clone()));
    if let Some(a) = &account_id
        && ca_accounts::get(tx.conn(), &tenant, a).await?.is_none()
    {
        c.push(FieldError::new(
            "ca_account_id",
            "not_found",
            format!("no CA account `{a}` exists"),
        ));
    }
    if let Some(cl) = &client_id
        && clients::get(tx.conn(), &scope, cl).await?.is_none()
    {
        c.push(FieldError::new(
            "client_id",
            "not_found",
            format!("no client `{cl}` exists"),
        ));
    }
    c.finish()?;
    drop(tx);
    let (Some(client_id), Some(names), Some(key_type), Some(profile)) =
        (client_id, names, key_type, profile)
    else {
        return Err(AppError::internal(anyhow::anyhow!(
            "validated input lost a field"
        )));
    };
    let account = match account_id {
        Some(a) => a,
        None => super::accounts::default_account(app, &tenant).await?.id,
    };
    let list: Vec<String> = names.names().to_vec();
    let key = names.fingerprint();
    let level = match product.as_ref().map(|p| p.kind.as_str()) {
        Some("ov") => "ov",
        Some("ev") => "ev",
        _ => "dv",
    };
    let profile = profile.or_else(|| product.as_ref().and_then(|p| p.profile.clone()));

    let mut tx = app.db.begin().await?;
    if let Some(open) = repo::open_for_names(tx.conn(), &tenant, &key).await? {
        return Err(duplicate(&open));
    }
    let actor = format!("user:{}", caller.principal.user_id);
    let sub = products::start(
        app,
        &mut tx,
        &products::NewSubscription {
            tenant: &tenant,
            client: &client_id,
            product: product.as_ref(),
            names: &list,
            pay: input.pay_from_credit.unwrap_or(true),
            actor: &actor,
        },
    )
    .await?;
    let (status, detail) = if level != "dv" {
        (
            "awaiting_organization_validation",
            Some(
                "OV/EV certificates wait for the CA to validate the organisation; Panel1 places the order once a commercial CA is connected",
            ),
        )
    } else if sub.status == "awaiting_payment" {
        (
            "awaiting_payment",
            Some("the subscription's invoice is not paid yet; the order is placed once it is"),
        )
    } else {
        ("pending", None)
    };
    let id = CertificateId::new();
    let user = caller.principal.user_id.to_string();
    let inserted = repo::insert(
        tx.conn(),
        &tenant,
        &NewCertificate {
            id: &id,
            client_id: &client_id,
            subscription_id: &sub.id,
            ca_account_id: &account,
            names: &list,
            names_key: &key,
            key_type: key_type.as_str(),
            validation_method: &method,
            dns_mode: dns_mode.as_deref(),
            validation_level: level,
            profile: profile.as_deref(),
            webroot: webroot.as_deref(),
            status,
            status_detail: detail,
            auto_renew: input.auto_renew.unwrap_or(true),
            replaces: None,
            created_by: Some(&user),
        },
    )
    .await;
    match inserted {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => {
            return Err(AppError::conflict(
                "a certificate for these names is already being issued; wait for it or look it up with listCertificates",
                Some("names"),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let job = if level == "dv" {
        Some(schedule_issue(&mut tx, &tenant, &id, Utc::now()).await?)
    } else {
        None
    };
    let cert = repo::get(tx.conn(), &scope, &id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("the new certificate vanished")))?;
    certificate_event(&mut tx, "ssl.certificate.requested", &cert, None).await?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "certificate.issue",
            object_type: "certificate",
            object_id: id.as_str(),
            summary: format!(
                "ordered a certificate for {} ({method}, {})",
                list.join(", "),
                key_type.as_str()
            ),
            before: None,
            after: Some(serde_json::to_value(&cert).map_err(AppError::internal)?),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Accepted {
        certificate: cert,
        subscription: Some(sub),
        job_id: job,
    })
}

fn duplicate(open: &Certificate) -> AppError {
    AppError::conflict(
        format!(
            "certificate {} for these names is already being issued (status {}); wait for it, or follow it with getCertificate",
            open.id, open.status
        ),
        Some("names"),
    )
}

/// `listCertificates`: newest first; client users see their own.
pub async fn list(
    app: &App,
    caller: &Caller,
    filter: &CertificateFilter,
    page: PageRequest,
) -> AppResult<Page<Certificate>> {
    let mut r = app.db.read().await?;
    let (items, total) = repo::list(r.conn(), &caller.scope(), filter, page).await?;
    Ok(Page::new(items, page, total))
}

async fn visible(app: &App, caller: &Caller, id: &CertificateId) -> AppResult<Certificate> {
    let mut r = app.db.read().await?;
    repo::get(r.conn(), &caller.scope(), id)
        .await?
        .ok_or_else(|| AppError::not_found("certificate", id))
}

/// `getCertificate`: the certificate with its validation records and installations.
pub async fn get(app: &App, caller: &Caller, id: &CertificateId) -> AppResult<CertificateDetail> {
    let mut r = app.db.read().await?;
    let scope = caller.scope();
    let cert = repo::get(r.conn(), &scope, id)
        .await?
        .ok_or_else(|| AppError::not_found("certificate", id))?;
    let validations = repo::list_validations(r.conn(), &scope.tenant_id, id).await?;
    let installations = installs::list_for_certificate(r.conn(), &scope.tenant_id, id).await?;
    let subscription = repo::get_subscription(r.conn(), &scope, &cert.subscription_id).await?;
    Ok(CertificateDetail {
        days_left: cert.not_after.map(|na| (na - Utc::now()).num_days()),
        certificate: cert,
        validations,
        installations,
        subscription,
    })
}

/// Creates the certificate that replaces `old` (same names, method, key type, CA account,
/// subscription) and queues its issuance. `None` when another order for the names is open.
pub(crate) async fn create_replacement(
    tx: &mut Tx,
    old: &Certificate,
    status: &str,
    detail: Option<&str>,
    created_by: &str,
) -> AppResult<Option<(Certificate, Option<JobId>)>> {
    let tenant = &old.tenant_id;
    let key = names_key(&old.names);
    if repo::open_for_names(tx.conn(), tenant, &key)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    // A failed order is retried as a new one replacing what the failed one was to replace.
    let (replaces, serial) = if old.status == "failed" {
        (old.replaces_id.clone(), old.replaces_serial.clone())
    } else {
        (Some(old.id.clone()), old.serial.clone())
    };
    let id = CertificateId::new();
    let inserted = repo::insert(
        tx.conn(),
        tenant,
        &NewCertificate {
            id: &id,
            client_id: &old.client_id,
            subscription_id: &old.subscription_id,
            ca_account_id: &old.ca_account_id,
            names: &old.names,
            names_key: &key,
            key_type: &old.key_type,
            validation_method: &old.validation_method,
            dns_mode: old.dns_mode.as_deref(),
            validation_level: &old.validation_level,
            profile: old.profile.as_deref(),
            webroot: old.webroot.as_deref(),
            status,
            status_detail: detail,
            auto_renew: old.auto_renew,
            replaces: replaces.as_ref().map(|r| (r, serial.as_deref())),
            created_by: Some(created_by),
        },
    )
    .await;
    match inserted {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let job = if status == "pending" || status == "awaiting_payment" {
        Some(schedule_issue(tx, tenant, &id, Utc::now()).await?)
    } else {
        None
    };
    let cert = repo::get(tx.conn(), &Scope::tenant(tenant.clone()), &id)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("the new certificate vanished")))?;
    Ok(Some((cert, job)))
}

/// The status a replacement starts in, given its subscription.
async fn replacement_status(
    app: &App,
    tx: &mut Tx,
    old: &Certificate,
) -> AppResult<Result<(&'static str, Option<&'static str>), String>> {
    let scope = Scope::tenant(old.tenant_id.clone());
    let Some(sub) = repo::get_subscription(tx.conn(), &scope, &old.subscription_id).await? else {
        return Ok(Ok(("pending", None)));
    };
    if products::covers(app, tx, &sub, Utc::now()).await? {
        return Ok(Ok(("pending", None)));
    }
    let sub = repo::get_subscription(tx.conn(), &scope, &old.subscription_id)
        .await?
        .unwrap_or(sub);
    match sub.status.as_str() {
        "awaiting_payment" => Ok(Ok((
            "awaiting_payment",
            Some(
                "the subscription's next term is invoiced and not paid yet; the order is placed once it is",
            ),
        ))),
        other => Ok(Err(format!(
            "the certificate subscription {} is {other}: it does not cover a renewal; order a new certificate",
            sub.id
        ))),
    }
}

/// Starts the scheduled renewal of a certificate (the renewal sweep).
pub(crate) async fn start_renewal(
    app: &App,
    tenant: &TenantId,
    id: &CertificateId,
) -> AppResult<Option<CertificateId>> {
    let scope = Scope::tenant(tenant.clone());
    let mut tx = app.db.begin().await?;
    let Some(old) = repo::get(tx.conn(), &scope, id).await? else {
        return Ok(None);
    };
    if old.status != "issued" || old.replaced_by_id.is_some() {
        return Ok(None);
    }
    let (status, detail) = match replacement_status(app, &mut tx, &old).await? {
        Ok(s) => s,
        Err(why) => {
            repo::set_auto_renew(tx.conn(), tenant, id, false).await?;
            repo::set_status(
                tx.conn(),
                tenant,
                id,
                "issued",
                Some(&why),
                Some("subscription"),
            )
            .await?;
            tx.commit().await?;
            return Ok(None);
        }
    };
    let Some((cert, _job)) =
        create_replacement(&mut tx, &old, status, detail, "system:renewal").await?
    else {
        // Something is already being issued for these names; look again later.
        repo::renewal_failed(
            tx.conn(),
            tenant,
            id,
            Utc::now() + chrono::Duration::hours(1),
        )
        .await?;
        tx.commit().await?;
        return Ok(None);
    };
    certificate_event(&mut tx, "ssl.certificate.renewing", &cert, None).await?;
    audit::record_as(
        &mut tx,
        tenant,
        &Actor::system("certificates"),
        None,
        Change {
            action: "certificate.renew",
            object_type: "certificate",
            object_id: cert.id.as_str(),
            summary: format!(
                "renewal of {} (serial {}) started",
                old.names.join(", "),
                old.serial.as_deref().unwrap_or("?")
            ),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(certificate = %old.id, renewal = %cert.id, "renewal started");
    Ok(Some(cert.id))
}

/// `renewCertificate`: orders the certificate again now (an issued or expired one is
/// replaced when the new one is issued; a failed one is tried again as a new order).
pub async fn renew(app: &App, caller: &Caller, id: &CertificateId) -> AppResult<Accepted> {
    let scope = caller.scope();
    let mut tx = app.db.begin().await?;
    let old = repo::get(tx.conn(), &scope, id)
        .await?
        .ok_or_else(|| AppError::not_found("certificate", id))?;
    match old.status.as_str() {
        "issued" | "expired" | "failed" => {}
        "replaced" => {
            return Err(AppError::conflict(
                format!(
                    "this certificate was replaced by {}; renew that one",
                    old.replaced_by_id
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                ),
                None,
            ));
        }
        s if old.is_open() => {
            return Err(AppError::conflict(
                format!("the certificate is still being issued (status {s}); wait for it"),
                None,
            ));
        }
        s => {
            return Err(AppError::conflict(
                format!("a {s} certificate cannot be renewed; order a new one"),
                None,
            ));
        }
    }
    let (status, detail) = match replacement_status(app, &mut tx, &old).await? {
        Ok(s) => s,
        Err(why) => return Err(AppError::conflict(why, None)),
    };
    let user = format!("user:{}", caller.principal.user_id);
    let Some((cert, job)) = create_replacement(&mut tx, &old, status, detail, &user).await? else {
        let open =
            repo::open_for_names(tx.conn(), &scope.tenant_id, &names_key(&old.names)).await?;
        return Err(match open {
            Some(o) => duplicate(&o),
            None => AppError::conflict("another order for these names is being placed", None),
        });
    };
    certificate_event(&mut tx, "ssl.certificate.renewing", &cert, None).await?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "certificate.renew",
            object_type: "certificate",
            object_id: cert.id.as_str(),
            summary: format!(
                "renewing {} (replaces {}{})",
                old.names.join(", "),
                old.id,
                old.serial
                    .as_deref()
                    .map(|s| format!(", serial {s}"))
                    .unwrap_or_default()
            ),
            before: None,
            after: Some(serde_json::to_value(&cert).map_err(AppError::internal)?),
        },
    )
    .await?;
    let sub = repo::get_subscription(tx.conn(), &scope, &cert.subscription_id).await?;
    tx.commit().await?;
    Ok(Accepted {
        certificate: cert,
        subscription: sub,
        job_id: job,
    })
}

/// `revokeCertificate`: queues the revocation at the CA (staff, or the owning client).
pub async fn revoke(
    app: &App,
    caller: &Caller,
    id: &CertificateId,
    input: &RevokeInput,
) -> AppResult<Accepted> {
    let reason = input.reason.clone().unwrap_or_else(|| "unspecified".into());
    if parse_reason(&reason).is_none() {
        return Err(ValidationError::field(
            "reason",
            "enum",
            "must be unspecified, key_compromise, superseded, affiliation_changed or cessation_of_operation",
        )
        .into());
    }
    let scope = caller.scope();
    let mut tx = app.db.begin().await?;
    let cert = repo::get(tx.conn(), &scope, id)
        .await?
        .ok_or_else(|| AppError::not_found("certificate", id))?;
    if !repo::set_revoking(tx.conn(), &scope.tenant_id, id, &reason).await? {
        return Err(AppError::conflict(
            format!(
                "only issued certificates can be revoked; this one is {}",
                cert.status
            ),
            None,
        ));
    }
    let job = panel1_jobs::enqueue(
        &mut tx,
        &RevokeCertificate {
            tenant_id: scope.tenant_id.clone(),
            certificate_id: id.clone(),
        },
        panel1_jobs::EnqueueOptions {
            tenant_id: Some(scope.tenant_id.clone()),
            ..Default::default()
        },
    )
    .await?;
    let after = repo::get(tx.conn(), &scope, id)
        .await?
        .ok_or_else(|| AppError::not_found("certificate", id))?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "certificate.revoke",
            object_type: "certificate",
            object_id: id.as_str(),
            summary: format!(
                "revoking {} (serial {}, reason {reason})",
                cert.names.join(", "),
                cert.serial.as_deref().unwrap_or("?")
            ),
            before: Some(serde_json::to_value(&cert).map_err(AppError::internal)?),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Accepted {
        certificate: after,
        subscription: None,
        job_id: Some(job.id().clone()),
    })
}

/// `downloadCertificate`: the chain; the private key only when asked for explicitly, by
/// staff or by the client that owns the certificate, and every such download is audited.
pub async fn download(
    app: &App,
    caller: &Caller,
    id: &CertificateId,
    include_key: bool,
) -> AppResult<CertificateDownload> {
    let cert = visible(app, caller, id).await?;
    let (Some(pem), Some(serial)) = (&cert.chain_pem, &cert.serial) else {
        return Err(AppError::conflict(
            format!(
                "the certificate is {}: there is nothing to download yet",
                cert.status
            ),
            None,
        ));
    };
    let chain = panel1_ca::CertificateChain::from_pem(pem).map_err(AppError::internal)?;
    let private_key_pem = if include_key {
        let sealed = cert
            .private_key_sealed
            .as_deref()
            .ok_or_else(|| AppError::conflict("this certificate has no stored key", None))?;
        let secret = app.keyring.open_str(&super::key_context(id), sealed)?;
        // Parse it, so only a real key leaves.
        let key = PrivateKey::from_secret(&secret).map_err(AppError::internal)?;
        let mut tx = app.db.begin().await?;
        audit::record(
            &mut tx,
            caller,
            Change {
                action: "certificate.private_key.download",
                object_type: "certificate",
                object_id: id.as_str(),
                summary: format!(
                    "downloaded the private key of the certificate for {} (serial {serial})",
                    cert.names.join(", ")
                ),
                before: None,
                after: None,
            },
        )
        .await?;
        tx.commit().await?;
        tracing::info!(certificate = %id, user = %caller.principal.user_id, "private key downloaded");
        Some(key.expose_pem().to_owned())
    } else {
        None
    };
    Ok(CertificateDownload {
        certificate_id: cert.id.clone(),
        serial: serial.clone(),
        names: cert.names.clone(),
        not_after: cert.not_after,
        certificate_pem: chain.certificate_pem,
        chain_pem: chain.chain_pem,
        fullchain_pem: chain.fullchain_pem,
        private_key_pem,
    })
}

/// `listValidationRecords`.
pub async fn list_validations(
    app: &App,
    caller: &Caller,
    id: &CertificateId,
) -> AppResult<Vec<ValidationRecord>> {
    let cert = visible(app, caller, id).await?;
    let mut r = app.db.read().await?;
    Ok(repo::list_validations(r.conn(), &cert.tenant_id, id).await?)
}

/// `createValidationRecord`: sets how one identifier is validated (a zone Panel1 serves, or
/// a record the client creates) and publishes it.
pub async fn create_validation(
    app: &App,
    caller: &Caller,
    id: &CertificateId,
    input: &ValidationRecordInput,
) -> AppResult<ValidationCheck> {
    let mut c = Checker::new();
    if !DNS_MODES.contains(&input.dns_mode.as_str()) {
        c.push(FieldError::new(
            "dns_mode",
            "enum",
            "must be auto, hosted or manual",
        ));
    }
    let identifier = input
        .identifier
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let cert = visible(app, caller, id).await?;
    if !cert.names.contains(&identifier) {
        c.push(FieldError::new(
            "identifier",
            "not_found",
            format!(
                "`{identifier}` is not one of the certificate's names ({})",
                cert.names.join(", ")
            ),
        ));
    }
    c.finish()?;
    if cert.validation_method != "dns-01" {
        return Err(AppError::conflict(
            "this certificate validates with http-01: Panel1 serves the token itself",
            Some("identifier"),
        ));
    }
    if !cert.is_open() {
        return Err(AppError::conflict(
            format!(
                "the certificate is {}: nothing is being validated",
                cert.status
            ),
            None,
        ));
    }
    let tenant = cert.tenant_id.clone();
    let base = identifier.trim_start_matches("*.").to_owned();
    let record_name = format!("_acme-challenge.{base}");
    if input.dns_mode == "hosted"
        && super::dns::plan(app, &tenant, &identifier, &record_name, "hosted")
            .await
            .is_err()
    {
        return Err(ValidationError::field(
            "dns_mode",
            "not_hosted",
            format!(
                "neither {record_name} nor its CNAME target is in a zone Panel1 serves: host the zone in Panel1 or delegate {record_name} with a CNAME first"
            ),
        )
        .into());
    }
    let mut tx = app.db.begin().await?;
    let existing = repo::get_validation_by_identifier(tx.conn(), &tenant, id, &identifier).await?;
    let record = match existing {
        Some(r) => {
            repo::set_validation_dns(
                tx.conn(),
                &tenant,
                &r.id,
                &input.dns_mode,
                r.effective_name.as_deref(),
            )
            .await?;
            r
        }
        None => {
            repo::upsert_validation(
                tx.conn(),
                &tenant,
                id,
                &ValidationInput {
                    identifier: &identifier,
                    method: "dns-01",
                    dns_mode: Some(&input.dns_mode),
                    record_name: Some(&record_name),
                    record_value: None,
                    http_token: None,
                    key_authorization: None,
                    authorization_url: None,
                    challenge_url: None,
                    status: "pending",
                },
            )
            .await?
        }
    };
    repo::set_manual_deadline(tx.conn(), &tenant, id, None).await?;
    let job = schedule_issue(&mut tx, &tenant, id, Utc::now()).await?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "certificate.validation.set",
            object_type: "certificate",
            object_id: id.as_str(),
            summary: format!("{identifier} now validates with {} DNS-01", input.dns_mode),
            before: None,
            after: None,
        },
    )
    .await?;
    let record = repo::get_validation(tx.conn(), &tenant, id, &record.id)
        .await?
        .unwrap_or(record);
    tx.commit().await?;
    Ok(ValidationCheck {
        record,
        visible: false,
        detail: None,
        job_id: Some(job),
    })
}

/// `validateDomain`: re-checks a validation record where the CA will look and, when it is
/// there, has the job tell the CA now.
pub async fn validate(
    app: &App,
    caller: &Caller,
    id: &CertificateId,
    record_id: &ValidationRecordId,
) -> AppResult<ValidationCheck> {
    let cert = visible(app, caller, id).await?;
    let tenant = cert.tenant_id.clone();
    let record = {
        let mut r = app.db.read().await?;
        repo::get_validation(r.conn(), &tenant, id, record_id)
            .await?
            .ok_or_else(|| AppError::not_found("validation record", record_id))?
    };
    if !cert.is_open() {
        return Err(AppError::conflict(
            format!(
                "the certificate is {}: nothing is being validated",
                cert.status
            ),
            None,
        ));
    }
    let (visible, detail) = match (&record.record_name, &record.record_value) {
        (Some(name), Some(value)) if record.method == "dns-01" => {
            match super::dns::wait_visible(app, name, value, std::time::Duration::from_secs(5))
                .await
            {
                Ok(()) => (true, None),
                Err(e) => (false, Some(e.to_string())),
            }
        }
        (_, None) if record.method == "dns-01" => (
            false,
            Some("the CA has not given the value yet; the order is being placed".into()),
        ),
        _ => (true, None),
    };
    let mut tx = app.db.begin().await?;
    let job = if visible {
        repo::set_manual_deadline(tx.conn(), &tenant, id, None).await?;
        Some(schedule_issue(&mut tx, &tenant, id, Utc::now()).await?)
    } else {
        repo::set_validation_status(
            tx.conn(),
            &tenant,
            record_id,
            &record.status,
            detail.as_deref(),
        )
        .await?;
        None
    };
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "certificate.validate",
            object_type: "certificate",
            object_id: id.as_str(),
            summary: format!(
                "re-checked the validation of {}: {}",
                record.identifier,
                if visible {
                    "visible, the CA is told"
                } else {
                    "not visible yet"
                }
            ),
            before: None,
            after: None,
        },
    )
    .await?;
    let record = repo::get_validation(tx.conn(), &tenant, id, record_id)
        .await?
        .unwrap_or(record);
    tx.commit().await?;
    Ok(ValidationCheck {
        record,
        visible,
        detail,
        job_id: job,
    })
}

/// The CA calls made for a certificate (staff).
pub async fn operations(
    app: &App,
    caller: &Caller,
    id: &CertificateId,
    page: PageRequest,
) -> AppResult<Vec<CaOperation>> {
    let staff = caller.staff()?;
    let cert = visible(app, staff.0, id).await?;
    let mut r = app.db.read().await?;
    Ok(repo::list_operations(r.conn(), &cert.tenant_id, id, page).await?)
}

/// The key authorization for an HTTP-01 token, when the request's `Host` is the name it
/// validates. Panel1 serves these at `/.well-known/acme-challenge/<token>` on its HTTP port.
pub async fn http01_answer(
    app: &App,
    token: &str,
    host: Option<&str>,
) -> AppResult<Option<String>> {
    let safe = !token.is_empty()
        && token.len() <= 128
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !safe {
        return Ok(None);
    }
    let mut r = app.db.read().await?;
    let Some((identifier, key_authorization)) = repo::http01_answer(r.conn(), token).await? else {
        return Ok(None);
    };
    let host = host
        .map(|h| {
            // `name:port`, or `[v6]:port`.
            let h = h.trim();
            let h = if h.starts_with('[') {
                h.split(']').next().unwrap_or(h).trim_start_matches('[')
            } else {
                h.rsplit_once(':').map_or(h, |(n, p)| {
                    if p.bytes().all(|b| b.is_ascii_digit()) {
                        n
                    } else {
                        h
                    }
                })
            };
            h.trim_end_matches('.').to_ascii_lowercase()
        })
        .unwrap_or_default();
    if is_wildcard(&identifier) || host != identifier {
        tracing::info!(%host, %identifier, "HTTP-01 token asked for with another Host; not answered");
        return Ok(None);
    }
    Ok(Some(key_authorization))
}
