//! The job queue (with a status filter and dead-letter retry) and the recurring schedules.
//!
//! A job's page shows its state in a progress region that polls `/admin/jobs/{id}/progress`
//! until the job reaches a final state: the generic mechanism long actions use.

use axum::extract::{Path, Query, State};
use minijinja::context;
use minijinja::value::Serde;
use panel1_app::{App, ops};
use panel1_core::JobId;
use panel1_store::jobs::{JobFilter, JobRecord, JobStatus};
use serde::Deserialize;

use super::{page_request, pager, see_other};
use crate::error::{PageError, PageResult};
use crate::session::{Flash, StaffViewer};
use crate::templates::render;

pub const STATUSES: [&str; 5] = ["ready", "running", "done", "dead", "cancelled"];

/// Whether a job will not change any more by itself.
pub fn is_final(j: &JobRecord) -> bool {
    matches!(
        j.status,
        JobStatus::Done | JobStatus::Dead | JobStatus::Cancelled
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    kind: Option<String>,
    page: Option<String>,
}

/// `GET /admin/jobs`
pub async fn list(
    State(app): State<App>,
    v: StaffViewer,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let status_text = q.status.unwrap_or_default();
    let status = match status_text.as_str() {
        "" => None,
        s => Some(JobStatus::parse(s).ok_or_else(|| {
            PageError::Invalid(format!(
                "`{s}` is not a job status; pick one of {}.",
                STATUSES.join(", ")
            ))
        })?),
    };
    let kind = q.kind.unwrap_or_default().trim().to_owned();
    let f = JobFilter {
        status,
        kind: Some(kind.clone()).filter(|k| !k.is_empty()),
    };
    let page = ops::list_jobs(
        &app,
        v.0.caller.staff()?,
        &f,
        page_request(q.page.as_deref()),
    )
    .await?;
    let pager = pager(
        "/admin/jobs",
        &[("status", &status_text), ("kind", &kind)],
        &page,
    );
    render(
        "jobs/list.html",
        context! {
            jobs => Serde(&page.items),
            pager => Serde(pager),
            status => status_text,
            kind,
            statuses => STATUSES.to_vec(),
            ..v.0.base("jobs"),
        },
    )
}

fn id(s: &str) -> PageResult<JobId> {
    s.parse().map_err(|_| PageError::not_found("job"))
}

/// `GET /admin/jobs/{id}`
pub async fn show(State(app): State<App>, v: StaffViewer, Path(raw): Path<String>) -> PageResult {
    let job = ops::get_job(&app, v.0.caller.staff()?, &id(&raw)?).await?;
    let fin = is_final(&job);
    render(
        "jobs/detail.html",
        context! {
            job => Serde(&job),
            is_final => fin,
            refresh => !fin,
            retryable => matches!(job.status, JobStatus::Dead | JobStatus::Cancelled),
            ..v.0.base("jobs"),
        },
    )
}

/// `GET /admin/jobs/{id}/progress`: the job's progress region alone (polled by the page).
pub async fn progress(
    State(app): State<App>,
    v: StaffViewer,
    Path(raw): Path<String>,
) -> PageResult {
    let job = ops::get_job(&app, v.0.caller.staff()?, &id(&raw)?).await?;
    let fin = is_final(&job);
    render(
        "jobs/_progress.html",
        context! { job => Serde(&job), is_final => fin },
    )
}

/// `POST /admin/jobs/{id}/retry`
pub async fn retry(State(app): State<App>, v: StaffViewer, Path(raw): Path<String>) -> PageResult {
    let job = ops::retry_job(&app, v.0.caller.staff()?, &id(&raw)?).await?;
    v.0.flash(
        &app,
        Flash::success(format!(
            "Job {} ({}) is back in the queue with fresh attempts; this page follows its progress.",
            job.id, job.kind
        )),
    )
    .await?;
    Ok(see_other(&format!("/admin/jobs/{}", job.id)))
}

/// `GET /admin/schedules`
pub async fn schedules(State(app): State<App>, v: StaffViewer) -> PageResult {
    let all = ops::list_schedules(&app, v.0.caller.staff()?).await?;
    render(
        "jobs/schedules.html",
        context! { schedules => Serde(all), ..v.0.base("schedules") },
    )
}
