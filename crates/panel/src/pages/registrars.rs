//! Registrar settings (administrators; staff may look): the tenant's registrar accounts, whose
//! credentials are typed once and never shown again (the page lists the settings with `***`),
//! and the TLD routing that says which account registers which TLD.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use minijinja::context;
use minijinja::value::{Serde, Value};
use panel1_app::domains::accounts::{self as svc, NewRegistrarAccount, SetTldRegistrar};
use panel1_app::{App, AppError};
use panel1_core::RegistrarAccountId;
use serde::Serialize;
use serde_json::Value as Json;

use super::{Confirm, confirm_page, see_other};
use crate::error::{PageError, PageResult};
use crate::form::{Errors, FormData, refusal, top};
use crate::session::{Flash, StaffViewer};
use crate::templates::render_status;

/// How a setting is typed in the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Text,
    /// Write-only: a password field, never filled in again.
    Secret,
    /// A PEM or other multi-line text.
    Multiline,
    /// A multi-line secret (a private key).
    SecretMultiline,
    Number,
    Bool,
    /// Separated by commas or spaces.
    List,
}

/// One adapter setting in the form (`s_<key>`).
#[derive(Debug, Serialize)]
pub struct Setting {
    pub adapter: &'static str,
    pub key: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub kind: Kind,
    pub required: bool,
}

const fn s(
    adapter: &'static str,
    key: &'static str,
    label: &'static str,
    hint: &'static str,
    kind: Kind,
    required: bool,
) -> Setting {
    Setting {
        adapter,
        key,
        label,
        hint,
        kind,
        required,
    }
}

/// The settings of each adapter, in form order.
pub const SETTINGS: &[Setting] = &[
    s(
        "sandbox",
        "account",
        "Account at the sandbox registry",
        "Empty: one for this organisation.",
        Kind::Text,
        false,
    ),
    s(
        "sandbox",
        "initial_balance_minor",
        "Starting balance (cents)",
        "What a new sandbox account may spend.",
        Kind::Number,
        false,
    ),
    s("namecheap", "api_user", "API user", "", Kind::Text, true),
    s(
        "namecheap",
        "api_key",
        "API key",
        "Stored sealed; never shown again.",
        Kind::Secret,
        true,
    ),
    s(
        "namecheap",
        "username",
        "Account user name",
        "Empty: the API user.",
        Kind::Text,
        false,
    ),
    s(
        "namecheap",
        "client_ip",
        "This server's public IPv4 address",
        "As whitelisted at Namecheap.",
        Kind::Text,
        true,
    ),
    s(
        "namecheap",
        "sandbox",
        "Use Namecheap's sandbox",
        "",
        Kind::Bool,
        false,
    ),
    s(
        "epp",
        "host",
        "EPP server",
        "e.g. epp.registry.example",
        Kind::Text,
        true,
    ),
    s("epp", "port", "Port", "Usually 700.", Kind::Number, false),
    s("epp", "client_id", "Client id (clID)", "", Kind::Text, true),
    s(
        "epp",
        "password",
        "Password",
        "Stored sealed; never shown again.",
        Kind::Secret,
        true,
    ),
    s(
        "epp",
        "ca_pem",
        "Server CA (PEM)",
        "Only for a registry with its own CA.",
        Kind::Multiline,
        false,
    ),
    s(
        "epp",
        "client_cert_pem",
        "Client certificate (PEM)",
        "",
        Kind::Multiline,
        false,
    ),
    s(
        "epp",
        "client_key_pem",
        "Client key (PEM)",
        "Stored sealed; never shown again.",
        Kind::SecretMultiline,
        false,
    ),
    s(
        "epp",
        "tlds",
        "TLDs this server sells",
        "Separated by spaces; empty: any.",
        Kind::List,
        false,
    ),
];

pub const ADAPTERS: [&str; 3] = ["sandbox", "namecheap", "epp"];

/// `GET /admin/registrars`: the accounts and the TLD routing.
pub async fn list(State(app): State<App>, v: StaffViewer) -> PageResult {
    let staff = v.0.caller.staff()?;
    let accounts = svc::list(&app, staff).await?;
    let tlds = svc::list_tlds(&app, staff).await?;
    page(
        &v,
        &accounts,
        &tlds,
        Value::from(()),
        Errors::new(),
        StatusCode::OK,
    )
}

fn page(
    v: &StaffViewer,
    accounts: &[svc::RegistrarAccountView],
    tlds: &[panel1_store::registrars::TldMapping],
    values: Value,
    errors: Errors,
    status: StatusCode,
) -> PageResult {
    render_status(
        status,
        "registrars/list.html",
        context! {
            accounts => Serde(accounts),
            tlds => Serde(tlds),
            values,
            errors => Serde(&errors),
            ..v.0.base("registrars"),
        },
    )
}

fn form_page(v: &StaffViewer, values: Value, errors: Errors, status: StatusCode) -> PageResult {
    render_status(
        status,
        "registrars/form.html",
        context! {
            settings => Serde(SETTINGS),
            adapters => ADAPTERS.to_vec(),
            values,
            errors => Serde(&errors),
            ..v.0.base("registrars"),
        },
    )
}

/// `GET /admin/registrars/new`
pub async fn new_form(v: StaffViewer) -> PageResult {
    v.0.caller.admin()?;
    form_page(
        &v,
        context! { type => "namecheap" },
        Errors::new(),
        StatusCode::OK,
    )
}

/// The adapter's settings from the form: typed values, empty fields left out.
fn settings_of(form: &FormData, adapter: &str) -> serde_json::Map<String, Json> {
    let mut m = serde_json::Map::new();
    for st in SETTINGS.iter().filter(|st| st.adapter == adapter) {
        let name = format!("s_{}", st.key);
        let raw = match st.kind {
            Kind::Secret | Kind::SecretMultiline | Kind::Multiline => form.raw(&name),
            _ => form.text(&name),
        };
        let value = match st.kind {
            Kind::Bool => Json::Bool(!raw.is_empty()),
            _ if raw.trim().is_empty() => continue,
            Kind::Number => match raw.parse::<i64>() {
                Ok(n) => Json::from(n),
                Err(_) => Json::String(raw),
            },
            Kind::List => Json::Array(
                raw.split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|t| !t.is_empty())
                    .map(|t| Json::String(t.to_owned()))
                    .collect(),
            ),
            _ => Json::String(raw),
        };
        m.insert(st.key.to_owned(), value);
    }
    m
}

/// The values to show again: never a secret.
fn refill(form: &FormData) -> Value {
    let secret: Vec<String> = SETTINGS
        .iter()
        .filter(|s| matches!(s.kind, Kind::Secret | Kind::SecretMultiline))
        .map(|s| format!("s_{}", s.key))
        .collect();
    let mut values = form.values();
    values.retain(|k, _| !secret.contains(k));
    Value::from(Serde(values))
}

fn field_of(path: &str) -> String {
    match path.strip_prefix("settings.") {
        Some(k) => format!("s_{}", k.split('.').next().unwrap_or(k)),
        None if path.starts_with("tlds") => "route_tlds".to_owned(),
        None => top(path),
    }
}

/// `POST /admin/registrars/new`
pub async fn create(State(app): State<App>, v: StaffViewer, form: FormData) -> PageResult {
    let admin = v.0.caller.admin()?;
    let adapter = form.text("type");
    let input = NewRegistrarAccount {
        name: form.text("name"),
        adapter: adapter.clone(),
        settings: settings_of(&form, &adapter),
        tlds: form
            .text("route_tlds")
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    match svc::create(&app, admin, &input).await {
        Ok(a) => {
            v.0.flash(
                &app,
                Flash::success(format!(
                    "Registrar account {} added{}. Its credentials are stored sealed and are not shown again.",
                    a.account.name,
                    if a.tlds.is_empty() {
                        String::new()
                    } else {
                        format!(" for .{}", a.tlds.join(", ."))
                    }
                )),
            )
            .await?;
            Ok(see_other("/admin/registrars"))
        }
        Err(e) => {
            let errors = refusal(e, field_of)?;
            form_page(&v, refill(&form), errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

async fn find(app: &App, v: &StaffViewer, raw: &str) -> PageResult<svc::RegistrarAccountView> {
    let id: RegistrarAccountId = raw
        .parse()
        .map_err(|_| PageError::not_found("registrar account"))?;
    svc::list(app, v.0.caller.staff()?)
        .await?
        .into_iter()
        .find(|a| a.account.id == id)
        .ok_or_else(|| PageError::not_found("registrar account"))
}

/// `GET /admin/registrars/{id}/delete`
pub async fn confirm_delete(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    v.0.caller.admin()?;
    let a = find(&app, &v, &raw).await?;
    confirm_page(
        v.0.base("registrars"),
        Confirm {
            title: "Delete registrar account",
            message: format!(
                "Delete the registrar account {}? Its TLD routes go too; it must sponsor no domain any more.",
                a.account.name
            ),
            action: format!("/admin/registrars/{}/delete", a.account.id),
            button: "Delete account",
            cancel: "/admin/registrars".into(),
        },
    )
}

/// `POST /admin/registrars/{id}/delete`
pub async fn delete(State(app): State<App>, v: StaffViewer, Path(raw): Path<String>) -> PageResult {
    let admin = v.0.caller.admin()?;
    let a = find(&app, &v, &raw).await?;
    let flash = match svc::delete(&app, admin, &a.account.id).await {
        Ok(()) => Flash::success(format!("Registrar account {} deleted.", a.account.name)),
        Err(AppError::Conflict { message, .. }) => Flash::error(format!("Not deleted: {message}.")),
        Err(e) => return Err(e.into()),
    };
    v.0.flash(&app, flash).await?;
    Ok(see_other("/admin/registrars"))
}

/// `POST /admin/registrars/tlds`: routes a TLD to an account.
pub async fn set_tld(State(app): State<App>, v: StaffViewer, form: FormData) -> PageResult {
    let admin = v.0.caller.admin()?;
    let tld = form.text("tld");
    let account = form.text("account_id");
    let result = match account.parse::<RegistrarAccountId>() {
        Ok(account_id) => svc::set_tld(&app, admin, &tld, &SetTldRegistrar { account_id }).await,
        Err(_) => Err(AppError::Invalid(panel1_core::ValidationError::field(
            "account_id",
            "required",
            "pick the registrar account",
        ))),
    };
    match result {
        Ok(m) => {
            v.0.flash(
                &app,
                Flash::success(format!(
                    ".{} is now registered through {}.",
                    m.tld, m.account_name
                )),
            )
            .await?;
            Ok(see_other("/admin/registrars"))
        }
        Err(e) => {
            let errors = refusal(e, top)?;
            let staff = v.0.caller.staff()?;
            let accounts = svc::list(&app, staff).await?;
            let tlds = svc::list_tlds(&app, staff).await?;
            page(
                &v,
                &accounts,
                &tlds,
                Value::from(Serde(form.values())),
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

/// `GET /admin/registrars/tlds/{tld}/remove`
pub async fn confirm_remove_tld(
    State(app): State<App>,
    v: StaffViewer,
    Path(tld): Path<String>,
) -> PageResult {
    v.0.caller.admin()?;
    let m = svc::list_tlds(&app, v.0.caller.staff()?)
        .await?
        .into_iter()
        .find(|m| m.tld == tld)
        .ok_or_else(|| PageError::not_found("TLD route"))?;
    confirm_page(
        v.0.base("registrars"),
        Confirm {
            title: "Stop registering a TLD",
            message: format!(
                "Stop routing .{} to {}? New registrations and transfers of .{} names are refused until it is routed again; existing domains keep their registrar.",
                m.tld, m.account_name, m.tld
            ),
            action: format!("/admin/registrars/tlds/{}/remove", m.tld),
            button: "Remove route",
            cancel: "/admin/registrars".into(),
        },
    )
}

/// `POST /admin/registrars/tlds/{tld}/remove`
pub async fn remove_tld(
    State(app): State<App>,
    v: StaffViewer,
    Path(tld): Path<String>,
) -> PageResult {
    svc::remove_tld(&app, v.0.caller.admin()?, &tld).await?;
    v.0.flash(
        &app,
        Flash::success(format!(".{tld} is no longer routed to a registrar.")),
    )
    .await?;
    Ok(see_other("/admin/registrars"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_typed_and_secrets_never_refilled() {
        let f = FormData::parse(
            b"type=epp&s_host=epp.example&s_port=700&s_password=p%40ss&s_tlds=com+net&s_ca_pem=&name=x&s_api_key=k",
        );
        let m = settings_of(&f, "epp");
        assert_eq!(m["port"], 700);
        assert_eq!(m["password"], "p@ss");
        assert_eq!(m["tlds"], serde_json::json!(["com", "net"]));
        assert!(!m.contains_key("ca_pem") && !m.contains_key("api_key"));
        let shown = format!("{:?}", refill(&f));
        assert!(
            !shown.contains("p@ss") && !shown.contains("\"k\""),
            "{shown}"
        );
        assert_eq!(field_of("settings.api_key"), "s_api_key");
        assert_eq!(field_of("tlds.1"), "route_tlds");
        let nc = settings_of(&FormData::parse(b"s_sandbox=on"), "namecheap");
        assert_eq!(nc["sandbox"], true);
    }
}
