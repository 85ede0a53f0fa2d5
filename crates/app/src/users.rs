//! Users and their API tokens.

use chrono::{Duration, Utc};
use panel1_core::crypto::new_api_token;
use panel1_core::validate::{self, Checker};
use panel1_core::{
    ClientId, Page, PageRequest, Role, SecretString, TokenId, UserId, ValidationError,
};
use panel1_store::events::{self, NewEvent};
use panel1_store::tokens::{self, Token};
use panel1_store::users::{self, NewUser as StoreNewUser, User};
use panel1_store::{Tx, clients};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::audit::{self, Change};
use crate::{Admin, App, AppError, AppResult, Caller, auth};

/// A new user of the tenant.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    /// `admin`, `staff` or `client` (`operator` only by the operator).
    pub role: Role,
    /// Required for (and only for) the `client` role: the client this user belongs to.
    pub client_id: Option<ClientId>,
    /// Sets a password for signing in to the web panel (12–256 characters).
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<SecretString>,
}

/// A new API token.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for, e.g. `billing sync`.
    pub name: String,
    /// Create the token for this user (administrators only); default: yourself.
    pub user_id: Option<UserId>,
    /// Days until the token expires (1–3650); default: never.
    pub expires_in_days: Option<u32>,
}

pub async fn create(app: &App, admin: Admin<'_>, input: &NewUser) -> AppResult<User> {
    let caller = admin.0;
    let mut c = Checker::new();
    let email = c.take("email", validate::email(&input.email));
    let name = c.take("name", validate::text(&input.name, 200));
    if input.role == Role::Operator && caller.principal.role != Role::Operator {
        c.push(panel1_core::FieldError::new(
            "role",
            "forbidden",
            "only the operator can create operators",
        ));
    }
    match (input.role, &input.client_id) {
        (Role::Client, None) => c.push(panel1_core::FieldError::new(
            "client_id",
            "required",
            "a client user needs the id of its client",
        )),
        (r, Some(_)) if r != Role::Client => c.push(panel1_core::FieldError::new(
            "client_id",
            "forbidden",
            "only users with the client role belong to a client",
        )),
        _ => {}
    }
    if let Some(p) = &input.password {
        c.take(
            "password",
            auth::check_password(p).map_err(|e| {
                ValidationError(
                    e.0.into_iter()
                        .map(|f| panel1_core::FieldError {
                            field: String::new(),
                            ..f
                        })
                        .collect(),
                )
            }),
        );
    }
    c.finish()?;
    let (Some(email), Some(name)) = (email, name) else {
        unreachable_input()?
    };
    let hash = input
        .password
        .as_ref()
        .map(auth::hash_password)
        .transpose()?;

    let mut tx = app.db.begin().await?;
    if let Some(cid) = &input.client_id
        && clients::get(tx.conn(), &caller.scope(), cid)
            .await?
            .is_none()
    {
        return Err(ValidationError::field(
            "client_id",
            "not_found",
            format!("there is no client `{cid}` in this tenant"),
        )
        .into());
    }
    if users::credentials_by_email(tx.conn(), caller.tenant(), &email)
        .await?
        .is_some()
    {
        return Err(AppError::conflict(
            format!("a user with e-mail {email} already exists"),
            Some("email"),
        ));
    }
    let user = users::insert(
        tx.conn(),
        caller.tenant(),
        &StoreNewUser {
            email: &email,
            name: &name,
            role: input.role,
            client_id: input.client_id.as_ref(),
            password_hash: hash.as_deref(),
        },
    )
    .await?;
    let view = serde_json::to_value(&user).map_err(AppError::internal)?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "user.create",
            object_type: "user",
            object_id: user.id.as_str(),
            summary: format!("created {} user {}", user.role.as_str(), user.email),
            before: None,
            after: Some(view.clone()),
        },
    )
    .await?;
    events::append(
        &mut tx,
        NewEvent {
            tenant_id: caller.tenant(),
            kind: "user.created",
            object_type: "user",
            object_id: user.id.as_str(),
            payload: view,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

fn unreachable_input<T>() -> AppResult<T> {
    Err(AppError::internal(anyhow::anyhow!(
        "validated input lost a field"
    )))
}

pub async fn list(app: &App, caller: &Caller, page: PageRequest) -> AppResult<Page<User>> {
    let mut r = app.db.read().await?;
    let (items, total) = users::list(r.conn(), &caller.scope(), page).await?;
    Ok(Page::new(items, page, total))
}

pub async fn get(app: &App, caller: &Caller, id: &UserId) -> AppResult<User> {
    let mut r = app.db.read().await?;
    users::get(r.conn(), &caller.scope(), id)
        .await?
        .ok_or_else(|| AppError::not_found("user", id))
}

/// Deletes a user; its tokens stop working at once.
pub async fn delete(app: &App, admin: Admin<'_>, id: &UserId) -> AppResult<()> {
    let caller = admin.0;
    if &caller.principal.user_id == id {
        return Err(AppError::conflict(
            "you cannot delete your own account; ask another administrator",
            None,
        ));
    }
    let mut tx = app.db.begin().await?;
    let user = users::get(tx.conn(), &caller.scope(), id)
        .await?
        .ok_or_else(|| AppError::not_found("user", id))?;
    if user.role == Role::Operator && caller.principal.role != Role::Operator {
        return Err(AppError::Forbidden(
            "only the operator can delete an operator".into(),
        ));
    }
    users::delete(tx.conn(), caller.tenant(), id).await?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "user.delete",
            object_type: "user",
            object_id: id.as_str(),
            summary: format!("deleted user {}", user.email),
            before: Some(serde_json::to_value(&user).map_err(AppError::internal)?),
            after: None,
        },
    )
    .await?;
    events::append(
        &mut tx,
        NewEvent {
            tenant_id: caller.tenant(),
            kind: "user.deleted",
            object_type: "user",
            object_id: id.as_str(),
            payload: serde_json::json!({"id": id}),
        },
    )
    .await?;
    tx.commit().await?;
    // After the commit, so no concurrent request can cache the old state again.
    app.token_cache.forget(Some(id), None);
    Ok(())
}

/// Creates a token and returns it with its secret, which is shown this once.
pub async fn create_token(
    app: &App,
    caller: &Caller,
    input: &NewToken,
) -> AppResult<(Token, SecretString)> {
    let mut c = Checker::new();
    let name = c.take("name", validate::text(&input.name, 100));
    if let Some(d) = input.expires_in_days
        && !(1..=3650).contains(&d)
    {
        c.push(panel1_core::FieldError::new(
            "expires_in_days",
            "range",
            "must be between 1 and 3650 days",
        ));
    }
    c.finish()?;
    let Some(name) = name else {
        unreachable_input()?
    };
    let owner = match &input.user_id {
        Some(u) if u != &caller.principal.user_id => {
            caller.admin()?;
            u.clone()
        }
        _ => caller.principal.user_id.clone(),
    };
    let mut tx = app.db.begin().await?;
    let (token, secret) = insert_token(
        &mut tx,
        caller.tenant(),
        &owner,
        &name,
        input
            .expires_in_days
            .map(|d| Utc::now() + Duration::days(i64::from(d))),
        &caller.scope(),
    )
    .await?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "token.create",
            object_type: "token",
            object_id: token.id.as_str(),
            summary: format!(
                "created API token `{}` ({}…) for user {}",
                token.name, token.prefix, owner
            ),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((token, secret))
}

/// Inserts a token for a user visible in `scope` (shared with bootstrap).
pub(crate) async fn insert_token(
    tx: &mut Tx,
    tenant: &panel1_core::TenantId,
    owner: &UserId,
    name: &str,
    expires_at: Option<chrono::DateTime<Utc>>,
    scope: &panel1_core::Scope,
) -> AppResult<(Token, SecretString)> {
    if users::get(tx.conn(), scope, owner).await?.is_none() {
        return Err(ValidationError::field(
            "user_id",
            "not_found",
            format!("there is no user `{owner}` in this tenant"),
        )
        .into());
    }
    let (secret, hash) = new_api_token()?;
    let prefix: String = secret.expose().chars().take(10).collect();
    let token = tokens::insert(tx.conn(), tenant, owner, name, &hash, &prefix, expires_at).await?;
    Ok((token, secret))
}

/// Tokens: administrators see the tenant's, everyone else their own.
pub async fn list_tokens(app: &App, caller: &Caller) -> AppResult<Vec<Token>> {
    let mut r = app.db.read().await?;
    let user = if caller.principal.role.is_admin() {
        None
    } else {
        Some(&caller.principal.user_id)
    };
    Ok(tokens::list(r.conn(), caller.tenant(), user).await?)
}

pub async fn revoke_token(app: &App, caller: &Caller, id: &TokenId) -> AppResult<()> {
    let mut tx = app.db.begin().await?;
    let token = tokens::get(tx.conn(), caller.tenant(), id)
        .await?
        .ok_or_else(|| AppError::not_found("token", id))?;
    if token.user_id != caller.principal.user_id && !caller.principal.role.is_admin() {
        return Err(AppError::not_found("token", id));
    }
    if !tokens::revoke(tx.conn(), &caller.scope(), id).await? {
        return Err(AppError::conflict("this token is already revoked", None));
    }
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "token.revoke",
            object_type: "token",
            object_id: id.as_str(),
            summary: format!("revoked API token `{}` ({}…)", token.name, token.prefix),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    app.token_cache.forget(None, Some(id));
    Ok(())
}
