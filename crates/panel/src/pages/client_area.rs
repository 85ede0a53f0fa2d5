//! The client area: a client's users see their own client and, as the features land, their
//! domains, zones, certificates and invoices. Every read goes through the services with the
//! client user's scope, so another client's objects are simply not found (404).

use axum::extract::State;
use minijinja::context;
use minijinja::value::Serde;
use panel1_app::App;
use panel1_core::PageRequest;
use panel1_store::billing::{InvoiceFilter, InvoiceStatus};

use crate::error::{PageError, PageResult};
use crate::session::ClientViewer;
use crate::templates::render;

/// `GET /client`: the client's profile, the invoices waiting for payment (paid domain work
/// starts once they are paid) and the credit they can be paid from.
pub async fn home(State(app): State<App>, v: ClientViewer) -> PageResult {
    let cid =
        v.0.user
            .client_id
            .clone()
            .ok_or_else(|| PageError::not_found("client"))?;
    let client = panel1_app::clients::get(&app, &v.0.caller, &cid).await?;
    let unpaid = panel1_app::billing::list_invoices(
        &app,
        &v.0.caller,
        &InvoiceFilter {
            client_id: Some(cid.clone()),
            status: Some(InvoiceStatus::Unpaid),
        },
        PageRequest::first(5),
    )
    .await?;
    let credit =
        panel1_app::billing::credit(&app, &v.0.caller, &cid, PageRequest::first(1)).await?;
    let balances: Vec<String> = credit.balances.iter().map(ToString::to_string).collect();
    render(
        "client/home.html",
        context! {
            client => Serde(client),
            unpaid => Serde(&unpaid.items),
            unpaid_total => unpaid.total,
            balances,
            ..v.0.base("client_home")
        },
    )
}
