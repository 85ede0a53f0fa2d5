//! A tenant's accounts at certificate authorities, and the CA adapters built from them.
//!
//! An account names an ACME directory (a preset such as `letsencrypt`, `zerossl`, `google`,
//! `sectigo`, `digicert`, `globalsign`, or any RFC 8555 directory URL) and, for the CAs
//! that need one, an External Account Binding whose HMAC key is sealed at once and never shown
//! again. The ACME account itself is registered by the first job that needs it; its key is
//! sealed and bound to the row. A tenant without an account gets one for the installation's
//! `acme_directory_url` the first time it orders.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use base64::Engine;
use panel1_ca::acme::{CaCall, OrderRateLimit, record_calls};
use panel1_ca::authority::ExternalAccountBinding;
use panel1_ca::{AccountRequest, AcmeAuthority, AcmeConfig, CaError, CertificateAuthority};
use panel1_core::validate::{self, Checker};
use panel1_core::{CaAccountId, CertificateId, JobId, SecretString, TenantId, ValidationError};
use panel1_store::StoreError;
use panel1_store::audit::Actor;
use panel1_store::ca_accounts::{self, CaAccount, NewCaAccount};
use panel1_store::certificates::{self as repo, NewCaOperation};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::audit::{self, Change};
use crate::{Admin, App, AppError, AppResult, Staff};

/// External Account Binding credentials as the CA's console shows them.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EabInput {
    pub key_id: String,
    /// The base64url HMAC key. Write-only: sealed at once, never shown again.
    #[schema(value_type = String)]
    pub hmac_key: SecretString,
}

/// A new CA account.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCaAccountInput {
    /// Unique within the tenant: lowercase letters, digits and inner hyphens.
    #[schema(example = "letsencrypt")]
    pub name: String,
    /// `letsencrypt`, `letsencrypt-staging`, `zerossl`, `google`, `google-staging`, `sectigo`,
    /// `digicert`, `globalsign`, or an ACME directory URL.
    #[schema(example = "letsencrypt")]
    pub directory: String,
    /// Issuer domains for CAA checks; presets know theirs.
    #[serde(default)]
    pub caa_identities: Option<Vec<String>>,
    pub contact_email: Option<String>,
    /// Required by ZeroSSL, Google Trust Services, Sectigo, DigiCert and GlobalSign.
    pub eab: Option<EabInput>,
    /// Makes this the tenant's default account.
    #[serde(default)]
    pub default: bool,
}

/// A preset directory: URL, CAA identities, whether EAB is required.
fn preset(name: &str) -> Option<(String, Vec<String>, bool)> {
    let dummy = || ExternalAccountBinding {
        key_id: String::new(),
        hmac_key: SecretString::new(""),
    };
    let (cfg, eab) = match name {
        "letsencrypt" => (AcmeConfig::lets_encrypt(), false),
        "letsencrypt-staging" => (AcmeConfig::lets_encrypt_staging(), false),
        "zerossl" => (AcmeConfig::zerossl(dummy()), true),
        "google" => (AcmeConfig::google_trust_services(dummy()), true),
        "google-staging" => (AcmeConfig::google_trust_services_staging(dummy()), true),
        "sectigo" => (AcmeConfig::sectigo(dummy()), true),
        "digicert" => (AcmeConfig::digicert(dummy()), true),
        "globalsign" => (AcmeConfig::globalsign(dummy()), true),
        _ => return None,
    };
    Some((cfg.directory_url, cfg.caa_identities, eab))
}

fn eab_context(id: &CaAccountId) -> String {
    format!("ca-account-eab:{id}")
}

fn credentials_context(id: &CaAccountId) -> String {
    format!("ca-account:{id}")
}

fn check_name(s: &str) -> Result<String, ValidationError> {
    let s = s.trim();
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(ValidationError::field(
            "",
            "format",
            "1–64 lowercase letters, digits and inner hyphens, e.g. letsencrypt",
        ))
    }
}

fn check_hmac(key: &SecretString) -> Result<(), ValidationError> {
    let k = key.expose().trim().trim_end_matches('=');
    let ok = !k.is_empty()
        && base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(k)
            .is_ok_and(|b| b.len() >= 16);
    if ok {
        Ok(())
    } else {
        Err(ValidationError::field(
            "",
            "format",
            "must be the base64url HMAC key exactly as the CA shows it (at least 16 bytes)",
        ))
    }
}

/// Creates a CA account (administrators). Nothing is sent to the CA here: the account is
/// registered by the first issuance that uses it.
pub async fn create(
    app: &App,
    admin: Admin<'_>,
    input: &NewCaAccountInput,
) -> AppResult<CaAccount> {
    let caller = admin.0;
    let tenant = caller.tenant();
    let mut c = Checker::new();
    let name = c.take("name", check_name(&input.name));
    let dir = input.directory.trim();
    let (directory_url, preset_caa, needs_eab) = match preset(dir) {
        Some(p) => p,
        None if dir.starts_with("https://") || dir.starts_with("http://") => {
            (dir.to_owned(), Vec::new(), false)
        }
        None => {
            c.push(panel1_core::FieldError::new(
                "directory",
                "enum",
                "use letsencrypt, letsencrypt-staging, zerossl, google, google-staging, sectigo, digicert, globalsign or an ACME directory URL",
            ));
            (String::new(), Vec::new(), false)
        }
    };
    let caa: Vec<String> = match &input.caa_identities {
        Some(list) => list
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let s = s.trim().trim_end_matches('.').to_ascii_lowercase();
                let ok = !s.is_empty()
                    && s.len() <= 253
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
                if ok {
                    Some(s)
                } else {
                    c.push(panel1_core::FieldError::new(
                        format!("caa_identities.{i}"),
                        "format",
                        "an issuer domain name as CAA records name it, e.g. letsencrypt.org",
                    ));
                    None
                }
            })
            .collect(),
        None => preset_caa,
    };
    let contact = match &input.contact_email {
        Some(e) => c.take("contact_email", validate::email(e)),
        None => None,
    };
    match &input.eab {
        Some(e) => {
            if e.key_id.trim().is_empty() || e.key_id.len() > 200 {
                c.push(panel1_core::FieldError::new(
                    "eab.key_id",
                    "length",
                    "the key id the CA shows (1–200 characters)",
                ));
            }
            c.take("eab.hmac_key", check_hmac(&e.hmac_key));
        }
        None if needs_eab => c.push(panel1_core::FieldError::new(
            "eab",
            "required",
            format!(
                "{dir} requires External Account Binding: give the key id and HMAC key from the CA's account page"
            ),
        )),
        None => {}
    }
    c.finish()?;
    let Some(name) = name else {
        return Err(AppError::internal(anyhow::anyhow!(
            "validated input lost a field"
        )));
    };
    let id = CaAccountId::new();
    let eab_sealed = match &input.eab {
        Some(e) => Some(app.keyring.seal_str(&eab_context(&id), &e.hmac_key)?),
        None => None,
    };
    let mut tx = app.db.begin().await?;
    let account = match ca_accounts::insert(
        tx.conn(),
        tenant,
        &NewCaAccount {
            id: &id,
            name: &name,
            directory_url: &directory_url,
            caa_identities: &caa,
            contact_email: contact.as_deref(),
            eab_key_id: input.eab.as_ref().map(|e| e.key_id.trim()),
            eab_hmac_sealed: eab_sealed.as_deref(),
            is_default: input.default,
        },
    )
    .await
    {
        Ok(a) => a,
        Err(StoreError::Conflict { .. }) => {
            return Err(AppError::conflict(
                format!("a CA account named `{name}` already exists; pick another name"),
                Some("name"),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "ca_account.create",
            object_type: "ca_account",
            object_id: id.as_str(),
            summary: format!("added CA account `{name}` ({directory_url})"),
            before: None,
            after: Some(serde_json::to_value(&account).map_err(AppError::internal)?),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(account)
}

/// The tenant's CA accounts (staff). Credentials are never listed.
pub async fn list(app: &App, staff: Staff<'_>) -> AppResult<Vec<CaAccount>> {
    let mut r = app.db.read().await?;
    Ok(ca_accounts::list(r.conn(), staff.0.tenant()).await?)
}

/// Deletes a CA account (administrators); its certificates keep their history.
pub async fn delete(app: &App, admin: Admin<'_>, id: &CaAccountId) -> AppResult<()> {
    let caller = admin.0;
    let mut tx = app.db.begin().await?;
    let account = ca_accounts::get(tx.conn(), caller.tenant(), id)
        .await?
        .ok_or_else(|| AppError::not_found("CA account", id))?;
    ca_accounts::delete(tx.conn(), caller.tenant(), id).await?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "ca_account.delete",
            object_type: "ca_account",
            object_id: id.as_str(),
            summary: format!("deleted CA account `{}`", account.name),
            before: Some(serde_json::to_value(&account).map_err(AppError::internal)?),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The tenant's default CA account, created from the `acme_directory_url` setting the first
/// time a tenant without one orders a certificate.
pub async fn default_account(app: &App, tenant: &TenantId) -> AppResult<CaAccount> {
    {
        let mut r = app.db.read().await?;
        if let Some(a) = ca_accounts::get_default(r.conn(), tenant).await? {
            return Ok(a);
        }
    }
    let url = app.settings.acme_directory_url.clone();
    let caa = if url.contains("api.letsencrypt.org") {
        vec!["letsencrypt.org".to_owned()]
    } else {
        Vec::new()
    };
    let id = CaAccountId::new();
    let mut tx = app.db.begin().await?;
    if let Some(a) = ca_accounts::get_default(tx.conn(), tenant).await? {
        return Ok(a);
    }
    let taken: Vec<String> = ca_accounts::list(tx.conn(), tenant)
        .await?
        .into_iter()
        .map(|a| a.name)
        .collect();
    let name = (0..)
        .map(|i| {
            if i == 0 {
                "default".to_owned()
            } else {
                format!("default-{i}")
            }
        })
        .find(|n| !taken.contains(n))
        .unwrap_or_else(|| "default".into());
    let account = ca_accounts::insert(
        tx.conn(),
        tenant,
        &NewCaAccount {
            id: &id,
            name: &name,
            directory_url: &url,
            caa_identities: &caa,
            contact_email: None,
            eab_key_id: None,
            eab_hmac_sealed: None,
            is_default: true,
        },
    )
    .await?;
    audit::record_as(
        &mut tx,
        tenant,
        &Actor::system("certificates"),
        None,
        Change {
            action: "ca_account.create",
            object_type: "ca_account",
            object_id: id.as_str(),
            summary: format!("added the default CA account `{name}` ({url})"),
            before: None,
            after: Some(serde_json::to_value(&account).map_err(AppError::internal)?),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant = %tenant, directory = %url, "provisioned the default CA account");
    Ok(account)
}

struct Cached {
    version: String,
    ca: Arc<AcmeAuthority>,
}

/// CA adapters by account (rebuilt when the account's directory or binding changes), so the
/// local order rate limit and loaded ACME accounts are shared by every job of the process.
static AUTHORITIES: LazyLock<Mutex<HashMap<CaAccountId, Cached>>> = LazyLock::new(Default::default);

/// The CA adapter of an account.
pub fn authority(app: &App, account: &CaAccount) -> Result<Arc<dyn CertificateAuthority>, CaError> {
    let version = format!(
        "{}|{:?}|{:?}|{:?}",
        account.directory_url, account.eab_key_id, account.eab_hmac_sealed, account.caa_identities
    );
    if let Ok(map) = AUTHORITIES.lock()
        && let Some(c) = map.get(&account.id)
        && c.version == version
    {
        return Ok(c.ca.clone());
    }
    let mut cfg = AcmeConfig::new(account.name.clone(), account.directory_url.clone());
    cfg.caa_identities = account.caa_identities.clone();
    if let (Some(kid), Some(sealed)) = (&account.eab_key_id, &account.eab_hmac_sealed) {
        let hmac = app
            .keyring
            .open_str(&eab_context(&account.id), sealed)
            .map_err(|e| CaError::BadCredentials {
                ca: account.name.clone(),
                reason: format!("the sealed EAB key cannot be opened ({e})"),
            })?;
        cfg.eab = Some(ExternalAccountBinding {
            key_id: kid.clone(),
            hmac_key: hmac,
        });
    }
    if let Some(path) = &app.settings.acme_root_certificates_file {
        cfg.root_certificates_pem =
            Some(
                std::fs::read_to_string(path).map_err(|e| CaError::Protocol {
                    ca: account.name.clone(),
                    detail: format!(
                        "acme_root_certificates_file {} cannot be read: {e}",
                        path.display()
                    ),
                })?,
            );
    }
    if app.settings.acme_orders_limit > 0 {
        cfg.new_orders = Some(OrderRateLimit {
            orders: app.settings.acme_orders_limit,
            window_secs: app.settings.acme_orders_window_secs,
        });
    }
    cfg.max_in_flight = app.settings.worker_concurrency.max(4) * 2;
    let ca = Arc::new(AcmeAuthority::new(cfg)?);
    if let Ok(mut map) = AUTHORITIES.lock() {
        map.insert(
            account.id.clone(),
            Cached {
                version,
                ca: ca.clone(),
            },
        );
    }
    Ok(ca)
}

/// Records CA calls in the certificate operations log (in their own transaction).
pub async fn log_calls(
    app: &App,
    tenant: &TenantId,
    certificate: Option<&CertificateId>,
    account: &CaAccountId,
    step: &str,
    calls: &[CaCall],
    job: Option<&JobId>,
) {
    if calls.is_empty() {
        return;
    }
    let result = async {
        let mut tx = app.db.begin().await?;
        for call in calls {
            repo::insert_operation(
                tx.conn(),
                tenant,
                &NewCaOperation {
                    certificate_id: certificate,
                    ca_account_id: Some(account),
                    step,
                    method: &call.method,
                    url: &call.url,
                    status: call.status.map(i64::from),
                    duration_ms: i64::try_from(call.duration_ms).unwrap_or(i64::MAX),
                    problem: call.error.as_deref(),
                    retry_after_secs: call.retry_after_secs.and_then(|s| i64::try_from(s).ok()),
                    job_id: job,
                },
            )
            .await?;
        }
        tx.commit().await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, step, "could not record CA calls in the operations log");
    }
}

/// Why the ACME account could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    #[error(transparent)]
    Ca(#[from] CaError),
    #[error("the registered ACME account could not be stored: {0}")]
    Store(#[from] StoreError),
}

/// The registered ACME account of a CA account, registering it first if needed (the
/// account key is sealed and stored; a concurrent registration by another worker wins and
/// is used instead).
pub async fn registered(
    app: &App,
    ca: &dyn CertificateAuthority,
    account: &CaAccount,
    certificate: Option<&CertificateId>,
    job: Option<&JobId>,
) -> Result<panel1_ca::CaAccount, RegisterError> {
    let tenant = &account.tenant_id;
    if let (Some(url), Some(sealed)) = (&account.account_url, &account.credentials_sealed) {
        let credentials = app
            .keyring
            .open_str(&credentials_context(&account.id), sealed)
            .map_err(|e| CaError::BadCredentials {
                ca: account.name.clone(),
                reason: format!("the sealed account key cannot be opened ({e})"),
            })?;
        return Ok(panel1_ca::CaAccount {
            ca: account.name.clone(),
            url: url.clone(),
            credentials,
        });
    }
    let request = AccountRequest {
        contacts: account.contact_email.iter().cloned().collect(),
        eab: None,
        terms_of_service_agreed: true,
    };
    let (created, calls) = record_calls(ca.create_account(&request)).await;
    log_calls(
        app,
        tenant,
        certificate,
        &account.id,
        "account",
        &calls,
        job,
    )
    .await;
    let created = match created {
        Ok(a) => a,
        Err(e) => {
            if let Ok(mut tx) = app.db.begin().await {
                let _ =
                    ca_accounts::set_failed(tx.conn(), tenant, &account.id, &e.to_string()).await;
                let _ = tx.commit().await;
            }
            return Err(e.into());
        }
    };
    let sealed = app
        .keyring
        .seal_str(&credentials_context(&account.id), &created.credentials)
        .map_err(|e| CaError::Protocol {
            ca: account.name.clone(),
            detail: format!("cannot seal the account key: {e}"),
        })?;
    let store = async {
        let mut tx = app.db.begin().await?;
        let won =
            ca_accounts::set_registered(tx.conn(), tenant, &account.id, &created.url, &sealed)
                .await?;
        let now = ca_accounts::get_any(tx.conn(), tenant, &account.id).await?;
        tx.commit().await?;
        Ok::<_, StoreError>((won, now))
    }
    .await;
    match store {
        Ok((true, _)) => {
            tracing::info!(tenant = %tenant, ca = %account.name, url = %created.url, "registered the ACME account");
            Ok(created)
        }
        // Another worker registered first: use its account.
        Ok((false, Some(current))) if current.credentials_sealed.is_some() => {
            Box::pin(registered(app, ca, &current, certificate, job)).await
        }
        Ok(_) => Ok(created),
        Err(e) => Err(e.into()),
    }
}
