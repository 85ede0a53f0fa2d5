//! One issuance run over the [`CertificateAuthority`] steps, resumable at every point.
//!
//! [`Issuance::run`] places the order (or picks up the one whose URL the caller persisted),
//! has a [`ChallengeSolver`] publish each pending challenge, tells the CA, waits (bounded)
//! for validation, finalizes with a CSR of the caller's key (only if the order is still
//! `ready`), downloads the chain, checks that it names the ordered names and holds the key,
//! and cleans the challenges up. The `on_order` callback sees the order as soon as it exists
//! so its URL can be stored before anything else happens; a job killed anywhere re-runs
//! `Issuance` with that URL and the same (sealed and stored) key, and carries on.
//!
//! The platform's job handler may instead call the trait steps itself, recording each in its
//! validation records; this runner is what the tests and the benchmark use, and a reference
//! for the order of the steps.

use async_trait::async_trait;

use crate::authority::{
    Authorization, CaAccount, CaError, CertificateAuthority, Challenge, Order, OrderRequest,
    OrderStatus, PollPolicy, ValidationMethod,
};
use crate::certificate::CertificateChain;
use crate::keys::{KeyError, PrivateKey};

/// Publishes and removes what challenges need (a TXT record, an HTTP-01 token).
#[async_trait]
pub trait ChallengeSolver: Send + Sync {
    /// The method this solver completes.
    fn method(&self) -> ValidationMethod;

    /// Publishes the challenge; returns once it is visible to the CA (for DNS-01: on the
    /// zone's authoritative servers).
    async fn present(
        &self,
        authorization: &Authorization,
        challenge: &Challenge,
    ) -> Result<(), SolverError>;

    /// Removes what [`ChallengeSolver::present`] published. Failures are logged, not fatal.
    async fn cleanup(
        &self,
        authorization: &Authorization,
        challenge: &Challenge,
    ) -> Result<(), SolverError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not publish the {method} challenge for `{identifier}`: {reason}")]
pub struct SolverError {
    pub identifier: String,
    pub method: ValidationMethod,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    #[error(transparent)]
    Ca(#[from] CaError),
    #[error(transparent)]
    Solver(#[from] SolverError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(
        "the order {order_url} is invalid; it cannot be resumed: place a new order for these names"
    )]
    OrderNotResumable { order_url: String },
    #[error(
        "the certificate issued for order {order_url} does not match the request ({reason}); it was not accepted"
    )]
    Mismatch { order_url: String, reason: String },
}

impl IssueError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, IssueError::Ca(e) if e.is_retryable())
    }
}

/// The result of a successful run.
#[derive(Debug, Clone)]
pub struct Issued {
    pub order_url: String,
    pub chain: CertificateChain,
}

/// The inputs of one run.
pub struct Issuance<'a> {
    pub ca: &'a dyn CertificateAuthority,
    pub account: &'a CaAccount,
    pub request: &'a OrderRequest,
    /// The certificate's key, generated (and stored sealed) before the run.
    pub key: &'a PrivateKey,
    pub solver: &'a dyn ChallengeSolver,
    pub poll: PollPolicy,
    /// The order URL persisted by an earlier, interrupted run.
    pub resume_order_url: Option<&'a str>,
}

impl Issuance<'_> {
    #[tracing::instrument(skip_all, fields(ca = %self.ca.name(), names = %self.request.identifiers))]
    pub async fn run(
        &self,
        on_order: &mut (dyn FnMut(&Order) + Send),
    ) -> Result<Issued, IssueError> {
        let mut order = match self.resume_order_url {
            Some(url) => {
                let o = self.ca.order(self.account, url).await?;
                if o.status == OrderStatus::Invalid {
                    return Err(IssueError::OrderNotResumable {
                        order_url: url.to_owned(),
                    });
                }
                o
            }
            None => self.ca.new_order(self.account, self.request).await?,
        };
        on_order(&order);
        let url = order.url.clone();

        let mut published = Vec::new();
        let outcome = async {
            if order.status == OrderStatus::Pending {
                let todo: Vec<(Authorization, Challenge)> = order
                    .challenges_to_complete(self.solver.method())?
                    .into_iter()
                    .map(|(a, c)| (a.clone(), c.clone()))
                    .collect();
                for (a, c) in &todo {
                    self.solver.present(a, c).await?;
                    published.push((a.clone(), c.clone()));
                }
                let urls: Vec<String> = todo.iter().map(|(_, c)| c.url.clone()).collect();
                if !urls.is_empty() {
                    self.ca.ready(self.account, &url, &urls).await?;
                }
                order = self.ca.poll_ready(self.account, &url, &self.poll).await?;
                on_order(&order);
            }
            if order.status == OrderStatus::Ready {
                let csr = self.key.csr(&self.request.identifiers)?;
                order = self.ca.finalize(self.account, &url, &csr).await?;
                on_order(&order);
            }
            let chain = self.ca.certificate(self.account, &url, &self.poll).await?;
            Ok::<_, IssueError>(chain)
        }
        .await;

        for (a, c) in &published {
            if let Err(e) = self.solver.cleanup(a, c).await {
                tracing::warn!(error = %e, "challenge cleanup failed");
            }
        }
        let chain = outcome?;
        if !chain.matches_key(self.key) {
            return Err(IssueError::Mismatch {
                order_url: url,
                reason: "its public key is not the key of the CSR".into(),
            });
        }
        if !chain.names_match(&self.request.identifiers) {
            return Err(IssueError::Mismatch {
                order_url: url,
                reason: format!(
                    "it names {} instead of {}",
                    chain.leaf.names.join(", "),
                    self.request.identifiers
                ),
            });
        }
        tracing::info!(serial = %chain.leaf.serial_hex, "certificate issued");
        Ok(Issued {
            order_url: url,
            chain,
        })
    }
}

/// HTTP-01 through a web server's document root: writes the key authorization to
/// `<root>/.well-known/acme-challenge/<token>` (created `0644`, atomically) and removes it
/// afterwards.
#[derive(Debug, Clone)]
pub struct WebrootSolver {
    pub root: std::path::PathBuf,
}

impl WebrootSolver {
    fn path(&self, token: &str) -> Option<std::path::PathBuf> {
        // Tokens are base64url (RFC 8555 §8.1): anything else could escape the directory.
        let safe = !token.is_empty()
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        safe.then(|| self.root.join(".well-known/acme-challenge").join(token))
    }
}

#[async_trait]
impl ChallengeSolver for WebrootSolver {
    fn method(&self) -> ValidationMethod {
        ValidationMethod::Http01
    }

    async fn present(&self, a: &Authorization, c: &Challenge) -> Result<(), SolverError> {
        let err = |reason: String| SolverError {
            identifier: a.identifier.clone(),
            method: c.method,
            reason,
        };
        let crate::authority::Publication::Http01 {
            token,
            key_authorization,
            ..
        } = &c.publication
        else {
            return Err(err("a webroot only serves HTTP-01 tokens".into()));
        };
        let path = self
            .path(token)
            .ok_or_else(|| err(format!("the token `{token}` is not base64url")))?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
        }
        crate::install::write_atomic(&path, key_authorization.as_bytes(), 0o644)
            .await
            .map_err(|e| err(e.to_string()))
    }

    async fn cleanup(&self, a: &Authorization, c: &Challenge) -> Result<(), SolverError> {
        if let crate::authority::Publication::Http01 { token, .. } = &c.publication
            && let Some(path) = self.path(token)
        {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(SolverError {
                        identifier: a.identifier.clone(),
                        method: c.method,
                        reason: format!("cannot remove {}: {e}", path.display()),
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authority::{AuthorizationStatus, ChallengeStatus, Publication};

    fn challenge(token: &str) -> (Authorization, Challenge) {
        let c = Challenge {
            url: "https://ca/c/1".into(),
            method: ValidationMethod::Http01,
            status: ChallengeStatus::Pending,
            publication: Publication::Http01 {
                token: token.into(),
                path: format!("/.well-known/acme-challenge/{token}"),
                key_authorization: format!("{token}.thumb"),
            },
            error: None,
        };
        let a = Authorization {
            url: "https://ca/a/1".into(),
            identifier: "example.com".into(),
            wildcard: false,
            status: AuthorizationStatus::Pending,
            challenges: vec![c.clone()],
        };
        (a, c)
    }

    #[tokio::test]
    async fn webroot_writes_and_removes_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let s = WebrootSolver {
            root: dir.path().to_owned(),
        };
        let (a, c) = challenge("tok_en-1");
        s.present(&a, &c).await.unwrap();
        let p = dir.path().join(".well-known/acme-challenge/tok_en-1");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "tok_en-1.thumb");
        s.cleanup(&a, &c).await.unwrap();
        assert!(!p.exists());
        s.cleanup(&a, &c).await.unwrap();
        let (a, c) = challenge("../../etc/passwd");
        assert!(s.present(&a, &c).await.is_err());
    }
}
