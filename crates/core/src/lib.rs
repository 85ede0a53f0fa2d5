//! Pure rules of Panel1: identifiers, roles and scopes, secrets and sealing at rest,
//! cron expressions, pagination and field-level validation errors.
//!
//! Nothing in this crate performs I/O; everything here is deterministic given its inputs
//! (randomness comes only from the operating system's generator when minting ids and keys).

pub mod auth;
pub mod contact;
pub mod cron;
pub mod crypto;
pub mod domain_lifecycle;
pub mod domain_name;
pub mod ids;
pub mod money;
pub mod page;
pub mod secret;
pub mod time;
pub mod validate;

pub use auth::{Principal, Role, Scope};
pub use ids::*;
pub use page::{Page, PageRequest};
pub use secret::SecretString;
pub use validate::{FieldError, ValidationError};
