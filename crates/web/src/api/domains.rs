//! Domains: availability, registration, renewal, restore, transfer, nameservers, contacts,
//! lock, privacy, auth code, suspension and the operations log; automatic renewal, the
//! tenant's domain settings, drift found by the registrar sync, and importing a registrar
//! account. Changes answer 202 with the operation and the job that carries it out; paid work
//! waits for its invoice (`awaiting_payment`); the registrar is never called for a change
//! within a request.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use panel1_app::App;
use panel1_app::domains::import::{self, ImportRequest, ImportStarted};
use panel1_app::domains::renewals::{
    self, DomainSettingsInput, DomainSettingsView, SetAutoRenew, TldSettingInput,
};
use panel1_app::domains::service::{
    self, Accepted, AuthCode, CheckDomains, CheckResult, ContactsInput, DomainDetail, ListFilter,
    OperationLog, RegisterDomain, RenewDomain, SetLock, SetPrivacy, Suspend, TransferDomain,
    TransferStatus, UpdateNameservers,
};
use panel1_app::domains::sync::{self, SyncResult, SyncSettingsInput, SyncView};
use panel1_core::{ClientId, DomainId, RegistrarAccountId};
use panel1_store::domain_automation::{Drift, TldSetting};
use panel1_store::domains::Domain;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::PageOf;
use crate::extract::{self, Auth, PageParams, Query, page_request, path_id};
use crate::problem::{ApiResult, Problem};

const ID: &str = "Domain id (dom_…)";

/// The availability of each name, in the order asked.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResponse {
    pub results: Vec<CheckResult>,
}

/// Checks availability and price of 1 to 50 names with the registrar of each TLD.
#[utoipa::path(post, path = "/domains/check", operation_id = "checkDomains", tag = "domains", request_body = CheckDomains,
    responses((status = 200, body = CheckResponse), (status = 401, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn check_domains(
    State(app): State<App>,
    Auth(caller): Auth,
    extract::Json(input): extract::Json<CheckDomains>,
) -> ApiResult<Json<CheckResponse>> {
    Ok(Json(CheckResponse {
        results: service::check(&app, &caller, &input).await?,
    }))
}

/// Orders the registration of a name. A job registers it; the domain is
/// `pending_registration` until the registrar confirms.
#[utoipa::path(post, path = "/domains", operation_id = "registerDomain", tag = "domains", request_body = RegisterDomain,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request safe: the first response is returned again")),
    responses((status = 202, body = Accepted), (status = 401, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn register_domain(
    State(app): State<App>,
    Auth(caller): Auth,
    extract::Json(input): extract::Json<RegisterDomain>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(service::register(&app, &caller, &input).await?),
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListDomains {
    /// Page number, from 1.
    page: Option<u32>,
    /// Items per page, 1–100 (default 20).
    limit: Option<u32>,
    /// Only this client's domains.
    client: Option<ClientId>,
    /// Panel1's state: `active`, `pending_registration`, `expired`, `auto_renew_grace`,
    /// `redemption`, `pending_delete`, `pending_transfer_in`, `transferred_away`, `suspended`,
    /// `cancelled`.
    status: Option<String>,
    /// A public suffix such as `com` or `co.uk`.
    tld: Option<String>,
    /// Only domains expiring before this instant (RFC 3339), soonest first.
    expiring_before: Option<DateTime<Utc>>,
    /// Part of the name, ASCII or Unicode.
    search: Option<String>,
}

/// Lists domains (newest first). Client users see only their own client's.
#[utoipa::path(get, path = "/domains", operation_id = "listDomains", tag = "domains", params(ListDomains),
    responses((status = 200, body = PageOf<Domain>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list_domains(
    State(app): State<App>,
    Auth(caller): Auth,
    Query(q): Query<ListDomains>,
) -> ApiResult<Json<PageOf<Domain>>> {
    let page = page_request(q.page, q.limit)?;
    let f = ListFilter {
        client_id: q.client,
        status: q.status,
        tld: q.tld,
        expiring_before: q.expiring_before,
        search: q.search,
    };
    Ok(Json(service::list(&app, &caller, &f, page).await?.into()))
}

/// One domain with its WHOIS contacts, nameservers, registry statuses and recent operations.
#[utoipa::path(get, path = "/domains/{id}", operation_id = "getDomain", tag = "domains", params(("id" = String, Path, description = ID)),
    responses((status = 200, body = DomainDetail), (status = 404, body = Problem)))]
pub async fn get_domain(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<DomainDetail>> {
    let id: DomainId = path_id("domain", &id)?;
    Ok(Json(service::get(&app, &caller, &id).await?))
}

/// Orders a renewal from the current expiry. Asking again for the same term answers the
/// first request's operation: a domain is never renewed twice for one request.
#[utoipa::path(post, path = "/domains/{id}/renew", operation_id = "renewDomain", tag = "domains", request_body = RenewDomain,
    params(("id" = String, Path, description = ID)),
    responses((status = 202, body = Accepted), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn renew_domain(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<RenewDomain>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let id: DomainId = path_id("domain", &id)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(service::renew(&app, &caller, &id, &input).await?),
    ))
}

/// Requests the transfer of a name into the tenant's registrar account with its auth code.
/// A job requests it and follows it until it completes or fails (`getDomainTransfer`).
#[utoipa::path(post, path = "/domains/transfers", operation_id = "transferDomain", tag = "domains", request_body = TransferDomain,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request safe")),
    responses((status = 202, body = Accepted), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn transfer_domain(
    State(app): State<App>,
    Auth(caller): Auth,
    extract::Json(input): extract::Json<TransferDomain>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(service::transfer(&app, &caller, &input).await?),
    ))
}

/// Where the domain's latest transfer stands.
#[utoipa::path(get, path = "/domains/{id}/transfer", operation_id = "getDomainTransfer", tag = "domains",
    params(("id" = String, Path, description = ID)),
    responses((status = 200, body = TransferStatus), (status = 404, body = Problem)))]
pub async fn get_domain_transfer(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<TransferStatus>> {
    let id: DomainId = path_id("domain", &id)?;
    Ok(Json(service::transfer_status(&app, &caller, &id).await?))
}

/// Replaces the domain's nameservers at the registry.
#[utoipa::path(put, path = "/domains/{id}/nameservers", operation_id = "updateNameservers", tag = "domains", request_body = UpdateNameservers,
    params(("id" = String, Path, description = ID)),
    responses((status = 202, body = Accepted), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_nameservers(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<UpdateNameservers>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let id: DomainId = path_id("domain", &id)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(service::update_nameservers(&app, &caller, &id, &input).await?),
    ))
}

/// Replaces the domain's WHOIS contacts (the client's contacts, by role).
#[utoipa::path(put, path = "/domains/{id}/contacts", operation_id = "updateDomainContacts", tag = "domains", request_body = ContactsInput,
    params(("id" = String, Path, description = ID)),
    responses((status = 202, body = Accepted), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_domain_contacts(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<ContactsInput>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let id: DomainId = path_id("domain", &id)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(service::update_contacts(&app, &caller, &id, &input).await?),
    ))
}

/// Sets or removes the registrar lock (clientTransferProhibited).
#[utoipa::path(put, path = "/domains/{id}/lock", operation_id = "setDomainLock", tag = "domains", request_body = SetLock,
    params(("id" = String, Path, description = ID)),
    responses((status = 202, body = Accepted), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn set_domain_lock(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<SetLock>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let id: DomainId = path_id("domain", &id)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(service::set_lock(&app, &caller, &id, &input).await?),
    ))
}

/// Turns WHOIS privacy on or off.
#[utoipa::path(put, path = "/domains/{id}/privacy", operation_id = "setDomainPrivacy", tag = "domains", request_body = SetPrivacy,
    params(("id" = String, Path, description = ID)),
    responses((status = 202, body = Accepted), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn set_domain_privacy(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<SetPrivacy>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let id: DomainId = path_id("domain", &id)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(service::set_privacy(&app, &caller, &id, &input).await?),
    ))
}

/// The transfer auth code, fetched from the registrar now. It is never stored or logged;
/// the answer is not cacheable.
#[utoipa::path(get, path = "/domains/{id}/auth-code", operation_id = "getDomainAuthCode", tag = "domains",
    params(("id" = String, Path, description = ID)),
    responses((status = 200, body = AuthCode), (status = 404, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem)))]
pub async fn get_domain_auth_code(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id: DomainId = path_id("domain", &id)?;
    let code = service::auth_code(&app, &caller, &id).await?;
    let mut r = Json(code).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// Suspends a domain (staff): Panel1's state at once, the registry hold through a job.
#[utoipa::path(post, path = "/domains/{id}/suspend", operation_id = "suspendDomain", tag = "domains", request_body = Suspend,
    params(("id" = String, Path, description = ID)),
    responses((status = 202, body = Accepted), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn suspend_domain(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<Suspend>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let id: DomainId = path_id("domain", &id)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(service::suspend(&app, caller.staff()?, &id, &input).await?),
    ))
}

/// Lifts a suspension (staff).
#[utoipa::path(post, path = "/domains/{id}/unsuspend", operation_id = "unsuspendDomain", tag = "domains",
    params(("id" = String, Path, description = ID)),
    responses((status = 202, body = Accepted), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn unsuspend_domain(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let id: DomainId = path_id("domain", &id)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(service::unsuspend(&app, caller.staff()?, &id).await?),
    ))
}

/// The domain's operations log, newest first: each requested operation with its idempotency
/// key, status and outcome, and every registrar call made for it (redacted transcripts,
/// durations, the expiry seen before the call).
#[utoipa::path(get, path = "/domains/{id}/operations", operation_id = "listDomainOperations", tag = "domains",
    params(("id" = String, Path, description = ID), PageParams),
    responses((status = 200, body = PageOf<OperationLog>), (status = 404, body = Problem)))]
pub async fn list_domain_operations(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(q): Query<PageParams>,
) -> ApiResult<Json<PageOf<OperationLog>>> {
    let id: DomainId = path_id("domain", &id)?;
    let page = page_request(q.page, q.limit)?;
    Ok(Json(
        service::operations(&app, &caller, &id, page).await?.into(),
    ))
}

// ---------------------------------------------------------------- billing and automation

/// Orders the restore of a domain in redemption (RFC 3915) at the tenant's restore price. It
/// is invoiced, paid from the client's credit when it covers it, and carried out once paid.
/// Asking again answers the first request's operation.
#[utoipa::path(post, path = "/domains/{id}/restore", operation_id = "restoreDomain", tag = "domains",
    params(("id" = String, Path, description = ID)),
    responses((status = 202, body = Accepted), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn restore_domain(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let id: DomainId = path_id("domain", &id)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(service::restore(&app, &caller, &id).await?),
    ))
}

/// Turns automatic renewal on or off. Panel1 renews (invoice, payment, registrar call)
/// within the renewal buffer before expiry; the registrar's own auto-renew is not used.
#[utoipa::path(put, path = "/domains/{id}/auto-renew", operation_id = "setDomainAutoRenew", tag = "domains", request_body = SetAutoRenew,
    params(("id" = String, Path, description = ID)),
    responses((status = 200, body = Domain), (status = 404, body = Problem)))]
pub async fn set_domain_auto_renew(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<SetAutoRenew>,
) -> ApiResult<Json<Domain>> {
    let id: DomainId = path_id("domain", &id)?;
    Ok(Json(
        renewals::set_auto_renew(&app, &caller, &id, &input).await?,
    ))
}

/// Reads the domain from its registrar now and records every difference as drift (what
/// Panel1 had, what the registrar says, what was done).
#[utoipa::path(post, path = "/domains/{id}/sync", operation_id = "syncDomain", tag = "domains",
    params(("id" = String, Path, description = ID)),
    responses((status = 200, body = SyncResult), (status = 404, body = Problem), (status = 409, body = Problem), (status = 503, body = Problem)))]
pub async fn sync_domain(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<SyncResult>> {
    let id: DomainId = path_id("domain", &id)?;
    Ok(Json(sync::sync_domain(&app, &caller, &id).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListDrift {
    page: Option<u32>,
    limit: Option<u32>,
    /// Only this field: `expires_at`, `state`, `statuses`, `nameservers`, `locked`,
    /// `privacy`, `sponsorship`, `existence`.
    field: Option<String>,
}

/// The differences the sync found between Panel1 and the registrar for one domain, newest
/// first.
#[utoipa::path(get, path = "/domains/{id}/drift", operation_id = "listDomainDrift", tag = "domains",
    params(("id" = String, Path, description = ID), ListDrift),
    responses((status = 200, body = PageOf<Drift>), (status = 404, body = Problem)))]
pub async fn list_domain_drift(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(q): Query<ListDrift>,
) -> ApiResult<Json<PageOf<Drift>>> {
    let id: DomainId = path_id("domain", &id)?;
    let page = page_request(q.page, q.limit)?;
    let f = sync::DriftQuery {
        domain_id: Some(id),
        field: q.field,
    };
    Ok(Json(
        sync::list_drift(&app, &caller, &f, page).await?.into(),
    ))
}

/// Every difference the sync found in the tenant (a client user: its own domains'), newest
/// first.
#[utoipa::path(get, path = "/domain-drift", operation_id = "listDrift", tag = "domains", params(ListDrift),
    responses((status = 200, body = PageOf<Drift>)))]
pub async fn list_drift(
    State(app): State<App>,
    Auth(caller): Auth,
    Query(q): Query<ListDrift>,
) -> ApiResult<Json<PageOf<Drift>>> {
    let page = page_request(q.page, q.limit)?;
    let f = sync::DriftQuery {
        domain_id: None,
        field: q.field,
    };
    Ok(Json(
        sync::list_drift(&app, &caller, &f, page).await?.into(),
    ))
}

/// The tenant's domain billing and renewal settings, with the per-TLD renewal buffers (staff).
#[utoipa::path(get, path = "/domain-settings", operation_id = "getDomainSettings", tag = "domains",
    responses((status = 200, body = DomainSettingsView), (status = 403, body = Problem)))]
pub async fn get_domain_settings(
    State(app): State<App>,
    Auth(caller): Auth,
) -> ApiResult<Json<DomainSettingsView>> {
    Ok(Json(renewals::get_settings(&app, caller.staff()?).await?))
}

/// Changes the domain billing and renewal settings (administrators): invoicing currency,
/// work on credit, renewal buffer and alert days, alert address, premium markup.
#[utoipa::path(patch, path = "/domain-settings", operation_id = "updateDomainSettings", tag = "domains", request_body = DomainSettingsInput,
    responses((status = 200, body = DomainSettingsView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn update_domain_settings(
    State(app): State<App>,
    Auth(caller): Auth,
    extract::Json(input): extract::Json<DomainSettingsInput>,
) -> ApiResult<Json<DomainSettingsView>> {
    Ok(Json(
        renewals::update_settings(&app, caller.admin()?, &input).await?,
    ))
}

/// Sets a TLD's own renewal buffer, e.g. longer for registries that delete at expiry
/// (administrators).
#[utoipa::path(put, path = "/domain-settings/tlds/{tld}", operation_id = "setTldRenewalSetting", tag = "domains", request_body = TldSettingInput,
    params(("tld" = String, Path, description = "A public suffix: `com`, `co.uk`")),
    responses((status = 200, body = TldSetting), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn set_tld_renewal_setting(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(tld): Path<String>,
    extract::Json(input): extract::Json<TldSettingInput>,
) -> ApiResult<Json<TldSetting>> {
    Ok(Json(
        renewals::set_tld_setting(&app, caller.admin()?, &tld, &input).await?,
    ))
}

/// Removes a TLD's own renewal buffer (administrators).
#[utoipa::path(delete, path = "/domain-settings/tlds/{tld}", operation_id = "deleteTldRenewalSetting", tag = "domains",
    params(("tld" = String, Path, description = "A public suffix: `com`, `co.uk`")),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_tld_renewal_setting(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(tld): Path<String>,
) -> ApiResult<StatusCode> {
    renewals::remove_tld_setting(&app, caller.admin()?, &tld).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The job that was started.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobStarted {
    pub job_id: panel1_core::JobId,
}

/// Runs the renewal sweep now (administrators): due renewals invoiced, reminders sent, stuck
/// renewals pushed again. It also runs every day by itself (`domains.renew`).
#[utoipa::path(post, path = "/domain-renewals/run", operation_id = "runRenewalSweep", tag = "domains",
    responses((status = 202, body = JobStarted), (status = 403, body = Problem)))]
pub async fn run_renewal_sweep(
    State(app): State<App>,
    Auth(caller): Auth,
) -> ApiResult<(StatusCode, Json<JobStarted>)> {
    let job_id = renewals::run_sweep(&app, caller.admin()?).await?;
    Ok((StatusCode::ACCEPTED, Json(JobStarted { job_id })))
}

/// The sync of a registrar account: its rate limit, how many domains it follows, its last run
/// (staff).
#[utoipa::path(get, path = "/registrar-accounts/{id}/sync", operation_id = "getRegistrarSync", tag = "registrars",
    params(("id" = String, Path, description = "Registrar account id (rga_…)")),
    responses((status = 200, body = SyncView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_registrar_sync(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<SyncView>> {
    let id: RegistrarAccountId = path_id("registrar account", &id)?;
    Ok(Json(sync::get_sync(&app, caller.staff()?, &id).await?))
}

/// Sets the sync's rate limit for a registrar account (administrators).
#[utoipa::path(put, path = "/registrar-accounts/{id}/sync", operation_id = "updateRegistrarSync", tag = "registrars", request_body = SyncSettingsInput,
    params(("id" = String, Path, description = "Registrar account id (rga_…)")),
    responses((status = 200, body = SyncView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_registrar_sync(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<SyncSettingsInput>,
) -> ApiResult<Json<SyncView>> {
    let id: RegistrarAccountId = path_id("registrar account", &id)?;
    Ok(Json(
        sync::update_sync(&app, caller.admin()?, &id, &input).await?,
    ))
}

/// Takes over the domains of an existing registrar account (staff): each becomes a Panel1
/// domain with its real expiry and statuses, its client found by the registrant's e-mail or
/// created. Nothing is charged. Runs as a job; its result counts what was imported.
#[utoipa::path(post, path = "/registrar-accounts/{id}/import", operation_id = "importRegistrarDomains", tag = "registrars", request_body = ImportRequest,
    params(("id" = String, Path, description = "Registrar account id (rga_…)")),
    responses((status = 202, body = ImportStarted), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn import_registrar_domains(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<ImportRequest>,
) -> ApiResult<(StatusCode, Json<ImportStarted>)> {
    let id: RegistrarAccountId = path_id("registrar account", &id)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(import::start(&app, caller.staff()?, &id, &input).await?),
    ))
}
