//! Recording changes in the audit log (inside the change's transaction) and reading it back.

use panel1_core::{Page, PageRequest};
use panel1_store::Tx;
use panel1_store::audit::{self, Actor, AuditEntry, AuditFilter, NewAudit};

use crate::{App, AppResult, Caller, Staff};

/// One change to record.
pub struct Change<'a> {
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: &'a str,
    pub summary: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Records `change` as done by `caller`, in `tx`.
pub async fn record(tx: &mut Tx, caller: &Caller, change: Change<'_>) -> AppResult<()> {
    record_as(
        tx,
        caller.tenant(),
        &caller.actor(),
        caller.request_id.as_deref(),
        change,
    )
    .await
}

pub async fn record_as(
    tx: &mut Tx,
    tenant: &panel1_core::TenantId,
    actor: &Actor,
    request_id: Option<&str>,
    change: Change<'_>,
) -> AppResult<()> {
    audit::append(
        tx.conn(),
        NewAudit {
            tenant_id: tenant,
            actor,
            action: change.action,
            object_type: change.object_type,
            object_id: change.object_id,
            summary: change.summary,
            before: change.before,
            after: change.after,
            request_id,
        },
    )
    .await?;
    Ok(())
}

pub async fn list(
    app: &App,
    staff: Staff<'_>,
    filter: &AuditFilter,
    page: PageRequest,
) -> AppResult<Page<AuditEntry>> {
    let mut r = app.db.read().await?;
    let (items, total) = audit::list(r.conn(), staff.0.tenant(), filter, page).await?;
    Ok(Page::new(items, page, total))
}
