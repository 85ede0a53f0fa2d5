//! TLS certificates: ordering (202: a job talks to the CA), listing, renewal, revocation,
//! installation, validation records, downloads; CA accounts (credentials write-only) and
//! certificate products.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{Duration, Utc};
use panel1_app::App;
use panel1_app::certificates::accounts::{self, NewCaAccountInput};
use panel1_app::certificates::install::{self, InstallAccepted, InstallInput};
use panel1_app::certificates::products::{self, NewProductInput};
use panel1_app::certificates::service::{
    self, Accepted, CertificateDetail, CertificateDownload, IssueInput, RevokeInput,
    ValidationCheck, ValidationRecordInput,
};
use panel1_core::{CaAccountId, CertificateId, CertificateProductId, ClientId, ValidationRecordId};
use panel1_store::ca_accounts::CaAccount;
use panel1_store::certificate_installations::HealthCheck;
use panel1_store::certificates::{
    CaOperation, Certificate, CertificateFilter, CertificateProduct, Subscription, ValidationRecord,
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::PageOf;
use crate::extract::{self, Auth, PageParams, Query, page_request, path_id};
use crate::problem::{ApiResult, Problem};

const ID: &str = "Certificate id (crt_…)";

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListCertificates {
    page: Option<u32>,
    limit: Option<u32>,
    /// `pending`, `validating`, `awaiting_validation`, `issued`, `failed`, `revoked`, …
    status: Option<String>,
    /// Only this client's certificates (staff).
    client_id: Option<ClientId>,
    /// Matches any of the names.
    search: Option<String>,
    /// Issued certificates that expire within this many days.
    expiring_within_days: Option<u32>,
}

/// Orders a certificate (202): HTTP-01 served by Panel1, or DNS-01 (wildcards) through a zone
/// Panel1 serves or records the client creates. Staff order for any client; client users for
/// themselves. A second order for the same names while one is in progress is refused (409).
#[utoipa::path(post, path = "/certificates", operation_id = "issueCertificate", tag = "certificates", request_body = IssueInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request safe")),
    responses((status = 202, body = Accepted), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn issue_certificate(
    State(app): State<App>,
    Auth(caller): Auth,
    extract::Json(input): extract::Json<IssueInput>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(service::issue(&app, &caller, &input).await?),
    ))
}

/// Lists certificates (newest first). Private keys and chains are never listed.
#[utoipa::path(get, path = "/certificates", operation_id = "listCertificates", tag = "certificates", params(ListCertificates),
    responses((status = 200, body = PageOf<Certificate>), (status = 400, body = Problem), (status = 422, body = Problem)))]
pub async fn list_certificates(
    State(app): State<App>,
    Auth(caller): Auth,
    Query(q): Query<ListCertificates>,
) -> ApiResult<Json<PageOf<Certificate>>> {
    let page = page_request(q.page, q.limit)?;
    let f = CertificateFilter {
        status: q.status,
        client_id: q.client_id,
        search: q.search,
        expires_before: q
            .expiring_within_days
            .map(|d| Utc::now() + Duration::days(i64::from(d.min(3650)))),
    };
    Ok(Json(service::list(&app, &caller, &f, page).await?.into()))
}

/// One certificate with its validation records, installations and subscription.
#[utoipa::path(get, path = "/certificates/{id}", operation_id = "getCertificate", tag = "certificates", params(("id" = String, Path, description = ID)),
    responses((status = 200, body = CertificateDetail), (status = 404, body = Problem)))]
pub async fn get_certificate(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<CertificateDetail>> {
    let id: CertificateId = path_id("certificate", &id)?;
    Ok(Json(service::get(&app, &caller, &id).await?))
}

/// Renews now (202): a new certificate replaces this one once issued (the old serial is
/// recorded); a failed order is placed again.
#[utoipa::path(post, path = "/certificates/{id}/renew", operation_id = "renewCertificate", tag = "certificates", params(("id" = String, Path, description = ID)),
    responses((status = 202, body = Accepted), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn renew_certificate(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let id: CertificateId = path_id("certificate", &id)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(service::renew(&app, &caller, &id).await?),
    ))
}

/// Revokes an issued certificate at its CA (202).
#[utoipa::path(post, path = "/certificates/{id}/revoke", operation_id = "revokeCertificate", tag = "certificates", params(("id" = String, Path, description = ID)),
    request_body = RevokeInput,
    responses((status = 202, body = Accepted), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn revoke_certificate(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<RevokeInput>,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    let id: CertificateId = path_id("certificate", &id)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(service::revoke(&app, &caller, &id, &input).await?),
    ))
}

/// Installs an issued certificate (202): files + reload command (administrators; paths and
/// programs the operator allowed) or a signed webhook; then a TLS probe must see the new
/// serial, else the installation is `failed`. Renewals are installed at the same place.
#[utoipa::path(post, path = "/certificates/{id}/installations", operation_id = "installCertificate", tag = "certificates", params(("id" = String, Path, description = ID)),
    request_body = InstallInput,
    responses((status = 202, body = InstallAccepted), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn install_certificate(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<InstallInput>,
) -> ApiResult<(StatusCode, Json<InstallAccepted>)> {
    let id: CertificateId = path_id("certificate", &id)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(install::create(&app, &caller, &id, &input).await?),
    ))
}

/// The health probes of a certificate's installations (newest first).
#[utoipa::path(get, path = "/certificates/{id}/health", operation_id = "listCertificateHealthChecks", tag = "certificates", params(("id" = String, Path, description = ID)),
    responses((status = 200, body = Vec<HealthCheck>), (status = 404, body = Problem)))]
pub async fn list_certificate_health_checks(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<HealthCheck>>> {
    let id: CertificateId = path_id("certificate", &id)?;
    Ok(Json(install::health(&app, &caller, &id).await?))
}

/// What must be published for each name of the current order, and how it went.
#[utoipa::path(get, path = "/certificates/{id}/validations", operation_id = "listValidationRecords", tag = "certificates", params(("id" = String, Path, description = ID)),
    responses((status = 200, body = Vec<ValidationRecord>), (status = 404, body = Problem)))]
pub async fn list_validation_records(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ValidationRecord>>> {
    let id: CertificateId = path_id("certificate", &id)?;
    Ok(Json(service::list_validations(&app, &caller, &id).await?))
}

/// Sets how one name validates with DNS-01 (in a zone Panel1 serves, also through a CNAME
/// delegation of `_acme-challenge`, or a record the client creates) and publishes it (202).
#[utoipa::path(post, path = "/certificates/{id}/validations", operation_id = "createValidationRecord", tag = "certificates", params(("id" = String, Path, description = ID)),
    request_body = ValidationRecordInput,
    responses((status = 202, body = ValidationCheck), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_validation_record(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<ValidationRecordInput>,
) -> ApiResult<(StatusCode, Json<ValidationCheck>)> {
    let id: CertificateId = path_id("certificate", &id)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(service::create_validation(&app, &caller, &id, &input).await?),
    ))
}

/// Re-checks a validation record where the CA will look (DNS-01: on every authoritative
/// name server) and, if it is there, tells the CA (202). When it is not there yet: 200 with
/// `visible: false` and what was seen.
#[utoipa::path(post, path = "/certificates/{id}/validations/{validation_id}/validate", operation_id = "validateDomain", tag = "certificates",
    params(("id" = String, Path, description = ID), ("validation_id" = String, Path, description = "Validation record id (cvr_…)")),
    responses((status = 202, body = ValidationCheck), (status = 200, body = ValidationCheck), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn validate_domain(
    State(app): State<App>,
    Auth(caller): Auth,
    Path((id, vid)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<ValidationCheck>)> {
    let id: CertificateId = path_id("certificate", &id)?;
    let vid: ValidationRecordId = path_id("validation record", &vid)?;
    let check = service::validate(&app, &caller, &id, &vid).await?;
    let status = if check.visible {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(check)))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DownloadParams {
    /// Also return the private key (staff, or the client that owns the certificate). Every
    /// key download is recorded in the audit log.
    include_key: Option<bool>,
}

/// The certificate chain (PEM); the private key only with `include_key=true`.
#[utoipa::path(get, path = "/certificates/{id}/download", operation_id = "downloadCertificate", tag = "certificates",
    params(("id" = String, Path, description = ID), DownloadParams),
    responses((status = 200, body = CertificateDownload), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn download_certificate(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(q): Query<DownloadParams>,
) -> ApiResult<Json<CertificateDownload>> {
    let id: CertificateId = path_id("certificate", &id)?;
    Ok(Json(
        service::download(&app, &caller, &id, q.include_key.unwrap_or(false)).await?,
    ))
}

/// Every call made to the CA for a certificate (staff): step, URL, status, duration, problem.
#[utoipa::path(get, path = "/certificates/{id}/operations", operation_id = "listCertificateOperations", tag = "certificates",
    params(("id" = String, Path, description = ID), PageParams),
    responses((status = 200, body = Vec<CaOperation>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_certificate_operations(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(q): Query<PageParams>,
) -> ApiResult<Json<Vec<CaOperation>>> {
    let id: CertificateId = path_id("certificate", &id)?;
    let page = page_request(q.page, q.limit.or(Some(100)))?;
    Ok(Json(service::operations(&app, &caller, &id, page).await?))
}

/// Adds a CA account (administrators): a preset (`letsencrypt`, `zerossl`, `google`, …) or
/// any ACME directory, with External Account Binding where the CA needs it. The HMAC key is
/// sealed and never shown again; the ACME account is registered by the first order.
#[utoipa::path(post, path = "/ca-accounts", operation_id = "createCaAccount", tag = "certificates", request_body = NewCaAccountInput,
    responses((status = 201, body = CaAccount), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_ca_account(
    State(app): State<App>,
    Auth(caller): Auth,
    extract::Json(input): extract::Json<NewCaAccountInput>,
) -> ApiResult<(StatusCode, Json<CaAccount>)> {
    Ok((
        StatusCode::CREATED,
        Json(accounts::create(&app, caller.admin()?, &input).await?),
    ))
}

/// The tenant's CA accounts (staff); credentials are never listed.
#[utoipa::path(get, path = "/ca-accounts", operation_id = "listCaAccounts", tag = "certificates",
    responses((status = 200, body = Vec<CaAccount>), (status = 403, body = Problem)))]
pub async fn list_ca_accounts(
    State(app): State<App>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<CaAccount>>> {
    Ok(Json(accounts::list(&app, caller.staff()?).await?))
}

/// Deletes a CA account (administrators); certificates keep their history.
#[utoipa::path(delete, path = "/ca-accounts/{id}", operation_id = "deleteCaAccount", tag = "certificates", params(("id" = String, Path, description = "CA account id (caa_…)")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_ca_account(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: CaAccountId = path_id("CA account", &id)?;
    accounts::delete(&app, caller.admin()?, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a certificate product (administrators): kind, key type, CA account, term and price.
#[utoipa::path(post, path = "/certificate-products", operation_id = "createCertificateProduct", tag = "certificates", request_body = NewProductInput,
    responses((status = 201, body = CertificateProduct), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_certificate_product(
    State(app): State<App>,
    Auth(caller): Auth,
    extract::Json(input): extract::Json<NewProductInput>,
) -> ApiResult<(StatusCode, Json<CertificateProduct>)> {
    Ok((
        StatusCode::CREATED,
        Json(products::create(&app, caller.admin()?, &input).await?),
    ))
}

/// The tenant's certificate products.
#[utoipa::path(get, path = "/certificate-products", operation_id = "listCertificateProducts", tag = "certificates",
    responses((status = 200, body = Vec<CertificateProduct>)))]
pub async fn list_certificate_products(
    State(app): State<App>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<CertificateProduct>>> {
    Ok(Json(products::list(&app, &caller).await?))
}

/// Deletes a product (administrators); subscriptions keep their terms.
#[utoipa::path(delete, path = "/certificate-products/{id}", operation_id = "deleteCertificateProduct", tag = "certificates", params(("id" = String, Path, description = "Product id (cpr_…)")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_certificate_product(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: CertificateProductId = path_id("certificate product", &id)?;
    products::delete(&app, caller.admin()?, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Certificate subscriptions (one paid term covering every reissue and renewal in it);
/// client users see their own.
#[utoipa::path(get, path = "/certificate-subscriptions", operation_id = "listCertificateSubscriptions", tag = "certificates", params(PageParams),
    responses((status = 200, body = PageOf<Subscription>)))]
pub async fn list_certificate_subscriptions(
    State(app): State<App>,
    Auth(caller): Auth,
    Query(q): Query<PageParams>,
) -> ApiResult<Json<PageOf<Subscription>>> {
    let page = page_request(q.page, q.limit)?;
    Ok(Json(
        products::list_subscriptions(&app, &caller, page)
            .await?
            .into(),
    ))
}
