use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use panel1_app::App;
use panel1_app::clients::{self, ClientPatch, NewClient};
use panel1_core::ClientId;
use panel1_store::clients::{Client, ClientFilter};
use serde::Deserialize;
use utoipa::IntoParams;

use super::PageOf;
use crate::extract::{self, Auth, Query, page_request, path_id};
use crate::problem::{ApiResult, Problem};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListClients {
    /// Page number, from 1.
    page: Option<u32>,
    /// Items per page, 1–100 (default 20).
    limit: Option<u32>,
    /// Matches name, company or e-mail (case-insensitive).
    search: Option<String>,
    /// `active`, `suspended` or `closed`.
    status: Option<String>,
}

/// Lists clients (newest first). Client users see only their own client.
#[utoipa::path(get, path = "/clients", operation_id = "listClients", tag = "clients", params(ListClients),
    responses((status = 200, body = PageOf<Client>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list_clients(
    State(app): State<App>,
    Auth(caller): Auth,
    Query(q): Query<ListClients>,
) -> ApiResult<Json<PageOf<Client>>> {
    let page = page_request(q.page, q.limit)?;
    let filter = ClientFilter {
        search: q.search,
        status: q.status,
    };
    Ok(Json(
        clients::list(&app, &caller, &filter, page).await?.into(),
    ))
}

/// Creates a client (staff).
#[utoipa::path(post, path = "/clients", operation_id = "createClient", tag = "clients", request_body = NewClient,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request safe: the first response is returned again")),
    responses((status = 201, body = Client), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_client(
    State(app): State<App>,
    Auth(caller): Auth,
    extract::Json(input): extract::Json<NewClient>,
) -> ApiResult<(StatusCode, Json<Client>)> {
    let client = clients::create(&app, caller.staff()?, &input).await?;
    Ok((StatusCode::CREATED, Json(client)))
}

/// One client.
#[utoipa::path(get, path = "/clients/{id}", operation_id = "getClient", tag = "clients", params(("id" = String, Path, description = "Client id (cli_…)")),
    responses((status = 200, body = Client), (status = 404, body = Problem)))]
pub async fn get_client(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Client>> {
    let id: ClientId = path_id("client", &id)?;
    Ok(Json(clients::get(&app, &caller, &id).await?))
}

/// Changes a client (staff). Absent fields stay; an empty string clears an optional field.
#[utoipa::path(patch, path = "/clients/{id}", operation_id = "updateClient", tag = "clients", request_body = ClientPatch,
    params(("id" = String, Path, description = "Client id (cli_…)"), ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request safe")),
    responses((status = 200, body = Client), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_client(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    extract::Json(patch): extract::Json<ClientPatch>,
) -> ApiResult<Json<Client>> {
    let id: ClientId = path_id("client", &id)?;
    Ok(Json(
        clients::update(&app, caller.staff()?, &id, &patch).await?,
    ))
}
