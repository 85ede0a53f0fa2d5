//! Jobs and schedules as the API shows them. Staff see their tenant's jobs; the operator sees
//! every job, including installation-wide ones, and manages schedules.

use chrono::Utc;
use panel1_core::cron::CronExpr;
use panel1_core::{JobId, Page, PageRequest, Role, ValidationError};
use panel1_store::jobs::{self, JobFilter, JobRecord, JobScope};
use panel1_store::schedules::{self, Schedule};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::audit::{self, Change};
use crate::{App, AppError, AppResult, Operator, Staff};

fn scope(staff: Staff<'_>) -> JobScope {
    if staff.0.principal.role == Role::Operator {
        JobScope::All
    } else {
        JobScope::Tenant(staff.0.tenant().clone())
    }
}

pub async fn list_jobs(
    app: &App,
    staff: Staff<'_>,
    filter: &JobFilter,
    page: PageRequest,
) -> AppResult<Page<JobRecord>> {
    let mut r = app.db.read().await?;
    let (items, total) = jobs::list(r.conn(), &scope(staff), filter, page).await?;
    Ok(Page::new(items, page, total))
}

pub async fn get_job(app: &App, staff: Staff<'_>, id: &JobId) -> AppResult<JobRecord> {
    let mut r = app.db.read().await?;
    jobs::get(r.conn(), &scope(staff), id)
        .await?
        .ok_or_else(|| AppError::not_found("job", id))
}

/// Sends a dead letter back to the queue with fresh attempts.
pub async fn retry_job(app: &App, staff: Staff<'_>, id: &JobId) -> AppResult<JobRecord> {
    let s = scope(staff);
    let mut tx = app.db.begin().await?;
    let job = jobs::get(tx.conn(), &s, id)
        .await?
        .ok_or_else(|| AppError::not_found("job", id))?;
    if !jobs::retry(tx.conn(), &s, id).await? {
        return Err(AppError::conflict(
            format!(
                "only dead or cancelled jobs can be retried; this one is {}",
                job.status.as_str()
            ),
            None,
        ));
    }
    if let Some(t) = &job.tenant_id {
        audit::record_as(
            &mut tx,
            t,
            &staff.0.actor(),
            staff.0.request_id.as_deref(),
            Change {
                action: "job.retry",
                object_type: "job",
                object_id: id.as_str(),
                summary: format!("retried dead job {} ({})", id, job.kind),
                before: None,
                after: None,
            },
        )
        .await?;
    }
    let job = jobs::get(tx.conn(), &s, id)
        .await?
        .ok_or_else(|| AppError::not_found("job", id))?;
    tx.mark_jobs_enqueued();
    tx.commit().await?;
    Ok(job)
}

pub async fn list_schedules(app: &App, _staff: Staff<'_>) -> AppResult<Vec<Schedule>> {
    let mut r = app.db.read().await?;
    Ok(schedules::list(r.conn()).await?)
}

/// Changes to a schedule.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchedulePatch {
    /// A cron expression (UTC), five fields or six with seconds.
    pub cron: Option<String>,
    pub enabled: Option<bool>,
}

pub async fn update_schedule(
    app: &App,
    _op: Operator<'_>,
    name: &str,
    patch: &SchedulePatch,
) -> AppResult<Schedule> {
    let mut tx = app.db.begin().await?;
    let current = schedules::get(tx.conn(), name)
        .await?
        .ok_or_else(|| AppError::not_found("schedule", name))?;
    let cron_text = patch.cron.clone().unwrap_or_else(|| current.cron.clone());
    let cron = CronExpr::parse(&cron_text)
        .map_err(|e| ValidationError::field("cron", "format", e.to_string()))?;
    let enabled = patch.enabled.unwrap_or(current.enabled);
    let next = cron.next_after(Utc::now()).ok_or_else(|| {
        ValidationError::field("cron", "never", "this cron expression never fires")
    })?;
    schedules::update(tx.conn(), name, cron.as_str(), enabled, next).await?;
    let updated = schedules::get(tx.conn(), name)
        .await?
        .ok_or_else(|| AppError::not_found("schedule", name))?;
    tx.commit().await?;
    Ok(updated)
}
