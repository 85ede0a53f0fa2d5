//! The staff dashboard: what needs attention now. Each concern is a [`Card`]: dead jobs,
//! failing webhooks and schedules, renewals due or failing, certificates expiring or stuck in
//! validation, DNS zones whose provider copy failed; a feature that has something to watch (registrar drift, once registrar sync
//! runs) adds a function that returns its card to [`cards`].

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

/// Domains whose renewal failed (a dead renewal job, or the name past its expiry) first, then
/// those due within 30 days.
async fn renewals(app: &App, v: &StaffViewer) -> PageResult<Card> {
    use panel1_app::domains::service::{self as domains, ListFilter};
    let caller = &v.0.caller;
    let mut items = Vec::new();
    let mut count = 0;
    let dead = ops::list_jobs(
        app,
        caller.staff()?,
        &JobFilter {
            status: Some(JobStatus::Dead),
            kind: Some("domain::renew".into()),
        },
        PageRequest::first(5),
    )
    .await?;
    count += dead.total;
    items.extend(dead.items.into_iter().map(|j| Item {
        label: "A renewal gave up".into(),
        href: Some(format!("/admin/jobs/{}", j.id)),
        detail: j.last_error.map(|e| e.chars().take(160).collect()),
        at: j.finished_at.or(Some(j.updated_at)),
    }));
    for state in ["expired", "auto_renew_grace", "redemption"] {
        let f = ListFilter {
            status: Some(state.into()),
            ..ListFilter::default()
        };
        let page = domains::list(app, caller, &f, PageRequest::first(5)).await?;
        count += page.total;
        items.extend(page.items.into_iter().map(|d| Item {
            label: d.name_unicode.clone(),
            href: Some(format!("/admin/domains/{}", d.id)),
            detail: Some(format!(
                "{}: renew it before it is lost",
                state.replace('_', " ")
            )),
            at: d.expires_at,
        }));
    }
    let f = ListFilter {
        expiring_before: Some(Utc::now() + Duration::days(30)),
        status: Some("active".into()),
        ..ListFilter::default()
    };
    let due = domains::list(app, caller, &f, PageRequest::first(5)).await?;
    count += due.total;
    items.extend(due.items.into_iter().map(|d| Item {
        label: d.name_unicode.clone(),
        href: Some(format!("/admin/domains/{}", d.id)),
        detail: Some(if d.auto_renew {
            "expires within 30 days; renews automatically".into()
        } else {
            "expires within 30 days; auto-renew is off".into()
        }),
        at: d.expires_at,
    }));
    items.truncate(8);
    let before = (Utc::now() + Duration::days(30)).format("%Y-%m-%d");
    Ok(Card {
        title: "Renewals due or failing",
        count,
        all_well: "No domain expires within 30 days and no renewal failed.",
        items,
        more: Some((
            format!("/admin/domains?expiring_before={before}"),
            "Domains expiring within 30 days",
        )),
        pending_feature: false,
    })
}

/// Certificates whose order failed or waits for validation, then those expiring within 21
/// days.
async fn certificates(app: &App, v: &StaffViewer) -> PageResult<Card> {
    use panel1_app::certificates::service as certs;
    use panel1_store::certificates::CertificateFilter;
    let caller = &v.0.caller;
    let mut items = Vec::new();
    let mut count = 0;
    for (status, why) in [
        ("failed", "the order failed"),
        ("awaiting_validation", "waits for its validation records"),
    ] {
        let f = CertificateFilter {
            status: Some(status.into()),
            ..CertificateFilter::default()
        };
        let page = certs::list(app, caller, &f, PageRequest::first(5)).await?;
        count += page.total;
        items.extend(page.items.into_iter().map(|c| Item {
            label: c.names.join(", "),
            href: Some(format!("/admin/certificates/{}", c.id)),
            detail: Some(match &c.status_detail {
                Some(d) => format!("{why}: {}", d.chars().take(140).collect::<String>()),
                None => why.to_owned(),
            }),
            at: Some(c.updated_at),
        }));
    }
    let f = CertificateFilter {
        status: Some("issued".into()),
        expires_before: Some(Utc::now() + Duration::days(21)),
        ..CertificateFilter::default()
    };
    let expiring = certs::list(app, caller, &f, PageRequest::first(5)).await?;
    count += expiring.total;
    items.extend(expiring.items.into_iter().map(|c| Item {
        label: c.names.join(", "),
        href: Some(format!("/admin/certificates/{}", c.id)),
        detail: Some(if c.auto_renew {
            "expires within 21 days; renewal is due".into()
        } else {
            "expires within 21 days; auto-renew is off".into()
        }),
        at: c.not_after,
    }));
    items.truncate(8);
    Ok(Card {
        title: "Certificates expiring or failing validation",
        count,
        all_well: "Every certificate is valid for more than 21 days and no order is stuck.",
        items,
        more: Some(("/admin/certificates".into(), "All certificates")),
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

/// Zones whose copy at an external DNS provider failed to sync (Panel1's own server always
/// answers from the database, so only provider zones can fall behind). The zone list has no
/// status filter: the newest 1,000 zones are looked at.
async fn dns_zones(app: &App, v: &StaffViewer) -> PageResult<Card> {
    use panel1_app::dns::service as dns;
    let mut failed = Vec::new();
    for page in 1..=10u32 {
        let req = PageRequest::new(Some(page), Some(100)).unwrap_or_default();
        let p = dns::list_zones(app, &v.0.caller, &dns::ZoneListFilter::default(), req).await?;
        let done = p.items.len() < 100;
        failed.extend(
            p.items
                .into_iter()
                .filter(|z| z.provider_status.as_deref() == Some("failed")),
        );
        if done {
            break;
        }
    }
    Ok(Card {
        title: "DNS zones failing at their provider",
        count: failed.len() as u64,
        all_well: "Every zone is served as saved: Panel1's own DNS server answers at once, and every provider copy is in sync.",
        items: failed
            .into_iter()
            .take(8)
            .map(|z| Item {
                label: z.name_unicode.clone(),
                href: Some(format!("/admin/dns/{}", z.id)),
                detail: Some(match &z.provider_error {
                    Some(e) => format!(
                        "the provider refused the last change: {}",
                        e.chars().take(140).collect::<String>()
                    ),
                    None => "the provider refused the last change".into(),
                }),
                at: Some(z.updated_at),
            })
            .collect(),
        more: Some(("/admin/dns".into(), "All zones")),
        pending_feature: false,
    })
}

/// Every card, in the order shown.
pub async fn cards(app: &App, v: &StaffViewer) -> PageResult<Vec<Card>> {
    Ok(vec![
        dead_jobs(app, v).await?,
        failing_webhooks(app, v).await?,
        failing_schedules(app, v).await?,
        renewals(app, v).await?,
        certificates(app, v).await?,
        dns_zones(app, v).await?,
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
