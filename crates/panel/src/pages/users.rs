//! Users of the tenant (administrators): list, create (optionally for a client), delete, and
//! reset a lost second factor.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minijinja::context;
use minijinja::value::{Serde, Value};
use panel1_app::users::{self as svc, NewUser};
use panel1_app::{App, AppError};
use panel1_core::{ClientId, Role, SecretString, UserId};
use panel1_store::panel::{self, UserFilter};
use panel1_store::sessions;
use serde::Deserialize;

use super::{Confirm, confirm_page, page_request, pager, see_other};
use crate::error::{PageError, PageResult};
use crate::form::{Errors, FormData};
use crate::session::{Flash, StaffViewer};
use crate::templates::{render, render_status};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    role: Option<String>,
    page: Option<String>,
}

/// `GET /admin/users`: searchable by name or e-mail, filterable by role.
pub async fn list(
    State(app): State<App>,
    v: StaffViewer,
    Query(q): Query<ListQuery>,
) -> PageResult {
    v.0.caller.admin()?;
    let search = q.q.unwrap_or_default().trim().to_owned();
    let role_text = q.role.unwrap_or_default();
    let role = match role_text.as_str() {
        "" => None,
        r => Some(Role::parse(r).ok_or_else(|| {
            PageError::Invalid(format!(
                "`{r}` is not a role; pick client, staff, admin or operator."
            ))
        })?),
    };
    let req = page_request(q.page.as_deref());
    let (items, total) = {
        let mut r = app.db.read().await?;
        panel::search_users(
            r.conn(),
            &v.0.caller.scope(),
            &UserFilter {
                search: Some(search.clone()),
                role,
            },
            req,
        )
        .await?
    };
    let page = panel1_core::Page::new(items, req, total);
    let with_totp = {
        let mut r = app.db.read().await?;
        sessions::totp_enabled_ids(r.conn(), v.0.caller.tenant()).await?
    };
    let pager = pager(
        "/admin/users",
        &[("q", &search), ("role", &role_text)],
        &page,
    );
    render(
        "users/list.html",
        context! {
            users => Serde(&page.items),
            with_totp => Serde(with_totp),
            pager => Serde(pager),
            q => search,
            role => role_text,
            roles => vec!["client", "staff", "admin", "operator"],
            ..v.0.base("users"),
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    client_id: Option<String>,
}

fn form_page(v: &StaffViewer, values: Value, errors: Errors, status: StatusCode) -> PageResult {
    render_status(
        status,
        "users/form.html",
        context! {
            values,
            errors => Serde(errors),
            roles => vec!["client", "staff", "admin"],
            ..v.0.base("users"),
        },
    )
}

/// `GET /admin/users/new`
pub async fn new_form(v: StaffViewer, Query(q): Query<NewQuery>) -> PageResult {
    v.0.caller.admin()?;
    let role = if q.client_id.is_some() {
        "client"
    } else {
        "staff"
    };
    form_page(
        &v,
        context! { role, client_id => q.client_id.unwrap_or_default() },
        Errors::new(),
        StatusCode::OK,
    )
}

/// `POST /admin/users/new`
pub async fn create(State(app): State<App>, v: StaffViewer, form: FormData) -> PageResult {
    let admin = v.0.caller.admin()?;
    let mut errors = Errors::new();
    let role = Role::parse(&form.text("role"));
    if role.is_none() {
        errors.add("role", "Pick a role: client, staff or admin.");
    }
    let client_id = match form.opt("client_id") {
        None => None,
        Some(c) => match c.parse::<ClientId>() {
            Ok(id) => Some(id),
            Err(e) => {
                errors.add("client_id", e.to_string());
                None
            }
        },
    };
    let password = form.raw("password");
    if !errors.is_empty() {
        return form_page(
            &v,
            Value::from(Serde(form.values())),
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let input = NewUser {
        email: form.text("email"),
        name: form.text("name"),
        role: role.unwrap_or(Role::Staff),
        client_id,
        password: Some(SecretString::new(password)).filter(|p| !p.is_empty()),
    };
    match svc::create(&app, admin, &input).await {
        Ok(u) => {
            v.0.flash(&app, Flash::success(format!("User {} created.", u.email)))
                .await?;
            Ok(see_other(&match &u.client_id {
                Some(c) => format!("/admin/clients/{c}"),
                None => "/admin/users".to_owned(),
            }))
        }
        Err(AppError::Invalid(e)) => form_page(
            &v,
            Value::from(Serde(form.values())),
            Errors::from_validation(&e),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(AppError::Conflict { message, field }) => {
            let mut e = Errors::new();
            e.add(field.as_deref().unwrap_or(""), message);
            form_page(
                &v,
                Value::from(Serde(form.values())),
                e,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(e) => Err(e.into()),
    }
}

fn id(s: &str) -> PageResult<UserId> {
    s.parse().map_err(|_| PageError::not_found("user"))
}

/// `GET /admin/users/{id}/delete`
pub async fn confirm_delete(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    v.0.caller.admin()?;
    let u = svc::get(&app, &v.0.caller, &id(&raw)?).await?;
    confirm_page(
        v.0.base("users"),
        Confirm {
            title: "Delete user",
            message: format!(
                "Delete the user {} ({})? They can no longer sign in, and their API tokens stop working at once.",
                u.name, u.email
            ),
            action: format!("/admin/users/{}/delete", u.id),
            button: "Delete user",
            cancel: "/admin/users".into(),
        },
    )
}

/// `POST /admin/users/{id}/delete`
pub async fn delete(State(app): State<App>, v: StaffViewer, Path(raw): Path<String>) -> PageResult {
    let admin = v.0.caller.admin()?;
    let uid = id(&raw)?;
    let u = svc::get(&app, &v.0.caller, &uid).await?;
    svc::delete(&app, admin, &uid).await?;
    v.0.flash(&app, Flash::success(format!("User {} deleted.", u.email)))
        .await?;
    Ok(see_other("/admin/users"))
}

/// `GET /admin/users/{id}/reset-2fa`
pub async fn confirm_reset_totp(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    v.0.caller.admin()?;
    let u = svc::get(&app, &v.0.caller, &id(&raw)?).await?;
    confirm_page(
        v.0.base("users"),
        Confirm {
            title: "Reset two-factor sign-in",
            message: format!(
                "Reset two-factor sign-in of {} ({})? They are signed out everywhere and must set up an authenticator app again at their next sign-in.",
                u.name, u.email
            ),
            action: format!("/admin/users/{}/reset-2fa", u.id),
            button: "Reset two-factor sign-in",
            cancel: "/admin/users".into(),
        },
    )
}

/// `POST /admin/users/{id}/reset-2fa`
pub async fn reset_totp(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    v.0.caller.admin()?;
    let uid = id(&raw)?;
    let u = svc::get(&app, &v.0.caller, &uid).await?;
    let tenant = v.0.caller.tenant().clone();
    let mut tx = app.db.begin().await?;
    let had = sessions::disable_totp(tx.conn(), &tenant, &uid).await?;
    if !had {
        return Err(PageError::Conflict(format!(
            "{} has no two-factor sign-in to reset.",
            u.email
        )));
    }
    sessions::delete_for_user(tx.conn(), &tenant, &uid).await?;
    panel1_app::audit::record(
        &mut tx,
        &v.0.caller,
        panel1_app::audit::Change {
            action: "user.totp_reset",
            object_type: "user",
            object_id: uid.as_str(),
            summary: format!("reset two-factor sign-in of {}", u.email),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    v.0.flash(
        &app,
        Flash::success(format!("Two-factor sign-in of {} was reset.", u.email)),
    )
    .await?;
    Ok(see_other("/admin/users"))
}
