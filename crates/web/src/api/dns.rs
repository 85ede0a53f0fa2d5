//! DNS hosting: zones, records (one at a time or as an atomic batch), zone files, DNS
//! provider accounts and secondaries. A record travels as `{id, name, type, ttl, content}`
//! with `name` relative to the zone (`@`, `www`) or fully qualified and `content` in
//! zone-file presentation format. Panel1's DNS server answers a saved record within a second.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use panel1_app::App;
use panel1_app::dns::providers::{
    self, NewProviderInput, NewSecondaryInput, ProviderInfo, SecondaryInfo,
};
use panel1_app::dns::service::{
    self, Acting, ChangeBatch, ChangeResult, DnsDefaults, ImportResult, NewZoneInput, RecordBody,
    RecordOut, ZoneInfo, ZoneListFilter,
};
use panel1_core::{ClientId, DnsProviderId, DnsSecondaryId, ValidationError, ZoneId};
use panel1_store::dns_providers::ProviderCall;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::PageOf;
use crate::extract::{self, Auth, Query, page_request, path_id};
use crate::problem::{ApiResult, Problem};

const ZONE: &str = "Zone id (zon_…)";
const RECORD: &str = "Record id (a number within the zone)";

/// Creates a zone with an SOA and NS records from the tenant's DNS defaults. Panel1's DNS
/// server answers for it at once (or a job pushes it to the chosen provider).
#[utoipa::path(post, path = "/dns/zones", operation_id = "createZone", tag = "dns", request_body = NewZoneInput,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request safe: the first response is returned again")),
    responses((status = 201, body = ZoneInfo), (status = 401, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_zone(
    State(app): State<App>,
    Auth(caller): Auth,
    extract::Json(input): extract::Json<NewZoneInput>,
) -> ApiResult<(StatusCode, Json<ZoneInfo>)> {
    Ok((
        StatusCode::CREATED,
        Json(service::create_zone(&app, &caller, &input).await?),
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListZones {
    /// Page number, from 1.
    page: Option<u32>,
    /// Items per page, 1–100 (default 20).
    limit: Option<u32>,
    /// Only this client's zones.
    client: Option<ClientId>,
    /// Part of the name, ASCII or Unicode.
    search: Option<String>,
}

/// Lists zones by name. Client users see only their own client's.
#[utoipa::path(get, path = "/dns/zones", operation_id = "listZones", tag = "dns", params(ListZones),
    responses((status = 200, body = PageOf<ZoneInfo>), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn list_zones(
    State(app): State<App>,
    Auth(caller): Auth,
    Query(q): Query<ListZones>,
) -> ApiResult<Json<PageOf<ZoneInfo>>> {
    let page = page_request(q.page, q.limit)?;
    let f = ZoneListFilter {
        search: q.search,
        client_id: q.client,
    };
    Ok(Json(
        service::list_zones(&app, &caller, &f, page).await?.into(),
    ))
}

/// One zone with its SOA and where it is served.
#[utoipa::path(get, path = "/dns/zones/{id}", operation_id = "getZone", tag = "dns", params(("id" = String, Path, description = ZONE)),
    responses((status = 200, body = ZoneInfo), (status = 404, body = Problem)))]
pub async fn get_zone(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ZoneInfo>> {
    let id: ZoneId = path_id("zone", &id)?;
    Ok(Json(service::get_zone(&app, &caller, &id).await?))
}

/// Deletes a zone and its records; Panel1's server stops answering for it at once.
#[utoipa::path(delete, path = "/dns/zones/{id}", operation_id = "deleteZone", tag = "dns", params(("id" = String, Path, description = ZONE)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_zone(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: ZoneId = path_id("zone", &id)?;
    service::delete_zone(&app, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListRecords {
    page: Option<u32>,
    /// Items per page, 1–100 (default 20).
    limit: Option<u32>,
    /// Only records with this owner (`@`, `www` or `www.example.com.`).
    name: Option<String>,
    /// Only records of this type (`MX`).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    rtype: Option<String>,
}

/// Lists a zone's records (the SOA is the zone's own, see getZone).
#[utoipa::path(get, path = "/dns/zones/{id}/records", operation_id = "listDnsRecords", tag = "dns",
    params(("id" = String, Path, description = ZONE), ListRecords),
    responses((status = 200, body = PageOf<RecordOut>), (status = 404, body = Problem)))]
pub async fn list_records(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(q): Query<ListRecords>,
) -> ApiResult<Json<PageOf<RecordOut>>> {
    let id: ZoneId = path_id("zone", &id)?;
    let page = page_request(q.page, q.limit)?;
    Ok(Json(
        service::list_records(&app, &caller, &id, q.name, q.rtype, page)
            .await?
            .into(),
    ))
}

/// Adds a record. Errors name the field (`name`, `type`, `ttl`, `content`) and the rule.
#[utoipa::path(post, path = "/dns/zones/{id}/records", operation_id = "createDnsRecord", tag = "dns", request_body = RecordBody,
    params(("id" = String, Path, description = ZONE), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request safe")),
    responses((status = 201, body = RecordOut), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_record(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<RecordBody>,
) -> ApiResult<(StatusCode, Json<RecordOut>)> {
    let id: ZoneId = path_id("zone", &id)?;
    Ok((
        StatusCode::CREATED,
        Json(service::create_record(&app, &caller, &id, &input).await?),
    ))
}

/// Replaces a record.
#[utoipa::path(put, path = "/dns/zones/{id}/records/{record_id}", operation_id = "updateDnsRecord", tag = "dns", request_body = RecordBody,
    params(("id" = String, Path, description = ZONE), ("record_id" = String, Path, description = RECORD)),
    responses((status = 200, body = RecordOut), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_record(
    State(app): State<App>,
    Auth(caller): Auth,
    Path((id, record)): Path<(String, String)>,
    extract::Json(input): extract::Json<RecordBody>,
) -> ApiResult<Json<RecordOut>> {
    let id: ZoneId = path_id("zone", &id)?;
    Ok(Json(
        service::update_record(&app, &caller, &id, &record, &input).await?,
    ))
}

/// Deletes a record.
#[utoipa::path(delete, path = "/dns/zones/{id}/records/{record_id}", operation_id = "deleteDnsRecord", tag = "dns",
    params(("id" = String, Path, description = ZONE), ("record_id" = String, Path, description = RECORD)),
    responses((status = 204), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn delete_record(
    State(app): State<App>,
    Auth(caller): Auth,
    Path((id, record)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id: ZoneId = path_id("zone", &id)?;
    service::delete_record(&app, &caller, &id, &record).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Applies creates, updates and deletes atomically: all of them with one new serial, or
/// none (errors name `create.0.content`, `update.1.ttl`, `delete.0`, …).
#[utoipa::path(patch, path = "/dns/zones/{id}/records", operation_id = "changeDnsRecords", tag = "dns", request_body = ChangeBatch,
    params(("id" = String, Path, description = ZONE), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request safe")),
    responses((status = 200, body = ChangeResult), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn change_records(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<ChangeBatch>,
) -> ApiResult<Json<ChangeResult>> {
    let id: ZoneId = path_id("zone", &id)?;
    Ok(Json(
        service::change_records(&app, &caller, &id, &input).await?,
    ))
}

/// Replaces the zone's records with an RFC 1035 master file (`$ORIGIN`, `$TTL`, relative
/// names, parentheses, comments; `$INCLUDE` is refused). Every wrong line is reported as
/// `lines.<n>`, and then nothing is changed.
#[utoipa::path(post, path = "/dns/zones/{id}/import", operation_id = "importZone", tag = "dns",
    request_body(content = String, content_type = "text/dns"),
    params(("id" = String, Path, description = ZONE)),
    responses((status = 200, body = ImportResult), (status = 404, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn import_zone(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportResult>> {
    let id: ZoneId = path_id("zone", &id)?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("text/dns") && !ct.starts_with("text/plain") {
        return Err(panel1_app::AppError::Invalid(ValidationError::field(
            "Content-Type",
            "media_type",
            "send the zone file with Content-Type: text/dns (or text/plain)",
        ))
        .into());
    }
    let text = std::str::from_utf8(&body).map_err(|_| {
        panel1_app::AppError::Invalid(ValidationError::field(
            "body",
            "encoding",
            "the zone file must be UTF-8",
        ))
    })?;
    Ok(Json(
        service::import(&app, &Acting::caller(&caller), &id, text).await?,
    ))
}

/// The zone as an RFC 1035 master file (`text/dns`) that `named-checkzone` and `kzonecheck`
/// accept.
#[utoipa::path(get, path = "/dns/zones/{id}/export", operation_id = "exportZone", tag = "dns",
    params(("id" = String, Path, description = ZONE)),
    responses((status = 200, body = String, content_type = "text/dns"), (status = 404, body = Problem)))]
pub async fn export_zone(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id: ZoneId = path_id("zone", &id)?;
    let (name, text) = service::export(&app, &caller, &id).await?;
    let mut resp = text.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/dns"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.zone\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// The calls made to a zone's DNS provider, newest first.
#[utoipa::path(get, path = "/dns/zones/{id}/provider-calls", operation_id = "listDnsProviderCalls", tag = "dns",
    params(("id" = String, Path, description = ZONE)),
    responses((status = 200, body = Vec<ProviderCall>), (status = 404, body = Problem)))]
pub async fn list_provider_calls(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ProviderCall>>> {
    let id: ZoneId = path_id("zone", &id)?;
    Ok(Json(providers::list_calls(&app, &caller, &id).await?))
}

/// The provider accounts of the tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderList {
    pub items: Vec<ProviderInfo>,
}

/// Adds an external DNS provider account (administrators). The settings are checked by
/// building the adapter; credentials are sealed and never shown again.
#[utoipa::path(post, path = "/dns/providers", operation_id = "createDnsProvider", tag = "dns", request_body = NewProviderInput,
    responses((status = 201, body = ProviderInfo), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_provider(
    State(app): State<App>,
    Auth(caller): Auth,
    extract::Json(input): extract::Json<NewProviderInput>,
) -> ApiResult<(StatusCode, Json<ProviderInfo>)> {
    Ok((
        StatusCode::CREATED,
        Json(providers::create_provider(&app, &caller, &input).await?),
    ))
}

/// Lists the DNS provider accounts (staff), without credentials.
#[utoipa::path(get, path = "/dns/providers", operation_id = "listDnsProviders", tag = "dns",
    responses((status = 200, body = ProviderList), (status = 403, body = Problem)))]
pub async fn list_providers(
    State(app): State<App>,
    Auth(caller): Auth,
) -> ApiResult<Json<ProviderList>> {
    Ok(Json(ProviderList {
        items: providers::list_providers(&app, caller.staff()?).await?,
    }))
}

/// Deletes a provider account no zone uses (administrators).
#[utoipa::path(delete, path = "/dns/providers/{id}", operation_id = "deleteDnsProvider", tag = "dns",
    params(("id" = String, Path, description = "Provider account id (dnp_…)")),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_provider(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: DnsProviderId = path_id("DNS provider", &id)?;
    providers::delete_provider(&app, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The secondaries of the tenant's hosted zones.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecondaryList {
    pub items: Vec<SecondaryInfo>,
}

/// Adds a secondary (administrators): NOTIFY after each change, transfers from its network
/// or with its TSIG key.
#[utoipa::path(post, path = "/dns/secondaries", operation_id = "createDnsSecondary", tag = "dns", request_body = NewSecondaryInput,
    responses((status = 201, body = SecondaryInfo), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_secondary(
    State(app): State<App>,
    Auth(caller): Auth,
    extract::Json(input): extract::Json<NewSecondaryInput>,
) -> ApiResult<(StatusCode, Json<SecondaryInfo>)> {
    Ok((
        StatusCode::CREATED,
        Json(providers::create_secondary(&app, &caller, &input).await?),
    ))
}

/// Lists the secondaries (staff), without TSIG secrets.
#[utoipa::path(get, path = "/dns/secondaries", operation_id = "listDnsSecondaries", tag = "dns",
    responses((status = 200, body = SecondaryList), (status = 403, body = Problem)))]
pub async fn list_secondaries(
    State(app): State<App>,
    Auth(caller): Auth,
) -> ApiResult<Json<SecondaryList>> {
    Ok(Json(SecondaryList {
        items: providers::list_secondaries(&app, caller.staff()?).await?,
    }))
}

/// Deletes a secondary (administrators).
#[utoipa::path(delete, path = "/dns/secondaries/{id}", operation_id = "deleteDnsSecondary", tag = "dns",
    params(("id" = String, Path, description = "Secondary id (dns_…)")),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_secondary(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: DnsSecondaryId = path_id("DNS secondary", &id)?;
    providers::delete_secondary(&app, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The SOA fields and name servers new zones start with (staff).
#[utoipa::path(get, path = "/dns/defaults", operation_id = "getDnsDefaults", tag = "dns",
    responses((status = 200, body = DnsDefaults), (status = 403, body = Problem)))]
pub async fn get_defaults(
    State(app): State<App>,
    Auth(caller): Auth,
) -> ApiResult<Json<DnsDefaults>> {
    Ok(Json(service::get_defaults(&app, caller.staff()?).await?))
}

/// Sets the SOA fields and name servers of new zones (administrators); existing zones keep
/// theirs.
#[utoipa::path(put, path = "/dns/defaults", operation_id = "updateDnsDefaults", tag = "dns", request_body = DnsDefaults,
    responses((status = 200, body = DnsDefaults), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn update_defaults(
    State(app): State<App>,
    Auth(caller): Auth,
    extract::Json(input): extract::Json<DnsDefaults>,
) -> ApiResult<Json<DnsDefaults>> {
    Ok(Json(service::set_defaults(&app, &caller, input).await?))
}
