//! Authentication: API tokens (hashed at rest) and passwords (argon2id).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use panel1_core::crypto::{TOKEN_PREFIX, hash_token, random_bytes};
use panel1_core::time::now_millis;
use panel1_core::{Principal, SecretString};
use panel1_store::tokens;

use crate::{App, AppError, AppResult};

/// How often `last_used_at` is written for a token in use (writing it on every request would
/// turn every read into a write).
const TOUCH_EVERY_MS: i64 = 60_000;

/// The principal behind a bearer token, or `Unauthenticated`. Revoked and expired tokens, and
/// tokens of deleted users, are refused.
pub async fn authenticate_token(app: &App, token: &str) -> AppResult<Principal> {
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
        return Err(AppError::Unauthenticated);
    }
    let now = now_millis();
    let hash = hash_token(token);
    let found = {
        let mut r = app.db.read().await?;
        tokens::authenticate(r.conn(), &hash, now).await?
    };
    let Some((principal, last_used)) = found else {
        return Err(AppError::Unauthenticated);
    };
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
