//! The panel's security over plain HTTP (a browser without JavaScript): CSRF, tenant
//! isolation of sessions, lock-out, second factor, escaping, cookies, and what a client user
//! can reach. Every test runs on SQLite and on PostgreSQL.

mod common;

use common::{Browser, PASSWORD, TestPanel, code_now, fresh_code, text_of};
use panel1_core::Role;
use panel1_store::db_tests;
use panel1_store::testing::TestDb;
use reqwest::StatusCode;

db_tests!(
    a_form_post_without_the_csrf_token_is_refused,
    a_session_cookie_of_another_tenant_reaches_nothing_there,
    an_account_locks_after_five_failures,
    scripts_in_a_client_name_are_shown_as_text,
    staff_enrol_a_second_factor_and_codes_work_once,
    sign_out_ends_the_session_on_the_server,
    a_client_user_reaches_only_their_own_client,
    a_new_token_is_shown_once_and_revoked_after_confirmation,
    forms_show_field_errors_and_keep_the_input,
    lists_are_searchable_and_paginated,
    a_page_with_work_under_way_refreshes_itself_without_javascript,
);

async fn staff_browser(p: &TestPanel) -> Browser {
    let secret = p.enrol_totp(&p.tenant, &p.operator).await;
    let mut b = Browser::new(&p.url);
    let r = b
        .sign_in("", &p.operator_email, &p.operator_password, Some(&secret))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/admin");
    b
}

async fn a_form_post_without_the_csrf_token_is_refused(db: TestDb) {
    let p = TestPanel::new(db).await;
    let mut b = staff_browser(&p).await;
    let fields = [
        ("name", "Forged Ltd"),
        ("email", "forged@example.com"),
        ("status", "active"),
    ];

    // No token at all.
    let r = b.post("/admin/clients/new", &fields).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains("security token"), "{}", r.body);
    // A made-up token.
    let mut forged = fields.to_vec();
    forged.push((
        "_csrf",
        "0000000000000000000000000000000000000000000000000000000000000000",
    ));
    assert_eq!(
        b.post("/admin/clients/new", &forged).await.status,
        StatusCode::FORBIDDEN
    );
    // The right token, but the browser says the form came from another site.
    let token = b.get("/admin/clients/new").await.csrf();
    let mut good = fields.to_vec();
    good.push(("_csrf", &token));
    let r = b
        .post_with(
            "/admin/clients/new",
            &good,
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Not a form (JSON to a page).
    let r = b
        .post_with(
            "/admin/clients/new",
            &good,
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Nothing was created by any of them.
    let list = b.get("/admin/clients").await;
    assert!(!list.body.contains("Forged Ltd"), "{}", list.body);
    // The sign-in form needs its token too (no login CSRF).
    let mut fresh = Browser::new(&p.url);
    let r = fresh
        .post(
            "/login",
            &[
                ("email", p.operator_email.as_str()),
                ("password", p.operator_password.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // With the token it goes through.
    let r = b.post("/admin/clients/new", &good).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(b.get("/admin/clients").await.body.contains("Forged Ltd"));
}

async fn a_session_cookie_of_another_tenant_reaches_nothing_there(db: TestDb) {
    let p = TestPanel::new(db).await;
    let mine = p.client("Acme Home Client").await;
    let other = p.other_tenant("beta").await;
    let other_secret = p.enrol_totp(&other.tenant, &other.admin).await;

    // The other tenant's admin signs in to their own tenant…
    let mut b = Browser::new(&p.url);
    let r = b
        .sign_in("beta", &other.email, &other.password, Some(&other_secret))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // …and sees their client, not ours.
    let list = b.get("/admin/clients").await;
    assert!(list.body.contains("Client of beta"), "{}", list.body);
    assert!(!list.body.contains("Acme Home Client"), "{}", list.body);
    // Our client's page and edit form answer 404 with that session, like a missing client.
    for path in [
        format!("/admin/clients/{mine}"),
        format!("/admin/clients/{mine}/edit"),
    ] {
        let r = b.get(&path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!r.body.contains("Acme Home Client"));
    }
    let token = b.get("/admin/clients/new").await.csrf();
    let r = b
        .post(
            &format!("/admin/clients/{mine}/edit"),
            &[
                ("_csrf", &token),
                ("name", "Hijacked"),
                ("email", "x@example.com"),
                ("status", "active"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let ours = panel1_app::clients::get(&p.app, &p.operator_caller(), &mine)
        .await
        .unwrap();
    assert_eq!(ours.details.name, "Acme Home Client");

    // The same e-mail address signs in to the tenant it names: the other tenant's admin
    // cannot sign in to ours with their password.
    let mut c = Browser::new(&p.url);
    let r = c
        .sign_in("default", &other.email, &other.password, None)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // With two tenants the form asks which one.
    let r = c.sign_in("", &other.email, &other.password, None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("organisation&#x27;s identifier")
            || r.body.contains("organisation's identifier"),
        "{}",
        r.body
    );

    // A session row that claims our tenant for their user (a forged or corrupted row) is not
    // a session at all.
    let (raw, hash) = panel1_panel::session::new_id().unwrap();
    let mut tx = p.app.db.begin().await.unwrap();
    panel1_store::sessions::insert(
        tx.conn(),
        &panel1_store::sessions::NewSession {
            id_hash: &hash,
            tenant_id: &p.tenant,
            user_id: &other.admin,
            stage: panel1_store::sessions::Stage::Full,
            expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
            user_agent: None,
            ip: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut forged = Browser::new(&p.url);
    forged.cookies.push(("p1_session".into(), raw));
    let r = forged.get("/admin/clients").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location().starts_with("/login"), "{}", r.location());
}

async fn an_account_locks_after_five_failures(db: TestDb) {
    let p = TestPanel::new(db).await;
    let cid = p.client("Lock Test").await;
    p.user("locky@example.com", Role::Client, Some(&cid)).await;
    let mut b = Browser::new(&p.url);
    // An unknown address and a wrong password get the same answer.
    let unknown = b
        .sign_in("", "nobody@example.com", "whatever-password", None)
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown
            .body
            .contains("e-mail address or password is not right")
    );
    for i in 0..5 {
        let r = b
            .sign_in("", "locky@example.com", "wrong password!!", None)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "attempt {i}");
        assert!(
            r.body.contains("e-mail address or password is not right"),
            "attempt {i}"
        );
    }
    // Now even the right password is refused, with a message that says why and until when.
    let r = b.sign_in("", "locky@example.com", PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("locked after too many failed sign-ins"),
        "{}",
        r.body
    );
    assert!(b.cookie("p1_session").is_none());
    // The lock is in the audit log.
    let log = panel1_app::audit::list(
        &p.app,
        p.operator_caller().staff().unwrap(),
        &panel1_store::audit::AuditFilter::default(),
        panel1_core::PageRequest::first(50),
    )
    .await
    .unwrap();
    assert!(
        log.items.iter().any(|e| e.action == "user.locked"),
        "{:?}",
        log.items
    );
    // Once the lock has passed, the right password works and resets the count.
    let uid = {
        let mut r = p.app.db.read().await.unwrap();
        panel1_store::users::credentials_by_email(r.conn(), &p.tenant, "locky@example.com")
            .await
            .unwrap()
            .unwrap()
            .user
            .id
    };
    let mut tx = p.app.db.begin().await.unwrap();
    panel1_store::users::record_login_failure(
        tx.conn(),
        &p.tenant,
        &uid,
        1,
        chrono::Utc::now() - chrono::Duration::seconds(1),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let r = b.sign_in("", "locky@example.com", PASSWORD, None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/client");
}

async fn scripts_in_a_client_name_are_shown_as_text(db: TestDb) {
    let p = TestPanel::new(db).await;
    let evil = r#"<script>alert("pwned")</script><img src=x onerror=alert(1)>"#;
    let id = p.client(evil).await;
    let mut b = staff_browser(&p).await;
    for path in [
        format!("/admin/clients/{id}"),
        "/admin/clients".to_owned(),
        format!("/admin/clients/{id}/edit"),
        "/admin/audit".to_owned(),
    ] {
        let r = b.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            !r.body.contains("<script>alert"),
            "{path} has the raw script"
        );
        assert!(!r.body.contains("<img src=x"), "{path} has the raw tag");
        assert!(
            r.body.contains("&lt;script&gt;alert("),
            "{path} shows it as text"
        );
    }
    // Pages forbid inline scripts anyway.
    let r = b.get(&format!("/admin/clients/{id}")).await;
    let csp = r
        .headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
    assert_eq!(r.headers.get("x-frame-options").unwrap(), "DENY");
}

async fn staff_enrol_a_second_factor_and_codes_work_once(db: TestDb) {
    let p = TestPanel::new(db).await;
    let staff = p.user("staff@example.com", Role::Staff, None).await;
    let mut b = Browser::new(&p.url);
    let r = b
        .submit(
            "/login",
            "/login",
            &[("email", "staff@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.location(),
        "/login/enrol",
        "staff must enrol before anything else"
    );
    let pending_cookie = b.cookie("p1_session").unwrap();
    // Until enrolled, the panel is out of reach.
    let r = b.get("/admin").await;
    assert_eq!(r.location(), "/login/enrol");
    // The page shows the secret once, as text and as an otpauth link.
    let page = b.get("/login/enrol").await;
    let secret = text_of(&page.body, "totp-secret").unwrap().replace(' ', "");
    let body = page.body.replace("&#x2f;", "/");
    assert!(
        body.contains("otpauth://totp/Panel1:staff%40example.com?secret="),
        "{body}"
    );
    let secret = panel1_core::SecretString::new(secret);
    // A wrong code is refused and counted.
    let r = b
        .post(
            "/login/enrol",
            &[("_csrf", &page.csrf()), ("code", "000000")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("This code is not right"));
    let r = b
        .post(
            "/login/enrol",
            &[("_csrf", &page.csrf()), ("code", &code_now(&secret))],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/admin");
    // A new session id after the second factor; the pending one is gone.
    let full_cookie = b.cookie("p1_session").unwrap();
    assert_ne!(full_cookie, pending_cookie);
    let mut old = Browser::new(&p.url);
    old.cookies.push(("p1_session".into(), pending_cookie));
    assert!(old.get("/admin").await.location().starts_with("/login"));
    let home = b.get("/admin").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.body.contains("Two-factor sign-in is set up"),
        "the one-time message is shown"
    );
    assert!(
        !b.get("/admin")
            .await
            .body
            .contains("Two-factor sign-in is set up"),
        "…once"
    );
    // The secret is sealed at rest, bound to the user.
    let state = {
        let mut r = p.app.db.read().await.unwrap();
        panel1_store::sessions::totp_state(r.conn(), &p.tenant, &staff)
            .await
            .unwrap()
    };
    let sealed = state.secret_sealed.unwrap();
    assert!(!sealed.contains(secret.expose()));
    assert_eq!(
        p.app
            .keyring
            .open_str(&panel1_panel::totp::context(staff.as_str()), &sealed)
            .unwrap(),
        secret
    );

    // The next sign-in asks for a code; one code works once.
    let mut c = Browser::new(&p.url);
    let r = c
        .submit(
            "/login",
            "/login",
            &[("email", "staff@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.location(), "/login/totp");
    let code = fresh_code(&secret);
    let r = c
        .submit("/login/totp", "/login/totp", &[("code", &code)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let mut d = Browser::new(&p.url);
    d.submit(
        "/login",
        "/login",
        &[("email", "staff@example.com"), ("password", PASSWORD)],
    )
    .await;
    let r = d
        .submit("/login/totp", "/login/totp", &[("code", &code)])
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a replayed code is refused"
    );
    assert!(r.body.contains("already used"), "{}", r.body);
}

async fn sign_out_ends_the_session_on_the_server(db: TestDb) {
    let p = TestPanel::new(db).await;
    let mut b = staff_browser(&p).await;
    let cookie = b.cookie("p1_session").unwrap();
    let sessions_before = {
        let mut r = p.app.db.read().await.unwrap();
        panel1_store::sessions::count_for_user(r.conn(), &p.tenant, &p.operator)
            .await
            .unwrap()
    };
    assert_eq!(sessions_before, 1);
    let set_cookie = {
        let r = b.submit("/admin", "/logout", &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(r.location(), "/login?signed_out=1");
        r.headers
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert!(set_cookie.contains("Max-Age=0"), "{set_cookie}");
    assert!(
        b.get("/login?signed_out=1")
            .await
            .body
            .contains("You are signed out")
    );
    // The old cookie, replayed, is worth nothing.
    let mut replay = Browser::new(&p.url);
    replay.cookies.push(("p1_session".into(), cookie));
    let r = replay.get("/admin/clients").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/login?next=%2Fadmin%2Fclients");
    let mut r = p.app.db.read().await.unwrap();
    assert_eq!(
        panel1_store::sessions::count_for_user(r.conn(), &p.tenant, &p.operator)
            .await
            .unwrap(),
        0
    );
}

async fn a_client_user_reaches_only_their_own_client(db: TestDb) {
    let p = TestPanel::new(db).await;
    let mine = p.client("Mine Ltd").await;
    let theirs = p.client("Theirs Ltd").await;
    p.user("me@mine.test", Role::Client, Some(&mine)).await;
    let them = p
        .user("them@theirs.test", Role::Client, Some(&theirs))
        .await;
    let (their_token, _) = panel1_app::users::create_token(
        &p.app,
        &p.operator_caller(),
        &panel1_app::users::NewToken {
            name: "theirs".into(),
            user_id: Some(them),
            expires_in_days: None,
        },
    )
    .await
    .unwrap();

    let mut b = Browser::new(&p.url);
    let r = b.sign_in("", "me@mine.test", PASSWORD, None).await;
    assert_eq!(
        r.location(),
        "/client",
        "client users need no second factor"
    );
    let home = b.get("/client").await;
    assert!(home.body.contains("Mine Ltd"));
    assert!(!home.body.contains("Theirs Ltd"));
    assert!(
        !home.body.contains("/admin/"),
        "no staff links in the client area"
    );
    // Staff pages are refused before anything is looked up.
    for path in [
        "/admin",
        "/admin/clients",
        &format!("/admin/clients/{theirs}"),
        "/admin/jobs",
    ] {
        let r = b.get(path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert!(!r.body.contains("Theirs Ltd"));
    }
    // Another client's user's token: as if it did not exist.
    for path in [
        format!("/client/tokens/{}/revoke", their_token.id),
        "/client/tokens/tok_not-an-id/revoke".into(),
    ] {
        assert_eq!(b.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let token = b.get("/client/tokens").await.csrf();
    let r = b
        .post(
            &format!("/client/tokens/{}/revoke", their_token.id),
            &[("_csrf", &token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let still = panel1_app::users::list_tokens(&p.app, &p.operator_caller())
        .await
        .unwrap();
    assert!(
        still
            .iter()
            .any(|t| t.id == their_token.id && t.revoked_at.is_none())
    );
}

async fn a_new_token_is_shown_once_and_revoked_after_confirmation(db: TestDb) {
    let p = TestPanel::new(db).await;
    let mut b = staff_browser(&p).await;
    let r = b
        .submit(
            "/admin/tokens/new",
            "/admin/tokens/new",
            &[("name", "billing sync"), ("expires_in_days", "30")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/admin/tokens");
    let page = b.get("/admin/tokens").await;
    let secret = text_of(&page.body, "shown-secret").expect("the secret is on the page");
    assert!(secret.starts_with("p1_"), "{secret}");
    // It works against the API…
    let me = reqwest::Client::new()
        .get(format!("{}/api/v1/me", p.url))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    // …and is never shown again.
    let again = b.get("/admin/tokens").await;
    assert!(!again.body.contains(&secret));
    assert!(again.body.contains("billing sync"));
    // Revoking asks first (a page that works without JavaScript), then revokes.
    let tokens = panel1_app::users::list_tokens(&p.app, &p.operator_caller())
        .await
        .unwrap();
    let t = tokens.iter().find(|t| t.name == "billing sync").unwrap();
    let confirm = b.get(&format!("/admin/tokens/{}/revoke", t.id)).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("Programs using it stop working"));
    let r = b
        .post(
            &format!("/admin/tokens/{}/revoke", t.id),
            &[("_csrf", &confirm.csrf())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let me = reqwest::Client::new()
        .get(format!("{}/api/v1/me", p.url))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

async fn forms_show_field_errors_and_keep_the_input(db: TestDb) {
    let p = TestPanel::new(db).await;
    let mut b = staff_browser(&p).await;
    let r = b
        .submit(
            "/admin/clients/new",
            "/admin/clients/new",
            &[
                ("name", "Half Right"),
                ("email", "not-an-address"),
                ("country", "Netherlands"),
                ("status", "active"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Each error next to its field, linked from the summary, and the input kept.
    let email_err = text_of(&r.body, "f-email-error").unwrap();
    assert!(
        r.body
            .contains("is not an e-mail address like name@example.com"),
        "{email_err}"
    );
    let country_err = text_of(&r.body, "f-country-error").unwrap();
    assert!(r.body.contains("at most 2 characters"), "{country_err}");
    assert!(r.body.contains("href=\"#f-country\""));
    assert!(r.body.contains("aria-invalid=\"true\""));
    assert!(r.body.contains("value=\"Half Right\""));
    assert!(
        !b.get("/admin/clients").await.body.contains("Half Right"),
        "nothing was created"
    );
    // A list with an impossible filter says what is wrong instead of failing.
    let r = b.get("/admin/jobs?status=exploded").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("is not a job status"));
}

#[tokio::test]
async fn cookies_are_secure_when_the_panel_is_served_over_https() {
    let p = TestPanel::with_env(
        TestDb::sqlite().await,
        &[("PANEL1_PUBLIC_URL", "https://panel.example.test")],
    )
    .await;
    let mut b = Browser::new(&p.url);
    let page = b.get("/login").await;
    let pre = page
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(pre.starts_with("__Host-p1_csrf="), "{pre}");
    assert!(
        pre.contains("Secure") && pre.contains("HttpOnly") && pre.contains("SameSite=Strict"),
        "{pre}"
    );
    let cid = p.client("Https Client").await;
    p.user("https@example.com", Role::Client, Some(&cid)).await;
    let r = b
        .post(
            "/login",
            &[
                ("_csrf", &page.csrf()),
                ("email", "https@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let c = r.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(c.starts_with("__Host-p1_session="), "{c}");
    for attr in ["Path=/", "HttpOnly", "SameSite=Lax", "Secure"] {
        assert!(c.contains(attr), "{attr} in {c}");
    }
    assert_eq!(b.get("/client").await.status, StatusCode::OK);
}

#[tokio::test]
async fn assets_are_versioned_and_cached_for_a_year() {
    let p = TestPanel::new(TestDb::sqlite().await).await;
    let mut b = Browser::new(&p.url);
    let page = b.get("/login").await;
    for (marker, ext, ct) in [
        ("href=\"/assets/panel.", ".css", "text/css"),
        ("src=\"/assets/panel.", ".js", "text/javascript"),
    ] {
        let start = page
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("{marker} in {}", page.body))
            + marker.find('/').unwrap();
        let url = page.body[start..].split('"').next().unwrap().to_owned();
        assert!(url.ends_with(ext), "{url}");
        let r = b.get(&url).await;
        assert_eq!(r.status, StatusCode::OK, "{url}");
        assert!(
            r.headers
                .get("content-type")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(ct)
        );
        assert_eq!(
            r.headers.get("cache-control").unwrap(),
            "public, max-age=31536000, immutable"
        );
    }
    assert_eq!(
        b.get("/assets/panel.000000000000.css").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get("/assets/panel.css").await.status,
        StatusCode::NOT_FOUND
    );
}

async fn lists_are_searchable_and_paginated(db: TestDb) {
    let p = TestPanel::new(db).await;
    let cid = p.client("Search Co").await;
    for i in 0..27 {
        p.user(
            &format!("person{i:02}@search.test"),
            Role::Client,
            Some(&cid),
        )
        .await;
    }
    p.user("zelda@other.test", Role::Staff, None).await;
    let mut b = staff_browser(&p).await;
    // Users: 29 in all (operator, 27 clients, staff): two pages, and the links keep the filter.
    let all = b.get("/admin/users").await;
    assert!(all.body.contains("1–25 of 29 users"), "{}", all.body);
    assert!(
        all.body.contains("href=\"&#x2f;admin&#x2f;users?page=2\"")
            || all.body.contains("href=\"/admin/users?page=2\""),
        "{}",
        all.body
    );
    let second = b.get("/admin/users?page=2").await;
    assert!(second.body.contains("26–29 of 29 users"), "{}", second.body);
    let found = b.get("/admin/users?q=ZELDA").await;
    assert!(
        found.body.contains("zelda@other.test") && !found.body.contains("person01"),
        "{}",
        found.body
    );
    let staff = b.get("/admin/users?role=staff").await;
    assert!(staff.body.contains("zelda@other.test") && !staff.body.contains("person01@"));
    let filtered = b.get("/admin/users?q=person&role=client").await;
    assert!(
        filtered.body.contains("1–25 of 27 users"),
        "{}",
        filtered.body
    );
    assert!(
        filtered
            .body
            .contains("q=person&amp;role=client&amp;page=2"),
        "{}",
        filtered.body
    );
    assert_eq!(
        b.get("/admin/users?role=wizard").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Wildcards in the search are taken literally.
    assert!(
        b.get("/admin/users?q=%25")
            .await
            .body
            .contains("No user matches")
    );
    // Tokens and webhooks are searchable too.
    for name in ["billing sync", "dns robot"] {
        b.submit("/admin/tokens/new", "/admin/tokens/new", &[("name", name)])
            .await;
    }
    let t = b.get("/admin/tokens?q=robot").await;
    assert!(t.body.contains("dns robot") && !t.body.contains("billing sync"));
    let r = b
        .submit(
            "/admin/webhooks/new",
            "/admin/webhooks/new",
            &[
                ("url", "https://crm.example.test/hook"),
                ("events", "client.*"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let hook_page = b.get(r.location()).await;
    assert!(
        text_of(&hook_page.body, "shown-secret")
            .unwrap()
            .starts_with("whsec_")
    );
    assert!(
        b.get("/admin/webhooks?q=crm")
            .await
            .body
            .contains("crm.example.test")
    );
    assert!(
        b.get("/admin/webhooks?q=nothing-like-it")
            .await
            .body
            .contains("No webhook matches")
    );
}

async fn a_page_with_work_under_way_refreshes_itself_without_javascript(db: TestDb) {
    let p = TestPanel::new(db).await;
    let mut b = staff_browser(&p).await;
    // No worker yet: the job waits in the queue.
    let id = panel1_jobs::enqueue_now(
        &p.app.db,
        &common::Flaky {
            target: "https://x.example.test".into(),
        },
        panel1_jobs::EnqueueOptions {
            tenant_id: Some(p.tenant.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id()
    .clone();
    let page = b.get(&format!("/admin/jobs/{id}")).await;
    assert!(
        page.body.contains("<noscript><meta http-equiv=\"refresh\""),
        "{}",
        page.body
    );
    let frag = b.get(&format!("/admin/jobs/{id}/progress")).await;
    assert!(frag.body.contains("data-final=\"false\""), "{}", frag.body);
    assert!(!frag.body.contains("<html"), "a fragment, not a page");
    // Once it is dead, the page stops refreshing and offers a retry.
    p.start_flaky_worker(std::sync::Arc::new(std::sync::atomic::AtomicBool::new(
        true,
    )));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !b
        .get(&format!("/admin/jobs/{id}/progress"))
        .await
        .body
        .contains("data-final=\"true\"")
    {
        assert!(std::time::Instant::now() < deadline, "the job never died");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let page = b.get(&format!("/admin/jobs/{id}")).await;
    assert!(!page.body.contains("http-equiv=\"refresh\""));
    assert!(page.body.contains("Retry this job"));
    assert!(page.body.contains("HTTP 503"));
}
