//! Domains: registrar accounts per tenant, WHOIS contacts, the domain service and the jobs
//! that talk to registrars.
//!
//! | module | what it owns |
//! |---|---|
//! | [`accounts`] | a tenant's registrar accounts (credentials sealed), TLD → account routing, registrar instances, the demo sandbox account |
//! | [`contacts`] | reusable WHOIS contacts per client |
//! | [`service`] | what the API asks: check, register, renew, transfer, nameservers, contacts, lock, privacy, auth code, suspend, listings and the operations log |
//! | [`jobs`] | `domain::register`, `domain::renew`, `domain::transfer`, `domain::update`: every registrar call that changes something, with its idempotency key, recorded in the operations log, safe to repeat after any crash |
//!
//! The flow of a change: the service checks the request, then in one transaction writes the
//! domain, an operation (`domain_operations`, unique idempotency key derived from domain,
//! operation and term), the job, the audit entry (and events where the state changes at
//! once, as for suspensions), and answers 202 with the operation and job id. The job calls
//! the registrar and commits the result, the domain's next state, the events
//! (`domain.registered`, `domain.renewed`, `domain.transfer.completed`, …) and its own
//! completion together. See [`jobs`] for what happens after a crash or a lost answer.

pub mod accounts;
pub mod contacts;
pub mod jobs;
pub mod service;

pub use jobs::{RegisterDomain, RenewDomain, TransferDomain, UpdateDomain};
