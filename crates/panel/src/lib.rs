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
//! | [`pages`] | one module per area: dashboard, clients, users, tokens, jobs, audit, webhooks, client area |
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
    account, audit, client_area, clients, dashboard, jobs, tokens, users, webhooks,
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
        .route("/client", get(client_area::home))
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
