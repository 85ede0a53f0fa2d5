//! TLS certificates: products a tenant sells, subscriptions (the paid term), the certificates
//! (one CA order each, with what it produced), the validation of each identifier, and the
//! CA operations log. A certificate's private key is only ever stored sealed
//! (`private_key_sealed`) and never serialised.

use chrono::{DateTime, Utc};
use panel1_core::money::Currency;
use panel1_core::time::{from_millis, now_millis};
use panel1_core::{
    CaAccountId, CertificateId, CertificateProductId, CertificateSubscriptionId, ClientId,
    InvoiceId, JobId, PageRequest, Scope, TenantId, ValidationRecordId,
};
use serde::Serialize;

use crate::{Conn, Result, StoreError, exec, on};

use super::contains_pattern;

fn currency(s: &str) -> Result<Currency> {
    Currency::parse(s).map_err(StoreError::corrupt)
}

fn json_list(s: &str) -> Result<Vec<String>> {
    serde_json::from_str(s).map_err(StoreError::corrupt)
}

fn to_json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

// ---------------------------------------------------------------- products

/// A certificate product a tenant sells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CertificateProduct {
    pub id: CertificateProductId,
    pub tenant_id: TenantId,
    pub name: String,
    /// `dv_single`, `dv_multi`, `dv_wildcard`, `ov` or `ev`.
    pub kind: String,
    /// The most names one certificate of this product may carry.
    pub max_names: i64,
    /// The CA account that issues it (the tenant's default when empty).
    pub ca_account_id: Option<CaAccountId>,
    /// `ecdsa-p256` (default), `ecdsa-p384`, `rsa-2048`, `rsa-3072`, `rsa-4096`.
    pub key_type: String,
    /// An ACME profile offered by the CA (e.g. `shortlived`).
    pub profile: Option<String>,
    /// The subscription term.
    pub term_months: i64,
    pub currency: Currency,
    /// Price of one term in minor units (0: free).
    pub price: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ProductRow {
    id: String,
    tenant_id: String,
    name: String,
    kind: String,
    max_names: i64,
    ca_account_id: Option<String>,
    key_type: String,
    profile: Option<String>,
    term_months: i64,
    currency: String,
    price: i64,
    created_at: i64,
    updated_at: i64,
}

const PRODUCT_COLUMNS: &str = "id, tenant_id, name, kind, max_names, ca_account_id, key_type, profile, term_months, currency, price, created_at, updated_at";

impl ProductRow {
    fn into_model(self) -> Result<CertificateProduct> {
        Ok(CertificateProduct {
            id: super::id(&self.id)?,
            tenant_id: super::id(&self.tenant_id)?,
            name: self.name,
            kind: self.kind,
            max_names: self.max_names,
            ca_account_id: super::opt_id(self.ca_account_id.as_deref())?,
            key_type: self.key_type,
            profile: self.profile,
            term_months: self.term_months,
            currency: currency(&self.currency)?,
            price: self.price,
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
        })
    }
}

/// Stores a product (its id and timestamps are taken from `p`); a live product of the same
/// name answers [`StoreError::Conflict`].
pub async fn insert_product(c: Conn<'_>, p: &CertificateProduct) -> Result<()> {
    exec!(c, c => sqlx::query(
        "INSERT INTO certificate_products (id, tenant_id, name, kind, max_names, ca_account_id, key_type, profile, term_months, currency, price, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
        .bind(p.id.as_str()).bind(p.tenant_id.as_str()).bind(&p.name).bind(&p.kind).bind(p.max_names)
        .bind(p.ca_account_id.as_ref().map(CaAccountId::as_str)).bind(&p.key_type).bind(&p.profile).bind(p.term_months)
        .bind(p.currency.as_str()).bind(p.price).bind(p.created_at.timestamp_millis()).bind(p.updated_at.timestamp_millis())
        .execute(c).await)?;
    Ok(())
}

pub async fn get_product(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &CertificateProductId,
) -> Result<Option<CertificateProduct>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {PRODUCT_COLUMNS} FROM certificate_products WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
    ));
    let row: Option<ProductRow> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(id.as_str()).fetch_optional(c).await)?;
    row.map(ProductRow::into_model).transpose()
}

pub async fn list_products(c: Conn<'_>, tenant: &TenantId) -> Result<Vec<CertificateProduct>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {PRODUCT_COLUMNS} FROM certificate_products WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY created_at, id"
    ));
    let rows: Vec<ProductRow> =
        on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).fetch_all(c).await)?;
    rows.into_iter().map(ProductRow::into_model).collect()
}

pub async fn delete_product(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &CertificateProductId,
) -> Result<bool> {
    let now = now_millis();
    let n = exec!(c, c => sqlx::query(
        "UPDATE certificate_products SET deleted_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL")
        .bind(tenant.as_str()).bind(id.as_str()).bind(now).execute(c).await)?;
    Ok(n == 1)
}

// ---------------------------------------------------------------- subscriptions

/// A client's certificate subscription: one term (paid, or free) that covers every issuance,
/// reissue and renewal of its names until `term_end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Subscription {
    pub id: CertificateSubscriptionId,
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub product_id: Option<CertificateProductId>,
    pub names: Vec<String>,
    pub term_months: i64,
    pub currency: Currency,
    /// Price of one term in minor units.
    pub price: i64,
    /// `awaiting_payment`, `active`, `expired` or `cancelled`.
    pub status: String,
    pub term_start: DateTime<Utc>,
    pub term_end: DateTime<Utc>,
    /// The invoice of the current term, when it is paid for.
    pub invoice_id: Option<InvoiceId>,
    pub auto_renew: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct SubscriptionRow {
    id: String,
    tenant_id: String,
    client_id: String,
    product_id: Option<String>,
    names: String,
    term_months: i64,
    currency: String,
    price: i64,
    status: String,
    term_start: i64,
    term_end: i64,
    invoice_id: Option<String>,
    auto_renew: bool,
    created_at: i64,
    updated_at: i64,
}

const SUBSCRIPTION_COLUMNS: &str = "id, tenant_id, client_id, product_id, names, term_months, currency, price, status, term_start, term_end, invoice_id, auto_renew, created_at, updated_at";

impl SubscriptionRow {
    fn into_model(self) -> Result<Subscription> {
        Ok(Subscription {
            id: super::id(&self.id)?,
            tenant_id: super::id(&self.tenant_id)?,
            client_id: super::id(&self.client_id)?,
            product_id: super::opt_id(self.product_id.as_deref())?,
            names: json_list(&self.names)?,
            term_months: self.term_months,
            currency: currency(&self.currency)?,
            price: self.price,
            status: self.status,
            term_start: from_millis(self.term_start),
            term_end: from_millis(self.term_end),
            invoice_id: super::opt_id(self.invoice_id.as_deref())?,
            auto_renew: self.auto_renew,
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
        })
    }
}

pub async fn insert_subscription(c: Conn<'_>, s: &Subscription) -> Result<()> {
    exec!(c, c => sqlx::query(
        "INSERT INTO certificate_subscriptions (id, tenant_id, client_id, product_id, names, term_months, currency, price, status, term_start, term_end, invoice_id, auto_renew, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)")
        .bind(s.id.as_str()).bind(s.tenant_id.as_str()).bind(s.client_id.as_str())
        .bind(s.product_id.as_ref().map(CertificateProductId::as_str)).bind(to_json(&s.names)).bind(s.term_months)
        .bind(s.currency.as_str()).bind(s.price).bind(&s.status).bind(s.term_start.timestamp_millis())
        .bind(s.term_end.timestamp_millis()).bind(s.invoice_id.as_ref().map(InvoiceId::as_str)).bind(s.auto_renew)
        .bind(s.created_at.timestamp_millis()).bind(s.updated_at.timestamp_millis())
        .execute(c).await)?;
    Ok(())
}

pub async fn get_subscription(
    c: Conn<'_>,
    scope: &Scope,
    id: &CertificateSubscriptionId,
) -> Result<Option<Subscription>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM certificate_subscriptions WHERE tenant_id = $1 AND id = $2"
    ));
    let row: Option<SubscriptionRow> = on!(c, c => sqlx::query_as(sql).bind(scope.tenant_id.as_str()).bind(id.as_str()).fetch_optional(c).await)?;
    let s = row.map(SubscriptionRow::into_model).transpose()?;
    Ok(s.filter(|s| scope.sees_client(Some(&s.client_id))))
}

/// The client's subscriptions, newest first.
pub async fn list_subscriptions(
    c: Conn<'_>,
    scope: &Scope,
    page: PageRequest,
) -> Result<(Vec<Subscription>, u64)> {
    let (cond, client) = match &scope.client_id {
        Some(cl) => ("tenant_id = $1 AND client_id = $2", Some(cl.as_str())),
        None => ("tenant_id = $1", None),
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM certificate_subscriptions WHERE {cond} ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}",
        page.limit(),
        page.offset()
    ));
    let count = sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM certificate_subscriptions WHERE {cond}"
    ));
    let mut c = c;
    let rows: Vec<SubscriptionRow> = on!(c.reborrow(), c => {
        let mut q = sqlx::query_as(sql).bind(scope.tenant_id.as_str());
        if let Some(cl) = client { q = q.bind(cl); }
        q.fetch_all(c).await
    })?;
    let total: i64 = on!(c, c => {
        let mut q = sqlx::query_scalar(count).bind(scope.tenant_id.as_str());
        if let Some(cl) = client { q = q.bind(cl); }
        q.fetch_one(c).await
    })?;
    let items = rows
        .into_iter()
        .map(SubscriptionRow::into_model)
        .collect::<Result<Vec<_>>>()?;
    Ok((items, u64::try_from(total).unwrap_or(0)))
}

/// Sets the status of a subscription (and optionally its invoice).
pub async fn set_subscription_status(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &CertificateSubscriptionId,
    status: &str,
) -> Result<()> {
    exec!(c, c => sqlx::query(
        "UPDATE certificate_subscriptions SET status = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(id.as_str()).bind(status).bind(now_millis())
        .execute(c).await)?;
    Ok(())
}

/// Starts the next term of a subscription, with its invoice (if any) and status.
pub async fn start_term(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &CertificateSubscriptionId,
    term_start: DateTime<Utc>,
    term_end: DateTime<Utc>,
    invoice: Option<&InvoiceId>,
    status: &str,
) -> Result<()> {
    exec!(c, c => sqlx::query(
        "UPDATE certificate_subscriptions SET term_start = $3, term_end = $4, invoice_id = $5, status = $6, updated_at = $7
         WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(id.as_str()).bind(term_start.timestamp_millis()).bind(term_end.timestamp_millis())
        .bind(invoice.map(InvoiceId::as_str)).bind(status).bind(now_millis())
        .execute(c).await)?;
    Ok(())
}

// ---------------------------------------------------------------- certificates

/// A certificate: one order at a CA, the validation state, and once issued the parsed
/// certificate. The private key and the PEM chain are never serialised.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Certificate {
    pub id: CertificateId,
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub subscription_id: CertificateSubscriptionId,
    pub ca_account_id: CaAccountId,
    /// The names, canonical (lower case, sorted, wildcards as `*.example.com`).
    pub names: Vec<String>,
    pub common_name: String,
    pub key_type: String,
    /// `http-01` or `dns-01`.
    pub validation_method: String,
    /// DNS-01: `auto` (hosted zone when Panel1 serves it, else manual), `hosted` or `manual`.
    pub dns_mode: Option<String>,
    /// `dv`, `ov` or `ev`.
    pub validation_level: String,
    pub profile: Option<String>,
    /// HTTP-01: a document root Panel1 also writes the token to.
    pub webroot: Option<String>,
    /// `awaiting_payment`, `pending`, `validating`, `awaiting_validation`,
    /// `awaiting_organization_validation`, `issuing`, `issued`, `failed`, `revoking`, `revoked`,
    /// `replaced` or `expired`.
    pub status: String,
    /// What is happening or what went wrong, and what to do.
    pub status_detail: Option<String>,
    /// Why it failed, as a stable word (`caa`, `validation`, `ca_unreachable`, `rate_limited`, …).
    pub failure_kind: Option<String>,
    /// Failed runs of the issuance so far.
    pub attempts: i64,
    pub order_url: Option<String>,
    pub order_status: Option<String>,
    pub serial: Option<String>,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub sans: Option<Vec<String>>,
    /// SHA-256 of the DER, lower-case hex.
    pub fingerprint: Option<String>,
    /// The RFC 9773 certificate identifier.
    pub ari_id: Option<String>,
    pub not_before: Option<DateTime<Utc>>,
    pub not_after: Option<DateTime<Utc>>,
    pub issued_at: Option<DateTime<Utc>>,
    pub auto_renew: bool,
    /// When Panel1 renews it.
    pub renew_at: Option<DateTime<Utc>>,
    /// `ari_window` or `lifetime`.
    pub renewal_basis: Option<String>,
    /// The CA's suggested renewal window (RFC 9773), when offered.
    pub ari_window_start: Option<DateTime<Utc>>,
    pub ari_window_end: Option<DateTime<Utc>>,
    pub renewal_failures: i64,
    /// The certificate this one replaces (a renewal or reissue), and its serial.
    pub replaces_id: Option<CertificateId>,
    pub replaces_serial: Option<String>,
    pub replaced_by_id: Option<CertificateId>,
    pub replaced_at: Option<DateTime<Utc>>,
    pub revocation_reason: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Manual DNS-01: when Panel1 stops waiting for the records.
    pub manual_deadline: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub run_seq: i64,
    #[serde(skip)]
    pub ari_next_check: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub chain_pem: Option<String>,
    #[serde(skip)]
    pub private_key_sealed: Option<String>,
}

impl Certificate {
    /// Whether the order is still being worked on.
    pub fn is_open(&self) -> bool {
        OPEN_STATUSES.contains(&self.status.as_str())
    }
}

/// The statuses of a certificate whose order is in progress (one per tenant and name set).
pub const OPEN_STATUSES: [&str; 6] = [
    "awaiting_payment",
    "pending",
    "validating",
    "awaiting_validation",
    "awaiting_organization_validation",
    "issuing",
];

#[derive(sqlx::FromRow)]
struct CertRow {
    id: String,
    tenant_id: String,
    client_id: String,
    subscription_id: String,
    ca_account_id: String,
    names: String,
    common_name: String,
    key_type: String,
    validation_method: String,
    dns_mode: Option<String>,
    validation_level: String,
    profile: Option<String>,
    webroot: Option<String>,
    status: String,
    status_detail: Option<String>,
    failure_kind: Option<String>,
    attempts: i64,
    run_seq: i64,
    order_url: Option<String>,
    order_status: Option<String>,
    private_key_sealed: Option<String>,
    serial: Option<String>,
    issuer: Option<String>,
    subject: Option<String>,
    sans: Option<String>,
    fingerprint: Option<String>,
    ari_id: Option<String>,
    not_before: Option<i64>,
    not_after: Option<i64>,
    chain_pem: Option<String>,
    issued_at: Option<i64>,
    auto_renew: bool,
    renew_at: Option<i64>,
    renewal_basis: Option<String>,
    ari_start: Option<i64>,
    ari_end: Option<i64>,
    ari_next_check: Option<i64>,
    renewal_failures: i64,
    replaces_id: Option<String>,
    replaces_serial: Option<String>,
    replaced_by_id: Option<String>,
    replaced_at: Option<i64>,
    revocation_reason: Option<String>,
    revoked_at: Option<i64>,
    manual_deadline: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

const CERT_COLUMNS: &str = "id, tenant_id, client_id, subscription_id, ca_account_id, names, common_name, key_type, validation_method, dns_mode, validation_level, profile, webroot, status, status_detail, failure_kind, attempts, run_seq, order_url, order_status, private_key_sealed, serial, issuer, subject, sans, fingerprint, ari_id, not_before, not_after, chain_pem, issued_at, auto_renew, renew_at, renewal_basis, ari_start, ari_end, ari_next_check, renewal_failures, replaces_id, replaces_serial, replaced_by_id, replaced_at, revocation_reason, revoked_at, manual_deadline, created_at, updated_at";

impl CertRow {
    fn into_model(self) -> Result<Certificate> {
        let t = |v: Option<i64>| v.map(from_millis);
        Ok(Certificate {
            id: super::id(&self.id)?,
            tenant_id: super::id(&self.tenant_id)?,
            client_id: super::id(&self.client_id)?,
            subscription_id: super::id(&self.subscription_id)?,
            ca_account_id: super::id(&self.ca_account_id)?,
            names: json_list(&self.names)?,
            common_name: self.common_name,
            key_type: self.key_type,
            validation_method: self.validation_method,
            dns_mode: self.dns_mode,
            validation_level: self.validation_level,
            profile: self.profile,
            webroot: self.webroot,
            status: self.status,
            status_detail: self.status_detail,
            failure_kind: self.failure_kind,
            attempts: self.attempts,
            order_url: self.order_url,
            order_status: self.order_status,
            serial: self.serial,
            issuer: self.issuer,
            subject: self.subject,
            sans: self.sans.as_deref().map(json_list).transpose()?,
            fingerprint: self.fingerprint,
            ari_id: self.ari_id,
            not_before: t(self.not_before),
            not_after: t(self.not_after),
            issued_at: t(self.issued_at),
            auto_renew: self.auto_renew,
            renew_at: t(self.renew_at),
            renewal_basis: self.renewal_basis,
            ari_window_start: t(self.ari_start),
            ari_window_end: t(self.ari_end),
            renewal_failures: self.renewal_failures,
            replaces_id: super::opt_id(self.replaces_id.as_deref())?,
            replaces_serial: self.replaces_serial,
            replaced_by_id: super::opt_id(self.replaced_by_id.as_deref())?,
            replaced_at: t(self.replaced_at),
            revocation_reason: self.revocation_reason,
            revoked_at: t(self.revoked_at),
            manual_deadline: t(self.manual_deadline),
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
            run_seq: self.run_seq,
            ari_next_check: t(self.ari_next_check),
            chain_pem: self.chain_pem,
            private_key_sealed: self.private_key_sealed,
        })
    }
}

/// A certificate to create (an order to place).
#[derive(Debug, Clone)]
pub struct NewCertificate<'a> {
    pub id: &'a CertificateId,
    pub client_id: &'a ClientId,
    pub subscription_id: &'a CertificateSubscriptionId,
    pub ca_account_id: &'a CaAccountId,
    pub names: &'a [String],
    pub names_key: &'a str,
    pub key_type: &'a str,
    pub validation_method: &'a str,
    pub dns_mode: Option<&'a str>,
    pub validation_level: &'a str,
    pub profile: Option<&'a str>,
    pub webroot: Option<&'a str>,
    pub status: &'a str,
    pub status_detail: Option<&'a str>,
    pub auto_renew: bool,
    pub replaces: Option<(&'a CertificateId, Option<&'a str>)>,
    pub created_by: Option<&'a str>,
}

/// Stores a new certificate. Another open order for the same names in the tenant answers
/// [`StoreError::Conflict`] (constraint `certificates_one_open_order`).
pub async fn insert(mut c: Conn<'_>, tenant: &TenantId, n: &NewCertificate<'_>) -> Result<()> {
    let now = now_millis();
    let common = n.names.first().cloned().unwrap_or_default();
    let search = n.names.join(" ");
    exec!(c.reborrow(), c => sqlx::query(
        "INSERT INTO certificates (id, tenant_id, client_id, subscription_id, ca_account_id, names, names_key, common_name, key_type, validation_method, dns_mode,
            validation_level, profile, webroot, status, status_detail, auto_renew, replaces_id, replaces_serial, search_text, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $22)")
        .bind(n.id.as_str()).bind(tenant.as_str()).bind(n.client_id.as_str()).bind(n.subscription_id.as_str())
        .bind(n.ca_account_id.as_str()).bind(to_json(n.names)).bind(n.names_key).bind(common).bind(n.key_type)
        .bind(n.validation_method).bind(n.dns_mode).bind(n.validation_level).bind(n.profile).bind(n.webroot)
        .bind(n.status).bind(n.status_detail).bind(n.auto_renew)
        .bind(n.replaces.map(|r| r.0.as_str())).bind(n.replaces.and_then(|r| r.1))
        .bind(search).bind(n.created_by).bind(now)
        .execute(c).await)?;
    super::counters::add(c, tenant, "certificates", 1).await
}

/// A certificate in the caller's scope.
pub async fn get(c: Conn<'_>, scope: &Scope, id: &CertificateId) -> Result<Option<Certificate>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {CERT_COLUMNS} FROM certificates WHERE tenant_id = $1 AND id = $2"
    ));
    let row: Option<CertRow> = on!(c, c => sqlx::query_as(sql).bind(scope.tenant_id.as_str()).bind(id.as_str()).fetch_optional(c).await)?;
    let cert = row.map(CertRow::into_model).transpose()?;
    Ok(cert.filter(|x| scope.sees_client(Some(&x.client_id))))
}

/// The open order (if any) for a name set in the tenant.
pub async fn open_for_names(
    c: Conn<'_>,
    tenant: &TenantId,
    names_key: &str,
) -> Result<Option<Certificate>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {CERT_COLUMNS} FROM certificates WHERE tenant_id = $1 AND names_key = $2 AND status IN ('awaiting_payment', 'pending', 'validating', 'awaiting_validation', 'awaiting_organization_validation', 'issuing')"
    ));
    let row: Option<CertRow> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(names_key).fetch_optional(c).await)?;
    row.map(CertRow::into_model).transpose()
}

#[derive(Debug, Clone, Default)]
pub struct CertificateFilter {
    pub status: Option<String>,
    pub client_id: Option<ClientId>,
    /// Matches any of the names (case-insensitive substring).
    pub search: Option<String>,
    /// Issued certificates that expire before this instant.
    pub expires_before: Option<DateTime<Utc>>,
}

/// Certificates in the scope, newest first.
pub async fn list(
    mut c: Conn<'_>,
    scope: &Scope,
    f: &CertificateFilter,
    page: PageRequest,
) -> Result<(Vec<Certificate>, u64)> {
    let mut cond = String::from("tenant_id = $1");
    let mut binds: Vec<String> = Vec::new();
    let mut n = 1;
    let client = scope.client_id.as_ref().or(f.client_id.as_ref());
    if let Some(cl) = client {
        n += 1;
        cond.push_str(&format!(" AND client_id = ${n}"));
        binds.push(cl.as_str().to_owned());
    }
    if let (Some(mine), Some(asked)) = (&scope.client_id, &f.client_id)
        && mine != asked
    {
        return Ok((Vec::new(), 0));
    }
    if let Some(s) = &f.status {
        n += 1;
        cond.push_str(&format!(" AND status = ${n}"));
        binds.push(s.clone());
    }
    if let Some(s) = f.search.as_deref().filter(|s| !s.trim().is_empty()) {
        n += 1;
        cond.push_str(&format!(" AND search_text LIKE ${n} ESCAPE '\\'"));
        binds.push(contains_pattern(s.trim()));
    }
    let mut expires: Option<i64> = None;
    if let Some(t) = f.expires_before {
        n += 1;
        cond.push_str(&format!(" AND status = 'issued' AND not_after < ${n}"));
        expires = Some(t.timestamp_millis());
    }
    let filtered = n > 1;
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {CERT_COLUMNS} FROM certificates WHERE {cond} ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}",
        page.limit(),
        page.offset()
    ));
    let rows: Vec<CertRow> = on!(c.reborrow(), c => {
        let mut q = sqlx::query_as(sql).bind(scope.tenant_id.as_str());
        for b in &binds { q = q.bind(b); }
        if let Some(e) = expires { q = q.bind(e); }
        q.fetch_all(c).await
    })?;
    let total = if filtered {
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM certificates WHERE {cond}"));
        let t: i64 = on!(c.reborrow(), c => {
            let mut q = sqlx::query_scalar(sql).bind(scope.tenant_id.as_str());
            for b in &binds { q = q.bind(b); }
            if let Some(e) = expires { q = q.bind(e); }
            q.fetch_one(c).await
        })?;
        t
    } else {
        super::counters::get(c.reborrow(), &scope.tenant_id, "certificates").await?
    };
    let items = rows
        .into_iter()
        .map(CertRow::into_model)
        .collect::<Result<Vec<_>>>()?;
    Ok((items, u64::try_from(total).unwrap_or(0)))
}

/// Moves a certificate to `status` with a detail (and a failure kind for failures).
pub async fn set_status(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &CertificateId,
    status: &str,
    detail: Option<&str>,
    failure_kind: Option<&str>,
) -> Result<()> {
    exec!(c, c => sqlx::query(
        "UPDATE certificates SET status = $3, status_detail = $4, failure_kind = $5, updated_at = $6 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(id.as_str()).bind(status).bind(detail).bind(failure_kind).bind(now_millis())
        .execute(c).await)?;
    Ok(())
}

/// Counts one failed run and records why (the status stays); returns the new count.
pub async fn add_attempt(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &CertificateId,
    detail: &str,
    failure_kind: &str,
) -> Result<i64> {
    Ok(on!(c, c => sqlx::query_scalar(
        "UPDATE certificates SET attempts = attempts + 1, status_detail = $3, failure_kind = $4, updated_at = $5
         WHERE tenant_id = $1 AND id = $2 RETURNING attempts")
        .bind(tenant.as_str()).bind(id.as_str()).bind(detail).bind(failure_kind).bind(now_millis())
        .fetch_one(c).await)?)
}

/// Takes the next run number of the issuance job (its unique key).
pub async fn next_run(c: Conn<'_>, tenant: &TenantId, id: &CertificateId) -> Result<i64> {
    Ok(on!(c, c => sqlx::query_scalar(
        "UPDATE certificates SET run_seq = run_seq + 1, updated_at = $3 WHERE tenant_id = $1 AND id = $2 RETURNING run_seq")
        .bind(tenant.as_str()).bind(id.as_str()).bind(now_millis())
        .fetch_one(c).await)?)
}

/// Stores the sealed private key, unless one is stored already (then `false`).
pub async fn set_private_key(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &CertificateId,
    sealed: &str,
) -> Result<bool> {
    let n = exec!(c, c => sqlx::query(
        "UPDATE certificates SET private_key_sealed = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2 AND private_key_sealed IS NULL")
        .bind(tenant.as_str()).bind(id.as_str()).bind(sealed).bind(now_millis())
        .execute(c).await)?;
    Ok(n == 1)
}

/// Records the order placed at the CA (its URL is what a resumed job continues from).
pub async fn set_order(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &CertificateId,
    order_url: Option<&str>,
    order_status: Option<&str>,
) -> Result<()> {
    exec!(c, c => sqlx::query(
        "UPDATE certificates SET order_url = $3, order_status = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(id.as_str()).bind(order_url).bind(order_status).bind(now_millis())
        .execute(c).await)?;
    Ok(())
}

/// Sets when Panel1 stops waiting for manually created DNS records.
pub async fn set_manual_deadline(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &CertificateId,
    deadline: Option<DateTime<Utc>>,
) -> Result<()> {
    exec!(c, c => sqlx::query(
        "UPDATE certificates SET manual_deadline = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(id.as_str()).bind(deadline.map(|d| d.timestamp_millis())).bind(now_millis())
        .execute(c).await)?;
    Ok(())
}

/// What an issued certificate holds.
#[derive(Debug, Clone)]
pub struct Issued<'a> {
    pub serial: &'a str,
    pub issuer: &'a str,
    pub subject: &'a str,
    pub sans: &'a [String],
    pub fingerprint: &'a str,
    pub ari_id: Option<&'a str>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub chain_pem: &'a str,
}

/// Records the issued certificate; `false` when it was not in an issuing state any more.
pub async fn set_issued(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &CertificateId,
    i: &Issued<'_>,
) -> Result<bool> {
    let now = now_millis();
    let n = exec!(c, c => sqlx::query(
        "UPDATE certificates SET status = 'issued', status_detail = NULL, failure_kind = NULL, order_status = 'valid', serial = $3, issuer = $4, subject = $5,
            sans = $6, fingerprint = $7, ari_id = $8, not_before = $9, not_after = $10, chain_pem = $11, issued_at = $12, manual_deadline = NULL, updated_at = $12
         WHERE tenant_id = $1 AND id = $2 AND status IN ('pending', 'validating', 'awaiting_validation', 'awaiting_organization_validation', 'issuing')")
        .bind(tenant.as_str()).bind(id.as_str()).bind(i.serial).bind(i.issuer).bind(i.subject).bind(to_json(i.sans))
        .bind(i.fingerprint).bind(i.ari_id).bind(i.not_before.timestamp_millis()).bind(i.not_after.timestamp_millis())
        .bind(i.chain_pem).bind(now)
        .execute(c).await)?;
    Ok(n == 1)
}

/// When to renew, and why.
#[derive(Debug, Clone, Copy)]
pub struct RenewalPlan<'a> {
    pub renew_at: DateTime<Utc>,
    pub basis: &'a str,
    pub ari_window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub ari_next_check: Option<DateTime<Utc>>,
}

pub async fn set_renewal(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &CertificateId,
    p: &RenewalPlan<'_>,
) -> Result<()> {
    exec!(c, c => sqlx::query(
        "UPDATE certificates SET renew_at = $3, renewal_basis = $4, ari_start = $5, ari_end = $6, ari_next_check = $7, updated_at = $8
         WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(id.as_str()).bind(p.renew_at.timestamp_millis()).bind(p.basis)
        .bind(p.ari_window.map(|w| w.0.timestamp_millis())).bind(p.ari_window.map(|w| w.1.timestamp_millis()))
        .bind(p.ari_next_check.map(|t| t.timestamp_millis())).bind(now_millis())
        .execute(c).await)?;
    Ok(())
}

/// A renewal of this certificate failed: count it and try again at `retry_at`.
pub async fn renewal_failed(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &CertificateId,
    retry_at: DateTime<Utc>,
) -> Result<i64> {
    Ok(on!(c, c => sqlx::query_scalar(
        "UPDATE certificates SET renewal_failures = renewal_failures + 1, renew_at = $3, updated_at = $4
         WHERE tenant_id = $1 AND id = $2 RETURNING renewal_failures")
        .bind(tenant.as_str()).bind(id.as_str()).bind(retry_at.timestamp_millis()).bind(now_millis())
        .fetch_one(c).await)?)
}

/// Marks `old` as replaced by `new` (after the replacement was issued).
pub async fn mark_replaced(
    c: Conn<'_>,
    tenant: &TenantId,
    old: &CertificateId,
    new: &CertificateId,
) -> Result<()> {
    let now = now_millis();
    exec!(c, c => sqlx::query(
        "UPDATE certificates SET status = CASE WHEN status = 'issued' THEN 'replaced' ELSE status END, replaced_by_id = $3, replaced_at = $4,
            renew_at = NULL, updated_at = $4
         WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(old.as_str()).bind(new.as_str()).bind(now)
        .execute(c).await)?;
    Ok(())
}

pub async fn set_auto_renew(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &CertificateId,
    auto_renew: bool,
) -> Result<()> {
    exec!(c, c => sqlx::query("UPDATE certificates SET auto_renew = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(id.as_str()).bind(auto_renew).bind(now_millis())
        .execute(c).await)?;
    Ok(())
}

/// Starts a revocation; `false` if the certificate is not issued (or replaced) any more.
pub async fn set_revoking(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &CertificateId,
    reason: &str,
) -> Result<bool> {
    let n = exec!(c, c => sqlx::query(
        "UPDATE certificates SET status = 'revoking', revocation_reason = $3, status_detail = NULL, renew_at = NULL, updated_at = $4
         WHERE tenant_id = $1 AND id = $2 AND status IN ('issued', 'replaced', 'expired')")
        .bind(tenant.as_str()).bind(id.as_str()).bind(reason).bind(now_millis())
        .execute(c).await)?;
    Ok(n == 1)
}

pub async fn set_revoked(c: Conn<'_>, tenant: &TenantId, id: &CertificateId) -> Result<()> {
    let now = now_millis();
    exec!(c, c => sqlx::query(
        "UPDATE certificates SET status = 'revoked', revoked_at = $3, status_detail = NULL, renew_at = NULL, auto_renew = FALSE, updated_at = $3
         WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(id.as_str()).bind(now)
        .execute(c).await)?;
    Ok(())
}

/// A certificate to act on, across tenants (for the schedules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub tenant_id: TenantId,
    pub id: CertificateId,
}

#[derive(sqlx::FromRow)]
struct DueRow {
    tenant_id: String,
    id: String,
}

fn due_rows(rows: Vec<DueRow>) -> Result<Vec<Due>> {
    rows.into_iter()
        .map(|r| {
            Ok(Due {
                tenant_id: super::id(&r.tenant_id)?,
                id: super::id(&r.id)?,
            })
        })
        .collect()
}

/// Issued, auto-renewing certificates whose renewal time has come and that nothing replaces yet.
pub async fn due_for_renewal(c: Conn<'_>, now: DateTime<Utc>, limit: i64) -> Result<Vec<Due>> {
    let rows: Vec<DueRow> = on!(c, c => sqlx::query_as(
        "SELECT tenant_id, id FROM certificates WHERE status = 'issued' AND auto_renew AND renew_at <= $1 AND replaced_by_id IS NULL
         ORDER BY renew_at LIMIT $2")
        .bind(now.timestamp_millis()).bind(limit).fetch_all(c).await)?;
    due_rows(rows)
}

/// Issued certificates that nothing replaced and that expire before `before`.
pub async fn expiring(c: Conn<'_>, before: DateTime<Utc>, limit: i64) -> Result<Vec<Due>> {
    let rows: Vec<DueRow> = on!(c, c => sqlx::query_as(
        "SELECT tenant_id, id FROM certificates WHERE status = 'issued' AND not_after < $1 ORDER BY not_after LIMIT $2")
        .bind(before.timestamp_millis()).bind(limit).fetch_all(c).await)?;
    due_rows(rows)
}

/// Issued certificates whose ARI window should be asked for again.
pub async fn ari_due(c: Conn<'_>, now: DateTime<Utc>, limit: i64) -> Result<Vec<Due>> {
    let rows: Vec<DueRow> = on!(c, c => sqlx::query_as(
        "SELECT tenant_id, id FROM certificates WHERE status = 'issued' AND ari_next_check <= $1 ORDER BY ari_next_check LIMIT $2")
        .bind(now.timestamp_millis()).bind(limit).fetch_all(c).await)?;
    due_rows(rows)
}

/// Marks issued certificates past their expiry as expired; returns them.
pub async fn expire_past(c: Conn<'_>, now: DateTime<Utc>) -> Result<Vec<Due>> {
    let rows: Vec<DueRow> = on!(c, c => sqlx::query_as(
        "UPDATE certificates SET status = 'expired', renew_at = NULL, updated_at = $1 WHERE status = 'issued' AND not_after < $1 RETURNING tenant_id, id")
        .bind(now.timestamp_millis()).fetch_all(c).await)?;
    due_rows(rows)
}

// ---------------------------------------------------------------- validations

/// The validation of one identifier of a certificate's current order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ValidationRecord {
    pub id: ValidationRecordId,
    pub certificate_id: CertificateId,
    /// The name as ordered (`*.example.com` for a wildcard).
    pub identifier: String,
    /// `http-01` or `dns-01`.
    pub method: String,
    /// DNS-01: `hosted`, `provider` or `manual`.
    pub dns_mode: Option<String>,
    /// DNS-01: the TXT record to publish, and its value.
    pub record_name: Option<String>,
    pub record_value: Option<String>,
    /// DNS-01: where the TXT record really lives when `_acme-challenge` is a CNAME.
    pub effective_name: Option<String>,
    /// HTTP-01: the token; Panel1 serves `key_authorization` at
    /// `/.well-known/acme-challenge/<token>`.
    pub http_token: Option<String>,
    pub key_authorization: Option<String>,
    pub authorization_url: Option<String>,
    pub challenge_url: Option<String>,
    /// `pending`, `published`, `ready` (the CA was told), `valid` or `invalid`.
    pub status: String,
    pub last_error: Option<String>,
    pub attempts: i64,
    pub checked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ValidationRow {
    id: String,
    certificate_id: String,
    identifier: String,
    method: String,
    dns_mode: Option<String>,
    record_name: Option<String>,
    record_value: Option<String>,
    effective_name: Option<String>,
    http_token: Option<String>,
    key_authorization: Option<String>,
    authorization_url: Option<String>,
    challenge_url: Option<String>,
    status: String,
    last_error: Option<String>,
    attempts: i64,
    checked_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

const VALIDATION_COLUMNS: &str = "id, certificate_id, identifier, method, dns_mode, record_name, record_value, effective_name, http_token, key_authorization, authorization_url, challenge_url, status, last_error, attempts, checked_at, created_at, updated_at";

impl ValidationRow {
    fn into_model(self) -> Result<ValidationRecord> {
        Ok(ValidationRecord {
            id: super::id(&self.id)?,
            certificate_id: super::id(&self.certificate_id)?,
            identifier: self.identifier,
            method: self.method,
            dns_mode: self.dns_mode,
            record_name: self.record_name,
            record_value: self.record_value,
            effective_name: self.effective_name,
            http_token: self.http_token,
            key_authorization: self.key_authorization,
            authorization_url: self.authorization_url,
            challenge_url: self.challenge_url,
            status: self.status,
            last_error: self.last_error,
            attempts: self.attempts,
            checked_at: self.checked_at.map(from_millis),
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
        })
    }
}

/// What the CA asks to publish for one identifier.
#[derive(Debug, Clone)]
pub struct ValidationInput<'a> {
    pub identifier: &'a str,
    pub method: &'a str,
    pub dns_mode: Option<&'a str>,
    pub record_name: Option<&'a str>,
    pub record_value: Option<&'a str>,
    pub http_token: Option<&'a str>,
    pub key_authorization: Option<&'a str>,
    pub authorization_url: Option<&'a str>,
    pub challenge_url: Option<&'a str>,
    pub status: &'a str,
}

/// Creates or refreshes the validation record of an identifier (a new order brings new
/// tokens: the record is reset to what this order asks).
pub async fn upsert_validation(
    mut c: Conn<'_>,
    tenant: &TenantId,
    certificate: &CertificateId,
    v: &ValidationInput<'_>,
) -> Result<ValidationRecord> {
    let now = now_millis();
    let id = ValidationRecordId::new();
    exec!(c.reborrow(), c => sqlx::query(
        "INSERT INTO certificate_validations (id, tenant_id, certificate_id, identifier, method, dns_mode, record_name, record_value, http_token,
            key_authorization, authorization_url, challenge_url, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)
         ON CONFLICT (certificate_id, identifier) DO UPDATE SET method = excluded.method, dns_mode = COALESCE(excluded.dns_mode, certificate_validations.dns_mode),
            record_name = excluded.record_name, record_value = excluded.record_value, http_token = excluded.http_token,
            key_authorization = excluded.key_authorization, authorization_url = excluded.authorization_url,
            challenge_url = excluded.challenge_url,
            status = CASE WHEN certificate_validations.challenge_url IS DISTINCT FROM excluded.challenge_url THEN excluded.status ELSE certificate_validations.status END,
            last_error = CASE WHEN certificate_validations.challenge_url IS DISTINCT FROM excluded.challenge_url THEN NULL ELSE certificate_validations.last_error END,
            updated_at = excluded.updated_at")
        .bind(id.as_str()).bind(tenant.as_str()).bind(certificate.as_str()).bind(v.identifier).bind(v.method)
        .bind(v.dns_mode).bind(v.record_name).bind(v.record_value).bind(v.http_token).bind(v.key_authorization)
        .bind(v.authorization_url).bind(v.challenge_url).bind(v.status).bind(now)
        .execute(c).await)?;
    get_validation_by_identifier(c, tenant, certificate, v.identifier)
        .await?
        .ok_or(StoreError::NotFound)
}

pub async fn get_validation_by_identifier(
    c: Conn<'_>,
    tenant: &TenantId,
    certificate: &CertificateId,
    identifier: &str,
) -> Result<Option<ValidationRecord>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {VALIDATION_COLUMNS} FROM certificate_validations WHERE tenant_id = $1 AND certificate_id = $2 AND identifier = $3"
    ));
    let row: Option<ValidationRow> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(certificate.as_str()).bind(identifier).fetch_optional(c).await)?;
    row.map(ValidationRow::into_model).transpose()
}

pub async fn get_validation(
    c: Conn<'_>,
    tenant: &TenantId,
    certificate: &CertificateId,
    id: &ValidationRecordId,
) -> Result<Option<ValidationRecord>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {VALIDATION_COLUMNS} FROM certificate_validations WHERE tenant_id = $1 AND certificate_id = $2 AND id = $3"
    ));
    let row: Option<ValidationRow> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(certificate.as_str()).bind(id.as_str()).fetch_optional(c).await)?;
    row.map(ValidationRow::into_model).transpose()
}

/// The validation records of a certificate, by identifier.
pub async fn list_validations(
    c: Conn<'_>,
    tenant: &TenantId,
    certificate: &CertificateId,
) -> Result<Vec<ValidationRecord>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {VALIDATION_COLUMNS} FROM certificate_validations WHERE tenant_id = $1 AND certificate_id = $2 ORDER BY identifier"
    ));
    let rows: Vec<ValidationRow> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(certificate.as_str()).fetch_all(c).await)?;
    rows.into_iter().map(ValidationRow::into_model).collect()
}

/// Sets a validation record's status; an error also counts an attempt.
pub async fn set_validation_status(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &ValidationRecordId,
    status: &str,
    error: Option<&str>,
) -> Result<()> {
    let now = now_millis();
    exec!(c, c => sqlx::query(
        "UPDATE certificate_validations SET status = $3, last_error = $4, attempts = attempts + CASE WHEN $4 IS NULL THEN 0 ELSE 1 END,
            checked_at = $5, updated_at = $5 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(id.as_str()).bind(status).bind(error).bind(now)
        .execute(c).await)?;
    Ok(())
}

/// Sets how a DNS-01 record is published, and where the TXT record really lives.
pub async fn set_validation_dns(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &ValidationRecordId,
    dns_mode: &str,
    effective_name: Option<&str>,
) -> Result<()> {
    exec!(c, c => sqlx::query(
        "UPDATE certificate_validations SET dns_mode = $3, effective_name = $4, updated_at = $5 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(id.as_str()).bind(dns_mode).bind(effective_name).bind(now_millis())
        .execute(c).await)?;
    Ok(())
}

/// The key authorization to serve for an HTTP-01 token, with the identifier it is for. Only
/// records whose challenge is still in progress answer.
pub async fn http01_answer(c: Conn<'_>, token: &str) -> Result<Option<(String, String)>> {
    let row: Option<(String, Option<String>)> = on!(c, c => sqlx::query_as(
        "SELECT identifier, key_authorization FROM certificate_validations
         WHERE http_token = $1 AND method = 'http-01' AND status IN ('pending', 'published', 'ready')")
        .bind(token).fetch_optional(c).await)?;
    Ok(row.and_then(|(i, k)| k.map(|k| (i, k))))
}

// ---------------------------------------------------------------- operations log

/// One HTTP call made to a CA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CaOperation {
    pub id: String,
    pub certificate_id: Option<CertificateId>,
    pub ca_account_id: Option<CaAccountId>,
    /// The issuance step: `account`, `order`, `authorize`, `ready`, `poll`, `finalize`,
    /// `download`, `revoke`, `renewal_info`.
    pub step: String,
    pub method: String,
    pub url: String,
    /// The HTTP status, or none when no answer came.
    pub status: Option<i64>,
    pub duration_ms: i64,
    /// The CA's problem type and detail, or the transport error.
    pub problem: Option<String>,
    pub retry_after_secs: Option<i64>,
    pub job_id: Option<JobId>,
    pub created_at: DateTime<Utc>,
}

/// A call to record.
#[derive(Debug, Clone)]
pub struct NewCaOperation<'a> {
    pub certificate_id: Option<&'a CertificateId>,
    pub ca_account_id: Option<&'a CaAccountId>,
    pub step: &'a str,
    pub method: &'a str,
    pub url: &'a str,
    pub status: Option<i64>,
    pub duration_ms: i64,
    pub problem: Option<&'a str>,
    pub retry_after_secs: Option<i64>,
    pub job_id: Option<&'a JobId>,
}

pub async fn insert_operation(
    c: Conn<'_>,
    tenant: &TenantId,
    o: &NewCaOperation<'_>,
) -> Result<()> {
    let id = format!("cop_{}", panel1_core::ids::new_id_body());
    exec!(c, c => sqlx::query(
        "INSERT INTO certificate_operations (id, tenant_id, certificate_id, ca_account_id, step, method, url, status, duration_ms, problem, retry_after, job_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
        .bind(id).bind(tenant.as_str()).bind(o.certificate_id.map(CertificateId::as_str)).bind(o.ca_account_id.map(CaAccountId::as_str))
        .bind(o.step).bind(o.method).bind(o.url).bind(o.status).bind(o.duration_ms).bind(o.problem).bind(o.retry_after_secs)
        .bind(o.job_id.map(JobId::as_str)).bind(now_millis())
        .execute(c).await)?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct OperationRow {
    id: String,
    certificate_id: Option<String>,
    ca_account_id: Option<String>,
    step: String,
    method: String,
    url: String,
    status: Option<i64>,
    duration_ms: i64,
    problem: Option<String>,
    retry_after: Option<i64>,
    job_id: Option<String>,
    created_at: i64,
}

/// The CA calls made for a certificate, oldest first.
pub async fn list_operations(
    c: Conn<'_>,
    tenant: &TenantId,
    certificate: &CertificateId,
    page: PageRequest,
) -> Result<Vec<CaOperation>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT id, certificate_id, ca_account_id, step, method, url, status, duration_ms, problem, retry_after, job_id, created_at
         FROM certificate_operations WHERE tenant_id = $1 AND certificate_id = $2 ORDER BY created_at, id LIMIT {} OFFSET {}",
        page.limit(),
        page.offset()
    ));
    let rows: Vec<OperationRow> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(certificate.as_str()).fetch_all(c).await)?;
    rows.into_iter()
        .map(|r| {
            Ok(CaOperation {
                id: r.id,
                certificate_id: super::opt_id(r.certificate_id.as_deref())?,
                ca_account_id: super::opt_id(r.ca_account_id.as_deref())?,
                step: r.step,
                method: r.method,
                url: r.url,
                status: r.status,
                duration_ms: r.duration_ms,
                problem: r.problem,
                retry_after_secs: r.retry_after,
                job_id: super::opt_id(r.job_id.as_deref())?,
                created_at: from_millis(r.created_at),
            })
        })
        .collect()
}

// ---------------------------------------------------------------- jobs of a certificate

/// Moves the waiting (ready, not yet due) job with `ordering_key` forward to `at`, so work
/// queued behind it is not held up; returns its id when there was one. The issuance job of a
/// certificate waits this way for manual DNS records and payments.
pub async fn wake_job(c: Conn<'_>, ordering_key: &str, at: DateTime<Utc>) -> Result<Option<JobId>> {
    let id: Option<String> = on!(c, c => sqlx::query_scalar(
        "UPDATE jobs SET run_at = $2, updated_at = $3 WHERE ordering_key = $1 AND status = 'ready' AND run_at > $2 RETURNING id")
        .bind(ordering_key).bind(at.timestamp_millis()).bind(now_millis()).fetch_optional(c).await)?;
    super::opt_id(id.as_deref())
}

/// Whether a job with `ordering_key` is ready or running.
pub async fn job_pending(c: Conn<'_>, ordering_key: &str) -> Result<Option<JobId>> {
    let id: Option<String> = on!(c, c => sqlx::query_scalar(
        "SELECT id FROM jobs WHERE ordering_key = $1 AND status IN ('ready', 'running') ORDER BY seq LIMIT 1")
        .bind(ordering_key).fetch_optional(c).await)?;
    super::opt_id(id.as_deref())
}

/// Whether a job with `ordering_key` other than `id` is ready or running (queued after it).
pub async fn other_job_queued(c: Conn<'_>, ordering_key: &str, id: &JobId) -> Result<bool> {
    let n: i64 = on!(c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE ordering_key = $1 AND id <> $2 AND status IN ('ready', 'running')")
        .bind(ordering_key).bind(id.as_str()).fetch_one(c).await)?;
    Ok(n > 0)
}

/// The certificates of a subscription that wait for its invoice to be paid.
pub async fn awaiting_payment(
    c: Conn<'_>,
    tenant: &TenantId,
    subscription: &CertificateSubscriptionId,
) -> Result<Vec<CertificateId>> {
    let rows: Vec<String> = on!(c, c => sqlx::query_scalar(
        "SELECT id FROM certificates WHERE tenant_id = $1 AND subscription_id = $2 AND status = 'awaiting_payment' ORDER BY created_at")
        .bind(tenant.as_str()).bind(subscription.as_str()).fetch_all(c).await)?;
    rows.iter().map(|r| super::id(r)).collect()
}
