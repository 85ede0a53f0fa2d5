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
    scripts_in_a_contact_or_domain_page_are_shown_as_text,
    the_service_forms_refuse_posts_without_the_csrf_token,
    a_client_reaches_only_their_own_domains_invoices_and_certificates,
    staff_manage_prices_credit_and_registrars_without_javascript,
    a_registration_page_refreshes_itself_without_javascript,
    a_domain_waiting_for_payment_links_its_invoice_and_follows_the_payment,
    scripts_in_a_dns_record_are_shown_as_text,
    a_client_reaches_only_their_own_zones,
    dns_forms_show_field_errors_and_refuse_posts_without_the_token,
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

// ------------------------------------------------------------------------------------------
// Domains, billing, certificates: the service pages.

/// A WHOIS contact of `client` made through the service, with `first` as its first name.
async fn contact_of(
    p: &TestPanel,
    client: &panel1_core::ClientId,
    first: &str,
    org: Option<&str>,
) -> panel1_core::ContactId {
    panel1_app::domains::contacts::create(
        &p.app,
        &p.operator_caller(),
        &panel1_app::domains::contacts::NewContact {
            client_id: Some(client.clone()),
            first_name: first.into(),
            last_name: "Example".into(),
            organization: org.map(str::to_owned),
            email: "owner@example.com".into(),
            phone: "+44 20 7946 0000".into(),
            fax: None,
            address1: "1 High Street".into(),
            address2: None,
            city: "London".into(),
            state_province: None,
            postal_code: None,
            country: "GB".into(),
        },
    )
    .await
    .unwrap()
    .id
}

/// A domain ordered for `client` (no worker runs: it stays pending).
async fn domain_of(
    p: &TestPanel,
    client: &panel1_core::ClientId,
    registrant: &panel1_core::ContactId,
    name: &str,
) -> panel1_core::DomainId {
    panel1_app::domains::service::register(
        &p.app,
        &p.operator_caller(),
        &panel1_app::domains::service::RegisterDomain {
            name: name.into(),
            client_id: Some(client.clone()),
            years: Some(1),
            contacts: panel1_app::domains::service::ContactsInput {
                registrant: registrant.clone(),
                admin: None,
                tech: None,
                billing: None,
            },
            nameservers: vec![],
            privacy: false,
            auto_renew: None,
            premium_price: None,
        },
    )
    .await
    .unwrap()
    .domain
    .id
}

async fn invoice_of(
    p: &TestPanel,
    client: &panel1_core::ClientId,
    key: &str,
    cents: i64,
) -> panel1_core::InvoiceId {
    let mut tx = p.app.db.begin().await.unwrap();
    let (id, _) = panel1_app::billing::invoice(
        &p.app,
        &mut tx,
        &p.tenant,
        client,
        panel1_app::billing::Charge {
            description: "Hosting, one month".into(),
            amount: panel1_core::money::Money::new(cents, panel1_core::money::Currency::USD),
            object_type: "service".into(),
            object_id: key.into(),
            operation: "renew".into(),
            term_years: None,
            billing_key: format!("service:{key}"),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn invoice_status(p: &TestPanel, id: &panel1_core::InvoiceId) -> String {
    panel1_app::billing::get_invoice(&p.app, &p.operator_caller(), id)
        .await
        .unwrap()
        .status
        .as_str()
        .to_owned()
}

async fn scripts_in_a_contact_or_domain_page_are_shown_as_text(db: TestDb) {
    let p = TestPanel::new(db).await;
    let cid = p.client("Escaping Client").await;
    let evil = r#"<script>alert("pwned")</script>"#;
    let con = contact_of(&p, &cid, evil, Some("<img src=x onerror=alert(1)>")).await;
    let did = domain_of(&p, &cid, &con, "escaping-test.test").await;
    let mut b = staff_browser(&p).await;
    for path in [
        "/admin/contacts".to_owned(),
        format!("/admin/contacts/{con}/edit"),
        format!("/admin/domains/{did}"),
        format!("/admin/domains/{did}/contacts"),
    ] {
        let r = b.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
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
    // The client sees it escaped too, in their own area.
    p.user("esc@client.test", Role::Client, Some(&cid)).await;
    let mut c = Browser::new(&p.url);
    c.sign_in("", "esc@client.test", PASSWORD, None).await;
    let r = c.get(&format!("/client/domains/{did}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("<script>alert") && r.body.contains("&lt;script&gt;"));
}

async fn the_service_forms_refuse_posts_without_the_csrf_token(db: TestDb) {
    let p = TestPanel::new(db).await;
    let cid = p.client("Forms Client").await;
    let con = contact_of(&p, &cid, "Ann", None).await;
    let did = domain_of(&p, &cid, &con, "forms-test.test").await;
    let inv = invoice_of(&p, &cid, "forms", 500).await;
    panel1_app::billing::add_credit(
        &p.app,
        p.operator_caller().staff().unwrap(),
        &cid,
        &panel1_app::billing::CreditInput {
            amount: "10.00".into(),
            currency: "USD".into(),
            note: None,
        },
    )
    .await
    .unwrap();
    let mut b = staff_browser(&p).await;
    let c = cid.to_string();
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/admin/domains/new".into(),
            vec![("name", "forged.test"), ("client_id", &c)],
        ),
        (
            "/admin/domains/transfer".into(),
            vec![("name", "forged.test"), ("auth_code", "x")],
        ),
        (format!("/admin/domains/{did}/renew"), vec![("years", "1")]),
        (
            format!("/admin/domains/{did}/lock"),
            vec![("locked", "true")],
        ),
        (format!("/admin/domains/{did}/auth-code"), vec![]),
        (
            format!("/admin/domains/{did}/suspend"),
            vec![("reason", "abuse")],
        ),
        ("/admin/contacts/new".into(), vec![("first_name", "Forged")]),
        (format!("/admin/contacts/{con}/delete"), vec![]),
        (
            "/admin/prices".into(),
            vec![("tld", "test"), ("price", "1.00")],
        ),
        (
            "/admin/prices/import".into(),
            vec![(
                "csv",
                "tld,operation,years,currency,price\ntest,register,1,USD,1.00",
            )],
        ),
        (
            format!("/admin/clients/{cid}/credit"),
            vec![("amount", "99.00"), ("currency", "USD")],
        ),
        (format!("/admin/invoices/{inv}/pay"), vec![]),
        (format!("/admin/invoices/{inv}/void"), vec![]),
        (
            "/admin/registrars/new".into(),
            vec![("name", "forged"), ("type", "sandbox")],
        ),
        ("/admin/registrars/tlds".into(), vec![("tld", "org")]),
        (
            "/admin/certificates/new".into(),
            vec![("names", "forged.test"), ("client_id", &c)],
        ),
        (
            "/admin/ca-accounts".into(),
            vec![("name", "forged"), ("directory", "letsencrypt")],
        ),
        (
            "/admin/emails/templates/invoice".into(),
            vec![("subject", "forged"), ("body", "x")],
        ),
    ];
    for (path, fields) in &posts {
        let r = b.post(path, fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.body);
        let r = b
            .post_with(path, fields, &[("sec-fetch-site", "cross-site")])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} from another site");
    }
    // Nothing happened.
    assert_eq!(invoice_status(&p, &inv).await, "unpaid");
    let credit = panel1_app::billing::credit(
        &p.app,
        &p.operator_caller(),
        &cid,
        panel1_core::PageRequest::first(10),
    )
    .await
    .unwrap();
    assert_eq!(credit.balances[0].amount, 1000, "no credit was added");
    let prices = b.get("/admin/prices").await.body;
    assert!(
        prices.contains("12.99 USD") && !prices.contains("1.00 USD"),
        "the seeded prices only: {prices}"
    );
    assert!(!b.get("/admin/contacts").await.body.contains("Forged"));
    assert!(!b.get("/admin/domains").await.body.contains("forged.test"));
    let d = panel1_app::domains::service::get(&p.app, &p.operator_caller(), &did)
        .await
        .unwrap();
    assert_eq!(d.recent_operations.len(), 1, "only the registration");
    assert!(
        b.get("/admin/certificates")
            .await
            .body
            .contains("No certificates yet")
    );
    // The client's forms too.
    p.user("forms@client.test", Role::Client, Some(&cid)).await;
    let mut cb = Browser::new(&p.url);
    cb.sign_in("", "forms@client.test", PASSWORD, None).await;
    for path in [
        format!("/client/invoices/{inv}/pay"),
        "/client/domains/new".to_owned(),
        format!("/client/domains/{did}/nameservers"),
        "/client/certificates/new".to_owned(),
    ] {
        let r = cb.post(&path, &[("name", "forged.test")]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(invoice_status(&p, &inv).await, "unpaid");
    // With the token, paying works (and only once).
    let r = cb
        .submit(
            &format!("/client/invoices/{inv}"),
            &format!("/client/invoices/{inv}/pay"),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(invoice_status(&p, &inv).await, "paid");
    let r = cb
        .submit(
            &format!("/client/invoices/{inv}"),
            &format!("/client/invoices/{inv}/pay"),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = cb.get(r.location()).await;
    assert!(page.body.contains("already paid"), "{}", page.body);
}

async fn a_client_reaches_only_their_own_domains_invoices_and_certificates(db: TestDb) {
    let p = TestPanel::new(db).await;
    let mine = p.client("Mine Ltd").await;
    let theirs = p.client("Theirs Secret Ltd").await;
    let my_con = contact_of(&p, &mine, "Mine", None).await;
    let their_con = contact_of(&p, &theirs, "Theirs", None).await;
    let my_domain = domain_of(&p, &mine, &my_con, "mine-only.test").await;
    let their_domain = domain_of(&p, &theirs, &their_con, "theirs-secret.test").await;
    let their_inv = invoice_of(&p, &theirs, "theirs", 100).await;
    let their_cert = panel1_app::certificates::service::issue(
        &p.app,
        &p.operator_caller(),
        &panel1_app::certificates::service::IssueInput {
            client_id: Some(theirs.clone()),
            names: vec!["theirs-secret.test".into()],
            product_id: None,
            validation_method: None,
            dns_mode: None,
            key_type: None,
            ca_account_id: None,
            profile: None,
            auto_renew: None,
            webroot: None,
            pay_from_credit: None,
        },
    )
    .await
    .unwrap()
    .certificate
    .id;
    panel1_app::billing::add_credit(
        &p.app,
        p.operator_caller().staff().unwrap(),
        &theirs,
        &panel1_app::billing::CreditInput {
            amount: "10.00".into(),
            currency: "USD".into(),
            note: None,
        },
    )
    .await
    .unwrap();
    p.user("me@mine.test", Role::Client, Some(&mine)).await;
    let mut b = Browser::new(&p.url);
    b.sign_in("", "me@mine.test", PASSWORD, None).await;
    // Their own pages work.
    let r = b.get(&format!("/client/domains/{my_domain}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("mine-only.test"));
    let list = b.get("/client/domains").await;
    assert!(list.body.contains("mine-only.test") && !list.body.contains("theirs-secret"));
    // Another client's objects answer 404, as a missing one, and show nothing of them.
    for path in [
        format!("/client/domains/{their_domain}"),
        format!("/client/domains/{their_domain}/progress"),
        format!("/client/domains/{their_domain}/operations"),
        format!("/client/domains/{their_domain}/nameservers"),
        format!("/client/domains/{their_domain}/contacts"),
        format!("/client/invoices/{their_inv}"),
        format!("/client/invoices/{their_inv}/pay"),
        format!("/client/certificates/{their_cert}"),
        format!("/client/certificates/{their_cert}/download"),
        format!("/client/contacts/{their_con}/edit"),
        format!("/client/contacts/{their_con}/delete"),
    ] {
        let r = b.get(&path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
        assert!(
            !r.body.contains("theirs-secret") && !r.body.contains("Theirs"),
            "{path}"
        );
    }
    // …and so do actions on them, with a valid token.
    let token = b.get("/client/domains").await.csrf();
    for path in [
        format!("/client/invoices/{their_inv}/pay"),
        format!("/client/domains/{their_domain}/renew"),
        format!("/client/domains/{their_domain}/lock"),
        format!("/client/domains/{their_domain}/auth-code"),
        format!("/client/contacts/{their_con}/delete"),
        format!("/client/certificates/{their_cert}/key"),
        format!("/client/certificates/{their_cert}/revoke"),
    ] {
        let r = b
            .post(
                &path,
                &[
                    ("_csrf", token.as_str()),
                    ("years", "1"),
                    ("locked", "true"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
    }
    assert_eq!(invoice_status(&p, &their_inv).await, "unpaid");
    panel1_app::domains::contacts::get(&p.app, &p.operator_caller(), &their_con)
        .await
        .expect("their contact is still there");
    // A client's registration for another client is refused as if that client did not exist.
    let r = b
        .submit(
            "/client/domains/new?name=x.test",
            "/client/domains/new",
            &[
                ("name", "sneaky.test"),
                ("client_id", theirs.as_str()),
                ("registrant", their_con.as_str()),
                ("years", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(!b.get("/client/domains").await.body.contains("sneaky.test"));
    // Staff pages are not theirs.
    let r = b.get(&format!("/admin/domains/{my_domain}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn staff_manage_prices_credit_and_registrars_without_javascript(db: TestDb) {
    let p = TestPanel::new(db).await;
    let cid = p.client("Billing Client").await;
    let mut b = staff_browser(&p).await;

    // A price from a cost with a markup, rounded up to .99.
    let r = b
        .submit(
            "/admin/prices",
            "/admin/prices",
            &[
                ("tld", "test"),
                ("operation", "register"),
                ("years", "1"),
                ("currency", "USD"),
                ("cost", "8.00"),
                ("markup", "percent"),
                ("markup_value", "20"),
                ("ending", "99"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = b.get("/admin/prices?tld=test").await;
    assert!(page.body.contains("9.99 USD"), "{}", page.body);
    // A CSV with a bad line imports nothing and names the line.
    let csv =
        "tld,operation,years,currency,price\ncom,register,1,USD,11.00\nnet,renew,one,USD,12.00\n";
    let r = b
        .submit("/admin/prices", "/admin/prices/import", &[("csv", csv)])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("line 3"), "{}", r.body);
    assert!(r.body.contains("net,renew,one"), "the file is shown again");
    assert!(
        !b.get("/admin/prices?tld=com")
            .await
            .body
            .contains("11.00 USD")
    );
    let csv = "tld,operation,years,currency,price,cost\ncom,register,1,USD,11.00,9.00\nnet,renew,1,USD,12.00,\n";
    let r = b
        .submit("/admin/prices", "/admin/prices/import", &[("csv", csv)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        b.get(r.location())
            .await
            .body
            .contains("2 price(s) imported")
    );
    assert!(
        b.get("/admin/prices?tld=com")
            .await
            .body
            .contains("11.00 USD")
    );

    // Credit: a bad amount is shown at its field; a good one lands in the ledger.
    let path = format!("/admin/clients/{cid}/credit");
    let r = b
        .submit(&path, &path, &[("amount", "ten"), ("currency", "USD")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&r.body, "f-amount-error").is_some(), "{}", r.body);
    let r = b
        .submit(
            &path,
            &path,
            &[
                ("amount", "25.00"),
                ("currency", "USD"),
                ("note", "wire 42"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = b.get(&path).await;
    assert_eq!(
        text_of(&page.body, "credit-balances").as_deref(),
        Some("25.00 USD")
    );
    assert!(page.body.contains("wire 42"));
    // Staff pay an invoice for the client from that credit (confirmation page first).
    let inv = invoice_of(&p, &cid, "staffpay", 1000).await;
    let confirm = b.get(&format!("/admin/invoices/{inv}/pay")).await;
    assert!(confirm.body.contains("Pay from credit"), "{}", confirm.body);
    let r = b
        .submit(
            &format!("/admin/invoices/{inv}/pay"),
            &format!("/admin/invoices/{inv}/pay"),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(invoice_status(&p, &inv).await, "paid");
    let page = b.get(&path).await;
    assert_eq!(
        text_of(&page.body, "credit-balances").as_deref(),
        Some("15.00 USD")
    );

    // A registrar account: the credentials are refused with a field error first, then stored
    // and never shown again, not even when the form comes back with an error.
    let key = "nc-api-key-very-secret-123";
    let r = b
        .submit(
            "/admin/registrars/new",
            "/admin/registrars/new",
            &[
                ("name", "Bad Name!"),
                ("type", "namecheap"),
                ("s_api_user", "ann"),
                ("s_api_key", key),
                ("s_client_ip", "192.0.2.1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&r.body, "f-name-error").is_some(), "{}", r.body);
    assert!(!r.body.contains(key), "the key is not sent back");
    let r = b
        .submit(
            "/admin/registrars/new",
            "/admin/registrars/new",
            &[
                ("name", "namecheap-main"),
                ("type", "namecheap"),
                ("s_api_user", "ann"),
                ("s_api_key", key),
                ("s_client_ip", "192.0.2.1"),
                ("s_sandbox", "on"),
                ("route_tlds", "biz"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = b.get("/admin/registrars").await;
    assert!(page.body.contains("namecheap-main") && page.body.contains("<td>.biz</td>"));
    assert!(page.body.contains("***"));
    assert!(!page.body.contains(key));
    for path in ["/admin/registrars/new", "/admin/audit"] {
        assert!(!b.get(path).await.body.contains(key), "{path}");
    }
    // Routing a TLD elsewhere, then removing the route after confirming.
    let confirm = b.get("/admin/registrars/tlds/biz/remove").await;
    assert_eq!(confirm.status, StatusCode::OK);
    let r = b
        .submit(
            "/admin/registrars/tlds/biz/remove",
            "/admin/registrars/tlds/biz/remove",
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = b.get("/admin/registrars").await;
    assert!(page.body.contains("no longer routed"));
    assert!(!page.body.contains("<td>.biz</td>"), "{}", page.body);
    // The e-mail log has the invoice e-mails.
    let log = b.get("/admin/emails?template=invoice").await;
    assert!(log.body.contains("owner@example.com"), "{}", log.body);
}

async fn a_registration_page_refreshes_itself_without_javascript(db: TestDb) {
    let p = TestPanel::new(db).await;
    // About the page, not billing: the registrar is asked before the invoice is paid.
    p.work_on_credit().await;
    let cid = p.client("No Script Client").await;
    let con = contact_of(&p, &cid, "Ann", None).await;
    let mut b = staff_browser(&p).await;
    // Availability search and the order, as plain forms.
    let r = b.get("/admin/domains/new?q=noscript-test.test").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("noscript-test.test") && r.body.contains("available"),
        "{}",
        r.body
    );
    let form = format!("/admin/domains/new?name=noscript-test.test&client_id={cid}");
    let page = b.get(&form).await;
    assert!(
        page.body.contains(con.as_str()),
        "the client's contact is offered"
    );
    // Missing registrant and a bad nameserver: both shown at their fields, nothing ordered.
    let r = b
        .submit(
            &form,
            "/admin/domains/new",
            &[
                ("name", "noscript-test.test"),
                ("client_id", cid.as_str()),
                ("years", "1"),
                ("nameservers", "ns1.example.net\nnot a host!"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        text_of(&r.body, "f-nameservers-error").is_some(),
        "{}",
        r.body
    );
    assert!(r.body.contains("Pick the registrant"), "{}", r.body);
    let r = b
        .submit(
            &form,
            "/admin/domains/new",
            &[
                ("name", "noscript-test.test"),
                ("client_id", cid.as_str()),
                ("years", "1"),
                ("registrant", con.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let detail = r.location().to_owned();
    let page = b.get(&detail).await;
    assert!(
        page.body.contains("http-equiv=\"refresh\""),
        "reloads itself while under way"
    );
    assert_eq!(
        text_of(&page.body, "domain-state").as_deref(),
        Some("pending_registration")
    );
    // Once it is done, it stops refreshing.
    p.start_workers();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let page = b.get(&detail).await;
        if text_of(&page.body, "domain-state").as_deref() == Some("active") {
            assert!(!page.body.contains("http-equiv=\"refresh\""));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", page.body);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The auth code is shown on request, in that answer only.
    let r = b.submit(&detail, &format!("{detail}/auth-code"), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let code = text_of(&r.body, "auth-code").unwrap();
    assert!(!code.is_empty());
    assert!(
        !b.get(&detail).await.body.contains(&code),
        "not shown again"
    );
    // Suspension asks for a reason on its own page; the state changes at once.
    let r = b
        .submit(
            &format!("{detail}/suspend"),
            &format!("{detail}/suspend"),
            &[("reason", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = b
        .submit(
            &format!("{detail}/suspend"),
            &format!("{detail}/suspend"),
            &[("reason", "abuse")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = b.get(&detail).await;
    assert_eq!(
        text_of(&page.body, "domain-state").as_deref(),
        Some("suspended")
    );
    assert!(page.body.contains("abuse"));
}

async fn a_domain_waiting_for_payment_links_its_invoice_and_follows_the_payment(db: TestDb) {
    let p = TestPanel::new(db).await;
    let cid = p.client("Paying Client").await;
    let con = contact_of(&p, &cid, "Ann", None).await;
    let did = domain_of(&p, &cid, &con, "pay-later.test").await;
    let d = panel1_app::domains::service::get(&p.app, &p.operator_caller(), &did)
        .await
        .unwrap();
    let inv = d.recent_operations[0]
        .invoice_id
        .clone()
        .expect("the registration is invoiced");
    assert_eq!(
        invoice_status(&p, &inv).await,
        "unpaid",
        "no credit to pay it"
    );

    // Staff see the wait, the invoice and where to add credit; the page does not reload
    // itself (a person has to act) but the region keeps looking, slowly.
    let mut b = staff_browser(&p).await;
    let page = b.get(&format!("/admin/domains/{did}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let op = text_of(&page.body, "domain-operation").unwrap();
    assert!(op.contains("waits for payment of invoice"), "{op}");
    assert!(op.contains("12.99 USD"), "{op}");
    // (A slash in a value is escaped as &#x2f; by the templates: the area is.)
    assert!(
        page.body
            .contains(&format!("admin/invoices/{inv}\" id=\"domain-invoice\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("/admin/clients/{cid}/credit")));
    assert!(!page.body.contains("http-equiv=\"refresh\""));
    assert!(page.body.contains("data-poll-every="));
    assert!(
        !page.body.contains("id=\"domain-pay\""),
        "the credit does not cover it"
    );

    // The client sees the same in their area, with their own links.
    p.user("pay@client.test", Role::Client, Some(&cid)).await;
    let mut c = Browser::new(&p.url);
    c.sign_in("", "pay@client.test", PASSWORD, None).await;
    let page = c.get(&format!("/client/domains/{did}")).await;
    assert!(
        page.body
            .contains(&format!("client/invoices/{inv}\" id=\"domain-invoice\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("Your credit does not cover it"));
    // Their overview lists it under what is to be paid.
    let home = c.get("/client").await;
    assert!(
        home.body.contains("id=\"unpaid-invoices\"")
            && home.body.contains("Registration of pay-later.test"),
        "{}",
        home.body
    );
    assert!(
        !page.body.contains("/admin/"),
        "no staff links for a client"
    );

    // Credit arrives: the region offers to pay, and paying from it comes back to the domain.
    p.add_credit(&cid, "20.00").await;
    let frag = c.get(&format!("/client/domains/{did}/progress")).await;
    // (The page writes the slashes of `next` as &#x2f;, which the browser reads as `/`.)
    let pay = format!("/client/invoices/{inv}/pay?next=/client/domains/{did}");
    assert!(
        frag.body.contains("id=\"domain-pay\"")
            && frag.body.contains(&format!(
                "{inv}/pay?next=&#x2f;client&#x2f;domains&#x2f;{did}\""
            )),
        "{}",
        frag.body
    );
    let confirm = c.get(&pay).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(
        confirm
            .body
            .contains(&format!("pay?next=%2Fclient%2Fdomains%2F{did}\"")),
        "the confirmation posts to the same place: {}",
        confirm.body
    );
    let r = c.submit(&pay, &pay, &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("/client/domains/{did}"));
    assert_eq!(invoice_status(&p, &inv).await, "paid");
    let page = c.get(r.location()).await;
    assert!(page.body.contains("is paid"), "{}", page.body);
    assert!(
        text_of(&page.body, "domain-operation")
            .unwrap()
            .contains("is paid"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("http-equiv=\"refresh\""),
        "under way again"
    );
    // A `next` elsewhere is ignored: back to the invoice.
    let r = c
        .submit(
            &format!("/client/invoices/{inv}"),
            &format!("/client/invoices/{inv}/pay?next=https%3A%2F%2Fevil.test%2F"),
            &[],
        )
        .await;
    assert_eq!(r.location(), format!("/client/invoices/{inv}"));

    // The workers release the paid registration; it ends active.
    p.start_workers();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let frag = c.get(&format!("/client/domains/{did}/progress")).await;
        if text_of(&frag.body, "domain-state").as_deref() == Some("active") {
            assert!(frag.body.contains("data-final=\"true\""));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", frag.body);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

// ------------------------------------------------------------------------------------------
// DNS zones.

async fn zone_of(
    p: &TestPanel,
    client: Option<&panel1_core::ClientId>,
    name: &str,
) -> panel1_core::ZoneId {
    panel1_app::dns::service::create_zone(
        &p.app,
        &p.operator_caller(),
        &panel1_app::dns::service::NewZoneInput {
            name: name.into(),
            client_id: client.cloned(),
            provider_id: None,
            default_ttl: None,
        },
    )
    .await
    .unwrap()
    .id
}

async fn record_in(
    p: &TestPanel,
    zone: &panel1_core::ZoneId,
    name: &str,
    rtype: &str,
    content: &str,
) -> String {
    panel1_app::dns::service::create_record(
        &p.app,
        &p.operator_caller(),
        zone,
        &panel1_app::dns::service::RecordBody {
            name: name.into(),
            rtype: rtype.into(),
            ttl: None,
            content: content.into(),
        },
    )
    .await
    .unwrap()
    .id
}

async fn scripts_in_a_dns_record_are_shown_as_text(db: TestDb) {
    let p = TestPanel::new(db).await;
    let cid = p.client("Zone Client").await;
    let zid = zone_of(&p, Some(&cid), "escape-dns.test").await;
    let rid = record_in(
        &p,
        &zid,
        "@",
        "TXT",
        r#""<script>alert(1)</script><img src=x onerror=alert(2)>""#,
    )
    .await;
    let mut b = staff_browser(&p).await;
    p.user("dns-esc@client.test", Role::Client, Some(&cid))
        .await;
    let mut c = Browser::new(&p.url);
    c.sign_in("", "dns-esc@client.test", PASSWORD, None).await;
    for (staff, path) in [
        (true, format!("/admin/dns/{zid}")),
        (true, format!("/admin/dns/{zid}/records/{rid}/edit")),
        (true, format!("/admin/dns/{zid}/records/{rid}/delete")),
        (false, format!("/client/dns/{zid}")),
        (false, format!("/client/dns/{zid}/records/{rid}/edit")),
    ] {
        let r = if staff {
            b.get(&path).await
        } else {
            c.get(&path).await
        };
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert!(
            !r.body.contains("<script>alert"),
            "{path} has the raw script"
        );
        assert!(!r.body.contains("<img src=x"), "{path} has the raw tag");
        assert!(
            r.body.contains("&lt;script&gt;alert(1)"),
            "{path} shows it as text"
        );
    }
    // The zone file is served as a download of text, never as a page.
    let r = c.get(&format!("/client/dns/{zid}/export")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/dns")
    );
    assert!(
        r.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert!(r.body.contains("escape-dns.test.") && r.body.contains("<script>"));
    // A refused record shows the typed content escaped too.
    let r = c
        .submit(
            &format!("/client/dns/{zid}"),
            &format!("/client/dns/{zid}/records"),
            &[
                ("name", "www"),
                ("rtype", "A"),
                ("content", "<script>alert(3)</script>"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!r.body.contains("<script>alert(3)"));
    assert!(text_of(&r.body, "f-content-error").is_some(), "{}", r.body);
}

async fn a_client_reaches_only_their_own_zones(db: TestDb) {
    let p = TestPanel::new(db).await;
    let mine = p.client("Mine Zones Ltd").await;
    let theirs = p.client("Theirs Zones Ltd").await;
    let my_zone = zone_of(&p, Some(&mine), "mine-zone.test").await;
    let their_zone = zone_of(&p, Some(&theirs), "theirs-secret-zone.test").await;
    let their_rec = record_in(&p, &their_zone, "www", "A", "192.0.2.77").await;
    let company_zone = zone_of(&p, None, "company-secret-zone.test").await;
    p.user("me@zones.test", Role::Client, Some(&mine)).await;
    let mut b = Browser::new(&p.url);
    b.sign_in("", "me@zones.test", PASSWORD, None).await;
    let list = b.get("/client/dns").await;
    assert!(list.body.contains("mine-zone.test"));
    assert!(!list.body.contains("theirs-secret") && !list.body.contains("company-secret"));
    assert_eq!(b.get(&format!("/client/dns/{my_zone}")).await.status, 200);
    for zone in [&their_zone, &company_zone] {
        for path in [
            format!("/client/dns/{zone}"),
            format!("/client/dns/{zone}/records/{their_rec}/edit"),
            format!("/client/dns/{zone}/records/{their_rec}/delete"),
            format!("/client/dns/{zone}/import"),
            format!("/client/dns/{zone}/export"),
            format!("/client/dns/{zone}/delete"),
        ] {
            let r = b.get(&path).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
            assert!(!r.body.contains("secret-zone"), "{path}");
            assert!(!r.body.contains("192.0.2.77"), "{path}");
        }
    }
    // …and so do changes, with a valid token.
    let token = b.get("/client/dns").await.csrf();
    for path in [
        format!("/client/dns/{their_zone}/records"),
        format!("/client/dns/{their_zone}/records/{their_rec}/edit"),
        format!("/client/dns/{their_zone}/records/{their_rec}/delete"),
        format!("/client/dns/{their_zone}/import"),
        format!("/client/dns/{their_zone}/delete"),
    ] {
        let r = b
            .post(
                &path,
                &[
                    ("_csrf", token.as_str()),
                    ("name", "www"),
                    ("rtype", "A"),
                    ("content", "198.51.100.1"),
                    ("zonefile", "www IN A 198.51.100.1"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
    }
    let recs = panel1_app::dns::service::list_records(
        &p.app,
        &p.operator_caller(),
        &their_zone,
        None,
        None,
        panel1_core::PageRequest::first(10),
    )
    .await
    .unwrap();
    assert!(
        recs.items.iter().any(|r| r.content == "192.0.2.77")
            && !recs.items.iter().any(|r| r.content == "198.51.100.1"),
        "their zone is unchanged: {:?}",
        recs.items
    );
    // A zone made in the client area is the client's own, whatever client id is posted.
    let r = b
        .post(
            "/client/dns",
            &[
                ("_csrf", token.as_str()),
                ("name", "sneaky-zone.test"),
                ("client_id", theirs.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let z = panel1_app::dns::service::list_zones(
        &p.app,
        &p.operator_caller(),
        &panel1_app::dns::service::ZoneListFilter {
            search: Some("sneaky".into()),
            client_id: None,
        },
        panel1_core::PageRequest::first(10),
    )
    .await
    .unwrap();
    assert_eq!(z.items[0].client_id.as_ref(), Some(&mine));
    // Staff pages are not theirs.
    assert_eq!(
        b.get(&format!("/admin/dns/{my_zone}")).await.status,
        StatusCode::FORBIDDEN
    );
}

async fn dns_forms_show_field_errors_and_refuse_posts_without_the_token(db: TestDb) {
    let p = TestPanel::new(db).await;
    let zid = zone_of(&p, None, "forms-zone.test").await;
    let rid = record_in(&p, &zid, "www", "A", "192.0.2.1").await;
    let mut b = staff_browser(&p).await;
    // Without the token nothing is posted.
    for path in [
        "/admin/dns".to_owned(),
        format!("/admin/dns/{zid}/records"),
        format!("/admin/dns/{zid}/records/{rid}/edit"),
        format!("/admin/dns/{zid}/records/{rid}/delete"),
        format!("/admin/dns/{zid}/import"),
        format!("/admin/dns/{zid}/delete"),
    ] {
        let r = b
            .post(
                &path,
                &[
                    ("name", "forged-zone.test"),
                    ("rtype", "A"),
                    ("content", "192.0.2.9"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    let page = b.get(&format!("/admin/dns/{zid}")).await;
    assert!(page.body.contains("192.0.2.1") && !page.body.contains("192.0.2.9"));
    assert!(!b.get("/admin/dns").await.body.contains("forged-zone"));
    // A bad zone name, TTL and record: each error at its field, the input kept.
    let r = b
        .submit(
            "/admin/dns",
            "/admin/dns",
            &[("name", "not a zone!"), ("default_ttl", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&r.body, "f-name-error").is_some(), "{}", r.body);
    let path = format!("/admin/dns/{zid}");
    let r = b
        .submit(
            &path,
            &format!("{path}/records"),
            &[
                ("name", "mail"),
                ("rtype", "MX"),
                ("ttl", "soon"),
                ("content", "mail.example.net."),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&r.body, "f-ttl-error").is_some(), "{}", r.body);
    let r = b
        .submit(
            &path,
            &format!("{path}/records"),
            &[
                ("name", "mail"),
                ("rtype", "MX"),
                ("ttl", "300"),
                ("content", "mail.example.net."),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&r.body, "f-content-error").is_some(), "{}", r.body);
    assert!(
        r.body.contains("MX content is"),
        "it says what an MX needs: {}",
        r.body
    );
    assert!(
        r.body.contains("value=\"mail.example.net.\""),
        "the input is kept"
    );
    // An edit that would break the zone is refused at its field; the record stays.
    let r = b
        .submit(
            &format!("{path}/records/{rid}/edit"),
            &format!("{path}/records/{rid}/edit"),
            &[("name", "www"), ("rtype", "AAAA"), ("content", "192.0.2.1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&r.body, "f-content-error").is_some(), "{}", r.body);
    // A good edit is saved.
    let r = b
        .submit(
            &format!("{path}/records/{rid}/edit"),
            &format!("{path}/records/{rid}/edit"),
            &[
                ("name", "www"),
                ("rtype", "A"),
                ("ttl", "3600"),
                ("content", "192.0.2.2"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(b.get(&path).await.body.contains("192.0.2.2"));
    // Deleting the zone asks first, then it is gone.
    let confirm = b.get(&format!("{path}/delete")).await;
    assert!(confirm.body.contains("Delete the zone forms-zone.test"));
    let r = b
        .submit(&format!("{path}/delete"), &format!("{path}/delete"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get(&path).await.status, StatusCode::NOT_FOUND);
}
