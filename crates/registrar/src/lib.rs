//! Registrars for Panel1: the [`Registrar`] trait, a [`RegistrarRegistry`] of configured
//! registrars keyed by name, and three adapters.
//!
//! | module | what |
//! |---|---|
//! | [`registrar`] | the trait (required operations + optional capabilities answering "not supported") and the registry |
//! | [`types`] | requests and answers: [`RegisterRequest`], [`DomainInfo`], [`TransferInfo`], [`IdempotencyKey`], [`Price`], the redacted [`Transcript`] and the [`Reply`] that carries it |
//! | [`error`] | [`RegistrarError`]: definite failure / retryable / unknown outcome, and the error policy |
//! | [`sandbox`] | a simulated registry on its own SQLite file: lifecycle with grace, redemption and pending delete, transfers with 5-day auto-approve, a test clock, balance and ledger, failure injection |
//! | [`namecheap`] | Namecheap's XML API (sandbox and production endpoints) |
//! | [`epp`] | generic EPP over TLS (RFC 5730–5734, RGP RFC 3915) with `instant-epp` |
//! | [`config`] | the tagged configuration enum that builds an adapter |
//!
//! Adapters know nothing of the database or HTTP API; the caller (the domain service's
//! jobs) derives idempotency keys, records each [`Reply`]'s transcript in the operations
//! log, and on [`RegistrarError::UnknownOutcome`] asks [`Registrar::info`] or
//! [`Registrar::transfer_status`] before acting again.
//!
//! Secrets (API keys, EPP passwords, auth codes) are [`panel1_core::SecretString`]s: they
//! never appear in `Debug` output, logs, errors or transcripts.
//!
//! ## Tests
//!
//! `tests/conformance.rs` runs one generic test per behaviour (`tests/support/battery.rs`)
//! against every adapter: the sandbox on a temporary file, Namecheap against a local server
//! replaying its documented responses (`tests/support/namecheap_server.rs`), and EPP against
//! a local TLS server (`tests/support/epp_server.rs`) that checks every frame it receives,
//! and every answer it gives, with `xmllint` (Debian's `libxml2-utils`) against the IANA
//! schemas in `tests/epp-schemas/`. `tests/sandbox.rs`, `tests/namecheap.rs` and
//! `tests/epp.rs` test what is particular to each adapter.

pub mod config;
pub mod epp;
pub mod error;
pub mod namecheap;
pub mod registrar;
pub mod sandbox;
pub mod types;

pub use config::RegistrarConfig;
pub use error::{FailureKind, RegistrarError};
pub use registrar::{Registrar, RegistrarRegistry};
pub use types::*;
