//! The domain service: what the API asks for. Every request is checked in full first (all
//! field errors at once, nothing written), then one transaction writes the domain's new state,
//! the operation (with its idempotency key), the job that will talk to the registrar, the
//! events and the audit entry. Only availability checks and auth codes reach a registrar
//! within a request: they change nothing and are bounded by a short timeout.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use panel1_core::domain_lifecycle::{DomainEvent, DomainState};
use panel1_core::domain_name::DomainName;
use panel1_core::validate::{self, Checker};
use panel1_core::{
    ClientId, ContactId, DomainId, DomainOperationId, FieldError, JobId, Page, PageRequest,
    SecretString, TenantId, ValidationError,
};
use panel1_registrar::{IdempotencyKey, Price, RegistrarError};
use panel1_store::audit::Actor;
use panel1_store::clients;
use panel1_store::contacts::{self, ContactRecord};
use panel1_store::domain_operations::{
    self as ops, DomainOperation, OperationCall, OperationStatus,
};
use panel1_store::domains::{self as repo, ContactIds, Domain, DomainFilter};
use panel1_store::events::{self, NewEvent};
use panel1_store::registrars::RegistrarAccount;
use panel1_store::{StoreError, Tx};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::accounts;
use super::billing;
use super::contacts::client_for;
use super::jobs;
use crate::audit::{self, Change};
use crate::{App, AppError, AppResult, Caller, Staff};

/// An amount of money in minor units (cents) with its ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    #[schema(example = 1099)]
    pub minor: i64,
    #[schema(example = "USD")]
    pub currency: String,
}

impl From<Price> for Money {
    fn from(p: Price) -> Self {
        Money {
            minor: p.minor,
            currency: p.currency,
        }
    }
}

impl Money {
    fn from_money(m: panel1_core::money::Money) -> Self {
        Money {
            minor: m.amount,
            currency: m.currency.to_string(),
        }
    }
}

/// A registrar's price as money, when its currency is a valid code.
fn price_money(p: &Price) -> Option<panel1_core::money::Money> {
    let cur = panel1_core::money::Currency::parse(&p.currency).ok()?;
    Some(panel1_core::money::Money::new(p.minor, cur))
}

/// Names to check.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckDomains {
    /// 1 to 50 names, Unicode or A-label form.
    #[schema(example = json!(["example.com", "bücher.example"]))]
    pub names: Vec<String>,
}

/// One name's availability.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckResult {
    pub name: String,
    pub name_unicode: String,
    pub available: bool,
    pub premium: bool,
    /// What registering it for one year costs the client: the tenant's price (for a premium
    /// name, the registrar's premium cost with the tenant's markup). `None` when the tenant
    /// has no price for the TLD.
    pub price: Option<Money>,
    /// What the registrar charges for one year (staff only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registrar_cost: Option<Money>,
    /// Why it is not available, in the registrar's words.
    pub reason: Option<String>,
    /// The registrar account that would register it.
    pub registrar: String,
}

/// The contacts of a domain by role; absent roles take the registrant.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactsInput {
    pub registrant: ContactId,
    pub admin: Option<ContactId>,
    pub tech: Option<ContactId>,
    pub billing: Option<ContactId>,
}

impl ContactsInput {
    fn ids(&self) -> ContactIds {
        ContactIds {
            registrant: Some(self.registrant.clone()),
            admin: Some(
                self.admin
                    .clone()
                    .unwrap_or_else(|| self.registrant.clone()),
            ),
            tech: Some(self.tech.clone().unwrap_or_else(|| self.registrant.clone())),
            billing: Some(
                self.billing
                    .clone()
                    .unwrap_or_else(|| self.registrant.clone()),
            ),
        }
    }
}

/// Register a name.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDomain {
    /// Unicode or A-label form, directly under its public suffix.
    #[schema(example = "example.com")]
    pub name: String,
    /// The client it is for; client users may leave it out.
    pub client_id: Option<ClientId>,
    /// 1 to 10 (default 1).
    pub years: Option<u8>,
    pub contacts: ContactsInput,
    /// None (the registrar's default) or 2 to 13 nameservers.
    #[serde(default)]
    pub nameservers: Vec<String>,
    /// WHOIS privacy (default off).
    #[serde(default)]
    pub privacy: bool,
    /// Renew automatically before expiry (default on).
    pub auto_renew: Option<bool>,
    /// For a premium name: the price per year the client accepts (as `checkDomains` shows
    /// it). A premium name ordered without it, or below it, is refused with the price.
    pub premium_price: Option<Money>,
}

/// Transfer a name into this tenant's registrar account.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferDomain {
    #[schema(example = "example.com")]
    pub name: String,
    pub client_id: Option<ClientId>,
    /// The auth code (EPP authInfo) from the current registrar. Stored sealed until the
    /// transfer ends; never shown or logged.
    #[schema(value_type = String, example = "Xy9-secret")]
    pub auth_code: SecretString,
    /// Years added by the transfer (default 1).
    pub years: Option<u8>,
    /// Contacts to set once the domain arrives.
    pub contacts: Option<ContactsInput>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewDomain {
    /// 1 to 10 (default 1).
    pub years: Option<u8>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateNameservers {
    /// 2 to 13 host names.
    #[schema(example = json!(["ns1.example.net", "ns2.example.net"]))]
    pub nameservers: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetLock {
    pub locked: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPrivacy {
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Suspend {
    /// Why: `abuse`, `non_payment`, or any short text.
    #[schema(example = "non_payment")]
    pub reason: String,
}

/// A change accepted for the registrar: the domain as it stands now, the operation, and the
/// job that carries it out.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Accepted {
    pub domain: Domain,
    pub operation: DomainOperation,
    pub job_id: Option<JobId>,
}

/// The contacts of a domain, resolved.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct WhoisContacts {
    pub registrant: Option<ContactRecord>,
    pub admin: Option<ContactRecord>,
    pub tech: Option<ContactRecord>,
    pub billing: Option<ContactRecord>,
}

/// A domain with its contacts and its most recent operations.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DomainDetail {
    #[serde(flatten)]
    pub domain: Domain,
    pub whois_contacts: WhoisContacts,
    /// The last 10 operations, newest first.
    pub recent_operations: Vec<DomainOperation>,
}

/// An operation with every registrar call made for it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OperationLog {
    #[serde(flatten)]
    pub operation: DomainOperation,
    pub calls: Vec<OperationCall>,
}

/// Where a transfer into this account stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransferStatus {
    pub domain_id: DomainId,
    pub name: String,
    /// `requested` (not yet accepted by the registrar), `pending`, `completed`, `rejected`,
    /// `cancelled` or `failed`.
    pub state: String,
    pub transfer_id: Option<String>,
    pub requested_at: Option<DateTime<Utc>>,
    /// When the registry approves it by itself if nobody acts.
    pub action_by: Option<DateTime<Utc>>,
    pub message: Option<String>,
    pub operation: DomainOperation,
}

/// The auth code of a domain (shown only in this answer).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuthCode {
    pub domain_id: DomainId,
    pub name: String,
    pub auth_code: String,
}

/// Keeps a value, or records its errors (already named after their fields).
fn take<T>(c: &mut Checker, r: Result<T, ValidationError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            for f in e.0 {
                c.push(f);
            }
            None
        }
    }
}

fn requested_by(caller: &Caller) -> String {
    match &caller.principal.token_id {
        Some(t) => format!("token:{t}"),
        None => format!("user:{}", caller.principal.user_id),
    }
}

fn years(v: Option<u8>, field: &str) -> Result<u8, FieldError> {
    let y = v.unwrap_or(1);
    if (1..=10).contains(&y) {
        Ok(y)
    } else {
        Err(FieldError::new(field, "range", "the term is 1 to 10 years"))
    }
}

/// A name that can be registered: valid IDNA 2008, one script per label, directly under its
/// public suffix.
fn registrable_name(input: &str, field: &str) -> Result<DomainName, ValidationError> {
    let name = DomainName::parse(input)
        .map_err(|e| ValidationError(e.0.into_iter().map(|f| f.under(field)).collect()))?;
    if !name.is_registrable() {
        let hint = match name.registrable_domain() {
            Some(r) => format!(
                "`{}` is a subdomain of `{}`: register that instead",
                name.unicode(),
                r.unicode()
            ),
            None => format!(
                "`{}` is a public suffix itself; register a name under it",
                name.unicode()
            ),
        };
        return Err(ValidationError::field(field, "registrable", hint));
    }
    Ok(name)
}

fn nameservers(list: &[String], field: &str, c: &mut Checker) -> Vec<DomainName> {
    let mut out: Vec<DomainName> = Vec::new();
    for (i, n) in list.iter().enumerate() {
        if let Some(ns) = c.take(&format!("{field}.{i}"), DomainName::parse(n)) {
            if out.contains(&ns) {
                c.push(FieldError::new(
                    format!("{field}.{i}"),
                    "duplicate",
                    format!("{} is listed twice", ns.unicode()),
                ));
            } else {
                out.push(ns);
            }
        }
    }
    out
}

fn check_nameserver_count(ns: &[String], allow_none: bool, field: &str, c: &mut Checker) {
    let ok = (allow_none && ns.is_empty()) || (2..=13).contains(&ns.len());
    if !ok {
        c.push(FieldError::new(
            field,
            "count",
            if allow_none {
                "give none (the registrar's defaults) or 2 to 13 nameservers"
            } else {
                "give 2 to 13 nameservers"
            },
        ));
    }
}

/// Checks that the contacts exist, belong to `client`, and hold valid data.
async fn check_contacts(
    app: &App,
    caller: &Caller,
    client: &ClientId,
    input: &ContactsInput,
    field: &str,
    c: &mut Checker,
) -> AppResult<()> {
    let mut r = app.db.read().await?;
    let scope = caller.scope();
    let roles = [
        ("registrant", Some(&input.registrant)),
        ("admin", input.admin.as_ref()),
        ("tech", input.tech.as_ref()),
        ("billing", input.billing.as_ref()),
    ];
    for (role, id) in roles {
        let Some(id) = id else { continue };
        let f = format!("{field}.{role}");
        match contacts::get(r.conn(), &scope, id).await? {
            Some(rec) if &rec.client_id == client => {
                if let Err(e) = panel1_core::contact::Contact::parse(rec.data) {
                    c.push(FieldError::new(
                        f,
                        "invalid",
                        format!("contact {id} is incomplete: {}", e.summary()),
                    ));
                }
            }
            Some(_) => c.push(FieldError::new(
                f,
                "client",
                format!(
                    "contact {id} belongs to another client; use one of this client's contacts"
                ),
            )),
            None => c.push(FieldError::new(
                f,
                "not_found",
                format!("no contact `{id}` exists"),
            )),
        }
    }
    Ok(())
}

async fn check_client(
    app: &App,
    caller: &Caller,
    given: Option<&ClientId>,
    c: &mut Checker,
) -> AppResult<Option<ClientId>> {
    let client = match client_for(caller, given, "client_id") {
        Ok(cl) => cl,
        Err(e) => {
            for f in e.0 {
                c.push(f);
            }
            return Ok(None);
        }
    };
    let mut r = app.db.read().await?;
    if clients::get(r.conn(), &caller.scope(), &client)
        .await?
        .is_none()
    {
        c.push(FieldError::new(
            "client_id",
            "not_found",
            format!("no client `{client}` exists"),
        ));
        return Ok(None);
    }
    Ok(Some(client))
}

/// Availability of many names, asked of the registrar of each name's TLD, within the request
/// (bounded by `registrar_check_timeout_secs`).
pub async fn check(
    app: &App,
    caller: &Caller,
    input: &CheckDomains,
) -> AppResult<Vec<CheckResult>> {
    let mut c = Checker::new();
    if input.names.is_empty() || input.names.len() > 50 {
        c.push(FieldError::new("names", "count", "give 1 to 50 names"));
    }
    let mut parsed: Vec<(DomainName, RegistrarAccount)> = Vec::new();
    for (i, n) in input.names.iter().enumerate().take(50) {
        let field = format!("names.{i}");
        let Some(name) = take(&mut c, registrable_name(n, &field)) else {
            continue;
        };
        match accounts::account_for(app, caller.tenant(), &name, &field).await? {
            Ok(a) => parsed.push((name, a)),
            Err(e) => c.push(e),
        }
    }
    c.finish()?;
    let mut by_account: BTreeMap<String, (RegistrarAccount, Vec<DomainName>)> = BTreeMap::new();
    for (n, a) in &parsed {
        by_account
            .entry(a.id.to_string())
            .or_insert_with(|| (a.clone(), Vec::new()))
            .1
            .push(n.clone());
    }
    let timeout = Duration::from_secs(app.settings.registrar_check_timeout_secs);
    let mut answers: BTreeMap<String, CheckResult> = BTreeMap::new();
    for (account, names) in by_account.values() {
        let registrar = accounts::registrar(app, account)
            .await
            .map_err(|e| unavailable(account, &e))?;
        let reply = tokio::time::timeout(timeout, registrar.check(names))
            .await
            .map_err(|_| {
                AppError::Unavailable(format!(
                    "registrar `{}` did not answer within {} s; try again shortly",
                    account.name,
                    timeout.as_secs()
                ))
            })?;
        let list = reply.result.map_err(|e| unavailable(account, &e))?;
        let mut r = app.db.read().await?;
        let settings = panel1_store::domain_automation::settings(r.conn(), caller.tenant()).await?;
        let staff = caller.staff().is_ok();
        for a in list {
            let cost = a.price.as_ref().and_then(price_money);
            let tld = a.name.public_suffix().to_owned();
            let price = match (&cost, a.premium) {
                (Some(cost), true) => {
                    billing::premium_price(r.conn(), caller.tenant(), &settings, &tld, *cost)
                        .await
                        .ok()
                }
                _ => billing::price(
                    r.conn(),
                    caller.tenant(),
                    &tld,
                    "register",
                    1,
                    settings.currency,
                )
                .await
                .ok(),
            };
            answers.insert(
                a.name.as_ascii().to_owned(),
                CheckResult {
                    name: a.name.as_ascii().to_owned(),
                    name_unicode: a.name.unicode().to_owned(),
                    available: a.available,
                    premium: a.premium,
                    price: price.map(Money::from_money),
                    registrar_cost: if staff {
                        a.price.map(Money::from)
                    } else {
                        None
                    },
                    reason: a.reason,
                    registrar: account.name.clone(),
                },
            );
        }
    }
    Ok(parsed
        .iter()
        .filter_map(|(n, _)| answers.get(n.as_ascii()).cloned())
        .collect())
}

fn unavailable(account: &RegistrarAccount, e: &RegistrarError) -> AppError {
    tracing::warn!(registrar = %account.name, error = %e, "a registrar could not answer within a request");
    AppError::Unavailable(format!(
        "registrar `{}` could not answer: {e}",
        account.name
    ))
}

/// A new operation on `domain`.
fn operation(
    caller: Option<&Caller>,
    domain: &Domain,
    kind: &str,
    term: String,
    years: Option<u8>,
    key: String,
    params: serde_json::Value,
) -> DomainOperation {
    let now = Utc::now();
    DomainOperation {
        id: DomainOperationId::new(),
        tenant_id: domain.tenant_id.clone(),
        domain_id: domain.id.clone(),
        client_id: domain.client_id.clone(),
        operation: kind.to_owned(),
        term,
        years: years.map(i64::from),
        idempotency_key: key,
        registrar_account_id: domain.registrar_account_id.clone(),
        status: OperationStatus::Queued,
        params,
        result: None,
        outcome: None,
        error: None,
        failure_kind: None,
        attempts: 0,
        uncertain: false,
        expiry_before: domain.expires_at,
        job_id: None,
        invoice_id: None,
        requested_by: caller.map(requested_by),
        request_id: caller.and_then(|c| c.request_id.clone()),
        created_at: now,
        updated_at: now,
        finished_at: None,
        secret_sealed: None,
    }
}

/// Stores paid work (`awaiting_payment`, no job yet) and bills it at `amount`: invoiced, paid
/// from credit when the client's covers it, released when paid or when the tenant works on
/// credit (see [`billing::bill`]).
async fn submit_paid(
    app: &App,
    tx: &mut Tx,
    op: &mut DomainOperation,
    d: &Domain,
    amount: panel1_core::money::Money,
    settings: &panel1_store::domain_automation::DomainSettings,
) -> AppResult<()> {
    op.status = OperationStatus::AwaitingPayment;
    op.job_id = None;
    match ops::insert(tx.conn(), op).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => {
            return Err(AppError::conflict(
                format!(
                    "an operation with key `{}` was already requested",
                    op.idempotency_key
                ),
                None,
            ));
        }
        Err(e) => return Err(e.into()),
    }
    billing::bill(app, tx, op, d, amount, settings).await?;
    Ok(())
}

/// The registrar's premium cost of `name` for one year, asked within the request (bounded by
/// `registrar_check_timeout_secs`); `None` for a name that is not premium, or when the
/// registrar cannot say (the registration then goes ahead at the listed price, and a
/// registrar that insists on a premium price refuses it, which refunds the client).
async fn premium_cost(
    app: &App,
    account: &RegistrarAccount,
    name: &DomainName,
) -> Option<panel1_core::money::Money> {
    let registrar = accounts::registrar(app, account).await.ok()?;
    let timeout = Duration::from_secs(app.settings.registrar_check_timeout_secs);
    let reply = tokio::time::timeout(timeout, registrar.check(std::slice::from_ref(name)))
        .await
        .ok()?;
    match reply.result {
        Ok(list) => list
            .into_iter()
            .find(|a| &a.name == name && a.premium)
            .and_then(|a| a.price.as_ref().and_then(price_money)),
        Err(e) => {
            tracing::warn!(domain = %name, error = %e, "could not ask the registrar whether the name is premium");
            None
        }
    }
}

/// Enqueues the job that carries out `op` and stores the operation, in `tx`.
async fn submit(tx: &mut Tx, op: &mut DomainOperation) -> AppResult<()> {
    let job = jobs::enqueue(tx, op).await?;
    op.job_id = Some(job);
    match ops::insert(tx.conn(), op).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict { .. }) => Err(AppError::conflict(
            format!(
                "an operation with key `{}` was already requested",
                op.idempotency_key
            ),
            None,
        )),
        Err(e) => Err(e.into()),
    }
}

async fn record(
    tx: &mut Tx,
    caller: &Caller,
    action: &str,
    d: &Domain,
    summary: String,
) -> AppResult<()> {
    audit::record(
        tx,
        caller,
        Change {
            action,
            object_type: "domain",
            object_id: d.id.as_str(),
            summary,
            before: None,
            after: Some(serde_json::to_value(d).map_err(AppError::internal)?),
        },
    )
    .await
}

/// A fresh domain record, or the tenant's ended one for the same name ordered again.
async fn order_record(
    tx: &mut Tx,
    tenant: &TenantId,
    name: &DomainName,
    event: DomainEvent,
) -> AppResult<(Domain, bool)> {
    match repo::get_by_name(tx.conn(), tenant, name.as_ascii()).await? {
        Some(d) if d.state.is_final() => {
            let state = d.state.apply(event).map_err(|e| {
                AppError::conflict(format!("{}: {e}", name.unicode()), Some("name"))
            })?;
            Ok((
                Domain {
                    state,
                    epp_statuses: Vec::new(),
                    rgp_statuses: Vec::new(),
                    registry_id: None,
                    registered_at: None,
                    expires_at: None,
                    suspension_reason: None,
                    synced_at: None,
                    ..d
                },
                false,
            ))
        }
        Some(d) => Err(AppError::conflict(
            format!(
                "{} is already managed here ({}, {}); open that domain instead",
                name.unicode(),
                d.id,
                d.state
            ),
            Some("name"),
        )),
        None => {
            let now = Utc::now();
            let state = match event {
                DomainEvent::TransferRequested => DomainState::PendingTransferIn,
                _ => DomainState::PendingRegistration,
            };
            Ok((
                Domain {
                    id: DomainId::new(),
                    tenant_id: tenant.clone(),
                    client_id: ClientId::new(),
                    name: name.as_ascii().to_owned(),
                    name_unicode: name.unicode().to_owned(),
                    tld: name.public_suffix().to_owned(),
                    registrar_account_id: panel1_core::RegistrarAccountId::new(),
                    state,
                    epp_statuses: Vec::new(),
                    rgp_statuses: Vec::new(),
                    registry_id: None,
                    registered_at: None,
                    expires_at: None,
                    nameservers: Vec::new(),
                    locked: false,
                    privacy: false,
                    auto_renew: true,
                    contacts: ContactIds::default(),
                    suspension_reason: None,
                    synced_at: None,
                    created_at: now,
                    updated_at: now,
                },
                true,
            ))
        }
    }
}

async fn save_record(tx: &mut Tx, d: &Domain, new: bool) -> AppResult<Domain> {
    if new {
        match repo::insert(tx.conn(), d).await {
            Ok(()) => Ok(d.clone()),
            Err(StoreError::Conflict { .. }) => Err(AppError::conflict(
                format!("{} was just ordered by another request", d.name_unicode),
                Some("name"),
            )),
            Err(e) => Err(e.into()),
        }
    } else {
        Ok(repo::update(tx.conn(), d).await?)
    }
}

/// Orders the registration of a name (202: the registrar is called by a job).
pub async fn register(app: &App, caller: &Caller, input: &RegisterDomain) -> AppResult<Accepted> {
    let mut c = Checker::new();
    let name = take(&mut c, registrable_name(&input.name, "name"));
    let years = years(input.years, "years").map_err(|e| c.push(e)).ok();
    let ns = nameservers(&input.nameservers, "nameservers", &mut c);
    check_nameserver_count(&input.nameservers, true, "nameservers", &mut c);
    if let Some(p) = &input.premium_price
        && (p.minor <= 0
            || p.currency.len() != 3
            || !p.currency.bytes().all(|b| b.is_ascii_uppercase()))
    {
        c.push(FieldError::new(
            "premium_price",
            "format",
            "a positive amount in minor units and an ISO 4217 currency like USD",
        ));
    }
    let account = match &name {
        Some(n) => match accounts::account_for(app, caller.tenant(), n, "name").await? {
            Ok(a) => Some(a),
            Err(e) => {
                c.push(e);
                None
            }
        },
        None => None,
    };
    let client = check_client(app, caller, input.client_id.as_ref(), &mut c).await?;
    if let Some(cl) = &client {
        check_contacts(app, caller, cl, &input.contacts, "contacts", &mut c).await?;
    }
    c.finish()?;
    let (Some(name), Some(years), Some(account), Some(client)) = (name, years, account, client)
    else {
        return Err(AppError::internal(anyhow::anyhow!(
            "validated input lost a field"
        )));
    };
    let premium = premium_cost(app, &account, &name).await;

    let mut tx = app.db.begin().await?;
    let settings = billing::settings(&mut tx, caller.tenant()).await?;
    let tld = name.public_suffix().to_owned();
    let (amount, premium_params) = match premium {
        Some(cost) => {
            let sale =
                billing::premium_price(tx.conn(), caller.tenant(), &settings, &tld, cost).await?;
            let accepted = input.premium_price.as_ref().is_some_and(|p| {
                p.currency.eq_ignore_ascii_case(sale.currency.as_str()) && p.minor >= sale.amount
            });
            if !accepted {
                return Err(AppError::Invalid(ValidationError::field(
                    "premium_price",
                    "premium",
                    format!(
                        "{} is a premium name at {sale} per year; order it again with premium_price {{\"minor\": {}, \"currency\": \"{}\"}} to accept that price",
                        name.unicode(),
                        sale.amount,
                        sale.currency
                    ),
                )));
            }
            let total = sale.checked_mul(i64::from(years)).ok_or_else(|| {
                AppError::Invalid(ValidationError::field(
                    "years",
                    "range",
                    "the total is too large",
                ))
            })?;
            (
                total,
                Some((Money::from_money(cost), Money::from_money(sale))),
            )
        }
        None => (
            billing::price(
                tx.conn(),
                caller.tenant(),
                &tld,
                "register",
                i64::from(years),
                settings.currency,
            )
            .await?,
            None,
        ),
    };
    let (mut d, new) = order_record(
        &mut tx,
        caller.tenant(),
        &name,
        DomainEvent::RegistrationRequested,
    )
    .await?;
    d.client_id = client;
    d.registrar_account_id = account.id.clone();
    d.contacts = input.contacts.ids();
    d.nameservers = ns.iter().map(|n| n.as_ascii().to_owned()).collect();
    d.privacy = input.privacy;
    d.locked = false;
    d.auto_renew = input.auto_renew.unwrap_or(true);
    let d = save_record(&mut tx, &d, new).await?;
    let op_id = DomainOperationId::new();
    let key = IdempotencyKey::derive(&name, "register", op_id.as_str());
    let mut op = operation(
        Some(caller),
        &d,
        "register",
        op_id.to_string(),
        Some(years),
        key.to_string(),
        serde_json::json!({
            "years": years,
            "nameservers": d.nameservers,
            "privacy": input.privacy,
            // What the registrar is told the premium name costs (its own price), and what the
            // client pays for it.
            "premium_price": premium_params.as_ref().map(|p| &p.0),
            "premium_sale_price": premium_params.as_ref().map(|p| &p.1),
        }),
    );
    op.id = op_id;
    submit_paid(app, &mut tx, &mut op, &d, amount, &settings).await?;
    record(
        &mut tx,
        caller,
        "domain.register",
        &d,
        format!(
            "ordered the registration of {} for {years} year(s) through `{}`",
            d.name_unicode, account.name
        ),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(domain = %d.name, operation = %op.id, "registration ordered");
    Ok(Accepted {
        domain: d,
        job_id: op.job_id.clone(),
        operation: op,
    })
}

/// Orders a transfer into the tenant's registrar account (202).
pub async fn transfer(app: &App, caller: &Caller, input: &TransferDomain) -> AppResult<Accepted> {
    let mut c = Checker::new();
    let name = take(&mut c, registrable_name(&input.name, "name"));
    let years = years(input.years, "years").map_err(|e| c.push(e)).ok();
    let code = input.auth_code.expose().trim();
    if code.is_empty() || code.len() > 255 || code.chars().any(char::is_control) {
        c.push(FieldError::new(
            "auth_code",
            "format",
            "the auth code from the current registrar is required (1 to 255 characters)",
        ));
    }
    let account = match &name {
        Some(n) => match accounts::account_for(app, caller.tenant(), n, "name").await? {
            Ok(a) => Some(a),
            Err(e) => {
                c.push(e);
                None
            }
        },
        None => None,
    };
    let client = check_client(app, caller, input.client_id.as_ref(), &mut c).await?;
    if let (Some(cl), Some(contacts)) = (&client, &input.contacts) {
        check_contacts(app, caller, cl, contacts, "contacts", &mut c).await?;
    }
    c.finish()?;
    let (Some(name), Some(years), Some(account), Some(client)) = (name, years, account, client)
    else {
        return Err(AppError::internal(anyhow::anyhow!(
            "validated input lost a field"
        )));
    };

    let op_id = DomainOperationId::new();
    let sealed = app.keyring.seal_str(
        &jobs::secret_context(&op_id),
        &SecretString::new(code.to_owned()),
    )?;
    let mut tx = app.db.begin().await?;
    let settings = billing::settings(&mut tx, caller.tenant()).await?;
    let amount = billing::price(
        tx.conn(),
        caller.tenant(),
        name.public_suffix(),
        "transfer",
        i64::from(years),
        settings.currency,
    )
    .await?;
    let (mut d, new) = order_record(
        &mut tx,
        caller.tenant(),
        &name,
        DomainEvent::TransferRequested,
    )
    .await?;
    d.client_id = client;
    d.registrar_account_id = account.id.clone();
    d.contacts = input
        .contacts
        .as_ref()
        .map(ContactsInput::ids)
        .unwrap_or_default();
    let d = save_record(&mut tx, &d, new).await?;
    let key = IdempotencyKey::derive(&name, "transfer", op_id.as_str());
    let mut op = operation(
        Some(caller),
        &d,
        "transfer",
        op_id.to_string(),
        Some(years),
        key.to_string(),
        serde_json::json!({ "years": years, "contacts": input.contacts.as_ref().map(ContactsInput::ids) }),
    );
    op.id = op_id;
    op.secret_sealed = Some(sealed);
    submit_paid(app, &mut tx, &mut op, &d, amount, &settings).await?;
    record(
        &mut tx,
        caller,
        "domain.transfer",
        &d,
        format!(
            "requested the transfer of {} into `{}`",
            d.name_unicode, account.name
        ),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(domain = %d.name, operation = %op.id, "transfer requested");
    Ok(Accepted {
        domain: d,
        job_id: op.job_id.clone(),
        operation: op,
    })
}

async fn load_for_update(tx: &mut Tx, caller: &Caller, id: &DomainId) -> AppResult<Domain> {
    repo::get_for_update(tx.conn(), &caller.scope(), id)
        .await?
        .ok_or_else(|| AppError::not_found("domain", id))
}

/// Orders a renewal by `years` from the current expiry (202). The idempotency key is
/// `renew:<name>:<current expiry date>`: asking twice for the renewal of the same term
/// answers the first request's operation.
pub async fn renew(
    app: &App,
    caller: &Caller,
    id: &DomainId,
    input: &RenewDomain,
) -> AppResult<Accepted> {
    let years = years(input.years, "years").map_err(ValidationError::from)?;
    let mut tx = app.db.begin().await?;
    let d = load_for_update(&mut tx, caller, id).await?;
    if !d.state.can_renew() {
        let why = d
            .state
            .apply(DomainEvent::Renewed)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_else(|| format!("a domain that is {} cannot be renewed", d.state));
        return Err(AppError::conflict(why, None));
    }
    let Some(expiry) = d.expires_at else {
        return Err(AppError::conflict(
            format!(
                "the expiry of {} is not known yet; wait for its registration or transfer to finish",
                d.name_unicode
            ),
            None,
        ));
    };
    let name = DomainName::parse(&d.name).map_err(AppError::internal)?;
    let term = expiry.format("%Y-%m-%d").to_string();
    let base = IdempotencyKey::derive(&name, "renew", &term).to_string();
    // The same renewal asked for again answers the first request's operation. Only after a
    // definite refusal (nothing was renewed) does a new request get a new key (`…~2`).
    let mut key = base.clone();
    for n in 2.. {
        let Some(existing) = ops::get_by_key(tx.conn(), caller.tenant(), &key).await? else {
            break;
        };
        let refused = existing.status == OperationStatus::Failed
            && existing.failure_kind.as_deref() != Some(jobs::GAVE_UP);
        if !refused {
            return Ok(Accepted {
                domain: d,
                job_id: existing.job_id.clone(),
                operation: existing,
            });
        }
        key = format!("{base}~{n}");
    }
    let settings = billing::settings(&mut tx, caller.tenant()).await?;
    let amount = billing::price(
        tx.conn(),
        caller.tenant(),
        &d.tld,
        "renew",
        i64::from(years),
        settings.currency,
    )
    .await?;
    let mut op = operation(
        Some(caller),
        &d,
        "renew",
        term,
        Some(years),
        key,
        serde_json::json!({ "years": years }),
    );
    submit_paid(app, &mut tx, &mut op, &d, amount, &settings).await?;
    record(
        &mut tx,
        caller,
        "domain.renew",
        &d,
        format!(
            "ordered the renewal of {} by {years} year(s)",
            d.name_unicode
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Accepted {
        domain: d,
        job_id: op.job_id.clone(),
        operation: op,
    })
}

/// Orders the restore of a domain in redemption (202), at the tenant's restore price. The
/// idempotency key is `restore:<name>:<expiry date>`: asking twice answers the first request's
/// operation. A renewal of the lost term still waiting for payment ends (its invoice voided,
/// or refunded when paid): the restore replaces it.
pub async fn restore(app: &App, caller: &Caller, id: &DomainId) -> AppResult<Accepted> {
    let mut tx = app.db.begin().await?;
    let d = load_for_update(&mut tx, caller, id).await?;
    if !d.state.needs_restore() {
        let hint = match d.state {
            DomainState::Expired | DomainState::AutoRenewGrace | DomainState::Active => {
                " It can still be renewed (renewDomain) at the renew price."
            }
            _ => "",
        };
        return Err(AppError::conflict(
            format!(
                "only a domain in redemption can be restored, and {} is {}.{hint} If the registrar says otherwise, sync it first (syncDomain).",
                d.name_unicode, d.state
            ),
            None,
        ));
    }
    let Some(expiry) = d.expires_at else {
        return Err(AppError::conflict(
            format!("the expiry of {} is not known", d.name_unicode),
            None,
        ));
    };
    let name = DomainName::parse(&d.name).map_err(AppError::internal)?;
    let term = expiry.format("%Y-%m-%d").to_string();
    let base = IdempotencyKey::derive(&name, "restore", &term).to_string();
    let mut key = base.clone();
    for n in 2.. {
        let Some(existing) = ops::get_by_key(tx.conn(), caller.tenant(), &key).await? else {
            break;
        };
        let refused = existing.status == OperationStatus::Failed
            && existing.failure_kind.as_deref() != Some(jobs::GAVE_UP);
        if !refused {
            return Ok(Accepted {
                domain: d,
                job_id: existing.job_id.clone(),
                operation: existing,
            });
        }
        key = format!("{base}~{n}");
    }
    for mut w in ops::awaiting_for_domain(tx.conn(), caller.tenant(), &d.id).await? {
        if w.operation == "renew" {
            billing::abandon(
                &mut tx,
                &mut w,
                "superseded",
                "the domain entered redemption; a restore replaces this renewal",
            )
            .await?;
        }
    }
    let settings = billing::settings(&mut tx, caller.tenant()).await?;
    let amount = billing::price(
        tx.conn(),
        caller.tenant(),
        &d.tld,
        "restore",
        1,
        settings.currency,
    )
    .await?;
    let mut op = operation(
        Some(caller),
        &d,
        "restore",
        term,
        Some(1),
        key,
        serde_json::json!({}),
    );
    submit_paid(app, &mut tx, &mut op, &d, amount, &settings).await?;
    record(
        &mut tx,
        caller,
        "domain.restore",
        &d,
        format!("ordered the restore of {} from redemption", d.name_unicode),
    )
    .await?;
    tx.commit().await?;
    Ok(Accepted {
        domain: d,
        job_id: op.job_id.clone(),
        operation: op,
    })
}

/// Queues a change (nameservers, lock, …) decided by Panel1 itself (e.g. the sync putting
/// back a registrar lock that was removed behind its back), in `tx`.
pub(crate) async fn queue_system_update(
    tx: &mut Tx,
    d: &Domain,
    kind: &str,
    params: serde_json::Value,
) -> AppResult<DomainOperation> {
    let name = DomainName::parse(&d.name).map_err(AppError::internal)?;
    let op_id = DomainOperationId::new();
    let key = IdempotencyKey::derive(&name, kind, op_id.as_str());
    let mut op = operation(
        None,
        d,
        kind,
        op_id.to_string(),
        None,
        key.to_string(),
        params,
    );
    op.id = op_id;
    op.requested_by = Some("system:sync".into());
    submit(tx, &mut op).await?;
    Ok(op)
}

/// Checks that the registry holds the domain in this account in a state that allows changes.
fn changeable(d: &Domain) -> AppResult<()> {
    use DomainState as S;
    match d.state {
        S::Active | S::Expired | S::AutoRenewGrace | S::Suspended => Ok(()),
        S::PendingRegistration | S::PendingTransferIn => Err(AppError::conflict(
            format!(
                "{} is {}; wait until it finishes before changing it",
                d.name_unicode, d.state
            ),
            None,
        )),
        other => Err(AppError::conflict(
            format!(
                "{} is {other}: the registry does not accept changes to it now",
                d.name_unicode
            ),
            None,
        )),
    }
}

/// Queues an update (nameservers, contacts, lock, privacy, hold) of a domain.
async fn update_op(
    app: &App,
    caller: &Caller,
    id: &DomainId,
    kind: &str,
    params: serde_json::Value,
    summary: String,
    check: impl FnOnce(&Domain) -> AppResult<()>,
) -> AppResult<Accepted> {
    let mut tx = app.db.begin().await?;
    let d = load_for_update(&mut tx, caller, id).await?;
    check(&d)?;
    let name = DomainName::parse(&d.name).map_err(AppError::internal)?;
    let op_id = DomainOperationId::new();
    let key = IdempotencyKey::derive(&name, kind, op_id.as_str());
    let mut op = operation(
        Some(caller),
        &d,
        kind,
        op_id.to_string(),
        None,
        key.to_string(),
        params,
    );
    op.id = op_id;
    submit(&mut tx, &mut op).await?;
    record(&mut tx, caller, &format!("domain.{kind}"), &d, summary).await?;
    tx.commit().await?;
    Ok(Accepted {
        domain: d,
        job_id: op.job_id.clone(),
        operation: op,
    })
}

pub async fn update_nameservers(
    app: &App,
    caller: &Caller,
    id: &DomainId,
    input: &UpdateNameservers,
) -> AppResult<Accepted> {
    let mut c = Checker::new();
    let ns = nameservers(&input.nameservers, "nameservers", &mut c);
    check_nameserver_count(&input.nameservers, false, "nameservers", &mut c);
    c.finish()?;
    let list: Vec<String> = ns.iter().map(|n| n.as_ascii().to_owned()).collect();
    update_op(
        app,
        caller,
        id,
        "nameservers",
        serde_json::json!({ "nameservers": list }),
        format!("asked for nameservers {}", list.join(", ")),
        changeable,
    )
    .await
}

pub async fn update_contacts(
    app: &App,
    caller: &Caller,
    id: &DomainId,
    input: &ContactsInput,
) -> AppResult<Accepted> {
    let client = {
        let mut r = app.db.read().await?;
        repo::get(r.conn(), &caller.scope(), id)
            .await?
            .ok_or_else(|| AppError::not_found("domain", id))?
            .client_id
    };
    let mut c = Checker::new();
    check_contacts(app, caller, &client, input, "", &mut c).await?;
    c.finish().map_err(|e| {
        ValidationError(
            e.0.into_iter()
                .map(|mut f| {
                    f.field = f.field.trim_start_matches('.').to_owned();
                    f
                })
                .collect(),
        )
    })?;
    let ids = input.ids();
    update_op(
        app,
        caller,
        id,
        "contacts",
        serde_json::json!({ "contacts": ids }),
        "asked for new WHOIS contacts".to_owned(),
        changeable,
    )
    .await
}

pub async fn set_lock(
    app: &App,
    caller: &Caller,
    id: &DomainId,
    input: &SetLock,
) -> AppResult<Accepted> {
    update_op(
        app,
        caller,
        id,
        "lock",
        serde_json::json!({ "locked": input.locked }),
        format!(
            "asked to {} the registrar lock",
            if input.locked { "set" } else { "remove" }
        ),
        changeable,
    )
    .await
}

pub async fn set_privacy(
    app: &App,
    caller: &Caller,
    id: &DomainId,
    input: &SetPrivacy,
) -> AppResult<Accepted> {
    update_op(
        app,
        caller,
        id,
        "privacy",
        serde_json::json!({ "privacy": input.enabled }),
        format!(
            "asked to turn WHOIS privacy {}",
            if input.enabled { "on" } else { "off" }
        ),
        changeable,
    )
    .await
}

/// Suspends a domain (staff): Panel1's state now, the registry hold through a job.
pub async fn suspend(
    app: &App,
    staff: Staff<'_>,
    id: &DomainId,
    input: &Suspend,
) -> AppResult<Accepted> {
    let caller = staff.0;
    let reason = validate::text(&input.reason, 500)
        .map_err(|e| ValidationError(e.0.into_iter().map(|f| f.under("reason")).collect()))?;
    hold(app, caller, id, true, Some(reason)).await
}

/// Lifts a suspension (staff): Panel1's state now, the registry hold through a job.
pub async fn unsuspend(app: &App, staff: Staff<'_>, id: &DomainId) -> AppResult<Accepted> {
    hold(app, staff.0, id, false, None).await
}

async fn hold(
    app: &App,
    caller: &Caller,
    id: &DomainId,
    on: bool,
    reason: Option<String>,
) -> AppResult<Accepted> {
    let mut tx = app.db.begin().await?;
    let mut d = load_for_update(&mut tx, caller, id).await?;
    let event = if on {
        DomainEvent::Suspended
    } else {
        DomainEvent::Unsuspended
    };
    d.state = d
        .state
        .apply(event)
        .map_err(|e| AppError::conflict(format!("{}: {e}", d.name_unicode), None))?;
    d.suspension_reason = reason.clone();
    let d = repo::update(tx.conn(), &d).await?;
    let name = DomainName::parse(&d.name).map_err(AppError::internal)?;
    let op_id = DomainOperationId::new();
    let key = IdempotencyKey::derive(&name, "hold", op_id.as_str());
    let mut op = operation(
        Some(caller),
        &d,
        "hold",
        op_id.to_string(),
        None,
        key.to_string(),
        serde_json::json!({ "hold": on, "reason": reason }),
    );
    op.id = op_id;
    submit(&mut tx, &mut op).await?;
    let kind = if on {
        "domain.suspended"
    } else {
        "domain.unsuspended"
    };
    events::append(
        &mut tx,
        NewEvent {
            tenant_id: caller.tenant(),
            kind,
            object_type: "domain",
            object_id: d.id.as_str(),
            payload: serde_json::json!({ "domain": d, "reason": reason }),
        },
    )
    .await?;
    record(
        &mut tx,
        caller,
        if on {
            "domain.suspend"
        } else {
            "domain.unsuspend"
        },
        &d,
        match &reason {
            Some(r) => format!("suspended {}: {r}", d.name_unicode),
            None => format!("lifted the suspension of {}", d.name_unicode),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Accepted {
        domain: d,
        job_id: op.job_id.clone(),
        operation: op,
    })
}

/// The auth code, fetched from the registrar within the request (it changes nothing). It is
/// never stored, logged or put in the audit entry.
pub async fn auth_code(app: &App, caller: &Caller, id: &DomainId) -> AppResult<AuthCode> {
    let (d, account) = {
        let mut r = app.db.read().await?;
        let d = repo::get(r.conn(), &caller.scope(), id)
            .await?
            .ok_or_else(|| AppError::not_found("domain", id))?;
        let account =
            panel1_store::registrars::get_any(r.conn(), caller.tenant(), &d.registrar_account_id)
                .await?
                .ok_or_else(|| {
                    AppError::internal(anyhow::anyhow!("the domain's registrar account is missing"))
                })?;
        (d, account)
    };
    changeable(&d)?;
    let name = DomainName::parse(&d.name).map_err(AppError::internal)?;
    let registrar = accounts::registrar(app, &account)
        .await
        .map_err(|e| unavailable(&account, &e))?;
    let timeout = Duration::from_secs(app.settings.registrar_check_timeout_secs);
    let reply = tokio::time::timeout(timeout, registrar.auth_code(&name))
        .await
        .map_err(|_| {
            AppError::Unavailable(format!(
                "registrar `{}` did not answer within {} s; try again shortly",
                account.name,
                timeout.as_secs()
            ))
        })?;
    let code = match reply.result {
        Ok(c) => c,
        Err(e) if e.is_not_supported() => {
            return Err(AppError::conflict(
                format!(
                    "registrar `{}` does not give out auth codes through its API; ask it directly",
                    account.name
                ),
                None,
            ));
        }
        Err(e) => return Err(unavailable(&account, &e)),
    };
    let mut tx = app.db.begin().await?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "domain.auth_code.reveal",
            object_type: "domain",
            object_id: d.id.as_str(),
            summary: format!("revealed the auth code of {}", d.name_unicode),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(AuthCode {
        domain_id: d.id,
        name: d.name,
        auth_code: code.expose().to_owned(),
    })
}

pub async fn get(app: &App, caller: &Caller, id: &DomainId) -> AppResult<DomainDetail> {
    let mut r = app.db.read().await?;
    let d = repo::get(r.conn(), &caller.scope(), id)
        .await?
        .ok_or_else(|| AppError::not_found("domain", id))?;
    let recs = contacts::get_many(r.conn(), caller.tenant(), &d.contacts.ids()).await?;
    let find = |id: &Option<ContactId>| {
        id.as_ref()
            .and_then(|i| recs.iter().find(|c| &c.id == i).cloned())
    };
    let whois = WhoisContacts {
        registrant: find(&d.contacts.registrant),
        admin: find(&d.contacts.admin),
        tech: find(&d.contacts.tech),
        billing: find(&d.contacts.billing),
    };
    let (recent, _) =
        ops::list_for_domain(r.conn(), caller.tenant(), id, PageRequest::first(10)).await?;
    Ok(DomainDetail {
        domain: d,
        whois_contacts: whois,
        recent_operations: recent,
    })
}

/// What `listDomains` filters on, as given.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub client_id: Option<ClientId>,
    pub status: Option<String>,
    pub tld: Option<String>,
    pub expiring_before: Option<DateTime<Utc>>,
    pub search: Option<String>,
}

pub async fn list(
    app: &App,
    caller: &Caller,
    f: &ListFilter,
    page: PageRequest,
) -> AppResult<Page<Domain>> {
    let mut c = Checker::new();
    let state = match &f.status {
        Some(s) => match DomainState::parse(s) {
            Some(st) => Some(st),
            None => {
                c.push(FieldError::new(
                    "status",
                    "enum",
                    format!(
                        "one of {}",
                        DomainState::ALL
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
                None
            }
        },
        None => None,
    };
    let tld = match &f.tld {
        Some(t) => c.take("tld", accounts::parse_tld(t)),
        None => None,
    };
    c.finish()?;
    let filter = DomainFilter {
        client_id: f.client_id.clone(),
        state,
        tld,
        expiring_before: f.expiring_before,
        search: f.search.clone(),
    };
    let mut r = app.db.read().await?;
    let (items, total) = repo::list(r.conn(), &caller.scope(), &filter, page).await?;
    Ok(Page::new(items, page, total))
}

/// A domain's operations, newest first, each with its registrar calls.
pub async fn operations(
    app: &App,
    caller: &Caller,
    id: &DomainId,
    page: PageRequest,
) -> AppResult<Page<OperationLog>> {
    let mut r = app.db.read().await?;
    if repo::get(r.conn(), &caller.scope(), id).await?.is_none() {
        return Err(AppError::not_found("domain", id));
    }
    let (items, total) = ops::list_for_domain(r.conn(), caller.tenant(), id, page).await?;
    let ids: Vec<DomainOperationId> = items.iter().map(|o| o.id.clone()).collect();
    let calls = ops::calls_for(r.conn(), caller.tenant(), &ids).await?;
    let items = items
        .into_iter()
        .map(|o| OperationLog {
            calls: calls
                .iter()
                .filter(|c| c.operation_id == o.id)
                .cloned()
                .collect(),
            operation: o,
        })
        .collect();
    Ok(Page::new(items, page, total))
}

/// Where the domain's latest transfer stands, as the transfer job last saw it.
pub async fn transfer_status(
    app: &App,
    caller: &Caller,
    id: &DomainId,
) -> AppResult<TransferStatus> {
    let mut r = app.db.read().await?;
    let d = repo::get(r.conn(), &caller.scope(), id)
        .await?
        .ok_or_else(|| AppError::not_found("domain", id))?;
    let op = ops::latest(r.conn(), caller.tenant(), id, "transfer")
        .await?
        .ok_or_else(|| AppError::not_found("transfer of domain", id))?;
    let info = op.result.clone().unwrap_or_default();
    let text = |k: &str| info.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let time = |k: &str| {
        info.get(k)
            .and_then(|v| serde_json::from_value::<DateTime<Utc>>(v.clone()).ok())
    };
    let state = match op.status {
        OperationStatus::Failed => text("state").unwrap_or_else(|| "failed".into()),
        OperationStatus::Succeeded => "completed".into(),
        _ => text("state").unwrap_or_else(|| "requested".into()),
    };
    Ok(TransferStatus {
        domain_id: d.id,
        name: d.name,
        state,
        transfer_id: text("transfer_id"),
        requested_at: time("requested_at"),
        action_by: time("action_by"),
        message: text("message").or_else(|| op.error.clone()),
        operation: op,
    })
}

/// A system actor for jobs (audit entries written by the worker).
pub(crate) fn system_actor() -> Actor {
    Actor::system("domains")
}
