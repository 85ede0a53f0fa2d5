//! PowerDNS through its HTTP API (`/api/v1/servers/{server}/zones`): zones are created with
//! an explicit SOA RRset and `soa_edit_api: DEFAULT`, RRsets replaced or deleted with
//! `PATCH … changetype REPLACE/DELETE`, zones deleted with `DELETE`. PowerDNS numbers its
//! own serial from then on (`soa_edit_api DEFAULT` bumps it on every PATCH), so its
//! secondaries see every change; it is not Panel1's serial.

use std::time::Duration;

use async_trait::async_trait;
use hickory_proto::rr::{Name, RecordType};
use panel1_core::SecretString;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{DnsProvider, ProviderError, RrsetChange};
use crate::record::{DnsRecord, NameMode, content_text, parse_rdata};
use crate::text::content_tokens;
use crate::zone::{Soa, Zone};

const KIND: &str = "powerdns";

/// Where the PowerDNS API is and how to authenticate.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct PowerDnsConfig {
    /// `http://127.0.0.1:8081`
    pub api_url: String,
    /// The `X-API-Key`.
    pub api_key: SecretString,
    /// Usually `localhost`.
    #[serde(default = "default_server_id")]
    pub server_id: String,
    /// `Native` (replicated by the database), `Master` (AXFR/NOTIFY to secondaries).
    #[serde(default = "default_zone_kind")]
    pub zone_kind: String,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_server_id() -> String {
    "localhost".into()
}
fn default_zone_kind() -> String {
    "Native".into()
}
fn default_timeout() -> u64 {
    30
}

impl PowerDnsConfig {
    pub fn new(api_url: impl Into<String>, api_key: SecretString) -> Self {
        Self {
            api_url: api_url.into(),
            api_key,
            server_id: default_server_id(),
            zone_kind: default_zone_kind(),
            timeout_seconds: default_timeout(),
        }
    }
}

/// The PowerDNS adapter.
#[derive(Debug, Clone)]
pub struct PowerDnsProvider {
    config: PowerDnsConfig,
    http: reqwest::Client,
}

#[derive(Debug, Serialize, Deserialize)]
struct ApiRecord {
    content: String,
    #[serde(default)]
    disabled: bool,
}

#[derive(Debug, Deserialize)]
struct ApiRrset {
    name: String,
    #[serde(rename = "type")]
    rtype: String,
    ttl: u32,
    records: Vec<ApiRecord>,
}

#[derive(Debug, Deserialize)]
struct ApiZone {
    name: String,
    #[serde(default)]
    rrsets: Vec<ApiRrset>,
}

impl PowerDnsProvider {
    pub fn new(config: PowerDnsConfig) -> Result<Self, ProviderError> {
        if !(config.api_url.starts_with("http://") || config.api_url.starts_with("https://")) {
            return Err(ProviderError::Config {
                provider: KIND.into(),
                detail: format!(
                    "api_url `{}` must be an http:// or https:// URL like http://127.0.0.1:8081",
                    config.api_url
                ),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds.max(1)))
            .build()
            .map_err(|e| ProviderError::Config {
                provider: KIND.into(),
                detail: e.to_string(),
            })?;
        Ok(Self { config, http })
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/api/v1/servers/{}{path}",
            self.config.api_url.trim_end_matches('/'),
            self.config.server_id
        )
    }

    fn zone_path(origin: &Name) -> String {
        format!("/zones/{}", origin.to_ascii())
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(StatusCode, String), ProviderError> {
        let url = self.url(path);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header("X-API-Key", self.config.api_key.expose());
        if let Some(b) = &body {
            req = req.json(b);
        }
        let started = std::time::Instant::now();
        let resp = req.send().await.map_err(|e| self.transport_error(&e))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| self.transport_error(&e))?;
        tracing::debug!(provider = KIND, %method, path, status = status.as_u16(), ms = started.elapsed().as_millis() as u64, "PowerDNS API call");
        Ok((status, text))
    }

    fn transport_error(&self, e: &reqwest::Error) -> ProviderError {
        let endpoint = self.config.api_url.clone();
        if e.is_timeout() {
            ProviderError::Timeout {
                provider: KIND.into(),
                endpoint,
                seconds: self.config.timeout_seconds,
            }
        } else {
            // Report the cause without the URL's query or headers (no secrets there anyway).
            let mut reason = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(s) = src {
                reason = s.to_string();
                src = s.source();
            }
            ProviderError::Unreachable {
                provider: KIND.into(),
                endpoint,
                reason,
            }
        }
    }

    fn status_error(status: StatusCode, body: &str, zone: Option<&Name>) -> ProviderError {
        let detail = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
            .unwrap_or_else(|| body.chars().take(300).collect());
        let s = status.as_u16().to_string();
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ProviderError::Unauthorized {
                provider: KIND.into(),
                status: s,
            },
            StatusCode::NOT_FOUND if zone.is_some() => ProviderError::ZoneNotFound {
                provider: KIND.into(),
                zone: zone.map(Name::to_ascii).unwrap_or_default(),
            },
            StatusCode::CONFLICT if zone.is_some() => ProviderError::ZoneExists {
                provider: KIND.into(),
                zone: zone.map(Name::to_ascii).unwrap_or_default(),
            },
            s2 if s2.is_server_error() || s2 == StatusCode::TOO_MANY_REQUESTS => {
                ProviderError::ServerFailure {
                    provider: KIND.into(),
                    status: s,
                    detail,
                }
            }
            _ => ProviderError::Rejected {
                provider: KIND.into(),
                status: s,
                detail,
            },
        }
    }

    fn soa_rrset(origin: &Name, soa: &Soa) -> serde_json::Value {
        json!({
            "name": origin.to_ascii(),
            "type": "SOA",
            "ttl": soa.ttl,
            "changetype": "REPLACE",
            "records": [{"content": content_text(&soa.to_rdata()), "disabled": false}],
        })
    }

    fn rrset_json(c: &RrsetChange) -> serde_json::Value {
        if c.is_delete() {
            json!({"name": c.name.to_ascii(), "type": c.rtype.to_string(), "changetype": "DELETE"})
        } else {
            json!({
                "name": c.name.to_ascii(),
                "type": c.rtype.to_string(),
                "ttl": c.ttl,
                "changetype": "REPLACE",
                "records": c.records.iter().map(|d| json!({"content": content_text(d), "disabled": false})).collect::<Vec<_>>(),
            })
        }
    }
}

#[async_trait]
impl DnsProvider for PowerDnsProvider {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn health_check(&self) -> Result<(), ProviderError> {
        let (status, body) = self.call(Method::GET, "", None).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(Self::status_error(status, &body, None))
        }
    }

    #[tracing::instrument(skip_all, fields(provider = KIND, zone = %origin, changes = changes.len()))]
    async fn apply_changes(
        &self,
        origin: &Name,
        soa: &Soa,
        changes: &[RrsetChange],
    ) -> Result<(), ProviderError> {
        // No SOA here: with soa_edit_api DEFAULT PowerDNS bumps its own serial on every
        // PATCH; an explicit SOA would be re-stamped from our serial and could go backwards.
        let _ = soa;
        let mut rrsets = Vec::new();
        rrsets.extend(
            changes
                .iter()
                .filter(|c| c.rtype != RecordType::SOA)
                .map(Self::rrset_json),
        );
        let (status, body) = self
            .call(
                Method::PATCH,
                &Self::zone_path(origin),
                Some(json!({ "rrsets": rrsets })),
            )
            .await?;
        if status.is_success() {
            tracing::info!("PowerDNS zone updated");
            Ok(())
        } else {
            Err(Self::status_error(status, &body, Some(origin)))
        }
    }

    #[tracing::instrument(skip_all, fields(provider = KIND, zone = %zone.origin, records = zone.records.len()))]
    async fn create_zone(&self, zone: &Zone) -> Result<(), ProviderError> {
        let changes = super::diff_rrsets(&[], &zone.records);
        let mut rrsets = vec![Self::soa_rrset(&zone.origin, &zone.soa)];
        rrsets.extend(changes.iter().map(Self::rrset_json));
        for r in &mut rrsets {
            if let Some(o) = r.as_object_mut() {
                o.remove("changetype");
            }
        }
        let body = json!({
            "name": zone.origin.to_ascii(),
            "kind": self.config.zone_kind,
            "soa_edit_api": "DEFAULT",
            "nameservers": [],
            "rrsets": rrsets,
        });
        let (status, text) = self.call(Method::POST, "/zones", Some(body)).await?;
        if status.is_success() {
            tracing::info!("PowerDNS zone created");
            Ok(())
        } else {
            Err(Self::status_error(status, &text, Some(&zone.origin)))
        }
    }

    async fn delete_zone(&self, origin: &Name) -> Result<(), ProviderError> {
        let (status, body) = self
            .call(Method::DELETE, &Self::zone_path(origin), None)
            .await?;
        if status.is_success() || status == StatusCode::NOT_FOUND {
            tracing::info!(provider = KIND, zone = %origin, "PowerDNS zone deleted");
            Ok(())
        } else {
            Err(Self::status_error(status, &body, Some(origin)))
        }
    }

    async fn get_zone(&self, origin: &Name) -> Result<Option<Zone>, ProviderError> {
        let (status, body) = self
            .call(Method::GET, &Self::zone_path(origin), None)
            .await?;
        if status == StatusCode::NOT_FOUND
            || (status == StatusCode::UNPROCESSABLE_ENTITY && body.contains("Could not find"))
        {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(Self::status_error(status, &body, Some(origin)));
        }
        let protocol = |detail: String| ProviderError::Protocol {
            provider: KIND.into(),
            detail,
        };
        let api: ApiZone = serde_json::from_str(&body).map_err(|e| protocol(e.to_string()))?;
        let mut soa = None;
        let mut records = Vec::new();
        for set in api.rrsets {
            let name = Name::from_ascii(&set.name)
                .map_err(|e| protocol(format!("name `{}`: {e}", set.name)))?
                .to_lowercase();
            let rtype: RecordType = set
                .rtype
                .parse()
                .map_err(|_| protocol(format!("type `{}`", set.rtype)))?;
            for r in set.records.iter().filter(|r| !r.disabled) {
                let tokens = content_tokens(&r.content).map_err(protocol)?;
                let data = parse_rdata(rtype, &tokens, origin, NameMode::Strict)
                    .map_err(|m| protocol(format!("{} {}: {m}", set.name, set.rtype)))?;
                if let hickory_proto::rr::RData::SOA(s) = &data {
                    soa = Some(Soa::from_rdata(s, set.ttl));
                } else {
                    records.push(DnsRecord {
                        name: name.clone(),
                        ttl: set.ttl,
                        data,
                    });
                }
            }
        }
        let _ = api.name;
        let soa = soa.ok_or_else(|| protocol("the zone has no SOA".into()))?;
        Ok(Some(Zone {
            origin: origin.clone(),
            soa,
            records,
        }))
    }

    async fn list_zones(&self) -> Result<Vec<Name>, ProviderError> {
        let (status, body) = self.call(Method::GET, "/zones", None).await?;
        if !status.is_success() {
            return Err(Self::status_error(status, &body, None));
        }
        let zones: Vec<ApiZone> =
            serde_json::from_str(&body).map_err(|e| ProviderError::Protocol {
                provider: KIND.into(),
                detail: e.to_string(),
            })?;
        Ok(zones
            .into_iter()
            .filter_map(|z| Name::from_ascii(&z.name).ok())
            .collect())
    }
}
