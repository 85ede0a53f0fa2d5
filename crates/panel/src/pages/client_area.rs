//! The client area: a client's users see their own client and, as the features land, their
//! domains, zones, certificates and invoices. Every read goes through the services with the
//! client user's scope, so another client's objects are simply not found (404).

use axum::extract::State;
use minijinja::context;
use minijinja::value::Serde;
use panel1_app::App;

use crate::error::{PageError, PageResult};
use crate::session::ClientViewer;
use crate::templates::render;

/// `GET /client`: the client's profile.
pub async fn home(State(app): State<App>, v: ClientViewer) -> PageResult {
    let cid =
        v.0.user
            .client_id
            .clone()
            .ok_or_else(|| PageError::not_found("client"))?;
    let client = panel1_app::clients::get(&app, &v.0.caller, &cid).await?;
    render(
        "client/home.html",
        context! { client => Serde(client), ..v.0.base("client_home") },
    )
}
