//! Tests against real peers: Pebble (RFC 8555 test CA), nginx, and the crate's own test DNS
//! server; plus a local RFC 9773 responder for what Pebble 2.4 lacks (ARI, profiles).
//! Every peer runs on free loopback ports in a temp directory and stops when dropped.

mod ari;
mod common;
mod failures;
mod install;
mod issuance;
mod preflight;
