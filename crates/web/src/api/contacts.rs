//! WHOIS contacts: reusable per client.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use panel1_app::App;
use panel1_app::domains::contacts::{self, ContactPatch, NewContact};
use panel1_core::{ClientId, ContactId};
use panel1_store::contacts::{ContactFilter, ContactRecord};
use serde::Deserialize;
use utoipa::IntoParams;

use super::PageOf;
use crate::extract::{self, Auth, Query, page_request, path_id};
use crate::problem::{ApiResult, Problem};

/// Creates a WHOIS contact for a client (checked: ISO country, E.164 phone, e-mail).
#[utoipa::path(post, path = "/contacts", operation_id = "createContact", tag = "contacts", request_body = NewContact,
    responses((status = 201, body = ContactRecord), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn create_contact(
    State(app): State<App>,
    Auth(caller): Auth,
    extract::Json(input): extract::Json<NewContact>,
) -> ApiResult<(StatusCode, Json<ContactRecord>)> {
    Ok((
        StatusCode::CREATED,
        Json(contacts::create(&app, &caller, &input).await?),
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListContacts {
    page: Option<u32>,
    limit: Option<u32>,
    /// Only this client's contacts.
    client: Option<ClientId>,
    /// Matches names, organisation or e-mail.
    search: Option<String>,
}

/// Lists contacts (newest first). Client users see only their own.
#[utoipa::path(get, path = "/contacts", operation_id = "listContacts", tag = "contacts", params(ListContacts),
    responses((status = 200, body = PageOf<ContactRecord>), (status = 400, body = Problem)))]
pub async fn list_contacts(
    State(app): State<App>,
    Auth(caller): Auth,
    Query(q): Query<ListContacts>,
) -> ApiResult<Json<PageOf<ContactRecord>>> {
    let page = page_request(q.page, q.limit)?;
    let f = ContactFilter {
        client_id: q.client,
        search: q.search,
    };
    Ok(Json(contacts::list(&app, &caller, &f, page).await?.into()))
}

#[utoipa::path(get, path = "/contacts/{id}", operation_id = "getContact", tag = "contacts", params(("id" = String, Path, description = "Contact id (con_…)")),
    responses((status = 200, body = ContactRecord), (status = 404, body = Problem)))]
pub async fn get_contact(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<ContactRecord>> {
    let id: ContactId = path_id("contact", &id)?;
    Ok(Json(contacts::get(&app, &caller, &id).await?))
}

/// Changes a contact. Absent fields stay; an empty string clears an optional field.
#[utoipa::path(patch, path = "/contacts/{id}", operation_id = "updateContact", tag = "contacts", request_body = ContactPatch,
    params(("id" = String, Path, description = "Contact id (con_…)")),
    responses((status = 200, body = ContactRecord), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_contact(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    extract::Json(patch): extract::Json<ContactPatch>,
) -> ApiResult<Json<ContactRecord>> {
    let id: ContactId = path_id("contact", &id)?;
    Ok(Json(contacts::update(&app, &caller, &id, &patch).await?))
}

/// Deletes a contact that no live domain uses.
#[utoipa::path(delete, path = "/contacts/{id}", operation_id = "deleteContact", tag = "contacts",
    params(("id" = String, Path, description = "Contact id (con_…)")),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_contact(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: ContactId = path_id("contact", &id)?;
    contacts::delete(&app, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
