//! The master key: from the settings, or from the key file (created 0600 on first start).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use panel1_app::Settings;
use panel1_core::crypto::{Keyring, MasterKey};

pub fn load_keyring(s: &Settings) -> anyhow::Result<Keyring> {
    let current = match &s.master_key {
        Some(k) => {
            MasterKey::parse(k.expose()).context("setting `master_key` (PANEL1_MASTER_KEY)")?
        }
        None => load_or_create_file(&s.master_key_file)?,
    };
    let previous = s
        .previous_master_keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            MasterKey::parse(k.expose())
                .with_context(|| format!("setting `previous_master_keys` (entry {})", i + 1))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Keyring::new(current, previous))
}

fn load_or_create_file(path: &Path) -> anyhow::Result<MasterKey> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path)?.permissions().mode();
                if mode & 0o077 != 0 {
                    tracing::warn!(file = %path.display(), mode = format!("{:o}", mode & 0o777), "the master key file is readable by others; chmod 600 it");
                }
            }
            MasterKey::parse(&text).with_context(|| {
                format!(
                    "master key file {} (setting `master_key_file`)",
                    path.display()
                )
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let key = MasterKey::generate()?;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts
                .open(path)
                .with_context(|| format!("creating the master key file {}", path.display()))?;
            f.write_all(key.to_text().expose().as_bytes())?;
            f.write_all(b"\n")?;
            f.sync_all()?;
            tracing::info!(file = %path.display(), key_id = key.id(), "created a new master key; back it up: sealed secrets cannot be opened without it");
            Ok(key)
        }
        Err(e) => bail!(
            "cannot read the master key file {} (setting `master_key_file`): {e}",
            path.display()
        ),
    }
}
