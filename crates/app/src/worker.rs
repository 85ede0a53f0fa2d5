//! What a Panel1 worker runs: every job type, and the installation's schedules.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use panel1_jobs::{Job, JobContext, JobError, Runner, RunnerConfig, ScheduleDef};
use serde::{Deserialize, Serialize};

use crate::App;
use crate::events::HandleEvent;
use crate::webhooks::DeliverWebhook;

/// The runner with every job type registered.
pub fn runner(app: &App, config: RunnerConfig) -> Runner<App> {
    Runner::new(app.db.clone(), app.clone(), config)
        .register::<HandleEvent>()
        .register::<DeliverWebhook>()
        .register::<crate::notify::SendEmail>()
        .register::<crate::domains::RegisterDomain>()
        .register::<crate::domains::RenewDomain>()
        .register::<crate::domains::TransferDomain>()
        .register::<crate::domains::UpdateDomain>()
        .register::<crate::domains::RestoreDomain>()
        .register::<crate::domains::BillOperations>()
        .register::<crate::domains::RenewalSweep>()
        .register::<crate::domains::NotifyDomains>()
        .register::<crate::domains::SyncSweep>()
        .register::<crate::domains::SyncAccount>()
        .register::<crate::domains::ImportDomains>()
        .register::<crate::certificates::IssueCertificate>()
        .register::<crate::certificates::RevokeCertificate>()
        .register::<crate::certificates::InstallCertificate>()
        .register::<crate::certificates::RenewalSweep>()
        .register::<crate::certificates::HealthSweep>()
        .register::<crate::dns::SyncZone>()
        .register::<crate::dns::DeleteProviderZone>()
        .register::<Prune>()
}

/// The internal event handlers of a Panel1 process.
pub fn handlers() -> crate::events::Handlers {
    crate::events::Handlers::new()
        .with(crate::domains::PaidWorkHandler::new())
        .with(crate::certificates::handler())
}

/// The installation's recurring schedules.
pub fn schedules() -> Vec<ScheduleDef> {
    vec![
        ScheduleDef::new("system.prune", "17 3 * * *", Prune::KIND),
        ScheduleDef::new(
            "domains.renew",
            "23 2 * * *",
            crate::domains::RenewalSweep::KIND,
        ),
        ScheduleDef::new("domains.sync", "* * * * *", crate::domains::SyncSweep::KIND),
        ScheduleDef::new(
            "ssl.renew",
            "*/10 * * * *",
            crate::certificates::RenewalSweep::KIND,
        ),
        ScheduleDef::new(
            "ssl.health",
            "41 4 * * *",
            crate::certificates::HealthSweep::KIND,
        ),
    ]
}

pub fn runner_config(app: &App) -> RunnerConfig {
    RunnerConfig {
        concurrency: app.settings.worker_concurrency,
        lease: Duration::from_secs(app.settings.worker_lease_secs),
        ..RunnerConfig::default()
    }
}

/// Deletes finished jobs older than 14 days, idempotency keys older than 2 days, and dispatched
/// events and webhook delivery logs older than 90 days. The audit log is kept.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Prune {}

#[async_trait]
impl Job for Prune {
    const KIND: &'static str = "system::prune";
    type Context = App;

    async fn run(&self, app: &App, job: &JobContext) -> Result<(), JobError> {
        let mut tx = app.db.begin().await?;
        let jobs =
            panel1_store::jobs::prune(tx.conn(), Utc::now() - chrono::Duration::days(14)).await?;
        let keys = panel1_store::idempotency::prune(
            tx.conn(),
            (Utc::now() - chrono::Duration::days(2)).timestamp_millis(),
        )
        .await?;
        let old = Utc::now() - chrono::Duration::days(90);
        let events = panel1_store::events::prune(tx.conn(), old).await?;
        let deliveries = panel1_store::webhooks::prune_deliveries(tx.conn(), old).await?;
        job.report(
            i64::try_from(jobs + keys + events + deliveries).unwrap_or(i64::MAX),
            0,
        );
        job.complete_in(&mut tx).await?;
        tx.commit().await?;
        tracing::info!(
            jobs,
            idempotency_keys = keys,
            events,
            deliveries,
            "pruned old records"
        );
        Ok(())
    }
}
