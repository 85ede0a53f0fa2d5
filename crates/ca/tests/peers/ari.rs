//! ACME Renewal Information (RFC 9773) and profiles, which Pebble 2.4 predates, against a
//! small local ACME server that follows RFC 8555 for what it implements: a directory with
//! `renewalInfo` and `meta.profiles`, nonces, JWS requests (ES256 signatures verified, nonce
//! and URL checked), accounts, orders echoing `profile` and `replaces`, a rate limit with
//! `Retry-After`, and `renewalInfo` answers with a `suggestedWindow` and `Retry-After`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Utc};
use panel1_ca::renewal::{RenewalBasis, renewal_time_with};
use panel1_ca::testing::{TestCa, serve_tls};
use panel1_ca::{
    AccountRequest, AcmeAuthority, AcmeConfig, CaAccount, CaError, CertificateAuthority,
    CertificateChain, IdentifierSet, OrderRequest,
};
use serde_json::{Value, json};

#[derive(Default)]
struct Server {
    nonces: HashSet<String>,
    accounts: HashMap<String, Vec<u8>>,
    windows: HashMap<String, (DateTime<Utc>, DateTime<Utc>, bool)>,
    orders: Vec<Value>,
    /// How many more new-order requests to refuse with `badNonce`.
    bad_nonces: usize,
}

type Shared = Arc<Mutex<Server>>;

fn base(headers: &HeaderMap) -> String {
    format!("https://{}", headers["host"].to_str().unwrap())
}

fn nonce(s: &Shared) -> String {
    let n = hex::encode(rand::random::<[u8; 12]>());
    s.lock().unwrap().nonces.insert(n.clone());
    n
}

fn problem(s: &Shared, status: StatusCode, kind: &str, detail: &str) -> Response {
    let mut r = (
        status,
        [("content-type", "application/problem+json")],
        json!({"type": format!("urn:ietf:params:acme:error:{kind}"), "detail": detail, "status": status.as_u16()}).to_string(),
    )
        .into_response();
    r.headers_mut()
        .insert("replay-nonce", HeaderValue::from_str(&nonce(s)).unwrap());
    r
}

/// Checks a JWS request (RFC 8555 §6.2–6.5) and returns (account URL or new key, payload).
fn verify(
    s: &Shared,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> Result<(Option<String>, Vec<u8>, Value), Box<Response>> {
    let jws: Value = serde_json::from_slice(body)
        .map_err(|_| Box::new(problem(s, StatusCode::BAD_REQUEST, "malformed", "not JSON")))?;
    let field = |k: &str| {
        jws[k].as_str().ok_or_else(|| {
            Box::new(problem(
                s,
                StatusCode::BAD_REQUEST,
                "malformed",
                "not a flattened JWS",
            ))
        })
    };
    let (p64, pl64, sig64) = (field("protected")?, field("payload")?, field("signature")?);
    let protected: Value =
        serde_json::from_slice(&B64.decode(p64).unwrap_or_default()).map_err(|_| {
            Box::new(problem(
                s,
                StatusCode::BAD_REQUEST,
                "malformed",
                "bad protected header",
            ))
        })?;
    if protected["alg"] != "ES256" {
        return Err(Box::new(problem(
            s,
            StatusCode::BAD_REQUEST,
            "badSignatureAlgorithm",
            "ES256 only",
        )));
    }
    let n = protected["nonce"].as_str().unwrap_or_default().to_owned();
    if !s.lock().unwrap().nonces.remove(&n) {
        return Err(Box::new(problem(
            s,
            StatusCode::BAD_REQUEST,
            "badNonce",
            "unknown or reused nonce",
        )));
    }
    if protected["url"].as_str() != Some(&format!("{}{}", base(headers), uri.path())) {
        return Err(Box::new(problem(
            s,
            StatusCode::BAD_REQUEST,
            "unauthorized",
            "url mismatch",
        )));
    }
    let (kid, key) = if let Some(kid) = protected["kid"].as_str() {
        let k = s.lock().unwrap().accounts.get(kid).cloned();
        (
            Some(kid.to_owned()),
            k.ok_or_else(|| {
                Box::new(problem(
                    s,
                    StatusCode::BAD_REQUEST,
                    "accountDoesNotExist",
                    "no such account",
                ))
            })?,
        )
    } else {
        let jwk = &protected["jwk"];
        let mut key = vec![4u8];
        key.extend(
            B64.decode(jwk["x"].as_str().unwrap_or_default())
                .unwrap_or_default(),
        );
        key.extend(
            B64.decode(jwk["y"].as_str().unwrap_or_default())
                .unwrap_or_default(),
        );
        (None, key)
    };
    let signed = format!("{p64}.{pl64}");
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key)
        .verify(signed.as_bytes(), &B64.decode(sig64).unwrap_or_default())
        .map_err(|_| {
            Box::new(problem(
                s,
                StatusCode::BAD_REQUEST,
                "malformed",
                "bad signature",
            ))
        })?;
    let payload = B64.decode(pl64).unwrap_or_default();
    Ok((
        kid,
        key,
        serde_json::from_slice(&payload).unwrap_or(Value::Null),
    ))
}

async fn directory(headers: HeaderMap) -> impl IntoResponse {
    let b = base(&headers);
    axum::Json(json!({
        "newNonce": format!("{b}/nonce"),
        "newAccount": format!("{b}/acct"),
        "newOrder": format!("{b}/order"),
        "revokeCert": format!("{b}/revoke"),
        "renewalInfo": format!("{b}/renewal-info"),
        "meta": {
            "termsOfService": format!("{b}/terms"),
            "caaIdentities": ["ari.test"],
            "profiles": {"classic": "90 days", "shortlived": "about 6 days"}
        }
    }))
}

async fn new_nonce(State(s): State<Shared>, method: Method) -> Response {
    let status = if method == Method::HEAD {
        StatusCode::OK
    } else {
        StatusCode::NO_CONTENT
    };
    let mut r = status.into_response();
    r.headers_mut()
        .insert("replay-nonce", HeaderValue::from_str(&nonce(&s)).unwrap());
    r.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    r
}

async fn new_account(
    State(s): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    body: axum::body::Bytes,
) -> Response {
    let (_, key, _) = match verify(&s, &headers, &uri, &body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let url = {
        let mut st = s.lock().unwrap();
        let url = format!("{}/acct/{}", base(&headers), st.accounts.len() + 1);
        st.accounts.insert(url.clone(), key);
        url
    };
    let mut r = (StatusCode::CREATED, axum::Json(json!({"status": "valid"}))).into_response();
    r.headers_mut()
        .insert("location", HeaderValue::from_str(&url).unwrap());
    r.headers_mut()
        .insert("replay-nonce", HeaderValue::from_str(&nonce(&s)).unwrap());
    r
}

async fn new_order(
    State(s): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    body: axum::body::Bytes,
) -> Response {
    let (kid, _, payload) = match verify(&s, &headers, &uri, &body) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    if kid.is_none() {
        return problem(
            &s,
            StatusCode::BAD_REQUEST,
            "malformed",
            "orders need a kid",
        );
    }
    let ids = payload["identifiers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    {
        let mut st = s.lock().unwrap();
        if st.bad_nonces > 0 {
            st.bad_nonces -= 1;
            drop(st);
            return problem(
                &s,
                StatusCode::BAD_REQUEST,
                "badNonce",
                "JWS has an invalid anti-replay nonce",
            );
        }
    }
    if ids.iter().any(|i| i["value"] == "limited.example.test") {
        let mut r = problem(
            &s,
            StatusCode::TOO_MANY_REQUESTS,
            "rateLimited",
            "too many new orders for this name",
        );
        r.headers_mut()
            .insert("retry-after", HeaderValue::from_static("120"));
        return r;
    }
    if let Some(p) = payload["profile"].as_str()
        && !["classic", "shortlived"].contains(&p)
    {
        return problem(
            &s,
            StatusCode::BAD_REQUEST,
            "invalidProfile",
            &format!("unknown profile {p}"),
        );
    }
    let b = base(&headers);
    let n = { s.lock().unwrap().orders.len() + 1 };
    let mut order = json!({
        "status": "pending",
        "expires": (Utc::now() + chrono::Duration::days(7)).to_rfc3339(),
        "identifiers": ids,
        "authorizations": [],
        "finalize": format!("{b}/order/{n}/finalize"),
    });
    for k in ["profile", "replaces"] {
        if !payload[k].is_null() {
            order[k] = payload[k].clone();
        }
    }
    s.lock().unwrap().orders.push(order.clone());
    let mut r = (StatusCode::CREATED, axum::Json(order)).into_response();
    r.headers_mut().insert(
        "location",
        HeaderValue::from_str(&format!("{b}/order/{n}")).unwrap(),
    );
    r.headers_mut()
        .insert("replay-nonce", HeaderValue::from_str(&nonce(&s)).unwrap());
    r
}

async fn renewal_info(State(s): State<Shared>, Path(id): Path<String>) -> Response {
    let w = s.lock().unwrap().windows.get(&id).copied();
    match w {
        Some((start, end, with_retry_after)) => {
            let mut r = axum::Json(json!({
                "suggestedWindow": {"start": start.to_rfc3339(), "end": end.to_rfc3339()},
                "explanationURL": "https://ari.test/why"
            }))
            .into_response();
            if with_retry_after {
                r.headers_mut()
                    .insert("retry-after", HeaderValue::from_static("21600"));
            }
            r
        }
        None => problem(
            &s,
            StatusCode::NOT_FOUND,
            "malformed",
            "unknown certificate identifier",
        ),
    }
}

async fn start() -> (
    Shared,
    AcmeAuthority,
    CaAccount,
    tokio::task::JoinHandle<()>,
) {
    let shared: Shared = Arc::default();
    let app = axum::Router::new()
        .route("/dir", axum::routing::get(directory))
        .route("/nonce", axum::routing::head(new_nonce).get(new_nonce))
        .route("/acct", axum::routing::post(new_account))
        .route("/order", axum::routing::post(new_order))
        .route("/renewal-info/{id}", axum::routing::get(renewal_info))
        .with_state(shared.clone());
    let tls_ca = TestCa::new("ARI responder CA").unwrap();
    let (addr, task) = serve_tls(app, &tls_ca).await.unwrap();
    let mut cfg = AcmeConfig::new("ari", format!("https://{addr}/dir"));
    cfg.root_certificates_pem = Some(tls_ca.cert_pem.clone());
    let ca = AcmeAuthority::new(cfg).unwrap();
    let account = ca
        .create_account(&AccountRequest {
            terms_of_service_agreed: true,
            ..Default::default()
        })
        .await
        .unwrap();
    (shared, ca, account, task)
}

#[tokio::test]
async fn renewal_information_sets_the_renewal_time() {
    let (shared, ca, account, _task) = start().await;
    let dir = ca.directory().await.unwrap();
    assert!(dir.renewal_info);
    assert_eq!(dir.caa_identities, ["ari.test"]);

    // A certificate with an authority key identifier, as CAs issue them.
    let issuer = TestCa::new("Issuer").unwrap();
    let (pem, _) = issuer.leaf(&["ari.example.test"]).unwrap();
    let cert = CertificateChain::from_pem(&pem).unwrap().leaf;
    let id = cert.ari_id.clone().unwrap();
    let start: DateTime<Utc> = "2030-01-10T00:00:00Z".parse().unwrap();
    let end: DateTime<Utc> = "2030-01-12T00:00:00Z".parse().unwrap();
    shared
        .lock()
        .unwrap()
        .windows
        .insert(id, (start, end, true));

    let info = ca.renewal_info(&account, &cert).await.unwrap();
    assert_eq!(info.window.start, start);
    assert_eq!(info.window.end, end);
    assert_eq!(info.retry_after, Duration::from_secs(21600));
    assert_eq!(
        info.explanation_url.as_deref(),
        Some("https://ari.test/why")
    );
    let now: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
    let when = renewal_time_with(
        cert.not_before,
        cert.not_after,
        Some(&info.window),
        now,
        0.5,
    );
    assert_eq!(when.basis, RenewalBasis::AriWindow);
    assert_eq!(
        when.at,
        "2030-01-11T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );

    // No Retry-After (it is only a SHOULD): ask again in six hours.
    let (quiet, _) = issuer.leaf(&["quiet.example.test"]).unwrap();
    let quiet = CertificateChain::from_pem(&quiet).unwrap().leaf;
    shared
        .lock()
        .unwrap()
        .windows
        .insert(quiet.ari_id.clone().unwrap(), (start, end, false));
    let info = ca.renewal_info(&account, &quiet).await.unwrap();
    assert_eq!(info.retry_after, Duration::from_secs(6 * 3600));

    // A certificate the CA does not know: its refusal, not a silent default.
    let (other, _) = issuer.leaf(&["unknown.example.test"]).unwrap();
    let other = CertificateChain::from_pem(&other).unwrap().leaf;
    let err = ca.renewal_info(&account, &other).await.unwrap_err();
    assert!(matches!(err, CaError::Rejected { .. }), "{err}");

    // A renewal order names the certificate it replaces.
    let mut req = OrderRequest::dv(IdentifierSet::new(["ari.example.test"]).unwrap());
    req.replaces = cert.ari_id.clone();
    let order = ca.new_order(&account, &req).await.unwrap();
    assert_eq!(order.replaces, cert.ari_id);
}

#[tokio::test]
async fn profiles_and_rate_limits() {
    let (shared, ca, account, _task) = start().await;
    let dir = ca.directory().await.unwrap();
    assert_eq!(
        dir.profiles.keys().collect::<Vec<_>>(),
        ["classic", "shortlived"]
    );

    let mut req = OrderRequest::dv(IdentifierSet::new(["short.example.test"]).unwrap());
    req.profile = Some("shortlived".into());
    let order = ca.new_order(&account, &req).await.unwrap();
    assert_eq!(order.profile.as_deref(), Some("shortlived"));
    assert_eq!(shared.lock().unwrap().orders[0]["profile"], "shortlived");

    req.profile = Some("forever".into());
    let err = ca.new_order(&account, &req).await.unwrap_err();
    let CaError::Rejected { problem, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(problem.short_kind(), Some("invalidProfile"));
    assert!(!err.is_retryable());

    let limited = OrderRequest::dv(IdentifierSet::new(["limited.example.test"]).unwrap());
    let err = ca.new_order(&account, &limited).await.unwrap_err();
    let CaError::RateLimited {
        retry_after,
        detail,
        ..
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!(*retry_after, Some(Duration::from_secs(120)));
    assert!(detail.contains("too many"));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn rejected_nonces_are_retried_without_duplicating_the_order() {
    let (shared, ca, account, _task) = start().await;
    // More rejections in a row than instant-acme's own three tries.
    shared.lock().unwrap().bad_nonces = 4;
    let req = OrderRequest::dv(IdentifierSet::new(["nonce.example.test"]).unwrap());
    let (order, calls) = panel1_ca::acme::record_calls(ca.new_order(&account, &req)).await;
    order.unwrap();
    assert_eq!(shared.lock().unwrap().orders.len(), 1);
    assert_eq!(calls.iter().filter(|c| c.status == Some(400)).count(), 4);
    // A CA that never stops rejecting ends with its refusal, after a bounded number of tries.
    shared.lock().unwrap().bad_nonces = usize::MAX;
    let (err, calls) = panel1_ca::acme::record_calls(ca.new_order(&account, &req)).await;
    let err = err.unwrap_err();
    assert!(
        matches!(&err, CaError::Rejected { problem, .. } if problem.short_kind() == Some("badNonce")),
        "{err}"
    );
    assert_eq!(calls.iter().filter(|c| c.status == Some(400)).count(), 12);
}
