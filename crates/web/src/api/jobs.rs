use axum::Json;
use axum::extract::{Path, State};
use panel1_app::App;
use panel1_app::ops::{self, SchedulePatch};
use panel1_core::JobId;
use panel1_store::jobs::{JobFilter, JobRecord, JobStatus};
use panel1_store::schedules::Schedule;
use serde::Deserialize;
use utoipa::IntoParams;

use super::PageOf;
use crate::extract::{self, Auth, Query, page_request, path_id};
use crate::problem::{ApiResult, Problem};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListJobs {
    page: Option<u32>,
    limit: Option<u32>,
    /// `ready`, `running`, `done`, `dead` or `cancelled`; `dead` lists the dead letters.
    status: Option<JobStatus>,
    /// A job kind such as `webhook::deliver`.
    kind: Option<String>,
}

/// Lists jobs, newest first (staff: the tenant's; operator: all).
#[utoipa::path(get, path = "/jobs", operation_id = "listJobs", tag = "jobs", params(ListJobs),
    responses((status = 200, body = PageOf<JobRecord>), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn list_jobs(
    State(app): State<App>,
    Auth(caller): Auth,
    Query(q): Query<ListJobs>,
) -> ApiResult<Json<PageOf<JobRecord>>> {
    let page = page_request(q.page, q.limit)?;
    let f = JobFilter {
        status: q.status,
        kind: q.kind,
    };
    Ok(Json(
        ops::list_jobs(&app, caller.staff()?, &f, page)
            .await?
            .into(),
    ))
}

/// One job, with its attempts, last error and result.
#[utoipa::path(get, path = "/jobs/{id}", operation_id = "getJob", tag = "jobs", params(("id" = String, Path)),
    responses((status = 200, body = JobRecord), (status = 404, body = Problem)))]
pub async fn get_job(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<JobRecord>> {
    let id: JobId = path_id("job", &id)?;
    Ok(Json(ops::get_job(&app, caller.staff()?, &id).await?))
}

/// Sends a dead (or cancelled) job back to the queue with fresh attempts.
#[utoipa::path(post, path = "/jobs/{id}/retry", operation_id = "retryJob", tag = "jobs", params(("id" = String, Path)),
    responses((status = 200, body = JobRecord), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn retry_job(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<JobRecord>> {
    let id: JobId = path_id("job", &id)?;
    Ok(Json(ops::retry_job(&app, caller.staff()?, &id).await?))
}

/// The recurring schedules with their last run, items processed and failures (staff).
#[utoipa::path(get, path = "/schedules", operation_id = "listSchedules", tag = "jobs",
    responses((status = 200, body = Vec<Schedule>), (status = 403, body = Problem)))]
pub async fn list_schedules(
    State(app): State<App>,
    Auth(caller): Auth,
) -> ApiResult<Json<Vec<Schedule>>> {
    Ok(Json(ops::list_schedules(&app, caller.staff()?).await?))
}

/// Changes a schedule's cron or enables/disables it (operator).
#[utoipa::path(patch, path = "/schedules/{name}", operation_id = "updateSchedule", tag = "jobs", request_body = SchedulePatch,
    params(("name" = String, Path)),
    responses((status = 200, body = Schedule), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_schedule(
    State(app): State<App>,
    Auth(caller): Auth,
    Path(name): Path<String>,
    extract::Json(patch): extract::Json<SchedulePatch>,
) -> ApiResult<Json<Schedule>> {
    Ok(Json(
        ops::update_schedule(&app, caller.operator()?, &name, &patch).await?,
    ))
}
