//! Panel1's database.
//!
//! One storage interface over SQLite (the embedded default) and PostgreSQL (production and
//! scale-out). SQL lives only here, in one module per aggregate; callers pass a [`Conn`]
//! taken from a [`Tx`] (writes) or a [`Reader`] (reads) and a tenant [`Scope`](panel1_core::Scope).
//! Where the dialects differ (claiming jobs, array parameters) the difference sits in the
//! repository function, side by side.

pub mod db;
pub mod error;
pub mod repo;

#[cfg(feature = "testing")]
pub mod testing;

pub use db::{Backend, Conn, Db, DbOptions, Reader, Tx};
pub use error::StoreError;
pub use repo::*;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
