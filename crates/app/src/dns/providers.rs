//! External DNS providers and secondaries.
//!
//! A provider account (PowerDNS's HTTP API, or RFC 2136 dynamic updates with TSIG) is checked
//! by building its adapter, then stored with its whole settings sealed with the master key
//! (bound to the account id); listings show the settings without credentials. A zone pushed to
//! a provider is synced by the `dns::sync_zone` job after every commit (ordered per zone,
//! retried with backoff, each call logged in `dns_provider_calls`); a deleted zone is removed
//! there by `dns::delete_zone`.
//!
//! Secondaries follow a tenant's hosted zones: NOTIFY goes to their address after each
//! change, and zone transfers are allowed from their network or with their TSIG key (sealed).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hickory_proto::rr::Name;
use panel1_core::validate::{self, Checker};
use panel1_core::{DnsProviderId, DnsSecondaryId, FieldError, SecretString, TenantId, ZoneId};
use panel1_dns::provider::ProviderConfig;
use panel1_dns::{DnsProvider, TsigKey};
use panel1_jobs::{EnqueueOptions, Job, JobContext, JobError};
use panel1_store::Tx;
use panel1_store::dns_providers::{
    self as repo, DnsSecondary, NewProvider, NewProviderCall, ProviderCall,
};
use panel1_store::dns_zones;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{self, Change};
use crate::{App, AppError, AppResult, Caller, Staff};

/// A provider account as shown: never its credentials.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProviderInfo {
    #[schema(value_type = String)]
    pub id: DnsProviderId,
    pub name: String,
    /// `powerdns` or `rfc2136`.
    pub kind: String,
    /// The settings without credentials.
    pub settings: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<repo::DnsProvider> for ProviderInfo {
    fn from(p: repo::DnsProvider) -> Self {
        Self {
            id: p.id,
            name: p.name,
            kind: p.kind,
            settings: p.settings,
            created_at: p.created_at,
        }
    }
}

/// A new provider account.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProviderInput {
    #[schema(example = "pdns-eu")]
    pub name: String,
    /// `powerdns` or `rfc2136`.
    #[schema(example = "powerdns")]
    pub kind: String,
    /// PowerDNS: `{"api_url": "http://127.0.0.1:8081", "api_key": "…", "server_id":
    /// "localhost", "zone_kind": "Native"}`. RFC 2136: `{"server": "192.0.2.53:53", "key":
    /// {"name": "update-key.", "algorithm": "hmac-sha256", "secret": "<base64>"}}`.
    /// Credentials (`api_key`, `key.secret`) are sealed and never shown again.
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
}

/// The settings as shown: credentials removed.
fn public_settings(settings: &serde_json::Value) -> serde_json::Value {
    let mut v = settings.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("api_key");
        o.remove("kind");
        if let Some(k) = o.get_mut("key").and_then(|k| k.as_object_mut()) {
            k.remove("secret");
        }
    }
    v
}

fn context(id: &DnsProviderId) -> String {
    format!("dns_provider:{id}")
}

fn secondary_context(id: &DnsSecondaryId) -> String {
    format!("dns_secondary:{id}")
}

/// Parses and builds a provider's settings; errors name `settings`.
fn build(kind: &str, settings: &serde_json::Value) -> Result<Arc<dyn DnsProvider>, FieldError> {
    if !matches!(kind, "powerdns" | "rfc2136") {
        return Err(FieldError::new(
            "kind",
            "one_of",
            "the kind is `powerdns` (PowerDNS HTTP API) or `rfc2136` (dynamic updates)",
        ));
    }
    let mut tagged = settings.clone();
    let Some(o) = tagged.as_object_mut() else {
        return Err(FieldError::new(
            "settings",
            "format",
            "the settings are a JSON object",
        ));
    };
    o.insert("kind".into(), serde_json::Value::String(kind.to_owned()));
    let config: ProviderConfig = serde_json::from_value(tagged).map_err(|e| {
        FieldError::new(
            "settings",
            "format",
            format!("the {kind} settings are not valid: {e}"),
        )
    })?;
    config
        .build(None)
        .map_err(|e| FieldError::new("settings", "invalid", e.to_string()))
}

/// Creates a provider account (administrators).
pub async fn create_provider(
    app: &App,
    caller: &Caller,
    input: &NewProviderInput,
) -> AppResult<ProviderInfo> {
    let admin = caller.admin()?;
    let mut c = Checker::new();
    let name = c.take("name", validate::text(&input.name, 100));
    if let Err(e) = build(&input.kind, &input.settings) {
        c.push(e);
    }
    c.finish()?;
    let name = name.unwrap_or_default();
    let id = DnsProviderId::new();
    let sealed = app
        .keyring
        .seal(&context(&id), input.settings.to_string().as_bytes())?;
    let shown = public_settings(&input.settings);
    let mut tx = app.db.begin().await?;
    let p = repo::insert_provider(
        tx.conn(),
        &NewProvider {
            id: &id,
            tenant_id: admin.0.tenant(),
            name: &name,
            kind: &input.kind,
            settings: &shown,
            secret_sealed: Some(&sealed),
        },
    )
    .await
    .map_err(|e| match e {
        panel1_store::StoreError::Conflict { .. } => AppError::conflict(
            format!("a DNS provider account named `{name}` exists"),
            Some("name"),
        ),
        other => other.into(),
    })?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "dns.provider.create",
            object_type: "dns_provider",
            object_id: p.id.as_str(),
            summary: format!("added the {} DNS provider account `{}`", p.kind, p.name),
            before: None,
            after: Some(shown),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(p.into())
}

pub async fn list_providers(app: &App, staff: Staff<'_>) -> AppResult<Vec<ProviderInfo>> {
    let mut r = app.db.read().await?;
    Ok(repo::list_providers(r.conn(), staff.0.tenant())
        .await?
        .into_iter()
        .map(ProviderInfo::from)
        .collect())
}

/// Deletes a provider account that no zone uses.
pub async fn delete_provider(app: &App, caller: &Caller, id: &DnsProviderId) -> AppResult<()> {
    let admin = caller.admin()?;
    let mut tx = app.db.begin().await?;
    let tenant = admin.0.tenant();
    let used = repo::zones_using(tx.conn(), tenant, id).await?;
    if used > 0 {
        return Err(AppError::conflict(
            format!("{used} zone(s) are pushed to this provider; delete or move them first"),
            None,
        ));
    }
    if !repo::delete_provider(tx.conn(), tenant, id).await? {
        return Err(AppError::not_found("DNS provider", id));
    }
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "dns.provider.delete",
            object_type: "dns_provider",
            object_id: id.as_str(),
            summary: "deleted a DNS provider account".into(),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The adapter of a stored account, built from its sealed settings.
pub fn adapter(app: &App, p: &repo::DnsProvider) -> Result<Arc<dyn DnsProvider>, String> {
    let sealed = p
        .secret_sealed
        .as_deref()
        .ok_or_else(|| "the account has no sealed settings".to_owned())?;
    let plain = app
        .keyring
        .open(&context(&p.id), sealed)
        .map_err(|e| format!("its sealed settings cannot be opened: {e}"))?;
    let settings: serde_json::Value =
        serde_json::from_slice(&plain).map_err(|e| format!("sealed settings: {e}"))?;
    build(&p.kind, &settings).map_err(|e| e.message)
}

// --- Secondaries ----------------------------------------------------------------------------

/// A secondary as shown (never its TSIG secret).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SecondaryInfo {
    #[schema(value_type = String)]
    pub id: DnsSecondaryId,
    pub name: String,
    pub notify_address: Option<String>,
    pub allow_from: Option<String>,
    pub tsig_name: Option<String>,
    pub tsig_algorithm: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<DnsSecondary> for SecondaryInfo {
    fn from(s: DnsSecondary) -> Self {
        Self {
            id: s.id,
            name: s.name,
            notify_address: s.notify_address,
            allow_from: s.allow_from,
            tsig_name: s.tsig_name,
            tsig_algorithm: s.tsig_algorithm,
            created_at: s.created_at,
        }
    }
}

/// A TSIG key, as BIND and Knot write it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TsigInput {
    #[schema(example = "transfer-key.")]
    pub name: String,
    /// `hmac-sha256` (default), `hmac-sha384` or `hmac-sha512`.
    pub algorithm: Option<String>,
    /// Base64. Sealed, never shown again.
    #[schema(value_type = String)]
    pub secret: SecretString,
}

/// A secondary name server of the tenant's hosted zones.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSecondaryInput {
    #[schema(example = "knot-1")]
    pub name: String,
    /// Where NOTIFY goes after every change: `192.0.2.53:53`.
    pub notify_address: Option<String>,
    /// Addresses that may transfer the zones without a key: `192.0.2.0/24` or `192.0.2.53`.
    pub allow_from: Option<String>,
    /// A key that may transfer the zones (and signs NOTIFY to this secondary).
    pub tsig: Option<TsigInput>,
}

pub async fn create_secondary(
    app: &App,
    caller: &Caller,
    input: &NewSecondaryInput,
) -> AppResult<SecondaryInfo> {
    let admin = caller.admin()?;
    let mut c = Checker::new();
    let name = c.take("name", validate::text(&input.name, 100));
    if let Some(a) = &input.notify_address
        && a.parse::<std::net::SocketAddr>().is_err()
    {
        c.push(FieldError::new(
            "notify_address",
            "format",
            "an address with a port, like 192.0.2.53:53",
        ));
    }
    let allow = input.allow_from.as_deref().map(parse_net);
    if let Some(Err(e)) = &allow {
        c.push(e.clone());
    }
    let key = input.tsig.as_ref().map(|t| {
        TsigKey::new(
            &t.name,
            t.algorithm.as_deref().unwrap_or("hmac-sha256"),
            t.secret.clone(),
        )
    });
    if let Some(k) = &key
        && let Err(e) = k.signer()
    {
        c.push(FieldError::new("tsig", "invalid", e.to_string()));
    }
    if input.notify_address.is_none() && input.allow_from.is_none() && input.tsig.is_none() {
        c.push(FieldError::new(
            "notify_address",
            "required",
            "give a NOTIFY address, an address allowed to transfer, or a TSIG key",
        ));
    }
    c.finish()?;
    let id = DnsSecondaryId::new();
    let sealed = match &key {
        Some(k) => Some(app.keyring.seal_str(&secondary_context(&id), &k.secret)?),
        None => None,
    };
    let s = DnsSecondary {
        id: id.clone(),
        tenant_id: admin.0.tenant().clone(),
        name: name.unwrap_or_default(),
        notify_address: input.notify_address.clone(),
        allow_from: match allow {
            Some(Ok(n)) => Some(n.to_string()),
            _ => None,
        },
        tsig_name: key.as_ref().map(|k| normal_key_name(&k.name)),
        tsig_algorithm: key.as_ref().map(|k| k.algorithm.clone()),
        tsig_sealed: sealed,
        created_at: Utc::now(),
    };
    let mut tx = app.db.begin().await?;
    repo::insert_secondary(tx.conn(), &s)
        .await
        .map_err(|e| match e {
            panel1_store::StoreError::Conflict { .. } => {
                AppError::conflict("this TSIG key name is already used", Some("tsig.name"))
            }
            other => other.into(),
        })?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "dns.secondary.create",
            object_type: "dns_secondary",
            object_id: id.as_str(),
            summary: format!("added the secondary `{}`", s.name),
            before: None,
            after: Some(
                serde_json::to_value(SecondaryInfo::from(s.clone())).map_err(AppError::internal)?,
            ),
        },
    )
    .await?;
    tx.commit().await?;
    super::changed();
    Ok(s.into())
}

fn normal_key_name(n: &str) -> String {
    let n = n.trim().to_ascii_lowercase();
    if n.ends_with('.') { n } else { format!("{n}.") }
}

fn parse_net(s: &str) -> Result<ipnet::IpNet, FieldError> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| {
            FieldError::new(
                "allow_from",
                "format",
                "an address or network, like 192.0.2.53 or 192.0.2.0/24",
            )
        })
}

pub async fn list_secondaries(app: &App, staff: Staff<'_>) -> AppResult<Vec<SecondaryInfo>> {
    let mut r = app.db.read().await?;
    Ok(repo::list_secondaries(r.conn(), staff.0.tenant())
        .await?
        .into_iter()
        .map(SecondaryInfo::from)
        .collect())
}

pub async fn delete_secondary(app: &App, caller: &Caller, id: &DnsSecondaryId) -> AppResult<()> {
    let admin = caller.admin()?;
    let mut tx = app.db.begin().await?;
    if !repo::delete_secondary(tx.conn(), admin.0.tenant(), id).await? {
        return Err(AppError::not_found("DNS secondary", id));
    }
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "dns.secondary.delete",
            object_type: "dns_secondary",
            object_id: id.as_str(),
            summary: "deleted a secondary".into(),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    super::changed();
    Ok(())
}

/// A secondary as the DNS server uses it.
pub struct ServingSecondary {
    pub tenant_id: TenantId,
    pub notify: Option<std::net::SocketAddr>,
    pub allow: Option<ipnet::IpNet>,
    pub key: Option<TsigKey>,
}

/// Every tenant's secondaries, with their keys opened.
pub async fn serving_secondaries(app: &App) -> anyhow::Result<Vec<ServingSecondary>> {
    let mut r = app.db.read().await?;
    let all = repo::all_secondaries(r.conn()).await?;
    let mut out = Vec::with_capacity(all.len());
    for s in all {
        let key = match (&s.tsig_name, &s.tsig_sealed) {
            (Some(n), Some(sealed)) => {
                match app.keyring.open_str(&secondary_context(&s.id), sealed) {
                    Ok(secret) => Some(TsigKey::new(
                        n,
                        s.tsig_algorithm.as_deref().unwrap_or("hmac-sha256"),
                        secret,
                    )),
                    Err(e) => {
                        tracing::warn!(secondary = %s.id, error = %e, "a secondary's TSIG key cannot be opened; ignored");
                        None
                    }
                }
            }
            _ => None,
        };
        out.push(ServingSecondary {
            tenant_id: s.tenant_id,
            notify: s.notify_address.as_deref().and_then(|a| a.parse().ok()),
            allow: s.allow_from.as_deref().and_then(|a| parse_net(a).ok()),
            key,
        });
    }
    Ok(out)
}

/// The calls made to a zone's provider, newest first.
pub async fn list_calls(app: &App, caller: &Caller, zone: &ZoneId) -> AppResult<Vec<ProviderCall>> {
    let scope = caller.scope();
    let mut r = app.db.read().await?;
    if dns_zones::get(r.conn(), &scope, zone).await?.is_none() {
        return Err(AppError::not_found("zone", zone));
    }
    Ok(repo::list_calls(r.conn(), &scope, zone, 50).await?)
}

// --- Jobs -----------------------------------------------------------------------------------

pub(crate) async fn enqueue_sync(tx: &mut Tx, z: &dns_zones::Zone) -> AppResult<()> {
    panel1_jobs::enqueue(
        tx,
        &SyncZone {
            zone_id: z.id.clone(),
            tenant_id: z.tenant_id.clone(),
            version: z.version,
        },
        EnqueueOptions {
            tenant_id: Some(z.tenant_id.clone()),
            ..EnqueueOptions::default()
        },
    )
    .await?;
    Ok(())
}

pub(crate) async fn enqueue_delete(
    tx: &mut Tx,
    z: &dns_zones::Zone,
    provider: &DnsProviderId,
) -> AppResult<()> {
    panel1_jobs::enqueue(
        tx,
        &DeleteProviderZone {
            zone_id: z.id.clone(),
            tenant_id: z.tenant_id.clone(),
            provider_id: provider.clone(),
            name: z.name.clone(),
        },
        EnqueueOptions {
            tenant_id: Some(z.tenant_id.clone()),
            ..EnqueueOptions::default()
        },
    )
    .await?;
    Ok(())
}

fn job_error(e: &panel1_dns::ProviderError) -> JobError {
    if e.is_retryable() {
        JobError::retry(e)
    } else {
        JobError::permanent(e)
    }
}

/// Makes the provider's copy of a zone equal Panel1's (creating it there if missing).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncZone {
    pub zone_id: ZoneId,
    pub tenant_id: TenantId,
    /// The zone's version when the job was queued (a later job covers later versions).
    pub version: i64,
}

#[async_trait]
impl Job for SyncZone {
    const KIND: &'static str = "dns::sync_zone";
    const MAX_ATTEMPTS: i64 = 12;
    type Context = App;

    fn ordering_key(&self) -> Option<String> {
        Some(format!("dnszone:{}", self.zone_id))
    }

    async fn run(&self, app: &App, job: &JobContext) -> Result<(), JobError> {
        let scope = panel1_core::Scope::tenant(self.tenant_id.clone());
        let (z, p, zone) = {
            let mut r = app.db.read().await?;
            let Some(z) = dns_zones::get(r.conn(), &scope, &self.zone_id).await? else {
                return Ok(()); // deleted since: the delete job removes it there
            };
            if z.provider_version.is_some_and(|v| v >= z.version)
                && z.provider_status.as_deref() == Some("synced")
            {
                return Ok(()); // an earlier run already pushed this version
            }
            let Some(pid) = &z.provider_id else {
                return Ok(());
            };
            let Some(p) = repo::get_provider(r.conn(), &self.tenant_id, pid).await? else {
                return Err(JobError::permanent(format!(
                    "the provider account {pid} is gone"
                )));
            };
            let zone = super::service::load_zone(r.conn(), &z)
                .await
                .map_err(|e| JobError::retry(format!("loading the zone: {e}")))?;
            (z, p, zone)
        };
        let adapter = adapter(app, &p).map_err(JobError::permanent)?;
        let started = Instant::now();
        let result = adapter.sync_zone(&zone).await;
        let ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let err = result.as_ref().err().map(ToString::to_string);
        let retryable = result.as_ref().err().is_some_and(|e| e.is_retryable());
        let last = job.is_last_attempt() || (err.is_some() && !retryable);
        let mut tx = app.db.begin().await?;
        repo::log_call(
            tx.conn(),
            &NewProviderCall {
                tenant_id: &self.tenant_id,
                provider_id: &p.id,
                zone_id: Some(&z.id),
                zone_name: &z.name,
                operation: "sync_zone",
                error: err.as_deref(),
                retryable: retryable && !last,
                duration_ms: ms,
            },
        )
        .await?;
        match &result {
            Ok(()) => {
                dns_zones::set_provider_status(tx.conn(), z.seq, "synced", z.version, None).await?;
                job.complete_in(&mut tx).await?;
                tx.commit().await?;
                tracing::info!(zone = %z.name, provider = %p.name, version = z.version, "zone pushed to its DNS provider");
                Ok(())
            }
            Err(e) => {
                let status = if last { "failed" } else { "pending" };
                dns_zones::set_provider_status(
                    tx.conn(),
                    z.seq,
                    status,
                    z.version - 1,
                    err.as_deref(),
                )
                .await?;
                tx.commit().await?;
                tracing::warn!(zone = %z.name, provider = %p.name, error = %e, "pushing a zone to its DNS provider failed");
                Err(job_error(e))
            }
        }
    }
}

/// Deletes a zone from its provider after it was deleted in Panel1.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteProviderZone {
    pub zone_id: ZoneId,
    pub tenant_id: TenantId,
    pub provider_id: DnsProviderId,
    pub name: String,
}

#[async_trait]
impl Job for DeleteProviderZone {
    const KIND: &'static str = "dns::delete_zone";
    const MAX_ATTEMPTS: i64 = 12;
    type Context = App;

    fn ordering_key(&self) -> Option<String> {
        Some(format!("dnszone:{}", self.zone_id))
    }

    async fn run(&self, app: &App, _job: &JobContext) -> Result<(), JobError> {
        let p = {
            let mut r = app.db.read().await?;
            repo::get_provider(r.conn(), &self.tenant_id, &self.provider_id).await?
        };
        let Some(p) = p else {
            return Ok(()); // the account is gone: nothing left to delete through it
        };
        let origin = Name::from_ascii(format!("{}.", self.name)).map_err(JobError::permanent)?;
        let adapter = adapter(app, &p).map_err(JobError::permanent)?;
        let started = Instant::now();
        let result = adapter.delete_zone(&origin).await;
        let ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let err = result.as_ref().err().map(ToString::to_string);
        let mut tx = app.db.begin().await?;
        repo::log_call(
            tx.conn(),
            &NewProviderCall {
                tenant_id: &self.tenant_id,
                provider_id: &p.id,
                zone_id: Some(&self.zone_id),
                zone_name: &self.name,
                operation: "delete_zone",
                error: err.as_deref(),
                retryable: result.as_ref().err().is_some_and(|e| e.is_retryable()),
                duration_ms: ms,
            },
        )
        .await?;
        tx.commit().await?;
        result.map_err(|e| job_error(&e))
    }
}
