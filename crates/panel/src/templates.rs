//! The template environment: every template is embedded in the binary with `include_str!`,
//! HTML auto-escaping is on for `.html` (so a client named `<script>` is shown as text).
//! A missing optional value renders as nothing (`chainable` undefined), so `{% if x.y %}`
//! works on absent objects; the tests render every page, so a typo shows up there.

use std::sync::LazyLock;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use minijinja::value::Value;
use minijinja::{Environment, UndefinedBehavior};

use crate::error::PageResult;

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

/// Every template, by name.
const TEMPLATES: &[(&str, &str)] = templates!(
    "base.html",
    "macros.html",
    "error.html",
    "confirm.html",
    "login.html",
    "login_totp.html",
    "login_enrol.html",
    "account.html",
    "dashboard.html",
    "clients/list.html",
    "clients/form.html",
    "clients/detail.html",
    "users/list.html",
    "users/form.html",
    "tokens/list.html",
    "tokens/form.html",
    "jobs/list.html",
    "jobs/detail.html",
    "jobs/_progress.html",
    "jobs/schedules.html",
    "audit/list.html",
    "webhooks/list.html",
    "webhooks/form.html",
    "webhooks/detail.html",
    "client/home.html",
    "domains/list.html",
    "domains/register.html",
    "domains/transfer.html",
    "domains/detail.html",
    "domains/_progress.html",
    "domains/operations.html",
    "domains/nameservers.html",
    "domains/contacts.html",
    "domains/suspend.html",
    "contacts/list.html",
    "contacts/form.html",
    "registrars/list.html",
    "registrars/form.html",
    "billing/invoices.html",
    "billing/invoice.html",
    "billing/credit.html",
    "billing/prices.html",
    "emails/list.html",
    "emails/templates.html",
    "emails/template.html",
    "certificates/list.html",
    "certificates/issue.html",
    "certificates/_progress.html",
    "certificates/detail.html",
    "certificates/revoke.html",
    "certificates/install.html",
    "certificates/ca_accounts.html",
    "dns/list.html",
    "dns/zone.html",
    "dns/_record_fields.html",
    "dns/record.html",
    "dns/import.html",
);

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    for (name, source) in TEMPLATES {
        if let Err(e) = env.add_template(name, source) {
            // A template that does not compile is a bug caught by the tests (every page is
            // rendered there); log it loudly rather than refusing to start.
            tracing::error!(template = name, error = %e, "template does not compile");
        }
    }
    // Our own URL, not input: marked safe so it is not entity-encoded.
    env.add_function("asset", |name: &str| {
        Value::from_safe_string(crate::assets::url(name))
    });
    env.add_filter("when", when);
    env.add_filter("day", day);
    env.add_filter("money", money);
    env.add_filter("pretty", pretty);
    env
});

/// `2026-03-01T14:05:09.123Z` → `2026-03-01 14:05 UTC`; empty for none.
fn when(v: Value) -> String {
    let Some(s) = v.as_str() else {
        return String::new();
    };
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => t
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%d %H:%M UTC")
            .to_string(),
        Err(_) => s.to_owned(),
    }
}

/// `2026-03-01T14:05:09Z` → `2026-03-01` (UTC); empty for none.
fn day(v: Value) -> String {
    let Some(s) = v.as_str() else {
        return String::new();
    };
    match chrono::DateTime::parse_from_rfc3339(s) {
        Ok(t) => t.with_timezone(&chrono::Utc).format("%Y-%m-%d").to_string(),
        Err(_) => s.to_owned(),
    }
}

/// Minor units and a currency → `12.99 USD` (`{{ amount|money(currency) }}`).
fn money(amount: Value, currency: Value) -> String {
    let minor = i64::try_from(amount.clone()).ok();
    let cur = currency.as_str().unwrap_or("");
    match (minor, panel1_core::money::Currency::parse(cur)) {
        (Some(m), Ok(c)) => panel1_core::money::Money::new(m, c).to_string(),
        (Some(m), Err(_)) => format!("{m} {cur}"),
        (None, _) => String::new(),
    }
}

/// Any value as indented JSON (payloads, results, before/after).
fn pretty(v: Value) -> String {
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// Renders a template to a string.
pub fn render_raw(name: &str, ctx: Value) -> Result<String, minijinja::Error> {
    ENV.get_template(name)?.render(ctx)
}

/// Renders a page with status 200.
pub fn render(name: &str, ctx: Value) -> PageResult {
    render_status(StatusCode::OK, name, ctx)
}

/// Renders a page with a status (422 for a form shown again with its errors).
pub fn render_status(status: StatusCode, name: &str, ctx: Value) -> PageResult {
    let html = render_raw(name, ctx)?;
    Ok((status, Html(html)).into_response())
}

/// The names of every embedded template (for tests that compile them all).
pub fn names() -> impl Iterator<Item = &'static str> {
    TEMPLATES.iter().map(|(n, _)| *n)
}

/// Checks that every template compiles; returns the first error.
pub fn check_all() -> Result<(), minijinja::Error> {
    for name in names() {
        ENV.get_template(name)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn every_template_compiles() {
        check_all().unwrap();
    }

    #[test]
    fn html_is_escaped() {
        let out = render_raw(
            "error.html",
            context! { title => "<b>t</b>", message => "<script>alert(1)</script>", advice => "a", status => 404 },
        )
        .unwrap();
        assert!(!out.contains("<script>alert(1)"), "{out}");
        assert!(out.contains("&lt;script&gt;alert(1)&lt;"), "{out}");
    }

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(
            when(Value::from("2026-03-01T14:05:09.123+02:00")),
            "2026-03-01 12:05 UTC"
        );
        assert_eq!(when(Value::from(())), "");
        assert_eq!(day(Value::from("2026-03-01T23:05:09Z")), "2026-03-01");
    }

    #[test]
    fn money_is_shown_in_major_units() {
        assert_eq!(money(Value::from(1299), Value::from("USD")), "12.99 USD");
        assert_eq!(money(Value::from(500), Value::from("JPY")), "500 JPY");
        assert_eq!(money(Value::from(()), Value::from("USD")), "");
    }
}
