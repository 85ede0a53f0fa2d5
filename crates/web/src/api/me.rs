use axum::Json;
use axum::extract::State;
use panel1_app::App;
use panel1_core::{ClientId, Role, TenantId, TokenId, UserId};
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::Auth;
use crate::problem::{ApiResult, Problem};

/// Who the token belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub role: Role,
    pub client_id: Option<ClientId>,
    pub token_id: Option<TokenId>,
}

/// The caller's identity.
#[utoipa::path(get, path = "/me", operation_id = "getMe", tag = "auth",
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
pub async fn get_me(State(_app): State<App>, Auth(caller): Auth) -> ApiResult<Json<Me>> {
    let p = caller.principal;
    Ok(Json(Me {
        tenant_id: p.tenant_id,
        user_id: p.user_id,
        role: p.role,
        client_id: p.client_id,
        token_id: p.token_id,
    }))
}
