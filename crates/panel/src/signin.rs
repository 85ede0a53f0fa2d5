//! Signing in and out.
//!
//! 1. `/login`: organisation (tenant slug; hidden when the installation has one tenant),
//!    e-mail and password (argon2id). Five failures in a row lock the account for 15
//!    minutes; an unknown e-mail costs the same time as a wrong password and gets the same
//!    answer.
//! 2. Staff must use a second factor: without one they are sent to `/login/enrol` (a new
//!    TOTP secret shown once, as text and as an `otpauth://` link, confirmed by a code), with
//!    one to `/login/totp`. Wrong codes count towards the lock-out. Client users go straight
//!    in unless they have a second factor.
//! 3. A new session id is issued at each step, so an id seen before sign-in is worthless
//!    after it. Sign-in, lock-out, enrolment and sign-out are written to the audit log.

use std::sync::LazyLock;

use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use minijinja::context;
use minijinja::value::Serde;
use panel1_app::audit::{self, Change};
use panel1_app::{App, auth};
use panel1_core::crypto::random_bytes;
use panel1_core::{Role, SecretString, TenantId, UserId};
use panel1_store::audit::Actor;
use panel1_store::sessions::{self, NewSession, SessionRecord, Stage};
use panel1_store::users;
use serde::Deserialize;

use crate::error::{PageError, PageResult};
use crate::form::{Errors, FormData};
use crate::session::{self, Flash};
use crate::templates::{render, render_status};
use crate::totp;

/// Failed sign-ins in a row that lock an account…
pub const MAX_FAILURES: i64 = 5;
/// …for this long.
pub const LOCK_FOR: Duration = Duration::minutes(15);

const WRONG: &str = "The e-mail address or password is not right. Check both and try again; after 5 failed attempts in a row the account is locked for 15 minutes.";

/// A hash to verify against when the e-mail is unknown, so that case takes as long as a
/// wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    auth::hash_password(&SecretString::new("panel1 timing equaliser")).unwrap_or_default()
});

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    tenant: Option<String>,
    signed_out: Option<String>,
}

fn see_other(to: &str, cookies: Vec<HeaderValue>) -> Response {
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response();
    for c in cookies {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

fn actor(user: &UserId) -> Actor {
    Actor {
        kind: "user".into(),
        id: Some(user.to_string()),
        token_id: None,
    }
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Whether the form must ask for the organisation (more than one tenant, or none).
async fn single_tenant(app: &App) -> PageResult<Option<(TenantId, String)>> {
    let mut r = app.db.read().await?;
    Ok(sessions::only_tenant(r.conn()).await?)
}

struct LoginForm {
    next: String,
    tenant: String,
    email: String,
    notice: Option<&'static str>,
}

/// Renders the sign-in page, setting the pre-session CSRF cookie when there is none.
async fn login_form(
    app: &App,
    headers: &HeaderMap,
    f: LoginForm,
    errors: Errors,
    status: StatusCode,
) -> PageResult {
    let secure = session::secure(app);
    let name = session::presession_cookie(secure);
    let (token, new_cookie) = match session::read_cookie(headers, name) {
        Some(t) => (t.to_owned(), None),
        None => {
            let t = hex::encode(random_bytes::<32>()?);
            let c = session::cookie(name, &t, secure, "Strict", None);
            (t, Some(c))
        }
    };
    let only = single_tenant(app).await?;
    let mut r = render_status(
        status,
        "login.html",
        context! {
            csrf => token,
            next => f.next,
            tenant => f.tenant,
            email => f.email,
            ask_tenant => only.is_none(),
            notice => f.notice,
            errors => Serde(errors),
        },
    )?;
    if let Some(c) = new_cookie {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(r)
}

/// `GET /login`
pub async fn login_page(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> PageResult {
    if let Some((_, s)) = session::load(&app, &headers).await?
        && s.stage == Stage::Full
    {
        return Ok(see_other(session::home_for(s.user.role), vec![]));
    }
    login_form(
        &app,
        &headers,
        LoginForm {
            next: q.next.map(|n| session::safe_next(&n)).unwrap_or_default(),
            tenant: q.tenant.unwrap_or_default(),
            email: String::new(),
            notice: q.signed_out.map(|_| "You are signed out."),
        },
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

/// Starts a session at `stage` and returns its cookie and its key (the id's hash).
async fn start_session(
    app: &App,
    parts: &Parts,
    tenant: &TenantId,
    user: &UserId,
    stage: Stage,
) -> PageResult<(HeaderValue, String)> {
    let (raw, hash) = session::new_id()?;
    let now = Utc::now();
    let expires_at = if stage == Stage::Full {
        now + session::IDLE
    } else {
        now + session::PENDING
    };
    let ua = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let ip = session::peer_ip(parts);
    let mut tx = app.db.begin().await?;
    sessions::prune(tx.conn(), now).await?;
    sessions::insert(
        tx.conn(),
        &NewSession {
            id_hash: &hash,
            tenant_id: tenant,
            user_id: user,
            stage,
            expires_at,
            user_agent: ua,
            ip: ip.as_deref(),
        },
    )
    .await?;
    tx.commit().await?;
    let cookie = session::cookie(
        session::session_cookie(session::secure(app)),
        &raw,
        session::secure(app),
        "Lax",
        None,
    );
    Ok((cookie, hash))
}

fn clear_session_cookie(app: &App) -> HeaderValue {
    let secure = session::secure(app);
    session::cookie(session::session_cookie(secure), "", secure, "Lax", Some(0))
}

fn next_query(next: &str) -> String {
    if next.is_empty() || next == "/" {
        String::new()
    } else {
        format!(
            "?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("next", next)
                .finish()
        )
    }
}

/// `POST /login`
pub async fn login(State(app): State<App>, parts: Parts, form: FormData) -> PageResult {
    let next = session::safe_next(&form.text("next"));
    let slug = form.text("tenant").to_lowercase();
    let email_in = form.text("email");
    let password = SecretString::new(form.raw("password"));
    let refill = || LoginForm {
        next: if next == "/" {
            String::new()
        } else {
            next.clone()
        },
        tenant: slug.clone(),
        email: email_in.clone(),
        notice: None,
    };

    // Which tenant.
    let tenant = if slug.is_empty() {
        single_tenant(&app).await?.map(|(id, _)| id)
    } else {
        let mut r = app.db.read().await?;
        sessions::tenant_by_slug(r.conn(), &slug)
            .await?
            .map(|(id, _)| id)
    };
    let Some(tenant) = tenant else {
        let mut e = Errors::new();
        if slug.is_empty() {
            e.add("tenant", "Enter your organisation's identifier (your provider gave it to you, e.g. example-hosting).");
        } else {
            e.add("tenant", format!("There is no organisation `{slug}` here. Check the identifier your provider gave you."));
        }
        return login_form(
            &app,
            &parts.headers,
            refill(),
            e,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let mut missing = Errors::new();
    if email_in.is_empty() {
        missing.add("email", "Enter your e-mail address.");
    }
    if password.is_empty() {
        missing.add("password", "Enter your password.");
    }
    if !missing.is_empty() {
        return login_form(
            &app,
            &parts.headers,
            refill(),
            missing,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }

    let email = panel1_core::validate::email(&email_in).unwrap_or_else(|_| email_in.clone());
    let creds = {
        let mut r = app.db.read().await?;
        users::credentials_by_email(r.conn(), &tenant, &email).await?
    };
    let now = Utc::now();
    if let Some(c) = &creds
        && let Some(until) = c.locked_until
        && until > now
    {
        let mut e = Errors::new();
        e.add(
            "",
            format!(
                "This account is locked after too many failed sign-ins, until {} UTC. Try again then, or ask an administrator.",
                until.format("%H:%M")
            ),
        );
        return login_form(
            &app,
            &parts.headers,
            refill(),
            e,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let hash = creds
        .as_ref()
        .and_then(|c| c.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let ok = tokio::task::spawn_blocking({
        let password = password.clone();
        move || auth::verify_password(&password, &hash)
    })
    .await
    .map_err(PageError::internal)?;
    if !(ok && creds.as_ref().is_some_and(|c| c.password_hash.is_some())) {
        if let Some(c) = &creds {
            record_failure(
                &app,
                &parts.headers,
                &tenant,
                &c.user.id,
                &c.user.email,
                c.failed_logins,
            )
            .await?;
        }
        tracing::info!(tenant = %tenant, "sign-in refused: wrong e-mail or password");
        return login_form(
            &app,
            &parts.headers,
            refill(),
            Errors::form(WRONG),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let Some(creds) = creds else {
        return Err(PageError::internal("accepted credentials vanished"));
    };
    let user = creds.user;
    let totp_enabled = {
        let mut r = app.db.read().await?;
        sessions::totp_state(r.conn(), &tenant, &user.id)
            .await?
            .secret_sealed
            .is_some()
    };
    let stage = if totp_enabled {
        Stage::Totp
    } else if user.role.is_staff() {
        Stage::Enrol
    } else {
        Stage::Full
    };
    {
        let mut tx = app.db.begin().await?;
        users::record_login_success(tx.conn(), &tenant, &user.id).await?;
        if stage == Stage::Full {
            audit_sign_in(
                &mut tx,
                &parts.headers,
                &tenant,
                &user.id,
                &user.email,
                "password",
            )
            .await?;
        }
        tx.commit().await?;
    }
    let (cookie, _) = start_session(&app, &parts, &tenant, &user.id, stage).await?;
    tracing::info!(tenant = %tenant, user = %user.id, stage = stage.as_str(), "password accepted");
    let to = match stage {
        Stage::Full => {
            if next == "/" {
                session::home_for(user.role).to_owned()
            } else {
                next
            }
        }
        other => format!("{}{}", session::stage_home(other), next_query(&next)),
    };
    Ok(see_other(&to, vec![cookie]))
}

async fn audit_sign_in(
    tx: &mut panel1_store::Tx,
    headers: &HeaderMap,
    tenant: &TenantId,
    user: &UserId,
    email: &str,
    how: &str,
) -> PageResult<()> {
    audit::record_as(
        tx,
        tenant,
        &actor(user),
        request_id(headers).as_deref(),
        Change {
            action: "user.sign_in",
            object_type: "user",
            object_id: user.as_str(),
            summary: format!("{email} signed in to the panel ({how})"),
            before: None,
            after: None,
        },
    )
    .await?;
    Ok(())
}

/// Counts a failed attempt; the one that reaches the limit locks the account and is audited.
/// Returns whether the account is now locked.
async fn record_failure(
    app: &App,
    headers: &HeaderMap,
    tenant: &TenantId,
    user: &UserId,
    email: &str,
    failed_before: i64,
) -> PageResult<bool> {
    let until = Utc::now() + LOCK_FOR;
    let mut tx = app.db.begin().await?;
    users::record_login_failure(tx.conn(), tenant, user, MAX_FAILURES, until).await?;
    let locked = failed_before + 1 >= MAX_FAILURES;
    if locked {
        audit::record_as(
            &mut tx,
            tenant,
            &Actor::system("panel"),
            request_id(headers).as_deref(),
            Change {
                action: "user.locked",
                object_type: "user",
                object_id: user.as_str(),
                summary: format!(
                    "{email} locked until {} after {MAX_FAILURES} failed sign-ins",
                    until.format("%Y-%m-%d %H:%M UTC")
                ),
                before: None,
                after: None,
            },
        )
        .await?;
        tracing::warn!(tenant = %tenant, user = %user, "account locked after repeated failed sign-ins");
    }
    tx.commit().await?;
    Ok(locked)
}

/// The half-finished sign-in of this request in `stage`, or where to go instead.
async fn pending(
    app: &App,
    headers: &HeaderMap,
    stage: Stage,
) -> PageResult<(String, SessionRecord)> {
    match session::load(app, headers).await? {
        Some((raw, s)) if s.stage == stage => Ok((raw, s)),
        Some((_, s)) if s.stage == Stage::Full => {
            Err(PageError::Redirect(session::home_for(s.user.role).into()))
        }
        Some((_, s)) => Err(PageError::Redirect(session::stage_home(s.stage).into())),
        None => Err(PageError::Redirect("/login".into())),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// `GET /login/totp`
pub async fn totp_page(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> PageResult {
    let (raw, s) = pending(&app, &headers, Stage::Totp).await?;
    render(
        "login_totp.html",
        context! {
            csrf => session::csrf_for(&raw),
            email => s.user.email,
            next => q.next.map(|n| session::safe_next(&n)).unwrap_or_default(),
            errors => Serde(Errors::new()),
        },
    )
}

/// Finishes sign-in: replaces the pending session by a full one.
async fn finish(
    app: &App,
    parts: &Parts,
    s: &SessionRecord,
    next: &str,
    how: &str,
    flash: Option<Flash>,
) -> PageResult {
    let tenant = &s.user.tenant_id;
    {
        let mut tx = app.db.begin().await?;
        sessions::delete(tx.conn(), &s.id_hash).await?;
        users::record_login_success(tx.conn(), tenant, &s.user.id).await?;
        audit_sign_in(
            &mut tx,
            &parts.headers,
            tenant,
            &s.user.id,
            &s.user.email,
            how,
        )
        .await?;
        tx.commit().await?;
    }
    let (cookie, hash) = start_session(app, parts, tenant, &s.user.id, Stage::Full).await?;
    if let Some(f) = flash {
        session::set_flash(app, &hash, &f).await?;
    }
    let to = if next == "/" {
        session::home_for(s.user.role).to_owned()
    } else {
        next.to_owned()
    };
    Ok(see_other(&to, vec![cookie]))
}

/// A wrong second-factor code: counted; at the limit the half-finished sign-in ends.
async fn wrong_code(app: &App, parts: &Parts, s: &SessionRecord) -> PageResult<bool> {
    let failed = {
        let mut r = app.db.read().await?;
        sessions::lock_state(r.conn(), &s.user.tenant_id, &s.user.id)
            .await?
            .map(|(n, _)| n)
            .unwrap_or(0)
    };
    let locked = record_failure(
        app,
        &parts.headers,
        &s.user.tenant_id,
        &s.user.id,
        &s.user.email,
        failed,
    )
    .await?;
    if locked {
        let mut tx = app.db.begin().await?;
        sessions::delete(tx.conn(), &s.id_hash).await?;
        tx.commit().await?;
    }
    Ok(locked)
}

async fn locked_out(app: &App, s: &SessionRecord) -> PageResult<bool> {
    let mut r = app.db.read().await?;
    Ok(
        sessions::lock_state(r.conn(), &s.user.tenant_id, &s.user.id)
            .await?
            .and_then(|(_, until)| until)
            .is_some_and(|u| u > Utc::now()),
    )
}

fn locked_response(app: &App) -> Response {
    let mut r = crate::error::error_page(
        StatusCode::FORBIDDEN,
        "Account locked",
        "This account is locked after too many failed sign-in attempts.",
        "Try again in 15 minutes, or ask an administrator.",
    );
    r.headers_mut()
        .append(header::SET_COOKIE, clear_session_cookie(app));
    r
}

/// `POST /login/totp`
pub async fn totp(State(app): State<App>, parts: Parts, form: FormData) -> PageResult {
    let (raw, s) = pending(&app, &parts.headers, Stage::Totp).await?;
    let next = session::safe_next(&form.text("next"));
    if locked_out(&app, &s).await? {
        return Ok(locked_response(&app));
    }
    let state = {
        let mut r = app.db.read().await?;
        sessions::totp_state(r.conn(), &s.user.tenant_id, &s.user.id).await?
    };
    let secret = match &state.secret_sealed {
        Some(sealed) => Some(
            app.keyring
                .open_str(&totp::context(s.user.id.as_str()), sealed)?,
        ),
        None => None,
    };
    let step = secret
        .as_ref()
        .and_then(|sec| totp::verify(sec, &form.text("code"), totp::now_secs()));
    let accepted = match step {
        Some(step) => {
            let mut tx = app.db.begin().await?;
            let fresh =
                sessions::use_totp_step(tx.conn(), &s.user.tenant_id, &s.user.id, step).await?;
            tx.commit().await?;
            fresh
        }
        None => false,
    };
    if accepted {
        return finish(
            &app,
            &parts,
            &s,
            &next,
            "password and authenticator code",
            None,
        )
        .await;
    }
    if wrong_code(&app, &parts, &s).await? {
        return Ok(locked_response(&app));
    }
    let msg = if step.is_some() {
        "This code was already used. Wait for the next code in your authenticator app and enter that one."
    } else {
        "This code is not right. Enter the 6-digit code your authenticator app shows now for Panel1."
    };
    let mut errors = Errors::new();
    errors.add("code", msg);
    render_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        "login_totp.html",
        context! {
            csrf => session::csrf_for(&raw),
            email => s.user.email,
            next => if next == "/" { String::new() } else { next },
            errors => Serde(errors),
        },
    )
}

/// Groups a base32 secret in fours for reading aloud or typing.
fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

async fn enrol_render(
    app: &App,
    raw: &str,
    s: &SessionRecord,
    secret: &SecretString,
    next: &str,
    errors: Errors,
    status: StatusCode,
) -> PageResult {
    let _ = app;
    render_status(
        status,
        "login_enrol.html",
        context! {
            csrf => session::csrf_for(raw),
            email => s.user.email.clone(),
            secret => grouped(secret.expose()),
            uri => totp::uri(secret, &s.user.email),
            next => next.to_owned(),
            errors => Serde(errors),
        },
    )
}

/// `GET /login/enrol`: a new secret for this enrolment, shown once.
pub async fn enrol_page(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> PageResult {
    let (raw, s) = pending(&app, &headers, Stage::Enrol).await?;
    let secret = totp::new_secret()?;
    let sealed = app
        .keyring
        .seal_str(&totp::pending_context(&s.id_hash), &secret)?;
    {
        let mut tx = app.db.begin().await?;
        sessions::set_totp_pending(tx.conn(), &s.id_hash, Some(&sealed)).await?;
        tx.commit().await?;
    }
    let next = q.next.map(|n| session::safe_next(&n)).unwrap_or_default();
    enrol_render(
        &app,
        &raw,
        &s,
        &secret,
        &next,
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

/// `POST /login/enrol`: confirms the secret with a code and turns the second factor on.
pub async fn enrol(State(app): State<App>, parts: Parts, form: FormData) -> PageResult {
    let (raw, s) = pending(&app, &parts.headers, Stage::Enrol).await?;
    let next = session::safe_next(&form.text("next"));
    if locked_out(&app, &s).await? {
        return Ok(locked_response(&app));
    }
    let Some(sealed) = &s.totp_pending_sealed else {
        return Err(PageError::Redirect("/login/enrol".into()));
    };
    let secret = app
        .keyring
        .open_str(&totp::pending_context(&s.id_hash), sealed)?;
    let Some(step) = totp::verify(&secret, &form.text("code"), totp::now_secs()) else {
        if wrong_code(&app, &parts, &s).await? {
            return Ok(locked_response(&app));
        }
        let mut errors = Errors::new();
        errors.add("code", "This code is not right. Check that the app shows Panel1 with the secret above, and enter the 6-digit code it shows now.");
        let shown_next = if next == "/" { String::new() } else { next };
        return enrol_render(
            &app,
            &raw,
            &s,
            &secret,
            &shown_next,
            errors,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let tenant = &s.user.tenant_id;
    let sealed_for_user = app
        .keyring
        .seal_str(&totp::context(s.user.id.as_str()), &secret)?;
    {
        let mut tx = app.db.begin().await?;
        sessions::enable_totp(tx.conn(), tenant, &s.user.id, &sealed_for_user, step).await?;
        audit::record_as(
            &mut tx,
            tenant,
            &actor(&s.user.id),
            request_id(&parts.headers).as_deref(),
            Change {
                action: "user.totp_enrol",
                object_type: "user",
                object_id: s.user.id.as_str(),
                summary: format!("{} set up two-factor sign-in", s.user.email),
                before: None,
                after: None,
            },
        )
        .await?;
        tx.commit().await?;
    }
    finish(
        &app,
        &parts,
        &s,
        &next,
        "password and new authenticator",
        Some(Flash::success(
            "Two-factor sign-in is set up: from now on you will be asked for a code from your authenticator app.",
        )),
    )
    .await
}

/// `POST /logout`: ends the session (whatever its stage).
pub async fn logout(State(app): State<App>, headers: HeaderMap) -> PageResult {
    if let Some((_, s)) = session::load(&app, &headers).await? {
        let mut tx = app.db.begin().await?;
        sessions::delete(tx.conn(), &s.id_hash).await?;
        if s.stage == Stage::Full {
            audit::record_as(
                &mut tx,
                &s.user.tenant_id,
                &actor(&s.user.id),
                request_id(&headers).as_deref(),
                Change {
                    action: "user.sign_out",
                    object_type: "user",
                    object_id: s.user.id.as_str(),
                    summary: format!("{} signed out", s.user.email),
                    before: None,
                    after: None,
                },
            )
            .await?;
        }
        tx.commit().await?;
    }
    Ok(see_other(
        "/login?signed_out=1",
        vec![clear_session_cookie(&app)],
    ))
}

/// Whether a role must use a second factor.
pub fn requires_second_factor(role: Role) -> bool {
    role.is_staff()
}
