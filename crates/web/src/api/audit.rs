use axum::Json;
use axum::extract::State;
use panel1_app::App;
use panel1_store::audit::{AuditEntry, AuditFilter};
use serde::Deserialize;
use utoipa::IntoParams;

use super::PageOf;
use crate::extract::{Auth, Query, page_request};
use crate::problem::{ApiResult, Problem};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListAudit {
    page: Option<u32>,
    limit: Option<u32>,
    /// `client`, `user`, `token`, `webhook`, `domain`, …
    object_type: Option<String>,
    /// The object's id; with `object_type`, the history of one object.
    object_id: Option<String>,
}

/// The audit log, newest first (staff): who did what to which object, when, from which token.
#[utoipa::path(get, path = "/audit", operation_id = "listAuditLog", tag = "audit", params(ListAudit),
    responses((status = 200, body = PageOf<AuditEntry>), (status = 403, body = Problem)))]
pub async fn list_audit_log(
    State(app): State<App>,
    Auth(caller): Auth,
    Query(q): Query<ListAudit>,
) -> ApiResult<Json<PageOf<AuditEntry>>> {
    let page = page_request(q.page, q.limit)?;
    let f = AuditFilter {
        object_type: q.object_type,
        object_id: q.object_id,
    };
    Ok(Json(
        panel1_app::audit::list(&app, caller.staff()?, &f, page)
            .await?
            .into(),
    ))
}
