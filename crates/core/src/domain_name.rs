//! Domain names as a validated type: IDNA 2008 through UTS 46 processing, label and length
//! rules, mixed-script refusal, and the public suffix list to find the TLD, the public
//! suffix and the registrable domain.
//!
//! A [`DomainName`] is only made by [`DomainName::parse`]: Unicode or A-label (punycode) in,
//! the A-label form stored (what registries and DNS see) and the Unicode form kept for
//! display. Every refusal is a [`ValidationError`] whose `code` names the rule:
//!
//! | code | rule |
//! |---|---|
//! | `required` | empty input |
//! | `labels` | fewer than two labels (`example` is not a domain name you can host) |
//! | `empty_label` | `a..b`, a leading dot |
//! | `label_length` | a label longer than 63 octets in its A-label form |
//! | `length` | more than 253 characters in A-label form (255 octets on the wire) |
//! | `characters` | anything but letters, digits and hyphens (LDH) after mapping |
//! | `hyphen` | a hyphen first or last in a label, or `--` in positions 3–4 of a label that is not an A-label |
//! | `idna` | not valid IDNA 2008: disallowed code points, bad punycode, bad joiners or bidi |
//! | `mixed_script` | a label that mixes scripts (Latin with Cyrillic, …), the homograph trick |
//! | `numeric_tld` | an all-numeric top-level label |

use std::fmt;

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unicode_script::{Script, UnicodeScript};

use crate::validate::ValidationError;

/// Where the public suffix of a name comes from in the public suffix list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuffixKind {
    /// The ICANN section: suffixes run by registries (`com`, `co.uk`). Names directly under
    /// these are what registrars register.
    Icann,
    /// The private section: suffixes run by companies (`github.io`, `blogspot.com`).
    Private,
    /// Not in the list: the suffix is taken to be the last label (the list's `*` rule).
    Unknown,
}

/// A validated, fully qualified domain name (no trailing dot), stored in A-label form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName {
    ascii: String,
    unicode: String,
    /// How many trailing labels form the public suffix.
    suffix_labels: usize,
    suffix_kind: SuffixKind,
}

const MAX_NAME: usize = 253;
const MAX_LABEL: usize = 63;

fn err(code: &str, message: impl Into<String>) -> ValidationError {
    ValidationError::field("", code, message)
}

fn shown(s: &str) -> String {
    s.chars().take(80).collect()
}

impl DomainName {
    /// Parses a domain name typed by a person or sent by an API client: Unicode
    /// (`bücher.example`) or A-labels (`xn--bcher-kva.example`), any case, with or without
    /// one trailing dot.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let trimmed = input.trim();
        let name = trimmed.strip_suffix('.').unwrap_or(trimmed);
        if name.is_empty() {
            return Err(err(
                "required",
                "a domain name is required, like example.com",
            ));
        }
        // Cheap rules first, on the raw text, so the message names the rule.
        if name.len() > 4 * MAX_NAME {
            return Err(err(
                "length",
                format!(
                    "a domain name is at most {MAX_NAME} characters in its ASCII form; this one is {} characters",
                    name.chars().count()
                ),
            ));
        }
        let raw_labels: Vec<&str> = name.split(['.', '。', '．', '｡']).collect();
        if raw_labels.iter().any(|l| l.is_empty()) {
            return Err(err(
                "empty_label",
                format!(
                    "`{}` has an empty label (two dots in a row or a leading dot): remove the extra dot",
                    shown(name)
                ),
            ));
        }
        if raw_labels.len() < 2 {
            return Err(err(
                "labels",
                format!(
                    "`{}` has a single label: a domain name needs at least a name and a TLD, like example.com",
                    shown(name)
                ),
            ));
        }
        if let Some(c) = name
            .chars()
            .find(|c| c.is_ascii() && !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
        {
            return Err(err(
                "characters",
                format!(
                    "`{}` contains `{}`: a domain name may only hold letters, digits and hyphens between its dots",
                    shown(name),
                    c.escape_default()
                ),
            ));
        }

        let ascii = Uts46::new()
            .to_ascii(
                name.as_bytes(),
                AsciiDenyList::STD3,
                Hyphens::Allow,
                DnsLength::Ignore,
            )
            .map_err(|_| {
                err(
                    "idna",
                    format!(
                        "`{}` is not a valid internationalised domain name (IDNA 2008 / UTS 46): it holds a disallowed character, a malformed xn-- label, or misplaced joiners or right-to-left text",
                        shown(name)
                    ),
                )
            })?
            .into_owned();

        if ascii.len() > MAX_NAME {
            return Err(err(
                "length",
                format!(
                    "a domain name is at most {MAX_NAME} characters in its ASCII form; `{}` is {} characters",
                    shown(name),
                    ascii.len()
                ),
            ));
        }
        let labels: Vec<&str> = ascii.split('.').collect();
        for label in &labels {
            if label.is_empty() {
                return Err(err(
                    "empty_label",
                    format!("`{}` has an empty label", shown(name)),
                ));
            }
            if label.len() > MAX_LABEL {
                return Err(err(
                    "label_length",
                    format!(
                        "the label `{}` is {} characters in ASCII form; a label is at most {MAX_LABEL}",
                        shown(label),
                        label.len()
                    ),
                ));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(err(
                    "characters",
                    format!(
                        "the label `{}` may only hold letters, digits and hyphens",
                        shown(label)
                    ),
                ));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(err(
                    "hyphen",
                    format!(
                        "the label `{}` starts or ends with a hyphen, which is not allowed",
                        shown(label)
                    ),
                ));
            }
            if label.len() >= 4 && &label[2..4] == "--" && !label.starts_with("xn--") {
                return Err(err(
                    "hyphen",
                    format!(
                        "the label `{}` has hyphens in the third and fourth positions, which are reserved for xn-- (punycode) labels",
                        shown(label)
                    ),
                ));
            }
        }
        let tld = labels[labels.len() - 1];
        if tld.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(
                "numeric_tld",
                format!(
                    "`{}` ends in an all-numeric label; top-level domains are never numeric (is this an IP address?)",
                    shown(name)
                ),
            ));
        }

        let (unicode, result) =
            Uts46::new().to_unicode(ascii.as_bytes(), AsciiDenyList::STD3, Hyphens::Allow);
        if result.is_err() {
            return Err(err(
                "idna",
                format!(
                    "`{}` is not a valid internationalised domain name (IDNA 2008 / UTS 46)",
                    shown(name)
                ),
            ));
        }
        let unicode = unicode.into_owned();
        for label in unicode.split('.') {
            if let Some((a, b)) = mixed_scripts(label) {
                return Err(err(
                    "mixed_script",
                    format!(
                        "the label `{label}` mixes {} and {} characters, which is refused because it can imitate another name; write it in one script",
                        a.full_name(),
                        b.full_name()
                    ),
                ));
            }
        }

        let (suffix_labels, suffix_kind) = match psl::suffix(ascii.as_bytes()) {
            Some(s) => {
                let kind = match (s.is_known(), s.typ()) {
                    (true, Some(psl::Type::Private)) => SuffixKind::Private,
                    (true, _) => SuffixKind::Icann,
                    (false, _) => SuffixKind::Unknown,
                };
                let n = s.as_bytes().split(|b| *b == b'.').count();
                (n.min(labels.len()), kind)
            }
            None => (1, SuffixKind::Unknown),
        };

        Ok(Self {
            ascii,
            unicode,
            suffix_labels,
            suffix_kind,
        })
    }

    /// The A-label (punycode) form, lowercase: what is stored and sent to registries.
    pub fn as_ascii(&self) -> &str {
        &self.ascii
    }

    /// The Unicode form, for people.
    pub fn unicode(&self) -> &str {
        &self.unicode
    }

    /// Whether any label is an internationalised (xn--) label.
    pub fn is_idn(&self) -> bool {
        self.ascii != self.unicode
    }

    /// The labels, A-label form, from left to right.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.ascii.split('.')
    }

    /// The last label (`uk` for `example.co.uk`).
    pub fn tld(&self) -> &str {
        self.ascii.rsplit('.').next().unwrap_or(&self.ascii)
    }

    /// The public suffix (`co.uk` for `www.example.co.uk`), A-label form.
    pub fn public_suffix(&self) -> &str {
        suffix_of(&self.ascii, self.suffix_labels)
    }

    /// The public suffix in Unicode form.
    pub fn public_suffix_unicode(&self) -> &str {
        suffix_of(&self.unicode, self.suffix_labels)
    }

    /// Where the public suffix comes from.
    pub fn suffix_kind(&self) -> SuffixKind {
        self.suffix_kind
    }

    /// The registrable domain: the public suffix plus one label (`example.co.uk` for
    /// `www.example.co.uk`). `None` when the name is itself a public suffix.
    pub fn registrable_domain(&self) -> Option<DomainName> {
        let total = self.ascii.split('.').count();
        if total <= self.suffix_labels {
            return None;
        }
        let n = self.suffix_labels + 1;
        Some(Self {
            ascii: suffix_of(&self.ascii, n).to_owned(),
            unicode: suffix_of(&self.unicode, n).to_owned(),
            suffix_labels: self.suffix_labels,
            suffix_kind: self.suffix_kind,
        })
    }

    /// Whether this name is exactly a registrable domain (one label under its public suffix),
    /// which is what a registrar can register.
    pub fn is_registrable(&self) -> bool {
        self.ascii.split('.').count() == self.suffix_labels + 1
    }

    /// The label just left of the public suffix (`example` in `www.example.co.uk`), as
    /// registrar APIs that split SLD and TLD want it.
    pub fn sld(&self) -> Option<&str> {
        let labels: Vec<&str> = self.ascii.split('.').collect();
        labels
            .len()
            .checked_sub(self.suffix_labels + 1)
            .map(|i| labels[i])
    }

    /// Whether `self` is `other` or a name below it.
    pub fn is_subdomain_of(&self, other: &DomainName) -> bool {
        self.ascii == other.ascii || self.ascii.ends_with(&format!(".{}", other.ascii))
    }
}

fn suffix_of(name: &str, n: usize) -> &str {
    let mut dots = 0;
    for (i, c) in name.char_indices().rev() {
        if c == '.' {
            dots += 1;
            if dots == n {
                return &name[i + 1..];
            }
        }
    }
    name
}

/// The first two scripts that may not be mixed in one label, following the "highly
/// restrictive" level of Unicode TS 39: one script, or Latin with the Han-based Japanese,
/// Chinese or Korean combinations. Common and inherited characters (digits, hyphen,
/// combining marks) go with any script.
fn mixed_scripts(label: &str) -> Option<(Script, Script)> {
    let mut seen: Vec<Script> = Vec::new();
    for c in label.chars() {
        let s = c.script();
        if matches!(s, Script::Common | Script::Inherited | Script::Unknown) || seen.contains(&s) {
            continue;
        }
        seen.push(s);
    }
    if seen.len() <= 1 {
        return None;
    }
    let allowed: [&[Script]; 3] = [
        &[
            Script::Latin,
            Script::Han,
            Script::Hiragana,
            Script::Katakana,
        ],
        &[Script::Latin, Script::Han, Script::Bopomofo],
        &[Script::Latin, Script::Han, Script::Hangul],
    ];
    if allowed
        .iter()
        .any(|set| seen.iter().all(|s| set.contains(s)))
    {
        return None;
    }
    Some((seen[0], seen[1]))
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.ascii)
    }
}

impl fmt::Debug for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_idn() {
            write!(f, "DomainName({} / {})", self.ascii, self.unicode)
        } else {
            write!(f, "DomainName({})", self.ascii)
        }
    }
}

impl std::str::FromStr for DomainName {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, ValidationError> {
        Self::parse(s)
    }
}

impl AsRef<str> for DomainName {
    fn as_ref(&self) -> &str {
        &self.ascii
    }
}

impl Serialize for DomainName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.ascii)
    }
}

impl<'de> Deserialize<'de> for DomainName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for DomainName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A domain name, Unicode or A-label (punycode) in; answered in A-label form",
            ))
            .max_length(Some(MAX_NAME))
            .examples([serde_json::json!("example.com")])
            .into()
    }
}

impl utoipa::ToSchema for DomainName {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn code(input: &str) -> String {
        DomainName::parse(input).unwrap_err().0[0].code.clone()
    }

    #[test]
    fn ascii_names_are_lowercased_and_split_by_the_suffix_list() {
        let d = DomainName::parse(" WWW.Example.CO.UK. ").unwrap();
        assert_eq!(d.as_ascii(), "www.example.co.uk");
        assert_eq!(d.tld(), "uk");
        assert_eq!(d.public_suffix(), "co.uk");
        assert_eq!(d.suffix_kind(), SuffixKind::Icann);
        assert_eq!(d.sld(), Some("example"));
        assert!(!d.is_registrable());
        let r = d.registrable_domain().unwrap();
        assert_eq!(r.as_ascii(), "example.co.uk");
        assert!(r.is_registrable());
        assert!(d.is_subdomain_of(&r));
        assert!(!r.is_subdomain_of(&d));

        let com = DomainName::parse("example.com").unwrap();
        assert_eq!(com.public_suffix(), "com");
        assert!(com.is_registrable());
        assert_eq!(com.sld(), Some("example"));
        assert!(!com.is_idn());
    }

    #[test]
    fn a_public_suffix_itself_has_no_registrable_domain() {
        let d = DomainName::parse("co.uk").unwrap();
        assert_eq!(d.public_suffix(), "co.uk");
        assert!(d.registrable_domain().is_none());
        assert_eq!(d.sld(), None);
        assert!(!d.is_registrable());
    }

    #[test]
    fn private_and_unknown_suffixes() {
        let d = DomainName::parse("me.github.io").unwrap();
        assert_eq!(d.suffix_kind(), SuffixKind::Private);
        assert_eq!(d.public_suffix(), "github.io");
        let u = DomainName::parse("shop.example.notarealtld").unwrap();
        assert_eq!(u.suffix_kind(), SuffixKind::Unknown);
        assert_eq!(u.public_suffix(), "notarealtld");
        assert_eq!(
            u.registrable_domain().unwrap().as_ascii(),
            "example.notarealtld"
        );
    }

    #[test]
    fn unicode_in_punycode_stored_both_shown() {
        let d = DomainName::parse("Bücher.Example").unwrap();
        assert_eq!(d.as_ascii(), "xn--bcher-kva.example");
        assert_eq!(d.unicode(), "bücher.example");
        assert!(d.is_idn());
        let again = DomainName::parse("xn--bcher-kva.example").unwrap();
        assert_eq!(again, d);
        assert_eq!(again.unicode(), "bücher.example");

        let jp = DomainName::parse("日本語.jp").unwrap();
        assert!(jp.as_ascii().starts_with("xn--"));
        // Japanese mixes Han and kana legitimately.
        DomainName::parse("ひらがなカタカナ漢字.jp").unwrap();
        // Unicode TLDs and the ideographic full stop.
        let cn = DomainName::parse("例子。中国").unwrap();
        assert_eq!(cn.public_suffix_unicode(), "中国");
        assert_eq!(cn.suffix_kind(), SuffixKind::Icann);
    }

    #[test]
    fn mixed_script_names_are_refused_with_the_scripts_named() {
        // Latin "p", Cyrillic "а", then Latin "ypal".
        let e = DomainName::parse("p\u{0430}ypal.com").unwrap_err();
        assert_eq!(e.0[0].code, "mixed_script");
        assert!(e.0[0].message.contains("Latin"), "{}", e.0[0].message);
        assert!(e.0[0].message.contains("Cyrillic"), "{}", e.0[0].message);
        // Whole-Cyrillic labels are fine.
        DomainName::parse("пример.рф").unwrap();
        // Greek with Latin is refused.
        assert_eq!(code("abcα.com"), "mixed_script");
    }

    #[test]
    fn each_rule_is_named() {
        assert_eq!(code(""), "required");
        assert_eq!(code("   "), "required");
        assert_eq!(code("localhost"), "labels");
        assert_eq!(code("a..com"), "empty_label");
        assert_eq!(code(".a.com"), "empty_label");
        assert_eq!(code("exa_mple.com"), "characters");
        assert_eq!(code("exa mple.com"), "characters");
        assert_eq!(code("-example.com"), "hyphen");
        assert_eq!(code("example-.com"), "hyphen");
        assert_eq!(code("ab--cd.com"), "hyphen");
        assert_eq!(code("xn--zz.com"), "idna");
        assert_eq!(code("a\u{200d}b.com"), "idna");
        assert_eq!(code("192.168.1.1"), "numeric_tld");
        assert_eq!(code(&format!("{}.com", "a".repeat(64))), "label_length");
        DomainName::parse(&format!("{}.com", "a".repeat(63))).unwrap();
        let long = format!("{}.com", vec!["a".repeat(60); 5].join("."));
        assert_eq!(code(&long), "length");
        let fits = format!("{}.com", vec!["a".repeat(62); 4].join("."));
        assert_eq!(fits.len(), 255);
        assert_eq!(code(&fits), "length");
        let max = format!(
            "{}.{}.com",
            vec!["a".repeat(62); 3].join("."),
            "a".repeat(60)
        );
        assert_eq!(max.len(), 253);
        DomainName::parse(&max).unwrap();
    }

    #[test]
    fn serde_round_trip_and_refusal() {
        let d: DomainName = serde_json::from_str("\"Bücher.example\"").unwrap();
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            "\"xn--bcher-kva.example\""
        );
        let e = serde_json::from_str::<DomainName>("\"-bad.com\"").unwrap_err();
        assert!(e.to_string().contains("hyphen"), "{e}");
    }

    proptest! {
        #[test]
        fn garbage_never_panics(s in "\\PC{0,300}") {
            let _ = DomainName::parse(&s);
        }

        #[test]
        fn dotted_garbage_never_panics(parts in proptest::collection::vec("[a-z0-9\\-\u{00e0}-\u{00ff}\u{0400}-\u{04ff}\u{4e00}-\u{4e20}_\\.]{0,70}", 0..6)) {
            let _ = DomainName::parse(&parts.join("."));
        }

        #[test]
        fn valid_names_round_trip(labels in proptest::collection::vec("[a-z0-9]([a-z0-9\\-]{0,20}[a-z0-9])?|[à-ö]{1,10}", 1..4), tld in "(com|net|org|co\\.uk|de)") {
            let input = format!("{}.{tld}", labels.join("."));
            if let Ok(d) = DomainName::parse(&input) {
                prop_assert_eq!(DomainName::parse(d.as_ascii()).unwrap(), d.clone());
                prop_assert_eq!(DomainName::parse(d.unicode()).unwrap(), d.clone());
                prop_assert!(d.as_ascii().len() <= 253);
                prop_assert!(d.as_ascii().is_ascii());
                prop_assert!(d.registrable_domain().is_some());
            }
        }
    }
}
