//! The set of names a certificate is for.
//!
//! [`IdentifierSet`] is the canonical form of an order's names: lower-cased, without a
//! trailing dot, de-duplicated and sorted, so two requests for the same names in another
//! order or case are the same order (its [`IdentifierSet::fingerprint`] is the key to
//! de-duplicate on). A wildcard is allowed only as the whole leftmost label (`*.example.com`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a name cannot be put in a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentifierError {
    #[error("a certificate needs at least one name")]
    Empty,
    #[error(
        "`{name}` is not a valid DNS name for a certificate: {reason}; use letters, digits and hyphens in labels of at most 63 characters, e.g. `www.example.com`"
    )]
    Invalid { name: String, reason: &'static str },
    #[error(
        "`{name}`: a wildcard must be the whole leftmost label followed by a registered name, e.g. `*.example.com`"
    )]
    BadWildcard { name: String },
    #[error(
        "a certificate may hold at most {max} names; {given} were given: split them into several certificates"
    )]
    TooMany { max: usize, given: usize },
}

/// The most names one certificate may carry (Let's Encrypt's limit).
pub const MAX_NAMES: usize = 100;

/// A canonical, non-empty, sorted set of DNS names (wildcards as `*.example.com`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct IdentifierSet(Vec<String>);

impl IdentifierSet {
    /// Parses and normalises names; duplicates (after lower-casing) collapse.
    pub fn new<I, S>(names: I) -> Result<Self, IdentifierError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = Vec::new();
        for n in names {
            out.push(normalize(n.as_ref())?);
        }
        if out.is_empty() {
            return Err(IdentifierError::Empty);
        }
        out.sort();
        out.dedup();
        if out.len() > MAX_NAMES {
            return Err(IdentifierError::TooMany {
                max: MAX_NAMES,
                given: out.len(),
            });
        }
        Ok(Self(out))
    }

    pub fn names(&self) -> &[String] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn has_wildcard(&self) -> bool {
        self.0.iter().any(|n| n.starts_with("*."))
    }

    /// A stable key for the name set (SHA-256 of the sorted names joined by `,`), for
    /// de-duplicating orders for the same names.
    pub fn fingerprint(&self) -> String {
        panel1_core::crypto::sha256_hex(self.0.join(",").as_bytes())
    }
}

impl fmt::Display for IdentifierSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(", "))
    }
}

impl<'de> Deserialize<'de> for IdentifierSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        IdentifierSet::new(v).map_err(serde::de::Error::custom)
    }
}

/// Whether a canonical name is a wildcard (`*.example.com`).
pub fn is_wildcard(name: &str) -> bool {
    name.starts_with("*.")
}

/// The name without its wildcard label: `*.example.com` → `example.com`.
pub fn base_name(name: &str) -> &str {
    name.strip_prefix("*.").unwrap_or(name)
}

/// Normalises one name: trims, lower-cases, drops one trailing dot, checks the syntax.
pub fn normalize(raw: &str) -> Result<String, IdentifierError> {
    let invalid = |reason| IdentifierError::Invalid {
        name: raw.to_owned(),
        reason,
    };
    let mut name = raw.trim().to_ascii_lowercase();
    if name.ends_with('.') {
        name.pop();
    }
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    if !name.is_ascii() {
        return Err(invalid(
            "it contains non-ASCII characters (give internationalised names in their xn-- form)",
        ));
    }
    if name.len() > 253 {
        return Err(invalid("it is longer than 253 characters"));
    }
    let (wild, rest) = match name.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, name.as_str()),
    };
    if rest.contains('*') {
        return Err(IdentifierError::BadWildcard {
            name: raw.to_owned(),
        });
    }
    let labels: Vec<&str> = rest.split('.').collect();
    if labels.len() < 2 {
        return Err(if wild {
            IdentifierError::BadWildcard {
                name: raw.to_owned(),
            }
        } else {
            invalid("it has a single label; certificates are issued for names like `example.com`")
        });
    }
    for l in &labels {
        if l.is_empty() {
            return Err(invalid("it has an empty label"));
        }
        if l.len() > 63 {
            return Err(invalid("a label is longer than 63 characters"));
        }
        if !l
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid(
                "a label contains a character other than a-z, 0-9, `-`",
            ));
        }
        if l.starts_with('-') || l.ends_with('-') {
            return Err(invalid("a label starts or ends with a hyphen"));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(invalid(
            "it looks like an IP address; IP certificates are not supported",
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_sorts_and_deduplicates() {
        let s = IdentifierSet::new(["WWW.Example.com.", "example.com", "www.example.com"]).unwrap();
        assert_eq!(s.names(), ["example.com", "www.example.com"]);
        let t = IdentifierSet::new(["www.example.com", "EXAMPLE.COM"]).unwrap();
        assert_eq!(s, t);
        assert_eq!(s.fingerprint(), t.fingerprint());
        assert_ne!(
            s.fingerprint(),
            IdentifierSet::new(["example.com"]).unwrap().fingerprint()
        );
    }

    #[test]
    fn wildcards_only_as_leftmost_label() {
        let s = IdentifierSet::new(["*.example.com", "example.com"]).unwrap();
        assert!(s.has_wildcard());
        assert_eq!(base_name("*.example.com"), "example.com");
        for bad in [
            "*example.com",
            "www.*.example.com",
            "*.com",
            "a*.example.com",
        ] {
            assert!(IdentifierSet::new([bad]).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        assert_eq!(
            IdentifierSet::new(Vec::<String>::new()),
            Err(IdentifierError::Empty)
        );
        for bad in [
            "",
            "localhost",
            "exa mple.com",
            "-a.example.com",
            "a..example.com",
            "10.0.0.1",
            "ünï.example",
        ] {
            let e = IdentifierSet::new([bad]).unwrap_err();
            assert!(!e.to_string().is_empty());
        }
        let many: Vec<String> = (0..101).map(|i| format!("n{i}.example.com")).collect();
        assert!(matches!(
            IdentifierSet::new(many),
            Err(IdentifierError::TooMany { given: 101, .. })
        ));
    }

    #[test]
    fn deserialising_checks_names() {
        assert!(serde_json::from_str::<IdentifierSet>(r#"["a.example.com"]"#).is_ok());
        assert!(serde_json::from_str::<IdentifierSet>(r#"["bad name"]"#).is_err());
    }
}
