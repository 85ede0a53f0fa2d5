//! A new installation: the first tenant and its operator, so a newcomer can sign in at once.

use panel1_core::{Role, Scope, SecretString};
use panel1_store::tenants::{self, Tenant};
use panel1_store::users::{self, NewUser, User};

use crate::audit::{self, Change};
use crate::{App, AppError, AppResult, auth, users as user_svc};

/// What bootstrap did.
pub struct Bootstrap {
    pub tenant: Tenant,
    pub user: User,
    /// Set only when the user was created now (the password is shown this once).
    pub password: Option<SecretString>,
    /// A new API token for the user (shown this once).
    pub token: SecretString,
}

pub const FIRST_EMAIL: &str = "admin@panel1.local";

/// Creates the first tenant and its operator when the installation has none; either way
/// returns a new API token for the first operator. Idempotent apart from the new token.
pub async fn run(app: &App, token_name: &str) -> AppResult<Bootstrap> {
    let mut tx = app.db.begin().await?;
    let existing = tenants::list(tx.conn()).await?.into_iter().next();
    let (tenant, user, password) = match existing {
        Some(t) => {
            let scope = Scope::tenant(t.id.clone());
            let (list, _) =
                users::list(tx.conn(), &scope, panel1_core::PageRequest::first(100)).await?;
            let mut admins: Vec<User> = list.into_iter().filter(|u| u.role.is_admin()).collect();
            admins.sort_by_key(|u| (u.role != Role::Operator, u.created_at));
            match admins.into_iter().next() {
                Some(u) => (t, u, None),
                None => {
                    let (u, p) = create_operator(&mut tx, &t).await?;
                    (t, u, Some(p))
                }
            }
        }
        None => {
            let t = tenants::insert(tx.conn(), "Default", "default").await?;
            let (u, p) = create_operator(&mut tx, &t).await?;
            (t, u, Some(p))
        }
    };
    let (_, token) = user_svc::insert_token(
        &mut tx,
        &tenant.id,
        &user.id,
        token_name,
        None,
        &Scope::tenant(tenant.id.clone()),
    )
    .await?;
    audit::record_as(
        &mut tx,
        &tenant.id,
        &panel1_store::audit::Actor::system("bootstrap"),
        None,
        Change {
            action: "token.create",
            object_type: "user",
            object_id: user.id.as_str(),
            summary: format!(
                "bootstrap issued an API token `{token_name}` for {}",
                user.email
            ),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Bootstrap {
        tenant,
        user,
        password,
        token,
    })
}

async fn create_operator(tx: &mut panel1_store::Tx, t: &Tenant) -> AppResult<(User, SecretString)> {
    let password = auth::generate_password()?;
    let hash = auth::hash_password(&password)?;
    let u = users::insert(
        tx.conn(),
        &t.id,
        &NewUser {
            email: FIRST_EMAIL,
            name: "Operator",
            role: Role::Operator,
            client_id: None,
            password_hash: Some(&hash),
        },
    )
    .await
    .map_err(AppError::from)?;
    Ok((u, password))
}

/// Whether the installation has no tenant yet.
pub async fn is_empty(app: &App) -> AppResult<bool> {
    let mut r = app.db.read().await?;
    Ok(tenants::count(r.conn()).await? == 0)
}
