//! Putting a certificate where it is served, and proving it is served.
//!
//! - [`Installer`]: the trait; [`FilesInstaller`] writes the certificate, chain, full chain
//!   and key atomically (temporary file in the same directory, fsync, rename; the key
//!   `0600`) and runs a reload command without a shell (`nginx -s reload`, `apachectl
//!   graceful`, `systemctl reload haproxy`); [`WebhookInstaller`] POSTs the PEM bundle, signed
//!   like every Panel1 webhook (`Panel1-Signature: v1=<HMAC-SHA256 of "{timestamp}.{body}">`).
//! - [`probe()`]: a TLS handshake with the live endpoint.
//! - [`install_and_verify`]: install, then probe until the endpoint serves the new serial;
//!   an installation whose endpoint still serves another certificate when the time is up is
//!   [`InstallError::NotServing`].

pub mod probe;

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use panel1_core::SecretString;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

pub use self::probe::{ProbeError, ProbeReport, ProbeTarget, probe};
use crate::certificate::CertificateChain;
use crate::keys::PrivateKey;

/// What to install: the chain and its key.
#[derive(Debug, Clone)]
pub struct InstallBundle {
    pub chain: CertificateChain,
    pub key: PrivateKey,
}

/// What an installer did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallReport {
    pub installer: String,
    pub written: Vec<PathBuf>,
    pub command: Option<CommandOutcome>,
    pub webhook_status: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandOutcome {
    pub program: String,
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    #[error("cannot write `{path}`: {reason}; check that the directory exists and is writable")]
    Write { path: PathBuf, reason: String },
    #[error("the reload command `{program}` could not be started: {reason}")]
    ReloadStart { program: String, reason: String },
    #[error("the reload command `{program}` failed (exit status {status:?}): {stderr}")]
    ReloadFailed {
        program: String,
        status: Option<i32>,
        stderr: String,
    },
    #[error("the reload command `{program}` did not finish within {timeout:?}")]
    ReloadTimeout { program: String, timeout: Duration },
    #[error(
        "refusing to send a private key to `{url}` over plain HTTP; use an https:// URL (plain HTTP is accepted on loopback only)"
    )]
    InsecureWebhook { url: String },
    #[error("the install webhook `{url}` could not be reached: {reason}")]
    Webhook { url: String, reason: String },
    #[error("the install webhook `{url}` answered HTTP {status}: {body}")]
    WebhookRejected {
        url: String,
        status: u16,
        body: String,
    },
    #[error(
        "{target} still serves {} after {waited:?} instead of the new certificate {expected}{}",
        served.as_deref().map(|s| format!("serial {s}")).unwrap_or_else(|| "nothing".into()),
        detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
    )]
    NotServing {
        target: String,
        expected: String,
        served: Option<String>,
        waited: Duration,
        detail: Option<String>,
    },
}

/// Puts a certificate in place where a server will serve it.
#[async_trait]
pub trait Installer: Send + Sync {
    /// A short name for logs and reports (`files`, `webhook`).
    fn kind(&self) -> &'static str;

    async fn install(&self, bundle: &InstallBundle) -> Result<InstallReport, InstallError>;
}

/// A command run without a shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadCommand {
    pub program: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default = "default_reload_timeout")]
    pub timeout: Duration,
}

fn default_reload_timeout() -> Duration {
    Duration::from_secs(30)
}

impl ReloadCommand {
    pub fn new<I, S>(program: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            timeout: default_reload_timeout(),
        }
    }

    pub async fn run(&self) -> Result<CommandOutcome, InstallError> {
        let child = tokio::process::Command::new(&self.program)
            .args(&self.args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(self.timeout, child)
            .await
            .map_err(|_| InstallError::ReloadTimeout {
                program: self.program.clone(),
                timeout: self.timeout,
            })?
            .map_err(|e| InstallError::ReloadStart {
                program: self.program.clone(),
                reason: e.to_string(),
            })?;
        let clip = |b: &[u8]| {
            let s = String::from_utf8_lossy(b);
            s.trim().chars().take(2000).collect::<String>()
        };
        let outcome = CommandOutcome {
            program: self.program.clone(),
            status: out.status.code(),
            stdout: clip(&out.stdout),
            stderr: clip(&out.stderr),
        };
        if !out.status.success() {
            return Err(InstallError::ReloadFailed {
                program: outcome.program,
                status: outcome.status,
                stderr: outcome.stderr,
            });
        }
        Ok(outcome)
    }
}

/// Writes PEM files and runs a reload command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesInstaller {
    /// The leaf alone.
    pub certificate_path: Option<PathBuf>,
    /// The intermediates alone.
    pub chain_path: Option<PathBuf>,
    /// Leaf and intermediates (nginx `ssl_certificate`, HAProxy's bundle head).
    pub fullchain_path: Option<PathBuf>,
    /// The private key, written `0600`.
    pub key_path: PathBuf,
    pub reload: Option<ReloadCommand>,
}

impl FilesInstaller {
    /// The usual layout in one directory: `cert.pem`, `chain.pem`, `fullchain.pem`,
    /// `privkey.pem`.
    pub fn in_dir(dir: impl AsRef<Path>, reload: Option<ReloadCommand>) -> Self {
        let d = dir.as_ref();
        Self {
            certificate_path: Some(d.join("cert.pem")),
            chain_path: Some(d.join("chain.pem")),
            fullchain_path: Some(d.join("fullchain.pem")),
            key_path: d.join("privkey.pem"),
            reload,
        }
    }
}

/// Writes `contents` to `path` atomically: a temporary file in the same directory created
/// with `mode`, synced, renamed over `path`, and the directory synced.
pub async fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), InstallError> {
    let err = |e: std::io::Error| InstallError::Write {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .ok_or_else(|| err(std::io::Error::other("the path has no file name")))?;
    let suffix = hex::encode(rand::random::<[u8; 6]>());
    let tmp = dir.join(format!(".{}.{suffix}.tmp", file_name.to_string_lossy()));
    let result = async {
        let mut f = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .await?;
        // The umask may have narrowed the mode; set it exactly.
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
            .await?;
        f.write_all(contents).await?;
        f.sync_all().await?;
        drop(f);
        tokio::fs::rename(&tmp, path).await?;
        if let Ok(d) = tokio::fs::File::open(dir).await {
            let _ = d.sync_all().await;
        }
        Ok::<_, std::io::Error>(())
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result.map_err(err)
}

#[async_trait]
impl Installer for FilesInstaller {
    fn kind(&self) -> &'static str {
        "files"
    }

    #[tracing::instrument(skip_all, fields(installer = "files", serial = %bundle.chain.leaf.serial_hex))]
    async fn install(&self, bundle: &InstallBundle) -> Result<InstallReport, InstallError> {
        let mut written = Vec::new();
        // The key first: a server reloading between two writes then finds the new key with
        // the old certificate only if it also ignores our reload, never a half-written file.
        write_atomic(&self.key_path, bundle.key.expose_pem().as_bytes(), 0o600).await?;
        written.push(self.key_path.clone());
        let files = [
            (&self.certificate_path, &bundle.chain.certificate_pem),
            (&self.chain_path, &bundle.chain.chain_pem),
            (&self.fullchain_path, &bundle.chain.fullchain_pem),
        ];
        for (path, pem) in files {
            if let Some(p) = path {
                write_atomic(p, pem.as_bytes(), 0o644).await?;
                written.push(p.clone());
            }
        }
        let command = match &self.reload {
            Some(cmd) => Some(cmd.run().await?),
            None => None,
        };
        tracing::info!(files = written.len(), "certificate files written");
        Ok(InstallReport {
            installer: self.kind().into(),
            written,
            command,
            webhook_status: None,
        })
    }
}

/// POSTs the bundle to a URL, signed with the webhook secret.
#[derive(Debug, Clone)]
pub struct WebhookInstaller {
    pub url: String,
    pub secret: SecretString,
    /// Whether the private key travels in the body (the receiver usually needs it).
    pub include_private_key: bool,
    pub timeout: Duration,
    client: reqwest::Client,
}

/// The JSON body of an install webhook.
#[derive(Debug, Serialize, Deserialize)]
pub struct WebhookInstallBody {
    #[serde(rename = "type")]
    pub kind: String,
    pub names: Vec<String>,
    pub serial: String,
    pub not_after: chrono::DateTime<chrono::Utc>,
    pub certificate_pem: String,
    pub chain_pem: String,
    pub fullchain_pem: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key_pem: Option<String>,
}

/// The event type of install webhooks.
pub const INSTALL_EVENT: &str = "ssl.certificate.install";

impl WebhookInstaller {
    pub fn new(url: impl Into<String>, secret: SecretString) -> Self {
        Self {
            url: url.into(),
            secret,
            include_private_key: true,
            timeout: Duration::from_secs(15),
            client: reqwest::Client::new(),
        }
    }

    fn is_safe_url(&self) -> bool {
        let Ok(u) = reqwest::Url::parse(&self.url) else {
            return false;
        };
        match u.scheme() {
            "https" => true,
            "http" => match u.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            },
            _ => false,
        }
    }
}

#[async_trait]
impl Installer for WebhookInstaller {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    #[tracing::instrument(skip_all, fields(installer = "webhook", url = %self.url, serial = %bundle.chain.leaf.serial_hex))]
    async fn install(&self, bundle: &InstallBundle) -> Result<InstallReport, InstallError> {
        if self.include_private_key && !self.is_safe_url() {
            return Err(InstallError::InsecureWebhook {
                url: self.url.clone(),
            });
        }
        let body = WebhookInstallBody {
            kind: INSTALL_EVENT.into(),
            names: bundle.chain.leaf.names.clone(),
            serial: bundle.chain.leaf.serial_hex.clone(),
            not_after: bundle.chain.leaf.not_after,
            certificate_pem: bundle.chain.certificate_pem.clone(),
            chain_pem: bundle.chain.chain_pem.clone(),
            fullchain_pem: bundle.chain.fullchain_pem.clone(),
            private_key_pem: self
                .include_private_key
                .then(|| bundle.key.expose_pem().to_owned()),
        };
        let bytes = zeroize::Zeroizing::new(serde_json::to_vec(&body).map_err(|e| {
            InstallError::Webhook {
                url: self.url.clone(),
                reason: e.to_string(),
            }
        })?);
        drop(body);
        let ts = chrono::Utc::now().timestamp();
        let sig = panel1_core::crypto::sign_webhook(&self.secret, ts, &bytes);
        let resp = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("panel1-event", INSTALL_EVENT)
            .header(
                "panel1-delivery",
                format!(
                    "{}-{}",
                    bundle.chain.leaf.serial_hex,
                    &bundle.chain.leaf.fingerprint_sha256[..16]
                ),
            )
            .header("panel1-timestamp", ts.to_string())
            .header("panel1-signature", format!("v1={sig}"))
            .body(bytes.to_vec())
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| InstallError::Webhook {
                url: self.url.clone(),
                reason: e.to_string(),
            })?;
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            let text = resp.text().await.unwrap_or_default();
            return Err(InstallError::WebhookRejected {
                url: self.url.clone(),
                status,
                body: text.chars().take(500).collect(),
            });
        }
        tracing::info!(status, "install webhook accepted");
        Ok(InstallReport {
            installer: self.kind().into(),
            written: vec![],
            command: None,
            webhook_status: Some(status),
        })
    }
}

/// The result of an installation that was verified (or not asked to be).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallOutcome {
    pub report: InstallReport,
    pub probe: Option<ProbeReport>,
}

/// Probes until `target` serves `serial_hex`, every `interval`, for at most `timeout`.
pub async fn wait_for_serial(
    target: &ProbeTarget,
    serial_hex: &str,
    timeout: Duration,
    interval: Duration,
) -> Result<ProbeReport, InstallError> {
    let started = tokio::time::Instant::now();
    loop {
        let (served, detail) = match probe(target).await {
            Ok(r) if r.serial_hex.eq_ignore_ascii_case(serial_hex) => return Ok(r),
            Ok(r) => (Some(r.serial_hex), None),
            Err(e) => (None, Some(e.to_string())),
        };
        if started.elapsed() + interval > timeout {
            return Err(InstallError::NotServing {
                target: target.to_string(),
                expected: serial_hex.to_owned(),
                served,
                waited: started.elapsed(),
                detail,
            });
        }
        tokio::time::sleep(interval).await;
    }
}

/// Installs, then (when a target is given) waits until the endpoint serves the new serial.
#[tracing::instrument(skip_all, fields(installer = installer.kind(), serial = %bundle.chain.leaf.serial_hex))]
pub async fn install_and_verify(
    installer: &dyn Installer,
    bundle: &InstallBundle,
    target: Option<&ProbeTarget>,
    verify_timeout: Duration,
) -> Result<InstallOutcome, InstallError> {
    let report = installer.install(bundle).await?;
    let probe = match target {
        Some(t) => {
            let r = wait_for_serial(
                t,
                &bundle.chain.leaf.serial_hex,
                verify_timeout,
                Duration::from_millis(250),
            )
            .await?;
            tracing::info!(target = %t, days_left = r.days_left, trusted = r.trusted, "installation verified");
            Some(r)
        }
        None => None,
    };
    Ok(InstallOutcome { report, probe })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn atomic_writes_replace_files_with_the_right_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("privkey.pem");
        write_atomic(&p, b"one", 0o600).await.unwrap();
        write_atomic(&p, b"two", 0o600).await.unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let missing = dir.path().join("nope/cert.pem");
        let e = write_atomic(&missing, b"x", 0o644).await.unwrap_err();
        assert!(e.to_string().contains("nope/cert.pem"), "{e}");
    }

    #[tokio::test]
    async fn reload_commands_run_without_a_shell_and_report_failures() {
        let ok = ReloadCommand::new("sh", ["-c", "echo reloaded"])
            .run()
            .await
            .unwrap();
        assert_eq!(ok.stdout, "reloaded");
        let e = ReloadCommand::new("sh", ["-c", "echo bad config >&2; exit 3"])
            .run()
            .await
            .unwrap_err();
        assert!(matches!(
            e,
            InstallError::ReloadFailed {
                status: Some(3),
                ..
            }
        ));
        assert!(e.to_string().contains("bad config"));
        // Arguments are not interpreted by a shell.
        let literal = ReloadCommand::new("echo", ["$HOME;", "x"])
            .run()
            .await
            .unwrap();
        assert_eq!(literal.stdout, "$HOME; x");
        let missing = ReloadCommand::new("/nonexistent/reload", Vec::<String>::new())
            .run()
            .await
            .unwrap_err();
        assert!(matches!(missing, InstallError::ReloadStart { .. }));
        let mut slow = ReloadCommand::new("sleep", ["5"]);
        slow.timeout = Duration::from_millis(100);
        assert!(matches!(
            slow.run().await.unwrap_err(),
            InstallError::ReloadTimeout { .. }
        ));
    }

    #[test]
    fn webhooks_refuse_plain_http_off_loopback() {
        let s = SecretString::new("whsec_x");
        assert!(WebhookInstaller::new("https://h.example/install", s.clone()).is_safe_url());
        assert!(WebhookInstaller::new("http://127.0.0.1:8080/i", s.clone()).is_safe_url());
        assert!(WebhookInstaller::new("http://localhost/i", s.clone()).is_safe_url());
        assert!(!WebhookInstaller::new("http://h.example/install", s.clone()).is_safe_url());
        assert!(!WebhookInstaller::new("ftp://h.example/", s).is_safe_url());
    }
}
