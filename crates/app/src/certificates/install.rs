//! Installations: where a certificate is put (files + a reload command, or a webhook) and the
//! TLS probe that proves the live endpoint serves it.
//!
//! Writing files and running programs on the Panel1 host is the operator's decision: file
//! installations (administrators only) may only write under `ssl_install_dirs` and only run
//! programs listed in `ssl_reload_programs`. Webhook installations POST the signed bundle
//! (the signing secret is generated, shown once, and sealed). Either way the job then probes
//! the endpoint until it serves the new serial; an installation that does not verify is
//! `failed`. Renewed certificates are installed at the same places automatically, and the
//! daily health check probes every installation (served serial, chain, days left, hostname).

use std::path::{Component, PathBuf};
use std::time::Duration;

use chrono::Utc;
use panel1_ca::install::{
    FilesInstaller, InstallBundle, Installer, ProbeTarget, ReloadCommand, WebhookInstaller,
    install_and_verify, probe,
};
use panel1_ca::{CertificateChain, PrivateKey};
use panel1_core::validate::Checker;
use panel1_core::{
    CertificateId, FieldError, InstallationId, JobId, Scope, SecretString, TenantId,
    ValidationError,
};
use panel1_jobs::{EnqueueOptions, JobContext, JobError};
use panel1_store::audit::Actor;
use panel1_store::certificate_installations::{
    self as installs, InstallResult, Installation, NewHealthCheck, NewInstallation, ProbeSeen,
};
use panel1_store::certificates as repo;
use panel1_store::events::{self, NewEvent};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::jobs::InstallCertificate;
use crate::audit::{self, Change};
use crate::notify::{self, Notice};
use crate::{App, AppError, AppResult, Caller};

/// A reload command: a program from `ssl_reload_programs` and its arguments (no shell).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReloadInput {
    #[schema(example = "nginx")]
    pub program: String,
    #[serde(default)]
    #[schema(example = json!(["-s", "reload"]))]
    pub args: Vec<String>,
}

/// Files to write (each under `ssl_install_dirs`): give `directory` for the usual
/// `cert.pem`, `chain.pem`, `fullchain.pem`, `privkey.pem`, or the paths one by one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilesInput {
    pub directory: Option<String>,
    pub certificate_path: Option<String>,
    pub chain_path: Option<String>,
    /// Leaf and intermediates (nginx `ssl_certificate`).
    pub fullchain_path: Option<String>,
    /// Written with mode 0600.
    pub key_path: Option<String>,
    pub reload: Option<ReloadInput>,
}

/// A webhook that receives the PEM bundle, signed like every Panel1 webhook.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookTargetInput {
    /// `https://…` (plain HTTP only to loopback).
    pub url: String,
    /// Whether the private key travels in the body (default true).
    pub include_private_key: Option<bool>,
}

/// Where to check that the certificate is served.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeInput {
    /// Host name or IP address to connect to (default: `server_name`).
    pub address: Option<String>,
    /// Default 443.
    pub port: Option<u16>,
    /// The SNI name checked against the certificate (default: its first non-wildcard name).
    pub server_name: Option<String>,
}

/// `installCertificate`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallInput {
    /// `files` (administrators) or `webhook`.
    pub kind: String,
    pub files: Option<FilesInput>,
    pub webhook: Option<WebhookTargetInput>,
    pub probe: Option<ProbeInput>,
}

/// An installation queued, with the webhook signing secret shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstallAccepted {
    pub installation: Installation,
    pub job_id: JobId,
    /// Webhook installations: verify `Panel1-Signature` with it. Shown only now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

/// The stored settings of an installation (no secrets).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    files: Option<FilesConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    webhook: Option<WebhookConfig>,
    probe: ProbeConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FilesConfig {
    certificate_path: Option<PathBuf>,
    chain_path: Option<PathBuf>,
    fullchain_path: Option<PathBuf>,
    key_path: PathBuf,
    reload: Option<ReloadInput>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct WebhookConfig {
    url: String,
    include_private_key: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProbeConfig {
    address: String,
    port: u16,
    server_name: String,
}

fn secret_context(id: &InstallationId) -> String {
    format!("certificate-installation:{id}")
}

/// `path` if it is absolute, has no `..`, and lies under one of `ssl_install_dirs`.
pub fn allowed_path(app: &App, path: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(path.trim());
    if !p.is_absolute() || p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("`{path}` must be an absolute path without `..`"));
    }
    let dirs = &app.settings.ssl_install_dirs;
    if dirs.is_empty() {
        return Err(
            "the operator has not allowed writing certificate files on this installation (setting ssl_install_dirs)".into(),
        );
    }
    if dirs.iter().any(|d| p.starts_with(d)) {
        Ok(p)
    } else {
        Err(format!(
            "`{path}` is outside the directories certificates may be written to ({})",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

fn default_server_name(names: &[String]) -> String {
    names
        .iter()
        .find(|n| !n.starts_with("*."))
        .cloned()
        .or_else(|| {
            names
                .first()
                .map(|n| format!("www.{}", n.trim_start_matches("*.")))
        })
        .unwrap_or_default()
}

/// `installCertificate`: queues the installation of an issued certificate at a target.
pub async fn create(
    app: &App,
    caller: &Caller,
    id: &CertificateId,
    input: &InstallInput,
) -> AppResult<InstallAccepted> {
    let staff = caller.staff()?;
    let scope = caller.scope();
    let cert = {
        let mut r = app.db.read().await?;
        repo::get(r.conn(), &scope, id)
            .await?
            .ok_or_else(|| AppError::not_found("certificate", id))?
    };
    let mut c = Checker::new();
    let mut files = None;
    let mut webhook = None;
    match input.kind.as_str() {
        "files" => {
            if staff.0.admin().is_err() {
                return Err(AppError::Forbidden(
                    "file installations write keys and run programs on the Panel1 host: they need an administrator".into(),
                ));
            }
            let Some(f) = &input.files else {
                return Err(
                    ValidationError::field("files", "required", "give the files to write").into(),
                );
            };
            let path = |field: &str, v: &Option<String>, c: &mut Checker| -> Option<PathBuf> {
                v.as_deref().and_then(|p| match allowed_path(app, p) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        c.push(FieldError::new(format!("files.{field}"), "path", e));
                        None
                    }
                })
            };
            let dir = path("directory", &f.directory, &mut c);
            let mut cfg = FilesConfig {
                certificate_path: path("certificate_path", &f.certificate_path, &mut c),
                chain_path: path("chain_path", &f.chain_path, &mut c),
                fullchain_path: path("fullchain_path", &f.fullchain_path, &mut c),
                key_path: path("key_path", &f.key_path, &mut c).unwrap_or_default(),
                reload: f.reload.clone(),
            };
            if let Some(d) = dir {
                let base = FilesInstaller::in_dir(&d, None);
                cfg.certificate_path = cfg.certificate_path.or(base.certificate_path);
                cfg.chain_path = cfg.chain_path.or(base.chain_path);
                cfg.fullchain_path = cfg.fullchain_path.or(base.fullchain_path);
                if cfg.key_path.as_os_str().is_empty() {
                    cfg.key_path = base.key_path;
                }
            }
            if cfg.key_path.as_os_str().is_empty() && f.key_path.is_none() && f.directory.is_none()
            {
                c.push(FieldError::new(
                    "files.key_path",
                    "required",
                    "give key_path or directory",
                ));
            }
            if let Some(r) = &f.reload
                && !app
                    .settings
                    .ssl_reload_programs
                    .iter()
                    .any(|p| p == &r.program)
            {
                c.push(FieldError::new(
                    "files.reload.program",
                    "forbidden",
                    format!(
                        "`{}` is not a reload program the operator allowed (setting ssl_reload_programs: {})",
                        r.program,
                        if app.settings.ssl_reload_programs.is_empty() {
                            "none".to_owned()
                        } else {
                            app.settings.ssl_reload_programs.join(", ")
                        }
                    ),
                ));
            }
            files = Some(cfg);
        }
        "webhook" => {
            let Some(w) = &input.webhook else {
                return Err(
                    ValidationError::field("webhook", "required", "give the webhook URL").into(),
                );
            };
            let url = w.url.trim();
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2000 {
                c.push(FieldError::new("webhook.url", "format", "an https:// URL"));
            }
            webhook = Some(WebhookConfig {
                url: url.to_owned(),
                include_private_key: w.include_private_key.unwrap_or(true),
            });
        }
        _ => c.push(FieldError::new("kind", "enum", "must be files or webhook")),
    }
    let p = input.probe.clone().unwrap_or(ProbeInput {
        address: None,
        port: None,
        server_name: None,
    });
    let server_name = p
        .server_name
        .clone()
        .map(|s| s.trim().to_ascii_lowercase())
        .unwrap_or_else(|| default_server_name(&cert.names));
    if server_name.is_empty() || server_name.len() > 253 {
        c.push(FieldError::new(
            "probe.server_name",
            "required",
            "the host name to check",
        ));
    }
    let probe = ProbeConfig {
        address: p.address.clone().unwrap_or_else(|| server_name.clone()),
        port: p.port.unwrap_or(443),
        server_name,
    };
    c.finish()?;
    if cert.chain_pem.is_none() || !matches!(cert.status.as_str(), "issued") {
        return Err(AppError::conflict(
            format!(
                "only an issued certificate can be installed; this one is {}",
                cert.status
            ),
            None,
        ));
    }
    let config = Config {
        files,
        webhook,
        probe,
    };
    let installation_id = InstallationId::new();
    let secret = if config.webhook.is_some() {
        Some(panel1_core::crypto::new_webhook_secret()?)
    } else {
        None
    };
    let sealed = match &secret {
        Some(s) => Some(app.keyring.seal_str(&secret_context(&installation_id), s)?),
        None => None,
    };
    let config_json = serde_json::to_value(&config).map_err(AppError::internal)?;
    let mut tx = app.db.begin().await?;
    let installation = installs::insert(
        tx.conn(),
        &scope.tenant_id,
        &NewInstallation {
            id: &installation_id,
            client_id: &cert.client_id,
            certificate_id: id,
            kind: &input.kind,
            config: &config_json,
            secret_sealed: sealed.as_deref(),
        },
    )
    .await?;
    let job = panel1_jobs::enqueue(
        &mut tx,
        &InstallCertificate {
            tenant_id: scope.tenant_id.clone(),
            installation_id: installation_id.clone(),
            certificate_id: id.clone(),
        },
        EnqueueOptions {
            tenant_id: Some(scope.tenant_id.clone()),
            ..Default::default()
        },
    )
    .await?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "certificate.install",
            object_type: "certificate",
            object_id: id.as_str(),
            summary: format!(
                "installing the certificate for {} ({}, checked at {}:{})",
                cert.names.join(", "),
                input.kind,
                config.probe.address,
                config.probe.port
            ),
            before: None,
            after: Some(serde_json::to_value(&installation).map_err(AppError::internal)?),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(InstallAccepted {
        installation,
        job_id: job.id().clone(),
        webhook_secret: secret.map(|s| s.expose().to_owned()),
    })
}

fn probe_target(app: &App, cfg: &ProbeConfig) -> ProbeTarget {
    let mut t = ProbeTarget::new(cfg.address.clone(), cfg.port, cfg.server_name.clone());
    if let Some(path) = &app.settings.ssl_probe_roots_file
        && let Ok(pem) = std::fs::read_to_string(path)
        && let Ok(ders) = panel1_ca::certificate::split_pem(&pem)
    {
        t = t.with_roots(ders);
    }
    t
}

/// Runs one installation (the `ssl::install` job).
pub(crate) async fn run(
    app: &App,
    job: &JobContext,
    j: &InstallCertificate,
) -> Result<(), JobError> {
    let scope = Scope::tenant(j.tenant_id.clone());
    let tenant = &j.tenant_id;
    let (inst, cert) = {
        let mut r = app.db.read().await?;
        let Some(inst) = installs::get(r.conn(), &scope, &j.installation_id).await? else {
            return Ok(());
        };
        let cert = repo::get(r.conn(), &scope, &inst.certificate_id).await?;
        (inst, cert)
    };
    let Some(cert) = cert else { return Ok(()) };
    if inst.certificate_id != j.certificate_id && cert.status == "issued" {
        // A newer certificate took this installation over; its own job installs it.
        return Ok(());
    }
    let config: Config = serde_json::from_value(inst.config.clone()).map_err(|e| {
        JobError::permanent(format!("the installation's settings are invalid: {e}"))
    })?;
    let target = probe_target(app, &config.probe);
    let outcome = async {
        let chain = CertificateChain::from_pem(cert.chain_pem.as_deref().unwrap_or_default())
            .map_err(|e| e.to_string())?;
        let sealed = cert.private_key_sealed.as_deref().ok_or("the certificate has no stored key")?;
        let pem = app
            .keyring
            .open_str(&super::key_context(&cert.id), sealed)
            .map_err(|e| format!("the sealed key cannot be opened: {e}"))?;
        let key = PrivateKey::from_secret(&pem).map_err(|e| e.to_string())?;
        let installer: Box<dyn Installer> = match (&config.files, &config.webhook) {
            (Some(f), _) => {
                if let Some(r) = &f.reload
                    && !app.settings.ssl_reload_programs.iter().any(|p| p == &r.program)
                {
                    return Err(format!(
                        "the reload program `{}` is no longer allowed (setting ssl_reload_programs)",
                        r.program
                    ));
                }
                for p in [&f.certificate_path, &f.chain_path, &f.fullchain_path, &Some(f.key_path.clone())]
                    .into_iter()
                    .flatten()
                {
                    allowed_path(app, &p.display().to_string())?;
                }
                Box::new(FilesInstaller {
                    certificate_path: f.certificate_path.clone(),
                    chain_path: f.chain_path.clone(),
                    fullchain_path: f.fullchain_path.clone(),
                    key_path: f.key_path.clone(),
                    reload: f
                        .reload
                        .as_ref()
                        .map(|r| ReloadCommand::new(r.program.clone(), r.args.clone())),
                })
            }
            (None, Some(w)) => {
                let secret: SecretString = app
                    .keyring
                    .open_str(
                        &secret_context(&inst.id),
                        inst.secret_sealed.as_deref().unwrap_or_default(),
                    )
                    .map_err(|e| format!("the sealed webhook secret cannot be opened: {e}"))?;
                let mut h = WebhookInstaller::new(w.url.clone(), secret);
                h.include_private_key = w.include_private_key;
                Box::new(h)
            }
            (None, None) => return Err("the installation has no target".to_owned()),
        };
        install_and_verify(
            installer.as_ref(),
            &InstallBundle { chain, key },
            Some(&target),
            Duration::from_secs(app.settings.ssl_install_verify_secs),
        )
        .await
        .map_err(|e| e.to_string())
    }
    .await;
    let mut tx = app.db.begin().await?;
    match outcome {
        Ok(out) => {
            let p = out.probe.as_ref();
            let result = serde_json::to_value(&out).unwrap_or_default();
            let healthy = p.is_some_and(|p| p.hostname_matches);
            installs::record_install(
                tx.conn(),
                tenant,
                &inst.id,
                &InstallResult {
                    status: "installed",
                    result: &result,
                    error: None,
                    installed_serial: cert.serial.as_deref(),
                    probe: p.map(|p| ProbeSeen {
                        served_serial: Some(&p.serial_hex),
                        days_left: Some(p.days_left),
                        hostname_matches: Some(p.hostname_matches),
                        trusted: Some(p.trusted),
                        healthy,
                    }),
                },
            )
            .await?;
            let inst = installs::get(tx.conn(), &scope, &inst.id)
                .await?
                .unwrap_or(inst);
            let mut payload = serde_json::to_value(&cert).unwrap_or_default();
            if let Some(o) = payload.as_object_mut() {
                o.insert(
                    "installation".into(),
                    serde_json::to_value(&inst).unwrap_or_default(),
                );
            }
            events::append(
                &mut tx,
                NewEvent {
                    tenant_id: tenant,
                    kind: "ssl.certificate.installed",
                    object_type: "certificate",
                    object_id: cert.id.as_str(),
                    payload,
                },
            )
            .await?;
            audit::record_as(
                &mut tx,
                tenant,
                &Actor::system("certificates"),
                None,
                Change {
                    action: "certificate.installed",
                    object_type: "certificate",
                    object_id: cert.id.as_str(),
                    summary: format!(
                        "serial {} installed ({}) and served at {}",
                        cert.serial.as_deref().unwrap_or("?"),
                        inst.kind,
                        target
                    ),
                    before: None,
                    after: None,
                },
            )
            .await
            .map_err(|e| JobError::retry(e.to_string()))?;
            job.complete_in(&mut tx).await?;
            tx.commit().await?;
            tracing::info!(serial = ?cert.serial, target = %target, "installation verified");
            Ok(())
        }
        Err(message) if !job.is_last_attempt() => {
            installs::set_status(tx.conn(), tenant, &inst.id, "installing", Some(&message)).await?;
            tx.commit().await?;
            Err(JobError::Retry(message))
        }
        Err(message) => {
            let result = serde_json::json!({ "error": message });
            installs::record_install(
                tx.conn(),
                tenant,
                &inst.id,
                &InstallResult {
                    status: "failed",
                    result: &result,
                    error: Some(&message),
                    installed_serial: None,
                    probe: None,
                },
            )
            .await?;
            let inst = installs::get(tx.conn(), &scope, &inst.id)
                .await?
                .unwrap_or(inst);
            let mut payload = serde_json::to_value(&cert).unwrap_or_default();
            if let Some(o) = payload.as_object_mut() {
                o.insert(
                    "installation".into(),
                    serde_json::to_value(&inst).unwrap_or_default(),
                );
                o.insert("error".into(), message.clone().into());
            }
            events::append(
                &mut tx,
                NewEvent {
                    tenant_id: tenant,
                    kind: "ssl.installation.failed",
                    object_type: "certificate",
                    object_id: cert.id.as_str(),
                    payload,
                },
            )
            .await?;
            job.complete_in(&mut tx).await?;
            tx.commit().await?;
            tracing::warn!(error = %message, "installation failed");
            Ok(())
        }
    }
}

/// Probes one installation and records what it saw; alerts (event and e-mail, once a day)
/// when the endpoint does not serve the current certificate, it expires soon, the host name
/// does not match or the chain is not trusted. Returns whether it is healthy.
pub(crate) async fn check_health(
    app: &App,
    tenant: &TenantId,
    id: &InstallationId,
) -> Result<bool, JobError> {
    let scope = Scope::tenant(tenant.clone());
    let (inst, cert) = {
        let mut r = app.db.read().await?;
        let Some(inst) = installs::get(r.conn(), &scope, id).await? else {
            return Ok(true);
        };
        let cert = repo::get(r.conn(), &scope, &inst.certificate_id).await?;
        (inst, cert)
    };
    let Some(cert) = cert else { return Ok(true) };
    let config: Config = serde_json::from_value(inst.config.clone())
        .map_err(|e| JobError::permanent(format!("invalid installation settings: {e}")))?;
    let target = probe_target(app, &config.probe);
    let expected = cert.serial.clone();
    let mut problems = Vec::new();
    let seen = probe(&target).await;
    let (served, days, host_ok, trusted, chain_len) = match &seen {
        Ok(r) => {
            if expected
                .as_deref()
                .is_some_and(|e| !e.eq_ignore_ascii_case(&r.serial_hex))
            {
                problems.push(format!(
                    "{target} serves serial {} instead of {}",
                    r.serial_hex,
                    expected.as_deref().unwrap_or("?")
                ));
            }
            if !r.hostname_matches {
                problems.push(format!(
                    "the certificate served does not name {}",
                    config.probe.server_name
                ));
            }
            if !r.trusted {
                problems.push(format!(
                    "the chain served is not trusted: {}",
                    r.trust_error.as_deref().unwrap_or("unknown reason")
                ));
            }
            if r.days_left < i64::from(app.settings.ssl_expiry_warning_days) {
                problems.push(format!(
                    "the certificate served expires in {} days",
                    r.days_left
                ));
            }
            (
                Some(r.serial_hex.clone()),
                Some(r.days_left),
                Some(r.hostname_matches),
                Some(r.trusted),
                Some(i64::try_from(r.chain.len()).unwrap_or(0)),
            )
        }
        Err(e) => {
            problems.push(e.to_string());
            (None, None, None, None, None)
        }
    };
    let healthy = problems.is_empty();
    let mut tx = app.db.begin().await?;
    installs::record_health(
        tx.conn(),
        tenant,
        &inst,
        &NewHealthCheck {
            expected_serial: expected.as_deref(),
            served_serial: served.as_deref(),
            days_left: days,
            hostname_matches: host_ok,
            trusted,
            chain_length: chain_len,
            healthy,
            problems: &problems,
        },
    )
    .await?;
    if !healthy {
        let client = panel1_store::clients::get(tx.conn(), &scope, &cert.client_id).await?;
        let day = Utc::now().format("%Y-%m-%d");
        let queued = match client {
            Some(cl) => notify::queue(
                app,
                &mut tx,
                Notice {
                    tenant_id: tenant,
                    to: &cl.details.email,
                    template: "ssl_health_alert",
                    object: Some(("certificate", cert.id.as_str())),
                    context: serde_json::json!({
                        "client_name": cl.details.name,
                        "names": cert.names.join(", "),
                        "target": target.to_string(),
                        "problems": problems,
                    }),
                    dedupe_key: Some(format!("ssl-health:{}:{day}", inst.id)),
                },
            )
            .await
            .map_err(|e| JobError::retry(e.to_string()))?
            .is_some(),
            None => true,
        };
        if queued {
            let mut payload = serde_json::to_value(&cert).unwrap_or_default();
            if let Some(o) = payload.as_object_mut() {
                o.insert("installation_id".into(), inst.id.to_string().into());
                o.insert("problems".into(), serde_json::json!(problems));
                o.insert("served_serial".into(), serde_json::json!(served));
            }
            events::append(
                &mut tx,
                NewEvent {
                    tenant_id: tenant,
                    kind: "ssl.installation.unhealthy",
                    object_type: "certificate",
                    object_id: cert.id.as_str(),
                    payload,
                },
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(healthy)
}

/// The latest health checks of a certificate's installations (newest first).
pub async fn health(
    app: &App,
    caller: &Caller,
    id: &CertificateId,
) -> AppResult<Vec<installs::HealthCheck>> {
    let scope = caller.scope();
    let mut r = app.db.read().await?;
    repo::get(r.conn(), &scope, id)
        .await?
        .ok_or_else(|| AppError::not_found("certificate", id))?;
    let mut out = Vec::new();
    for i in installs::list_for_certificate(r.conn(), &scope.tenant_id, id).await? {
        out.extend(installs::list_health(r.conn(), &scope.tenant_id, &i.id, 30).await?);
    }
    out.sort_by_key(|c| std::cmp::Reverse(c.checked_at));
    Ok(out)
}
