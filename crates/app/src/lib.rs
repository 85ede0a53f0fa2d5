//! Panel1's services: they tie the store, the job queue and (later) the providers together.
//!
//! A request reaches a service as a [`Caller`]; the service validates input with core types,
//! then in one transaction writes the new state, enqueues the jobs that talk to the outside
//! world, appends events to the outbox and records the audit entry.
//!
//! | module | what it owns |
//! |---|---|
//! | [`auth`] | API tokens and passwords → [`Caller`] |
//! | [`clients`] | the tenant's customers |
//! | [`users`] | users and their API tokens |
//! | [`tenants`], [`bootstrap`] | tenants; the first tenant and admin on a new installation |
//! | [`audit`] | recording and reading the audit log |
//! | [`events`] | the outbox dispatcher, internal event handlers |
//! | [`webhooks`] | tenant webhooks and their signed deliveries |
//! | [`ops`] | jobs and schedules, as the API shows them |
//! | [`domains`] | registrar accounts and TLD routing, WHOIS contacts, the domain service and the jobs that call registrars; domain billing (invoices gate paid work), the renewal sweep with reminders, the registrar sync with drift, portfolio import |
//! | [`clock`] | the time domain automation runs on (tests move it forward) |
//! | [`dns`] | DNS hosting: zones and records, zone files, provider accounts and secondaries, the DNS server's in-memory view |
//! | [`certificates`] | TLS certificates: CA accounts, products and subscriptions, ACME issuance (HTTP-01, DNS-01), installation, renewal, health checks |
//! | [`worker`] | the job types and schedules of a Panel1 worker |

pub mod audit;
pub mod auth;
pub mod billing;
pub mod bootstrap;
pub mod caller;
pub mod certificates;
pub mod clients;
pub mod clock;
pub mod config;
pub mod dns;
pub mod domains;
pub mod error;
pub mod events;
pub mod notify;
pub mod ops;
pub mod tenants;
#[cfg(feature = "testing")]
pub mod testing;
pub mod users;
pub mod webhooks;
pub mod worker;

use std::sync::Arc;

use panel1_core::crypto::Keyring;
use panel1_store::Db;

pub use caller::{Admin, Caller, Operator, Staff};
pub use config::Settings;
pub use error::{AppError, AppResult};

/// The shared state of the services (and the context of every job). Cheap to clone.
#[derive(Clone)]
pub struct App(Arc<AppInner>);

pub struct AppInner {
    pub db: Db,
    pub keyring: Keyring,
    pub settings: Settings,
    /// One HTTP client (connection pool) for webhooks and provider APIs.
    pub http: reqwest::Client,
    pub handlers: events::Handlers,
    /// Recently verified API tokens.
    pub token_cache: auth::TokenCache,
    /// The time domain automation (renewals, reminders, sync) runs on; tests move it forward.
    pub clock: clock::Clock,
}

impl std::ops::Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl App {
    pub fn new(
        db: Db,
        keyring: Keyring,
        settings: Settings,
        handlers: events::Handlers,
    ) -> anyhow::Result<App> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("Panel1/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(15))
            .connect_timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(App(Arc::new(AppInner {
            db,
            keyring,
            settings,
            http,
            handlers,
            token_cache: auth::TokenCache::default(),
            clock: clock::Clock::system(),
        })))
    }
}
