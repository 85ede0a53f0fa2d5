//! The signed-in person's own account: who they are, their organisation, their second factor.

use axum::extract::State;
use minijinja::context;
use panel1_app::App;
use panel1_store::sessions;

use crate::error::PageResult;
use crate::session::Viewer;
use crate::templates::render;

/// `GET /account`
pub async fn show(State(app): State<App>, v: Viewer) -> PageResult {
    let sessions = {
        let mut r = app.db.read().await?;
        sessions::count_for_user(r.conn(), v.caller.tenant(), &v.user.id).await?
    };
    let section = "account";
    render(
        "account.html",
        context! {
            totp_enabled => v.totp_enabled,
            totp_required => crate::signin::requires_second_factor(v.role()),
            signed_in_at => v.signed_in_at.to_rfc3339(),
            sessions,
            user_id => v.user.id.to_string(),
            created_at => v.user.created_at.to_rfc3339(),
            ..v.base(section),
        },
    )
}
