//! Domains: availability, registration, renewal, transfer, nameservers, contacts, lock,
//! privacy, auth code, suspension and the operations log. Changes answer 202 with the
//! operation and the job that carries it out; the registrar is never called for a change
//! within a request.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use panel1_app::App;
use panel1_app::domains::service::{
    self, Accepted, AuthCode, CheckDomains, CheckResult, ContactsInput, DomainDetail, ListFilter,
    OperationLog, RegisterDomain, RenewDomain, SetLock, SetPrivacy, Suspend, TransferDomain,
    TransferStatus, UpdateNameservers,
};
use panel1_core::{ClientId, DomainId};
use panel1_store::domains::Domain;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::PageOf;
use crate::extract::{self, Auth, Query, page_request, path_id};
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

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListOperations {
    page: Option<u32>,
    limit: Option<u32>,
}

/// The domain's operations log, newest first: each requested operation with its idempotency
/// key, status and outcome, and every registrar call made for it (redacted transcripts,
/// durations, the expiry seen before the call).
#[utoipa::path(get, path = "/domains/{id}/operations", operation_id = "listDomainOperations", tag = "domains",
    params(("id" = String, Path, description = ID), ListOperations),
    responses((status = 200, body = PageOf<OperationLog>), (status = 404, body = Problem)))]
pub async fn list_domain_operations(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(q): Query<ListOperations>,
) -> ApiResult<Json<PageOf<OperationLog>>> {
    let id: DomainId = path_id("domain", &id)?;
    let page = page_request(q.page, q.limit)?;
    Ok(Json(
        service::operations(&app, &caller, &id, page).await?.into(),
    ))
}
