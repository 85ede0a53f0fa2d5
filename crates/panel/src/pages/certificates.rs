//! TLS certificates, in the admin area (every certificate of the tenant; installation; the CA
//! accounts) and in the client area (the client's own): the list, the issue wizard (names,
//! product, validation method, key type), the certificate page with its validation records
//! (the exact DNS record or HTTP file the CA checks), downloads (the private key only on an
//! explicit, audited request), renewal and revocation (confirmed).
//!
//! Issuance runs in a job; the certificate page follows it in a progress region until the
//! certificate is issued or the order fails, and shows the records to publish while the CA
//! waits for them.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use minijinja::context;
use minijinja::value::{Serde, Value};
use panel1_app::certificates::accounts::{self as ca_svc, EabInput, NewCaAccountInput};
use panel1_app::certificates::install::{
    self as install_svc, FilesInput, InstallInput, ProbeInput, ReloadInput, WebhookTargetInput,
};
use panel1_app::certificates::service::{self as svc, CertificateDetail, IssueInput, RevokeInput};
use panel1_app::{App, AppError};
use panel1_core::{
    CaAccountId, CertificateId, CertificateProductId, SecretString, ValidationRecordId,
};
use panel1_store::certificates::{CertificateFilter, OPEN_STATUSES};
use serde::{Deserialize, Serialize};

use super::{
    Area, Confirm, client_filter, client_options, confirm_page, day_filter, page_request, pager, q,
    see_other,
};
use crate::error::{PageError, PageResult};
use crate::form::{Errors, FormData, refusal, top};
use crate::session::{ClientViewer, Flash, StaffViewer, Viewer};
use crate::templates::{render, render_status};

pub const STATUSES: [&str; 12] = [
    "awaiting_payment",
    "pending",
    "validating",
    "awaiting_validation",
    "awaiting_organization_validation",
    "issuing",
    "issued",
    "failed",
    "revoking",
    "revoked",
    "replaced",
    "expired",
];
pub const KEY_TYPES: [&str; 5] = [
    "ecdsa-p256",
    "ecdsa-p384",
    "rsa-2048",
    "rsa-3072",
    "rsa-4096",
];
pub const REVOKE_REASONS: [&str; 5] = [
    "unspecified",
    "key_compromise",
    "superseded",
    "affiliation_changed",
    "cessation_of_operation",
];
/// CA presets a new account may name instead of a directory URL.
pub const DIRECTORIES: [&str; 8] = [
    "letsencrypt",
    "letsencrypt-staging",
    "zerossl",
    "google",
    "google-staging",
    "sectigo",
    "digicert",
    "globalsign",
];

fn id(raw: &str) -> PageResult<CertificateId> {
    raw.parse().map_err(|_| PageError::not_found("certificate"))
}

fn cert_path(area: Area, id: &CertificateId) -> String {
    format!("{}/certificates/{id}", area.base())
}

// -------------------------------------------------------------------------------- list

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    status: Option<String>,
    client_id: Option<String>,
    expires_before: Option<String>,
    page: Option<String>,
}

async fn list(app: &App, v: &Viewer, area: Area, query: ListQuery) -> PageResult {
    let search = q(&query.q);
    let status = q(&query.status);
    let (client_text, client_id) = client_filter(area, &query.client_id)?;
    if !status.is_empty() && !STATUSES.contains(&status.as_str()) {
        return Err(PageError::Invalid(format!(
            "`{status}` is not a certificate status; pick one from the list."
        )));
    }
    let (expires_text, expires_before) = day_filter(&query.expires_before)?;
    let f = CertificateFilter {
        status: Some(status.clone()).filter(|s| !s.is_empty()),
        client_id,
        search: Some(search.clone()).filter(|s| !s.is_empty()),
        expires_before,
    };
    let page = svc::list(app, &v.caller, &f, page_request(query.page.as_deref())).await?;
    let path = format!("{}/certificates", area.base());
    let pager = pager(
        &path,
        &[
            ("q", &search),
            ("status", &status),
            ("client_id", &client_text),
            ("expires_before", &expires_text),
        ],
        &page,
    );
    let clients = if area.is_admin() {
        client_options(app, &v.caller).await?
    } else {
        Vec::new()
    };
    render(
        "certificates/list.html",
        context! {
            certificates => Serde(&page.items),
            pager => Serde(pager),
            q => search,
            status,
            client_id => client_text,
            expires_before => expires_text,
            statuses => STATUSES.to_vec(),
            clients => Serde(&clients),
            base => area.base(),
            ..v.base(&area.section("certificates")),
        },
    )
}

/// `GET /admin/certificates`
pub async fn admin_list(
    State(app): State<App>,
    v: StaffViewer,
    Query(query): Query<ListQuery>,
) -> PageResult {
    list(&app, &v.0, Area::Admin, query).await
}

/// `GET /client/certificates`
pub async fn client_list(
    State(app): State<App>,
    v: ClientViewer,
    Query(query): Query<ListQuery>,
) -> PageResult {
    list(&app, &v.0, Area::Client, query).await
}

// ------------------------------------------------------------------------------- issue

async fn issue_page(
    app: &App,
    v: &Viewer,
    area: Area,
    values: Value,
    errors: Errors,
    status: StatusCode,
) -> PageResult {
    let clients = if area.is_admin() {
        client_options(app, &v.caller).await?
    } else {
        Vec::new()
    };
    let products = panel1_app::certificates::products::list(app, &v.caller).await?;
    let accounts = if area.is_admin() {
        ca_svc::list(app, v.caller.staff()?).await?
    } else {
        Vec::new()
    };
    render_status(
        status,
        "certificates/issue.html",
        context! {
            values,
            errors => Serde(&errors),
            clients => Serde(&clients),
            products => Serde(&products),
            accounts => Serde(&accounts),
            key_types => KEY_TYPES.to_vec(),
            base => area.base(),
            ..v.base(&area.section("certificates")),
        },
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct IssueQuery {
    client_id: Option<String>,
    names: Option<String>,
}

async fn issue_form(app: &App, v: &Viewer, area: Area, query: IssueQuery) -> PageResult {
    issue_page(
        app,
        v,
        area,
        context! {
            client_id => q(&query.client_id),
            names => q(&query.names),
            validation_method => "http-01",
            dns_mode => "auto",
            key_type => "ecdsa-p256",
            auto_renew => "on",
            pay_from_credit => "on",
        },
        Errors::new(),
        StatusCode::OK,
    )
    .await
}

/// `GET /admin/certificates/new`: the issue wizard.
pub async fn admin_issue_form(
    State(app): State<App>,
    v: StaffViewer,
    Query(query): Query<IssueQuery>,
) -> PageResult {
    issue_form(&app, &v.0, Area::Admin, query).await
}

/// `GET /client/certificates/new`
pub async fn client_issue_form(
    State(app): State<App>,
    v: ClientViewer,
    Query(query): Query<IssueQuery>,
) -> PageResult {
    issue_form(&app, &v.0, Area::Client, query).await
}

fn names_of(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn issue(app: &App, v: &Viewer, area: Area, form: FormData) -> PageResult {
    let method = form.text("validation_method");
    let input = IssueInput {
        client_id: match area {
            Area::Admin => form.opt("client_id").and_then(|s| s.parse().ok()),
            Area::Client => None,
        },
        names: names_of(&form.text("names")),
        product_id: form
            .opt("product_id")
            .and_then(|s| s.parse::<CertificateProductId>().ok()),
        dns_mode: (method == "dns-01").then(|| form.opt("dns_mode")).flatten(),
        validation_method: Some(method).filter(|m| !m.is_empty()),
        key_type: form.opt("key_type"),
        ca_account_id: match area {
            Area::Admin => form
                .opt("ca_account_id")
                .and_then(|s| s.parse::<CaAccountId>().ok()),
            Area::Client => None,
        },
        profile: form.opt("profile"),
        auto_renew: Some(form.opt("auto_renew").is_some()),
        webroot: match area {
            Area::Admin => form.opt("webroot"),
            Area::Client => None,
        },
        pay_from_credit: Some(form.opt("pay_from_credit").is_some()),
    };
    match svc::issue(app, &v.caller, &input).await {
        Ok(a) => {
            v.flash(
                app,
                Flash::success(format!(
                    "Certificate for {} ordered. This page follows it until it is issued.",
                    a.certificate.names.join(", ")
                )),
            )
            .await?;
            Ok(see_other(&cert_path(area, &a.certificate.id)))
        }
        Err(e) => {
            let errors = refusal(e, top)?;
            issue_page(
                app,
                v,
                area,
                Value::from(Serde(form.values())),
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// `POST /admin/certificates/new`
pub async fn admin_issue(State(app): State<App>, v: StaffViewer, form: FormData) -> PageResult {
    issue(&app, &v.0, Area::Admin, form).await
}

/// `POST /client/certificates/new`
pub async fn client_issue(State(app): State<App>, v: ClientViewer, form: FormData) -> PageResult {
    issue(&app, &v.0, Area::Client, form).await
}

// ------------------------------------------------------------------------------ detail

/// What the progress region says.
#[derive(Debug, Serialize)]
struct Progress {
    status: String,
    is_final: bool,
    failed: bool,
    summary: String,
}

fn progress_of(d: &CertificateDetail) -> Progress {
    let c = &d.certificate;
    let detail = c.status_detail.clone().unwrap_or_default();
    let (is_final, failed, summary) = match c.status.as_str() {
        "issued" => (
            true,
            false,
            format!(
                "Issued{}.",
                c.not_after
                    .map(|t| format!("; valid until {}", t.format("%Y-%m-%d")))
                    .unwrap_or_default()
            ),
        ),
        "failed" => (
            true,
            true,
            format!(
                "The order failed: {}. Correct what it says and renew to try again.",
                if detail.is_empty() {
                    "see the validation records below"
                } else {
                    detail.as_str()
                }
            ),
        ),
        "awaiting_payment" => (
            true,
            false,
            "Waiting for the subscription's invoice to be paid; issuance starts as soon as it is."
                .to_owned(),
        ),
        "awaiting_organization_validation" => (
            true,
            false,
            "The CA checks the organisation by hand; this can take days.".to_owned(),
        ),
        "awaiting_validation" => (
            false,
            false,
            format!("Waiting for the validation records below to be visible to the CA. {detail}"),
        ),
        "revoking" => (false, false, "Revocation under way at the CA.".to_owned()),
        "revoked" => (true, true, "Revoked.".to_owned()),
        "replaced" => (true, false, "Replaced by a newer certificate.".to_owned()),
        "expired" => (true, true, "Expired. Renew it to get a new one.".to_owned()),
        other if OPEN_STATUSES.contains(&other) => (
            false,
            false,
            format!(
                "{} at the CA. {detail}",
                match other {
                    "pending" => "Order being placed",
                    "validating" => "Validation under way",
                    "issuing" => "Being issued",
                    o => o,
                }
            ),
        ),
        other => (true, false, other.to_owned()),
    };
    Progress {
        status: c.status.clone(),
        is_final,
        failed,
        summary: summary.trim().to_owned(),
    }
}

async fn detail_page(app: &App, v: &Viewer, area: Area, raw: &str) -> PageResult {
    let d = svc::get(app, &v.caller, &id(raw)?).await?;
    let progress = progress_of(&d);
    let c = &d.certificate;
    let status = c.status.as_str();
    let client_name = if area.is_admin() {
        panel1_app::clients::get(app, &v.caller, &c.client_id)
            .await
            .ok()
            .map(|cl| cl.details.name)
    } else {
        None
    };
    render(
        "certificates/detail.html",
        context! {
            c => Serde(&d),
            client_name,
            progress => Serde(&progress),
            refresh => !progress.is_final,
            can_download => c.serial.is_some() && matches!(status, "issued" | "replaced" | "expired" | "revoking" | "revoked"),
            can_renew => matches!(status, "issued" | "expired" | "failed"),
            can_revoke => status == "issued",
            can_install => area.is_admin() && status == "issued",
            public_url => app.settings.public_url.clone(),
            path => cert_path(area, &c.id),
            base => area.base(),
            ..v.base(&area.section("certificates")),
        },
    )
}

/// `GET /admin/certificates/{id}`
pub async fn admin_show(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    detail_page(&app, &v.0, Area::Admin, &raw).await
}

/// `GET /client/certificates/{id}`
pub async fn client_show(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
) -> PageResult {
    detail_page(&app, &v.0, Area::Client, &raw).await
}

async fn progress(app: &App, v: &Viewer, area: Area, raw: &str) -> PageResult {
    let d = svc::get(app, &v.caller, &id(raw)?).await?;
    let progress = progress_of(&d);
    render(
        "certificates/_progress.html",
        context! {
            c => Serde(&d),
            progress => Serde(&progress),
            path => cert_path(area, &d.certificate.id),
        },
    )
}

/// `GET /admin/certificates/{id}/progress`: the progress region alone (polled).
pub async fn admin_progress(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    progress(&app, &v.0, Area::Admin, &raw).await
}

/// `GET /client/certificates/{id}/progress`
pub async fn client_progress(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
) -> PageResult {
    progress(&app, &v.0, Area::Client, &raw).await
}

// --------------------------------------------------------------------------- downloads

#[derive(Debug, Default, Deserialize)]
pub struct DownloadQuery {
    part: Option<String>,
}

fn pem_file(name: &str, body: String) -> axum::response::Response {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-pem-file"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

async fn download(app: &App, v: &Viewer, raw: &str, query: DownloadQuery) -> PageResult {
    let cid = id(raw)?;
    let part = q(&query.part);
    let dl = svc::download(app, &v.caller, &cid, false).await?;
    let base = dl
        .names
        .first()
        .map(|n| n.replace('*', "wildcard"))
        .unwrap_or_else(|| cid.to_string());
    let (suffix, body) = match part.as_str() {
        "" | "fullchain" => ("fullchain", dl.fullchain_pem.clone()),
        "certificate" => ("cert", dl.certificate_pem.clone()),
        "chain" => ("chain", dl.chain_pem.clone()),
        other => {
            return Err(PageError::Invalid(format!(
                "`{other}` is not a part of a certificate; pick fullchain, certificate or chain."
            )));
        }
    };
    Ok(pem_file(&format!("{base}-{suffix}.pem"), body))
}

/// `GET /admin/certificates/{id}/download?part=fullchain|certificate|chain`
pub async fn admin_download(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    Query(query): Query<DownloadQuery>,
) -> PageResult {
    download(&app, &v.0, &raw, query).await
}

/// `GET /client/certificates/{id}/download`
pub async fn client_download(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
    Query(query): Query<DownloadQuery>,
) -> PageResult {
    download(&app, &v.0, &raw, query).await
}

async fn download_key(app: &App, v: &Viewer, raw: &str) -> PageResult {
    let cid = id(raw)?;
    let dl = svc::download(app, &v.caller, &cid, true).await?;
    let base = dl
        .names
        .first()
        .map(|n| n.replace('*', "wildcard"))
        .unwrap_or_else(|| cid.to_string());
    let key = dl
        .private_key_pem
        .clone()
        .ok_or_else(|| PageError::Conflict("this certificate has no stored key".into()))?;
    Ok(pem_file(&format!("{base}-privkey.pem"), key))
}

/// `POST /admin/certificates/{id}/key`: the private key (a POST, so it is asked for on
/// purpose, checked against CSRF and audited by the service).
pub async fn admin_download_key(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    download_key(&app, &v.0, &raw).await
}

/// `POST /client/certificates/{id}/key`
pub async fn client_download_key(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
) -> PageResult {
    download_key(&app, &v.0, &raw).await
}

// ----------------------------------------------------------------- renew, revoke, check

async fn flash_back(
    app: &App,
    v: &Viewer,
    to: &str,
    result: Result<String, AppError>,
) -> PageResult {
    let flash = match result {
        Ok(m) => Flash::success(m),
        Err(AppError::Conflict { message, .. }) => Flash::error(format!("Not done: {message}.")),
        Err(AppError::Invalid(e)) => Flash::error(format!(
            "Not done: {}. Correct it and try again.",
            e.summary()
        )),
        Err(AppError::Unavailable(m)) => {
            Flash::error(format!("Not done: {m}. Try again in a minute."))
        }
        Err(e) => return Err(e.into()),
    };
    v.flash(app, flash).await?;
    Ok(see_other(to))
}

async fn renew(app: &App, v: &Viewer, area: Area, raw: &str) -> PageResult {
    let cid = id(raw)?;
    match svc::renew(app, &v.caller, &cid).await {
        Ok(a) => {
            v.flash(
                app,
                Flash::success(format!(
                    "Renewal of {} ordered; this page follows the new certificate.",
                    a.certificate.names.join(", ")
                )),
            )
            .await?;
            Ok(see_other(&cert_path(area, &a.certificate.id)))
        }
        Err(e) => flash_back(app, v, &cert_path(area, &cid), Err(e)).await,
    }
}

/// `POST /admin/certificates/{id}/renew`
pub async fn admin_renew(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    renew(&app, &v.0, Area::Admin, &raw).await
}

/// `POST /client/certificates/{id}/renew`
pub async fn client_renew(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
) -> PageResult {
    renew(&app, &v.0, Area::Client, &raw).await
}

async fn revoke_form(app: &App, v: &Viewer, area: Area, raw: &str) -> PageResult {
    let d = svc::get(app, &v.caller, &id(raw)?).await?;
    render(
        "certificates/revoke.html",
        context! {
            c => Serde(&d),
            reasons => REVOKE_REASONS.to_vec(),
            path => cert_path(area, &d.certificate.id),
            ..v.base(&area.section("certificates")),
        },
    )
}

/// `GET /admin/certificates/{id}/revoke`: the reason, and the confirmation.
pub async fn admin_revoke_form(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    revoke_form(&app, &v.0, Area::Admin, &raw).await
}

/// `GET /client/certificates/{id}/revoke`
pub async fn client_revoke_form(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
) -> PageResult {
    revoke_form(&app, &v.0, Area::Client, &raw).await
}

async fn revoke(app: &App, v: &Viewer, area: Area, raw: &str, form: FormData) -> PageResult {
    let cid = id(raw)?;
    let input = RevokeInput {
        reason: form.opt("reason"),
    };
    let r = svc::revoke(app, &v.caller, &cid, &input).await.map(|a| {
        format!(
            "Revoking the certificate for {}; browsers stop trusting it within hours.",
            a.certificate.names.join(", ")
        )
    });
    flash_back(app, v, &cert_path(area, &cid), r).await
}

/// `POST /admin/certificates/{id}/revoke`
pub async fn admin_revoke(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    revoke(&app, &v.0, Area::Admin, &raw, form).await
}

/// `POST /client/certificates/{id}/revoke`
pub async fn client_revoke(
    State(app): State<App>,
    v: ClientViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    revoke(&app, &v.0, Area::Client, &raw, form).await
}

async fn check(app: &App, v: &Viewer, area: Area, raw: &str, vid: &str) -> PageResult {
    let cid = id(raw)?;
    let vid: ValidationRecordId = vid
        .parse()
        .map_err(|_| PageError::not_found("validation record"))?;
    let r = svc::validate(app, &v.caller, &cid, &vid).await.map(|c| {
        if c.visible {
            format!(
                "The record for {} is visible; the CA is told to check it now.",
                c.record.identifier
            )
        } else {
            format!(
                "The record for {} is not visible yet: {}. Publish it exactly as shown and check again.",
                c.record.identifier,
                c.detail.unwrap_or_else(|| "not found".into())
            )
        }
    });
    flash_back(app, v, &cert_path(area, &cid), r).await
}

/// `POST /admin/certificates/{id}/validations/{vid}/check`
pub async fn admin_check(
    State(app): State<App>,
    v: StaffViewer,
    Path((raw, vid)): Path<(String, String)>,
) -> PageResult {
    check(&app, &v.0, Area::Admin, &raw, &vid).await
}

/// `POST /client/certificates/{id}/validations/{vid}/check`
pub async fn client_check(
    State(app): State<App>,
    v: ClientViewer,
    Path((raw, vid)): Path<(String, String)>,
) -> PageResult {
    check(&app, &v.0, Area::Client, &raw, &vid).await
}

// ----------------------------------------------------------------- install (staff only)

fn install_page(
    v: &StaffViewer,
    d: &CertificateDetail,
    values: Value,
    errors: Errors,
    status: StatusCode,
) -> PageResult {
    render_status(
        status,
        "certificates/install.html",
        context! {
            c => Serde(d),
            values,
            errors => Serde(&errors),
            path => cert_path(Area::Admin, &d.certificate.id),
            ..v.0.base("certificates"),
        },
    )
}

/// `GET /admin/certificates/{id}/install`
pub async fn install_form(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    let d = svc::get(&app, &v.0.caller, &id(&raw)?).await?;
    install_page(
        &v,
        &d,
        context! { kind => "files", reload_program => "nginx", reload_args => "-s reload", port => "443" },
        Errors::new(),
        StatusCode::OK,
    )
}

/// `POST /admin/certificates/{id}/install`
pub async fn install(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
    form: FormData,
) -> PageResult {
    let cid = id(&raw)?;
    let d = svc::get(&app, &v.0.caller, &cid).await?;
    let kind = form.text("kind");
    let reload = form.opt("reload_program").map(|program| ReloadInput {
        program,
        args: form
            .text("reload_args")
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    });
    let input = InstallInput {
        kind: kind.clone(),
        files: (kind == "files").then(|| FilesInput {
            directory: form.opt("directory"),
            certificate_path: None,
            chain_path: None,
            fullchain_path: None,
            key_path: None,
            reload,
        }),
        webhook: (kind == "webhook").then(|| WebhookTargetInput {
            url: form.text("url"),
            include_private_key: Some(form.opt("include_private_key").is_some()),
        }),
        probe: Some(ProbeInput {
            address: form.opt("address"),
            port: form.opt("port").and_then(|p| p.parse().ok()),
            server_name: form.opt("server_name"),
        }),
    };
    match install_svc::create(&app, &v.0.caller, &cid, &input).await {
        Ok(a) => {
            let mut flash = Flash::success(
                "Installation queued; it is verified by connecting to the server when done.",
            );
            if let Some(secret) = a.webhook_secret {
                flash = Flash::success(
                    "Installation queued. Copy the webhook's signing secret now: it is shown only this once.",
                )
                .with_secret("Signing secret", secret);
            }
            v.0.flash(&app, flash).await?;
            Ok(see_other(&cert_path(Area::Admin, &cid)))
        }
        Err(e) => {
            let errors = refusal(e, |f| {
                let last = f.rsplit('.').next().unwrap_or(f);
                match last {
                    "program" => "reload_program".to_owned(),
                    "args" => "reload_args".to_owned(),
                    "" => String::new(),
                    l => l.to_owned(),
                }
            })?;
            install_page(
                &v,
                &d,
                Value::from(Serde(form.values())),
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

// ------------------------------------------------------------------------- CA accounts

fn ca_page(
    v: &StaffViewer,
    accounts: &[panel1_store::ca_accounts::CaAccount],
    values: Value,
    errors: Errors,
    status: StatusCode,
) -> PageResult {
    render_status(
        status,
        "certificates/ca_accounts.html",
        context! {
            accounts => Serde(accounts),
            directories => DIRECTORIES.to_vec(),
            values,
            errors => Serde(&errors),
            ..v.0.base("ca_accounts"),
        },
    )
}

/// `GET /admin/ca-accounts`
pub async fn ca_accounts(State(app): State<App>, v: StaffViewer) -> PageResult {
    let accounts = ca_svc::list(&app, v.0.caller.staff()?).await?;
    ca_page(
        &v,
        &accounts,
        context! { directory => "letsencrypt" },
        Errors::new(),
        StatusCode::OK,
    )
}

/// `POST /admin/ca-accounts`: a new CA account; the EAB HMAC key is sealed at once.
pub async fn create_ca_account(
    State(app): State<App>,
    v: StaffViewer,
    form: FormData,
) -> PageResult {
    let admin = v.0.caller.admin()?;
    let directory = match form.text("directory").as_str() {
        "url" | "" => form.text("directory_url"),
        preset => preset.to_owned(),
    };
    let eab = match (form.opt("eab_key_id"), form.raw("eab_hmac_key").trim()) {
        (None, "") => None,
        (key_id, hmac) => Some(EabInput {
            key_id: key_id.unwrap_or_default(),
            hmac_key: SecretString::new(hmac.to_owned()),
        }),
    };
    let caa: Vec<String> = form
        .text("caa_identities")
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let input = NewCaAccountInput {
        name: form.text("name"),
        directory,
        caa_identities: (!caa.is_empty()).then_some(caa),
        contact_email: form.opt("contact_email"),
        eab,
        default: form.opt("default").is_some(),
    };
    match ca_svc::create(&app, admin, &input).await {
        Ok(a) => {
            v.0.flash(
                &app,
                Flash::success(format!(
                    "CA account {} added. It is registered with the CA by the first certificate it issues.",
                    a.name
                )),
            )
            .await?;
            Ok(see_other("/admin/ca-accounts"))
        }
        Err(e) => {
            let errors = refusal(e, |f| match f {
                "eab.key_id" => "eab_key_id".to_owned(),
                "eab.hmac_key" | "eab" => "eab_hmac_key".to_owned(),
                other => top(other),
            })?;
            let accounts = ca_svc::list(&app, v.0.caller.staff()?).await?;
            let mut values = form.values();
            values.remove("eab_hmac_key");
            ca_page(
                &v,
                &accounts,
                Value::from(Serde(values)),
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

async fn find_ca(
    app: &App,
    v: &StaffViewer,
    raw: &str,
) -> PageResult<panel1_store::ca_accounts::CaAccount> {
    let id: CaAccountId = raw
        .parse()
        .map_err(|_| PageError::not_found("CA account"))?;
    ca_svc::list(app, v.0.caller.staff()?)
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| PageError::not_found("CA account"))
}

/// `GET /admin/ca-accounts/{id}/delete`
pub async fn confirm_delete_ca(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    v.0.caller.admin()?;
    let a = find_ca(&app, &v, &raw).await?;
    confirm_page(
        v.0.base("ca_accounts"),
        Confirm {
            title: "Delete CA account",
            message: format!(
                "Delete the CA account {}? Its certificates keep their history, but none can be issued or renewed through it any more.",
                a.name
            ),
            action: format!("/admin/ca-accounts/{}/delete", a.id),
            button: "Delete account",
            cancel: "/admin/ca-accounts".into(),
        },
    )
}

/// `POST /admin/ca-accounts/{id}/delete`
pub async fn delete_ca(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    let admin = v.0.caller.admin()?;
    let a = find_ca(&app, &v, &raw).await?;
    let flash = match ca_svc::delete(&app, admin, &a.id).await {
        Ok(()) => Flash::success(format!("CA account {} deleted.", a.name)),
        Err(AppError::Conflict { message, .. }) => Flash::error(format!("Not deleted: {message}.")),
        Err(e) => return Err(e.into()),
    };
    v.0.flash(&app, flash).await?;
    Ok(see_other("/admin/ca-accounts"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_on_spaces_commas_and_lines() {
        assert_eq!(
            names_of("example.com, www.example.com\n*.example.org"),
            ["example.com", "www.example.com", "*.example.org"]
        );
    }
}
