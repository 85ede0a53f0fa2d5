//! The HTTP client under instant-acme: rustls on aws-lc-rs, the platform's roots or the
//! configured ones, a timeout on every request (body included), a cap on requests in flight,
//! and a record of every call (method, URL, status, duration, problem type, `Retry-After`).
//!
//! The record feeds two things: the platform's operations log ([`record_calls`]), and the
//! adapter's error mapping, which reads the `Retry-After` of a rate-limited answer that
//! instant-acme does not surface.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::RETRY_AFTER;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};
use rustls::pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

/// One HTTP exchange with a CA. Carries no body: JWS payloads and certificates stay out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaCall {
    pub method: String,
    pub url: String,
    /// The HTTP status, or `None` when no answer came (connection refused, timeout).
    pub status: Option<u16>,
    pub duration_ms: u64,
    /// For error answers: the problem type and detail; for transport failures: the reason.
    pub error: Option<String>,
    pub retry_after_secs: Option<u64>,
}

tokio::task_local! {
    static CALLS: Arc<Mutex<Vec<CaCall>>>;
}

/// Runs `fut` and returns, with its output, every CA HTTP call it made (for the operations
/// log). Calls made by futures spawned onto other tasks are not included.
pub async fn record_calls<F: Future>(fut: F) -> (F::Output, Vec<CaCall>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let out = CALLS.scope(log.clone(), fut).await;
    let calls = std::mem::take(&mut *log.lock().unwrap_or_else(|e| e.into_inner()));
    (out, calls)
}

/// Like [`record_calls`], but nests inside an outer recording (the outer one sees the calls
/// too).
pub(crate) async fn with_calls<F: Future>(fut: F) -> (F::Output, Vec<CaCall>) {
    match CALLS.try_with(Arc::clone) {
        Ok(log) => {
            let start = log.lock().map(|l| l.len()).unwrap_or(0);
            let out = fut.await;
            let calls = log
                .lock()
                .map(|l| l.get(start..).unwrap_or_default().to_vec())
                .unwrap_or_default();
            (out, calls)
        }
        Err(_) => record_calls(fut).await,
    }
}

fn push_call(call: CaCall) {
    tracing::debug!(
        method = %call.method,
        url = %call.url,
        status = ?call.status,
        duration_ms = call.duration_ms,
        error = ?call.error,
        "CA call"
    );
    let _ = CALLS.try_with(|log| {
        if let Ok(mut l) = log.lock() {
            l.push(call);
        }
    });
}

/// A transport failure (no HTTP answer), kept distinct so it maps to `Unreachable`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Connect(String),
}

#[derive(Clone)]
pub(crate) struct AcmeHttp {
    client: HyperClient<HttpsConnector<HttpConnector>, BodyWrapper<Bytes>>,
    permits: Arc<Semaphore>,
    timeout: Duration,
}

impl AcmeHttp {
    /// `roots`: when given, trust only these (a private CA, Pebble); otherwise the
    /// platform's verifier and roots.
    pub(crate) fn new(
        roots: Option<Vec<CertificateDer<'static>>>,
        timeout: Duration,
        max_in_flight: usize,
    ) -> Result<Self, rustls::Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let config = match roots {
            Some(roots) => {
                let mut store = rustls::RootCertStore::empty();
                for r in roots {
                    store.add(r)?;
                }
                builder.with_root_certificates(store).with_no_client_auth()
            }
            None => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(
                    rustls_platform_verifier::Verifier::new(provider)?,
                ))
                .with_no_client_auth(),
        };
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        // Small JWS POSTs written as headers then body would otherwise wait on Nagle +
        // delayed ACK (about 40 ms each).
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_only()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        Ok(Self {
            client: HyperClient::builder(TokioExecutor::new()).build(connector),
            permits: Arc::new(Semaphore::new(max_in_flight.max(1))),
            timeout,
        })
    }

    /// A plain GET outside the JWS flow (directory, renewal information).
    pub(crate) async fn get(
        &self,
        url: &str,
    ) -> Result<(http::response::Parts, Bytes), ExchangeError> {
        let req = Request::get(url)
            .header(http::header::USER_AGENT, USER_AGENT)
            .body(BodyWrapper::default())
            .map_err(|e| ExchangeError::Request(e.to_string()))?;
        self.exchange(req).await
    }

    async fn exchange(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Result<(http::response::Parts, Bytes), ExchangeError> {
        let _permit = self.permits.acquire().await;
        let method = req.method().to_string();
        let url = req.uri().to_string();
        let started = Instant::now();
        let client = self.client.clone();
        let result = tokio::time::timeout(self.timeout, async move {
            let rsp = client
                .request(req)
                .await
                .map_err(|e| TransportError::Connect(connect_reason(&e)))?;
            let (parts, body) = rsp.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| TransportError::Connect(e.to_string()))?
                .to_bytes();
            Ok::<_, TransportError>((parts, body))
        })
        .await
        .unwrap_or(Err(TransportError::Timeout(self.timeout)));
        let duration_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok((parts, body)) => {
                let status = parts.status.as_u16();
                let error = (!parts.status.is_success() && !parts.status.is_redirection())
                    .then(|| problem_summary(&body));
                push_call(CaCall {
                    method,
                    url,
                    status: Some(status),
                    duration_ms,
                    error,
                    retry_after_secs: retry_after(&parts).map(|d| d.as_secs()),
                });
                Ok((parts, body))
            }
            Err(e) => {
                push_call(CaCall {
                    method,
                    url,
                    status: None,
                    duration_ms,
                    error: Some(e.to_string()),
                    retry_after_secs: None,
                });
                Err(ExchangeError::Transport(e))
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ExchangeError {
    #[error("{0}")]
    Request(String),
    #[error(transparent)]
    Transport(TransportError),
}

const USER_AGENT: &str = concat!("panel1-ca/", env!("CARGO_PKG_VERSION"));

/// The innermost cause of a hyper client error ("Connection refused (os error 111)").
fn connect_reason(e: &hyper_util::client::legacy::Error) -> String {
    let mut src: &dyn std::error::Error = e;
    while let Some(next) = src.source() {
        src = next;
    }
    let inner = src.to_string();
    if inner == e.to_string() {
        inner
    } else {
        format!("{e}: {inner}")
    }
}

fn problem_summary(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct P {
        r#type: Option<String>,
        detail: Option<String>,
    }
    match serde_json::from_slice::<P>(body) {
        Ok(p) => format!(
            "{}: {}",
            p.r#type.unwrap_or_default(),
            p.detail.unwrap_or_default()
        ),
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub(crate) fn retry_after(parts: &http::response::Parts) -> Option<Duration> {
    let v = parts.headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(when.timestamp().max(0) as u64);
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

impl HttpClient for AcmeHttp {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let this = self.clone();
        Box::pin(async move {
            match this.exchange(req).await {
                Ok((parts, body)) => Ok(BytesResponse::from(Response::from_parts(
                    parts,
                    BodyWrapper::from(body.to_vec()),
                ))),
                Err(ExchangeError::Transport(e)) => Err(instant_acme::Error::Other(Box::new(e))),
                Err(ExchangeError::Request(e)) => Err(instant_acme::Error::Other(e.into())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let parts = |v: &str| {
            let (p, _) = Response::builder()
                .header(RETRY_AFTER, v)
                .body(())
                .unwrap()
                .into_parts();
            p
        };
        assert_eq!(retry_after(&parts("120")), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after(&parts("Wed, 21 Oct 2015 07:28:00 GMT")),
            Some(Duration::ZERO)
        );
        let later = chrono::Utc::now() + chrono::Duration::seconds(600);
        let d = retry_after(&parts(&later.to_rfc2822())).unwrap();
        assert!(
            d > Duration::from_secs(590) && d <= Duration::from_secs(600),
            "{d:?}"
        );
        assert_eq!(retry_after(&parts("soon")), None);
    }

    #[test]
    fn problem_summaries() {
        assert_eq!(
            problem_summary(
                br#"{"type":"urn:ietf:params:acme:error:rateLimited","detail":"slow down"}"#
            ),
            "urn:ietf:params:acme:error:rateLimited: slow down"
        );
        assert_eq!(
            problem_summary(b"Service Unavailable"),
            "Service Unavailable"
        );
    }
}
