//! Field-level validation errors: what was wrong with which field, and how to fix it.
//! The API turns them into RFC 9457 problem documents with the offending fields.

use serde::Serialize;

/// One thing wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field, as a JSON path into the request (`contacts.0.email`, `limit`).
    pub field: String,
    /// A stable machine code for the rule that failed (`required`, `range`, `format`, …).
    pub code: String,
    /// What is wrong and how to fix it, for a person.
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }

    /// The same error, nested under a parent field (`email` → `contacts.0.email`).
    pub fn under(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_owned()
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }
}

/// Input that was refused: one or more field errors. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.summary())]
pub struct ValidationError(pub Vec<FieldError>);

impl ValidationError {
    pub fn field(
        field: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self(vec![FieldError::new(field, code, message)])
    }

    pub fn summary(&self) -> String {
        self.0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl From<FieldError> for ValidationError {
    fn from(e: FieldError) -> Self {
        Self(vec![e])
    }
}

/// Collects field errors while checking a whole input, so a person sees all of them at once.
#[derive(Debug, Default)]
pub struct Checker(Vec<FieldError>);

impl Checker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    /// Runs a parse and keeps its value, or records its error under `field`.
    pub fn take<T>(&mut self, field: &str, r: Result<T, ValidationError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.extend(e.0.into_iter().map(|fe| fe.under(field)));
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), ValidationError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ValidationError(self.0))
        }
    }
}

/// A required, trimmed, non-empty text of at most `max` characters.
pub fn text(value: &str, max: usize) -> Result<String, ValidationError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ValidationError::field("", "required", "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(ValidationError::field(
            "",
            "length",
            format!("must be at most {max} characters"),
        ));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err(ValidationError::field(
            "",
            "format",
            "must not contain control characters",
        ));
    }
    Ok(v.to_owned())
}

/// An optional text: empty becomes `None`.
pub fn optional_text(value: Option<&str>, max: usize) -> Result<Option<String>, ValidationError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text(v, max).map(Some),
    }
}

/// An e-mail address: one `@`, a non-empty local part, and a domain with a dot.
/// Stored lowercased in the domain part.
pub fn email(value: &str) -> Result<String, ValidationError> {
    let v = value.trim();
    let bad = || {
        ValidationError::field(
            "",
            "format",
            format!(
                "`{}` is not an e-mail address like name@example.com",
                v.chars().take(80).collect::<String>()
            ),
        )
    };
    let (local, domain) = v.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || local.len() > 64
        || v.len() > 254
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
        || v.chars().any(|c| c.is_whitespace() || c.is_control())
        || local.contains('@')
        || !domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
    {
        return Err(bad());
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn email_rules() {
        assert_eq!(email(" Ann@Example.COM ").unwrap(), "Ann@example.com");
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "ann@exa..mple.com",
        ] {
            assert!(email(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn checker_nests_fields() {
        let mut c = Checker::new();
        assert!(c.take("name", text("  ", 10)).is_none());
        assert!(c.take("email", email("x")).is_none());
        let e = c.finish().unwrap_err();
        assert_eq!(e.0[0].field, "name");
        assert_eq!(e.0[1].field, "email");
    }

    proptest! {
        #[test]
        fn validators_never_panic(s in "\\PC{0,300}") {
            let _ = email(&s);
            let _ = text(&s, 100);
        }
    }
}
