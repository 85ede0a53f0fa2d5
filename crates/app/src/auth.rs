//! Authentication: API tokens (hashed at rest) and passwords (argon2id).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use panel1_core::crypto::{TOKEN_PREFIX, hash_token, random_bytes};
use panel1_core::time::now_millis;
use panel1_core::{Principal, SecretString, TokenId, UserId};
use panel1_store::tokens;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{App, AppError, AppResult};

/// How often `last_used_at` is written for a token in use (writing it on every request would
/// turn every read into a write).
const TOUCH_EVERY_MS: i64 = 60_000;

/// How long a verified token is trusted without asking the database again. Revocations and
/// user deletions made in this process take effect at once (they clear the cache); made in
/// another process, within this time.
const CACHE_TTL: Duration = Duration::from_secs(5);
const CACHE_MAX: usize = 10_000;

/// Recently verified tokens, by hash.
#[derive(Default)]
pub struct TokenCache(Mutex<HashMap<String, (Principal, Instant)>>);

impl TokenCache {
    fn get(&self, hash: &str) -> Option<Principal> {
        let map = self.0.lock().ok()?;
        map.get(hash)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(p, _)| p.clone())
    }

    fn put(&self, hash: String, p: Principal) {
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= CACHE_MAX {
                map.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
                if map.len() >= CACHE_MAX {
                    map.clear();
                }
            }
            map.insert(hash, (p, Instant::now()));
        }
    }

    /// Forgets every cached token of `user` (deleted) or the token `token` (revoked).
    pub fn forget(&self, user: Option<&UserId>, token: Option<&TokenId>) {
        if let Ok(mut map) = self.0.lock() {
            map.retain(|_, (p, _)| {
                user.is_none_or(|u| &p.user_id != u)
                    && token.is_none_or(|t| p.token_id.as_ref() != Some(t))
            });
        }
    }
}

/// The principal behind a bearer token, or `Unauthenticated`. Revoked and expired tokens, and
/// tokens of deleted users, are refused.
pub async fn authenticate_token(app: &App, token: &str) -> AppResult<Principal> {
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
        return Err(AppError::Unauthenticated);
    }
    let hash = hash_token(token);
    if let Some(p) = app.token_cache.get(&hash) {
        return Ok(p);
    }
    let now = now_millis();
    let found = {
        let mut r = app.db.read().await?;
        tokens::authenticate(r.conn(), &hash, now).await?
    };
    let Some((principal, last_used)) = found else {
        return Err(AppError::Unauthenticated);
    };
    app.token_cache.put(hash, principal.clone());
    if last_used.is_none_or(|t| now - t > TOUCH_EVERY_MS)
        && let Some(id) = principal.token_id.clone()
    {
        let db = app.db.clone();
        tokio::spawn(async move {
            let r = async {
                let mut tx = db.begin().await?;
                tokens::touch(tx.conn(), &id, now).await?;
                tx.commit().await
            }
            .await;
            if let Err(e) = r {
                tracing::debug!(error = %e, "could not record token use");
            }
        });
    }
    Ok(principal)
}

/// Hashes a password with argon2id and a random salt (PHC string format).
pub fn hash_password(password: &SecretString) -> AppResult<String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .map_err(|e| AppError::internal(anyhow::anyhow!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(anyhow::anyhow!("argon2: {e}")))
}

/// Checks a password against its stored hash, in constant time.
pub fn verify_password(password: &SecretString, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.expose().as_bytes(), &h)
            .is_ok()
    })
}

/// A new random password for bootstrap accounts (shown once).
pub fn generate_password() -> AppResult<SecretString> {
    use base64::Engine;
    let b = random_bytes::<15>()?;
    Ok(SecretString::new(
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b),
    ))
}

/// Password rules: 12 to 256 characters.
pub fn check_password(password: &SecretString) -> Result<(), panel1_core::ValidationError> {
    let n = password.expose().chars().count();
    if !(12..=256).contains(&n) {
        return Err(panel1_core::ValidationError::field(
            "password",
            "length",
            "must be between 12 and 256 characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let p = SecretString::new("correct horse battery");
        let h = hash_password(&p).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&p, &h));
        assert!(!verify_password(
            &SecretString::new("wrong horse battery"),
            &h
        ));
        assert!(!verify_password(&p, "garbage"));
    }
}
