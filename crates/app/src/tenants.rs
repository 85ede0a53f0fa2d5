//! Tenants: the hosting companies on one installation (managed by the operator).

use panel1_core::validate::{self, Checker};
use panel1_core::{Role, Scope, SecretString, ValidationError};
use panel1_store::audit::Actor;
use panel1_store::tenants::{self, Tenant};
use panel1_store::users::{self, NewUser, User};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::audit::{self, Change};
use crate::{App, AppError, AppResult, Operator, auth};

/// A new tenant with its first administrator.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    #[schema(example = "Example Hosting")]
    pub name: String,
    /// Lowercase letters, digits and hyphens; unique on the installation.
    #[schema(example = "example-hosting")]
    pub slug: String,
    pub admin_email: String,
    pub admin_name: Option<String>,
}

/// A tenant and its first admin, with the admin's password (shown once).
pub struct CreatedTenant {
    pub tenant: Tenant,
    pub admin: User,
    pub password: SecretString,
}

pub fn check_slug(slug: &str) -> Result<String, ValidationError> {
    let s = slug.trim();
    let ok = (2..=40).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(ValidationError::field(
            "",
            "format",
            "2–40 lowercase letters, digits and inner hyphens, e.g. example-hosting",
        ))
    }
}

/// Creates a tenant and its administrator (role `admin`) in one transaction.
pub async fn create(app: &App, op: Operator<'_>, input: &NewTenant) -> AppResult<CreatedTenant> {
    let mut c = Checker::new();
    let name = c.take("name", validate::text(&input.name, 200));
    let slug = c.take("slug", check_slug(&input.slug));
    let email = c.take("admin_email", validate::email(&input.admin_email));
    let admin_name = c.take(
        "admin_name",
        validate::optional_text(input.admin_name.as_deref(), 200),
    );
    c.finish()?;
    let (Some(name), Some(slug), Some(email), Some(admin_name)) = (name, slug, email, admin_name)
    else {
        return Err(AppError::internal(anyhow::anyhow!(
            "validated input lost a field"
        )));
    };
    let password = auth::generate_password()?;
    let hash = auth::hash_password(&password)?;
    let mut tx = app.db.begin().await?;
    let tenant = match tenants::insert(tx.conn(), &name, &slug).await {
        Ok(t) => t,
        Err(panel1_store::StoreError::Conflict { .. }) => {
            return Err(AppError::conflict(
                format!("a tenant with slug `{slug}` already exists"),
                Some("slug"),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let admin = users::insert(
        tx.conn(),
        &tenant.id,
        &NewUser {
            email: &email,
            name: admin_name.as_deref().unwrap_or("Administrator"),
            role: Role::Admin,
            client_id: None,
            password_hash: Some(&hash),
        },
    )
    .await?;
    let actor = op.0.actor();
    audit::record_as(
        &mut tx,
        &tenant.id,
        &actor,
        op.0.request_id.as_deref(),
        Change {
            action: "tenant.create",
            object_type: "tenant",
            object_id: tenant.id.as_str(),
            summary: format!(
                "created tenant {} ({}) with admin {}",
                tenant.name, tenant.slug, admin.email
            ),
            before: None,
            after: Some(serde_json::to_value(&tenant).map_err(AppError::internal)?),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedTenant {
        tenant,
        admin,
        password,
    })
}

pub async fn list(app: &App, _op: Operator<'_>) -> AppResult<Vec<Tenant>> {
    let mut r = app.db.read().await?;
    Ok(tenants::list(r.conn()).await?)
}

/// The scope of a whole tenant, for system work.
pub fn system_scope(t: &Tenant) -> Scope {
    Scope::tenant(t.id.clone())
}

/// The actor recorded for work Panel1 does by itself.
pub fn system_actor(component: &str) -> Actor {
    Actor::system(component)
}
