//! Sessions: a random 256-bit id in a cookie (`HttpOnly`, `SameSite=Lax`, `Secure` and the
//! `__Host-` prefix when the public URL is https); the database keeps only its SHA-256, with
//! the tenant, the user and how far sign-in has come. Sessions end after 12 hours without
//! activity or 7 days in all, at sign-out, and when the user is deleted.
//!
//! [`Viewer`] is the extractor for pages that need a signed-in person; [`StaffViewer`] and
//! [`ClientViewer`] add the role check. Each carries the [`Caller`] the services take, the
//! CSRF token for the page's forms and the one-time message ([`Flash`]) left by the last
//! action.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use minijinja::context;
use minijinja::value::{Serde, Value};
use panel1_app::{App, Caller};
use panel1_core::crypto::{random_bytes, sha256_hex};
use panel1_core::{Principal, Role};
use panel1_store::sessions::{self, SessionRecord, Stage};
use panel1_store::users::User;
use serde::{Deserialize, Serialize};

use crate::error::{PageError, PageResult};
use crate::nav;

/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::hours(12);
/// …and this long after sign-in in any case.
pub const ABSOLUTE: Duration = Duration::days(7);
/// A half-finished sign-in (second factor pending) lasts this long.
pub const PENDING: Duration = Duration::minutes(10);
/// Activity is written at most this often per session.
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// Whether cookies must be `Secure` (the panel is reached over https).
pub fn secure(app: &App) -> bool {
    app.settings.public_url.starts_with("https://")
}

pub fn session_cookie(secure: bool) -> &'static str {
    if secure {
        "__Host-p1_session"
    } else {
        "p1_session"
    }
}

/// The cookie that carries the sign-in form's CSRF token before there is a session.
pub fn presession_cookie(secure: bool) -> &'static str {
    if secure { "__Host-p1_csrf" } else { "p1_csrf" }
}

/// A cookie's value from the request's `Cookie` headers.
pub fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty() && v.len() <= 200)
}

/// A `Set-Cookie` value. `max_age = Some(0)` deletes the cookie.
pub fn cookie(
    name: &str,
    value: &str,
    secure: bool,
    same_site: &str,
    max_age: Option<i64>,
) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if secure {
        c.push_str("; Secure");
    }
    if let Some(a) = max_age {
        c.push_str(&format!("; Max-Age={a}"));
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("p1_invalid=; Max-Age=0"))
}

/// A new random session id (for the cookie) and its hash (for the database).
pub fn new_id() -> Result<(String, String), PageError> {
    let raw = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
    let hash = hash_id(&raw);
    Ok((raw, hash))
}

pub fn hash_id(raw: &str) -> String {
    sha256_hex(raw.as_bytes())
}

/// The CSRF token of a session: derived one-way from the cookie's id, so it needs no storage,
/// is different for every session, and does not reveal the id.
pub fn csrf_for(raw_id: &str) -> String {
    sha256_hex(format!("panel1-csrf:{raw_id}").as_bytes())
}

/// Compares two strings in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A one-time message for the next page, possibly with a secret shown this once (a new API
/// token or webhook secret). Stored sealed with the master key in the session row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flash {
    /// `success`, `error` or `info`.
    pub kind: String,
    pub message: String,
    pub secret: Option<ShownSecret>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct ShownSecret {
    pub label: String,
    pub value: String,
}

impl std::fmt::Debug for ShownSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ShownSecret({}, ***)", self.label)
    }
}

impl Flash {
    pub fn success(message: impl Into<String>) -> Self {
        Self {
            kind: "success".into(),
            message: message.into(),
            secret: None,
        }
    }

    /// An action that could not be done, and what to do about it.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            kind: "error".into(),
            message: message.into(),
            secret: None,
        }
    }

    pub fn info(message: impl Into<String>) -> Self {
        Self {
            kind: "info".into(),
            message: message.into(),
            secret: None,
        }
    }

    pub fn with_secret(mut self, label: impl Into<String>, value: impl Into<String>) -> Self {
        self.secret = Some(ShownSecret {
            label: label.into(),
            value: value.into(),
        });
        self
    }
}

fn flash_context(id_hash: &str) -> String {
    format!("flash:{id_hash}")
}

/// Leaves a message for the session's next page.
pub async fn set_flash(app: &App, id_hash: &str, flash: &Flash) -> PageResult<()> {
    let json = serde_json::to_vec(flash).map_err(PageError::internal)?;
    let sealed = app.keyring.seal(&flash_context(id_hash), &json)?;
    let mut tx = app.db.begin().await?;
    sessions::set_flash(tx.conn(), id_hash, Some(&sealed)).await?;
    tx.commit().await?;
    Ok(())
}

/// The session of a request, if its cookie names a live one. Returns the raw id too.
pub async fn load(app: &App, headers: &HeaderMap) -> PageResult<Option<(String, SessionRecord)>> {
    let Some(raw) = read_cookie(headers, session_cookie(secure(app))) else {
        return Ok(None);
    };
    let hash = hash_id(raw);
    let now = Utc::now();
    let rec = {
        let mut r = app.db.read().await?;
        sessions::get(r.conn(), &hash, now).await?
    };
    Ok(rec.map(|s| (raw.to_owned(), s)))
}

/// Where a session in `stage` continues.
pub fn stage_home(stage: Stage) -> &'static str {
    match stage {
        Stage::Totp => "/login/totp",
        Stage::Enrol => "/login/enrol",
        Stage::Full => "/",
    }
}

/// The home page of a role.
pub fn home_for(role: Role) -> &'static str {
    if role.is_staff() { "/admin" } else { "/client" }
}

/// A signed-in person looking at a page.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub caller: Caller,
    pub user: User,
    pub tenant_name: String,
    pub tenant_slug: String,
    /// The hash of the session id (the session's key).
    pub session: String,
    /// The token every form of this page carries.
    pub csrf: String,
    pub totp_enabled: bool,
    pub signed_in_at: DateTime<Utc>,
    pub flash: Option<Flash>,
}

impl Viewer {
    pub fn role(&self) -> Role {
        self.user.role
    }

    /// The context every page template gets: who is signed in, the menu, the CSRF token and
    /// the one-time message.
    pub fn base(&self, section: &str) -> Value {
        context! {
            me => context! {
                name => self.user.name.clone(),
                email => self.user.email.clone(),
                role => self.user.role.as_str(),
                is_staff => self.user.role.is_staff(),
                is_admin => self.user.role.is_admin(),
            },
            tenant => context! { name => self.tenant_name.clone(), slug => self.tenant_slug.clone() },
            csrf => self.csrf.clone(),
            nav => Serde(nav::for_role(self.user.role, section)),
            flash => Serde(self.flash.clone()),
            section => section.to_owned(),
        }
    }

    pub async fn flash(&self, app: &App, flash: Flash) -> PageResult<()> {
        set_flash(app, &self.session, &flash).await
    }
}

/// Where an unauthenticated request is sent: the sign-in page, coming back here afterwards
/// (for page views).
fn to_login(parts: &Parts) -> PageError {
    if parts.method == Method::GET {
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let q: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("next", next)
            .finish();
        PageError::Redirect(format!("/login?{q}"))
    } else {
        PageError::Redirect("/login".into())
    }
}

impl FromRequestParts<App> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, PageError> {
        let Some((raw, s)) = load(app, &parts.headers).await? else {
            return Err(to_login(parts));
        };
        if s.stage != Stage::Full {
            return Err(PageError::Redirect(stage_home(s.stage).into()));
        }
        let now = Utc::now();
        if now - s.last_seen_at > TOUCH_EVERY {
            let expires = (now + IDLE).min(s.created_at + ABSOLUTE);
            let mut tx = app.db.begin().await?;
            sessions::touch(tx.conn(), &s.id_hash, now, expires).await?;
            tx.commit().await?;
        }
        // A fragment fetched by a page's script leaves the one-time message for a page.
        let fragment = parts.headers.contains_key("x-panel-fragment");
        let flash = match &s.flash_sealed {
            Some(sealed) if !fragment => {
                let mut tx = app.db.begin().await?;
                let took = sessions::take_flash(tx.conn(), &s.id_hash, sealed).await?;
                tx.commit().await?;
                if took {
                    let bytes = app.keyring.open(&flash_context(&s.id_hash), sealed)?;
                    serde_json::from_slice(&bytes).ok()
                } else {
                    None
                }
            }
            _ => None,
        };
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let principal = Principal {
            tenant_id: s.user.tenant_id.clone(),
            user_id: s.user.id.clone(),
            role: s.user.role,
            client_id: s.user.client_id.clone(),
            token_id: None,
        };
        Ok(Viewer {
            caller: Caller::new(principal, request_id),
            user: s.user,
            tenant_name: s.tenant_name,
            tenant_slug: s.tenant_slug,
            session: s.id_hash,
            csrf: csrf_for(&raw),
            totp_enabled: s.totp_enabled,
            signed_in_at: s.created_at,
            flash,
        })
    }
}

/// A signed-in member of the hosting company's staff (staff, admin or operator).
#[derive(Debug, Clone)]
pub struct StaffViewer(pub Viewer);

impl FromRequestParts<App> for StaffViewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, PageError> {
        let v = Viewer::from_request_parts(parts, app).await?;
        if !v.role().is_staff() {
            return Err(PageError::Forbidden(
                "These pages are for the hosting company's staff. Your own pages are under /client."
                    .into(),
            ));
        }
        Ok(StaffViewer(v))
    }
}

/// A signed-in user of a client (the customer area). Staff are sent to their own area.
#[derive(Debug, Clone)]
pub struct ClientViewer(pub Viewer);

impl FromRequestParts<App> for ClientViewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, PageError> {
        let v = Viewer::from_request_parts(parts, app).await?;
        if v.role() != Role::Client || v.user.client_id.is_none() {
            return Err(PageError::Redirect("/admin".into()));
        }
        Ok(ClientViewer(v))
    }
}

/// The client's address, for the session row (audit and the account page).
pub fn peer_ip(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// A local path to go to after sign-in; anything else (another site) becomes `/`.
pub fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.contains(['\r', '\n'])
        && !next.starts_with("/login")
        && !next.starts_with("/logout");
    if ok { next.to_owned() } else { "/".to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::COOKIE,
            HeaderValue::from_static("a=1; p1_session=abc; p1_session_x=2"),
        );
        assert_eq!(read_cookie(&h, "p1_session"), Some("abc"));
        assert_eq!(read_cookie(&h, "p1_sess"), None);
    }

    #[test]
    fn secure_cookies_carry_the_attributes() {
        let c = cookie(session_cookie(true), "v", true, "Lax", None);
        let s = c.to_str().unwrap();
        assert!(
            s.starts_with("__Host-p1_session=v; Path=/; HttpOnly; SameSite=Lax; Secure"),
            "{s}"
        );
        assert!(
            !cookie("p1_session", "v", false, "Lax", None)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_hide_the_id() {
        let (a, _) = new_id().unwrap();
        let (b, _) = new_id().unwrap();
        assert_ne!(csrf_for(&a), csrf_for(&b));
        assert!(!csrf_for(&a).contains(&a));
        assert!(same(&csrf_for(&a), &csrf_for(&a)));
        assert!(!same(&csrf_for(&a), &csrf_for(&b)));
    }

    #[test]
    fn next_is_local_only() {
        assert_eq!(safe_next("/admin/clients?page=2"), "/admin/clients?page=2");
        for bad in [
            "https://evil.test/",
            "//evil.test",
            "/\\evil.test",
            "javascript:alert(1)",
            "/logout",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }
}
