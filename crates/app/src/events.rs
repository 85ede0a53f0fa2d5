//! The outbox dispatcher and internal event handlers.
//!
//! Services append events to the outbox in their transaction. The dispatcher takes them in
//! outbox order and, in one transaction, turns each into jobs: one `event::handle` per
//! interested internal handler and one `webhook::deliver` per subscribed webhook, each with an
//! ordering key per (target, object), so deliveries of one object arrive in order, at least
//! once, with the job queue's retries.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use panel1_core::EventId;
use panel1_jobs::{EnqueueOptions, Job, JobContext, JobError};
use panel1_store::events::{self, Event};
use panel1_store::{Db, StoreError, webhooks};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::App;
use crate::webhooks::DeliverWebhook;

/// Reacts to events inside Panel1 (invoices, e-mails, DNS refresh, certificate installs).
#[async_trait]
pub trait EventHandler: Send + Sync {
    /// Stable name, stored in the jobs that run this handler.
    fn name(&self) -> &'static str;
    /// Whether this handler wants events of `kind`.
    fn wants(&self, kind: &str) -> bool;
    /// Handles one event. Must be idempotent: delivery is at least once.
    async fn handle(&self, app: &App, event: &Event) -> Result<(), JobError>;
}

/// The internal handlers of a process, keyed by name.
#[derive(Clone, Default)]
pub struct Handlers(Vec<Arc<dyn EventHandler>>);

impl Handlers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, h: Arc<dyn EventHandler>) -> Self {
        assert!(
            !self.0.iter().any(|x| x.name() == h.name()),
            "event handler {} registered twice",
            h.name()
        );
        self.0.push(h);
        self
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn EventHandler>> {
        self.0.iter().find(|h| h.name() == name)
    }

    pub fn interested(&self, kind: &str) -> impl Iterator<Item = &Arc<dyn EventHandler>> {
        self.0.iter().filter(move |h| h.wants(kind))
    }
}

/// Runs one internal handler for one event.
#[derive(Debug, Serialize, Deserialize)]
pub struct HandleEvent {
    pub handler: String,
    pub event_id: EventId,
}

#[async_trait]
impl Job for HandleEvent {
    const KIND: &'static str = "event::handle";
    const MAX_ATTEMPTS: i64 = 12;
    type Context = App;

    fn unique_key(&self) -> Option<String> {
        Some(format!("{}:{}", self.handler, self.event_id))
    }

    async fn run(&self, app: &App, _job: &JobContext) -> Result<(), JobError> {
        let Some(handler) = app.handlers.get(&self.handler) else {
            return Err(JobError::retry(format!(
                "event handler `{}` is not registered in this worker",
                self.handler
            )));
        };
        let event = {
            let mut r = app.db.read().await?;
            events::get(r.conn(), &self.event_id).await?
        };
        let Some(event) = event else {
            return Err(JobError::permanent(format!(
                "event {} no longer exists",
                self.event_id
            )));
        };
        handler.handle(app, &event).await
    }
}

/// Fans out undispatched events into jobs. Returns how many events it took.
pub async fn dispatch_once(db: &Db, handlers: &Handlers, batch: i64) -> Result<usize, StoreError> {
    let mut tx = db.begin().await?;
    let taken = events::take_undispatched(tx.conn(), batch).await?;
    if taken.is_empty() {
        return Ok(0);
    }
    let mut hooks_by_tenant: std::collections::HashMap<String, Vec<webhooks::Webhook>> =
        Default::default();
    for e in &taken {
        let object = format!("{}:{}", e.object_type, e.object_id);
        for h in handlers.interested(&e.kind) {
            let job = HandleEvent {
                handler: h.name().to_owned(),
                event_id: e.id.clone(),
            };
            let mut nj = panel1_jobs::new_job(
                &job,
                EnqueueOptions {
                    tenant_id: Some(e.tenant_id.clone()),
                    ..Default::default()
                },
            )?;
            nj.ordering_key = Some(format!("evh:{}:{object}", h.name()));
            panel1_store::jobs::enqueue(&mut tx, &nj).await?;
        }
        if !hooks_by_tenant.contains_key(e.tenant_id.as_str()) {
            let list = webhooks::list(tx.conn(), &e.tenant_id).await?;
            hooks_by_tenant.insert(e.tenant_id.to_string(), list);
        }
        for w in hooks_by_tenant[e.tenant_id.as_str()]
            .iter()
            .filter(|w| w.wants(&e.kind))
        {
            let job = DeliverWebhook {
                webhook_id: w.id.clone(),
                event_id: e.id.clone(),
            };
            let mut nj = panel1_jobs::new_job(
                &job,
                EnqueueOptions {
                    tenant_id: Some(e.tenant_id.clone()),
                    ..Default::default()
                },
            )?;
            nj.ordering_key = Some(format!("whk:{}:{object}", w.id));
            panel1_store::jobs::enqueue(&mut tx, &nj).await?;
        }
    }
    let seqs: Vec<i64> = taken.iter().map(|e| e.seq).collect();
    events::mark_dispatched(tx.conn(), &seqs).await?;
    tx.commit().await?;
    metrics::counter!("panel1_events_dispatched_total").increment(taken.len() as u64);
    Ok(taken.len())
}

/// The dispatcher loop: woken by local commits that appended events, and polling for other
/// processes' events.
pub fn start_dispatcher(app: App, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match dispatch_once(&app.db, &app.handlers, 200).await {
                Ok(200) => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "dispatching events failed; retrying"),
            }
            tokio::select! {
                _ = app.db.events_changed() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = cancel.cancelled() => return,
            }
        }
    })
}
