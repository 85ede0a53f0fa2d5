//! Settings: defaults, then an optional TOML file, then `PANEL1_…` environment variables.
//! A bad value stops start-up with a message naming the setting and where it came from.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use panel1_core::SecretString;
use serde::Deserialize;

/// Every setting, after layering.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the embedded database and the master key file live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; defaults to `sqlite://<data_dir>/panel1.db`.
    pub database_url: SecretString,
    pub database_max_connections: u32,
    /// The API and web panel.
    pub http_addr: SocketAddr,
    /// The built-in authoritative DNS server (UDP and TCP).
    pub dns_addr: SocketAddr,
    /// The master key (base64 of 32 bytes). When unset, `master_key_file` is used (and
    /// created, mode 0600, on first start).
    pub master_key: Option<SecretString>,
    pub master_key_file: PathBuf,
    /// Previous master keys still needed to open values sealed before a rotation.
    pub previous_master_keys: Vec<SecretString>,
    /// How Panel1 is reached from outside (links in e-mails, webhook payloads).
    pub public_url: String,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter, e.g. `info` or `panel1=debug,sqlx=warn`.
    pub log_level: String,
    /// Jobs running at once per worker process.
    pub worker_concurrency: usize,
    /// Seconds a job's lease lasts before another worker may take it over.
    pub worker_lease_secs: u64,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// The ACME directory a tenant's certificates come from when it configured no CA account:
    /// `letsencrypt`, `letsencrypt-staging` or a directory URL.
    pub acme_directory_url: String,
    /// PEM roots to trust for ACME directories instead of the system's (a private CA).
    pub acme_root_certificates_file: Option<PathBuf>,
    /// New orders per ACME account per window (the CA's rate limit; 0: no local limit).
    pub acme_orders_limit: u32,
    pub acme_orders_window_secs: u64,
    /// The DNS resolver for certificate pre-flight checks (CAA, names, authoritative servers);
    /// unset: the first `nameserver` of /etc/resolv.conf.
    pub ssl_resolver: Option<SocketAddr>,
    /// The port authoritative name servers are asked on when checking DNS-01 records.
    pub ssl_nameserver_port: u16,
    /// PEM roots the TLS probe of installed endpoints trusts instead of the system's.
    pub ssl_probe_roots_file: Option<PathBuf>,
    /// Milliseconds before retrying a failed CA step; doubles per attempt, up to an hour.
    pub ssl_retry_ms: u64,
    /// Failed runs after which an issuance stops and is reported as failed.
    pub ssl_issue_attempts: u32,
    /// Seconds to wait for a DNS-01 record Panel1 published to reach every authoritative server.
    pub ssl_dns_propagation_secs: u64,
    /// Seconds between two checks of manually created DNS-01 records.
    pub ssl_manual_dns_poll_secs: u64,
    /// Directories certificate files (and HTTP-01 webroots) may be written under; empty: none.
    pub ssl_install_dirs: Vec<PathBuf>,
    /// Programs an installation may run to reload a server (e.g. `nginx`); empty: none.
    pub ssl_reload_programs: Vec<String>,
    /// Days before expiry when a certificate that is not renewed yet raises alerts.
    pub ssl_expiry_warning_days: u32,
    /// Seconds an installation waits for the endpoint to serve the new certificate.
    pub ssl_install_verify_secs: u64,
    /// Where e-mail goes: `smtp://host:port` (plain), `smtp://host:port?tls=required`
    /// (STARTTLS) or `smtps://user:pass@host:465`. Unset: e-mails are recorded and logged, not sent.
    pub smtp_url: Option<SecretString>,
    /// The sender of Panel1's e-mail.
    pub smtp_from: String,
    /// The sandbox registry's file: a simulated registry for demos and tests.
    pub sandbox_registry: PathBuf,
    /// Whether a tenant that never had a registrar account gets a sandbox one (mapped to
    /// .test, .example, .com, .net and .org), so domains can be registered at once.
    pub sandbox_demo: bool,
    /// Seconds a registrar call that changes something may take; after that its outcome is
    /// unknown and the next attempt asks the registrar first.
    pub registrar_timeout_secs: u64,
    /// Seconds an availability check or an auth code request may take (they are answered
    /// within the API request).
    pub registrar_check_timeout_secs: u64,
    /// Milliseconds before retrying a failed registrar call; doubles per attempt, up to an hour.
    pub registrar_retry_ms: u64,
    /// Milliseconds between two polls of a pending transfer.
    pub transfer_poll_ms: u64,
    /// Registrar calls per minute the sync makes per registrar account, unless the account
    /// sets its own rate (120 covers 172,800 domains a day).
    pub registrar_sync_rate_per_minute: u32,
    /// Hours after which a domain is read from its registrar again.
    pub registrar_sync_interval_hours: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// A setting that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("setting `{setting}` (from {source_name}): {message}")]
pub struct ConfigError {
    pub setting: String,
    pub source_name: String,
    pub message: String,
}

/// The file form: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    database_max_connections: Option<u32>,
    http_addr: Option<String>,
    dns_addr: Option<String>,
    master_key: Option<String>,
    master_key_file: Option<PathBuf>,
    previous_master_keys: Option<Vec<String>>,
    public_url: Option<String>,
    log_format: Option<String>,
    log_level: Option<String>,
    worker_concurrency: Option<usize>,
    worker_lease_secs: Option<u64>,
    max_body_bytes: Option<usize>,
    acme_directory_url: Option<String>,
    acme_root_certificates_file: Option<PathBuf>,
    acme_orders_limit: Option<u32>,
    acme_orders_window_secs: Option<u64>,
    ssl_resolver: Option<String>,
    ssl_nameserver_port: Option<u16>,
    ssl_probe_roots_file: Option<PathBuf>,
    ssl_retry_ms: Option<u64>,
    ssl_issue_attempts: Option<u32>,
    ssl_dns_propagation_secs: Option<u64>,
    ssl_manual_dns_poll_secs: Option<u64>,
    ssl_install_dirs: Option<Vec<PathBuf>>,
    ssl_reload_programs: Option<Vec<String>>,
    ssl_expiry_warning_days: Option<u32>,
    ssl_install_verify_secs: Option<u64>,
    smtp_url: Option<String>,
    smtp_from: Option<String>,
    sandbox_registry: Option<PathBuf>,
    sandbox_demo: Option<bool>,
    registrar_timeout_secs: Option<u64>,
    registrar_check_timeout_secs: Option<u64>,
    registrar_retry_ms: Option<u64>,
    transfer_poll_ms: Option<u64>,
    registrar_sync_rate_per_minute: Option<u32>,
    registrar_sync_interval_hours: Option<u32>,
}

/// The environment variables read, in the order of [`Settings`].
pub const ENV_VARS: &[(&str, &str)] = &[
    ("PANEL1_DATA_DIR", "data_dir"),
    ("PANEL1_DATABASE_URL", "database_url"),
    (
        "PANEL1_DATABASE_MAX_CONNECTIONS",
        "database_max_connections",
    ),
    ("PANEL1_HTTP_ADDR", "http_addr"),
    ("PANEL1_DNS_ADDR", "dns_addr"),
    ("PANEL1_MASTER_KEY", "master_key"),
    ("PANEL1_MASTER_KEY_FILE", "master_key_file"),
    ("PANEL1_PREVIOUS_MASTER_KEYS", "previous_master_keys"),
    ("PANEL1_PUBLIC_URL", "public_url"),
    ("PANEL1_LOG_FORMAT", "log_format"),
    ("PANEL1_LOG", "log_level"),
    ("PANEL1_WORKER_CONCURRENCY", "worker_concurrency"),
    ("PANEL1_WORKER_LEASE_SECS", "worker_lease_secs"),
    ("PANEL1_MAX_BODY_BYTES", "max_body_bytes"),
    ("PANEL1_ACME_DIRECTORY_URL", "acme_directory_url"),
    (
        "PANEL1_ACME_ROOT_CERTIFICATES_FILE",
        "acme_root_certificates_file",
    ),
    ("PANEL1_ACME_ORDERS_LIMIT", "acme_orders_limit"),
    ("PANEL1_ACME_ORDERS_WINDOW_SECS", "acme_orders_window_secs"),
    ("PANEL1_SSL_RESOLVER", "ssl_resolver"),
    ("PANEL1_SSL_NAMESERVER_PORT", "ssl_nameserver_port"),
    ("PANEL1_SSL_PROBE_ROOTS_FILE", "ssl_probe_roots_file"),
    ("PANEL1_SSL_RETRY_MS", "ssl_retry_ms"),
    ("PANEL1_SSL_ISSUE_ATTEMPTS", "ssl_issue_attempts"),
    (
        "PANEL1_SSL_DNS_PROPAGATION_SECS",
        "ssl_dns_propagation_secs",
    ),
    (
        "PANEL1_SSL_MANUAL_DNS_POLL_SECS",
        "ssl_manual_dns_poll_secs",
    ),
    ("PANEL1_SSL_INSTALL_DIRS", "ssl_install_dirs"),
    ("PANEL1_SSL_RELOAD_PROGRAMS", "ssl_reload_programs"),
    ("PANEL1_SSL_EXPIRY_WARNING_DAYS", "ssl_expiry_warning_days"),
    ("PANEL1_SSL_INSTALL_VERIFY_SECS", "ssl_install_verify_secs"),
    ("PANEL1_SMTP_URL", "smtp_url"),
    ("PANEL1_SMTP_FROM", "smtp_from"),
    ("PANEL1_SANDBOX_REGISTRY", "sandbox_registry"),
    ("PANEL1_SANDBOX_DEMO", "sandbox_demo"),
    ("PANEL1_REGISTRAR_TIMEOUT_SECS", "registrar_timeout_secs"),
    (
        "PANEL1_REGISTRAR_CHECK_TIMEOUT_SECS",
        "registrar_check_timeout_secs",
    ),
    ("PANEL1_REGISTRAR_RETRY_MS", "registrar_retry_ms"),
    ("PANEL1_TRANSFER_POLL_MS", "transfer_poll_ms"),
    (
        "PANEL1_REGISTRAR_SYNC_RATE_PER_MINUTE",
        "registrar_sync_rate_per_minute",
    ),
    (
        "PANEL1_REGISTRAR_SYNC_INTERVAL_HOURS",
        "registrar_sync_interval_hours",
    ),
];

impl Settings {
    /// Layers the defaults, the file (if any) and the environment.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let mut f = FileSettings::default();
        let file_name = file.map(|p| p.display().to_string()).unwrap_or_default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                setting: "--config".into(),
                source_name: file_name.clone(),
                message: format!("cannot read the file: {e}"),
            })?;
            f = toml::from_str(&text).map_err(|e| ConfigError {
                setting: e
                    .span()
                    .map(|s| text[s].trim().to_owned())
                    .unwrap_or_else(|| "?".into()),
                source_name: file_name.clone(),
                message: e.message().to_owned(),
            })?;
        }
        let layer = Layer {
            file_name: &file_name,
            env: &env,
        };

        let data_dir: PathBuf = layer
            .get(
                "data_dir",
                f.data_dir.clone().map(|p| p.display().to_string()),
                |s| Ok(PathBuf::from(s)),
            )?
            .unwrap_or_else(|| PathBuf::from("./panel1-data"));
        let database_url = layer
            .get("database_url", f.database_url.clone(), |s| {
                if s.starts_with("sqlite:")
                    || s.starts_with("postgres:")
                    || s.starts_with("postgresql:")
                {
                    Ok(s.to_owned())
                } else {
                    Err("must start with sqlite:// or postgres://".into())
                }
            })?
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("panel1.db").display()));
        let addr = |s: &str| {
            s.parse::<SocketAddr>()
                .map_err(|_| "must be an address with a port, like 127.0.0.1:8080".to_owned())
        };
        let positive = |s: &str| match s.parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err("must be a whole number greater than 0".to_owned()),
        };
        let master_key_file = layer
            .get(
                "master_key_file",
                f.master_key_file.clone().map(|p| p.display().to_string()),
                |s| Ok(PathBuf::from(s)),
            )?
            .unwrap_or_else(|| data_dir.join("master.key"));
        let log_format = layer
            .get("log_format", f.log_format.clone(), |s| match s {
                "text" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                _ => Err("must be `text` or `json`".into()),
            })?
            .unwrap_or(LogFormat::Text);
        let http_addr = layer
            .get("http_addr", f.http_addr.clone(), addr)?
            .unwrap_or_else(|| "127.0.0.1:8080".parse().expect("valid"));
        let public_url = layer
            .get("public_url", f.public_url.clone(), |s| {
                if s.starts_with("http://") || s.starts_with("https://") {
                    Ok(s.trim_end_matches('/').to_owned())
                } else {
                    Err("must be an http:// or https:// URL".into())
                }
            })?
            .unwrap_or_else(|| format!("http://{http_addr}"));
        Ok(Settings {
            database_url: SecretString::new(database_url),
            database_max_connections: layer
                .get(
                    "database_max_connections",
                    f.database_max_connections.map(|n| n.to_string()),
                    positive,
                )?
                .map_or(8, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            http_addr,
            dns_addr: layer
                .get("dns_addr", f.dns_addr.clone(), addr)?
                .unwrap_or_else(|| "127.0.0.1:5353".parse().expect("valid")),
            master_key: layer.get("master_key", f.master_key.clone(), |s| {
                Ok(SecretString::new(s))
            })?,
            master_key_file,
            previous_master_keys: match layer
                .get("previous_master_keys", None, |s| Ok(s.to_owned()))?
            {
                Some(list) => list
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(SecretString::new)
                    .collect(),
                None => f
                    .previous_master_keys
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .map(SecretString::new)
                    .collect(),
            },
            public_url,
            log_format,
            log_level: layer
                .get("log_level", f.log_level.clone(), |s| Ok(s.to_owned()))?
                .unwrap_or_else(|| "info".into()),
            worker_concurrency: layer
                .get(
                    "worker_concurrency",
                    f.worker_concurrency.map(|n| n.to_string()),
                    positive,
                )?
                .map_or(16, |n| usize::try_from(n).unwrap_or(16)),
            worker_lease_secs: layer
                .get(
                    "worker_lease_secs",
                    f.worker_lease_secs.map(|n| n.to_string()),
                    positive,
                )?
                .unwrap_or(60),
            max_body_bytes: layer
                .get(
                    "max_body_bytes",
                    f.max_body_bytes.map(|n| n.to_string()),
                    positive,
                )?
                .map_or(2 * 1024 * 1024, |n| {
                    usize::try_from(n).unwrap_or(usize::MAX)
                }),
            acme_directory_url: layer
                .get(
                    "acme_directory_url",
                    f.acme_directory_url.clone(),
                    |s| match s {
                        "letsencrypt" => {
                            Ok("https://acme-v02.api.letsencrypt.org/directory".to_owned())
                        }
                        "letsencrypt-staging" => {
                            Ok("https://acme-staging-v02.api.letsencrypt.org/directory".to_owned())
                        }
                        _ if s.starts_with("https://") || s.starts_with("http://") => {
                            Ok(s.to_owned())
                        }
                        _ => Err(
                            "must be `letsencrypt`, `letsencrypt-staging` or an ACME directory URL"
                                .into(),
                        ),
                    },
                )?
                .unwrap_or_else(|| "https://acme-v02.api.letsencrypt.org/directory".into()),
            acme_root_certificates_file: layer.get(
                "acme_root_certificates_file",
                f.acme_root_certificates_file
                    .clone()
                    .map(|p| p.display().to_string()),
                readable_file,
            )?,
            acme_orders_limit: layer
                .get(
                    "acme_orders_limit",
                    f.acme_orders_limit.map(|n| n.to_string()),
                    |s| {
                        s.parse::<u32>()
                            .map_err(|_| "must be a whole number (0: no limit)".to_owned())
                    },
                )?
                .unwrap_or(300),
            acme_orders_window_secs: layer
                .get(
                    "acme_orders_window_secs",
                    f.acme_orders_window_secs.map(|n| n.to_string()),
                    positive,
                )?
                .unwrap_or(3 * 3600),
            ssl_resolver: layer.get("ssl_resolver", f.ssl_resolver.clone(), addr)?,
            ssl_nameserver_port: layer
                .get(
                    "ssl_nameserver_port",
                    f.ssl_nameserver_port.map(|n| n.to_string()),
                    |s| match s.parse::<u16>() {
                        Ok(n) if n > 0 => Ok(n),
                        _ => Err("must be a port number".to_owned()),
                    },
                )?
                .unwrap_or(53),
            ssl_probe_roots_file: layer.get(
                "ssl_probe_roots_file",
                f.ssl_probe_roots_file
                    .clone()
                    .map(|p| p.display().to_string()),
                readable_file,
            )?,
            ssl_retry_ms: layer
                .get(
                    "ssl_retry_ms",
                    f.ssl_retry_ms.map(|n| n.to_string()),
                    positive,
                )?
                .unwrap_or(60_000),
            ssl_issue_attempts: layer
                .get(
                    "ssl_issue_attempts",
                    f.ssl_issue_attempts.map(|n| n.to_string()),
                    positive,
                )?
                .map_or(6, |n| u32::try_from(n).unwrap_or(6)),
            ssl_dns_propagation_secs: layer
                .get(
                    "ssl_dns_propagation_secs",
                    f.ssl_dns_propagation_secs.map(|n| n.to_string()),
                    positive,
                )?
                .unwrap_or(120),
            ssl_manual_dns_poll_secs: layer
                .get(
                    "ssl_manual_dns_poll_secs",
                    f.ssl_manual_dns_poll_secs.map(|n| n.to_string()),
                    positive,
                )?
                .unwrap_or(300),
            ssl_install_dirs: layer
                .get(
                    "ssl_install_dirs",
                    f.ssl_install_dirs.clone().map(|v| {
                        v.iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    }),
                    |s| {
                        let dirs: Vec<PathBuf> = s
                            .split(',')
                            .map(str::trim)
                            .filter(|d| !d.is_empty())
                            .map(PathBuf::from)
                            .collect();
                        if dirs.iter().all(|d| d.is_absolute()) {
                            Ok(dirs)
                        } else {
                            Err("must be absolute directories, separated by commas".into())
                        }
                    },
                )?
                .unwrap_or_default(),
            ssl_reload_programs: layer
                .get(
                    "ssl_reload_programs",
                    f.ssl_reload_programs.clone().map(|v| v.join(",")),
                    |s| {
                        Ok(s.split(',')
                            .map(str::trim)
                            .filter(|p| !p.is_empty())
                            .map(str::to_owned)
                            .collect())
                    },
                )?
                .unwrap_or_default(),
            ssl_expiry_warning_days: layer
                .get(
                    "ssl_expiry_warning_days",
                    f.ssl_expiry_warning_days.map(|n| n.to_string()),
                    positive,
                )?
                .map_or(21, |n| u32::try_from(n).unwrap_or(21)),
            ssl_install_verify_secs: layer
                .get(
                    "ssl_install_verify_secs",
                    f.ssl_install_verify_secs.map(|n| n.to_string()),
                    positive,
                )?
                .unwrap_or(60),
            smtp_url: layer.get("smtp_url", f.smtp_url.clone(), |s| {
                if s.starts_with("smtp://") || s.starts_with("smtps://") {
                    Ok(SecretString::new(s))
                } else {
                    Err("must be an smtp:// or smtps:// URL, e.g. smtp://127.0.0.1:25".into())
                }
            })?,
            smtp_from: layer
                .get("smtp_from", f.smtp_from.clone(), |s| {
                    if s.contains('@') {
                        Ok(s.to_owned())
                    } else {
                        Err("must be an e-mail address, e.g. Panel1 <noreply@example.com>".into())
                    }
                })?
                .unwrap_or_else(|| "Panel1 <noreply@panel1.local>".into()),
            sandbox_registry: layer
                .get(
                    "sandbox_registry",
                    f.sandbox_registry.clone().map(|p| p.display().to_string()),
                    |s| Ok(PathBuf::from(s)),
                )?
                .unwrap_or_else(|| data_dir.join("sandbox-registry.sqlite3")),
            sandbox_demo: layer
                .get(
                    "sandbox_demo",
                    f.sandbox_demo.map(|b| b.to_string()),
                    |s| match s {
                        "true" | "1" | "yes" => Ok(true),
                        "false" | "0" | "no" => Ok(false),
                        _ => Err("must be `true` or `false`".into()),
                    },
                )?
                .unwrap_or(true),
            registrar_timeout_secs: layer
                .get(
                    "registrar_timeout_secs",
                    f.registrar_timeout_secs.map(|n| n.to_string()),
                    positive,
                )?
                .unwrap_or(60),
            registrar_check_timeout_secs: layer
                .get(
                    "registrar_check_timeout_secs",
                    f.registrar_check_timeout_secs.map(|n| n.to_string()),
                    positive,
                )?
                .unwrap_or(10),
            registrar_retry_ms: layer
                .get(
                    "registrar_retry_ms",
                    f.registrar_retry_ms.map(|n| n.to_string()),
                    positive,
                )?
                .unwrap_or(5_000),
            transfer_poll_ms: layer
                .get(
                    "transfer_poll_ms",
                    f.transfer_poll_ms.map(|n| n.to_string()),
                    positive,
                )?
                .unwrap_or(600_000),
            registrar_sync_rate_per_minute: layer
                .get(
                    "registrar_sync_rate_per_minute",
                    f.registrar_sync_rate_per_minute.map(|n| n.to_string()),
                    positive,
                )?
                .map_or(120, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            registrar_sync_interval_hours: layer
                .get(
                    "registrar_sync_interval_hours",
                    f.registrar_sync_interval_hours.map(|n| n.to_string()),
                    positive,
                )?
                .map_or(20, |n| u32::try_from(n).unwrap_or(u32::MAX)),
            data_dir,
        })
    }

    /// Settings from the process environment and an optional file.
    pub fn from_env(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Settings::load(file, |k| std::env::var(k).ok())
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.expose().starts_with("sqlite:")
    }
}

/// A path to a file that can be read (checked at start-up).
fn readable_file(s: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(s);
    std::fs::metadata(&p)
        .map_err(|e| format!("cannot read {}: {e}", p.display()))
        .and_then(|m| {
            if m.is_file() {
                Ok(p.clone())
            } else {
                Err(format!("{} is not a file", p.display()))
            }
        })
}

struct Layer<'a, E: Fn(&str) -> Option<String>> {
    file_name: &'a str,
    env: &'a E,
}

impl<E: Fn(&str) -> Option<String>> Layer<'_, E> {
    /// The value of `key`: the environment wins over the file; each is checked by `parse`.
    fn get<T>(
        &self,
        key: &str,
        from_file: Option<String>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let var = ENV_VARS
            .iter()
            .find(|(_, k)| *k == key)
            .map(|(v, _)| *v)
            .unwrap_or_default();
        if let Some(v) = (self.env)(var) {
            return parse(v.trim()).map(Some).map_err(|message| ConfigError {
                setting: key.into(),
                source_name: format!("environment variable {var}"),
                message,
            });
        }
        match from_file {
            Some(v) => parse(v.trim()).map(Some).map_err(|message| ConfigError {
                setting: key.into(),
                source_name: format!("config file {}", self.file_name),
                message,
            }),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        let s = Settings::load(None, env(&[])).unwrap();
        assert_eq!(s.http_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(s.dns_addr.to_string(), "127.0.0.1:5353");
        assert_eq!(s.database_url.expose(), "sqlite://./panel1-data/panel1.db");
        assert_eq!(s.master_key_file, PathBuf::from("./panel1-data/master.key"));
        assert!(s.is_sqlite());
    }

    #[test]
    fn file_then_environment() {
        let dir = std::env::temp_dir().join(format!("p1cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("panel1.toml");
        std::fs::write(
            &file,
            "data_dir = \"/srv/p1\"\nhttp_addr = \"0.0.0.0:9000\"\nworker_concurrency = 4\n",
        )
        .unwrap();
        let s =
            Settings::load(Some(&file), env(&[("PANEL1_HTTP_ADDR", "127.0.0.1:9100")])).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/srv/p1"));
        assert_eq!(
            s.http_addr.to_string(),
            "127.0.0.1:9100",
            "the environment wins"
        );
        assert_eq!(s.worker_concurrency, 4);
        assert_eq!(s.database_url.expose(), "sqlite:///srv/p1/panel1.db");
    }

    #[test]
    fn a_bad_setting_names_itself_and_its_source() {
        let e = Settings::load(None, env(&[("PANEL1_HTTP_ADDR", "localhost")])).unwrap_err();
        assert_eq!(e.setting, "http_addr");
        assert!(e.to_string().contains("PANEL1_HTTP_ADDR"), "{e}");
        let e = Settings::load(None, env(&[("PANEL1_DATABASE_URL", "mysql://x")])).unwrap_err();
        assert!(e.to_string().contains("database_url"), "{e}");
        let dir = std::env::temp_dir().join(format!("p1cfg2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.toml");
        std::fs::write(&file, "htp_addr = \"x\"\n").unwrap();
        let e = Settings::load(Some(&file), env(&[])).unwrap_err();
        assert!(e.to_string().contains("htp_addr"), "{e}");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let s = Settings::load(
            None,
            env(&[
                ("PANEL1_DATABASE_URL", "postgres://u:pw@h/db"),
                ("PANEL1_MASTER_KEY", "c2VjcmV0"),
            ]),
        )
        .unwrap();
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("pw@") && !dbg.contains("c2VjcmV0"), "{dbg}");
    }
}
