//! The staff dashboard: what needs attention now. Each concern is a [`Card`]; a feature that
//! has something to watch (renewals due or failing, certificates expiring, registrar drift)
//! adds a function that returns its card to [`cards`].

use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Duration, Utc};
use minijinja::context;
use minijinja::value::Serde;
use panel1_app::{App, ops};
use panel1_core::PageRequest;
use panel1_store::clients::ClientFilter;
use panel1_store::jobs::{JobFilter, JobStatus};
use panel1_store::panel;
use serde::Serialize;

use super::see_other;
use crate::error::PageResult;
use crate::session::{self, StaffViewer};
use crate::templates::render;

/// One thing to watch on the dashboard.
#[derive(Debug, Serialize)]
pub struct Card {
    pub title: &'static str,
    /// How many things need attention (0: all is well).
    pub count: u64,
    /// Said when the count is 0.
    pub all_well: &'static str,
    pub items: Vec<Item>,
    /// Where the whole list is.
    pub more: Option<(String, &'static str)>,
    /// Not tracked yet on this installation (a slot for a feature still to come).
    pub pending_feature: bool,
}

#[derive(Debug, Serialize)]
pub struct Item {
    pub label: String,
    pub href: Option<String>,
    pub detail: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

/// `GET /`: the home of whoever is signed in, or the sign-in page.
pub async fn home(State(app): State<App>, headers: HeaderMap) -> PageResult {
    match session::load(&app, &headers).await? {
        Some((_, s)) if s.stage == panel1_store::sessions::Stage::Full => {
            Ok(see_other(session::home_for(s.user.role)))
        }
        Some((_, s)) => Ok(see_other(session::stage_home(s.stage))),
        None => Ok(see_other("/login")),
    }
}

async fn dead_jobs(app: &App, v: &StaffViewer) -> PageResult<Card> {
    let staff = v.0.caller.staff()?;
    let f = JobFilter {
        status: Some(JobStatus::Dead),
        kind: None,
    };
    let page = ops::list_jobs(app, staff, &f, PageRequest::first(5)).await?;
    Ok(Card {
        title: "Dead jobs",
        count: page.total,
        all_well: "No job has given up. Failed work is retried automatically until it succeeds or runs out of attempts.",
        items: page
            .items
            .into_iter()
            .map(|j| Item {
                label: j.kind.clone(),
                href: Some(format!("/admin/jobs/{}", j.id)),
                detail: j.last_error.map(|e| e.chars().take(160).collect()),
                at: j.finished_at.or(Some(j.updated_at)),
            })
            .collect(),
        more: Some(("/admin/jobs?status=dead".into(), "All dead jobs")),
        pending_feature: false,
    })
}

async fn failing_webhooks(app: &App, v: &StaffViewer) -> PageResult<Card> {
    let since = Utc::now() - Duration::hours(24);
    let rows = {
        let mut r = app.db.read().await?;
        panel::failing_webhooks(r.conn(), v.0.caller.tenant(), since, 5).await?
    };
    Ok(Card {
        title: "Failing webhooks (24 h)",
        count: rows.len() as u64,
        all_well: "Every webhook delivery of the last 24 hours succeeded.",
        items: rows
            .into_iter()
            .map(|w| Item {
                label: w.url,
                href: Some(format!("/admin/webhooks/{}", w.webhook_id)),
                detail: Some(format!(
                    "{} failed attempt{}; last: {}",
                    w.failures,
                    if w.failures == 1 { "" } else { "s" },
                    w.last_error
                        .or(w.last_status.map(|s| format!("HTTP {s}")))
                        .unwrap_or_else(|| "no answer".into())
                )),
                at: Some(w.last_failure_at),
            })
            .collect(),
        more: v
            .0
            .role()
            .is_admin()
            .then(|| ("/admin/webhooks".to_owned(), "All webhooks")),
        pending_feature: false,
    })
}

async fn failing_schedules(app: &App, v: &StaffViewer) -> PageResult<Card> {
    let all = ops::list_schedules(app, v.0.caller.staff()?).await?;
    let failing: Vec<_> = all
        .into_iter()
        .filter(|s| {
            matches!(s.last_status.as_deref(), Some("failed" | "dead"))
                || s.last_failures.unwrap_or(0) > 0
        })
        .collect();
    Ok(Card {
        title: "Schedules with failures",
        count: failing.len() as u64,
        all_well: "Every recurring task finished its last run without failures.",
        items: failing
            .into_iter()
            .map(|s| Item {
                label: s.name,
                href: s.last_job_id.map(|j| format!("/admin/jobs/{j}")),
                detail: Some(match (s.last_error, s.last_failures) {
                    (Some(e), _) => e.chars().take(160).collect(),
                    (None, Some(n)) => format!("{n} item(s) failed in the last run"),
                    (None, None) => "the last run failed".into(),
                }),
                at: s.last_finished_at,
            })
            .collect(),
        more: Some(("/admin/schedules".into(), "All schedules")),
        pending_feature: false,
    })
}

/// A slot for something the installation does not track yet.
fn slot(title: &'static str, all_well: &'static str) -> Card {
    Card {
        title,
        count: 0,
        all_well,
        items: vec![],
        more: None,
        pending_feature: true,
    }
}

/// Every card, in the order shown.
pub async fn cards(app: &App, v: &StaffViewer) -> PageResult<Vec<Card>> {
    Ok(vec![
        dead_jobs(app, v).await?,
        failing_webhooks(app, v).await?,
        failing_schedules(app, v).await?,
        slot(
            "Renewals due or failing",
            "Shown here once domains are managed in Panel1.",
        ),
        slot(
            "Certificates expiring or failing validation",
            "Shown here once certificates are managed in Panel1.",
        ),
        slot("Registrar drift", "Shown here once registrar sync runs."),
    ])
}

/// `GET /admin`
pub async fn show(State(app): State<App>, v: StaffViewer) -> PageResult {
    let cards = cards(&app, &v).await?;
    let clients = panel1_app::clients::list(
        &app,
        &v.0.caller,
        &ClientFilter::default(),
        PageRequest::first(1),
    )
    .await?
    .total;
    render(
        "dashboard.html",
        context! {
            cards => Serde(cards),
            clients,
            ..v.0.base("dashboard"),
        },
    )
}
