//! The domain operations log: one row per requested registrar operation (register, renew,
//! transfer, nameservers, …) keyed by its idempotency key, and one row per registrar call
//! made for it, with the redacted transcript, outcome and duration.
//!
//! Crash safety rests on two writes around every call: [`begin_call`] commits "about to call"
//! (the operation is marked `uncertain`, a `started` call row holds the expiry seen) before
//! the request leaves, and the answer is written with [`finish_call`] in the transaction that
//! also applies the result and completes the job. A worker that dies in between leaves the
//! operation `uncertain`, and the next run asks the registrar what happened before acting.

use chrono::{DateTime, Utc};
use panel1_core::time::{from_millis, now_millis, to_millis};
use panel1_core::{
    ClientId, DomainId, DomainOperationId, InvoiceId, JobId, PageRequest, RegistrarAccountId,
    TenantId,
};
use serde::{Deserialize, Serialize};

use crate::{Conn, Result, StoreError, exec, on};

/// Where an operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OperationStatus {
    /// Accepted; its job will run it.
    Queued,
    /// A paid operation waiting for its invoice to be paid (billing).
    AwaitingPayment,
    /// Its job is working on it (possibly retrying after a failed call).
    Running,
    /// The registrar accepted it and it is pending there (a transfer); polled until it ends.
    Waiting,
    Succeeded,
    Failed,
}

impl OperationStatus {
    pub const ALL: [OperationStatus; 6] = [
        OperationStatus::Queued,
        OperationStatus::AwaitingPayment,
        OperationStatus::Running,
        OperationStatus::Waiting,
        OperationStatus::Succeeded,
        OperationStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OperationStatus::Queued => "queued",
            OperationStatus::AwaitingPayment => "awaiting_payment",
            OperationStatus::Running => "running",
            OperationStatus::Waiting => "waiting",
            OperationStatus::Succeeded => "succeeded",
            OperationStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether nothing more will happen to the operation.
    pub fn is_final(self) -> bool {
        matches!(self, OperationStatus::Succeeded | OperationStatus::Failed)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DomainOperation {
    pub id: DomainOperationId,
    pub tenant_id: TenantId,
    pub domain_id: DomainId,
    pub client_id: ClientId,
    /// `register`, `renew`, `transfer`, `nameservers`, `contacts`, `lock`, `privacy`, `hold`.
    pub operation: String,
    /// Which one of its kind this is: the expiry date a renewal starts from, or the order.
    pub term: String,
    pub years: Option<i64>,
    /// Derived from (domain, operation, term); sent to the registrar and unique per tenant.
    #[schema(example = "renew:example.com:2031-05-01")]
    pub idempotency_key: String,
    pub registrar_account_id: RegistrarAccountId,
    pub status: OperationStatus,
    /// What was asked (never a secret).
    pub params: serde_json::Value,
    /// What the registrar confirmed.
    pub result: Option<serde_json::Value>,
    /// The outcome of the last registrar call (`succeeded`, `failed`, `retryable`,
    /// `unknown_outcome`, …).
    pub outcome: Option<String>,
    pub error: Option<String>,
    /// Why the registrar refused, when it did (`not_available`, `bad_auth_code`, …).
    pub failure_kind: Option<String>,
    /// Registrar calls made for the operation.
    pub attempts: i64,
    /// A call may have reached the registrar without its answer being recorded.
    pub uncertain: bool,
    /// The expiry Panel1 knew before the call.
    pub expiry_before: Option<DateTime<Utc>>,
    pub job_id: Option<JobId>,
    /// The invoice that pays for the operation (register, renew, transfer, restore).
    pub invoice_id: Option<InvoiceId>,
    /// Who asked: `user:usr_…`, `token:tok_…` or `system:…`.
    pub requested_by: Option<String>,
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// A secret the job needs (a transfer auth code), sealed. Never serialised.
    #[serde(skip)]
    pub secret_sealed: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    tenant_id: String,
    domain_id: String,
    client_id: String,
    operation: String,
    term: String,
    years: Option<i64>,
    idempotency_key: String,
    registrar_account_id: String,
    status: String,
    params: String,
    secret_sealed: Option<String>,
    result: Option<String>,
    outcome: Option<String>,
    error: Option<String>,
    failure_kind: Option<String>,
    attempts: i64,
    uncertain: bool,
    expiry_before: Option<i64>,
    job_id: Option<String>,
    invoice_id: Option<String>,
    requested_by: Option<String>,
    request_id: Option<String>,
    created_at: i64,
    updated_at: i64,
    finished_at: Option<i64>,
}

const COLUMNS: &str = "id, tenant_id, domain_id, client_id, operation, term, years, idempotency_key, registrar_account_id, status, params, secret_sealed, result, outcome, error, failure_kind, attempts, uncertain, expiry_before, job_id, invoice_id, requested_by, request_id, created_at, updated_at, finished_at";

impl Row {
    fn into_model(self) -> Result<DomainOperation> {
        Ok(DomainOperation {
            id: super::id(&self.id)?,
            tenant_id: super::id(&self.tenant_id)?,
            domain_id: super::id(&self.domain_id)?,
            client_id: super::id(&self.client_id)?,
            operation: self.operation,
            term: self.term,
            years: self.years,
            idempotency_key: self.idempotency_key,
            registrar_account_id: super::id(&self.registrar_account_id)?,
            status: OperationStatus::parse(&self.status).ok_or_else(|| {
                StoreError::corrupt(format!("operation status `{}`", self.status))
            })?,
            params: serde_json::from_str(&self.params).map_err(StoreError::corrupt)?,
            secret_sealed: self.secret_sealed,
            result: self
                .result
                .map(|r| serde_json::from_str(&r))
                .transpose()
                .map_err(StoreError::corrupt)?,
            outcome: self.outcome,
            error: self.error,
            failure_kind: self.failure_kind,
            attempts: self.attempts,
            uncertain: self.uncertain,
            expiry_before: self.expiry_before.map(from_millis),
            job_id: super::opt_id(self.job_id.as_deref())?,
            invoice_id: super::opt_id(self.invoice_id.as_deref())?,
            requested_by: self.requested_by,
            request_id: self.request_id,
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
            finished_at: self.finished_at.map(from_millis),
        })
    }
}

/// Stores a new operation exactly as given. A second operation with the same idempotency key
/// in the tenant answers [`StoreError::Conflict`].
pub async fn insert(c: Conn<'_>, o: &DomainOperation) -> Result<()> {
    exec!(c, c => sqlx::query(
        "INSERT INTO domain_operations (id, tenant_id, domain_id, client_id, operation, term, years, idempotency_key, registrar_account_id,
           status, params, secret_sealed, result, outcome, error, failure_kind, attempts, uncertain, expiry_before, job_id,
           invoice_id, requested_by, request_id, created_at, updated_at, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)")
        .bind(o.id.as_str()).bind(o.tenant_id.as_str()).bind(o.domain_id.as_str()).bind(o.client_id.as_str())
        .bind(&o.operation).bind(&o.term).bind(o.years).bind(&o.idempotency_key).bind(o.registrar_account_id.as_str())
        .bind(o.status.as_str()).bind(o.params.to_string()).bind(&o.secret_sealed)
        .bind(o.result.as_ref().map(|r| r.to_string())).bind(&o.outcome).bind(&o.error).bind(&o.failure_kind)
        .bind(o.attempts).bind(o.uncertain).bind(o.expiry_before.map(to_millis)).bind(o.job_id.as_ref().map(JobId::as_str))
        .bind(o.invoice_id.as_ref().map(InvoiceId::as_str))
        .bind(&o.requested_by).bind(&o.request_id).bind(to_millis(o.created_at)).bind(to_millis(o.updated_at))
        .bind(o.finished_at.map(to_millis))
        .execute(c).await)?;
    Ok(())
}

/// Stores many new operations with one statement per 2,000, skipping those whose idempotency
/// key already exists in their tenant (another sweep, or a request, got there first).
/// Returns the ids of the operations actually stored.
pub async fn insert_many(
    mut c: Conn<'_>,
    ops: &[DomainOperation],
) -> Result<Vec<DomainOperationId>> {
    // The rows travel as arrays (PostgreSQL) or one JSON document (SQLite): one short
    // statement per 2,000 operations, parsed once, where a multi-row VALUES list with
    // thousands of parameters costs more to prepare than the insert itself.
    let mut stored = Vec::with_capacity(ops.len());
    for chunk in ops.chunks(2_000) {
        let ids: Vec<String> = match c.reborrow() {
            Conn::Postgres(c) => {
                let col = |f: &dyn Fn(&DomainOperation) -> String| -> Vec<String> {
                    chunk.iter().map(f).collect()
                };
                sqlx::query_scalar(
                    "INSERT INTO domain_operations (id, tenant_id, domain_id, client_id, operation, term, years, idempotency_key,
                       registrar_account_id, status, params, expiry_before, requested_by, created_at, updated_at)
                     SELECT id, tenant_id, domain_id, client_id, operation, term, years, idempotency_key,
                       registrar_account_id, status, params, expiry_before, requested_by, created_at, created_at
                     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[],
                                 $9::text[], $10::text[], $11::text[], $12::bigint[], $13::text[], $14::bigint[])
                       AS r(id, tenant_id, domain_id, client_id, operation, term, years, idempotency_key,
                            registrar_account_id, status, params, expiry_before, requested_by, created_at)
                     ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING id",
                )
                .bind(col(&|o| o.id.as_str().to_owned()))
                .bind(col(&|o| o.tenant_id.as_str().to_owned()))
                .bind(col(&|o| o.domain_id.as_str().to_owned()))
                .bind(col(&|o| o.client_id.as_str().to_owned()))
                .bind(col(&|o| o.operation.clone()))
                .bind(col(&|o| o.term.clone()))
                .bind(chunk.iter().map(|o| o.years).collect::<Vec<Option<i64>>>())
                .bind(col(&|o| o.idempotency_key.clone()))
                .bind(col(&|o| o.registrar_account_id.as_str().to_owned()))
                .bind(col(&|o| o.status.as_str().to_owned()))
                .bind(col(&|o| o.params.to_string()))
                .bind(
                    chunk
                        .iter()
                        .map(|o| o.expiry_before.map(to_millis))
                        .collect::<Vec<Option<i64>>>(),
                )
                .bind(
                    chunk
                        .iter()
                        .map(|o| o.requested_by.clone())
                        .collect::<Vec<Option<String>>>(),
                )
                .bind(
                    chunk
                        .iter()
                        .map(|o| to_millis(o.created_at))
                        .collect::<Vec<i64>>(),
                )
                .fetch_all(c)
                .await?
            }
            Conn::Sqlite(c) => {
                let rows: Vec<serde_json::Value> = chunk
                    .iter()
                    .map(|o| {
                        serde_json::json!([
                            o.id.as_str(),
                            o.tenant_id.as_str(),
                            o.domain_id.as_str(),
                            o.client_id.as_str(),
                            o.operation,
                            o.term,
                            o.years,
                            o.idempotency_key,
                            o.registrar_account_id.as_str(),
                            o.status.as_str(),
                            o.params.to_string(),
                            o.expiry_before.map(to_millis),
                            o.requested_by,
                            to_millis(o.created_at),
                        ])
                    })
                    .collect();
                let doc = serde_json::to_string(&rows).map_err(StoreError::corrupt)?;
                // `WHERE true` tells SQLite's parser that ON CONFLICT belongs to the INSERT.
                sqlx::query_scalar(
                    "INSERT INTO domain_operations (id, tenant_id, domain_id, client_id, operation, term, years, idempotency_key,
                       registrar_account_id, status, params, expiry_before, requested_by, created_at, updated_at)
                     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7,
                       value ->> 8, value ->> 9, value ->> 10, value ->> 11, value ->> 12, value ->> 13, value ->> 13
                     FROM json_each($1) WHERE true
                     ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING id",
                )
                .bind(doc)
                .fetch_all(c)
                .await?
            }
        };
        for id in ids {
            stored.push(super::id(&id)?);
        }
    }
    Ok(stored)
}

/// Moves an operation from `awaiting_payment` to `queued`. Returns false when it was not
/// awaiting payment (already released, or ended): the caller must then not enqueue anything.
/// This conditional update is what makes a payment that arrives twice release the work once.
pub async fn release(c: Conn<'_>, tenant: &TenantId, id: &DomainOperationId) -> Result<bool> {
    let n = exec!(c, c => sqlx::query(
        "UPDATE domain_operations SET status = 'queued', updated_at = $3
         WHERE tenant_id = $1 AND id = $2 AND status = 'awaiting_payment'")
        .bind(tenant.as_str()).bind(id.as_str()).bind(now_millis())
        .execute(c).await)?;
    Ok(n == 1)
}

/// Records the job that carries out an operation.
pub async fn set_job(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &DomainOperationId,
    job: &JobId,
) -> Result<()> {
    exec!(c, c => sqlx::query("UPDATE domain_operations SET job_id = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(id.as_str()).bind(job.as_str()).execute(c).await)?;
    Ok(())
}

/// The operations an invoice pays for that still wait for its payment.
pub async fn awaiting_invoice(
    c: Conn<'_>,
    tenant: &TenantId,
    invoice: &InvoiceId,
) -> Result<Vec<DomainOperation>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM domain_operations WHERE tenant_id = $1 AND invoice_id = $2 AND status = 'awaiting_payment' ORDER BY created_at, id"
    ));
    let rows: Vec<Row> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(invoice.as_str()).fetch_all(c).await)?;
    rows.into_iter().map(Row::into_model).collect()
}

/// A domain's operations of one kind for one term (the expiry they start from), newest first.
pub async fn for_term(
    c: Conn<'_>,
    tenant: &TenantId,
    domain: &DomainId,
    operation: &str,
    expiry_before: DateTime<Utc>,
) -> Result<Vec<DomainOperation>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM domain_operations WHERE tenant_id = $1 AND domain_id = $2 AND operation = $3 AND expiry_before = $4
         ORDER BY created_at DESC, id DESC"
    ));
    let rows: Vec<Row> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(domain.as_str()).bind(operation)
        .bind(to_millis(expiry_before)).fetch_all(c).await)?;
    rows.into_iter().map(Row::into_model).collect()
}

/// A domain's operations that wait for payment.
pub async fn awaiting_for_domain(
    c: Conn<'_>,
    tenant: &TenantId,
    domain: &DomainId,
) -> Result<Vec<DomainOperation>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM domain_operations WHERE tenant_id = $1 AND domain_id = $2 AND status = 'awaiting_payment' ORDER BY created_at, id"
    ));
    let rows: Vec<Row> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(domain.as_str()).fetch_all(c).await)?;
    rows.into_iter().map(Row::into_model).collect()
}

/// Operations by id (any tenant), for jobs that carry a batch of them.
pub async fn get_many(c: Conn<'_>, ids: &[DomainOperationId]) -> Result<Vec<DomainOperation>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<&str> = ids.iter().map(DomainOperationId::as_str).collect();
    let rows: Vec<Row> = match c {
        Conn::Postgres(c) => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM domain_operations WHERE id = ANY($1) ORDER BY created_at, id"
            ));
            sqlx::query_as(sql).bind(&list).fetch_all(c).await?
        }
        Conn::Sqlite(c) => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM domain_operations WHERE id IN (SELECT value FROM json_each($1)) ORDER BY created_at, id"
            ));
            sqlx::query_as(sql)
                .bind(serde_json::to_string(&list).map_err(StoreError::corrupt)?)
                .fetch_all(c)
                .await?
        }
    };
    rows.into_iter().map(Row::into_model).collect()
}

/// Writes the changeable fields of `o`: status, result, outcome, error, failure kind, the
/// sealed secret, `uncertain`, the job, the invoice and `finished_at`; stamps `updated_at`.
pub async fn save(c: Conn<'_>, o: &DomainOperation) -> Result<DomainOperation> {
    let now = now_millis();
    let n = exec!(c, c => sqlx::query(
        "UPDATE domain_operations SET status = $3, result = $4, outcome = $5, error = $6, failure_kind = $7, secret_sealed = $8,
           uncertain = $9, job_id = $10, finished_at = $11, updated_at = $12, invoice_id = $13
         WHERE tenant_id = $1 AND id = $2")
        .bind(o.tenant_id.as_str()).bind(o.id.as_str()).bind(o.status.as_str()).bind(o.result.as_ref().map(|r| r.to_string()))
        .bind(&o.outcome).bind(&o.error).bind(&o.failure_kind).bind(&o.secret_sealed).bind(o.uncertain)
        .bind(o.job_id.as_ref().map(JobId::as_str)).bind(o.finished_at.map(to_millis)).bind(now)
        .bind(o.invoice_id.as_ref().map(InvoiceId::as_str))
        .execute(c).await)?;
    if n != 1 {
        return Err(StoreError::NotFound);
    }
    Ok(DomainOperation {
        updated_at: from_millis(now),
        ..o.clone()
    })
}

pub async fn get(
    c: Conn<'_>,
    tenant: &TenantId,
    id: &DomainOperationId,
) -> Result<Option<DomainOperation>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM domain_operations WHERE tenant_id = $1 AND id = $2"
    ));
    let row: Option<Row> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(id.as_str()).fetch_optional(c).await)?;
    row.map(Row::into_model).transpose()
}

/// The operation with this idempotency key, if one was requested.
pub async fn get_by_key(
    c: Conn<'_>,
    tenant: &TenantId,
    key: &str,
) -> Result<Option<DomainOperation>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM domain_operations WHERE tenant_id = $1 AND idempotency_key = $2"
    ));
    let row: Option<Row> =
        on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(key).fetch_optional(c).await)?;
    row.map(Row::into_model).transpose()
}

/// The newest operation of a kind on a domain.
pub async fn latest(
    c: Conn<'_>,
    tenant: &TenantId,
    domain: &DomainId,
    operation: &str,
) -> Result<Option<DomainOperation>> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM domain_operations WHERE tenant_id = $1 AND domain_id = $2 AND operation = $3
         ORDER BY created_at DESC, id DESC LIMIT 1"
    ));
    let row: Option<Row> = on!(c, c => sqlx::query_as(sql).bind(tenant.as_str()).bind(domain.as_str()).bind(operation).fetch_optional(c).await)?;
    row.map(Row::into_model).transpose()
}

/// A page of a domain's operations, newest first.
pub async fn list_for_domain(
    mut c: Conn<'_>,
    tenant: &TenantId,
    domain: &DomainId,
    page: PageRequest,
) -> Result<(Vec<DomainOperation>, u64)> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM domain_operations WHERE tenant_id = $1 AND domain_id = $2
         ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}",
        page.limit(),
        page.offset()
    ));
    let rows: Vec<Row> = on!(c.reborrow(), c => sqlx::query_as(sql).bind(tenant.as_str()).bind(domain.as_str()).fetch_all(c).await)?;
    let total: i64 = on!(c, c => sqlx::query_scalar("SELECT COUNT(*) FROM domain_operations WHERE tenant_id = $1 AND domain_id = $2")
        .bind(tenant.as_str()).bind(domain.as_str()).fetch_one(c).await)?;
    let items = rows
        .into_iter()
        .map(Row::into_model)
        .collect::<Result<Vec<_>>>()?;
    Ok((items, u64::try_from(total).unwrap_or(0)))
}

/// One registrar call made for an operation.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OperationCall {
    pub id: String,
    pub operation_id: DomainOperationId,
    /// 1 for the operation's first call.
    pub attempt: i64,
    /// The registrar method: `register`, `renew`, `info`, `transfer_status`, …
    pub command: String,
    /// `started` (no answer recorded yet), `succeeded`, `failed`, `retryable`,
    /// `unknown_outcome`, `not_supported`, `config`.
    pub outcome: String,
    pub error: Option<String>,
    /// What was sent and received, secrets replaced by `***`.
    pub transcript: Option<serde_json::Value>,
    pub expiry_before: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    pub job_id: Option<JobId>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct CallRow {
    id: String,
    operation_id: String,
    attempt: i64,
    command: String,
    outcome: String,
    error: Option<String>,
    transcript: Option<String>,
    expiry_before: Option<i64>,
    duration_ms: Option<i64>,
    job_id: Option<String>,
    started_at: i64,
    finished_at: Option<i64>,
}

impl CallRow {
    fn into_model(self) -> Result<OperationCall> {
        Ok(OperationCall {
            id: self.id,
            operation_id: super::id(&self.operation_id)?,
            attempt: self.attempt,
            command: self.command,
            outcome: self.outcome,
            error: self.error,
            transcript: self.transcript.and_then(|t| serde_json::from_str(&t).ok()),
            expiry_before: self.expiry_before.map(from_millis),
            duration_ms: self.duration_ms,
            job_id: super::opt_id(self.job_id.as_deref())?,
            started_at: from_millis(self.started_at),
            finished_at: self.finished_at.map(from_millis),
        })
    }
}

/// A call about to be made.
pub struct NewCall<'a> {
    pub command: &'a str,
    /// Whether the call may change something at the registrar: the operation is then marked
    /// `uncertain` until the answer is recorded.
    pub mutating: bool,
    pub expiry_before: Option<DateTime<Utc>>,
    pub job_id: Option<&'a JobId>,
    /// How long the call may take; the fence is held until then.
    pub hold_until: DateTime<Utc>,
}

/// A call in flight: its row and the fence token.
#[derive(Debug, Clone)]
pub struct CallTicket {
    pub call_id: String,
    pub token: String,
    pub attempt: i64,
}

/// Records "about to call" and takes the operation's call fence. Returns `None` when another
/// call for the same operation is still in flight (its fence has not expired), or when the
/// operation is already final. Commit before making the call.
pub async fn begin_call(
    mut c: Conn<'_>,
    tenant: &TenantId,
    op: &DomainOperationId,
    call: &NewCall<'_>,
) -> Result<Option<CallTicket>> {
    let now = now_millis();
    let token = panel1_core::ids::new_id_body();
    let attempt: Option<i64> = on!(c.reborrow(), c => sqlx::query_scalar(
        "UPDATE domain_operations SET call_token = $3, call_until = $4, attempts = attempts + 1,
           uncertain = (uncertain OR $5), status = CASE WHEN status = 'queued' THEN 'running' ELSE status END, updated_at = $6
         WHERE tenant_id = $1 AND id = $2 AND status NOT IN ('succeeded', 'failed') AND (call_until IS NULL OR call_until < $6)
         RETURNING attempts")
        .bind(tenant.as_str()).bind(op.as_str()).bind(&token).bind(to_millis(call.hold_until)).bind(call.mutating).bind(now)
        .fetch_optional(c).await)?;
    let Some(attempt) = attempt else {
        return Ok(None);
    };
    let call_id = format!("call_{}", panel1_core::ids::new_id_body());
    exec!(c, c => sqlx::query(
        "INSERT INTO domain_operation_calls (id, tenant_id, operation_id, attempt, command, outcome, expiry_before, job_id, started_at)
         VALUES ($1, $2, $3, $4, $5, 'started', $6, $7, $8)")
        .bind(&call_id).bind(tenant.as_str()).bind(op.as_str()).bind(attempt).bind(call.command)
        .bind(call.expiry_before.map(to_millis)).bind(call.job_id.map(JobId::as_str)).bind(now)
        .execute(c).await)?;
    Ok(Some(CallTicket {
        call_id,
        token,
        attempt,
    }))
}

/// The answer to a call.
pub struct CallResult<'a> {
    pub outcome: &'a str,
    pub error: Option<&'a str>,
    pub transcript: Option<&'a serde_json::Value>,
    pub duration_ms: i64,
}

/// Records a call's answer and releases the fence (if this call still holds it).
pub async fn finish_call(
    mut c: Conn<'_>,
    tenant: &TenantId,
    op: &DomainOperationId,
    ticket: &CallTicket,
    r: &CallResult<'_>,
) -> Result<()> {
    let now = now_millis();
    exec!(c.reborrow(), c => sqlx::query(
        "UPDATE domain_operation_calls SET outcome = $3, error = $4, transcript = $5, duration_ms = $6, finished_at = $7
         WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(&ticket.call_id).bind(r.outcome).bind(r.error)
        .bind(r.transcript.map(|t| t.to_string())).bind(r.duration_ms).bind(now)
        .execute(c).await)?;
    exec!(c, c => sqlx::query(
        "UPDATE domain_operations SET call_token = NULL, call_until = NULL, outcome = $4, updated_at = $5
         WHERE tenant_id = $1 AND id = $2 AND call_token = $3")
        .bind(tenant.as_str()).bind(op.as_str()).bind(&ticket.token).bind(r.outcome).bind(now)
        .execute(c).await)?;
    Ok(())
}

/// When the call fence of an operation expires (`None` when free).
pub async fn fence_until(
    c: Conn<'_>,
    tenant: &TenantId,
    op: &DomainOperationId,
) -> Result<Option<DateTime<Utc>>> {
    let v: Option<Option<i64>> = on!(c, c => sqlx::query_scalar("SELECT call_until FROM domain_operations WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str()).bind(op.as_str()).fetch_optional(c).await)?;
    Ok(v.flatten().map(from_millis))
}

/// The calls of some operations, oldest first.
pub async fn calls_for(
    c: Conn<'_>,
    tenant: &TenantId,
    ops: &[DomainOperationId],
) -> Result<Vec<OperationCall>> {
    if ops.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<&str> = ops.iter().map(DomainOperationId::as_str).collect();
    const COLS: &str = "id, operation_id, attempt, command, outcome, error, transcript, expiry_before, duration_ms, job_id, started_at, finished_at";
    let rows: Vec<CallRow> = match c {
        Conn::Postgres(c) => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM domain_operation_calls WHERE tenant_id = $1 AND operation_id = ANY($2) ORDER BY started_at, id"
            ));
            sqlx::query_as(sql)
                .bind(tenant.as_str())
                .bind(&list)
                .fetch_all(c)
                .await?
        }
        Conn::Sqlite(c) => {
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM domain_operation_calls WHERE tenant_id = $1 AND operation_id IN (SELECT value FROM json_each($2)) ORDER BY started_at, id"
            ));
            sqlx::query_as(sql)
                .bind(tenant.as_str())
                .bind(serde_json::to_string(&list).map_err(StoreError::corrupt)?)
                .fetch_all(c)
                .await?
        }
    };
    rows.into_iter().map(CallRow::into_model).collect()
}
