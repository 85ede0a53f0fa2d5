//! The zone service: zones and their records, as the API and the panel ask for them.
//!
//! Every change is checked in full first by `panel1_dns` (each record on its own, then the
//! rules across records: CNAME exclusivity, duplicates, one TTL per RRset, alias targets,
//! delegations), so a refused change writes nothing. A change that passes is committed in
//! one transaction: the records, the zone's new SOA serial (YYYYMMDDnn, RFC 1982) and
//! version, the `dns.zone.changed` event, the audit entry and, for a zone pushed to an
//! external provider, the `dns::sync_zone` job. The DNS view of this process is woken after
//! the commit; views in other processes see the new `version` when they poll.

use chrono::{DateTime, Utc};
use hickory_proto::rr::Name;
use panel1_core::validate::Checker;
use panel1_core::{
    ClientId, DnsProviderId, FieldError, Page, PageRequest, Scope, TenantId, ValidationError,
    ZoneId,
};
use panel1_dns::record::{self, RecordRules, display_name};
use panel1_dns::zone::{self as dz, Change, Soa, ZoneDefaults};
use panel1_dns::{DnsRecord, RecordInput, zonefile};
use panel1_store::audit::Actor;
use panel1_store::dns_zones::{
    self as repo, NewZone, RecordFilter, RecordRef, RecordRow, SoaFields, ZoneFilter, ZoneUpdate,
};
use panel1_store::events::{self, NewEvent};
use panel1_store::{Conn, StoreError, Tx};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{self, Change as AuditChange};
use crate::{App, AppError, AppResult, Caller};

/// A zone as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ZoneInfo {
    #[schema(value_type = String, example = "zon_01J…")]
    pub id: ZoneId,
    /// ASCII (punycode), without the final dot.
    #[schema(example = "example.com")]
    pub name: String,
    /// As people read it (Unicode).
    pub name_unicode: String,
    #[schema(value_type = Option<String>)]
    pub client_id: Option<ClientId>,
    /// The external provider the zone is pushed to; absent: served by Panel1's own server.
    #[schema(value_type = Option<String>)]
    pub provider_id: Option<DnsProviderId>,
    pub soa: SoaFields,
    /// The TTL of records created without one.
    pub default_ttl: i64,
    pub record_count: i64,
    /// Where the provider's copy stands: `pending`, `synced` or `failed` (provider zones).
    pub provider_status: Option<String>,
    pub provider_error: Option<String>,
    pub provider_synced_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<repo::Zone> for ZoneInfo {
    fn from(z: repo::Zone) -> Self {
        Self {
            id: z.id,
            name: z.name,
            name_unicode: z.name_unicode,
            client_id: z.client_id,
            provider_id: z.provider_id,
            soa: z.soa,
            default_ttl: z.default_ttl,
            record_count: z.record_count,
            provider_status: z.provider_status,
            provider_error: z.provider_error,
            provider_synced_at: z.provider_synced_at,
            created_at: z.created_at,
            updated_at: z.updated_at,
        }
    }
}

/// A new zone. Its SOA and NS records come from the tenant's DNS defaults.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewZoneInput {
    /// The zone's name, Unicode or ASCII: `example.com`, `bücher.de`, `2.0.192.in-addr.arpa`.
    #[schema(example = "example.com")]
    pub name: String,
    /// The client it belongs to; client users may leave it out (their own client). Staff may
    /// leave it out for a zone of the tenant itself.
    #[schema(value_type = Option<String>)]
    pub client_id: Option<ClientId>,
    /// Push the zone to this DNS provider account instead of serving it from Panel1.
    #[schema(value_type = Option<String>)]
    pub provider_id: Option<DnsProviderId>,
    /// The TTL of records created without one (default 3600).
    pub default_ttl: Option<u32>,
}

/// A record as it travels: `name` relative to the zone (`@`, `www`) or fully qualified,
/// `content` in zone-file presentation format (`10 mail.example.com.` for an MX).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RecordOut {
    #[schema(example = "7")]
    pub id: String,
    #[schema(example = "www")]
    pub name: String,
    #[serde(rename = "type")]
    #[schema(example = "A")]
    pub rtype: String,
    pub ttl: i64,
    #[schema(example = "192.0.2.10")]
    pub content: String,
}

impl From<RecordRow> for RecordOut {
    fn from(r: RecordRow) -> Self {
        Self {
            id: r.id.to_string(),
            name: r.name,
            rtype: r.rtype,
            ttl: r.ttl,
            content: r.content,
        }
    }
}

/// A record to create or replace.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordBody {
    #[schema(example = "www")]
    pub name: String,
    #[serde(rename = "type")]
    #[schema(example = "A")]
    pub rtype: String,
    /// Seconds; absent: the RRset's current TTL, else the zone's default.
    pub ttl: Option<u32>,
    #[schema(example = "192.0.2.10")]
    pub content: String,
}

impl RecordBody {
    fn input(&self) -> RecordInput {
        RecordInput {
            name: self.name.clone(),
            rtype: self.rtype.clone(),
            ttl: self.ttl,
            content: self.content.clone(),
        }
    }
}

/// A batch of changes applied atomically: all of them, or none.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeBatch {
    /// Records to add.
    #[serde(default)]
    pub create: Vec<RecordBody>,
    /// Records to replace, by id.
    #[serde(default)]
    pub update: Vec<RecordUpdate>,
    /// Records to delete, by id.
    #[serde(default)]
    pub delete: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordUpdate {
    pub id: String,
    #[serde(flatten)]
    pub record: RecordBody,
}

/// What a committed change did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeResult {
    /// The zone's new SOA serial.
    pub serial: i64,
    pub created: Vec<RecordOut>,
    pub updated: Vec<RecordOut>,
    pub deleted: Vec<String>,
}

/// What an import did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportResult {
    pub serial: i64,
    /// Records in the zone now (the SOA not counted).
    pub records: i64,
}

/// Filters of a zone listing.
#[derive(Debug, Clone, Default)]
pub struct ZoneListFilter {
    pub search: Option<String>,
    pub client_id: Option<ClientId>,
}

/// The tenant's defaults for new zones (`dns` in the tenant's settings), else Panel1's.
pub async fn tenant_defaults(c: Conn<'_>, tenant: &TenantId) -> AppResult<ZoneDefaults> {
    let t = panel1_store::tenants::get(c, tenant).await?;
    let configured = t
        .and_then(|t| t.settings.get("dns").cloned())
        .and_then(|v| serde_json::from_value::<ZoneDefaults>(v).ok());
    Ok(configured.unwrap_or_default())
}

/// The SOA fields and name servers new zones of the tenant start with.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsDefaults {
    /// The primary name server (SOA MNAME).
    #[schema(example = "ns1.example.net")]
    pub primary_ns: String,
    /// The zone contact, as an e-mail address or SOA RNAME.
    #[schema(example = "hostmaster@example.net")]
    pub hostmaster: String,
    /// The apex NS records of new zones (1 to 13).
    #[schema(example = json!(["ns1.example.net", "ns2.example.net"]))]
    pub nameservers: Vec<String>,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    /// The negative-caching TTL (RFC 2308).
    pub minimum: u32,
    pub soa_ttl: u32,
    pub ns_ttl: u32,
}

impl From<ZoneDefaults> for DnsDefaults {
    fn from(d: ZoneDefaults) -> Self {
        Self {
            primary_ns: d.primary_ns,
            hostmaster: d.hostmaster,
            nameservers: d.nameservers,
            refresh: d.refresh,
            retry: d.retry,
            expire: d.expire,
            minimum: d.minimum,
            soa_ttl: d.soa_ttl,
            ns_ttl: d.ns_ttl,
        }
    }
}

impl From<DnsDefaults> for ZoneDefaults {
    fn from(d: DnsDefaults) -> Self {
        Self {
            primary_ns: d.primary_ns,
            hostmaster: d.hostmaster,
            nameservers: d.nameservers,
            refresh: d.refresh,
            retry: d.retry,
            expire: d.expire,
            minimum: d.minimum,
            soa_ttl: d.soa_ttl,
            ns_ttl: d.ns_ttl,
        }
    }
}

pub async fn get_defaults(app: &App, staff: crate::Staff<'_>) -> AppResult<DnsDefaults> {
    let mut r = app.db.read().await?;
    Ok(tenant_defaults(r.conn(), staff.0.tenant()).await?.into())
}

/// Sets the tenant's defaults for new zones (administrators); existing zones keep theirs.
pub async fn set_defaults(
    app: &App,
    caller: &Caller,
    input: DnsDefaults,
) -> AppResult<DnsDefaults> {
    let admin = caller.admin()?;
    let mut c = Checker::new();
    let limits = RecordRules::default();
    for (field, v) in [
        ("soa_ttl", input.soa_ttl),
        ("ns_ttl", input.ns_ttl),
        ("minimum", input.minimum),
    ] {
        if v < limits.min_ttl || v > limits.max_ttl {
            c.push(FieldError::new(
                field,
                "range",
                format!("{} to {} seconds", limits.min_ttl, limits.max_ttl),
            ));
        }
    }
    if input.nameservers.len() > 13 {
        c.push(FieldError::new(
            "nameservers",
            "count",
            "at most 13 name servers",
        ));
    }
    let defaults: ZoneDefaults = input.clone().into();
    let probe = Name::from_ascii("example.com.").map_err(AppError::internal)?;
    if let Err(e) = dz::new_zone(&probe, &defaults, Utc::now().date_naive()) {
        for mut f in e.0 {
            if let Some(rest) = f.field.strip_prefix("defaults.") {
                f.field = rest.to_owned();
            }
            c.push(f);
        }
    }
    c.finish()?;
    let value = serde_json::to_value(&defaults).map_err(AppError::internal)?;
    let mut tx = app.db.begin().await?;
    panel1_store::tenants::set_setting(tx.conn(), admin.0.tenant(), "dns", value.clone()).await?;
    audit::record(
        &mut tx,
        caller,
        AuditChange {
            action: "dns.defaults.update",
            object_type: "tenant",
            object_id: admin.0.tenant().as_str(),
            summary: "changed the defaults of new DNS zones".into(),
            before: None,
            after: Some(value),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(input)
}

fn rules(zone: &repo::Zone) -> RecordRules {
    RecordRules {
        default_ttl: u32::try_from(zone.default_ttl).unwrap_or(3600),
        ..RecordRules::default()
    }
}

fn soa_fields(s: &Soa) -> SoaFields {
    SoaFields {
        mname: s.mname.to_ascii(),
        rname: s.rname.to_ascii(),
        serial: i64::from(s.serial),
        refresh: i64::from(s.refresh),
        retry: i64::from(s.retry),
        expire: i64::from(s.expire),
        minimum: i64::from(s.minimum),
        ttl: i64::from(s.ttl),
    }
}

fn u32_of(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

/// The zone's origin and SOA, from its row.
pub fn origin_and_soa(zone: &repo::Zone) -> AppResult<(Name, Soa)> {
    let name = |s: &str| {
        Name::from_ascii(s)
            .map(|mut n| {
                n.set_fqdn(true);
                n
            })
            .map_err(|e| AppError::internal(anyhow::anyhow!("stored name `{s}`: {e}")))
    };
    let origin = name(&format!("{}.", zone.name))?;
    Ok((
        origin,
        Soa {
            mname: name(&zone.soa.mname)?,
            rname: name(&zone.soa.rname)?,
            serial: u32::try_from(zone.soa.serial).unwrap_or(0),
            refresh: u32_of(zone.soa.refresh),
            retry: u32_of(zone.soa.retry),
            expire: u32_of(zone.soa.expire),
            minimum: u32_of(zone.soa.minimum),
            ttl: u32_of(zone.soa.ttl),
        },
    ))
}

/// Every record of a zone, parsed, with its id.
pub async fn load_records(
    c: Conn<'_>,
    zone: &repo::Zone,
    origin: &Name,
) -> AppResult<Vec<(String, DnsRecord)>> {
    let mut out = Vec::with_capacity(usize::try_from(zone.record_count).unwrap_or(0));
    let mut bad: Option<String> = None;
    repo::for_each_record(c, zone.seq, |r| {
        match record::parse_stored(origin, r.name, r.rtype, u32_of(r.ttl), r.content) {
            Ok(rec) => out.push((r.id.to_string(), rec)),
            Err(e) => {
                bad.get_or_insert_with(|| format!("record {} of {}: {e}", r.id, zone.name));
            }
        }
    })
    .await?;
    if let Some(e) = bad {
        return Err(AppError::internal(anyhow::anyhow!(
            "a stored record does not parse: {e}"
        )));
    }
    Ok(out)
}

/// The whole zone as `panel1_dns` sees it.
pub async fn load_zone(c: Conn<'_>, zone: &repo::Zone) -> AppResult<dz::Zone> {
    let (origin, soa) = origin_and_soa(zone)?;
    let records = load_records(c, zone, &origin)
        .await?
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    Ok(dz::Zone {
        origin,
        soa,
        records,
    })
}

fn zone_payload(z: &repo::Zone) -> serde_json::Value {
    serde_json::json!({
        "id": z.id, "name": z.name, "name_unicode": z.name_unicode, "client_id": z.client_id,
        "provider_id": z.provider_id, "serial": z.soa.serial,
    })
}

async fn event(tx: &mut Tx, z: &repo::Zone, kind: &str, extra: serde_json::Value) -> AppResult<()> {
    let mut payload = zone_payload(z);
    if let (Some(p), serde_json::Value::Object(e)) = (payload.as_object_mut(), extra) {
        p.extend(e);
    }
    events::append(
        tx,
        NewEvent {
            tenant_id: &z.tenant_id,
            kind,
            object_type: "dns_zone",
            object_id: z.id.as_str(),
            payload,
        },
    )
    .await?;
    Ok(())
}

/// Who is acting: a person through the API, or Panel1 itself (certificate validation).
pub struct Acting<'a> {
    pub scope: Scope,
    pub actor: Actor,
    pub request_id: Option<&'a str>,
}

impl<'a> Acting<'a> {
    pub fn caller(caller: &'a Caller) -> Self {
        Self {
            scope: caller.scope(),
            actor: caller.actor(),
            request_id: caller.request_id.as_deref(),
        }
    }

    pub fn system(tenant: &TenantId, component: &str) -> Self {
        Self {
            scope: Scope::tenant(tenant.clone()),
            actor: Actor::system(component),
            request_id: None,
        }
    }
}

async fn audit_entry(
    tx: &mut Tx,
    acting: &Acting<'_>,
    action: &str,
    z: &repo::Zone,
    summary: String,
    after: Option<serde_json::Value>,
) -> AppResult<()> {
    audit::record_as(
        tx,
        &acting.scope.tenant_id,
        &acting.actor,
        acting.request_id,
        AuditChange {
            action,
            object_type: "dns_zone",
            object_id: z.id.as_str(),
            summary,
            before: None,
            after,
        },
    )
    .await
}

fn not_found(id: &ZoneId) -> AppError {
    AppError::not_found("zone", id)
}

/// Creates a zone with an SOA and the apex NS set from the tenant's defaults.
pub async fn create_zone(app: &App, caller: &Caller, input: &NewZoneInput) -> AppResult<ZoneInfo> {
    let mut c = Checker::new();
    let origin = match dz::parse_zone_name(&input.name) {
        Ok(n) => Some(n),
        Err(e) => {
            for f in e.0 {
                c.push(f);
            }
            None
        }
    };
    let default_ttl = input.default_ttl.unwrap_or(3600);
    let limits = RecordRules::default();
    if default_ttl < limits.min_ttl || default_ttl > limits.max_ttl {
        c.push(FieldError::new(
            "default_ttl",
            "range",
            format!("a TTL is {} to {} seconds", limits.min_ttl, limits.max_ttl),
        ));
    }
    let scope = caller.scope();
    let client = match (&scope.client_id, &input.client_id) {
        (Some(own), None) => Some(own.clone()),
        (Some(own), Some(g)) if g == own => Some(own.clone()),
        (Some(_), Some(g)) => {
            c.push(FieldError::new(
                "client_id",
                "not_found",
                format!("no client `{g}` exists"),
            ));
            None
        }
        (None, given) => given.clone(),
    };
    let mut r = app.db.read().await?;
    if let Some(cl) = &client
        && panel1_store::clients::get(r.conn(), &scope, cl)
            .await?
            .is_none()
    {
        c.push(FieldError::new(
            "client_id",
            "not_found",
            format!("no client `{cl}` exists"),
        ));
    }
    if let Some(p) = &input.provider_id {
        if scope.client_id.is_some() {
            c.push(FieldError::new(
                "provider_id",
                "forbidden",
                "only staff choose where a zone is served",
            ));
        } else if panel1_store::dns_providers::get_provider(r.conn(), caller.tenant(), p)
            .await?
            .is_none()
        {
            c.push(FieldError::new(
                "provider_id",
                "not_found",
                format!(
                    "no DNS provider account `{p}` exists; create it first (createDnsProvider)"
                ),
            ));
        }
    }
    let defaults = tenant_defaults(r.conn(), caller.tenant()).await?;
    drop(r);
    let zone = match &origin {
        Some(o) => match dz::new_zone(o, &defaults, Utc::now().date_naive()) {
            Ok(z) => Some(z),
            Err(e) => {
                for f in e.0 {
                    c.push(f);
                }
                None
            }
        },
        None => None,
    };
    c.finish()?;
    let Some(zone) = zone else {
        return Err(AppError::internal(anyhow::anyhow!("validated zone lost")));
    };
    let name = zone.origin.to_ascii().trim_end_matches('.').to_owned();
    let unicode = display_name(&zone.origin);
    let id = ZoneId::new();
    let soa = soa_fields(&zone.soa);
    let acting = Acting::caller(caller);
    let mut tx = app.db.begin().await?;
    let z = repo::insert(
        tx.conn(),
        &NewZone {
            id: &id,
            tenant_id: caller.tenant(),
            client_id: client.as_ref(),
            name: &name,
            name_unicode: &unicode,
            provider_id: input.provider_id.as_ref(),
            domain_id: None,
            soa: &soa,
            default_ttl: i64::from(default_ttl),
        },
    )
    .await
    .map_err(|e| match e {
        StoreError::Conflict { constraint } if constraint == "dns_zones_name" => {
            AppError::conflict(format!("the zone {unicode} already exists"), Some("name"))
        }
        StoreError::Conflict { .. } => AppError::conflict(
            format!("the zone {unicode} is already served by this installation"),
            Some("name"),
        ),
        other => other.into(),
    })?;
    let rows: Vec<(i64, String, String, String)> = zone
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            (
                i64::try_from(i).unwrap_or(0) + 1,
                r.relative_name(&zone.origin),
                r.record_type().to_string(),
                r.content(),
            )
        })
        .collect();
    let refs: Vec<RecordRef<'_>> = rows
        .iter()
        .zip(&zone.records)
        .map(|((id, n, t, c), r)| RecordRef {
            id: *id,
            name: n,
            rtype: t,
            ttl: i64::from(r.ttl),
            content: c,
        })
        .collect();
    repo::insert_records(tx.conn(), z.seq, &refs).await?;
    let count = i64::try_from(refs.len()).unwrap_or(0);
    let version = repo::record_change(
        tx.conn(),
        &z,
        &ZoneUpdate {
            soa: &soa,
            next_record_id: count + 1,
            record_count: count,
            provider_pending: z.provider_id.is_some(),
        },
    )
    .await?;
    let z = repo::Zone {
        next_record_id: count + 1,
        record_count: count,
        version,
        ..z
    };
    event(&mut tx, &z, "dns.zone.created", serde_json::json!({})).await?;
    audit_entry(
        &mut tx,
        &acting,
        "dns.zone.create",
        &z,
        format!("created the zone {unicode}"),
        Some(zone_payload(&z)),
    )
    .await?;
    if z.provider_id.is_some() {
        super::providers::enqueue_sync(&mut tx, &z).await?;
    }
    tx.commit().await?;
    super::changed();
    tracing::info!(zone = %z.name, id = %z.id, "zone created");
    Ok(z.into())
}

pub async fn list_zones(
    app: &App,
    caller: &Caller,
    f: &ZoneListFilter,
    page: PageRequest,
) -> AppResult<Page<ZoneInfo>> {
    let mut r = app.db.read().await?;
    let (items, total) = repo::list(
        r.conn(),
        &caller.scope(),
        &ZoneFilter {
            search: f.search.clone(),
            client_id: f.client_id.clone(),
        },
        page,
    )
    .await?;
    Ok(Page::new(
        items.into_iter().map(ZoneInfo::from).collect(),
        page,
        total,
    ))
}

async fn zone_in_scope(app: &App, scope: &Scope, id: &ZoneId) -> AppResult<repo::Zone> {
    let mut r = app.db.read().await?;
    repo::get(r.conn(), scope, id)
        .await?
        .ok_or_else(|| not_found(id))
}

pub async fn get_zone(app: &App, caller: &Caller, id: &ZoneId) -> AppResult<ZoneInfo> {
    Ok(zone_in_scope(app, &caller.scope(), id).await?.into())
}

/// Deletes a zone: Panel1's server stops answering for it at once; a provider's copy is
/// deleted by a job.
pub async fn delete_zone(app: &App, caller: &Caller, id: &ZoneId) -> AppResult<()> {
    let acting = Acting::caller(caller);
    let mut tx = app.db.begin().await?;
    let z = repo::get_for_update(tx.conn(), &acting.scope, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    repo::delete(tx.conn(), &z).await?;
    event(&mut tx, &z, "dns.zone.deleted", serde_json::json!({})).await?;
    audit_entry(
        &mut tx,
        &acting,
        "dns.zone.delete",
        &z,
        format!("deleted the zone {}", z.name_unicode),
        None,
    )
    .await?;
    if let Some(p) = &z.provider_id {
        super::providers::enqueue_delete(&mut tx, &z, p).await?;
    }
    tx.commit().await?;
    super::changed();
    tracing::info!(zone = %z.name, id = %z.id, "zone deleted");
    Ok(())
}

pub async fn list_records(
    app: &App,
    caller: &Caller,
    id: &ZoneId,
    name: Option<String>,
    rtype: Option<String>,
    page: PageRequest,
) -> AppResult<Page<RecordOut>> {
    let z = zone_in_scope(app, &caller.scope(), id).await?;
    // The filter takes the stored (relative, ASCII) owner; accept `www.example.com.` too.
    let name = name.map(|n| {
        let n = n.trim().trim_end_matches('.').to_ascii_lowercase();
        if n == z.name || n.is_empty() {
            "@".to_owned()
        } else {
            n.strip_suffix(&format!(".{}", z.name))
                .map(str::to_owned)
                .unwrap_or(n)
        }
    });
    let mut r = app.db.read().await?;
    let (rows, total) = repo::list_records(
        r.conn(),
        &z,
        &RecordFilter {
            name,
            rtype: rtype.map(|t| t.to_ascii_uppercase()),
        },
        page,
    )
    .await?;
    Ok(Page::new(
        rows.into_iter().map(RecordOut::from).collect(),
        page,
        total,
    ))
}

fn record_id(raw: &str, field: &str) -> Result<i64, FieldError> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            FieldError::new(
                field,
                "not_found",
                format!(
                    "no record `{}` exists in this zone",
                    raw.chars().take(40).collect::<String>()
                ),
            )
        })
}

/// Applies changes to a zone in one transaction. `single` renames `records.0.x` field errors
/// to `x` (one record through createDnsRecord/updateDnsRecord).
pub async fn apply(
    app: &App,
    acting: &Acting<'_>,
    id: &ZoneId,
    batch: &ChangeBatch,
    single: bool,
) -> AppResult<ChangeResult> {
    let mut c = Checker::new();
    for (i, u) in batch.update.iter().enumerate() {
        if let Err(e) = record_id(&u.id, &format!("update.{i}.id")) {
            c.push(e);
        }
    }
    for (i, d) in batch.delete.iter().enumerate() {
        if let Err(e) = record_id(d, &format!("delete.{i}")) {
            c.push(e);
        }
    }
    if batch.create.is_empty() && batch.update.is_empty() && batch.delete.is_empty() {
        c.push(FieldError::new(
            "create",
            "required",
            "give at least one record to create, update or delete",
        ));
    }
    c.finish().map_err(|e| rename(e, single))?;

    let mut tx = app.db.begin().await?;
    let z = repo::get_for_update(tx.conn(), &acting.scope, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let (origin, soa) = origin_and_soa(&z)?;
    let current = load_records(tx.conn(), &z, &origin).await?;
    // Changes in the order of the batch: creates, updates, deletes; new ids from the zone.
    let mut changes =
        Vec::with_capacity(batch.create.len() + batch.update.len() + batch.delete.len());
    let mut next = z.next_record_id;
    for r in &batch.create {
        changes.push(Change::Create {
            id: next.to_string(),
            record: r.input(),
        });
        next += 1;
    }
    for u in &batch.update {
        changes.push(Change::Update {
            id: u.id.trim().to_owned(),
            record: u.record.input(),
        });
    }
    for d in &batch.delete {
        changes.push(Change::Delete {
            id: d.trim().to_owned(),
        });
    }
    let outcome = dz::apply_changes(
        &origin,
        &soa,
        &current,
        &changes,
        &rules(&z),
        Utc::now().date_naive(),
    )
    .map_err(|e| rename(sections(e, batch), single))?;

    let by_id: std::collections::HashMap<&str, &DnsRecord> = outcome
        .records
        .iter()
        .map(|(id, r)| (id.as_str(), r))
        .collect();
    let mut texts: Vec<(i64, String, String, i64, String)> = Vec::new();
    for id in outcome.created.iter().chain(&outcome.updated) {
        if let Some(r) = by_id.get(id.as_str()) {
            texts.push((
                id.parse().unwrap_or(0),
                r.relative_name(&origin),
                r.record_type().to_string(),
                i64::from(r.ttl),
                r.content(),
            ));
        }
    }
    let upserts: Vec<RecordRef<'_>> = texts
        .iter()
        .map(|(id, n, t, ttl, c)| RecordRef {
            id: *id,
            name: n,
            rtype: t,
            ttl: *ttl,
            content: c,
        })
        .collect();
    let deletes: Vec<i64> = outcome
        .deleted
        .iter()
        .filter_map(|d| d.parse().ok())
        .collect();
    repo::change_records(tx.conn(), z.seq, &upserts, &deletes).await?;
    let new_soa = soa_fields(&outcome.soa);
    let count = i64::try_from(outcome.records.len()).unwrap_or(0);
    let version = repo::record_change(
        tx.conn(),
        &z,
        &ZoneUpdate {
            soa: &new_soa,
            next_record_id: next,
            record_count: count,
            provider_pending: z.provider_id.is_some(),
        },
    )
    .await?;
    let out = |id: &String| -> Option<RecordOut> {
        texts
            .iter()
            .find(|t| t.0.to_string() == *id)
            .map(|(id, n, t, ttl, c)| RecordOut {
                id: id.to_string(),
                name: n.clone(),
                rtype: t.clone(),
                ttl: *ttl,
                content: c.clone(),
            })
    };
    let result = ChangeResult {
        serial: new_soa.serial,
        created: outcome.created.iter().filter_map(out).collect(),
        updated: outcome.updated.iter().filter_map(out).collect(),
        deleted: outcome.deleted.clone(),
    };
    let z = repo::Zone {
        soa: new_soa,
        next_record_id: next,
        record_count: count,
        version,
        ..z
    };
    let summary = serde_json::json!({
        "created": result.created, "updated": result.updated, "deleted": result.deleted,
    });
    event(&mut tx, &z, "dns.zone.changed", summary.clone()).await?;
    audit_entry(
        &mut tx,
        acting,
        "dns.zone.change",
        &z,
        format!(
            "changed the zone {}: {} created, {} updated, {} deleted (serial {})",
            z.name_unicode,
            result.created.len(),
            result.updated.len(),
            result.deleted.len(),
            z.soa.serial
        ),
        Some(summary),
    )
    .await?;
    if z.provider_id.is_some() {
        super::providers::enqueue_sync(&mut tx, &z).await?;
    }
    tx.commit().await?;
    super::changed();
    Ok(result)
}

/// `apply_changes` names `records.<n>.<field>` by position in the change list; name the
/// batch's own sections instead (`create.0.content`, `update.1.ttl`, `delete.0`).
fn sections(e: ValidationError, batch: &ChangeBatch) -> ValidationError {
    let creates = batch.create.len();
    let updates = batch.update.len();
    ValidationError(
        e.0.into_iter()
            .map(|mut f| {
                if let Some(rest) = f.field.strip_prefix("records.") {
                    let (idx, tail) = rest.split_once('.').unwrap_or((rest, ""));
                    if let Ok(i) = idx.parse::<usize>() {
                        let (section, n) = if i < creates {
                            ("create", i)
                        } else if i < creates + updates {
                            ("update", i - creates)
                        } else {
                            ("delete", i - creates - updates)
                        };
                        f.field = if tail.is_empty() || section == "delete" {
                            format!("{section}.{n}")
                        } else {
                            format!("{section}.{n}.{tail}")
                        };
                    }
                }
                f
            })
            .collect(),
    )
}

fn rename(e: ValidationError, single: bool) -> AppError {
    if !single {
        return AppError::Invalid(e);
    }
    AppError::Invalid(ValidationError(
        e.0.into_iter()
            .map(|mut f| {
                for p in ["create.0.", "update.0.", "update.0"] {
                    if let Some(rest) = f.field.strip_prefix(p) {
                        f.field = if rest.is_empty() {
                            "id".into()
                        } else {
                            rest.to_owned()
                        };
                        break;
                    }
                }
                if f.field == "delete.0" || f.field.starts_with("create.0") {
                    f.field = "id".into();
                }
                f
            })
            .collect(),
    ))
}

pub async fn change_records(
    app: &App,
    caller: &Caller,
    id: &ZoneId,
    batch: &ChangeBatch,
) -> AppResult<ChangeResult> {
    apply(app, &Acting::caller(caller), id, batch, false).await
}

pub async fn create_record(
    app: &App,
    caller: &Caller,
    id: &ZoneId,
    body: &RecordBody,
) -> AppResult<RecordOut> {
    let batch = ChangeBatch {
        create: vec![body.clone()],
        ..ChangeBatch::default()
    };
    let r = apply(app, &Acting::caller(caller), id, &batch, true).await?;
    r.created
        .into_iter()
        .next()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("created record missing")))
}

pub async fn update_record(
    app: &App,
    caller: &Caller,
    id: &ZoneId,
    record: &str,
    body: &RecordBody,
) -> AppResult<RecordOut> {
    if record_id(record, "id").is_err() {
        return Err(AppError::not_found("record", record));
    }
    let batch = ChangeBatch {
        update: vec![RecordUpdate {
            id: record.to_owned(),
            record: body.clone(),
        }],
        ..ChangeBatch::default()
    };
    let r = apply(app, &Acting::caller(caller), id, &batch, true)
        .await
        .map_err(|e| missing_record(e, record))?;
    r.updated
        .into_iter()
        .next()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("updated record missing")))
}

pub async fn delete_record(app: &App, caller: &Caller, id: &ZoneId, record: &str) -> AppResult<()> {
    if record_id(record, "id").is_err() {
        return Err(AppError::not_found("record", record));
    }
    let batch = ChangeBatch {
        delete: vec![record.to_owned()],
        ..ChangeBatch::default()
    };
    apply(app, &Acting::caller(caller), id, &batch, true)
        .await
        .map_err(|e| missing_record(e, record))?;
    Ok(())
}

/// A record id in the path that names no record is a 404, not a field error.
fn missing_record(e: AppError, record: &str) -> AppError {
    match e {
        AppError::Invalid(v) if v.0.iter().any(|f| f.field == "id" && f.code == "not_found") => {
            AppError::not_found("record", record)
        }
        other => other,
    }
}

/// Replaces a zone's records with a master file's. Every wrong line is reported
/// (`lines.<n>`), and then nothing is changed. The SOA's timers and names are taken from the
/// file; its serial follows the zone's (it only moves forward). A file without apex NS
/// records keeps the zone's.
pub async fn import(
    app: &App,
    acting: &Acting<'_>,
    id: &ZoneId,
    text: &str,
) -> AppResult<ImportResult> {
    let z = zone_in_scope(app, &acting.scope, id).await?;
    let (origin, _) = origin_and_soa(&z)?;
    // Parsing a big file takes seconds of CPU: off the async threads.
    let (text_owned, origin_owned, rules) = (text.to_owned(), origin.clone(), rules(&z));
    let parsed = tokio::task::spawn_blocking(move || {
        zonefile::import_zone(&text_owned, &origin_owned, &rules)
    })
    .await
    .map_err(AppError::internal)?;
    let imported = parsed.map_err(|e| {
        let mut errors: Vec<FieldError> = e
            .errors
            .iter()
            .map(|l| {
                FieldError::new(
                    format!("lines.{}", l.line),
                    l.code,
                    format!("line {}: {}", l.line, l.message),
                )
            })
            .collect();
        if e.total > errors.len() {
            errors.push(FieldError::new(
                "lines",
                "more",
                format!("{} more errors not listed", e.total - errors.len()),
            ));
        }
        AppError::Invalid(ValidationError(errors))
    })?;
    store_import(app, acting, id, &origin, imported).await
}

/// `(relative owner, type, canonical content)` of each record, in order; split over the cores
/// for big zones.
fn record_texts(records: &[DnsRecord], origin: &Name) -> Vec<(String, String, String)> {
    let one = |r: &DnsRecord| {
        (
            r.relative_name(origin),
            r.record_type().to_string(),
            r.content(),
        )
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if records.len() < 50_000 || threads < 2 {
        return records.iter().map(one).collect();
    }
    let size = records.len().div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = records
            .chunks(size)
            .map(|part| s.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(records.len());
        for p in parts {
            match p.join() {
                Ok(v) => out.extend(v),
                Err(_) => return records.iter().map(one).collect(),
            }
        }
        out
    })
}

/// Writes an imported zone (already checked) in one transaction.
pub async fn store_import(
    app: &App,
    acting: &Acting<'_>,
    id: &ZoneId,
    origin: &Name,
    imported: zonefile::ImportedZone,
) -> AppResult<ImportResult> {
    // The stored text of each record, computed before the write transaction (on every core
    // for a big zone, off the async threads).
    let origin_owned = origin.clone();
    let mut records = imported.records;
    let (records_back, mut texts) = tokio::task::spawn_blocking(move || {
        let texts = record_texts(&records, &origin_owned);
        (records, texts)
    })
    .await
    .map_err(AppError::internal)?;
    records = records_back;
    let mut tx = app.db.begin().await?;
    let z = repo::get_for_update(tx.conn(), &acting.scope, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let (_, current_soa) = origin_and_soa(&z)?;
    let has_apex_ns = records
        .iter()
        .any(|r| r.name == *origin && r.record_type() == hickory_proto::rr::RecordType::NS);
    if !has_apex_ns {
        let current = load_records(tx.conn(), &z, origin).await?;
        let kept: Vec<DnsRecord> = current
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| r.name == *origin && r.record_type() == hickory_proto::rr::RecordType::NS)
            .collect();
        texts.extend(record_texts(&kept, origin));
        records.extend(kept);
    }
    // The serial only moves forward: past the zone's and past the file's.
    let mut soa = imported.soa.unwrap_or_else(|| current_soa.clone());
    let base = if dz::serial_gt(soa.serial, current_soa.serial) {
        soa.serial
    } else {
        current_soa.serial
    };
    soa.serial = dz::next_serial(base, Utc::now().date_naive());
    repo::delete_all_records(tx.conn(), z.seq).await?;
    let first = z.next_record_id;
    let refs: Vec<RecordRef<'_>> = texts
        .iter()
        .zip(&records)
        .enumerate()
        .map(|(i, ((n, t, c), r))| RecordRef {
            id: first + i64::try_from(i).unwrap_or(0),
            name: n,
            rtype: t,
            ttl: i64::from(r.ttl),
            content: c,
        })
        .collect();
    repo::insert_records(tx.conn(), z.seq, &refs).await?;
    let count = i64::try_from(refs.len()).unwrap_or(0);
    let fields = soa_fields(&soa);
    let version = repo::record_change(
        tx.conn(),
        &z,
        &ZoneUpdate {
            soa: &fields,
            next_record_id: first + count,
            record_count: count,
            provider_pending: z.provider_id.is_some(),
        },
    )
    .await?;
    let z = repo::Zone {
        soa: fields,
        next_record_id: first + count,
        record_count: count,
        version,
        ..z
    };
    event(
        &mut tx,
        &z,
        "dns.zone.changed",
        serde_json::json!({"imported": count}),
    )
    .await?;
    audit_entry(
        &mut tx,
        acting,
        "dns.zone.import",
        &z,
        format!(
            "imported a zone file into {}: {count} records (serial {})",
            z.name_unicode, z.soa.serial
        ),
        None,
    )
    .await?;
    if z.provider_id.is_some() {
        super::providers::enqueue_sync(&mut tx, &z).await?;
    }
    tx.commit().await?;
    super::changed();
    Ok(ImportResult {
        serial: z.soa.serial,
        records: count,
    })
}

/// The zone as a master file that BIND's and Knot's checkers accept.
pub async fn export(app: &App, caller: &Caller, id: &ZoneId) -> AppResult<(String, String)> {
    let z = zone_in_scope(app, &caller.scope(), id).await?;
    let mut r = app.db.read().await?;
    let zone = load_zone(r.conn(), &z).await?;
    Ok((z.name.clone(), zonefile::export_zone(&zone)))
}
