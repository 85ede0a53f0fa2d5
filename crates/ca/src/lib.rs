//! Panel1's certificate authority side: ordering, validating, issuing, installing and
//! renewing TLS certificates. No database here: the platform persists what this crate hands
//! back (sealed account credentials, order URLs, sealed keys, parsed certificates).
//!
//! | module | what it holds |
//! |---|---|
//! | [`authority`] | the [`CertificateAuthority`] trait (account, order, challenges, ready, poll, finalize, certificate, revoke, renewal info, health), its values, [`CaRegistry`] |
//! | [`acme`] | [`AcmeAuthority`]: any RFC 8555 directory through instant-acme; presets, EAB, profiles, ARI, rate limits, the CA call log |
//! | [`identifiers`] | [`IdentifierSet`]: canonical, de-duplicated, sorted names (the order de-duplication key) |
//! | [`keys`] | [`PrivateKey`] (ECDSA P-256/P-384, RSA 2048/3072/4096, zeroized, never printed) and CSRs |
//! | [`certificate`] | [`CertificateChain`]: PEM chain split and parsed with x509-parser |
//! | [`dns`] | a small DNS client over UDP/TCP on hickory-proto's wire format |
//! | [`preflight`] | CAA (RFC 8659), names that resolve, wildcard ⇒ DNS-01, DNS-01 record visible on the authoritative servers |
//! | [`issue`] | [`issue::Issuance`]: one resumable run of the steps with a [`issue::ChallengeSolver`] |
//! | [`install`] | the [`install::Installer`] trait (files + reload command, webhook) and the TLS probe that confirms the served serial |
//! | [`renewal`] | when to renew: ARI window, else 2/3 (or 1/2) of the lifetime, with jitter |
//! | `testing` (feature) | Pebble, nginx, a test DNS server, HTTP-01 and TLS responders for tests |
//!
//! Secrets: account credentials and private keys only travel as
//! [`panel1_core::SecretString`] or [`PrivateKey`], whose `Debug` prints `***`; errors and
//! logs never carry them.
//!
//! How a platform job drives an issuance (each line a step that can be retried on its own;
//! persist what is in brackets before the next step):
//!
//! 1. pre-flight: [`preflight::check_methods`], [`preflight::Preflight::check_caa`] with
//!    the CA's [`CertificateAuthority::caa_identities`], and
//!    [`preflight::Preflight::check_resolves`] for HTTP-01;
//! 2. [`CertificateAuthority::create_account`] once per tenant and CA [sealed credentials];
//! 3. generate the [`PrivateKey`] [sealed key], then [`CertificateAuthority::new_order`]
//!    [order URL] (ask for `replaces` only when [`CertificateAuthority::directory`] says
//!    `renewal_info`);
//! 4. publish [`authority::Order::challenges_to_complete`] (DNS-01: wait with
//!    [`preflight::Preflight::wait_txt_visible`]), then [`CertificateAuthority::ready`];
//! 5. [`CertificateAuthority::poll_ready`], [`CertificateAuthority::finalize`] with
//!    [`PrivateKey::csr`], [`CertificateAuthority::certificate`] [parsed chain];
//! 6. [`install::install_and_verify`]; schedule [`renewal::renewal_time`] (with
//!    [`CertificateAuthority::renewal_info`] when offered).
//!
//! [`CaError::is_retryable`] tells the job runner whether to retry (outage, rate limit with
//! its `Retry-After`, slow CA) or to stop (invalid order, refusal, configuration).
//! [`acme::record_calls`] returns every HTTP call a step made, for the operations log.
//!
//! Tests: `cargo test -p panel1-ca` runs unit tests and, in `tests/peers`, tests against a
//! real Pebble, nginx and the crate's test DNS server (Debian packages `pebble`, `nginx`).
//! `bench/ca/run` compares 100 issuances with lego (package `lego`).

pub mod acme;
pub mod authority;
pub mod certificate;
pub mod dns;
pub mod identifiers;
pub mod install;
pub mod issue;
pub mod keys;
pub mod preflight;
pub mod renewal;
#[cfg(feature = "testing")]
pub mod testing;

pub use acme::{AcmeAuthority, AcmeConfig};
pub use authority::{
    AccountRequest, CaAccount, CaConfig, CaError, CaRegistry, CertificateAuthority, Order,
    OrderRequest, OrderStatus, PollPolicy, ValidationMethod,
};
pub use certificate::{CertificateChain, CertificateInfo};
pub use identifiers::IdentifierSet;
pub use keys::{KeyType, PrivateKey};
