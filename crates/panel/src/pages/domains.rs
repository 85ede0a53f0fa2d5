//! Domains, in the admin area (every domain of the tenant, with filters) and in the client
//! area (the client's own): availability search with prices, registration and transfer, the
//! domain page (state, expiry, nameservers, contacts, lock, privacy, auth code, operations
//! timeline, invoices) and its actions.
//!
//! Every change is an operation that a job carries out at the registrar; the domain page
//! follows the latest one in a progress region (`…/progress`, polled) until it ends, so a
//! registration is seen becoming active without a reload. Paid work (registration, renewal,
//! transfer, restore) is invoiced at the tenant's price first: while it waits for payment the
//! region shows the invoice, the client's credit and a "Pay from credit" button (it polls
//! slowly then, so a payment made elsewhere is seen, without reloading the page), and once
//! the invoice is paid it follows the registrar work as usual. The auth code is fetched from the
//! registrar on request and shown in that answer only: never stored, not even in the
//! session's one-time message.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minijinja::context;
use minijinja::value::{Serde, Value};
use panel1_app::domains::service::{
    self as svc, CheckDomains, CheckResult, ContactsInput, DomainDetail, ListFilter, Money,
    RegisterDomain, RenewDomain, SetLock, SetPrivacy, Suspend, TransferDomain, UpdateNameservers,
};
use panel1_app::{App, AppError};
use panel1_core::domain_lifecycle::DomainState;
use panel1_core::{ClientId, ContactId, DomainId, PageRequest, SecretString};
use panel1_store::billing::{InvoiceFilter, InvoiceStatus, PriceFilter};
use panel1_store::contacts::{ContactFilter, ContactRecord};
use panel1_store::domain_operations::{DomainOperation, OperationStatus};
use serde::{Deserialize, Serialize};

use super::{
    Area, Confirm, client_filter, client_options, confirm_page, day_filter, page_request, pager, q,
    see_other,
};
use crate::error::{PageError, PageResult};
use crate::form::{Errors, FormData, refusal, top};
use crate::session::{ClientViewer, Flash, StaffViewer, Viewer};
use crate::templates::{render, render_status};

/// Terms offered in forms.
const YEARS: [u8; 10] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

fn id(raw: &str) -> PageResult<DomainId> {
    raw.parse().map_err(|_| PageError::not_found("domain"))
}

fn domain_path(area: Area, id: &DomainId) -> String {
    format!("{}/domains/{id}", area.base())
}

// ------------------------------------------------------------------------------- list

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    status: Option<String>,
    tld: Option<String>,
    client_id: Option<String>,
    expiring_before: Option<String>,
    page: Option<String>,
}

async fn list(app: &App, v: &Viewer, area: Area, query: ListQuery) -> PageResult {
    let search = q(&query.q);
    let status = q(&query.status);
    let tld = q(&query.tld).trim_start_matches('.').to_owned();
    let (client_text, client_id) = client_filter(area, &query.client_id)?;
    let (expiring_text, expiring_before) = day_filter(&query.expiring_before)?;
    let f = ListFilter {
        client_id,
        status: Some(status.clone()).filter(|s| !s.is_empty()),
        tld: Some(tld.clone()).filter(|s| !s.is_empty()),
        expiring_before,
        search: Some(search.clone()).filter(|s| !s.is_empty()),
    };
    let page = match svc::list(app, &v.caller, &f, page_request(query.page.as_deref())).await {
        Ok(p) => p,
        Err(AppError::Invalid(e)) => {
            return Err(PageError::Invalid(format!(
                "The filter was not accepted: {}. Pick a status from the list and give a TLD such as com or co.uk.",
                e.summary()
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let path = format!("{}/domains", area.base());
    let pager = pager(
        &path,
        &[
            ("q", &search),
            ("status", &status),
            ("tld", &tld),
            ("client_id", &client_text),
            ("expiring_before", &expiring_text),
        ],
        &page,
    );
    let clients = if area.is_admin() {
        client_options(app, &v.caller).await?
    } else {
        Vec::new()
    };
    let names: BTreeMap<String, String> = clients
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    render(
        "domains/list.html",
        context! {
            domains => Serde(&page.items),
            pager => Serde(pager),
            q => search,
            status,
            tld,
            client_id => client_text,
            expiring_before => expiring_text,
            statuses => DomainState::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            clients => Serde(&clients),
            client_names => Serde(names),
            base => area.base(),
            ..v.base(&area.section("domains")),
        },
    )
}

/// `GET /admin/domains`
pub async fn admin_list(
    State(app): State<App>,
    v: StaffViewer,
    Query(query): Query<ListQuery>,
) -> PageResult {
    list(&app, &v.0, Area::Admin, query).await
}

/// `GET /client/domains`
pub async fn client_list(
    State(app): State<App>,
    v: ClientViewer,
    Query(query): Query<ListQuery>,
) -> PageResult {
    list(&app, &v.0, Area::Client, query).await
}

// ------------------------------------------------------------------ availability, register

/// One answer of the availability search, with the tenant's price when one is set.
#[derive(Debug, Serialize)]
struct Offer {
    #[serde(flatten)]
    check: CheckResult,
    /// The tenant's price to register for one year, e.g. `12.99 USD`.
    sale_price: Option<String>,
    /// The registrar's price (staff see it as the cost).
    registrar_price: Option<String>,
    /// It can be ordered here: available, and the tenant sells it (a price for its TLD, or a
    /// premium price derived from the registrar's).
    for_sale: bool,
}

/// Why an available name cannot be ordered: the tenant has no price for its TLD.
fn not_for_sale(o: &Offer, area: Area) -> String {
    let tld = o.check.name.split_once('.').map_or("", |(_, t)| t);
    if area.is_admin() {
        format!(
            "{} cannot be ordered yet: there is no register price for .{tld}. Set one on the TLD prices page first (clients are invoiced that price).",
            o.check.name_unicode
        )
    } else {
        format!(
            ".{tld} names are not offered yet, so {} cannot be ordered here. Ask us to offer .{tld}, or search for a name under another TLD.",
            o.check.name_unicode
        )
    }
}

fn money_text(m: &Money) -> String {
    match panel1_core::money::Currency::parse(&m.currency) {
        Ok(c) => panel1_core::money::Money::new(m.minor, c).to_string(),
        Err(_) => format!("{} {}", m.minor, m.currency),
    }
}

/// The tenant's sale prices to register under `tld` for one year (one per currency).
async fn sale_price(
    app: &App,
    v: &Viewer,
    tld: &str,
    operation: &str,
    years: i64,
) -> Result<Option<String>, AppError> {
    let f = PriceFilter {
        tld: Some(tld.to_owned()),
        operation: Some(operation.to_owned()),
        currency: None,
    };
    let page = panel1_app::billing::list_prices(app, &v.caller, &f, PageRequest::first(20)).await?;
    let prices: Vec<String> = page
        .items
        .iter()
        .filter(|p| p.tld == tld && p.operation == operation && p.years == years)
        .map(|p| panel1_core::money::Money::new(p.price, p.currency).to_string())
        .collect();
    Ok((!prices.is_empty()).then(|| prices.join(" or ")))
}

/// The names typed in the search box: separated by spaces, commas or lines. A bare label
/// (`example`) is tried under each TLD the tenant registers (at most 10).
async fn search_names(app: &App, v: &Viewer, text: &str) -> PageResult<Vec<String>> {
    let mut names = Vec::new();
    let words: Vec<&str> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .take(50)
        .collect();
    let mut tlds: Option<Vec<String>> = None;
    for w in words {
        let w = w.trim_end_matches('.');
        if w.contains('.') {
            names.push(w.to_owned());
            continue;
        }
        if tlds.is_none() {
            panel1_app::domains::accounts::ensure_demo(app, v.caller.tenant()).await?;
            let mut r = app.db.read().await?;
            tlds = Some(
                panel1_store::registrars::list_tlds(r.conn(), v.caller.tenant())
                    .await?
                    .into_iter()
                    .map(|m| m.tld)
                    .take(10)
                    .collect(),
            );
        }
        for t in tlds.iter().flatten() {
            names.push(format!("{w}.{t}"));
        }
    }
    names.truncate(50);
    Ok(names)
}

async fn offers(app: &App, v: &Viewer, names: Vec<String>) -> Result<Vec<Offer>, AppError> {
    let results = svc::check(app, &v.caller, &CheckDomains { names }).await?;
    let mut prices: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        let tld = r
            .name
            .split_once('.')
            .map(|(_, t)| t.to_owned())
            .unwrap_or_default();
        let price = match prices.get(&tld) {
            Some(p) => p.clone(),
            None => {
                // The longest public suffix the tenant prices: `co.uk` before `uk`.
                let mut found = None;
                let mut t = tld.as_str();
                loop {
                    if let Some(p) = sale_price(app, v, t, "register", 1).await? {
                        found = Some(p);
                        break;
                    }
                    match t.split_once('.') {
                        Some((_, rest)) => t = rest,
                        None => break,
                    }
                }
                prices.insert(tld.clone(), found.clone());
                found
            }
        };
        out.push(Offer {
            registrar_price: r.price.as_ref().map(money_text),
            for_sale: r.available && (price.is_some() || r.premium),
            sale_price: price,
            check: r,
        });
    }
    Ok(out)
}

#[derive(Debug, Default, Deserialize)]
pub struct RegisterQuery {
    /// The availability search.
    q: Option<String>,
    /// The name picked from the results (step 2).
    name: Option<String>,
    client_id: Option<String>,
    /// A contact just added from this page.
    registrant: Option<String>,
}

/// The client a staff member registers for (from the query or the form), or the viewer's own.
fn chosen_client(v: &Viewer, area: Area, given: &str) -> Option<ClientId> {
    match area {
        Area::Client => v.user.client_id.clone(),
        Area::Admin => given.parse().ok(),
    }
}

async fn contacts_of(app: &App, v: &Viewer, client: &ClientId) -> PageResult<Vec<ContactRecord>> {
    let f = ContactFilter {
        client_id: Some(client.clone()),
        search: None,
    };
    Ok(
        panel1_app::domains::contacts::list(app, &v.caller, &f, PageRequest::first(100))
            .await?
            .items,
    )
}

#[derive(Debug, Serialize)]
struct ContactOption {
    id: String,
    label: String,
}

fn contact_options(list: &[ContactRecord]) -> Vec<ContactOption> {
    list.iter()
        .map(|c| ContactOption {
            id: c.id.to_string(),
            label: format!(
                "{} {}{} <{}>",
                c.data.first_name,
                c.data.last_name,
                c.data
                    .organization
                    .as_deref()
                    .filter(|o| !o.is_empty())
                    .map(|o| format!(", {o}"))
                    .unwrap_or_default(),
                c.data.email
            ),
        })
        .collect()
}

struct RegisterPage<'a> {
    area: Area,
    search: String,
    offers: Option<Vec<Offer>>,
    search_error: Option<String>,
    name: String,
    offer: Option<Offer>,
    client_id: String,
    values: Value,
    errors: Errors,
    status: StatusCode,
    v: &'a Viewer,
}

async fn register_page(app: &App, p: RegisterPage<'_>) -> PageResult {
    let clients = if p.area.is_admin() {
        client_options(app, &p.v.caller).await?
    } else {
        Vec::new()
    };
    let client = chosen_client(p.v, p.area, &p.client_id);
    let contacts = match &client {
        Some(c) if !p.name.is_empty() => contact_options(&contacts_of(app, p.v, c).await?),
        _ => Vec::new(),
    };
    let billing_hint = match (&client, &p.offer) {
        (Some(c), Some(o)) if o.for_sale => Some(order_billing_hint(app, p.v, p.area, c).await?),
        _ => None,
    };
    let back = {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("name", &p.name);
        if p.area.is_admin() && !p.client_id.is_empty() {
            q.append_pair("client_id", &p.client_id);
        }
        format!("{}/domains/new?{}", p.area.base(), q.finish())
    };
    let new_contact = {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("next", &back);
        if p.area.is_admin() {
            q.append_pair("client_id", &p.client_id);
        }
        format!("{}/contacts/new?{}", p.area.base(), q.finish())
    };
    render_status(
        p.status,
        "domains/register.html",
        context! {
            search => p.search,
            offers => Serde(&p.offers),
            search_error => p.search_error,
            name => p.name,
            offer => Serde(&p.offer),
            client_id => p.client_id,
            client_chosen => client.is_some(),
            billing_hint,
            clients => Serde(&clients),
            contacts => Serde(&contacts),
            new_contact,
            years => YEARS.to_vec(),
            values => p.values,
            errors => Serde(&p.errors),
            base => p.area.base(),
            ..p.v.base(&p.area.section("domains")),
        },
    )
}

/// How an order is paid, said before it is placed: an invoice paid from the client's credit
/// when that covers it, the registrar asked once it is paid (or at once when the tenant works
/// on credit).
async fn order_billing_hint(
    app: &App,
    v: &Viewer,
    area: Area,
    client: &ClientId,
) -> PageResult<String> {
    let settings = {
        let mut r = app.db.read().await?;
        panel1_store::domain_automation::settings(r.conn(), v.caller.tenant()).await?
    };
    let credit = panel1_app::billing::credit(app, &v.caller, client, PageRequest::first(1)).await?;
    let balance = credit
        .balances
        .iter()
        .find(|b| b.currency == settings.currency)
        .copied()
        .unwrap_or(panel1_core::money::Money::zero(settings.currency));
    let whose = if area.is_admin() {
        "the client's"
    } else {
        "your"
    };
    Ok(if settings.work_on_credit {
        format!(
            "Ordering makes an invoice, paid from {whose} credit ({balance}) when it covers it, otherwise due within 7 days; the registrar is asked at once."
        )
    } else {
        format!(
            "Ordering makes an invoice, paid at once from {whose} credit ({balance}) when it covers it; the registrar is asked as soon as the invoice is paid."
        )
    })
}

async fn register_form(app: &App, v: &Viewer, area: Area, query: RegisterQuery) -> PageResult {
    let search = q(&query.q);
    let name = q(&query.name);
    let client_id = q(&query.client_id);
    let mut search_error = None;
    let mut results = None;
    if !search.is_empty() {
        let names = search_names(app, v, &search).await?;
        if names.is_empty() {
            search_error = Some("No registrar is set up for any TLD yet: an administrator adds a registrar account and routes TLDs to it first.".to_owned());
        } else {
            match offers(app, v, names).await {
                Ok(o) => results = Some(o),
                Err(AppError::Invalid(e)) => {
                    search_error = Some(format!(
                        "{}. Type whole names such as example.com, or a single word to try it under every TLD offered.",
                        e.summary()
                    ));
                }
                Err(AppError::Unavailable(m)) => {
                    search_error = Some(format!("{m}. Try the search again in a minute."));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    let mut offer = None;
    let mut errors = Errors::new();
    if !name.is_empty() {
        match offers(app, v, vec![name.clone()]).await {
            Ok(mut o) => offer = o.pop(),
            Err(e) => errors = refusal(e, |_| "name".to_owned())?,
        }
        if let Some(o) = &offer
            && o.check.available
            && !o.for_sale
        {
            errors.add("name", not_for_sale(o, area));
        }
        if let Some(o) = &offer
            && !o.check.available
        {
            errors.add(
                "name",
                format!(
                    "{} is not available{}. Search again for another name, or transfer it in if it is yours.",
                    o.check.name_unicode,
                    o.check
                        .reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                ),
            );
        }
    }
    register_page(
        app,
        RegisterPage {
            area,
            search,
            offers: results,
            search_error,
            name,
            offer,
            client_id,
            values: context! { years => "1", auto_renew => "on", registrant => q(&query.registrant) },
            errors,
            status: StatusCode::OK,
            v,
        },
    )
    .await
}

/// `GET /admin/domains/new`: availability search, then the registration form for a name.
pub async fn admin_register_form(
    State(app): State<App>,
    v: StaffViewer,
    Query(query): Query<RegisterQuery>,
) -> PageResult {
    register_form(&app, &v.0, Area::Admin, query).await
}

/// `GET /client/domains/new`
pub async fn client_register_form(
    State(app): State<App>,
    v: ClientViewer,
    Query(query): Query<RegisterQuery>,
) -> PageResult {
    register_form(&app, &v.0, Area::Client, query).await
}

fn contact_id(form: &FormData, field: &str) -> Option<ContactId> {
    form.opt(field).and_then(|s| s.parse().ok())
}

fn lines(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The page's own messages first; the service's for the same fields are left out.
fn merge(pre: Errors, service: Errors) -> Errors {
    let mut out = Errors::new();
    for s in &pre.summary {
        out.add(&s.field, s.message.clone());
    }
    for s in service.summary {
        if !pre.fields.contains_key(&s.field) {
            out.add(&s.field, s.message);
        }
    }
    out
}

/// Registration form fields as the service names them → the form's fields.
fn register_field(path: &str) -> String {
    match path.strip_prefix("contacts.") {
        Some(role) => role.to_owned(),
        None => top(path),
    }
}

async fn register(app: &App, v: &Viewer, area: Area, form: FormData) -> PageResult {
    let name = form.text("name");
    let client_text = form.text("client_id");
    let years = form.text("years").parse::<u8>().ok();
    let mut pre = Errors::new();
    let registrant = contact_id(&form, "registrant");
    if registrant.is_none() {
        pre.add(
            "registrant",
            "Pick the registrant (the domain's legal owner) from the client's contacts, or add a contact first.",
        );
    }
    let client_id = match area {
        Area::Admin => match client_text.parse::<ClientId>() {
            Ok(c) => Some(c),
            Err(_) => {
                pre.add("client_id", "Pick the client this domain is for.");
                None
            }
        },
        Area::Client => None,
    };
    let premium_price = match (form.opt("premium_minor"), form.opt("premium_currency")) {
        (Some(m), Some(c)) => m
            .parse::<i64>()
            .ok()
            .map(|minor| Money { minor, currency: c }),
        _ => None,
    };
    // The service checks every field at once; a missing registrant is sent as an id that
    // names no contact, and its error replaced by a clearer one.
    let input = RegisterDomain {
        name: name.clone(),
        client_id,
        years: Some(years.unwrap_or(0)),
        contacts: ContactsInput {
            registrant: registrant.clone().unwrap_or_default(),
            admin: contact_id(&form, "admin"),
            tech: contact_id(&form, "tech"),
            billing: contact_id(&form, "billing"),
        },
        nameservers: lines(&form.text("nameservers")),
        privacy: form.opt("privacy").is_some(),
        auto_renew: Some(form.opt("auto_renew").is_some()),
        premium_price,
    };
    let result = svc::register(app, &v.caller, &input).await;
    match result {
        Ok(a) => {
            let note = billing_note(app, v, &a).await?;
            let message = if note.is_empty() {
                format!(
                    "Registration of {} ordered. This page follows it at the registrar.",
                    a.domain.name_unicode
                )
            } else {
                format!("Registration of {} ordered.{note}", a.domain.name_unicode)
            };
            v.flash(app, Flash::success(message)).await?;
            Ok(see_other(&domain_path(area, &a.domain.id)))
        }
        Err(e) => {
            let offer = offers(app, v, vec![name.clone()])
                .await
                .ok()
                .and_then(|mut o| o.pop());
            // No price for the TLD: said in the panel's words, not the API's.
            if let Some(o) = &offer
                && o.check.available
                && !o.for_sale
            {
                pre.add("name", not_for_sale(o, area));
            }
            let errors = merge(pre, refusal(e, register_field)?);
            register_page(
                app,
                RegisterPage {
                    area,
                    search: String::new(),
                    offers: None,
                    search_error: None,
                    name,
                    offer,
                    client_id: client_text,
                    values: Value::from(Serde(form.values())),
                    errors,
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    v,
                },
            )
            .await
        }
    }
}

/// `POST /admin/domains/new`
pub async fn admin_register(State(app): State<App>, v: StaffViewer, form: FormData) -> PageResult {
    register(&app, &v.0, Area::Admin, form).await
}

/// `POST /client/domains/new`
pub async fn client_register(
    State(app): State<App>,
    v: ClientViewer,
    form: FormData,
) -> PageResult {
    register(&app, &v.0, Area::Client, form).await
}

// ------------------------------------------------------------------------------ transfer

async fn transfer_page(
    app: &App,
    v: &Viewer,
    area: Area,
    values: Value,
    client_id: &str,
    errors: Errors,
    status: StatusCode,
) -> PageResult {
    let clients = if area.is_admin() {
        client_options(app, &v.caller).await?
    } else {
        Vec::new()
    };
    let contacts = match chosen_client(v, area, client_id) {
        Some(c) => contact_options(&contacts_of(app, v, &c).await?),
        None => Vec::new(),
    };
    render_status(
        status,
        "domains/transfer.html",
        context! {
            values,
            client_id,
            clients => Serde(&clients),
            contacts => Serde(&contacts),
            years => YEARS.to_vec(),
            errors => Serde(&errors),
            base => area.base(),
            ..v.base(&area.section("domains")),
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct TransferQuery {
    name: Option<String>,
    client_id: Option<String>,
}

/// `GET /admin/domains/transfer`
pub async fn admin_transfer_form(
    State(app): State<App>,
    v: StaffViewer,
    Query(query): Query<TransferQuery>,
) -> PageResult {
    let client = q(&query.client_id);
    transfer_page(
        &app,
        &v.0,
        Area::Admin,
        context! { name => q(&query.name), years => "1" },
        &client,
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

/// `GET /client/domains/transfer`
pub async fn client_transfer_form(
    State(app): State<App>,
    v: ClientViewer,
    Query(query): Query<TransferQuery>,
) -> PageResult {
    transfer_page(
        &app,
        &v.0,
        Area::Client,
        context! { name => q(&query.name), years => "1" },
        "",
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

async fn transfer(app: &App, v: &Viewer, area: Area, form: FormData) -> PageResult {
    let client_text = form.text("client_id");
    let mut pre = Errors::new();
    let client_id = match area {
        Area::Admin => match client_text.parse::<ClientId>() {
            Ok(c) => Some(c),
            Err(_) => {
                pre.add("client_id", "Pick the client this domain is for.");
                None
            }
        },
        Area::Client => None,
    };
    let contacts = contact_id(&form, "registrant").map(|r| ContactsInput {
        registrant: r,
        admin: None,
        tech: None,
        billing: None,
    });
    let result = svc::transfer(
        app,
        &v.caller,
        &TransferDomain {
            name: form.text("name"),
            client_id,
            auth_code: SecretString::new(form.raw("auth_code")),
            years: form.text("years").parse().ok(),
            contacts,
        },
    )
    .await;
    match result {
        Ok(a) => {
            let note = billing_note(app, v, &a).await?;
            v.flash(
                app,
                Flash::success(format!(
                    "Transfer of {} requested. The current registrar may take up to five days to release it; this page shows where it stands.{note}",
                    a.domain.name_unicode
                )),
            )
            .await?;
            Ok(see_other(&domain_path(area, &a.domain.id)))
        }
        Err(e) => {
            let errors = merge(pre, refusal(e, register_field)?);
            // The auth code is never sent back to the browser.
            let mut values = form.values();
            values.remove("auth_code");
            transfer_page(
                app,
                v,
                area,
                Value::from(Serde(values)),
                &client_text,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// `POST /admin/domains/transfer`
pub async fn admin_transfer(State(app): State<App>, v: StaffViewer, form: FormData) -> PageResult {
    transfer(&app, &v.0, Area::Admin, form).await
}

/// `POST /client/domains/transfer`
pub async fn client_transfer(
    State(app): State<App>,
    v: ClientViewer,
    form: FormData,
) -> PageResult {
    transfer(&app, &v.0, Area::Client, form).await
}

// -------------------------------------------------------------------------------- detail

/// What the progress region says about the latest operation.
#[derive(Debug, Serialize)]
struct Progress {
    state: String,
    op: Option<DomainOperation>,
    /// Nothing more will happen without someone acting (or it waits for days: a transfer
    /// pending at the registry).
    is_final: bool,
    /// Waiting for a person (an unpaid invoice): the script keeps looking, slowly, so a
    /// payment made elsewhere is followed, but the page does not reload itself without it.
    waiting: bool,
    failed: bool,
    summary: String,
    /// The invoice the operation waits for, while it waits.
    payment: Option<Payment>,
}

/// The invoice that paid work waits for, and whether the client's credit covers it.
#[derive(Debug, Serialize)]
struct Payment {
    invoice_id: String,
    number: String,
    total: String,
    status: String,
    client_id: String,
    /// The client's credit in the invoice's currency.
    balance: String,
    covered: bool,
}

fn op_label(op: &str) -> &str {
    match op {
        "register" => "Registration",
        "renew" => "Renewal",
        "transfer" => "Transfer",
        "restore" => "Restore",
        "nameservers" => "Nameserver change",
        "contacts" => "Contact change",
        "lock" => "Registrar lock change",
        "privacy" => "WHOIS privacy change",
        "hold" => "Registry hold change",
        other => other,
    }
}

/// The invoice an operation waiting for payment waits for (as the viewer may see it).
async fn payment_of(app: &App, v: &Viewer, op: &DomainOperation) -> PageResult<Option<Payment>> {
    if op.status != OperationStatus::AwaitingPayment {
        return Ok(None);
    }
    let Some(inv_id) = &op.invoice_id else {
        return Ok(None);
    };
    let inv = match panel1_app::billing::get_invoice(app, &v.caller, inv_id).await {
        Ok(i) => i,
        Err(AppError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let credit =
        panel1_app::billing::credit(app, &v.caller, &inv.client_id, PageRequest::first(1)).await?;
    let balance = credit
        .balances
        .iter()
        .find(|b| b.currency == inv.currency)
        .copied()
        .unwrap_or(panel1_core::money::Money::zero(inv.currency));
    Ok(Some(Payment {
        invoice_id: inv.id.to_string(),
        number: inv.number.clone(),
        total: inv.total_money().to_string(),
        status: inv.status.as_str().to_owned(),
        client_id: inv.client_id.to_string(),
        balance: balance.to_string(),
        covered: balance.amount >= inv.total,
    }))
}

async fn progress_for(app: &App, v: &Viewer, d: &DomainDetail) -> PageResult<Progress> {
    let payment = match d.recent_operations.first() {
        Some(op) => payment_of(app, v, op).await?,
        None => None,
    };
    Ok(progress_of(d, payment))
}

fn progress_of(d: &DomainDetail, payment: Option<Payment>) -> Progress {
    let op = d.recent_operations.first().cloned();
    let state = d.domain.state.as_str().to_owned();
    let Some(o) = op else {
        return Progress {
            state,
            op: None,
            is_final: true,
            waiting: false,
            failed: false,
            summary: "No operation yet.".into(),
            payment: None,
        };
    };
    let label = op_label(&o.operation);
    let mut waiting = false;
    let (is_final, failed, summary) = match o.status {
        OperationStatus::Queued => (
            false,
            false,
            format!("{label} queued; it is sent to the registrar in a moment."),
        ),
        OperationStatus::Running => (
            false,
            false,
            format!(
                "{label} under way at the registrar (call {}).",
                o.attempts.max(1)
            ),
        ),
        OperationStatus::Waiting => (
            true,
            false,
            format!(
                "{label} pending at the registry; this can take days. Come back to this page to see it finish."
            ),
        ),
        OperationStatus::AwaitingPayment => match &payment {
            Some(p) if p.status == "paid" => (
                false,
                false,
                format!(
                    "Invoice {} is paid; the {} is sent to the registrar in a moment.",
                    p.number,
                    label.to_lowercase()
                ),
            ),
            Some(p) if p.status == "unpaid" => {
                waiting = true;
                (
                    false,
                    false,
                    format!(
                        "{label} waits for payment of invoice {} ({}); the registrar is asked as soon as it is paid.",
                        p.number, p.total
                    ),
                )
            }
            Some(p) => (
                true,
                true,
                format!(
                    "{label} will not be done: its invoice {} is {}.",
                    p.number, p.status
                ),
            ),
            None => (
                true,
                false,
                format!("{label} waits for its invoice to be paid; it starts as soon as it is."),
            ),
        },
        OperationStatus::Succeeded => (true, false, format!("{label} done.")),
        OperationStatus::Failed => (
            true,
            true,
            format!(
                "{label} failed: {}. Check the details below, correct them and try again, or contact support.",
                o.error.as_deref().unwrap_or("the registrar refused it")
            ),
        ),
    };
    Progress {
        state,
        op: Some(o),
        is_final,
        waiting,
        failed,
        summary,
        payment,
    }
}

async fn invoices_for(
    app: &App,
    v: &Viewer,
    d: &DomainDetail,
) -> PageResult<Vec<panel1_store::billing::Invoice>> {
    let f = InvoiceFilter {
        client_id: Some(d.domain.client_id.clone()),
        status: None,
    };
    let page =
        panel1_app::billing::list_invoices(app, &v.caller, &f, PageRequest::first(100)).await?;
    let id = d.domain.id.to_string();
    Ok(page
        .items
        .into_iter()
        .filter(|i| {
            i.lines.iter().any(|l| {
                l.object_type.as_deref() == Some("domain")
                    && l.object_id.as_deref() == Some(id.as_str())
            })
        })
        .collect())
}

async fn detail_page(
    app: &App,
    v: &Viewer,
    area: Area,
    raw: &str,
    auth_code: Option<String>,
) -> PageResult {
    let d = svc::get(app, &v.caller, &id(raw)?).await?;
    let progress = progress_for(app, v, &d).await?;
    let invoices = invoices_for(app, v, &d).await?;
    let client_name = if area.is_admin() {
        panel1_app::clients::get(app, &v.caller, &d.domain.client_id)
            .await
            .ok()
            .map(|c| c.details.name)
    } else {
        None
    };
    let registrar = if area.is_admin() {
        let mut r = app.db.read().await?;
        panel1_store::registrars::get_any(
            r.conn(),
            v.caller.tenant(),
            &d.domain.registrar_account_id,
        )
        .await?
        .map(|a| a.name)
    } else {
        None
    };
    let state = d.domain.state;
    render(
        "domains/detail.html",
        context! {
            d => Serde(&d),
            progress => Serde(&progress),
            refresh => !progress.is_final && !progress.waiting,
            invoices => Serde(&invoices),
            client_name,
            registrar,
            auth_code,
            can_renew => state.can_renew(),
            can_change => matches!(state, DomainState::Active | DomainState::Expired | DomainState::AutoRenewGrace | DomainState::Suspended),
            can_suspend => area.is_admin() && state.apply(panel1_core::domain_lifecycle::DomainEvent::Suspended).is_ok(),
            can_unsuspend => area.is_admin() && state == DomainState::Suspended,
            years => YEARS.to_vec(),
            base => area.base(),
            staff => area.is_admin(),
            path => domain_path(area, &d.domain.id),
            ..v.base(&area.section("domains")),
        },
    )
}

/// `GET /admin/domains/{id}`
pub async fn admin_show(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    detail_page(&app, &v.0, Area::Admin, &raw, None).await
}

/// `GET /client/domains/{id}`
pub async fn client_show(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
) -> PageResult {
    detail_page(&app, &v.0, Area::Client, &raw, None).await
}

async fn progress(app: &App, v: &Viewer, area: Area, raw: &str) -> PageResult {
    let d = svc::get(app, &v.caller, &id(raw)?).await?;
    let progress = progress_for(app, v, &d).await?;
    render(
        "domains/_progress.html",
        context! {
            d => Serde(&d),
            progress => Serde(&progress),
            path => domain_path(area, &d.domain.id),
            base => area.base(),
            staff => area.is_admin(),
        },
    )
}

/// `GET /admin/domains/{id}/progress`: the progress region alone (polled by the page).
pub async fn admin_progress(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    progress(&app, &v.0, Area::Admin, &raw).await
}

/// `GET /client/domains/{id}/progress`
pub async fn client_progress(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
) -> PageResult {
    progress(&app, &v.0, Area::Client, &raw).await
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    page: Option<String>,
}

async fn operations(app: &App, v: &Viewer, area: Area, raw: &str, query: PageQuery) -> PageResult {
    let did = id(raw)?;
    let d = svc::get(app, &v.caller, &did).await?;
    let page = svc::operations(app, &v.caller, &did, page_request(query.page.as_deref())).await?;
    let path = format!("{}/operations", domain_path(area, &did));
    let pager = pager(&path, &[], &page);
    render(
        "domains/operations.html",
        context! {
            d => Serde(&d),
            operations => Serde(&page.items),
            pager => Serde(pager),
            show_calls => area.is_admin(),
            path => domain_path(area, &did),
            base => area.base(),
            ..v.base(&area.section("domains")),
        },
    )
}

/// `GET /admin/domains/{id}/operations`: the full timeline with every registrar call.
pub async fn admin_operations(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    Query(query): Query<PageQuery>,
) -> PageResult {
    operations(&app, &v.0, Area::Admin, &raw, query).await
}

/// `GET /client/domains/{id}/operations`
pub async fn client_operations(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
    Query(query): Query<PageQuery>,
) -> PageResult {
    operations(&app, &v.0, Area::Client, &raw, query).await
}

// ------------------------------------------------------------------------------- actions

/// What an order's billing did, as a sentence for the message after it: an invoice waiting
/// for payment (the registrar is asked once it is paid), paid from credit, or due later (the
/// tenant works on credit).
async fn billing_note(app: &App, v: &Viewer, a: &svc::Accepted) -> PageResult<String> {
    let Some(inv_id) = &a.operation.invoice_id else {
        return Ok(String::new());
    };
    let inv = match panel1_app::billing::get_invoice(app, &v.caller, inv_id).await {
        Ok(i) => i,
        Err(AppError::NotFound { .. }) => return Ok(String::new()),
        Err(e) => return Err(e.into()),
    };
    let total = inv.total_money();
    Ok(match (a.operation.status, inv.status) {
        (OperationStatus::AwaitingPayment, InvoiceStatus::Unpaid) => format!(
            " Invoice {} ({total}) waits for payment; the registrar is asked once it is paid.",
            inv.number
        ),
        (_, InvoiceStatus::Paid) => format!(
            " Invoice {} ({total}) was paid from the credit; this page follows the work at the registrar.",
            inv.number
        ),
        (_, InvoiceStatus::Unpaid) => format!(
            " Invoice {} ({total}) is due by {}; this page follows the work at the registrar.",
            inv.number,
            inv.due_at.format("%Y-%m-%d")
        ),
        _ => String::new(),
    })
}

/// After an action: back to the domain page with what happened, or why it could not.
async fn after_action(
    app: &App,
    v: &Viewer,
    area: Area,
    did: &DomainId,
    result: Result<svc::Accepted, AppError>,
    done: impl FnOnce(&svc::Accepted) -> String,
) -> PageResult {
    let flash = match result {
        Ok(a) => Flash::success(done(&a)),
        Err(AppError::Conflict { message, .. }) => Flash::error(format!("Not done: {message}.")),
        Err(AppError::Invalid(e)) => Flash::error(format!(
            "Not done: {}. Correct it and try again.",
            e.summary()
        )),
        Err(AppError::Unavailable(m)) => {
            Flash::error(format!("Not done: {m}. Try again in a minute."))
        }
        Err(e) => return Err(e.into()),
    };
    v.flash(app, flash).await?;
    Ok(see_other(&domain_path(area, did)))
}

async fn renew(app: &App, v: &Viewer, area: Area, raw: &str, form: FormData) -> PageResult {
    let did = id(raw)?;
    let years = form.text("years").parse::<u8>().unwrap_or(0);
    let r = svc::renew(app, &v.caller, &did, &RenewDomain { years: Some(years) }).await;
    let note = match &r {
        Ok(a) => billing_note(app, v, a).await?,
        Err(_) => String::new(),
    };
    after_action(app, v, area, &did, r, |a| {
        if note.is_empty() {
            format!(
                "Renewal of {} by {years} year(s) ordered; this page follows it.",
                a.domain.name_unicode
            )
        } else {
            format!(
                "Renewal of {} by {years} year(s) ordered.{note}",
                a.domain.name_unicode
            )
        }
    })
    .await
}

/// `POST /admin/domains/{id}/renew`
pub async fn admin_renew(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    renew(&app, &v.0, Area::Admin, &raw, form).await
}

/// `POST /client/domains/{id}/renew`
pub async fn client_renew(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    renew(&app, &v.0, Area::Client, &raw, form).await
}

async fn lock(app: &App, v: &Viewer, area: Area, raw: &str, form: FormData) -> PageResult {
    let did = id(raw)?;
    let locked = form.text("locked") == "true";
    let r = svc::set_lock(app, &v.caller, &did, &SetLock { locked }).await;
    after_action(app, v, area, &did, r, |a| {
        format!(
            "{} the registrar lock of {} asked of the registrar.",
            if locked { "Setting" } else { "Removing" },
            a.domain.name_unicode
        )
    })
    .await
}

/// `POST /admin/domains/{id}/lock` (`locked=true|false`)
pub async fn admin_lock(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    lock(&app, &v.0, Area::Admin, &raw, form).await
}

/// `POST /client/domains/{id}/lock`
pub async fn client_lock(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    lock(&app, &v.0, Area::Client, &raw, form).await
}

async fn privacy(app: &App, v: &Viewer, area: Area, raw: &str, form: FormData) -> PageResult {
    let did = id(raw)?;
    let enabled = form.text("enabled") == "true";
    let r = svc::set_privacy(app, &v.caller, &did, &SetPrivacy { enabled }).await;
    after_action(app, v, area, &did, r, |a| {
        format!(
            "Turning WHOIS privacy {} for {} asked of the registrar.",
            if enabled { "on" } else { "off" },
            a.domain.name_unicode
        )
    })
    .await
}

/// `POST /admin/domains/{id}/privacy` (`enabled=true|false`)
pub async fn admin_privacy(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    privacy(&app, &v.0, Area::Admin, &raw, form).await
}

/// `POST /client/domains/{id}/privacy`
pub async fn client_privacy(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    privacy(&app, &v.0, Area::Client, &raw, form).await
}

async fn auth_code(app: &App, v: &Viewer, area: Area, raw: &str) -> PageResult {
    let did = id(raw)?;
    match svc::auth_code(app, &v.caller, &did).await {
        Ok(code) => detail_page(app, v, area, raw, Some(code.auth_code)).await,
        Err(AppError::Conflict { message, .. }) => {
            v.flash(app, Flash::error(format!("No auth code: {message}.")))
                .await?;
            Ok(see_other(&domain_path(area, &did)))
        }
        Err(AppError::Unavailable(m)) => {
            v.flash(
                app,
                Flash::error(format!("No auth code: {m}. Try again in a minute.")),
            )
            .await?;
            Ok(see_other(&domain_path(area, &did)))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/domains/{id}/auth-code`: asks the registrar and shows the code in this answer
/// only.
pub async fn admin_auth_code(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    auth_code(&app, &v.0, Area::Admin, &raw).await
}

/// `POST /client/domains/{id}/auth-code`
pub async fn client_auth_code(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
) -> PageResult {
    auth_code(&app, &v.0, Area::Client, &raw).await
}

// ----------------------------------------------------------------- nameservers, contacts

async fn nameservers_page(
    app: &App,
    v: &Viewer,
    area: Area,
    raw: &str,
    value: Option<String>,
    errors: Errors,
    status: StatusCode,
) -> PageResult {
    let d = svc::get(app, &v.caller, &id(raw)?).await?;
    let value = value.unwrap_or_else(|| d.domain.nameservers.join("\n"));
    render_status(
        status,
        "domains/nameservers.html",
        context! {
            d => Serde(&d),
            value,
            errors => Serde(&errors),
            path => domain_path(area, &d.domain.id),
            ..v.base(&area.section("domains")),
        },
    )
}

/// `GET /admin/domains/{id}/nameservers`
pub async fn admin_nameservers_form(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    nameservers_page(
        &app,
        &v.0,
        Area::Admin,
        &raw,
        None,
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

/// `GET /client/domains/{id}/nameservers`
pub async fn client_nameservers_form(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
) -> PageResult {
    nameservers_page(
        &app,
        &v.0,
        Area::Client,
        &raw,
        None,
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

async fn nameservers(app: &App, v: &Viewer, area: Area, raw: &str, form: FormData) -> PageResult {
    let did = id(raw)?;
    let text = form.text("nameservers");
    let input = UpdateNameservers {
        nameservers: lines(&text),
    };
    match svc::update_nameservers(app, &v.caller, &did, &input).await {
        Ok(a) => {
            v.flash(
                app,
                Flash::success(format!(
                    "New nameservers for {} sent to the registrar; this page follows the change.",
                    a.domain.name_unicode
                )),
            )
            .await?;
            Ok(see_other(&domain_path(area, &did)))
        }
        Err(e) => {
            let errors = refusal(e, |f| {
                // `nameservers.2` → say which line.
                match f
                    .strip_prefix("nameservers.")
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    Some(_) => "nameservers".to_owned(),
                    None => top(f),
                }
            })?;
            nameservers_page(
                app,
                v,
                area,
                raw,
                Some(text),
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// `POST /admin/domains/{id}/nameservers`
pub async fn admin_nameservers(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    nameservers(&app, &v.0, Area::Admin, &raw, form).await
}

/// `POST /client/domains/{id}/nameservers`
pub async fn client_nameservers(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    nameservers(&app, &v.0, Area::Client, &raw, form).await
}

async fn contacts_page(
    app: &App,
    v: &Viewer,
    area: Area,
    raw: &str,
    values: Option<Value>,
    errors: Errors,
    status: StatusCode,
) -> PageResult {
    let d = svc::get(app, &v.caller, &id(raw)?).await?;
    let options = contact_options(&contacts_of(app, v, &d.domain.client_id).await?);
    let c = &d.domain.contacts;
    let s = |x: &Option<ContactId>| x.as_ref().map(ToString::to_string).unwrap_or_default();
    let values = values.unwrap_or_else(|| {
        context! {
            registrant => s(&c.registrant),
            admin => s(&c.admin),
            tech => s(&c.tech),
            billing => s(&c.billing),
        }
    });
    let back = domain_path(area, &d.domain.id);
    let mut nq = form_urlencoded::Serializer::new(String::new());
    nq.append_pair("next", &format!("{back}/contacts"));
    if area.is_admin() {
        nq.append_pair("client_id", d.domain.client_id.as_str());
    }
    render_status(
        status,
        "domains/contacts.html",
        context! {
            d => Serde(&d),
            contacts => Serde(&options),
            values,
            errors => Serde(&errors),
            new_contact => format!("{}/contacts/new?{}", area.base(), nq.finish()),
            path => back,
            ..v.base(&area.section("domains")),
        },
    )
}

/// `GET /admin/domains/{id}/contacts`
pub async fn admin_contacts_form(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    contacts_page(
        &app,
        &v.0,
        Area::Admin,
        &raw,
        None,
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

/// `GET /client/domains/{id}/contacts`
pub async fn client_contacts_form(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
) -> PageResult {
    contacts_page(
        &app,
        &v.0,
        Area::Client,
        &raw,
        None,
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

async fn contacts(app: &App, v: &Viewer, area: Area, raw: &str, form: FormData) -> PageResult {
    let did = id(raw)?;
    let result = match contact_id(&form, "registrant") {
        Some(registrant) => {
            svc::update_contacts(
                app,
                &v.caller,
                &did,
                &ContactsInput {
                    registrant,
                    admin: contact_id(&form, "admin"),
                    tech: contact_id(&form, "tech"),
                    billing: contact_id(&form, "billing"),
                },
            )
            .await
        }
        None => Err(AppError::Invalid(panel1_core::ValidationError::field(
            "registrant",
            "required",
            "pick the registrant (the domain's legal owner)",
        ))),
    };
    match result {
        Ok(a) => {
            v.flash(
                app,
                Flash::success(format!(
                    "New contacts for {} sent to the registrar; this page follows the change.",
                    a.domain.name_unicode
                )),
            )
            .await?;
            Ok(see_other(&domain_path(area, &did)))
        }
        Err(e) => {
            let errors = refusal(e, top)?;
            contacts_page(
                app,
                v,
                area,
                raw,
                Some(Value::from(Serde(form.values()))),
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// `POST /admin/domains/{id}/contacts`
pub async fn admin_contacts(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    contacts(&app, &v.0, Area::Admin, &raw, form).await
}

/// `POST /client/domains/{id}/contacts`
pub async fn client_contacts(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    contacts(&app, &v.0, Area::Client, &raw, form).await
}

// ------------------------------------------------------------------- suspend (staff only)

async fn suspend_page(
    app: &App,
    v: &StaffViewer,
    raw: &str,
    reason: &str,
    errors: Errors,
    status: StatusCode,
) -> PageResult {
    let d = svc::get(app, &v.0.caller, &id(raw)?).await?;
    render_status(
        status,
        "domains/suspend.html",
        context! {
            d => Serde(&d),
            reason,
            errors => Serde(&errors),
            path => domain_path(Area::Admin, &d.domain.id),
            ..v.0.base("domains"),
        },
    )
}

/// `GET /admin/domains/{id}/suspend`: the reason, and the confirmation.
pub async fn suspend_form(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    v.0.caller.staff()?;
    suspend_page(&app, &v, &raw, "", Errors::new(), StatusCode::OK).await
}

/// `POST /admin/domains/{id}/suspend`
pub async fn suspend(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    let did = id(&raw)?;
    let reason = form.text("reason");
    match svc::suspend(
        &app,
        v.0.caller.staff()?,
        &did,
        &Suspend {
            reason: reason.clone(),
        },
    )
    .await
    {
        Ok(a) => {
            v.0.flash(
                &app,
                Flash::success(format!(
                    "{} is suspended; the registry hold is being set.",
                    a.domain.name_unicode
                )),
            )
            .await?;
            Ok(see_other(&domain_path(Area::Admin, &did)))
        }
        Err(e) => {
            let errors = refusal(e, top)?;
            suspend_page(
                &app,
                &v,
                &raw,
                &reason,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// `GET /admin/domains/{id}/unsuspend`
pub async fn confirm_unsuspend(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    let d = svc::get(&app, &v.0.caller, &id(&raw)?).await?;
    let path = domain_path(Area::Admin, &d.domain.id);
    confirm_page(
        v.0.base("domains"),
        Confirm {
            title: "Lift the suspension",
            message: format!(
                "Lift the suspension of {}? The registry hold is removed and the domain resolves again.",
                d.domain.name_unicode
            ),
            action: format!("{path}/unsuspend"),
            button: "Lift suspension",
            cancel: path,
        },
    )
}

/// `POST /admin/domains/{id}/unsuspend`
pub async fn unsuspend(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    let did = id(&raw)?;
    let r = svc::unsuspend(&app, v.0.caller.staff()?, &did).await;
    after_action(&app, &v.0, Area::Admin, &did, r, |a| {
        format!(
            "The suspension of {} is lifted; the registry hold is being removed.",
            a.domain.name_unicode
        )
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_names_split_on_spaces_commas_and_lines() {
        assert_eq!(
            lines("ns1.example.net, ns2.example.net\nns3.example.net"),
            ["ns1.example.net", "ns2.example.net", "ns3.example.net"]
        );
        assert_eq!(register_field("contacts.registrant"), "registrant");
        assert_eq!(register_field("nameservers.1"), "nameservers");
        assert_eq!(register_field("years"), "years");
    }
}
