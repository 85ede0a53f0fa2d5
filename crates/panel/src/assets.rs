//! Static assets (one stylesheet, one script), embedded in the binary and served under a
//! name that carries a hash of their content (`panel.3f2a9c1e.css`), so browsers may cache
//! them for a year and still get a new version the moment it changes.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
    /// `panel.<hash>.css`
    versioned: String,
}

const SOURCES: &[(&str, &str, &str)] = &[
    (
        "panel.css",
        "text/css; charset=utf-8",
        include_str!("../assets/panel.css"),
    ),
    (
        "panel.js",
        "text/javascript; charset=utf-8",
        include_str!("../assets/panel.js"),
    ),
];

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(name, content_type, body)| {
            let hash = hex::encode(&Sha256::digest(body.as_bytes())[..6]);
            let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
            Asset {
                name,
                content_type,
                body,
                versioned: format!("{stem}.{hash}.{ext}"),
            }
        })
        .collect()
});

/// The URL of an asset by its plain name (`panel.css` → `/assets/panel.3f2a9c1e0b7d.css`).
pub fn url(name: &str) -> String {
    ASSETS
        .iter()
        .find(|a| a.name == name)
        .map(|a| format!("/assets/{}", a.versioned))
        .unwrap_or_else(|| format!("/assets/{name}"))
}

/// `GET /assets/{file}`: only the current versioned names are served; an old or unknown
/// name is a 404 (so a stale page never gets a mismatched script).
pub async fn serve(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.versioned == file) {
        Some(a) => {
            let mut r = a.body.into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(a.content_type),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            r
        }
        None => (
            StatusCode::NOT_FOUND,
            [(header::CACHE_CONTROL, "no-store")],
            "no such asset; reload the page to get current links",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_a_content_hash() {
        let css = url("panel.css");
        assert!(css.starts_with("/assets/panel."), "{css}");
        assert!(css.ends_with(".css"));
        assert_eq!(css.len(), "/assets/panel.".len() + 12 + ".css".len());
        assert_ne!(url("panel.js"), "/assets/panel.js");
    }
}
