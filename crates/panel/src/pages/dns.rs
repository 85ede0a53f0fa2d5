//! DNS zones, in the admin area (every zone of the tenant) and in the client area (the
//! client's own): the zone list with a form to add one, the zone page (its SOA, the records
//! table with filters, a form to add a record), editing and deleting a record (confirmed),
//! importing a zone file (every wrong line reported, nothing changed then) and exporting one.
//!
//! The zone service checks every record with `panel1_dns`; its field errors (`name`, `type`,
//! `ttl`, `content`) are shown next to the form's fields. A saved change is answered by
//! Panel1's DNS server at once (the service wakes its view after the commit).

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use minijinja::context;
use minijinja::value::{Serde, Value};
use panel1_app::App;
use panel1_app::dns::service::{self as svc, Acting, NewZoneInput, RecordBody, ZoneListFilter};
use panel1_core::{ClientId, PageRequest, ZoneId};
use serde::Deserialize;

use super::{
    Area, Confirm, client_filter, client_options, confirm_page, page_request, pager, q, see_other,
};
use crate::error::{PageError, PageResult};
use crate::form::{Errors, FormData, refusal};
use crate::session::{ClientViewer, Flash, StaffViewer, Viewer};
use crate::templates::render_status;

/// The record types a zone takes (the SOA is Panel1's own).
const TYPES: [&str; 14] = [
    "A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "CAA", "PTR", "HTTPS", "SVCB", "TLSA", "SSHFP",
    "DS",
];

fn zone_id(raw: &str) -> PageResult<ZoneId> {
    raw.parse().map_err(|_| PageError::not_found("zone"))
}

fn zone_path(area: Area, id: &ZoneId) -> String {
    format!("{}/dns/{id}", area.base())
}

/// A record's field as the service names it → the form's field (`records.0.content`,
/// `content` → `content`); anything else belongs to the whole form.
fn record_field(path: &str) -> String {
    let leaf = path.rsplit('.').next().unwrap_or("");
    match leaf {
        "name" | "type" | "ttl" | "content" => leaf.to_owned(),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------------- zones

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    client_id: Option<String>,
    page: Option<String>,
}

async fn list_page(
    app: &App,
    v: &Viewer,
    area: Area,
    query: ListQuery,
    values: Value,
    errors: Errors,
    status: StatusCode,
) -> PageResult {
    let search = q(&query.q);
    let (client_text, client_id) = client_filter(area, &query.client_id)?;
    let f = ZoneListFilter {
        search: Some(search.clone()).filter(|s| !s.is_empty()),
        client_id,
    };
    let page = svc::list_zones(app, &v.caller, &f, page_request(query.page.as_deref())).await?;
    let path = format!("{}/dns", area.base());
    let pager = pager(&path, &[("q", &search), ("client_id", &client_text)], &page);
    let clients = if area.is_admin() {
        client_options(app, &v.caller).await?
    } else {
        Vec::new()
    };
    let names: std::collections::BTreeMap<String, String> = clients
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    render_status(
        status,
        "dns/list.html",
        context! {
            zones => Serde(&page.items),
            pager => Serde(pager),
            q => search,
            client_id => client_text,
            clients => Serde(&clients),
            client_names => Serde(names),
            values,
            errors => Serde(&errors),
            base => area.base(),
            ..v.base(&area.section("dns")),
        },
    )
}

/// `GET /admin/dns`
pub async fn admin_list(
    State(app): State<App>,
    v: StaffViewer,
    Query(query): Query<ListQuery>,
) -> PageResult {
    list_page(
        &app,
        &v.0,
        Area::Admin,
        query,
        Value::from(()),
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

/// `GET /client/dns`
pub async fn client_list(
    State(app): State<App>,
    v: ClientViewer,
    Query(query): Query<ListQuery>,
) -> PageResult {
    list_page(
        &app,
        &v.0,
        Area::Client,
        query,
        Value::from(()),
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

async fn create_zone(app: &App, v: &Viewer, area: Area, form: FormData) -> PageResult {
    let mut pre = Errors::new();
    let client_id = match (area, form.opt("client_id")) {
        (Area::Client, _) | (Area::Admin, None) => None,
        (Area::Admin, Some(s)) => match s.parse::<ClientId>() {
            Ok(c) => Some(c),
            Err(_) => {
                pre.add("client_id", "Pick the client from the list.");
                None
            }
        },
    };
    let ttl_text = form.text("default_ttl");
    let default_ttl = match ttl_text.as_str() {
        "" => None,
        t => match t.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                pre.add(
                    "default_ttl",
                    "Give the TTL in seconds, a whole number such as 3600.",
                );
                None
            }
        },
    };
    let input = NewZoneInput {
        name: form.text("name"),
        client_id,
        provider_id: None,
        default_ttl,
    };
    let result = if pre.is_empty() {
        svc::create_zone(app, &v.caller, &input).await.map(Some)
    } else {
        Ok(None)
    };
    match result {
        Ok(None) => {
            list_page(
                app,
                v,
                area,
                ListQuery::default(),
                Value::from(Serde(form.values())),
                pre,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Ok(Some(z)) => {
            v.flash(
                app,
                Flash::success(format!(
                    "The zone {} is created with its SOA and nameservers; Panel1's DNS server answers for it now.",
                    z.name_unicode
                )),
            )
            .await?;
            Ok(see_other(&zone_path(area, &z.id)))
        }
        Err(e) => {
            let mut errors = pre;
            for s in refusal(e, |f| f.split('.').next().unwrap_or("").to_owned())?.summary {
                errors.add(&s.field, s.message);
            }
            list_page(
                app,
                v,
                area,
                ListQuery::default(),
                Value::from(Serde(form.values())),
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// `POST /admin/dns`: a new zone.
pub async fn admin_create_zone(
    State(app): State<App>,
    v: StaffViewer,
    form: FormData,
) -> PageResult {
    create_zone(&app, &v.0, Area::Admin, form).await
}

/// `POST /client/dns`
pub async fn client_create_zone(
    State(app): State<App>,
    v: ClientViewer,
    form: FormData,
) -> PageResult {
    create_zone(&app, &v.0, Area::Client, form).await
}

// ------------------------------------------------------------------------------ zone page

#[derive(Debug, Default, Deserialize)]
pub struct ZoneQuery {
    name: Option<String>,
    #[serde(rename = "type")]
    rtype: Option<String>,
    page: Option<String>,
}

#[expect(
    clippy::too_many_arguments,
    reason = "the zone page in both areas, shown plain or with a refused record form"
)]
async fn zone_page(
    app: &App,
    v: &Viewer,
    area: Area,
    raw: &str,
    query: ZoneQuery,
    values: Value,
    errors: Errors,
    status: StatusCode,
) -> PageResult {
    let id = zone_id(raw)?;
    let z = svc::get_zone(app, &v.caller, &id).await?;
    let name = q(&query.name);
    let rtype = q(&query.rtype).to_ascii_uppercase();
    let records = svc::list_records(
        app,
        &v.caller,
        &id,
        Some(name.clone()).filter(|s| !s.is_empty()),
        Some(rtype.clone()).filter(|s| !s.is_empty()),
        page_request(query.page.as_deref()),
    )
    .await?;
    let path = zone_path(area, &id);
    let pager = pager(&path, &[("name", &name), ("type", &rtype)], &records);
    let client_name = match (&z.client_id, area.is_admin()) {
        (Some(c), true) => panel1_app::clients::get(app, &v.caller, c)
            .await
            .ok()
            .map(|c| c.details.name),
        _ => None,
    };
    render_status(
        status,
        "dns/zone.html",
        context! {
            z => Serde(&z),
            records => Serde(&records.items),
            pager => Serde(pager),
            name,
            rtype,
            types => TYPES.to_vec(),
            client_name,
            values,
            errors => Serde(&errors),
            path,
            base => area.base(),
            ..v.base(&area.section("dns")),
        },
    )
}

/// `GET /admin/dns/{id}`
pub async fn admin_zone(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    Query(query): Query<ZoneQuery>,
) -> PageResult {
    zone_page(
        &app,
        &v.0,
        Area::Admin,
        &raw,
        query,
        context! { rtype => "A" },
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

/// `GET /client/dns/{id}`
pub async fn client_zone(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
    Query(query): Query<ZoneQuery>,
) -> PageResult {
    zone_page(
        &app,
        &v.0,
        Area::Client,
        &raw,
        query,
        context! { rtype => "A" },
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

/// The record a form describes. A TTL that is not a number is reported at its field.
fn record_of(form: &FormData, errors: &mut Errors) -> RecordBody {
    let ttl_text = form.text("ttl");
    let ttl = match ttl_text.as_str() {
        "" => None,
        t => match t.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.add(
                    "ttl",
                    "Give the TTL in seconds, a whole number such as 3600, or leave it empty.",
                );
                None
            }
        },
    };
    RecordBody {
        name: match form.text("name") {
            n if n.is_empty() => "@".to_owned(),
            n => n,
        },
        rtype: form.text("rtype").to_ascii_uppercase(),
        ttl,
        content: form.text("content"),
    }
}

/// The service's errors, after the page's own (a field the page refused is not repeated).
fn with_service_errors(mut pre: Errors, e: panel1_app::AppError) -> PageResult<Errors> {
    for s in refusal(e, record_field)?.summary {
        // `type` is the select `rtype` in the form.
        let field = if s.field == "type" { "rtype" } else { &s.field };
        if !pre.fields.contains_key(field) {
            pre.add(field, s.message);
        }
    }
    Ok(pre)
}

async fn add_record(app: &App, v: &Viewer, area: Area, raw: &str, form: FormData) -> PageResult {
    let id = zone_id(raw)?;
    let mut pre = Errors::new();
    let body = record_of(&form, &mut pre);
    let result = if pre.is_empty() {
        svc::create_record(app, &v.caller, &id, &body)
            .await
            .map(Some)
    } else {
        Ok(None)
    };
    match result {
        Ok(Some(r)) => {
            v.flash(
                app,
                Flash::success(format!(
                    "Added {} {} {}; the DNS server answers with it now.",
                    r.name, r.rtype, r.content
                )),
            )
            .await?;
            Ok(see_other(&zone_path(area, &id)))
        }
        Ok(None) => {
            zone_page(
                app,
                v,
                area,
                raw,
                ZoneQuery::default(),
                Value::from(Serde(form.values())),
                pre,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => {
            let errors = with_service_errors(pre, e)?;
            zone_page(
                app,
                v,
                area,
                raw,
                ZoneQuery::default(),
                Value::from(Serde(form.values())),
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// `POST /admin/dns/{id}/records`: adds a record.
pub async fn admin_add_record(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    add_record(&app, &v.0, Area::Admin, &raw, form).await
}

/// `POST /client/dns/{id}/records`
pub async fn client_add_record(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    add_record(&app, &v.0, Area::Client, &raw, form).await
}

// ------------------------------------------------------------------ edit, delete a record

/// The record `rid` of the zone (404 when it names none).
async fn find_record(app: &App, v: &Viewer, id: &ZoneId, rid: &str) -> PageResult<svc::RecordOut> {
    // Records are listed in pages; the zone service has no single-record read.
    let mut page = 1u32;
    loop {
        let req = PageRequest::new(Some(page), Some(100)).unwrap_or_default();
        let p = svc::list_records(app, &v.caller, id, None, None, req).await?;
        if let Some(r) = p.items.iter().find(|r| r.id == rid) {
            return Ok(r.clone());
        }
        if u64::from(page) * 100 >= p.total || p.items.is_empty() || page >= 1000 {
            return Err(PageError::not_found("record"));
        }
        page += 1;
    }
}

#[derive(Debug, Deserialize)]
pub struct RecordPath {
    id: String,
    rid: String,
}

async fn edit_page(
    app: &App,
    v: &Viewer,
    area: Area,
    p: &RecordPath,
    values: Option<Value>,
    errors: Errors,
    status: StatusCode,
) -> PageResult {
    let id = zone_id(&p.id)?;
    let z = svc::get_zone(app, &v.caller, &id).await?;
    let r = find_record(app, v, &id, &p.rid).await?;
    let values = values.unwrap_or_else(|| {
        context! { name => r.name.clone(), rtype => r.rtype.clone(), ttl => r.ttl.to_string(), content => r.content.clone() }
    });
    render_status(
        status,
        "dns/record.html",
        context! {
            z => Serde(&z),
            r => Serde(&r),
            values,
            types => TYPES.to_vec(),
            errors => Serde(&errors),
            path => zone_path(area, &id),
            ..v.base(&area.section("dns")),
        },
    )
}

/// `GET /admin/dns/{id}/records/{rid}/edit`
pub async fn admin_edit_form(
    State(app): State<App>,
    v: StaffViewer,
    Path(p): Path<RecordPath>,
) -> PageResult {
    edit_page(
        &app,
        &v.0,
        Area::Admin,
        &p,
        None,
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

/// `GET /client/dns/{id}/records/{rid}/edit`
pub async fn client_edit_form(
    State(app): State<App>,
    v: ClientViewer,
    Path(p): Path<RecordPath>,
) -> PageResult {
    edit_page(
        &app,
        &v.0,
        Area::Client,
        &p,
        None,
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

async fn update(app: &App, v: &Viewer, area: Area, p: &RecordPath, form: FormData) -> PageResult {
    let id = zone_id(&p.id)?;
    let mut pre = Errors::new();
    let body = record_of(&form, &mut pre);
    let result = if pre.is_empty() {
        svc::update_record(app, &v.caller, &id, &p.rid, &body)
            .await
            .map(Some)
    } else {
        Ok(None)
    };
    let errors = match result {
        Ok(Some(r)) => {
            v.flash(
                app,
                Flash::success(format!(
                    "Saved {} {} {}; the DNS server answers with it now.",
                    r.name, r.rtype, r.content
                )),
            )
            .await?;
            return Ok(see_other(&zone_path(area, &id)));
        }
        Ok(None) => pre,
        Err(e) => with_service_errors(pre, e)?,
    };
    edit_page(
        app,
        v,
        area,
        p,
        Some(Value::from(Serde(form.values()))),
        errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// `POST /admin/dns/{id}/records/{rid}/edit`
pub async fn admin_update(
    State(app): State<App>,
    v: StaffViewer,
    Path(p): Path<RecordPath>,
    form: FormData,
) -> PageResult {
    update(&app, &v.0, Area::Admin, &p, form).await
}

/// `POST /client/dns/{id}/records/{rid}/edit`
pub async fn client_update(
    State(app): State<App>,
    v: ClientViewer,
    Path(p): Path<RecordPath>,
    form: FormData,
) -> PageResult {
    update(&app, &v.0, Area::Client, &p, form).await
}

async fn confirm_delete_record(app: &App, v: &Viewer, area: Area, p: &RecordPath) -> PageResult {
    let id = zone_id(&p.id)?;
    let z = svc::get_zone(app, &v.caller, &id).await?;
    let r = find_record(app, v, &id, &p.rid).await?;
    let path = zone_path(area, &id);
    confirm_page(
        v.base(&area.section("dns")),
        Confirm {
            title: "Delete record",
            message: format!(
                "Delete {} {} {} from {}? The DNS server stops answering with it at once.",
                r.name, r.rtype, r.content, z.name_unicode
            ),
            action: format!("{path}/records/{}/delete", r.id),
            button: "Delete record",
            cancel: path,
        },
    )
}

/// `GET /admin/dns/{id}/records/{rid}/delete`
pub async fn admin_confirm_delete_record(
    State(app): State<App>,
    v: StaffViewer,
    Path(p): Path<RecordPath>,
) -> PageResult {
    confirm_delete_record(&app, &v.0, Area::Admin, &p).await
}

/// `GET /client/dns/{id}/records/{rid}/delete`
pub async fn client_confirm_delete_record(
    State(app): State<App>,
    v: ClientViewer,
    Path(p): Path<RecordPath>,
) -> PageResult {
    confirm_delete_record(&app, &v.0, Area::Client, &p).await
}

async fn delete_record(app: &App, v: &Viewer, area: Area, p: &RecordPath) -> PageResult {
    let id = zone_id(&p.id)?;
    let r = find_record(app, v, &id, &p.rid).await?;
    svc::delete_record(app, &v.caller, &id, &p.rid).await?;
    v.flash(
        app,
        Flash::success(format!(
            "Deleted {} {} {}; the DNS server no longer answers with it.",
            r.name, r.rtype, r.content
        )),
    )
    .await?;
    Ok(see_other(&zone_path(area, &id)))
}

/// `POST /admin/dns/{id}/records/{rid}/delete`
pub async fn admin_delete_record(
    State(app): State<App>,
    v: StaffViewer,
    Path(p): Path<RecordPath>,
) -> PageResult {
    delete_record(&app, &v.0, Area::Admin, &p).await
}

/// `POST /client/dns/{id}/records/{rid}/delete`
pub async fn client_delete_record(
    State(app): State<App>,
    v: ClientViewer,
    Path(p): Path<RecordPath>,
) -> PageResult {
    delete_record(&app, &v.0, Area::Client, &p).await
}

// -------------------------------------------------------------------- import, export

/// One refused line of an imported file.
#[derive(Debug, serde::Serialize)]
struct LineError {
    line: Option<u64>,
    message: String,
}

async fn import_page(
    app: &App,
    v: &Viewer,
    area: Area,
    raw: &str,
    text: &str,
    lines: Vec<LineError>,
    status: StatusCode,
) -> PageResult {
    let id = zone_id(raw)?;
    let z = svc::get_zone(app, &v.caller, &id).await?;
    render_status(
        status,
        "dns/import.html",
        context! {
            z => Serde(&z),
            text,
            lines => Serde(&lines),
            path => zone_path(area, &id),
            ..v.base(&area.section("dns")),
        },
    )
}

/// `GET /admin/dns/{id}/import`
pub async fn admin_import_form(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    import_page(&app, &v.0, Area::Admin, &raw, "", vec![], StatusCode::OK).await
}

/// `GET /client/dns/{id}/import`
pub async fn client_import_form(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
) -> PageResult {
    import_page(&app, &v.0, Area::Client, &raw, "", vec![], StatusCode::OK).await
}

async fn import(app: &App, v: &Viewer, area: Area, raw: &str, form: FormData) -> PageResult {
    let id = zone_id(raw)?;
    let text = form.raw("zonefile");
    match svc::import(app, &Acting::caller(&v.caller), &id, &text).await {
        Ok(r) => {
            v.flash(
                app,
                Flash::success(format!(
                    "Imported: the zone has {} record(s) now, serial {}.",
                    r.records, r.serial
                )),
            )
            .await?;
            Ok(see_other(&zone_path(area, &id)))
        }
        Err(panel1_app::AppError::Invalid(e)) => {
            let lines =
                e.0.iter()
                    .map(|f| {
                        let line: Option<u64> =
                            f.field.strip_prefix("lines.").and_then(|n| n.parse().ok());
                        // The service says "line N: …"; the page links the number itself.
                        let message = line
                            .and_then(|n| f.message.strip_prefix(&format!("line {n}: ")))
                            .unwrap_or(&f.message)
                            .to_owned();
                        LineError { line, message }
                    })
                    .collect();
            import_page(
                app,
                v,
                area,
                raw,
                &text,
                lines,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => {
            let errors = refusal(e, |_| String::new())?;
            let lines = errors
                .summary
                .into_iter()
                .map(|s| LineError {
                    line: None,
                    message: s.message,
                })
                .collect();
            import_page(
                app,
                v,
                area,
                raw,
                &text,
                lines,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// `POST /admin/dns/{id}/import`: replaces the zone's records with a zone file's.
pub async fn admin_import(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    import(&app, &v.0, Area::Admin, &raw, form).await
}

/// `POST /client/dns/{id}/import`
pub async fn client_import(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    import(&app, &v.0, Area::Client, &raw, form).await
}

async fn export(app: &App, v: &Viewer, raw: &str) -> PageResult {
    let id = zone_id(raw)?;
    let (name, text) = svc::export(app, &v.caller, &id).await?;
    let file: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "text/dns; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}.zone\""),
            ),
        ],
        text,
    )
        .into_response())
}

/// `GET /admin/dns/{id}/export`: the zone file.
pub async fn admin_export(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    export(&app, &v.0, &raw).await
}

/// `GET /client/dns/{id}/export`
pub async fn client_export(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
) -> PageResult {
    export(&app, &v.0, &raw).await
}

// ---------------------------------------------------------------------------- delete zone

async fn confirm_delete_zone(app: &App, v: &Viewer, area: Area, raw: &str) -> PageResult {
    let id = zone_id(raw)?;
    let z = svc::get_zone(app, &v.caller, &id).await?;
    let path = zone_path(area, &id);
    confirm_page(
        v.base(&area.section("dns")),
        Confirm {
            title: "Delete zone",
            message: format!(
                "Delete the zone {} and its {} record(s)? The DNS server stops answering for it at once.",
                z.name_unicode, z.record_count
            ),
            action: format!("{path}/delete"),
            button: "Delete zone",
            cancel: path,
        },
    )
}

/// `GET /admin/dns/{id}/delete`
pub async fn admin_confirm_delete_zone(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    confirm_delete_zone(&app, &v.0, Area::Admin, &raw).await
}

/// `GET /client/dns/{id}/delete`
pub async fn client_confirm_delete_zone(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
) -> PageResult {
    confirm_delete_zone(&app, &v.0, Area::Client, &raw).await
}

async fn delete_zone(app: &App, v: &Viewer, area: Area, raw: &str) -> PageResult {
    let id = zone_id(raw)?;
    let z = svc::get_zone(app, &v.caller, &id).await?;
    svc::delete_zone(app, &v.caller, &id).await?;
    v.flash(
        app,
        Flash::success(format!("The zone {} is deleted.", z.name_unicode)),
    )
    .await?;
    Ok(see_other(&format!("{}/dns", area.base())))
}

/// `POST /admin/dns/{id}/delete`
pub async fn admin_delete_zone(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    delete_zone(&app, &v.0, Area::Admin, &raw).await
}

/// `POST /client/dns/{id}/delete`
pub async fn client_delete_zone(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
) -> PageResult {
    delete_zone(&app, &v.0, Area::Client, &raw).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_errors_land_on_the_form_fields() {
        assert_eq!(record_field("content"), "content");
        assert_eq!(record_field("records.0.ttl"), "ttl");
        assert_eq!(record_field("create.0.type"), "type");
        assert_eq!(record_field("id"), "");
        let mut e = Errors::new();
        let f = FormData::parse(b"name=&rtype=a&ttl=soon&content=192.0.2.1");
        let r = record_of(&f, &mut e);
        assert_eq!((r.name.as_str(), r.rtype.as_str(), r.ttl), ("@", "A", None));
        assert!(e.fields.contains_key("ttl"));
    }
}
