use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use panel1_app::App;
use panel1_app::tenants::{self, NewTenant};
use panel1_store::tenants::Tenant;
use panel1_store::users::User;
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::{self, Auth};
use crate::problem::{ApiResult, Problem};

/// A new tenant with its first administrator and that administrator's initial password.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedTenant {
    pub tenant: Tenant,
    pub admin: User,
    /// The administrator's initial password, shown only in this response.
    pub admin_password: String,
}

/// Lists tenants (operator).
#[utoipa::path(get, path = "/tenants", operation_id = "listTenants", tag = "tenants",
    responses((status = 200, body = Vec<Tenant>), (status = 403, body = Problem)))]
pub async fn list_tenants(
    State(app): State<App>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<Tenant>>> {
    Ok(Json(tenants::list(&app, caller.operator()?).await?))
}

/// Creates a tenant and its first administrator (operator).
#[utoipa::path(post, path = "/tenants", operation_id = "createTenant", tag = "tenants", request_body = NewTenant,
    responses((status = 201, body = CreatedTenant), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_tenant(
    State(app): State<App>,
    Auth(caller): Auth,
    extract::Json(input): extract::Json<NewTenant>,
) -> ApiResult<(StatusCode, Json<CreatedTenant>)> {
    let c = tenants::create(&app, caller.operator()?, &input).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedTenant {
            tenant: c.tenant,
            admin: c.admin,
            admin_password: c.password.expose().to_owned(),
        }),
    ))
}
