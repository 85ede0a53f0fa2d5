//! E-mail: the log of every e-mail Panel1 recorded (staff), and the templates each tenant may
//! change (administrators). A template is checked by the service (it must parse) before it
//! is stored; the built-in version stays the default.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minijinja::context;
use minijinja::value::{Serde, Value};
use panel1_app::App;
use panel1_app::notify::{self as svc, TemplateInput};
use panel1_store::emails::EmailFilter;
use serde::Deserialize;

use super::{page_request, pager, q, see_other};
use crate::error::{PageError, PageResult};
use crate::form::{Errors, FormData, refusal, top};
use crate::session::{Flash, StaffViewer};
use crate::templates::{render, render_status};

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    template: Option<String>,
    object_type: Option<String>,
    object_id: Option<String>,
    page: Option<String>,
}

/// `GET /admin/emails`: newest first, filtered by template or by the object it is about.
pub async fn list(
    State(app): State<App>,
    v: StaffViewer,
    Query(query): Query<ListQuery>,
) -> PageResult {
    let template = q(&query.template);
    let object_type = q(&query.object_type);
    let object_id = q(&query.object_id);
    let f = EmailFilter {
        template: Some(template.clone()).filter(|s| !s.is_empty()),
        object_type: Some(object_type.clone()).filter(|s| !s.is_empty()),
        object_id: Some(object_id.clone()).filter(|s| !s.is_empty()),
    };
    let page = svc::list(
        &app,
        v.0.caller.staff()?,
        &f,
        page_request(query.page.as_deref()),
    )
    .await?;
    let pager = pager(
        "/admin/emails",
        &[
            ("template", &template),
            ("object_type", &object_type),
            ("object_id", &object_id),
        ],
        &page,
    );
    let keys: Vec<&str> = svc::DEFAULT_TEMPLATES.iter().map(|(k, _, _)| *k).collect();
    render(
        "emails/list.html",
        context! {
            emails => Serde(&page.items),
            pager => Serde(pager),
            template,
            object_type,
            object_id,
            templates => keys,
            ..v.0.base("emails"),
        },
    )
}

/// `GET /admin/emails/templates`
pub async fn templates(State(app): State<App>, v: StaffViewer) -> PageResult {
    let all = svc::list_templates(&app, v.0.caller.admin()?).await?;
    render(
        "emails/templates.html",
        context! { templates => Serde(&all), ..v.0.base("emails") },
    )
}

fn edit_page(
    v: &StaffViewer,
    key: &str,
    values: Value,
    errors: Errors,
    status: StatusCode,
) -> PageResult {
    render_status(
        status,
        "emails/template.html",
        context! { key, values, errors => Serde(&errors), ..v.0.base("emails") },
    )
}

/// `GET /admin/emails/templates/{key}`
pub async fn edit_template(
    State(app): State<App>,
    v: StaffViewer,
    Path(key): Path<String>,
) -> PageResult {
    let t = svc::list_templates(&app, v.0.caller.admin()?)
        .await?
        .into_iter()
        .find(|t| t.key == key)
        .ok_or_else(|| PageError::not_found("e-mail template"))?;
    edit_page(
        &v,
        &key,
        context! { subject => t.subject, body => t.body, customized => t.customized },
        Errors::new(),
        StatusCode::OK,
    )
}

/// `POST /admin/emails/templates/{key}`
pub async fn save_template(
    State(app): State<App>,
    v: StaffViewer,
    Path(key): Path<String>,
    form: FormData,
) -> PageResult {
    let input = TemplateInput {
        subject: form.text("subject"),
        body: form.raw("body"),
    };
    match svc::update_template(&app, v.0.caller.admin()?, &key, &input).await {
        Ok(_) => {
            v.0.flash(
                &app,
                Flash::success(format!(
                    "The `{key}` template is saved; the next e-mails use it."
                )),
            )
            .await?;
            Ok(see_other("/admin/emails/templates"))
        }
        Err(e) => {
            let errors = refusal(e, top)?;
            edit_page(
                &v,
                &key,
                Value::from(Serde(form.values())),
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}
