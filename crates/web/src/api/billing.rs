use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use bytes::Bytes;
use panel1_app::App;
use panel1_app::billing::{self, CreditInput, CreditView, PriceResult, TldPriceInput};
use panel1_app::notify::{self, TemplateInput, TemplateView};
use panel1_core::{ClientId, InvoiceId};
use panel1_store::billing::{
    CreditEntry, Invoice, InvoiceFilter, InvoiceStatus, PriceFilter, TldPrice,
};
use panel1_store::emails::{Email, EmailFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::PageOf;
use crate::extract::{self, Auth, PageParams, Query, page_request, path_id};
use crate::problem::{ApiResult, Problem};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListPrices {
    page: Option<u32>,
    limit: Option<u32>,
    tld: Option<String>,
    /// `register`, `renew`, `transfer` or `restore`.
    operation: Option<String>,
    currency: Option<String>,
}

/// The tenant's TLD prices.
#[utoipa::path(get, path = "/tld-prices", operation_id = "listTldPrices", tag = "billing", params(ListPrices),
    responses((status = 200, body = PageOf<TldPrice>)))]
pub async fn list_tld_prices(
    State(app): State<App>,
    Auth(caller): Auth,
    Query(q): Query<ListPrices>,
) -> ApiResult<Json<PageOf<TldPrice>>> {
    let page = page_request(q.page, q.limit)?;
    let f = PriceFilter {
        tld: q.tld,
        operation: q.operation,
        currency: q.currency,
    };
    Ok(Json(
        billing::list_prices(&app, &caller, &f, page).await?.into(),
    ))
}

/// Sets one price (staff): a price, or the registrar's cost with a markup. Warns when below cost.
#[utoipa::path(put, path = "/tld-prices", operation_id = "upsertTldPrice", tag = "billing", request_body = TldPriceInput,
    responses((status = 200, body = PriceResult), (status = 422, body = Problem)))]
pub async fn upsert_tld_price(
    State(app): State<App>,
    Auth(caller): Auth,
    extract::Json(input): extract::Json<TldPriceInput>,
) -> ApiResult<Json<PriceResult>> {
    Ok(Json(
        billing::upsert_price(&app, caller.staff()?, &input).await?,
    ))
}

/// The result of a CSV import.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    pub imported: usize,
    pub warnings: Vec<String>,
}

/// Imports prices from CSV (staff): header `tld,operation,years,currency,price,cost`. One bad
/// line refuses the file, with an error per line.
#[utoipa::path(post, path = "/tld-prices/import", operation_id = "importTldPrices", tag = "billing",
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = ImportResult), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn import_tld_prices(
    State(app): State<App>,
    Auth(caller): Auth,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<ImportResult>> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("text/csv") && !ct.starts_with("text/plain") {
        return Err(
            panel1_app::AppError::Invalid(panel1_core::ValidationError::field(
                "Content-Type",
                "media_type",
                "send the CSV with Content-Type: text/csv",
            ))
            .into(),
        );
    }
    let text = std::str::from_utf8(&body).map_err(|_| {
        panel1_app::AppError::Invalid(panel1_core::ValidationError::field(
            "body",
            "encoding",
            "the CSV must be UTF-8",
        ))
    })?;
    let (imported, warnings) = billing::import_prices_csv(&app, caller.staff()?, text).await?;
    Ok(Json(ImportResult { imported, warnings }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListInvoices {
    page: Option<u32>,
    limit: Option<u32>,
    client_id: Option<ClientId>,
    status: Option<InvoiceStatus>,
}

/// Invoices, newest first (client users: their own).
#[utoipa::path(get, path = "/invoices", operation_id = "listInvoices", tag = "billing", params(ListInvoices),
    responses((status = 200, body = PageOf<Invoice>), (status = 400, body = Problem)))]
pub async fn list_invoices(
    State(app): State<App>,
    Auth(caller): Auth,
    Query(q): Query<ListInvoices>,
) -> ApiResult<Json<PageOf<Invoice>>> {
    let page = page_request(q.page, q.limit)?;
    let f = InvoiceFilter {
        client_id: q.client_id,
        status: q.status,
    };
    Ok(Json(
        billing::list_invoices(&app, &caller, &f, page)
            .await?
            .into(),
    ))
}

/// One invoice with its lines.
#[utoipa::path(get, path = "/invoices/{id}", operation_id = "getInvoice", tag = "billing", params(("id" = String, Path)),
    responses((status = 200, body = Invoice), (status = 404, body = Problem)))]
pub async fn get_invoice(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Invoice>> {
    let id: InvoiceId = path_id("invoice", &id)?;
    Ok(Json(billing::get_invoice(&app, &caller, &id).await?))
}

/// Pays an invoice from the client's credit. Paying twice charges once (the second call answers 409).
#[utoipa::path(post, path = "/invoices/{id}/pay", operation_id = "payInvoice", tag = "billing", params(("id" = String, Path)),
    responses((status = 200, body = Invoice), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn pay_invoice(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Invoice>> {
    let id: InvoiceId = path_id("invoice", &id)?;
    Ok(Json(billing::pay(&app, &caller, &id).await?))
}

/// Voids an unpaid invoice (staff); its work may be invoiced again.
#[utoipa::path(post, path = "/invoices/{id}/void", operation_id = "voidInvoice", tag = "billing", params(("id" = String, Path)),
    responses((status = 200, body = Invoice), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn void_invoice(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Invoice>> {
    let id: InvoiceId = path_id("invoice", &id)?;
    Ok(Json(billing::void(&app, caller.staff()?, &id).await?))
}

/// Adds credit to a client (staff).
#[utoipa::path(post, path = "/clients/{id}/credit", operation_id = "addClientCredit", tag = "billing", request_body = CreditInput,
    params(("id" = String, Path)),
    responses((status = 201, body = CreditEntry), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn add_client_credit(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    extract::Json(input): extract::Json<CreditInput>,
) -> ApiResult<(StatusCode, Json<CreditEntry>)> {
    let id: ClientId = path_id("client", &id)?;
    Ok((
        StatusCode::CREATED,
        Json(billing::add_credit(&app, caller.staff()?, &id, &input).await?),
    ))
}

/// A client's credit balances and ledger.
#[utoipa::path(get, path = "/clients/{id}/credit", operation_id = "getClientCredit", tag = "billing", params(("id" = String, Path), PageParams),
    responses((status = 200, body = CreditView), (status = 404, body = Problem)))]
pub async fn get_client_credit(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(q): Query<PageParams>,
) -> ApiResult<Json<CreditView>> {
    let id: ClientId = path_id("client", &id)?;
    let page = page_request(q.page, q.limit)?;
    Ok(Json(billing::credit(&app, &caller, &id, page).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListEmails {
    page: Option<u32>,
    limit: Option<u32>,
    object_type: Option<String>,
    object_id: Option<String>,
    template: Option<String>,
}

/// Every e-mail Panel1 sent or tried to send (staff), newest first.
#[utoipa::path(get, path = "/emails", operation_id = "listEmails", tag = "billing", params(ListEmails),
    responses((status = 200, body = PageOf<Email>)))]
pub async fn list_emails(
    State(app): State<App>,
    Auth(caller): Auth,
    Query(q): Query<ListEmails>,
) -> ApiResult<Json<PageOf<Email>>> {
    let page = page_request(q.page, q.limit)?;
    let f = EmailFilter {
        object_type: q.object_type,
        object_id: q.object_id,
        template: q.template,
    };
    Ok(Json(
        notify::list(&app, caller.staff()?, &f, page).await?.into(),
    ))
}

/// The e-mail templates (administrators): the tenant's versions and the built-in ones.
#[utoipa::path(get, path = "/email-templates", operation_id = "listEmailTemplates", tag = "billing",
    responses((status = 200, body = Vec<TemplateView>)))]
pub async fn list_email_templates(
    State(app): State<App>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<TemplateView>>> {
    Ok(Json(notify::list_templates(&app, caller.admin()?).await?))
}

/// Changes an e-mail template (administrators). Templates use minijinja (`{{ domain }}`).
#[utoipa::path(put, path = "/email-templates/{key}", operation_id = "updateEmailTemplate", tag = "billing", request_body = TemplateInput,
    params(("key" = String, Path)),
    responses((status = 200, body = TemplateView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_email_template(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(key): Path<String>,
    extract::Json(input): extract::Json<TemplateInput>,
) -> ApiResult<Json<TemplateView>> {
    Ok(Json(
        notify::update_template(&app, caller.admin()?, &key, &input).await?,
    ))
}
