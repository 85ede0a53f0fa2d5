//! Domain billing and automation: the tenant's domain settings and per-TLD renewal buffers,
//! the bulk statements of the renewal sweep (due domains, reminder and alert markers), the
//! drift the registrar sync finds, and the sync's state per registrar account.
//!
//! The sweep's statements are built for 100,000 domains: due domains are read in keyset
//! batches on `domains_due (expires_at, id)`, reminders are marked with one
//! `INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING` per stage, so a second sweep running
//! at the same time (or the next day's) finds nothing left to do for the same term.

use chrono::{DateTime, Utc};
use panel1_core::money::Currency;
use panel1_core::time::{from_millis, now_millis, to_millis};
use panel1_core::{
    ClientId, DomainId, DomainOperationId, DriftId, InvoiceId, PageRequest, RegistrarAccountId,
    TenantId,
};
use serde::Serialize;

use crate::{Conn, Result, StoreError, exec, on};

// ---------------------------------------------------------------- settings

/// How a tenant invoices and automates its domains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DomainSettings {
    /// The currency domain work is invoiced in; the price list needs prices in it.
    pub currency: Currency,
    /// Registrar work starts before its invoice is paid (the tenant extends credit).
    pub work_on_credit: bool,
    /// Auto-renewals start this many days before expiry (30 by default).
    pub renewal_buffer_days: i64,
    /// A renewal not done this many days before expiry raises `domain.renewal.failed` and
    /// e-mails the tenant (7 by default).
    pub renewal_alert_days: i64,
    /// Where the tenant's alerts go; unset: its administrators.
    pub notify_email: Option<String>,
    /// The markup for premium names when the TLD's register price has no markup rule:
    /// `{"rule": {"kind": "percent", "basis_points": 2000}, "ending": 99}`.
    pub premium_markup: Option<serde_json::Value>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Default for DomainSettings {
    fn default() -> Self {
        Self {
            currency: Currency::USD,
            work_on_credit: false,
            renewal_buffer_days: 30,
            renewal_alert_days: 7,
            notify_email: None,
            premium_markup: None,
            updated_at: None,
        }
    }
}

#[derive(sqlx::FromRow)]
struct SettingsRow {
    currency: String,
    work_on_credit: bool,
    renewal_buffer_days: i64,
    renewal_alert_days: i64,
    notify_email: Option<String>,
    premium_markup: Option<String>,
    updated_at: i64,
}

/// The tenant's settings (the defaults when it never set any).
pub async fn settings(c: Conn<'_>, tenant: &TenantId) -> Result<DomainSettings> {
    let row: Option<SettingsRow> = on!(c, c => sqlx::query_as(
        "SELECT currency, work_on_credit, renewal_buffer_days, renewal_alert_days, notify_email, premium_markup, updated_at
         FROM domain_settings WHERE tenant_id = $1")
        .bind(tenant.as_str()).fetch_optional(c).await)?;
    let Some(r) = row else {
        return Ok(DomainSettings::default());
    };
    Ok(DomainSettings {
        currency: Currency::parse(&r.currency).map_err(StoreError::corrupt)?,
        work_on_credit: r.work_on_credit,
        renewal_buffer_days: r.renewal_buffer_days,
        renewal_alert_days: r.renewal_alert_days,
        notify_email: r.notify_email,
        premium_markup: r
            .premium_markup
            .map(|m| serde_json::from_str(&m))
            .transpose()
            .map_err(StoreError::corrupt)?,
        updated_at: Some(from_millis(r.updated_at)),
    })
}

pub async fn save_settings(c: Conn<'_>, tenant: &TenantId, s: &DomainSettings) -> Result<()> {
    exec!(c, c => sqlx::query(
        "INSERT INTO domain_settings (tenant_id, currency, work_on_credit, renewal_buffer_days, renewal_alert_days, notify_email, premium_markup, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (tenant_id) DO UPDATE SET currency = excluded.currency, work_on_credit = excluded.work_on_credit,
           renewal_buffer_days = excluded.renewal_buffer_days, renewal_alert_days = excluded.renewal_alert_days,
           notify_email = excluded.notify_email, premium_markup = excluded.premium_markup, updated_at = excluded.updated_at")
        .bind(tenant.as_str()).bind(s.currency.as_str()).bind(s.work_on_credit).bind(s.renewal_buffer_days)
        .bind(s.renewal_alert_days).bind(&s.notify_email).bind(s.premium_markup.as_ref().map(|m| m.to_string()))
        .bind(now_millis())
        .execute(c).await)?;
    Ok(())
}

/// A TLD's own renewal buffer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TldSetting {
    pub tld: String,
    pub renewal_buffer_days: i64,
    pub updated_at: DateTime<Utc>,
}

pub async fn tld_settings(c: Conn<'_>, tenant: &TenantId) -> Result<Vec<TldSetting>> {
    let rows: Vec<(String, i64, i64)> = on!(c, c => sqlx::query_as(
        "SELECT tld, renewal_buffer_days, updated_at FROM domain_tld_settings WHERE tenant_id = $1 ORDER BY tld")
        .bind(tenant.as_str()).fetch_all(c).await)?;
    Ok(rows
        .into_iter()
        .map(|(tld, days, at)| TldSetting {
            tld,
            renewal_buffer_days: days,
            updated_at: from_millis(at),
        })
        .collect())
}

pub async fn set_tld_setting(
    c: Conn<'_>,
    tenant: &TenantId,
    tld: &str,
    renewal_buffer_days: i64,
) -> Result<()> {
    exec!(c, c => sqlx::query(
        "INSERT INTO domain_tld_settings (tenant_id, tld, renewal_buffer_days, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, tld) DO UPDATE SET renewal_buffer_days = excluded.renewal_buffer_days, updated_at = excluded.updated_at")
        .bind(tenant.as_str()).bind(tld).bind(renewal_buffer_days).bind(now_millis())
        .execute(c).await)?;
    Ok(())
}

pub async fn remove_tld_setting(c: Conn<'_>, tenant: &TenantId, tld: &str) -> Result<bool> {
    let n = exec!(c, c => sqlx::query("DELETE FROM domain_tld_settings WHERE tenant_id = $1 AND tld = $2")
        .bind(tenant.as_str()).bind(tld).execute(c).await)?;
    Ok(n == 1)
}

// ---------------------------------------------------------------- renewal sweep

/// The longest renewal buffer any tenant or TLD uses (at least the default 30 days): how far
/// ahead the sweep reads the expiry index.
pub async fn max_buffer_days(c: Conn<'_>) -> Result<i64> {
    let v: Option<i64> = on!(c, c => sqlx::query_scalar(
        "SELECT MAX(d) FROM (SELECT MAX(renewal_buffer_days) AS d FROM domain_settings
                             UNION ALL SELECT MAX(renewal_buffer_days) AS d FROM domain_tld_settings) m")
        .fetch_one(c).await)?;
    Ok(v.unwrap_or(30).max(30))
}

/// A domain whose renewal is due and has no renewal operation for its current term yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDomain {
    pub id: DomainId,
    pub tenant_id: TenantId,
    pub client_id: ClientId,
    pub name: String,
    pub registrar_account_id: RegistrarAccountId,
    pub expires_at: DateTime<Utc>,
}

/// id, tenant, client, name, registrar account, expiry, renewal buffer in days.
type DueRow = (String, String, String, String, String, i64, Option<i64>);

/// One page of [`due_for_renewal`].
#[derive(Debug, Clone, Default)]
pub struct DuePage {
    pub due: Vec<DueDomain>,
    /// Where the next page starts (the last domain looked at), or `None` after the last page.
    pub next: Option<(DateTime<Utc>, DomainId)>,
}

/// The domains due for renewal at `now` among the next `limit` renewable ones after the keyset
/// position `after` (expiry, id), in expiry order: auto-renew on, still renewable (active,
/// expired or in the auto-renew grace period), expiring within their TLD's or tenant's buffer
/// (30 days by default), and with no renewal operation for the current expiry. `horizon` is
/// `now` plus the longest buffer in use (see [`max_buffer_days`]).
///
/// Two reads, not one `NOT EXISTS`: a sweep inserts thousands of operations between its pages,
/// and with statistics taken before them PostgreSQL chose a nested loop that scanned every
/// operation once per domain (1.4–2.3 s a page of 2,000). Looking the page's operations up by
/// domain costs the same whatever the statistics say.
pub async fn due_for_renewal(
    mut c: Conn<'_>,
    now: DateTime<Utc>,
    horizon: DateTime<Utc>,
    after: Option<(DateTime<Utc>, &DomainId)>,
    limit: i64,
) -> Result<DuePage> {
    let (after_at, after_id) = match after {
        Some((at, id)) => (to_millis(at), id.as_str().to_owned()),
        None => (i64::MIN, String::new()),
    };
    let rows: Vec<DueRow> = on!(c.reborrow(), c => sqlx::query_as(
        "SELECT d.id, d.tenant_id, d.client_id, d.name, d.registrar_account_id, d.expires_at,
                COALESCE(t.renewal_buffer_days, s.renewal_buffer_days, 30)
         FROM domains d
         LEFT JOIN domain_settings s ON s.tenant_id = d.tenant_id
         LEFT JOIN domain_tld_settings t ON t.tenant_id = d.tenant_id AND t.tld = d.tld
         WHERE d.expires_at IS NOT NULL AND d.expires_at <= $1
           AND (d.expires_at, d.id) > ($2, $3)
           AND d.auto_renew AND d.state IN ('active', 'expired', 'auto_renew_grace')
         ORDER BY d.expires_at, d.id
         LIMIT $4")
        .bind(to_millis(horizon)).bind(after_at).bind(after_id).bind(limit)
        .fetch_all(c).await)?;
    let next = match rows.last() {
        Some(last) if i64::try_from(rows.len()).unwrap_or(i64::MAX) >= limit => {
            Some((from_millis(last.5), super::id(&last.0)?))
        }
        _ => None,
    };
    let now_ms = to_millis(now);
    let within: Vec<_> = rows
        .into_iter()
        .filter(|r| r.5 <= now_ms.saturating_add(r.6.unwrap_or(30).saturating_mul(86_400_000)))
        .collect();
    let ids: Vec<&str> = within.iter().map(|r| r.0.as_str()).collect();
    let renewing: Vec<(String, Option<i64>)> = if ids.is_empty() {
        Vec::new()
    } else {
        match c {
            Conn::Postgres(c) => sqlx::query_as(
                "SELECT domain_id, expiry_before FROM domain_operations WHERE domain_id = ANY($1) AND operation = 'renew'")
                .bind(&ids).fetch_all(c).await?,
            Conn::Sqlite(c) => sqlx::query_as(
                "SELECT domain_id, expiry_before FROM domain_operations
                 WHERE domain_id IN (SELECT value FROM json_each($1)) AND operation = 'renew'")
                .bind(serde_json::to_string(&ids).map_err(StoreError::corrupt)?)
                .fetch_all(c).await?,
        }
    };
    let renewing: std::collections::HashSet<(String, i64)> = renewing
        .into_iter()
        .filter_map(|(id, exp)| Some((id, exp?)))
        .collect();
    let due = within
        .into_iter()
        .filter(|r| !renewing.contains(&(r.0.clone(), r.5)))
        .map(|(id, tenant, client, name, account, exp, _)| {
            Ok(DueDomain {
                id: super::id(&id)?,
                tenant_id: super::id(&tenant)?,
                client_id: super::id(&client)?,
                name,
                registrar_account_id: super::id(&account)?,
                expires_at: from_millis(exp),
            })
        })
        .collect::<Result<_>>()?;
    Ok(DuePage { due, next })
}

/// A reminder or alert stage, in the order a domain reaches them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeStage {
    /// About a month before expiry (ICANN ERRP): 7 < days left ≤ 30.
    Reminder30,
    /// About a week before expiry (ICANN ERRP): 0 < days left ≤ 7.
    Reminder7,
    /// Auto-renew is on and the renewal is still not done the tenant's alert days before
    /// expiry: `domain.renewal.failed` and an e-mail to the tenant.
    RenewalAlert,
    /// Expired, within 5 days after expiry (ICANN ERRP).
    Expired,
}

impl NoticeStage {
    pub const ALL: [NoticeStage; 4] = [
        NoticeStage::Reminder30,
        NoticeStage::Reminder7,
        NoticeStage::RenewalAlert,
        NoticeStage::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeStage::Reminder30 => "reminder_30",
            NoticeStage::Reminder7 => "reminder_7",
            NoticeStage::RenewalAlert => "renewal_alert",
            NoticeStage::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Which domains reach this stage at `$1` (now, ms). Day spans are written out in
    /// milliseconds: PostgreSQL computes `30 * 86400000` in 32-bit integers and overflows.
    fn condition(self) -> &'static str {
        match self {
            NoticeStage::Reminder30 => {
                "d.state IN ('active', 'suspended') AND d.expires_at > $1 + 604800000 AND d.expires_at <= $1 + 2592000000"
            }
            NoticeStage::Reminder7 => {
                "d.state IN ('active', 'suspended') AND d.expires_at > $1 AND d.expires_at <= $1 + 604800000"
            }
            NoticeStage::RenewalAlert => {
                "d.auto_renew AND d.state IN ('active', 'expired', 'auto_renew_grace')
                 AND d.expires_at <= $1 + COALESCE(s.renewal_alert_days, 7) * 86400000 AND d.expires_at > $1 - 3888000000"
            }
            NoticeStage::Expired => {
                "d.state IN ('active', 'expired', 'auto_renew_grace', 'suspended') AND d.expires_at <= $1 AND d.expires_at > $1 - 432000000"
            }
        }
    }
}

/// A reminder or alert newly due for one domain and term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct NoticeRef {
    pub tenant_id: TenantId,
    pub domain_id: DomainId,
    /// The expiry the notice is about.
    pub term: DateTime<Utc>,
    pub stage: NoticeStage,
}

/// Marks every domain that reached `stage` at `now` and was not marked for it and its current
/// expiry before, in one statement; returns the newly marked ones (each is reminded once).
pub async fn mark_notices(
    c: Conn<'_>,
    now: DateTime<Utc>,
    stage: NoticeStage,
) -> Result<Vec<NoticeRef>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO domain_notices (domain_id, term, stage, tenant_id, created_at)
         SELECT d.id, d.expires_at, $2, d.tenant_id, $3 FROM domains d
         LEFT JOIN domain_settings s ON s.tenant_id = d.tenant_id
         WHERE d.expires_at IS NOT NULL AND {}
         ON CONFLICT (domain_id, term, stage) DO NOTHING
         RETURNING domain_id, tenant_id, term",
        stage.condition()
    ));
    let rows: Vec<(String, String, i64)> = on!(c, c => sqlx::query_as(sql)
        .bind(to_millis(now)).bind(stage.as_str()).bind(now_millis())
        .fetch_all(c).await)?;
    rows.into_iter()
        .map(|(d, t, term)| {
            Ok(NoticeRef {
                tenant_id: super::id(&t)?,
                domain_id: super::id(&d)?,
                term: from_millis(term),
                stage,
            })
        })
        .collect()
}

/// Claims a notice for sending, in the caller's transaction: false when it was sent already.
pub async fn claim_notice(c: Conn<'_>, n: &NoticeRef) -> Result<bool> {
    let k = exec!(c, c => sqlx::query(
        "UPDATE domain_notices SET done_at = $4 WHERE domain_id = $1 AND term = $2 AND stage = $3 AND done_at IS NULL")
        .bind(n.domain_id.as_str()).bind(to_millis(n.term)).bind(n.stage.as_str()).bind(now_millis())
        .execute(c).await)?;
    Ok(k == 1)
}

/// A renewal of a domain's current term that needs a push: still awaiting payment without an
/// invoice (its billing failed), awaiting payment although its invoice is paid (the release
/// was lost), or failed in a way that retrying may fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StuckRenewal {
    pub tenant_id: TenantId,
    pub operation_id: DomainOperationId,
    pub domain_id: DomainId,
    pub status: String,
    pub invoice_id: Option<InvoiceId>,
    pub invoice_status: Option<String>,
}

/// The renewals of current terms that the sweep should push again (at most `limit`), among
/// those untouched since `idle_before` (a renewal stored a moment ago is still being billed:
/// it is not stuck). Failures a person must look at (`needs_review`), voided invoices and
/// domains that left the account are not retried.
pub async fn stuck_renewals(
    c: Conn<'_>,
    idle_before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<StuckRenewal>> {
    /// tenant, operation, domain, status, invoice, invoice status
    type Row = (
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = on!(c, c => sqlx::query_as(
        "SELECT o.tenant_id, o.id, o.domain_id, o.status, o.invoice_id, i.status
         FROM domain_operations o
         JOIN domains d ON d.id = o.domain_id AND d.tenant_id = o.tenant_id
         LEFT JOIN invoices i ON i.id = o.invoice_id
         LEFT JOIN domain_settings s ON s.tenant_id = o.tenant_id
         WHERE o.operation = 'renew' AND o.expiry_before = d.expires_at AND o.updated_at < $2
           AND d.state IN ('active', 'expired', 'auto_renew_grace')
           AND ((o.status = 'awaiting_payment' AND (o.invoice_id IS NULL OR i.status = 'paid'))
                OR (o.status = 'failed' AND COALESCE(o.failure_kind, '') NOT IN ('needs_review', 'invoice_voided', 'domain_gone', 'superseded')
                    AND (i.status = 'paid' OR o.invoice_id IS NULL OR COALESCE(s.work_on_credit, FALSE))))
         ORDER BY o.created_at, o.id
         LIMIT $1")
        .bind(limit).bind(to_millis(idle_before)).fetch_all(c).await)?;
    rows.into_iter()
        .map(|(t, o, d, st, inv, ist)| {
            Ok(StuckRenewal {
                tenant_id: super::id(&t)?,
                operation_id: super::id(&o)?,
                domain_id: super::id(&d)?,
                status: st,
                invoice_id: super::opt_id(inv.as_deref())?,
                invoice_status: ist,
            })
        })
        .collect()
}

/// Puts a failed operation back to `awaiting_payment` (it is released again like a new one).
pub async fn reopen(c: Conn<'_>, tenant: &TenantId, op: &DomainOperationId) -> Result<bool> {
    let n = exec!(c, c => sqlx::query(
        "UPDATE domain_operations SET status = 'awaiting_payment', failure_kind = NULL, finished_at = NULL, updated_at = $3
         WHERE tenant_id = $1 AND id = $2 AND status = 'failed'")
        .bind(tenant.as_str()).bind(op.as_str()).bind(now_millis()).execute(c).await)?;
    Ok(n == 1)
}

// ---------------------------------------------------------------- credit

/// The client's balance in `currency`, locked until the transaction ends (PostgreSQL; an
/// SQLite write transaction already excludes other writers), so paying from it right after
/// cannot find it short.
pub async fn balance_for_update(
    c: Conn<'_>,
    tenant: &TenantId,
    client: &ClientId,
    currency: Currency,
) -> Result<i64> {
    let v: Option<i64> = match c {
        Conn::Postgres(c) => sqlx::query_scalar(
            "SELECT balance FROM client_balances WHERE tenant_id = $1 AND client_id = $2 AND currency = $3 FOR UPDATE",
        )
        .bind(tenant.as_str())
        .bind(client.as_str())
        .bind(currency.as_str())
        .fetch_optional(c)
        .await?,
        Conn::Sqlite(c) => sqlx::query_scalar(
            "SELECT balance FROM client_balances WHERE tenant_id = $1 AND client_id = $2 AND currency = $3",
        )
        .bind(tenant.as_str())
        .bind(client.as_str())
        .bind(currency.as_str())
        .fetch_optional(c)
        .await?,
    };
    Ok(v.unwrap_or(0))
}

/// The e-mail addresses of the tenant's administrators (alerts go there by default).
pub async fn admin_emails(c: Conn<'_>, tenant: &TenantId) -> Result<Vec<String>> {
    Ok(on!(c, c => sqlx::query_scalar(
        "SELECT email FROM users WHERE tenant_id = $1 AND role IN ('admin', 'operator') AND deleted_at IS NULL ORDER BY created_at, id")
        .bind(tenant.as_str()).fetch_all(c).await)?)
}

/// The client of the tenant whose e-mail is `email` (case-insensitive), oldest first.
pub async fn client_by_email(
    c: Conn<'_>,
    tenant: &TenantId,
    email: &str,
) -> Result<Option<ClientId>> {
    let v: Option<String> = on!(c, c => sqlx::query_scalar(
        "SELECT id FROM clients WHERE tenant_id = $1 AND LOWER(email) = $2 ORDER BY created_at, id LIMIT 1")
        .bind(tenant.as_str()).bind(email.trim().to_lowercase()).fetch_optional(c).await)?;
    super::opt_id(v.as_deref())
}

// ---------------------------------------------------------------- drift

/// One difference between Panel1 and the registrar, found by the sync.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Drift {
    pub id: DriftId,
    pub domain_id: DomainId,
    /// The domain's name (A-label form).
    pub name: String,
    pub registrar_account_id: RegistrarAccountId,
    /// `expires_at`, `state`, `epp_statuses`, `nameservers`, `locked`, `privacy`,
    /// `sponsorship` (transferred away) or `existence` (no longer registered).
    pub field: String,
    /// What Panel1 had.
    pub panel1_value: serde_json::Value,
    /// What the registrar says.
    pub registrar_value: serde_json::Value,
    /// What was done: `updated` (Panel1 now follows the registry), `reapplied` (Panel1's value
    /// was sent to the registrar again), `marked_transferred_away`, `marked_released`.
    pub action: String,
    pub detected_at: DateTime<Utc>,
}

/// A difference to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDrift {
    pub field: &'static str,
    pub panel1_value: serde_json::Value,
    pub registrar_value: serde_json::Value,
    pub action: &'static str,
}

#[derive(sqlx::FromRow)]
struct DriftRow {
    id: String,
    domain_id: String,
    name: String,
    registrar_account_id: String,
    field: String,
    panel1_value: Option<String>,
    registrar_value: Option<String>,
    action: String,
    detected_at: i64,
}

impl DriftRow {
    fn into_model(self) -> Result<Drift> {
        let json = |v: Option<String>| {
            v.and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or(serde_json::Value::Null)
        };
        Ok(Drift {
            id: super::id(&self.id)?,
            domain_id: super::id(&self.domain_id)?,
            name: self.name,
            registrar_account_id: super::id(&self.registrar_account_id)?,
            field: self.field,
            panel1_value: json(self.panel1_value),
            registrar_value: json(self.registrar_value),
            action: self.action,
            detected_at: from_millis(self.detected_at),
        })
    }
}

/// Records the differences found for one domain.
pub async fn insert_drift(
    mut c: Conn<'_>,
    tenant: &TenantId,
    domain: &DomainId,
    name: &str,
    account: &RegistrarAccountId,
    entries: &[NewDrift],
) -> Result<Vec<Drift>> {
    let now = now_millis();
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let id = DriftId::new();
        exec!(c.reborrow(), c => sqlx::query(
            "INSERT INTO domain_drift (id, tenant_id, domain_id, registrar_account_id, field, panel1_value, registrar_value, action, detected_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(id.as_str()).bind(tenant.as_str()).bind(domain.as_str()).bind(account.as_str()).bind(e.field)
            .bind(e.panel1_value.to_string()).bind(e.registrar_value.to_string()).bind(e.action).bind(now)
            .execute(c).await)?;
        out.push(Drift {
            id,
            domain_id: domain.clone(),
            name: name.to_owned(),
            registrar_account_id: account.clone(),
            field: e.field.to_owned(),
            panel1_value: e.panel1_value.clone(),
            registrar_value: e.registrar_value.clone(),
            action: e.action.to_owned(),
            detected_at: from_millis(now),
        });
    }
    Ok(out)
}

/// What `list_drift` filters on.
#[derive(Debug, Clone, Default)]
pub struct DriftFilter {
    pub domain_id: Option<DomainId>,
    pub client_id: Option<ClientId>,
    pub field: Option<String>,
}

/// A page of the tenant's drift, newest first.
pub async fn list_drift(
    mut c: Conn<'_>,
    tenant: &TenantId,
    f: &DriftFilter,
    page: PageRequest,
) -> Result<(Vec<Drift>, u64)> {
    let mut cond = String::from("x.tenant_id = $1");
    let mut binds: Vec<String> = Vec::new();
    if let Some(d) = &f.domain_id {
        binds.push(d.to_string());
        cond.push_str(&format!(" AND x.domain_id = ${}", binds.len() + 1));
    }
    if let Some(cl) = &f.client_id {
        binds.push(cl.to_string());
        cond.push_str(&format!(" AND d.client_id = ${}", binds.len() + 1));
    }
    if let Some(field) = &f.field {
        binds.push(field.clone());
        cond.push_str(&format!(" AND x.field = ${}", binds.len() + 1));
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT x.id, x.domain_id, d.name, x.registrar_account_id, x.field, x.panel1_value, x.registrar_value, x.action, x.detected_at
         FROM domain_drift x JOIN domains d ON d.id = x.domain_id
         WHERE {cond} ORDER BY x.detected_at DESC, x.id DESC LIMIT {} OFFSET {}",
        page.limit(),
        page.offset()
    ));
    let rows: Vec<DriftRow> = on!(c.reborrow(), c => {
        let mut q = sqlx::query_as(sql).bind(tenant.as_str());
        for b in &binds { q = q.bind(b); }
        q.fetch_all(c).await
    })?;
    let count = sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM domain_drift x JOIN domains d ON d.id = x.domain_id WHERE {cond}"
    ));
    let total: i64 = on!(c, c => {
        let mut q = sqlx::query_scalar(count).bind(tenant.as_str());
        for b in &binds { q = q.bind(b); }
        q.fetch_one(c).await
    })?;
    Ok((
        rows.into_iter()
            .map(DriftRow::into_model)
            .collect::<Result<_>>()?,
        u64::try_from(total).unwrap_or(0),
    ))
}

// ---------------------------------------------------------------- registrar sync

/// A registrar account's sync: its rate limit and its last run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SyncState {
    pub account_id: RegistrarAccountId,
    /// Registrar calls per minute; `None`: the installation's default.
    pub rate_per_minute: Option<i64>,
    pub last_run_at: Option<DateTime<Utc>>,
    /// Domains checked by the last run.
    pub last_checked: i64,
    /// Domains with drift in the last run.
    pub last_drift: i64,
    /// Domains the last run could not check.
    pub last_failures: i64,
    pub last_error: Option<String>,
}

/// The live registrar accounts (any tenant) with at least one followed domain not read from
/// the registrar since `cutoff`: what the sync schedule walks each minute.
pub async fn accounts_due_for_sync(
    c: Conn<'_>,
    cutoff: DateTime<Utc>,
) -> Result<Vec<(TenantId, RegistrarAccountId)>> {
    let rows: Vec<(String, String)> = on!(c, c => sqlx::query_as(
        "SELECT a.tenant_id, a.id FROM registrar_accounts a WHERE a.deleted_at IS NULL AND EXISTS (
            SELECT 1 FROM domains d WHERE d.registrar_account_id = a.id AND (d.synced_at IS NULL OR d.synced_at < $1)
              AND d.state NOT IN ('cancelled', 'transferred_away', 'pending_registration', 'pending_transfer_in'))
         ORDER BY a.created_at, a.id")
        .bind(to_millis(cutoff)).fetch_all(c).await)?;
    rows.into_iter()
        .map(|(t, a)| Ok((super::id(&t)?, super::id(&a)?)))
        .collect()
}

pub async fn sync_state(
    c: Conn<'_>,
    tenant: &TenantId,
    account: &RegistrarAccountId,
) -> Result<SyncState> {
    /// rate, last run, checked, drift, failures, last error
    type Row = (Option<i64>, Option<i64>, i64, i64, i64, Option<String>);
    let row: Option<Row> = on!(c, c => sqlx::query_as(
        "SELECT rate_per_minute, last_run_at, last_checked, last_drift, last_failures, last_error FROM registrar_sync
         WHERE tenant_id = $1 AND account_id = $2")
        .bind(tenant.as_str()).bind(account.as_str()).fetch_optional(c).await)?;
    Ok(match row {
        Some((rate, last, checked, drift, failures, error)) => SyncState {
            account_id: account.clone(),
            rate_per_minute: rate,
            last_run_at: last.map(from_millis),
            last_checked: checked,
            last_drift: drift,
            last_failures: failures,
            last_error: error,
        },
        None => SyncState {
            account_id: account.clone(),
            rate_per_minute: None,
            last_run_at: None,
            last_checked: 0,
            last_drift: 0,
            last_failures: 0,
            last_error: None,
        },
    })
}

pub async fn set_sync_rate(
    c: Conn<'_>,
    tenant: &TenantId,
    account: &RegistrarAccountId,
    rate_per_minute: Option<i64>,
) -> Result<()> {
    exec!(c, c => sqlx::query(
        "INSERT INTO registrar_sync (account_id, tenant_id, rate_per_minute, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (account_id) DO UPDATE SET rate_per_minute = excluded.rate_per_minute, updated_at = excluded.updated_at")
        .bind(account.as_str()).bind(tenant.as_str()).bind(rate_per_minute).bind(now_millis())
        .execute(c).await)?;
    Ok(())
}

/// What one sync run of an account did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SyncCounts {
    pub checked: i64,
    pub drift: i64,
    pub failures: i64,
}

pub async fn record_sync_run(
    c: Conn<'_>,
    tenant: &TenantId,
    account: &RegistrarAccountId,
    counts: SyncCounts,
    error: Option<&str>,
) -> Result<()> {
    let now = now_millis();
    exec!(c, c => sqlx::query(
        "INSERT INTO registrar_sync (account_id, tenant_id, last_run_at, last_checked, last_drift, last_failures, last_error, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $3)
         ON CONFLICT (account_id) DO UPDATE SET last_run_at = excluded.last_run_at, last_checked = excluded.last_checked,
           last_drift = excluded.last_drift, last_failures = excluded.last_failures, last_error = excluded.last_error,
           updated_at = excluded.updated_at")
        .bind(account.as_str()).bind(tenant.as_str()).bind(now).bind(counts.checked).bind(counts.drift)
        .bind(counts.failures).bind(error)
        .execute(c).await)?;
    Ok(())
}

/// How many of an account's domains the sync follows (not ended, not pending).
pub async fn syncable_count(c: Conn<'_>, account: &RegistrarAccountId) -> Result<i64> {
    Ok(on!(c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM domains WHERE registrar_account_id = $1
           AND state NOT IN ('cancelled', 'transferred_away', 'pending_registration', 'pending_transfer_in')")
        .bind(account.as_str()).fetch_one(c).await)?)
}

/// Which of the tenant's domains `ids` have an operation in progress (one query).
pub async fn with_open_operations(
    c: Conn<'_>,
    tenant: &TenantId,
    ids: &[DomainId],
) -> Result<std::collections::HashSet<DomainId>> {
    let list: Vec<&str> = ids.iter().map(DomainId::as_str).collect();
    let rows: Vec<String> = match c {
        Conn::Postgres(c) => sqlx::query_scalar(
            "SELECT DISTINCT domain_id FROM domain_operations WHERE tenant_id = $1 AND domain_id = ANY($2)
               AND status IN ('queued', 'running', 'waiting')")
            .bind(tenant.as_str()).bind(&list).fetch_all(c).await?,
        Conn::Sqlite(c) => sqlx::query_scalar(
            "SELECT DISTINCT domain_id FROM domain_operations WHERE tenant_id = $1
               AND domain_id IN (SELECT value FROM json_each($2)) AND status IN ('queued', 'running', 'waiting')")
            .bind(tenant.as_str())
            .bind(serde_json::to_string(&list).map_err(StoreError::corrupt)?)
            .fetch_all(c).await?,
    };
    rows.into_iter().map(|id| super::id(&id)).collect()
}

/// Whether the domain has an operation in progress (its registrar state is changing).
pub async fn has_open_operation(c: Conn<'_>, tenant: &TenantId, domain: &DomainId) -> Result<bool> {
    let v: Option<i64> = on!(c, c => sqlx::query_scalar(
        "SELECT 1 FROM domain_operations WHERE tenant_id = $1 AND domain_id = $2 AND status IN ('queued', 'running', 'waiting') LIMIT 1")
        .bind(tenant.as_str()).bind(domain.as_str()).fetch_optional(c).await)?;
    Ok(v.is_some())
}
