//! Posted forms: the fields (parsed once by the CSRF layer) and the errors shown next to them.

use std::collections::BTreeMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use panel1_app::AppError;
use panel1_core::ValidationError;
use serde::Serialize;

use crate::error::PageError;

/// The fields of an `application/x-www-form-urlencoded` POST, in order (a name may repeat).
#[derive(Debug, Clone, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    pub fn parse(body: &[u8]) -> Self {
        FormData(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`, trimmed; `""` when absent.
    pub fn text(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    }

    /// The value, untrimmed (passwords).
    pub fn raw(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// `None` for an empty or absent field.
    pub fn opt(&self, name: &str) -> Option<String> {
        Some(self.text(name)).filter(|s| !s.is_empty())
    }

    /// Every value of a repeated field (checkboxes).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// The values to fill a form again after an error (never passwords, never the token).
    pub fn values(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .filter(|(k, _)| !k.starts_with('_') && !k.contains("password") && k != "code")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for FormData {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, PageError> {
        parts.extensions.get::<FormData>().cloned().ok_or_else(|| {
            PageError::Invalid("this address expects a form sent from a Panel1 page".into())
        })
    }
}

/// Field errors by field name, plus errors that belong to the whole form (`""`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Errors {
    pub fields: BTreeMap<String, Vec<String>>,
    /// Every error in order, for the summary at the top of the form.
    pub summary: Vec<SummaryItem>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SummaryItem {
    pub field: String,
    pub message: String,
}

impl Errors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let message = message.into();
        self.fields
            .entry(field.to_owned())
            .or_default()
            .push(message.clone());
        self.summary.push(SummaryItem {
            field: field.to_owned(),
            message,
        });
    }

    /// A form-level error (not tied to one field).
    pub fn form(message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add("", message);
        e
    }

    pub fn is_empty(&self) -> bool {
        self.summary.is_empty()
    }

    /// The service's field errors; nested paths (`events.2`) belong to their top field.
    pub fn from_validation(v: &ValidationError) -> Self {
        Self::from_validation_with(v, |f| f.split('.').next().unwrap_or("").to_owned())
    }

    /// The service's field errors, each path turned into the form's field name by `field`
    /// (`contacts.registrant` → `registrant`, `settings.api_key` → `api_key`).
    pub fn from_validation_with(v: &ValidationError, field: impl Fn(&str) -> String) -> Self {
        let mut e = Self::new();
        for f in &v.0 {
            e.add(&field(&f.field), f.message.clone());
        }
        e
    }
}

/// What a refused form shows again: field errors for bad input, and the message of a
/// conflict (next to its field when it names one) or of a provider that could not answer, at
/// the top. Anything else becomes an error page.
pub fn refusal(e: AppError, field: impl Fn(&str) -> String) -> Result<Errors, PageError> {
    match e {
        AppError::Invalid(v) => Ok(Errors::from_validation_with(&v, field)),
        AppError::Conflict { message, field: f } => {
            let mut errors = Errors::new();
            errors.add(&f.map(|f| field(&f)).unwrap_or_default(), message);
            Ok(errors)
        }
        AppError::Unavailable(m) => Ok(Errors::form(format!(
            "{m}. Nothing was changed; try again in a minute."
        ))),
        other => Err(other.into()),
    }
}

/// The top-level field of a path (`nameservers.2` → `nameservers`).
pub fn top(field: &str) -> String {
    field.split('.').next().unwrap_or("").to_owned()
}

/// The last part of a path (`contacts.registrant` → `registrant`).
pub fn leaf(field: &str) -> String {
    field.rsplit('.').next().unwrap_or("").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use panel1_core::FieldError;

    #[test]
    fn forms_parse_and_keep_passwords_out_of_refills() {
        let f = FormData::parse(b"name=+Ann+&password=p%26w&_csrf=x&events=a&events=b&events=");
        assert_eq!(f.text("name"), "Ann");
        assert_eq!(f.raw("password"), "p&w");
        assert_eq!(f.all("events"), ["a", "b"]);
        let v = f.values();
        assert!(v.contains_key("name") && !v.contains_key("password") && !v.contains_key("_csrf"));
        assert_eq!(f.opt("missing"), None);
    }

    #[test]
    fn nested_field_errors_attach_to_their_field() {
        let v = ValidationError(vec![
            FieldError::new("events.1", "format", "bad pattern"),
            FieldError::new("url", "format", "bad url"),
        ]);
        let e = Errors::from_validation(&v);
        assert_eq!(e.fields["events"], ["bad pattern"]);
        assert_eq!(e.summary.len(), 2);
    }
}
