//! Billing: invoices (staff: list, detail, pay from credit, void; clients: theirs, paid from
//! their credit), client credit (balances, the ledger, adding credit) and TLD prices (list,
//! set by hand or from a cost with a markup, CSV import where one bad line refuses the file).
//! Paying and voiding are confirmed first; the services make each payment happen once.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use minijinja::context;
use minijinja::value::{Serde, Value};
use panel1_app::billing::{self as svc, CreditInput, TldPriceInput};
use panel1_app::{App, AppError};
use panel1_core::money::{Currency, Markup, Money};
use panel1_core::{ClientId, InvoiceId, PageRequest};
use panel1_store::billing::{Invoice, InvoiceFilter, InvoiceStatus, PriceFilter};
use serde::Deserialize;

use super::{
    Area, Confirm, client_filter, client_options, confirm_page, matches, page_of, page_request,
    pager, q, see_other,
};
use crate::error::{PageError, PageResult};
use crate::form::{Errors, FormData, refusal, top};
use crate::session::{ClientViewer, Flash, StaffViewer, Viewer};
use crate::templates::{render, render_status};

const STATUSES: [&str; 4] = ["draft", "unpaid", "paid", "void"];

fn invoice_id(raw: &str) -> PageResult<InvoiceId> {
    raw.parse().map_err(|_| PageError::not_found("invoice"))
}

fn client_id(raw: &str) -> PageResult<ClientId> {
    raw.parse().map_err(|_| PageError::not_found("client"))
}

// ------------------------------------------------------------------------------ invoices

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    status: Option<String>,
    client_id: Option<String>,
    page: Option<String>,
}

async fn list(app: &App, v: &Viewer, area: Area, query: ListQuery) -> PageResult {
    let search = q(&query.q);
    let status_text = q(&query.status);
    let (client_text, client) = client_filter(area, &query.client_id)?;
    let status = match status_text.as_str() {
        "" => None,
        s => Some(InvoiceStatus::parse(s).ok_or_else(|| {
            PageError::Invalid(format!(
                "`{s}` is not an invoice status; pick one of {}.",
                STATUSES.join(", ")
            ))
        })?),
    };
    let f = InvoiceFilter {
        client_id: client,
        status,
    };
    let req = page_request(query.page.as_deref());
    let clients = if area.is_admin() {
        client_options(app, &v.caller).await?
    } else {
        Vec::new()
    };
    let name_of = |id: &ClientId| {
        clients
            .iter()
            .find(|c| c.id == id.as_str())
            .map(|c| c.name.clone())
            .unwrap_or_default()
    };
    // A search looks at the newest 100 invoices that pass the filters (number or client).
    let page = if search.is_empty() {
        svc::list_invoices(app, &v.caller, &f, req).await?
    } else {
        let recent = svc::list_invoices(app, &v.caller, &f, PageRequest::first(100)).await?;
        let found: Vec<Invoice> = recent
            .items
            .into_iter()
            .filter(|i| matches(&i.number, &search) || matches(&name_of(&i.client_id), &search))
            .collect();
        page_of(found, req)
    };
    let path = format!("{}/invoices", area.base());
    let pager = pager(
        &path,
        &[
            ("q", &search),
            ("status", &status_text),
            ("client_id", &client_text),
        ],
        &page,
    );
    let client_names: std::collections::BTreeMap<String, String> = clients
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    render(
        "billing/invoices.html",
        context! {
            invoices => Serde(&page.items),
            pager => Serde(pager),
            q => search,
            status => status_text,
            client_id => client_text,
            statuses => STATUSES.to_vec(),
            clients => Serde(&clients),
            client_names => Serde(client_names),
            base => area.base(),
            ..v.base(&area.section("invoices")),
        },
    )
}

/// `GET /admin/invoices`
pub async fn admin_list(
    State(app): State<App>,
    v: StaffViewer,
    Query(query): Query<ListQuery>,
) -> PageResult {
    list(&app, &v.0, Area::Admin, query).await
}

/// `GET /client/invoices`
pub async fn client_list(
    State(app): State<App>,
    v: ClientViewer,
    Query(query): Query<ListQuery>,
) -> PageResult {
    list(&app, &v.0, Area::Client, query).await
}

async fn show(app: &App, v: &Viewer, area: Area, raw: &str) -> PageResult {
    let inv = svc::get_invoice(app, &v.caller, &invoice_id(raw)?).await?;
    let credit = svc::credit(app, &v.caller, &inv.client_id, PageRequest::first(1)).await?;
    let balance = credit
        .balances
        .iter()
        .find(|b| b.currency == inv.currency)
        .copied()
        .unwrap_or(Money::zero(inv.currency));
    let client_name = panel1_app::clients::get(app, &v.caller, &inv.client_id)
        .await
        .map(|c| c.details.name)
        .ok();
    let covered = balance.amount >= inv.total;
    render(
        "billing/invoice.html",
        context! {
            inv => Serde(&inv),
            balance => balance.to_string(),
            covered,
            payable => inv.status == InvoiceStatus::Unpaid,
            voidable => area.is_admin() && matches!(inv.status, InvoiceStatus::Unpaid | InvoiceStatus::Draft),
            client_name,
            base => area.base(),
            path => format!("{}/invoices/{}", area.base(), inv.id),
            ..v.base(&area.section("invoices")),
        },
    )
}

/// `GET /admin/invoices/{id}`
pub async fn admin_show(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    show(&app, &v.0, Area::Admin, &raw).await
}

/// `GET /client/invoices/{id}`
pub async fn client_show(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
) -> PageResult {
    show(&app, &v.0, Area::Client, &raw).await
}

/// Where to go after paying: a page of the same area that sent the payer here (the domain
/// page, which follows the work the invoice pays for), else the invoice.
#[derive(Debug, Default, Deserialize)]
pub struct PayQuery {
    next: Option<String>,
}

/// `next` when it is a domain page of `area` (ids and slashes only: no other site, no
/// other area), else `None`.
fn pay_next(area: Area, next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let rest = next.strip_prefix(&format!("{}/domains/", area.base()))?;
    let ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    ok.then(|| next.to_owned())
}

async fn confirm_pay(app: &App, v: &Viewer, area: Area, raw: &str, query: PayQuery) -> PageResult {
    let inv = svc::get_invoice(app, &v.caller, &invoice_id(raw)?).await?;
    let path = format!("{}/invoices/{}", area.base(), inv.id);
    let next = pay_next(area, query.next.as_deref());
    let action = match &next {
        Some(n) => format!(
            "{path}/pay?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("next", n)
                .finish()
        ),
        None => format!("{path}/pay"),
    };
    confirm_page(
        v.base(&area.section("invoices")),
        Confirm {
            title: "Pay from credit",
            message: format!(
                "Pay invoice {} ({}) from the account's credit?",
                inv.number,
                inv.total_money()
            ),
            action,
            button: "Pay from credit",
            cancel: next.unwrap_or(path),
        },
    )
}

/// `GET /admin/invoices/{id}/pay`
pub async fn admin_confirm_pay(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    Query(query): Query<PayQuery>,
) -> PageResult {
    confirm_pay(&app, &v.0, Area::Admin, &raw, query).await
}

/// `GET /client/invoices/{id}/pay`
pub async fn client_confirm_pay(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
    Query(query): Query<PayQuery>,
) -> PageResult {
    confirm_pay(&app, &v.0, Area::Client, &raw, query).await
}

/// What the paid invoice pays for: "the registration of example.com" (its lines' domain
/// work, which is released now).
fn paid_for(inv: &Invoice) -> Option<String> {
    let domain_lines: Vec<&str> = inv
        .lines
        .iter()
        .filter(|l| l.object_type.as_deref() == Some("domain"))
        .map(|l| l.description.as_str())
        .collect();
    (!domain_lines.is_empty()).then(|| domain_lines.join("; "))
}

async fn pay(app: &App, v: &Viewer, area: Area, raw: &str, query: PayQuery) -> PageResult {
    let id = invoice_id(raw)?;
    let next = pay_next(area, query.next.as_deref());
    let flash = match svc::pay(app, &v.caller, &id).await {
        Ok(inv) => {
            let mut m = format!(
                "Invoice {} is paid: {} was taken from the credit.",
                inv.number,
                inv.total_money()
            );
            if let Some(work) = paid_for(&inv) {
                m.push_str(&format!(
                    " {work}: the registrar is asked now; the domain's page follows it."
                ));
            }
            Flash::success(m)
        }
        Err(AppError::Conflict { message, .. }) => Flash::error(format!("Not paid: {message}.")),
        Err(e) => return Err(e.into()),
    };
    v.flash(app, flash).await?;
    Ok(see_other(&next.unwrap_or_else(|| {
        format!("{}/invoices/{id}", area.base())
    })))
}

/// `POST /admin/invoices/{id}/pay` (`?next=` a domain page to go back to)
pub async fn admin_pay(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    Query(query): Query<PayQuery>,
) -> PageResult {
    pay(&app, &v.0, Area::Admin, &raw, query).await
}

/// `POST /client/invoices/{id}/pay`
pub async fn client_pay(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
    Query(query): Query<PayQuery>,
) -> PageResult {
    pay(&app, &v.0, Area::Client, &raw, query).await
}

/// `GET /admin/invoices/{id}/void`
pub async fn confirm_void(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    let inv = svc::get_invoice(&app, &v.0.caller, &invoice_id(&raw)?).await?;
    let path = format!("/admin/invoices/{}", inv.id);
    confirm_page(
        v.0.base("invoices"),
        Confirm {
            title: "Void invoice",
            message: format!(
                "Void invoice {} ({})? It can no longer be paid, and the work it charges can be invoiced again.",
                inv.number,
                inv.total_money()
            ),
            action: format!("{path}/void"),
            button: "Void invoice",
            cancel: path,
        },
    )
}

/// `POST /admin/invoices/{id}/void`
pub async fn void(State(app): State<App>, v: StaffViewer, Path(raw): Path<String>) -> PageResult {
    let id = invoice_id(&raw)?;
    let flash = match svc::void(&app, v.0.caller.staff()?, &id).await {
        Ok(inv) => Flash::success(format!("Invoice {} is void.", inv.number)),
        Err(AppError::Conflict { message, .. }) => Flash::error(format!("Not voided: {message}.")),
        Err(e) => return Err(e.into()),
    };
    v.0.flash(&app, flash).await?;
    Ok(see_other(&format!("/admin/invoices/{id}")))
}

// -------------------------------------------------------------------------------- credit

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    page: Option<String>,
}

#[expect(
    clippy::too_many_arguments,
    reason = "the credit page in both areas, shown plain or with a refused form"
)]
async fn credit_page(
    app: &App,
    v: &Viewer,
    area: Area,
    client: &ClientId,
    page: Option<&str>,
    values: Value,
    errors: Errors,
    status: StatusCode,
) -> PageResult {
    let c = panel1_app::clients::get(app, &v.caller, client).await?;
    let view = svc::credit(app, &v.caller, client, page_request(page)).await?;
    let path = match area {
        Area::Admin => format!("/admin/clients/{client}/credit"),
        Area::Client => "/client/credit".to_owned(),
    };
    let pager = pager(&path, &[], &view.ledger);
    let balances: Vec<String> = view.balances.iter().map(ToString::to_string).collect();
    render_status(
        status,
        "billing/credit.html",
        context! {
            client => Serde(&c),
            balances,
            ledger => Serde(&view.ledger.items),
            pager => Serde(pager),
            values,
            errors => Serde(&errors),
            path,
            base => area.base(),
            ..v.base(&area.section(if area.is_admin() { "clients" } else { "credit" })),
        },
    )
}

/// `GET /admin/clients/{id}/credit`
pub async fn admin_credit(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    Query(query): Query<PageQuery>,
) -> PageResult {
    let cid = client_id(&raw)?;
    credit_page(
        &app,
        &v.0,
        Area::Admin,
        &cid,
        query.page.as_deref(),
        context! { currency => "USD" },
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

/// `GET /client/credit`
pub async fn client_credit(
    State(app): State<App>,
    v: ClientViewer,
    Query(query): Query<PageQuery>,
) -> PageResult {
    let cid =
        v.0.user
            .client_id
            .clone()
            .ok_or_else(|| PageError::not_found("client"))?;
    credit_page(
        &app,
        &v.0,
        Area::Client,
        &cid,
        query.page.as_deref(),
        Value::from(()),
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

/// `POST /admin/clients/{id}/credit`: adds credit.
pub async fn add_credit(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    let cid = client_id(&raw)?;
    let input = CreditInput {
        amount: form.text("amount"),
        currency: form.text("currency").to_ascii_uppercase(),
        note: form.opt("note"),
    };
    match svc::add_credit(&app, v.0.caller.staff()?, &cid, &input).await {
        Ok(entry) => {
            v.0.flash(
                &app,
                Flash::success(format!(
                    "{} credit added; the balance is now {}.",
                    Money::new(entry.amount, entry.currency),
                    Money::new(entry.balance_after, entry.currency)
                )),
            )
            .await?;
            Ok(see_other(&format!("/admin/clients/{cid}/credit")))
        }
        Err(e) => {
            let errors = refusal(e, top)?;
            credit_page(
                &app,
                &v.0,
                Area::Admin,
                &cid,
                None,
                Value::from(Serde(form.values())),
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

// -------------------------------------------------------------------------------- prices

#[derive(Debug, Default, Deserialize)]
pub struct PriceQuery {
    tld: Option<String>,
    operation: Option<String>,
    currency: Option<String>,
    page: Option<String>,
}

struct PricePage<'a> {
    values: Value,
    errors: Errors,
    csv: String,
    csv_errors: Errors,
    warnings: Vec<String>,
    status: StatusCode,
    query: PriceQuery,
    v: &'a StaffViewer,
}

async fn prices_page(app: &App, p: PricePage<'_>) -> PageResult {
    let tld = q(&p.query.tld).trim_start_matches('.').to_ascii_lowercase();
    let operation = q(&p.query.operation);
    let currency = q(&p.query.currency).to_ascii_uppercase();
    let f = PriceFilter {
        tld: Some(tld.clone()).filter(|s| !s.is_empty()),
        operation: Some(operation.clone()).filter(|s| !s.is_empty()),
        currency: Some(currency.clone()).filter(|s| !s.is_empty()),
    };
    let page = svc::list_prices(
        app,
        &p.v.0.caller,
        &f,
        page_request(p.query.page.as_deref()),
    )
    .await?;
    let pager = pager(
        "/admin/prices",
        &[
            ("tld", &tld),
            ("operation", &operation),
            ("currency", &currency),
        ],
        &page,
    );
    render_status(
        p.status,
        "billing/prices.html",
        context! {
            prices => Serde(&page.items),
            pager => Serde(pager),
            tld,
            operation,
            currency,
            operations => svc::OPERATIONS.to_vec(),
            values => p.values,
            errors => Serde(&p.errors),
            csv => p.csv,
            csv_errors => Serde(&p.csv_errors),
            warnings => p.warnings,
            ..p.v.0.base("prices"),
        },
    )
}

/// `GET /admin/prices`
pub async fn prices(
    State(app): State<App>,
    v: StaffViewer,
    Query(query): Query<PriceQuery>,
) -> PageResult {
    prices_page(
        &app,
        PricePage {
            values: context! { operation => "register", years => "1", currency => "USD", markup => "" },
            errors: Errors::new(),
            csv: String::new(),
            csv_errors: Errors::new(),
            warnings: Vec::new(),
            status: StatusCode::OK,
            query,
            v: &v,
        },
    )
    .await
}

/// The markup typed in the form: a percentage (`20` or `12.5`) or a fixed amount (`2.00`).
fn markup_of(form: &FormData, errors: &mut Errors) -> Option<Markup> {
    let value = form.text("markup_value");
    match form.text("markup").as_str() {
        "percent" => {
            let bp = value
                .parse::<f64>()
                .ok()
                .filter(|p| p.is_finite() && *p >= 0.0 && *p <= 10_000.0)
                .map(|p| (p * 100.0).round() as i64);
            if bp.is_none() {
                errors.add(
                    "markup_value",
                    "Give the markup as a percentage, e.g. 20 or 12.5.",
                );
            }
            bp.map(|basis_points| Markup::Percent { basis_points })
        }
        "fixed" => {
            let cur = Currency::parse(&form.text("currency")).ok()?;
            match Money::parse_decimal(&value, cur) {
                Ok(m) => Some(Markup::Fixed { amount: m.amount }),
                Err(_) => {
                    errors.add(
                        "markup_value",
                        "Give the amount to add as a decimal, e.g. 2.00.",
                    );
                    None
                }
            }
        }
        _ => None,
    }
}

/// `POST /admin/prices`: sets one price.
pub async fn set_price(State(app): State<App>, v: StaffViewer, form: FormData) -> PageResult {
    let staff = v.0.caller.staff()?;
    let mut pre = Errors::new();
    let markup = markup_of(&form, &mut pre);
    let input = TldPriceInput {
        tld: form.text("tld"),
        operation: form.text("operation"),
        years: form.text("years").parse().ok(),
        currency: form.text("currency").to_ascii_uppercase(),
        price: form.opt("price"),
        cost: form.opt("cost"),
        markup,
        ending: form.opt("ending").and_then(|e| e.parse().ok()),
    };
    let result = if pre.is_empty() {
        svc::upsert_price(&app, staff, &input).await
    } else {
        Err(AppError::Invalid(panel1_core::ValidationError(vec![])))
    };
    match result {
        Ok(r) => {
            let mut msg = format!(
                "The {} price of .{} for {} year(s) is now {}.",
                r.price.operation,
                r.price.tld,
                r.price.years,
                Money::new(r.price.price, r.price.currency)
            );
            for w in &r.warnings {
                msg.push_str(&format!(" Warning: {w}."));
            }
            v.0.flash(&app, Flash::success(msg)).await?;
            Ok(see_other("/admin/prices"))
        }
        Err(e) => {
            let mut errors = refusal(e, top)?;
            for s in pre.summary {
                errors.add(&s.field, s.message);
            }
            prices_page(
                &app,
                PricePage {
                    values: Value::from(Serde(form.values())),
                    errors,
                    csv: String::new(),
                    csv_errors: Errors::new(),
                    warnings: Vec::new(),
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    query: PriceQuery::default(),
                    v: &v,
                },
            )
            .await
        }
    }
}

/// `POST /admin/prices/import`: prices from CSV (`tld,operation,years,currency,price,cost`).
pub async fn import_prices(State(app): State<App>, v: StaffViewer, form: FormData) -> PageResult {
    let staff = v.0.caller.staff()?;
    let csv = form.raw("csv");
    match svc::import_prices_csv(&app, staff, &csv).await {
        Ok((n, warnings)) => {
            let mut msg = format!("{n} price(s) imported.");
            for w in &warnings {
                msg.push_str(&format!(" Warning: {w}."));
            }
            v.0.flash(&app, Flash::success(msg)).await?;
            Ok(see_other("/admin/prices"))
        }
        Err(AppError::Invalid(e)) => {
            let mut errors = Errors::new();
            for f in &e.0 {
                if f.field.starts_with("line ") {
                    errors.add("csv", format!("{}: {}", f.field, f.message));
                } else {
                    errors.add("csv", f.message.clone());
                }
            }
            prices_page(
                &app,
                PricePage {
                    values: context! { operation => "register", years => "1", currency => "USD" },
                    errors: Errors::new(),
                    csv,
                    csv_errors: errors,
                    warnings: vec![
                        "Nothing was imported: correct the lines below and send the file again."
                            .into(),
                    ],
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    query: PriceQuery::default(),
                    v: &v,
                },
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markups_are_read_from_the_form() {
        let mut e = Errors::new();
        let f = FormData::parse(b"markup=percent&markup_value=12.5&currency=USD");
        assert_eq!(
            markup_of(&f, &mut e),
            Some(Markup::Percent { basis_points: 1250 })
        );
        let f = FormData::parse(b"markup=fixed&markup_value=2.50&currency=USD");
        assert_eq!(markup_of(&f, &mut e), Some(Markup::Fixed { amount: 250 }));
        assert!(e.is_empty());
        let f = FormData::parse(b"markup=percent&markup_value=lots&currency=USD");
        assert_eq!(markup_of(&f, &mut e), None);
        assert_eq!(e.summary.len(), 1);
        assert_eq!(markup_of(&FormData::parse(b"markup="), &mut e), None);
    }

    #[test]
    fn after_paying_only_a_domain_page_of_the_same_area_is_a_destination() {
        let d = "/client/domains/dom_0193f1c2a4b07c3e9d2f5a6b7c8d9e0f";
        assert_eq!(pay_next(Area::Client, Some(d)).as_deref(), Some(d));
        for bad in [
            "/admin/domains/dom_1",
            "https://evil.test/client/domains/dom_1",
            "//evil.test",
            "/client/domains/",
            "/client/domains/dom_1/../../logout",
            "/client/domains/dom_1?x=1",
        ] {
            assert_eq!(pay_next(Area::Client, Some(bad)), None, "{bad}");
        }
        assert_eq!(pay_next(Area::Admin, None), None);
    }
}
