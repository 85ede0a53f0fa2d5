//! End-to-end tests in a real headless Chromium (Debian's `chromium` through
//! `chromium-driver`), against the real router over SQLite and PostgreSQL. Screenshots of the
//! main pages land in `target/screenshots/`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Driver, PASSWORD, TestPanel, click, fill, screenshot, text, wait_path, wait_until};
use fantoccini::Locator;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use panel1_core::{Role, SecretString};
use panel1_store::testing::TestDb;

/// Signs in through the form; enrols a second factor when asked (returns its secret).
async fn sign_in(
    c: &fantoccini::Client,
    base: &str,
    email: &str,
    password: &str,
    secret: Option<&SecretString>,
) -> Option<SecretString> {
    c.goto(&format!("{base}/login")).await.unwrap();
    fill(c, "#f-email", email).await;
    fill(c, "#f-password", password).await;
    click(c, "form.login-box button[type=submit]").await;
    let path = common::wait_leave(c, "/login").await;
    if path == "/login/enrol" {
        let shown = text(c, "#totp-secret").await.replace(' ', "");
        let s = SecretString::new(shown);
        fill(c, "#f-code", &common::code_now(&s)).await;
        click(c, "form.login-box button[type=submit]").await;
        wait_path(c, "/admin").await;
        return Some(s);
    }
    if path == "/login/totp" {
        fill(
            c,
            "#f-code",
            &common::fresh_code(secret.expect("a second factor")),
        )
        .await;
        click(c, "form.login-box button[type=submit]").await;
        wait_path(c, "/admin").await;
    }
    None
}

async fn staff_journey(db: TestDb) {
    let backend = db.backend().as_str();
    let p = TestPanel::new(db).await;
    let fail = Arc::new(AtomicBool::new(true));
    p.start_flaky_worker(fail.clone());
    let dead = p.dead_job().await;
    let driver = Driver::start().await;
    let c = driver.browser().await;

    // Sign in: the operator is staff, so a second factor is set up on the way.
    c.goto(&format!("{}/admin/clients", p.url)).await.unwrap();
    assert!(
        wait_path(&c, "/login").await.starts_with("/login"),
        "signed-out visitors are sent to sign in"
    );
    screenshot(&c, &format!("{backend}-01-sign-in")).await;
    let secret = sign_in(&c, &p.url, &p.operator_email, &p.operator_password, None).await;
    assert!(
        secret.is_some(),
        "the operator had to enrol a second factor"
    );
    assert!(
        text(&c, ".flash")
            .await
            .contains("Two-factor sign-in is set up")
    );
    assert!(text(&c, "h1").await.contains("What needs attention"));
    let dead_card = text(&c, ".card.attention").await;
    assert!(
        dead_card.contains("Dead jobs") && dead_card.contains("test::flaky"),
        "{dead_card}"
    );
    screenshot(&c, &format!("{backend}-02-dashboard")).await;

    // Create a client: a field error first, shown next to the field, then success.
    click(&c, "nav.main a[href='/admin/clients']").await;
    wait_path(&c, "/admin/clients").await;
    click(&c, "a[href='/admin/clients/new']").await;
    wait_path(&c, "/admin/clients/new").await;
    fill(&c, "#f-name", "Ann Example").await;
    fill(&c, "#f-company", "Example Hosting BV").await;
    fill(&c, "#f-email", "ann@example.com").await;
    fill(&c, "#f-phone", "020 123 4567").await;
    fill(&c, "#f-country", "NL").await;
    click(&c, "form.stacked button[type=submit]").await;
    let err = text(&c, "#f-phone-error").await;
    assert!(
        err.contains("international number starting with +"),
        "{err}"
    );
    assert_eq!(
        c.find(Locator::Css("#f-name"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("Ann Example"),
        "the input is kept"
    );
    let focused = c
        .active_element()
        .await
        .unwrap()
        .attr("class")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        focused.contains("error-summary"),
        "focus moves to the error summary: {focused}"
    );
    screenshot(&c, &format!("{backend}-03-client-form-error")).await;
    fill(&c, "#f-phone", "+31 20 123 4567").await;
    click(&c, "form.stacked button[type=submit]").await;
    let detail = wait_path(&c, "/admin/clients/cli_").await;
    assert!(
        text(&c, ".flash")
            .await
            .contains("Client Ann Example created")
    );
    assert!(text(&c, "main").await.contains("Example Hosting BV"));

    // Edit it.
    click(&c, &format!("a[href='{detail}/edit']")).await;
    wait_path(&c, &format!("{detail}/edit")).await;
    fill(&c, "#f-company", "Example Cloud BV").await;
    c.find(Locator::Css("#f-status"))
        .await
        .unwrap()
        .select_by_value("suspended")
        .await
        .unwrap();
    click(&c, "form.stacked button[type=submit]").await;
    wait_until("the saved client page", || async {
        c.current_url()
            .await
            .map(|u| u.path() == detail)
            .unwrap_or(false)
            && text(&c, "main").await.contains("Example Cloud BV")
    })
    .await;
    assert!(text(&c, "h1").await.contains("suspended"));
    screenshot(&c, &format!("{backend}-04-client-detail")).await;

    // Find it in the list by searching.
    for i in 0..3 {
        p.client(&format!("Filler {i}")).await;
    }
    c.goto(&format!("{}/admin/clients", p.url)).await.unwrap();
    fill(&c, "#f-q", "cloud").await;
    click(&c, "form.filters button").await;
    wait_until("search results", || async {
        c.current_url()
            .await
            .map(|u| u.query() == Some("q=cloud&status="))
            .unwrap_or(false)
    })
    .await;
    let rows = c.find_all(Locator::Css("tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 1, "only the matching client");
    assert!(rows[0].text().await.unwrap().contains("Ann Example"));
    screenshot(&c, &format!("{backend}-05-clients-search")).await;

    // Create an API token: its secret is shown once.
    c.goto(&format!("{}/admin/tokens/new", p.url))
        .await
        .unwrap();
    fill(&c, "#f-name", "billing sync").await;
    click(&c, "form.stacked button[type=submit]").await;
    wait_path(&c, "/admin/tokens").await;
    let secret_text = text(&c, "#shown-secret").await;
    assert!(secret_text.starts_with("p1_"), "{secret_text}");
    let me = reqwest::Client::new()
        .get(format!("{}/api/v1/me", p.url))
        .bearer_auth(&secret_text)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200, "the token shown works");
    screenshot(&c, &format!("{backend}-06-token-created")).await;
    c.refresh().await.unwrap();
    wait_path(&c, "/admin/tokens").await;
    assert!(
        c.find(Locator::Css("#shown-secret")).await.is_err(),
        "shown only once"
    );
    assert!(!c.source().await.unwrap().contains(&secret_text));

    // Revoke it through the confirmation dialog.
    click(&c, "a[data-confirm][href$='/revoke']").await;
    let dialog = text(&c, "dialog[open]").await;
    assert!(
        dialog.contains("Revoke the API token “billing sync”"),
        "{dialog}"
    );
    screenshot(&c, &format!("{backend}-07-confirm-dialog")).await;
    click(&c, "dialog[open] button.danger").await;
    wait_until("the revocation", || async {
        text(&c, ".flash").await.contains("revoked")
    })
    .await;
    let me = reqwest::Client::new()
        .get(format!("{}/api/v1/me", p.url))
        .bearer_auth(&secret_text)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);

    // Retry the dead job and watch it finish without reloading the page.
    fail.store(false, Ordering::SeqCst);
    c.goto(&format!("{}/admin/jobs?status=dead", p.url))
        .await
        .unwrap();
    click(&c, &format!("a[href='/admin/jobs/{dead}']")).await;
    wait_path(&c, &format!("/admin/jobs/{dead}")).await;
    assert_eq!(text(&c, "#job-status").await, "dead");
    assert!(text(&c, "#job-progress").await.contains("HTTP 503"));
    click(&c, "form[action$='/retry'] button").await;
    wait_until("the page after retrying", || async {
        text(&c, ".flash").await.contains("back in the queue")
    })
    .await;
    c.execute("window.__noReload = 'still here'", vec![])
        .await
        .unwrap();
    let before = text(&c, "#job-status").await;
    assert!(
        before == "ready" || before == "running",
        "the retried job is under way: {before}"
    );
    screenshot(&c, &format!("{backend}-08-job-running")).await;
    wait_until("the job to finish", || async {
        text(&c, "#job-status").await == "done"
    })
    .await;
    let marker = c.execute("return window.__noReload", vec![]).await.unwrap();
    assert_eq!(marker, "still here", "the progress region updated in place");
    assert!(
        !text(&c, "#job-progress").await.contains("in progress"),
        "the spinner is gone"
    );
    screenshot(&c, &format!("{backend}-09-job-done")).await;

    // The audit log has it all, filterable by object.
    c.goto(&format!(
        "{}/admin/audit?object_type=job&object_id={dead}",
        p.url
    ))
    .await
    .unwrap();
    assert!(text(&c, "tbody").await.contains("job.retry"));
    c.goto(&format!("{}/admin/schedules", p.url)).await.unwrap();
    assert!(text(&c, "h1").await.contains("Schedules"));

    // A phone-sized window: nothing wider than the screen.
    c.set_window_size(360, 780).await.unwrap();
    c.goto(&format!("{}/admin/clients", p.url)).await.unwrap();
    wait_path(&c, "/admin/clients").await;
    let width = c
        .execute("return document.documentElement.scrollWidth", vec![])
        .await
        .unwrap();
    let inner = c.execute("return window.innerWidth", vec![]).await.unwrap();
    assert!(
        width.as_f64().unwrap() <= inner.as_f64().unwrap() + 1.0,
        "page is {width} px wide in a {inner} px window"
    );
    screenshot(&c, &format!("{backend}-10-clients-phone")).await;
    c.goto(&format!("{}/admin", p.url)).await.unwrap();
    screenshot(&c, &format!("{backend}-11-dashboard-phone")).await;
    c.set_window_size(1280, 900).await.unwrap();

    // Keyboard: the first Tab reaches the skip link, which leads to the content.
    c.goto(&format!("{}/admin/jobs", p.url)).await.unwrap();
    wait_path(&c, "/admin/jobs").await;
    c.execute(
        "document.activeElement && document.activeElement.blur()",
        vec![],
    )
    .await
    .unwrap();
    let tab = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: '\u{E004}' })
        .then(KeyAction::Up { value: '\u{E004}' });
    c.perform_actions(tab).await.unwrap();
    let first = c.active_element().await.unwrap().text().await.unwrap();
    assert_eq!(first, "Skip to content");

    // Sign out: back to the sign-in page, and the panel is closed.
    click(&c, "header form[action='/logout'] button").await;
    wait_path(&c, "/login").await;
    assert!(text(&c, ".flash").await.contains("You are signed out"));
    c.goto(&format!("{}/admin", p.url)).await.unwrap();
    assert!(wait_path(&c, "/login").await.starts_with("/login"));
    let _ = secret;
    c.close().await.unwrap();
}

async fn client_cannot_open_another_clients_page(db: TestDb) {
    let backend = db.backend().as_str();
    let p = TestPanel::new(db).await;
    let mine = p.client("Mine Hosting Customer").await;
    let theirs = p.client("Theirs Secret Customer").await;
    p.user("me@mine.test", Role::Client, Some(&mine)).await;
    let them = p
        .user("them@theirs.test", Role::Client, Some(&theirs))
        .await;
    let (their_token, _) = panel1_app::users::create_token(
        &p.app,
        &p.operator_caller(),
        &panel1_app::users::NewToken {
            name: "their robot".into(),
            user_id: Some(them),
            expires_in_days: None,
        },
    )
    .await
    .unwrap();
    let driver = Driver::start().await;
    let c = driver.browser().await;
    sign_in(&c, &p.url, "me@mine.test", PASSWORD, None).await;
    wait_path(&c, "/client").await;
    assert!(text(&c, "main").await.contains("Mine Hosting Customer"));
    screenshot(&c, &format!("{backend}-12-client-area")).await;

    // Editing the address bar to another client's pages shows nothing of theirs.
    c.goto(&format!("{}/admin/clients/{theirs}", p.url))
        .await
        .unwrap();
    assert_eq!(text(&c, "h1").await, "Not allowed");
    assert!(!c.source().await.unwrap().contains("Theirs Secret Customer"));
    c.goto(&format!(
        "{}/client/tokens/{}/revoke",
        p.url, their_token.id
    ))
    .await
    .unwrap();
    assert_eq!(text(&c, "h1").await, "Not found");
    assert!(!c.source().await.unwrap().contains("their robot"));
    screenshot(&c, &format!("{backend}-13-client-not-found")).await;
    // Their own tokens page works.
    c.goto(&format!("{}/client/tokens", p.url)).await.unwrap();
    assert!(text(&c, "h1").await.contains("API tokens"));
    c.close().await.unwrap();
}

async fn escaped_names_never_run(db: TestDb) {
    let p = TestPanel::new(db).await;
    let evil =
        r#"<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>"#;
    p.client(evil).await;
    let secret = p.enrol_totp(&p.tenant, &p.operator).await;
    let driver = Driver::start().await;
    let c = driver.browser().await;
    sign_in(
        &c,
        &p.url,
        &p.operator_email,
        &p.operator_password,
        Some(&secret),
    )
    .await;
    c.goto(&format!("{}/admin/clients", p.url)).await.unwrap();
    let cell = text(&c, "tbody td a").await;
    assert_eq!(cell, evil, "the name is shown as typed");
    assert_eq!(
        c.title().await.unwrap(),
        "Clients · Panel1",
        "and nothing in it ran"
    );
    assert!(c.find(Locator::Css("tbody img")).await.is_err());
    c.close().await.unwrap();
}

mod sqlite {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn staff_journey() {
        super::staff_journey(TestDb::sqlite().await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn client_cannot_open_another_clients_page() {
        super::client_cannot_open_another_clients_page(TestDb::sqlite().await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn escaped_names_never_run() {
        super::escaped_names_never_run(TestDb::sqlite().await).await
    }
}

mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn staff_journey() {
        super::staff_journey(TestDb::postgres().await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn client_cannot_open_another_clients_page() {
        super::client_cannot_open_another_clients_page(TestDb::postgres().await).await
    }
}
