//! What went wrong with a registrar call, sorted by what the caller must do next.
//!
//! Error policy: every adapter maps every failure into exactly one of three outcomes, because
//! the caller's next step differs for each and a wrong guess costs money:
//!
//! - [`RegistrarError::Failed`]: the registrar answered and refused. Nothing was done; retrying
//!   the same request gives the same answer. The [`FailureKind`] says why (taken, bad auth
//!   code, insufficient funds, …) and `code`/`message` keep the registrar's own words.
//! - [`RegistrarError::Retryable`]: the request certainly was not applied (connection refused,
//!   HTTP 5xx before processing, rate limit). Retry later, after `retry_after` if given.
//! - [`RegistrarError::UnknownOutcome`]: the request may have been applied (timeout after
//!   sending, connection lost before the answer, an answer that could not be read). The caller
//!   must ask the registrar (`info`, `transfer_status`) what happened before acting again.
//!
//! [`RegistrarError::NotSupported`] marks an optional capability the adapter lacks, and
//! [`RegistrarError::Config`] a setting that must be fixed before any call can work.
//! No variant ever holds a credential or an auth code.

use std::time::Duration;

/// Why a registrar refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// The name is registered by someone (or reserved): it cannot be registered.
    NotAvailable,
    /// The domain is not in this account (or does not exist).
    NotFound,
    /// The transfer auth code (EPP authInfo) is wrong.
    BadAuthCode,
    /// The account's balance does not cover the charge.
    InsufficientFunds,
    /// The registrar does not sell this TLD.
    UnsupportedTld,
    /// A parameter was refused (bad contact data, nameserver, period…).
    InvalidInput,
    /// The credentials were refused (API key, password, client IP not allowed).
    Authentication,
    /// A status on the domain forbids the operation (locked, on hold, pending delete…).
    StatusProhibits,
    /// The domain is not eligible now (renewal past the maximum term, transfer too soon…).
    NotEligible,
    /// A premium name whose price was not accepted.
    PremiumPriceRequired,
    /// Any other refusal; see the registrar's code and message.
    Other,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::NotAvailable => "not_available",
            FailureKind::NotFound => "not_found",
            FailureKind::BadAuthCode => "bad_auth_code",
            FailureKind::InsufficientFunds => "insufficient_funds",
            FailureKind::UnsupportedTld => "unsupported_tld",
            FailureKind::InvalidInput => "invalid_input",
            FailureKind::Authentication => "authentication",
            FailureKind::StatusProhibits => "status_prohibits",
            FailureKind::NotEligible => "not_eligible",
            FailureKind::PremiumPriceRequired => "premium_price_required",
            FailureKind::Other => "other",
        }
    }

    fn hint(self) -> &'static str {
        match self {
            FailureKind::NotAvailable => "choose another name",
            FailureKind::NotFound => {
                "check the name, or import the domain if it is in another account"
            }
            FailureKind::BadAuthCode => "ask the current registrar for the correct auth code",
            FailureKind::InsufficientFunds => "top up the registrar account balance",
            FailureKind::UnsupportedTld => "pick a registrar that sells this TLD",
            FailureKind::InvalidInput => "correct the request",
            FailureKind::Authentication => {
                "check the registrar credentials and that this server's IP address is allowed"
            }
            FailureKind::StatusProhibits => {
                "remove the lock or hold first, or wait for the pending operation"
            }
            FailureKind::NotEligible => "wait until the domain is eligible",
            FailureKind::PremiumPriceRequired => "accept the premium price to register this name",
            FailureKind::Other => "see the registrar's message",
        }
    }
}

/// A failed registrar call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrarError {
    #[error("{registrar} refused {operation}: {message} (registrar code {code}); {}", kind.hint())]
    Failed {
        registrar: String,
        operation: &'static str,
        kind: FailureKind,
        code: String,
        message: String,
    },
    #[error("{registrar} could not process {operation} now: {reason}; it was not applied, retry later{}", retry_after.map(|d| format!(" (after {} s)", d.as_secs())).unwrap_or_default())]
    Retryable {
        registrar: String,
        operation: &'static str,
        reason: String,
        retry_after: Option<Duration>,
    },
    #[error(
        "the outcome of {operation} at {registrar} is unknown ({reason}): it may have been applied; ask the registrar (info or transfer status) before trying again"
    )]
    UnknownOutcome {
        registrar: String,
        operation: &'static str,
        reason: String,
    },
    #[error("{registrar} does not support {operation}")]
    NotSupported {
        registrar: String,
        operation: &'static str,
    },
    #[error("registrar {registrar} is misconfigured: {message}")]
    Config { registrar: String, message: String },
}

impl RegistrarError {
    pub fn failed(
        registrar: impl Into<String>,
        operation: &'static str,
        kind: FailureKind,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Failed {
            registrar: registrar.into(),
            operation,
            kind,
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn retryable(
        registrar: impl Into<String>,
        operation: &'static str,
        reason: impl Into<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        Self::Retryable {
            registrar: registrar.into(),
            operation,
            reason: reason.into(),
            retry_after,
        }
    }

    pub fn unknown(
        registrar: impl Into<String>,
        operation: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Self::UnknownOutcome {
            registrar: registrar.into(),
            operation,
            reason: reason.into(),
        }
    }

    pub fn not_supported(registrar: impl Into<String>, operation: &'static str) -> Self {
        Self::NotSupported {
            registrar: registrar.into(),
            operation,
        }
    }

    pub fn config(registrar: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Config {
            registrar: registrar.into(),
            message: message.into(),
        }
    }

    /// The refusal's kind, when the registrar definitely refused.
    pub fn failure_kind(&self) -> Option<FailureKind> {
        match self {
            Self::Failed { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Whether the registrar definitely did not apply the request and will refuse it again.
    pub fn is_definite(&self) -> bool {
        matches!(
            self,
            Self::Failed { .. } | Self::NotSupported { .. } | Self::Config { .. }
        )
    }

    /// Whether the same request can simply be sent again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. })
    }

    /// Whether the request may have been applied: ask before acting again.
    pub fn is_unknown_outcome(&self) -> bool {
        matches!(self, Self::UnknownOutcome { .. })
    }

    pub fn is_not_supported(&self) -> bool {
        matches!(self, Self::NotSupported { .. })
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Retryable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A stable machine word for the operations log and metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Failed { .. } => "failed",
            Self::Retryable { .. } => "retryable",
            Self::UnknownOutcome { .. } => "unknown_outcome",
            Self::NotSupported { .. } => "not_supported",
            Self::Config { .. } => "config",
        }
    }
}
