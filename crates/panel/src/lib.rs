//! Panel1's web panel: the admin area for a hosting company's staff and the client area for
//! its customers, served by `panel1 serve` at `/` on the API's address.
//!
//! Pages are rendered on the server with minijinja (templates embedded in the binary,
//! HTML auto-escaping on); every read page works without JavaScript, forms post normally
//! and redirect after success (post/redirect/get), and a small script only adds progress
//! polling, confirmation dialogs and copy buttons.
//!
//! | module | what it owns |
//! |---|---|
//! | [`session`] | the session cookie, the signed-in [`session::Viewer`] extractor, one-time messages |
//! | [`csrf`] | the per-session token checked on every POST, before any handler runs |
//! | [`signin`] | sign-in with e-mail and password, lock-out, TOTP enrolment and check, sign-out |
//! | [`totp`] | RFC 6238 codes (secrets sealed at rest with the master key) |
//! | [`templates`] | the template environment, filters, and the `render` helper |
//! | [`assets`] | the CSS and JS, served under a content-hashed name with long cache headers |
//! | [`nav`] | the navigation: one entry per page, shown by role |
//! | [`form`] | posted form fields and the field errors shown next to them |
//! | [`error`] | error pages: what went wrong and what to do |
//! | [`pages`] | one module per area: dashboard, clients, users, tokens, jobs, audit, webhooks, domains, contacts, registrars, billing (invoices, credit, prices), e-mails, certificates (and CA accounts), DNS zones, client area |
//!
//! Adding a page: a handler in `pages/`, a template in `templates/` (registered in
//! [`templates`]), a route in [`router`] and, if it belongs in the menu, an entry in [`nav`].
//! Long operations (registration, issuance) show a progress region (the `progress` macro in
//! `templates/macros.html`) whose fragment the script re-fetches until a final state; the page
//! sets `refresh` while it is not final, so without JavaScript it reloads itself.
//!
//! Which tenant a person signs in to: e-mail addresses are unique per tenant, so the sign-in
//! form asks for the organisation's identifier (the tenant slug) when the installation has
//! more than one tenant; `/login?tenant=SLUG` fills it in, and with one tenant it is hidden.

pub mod assets;
pub mod csrf;
pub mod error;
pub mod form;
pub mod nav;
pub mod pages;
pub mod session;
pub mod signin;
pub mod templates;
pub mod totp;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::routing::{get, post};
use panel1_app::App;

use crate::pages::{
    account, audit, billing, certificates, client_area, clients, contacts, dashboard, dns, domains,
    emails, jobs, registrars, tokens, users, webhooks,
};

/// Every page of the panel, with CSRF checking and security headers. Merge it into the main
/// router (it owns `/`, `/login`, `/logout`, `/account`, `/admin/…`, `/client/…`, `/assets/…`).
pub fn router() -> Router<App> {
    Router::new()
        .route("/", get(dashboard::home))
        .route("/login", get(signin::login_page).post(signin::login))
        .route("/login/totp", get(signin::totp_page).post(signin::totp))
        .route("/login/enrol", get(signin::enrol_page).post(signin::enrol))
        .route("/logout", post(signin::logout))
        .route("/account", get(account::show))
        .route("/admin", get(dashboard::show))
        .route("/admin/clients", get(clients::list))
        .route(
            "/admin/clients/new",
            get(clients::new_form).post(clients::create),
        )
        .route("/admin/clients/{id}", get(clients::show))
        .route(
            "/admin/clients/{id}/edit",
            get(clients::edit_form).post(clients::update),
        )
        .route("/admin/users", get(users::list))
        .route("/admin/users/new", get(users::new_form).post(users::create))
        .route(
            "/admin/users/{id}/delete",
            get(users::confirm_delete).post(users::delete),
        )
        .route(
            "/admin/users/{id}/reset-2fa",
            get(users::confirm_reset_totp).post(users::reset_totp),
        )
        .route("/admin/tokens", get(tokens::admin_list))
        .route(
            "/admin/tokens/new",
            get(tokens::admin_new_form).post(tokens::admin_create),
        )
        .route(
            "/admin/tokens/{id}/revoke",
            get(tokens::admin_confirm_revoke).post(tokens::admin_revoke),
        )
        .route("/admin/jobs", get(jobs::list))
        .route("/admin/jobs/{id}", get(jobs::show))
        .route("/admin/jobs/{id}/progress", get(jobs::progress))
        .route("/admin/jobs/{id}/retry", post(jobs::retry))
        .route("/admin/schedules", get(jobs::schedules))
        .route("/admin/audit", get(audit::list))
        .route("/admin/webhooks", get(webhooks::list))
        .route(
            "/admin/webhooks/new",
            get(webhooks::new_form).post(webhooks::create),
        )
        .route("/admin/webhooks/{id}", get(webhooks::show))
        .route(
            "/admin/webhooks/{id}/delete",
            get(webhooks::confirm_delete).post(webhooks::delete),
        )
        // Domains, contacts and registrars.
        .route("/admin/domains", get(domains::admin_list))
        .route(
            "/admin/domains/new",
            get(domains::admin_register_form).post(domains::admin_register),
        )
        .route(
            "/admin/domains/transfer",
            get(domains::admin_transfer_form).post(domains::admin_transfer),
        )
        .route("/admin/domains/{id}", get(domains::admin_show))
        .route("/admin/domains/{id}/progress", get(domains::admin_progress))
        .route(
            "/admin/domains/{id}/operations",
            get(domains::admin_operations),
        )
        .route("/admin/domains/{id}/renew", post(domains::admin_renew))
        .route("/admin/domains/{id}/lock", post(domains::admin_lock))
        .route("/admin/domains/{id}/privacy", post(domains::admin_privacy))
        .route(
            "/admin/domains/{id}/auth-code",
            post(domains::admin_auth_code),
        )
        .route(
            "/admin/domains/{id}/nameservers",
            get(domains::admin_nameservers_form).post(domains::admin_nameservers),
        )
        .route(
            "/admin/domains/{id}/contacts",
            get(domains::admin_contacts_form).post(domains::admin_contacts),
        )
        .route(
            "/admin/domains/{id}/suspend",
            get(domains::suspend_form).post(domains::suspend),
        )
        .route(
            "/admin/domains/{id}/unsuspend",
            get(domains::confirm_unsuspend).post(domains::unsuspend),
        )
        .route("/admin/contacts", get(contacts::admin_list))
        .route(
            "/admin/contacts/new",
            get(contacts::admin_new_form).post(contacts::admin_create),
        )
        .route(
            "/admin/contacts/{id}/edit",
            get(contacts::admin_edit_form).post(contacts::admin_update),
        )
        .route(
            "/admin/contacts/{id}/delete",
            get(contacts::admin_confirm_delete).post(contacts::admin_delete),
        )
        .route("/admin/registrars", get(registrars::list))
        .route(
            "/admin/registrars/new",
            get(registrars::new_form).post(registrars::create),
        )
        .route(
            "/admin/registrars/{id}/delete",
            get(registrars::confirm_delete).post(registrars::delete),
        )
        .route("/admin/registrars/tlds", post(registrars::set_tld))
        .route(
            "/admin/registrars/tlds/{tld}/remove",
            get(registrars::confirm_remove_tld).post(registrars::remove_tld),
        )
        // Billing and e-mail.
        .route("/admin/invoices", get(billing::admin_list))
        .route("/admin/invoices/{id}", get(billing::admin_show))
        .route(
            "/admin/invoices/{id}/pay",
            get(billing::admin_confirm_pay).post(billing::admin_pay),
        )
        .route(
            "/admin/invoices/{id}/void",
            get(billing::confirm_void).post(billing::void),
        )
        .route(
            "/admin/clients/{id}/credit",
            get(billing::admin_credit).post(billing::add_credit),
        )
        .route(
            "/admin/prices",
            get(billing::prices).post(billing::set_price),
        )
        .route("/admin/prices/import", post(billing::import_prices))
        .route("/admin/emails", get(emails::list))
        .route("/admin/emails/templates", get(emails::templates))
        .route(
            "/admin/emails/templates/{key}",
            get(emails::edit_template).post(emails::save_template),
        )
        // Certificates and CA accounts.
        .route("/admin/certificates", get(certificates::admin_list))
        .route(
            "/admin/certificates/new",
            get(certificates::admin_issue_form).post(certificates::admin_issue),
        )
        .route("/admin/certificates/{id}", get(certificates::admin_show))
        .route(
            "/admin/certificates/{id}/progress",
            get(certificates::admin_progress),
        )
        .route(
            "/admin/certificates/{id}/download",
            get(certificates::admin_download),
        )
        .route(
            "/admin/certificates/{id}/key",
            post(certificates::admin_download_key),
        )
        .route(
            "/admin/certificates/{id}/renew",
            post(certificates::admin_renew),
        )
        .route(
            "/admin/certificates/{id}/revoke",
            get(certificates::admin_revoke_form).post(certificates::admin_revoke),
        )
        .route(
            "/admin/certificates/{id}/validations/{vid}/check",
            post(certificates::admin_check),
        )
        .route(
            "/admin/certificates/{id}/install",
            get(certificates::install_form).post(certificates::install),
        )
        .route(
            "/admin/ca-accounts",
            get(certificates::ca_accounts).post(certificates::create_ca_account),
        )
        .route(
            "/admin/ca-accounts/{id}/delete",
            get(certificates::confirm_delete_ca).post(certificates::delete_ca),
        )
        // DNS zones.
        .route(
            "/admin/dns",
            get(dns::admin_list).post(dns::admin_create_zone),
        )
        .route("/admin/dns/{id}", get(dns::admin_zone))
        .route("/admin/dns/{id}/records", post(dns::admin_add_record))
        .route(
            "/admin/dns/{id}/records/{rid}/edit",
            get(dns::admin_edit_form).post(dns::admin_update),
        )
        .route(
            "/admin/dns/{id}/records/{rid}/delete",
            get(dns::admin_confirm_delete_record).post(dns::admin_delete_record),
        )
        .route(
            "/admin/dns/{id}/import",
            get(dns::admin_import_form).post(dns::admin_import),
        )
        .route("/admin/dns/{id}/export", get(dns::admin_export))
        .route(
            "/admin/dns/{id}/delete",
            get(dns::admin_confirm_delete_zone).post(dns::admin_delete_zone),
        )
        .route(
            "/client/dns",
            get(dns::client_list).post(dns::client_create_zone),
        )
        .route("/client/dns/{id}", get(dns::client_zone))
        .route("/client/dns/{id}/records", post(dns::client_add_record))
        .route(
            "/client/dns/{id}/records/{rid}/edit",
            get(dns::client_edit_form).post(dns::client_update),
        )
        .route(
            "/client/dns/{id}/records/{rid}/delete",
            get(dns::client_confirm_delete_record).post(dns::client_delete_record),
        )
        .route(
            "/client/dns/{id}/import",
            get(dns::client_import_form).post(dns::client_import),
        )
        .route("/client/dns/{id}/export", get(dns::client_export))
        .route(
            "/client/dns/{id}/delete",
            get(dns::client_confirm_delete_zone).post(dns::client_delete_zone),
        )
        .route("/client", get(client_area::home))
        .route("/client/domains", get(domains::client_list))
        .route(
            "/client/domains/new",
            get(domains::client_register_form).post(domains::client_register),
        )
        .route(
            "/client/domains/transfer",
            get(domains::client_transfer_form).post(domains::client_transfer),
        )
        .route("/client/domains/{id}", get(domains::client_show))
        .route(
            "/client/domains/{id}/progress",
            get(domains::client_progress),
        )
        .route(
            "/client/domains/{id}/operations",
            get(domains::client_operations),
        )
        .route("/client/domains/{id}/renew", post(domains::client_renew))
        .route("/client/domains/{id}/lock", post(domains::client_lock))
        .route(
            "/client/domains/{id}/privacy",
            post(domains::client_privacy),
        )
        .route(
            "/client/domains/{id}/auth-code",
            post(domains::client_auth_code),
        )
        .route(
            "/client/domains/{id}/nameservers",
            get(domains::client_nameservers_form).post(domains::client_nameservers),
        )
        .route(
            "/client/domains/{id}/contacts",
            get(domains::client_contacts_form).post(domains::client_contacts),
        )
        .route("/client/contacts", get(contacts::client_list))
        .route(
            "/client/contacts/new",
            get(contacts::client_new_form).post(contacts::client_create),
        )
        .route(
            "/client/contacts/{id}/edit",
            get(contacts::client_edit_form).post(contacts::client_update),
        )
        .route(
            "/client/contacts/{id}/delete",
            get(contacts::client_confirm_delete).post(contacts::client_delete),
        )
        .route("/client/invoices", get(billing::client_list))
        .route("/client/invoices/{id}", get(billing::client_show))
        .route(
            "/client/invoices/{id}/pay",
            get(billing::client_confirm_pay).post(billing::client_pay),
        )
        .route("/client/credit", get(billing::client_credit))
        .route("/client/certificates", get(certificates::client_list))
        .route(
            "/client/certificates/new",
            get(certificates::client_issue_form).post(certificates::client_issue),
        )
        .route("/client/certificates/{id}", get(certificates::client_show))
        .route(
            "/client/certificates/{id}/progress",
            get(certificates::client_progress),
        )
        .route(
            "/client/certificates/{id}/download",
            get(certificates::client_download),
        )
        .route(
            "/client/certificates/{id}/key",
            post(certificates::client_download_key),
        )
        .route(
            "/client/certificates/{id}/renew",
            post(certificates::client_renew),
        )
        .route(
            "/client/certificates/{id}/revoke",
            get(certificates::client_revoke_form).post(certificates::client_revoke),
        )
        .route(
            "/client/certificates/{id}/validations/{vid}/check",
            post(certificates::client_check),
        )
        .route("/client/tokens", get(tokens::client_list))
        .route(
            "/client/tokens/new",
            get(tokens::client_new_form).post(tokens::client_create),
        )
        .route(
            "/client/tokens/{id}/revoke",
            get(tokens::client_confirm_revoke).post(tokens::client_revoke),
        )
        .layer(axum::middleware::from_fn(csrf::layer))
        .layer(axum::middleware::map_response(security_headers))
        .route("/assets/{file}", get(assets::serve))
}

/// Headers on every page: no caching of private pages, no framing, a strict content policy
/// (scripts and styles only from Panel1 itself).
async fn security_headers(mut res: axum::response::Response) -> axum::response::Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}
