//! Registrar settings per tenant: accounts (credentials write-only) and which TLD goes to
//! which account.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use panel1_app::App;
use panel1_app::domains::accounts::{
    self, NewRegistrarAccount, RegistrarAccountView, SetTldRegistrar,
};
use panel1_core::RegistrarAccountId;
use panel1_store::registrars::TldMapping;

use crate::extract::{self, Auth, path_id};
use crate::problem::{ApiResult, Problem};

/// Adds a registrar account (administrators). The settings are checked by building the
/// adapter; credentials are sealed and never shown again.
#[utoipa::path(post, path = "/registrar-accounts", operation_id = "createRegistrarAccount", tag = "registrars", request_body = NewRegistrarAccount,
    responses((status = 201, body = RegistrarAccountView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_registrar_account(
    State(app): State<App>,
    Auth(caller): Auth,
    extract::Json(input): extract::Json<NewRegistrarAccount>,
) -> ApiResult<(StatusCode, Json<RegistrarAccountView>)> {
    Ok((
        StatusCode::CREATED,
        Json(accounts::create(&app, caller.admin()?, &input).await?),
    ))
}

/// The tenant's registrar accounts and their TLDs (staff). Credentials are never listed.
#[utoipa::path(get, path = "/registrar-accounts", operation_id = "listRegistrarAccounts", tag = "registrars",
    responses((status = 200, body = Vec<RegistrarAccountView>), (status = 403, body = Problem)))]
pub async fn list_registrar_accounts(
    State(app): State<App>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<RegistrarAccountView>>> {
    Ok(Json(accounts::list(&app, caller.staff()?).await?))
}

/// Deletes a registrar account that no live domain uses (administrators).
#[utoipa::path(delete, path = "/registrar-accounts/{id}", operation_id = "deleteRegistrarAccount", tag = "registrars",
    params(("id" = String, Path, description = "Registrar account id (rga_…)")),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_registrar_account(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: RegistrarAccountId = path_id("registrar account", &id)?;
    accounts::delete(&app, caller.admin()?, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which registrar account registers each TLD (staff).
#[utoipa::path(get, path = "/registrar-tlds", operation_id = "listTldRegistrars", tag = "registrars",
    responses((status = 200, body = Vec<TldMapping>), (status = 403, body = Problem)))]
pub async fn list_tld_registrars(
    State(app): State<App>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<TldMapping>>> {
    Ok(Json(accounts::list_tlds(&app, caller.staff()?).await?))
}

/// Routes a TLD (a public suffix such as `com` or `co.uk`) to a registrar account
/// (administrators).
#[utoipa::path(put, path = "/registrar-tlds/{tld}", operation_id = "setTldRegistrar", tag = "registrars", request_body = SetTldRegistrar,
    params(("tld" = String, Path, description = "A public suffix: `com`, `co.uk`")),
    responses((status = 200, body = TldMapping), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn set_tld_registrar(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(tld): Path<String>,
    extract::Json(input): extract::Json<SetTldRegistrar>,
) -> ApiResult<Json<TldMapping>> {
    Ok(Json(
        accounts::set_tld(&app, caller.admin()?, &tld, &input).await?,
    ))
}

/// Stops routing a TLD to any registrar (administrators).
#[utoipa::path(delete, path = "/registrar-tlds/{tld}", operation_id = "deleteTldRegistrar", tag = "registrars",
    params(("tld" = String, Path, description = "A public suffix: `com`, `co.uk`")),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_tld_registrar(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(tld): Path<String>,
) -> ApiResult<StatusCode> {
    accounts::remove_tld(&app, caller.admin()?, &tld).await?;
    Ok(StatusCode::NO_CONTENT)
}
