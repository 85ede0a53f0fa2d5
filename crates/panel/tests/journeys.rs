//! The panel's service pages end to end in a real headless Chromium (Debian's `chromium`
//! through `chromium-driver`), against the real router with real job workers:
//!
//! - a client registers a domain on the sandbox registrar (availability with the tenant's
//!   price, a new WHOIS contact with an inline error first); the registration is invoiced and
//!   waits for payment; credit arrives, the client pays the invoice from it on the domain's
//!   page and sees the domain become active without reloading; cannot open another client's
//!   domain, invoice or certificate by editing the address;
//! - a client adds a DNS zone, adds a record (a wrong address refused at its field first),
//!   edits and deletes it, and imports a zone file (a wrong line named, nothing changed), each
//!   change answered by Panel1's own DNS server (`dig`);
//! - staff order a certificate from a real Pebble (HTTP-01 answered by Panel1 itself) and see
//!   it issued without reloading, then download its chain.
//!
//! Screenshots of the main pages land in `target/screenshots/`.

mod common;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use common::{
    Driver, PASSWORD, TestPanel, click, fill, screenshot, sign_in_browser, text, wait_path,
    wait_until,
};
use fantoccini::Locator;
use panel1_app::billing::{self, Charge};
use panel1_app::domains::contacts::NewContact;
use panel1_app::domains::service::{ContactsInput, RegisterDomain};
use panel1_ca::testing::{Pebble, PebbleOptions, TestDns};
use panel1_core::money::{Currency, Money};
use panel1_core::{ClientId, DomainId, Role};
use panel1_store::testing::TestDb;

/// A contact of `client`, made through the service.
async fn contact(p: &TestPanel, client: &ClientId, first: &str) -> panel1_core::ContactId {
    panel1_app::domains::contacts::create(
        &p.app,
        &p.operator_caller(),
        &NewContact {
            client_id: Some(client.clone()),
            first_name: first.into(),
            last_name: "Example".into(),
            organization: None,
            email: "owner@example.com".into(),
            phone: "+44 20 7946 0000".into(),
            fax: None,
            address1: "1 High Street".into(),
            address2: None,
            city: "London".into(),
            state_province: None,
            postal_code: Some("SW1A 1AA".into()),
            country: "GB".into(),
        },
    )
    .await
    .unwrap()
    .id
}

/// A domain of `client` registered through the service (the workers must be running to
/// finish it).
async fn registered(p: &TestPanel, client: &ClientId, name: &str) -> DomainId {
    let registrant = contact(p, client, "Other").await;
    panel1_app::domains::service::register(
        &p.app,
        &p.operator_caller(),
        &RegisterDomain {
            name: name.into(),
            client_id: Some(client.clone()),
            years: Some(1),
            contacts: ContactsInput {
                registrant,
                admin: None,
                tech: None,
                billing: None,
            },
            nameservers: vec![],
            privacy: false,
            auto_renew: Some(true),
            premium_price: None,
        },
    )
    .await
    .unwrap()
    .domain
    .id
}

/// An unpaid invoice for `client` (as the billing of a domain renewal would make it).
async fn invoice(p: &TestPanel, client: &ClientId, domain: &DomainId, cents: i64) -> String {
    let mut tx = p.app.db.begin().await.unwrap();
    let (id, _) = billing::invoice(
        &p.app,
        &mut tx,
        &p.tenant,
        client,
        Charge {
            description: "Renewal of the domain, 1 year".into(),
            amount: Money::new(cents, Currency::USD),
            object_type: "domain".into(),
            object_id: domain.to_string(),
            operation: "renew".into(),
            term_years: Some(1),
            billing_key: format!("domain:{domain}:renew:test"),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id.to_string()
}

async fn client_registers_pays_and_sees_only_their_own(db: TestDb) {
    let backend = db.backend().as_str();
    let p = TestPanel::new(db).await;
    let mine = p.client("Ann Example Ltd").await;
    let theirs = p.client("Theirs Secret Customer").await;
    p.user("ann@client.test", Role::Client, Some(&mine)).await;
    // The tenant sells .test for 12.99 USD a year (the common setup's price list).
    let label = format!("ann{}", &panel1_core::ids::new_id_body()[22..]).to_lowercase();
    let name = format!("{label}.test");

    let driver = Driver::start().await;
    let c = driver.browser().await;
    sign_in_browser(&c, &p.url, "ann@client.test", PASSWORD, None).await;
    wait_path(&c, "/client").await;

    // Availability with the tenant's price.
    click(&c, "nav.main a[href='/client/domains']").await;
    wait_path(&c, "/client/domains").await;
    assert!(text(&c, "main").await.contains("No domains yet"));
    click(&c, "a[href='/client/domains/new']").await;
    wait_path(&c, "/client/domains/new").await;
    fill(&c, "#f-q", &label).await;
    click(&c, "form[role=search] button[type=submit]").await;
    let row = text(&c, &format!("#availability tr:has(a[href*='name={name}'])")).await;
    assert!(
        row.contains("available") && row.contains("12.99 USD"),
        "{row}"
    );
    screenshot(&c, &format!("{backend}-20-domain-availability")).await;

    // Pick it: no contact yet, so add one (a bad phone number first, shown at its field).
    click(&c, &format!("a[href*='name={name}']")).await;
    wait_until("the registration form", || async {
        text(&c, "main").await.contains("No contact yet")
    })
    .await;
    assert!(text(&c, "#order-price").await.contains("12.99 USD"));
    click(&c, "a[href^='/client/contacts/new']").await;
    wait_path(&c, "/client/contacts/new").await;
    for (field, value) in [
        ("#f-first_name", "Ann"),
        ("#f-last_name", "Example"),
        ("#f-email", "ann@example.com"),
        ("#f-phone", "020 7946"),
        ("#f-address1", "1 High Street"),
        ("#f-city", "London"),
        ("#f-country", "GB"),
    ] {
        fill(&c, field, value).await;
    }
    click(&c, "form.stacked button[type=submit]").await;
    let err = text(&c, "#f-phone-error").await;
    assert!(
        err.contains('+'),
        "the phone error says what to type: {err}"
    );
    screenshot(&c, &format!("{backend}-21-contact-error")).await;
    fill(&c, "#f-phone", "+44 20 7946 0000").await;
    click(&c, "form.stacked button[type=submit]").await;
    wait_until("back on the registration form", || async {
        c.current_url()
            .await
            .map(|u| {
                u.path() == "/client/domains/new" && u.query().unwrap_or("").contains("registrant=")
            })
            .unwrap_or(false)
    })
    .await;
    let picked = c
        .find(Locator::Css("#f-registrant"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        picked.starts_with("con_"),
        "the new contact is picked: {picked}"
    );
    screenshot(&c, &format!("{backend}-22-domain-register-form")).await;

    // The order form says how it is paid before it is placed.
    assert!(
        text(&c, "#order-billing").await.contains("0.00 USD"),
        "no credit yet"
    );

    // Register: an invoice is made; the client has no credit, so the registration waits for
    // payment, and the domain page says so, with the invoice.
    click(&c, "#register-form button[type=submit]").await;
    let detail = wait_path(&c, "/client/domains/dom_").await;
    let flash = text(&c, ".flash").await;
    assert!(
        flash.contains("Registration of") && flash.contains("waits for payment"),
        "{flash}"
    );
    assert_eq!(text(&c, "#domain-state").await, "pending_registration");
    let waiting = text(&c, "#domain-operation").await;
    assert!(
        waiting.contains("waits for payment") && waiting.contains("12.99 USD"),
        "{waiting}"
    );
    let inv = c
        .find(Locator::Css("#domain-invoice"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let inv = inv.rsplit('/').next().unwrap().to_owned();
    assert!(inv.starts_with("inv_"), "{inv}");
    assert!(text(&c, "#domain-payment").await.contains("does not cover"));
    c.execute("window.__noReload = 'still here'", vec![])
        .await
        .unwrap();
    screenshot(&c, &format!("{backend}-23-domain-awaiting-payment")).await;

    // Credit arrives (staff record a transfer): the waiting region notices by itself and
    // offers to pay from it.
    p.add_credit(&mine, "20.00").await;
    wait_until("the pay button", || async {
        c.find(Locator::Css("#domain-pay")).await.is_ok()
    })
    .await;
    let marker = c.execute("return window.__noReload", vec![]).await.unwrap();
    assert_eq!(marker, "still here", "the region updated in place");
    assert_eq!(text(&c, "#domain-credit").await, "20.00 USD");
    click(&c, "#domain-pay").await;
    assert!(text(&c, "dialog[open]").await.contains("12.99 USD"));
    screenshot(&c, &format!("{backend}-24-domain-pay-dialog")).await;
    click(&c, "dialog[open] button.danger").await;
    wait_until("the payment", || async {
        text(&c, ".flash").await.contains("is paid")
    })
    .await;
    assert_eq!(
        wait_path(&c, &detail).await,
        detail,
        "back on the domain page"
    );
    assert!(
        text(&c, "#domain-operation").await.contains("is paid"),
        "the registration is about to start"
    );

    // The workers release the paid registration; the page follows it to active in place.
    c.execute("window.__noReload = 'still here'", vec![])
        .await
        .unwrap();
    p.start_workers();
    wait_until("the domain to become active", || async {
        text(&c, "#domain-state").await == "active"
    })
    .await;
    let marker = c.execute("return window.__noReload", vec![]).await.unwrap();
    assert_eq!(marker, "still here", "the progress region updated in place");
    assert!(
        text(&c, "#domain-operation")
            .await
            .contains("Registration done")
    );
    // A reload shows the registry's expiry, one year out, and the paid invoice.
    c.refresh().await.unwrap();
    wait_path(&c, &detail).await;
    let expiry = text(&c, "#domain-expiry").await;
    let next_year = (chrono::Utc::now() + chrono::Duration::days(365))
        .format("%Y-")
        .to_string();
    assert!(expiry.starts_with(&next_year), "{expiry}");
    screenshot(&c, &format!("{backend}-25-domain-active")).await;

    // The invoice is paid, and the credit shows the payment.
    click(&c, "nav.main a[href='/client/invoices']").await;
    wait_path(&c, "/client/invoices").await;
    click(&c, &format!("a[href='/client/invoices/{inv}']")).await;
    wait_path(&c, &format!("/client/invoices/{inv}")).await;
    assert!(text(&c, "#invoice-status").await.contains("paid"));
    assert_eq!(text(&c, "#credit-balance").await, "7.01 USD");
    assert!(
        text(&c, "main")
            .await
            .contains(&format!("Registration of {name}"))
    );
    screenshot(&c, &format!("{backend}-26-invoice-paid")).await;
    click(&c, "nav.main a[href='/client/credit']").await;
    wait_path(&c, "/client/credit").await;
    assert!(text(&c, "main").await.contains("invoice payment"));

    // Another client's domain and invoice: not found by editing the address.
    let other = registered(&p, &theirs, &format!("theirs{label}.test")).await;
    let other_inv = invoice(&p, &theirs, &other, 500).await;
    for path in [
        format!("/client/domains/{other}"),
        format!("/client/domains/{other}/operations"),
        format!("/client/invoices/{other_inv}"),
    ] {
        c.goto(&format!("{}{path}", p.url)).await.unwrap();
        assert_eq!(text(&c, "h1").await, "Not found", "{path}");
        let source = c.source().await.unwrap();
        assert!(!source.contains(&format!("theirs{label}")), "{path}");
        assert!(!source.contains("Theirs Secret Customer"), "{path}");
    }
    screenshot(&c, &format!("{backend}-27-other-clients-domain")).await;
    c.goto(&format!("{}/admin/domains/{other}", p.url))
        .await
        .unwrap();
    assert_eq!(text(&c, "h1").await, "Not allowed");
    // Their own list shows only their domain.
    c.goto(&format!("{}/client/domains", p.url)).await.unwrap();
    let rows = c.find_all(Locator::Css("tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].text().await.unwrap().contains(&name));
    // A phone-sized window: nothing wider than the screen.
    c.set_window_size(360, 780).await.unwrap();
    c.goto(&format!("{}{detail}", p.url)).await.unwrap();
    wait_path(&c, &detail).await;
    let width = c
        .execute("return document.documentElement.scrollWidth", vec![])
        .await
        .unwrap();
    let inner = c.execute("return window.innerWidth", vec![]).await.unwrap();
    assert!(
        width.as_f64().unwrap() <= inner.as_f64().unwrap() + 1.0,
        "page is {width} px wide in a {inner} px window"
    );
    screenshot(&c, &format!("{backend}-28-domain-phone")).await;
    c.close().await.unwrap();
}

async fn staff_issue_a_certificate_from_pebble(db: TestDb) {
    let backend = db.backend().as_str();
    let dns = Arc::new(TestDns::start(Some(Ipv4Addr::LOCALHOST)).await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut po = PebbleOptions::new(dns.addr());
    po.http_port = Some(port);
    let pebble = Pebble::start(po).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let roots = dir.path().join("acme-roots.pem");
    std::fs::write(&roots, pebble.listener_root_pem()).unwrap();
    let dns_addr = dns.addr().to_string();
    let dns_port = dns.addr().port().to_string();
    let roots_s = roots.display().to_string();
    let p = TestPanel::with_listener(
        db,
        &[
            ("PANEL1_ACME_DIRECTORY_URL", &pebble.directory_url),
            ("PANEL1_ACME_ROOT_CERTIFICATES_FILE", &roots_s),
            ("PANEL1_SSL_RESOLVER", &dns_addr),
            ("PANEL1_SSL_NAMESERVER_PORT", &dns_port),
            ("PANEL1_SSL_RETRY_MS", "200"),
            ("PANEL1_SSL_ISSUE_ATTEMPTS", "3"),
        ],
        Some(listener),
    )
    .await;
    let client = p.client("Shop Owner").await;
    let secret = p.enrol_totp(&p.tenant, &p.operator).await;
    let name = format!(
        "shop-{}.test",
        &panel1_core::ids::new_id_body()[22..].to_lowercase()
    );

    let driver = Driver::start().await;
    let c = driver.browser().await;
    sign_in_browser(
        &c,
        &p.url,
        &p.operator_email,
        &p.operator_password,
        Some(&secret),
    )
    .await;
    click(&c, "nav.main a[href='/admin/certificates']").await;
    wait_path(&c, "/admin/certificates").await;
    click(&c, "a[href='/admin/certificates/new']").await;
    wait_path(&c, "/admin/certificates/new").await;
    c.find(Locator::Css("#f-client_id"))
        .await
        .unwrap()
        .select_by_value(client.as_str())
        .await
        .unwrap();
    // A refused name first: shown at its field.
    fill(&c, "#f-names", "not a name!").await;
    click(&c, "#issue-form button[type=submit]").await;
    let err = text(&c, "#f-names-error").await;
    assert!(!err.is_empty());
    screenshot(&c, &format!("{backend}-30-certificate-wizard-error")).await;
    fill(&c, "#f-names", &name).await;
    click(&c, "#issue-form button[type=submit]").await;
    let detail = wait_path(&c, "/admin/certificates/crt_").await;
    c.execute("window.__noReload = 'still here'", vec![])
        .await
        .unwrap();
    let status = text(&c, "#certificate-status").await;
    assert!(
        status == "pending" || status == "awaiting_payment",
        "{status}"
    );
    screenshot(&c, &format!("{backend}-31-certificate-pending")).await;
    p.start_workers();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let s = text(&c, "#certificate-status").await;
        if s == "issued" {
            break;
        }
        assert!(
            s != "failed" && std::time::Instant::now() < deadline,
            "the certificate is {s}: {}\nPebble: {}",
            text(&c, "#certificate-progress").await,
            pebble
                .log()
                .lines()
                .rev()
                .take(10)
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let marker = c.execute("return window.__noReload", vec![]).await.unwrap();
    assert_eq!(marker, "still here", "the progress region updated in place");
    assert!(
        text(&c, "#certificate-progress")
            .await
            .contains("valid until")
    );
    // The validation record shows the exact address the CA fetched.
    c.refresh().await.unwrap();
    wait_path(&c, &detail).await;
    let record = text(&c, "section.validation").await;
    assert!(
        record.contains(&format!("http://{name}/.well-known/acme-challenge/")),
        "{record}"
    );
    screenshot(&c, &format!("{backend}-32-certificate-issued")).await;

    // Download the chain with the browser's session.
    let cookie = c
        .get_all_cookies()
        .await
        .unwrap()
        .into_iter()
        .map(|k| format!("{}={}", k.name(), k.value()))
        .collect::<Vec<_>>()
        .join("; ");
    let r = reqwest::Client::new()
        .get(format!("{}{detail}/download?part=fullchain", p.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()[reqwest::header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("fullchain.pem")
    );
    let pem = r.text().await.unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    assert!(!pem.contains("PRIVATE KEY"));

    // Revoke, confirmed on its own page with a reason.
    click(&c, &format!("a[href='{detail}/revoke']")).await;
    wait_path(&c, &format!("{detail}/revoke")).await;
    c.find(Locator::Css("#f-reason"))
        .await
        .unwrap()
        .select_by_value("superseded")
        .await
        .unwrap();
    click(&c, "form.stacked button.danger").await;
    wait_until("the certificate to be revoked", || async {
        text(&c, "#certificate-status").await == "revoked"
    })
    .await;
    screenshot(&c, &format!("{backend}-33-certificate-revoked")).await;

    // The dashboard's certificate card is no longer a greyed slot.
    c.goto(&format!("{}/admin", p.url)).await.unwrap();
    let cards = text(&c, ".cards").await;
    assert!(
        cards.contains("Certificates expiring or failing validation")
            && cards.contains("Every certificate is valid"),
        "{cards}"
    );
    screenshot(&c, &format!("{backend}-34-dashboard")).await;
    c.close().await.unwrap();
    drop(pebble);
}

/// What Panel1's DNS server answers for `name`/`rtype` (`dig +short`, one line per record).
fn dig_short(server: std::net::SocketAddr, name: &str, rtype: &str) -> Vec<String> {
    let out = std::process::Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string()])
        .args(["+short", "+time=2", "+tries=1", name, rtype])
        .output()
        .expect("dig is installed (Debian package bind9-dnsutils)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect()
}

/// Waits (up to 15 s) until the DNS server's answer for `name`/`rtype` is `want`.
async fn wait_answer(server: std::net::SocketAddr, name: &str, rtype: &str, want: &[&str]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let got = dig_short(server, name, rtype);
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} {rtype}: the DNS server answers {got:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn client_edits_their_zone_and_the_dns_server_answers(db: TestDb) {
    let backend = db.backend().as_str();
    let p = TestPanel::new(db).await;
    let dns = panel1_app::dns::view::start_server_on(
        &p.app,
        "127.0.0.1:0".parse().unwrap(),
        p.cancel.clone(),
    )
    .await
    .unwrap()
    .udp_addr;
    let mine = p.client("Zone Owner Ltd").await;
    p.user("zoe@client.test", Role::Client, Some(&mine)).await;
    let zone = format!(
        "zoe{}.test",
        &panel1_core::ids::new_id_body()[22..].to_lowercase()
    );
    let www = format!("www.{zone}");

    let driver = Driver::start().await;
    let c = driver.browser().await;
    sign_in_browser(&c, &p.url, "zoe@client.test", PASSWORD, None).await;
    wait_path(&c, "/client").await;
    click(&c, "nav.main a[href='/client/dns']").await;
    wait_path(&c, "/client/dns").await;
    assert!(text(&c, "main").await.contains("No zones yet"));
    fill(&c, "#f-name", &zone).await;
    click(&c, "#zone-form button[type=submit]").await;
    let zpath = wait_path(&c, "/client/dns/zon_").await;
    assert!(text(&c, ".flash").await.contains("answers for it now"));
    // The zone is served at once, with the SOA Panel1 made.
    wait_until("the zone's SOA", || async {
        !dig_short(dns, &zone, "SOA").is_empty()
    })
    .await;

    // A bad address first: the error is at the content field, and nothing is served.
    fill(&c, "#f-name", "www").await;
    c.find(Locator::Css("#f-rtype"))
        .await
        .unwrap()
        .select_by_value("A")
        .await
        .unwrap();
    fill(&c, "#f-content", "192.0.2.300").await;
    click(&c, "#record-form button[type=submit]").await;
    let err = text(&c, "#f-content-error").await;
    assert!(!err.is_empty(), "the content field says what is wrong");
    assert!(
        text(&c, ".error-summary").await.contains("Content"),
        "the summary names the field"
    );
    screenshot(&c, &format!("{backend}-40-dns-record-error")).await;
    assert!(dig_short(dns, &www, "A").is_empty());

    // The right address: answered by the DNS server.
    fill(&c, "#f-content", "192.0.2.10").await;
    click(&c, "#record-form button[type=submit]").await;
    wait_until("the record saved", || async {
        text(&c, ".flash").await.contains("Added")
    })
    .await;
    assert!(text(&c, "#records").await.contains("192.0.2.10"));
    wait_answer(dns, &www, "A", &["192.0.2.10"]).await;
    screenshot(&c, &format!("{backend}-41-dns-zone")).await;

    // Edit it (its row: the zone's NS records are listed too): the new address is answered
    // instead.
    let row =
        |content: &str| format!("//table[@id='records']//tr[td[4][contains(., '{content}')]]");
    c.find(Locator::XPath(&format!(
        "{}//a[contains(@href, '/edit')]",
        row("192.0.2.10")
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    wait_path(&c, &format!("{zpath}/records/")).await;
    fill(&c, "#f-content", "192.0.2.11").await;
    click(&c, "#record-form button[type=submit]").await;
    wait_until("the record saved", || async {
        text(&c, ".flash").await.contains("Saved")
    })
    .await;
    wait_answer(dns, &www, "A", &["192.0.2.11"]).await;

    // Delete it, confirmed in a dialog: no longer answered.
    c.find(Locator::XPath(&format!(
        "{}//a[contains(@class, 'record-delete')]",
        row("192.0.2.11")
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    assert!(text(&c, "dialog[open]").await.contains("192.0.2.11"));
    screenshot(&c, &format!("{backend}-42-dns-delete-dialog")).await;
    click(&c, "dialog[open] button.danger").await;
    wait_until("the record deleted", || async {
        text(&c, ".flash").await.contains("Deleted")
    })
    .await;
    wait_answer(dns, &www, "A", &[]).await;
    assert!(!text(&c, "#records").await.contains("192.0.2.11"));

    // Import a zone file with a wrong line: the line is named and nothing changes.
    click(&c, &format!("a[href='{zpath}/import']")).await;
    wait_path(&c, &format!("{zpath}/import")).await;
    let file = format!("$ORIGIN {zone}.\n$TTL 300\nmail IN A 192.0.2.25\nbad IN A 999.1.1.1\n");
    fill(&c, "#f-zonefile", &file).await;
    click(&c, "form.stacked button[type=submit]").await;
    let report = text(&c, "#import-errors").await;
    assert!(report.contains("Line 4"), "{report}");
    screenshot(&c, &format!("{backend}-43-dns-import-error")).await;
    assert!(dig_short(dns, &format!("mail.{zone}"), "A").is_empty());
    fill(
        &c,
        "#f-zonefile",
        &format!("$ORIGIN {zone}.\n$TTL 300\nmail IN A 192.0.2.25\n"),
    )
    .await;
    click(&c, "form.stacked button[type=submit]").await;
    wait_path(&c, &zpath).await;
    assert!(text(&c, ".flash").await.contains("Imported"));
    wait_answer(dns, &format!("mail.{zone}"), "A", &["192.0.2.25"]).await;
    c.close().await.unwrap();
}

mod sqlite {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn client_registers_pays_and_sees_only_their_own() {
        super::client_registers_pays_and_sees_only_their_own(TestDb::sqlite().await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn staff_issue_a_certificate_from_pebble() {
        super::staff_issue_a_certificate_from_pebble(TestDb::sqlite().await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn client_edits_their_zone_and_the_dns_server_answers() {
        super::client_edits_their_zone_and_the_dns_server_answers(TestDb::sqlite().await).await
    }
}

mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn client_registers_pays_and_sees_only_their_own() {
        super::client_registers_pays_and_sees_only_their_own(TestDb::postgres().await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn staff_issue_a_certificate_from_pebble() {
        super::staff_issue_a_certificate_from_pebble(TestDb::postgres().await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn client_edits_their_zone_and_the_dns_server_answers() {
        super::client_edits_their_zone_and_the_dns_server_answers(TestDb::postgres().await).await
    }
}
