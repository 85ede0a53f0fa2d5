//! Pagination: `page` (from 1) and `limit` (1–100), and the page of results with its total.

use serde::{Deserialize, Serialize};

use crate::validate::{FieldError, ValidationError};

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: u32,
    limit: u32,
}

impl PageRequest {
    /// Checks `page` ≥ 1 and 1 ≤ `limit` ≤ 100, naming the field that is wrong.
    pub fn new(page: Option<u32>, limit: Option<u32>) -> Result<Self, ValidationError> {
        let page = page.unwrap_or(1);
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        let mut errors = Vec::new();
        if page == 0 {
            errors.push(FieldError::new("page", "range", "`page` starts at 1"));
        }
        if limit == 0 || limit > MAX_LIMIT {
            errors.push(FieldError::new(
                "limit",
                "range",
                format!("`limit` must be between 1 and {MAX_LIMIT}"),
            ));
        }
        if errors.is_empty() {
            Ok(Self { page, limit })
        } else {
            Err(ValidationError(errors))
        }
    }

    pub fn first(limit: u32) -> Self {
        Self {
            page: 1,
            limit: limit.clamp(1, MAX_LIMIT),
        }
    }

    pub fn page(&self) -> u32 {
        self.page
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.limit)
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            limit: DEFAULT_LIMIT,
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub limit: u32,
    pub total: u64,
}

impl<T> Page<T> {
    pub fn new(items: Vec<T>, req: PageRequest, total: u64) -> Self {
        Self {
            items,
            page: req.page,
            limit: req.limit,
            total,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            page: self.page,
            limit: self.limit,
            total: self.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_pagination_names_the_field() {
        let e = PageRequest::new(Some(0), Some(500)).unwrap_err();
        let fields: Vec<_> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["page", "limit"]);
        let p = PageRequest::new(Some(3), Some(50)).unwrap();
        assert_eq!(p.offset(), 100);
    }
}
