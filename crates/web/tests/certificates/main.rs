//! Certificates through Panel1's API and job workers against a real Pebble (and a real
//! nginx): HTTP-01 served by Panel1 itself, DNS-01 for a wildcard and its apex through a zone
//! Panel1 writes to, manual DNS-01, a multi-domain certificate, renewal (by request and by
//! the schedule) replacing the old certificate, revocation, External Account Binding,
//! installation verified by a TLS handshake, failures that end in a clear state, a worker
//! killed mid-issuance, and no private key anywhere it should not be.
//!
//! Needs the Debian packages `pebble` and `nginx`, PostgreSQL for the `postgres` variants, and
//! `pg_dump`.

mod billing;
mod failures;
mod harness;
mod install;
mod issuance;
mod resume;
