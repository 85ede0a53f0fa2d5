use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use panel1_app::App;
use panel1_app::users::{self, NewToken, NewUser};
use panel1_core::{TokenId, UserId};
use panel1_store::tokens::Token;
use panel1_store::users::User;
use serde::Serialize;
use utoipa::ToSchema;

use super::PageOf;
use crate::extract::{self, Auth, PageParams, Query, page_request, path_id};
use crate::problem::{ApiResult, Problem};

/// Lists users (client users see their client's users).
#[utoipa::path(get, path = "/users", operation_id = "listUsers", tag = "users", params(PageParams),
    responses((status = 200, body = PageOf<User>), (status = 401, body = Problem)))]
pub async fn list_users(
    State(app): State<App>,
    Auth(caller): Auth,
    Query(q): Query<PageParams>,
) -> ApiResult<Json<PageOf<User>>> {
    let page = page_request(q.page, q.limit)?;
    Ok(Json(users::list(&app, &caller, page).await?.into()))
}

/// Creates a user (administrators).
#[utoipa::path(post, path = "/users", operation_id = "createUser", tag = "users", request_body = NewUser,
    responses((status = 201, body = User), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_user(
    State(app): State<App>,
    Auth(caller): Auth,
    extract::Json(input): extract::Json<NewUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    Ok((
        StatusCode::CREATED,
        Json(users::create(&app, caller.admin()?, &input).await?),
    ))
}

/// One user.
#[utoipa::path(get, path = "/users/{id}", operation_id = "getUser", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = User), (status = 404, body = Problem)))]
pub async fn get_user(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<User>> {
    let id: UserId = path_id("user", &id)?;
    Ok(Json(users::get(&app, &caller, &id).await?))
}

/// Deletes a user (administrators); its tokens stop working at once.
#[utoipa::path(delete, path = "/users/{id}", operation_id = "deleteUser", tag = "users", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_user(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: UserId = path_id("user", &id)?;
    users::delete(&app, caller.admin()?, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new token with its secret (shown only in this response).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub token: Token,
    /// The secret to send as `Authorization: Bearer <secret>`. It is not stored and cannot be shown again.
    pub secret: String,
}

/// Lists API tokens (administrators see the tenant's, others their own). Secrets are never listed.
#[utoipa::path(get, path = "/tokens", operation_id = "listTokens", tag = "users",
    responses((status = 200, body = Vec<Token>)))]
pub async fn list_tokens(
    State(app): State<App>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<Token>>> {
    Ok(Json(users::list_tokens(&app, &caller).await?))
}

/// Creates an API token.
#[utoipa::path(post, path = "/tokens", operation_id = "createToken", tag = "users", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 422, body = Problem)))]
pub async fn create_token(
    State(app): State<App>,
    Auth(caller): Auth,
    extract::Json(input): extract::Json<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let (token, secret) = users::create_token(&app, &caller, &input).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token,
            secret: secret.expose().to_owned(),
        }),
    ))
}

/// Revokes an API token.
#[utoipa::path(delete, path = "/tokens/{id}", operation_id = "revokeToken", tag = "users", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn revoke_token(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: TokenId = path_id("token", &id)?;
    users::revoke_token(&app, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
