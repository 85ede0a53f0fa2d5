//! API tokens, in the admin area (administrators see the tenant's, staff their own) and in
//! the client area (a client user's own). A new token's secret is shown once, on the page
//! after creation, from a sealed one-time message; only its hash is stored.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minijinja::context;
use minijinja::value::{Serde, Value};
use panel1_app::users::{self as svc, NewToken};
use panel1_app::{App, AppError};
use panel1_core::{TokenId, UserId};

use serde::Deserialize;

use super::{Confirm, confirm_page, matches, page_of, page_request, pager, see_other};
use crate::error::{PageError, PageResult};
use crate::form::{Errors, FormData};
use crate::session::{ClientViewer, Flash, StaffViewer, Viewer};
use crate::templates::{render, render_status};

/// Where the pages live and which menu entry they belong to.
#[derive(Clone, Copy)]
struct Area {
    base: &'static str,
    section: &'static str,
}

const ADMIN: Area = Area {
    base: "/admin/tokens",
    section: "tokens",
};
const CLIENT: Area = Area {
    base: "/client/tokens",
    section: "client_tokens",
};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    page: Option<String>,
}

async fn list(app: &App, v: &Viewer, area: Area, q: ListQuery) -> PageResult {
    let search = q.q.unwrap_or_default().trim().to_owned();
    let tokens: Vec<_> = svc::list_tokens(app, &v.caller)
        .await?
        .into_iter()
        .filter(|t| matches(&t.name, &search) || matches(&t.prefix, &search))
        .collect();
    let (live, past): (Vec<_>, Vec<_>) = tokens.into_iter().partition(|t| {
        t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > chrono::Utc::now())
    });
    let live = page_of(live, page_request(q.page.as_deref()));
    let pager = pager(area.base, &[("q", &search)], &live);
    let past: Vec<_> = past.into_iter().take(20).collect();
    render(
        "tokens/list.html",
        context! {
            base => area.base,
            live => Serde(live.items),
            pager => Serde(pager),
            q => search,
            past => Serde(past),
            mine => v.user.id.to_string(),
            ..v.base(area.section),
        },
    )
}

fn form_page(
    v: &Viewer,
    area: Area,
    values: Value,
    errors: Errors,
    status: StatusCode,
) -> PageResult {
    render_status(
        status,
        "tokens/form.html",
        context! {
            base => area.base,
            values,
            errors => Serde(errors),
            ..v.base(area.section),
        },
    )
}

async fn create(app: &App, v: &Viewer, area: Area, form: &FormData) -> PageResult {
    let mut errors = Errors::new();
    let expires_in_days = match form.opt("expires_in_days") {
        None => None,
        Some(d) => match d.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.add("expires_in_days", "Enter a whole number of days (1–3650), or leave it empty for a token that does not expire.");
                None
            }
        },
    };
    let user_id = match form.opt("user_id") {
        Some(u) if v.user.role.is_admin() => match u.parse::<UserId>() {
            Ok(id) => Some(id),
            Err(e) => {
                errors.add("user_id", e.to_string());
                None
            }
        },
        _ => None,
    };
    if !errors.is_empty() {
        return form_page(
            v,
            area,
            Value::from(Serde(form.values())),
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let input = NewToken {
        name: form.text("name"),
        user_id,
        expires_in_days,
    };
    match svc::create_token(app, &v.caller, &input).await {
        Ok((token, secret)) => {
            v.flash(
                app,
                Flash::success(format!(
                    "API token “{}” created. Copy it now: it is shown only this once.",
                    token.name
                ))
                .with_secret(format!("API token “{}”", token.name), secret.expose()),
            )
            .await?;
            Ok(see_other(area.base))
        }
        Err(AppError::Invalid(e)) => form_page(
            v,
            area,
            Value::from(Serde(form.values())),
            Errors::from_validation(&e),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e.into()),
    }
}

/// The token, if the viewer may see it (their own; administrators: the tenant's).
async fn visible(app: &App, v: &Viewer, raw: &str) -> PageResult<panel1_store::tokens::Token> {
    let id: TokenId = raw.parse().map_err(|_| PageError::not_found("API token"))?;
    svc::list_tokens(app, &v.caller)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| PageError::not_found("API token"))
}

async fn confirm_revoke(app: &App, v: &Viewer, area: Area, raw: &str) -> PageResult {
    let t = visible(app, v, raw).await?;
    confirm_page(
        v.base(area.section),
        Confirm {
            title: "Revoke API token",
            message: format!(
                "Revoke the API token “{}” ({}…)? Programs using it stop working at once. This cannot be undone.",
                t.name, t.prefix
            ),
            action: format!("{}/{}/revoke", area.base, t.id),
            button: "Revoke token",
            cancel: area.base.to_owned(),
        },
    )
}

async fn revoke(app: &App, v: &Viewer, area: Area, raw: &str) -> PageResult {
    let t = visible(app, v, raw).await?;
    svc::revoke_token(app, &v.caller, &t.id).await?;
    v.flash(
        app,
        Flash::success(format!("API token “{}” revoked.", t.name)),
    )
    .await?;
    Ok(see_other(area.base))
}

pub async fn admin_list(
    State(app): State<App>,
    v: StaffViewer,
    Query(q): Query<ListQuery>,
) -> PageResult {
    list(&app, &v.0, ADMIN, q).await
}
pub async fn admin_new_form(v: StaffViewer) -> PageResult {
    form_page(&v.0, ADMIN, context! {}, Errors::new(), StatusCode::OK)
}
pub async fn admin_create(State(app): State<App>, v: StaffViewer, form: FormData) -> PageResult {
    create(&app, &v.0, ADMIN, &form).await
}
pub async fn admin_confirm_revoke(
    State(app): State<App>,
    v: StaffViewer,
    Path(id): Path<String>,
) -> PageResult {
    confirm_revoke(&app, &v.0, ADMIN, &id).await
}
pub async fn admin_revoke(
    State(app): State<App>,
    v: StaffViewer,
    Path(id): Path<String>,
) -> PageResult {
    revoke(&app, &v.0, ADMIN, &id).await
}

pub async fn client_list(
    State(app): State<App>,
    v: ClientViewer,
    Query(q): Query<ListQuery>,
) -> PageResult {
    list(&app, &v.0, CLIENT, q).await
}
pub async fn client_new_form(v: ClientViewer) -> PageResult {
    form_page(&v.0, CLIENT, context! {}, Errors::new(), StatusCode::OK)
}
pub async fn client_create(State(app): State<App>, v: ClientViewer, form: FormData) -> PageResult {
    create(&app, &v.0, CLIENT, &form).await
}
pub async fn client_confirm_revoke(
    State(app): State<App>,
    v: ClientViewer,
    Path(id): Path<String>,
) -> PageResult {
    confirm_revoke(&app, &v.0, CLIENT, &id).await
}
pub async fn client_revoke(
    State(app): State<App>,
    v: ClientViewer,
    Path(id): Path<String>,
) -> PageResult {
    revoke(&app, &v.0, CLIENT, &id).await
}
