//! Time-based one-time passwords (RFC 6238): HMAC-SHA1, 6 digits, 30-second steps, as every
//! authenticator app expects. A code is accepted for the current step and one step either
//! side (clock drift), and each step only once per user (the last accepted step is stored).
//! Secrets are 160 random bits, sealed with the master key at rest, bound to their user.

use panel1_core::SecretString;
use panel1_core::crypto::random_bytes;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::session::same;

pub const STEP_SECS: u64 = 30;
pub const DIGITS: usize = 6;
const ISSUER: &str = "Panel1";

/// The sealing context of a user's confirmed secret.
pub fn context(user_id: &str) -> String {
    format!("totp:{user_id}")
}

/// The sealing context of a secret being enrolled in a session.
pub fn pending_context(session_hash: &str) -> String {
    format!("totp-pending:{session_hash}")
}

/// A new secret, as base32 (what people type into an app).
pub fn new_secret() -> Result<SecretString, panel1_core::crypto::CryptoError> {
    let bytes = random_bytes::<20>()?;
    Ok(SecretString::new(
        Secret::Raw(bytes.to_vec()).to_encoded().to_string(),
    ))
}

fn totp(secret_b32: &SecretString, account: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret_b32.expose().to_owned())
        .to_bytes()
        .ok()?;
    // The label may not contain ':'.
    let account = account.replace(':', " ");
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECS,
        bytes,
        Some(ISSUER.into()),
        account,
    )
    .ok()
}

/// The `otpauth://` URI for an authenticator app (the secret shown as a link and as text).
pub fn uri(secret_b32: &SecretString, account: &str) -> Option<String> {
    totp(secret_b32, account).map(|t| t.get_url())
}

/// The code for a time (tests and the test suite's "authenticator").
pub fn code_at(secret_b32: &SecretString, unix_secs: u64) -> Option<String> {
    totp(secret_b32, "x").map(|t| t.generate(unix_secs))
}

/// Checks `code` at `unix_secs`; returns the time step it belongs to (to refuse its reuse).
pub fn verify(secret_b32: &SecretString, code: &str, unix_secs: u64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret_b32, "x")?;
    let now_step = unix_secs / STEP_SECS;
    let mut found = None;
    // Check every candidate (no early exit) so timing does not tell which step matched.
    for step in [now_step.saturating_sub(1), now_step, now_step + 1] {
        if same(&t.generate(step * STEP_SECS), &code) {
            found = Some(step);
        }
    }
    found.and_then(|s| i64::try_from(s).ok())
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (the 20-byte ASCII key "12345678901234567890"), last 6 digits.
    #[test]
    fn rfc6238_test_vectors() {
        let secret = SecretString::new(
            Secret::Raw(b"12345678901234567890".to_vec())
                .to_encoded()
                .to_string(),
        );
        for (t, code) in [
            (59, "287082"),
            (1111111109, "081804"),
            (1111111111, "050471"),
            (1234567890, "005924"),
            (2000000000, "279037"),
        ] {
            assert_eq!(code_at(&secret, t).unwrap(), code, "T={t}");
        }
    }

    #[test]
    fn codes_are_accepted_one_step_either_side_only() {
        let s = new_secret().unwrap();
        let t = 1_800_000_000;
        let c = code_at(&s, t).unwrap();
        assert_eq!(verify(&s, &c, t), Some((t / 30) as i64));
        assert_eq!(verify(&s, &c, t + 30), Some((t / 30) as i64));
        assert_eq!(verify(&s, &c, t - 30), Some((t / 30) as i64));
        assert_eq!(verify(&s, &c, t + 90), None);
        assert_eq!(verify(&s, "12345", t), None);
        assert_eq!(verify(&s, "abcdef", t), None);
        let spaced = format!("{} {}", &c[..3], &c[3..]);
        assert!(verify(&s, &spaced, t).is_some());
    }

    #[test]
    fn the_uri_names_issuer_and_account() {
        let s = new_secret().unwrap();
        let u = uri(&s, "ann@example.com").unwrap();
        assert!(
            u.starts_with("otpauth://totp/Panel1:ann%40example.com?secret="),
            "{u}"
        );
        assert!(u.contains(s.expose()));
        assert!(!format!("{s:?}").contains(s.expose()));
    }
}
