//! WHOIS contacts (the registrant, admin, tech and billing contacts of domains), reusable per
//! client: list with search, create, edit, delete (confirmed). Staff see every client's, a
//! client's users their own. A form reached from the registration page goes back there
//! afterwards (`next`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minijinja::context;
use minijinja::value::{Serde, Value};
use panel1_app::domains::contacts::{self as svc, ContactPatch, NewContact};
use panel1_app::{App, AppError};
use panel1_core::ContactId;
use panel1_store::contacts::{ContactFilter, ContactRecord};
use serde::Deserialize;

use super::{
    Area, Confirm, client_filter, client_options, confirm_page, page_request, pager, q, see_other,
};
use crate::error::{PageError, PageResult};
use crate::form::{Errors, FormData, refusal, top};
use crate::session::{ClientViewer, Flash, StaffViewer, Viewer, safe_next};
use crate::templates::{render, render_status};

fn id(raw: &str) -> PageResult<ContactId> {
    raw.parse().map_err(|_| PageError::not_found("contact"))
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    client_id: Option<String>,
    page: Option<String>,
}

async fn list(app: &App, v: &Viewer, area: Area, query: ListQuery) -> PageResult {
    let search = q(&query.q);
    let (client_text, client_id) = client_filter(area, &query.client_id)?;
    let f = ContactFilter {
        client_id,
        search: Some(search.clone()).filter(|s| !s.is_empty()),
    };
    let page = svc::list(app, &v.caller, &f, page_request(query.page.as_deref())).await?;
    let path = format!("{}/contacts", area.base());
    let pager = pager(&path, &[("q", &search), ("client_id", &client_text)], &page);
    let clients = if area.is_admin() {
        client_options(app, &v.caller).await?
    } else {
        Vec::new()
    };
    render(
        "contacts/list.html",
        context! {
            contacts => Serde(&page.items),
            pager => Serde(pager),
            q => search,
            client_id => client_text,
            clients => Serde(&clients),
            base => area.base(),
            ..v.base(&area.section("domains")),
        },
    )
}

/// `GET /admin/contacts`
pub async fn admin_list(
    State(app): State<App>,
    v: StaffViewer,
    Query(query): Query<ListQuery>,
) -> PageResult {
    list(&app, &v.0, Area::Admin, query).await
}

/// `GET /client/contacts`
pub async fn client_list(
    State(app): State<App>,
    v: ClientViewer,
    Query(query): Query<ListQuery>,
) -> PageResult {
    list(&app, &v.0, Area::Client, query).await
}

#[expect(
    clippy::too_many_arguments,
    reason = "one form page for new and existing contacts in both areas"
)]
async fn form_page(
    app: &App,
    v: &Viewer,
    area: Area,
    contact: Option<&ContactRecord>,
    values: Value,
    next: &str,
    errors: Errors,
    status: StatusCode,
) -> PageResult {
    let clients = if area.is_admin() && contact.is_none() {
        client_options(app, &v.caller).await?
    } else {
        Vec::new()
    };
    render_status(
        status,
        "contacts/form.html",
        context! {
            contact => Serde(contact),
            values,
            next,
            clients => Serde(&clients),
            errors => Serde(&errors),
            base => area.base(),
            ..v.base(&area.section("domains")),
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    client_id: Option<String>,
    next: Option<String>,
}

fn next_of(raw: &str, area: Area) -> String {
    let n = safe_next(raw);
    if n == "/" {
        format!("{}/contacts", area.base())
    } else {
        n
    }
}

async fn new_form(app: &App, v: &Viewer, area: Area, query: NewQuery) -> PageResult {
    let next = next_of(&q(&query.next), area);
    form_page(
        app,
        v,
        area,
        None,
        context! { client_id => q(&query.client_id) },
        &next,
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

/// `GET /admin/contacts/new`
pub async fn admin_new_form(
    State(app): State<App>,
    v: StaffViewer,
    Query(query): Query<NewQuery>,
) -> PageResult {
    new_form(&app, &v.0, Area::Admin, query).await
}

/// `GET /client/contacts/new`
pub async fn client_new_form(
    State(app): State<App>,
    v: ClientViewer,
    Query(query): Query<NewQuery>,
) -> PageResult {
    new_form(&app, &v.0, Area::Client, query).await
}

/// Where to go after saving: `next` (the registration page, with the new contact picked
/// when it names no registrant yet), else the list.
fn after_save(next: &str, new_id: &ContactId, area: Area) -> String {
    let list = format!("{}/contacts", area.base());
    if next == list || !next.contains("/domains/") {
        return list;
    }
    let sep = if next.contains('?') { '&' } else { '?' };
    format!("{next}{sep}registrant={new_id}")
}

async fn create(app: &App, v: &Viewer, area: Area, form: FormData) -> PageResult {
    let next = next_of(&form.text("next"), area);
    let client_id = match area {
        Area::Admin => form.opt("client_id").and_then(|s| s.parse().ok()),
        Area::Client => None,
    };
    let input = NewContact {
        client_id,
        first_name: form.text("first_name"),
        last_name: form.text("last_name"),
        organization: form.opt("organization"),
        email: form.text("email"),
        phone: form.text("phone"),
        fax: form.opt("fax"),
        address1: form.text("address1"),
        address2: form.opt("address2"),
        city: form.text("city"),
        state_province: form.opt("state_province"),
        postal_code: form.opt("postal_code"),
        country: form.text("country"),
    };
    match svc::create(app, &v.caller, &input).await {
        Ok(c) => {
            v.flash(
                app,
                Flash::success(format!(
                    "Contact {} {} added.",
                    c.data.first_name, c.data.last_name
                )),
            )
            .await?;
            Ok(see_other(&after_save(&next, &c.id, area)))
        }
        Err(e) => {
            let errors = refusal(e, top)?;
            form_page(
                app,
                v,
                area,
                None,
                Value::from(Serde(form.values())),
                &next,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// `POST /admin/contacts/new`
pub async fn admin_create(State(app): State<App>, v: StaffViewer, form: FormData) -> PageResult {
    create(&app, &v.0, Area::Admin, form).await
}

/// `POST /client/contacts/new`
pub async fn client_create(State(app): State<App>, v: ClientViewer, form: FormData) -> PageResult {
    create(&app, &v.0, Area::Client, form).await
}

async fn edit_form(app: &App, v: &Viewer, area: Area, raw: &str) -> PageResult {
    let c = svc::get(app, &v.caller, &id(raw)?).await?;
    let values = Value::from(Serde(&c.data));
    let next = format!("{}/contacts", area.base());
    form_page(
        app,
        v,
        area,
        Some(&c),
        values,
        &next,
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

/// `GET /admin/contacts/{id}/edit`
pub async fn admin_edit_form(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    edit_form(&app, &v.0, Area::Admin, &raw).await
}

/// `GET /client/contacts/{id}/edit`
pub async fn client_edit_form(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
) -> PageResult {
    edit_form(&app, &v.0, Area::Client, &raw).await
}

async fn update(app: &App, v: &Viewer, area: Area, raw: &str, form: FormData) -> PageResult {
    let cid = id(raw)?;
    let current = svc::get(app, &v.caller, &cid).await?;
    let patch = ContactPatch {
        first_name: Some(form.text("first_name")),
        last_name: Some(form.text("last_name")),
        organization: Some(form.text("organization")),
        email: Some(form.text("email")),
        phone: Some(form.text("phone")),
        fax: Some(form.text("fax")),
        address1: Some(form.text("address1")),
        address2: Some(form.text("address2")),
        city: Some(form.text("city")),
        state_province: Some(form.text("state_province")),
        postal_code: Some(form.text("postal_code")),
        country: Some(form.text("country")),
    };
    match svc::update(app, &v.caller, &cid, &patch).await {
        Ok(c) => {
            v.flash(
                app,
                Flash::success(format!(
                    "Contact {} {} saved. Domains that use it get the new details with their next contact update.",
                    c.data.first_name, c.data.last_name
                )),
            )
            .await?;
            Ok(see_other(&format!("{}/contacts", area.base())))
        }
        Err(e) => {
            let errors = refusal(e, top)?;
            let next = format!("{}/contacts", area.base());
            form_page(
                app,
                v,
                area,
                Some(&current),
                Value::from(Serde(form.values())),
                &next,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// `POST /admin/contacts/{id}/edit`
pub async fn admin_update(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    update(&app, &v.0, Area::Admin, &raw, form).await
}

/// `POST /client/contacts/{id}/edit`
pub async fn client_update(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    update(&app, &v.0, Area::Client, &raw, form).await
}

async fn confirm_delete(app: &App, v: &Viewer, area: Area, raw: &str) -> PageResult {
    let c = svc::get(app, &v.caller, &id(raw)?).await?;
    let list = format!("{}/contacts", area.base());
    confirm_page(
        v.base(&area.section("domains")),
        Confirm {
            title: "Delete contact",
            message: format!(
                "Delete the contact {} {} <{}>? Domains must not use it any more.",
                c.data.first_name, c.data.last_name, c.data.email
            ),
            action: format!("{list}/{}/delete", c.id),
            button: "Delete contact",
            cancel: list,
        },
    )
}

/// `GET /admin/contacts/{id}/delete`
pub async fn admin_confirm_delete(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    confirm_delete(&app, &v.0, Area::Admin, &raw).await
}

/// `GET /client/contacts/{id}/delete`
pub async fn client_confirm_delete(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
) -> PageResult {
    confirm_delete(&app, &v.0, Area::Client, &raw).await
}

async fn delete(app: &App, v: &Viewer, area: Area, raw: &str) -> PageResult {
    let cid = id(raw)?;
    let c = svc::get(app, &v.caller, &cid).await?;
    let flash = match svc::delete(app, &v.caller, &cid).await {
        Ok(()) => Flash::success(format!(
            "Contact {} {} deleted.",
            c.data.first_name, c.data.last_name
        )),
        Err(AppError::Conflict { message, .. }) => Flash::error(format!("Not deleted: {message}.")),
        Err(e) => return Err(e.into()),
    };
    v.flash(app, flash).await?;
    Ok(see_other(&format!("{}/contacts", area.base())))
}

/// `POST /admin/contacts/{id}/delete`
pub async fn admin_delete(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    delete(&app, &v.0, Area::Admin, &raw).await
}

/// `POST /client/contacts/{id}/delete`
pub async fn client_delete(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
) -> PageResult {
    delete(&app, &v.0, Area::Client, &raw).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_contact_goes_back_to_the_registration_with_it_picked() {
        let c: ContactId = ContactId::new();
        assert_eq!(
            after_save("/client/domains/new?name=a.test", &c, Area::Client),
            format!("/client/domains/new?name=a.test&registrant={c}")
        );
        assert_eq!(
            after_save("/client/contacts", &c, Area::Client),
            "/client/contacts"
        );
        assert_eq!(
            next_of("https://evil.test/", Area::Admin),
            "/admin/contacts"
        );
    }
}
