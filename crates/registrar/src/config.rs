//! Which adapter a registrar account uses and its settings, as a tagged enum
//! (`type = "sandbox" | "namecheap" | "epp"`), stored per tenant with credentials sealed.

use std::sync::Arc;

use serde::Deserialize;

use crate::epp::{Epp, EppConfig};
use crate::error::RegistrarError;
use crate::namecheap::{Namecheap, NamecheapConfig};
use crate::registrar::Registrar;
use crate::sandbox::{SandboxConfig, SandboxRegistrar};

/// The settings of one registrar account.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RegistrarConfig {
    Sandbox(SandboxConfig),
    Namecheap(NamecheapConfig),
    Epp(EppConfig),
}

impl RegistrarConfig {
    /// Builds the adapter.
    pub async fn build(&self) -> Result<Arc<dyn Registrar>, RegistrarError> {
        match self {
            RegistrarConfig::Sandbox(c) => {
                Ok(Arc::new(SandboxRegistrar::open(c).await.map_err(|e| {
                    RegistrarError::config("sandbox", e.to_string())
                })?))
            }
            RegistrarConfig::Namecheap(c) => Ok(Arc::new(Namecheap::new(c.clone())?)),
            RegistrarConfig::Epp(c) => Ok(Arc::new(Epp::new(c.clone())?)),
        }
    }
}
