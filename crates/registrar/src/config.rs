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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_settings_parse_and_hide_secrets() {
        let nc: RegistrarConfig = serde_json::from_value(serde_json::json!({
            "type": "namecheap",
            "api_user": "ann",
            "api_key": "0123456789abcdef0123",
            "client_ip": "192.0.2.1",
            "sandbox": true
        }))
        .unwrap();
        let epp: RegistrarConfig = serde_json::from_value(serde_json::json!({
            "type": "epp",
            "host": "epp.registry.example",
            "client_id": "panel1",
            "password": "Sup3r-secret!",
            "client_key_pem": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"
        }))
        .unwrap();
        let shown = format!("{nc:?} {epp:?}");
        assert!(!shown.contains("0123456789abcdef0123"), "{shown}");
        assert!(!shown.contains("Sup3r-secret!"), "{shown}");
        assert!(!shown.contains("BEGIN PRIVATE KEY"), "{shown}");
        let RegistrarConfig::Epp(e) = epp else {
            panic!("epp")
        };
        assert_eq!(e.port, 700);
        let bad = serde_json::from_value::<RegistrarConfig>(serde_json::json!({"type": "nope"}));
        assert!(bad.unwrap_err().to_string().contains("unknown variant"));
    }

    #[tokio::test]
    async fn bad_settings_fail_at_build_naming_the_setting() {
        let c: RegistrarConfig = serde_json::from_value(serde_json::json!({
            "type": "namecheap", "api_user": "ann", "api_key": "k3y-k3y-k3y", "client_ip": "localhost"
        }))
        .unwrap();
        let e = c.build().await.err().expect("refused");
        assert!(e.to_string().contains("client_ip"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let s: RegistrarConfig = serde_json::from_value(serde_json::json!({
            "type": "sandbox", "path": dir.path().join("r.sqlite3")
        }))
        .unwrap();
        let r = s.build().await.unwrap();
        assert_eq!(r.kind(), "sandbox");
        r.health().await.result.unwrap();
    }
}
