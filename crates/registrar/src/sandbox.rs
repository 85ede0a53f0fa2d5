//! A simulated registry with its own persistent state: what the demo and most tests use.
//!
//! The state lives in one SQLite file (path in [`SandboxConfig`]); several processes may use
//! it at once (WAL, and every operation is one `BEGIN IMMEDIATE` transaction). It keeps:
//!
//! - **domains** with a faithful gTLD lifecycle ([`panel1_core::domain_lifecycle`]):
//!   registration sets expiry = now + years; renew adds exactly the years to the current
//!   expiry; after expiry 45 days of auto-renew grace, then 30 days of redemption (restore
//!   possible), then 5 days of pending delete, then the name is available again;
//! - **transfers**: requested with the auth code, pending until the losing side approves or
//!   rejects ([`SandboxRegistry::approve_transfer`], [`SandboxRegistry::reject_transfer`]),
//!   approved automatically after 5 days;
//! - **a test clock**: an offset stored in the file, so every process sees the same time
//!   ([`SandboxRegistry::advance`]);
//! - **accounts, balance and a ledger**: one row per register / renew / transfer / restore,
//!   with the idempotency key the caller passed. The ledger is the registry's truth: it is
//!   what exactly-once tests count ([`SandboxRegistry::ledger`]). Renewing twice charges
//!   twice, as a real registry does;
//! - **failure injection** set at run time ([`SandboxRegistry::set_faults`]): an error rate
//!   (refused before applying, retryable), timeouts (nothing applied, outcome unknown to the
//!   caller) and lost responses (applied, then the answer is lost: outcome unknown), drawn
//!   from a seeded generator so a run can be replayed.
//!
//! [`SandboxRegistrar`] is the [`Registrar`] for one account of the registry.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Months, Utc};
use panel1_core::SecretString;
use panel1_core::contact::{Contact, ContactData, DomainContacts};
use panel1_core::domain_lifecycle::{
    EppStatus, GracePeriods, RegistryPhase, RgpStatus, registry_phase,
};
use panel1_core::domain_name::DomainName;
use panel1_core::time::{from_millis, to_millis};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool};

use crate::error::{FailureKind, RegistrarError};
use crate::registrar::Registrar;
use crate::types::*;

const KIND: &str = "sandbox";

/// Where the sandbox registry lives and which account a registrar speaks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxConfig {
    /// The registry's SQLite file; created on first use.
    pub path: PathBuf,
    /// The registrar account in the simulated registry (created on first use).
    #[serde(default = "default_account")]
    pub account: String,
    /// The balance a new account starts with, in minor units.
    #[serde(default = "default_balance")]
    pub initial_balance_minor: i64,
}

fn default_account() -> String {
    "panel1".to_owned()
}

fn default_balance() -> i64 {
    10_000_000
}

impl SandboxConfig {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            account: default_account(),
            initial_balance_minor: default_balance(),
        }
    }
}

/// Failure injection settings, shared by every process using the registry file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// Share of calls refused before anything is applied (a retryable 503-like error).
    pub error_rate: f64,
    /// Share of calls that hang for `timeout` and then answer "unknown outcome" without
    /// having applied anything.
    pub timeout_rate: f64,
    /// Share of mutating calls that are applied and then lose their answer ("unknown
    /// outcome").
    pub lost_response_rate: f64,
    pub timeout: Duration,
    /// Seed of the generator; the same seed and the same order of calls give the same
    /// failures.
    pub seed: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            error_rate: 0.0,
            timeout_rate: 0.0,
            lost_response_rate: 0.0,
            timeout: Duration::from_millis(0),
            seed: 0,
        }
    }
}

/// One charge in the registry's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub account: String,
    pub name: String,
    /// `register`, `renew`, `transfer` or `restore`.
    pub operation: String,
    pub years: i64,
    pub amount: Price,
    pub balance_after_minor: i64,
    pub idempotency_key: String,
}

/// One mutating request as the registry recorded it, with the caller's idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub at: DateTime<Utc>,
    pub account: String,
    pub operation: String,
    pub name: String,
    pub idempotency_key: String,
    /// `applied`, `refused`, `injected_error`, `injected_timeout`, `applied_response_lost`.
    pub outcome: String,
}

/// A domain put straight into the registry by a test or the demo (no charge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlantedDomain {
    pub name: DomainName,
    pub account: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub locked: bool,
    pub nameservers: Vec<DomainName>,
    pub auth_code: SecretString,
}

/// Errors of the sandbox's own administration API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    #[error("the sandbox registry has no domain {0}")]
    NoSuchDomain(String),
    #[error("the sandbox registry has no pending transfer for {0}")]
    NoPendingTransfer(String),
    #[error("the sandbox registry file {path} could not be used: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("the sandbox registry's database failed: {0}")]
    Database(#[from] sqlx::Error),
}

/// Handle on a sandbox registry file: the registry's own controls (clock, faults, balances,
/// ledger, transfers) and the source of [`SandboxRegistrar`]s.
#[derive(Clone)]
pub struct SandboxRegistry {
    pool: SqlitePool,
    periods: GracePeriods,
    initial_balance_minor: i64,
}

impl std::fmt::Debug for SandboxRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxRegistry").finish_non_exhaustive()
    }
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS settings (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        clock_offset_ms INTEGER NOT NULL DEFAULT 0,
        error_rate REAL NOT NULL DEFAULT 0,
        timeout_rate REAL NOT NULL DEFAULT 0,
        lost_response_rate REAL NOT NULL DEFAULT 0,
        timeout_ms INTEGER NOT NULL DEFAULT 0,
        seed INTEGER NOT NULL DEFAULT 0,
        draws INTEGER NOT NULL DEFAULT 0)",
    "INSERT OR IGNORE INTO settings (id) VALUES (1)",
    "CREATE TABLE IF NOT EXISTS accounts (
        account TEXT PRIMARY KEY,
        balance_minor INTEGER NOT NULL,
        currency TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tlds (
        tld TEXT PRIMARY KEY,
        register_minor INTEGER NOT NULL,
        renew_minor INTEGER NOT NULL,
        transfer_minor INTEGER NOT NULL,
        restore_minor INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS premium (
        name TEXT PRIMARY KEY,
        register_minor INTEGER NOT NULL,
        renew_minor INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS domains (
        name TEXT PRIMARY KEY,
        roid TEXT NOT NULL,
        account TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL,
        deleted_ms INTEGER,
        locked INTEGER NOT NULL DEFAULT 0,
        hold INTEGER NOT NULL DEFAULT 0,
        privacy INTEGER NOT NULL DEFAULT 0,
        auth_code TEXT NOT NULL,
        nameservers TEXT NOT NULL DEFAULT '[]',
        contacts TEXT,
        updated_ms INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS domains_account ON domains (account, name)",
    "CREATE TABLE IF NOT EXISTS transfers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        from_account TEXT NOT NULL,
        to_account TEXT NOT NULL,
        years INTEGER NOT NULL,
        state TEXT NOT NULL,
        requested_ms INTEGER NOT NULL,
        action_by_ms INTEGER NOT NULL,
        resolved_ms INTEGER,
        idempotency_key TEXT NOT NULL,
        message TEXT)",
    "CREATE INDEX IF NOT EXISTS transfers_name ON transfers (name, id)",
    "CREATE TABLE IF NOT EXISTS ledger (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL,
        account TEXT NOT NULL,
        name TEXT NOT NULL,
        operation TEXT NOT NULL,
        years INTEGER NOT NULL,
        amount_minor INTEGER NOT NULL,
        currency TEXT NOT NULL,
        balance_after_minor INTEGER NOT NULL,
        idempotency_key TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ledger_key ON ledger (idempotency_key)",
    "CREATE INDEX IF NOT EXISTS ledger_name ON ledger (name)",
    "CREATE TABLE IF NOT EXISTS requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms INTEGER NOT NULL,
        account TEXT NOT NULL,
        operation TEXT NOT NULL,
        name TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        outcome TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS requests_key ON requests (idempotency_key)",
];

/// The TLDs a new registry sells, with register / renew / transfer / restore prices in
/// US cents.
const DEFAULT_TLDS: &[(&str, i64, i64, i64, i64)] = &[
    ("com", 1099, 1299, 1099, 8000),
    ("net", 1299, 1499, 1299, 8000),
    ("org", 999, 1399, 999, 8000),
    ("io", 3999, 3999, 3999, 15000),
    ("dev", 1299, 1299, 1299, 8000),
    ("app", 1499, 1499, 1499, 8000),
    ("de", 599, 599, 0, 2000),
    ("co.uk", 699, 699, 0, 3000),
    ("test", 100, 100, 100, 500),
];

const CURRENCY: &str = "USD";
/// A registration may not reach further than this many years ahead.
const MAX_YEARS_AHEAD: u32 = 10;
/// The registry's add grace period.
const ADD_PERIOD_DAYS: i64 = 5;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    Error,
    Timeout(Duration),
    Lost,
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn unit(seed: u64, n: u64) -> f64 {
    (splitmix64(seed ^ splitmix64(n)) >> 11) as f64 / (1u64 << 53) as f64
}

fn add_years(t: DateTime<Utc>, years: u32) -> Option<DateTime<Utc>> {
    t.checked_add_months(Months::new(12 * years))
}

fn random_token() -> String {
    match panel1_core::crypto::random_bytes::<12>() {
        Ok(b) => hex::encode(b),
        Err(_) => hex::encode(Utc::now().timestamp_nanos_opt().unwrap_or(0).to_be_bytes()),
    }
}

struct DomainRow {
    name: String,
    roid: String,
    account: String,
    created_ms: i64,
    expires_ms: i64,
    deleted_ms: Option<i64>,
    locked: bool,
    hold: bool,
    privacy: bool,
    auth_code: String,
    nameservers: Vec<String>,
    contacts: Option<DomainContacts<ContactData>>,
}

impl DomainRow {
    fn from_row(r: &sqlx::sqlite::SqliteRow) -> Self {
        Self {
            name: r.get("name"),
            roid: r.get("roid"),
            account: r.get("account"),
            created_ms: r.get("created_ms"),
            expires_ms: r.get("expires_ms"),
            deleted_ms: r.get("deleted_ms"),
            locked: r.get::<i64, _>("locked") != 0,
            hold: r.get::<i64, _>("hold") != 0,
            privacy: r.get::<i64, _>("privacy") != 0,
            auth_code: r.get("auth_code"),
            nameservers: serde_json::from_str(&r.get::<String, _>("nameservers"))
                .unwrap_or_default(),
            contacts: r
                .get::<Option<String>, _>("contacts")
                .and_then(|c| serde_json::from_str(&c).ok()),
        }
    }

    fn expires(&self) -> DateTime<Utc> {
        from_millis(self.expires_ms)
    }

    fn phase(&self, now: DateTime<Utc>, p: &GracePeriods) -> RegistryPhase {
        registry_phase(self.expires(), self.deleted_ms.map(from_millis), now, p)
    }
}

struct Prices {
    register: i64,
    renew: i64,
    transfer: i64,
    restore: i64,
    premium: bool,
}

struct Ctx {
    now: DateTime<Utc>,
    fault: Fault,
}

fn db_err(op: &'static str, e: sqlx::Error) -> RegistrarError {
    RegistrarError::retryable(KIND, op, format!("the sandbox database failed: {e}"), None)
}

fn refuse(
    op: &'static str,
    kind: FailureKind,
    code: &str,
    msg: impl Into<String>,
) -> RegistrarError {
    RegistrarError::failed(KIND, op, kind, code, msg)
}

impl SandboxRegistry {
    /// Opens (creating if needed) the registry file.
    pub async fn open(config: &SandboxConfig) -> Result<Self, SandboxError> {
        let opts = SqliteConnectOptions::new()
            .filename(&config.path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await
            .map_err(|source| SandboxError::Open {
                path: config.path.display().to_string(),
                source,
            })?;
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        for stmt in SCHEMA {
            sqlx::query(*stmt).execute(&mut *tx).await?;
        }
        for (tld, reg, ren, tr, res) in DEFAULT_TLDS {
            sqlx::query(
                "INSERT OR IGNORE INTO tlds (tld, register_minor, renew_minor, transfer_minor, restore_minor) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(*tld)
            .bind(*reg)
            .bind(*ren)
            .bind(*tr)
            .bind(*res)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Self {
            pool,
            periods: GracePeriods::default(),
            initial_balance_minor: config.initial_balance_minor,
        })
    }

    /// The [`Registrar`] for one account of this registry.
    pub fn registrar(&self, account: impl Into<String>) -> SandboxRegistrar {
        SandboxRegistrar {
            registry: self.clone(),
            account: account.into(),
        }
    }

    pub fn grace_periods(&self) -> GracePeriods {
        self.periods
    }

    /// The registry's current time (the real time plus the test clock's offset).
    pub async fn now(&self) -> Result<DateTime<Utc>, SandboxError> {
        let off: i64 = sqlx::query_scalar("SELECT clock_offset_ms FROM settings WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(Utc::now() + chrono::Duration::milliseconds(off))
    }

    /// Moves the registry's clock forward (for every process using the file).
    pub async fn advance(&self, by: chrono::Duration) -> Result<DateTime<Utc>, SandboxError> {
        sqlx::query("UPDATE settings SET clock_offset_ms = clock_offset_ms + ? WHERE id = 1")
            .bind(by.num_milliseconds())
            .execute(&self.pool)
            .await?;
        self.now().await
    }

    pub async fn set_faults(&self, f: Faults) -> Result<(), SandboxError> {
        sqlx::query(
            "UPDATE settings SET error_rate = ?, timeout_rate = ?, lost_response_rate = ?, timeout_ms = ?, seed = ?, draws = 0 WHERE id = 1",
        )
        .bind(f.error_rate)
        .bind(f.timeout_rate)
        .bind(f.lost_response_rate)
        .bind(i64::try_from(f.timeout.as_millis()).unwrap_or(i64::MAX))
        .bind(f.seed as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn faults(&self) -> Result<Faults, SandboxError> {
        let r = sqlx::query(
            "SELECT error_rate, timeout_rate, lost_response_rate, timeout_ms, seed FROM settings WHERE id = 1",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Faults {
            error_rate: r.get(0),
            timeout_rate: r.get(1),
            lost_response_rate: r.get(2),
            timeout: Duration::from_millis(r.get::<i64, _>(3).max(0) as u64),
            seed: r.get::<i64, _>(4) as u64,
        })
    }

    pub async fn set_balance(&self, account: &str, minor: i64) -> Result<(), SandboxError> {
        sqlx::query(
            "INSERT INTO accounts (account, balance_minor, currency) VALUES (?, ?, ?)
             ON CONFLICT (account) DO UPDATE SET balance_minor = excluded.balance_minor",
        )
        .bind(account)
        .bind(minor)
        .bind(CURRENCY)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn balance(&self, account: &str) -> Result<Price, SandboxError> {
        let mut conn = self.pool.acquire().await?;
        let b = ensure_account(&mut conn, account, self.initial_balance_minor).await?;
        Ok(Price::new(b, CURRENCY))
    }

    /// Makes a name premium, with its own register and renew prices.
    pub async fn set_premium(
        &self,
        name: &DomainName,
        register_minor: i64,
        renew_minor: i64,
    ) -> Result<(), SandboxError> {
        sqlx::query(
            "INSERT INTO premium (name, register_minor, renew_minor) VALUES (?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET register_minor = excluded.register_minor, renew_minor = excluded.renew_minor",
        )
        .bind(name.as_ascii())
        .bind(register_minor)
        .bind(renew_minor)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sells a TLD (or changes its prices).
    pub async fn set_tld(
        &self,
        tld: &str,
        register_minor: i64,
        renew_minor: i64,
        transfer_minor: i64,
        restore_minor: i64,
    ) -> Result<(), SandboxError> {
        sqlx::query(
            "INSERT INTO tlds (tld, register_minor, renew_minor, transfer_minor, restore_minor) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (tld) DO UPDATE SET register_minor = excluded.register_minor, renew_minor = excluded.renew_minor,
               transfer_minor = excluded.transfer_minor, restore_minor = excluded.restore_minor",
        )
        .bind(tld)
        .bind(register_minor)
        .bind(renew_minor)
        .bind(transfer_minor)
        .bind(restore_minor)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every charge, oldest first.
    pub async fn ledger(&self) -> Result<Vec<LedgerEntry>, SandboxError> {
        self.ledger_where("1 = 1", "").await
    }

    /// The charges made under one idempotency key.
    pub async fn ledger_for_key(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Vec<LedgerEntry>, SandboxError> {
        self.ledger_where("idempotency_key = ?", key.as_str()).await
    }

    /// The charges for one domain.
    pub async fn ledger_for_name(
        &self,
        name: &DomainName,
    ) -> Result<Vec<LedgerEntry>, SandboxError> {
        self.ledger_where("name = ?", name.as_ascii()).await
    }

    async fn ledger_where(&self, cond: &str, arg: &str) -> Result<Vec<LedgerEntry>, SandboxError> {
        let sql = format!(
            "SELECT id, at_ms, account, name, operation, years, amount_minor, currency, balance_after_minor, idempotency_key
             FROM ledger WHERE {cond} ORDER BY id"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if !arg.is_empty() {
            q = q.bind(arg.to_owned());
        }
        let rows = q.fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r| LedgerEntry {
                id: r.get(0),
                at: from_millis(r.get(1)),
                account: r.get(2),
                name: r.get(3),
                operation: r.get(4),
                years: r.get(5),
                amount: Price::new(r.get(6), r.get::<String, _>(7)),
                balance_after_minor: r.get(8),
                idempotency_key: r.get(9),
            })
            .collect())
    }

    /// The mutating requests recorded under one idempotency key.
    pub async fn requests_for_key(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Vec<RequestRecord>, SandboxError> {
        let rows = sqlx::query(
            "SELECT at_ms, account, operation, name, idempotency_key, outcome FROM requests WHERE idempotency_key = ? ORDER BY id",
        )
        .bind(key.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| RequestRecord {
                at: from_millis(r.get(0)),
                account: r.get(1),
                operation: r.get(2),
                name: r.get(3),
                idempotency_key: r.get(4),
                outcome: r.get(5),
            })
            .collect())
    }

    /// Puts a domain straight into the registry, without a charge (a domain registered
    /// elsewhere, or a fixture).
    pub async fn plant(&self, d: &PlantedDomain) -> Result<(), SandboxError> {
        let ns: Vec<&str> = d.nameservers.iter().map(|n| n.as_ascii()).collect();
        sqlx::query(
            "INSERT INTO domains (name, roid, account, created_ms, expires_ms, deleted_ms, locked, hold, privacy, auth_code, nameservers, contacts, updated_ms)
             VALUES (?, ?, ?, ?, ?, NULL, ?, 0, 0, ?, ?, NULL, ?)
             ON CONFLICT (name) DO UPDATE SET account = excluded.account, created_ms = excluded.created_ms,
               expires_ms = excluded.expires_ms, deleted_ms = NULL, locked = excluded.locked, hold = 0,
               auth_code = excluded.auth_code, nameservers = excluded.nameservers, updated_ms = excluded.updated_ms",
        )
        .bind(d.name.as_ascii())
        .bind(format!("SBX-{}", random_token()))
        .bind(&d.account)
        .bind(to_millis(d.created_at))
        .bind(to_millis(d.expires_at))
        .bind(i64::from(d.locked))
        .bind(d.auth_code.expose())
        .bind(serde_json::to_string(&ns).unwrap_or_else(|_| "[]".into()))
        .bind(to_millis(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Plants many domains in one transaction (benchmarks, large fixtures).
    pub async fn plant_many(&self, list: &[PlantedDomain]) -> Result<(), SandboxError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for d in list {
            let ns: Vec<&str> = d.nameservers.iter().map(|n| n.as_ascii()).collect();
            sqlx::query(
                "INSERT INTO domains (name, roid, account, created_ms, expires_ms, deleted_ms, locked, hold, privacy, auth_code, nameservers, contacts, updated_ms)
                 VALUES (?, ?, ?, ?, ?, NULL, ?, 0, 0, ?, ?, NULL, ?)",
            )
            .bind(d.name.as_ascii())
            .bind(format!("SBX-{}", random_token()))
            .bind(&d.account)
            .bind(to_millis(d.created_at))
            .bind(to_millis(d.expires_at))
            .bind(i64::from(d.locked))
            .bind(d.auth_code.expose())
            .bind(serde_json::to_string(&ns).unwrap_or_else(|_| "[]".into()))
            .bind(to_millis(Utc::now()))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn update_domain(
        &self,
        name: &DomainName,
        set: &'static str,
        value: impl for<'q> sqlx::Encode<'q, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite> + Send + 'static,
    ) -> Result<(), SandboxError> {
        let sql = format!("UPDATE domains SET {set} = ? WHERE name = ?");
        let n = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(value)
            .bind(name.as_ascii().to_owned())
            .execute(&self.pool)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(SandboxError::NoSuchDomain(name.to_string()));
        }
        Ok(())
    }

    /// Changes a domain's expiry behind the registrar's back (to plant drift).
    pub async fn set_expiry(
        &self,
        name: &DomainName,
        at: DateTime<Utc>,
    ) -> Result<(), SandboxError> {
        self.update_domain(name, "expires_ms", to_millis(at)).await
    }

    /// Sets or clears the lock behind the registrar's back.
    pub async fn set_locked(&self, name: &DomainName, locked: bool) -> Result<(), SandboxError> {
        self.update_domain(name, "locked", i64::from(locked)).await
    }

    /// Replaces the nameservers behind the registrar's back.
    pub async fn set_nameservers(
        &self,
        name: &DomainName,
        nameservers: &[DomainName],
    ) -> Result<(), SandboxError> {
        let ns: Vec<&str> = nameservers.iter().map(|n| n.as_ascii()).collect();
        self.update_domain(
            name,
            "nameservers",
            serde_json::to_string(&ns).unwrap_or_default(),
        )
        .await
    }

    /// Moves a domain to another account, as a transfer away completes.
    pub async fn move_to_account(
        &self,
        name: &DomainName,
        account: &str,
    ) -> Result<(), SandboxError> {
        self.update_domain(name, "account", account.to_owned())
            .await
    }

    /// Deletes a domain now: it enters redemption (restorable for 30 days).
    pub async fn delete(&self, name: &DomainName) -> Result<(), SandboxError> {
        let now = self.now().await?;
        self.update_domain(name, "deleted_ms", to_millis(now)).await
    }

    /// The losing side approves the pending transfer of `name`.
    pub async fn approve_transfer(&self, name: &DomainName) -> Result<(), SandboxError> {
        self.resolve_transfer(name, true).await
    }

    /// The losing side rejects the pending transfer of `name`.
    pub async fn reject_transfer(&self, name: &DomainName) -> Result<(), SandboxError> {
        self.resolve_transfer(name, false).await
    }

    async fn resolve_transfer(&self, name: &DomainName, approve: bool) -> Result<(), SandboxError> {
        let now = self.now().await?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM transfers WHERE name = ? AND state = 'pending' ORDER BY id DESC LIMIT 1",
        )
        .bind(name.as_ascii())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Err(SandboxError::NoPendingTransfer(name.to_string()));
        };
        if approve {
            complete_transfer(&mut tx, id, now, self.initial_balance_minor).await?;
        } else {
            sqlx::query(
                "UPDATE transfers SET state = 'rejected', resolved_ms = ?, message = 'rejected by the losing registrar' WHERE id = ?",
            )
            .bind(to_millis(now))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The domain as the registry holds it, whoever sponsors it (for tests).
    pub async fn domain_account(&self, name: &DomainName) -> Result<Option<String>, SandboxError> {
        Ok(
            sqlx::query_scalar("SELECT account FROM domains WHERE name = ?")
                .bind(name.as_ascii())
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}

async fn ensure_account(
    conn: &mut SqliteConnection,
    account: &str,
    initial: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "INSERT OR IGNORE INTO accounts (account, balance_minor, currency) VALUES (?, ?, ?)",
    )
    .bind(account)
    .bind(initial)
    .bind(CURRENCY)
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar("SELECT balance_minor FROM accounts WHERE account = ?")
        .bind(account)
        .fetch_one(&mut *conn)
        .await
}

#[expect(
    clippy::too_many_arguments,
    reason = "one ledger row has this many columns"
)]
async fn charge(
    conn: &mut SqliteConnection,
    now: DateTime<Utc>,
    account: &str,
    name: &str,
    operation: &str,
    years: i64,
    amount: i64,
    key: &str,
) -> Result<i64, sqlx::Error> {
    let balance: i64 = sqlx::query_scalar(
        "UPDATE accounts SET balance_minor = balance_minor - ? WHERE account = ? RETURNING balance_minor",
    )
    .bind(amount)
    .bind(account)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO ledger (at_ms, account, name, operation, years, amount_minor, currency, balance_after_minor, idempotency_key)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(to_millis(now))
    .bind(account)
    .bind(name)
    .bind(operation)
    .bind(years)
    .bind(amount)
    .bind(CURRENCY)
    .bind(balance)
    .bind(key)
    .execute(&mut *conn)
    .await?;
    Ok(balance)
}

/// Completes transfer `id`: charges the gaining account, moves the domain, adds the years.
async fn complete_transfer(
    conn: &mut SqliteConnection,
    id: i64,
    now: DateTime<Utc>,
    initial_balance: i64,
) -> Result<(), sqlx::Error> {
    let t = sqlx::query(
        "SELECT name, to_account, years, idempotency_key, requested_ms, action_by_ms FROM transfers WHERE id = ?",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let name: String = t.get(0);
    let to: String = t.get(1);
    let years: i64 = t.get(2);
    let key: String = t.get(3);
    let at = now.min(from_millis(t.get::<i64, _>(5)));
    let Some(d) = sqlx::query("SELECT * FROM domains WHERE name = ?")
        .bind(&name)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| DomainRow::from_row(&r))
    else {
        sqlx::query("UPDATE transfers SET state = 'cancelled', resolved_ms = ?, message = 'the domain no longer exists' WHERE id = ?")
            .bind(to_millis(at))
            .bind(id)
            .execute(&mut *conn)
            .await?;
        return Ok(());
    };
    let tld = DomainName::parse(&name)
        .map(|n| n.public_suffix().to_owned())
        .unwrap_or_default();
    let price: i64 = sqlx::query_scalar("SELECT transfer_minor FROM tlds WHERE tld = ?")
        .bind(&tld)
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or(0);
    let balance = ensure_account(conn, &to, initial_balance).await?;
    let cost = price * years;
    if balance < cost {
        sqlx::query("UPDATE transfers SET state = 'cancelled', resolved_ms = ?, message = 'insufficient funds at completion' WHERE id = ?")
            .bind(to_millis(at))
            .bind(id)
            .execute(&mut *conn)
            .await?;
        return Ok(());
    }
    charge(conn, at, &to, &name, "transfer", years, cost, &key).await?;
    let new_expiry = add_years(d.expires(), years as u32).unwrap_or(d.expires());
    sqlx::query(
        "UPDATE domains SET account = ?, expires_ms = ?, locked = 0, hold = 0, auth_code = ?, updated_ms = ? WHERE name = ?",
    )
    .bind(&to)
    .bind(to_millis(new_expiry))
    .bind(random_token())
    .bind(to_millis(at))
    .bind(&name)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE transfers SET state = 'completed', resolved_ms = ?, message = 'transfer completed' WHERE id = ?")
        .bind(to_millis(at))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The [`Registrar`] for one account of a [`SandboxRegistry`].
#[derive(Clone, Debug)]
pub struct SandboxRegistrar {
    registry: SandboxRegistry,
    account: String,
}

impl SandboxRegistrar {
    /// Opens the registry file named in the config and speaks for its account.
    pub async fn open(config: &SandboxConfig) -> Result<Self, SandboxError> {
        Ok(SandboxRegistry::open(config)
            .await?
            .registrar(&config.account))
    }

    pub fn registry(&self) -> &SandboxRegistry {
        &self.registry
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    /// Opens the operation's transaction, reads the clock and draws the injected fault.
    async fn begin(
        &self,
        op: &'static str,
        mutating: bool,
    ) -> Result<(sqlx::Transaction<'static, sqlx::Sqlite>, Ctx), RegistrarError> {
        let mut tx = self
            .registry
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| db_err(op, e))?;
        let r = sqlx::query(
            "SELECT clock_offset_ms, error_rate, timeout_rate, lost_response_rate, timeout_ms, seed, draws FROM settings WHERE id = 1",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| db_err(op, e))?;
        let off: i64 = r.get(0);
        let (er, tr, lr): (f64, f64, f64) = (r.get(1), r.get(2), r.get(3));
        let timeout_ms: i64 = r.get(4);
        let seed = r.get::<i64, _>(5) as u64;
        let draws = r.get::<i64, _>(6) as u64;
        let now = from_millis(to_millis(Utc::now()) + off);
        let mut fault = Fault::None;
        if er > 0.0 || tr > 0.0 || (mutating && lr > 0.0) {
            sqlx::query("UPDATE settings SET draws = draws + 1 WHERE id = 1")
                .execute(&mut *tx)
                .await
                .map_err(|e| db_err(op, e))?;
            let x = unit(seed, draws);
            fault = if x < er {
                Fault::Error
            } else if x < er + tr {
                Fault::Timeout(Duration::from_millis(timeout_ms.max(0) as u64))
            } else if mutating && x < er + tr + lr {
                Fault::Lost
            } else {
                Fault::None
            };
        }
        ensure_account(&mut tx, &self.account, self.registry.initial_balance_minor)
            .await
            .map_err(|e| db_err(op, e))?;
        Ok((tx, Ctx { now, fault }))
    }

    /// Runs the injected fault that strikes before anything is applied, if any.
    async fn pre_fault(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        ctx: &Ctx,
        op: &'static str,
        record: Option<(&str, &IdempotencyKey)>,
    ) -> Option<RegistrarError> {
        let (outcome, err) = match ctx.fault {
            Fault::Error => (
                "injected_error",
                RegistrarError::retryable(
                    KIND,
                    op,
                    "the registry is temporarily unavailable (injected failure)",
                    Some(Duration::from_millis(10)),
                ),
            ),
            Fault::Timeout(_) if record.is_some() => (
                "injected_timeout",
                RegistrarError::unknown(KIND, op, "no answer before the timeout (injected)"),
            ),
            Fault::Timeout(_) => (
                "injected_timeout",
                RegistrarError::retryable(
                    KIND,
                    op,
                    "no answer before the timeout (injected)",
                    None,
                ),
            ),
            _ => return None,
        };
        if let Some((name, key)) = record {
            let _ = self.record(tx, ctx, op, name, key, outcome).await;
        }
        Some(err)
    }

    async fn record(
        &self,
        conn: &mut SqliteConnection,
        ctx: &Ctx,
        op: &str,
        name: &str,
        key: &IdempotencyKey,
        outcome: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO requests (at_ms, account, operation, name, idempotency_key, outcome) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(to_millis(ctx.now))
        .bind(&self.account)
        .bind(op)
        .bind(name)
        .bind(key.as_str())
        .bind(outcome)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// The common frame of every operation: transaction, fault injection, the body, commit,
    /// transcript.
    async fn run<T: Serialize + Send>(
        &self,
        op: &'static str,
        request: serde_json::Value,
        mutation: Option<(&str, &IdempotencyKey)>,
        body: impl for<'c> FnOnce(
            &'c Self,
            &'c mut SqliteConnection,
            &'c Ctx,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, RegistrarError>> + Send + 'c>,
        > + Send,
    ) -> Reply<T> {
        let started = Instant::now();
        let result = self.run_inner(op, mutation, body).await;
        let response = match &result {
            Ok(v) => serde_json::to_string(v).unwrap_or_default(),
            Err(e) => format!("error: {e}"),
        };
        let mut transcript = Transcript::default();
        transcript.push(Exchange {
            command: format!("sandbox.{op}"),
            request: request.to_string(),
            response: (!matches!(&result, Err(e) if e.is_unknown_outcome())).then_some(response),
            duration: started.elapsed(),
        });
        match &result {
            Ok(_) => {
                tracing::debug!(registrar = KIND, account = %self.account, op, "sandbox call succeeded")
            }
            Err(e) => {
                tracing::debug!(registrar = KIND, account = %self.account, op, outcome = e.outcome(), error = %e, "sandbox call failed")
            }
        }
        Reply::new(result, transcript)
    }

    async fn run_inner<T>(
        &self,
        op: &'static str,
        mutation: Option<(&str, &IdempotencyKey)>,
        body: impl for<'c> FnOnce(
            &'c Self,
            &'c mut SqliteConnection,
            &'c Ctx,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<T, RegistrarError>> + Send + 'c>,
        > + Send,
    ) -> Result<T, RegistrarError> {
        let (mut tx, ctx) = self.begin(op, mutation.is_some()).await?;
        if let Some(err) = self.pre_fault(&mut tx, &ctx, op, mutation).await {
            tx.commit().await.map_err(|e| db_err(op, e))?;
            if let Fault::Timeout(d) = ctx.fault {
                tokio::time::sleep(d).await;
            }
            return Err(err);
        }
        let result = body(self, &mut tx, &ctx).await;
        match result {
            Ok(v) => {
                if let Some((name, key)) = mutation {
                    let outcome = if ctx.fault == Fault::Lost {
                        "applied_response_lost"
                    } else {
                        "applied"
                    };
                    self.record(&mut tx, &ctx, op, name, key, outcome)
                        .await
                        .map_err(|e| db_err(op, e))?;
                }
                tx.commit().await.map_err(|e| db_err(op, e))?;
                if ctx.fault == Fault::Lost {
                    return Err(RegistrarError::unknown(
                        KIND,
                        op,
                        "the connection was lost before the answer arrived (injected)",
                    ));
                }
                Ok(v)
            }
            Err(e) => {
                let _ = tx.rollback().await;
                if let (Some((name, key)), RegistrarError::Failed { .. }) = (mutation, &e)
                    && let Ok(mut conn) = self.registry.pool.acquire().await
                {
                    let _ = self.record(&mut conn, &ctx, op, name, key, "refused").await;
                }
                Err(e)
            }
        }
    }

    async fn load(
        &self,
        conn: &mut SqliteConnection,
        ctx: &Ctx,
        name: &str,
    ) -> Result<Option<DomainRow>, sqlx::Error> {
        settle_transfers(conn, name, ctx.now, self.registry.initial_balance_minor).await?;
        let row = sqlx::query("SELECT * FROM domains WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| DomainRow::from_row(&r));
        match row {
            Some(d) if d.phase(ctx.now, &self.registry.periods) == RegistryPhase::Released => {
                sqlx::query("DELETE FROM domains WHERE name = ?")
                    .bind(name)
                    .execute(&mut *conn)
                    .await?;
                Ok(None)
            }
            other => Ok(other),
        }
    }

    /// The domain, which must be in this account.
    async fn load_own(
        &self,
        conn: &mut SqliteConnection,
        ctx: &Ctx,
        op: &'static str,
        name: &DomainName,
    ) -> Result<DomainRow, RegistrarError> {
        match self
            .load(conn, ctx, name.as_ascii())
            .await
            .map_err(|e| db_err(op, e))?
        {
            Some(d) if d.account == self.account => Ok(d),
            _ => Err(refuse(
                op,
                FailureKind::NotFound,
                "2303",
                format!("{name} is not registered in this account"),
            )),
        }
    }

    async fn prices(
        &self,
        conn: &mut SqliteConnection,
        name: &DomainName,
    ) -> Result<Option<Prices>, sqlx::Error> {
        let Some(t) = sqlx::query(
            "SELECT register_minor, renew_minor, transfer_minor, restore_minor FROM tlds WHERE tld = ?",
        )
        .bind(name.public_suffix())
        .fetch_optional(&mut *conn)
        .await?
        else {
            return Ok(None);
        };
        let mut p = Prices {
            register: t.get(0),
            renew: t.get(1),
            transfer: t.get(2),
            restore: t.get(3),
            premium: false,
        };
        if let Some(r) =
            sqlx::query("SELECT register_minor, renew_minor FROM premium WHERE name = ?")
                .bind(name.as_ascii())
                .fetch_optional(&mut *conn)
                .await?
        {
            p.register = r.get(0);
            p.renew = r.get(1);
            p.premium = true;
        }
        Ok(Some(p))
    }

    fn info_of(&self, d: &DomainRow, ctx: &Ctx, pending_transfer: bool) -> DomainInfo {
        let p = &self.registry.periods;
        let mut epp = Vec::new();
        let mut rgp = Vec::new();
        match d.phase(ctx.now, p) {
            RegistryPhase::Registered | RegistryPhase::Released => {
                if ctx.now < from_millis(d.created_ms) + chrono::Duration::days(ADD_PERIOD_DAYS) {
                    rgp.push(RgpStatus::AddPeriod);
                }
            }
            RegistryPhase::AutoRenewGrace => rgp.push(RgpStatus::AutoRenewPeriod),
            RegistryPhase::Redemption => {
                epp.push(EppStatus::PendingDelete);
                rgp.push(RgpStatus::RedemptionPeriod);
            }
            RegistryPhase::PendingDelete => {
                epp.push(EppStatus::PendingDelete);
                rgp.push(RgpStatus::PendingDelete);
            }
        }
        if d.locked {
            epp.push(EppStatus::ClientTransferProhibited);
        }
        if d.hold {
            epp.push(EppStatus::ClientHold);
        }
        if pending_transfer {
            epp.push(EppStatus::PendingTransfer);
        }
        if epp.is_empty() {
            epp.push(EppStatus::Ok);
        }
        let own = d.account == self.account;
        DomainInfo {
            name: DomainName::parse(&d.name).unwrap_or_else(|_| unreachable_name()),
            in_account: own,
            created_at: Some(from_millis(d.created_ms)),
            expires_at: Some(d.expires()),
            nameservers: if own {
                d.nameservers
                    .iter()
                    .filter_map(|n| DomainName::parse(n).ok())
                    .collect()
            } else {
                Vec::new()
            },
            locked: d.locked,
            privacy: own.then_some(d.privacy),
            auto_renew: Some(false),
            contacts: if own { d.contacts.clone() } else { None },
            epp_statuses: epp,
            rgp_statuses: rgp,
            registry_id: Some(d.roid.clone()),
        }
    }
}

/// Names in the sandbox were parsed on the way in; this stands in should a row be edited by
/// hand into something unparsable.
fn unreachable_name() -> DomainName {
    DomainName::from_str("invalid.invalid")
        .unwrap_or_else(|_| DomainName::parse("example.invalid").expect("a constant name parses"))
}

/// Auto-approves the transfers of `name` whose action date has passed.
async fn settle_transfers(
    conn: &mut SqliteConnection,
    name: &str,
    now: DateTime<Utc>,
    initial_balance: i64,
) -> Result<(), sqlx::Error> {
    let due: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM transfers WHERE name = ? AND state = 'pending' AND action_by_ms <= ? ORDER BY id",
    )
    .bind(name)
    .bind(to_millis(now))
    .fetch_all(&mut *conn)
    .await?;
    for id in due {
        complete_transfer(conn, id, now, initial_balance).await?;
    }
    Ok(())
}

fn years_ok(op: &'static str, years: u8) -> Result<u32, RegistrarError> {
    if (1..=10).contains(&years) {
        Ok(u32::from(years))
    } else {
        Err(refuse(
            op,
            FailureKind::InvalidInput,
            "2004",
            format!("the period must be 1 to 10 years, not {years}"),
        ))
    }
}

fn held(
    op: &'static str,
    d: &DomainRow,
    ctx: &Ctx,
    p: &GracePeriods,
) -> Result<(), RegistrarError> {
    match d.phase(ctx.now, p) {
        RegistryPhase::Registered | RegistryPhase::AutoRenewGrace => Ok(()),
        RegistryPhase::Redemption => Err(refuse(
            op,
            FailureKind::StatusProhibits,
            "2304",
            format!(
                "{} is in redemption (pendingDelete): restore it first",
                d.name
            ),
        )),
        _ => Err(refuse(
            op,
            FailureKind::StatusProhibits,
            "2304",
            format!("{} is pending delete", d.name),
        )),
    }
}

fn ns_json(ns: &[DomainName]) -> String {
    serde_json::to_string(&ns.iter().map(|n| n.as_ascii()).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".into())
}

fn contacts_json(c: &DomainContacts<Contact>) -> String {
    serde_json::to_string(&c.to_data()).unwrap_or_default()
}

#[async_trait]
impl Registrar for SandboxRegistrar {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn check(&self, names: &[DomainName]) -> Reply<Vec<Availability>> {
        let names = names.to_vec();
        let req =
            serde_json::json!({ "names": names.iter().map(|n| n.as_ascii()).collect::<Vec<_>>() });
        self.run("check", req, None, move |this, conn, ctx| {
            Box::pin(async move {
                let mut out = Vec::with_capacity(names.len());
                for n in &names {
                    let prices = this.prices(conn, n).await.map_err(|e| db_err("check", e))?;
                    let Some(p) = prices else {
                        out.push(Availability {
                            name: n.clone(),
                            available: false,
                            premium: false,
                            price: None,
                            reason: Some(format!(
                                "the TLD .{} is not supported",
                                n.public_suffix()
                            )),
                        });
                        continue;
                    };
                    if !n.is_registrable() {
                        out.push(Availability {
                            name: n.clone(),
                            available: false,
                            premium: false,
                            price: None,
                            reason: Some(format!(
                                "only names directly under .{} can be registered",
                                n.public_suffix()
                            )),
                        });
                        continue;
                    }
                    let taken = this
                        .load(conn, ctx, n.as_ascii())
                        .await
                        .map_err(|e| db_err("check", e))?
                        .is_some();
                    out.push(Availability {
                        name: n.clone(),
                        available: !taken,
                        premium: p.premium,
                        price: Some(Price::new(p.register, CURRENCY)),
                        reason: taken.then(|| "In use".to_owned()),
                    });
                }
                Ok(out)
            })
        })
        .await
    }

    async fn register(&self, req: &RegisterRequest, key: &IdempotencyKey) -> Reply<Registered> {
        let r = req.clone();
        let request = serde_json::json!({
            "name": r.name.as_ascii(), "years": r.years,
            "nameservers": r.nameservers.iter().map(|n| n.as_ascii()).collect::<Vec<_>>(),
            "privacy": r.privacy, "registrant": r.contacts.registrant.email,
            "premium_price": r.premium_price, "idempotency_key": key.as_str(),
        });
        let k = key.clone();
        self.run("register", request, Some((req.name.as_ascii(), key)), move |this, conn, ctx| {
            Box::pin(async move {
                const OP: &str = "register";
                let years = years_ok(OP, r.years)?;
                let n = &r.name;
                let Some(p) = this.prices(conn, n).await.map_err(|e| db_err(OP, e))? else {
                    return Err(refuse(OP, FailureKind::UnsupportedTld, "2306", format!("the TLD .{} is not supported by this registry", n.public_suffix())));
                };
                if !n.is_registrable() {
                    return Err(refuse(OP, FailureKind::InvalidInput, "2005", format!("{n} is not directly under the public suffix .{}", n.public_suffix())));
                }
                if r.nameservers.len() > 13 {
                    return Err(refuse(OP, FailureKind::InvalidInput, "2004", "at most 13 nameservers"));
                }
                if this.load(conn, ctx, n.as_ascii()).await.map_err(|e| db_err(OP, e))?.is_some() {
                    return Err(refuse(OP, FailureKind::NotAvailable, "2302", format!("{n} is already registered")));
                }
                if p.premium && r.premium_price.as_ref().is_none_or(|pp| pp.minor < p.register) {
                    return Err(refuse(OP, FailureKind::PremiumPriceRequired, "2306", format!("{n} is a premium name at {}", Price::new(p.register, CURRENCY))));
                }
                let cost = p.register * i64::from(years);
                let balance = ensure_account(conn, &this.account, this.registry.initial_balance_minor).await.map_err(|e| db_err(OP, e))?;
                if balance < cost {
                    return Err(refuse(OP, FailureKind::InsufficientFunds, "2104", format!("the balance {} does not cover {}", Price::new(balance, CURRENCY), Price::new(cost, CURRENCY))));
                }
                let expires = add_years(ctx.now, years).ok_or_else(|| refuse(OP, FailureKind::InvalidInput, "2004", "bad period"))?;
                let roid = format!("SBX-{}", random_token());
                sqlx::query(
                    "INSERT INTO domains (name, roid, account, created_ms, expires_ms, deleted_ms, locked, hold, privacy, auth_code, nameservers, contacts, updated_ms)
                     VALUES (?, ?, ?, ?, ?, NULL, 0, 0, ?, ?, ?, ?, ?)",
                )
                .bind(n.as_ascii())
                .bind(&roid)
                .bind(&this.account)
                .bind(to_millis(ctx.now))
                .bind(to_millis(expires))
                .bind(i64::from(r.privacy))
                .bind(random_token())
                .bind(ns_json(&r.nameservers))
                .bind(contacts_json(&r.contacts))
                .bind(to_millis(ctx.now))
                .execute(&mut *conn)
                .await
                .map_err(|e| db_err(OP, e))?;
                charge(conn, ctx.now, &this.account, n.as_ascii(), OP, i64::from(years), cost, k.as_str()).await.map_err(|e| db_err(OP, e))?;
                Ok(Registered {
                    name: n.clone(),
                    created_at: ctx.now,
                    expires_at: expires,
                    charged: Some(Price::new(cost, CURRENCY)),
                    registry_id: Some(roid),
                })
            })
        })
        .await
    }

    async fn renew(&self, req: &RenewRequest, key: &IdempotencyKey) -> Reply<Renewed> {
        let r = req.clone();
        let k = key.clone();
        let request = serde_json::json!({
            "name": r.name.as_ascii(), "years": r.years, "current_expiry": r.current_expiry,
            "idempotency_key": key.as_str(),
        });
        self.run("renew", request, Some((req.name.as_ascii(), key)), move |this, conn, ctx| {
            Box::pin(async move {
                const OP: &str = "renew";
                let years = years_ok(OP, r.years)?;
                let d = this.load_own(conn, ctx, OP, &r.name).await?;
                held(OP, &d, ctx, &this.registry.periods)?;
                let p = this.prices(conn, &r.name).await.map_err(|e| db_err(OP, e))?.ok_or_else(|| {
                    refuse(OP, FailureKind::UnsupportedTld, "2306", "the TLD is no longer supported")
                })?;
                let new_expiry = add_years(d.expires(), years).ok_or_else(|| refuse(OP, FailureKind::InvalidInput, "2004", "bad period"))?;
                let limit = add_years(ctx.now, MAX_YEARS_AHEAD).unwrap_or(ctx.now);
                if new_expiry > limit {
                    return Err(refuse(OP, FailureKind::NotEligible, "2105", format!("renewing {} by {years} years would pass the {MAX_YEARS_AHEAD}-year maximum", r.name)));
                }
                let cost = p.renew * i64::from(years);
                let balance = ensure_account(conn, &this.account, this.registry.initial_balance_minor).await.map_err(|e| db_err(OP, e))?;
                if balance < cost {
                    return Err(refuse(OP, FailureKind::InsufficientFunds, "2104", format!("the balance {} does not cover {}", Price::new(balance, CURRENCY), Price::new(cost, CURRENCY))));
                }
                sqlx::query("UPDATE domains SET expires_ms = ?, updated_ms = ? WHERE name = ?")
                    .bind(to_millis(new_expiry))
                    .bind(to_millis(ctx.now))
                    .bind(r.name.as_ascii())
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| db_err(OP, e))?;
                charge(conn, ctx.now, &this.account, r.name.as_ascii(), OP, i64::from(years), cost, k.as_str()).await.map_err(|e| db_err(OP, e))?;
                Ok(Renewed { name: r.name.clone(), expires_at: new_expiry, charged: Some(Price::new(cost, CURRENCY)) })
            })
        })
        .await
    }

    async fn info(&self, name: &DomainName) -> Reply<DomainInfo> {
        let n = name.clone();
        self.run(
            "info",
            serde_json::json!({ "name": name.as_ascii() }),
            None,
            move |this, conn, ctx| {
                Box::pin(async move {
                    let Some(d) = this
                        .load(conn, ctx, n.as_ascii())
                        .await
                        .map_err(|e| db_err("info", e))?
                    else {
                        return Err(refuse(
                            "info",
                            FailureKind::NotFound,
                            "2303",
                            format!("{n} is not registered"),
                        ));
                    };
                    let pending: Option<i64> = sqlx::query_scalar(
                        "SELECT id FROM transfers WHERE name = ? AND state = 'pending' LIMIT 1",
                    )
                    .bind(n.as_ascii())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(|e| db_err("info", e))?;
                    Ok(this.info_of(&d, ctx, pending.is_some()))
                })
            },
        )
        .await
    }

    async fn health(&self) -> Reply<Health> {
        self.run(
            "health",
            serde_json::json!({}),
            None,
            move |this, conn, _ctx| {
                Box::pin(async move {
                    let b =
                        ensure_account(conn, &this.account, this.registry.initial_balance_minor)
                            .await
                            .map_err(|e| db_err("health", e))?;
                    Ok(Health {
                        balance: Some(Price::new(b, CURRENCY)),
                        message: format!("sandbox registry, account {}", this.account),
                    })
                })
            },
        )
        .await
    }

    async fn transfer_in(
        &self,
        req: &TransferRequest,
        key: &IdempotencyKey,
    ) -> Reply<TransferInfo> {
        let r = req.clone();
        let k = key.clone();
        let request = serde_json::json!({
            "name": r.name.as_ascii(), "years": r.years, "auth_code": "***", "idempotency_key": key.as_str(),
        });
        self.run("transfer_in", request, Some((req.name.as_ascii(), key)), move |this, conn, ctx| {
            Box::pin(async move {
                const OP: &str = "transfer_in";
                let years = years_ok(OP, r.years)?;
                let Some(p) = this.prices(conn, &r.name).await.map_err(|e| db_err(OP, e))? else {
                    return Err(refuse(OP, FailureKind::UnsupportedTld, "2306", format!("the TLD .{} is not supported by this registry", r.name.public_suffix())));
                };
                let Some(d) = this.load(conn, ctx, r.name.as_ascii()).await.map_err(|e| db_err(OP, e))? else {
                    return Err(refuse(OP, FailureKind::NotFound, "2303", format!("{} is not registered", r.name)));
                };
                if d.account == this.account {
                    return Err(refuse(OP, FailureKind::NotEligible, "2106", format!("{} is already in this account", r.name)));
                }
                let pending: Option<i64> = sqlx::query_scalar("SELECT id FROM transfers WHERE name = ? AND state = 'pending' LIMIT 1")
                    .bind(r.name.as_ascii())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(|e| db_err(OP, e))?;
                if pending.is_some() {
                    return Err(refuse(OP, FailureKind::StatusProhibits, "2300", format!("{} already has a pending transfer", r.name)));
                }
                held(OP, &d, ctx, &this.registry.periods)?;
                if d.locked {
                    return Err(refuse(OP, FailureKind::StatusProhibits, "2304", format!("{} is locked (clientTransferProhibited) at its current registrar", r.name)));
                }
                if r.auth_code.expose() != d.auth_code {
                    return Err(refuse(OP, FailureKind::BadAuthCode, "2202", "invalid authorization information (auth code)"));
                }
                let balance = ensure_account(conn, &this.account, this.registry.initial_balance_minor).await.map_err(|e| db_err(OP, e))?;
                let cost = p.transfer * i64::from(years);
                if balance < cost {
                    return Err(refuse(OP, FailureKind::InsufficientFunds, "2104", format!("the balance {} does not cover {}", Price::new(balance, CURRENCY), Price::new(cost, CURRENCY))));
                }
                let action_by = ctx.now + chrono::Duration::days(this.registry.periods.transfer_auto_approve_days);
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO transfers (name, from_account, to_account, years, state, requested_ms, action_by_ms, idempotency_key)
                     VALUES (?, ?, ?, ?, 'pending', ?, ?, ?) RETURNING id",
                )
                .bind(r.name.as_ascii())
                .bind(&d.account)
                .bind(&this.account)
                .bind(i64::from(years))
                .bind(to_millis(ctx.now))
                .bind(to_millis(action_by))
                .bind(k.as_str())
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| db_err(OP, e))?;
                Ok(TransferInfo {
                    name: r.name.clone(),
                    state: TransferState::Pending,
                    transfer_id: Some(id.to_string()),
                    requested_at: Some(ctx.now),
                    action_by: Some(action_by),
                    expires_at: add_years(d.expires(), years),
                    message: Some("transfer requested; pending approval".into()),
                    charged: None,
                })
            })
        })
        .await
    }

    async fn transfer_status(
        &self,
        name: &DomainName,
        transfer_id: Option<&str>,
    ) -> Reply<TransferInfo> {
        let n = name.clone();
        let id = transfer_id.and_then(|t| t.parse::<i64>().ok());
        self.run("transfer_status", serde_json::json!({ "name": name.as_ascii(), "transfer_id": transfer_id }), None, move |this, conn, ctx| {
            Box::pin(async move {
                const OP: &str = "transfer_status";
                settle_transfers(conn, n.as_ascii(), ctx.now, this.registry.initial_balance_minor).await.map_err(|e| db_err(OP, e))?;
                let row = sqlx::query(
                    "SELECT id, state, requested_ms, action_by_ms, resolved_ms, message, years, idempotency_key FROM transfers
                     WHERE name = ? AND to_account = ? AND (? IS NULL OR id = ?) ORDER BY id DESC LIMIT 1",
                )
                .bind(n.as_ascii())
                .bind(&this.account)
                .bind(id)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(|e| db_err(OP, e))?;
                let Some(t) = row else {
                    return Err(refuse(OP, FailureKind::NotFound, "2303", format!("no transfer of {n} into this account")));
                };
                let state = match t.get::<String, _>(1).as_str() {
                    "completed" => TransferState::Completed,
                    "rejected" => TransferState::Rejected,
                    "cancelled" => TransferState::Cancelled,
                    _ => TransferState::Pending,
                };
                let key: String = t.get(7);
                let charged: Option<i64> = sqlx::query_scalar("SELECT amount_minor FROM ledger WHERE idempotency_key = ? AND operation = 'transfer' AND name = ? LIMIT 1")
                    .bind(&key)
                    .bind(n.as_ascii())
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(|e| db_err(OP, e))?;
                let expires: Option<i64> = if state == TransferState::Completed {
                    sqlx::query_scalar("SELECT expires_ms FROM domains WHERE name = ?").bind(n.as_ascii()).fetch_optional(&mut *conn).await.map_err(|e| db_err(OP, e))?
                } else {
                    None
                };
                Ok(TransferInfo {
                    name: n.clone(),
                    state,
                    transfer_id: Some(t.get::<i64, _>(0).to_string()),
                    requested_at: Some(from_millis(t.get(2))),
                    action_by: Some(from_millis(t.get(3))),
                    expires_at: expires.map(from_millis),
                    message: t.get(5),
                    charged: charged.map(|c| Price::new(c, CURRENCY)),
                })
            })
        })
        .await
    }

    async fn update_nameservers(
        &self,
        name: &DomainName,
        nameservers: &[DomainName],
        key: &IdempotencyKey,
    ) -> Reply<()> {
        let n = name.clone();
        let ns = nameservers.to_vec();
        let request = serde_json::json!({ "name": name.as_ascii(), "nameservers": ns.iter().map(|n| n.as_ascii()).collect::<Vec<_>>() });
        self.run(
            "update_nameservers",
            request,
            Some((name.as_ascii(), key)),
            move |this, conn, ctx| {
                Box::pin(async move {
                    const OP: &str = "update_nameservers";
                    let d = this.load_own(conn, ctx, OP, &n).await?;
                    held(OP, &d, ctx, &this.registry.periods)?;
                    if ns.len() > 13 {
                        return Err(refuse(
                            OP,
                            FailureKind::InvalidInput,
                            "2004",
                            "at most 13 nameservers",
                        ));
                    }
                    sqlx::query(
                        "UPDATE domains SET nameservers = ?, updated_ms = ? WHERE name = ?",
                    )
                    .bind(ns_json(&ns))
                    .bind(to_millis(ctx.now))
                    .bind(n.as_ascii())
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| db_err(OP, e))?;
                    Ok(())
                })
            },
        )
        .await
    }

    async fn update_contacts(
        &self,
        name: &DomainName,
        contacts: &DomainContacts<Contact>,
        key: &IdempotencyKey,
    ) -> Reply<()> {
        let n = name.clone();
        let c = contacts.clone();
        let request =
            serde_json::json!({ "name": name.as_ascii(), "registrant": contacts.registrant.email });
        self.run(
            "update_contacts",
            request,
            Some((name.as_ascii(), key)),
            move |this, conn, ctx| {
                Box::pin(async move {
                    const OP: &str = "update_contacts";
                    let d = this.load_own(conn, ctx, OP, &n).await?;
                    held(OP, &d, ctx, &this.registry.periods)?;
                    sqlx::query("UPDATE domains SET contacts = ?, updated_ms = ? WHERE name = ?")
                        .bind(contacts_json(&c))
                        .bind(to_millis(ctx.now))
                        .bind(n.as_ascii())
                        .execute(&mut *conn)
                        .await
                        .map_err(|e| db_err(OP, e))?;
                    Ok(())
                })
            },
        )
        .await
    }

    async fn set_lock(&self, name: &DomainName, locked: bool, key: &IdempotencyKey) -> Reply<()> {
        self.set_flag("set_lock", "locked", name, locked, key).await
    }

    async fn set_privacy(
        &self,
        name: &DomainName,
        enabled: bool,
        key: &IdempotencyKey,
    ) -> Reply<()> {
        self.set_flag("set_privacy", "privacy", name, enabled, key)
            .await
    }

    async fn set_hold(&self, name: &DomainName, hold: bool, key: &IdempotencyKey) -> Reply<()> {
        self.set_flag("set_hold", "hold", name, hold, key).await
    }

    async fn auth_code(&self, name: &DomainName) -> Reply<SecretString> {
        let n = name.clone();
        let reply = self
            .run(
                "auth_code",
                serde_json::json!({ "name": name.as_ascii() }),
                None,
                move |this, conn, ctx| {
                    Box::pin(async move {
                        let d = this.load_own(conn, ctx, "auth_code", &n).await?;
                        Ok(d.auth_code)
                    })
                },
            )
            .await;
        // The code itself must not stay in the transcript.
        let mut t = reply.transcript;
        for e in &mut t.0 {
            e.response = e.response.as_ref().map(|_| "\"***\"".to_owned());
        }
        Reply::new(reply.result.map(SecretString::new), t)
    }

    async fn restore(&self, name: &DomainName, key: &IdempotencyKey) -> Reply<Restored> {
        let n = name.clone();
        let k = key.clone();
        self.run("restore", serde_json::json!({ "name": name.as_ascii(), "idempotency_key": key.as_str() }), Some((name.as_ascii(), key)), move |this, conn, ctx| {
            Box::pin(async move {
                const OP: &str = "restore";
                let d = this.load_own(conn, ctx, OP, &n).await?;
                if d.phase(ctx.now, &this.registry.periods) != RegistryPhase::Redemption {
                    return Err(refuse(OP, FailureKind::NotEligible, "2105", format!("{n} is not in redemption; only a domain in redemption can be restored")));
                }
                let p = this.prices(conn, &n).await.map_err(|e| db_err(OP, e))?.ok_or_else(|| refuse(OP, FailureKind::UnsupportedTld, "2306", "TLD no longer supported"))?;
                let balance = ensure_account(conn, &this.account, this.registry.initial_balance_minor).await.map_err(|e| db_err(OP, e))?;
                if balance < p.restore {
                    return Err(refuse(OP, FailureKind::InsufficientFunds, "2104", format!("the balance {} does not cover {}", Price::new(balance, CURRENCY), Price::new(p.restore, CURRENCY))));
                }
                // A restore includes the renewal that brings an expired domain back to the
                // future (as gTLD registries do).
                let mut expires = d.expires();
                while expires <= ctx.now {
                    expires = add_years(expires, 1).unwrap_or(ctx.now);
                }
                sqlx::query("UPDATE domains SET deleted_ms = NULL, expires_ms = ?, updated_ms = ? WHERE name = ?")
                    .bind(to_millis(expires))
                    .bind(to_millis(ctx.now))
                    .bind(n.as_ascii())
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| db_err(OP, e))?;
                charge(conn, ctx.now, &this.account, n.as_ascii(), OP, 1, p.restore, k.as_str()).await.map_err(|e| db_err(OP, e))?;
                Ok(Restored { name: n.clone(), expires_at: Some(expires), charged: Some(Price::new(p.restore, CURRENCY)) })
            })
        })
        .await
    }

    async fn list_domains(&self, page: &ListRequest) -> Reply<DomainList> {
        let page = *page;
        self.run(
            "list_domains",
            serde_json::json!({ "page": page.page, "page_size": page.page_size }),
            None,
            move |this, conn, ctx| {
                Box::pin(async move {
                    const OP: &str = "list_domains";
                    let size = page.page_size.clamp(1, 1000);
                    let number = page.page.max(1);
                    // Released names are not listed: the same rule as `registry_phase`,
                    // in SQL, so a page costs one indexed range read.
                    let p = &this.registry.periods;
                    let day = 86_400_000i64;
                    let released_at = "COALESCE(deleted_ms, expires_ms + ?) + ?";
                    let live = format!("account = ? AND {released_at} > ?");
                    let grace = p.auto_renew_grace_days * day;
                    let after = (p.redemption_days + p.pending_delete_days) * day;
                    let now_ms = to_millis(ctx.now);
                    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                        "SELECT COUNT(*) FROM domains WHERE {live}"
                    )))
                    .bind(&this.account)
                    .bind(grace)
                    .bind(after)
                    .bind(now_ms)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(|e| db_err(OP, e))?;
                    let start = i64::from(number - 1) * i64::from(size);
                    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "SELECT * FROM domains WHERE {live} ORDER BY name LIMIT ? OFFSET ?"
                    )))
                    .bind(&this.account)
                    .bind(grace)
                    .bind(after)
                    .bind(now_ms)
                    .bind(i64::from(size))
                    .bind(start)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(|e| db_err(OP, e))?;
                    let domains: Vec<ListedDomain> = rows
                        .iter()
                        .map(DomainRow::from_row)
                        .filter_map(|d| {
                            Some(ListedDomain {
                                name: DomainName::parse(&d.name).ok()?,
                                created_at: Some(from_millis(d.created_ms)),
                                expires_at: Some(d.expires()),
                                locked: Some(d.locked),
                                auto_renew: Some(false),
                                privacy: Some(d.privacy),
                            })
                        })
                        .collect();
                    let total = total.max(0) as u64;
                    let next_page =
                        ((start + i64::from(size)) < total as i64).then_some(number + 1);
                    Ok(DomainList {
                        domains,
                        total: Some(total),
                        next_page,
                    })
                })
            },
        )
        .await
    }
}

impl SandboxRegistrar {
    async fn set_flag(
        &self,
        op: &'static str,
        column: &'static str,
        name: &DomainName,
        value: bool,
        key: &IdempotencyKey,
    ) -> Reply<()> {
        let n = name.clone();
        self.run(
            op,
            serde_json::json!({ "name": name.as_ascii(), column: value }),
            Some((name.as_ascii(), key)),
            move |this, conn, ctx| {
                Box::pin(async move {
                    let d = this.load_own(conn, ctx, op, &n).await?;
                    held(op, &d, ctx, &this.registry.periods)?;
                    let sql =
                        format!("UPDATE domains SET {column} = ?, updated_ms = ? WHERE name = ?");
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(i64::from(value))
                        .bind(to_millis(ctx.now))
                        .bind(n.as_ascii().to_owned())
                        .execute(&mut *conn)
                        .await
                        .map_err(|e| db_err(op, e))?;
                    Ok(())
                })
            },
        )
        .await
    }
}
