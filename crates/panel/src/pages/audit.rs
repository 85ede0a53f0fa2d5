//! The audit log, newest first, filtered by object.

use axum::extract::{Query, State};
use minijinja::context;
use minijinja::value::Serde;
use panel1_app::App;
use panel1_store::audit::AuditFilter;
use serde::Deserialize;

use super::{page_request, pager};
use crate::error::PageResult;
use crate::session::StaffViewer;
use crate::templates::render;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    object_type: Option<String>,
    object_id: Option<String>,
    page: Option<String>,
}

/// Where an audited object's page is, when it has one.
pub fn object_href(object_type: &str, object_id: &str) -> Option<String> {
    match object_type {
        "client" => Some(format!("/admin/clients/{object_id}")),
        "job" => Some(format!("/admin/jobs/{object_id}")),
        "webhook" => Some(format!("/admin/webhooks/{object_id}")),
        _ => None,
    }
}

/// `GET /admin/audit`
pub async fn list(
    State(app): State<App>,
    v: StaffViewer,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let object_type = q.object_type.unwrap_or_default().trim().to_owned();
    let object_id = q.object_id.unwrap_or_default().trim().to_owned();
    let f = AuditFilter {
        object_type: Some(object_type.clone()).filter(|s| !s.is_empty()),
        object_id: Some(object_id.clone()).filter(|s| !s.is_empty()),
    };
    let page = panel1_app::audit::list(
        &app,
        v.0.caller.staff()?,
        &f,
        page_request(q.page.as_deref()),
    )
    .await?;
    let pager = pager(
        "/admin/audit",
        &[("object_type", &object_type), ("object_id", &object_id)],
        &page,
    );
    let entries: Vec<_> = page
        .items
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(e).unwrap_or_default();
            v["href"] = object_href(&e.object_type, &e.object_id).into();
            v
        })
        .collect();
    render(
        "audit/list.html",
        context! {
            entries => Serde(entries),
            pager => Serde(pager),
            object_type,
            object_id,
            object_types => vec!["client", "user", "token", "job", "webhook"],
            ..v.0.base("audit"),
        },
    )
}
