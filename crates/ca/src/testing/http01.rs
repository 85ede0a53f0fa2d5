use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use tokio::task::JoinHandle;

use super::TestingError;
use crate::authority::{Authorization, Challenge, Publication, ValidationMethod};
use crate::issue::{ChallengeSolver, SolverError};

type Tokens = Arc<RwLock<HashMap<String, String>>>;

/// Serves HTTP-01 key authorizations at `/.well-known/acme-challenge/<token>` on a fixed
/// loopback port (the CA's HTTP-01 port: Pebble's `httpPort`).
pub struct Http01Server {
    addr: SocketAddr,
    tokens: Tokens,
    task: JoinHandle<()>,
}

impl Drop for Http01Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn token(State(tokens): State<Tokens>, Path(t): Path<String>) -> (StatusCode, String) {
    match tokens.read().ok().and_then(|m| m.get(&t).cloned()) {
        Some(k) => (StatusCode::OK, k),
        None => (StatusCode::NOT_FOUND, "no such token".into()),
    }
}

impl Http01Server {
    pub async fn start(port: u16) -> Result<Self, TestingError> {
        let tokens: Tokens = Arc::default();
        let app = axum::Router::new()
            .route("/.well-known/acme-challenge/{token}", get(token))
            .with_state(tokens.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, tokens, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn set(&self, token: &str, key_authorization: &str) {
        if let Ok(mut m) = self.tokens.write() {
            m.insert(token.to_owned(), key_authorization.to_owned());
        }
    }

    pub fn remove(&self, token: &str) {
        if let Ok(mut m) = self.tokens.write() {
            m.remove(token);
        }
    }

    pub fn len(&self) -> usize {
        self.tokens.read().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl ChallengeSolver for Http01Server {
    fn method(&self) -> ValidationMethod {
        ValidationMethod::Http01
    }

    async fn present(&self, a: &Authorization, c: &Challenge) -> Result<(), SolverError> {
        match &c.publication {
            Publication::Http01 {
                token,
                key_authorization,
                ..
            } => {
                self.set(token, key_authorization);
                Ok(())
            }
            _ => Err(SolverError {
                identifier: a.identifier.clone(),
                method: c.method,
                reason: "the HTTP-01 server only serves HTTP-01 tokens".into(),
            }),
        }
    }

    async fn cleanup(&self, _a: &Authorization, c: &Challenge) -> Result<(), SolverError> {
        if let Publication::Http01 { token, .. } = &c.publication {
            self.remove(token);
        }
        Ok(())
    }
}
