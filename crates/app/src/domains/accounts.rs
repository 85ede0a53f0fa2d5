//! A tenant's registrar accounts and which TLD each one registers; the registrar instances
//! built from them; and the demo sandbox account a new tenant gets.
//!
//! An account's settings are checked by building the adapter before they are stored. The whole
//! settings (credentials included) are sealed with the master key, bound to the account's id;
//! the API only ever shows them without the credentials (`api_key`, `password`,
//! `client_key_pem`).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use panel1_core::domain_name::DomainName;
use panel1_core::validate::Checker;
use panel1_core::{FieldError, RegistrarAccountId, TenantId, ValidationError};
use panel1_registrar::sandbox::{SandboxConfig, SandboxRegistry};
use panel1_registrar::{Registrar, RegistrarConfig, RegistrarError};
use panel1_store::audit::Actor;
use panel1_store::registrars::{self, NewAccount, RegistrarAccount, TldMapping};
use panel1_store::{StoreError, domains as domain_repo};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{self, Change};
use crate::{Admin, App, AppError, AppResult, Staff};

/// Settings keys that hold credentials: accepted, sealed, never shown again.
pub const SECRET_SETTINGS: [&str; 3] = ["api_key", "password", "client_key_pem"];

/// The TLDs the demo sandbox account registers.
pub const DEMO_TLDS: [&str; 5] = ["test", "example", "com", "net", "org"];

/// The name of the demo sandbox account.
pub const DEMO_ACCOUNT: &str = "sandbox";

/// A new registrar account.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRegistrarAccount {
    /// Unique within the tenant: lowercase letters, digits and hyphens.
    #[schema(example = "namecheap-main")]
    pub name: String,
    /// The adapter: `sandbox`, `namecheap` or `epp`.
    #[serde(rename = "type")]
    #[schema(example = "namecheap")]
    pub adapter: String,
    /// The adapter's settings. Namecheap: `api_user`, `api_key`, `client_ip`, `sandbox`,
    /// `username`. EPP: `host`, `port`, `client_id`, `password`, `ca_pem`, `client_cert_pem`,
    /// `client_key_pem`, `tlds`. Sandbox: `account`, `initial_balance_minor` (the registry file
    /// is the installation's). Credentials are write-only.
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"api_user": "ann", "api_key": "…", "client_ip": "192.0.2.1", "sandbox": true}))]
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// TLDs to register through this account from now on (`com`, `co.uk`).
    #[serde(default)]
    pub tlds: Vec<String>,
}

/// A registrar account with the TLDs it registers. Credentials are never shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegistrarAccountView {
    #[serde(flatten)]
    pub account: RegistrarAccount,
    pub tlds: Vec<String>,
}

/// Which account registers a TLD.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTldRegistrar {
    pub account_id: RegistrarAccountId,
}

fn context(id: &RegistrarAccountId) -> String {
    format!("registrar-account:{id}")
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
            "1–64 lowercase letters, digits and inner hyphens, e.g. namecheap-main",
        ))
    }
}

/// A TLD as a tenant maps it: a public suffix such as `com`, `co.uk` or `рф` (stored in
/// A-label form).
pub fn parse_tld(s: &str) -> Result<String, ValidationError> {
    let t = s.trim().trim_start_matches('.').to_lowercase();
    let bad = |why: String| ValidationError::field("", "tld", why);
    if t.is_empty() {
        return Err(bad("a TLD is required, like `com` or `co.uk`".into()));
    }
    let probe = DomainName::parse(&format!("x.{t}"))
        .map_err(|e| bad(format!("`{t}` is not a valid TLD: {}", e.summary())))?;
    let ascii = probe
        .as_ascii()
        .strip_prefix("x.")
        .unwrap_or_default()
        .to_owned();
    if probe.public_suffix() != ascii {
        return Err(bad(format!(
            "`{t}` is not a public suffix: names are registered under `{}`; map that instead",
            probe.public_suffix_unicode()
        )));
    }
    Ok(ascii)
}

/// The settings without credentials (and without the `type` tag).
fn public_settings(config: &serde_json::Value) -> serde_json::Value {
    let mut v = config.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("type");
        for k in SECRET_SETTINGS {
            if m.contains_key(k) {
                m.insert(k.to_owned(), serde_json::Value::String("***".into()));
            }
        }
    }
    v
}

/// The field a serde message names (`missing field `api_key``), under `settings`.
fn settings_field(msg: &str) -> String {
    for marker in ["missing field `", "unknown field `"] {
        if let Some(rest) = msg.find(marker).map(|i| &msg[i + marker.len()..])
            && let Some(name) = rest.split('`').next()
        {
            return format!("settings.{name}");
        }
    }
    "settings".into()
}

/// Builds the full settings of a new account and checks them by building the adapter.
async fn check_config(
    app: &App,
    tenant: &TenantId,
    adapter: &str,
    settings: &serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Value, ValidationError> {
    let mut m = settings.clone();
    match adapter {
        "sandbox" => {
            if m.contains_key("path") {
                return Err(ValidationError::field(
                    "settings.path",
                    "forbidden",
                    "the sandbox registry's file is set by the installation (setting `sandbox_registry`); leave `path` out",
                ));
            }
            m.insert(
                "path".into(),
                serde_json::Value::String(app.settings.sandbox_registry.display().to_string()),
            );
            m.entry("account")
                .or_insert_with(|| serde_json::Value::String(tenant.to_string()));
        }
        "namecheap" | "epp" => {}
        other => {
            return Err(ValidationError::field(
                "type",
                "enum",
                format!(
                    "`{}` is not a registrar adapter: use sandbox, namecheap or epp",
                    other.chars().take(40).collect::<String>()
                ),
            ));
        }
    }
    if m.keys().any(|k| k == "type") {
        return Err(ValidationError::field(
            "settings.type",
            "forbidden",
            "give the adapter as the top-level `type`",
        ));
    }
    m.insert("type".into(), serde_json::Value::String(adapter.to_owned()));
    let value = serde_json::Value::Object(m);
    let config: RegistrarConfig = serde_json::from_value(value.clone()).map_err(|e| {
        let msg = e.to_string();
        ValidationError::field(
            settings_field(&msg),
            "invalid",
            format!("the {adapter} settings were refused: {msg}"),
        )
    })?;
    build(app, &config).await.map_err(|e| {
        ValidationError::field(
            "settings",
            "invalid",
            format!("the {adapter} settings were refused: {e}"),
        )
    })?;
    Ok(value)
}

/// Creates a registrar account (administrators), optionally mapping TLDs to it.
pub async fn create(
    app: &App,
    admin: Admin<'_>,
    input: &NewRegistrarAccount,
) -> AppResult<RegistrarAccountView> {
    let caller = admin.0;
    let tenant = caller.tenant();
    let mut c = Checker::new();
    let name = c.take("name", check_name(&input.name));
    let tlds: Vec<String> = input
        .tlds
        .iter()
        .enumerate()
        .filter_map(|(i, t)| c.take(&format!("tlds.{i}"), parse_tld(t)))
        .collect();
    let config = match check_config(app, tenant, &input.adapter, &input.settings).await {
        Ok(v) => Some(v),
        Err(e) => {
            for f in e.0 {
                c.push(f);
            }
            None
        }
    };
    c.finish()?;
    let (Some(name), Some(config)) = (name, config) else {
        return Err(AppError::internal(anyhow::anyhow!(
            "validated input lost a field"
        )));
    };
    let id = RegistrarAccountId::new();
    let sealed = app
        .keyring
        .seal(&context(&id), config.to_string().as_bytes())?;
    let settings = public_settings(&config);
    let mut tx = app.db.begin().await?;
    let account = match registrars::insert(
        tx.conn(),
        tenant,
        &NewAccount {
            id: &id,
            name: &name,
            adapter: &input.adapter,
            settings: &settings,
            config_sealed: &sealed,
        },
    )
    .await
    {
        Ok(a) => a,
        Err(StoreError::Conflict { .. }) => {
            return Err(AppError::conflict(
                format!("a registrar account named `{name}` already exists; pick another name"),
                Some("name"),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    for t in &tlds {
        registrars::set_tld(tx.conn(), tenant, t, &id).await?;
    }
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "registrar_account.create",
            object_type: "registrar_account",
            object_id: id.as_str(),
            summary: format!(
                "added {} registrar account `{name}`{}",
                input.adapter,
                if tlds.is_empty() {
                    String::new()
                } else {
                    format!(" for .{}", tlds.join(", ."))
                }
            ),
            before: None,
            after: Some(serde_json::to_value(&account).map_err(AppError::internal)?),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(RegistrarAccountView { account, tlds })
}

/// The tenant's registrar accounts with their TLDs (staff; credentials are never listed).
pub async fn list(app: &App, staff: Staff<'_>) -> AppResult<Vec<RegistrarAccountView>> {
    let tenant = staff.0.tenant();
    ensure_demo(app, tenant).await?;
    let mut r = app.db.read().await?;
    let accounts = registrars::list(r.conn(), tenant).await?;
    let maps = registrars::list_tlds(r.conn(), tenant).await?;
    Ok(accounts
        .into_iter()
        .map(|a| {
            let tlds = maps
                .iter()
                .filter(|m| m.account_id == a.id)
                .map(|m| m.tld.clone())
                .collect();
            RegistrarAccountView { account: a, tlds }
        })
        .collect())
}

/// Deletes an account that no live domain uses (administrators); its TLD mappings go too.
pub async fn delete(app: &App, admin: Admin<'_>, id: &RegistrarAccountId) -> AppResult<()> {
    let caller = admin.0;
    let tenant = caller.tenant();
    let mut tx = app.db.begin().await?;
    let account = registrars::get(tx.conn(), tenant, id)
        .await?
        .ok_or_else(|| AppError::not_found("registrar account", id))?;
    let used = domain_repo::count_for_account(tx.conn(), tenant, id).await?;
    if used > 0 {
        return Err(AppError::conflict(
            format!(
                "registrar account `{}` still sponsors {used} domain(s); transfer them away or let them end first",
                account.name
            ),
            None,
        ));
    }
    registrars::delete(tx.conn(), tenant, id).await?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "registrar_account.delete",
            object_type: "registrar_account",
            object_id: id.as_str(),
            summary: format!("deleted registrar account `{}`", account.name),
            before: Some(serde_json::to_value(&account).map_err(AppError::internal)?),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The tenant's TLD mappings (staff).
pub async fn list_tlds(app: &App, staff: Staff<'_>) -> AppResult<Vec<TldMapping>> {
    let tenant = staff.0.tenant();
    ensure_demo(app, tenant).await?;
    let mut r = app.db.read().await?;
    Ok(registrars::list_tlds(r.conn(), tenant).await?)
}

/// Routes a TLD to an account (administrators).
pub async fn set_tld(
    app: &App,
    admin: Admin<'_>,
    tld: &str,
    input: &SetTldRegistrar,
) -> AppResult<TldMapping> {
    let caller = admin.0;
    let tenant = caller.tenant();
    let tld = parse_tld(tld).map_err(|e| {
        AppError::Invalid(ValidationError(
            e.0.into_iter().map(|f| f.under("tld")).collect(),
        ))
    })?;
    let mut tx = app.db.begin().await?;
    let Some(account) = registrars::get(tx.conn(), tenant, &input.account_id).await? else {
        return Err(ValidationError::field(
            "account_id",
            "not_found",
            format!("no registrar account `{}` exists", input.account_id),
        )
        .into());
    };
    registrars::set_tld(tx.conn(), tenant, &tld, &account.id).await?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "registrar_tld.set",
            object_type: "registrar_tld",
            object_id: &tld,
            summary: format!(".{tld} is now registered through `{}`", account.name),
            before: None,
            after: Some(serde_json::json!({"tld": tld, "account_id": account.id})),
        },
    )
    .await?;
    let mapping = registrars::list_tlds(tx.conn(), tenant)
        .await?
        .into_iter()
        .find(|m| m.tld == tld)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("the TLD mapping vanished")))?;
    tx.commit().await?;
    Ok(mapping)
}

/// Stops routing a TLD anywhere (administrators).
pub async fn remove_tld(app: &App, admin: Admin<'_>, tld: &str) -> AppResult<()> {
    let caller = admin.0;
    let tenant = caller.tenant();
    let tld = parse_tld(tld).map_err(|_| AppError::not_found("TLD mapping", tld))?;
    let mut tx = app.db.begin().await?;
    if !registrars::remove_tld(tx.conn(), tenant, &tld).await? {
        return Err(AppError::not_found("TLD mapping", &tld));
    }
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "registrar_tld.remove",
            object_type: "registrar_tld",
            object_id: &tld,
            summary: format!(".{tld} is no longer mapped to a registrar"),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The account that registers `name` for the tenant: the mapping of its public suffix
/// (`co.uk`), else of its last label (`uk`). A TLD without a mapping is refused with a field
/// error on `field` that names the TLD.
pub async fn account_for(
    app: &App,
    tenant: &TenantId,
    name: &DomainName,
    field: &str,
) -> AppResult<Result<RegistrarAccount, FieldError>> {
    ensure_demo(app, tenant).await?;
    let mut r = app.db.read().await?;
    if let Some(a) = registrars::account_for_tld(r.conn(), tenant, name.public_suffix()).await? {
        return Ok(Ok(a));
    }
    if let Some(a) = registrars::account_for_tld(r.conn(), tenant, name.tld()).await? {
        return Ok(Ok(a));
    }
    Ok(Err(FieldError::new(
        field,
        "unsupported_tld",
        format!(
            "no registrar is configured for .{} in this tenant: an administrator maps the TLD to a registrar account first (setTldRegistrar)",
            name.public_suffix_unicode()
        ),
    )))
}

/// Tenants already checked for a demo account in this process.
static DEMO_CHECKED: LazyLock<Mutex<HashSet<TenantId>>> = LazyLock::new(Default::default);

/// Gives a tenant that never had a registrar account the demo sandbox account (when the
/// `sandbox_demo` setting is on), mapped to [`DEMO_TLDS`], so domains work at once.
pub async fn ensure_demo(app: &App, tenant: &TenantId) -> AppResult<()> {
    if !app.settings.sandbox_demo
        || DEMO_CHECKED
            .lock()
            .map(|s| s.contains(tenant))
            .unwrap_or(false)
    {
        return Ok(());
    }
    let had = {
        let mut r = app.db.read().await?;
        registrars::ever_had_one(r.conn(), tenant).await?
    };
    if !had {
        provision_demo(app, tenant).await?;
    }
    if let Ok(mut s) = DEMO_CHECKED.lock() {
        s.insert(tenant.clone());
    }
    Ok(())
}

async fn provision_demo(app: &App, tenant: &TenantId) -> AppResult<()> {
    let config = serde_json::json!({
        "type": "sandbox",
        "path": app.settings.sandbox_registry.display().to_string(),
        "account": tenant.to_string(),
    });
    let id = RegistrarAccountId::new();
    let sealed = app
        .keyring
        .seal(&context(&id), config.to_string().as_bytes())?;
    let mut tx = app.db.begin().await?;
    if registrars::ever_had_one(tx.conn(), tenant).await? {
        return Ok(());
    }
    let settings = public_settings(&config);
    let inserted = registrars::insert(
        tx.conn(),
        tenant,
        &NewAccount {
            id: &id,
            name: DEMO_ACCOUNT,
            adapter: "sandbox",
            settings: &settings,
            config_sealed: &sealed,
        },
    )
    .await;
    match inserted {
        Ok(_) => {}
        // Another process provisioned it at the same moment.
        Err(StoreError::Conflict { .. }) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    for t in DEMO_TLDS {
        registrars::set_tld(tx.conn(), tenant, t, &id).await?;
    }
    audit::record_as(
        &mut tx,
        tenant,
        &Actor::system("domains"),
        None,
        Change {
            action: "registrar_account.create",
            object_type: "registrar_account",
            object_id: id.as_str(),
            summary: format!(
                "added the demo sandbox registrar account for .{}",
                DEMO_TLDS.join(", .")
            ),
            before: None,
            after: Some(settings),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant = %tenant, "provisioned the demo sandbox registrar account");
    Ok(())
}

struct Cached {
    version: i64,
    registrar: Arc<dyn Registrar>,
}

/// Registrar instances by account (rebuilt when the account changes), and sandbox registries
/// by file, shared by every account on the same file.
static REGISTRARS: LazyLock<Mutex<HashMap<RegistrarAccountId, Cached>>> =
    LazyLock::new(Default::default);
static SANDBOXES: LazyLock<tokio::sync::Mutex<HashMap<PathBuf, SandboxRegistry>>> =
    LazyLock::new(Default::default);

/// The sandbox registry on `path` (opened once per process). The registry also sells
/// `.example`, for demos.
pub async fn sandbox_registry(config: &SandboxConfig) -> Result<SandboxRegistry, RegistrarError> {
    let mut map = SANDBOXES.lock().await;
    if let Some(r) = map.get(&config.path) {
        return Ok(r.clone());
    }
    if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            RegistrarError::config(
                "sandbox",
                format!(
                    "cannot create the directory of the sandbox registry {} (setting `sandbox_registry`): {e}",
                    config.path.display()
                ),
            )
        })?;
    }
    let reg = SandboxRegistry::open(config)
        .await
        .map_err(|e| RegistrarError::config("sandbox", e.to_string()))?;
    reg.set_tld("example", 100, 100, 100, 500)
        .await
        .map_err(|e| RegistrarError::config("sandbox", e.to_string()))?;
    map.insert(config.path.clone(), reg.clone());
    Ok(reg)
}

async fn build(app: &App, config: &RegistrarConfig) -> Result<Arc<dyn Registrar>, RegistrarError> {
    let _ = app;
    match config {
        RegistrarConfig::Sandbox(c) => {
            Ok(Arc::new(sandbox_registry(c).await?.registrar(&c.account)))
        }
        other => other.build().await,
    }
}

/// The registrar of an account, built from its sealed settings (cached per process).
pub async fn registrar(
    app: &App,
    account: &RegistrarAccount,
) -> Result<Arc<dyn Registrar>, RegistrarError> {
    let version = account.updated_at.timestamp_millis();
    if let Ok(map) = REGISTRARS.lock()
        && let Some(c) = map.get(&account.id)
        && c.version == version
    {
        return Ok(c.registrar.clone());
    }
    let bytes = app
        .keyring
        .open(&context(&account.id), &account.config_sealed)
        .map_err(|e| {
            RegistrarError::config(
                &account.name,
                format!("its sealed settings cannot be opened: {e}"),
            )
        })?;
    let config: RegistrarConfig = serde_json::from_slice(&bytes).map_err(|e| {
        RegistrarError::config(
            &account.name,
            format!("its stored settings are invalid: {e}"),
        )
    })?;
    let registrar = build(app, &config).await?;
    if let Ok(mut map) = REGISTRARS.lock() {
        map.insert(
            account.id.clone(),
            Cached {
                version,
                registrar: registrar.clone(),
            },
        );
    }
    Ok(registrar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlds_are_public_suffixes() {
        assert_eq!(parse_tld(".COM").unwrap(), "com");
        assert_eq!(parse_tld("co.uk").unwrap(), "co.uk");
        assert_eq!(parse_tld("рф").unwrap(), "xn--p1ai");
        assert_eq!(parse_tld("test").unwrap(), "test");
        let e = parse_tld("example.com").unwrap_err();
        assert!(e.summary().contains("not a public suffix"), "{e}");
        assert!(parse_tld("").is_err());
        assert!(parse_tld("bad_tld").is_err());
    }

    #[test]
    fn credentials_are_masked_in_public_settings() {
        let v = public_settings(&serde_json::json!({
            "type": "namecheap", "api_user": "ann", "api_key": "k3y-k3y", "client_ip": "192.0.2.1"
        }));
        assert_eq!(v["api_key"], "***");
        assert_eq!(v["api_user"], "ann");
        assert!(v.get("type").is_none());
        assert!(!v.to_string().contains("k3y-k3y"));
    }

    #[test]
    fn serde_messages_name_the_setting() {
        assert_eq!(
            settings_field("missing field `api_key`"),
            "settings.api_key"
        );
        assert_eq!(settings_field("something else"), "settings");
    }
}
