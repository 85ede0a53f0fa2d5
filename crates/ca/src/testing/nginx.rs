use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{TestingError, free_port, wait_for_port};
use crate::install::ReloadCommand;

/// nginx serving TLS for one name on a loopback port, from a private prefix directory.
pub struct Nginx {
    dir: tempfile::TempDir,
    pub port: u16,
    pub server_name: String,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = std::process::Command::new("nginx")
            .args(self.base_args())
            .args(["-s", "stop"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("nginx.pid")) {
            let _ = std::process::Command::new("kill")
                .arg(pid.trim())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

impl Nginx {
    /// Starts nginx with `cert_pem` (full chain) and `key_pem` for `server_name`.
    pub async fn start(
        server_name: &str,
        cert_pem: &str,
        key_pem: &str,
    ) -> Result<Self, TestingError> {
        let dir = tempfile::tempdir()?;
        let d = dir.path();
        std::fs::create_dir_all(d.join("logs"))?;
        std::fs::create_dir_all(d.join("tmp"))?;
        std::fs::write(d.join("site.crt"), cert_pem)?;
        std::fs::write(d.join("site.key"), key_pem)?;
        let port = free_port();
        let p = d.display();
        let conf = format!(
            "worker_processes 1;\npid {p}/nginx.pid;\nerror_log {p}/logs/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log {p}/logs/access.log;\n\
               client_body_temp_path {p}/tmp/body; proxy_temp_path {p}/tmp/proxy; fastcgi_temp_path {p}/tmp/fcgi;\n\
               uwsgi_temp_path {p}/tmp/uwsgi; scgi_temp_path {p}/tmp/scgi;\n\
               server {{ listen 127.0.0.1:{port} ssl; server_name {server_name};\n\
                 ssl_certificate {p}/site.crt; ssl_certificate_key {p}/site.key;\n\
                 ssl_protocols TLSv1.2 TLSv1.3; return 200 \"ok\\n\"; }}\n}}\n"
        );
        std::fs::write(d.join("nginx.conf"), conf)?;
        let me = Self {
            dir,
            port,
            server_name: server_name.to_owned(),
        };
        let out = tokio::process::Command::new("nginx")
            .args(me.base_args())
            .output()
            .await?;
        if !out.status.success() {
            return Err(format!(
                "nginx did not start: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        wait_for_port(port, Duration::from_secs(10)).await?;
        Ok(me)
    }

    fn base_args(&self) -> Vec<String> {
        let d = self.dir.path();
        vec![
            "-c".into(),
            d.join("nginx.conf").display().to_string(),
            "-p".into(),
            d.display().to_string(),
            "-e".into(),
            d.join("logs/error.log").display().to_string(),
        ]
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The file nginx reads as `ssl_certificate` (full chain).
    pub fn cert_path(&self) -> PathBuf {
        self.dir.path().join("site.crt")
    }

    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("site.key")
    }

    /// `nginx -s reload` for this instance.
    pub fn reload_command(&self) -> ReloadCommand {
        let mut args = self.base_args();
        args.extend(["-s".into(), "reload".into()]);
        ReloadCommand::new("nginx", args)
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("logs/error.log")).unwrap_or_default()
    }
}
