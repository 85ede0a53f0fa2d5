//! The certificates' internal event handler: `invoice.paid` releases the orders that wait
//! for the subscription term the invoice pays for. (Without it, waiting orders still notice
//! the payment at their next check, every ten minutes.)

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use panel1_core::{CertificateSubscriptionId, Scope};
use panel1_jobs::JobError;
use panel1_store::certificates as repo;
use panel1_store::events::Event;

use crate::App;
use crate::events::EventHandler;

/// Register it with `events::Handlers::new().with(certificates::handler())`.
pub fn handler() -> Arc<dyn EventHandler> {
    Arc::new(PaidSubscriptions)
}

struct PaidSubscriptions;

#[async_trait]
impl EventHandler for PaidSubscriptions {
    fn name(&self) -> &'static str {
        "certificates"
    }

    fn wants(&self, kind: &str) -> bool {
        kind == "invoice.paid"
    }

    async fn handle(&self, app: &App, event: &Event) -> Result<(), JobError> {
        let subscriptions: Vec<CertificateSubscriptionId> = event.payload["lines"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|l| l["object_type"] == "certificate_subscription")
            .filter_map(|l| l["object_id"].as_str()?.parse().ok())
            .collect();
        let tenant = &event.tenant_id;
        for sub_id in subscriptions {
            let mut tx = app.db.begin().await?;
            let Some(sub) =
                repo::get_subscription(tx.conn(), &Scope::tenant(tenant.clone()), &sub_id).await?
            else {
                continue;
            };
            let covered = super::products::covers(app, &mut tx, &sub, Utc::now())
                .await
                .map_err(|e| JobError::retry(e.to_string()))?;
            if !covered {
                tx.commit().await?;
                continue;
            }
            for id in repo::awaiting_payment(tx.conn(), tenant, &sub_id).await? {
                repo::set_status(tx.conn(), tenant, &id, "pending", None, None).await?;
                super::jobs::schedule_issue(&mut tx, tenant, &id, Utc::now()).await?;
                tracing::info!(certificate = %id, subscription = %sub_id, "paid: the order goes ahead");
            }
            tx.commit().await?;
        }
        Ok(())
    }
}
