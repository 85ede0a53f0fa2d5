//! Domains: registrar accounts per tenant, WHOIS contacts, the domain service and the jobs
//! that talk to registrars.
//!
//! | module | what it owns |
//! |---|---|
//! | [`accounts`] | a tenant's registrar accounts (credentials sealed), TLD → account routing, registrar instances, the demo sandbox account |
//! | [`contacts`] | reusable WHOIS contacts per client |
//! | [`service`] | what the API asks: check, register, renew, transfer, nameservers, contacts, lock, privacy, auth code, suspend, listings and the operations log |
//! | [`jobs`] | `domain::register`, `domain::renew`, `domain::transfer`, `domain::restore`, `domain::update`: every registrar call that changes something, with its idempotency key, recorded in the operations log, safe to repeat after any crash |
//! | [`billing`] | paid work: prices (premium names from the registrar's cost with the tenant's markup), an invoice per registration, renewal, transfer and restore, payment from credit, release of the operation once paid (`invoice.paid` handler), refunds of work that definitely failed |
//! | [`renewals`] | the daily renewal sweep (bulk: due domains → renewal operations + billing jobs), ICANN ERRP reminders and renewal alerts, stuck renewals pushed again, the tenant's domain settings, the auto-renew flag |
//! | [`sync`] | the registrar sync at each account's rate limit, drift entries (what Panel1 had, what the registrar says, what was done), transferred-away detection |
//! | [`import`] | taking over an existing registrar account: domains with their real expiry and statuses, clients matched by registrant e-mail or created, nothing charged |
//!
//! The flow of a change: the service checks the request, then in one transaction writes the
//! domain, an operation (`domain_operations`, unique idempotency key derived from domain,
//! operation and term), the job, the audit entry (and events where the state changes at
//! once, as for suspensions), and answers 202 with the operation and job id. The job calls
//! the registrar and commits the result, the domain's next state, the events
//! (`domain.registered`, `domain.renewed`, `domain.transfer.completed`, …) and its own
//! completion together. See [`jobs`] for what happens after a crash or a lost answer.
//!
//! Paid work (register, renew, transfer, restore) is stored `awaiting_payment` with its
//! invoice instead, and gets its job only when the invoice is paid (from credit at once when
//! the client has enough, or later through `payInvoice`), or at once when the tenant works on
//! credit: see [`billing`]. Renewals start by themselves ([`renewals`]); the registrar's view
//! is compared with Panel1's every day ([`sync`]).

pub mod accounts;
pub mod billing;
pub mod contacts;
pub mod import;
pub mod jobs;
pub mod renewals;
pub mod service;
pub mod sync;

pub use billing::{BillOperations, PaidWorkHandler};
pub use import::ImportDomains;
pub use jobs::{RegisterDomain, RenewDomain, RestoreDomain, TransferDomain, UpdateDomain};
pub use renewals::{NotifyDomains, RenewalSweep};
pub use sync::{SyncAccount, SyncSweep};
