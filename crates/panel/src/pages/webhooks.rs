//! Webhooks (administrators): list, create (the signing secret shown once), deliveries,
//! delete.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minijinja::context;
use minijinja::value::{Serde, Value};
use panel1_app::webhooks::{self as svc, NewWebhookInput};
use panel1_app::{App, AppError};
use panel1_core::WebhookId;
use serde::Deserialize;

use super::{Confirm, confirm_page, matches, page_of, page_request, pager, see_other};
use crate::error::{PageError, PageResult};
use crate::form::{Errors, FormData};
use crate::session::{Flash, StaffViewer};
use crate::templates::{render, render_status};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    page: Option<String>,
}

/// `GET /admin/webhooks`: searchable by address, events or description.
pub async fn list(
    State(app): State<App>,
    v: StaffViewer,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let search = q.q.unwrap_or_default().trim().to_owned();
    let hooks: Vec<_> = svc::list(&app, v.0.caller.admin()?)
        .await?
        .into_iter()
        .filter(|h| {
            matches(&h.url, &search)
                || matches(&h.events.join(" "), &search)
                || matches(h.description.as_deref().unwrap_or(""), &search)
        })
        .collect();
    let hooks = page_of(hooks, page_request(q.page.as_deref()));
    let pager = pager("/admin/webhooks", &[("q", &search)], &hooks);
    let hooks = hooks.items;
    render(
        "webhooks/list.html",
        context! { hooks => Serde(hooks), pager => Serde(pager), q => search, ..v.0.base("webhooks") },
    )
}

fn form_page(v: &StaffViewer, values: Value, errors: Errors, status: StatusCode) -> PageResult {
    render_status(
        status,
        "webhooks/form.html",
        context! { values, errors => Serde(errors), ..v.0.base("webhooks") },
    )
}

/// `GET /admin/webhooks/new`
pub async fn new_form(v: StaffViewer) -> PageResult {
    v.0.caller.admin()?;
    form_page(
        &v,
        context! { events => "*" },
        Errors::new(),
        StatusCode::OK,
    )
}

/// `POST /admin/webhooks/new`: `events` is a list separated by commas, spaces or lines.
pub async fn create(State(app): State<App>, v: StaffViewer, form: FormData) -> PageResult {
    let admin = v.0.caller.admin()?;
    let input = NewWebhookInput {
        url: form.text("url"),
        description: form.opt("description"),
        events: form
            .text("events")
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    match svc::create(&app, admin, &input).await {
        Ok((hook, secret)) => {
            v.0.flash(
                &app,
                Flash::success(format!(
                    "Webhook to {} created. Copy its signing secret now: it is shown only this once.",
                    hook.url
                ))
                .with_secret("Signing secret", secret.expose()),
            )
            .await?;
            Ok(see_other(&format!("/admin/webhooks/{}", hook.id)))
        }
        Err(AppError::Invalid(e)) => form_page(
            &v,
            Value::from(Serde(form.values())),
            Errors::from_validation(&e),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => Err(e.into()),
    }
}

async fn find(
    app: &App,
    v: &StaffViewer,
    raw: &str,
) -> PageResult<panel1_store::webhooks::Webhook> {
    let id: WebhookId = raw.parse().map_err(|_| PageError::not_found("webhook"))?;
    svc::list(app, v.0.caller.admin()?)
        .await?
        .into_iter()
        .find(|w| w.id == id)
        .ok_or_else(|| PageError::not_found("webhook"))
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    page: Option<String>,
}

/// `GET /admin/webhooks/{id}`: the webhook and its delivery attempts.
pub async fn show(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    Query(q): Query<PageQuery>,
) -> PageResult {
    let hook = find(&app, &v, &raw).await?;
    let page = svc::deliveries(
        &app,
        v.0.caller.admin()?,
        &hook.id,
        page_request(q.page.as_deref()),
    )
    .await?;
    let pager = pager(&format!("/admin/webhooks/{}", hook.id), &[], &page);
    render(
        "webhooks/detail.html",
        context! {
            hook => Serde(&hook),
            deliveries => Serde(&page.items),
            pager => Serde(pager),
            ..v.0.base("webhooks"),
        },
    )
}

/// `GET /admin/webhooks/{id}/delete`
pub async fn confirm_delete(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    let hook = find(&app, &v, &raw).await?;
    confirm_page(
        v.0.base("webhooks"),
        Confirm {
            title: "Delete webhook",
            message: format!(
                "Delete the webhook to {}? No more events will be sent there.",
                hook.url
            ),
            action: format!("/admin/webhooks/{}/delete", hook.id),
            button: "Delete webhook",
            cancel: format!("/admin/webhooks/{}", hook.id),
        },
    )
}

/// `POST /admin/webhooks/{id}/delete`
pub async fn delete(State(app): State<App>, v: StaffViewer, Path(raw): Path<String>) -> PageResult {
    let hook = find(&app, &v, &raw).await?;
    svc::delete(&app, v.0.caller.admin()?, &hook.id).await?;
    v.0.flash(
        &app,
        Flash::success(format!("Webhook to {} deleted.", hook.url)),
    )
    .await?;
    Ok(see_other("/admin/webhooks"))
}
