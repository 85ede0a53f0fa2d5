//! Clients: list with search and status filter, create, edit, detail (with the client's users
//! and recent activity).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minijinja::context;
use minijinja::value::{Serde, Value};
use panel1_app::clients::{self as svc, ClientPatch, NewClient};
use panel1_app::{App, AppError};
use panel1_core::{ClientId, PageRequest, Scope};
use panel1_store::audit::AuditFilter;
use panel1_store::clients::{Client, ClientFilter};
use serde::Deserialize;

use super::{page_request, pager, see_other};
use crate::error::{PageError, PageResult};
use crate::form::{Errors, FormData};
use crate::session::{Flash, StaffViewer};
use crate::templates::{render, render_status};

pub const FIELDS: [&str; 12] = [
    "name",
    "company",
    "email",
    "phone",
    "address1",
    "address2",
    "city",
    "state",
    "postal_code",
    "country",
    "status",
    "notes",
];

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    status: Option<String>,
    page: Option<String>,
}

/// `GET /admin/clients`
pub async fn list(
    State(app): State<App>,
    v: StaffViewer,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let search = q.q.unwrap_or_default().trim().to_owned();
    let status = q.status.unwrap_or_default().trim().to_owned();
    let filter = ClientFilter {
        search: Some(search.clone()).filter(|s| !s.is_empty()),
        status: Some(status.clone()).filter(|s| !s.is_empty()),
    };
    let page = match svc::list(&app, &v.0.caller, &filter, page_request(q.page.as_deref())).await {
        Ok(p) => p,
        Err(AppError::Invalid(_)) => {
            return Err(PageError::Invalid(format!(
                "`{status}` is not a client status; pick active, suspended or closed."
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let pager = pager(
        "/admin/clients",
        &[("q", &search), ("status", &status)],
        &page,
    );
    render(
        "clients/list.html",
        context! {
            clients => Serde(&page.items),
            pager => Serde(pager),
            q => search,
            status,
            ..v.0.base("clients"),
        },
    )
}

fn id(s: &str) -> PageResult<ClientId> {
    s.parse().map_err(|_| PageError::not_found("client"))
}

fn form_page(
    v: &StaffViewer,
    client: Option<&Client>,
    values: Value,
    errors: Errors,
    status: StatusCode,
) -> PageResult {
    render_status(
        status,
        "clients/form.html",
        context! {
            client => Serde(client),
            values,
            errors => Serde(errors),
            ..v.0.base("clients"),
        },
    )
}

/// `GET /admin/clients/new`
pub async fn new_form(v: StaffViewer) -> PageResult {
    form_page(
        &v,
        None,
        context! { status => "active" },
        Errors::new(),
        StatusCode::OK,
    )
}

fn opt(form: &FormData, name: &str) -> Option<String> {
    form.opt(name)
}

/// `POST /admin/clients/new`
pub async fn create(State(app): State<App>, v: StaffViewer, form: FormData) -> PageResult {
    let input = NewClient {
        name: form.text("name"),
        company: opt(&form, "company"),
        email: form.text("email"),
        phone: opt(&form, "phone"),
        address1: opt(&form, "address1"),
        address2: opt(&form, "address2"),
        city: opt(&form, "city"),
        state: opt(&form, "state"),
        postal_code: opt(&form, "postal_code"),
        country: opt(&form, "country"),
        status: opt(&form, "status"),
        notes: opt(&form, "notes"),
    };
    match svc::create(&app, v.0.caller.staff()?, &input).await {
        Ok(c) => {
            v.0.flash(
                &app,
                Flash::success(format!("Client {} created.", c.details.name)),
            )
            .await?;
            Ok(see_other(&format!("/admin/clients/{}", c.id)))
        }
        Err(AppError::Invalid(e)) => form_page(
            &v,
            None,
            Value::from(Serde(form.values())),
            Errors::from_validation(&e),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e.into()),
    }
}

/// `GET /admin/clients/{id}`
pub async fn show(State(app): State<App>, v: StaffViewer, Path(raw): Path<String>) -> PageResult {
    let cid = id(&raw)?;
    let client = svc::get(&app, &v.0.caller, &cid).await?;
    let users = {
        let mut r = app.db.read().await?;
        let scope = Scope::client(v.0.caller.tenant().clone(), cid.clone());
        panel1_store::users::list(r.conn(), &scope, PageRequest::first(50))
            .await?
            .0
    };
    let activity = panel1_app::audit::list(
        &app,
        v.0.caller.staff()?,
        &AuditFilter {
            object_type: Some("client".into()),
            object_id: Some(cid.to_string()),
        },
        PageRequest::first(10),
    )
    .await?;
    render(
        "clients/detail.html",
        context! {
            client => Serde(&client),
            users => Serde(users),
            activity => Serde(activity.items),
            ..v.0.base("clients"),
        },
    )
}

/// `GET /admin/clients/{id}/edit`
pub async fn edit_form(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    let client = svc::get(&app, &v.0.caller, &id(&raw)?).await?;
    let values = Value::from(Serde(&client.details));
    form_page(&v, Some(&client), values, Errors::new(), StatusCode::OK)
}

/// `POST /admin/clients/{id}/edit`: every field is sent; an empty optional field is cleared.
pub async fn update(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    let cid = id(&raw)?;
    let staff = v.0.caller.staff()?;
    let current = svc::get(&app, &v.0.caller, &cid).await?;
    let patch = ClientPatch {
        name: Some(form.text("name")),
        company: Some(form.text("company")),
        email: Some(form.text("email")),
        phone: Some(form.text("phone")),
        address1: Some(form.text("address1")),
        address2: Some(form.text("address2")),
        city: Some(form.text("city")),
        state: Some(form.text("state")),
        postal_code: Some(form.text("postal_code")),
        country: Some(form.text("country")),
        status: Some(form.text("status")),
        notes: Some(form.text("notes")),
    };
    match svc::update(&app, staff, &cid, &patch).await {
        Ok(c) => {
            v.0.flash(
                &app,
                Flash::success(format!("Client {} saved.", c.details.name)),
            )
            .await?;
            Ok(see_other(&format!("/admin/clients/{}", c.id)))
        }
        Err(AppError::Invalid(e)) => form_page(
            &v,
            Some(&current),
            Value::from(Serde(form.values())),
            Errors::from_validation(&e),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e.into()),
    }
}
