//! The pages, one module per area. Handlers are thin: take the viewer (which proves the
//! role), parse the query or form, call one service of `panel1-app`, render a template or
//! redirect with a one-time message.

pub mod account;
pub mod audit;
pub mod billing;
pub mod certificates;
pub mod client_area;
pub mod clients;
pub mod contacts;
pub mod dashboard;
pub mod dns;
pub mod domains;
pub mod emails;
pub mod jobs;
pub mod registrars;
pub mod tokens;
pub mod users;
pub mod webhooks;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::Value;
use minijinja::context;
use panel1_core::{Page, PageRequest};
use serde::Serialize;

use crate::error::{PageError, PageResult};
use crate::templates::render;

/// Items per page in every list.
pub const PER_PAGE: u32 = 25;

/// Which area a page is shown in: the same page serves staff under `/admin` (every object of
/// the tenant) and a client's users under `/client` (their own, by the services' scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Admin,
    Client,
}

impl Area {
    /// `/admin` or `/client`.
    pub fn base(self) -> &'static str {
        match self {
            Area::Admin => "/admin",
            Area::Client => "/client",
        }
    }

    pub fn is_admin(self) -> bool {
        self == Area::Admin
    }

    /// The menu key of a section in this area (`domains`, `client_domains`).
    pub fn section(self, key: &str) -> String {
        match self {
            Area::Admin => key.to_owned(),
            Area::Client => format!("client_{key}"),
        }
    }
}

/// A client to pick in a form (staff pages).
#[derive(Debug, Clone, Serialize)]
pub struct ClientOption {
    pub id: String,
    pub name: String,
}

/// The tenant's clients for a select (the first 100 by name or creation; a larger tenant
/// finds one by its id or from the client's page).
pub async fn client_options(
    app: &panel1_app::App,
    caller: &panel1_app::Caller,
) -> PageResult<Vec<ClientOption>> {
    let page = panel1_app::clients::list(
        app,
        caller,
        &panel1_store::clients::ClientFilter::default(),
        PageRequest::first(100),
    )
    .await?;
    let mut v: Vec<ClientOption> = page
        .items
        .into_iter()
        .map(|c| ClientOption {
            id: c.id.to_string(),
            name: match &c.details.company {
                Some(co) if !co.is_empty() => format!("{} ({co})", c.details.name),
                _ => c.details.name.clone(),
            },
        })
        .collect();
    v.sort_by_key(|c| c.name.to_lowercase());
    Ok(v)
}

/// The trimmed value of an optional query parameter (`""` when absent).
pub fn q(v: &Option<String>) -> String {
    v.as_deref().unwrap_or("").trim().to_owned()
}

/// The `client_id` filter of a list page: its text (kept in the form and the pager) and the
/// id. Only staff filter by client; a client user's lists hold their own objects already.
pub fn client_filter(
    area: Area,
    raw: &Option<String>,
) -> PageResult<(String, Option<panel1_core::ClientId>)> {
    if !area.is_admin() {
        return Ok((String::new(), None));
    }
    let text = q(raw);
    let id = match text.as_str() {
        "" => None,
        s => Some(s.parse().map_err(|_| {
            PageError::Invalid(format!(
                "`{s}` is not a client id; pick the client from the list."
            ))
        })?),
    };
    Ok((text, id))
}

/// A `YYYY-MM-DD` filter of a list page: its text and the start of that day in UTC.
pub fn day_filter(
    raw: &Option<String>,
) -> PageResult<(String, Option<chrono::DateTime<chrono::Utc>>)> {
    let text = q(raw);
    let day = match text.as_str() {
        "" => None,
        s => Some(parse_day(s).ok_or_else(|| {
            PageError::Invalid(format!(
                "`{s}` is not a date; give it as YYYY-MM-DD, e.g. 2026-12-31."
            ))
        })?),
    };
    Ok((text, day))
}

/// A `YYYY-MM-DD` date as the start of that day in UTC.
pub fn parse_day(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// The page asked for in a query; anything unusable is the first page.
pub fn page_request(page: Option<&str>) -> PageRequest {
    let p = page
        .and_then(|p| p.trim().parse::<u32>().ok())
        .filter(|p| *p >= 1 && *p <= 1_000_000);
    PageRequest::new(p, Some(PER_PAGE)).unwrap_or_default()
}

/// One page of a short list held in memory (tokens, webhooks: a few dozen per tenant).
pub fn page_of<T>(items: Vec<T>, req: PageRequest) -> Page<T> {
    let total = items.len() as u64;
    let skip = usize::try_from(req.offset()).unwrap_or(usize::MAX);
    let items = items
        .into_iter()
        .skip(skip)
        .take(req.limit() as usize)
        .collect();
    Page::new(items, req, total)
}

/// Whether `hay` contains `needle`, ignoring case (an empty needle matches everything).
pub fn matches(hay: &str, needle: &str) -> bool {
    needle.is_empty() || hay.to_lowercase().contains(&needle.to_lowercase())
}

/// Pagination links that keep the list's filters.
#[derive(Debug, Serialize)]
pub struct Pager {
    pub page: u32,
    pub pages: u64,
    pub total: u64,
    pub first: u64,
    pub last: u64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

/// `params` are the list's filters (empty values are left out of the links).
pub fn pager<T>(path: &str, params: &[(&str, &str)], p: &Page<T>) -> Pager {
    let limit = u64::from(p.limit.max(1));
    let pages = p.total.div_ceil(limit).max(1);
    let link = |n: u32| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        if n > 1 {
            q.append_pair("page", &n.to_string());
        }
        let q = q.finish();
        if q.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{q}")
        }
    };
    let first = (u64::from(p.page) - 1) * limit + 1;
    Pager {
        page: p.page,
        pages,
        total: p.total,
        first: if p.items.is_empty() { 0 } else { first },
        last: if p.items.is_empty() {
            0
        } else {
            first + p.items.len() as u64 - 1
        },
        prev: (p.page > 1).then(|| link(p.page - 1)),
        next: (u64::from(p.page) < pages).then(|| link(p.page + 1)),
    }
}

/// A 303 to `to` (after a successful POST).
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

/// What a confirmation page says and where its button posts.
pub struct Confirm<'a> {
    pub title: &'a str,
    pub message: String,
    pub action: String,
    pub button: &'a str,
    pub cancel: String,
}

/// The confirmation page of a destructive action (works without JavaScript; with it, the
/// same question appears in a dialog on the page that linked here).
pub fn confirm_page(base: Value, c: Confirm<'_>) -> PageResult {
    render(
        "confirm.html",
        context! {
            title => c.title,
            message => c.message,
            action => c.action,
            button => c.button,
            cancel => c.cancel,
            ..base,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pager_keeps_filters_and_counts() {
        let p = Page {
            items: vec![1; 25],
            page: 2,
            limit: 25,
            total: 60,
        };
        let g = pager("/admin/clients", &[("q", "a b"), ("status", "")], &p);
        assert_eq!(g.pages, 3);
        assert_eq!((g.first, g.last), (26, 50));
        assert_eq!(g.prev.as_deref(), Some("/admin/clients?q=a+b"));
        assert_eq!(g.next.as_deref(), Some("/admin/clients?q=a+b&page=3"));
        assert_eq!(page_request(Some("x")).page(), 1);
        assert_eq!(page_request(Some("0")).page(), 1);
        assert_eq!(page_request(Some("4")).page(), 4);
        let p = page_of(
            (1..=30).collect::<Vec<_>>(),
            PageRequest::new(Some(2), Some(25)).unwrap(),
        );
        assert_eq!((p.items, p.total), (vec![26, 27, 28, 29, 30], 30));
        assert!(matches("Billing Sync", "sync") && !matches("x", "y") && matches("x", ""));
    }
}
