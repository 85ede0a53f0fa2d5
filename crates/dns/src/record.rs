//! One DNS record: how it travels (`{name, type, ttl, content}`), how it is parsed and
//! checked on its own, and its canonical presentation text.
//!
//! Record data is parsed by hickory-proto into its `RData` types; this module adds the
//! rules a hosting panel needs (field-level errors that say how to fix the input) and a
//! canonical text for each type that BIND and Knot read back unchanged.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use hickory_proto::dnssec::rdata::{DNSSECRData, DS};
use hickory_proto::rr::rdata::svcb::{SVCB, SvcParamKey, SvcParamValue};
use hickory_proto::rr::rdata::{A, AAAA, CAA, CNAME, HTTPS, MX, NS, PTR, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use panel1_core::validate::FieldError;
use serde::{Deserialize, Serialize};

use crate::text::{self, Token};

/// The record types Panel1 accepts in zones (SOA is managed by Panel1 itself).
pub const SUPPORTED_TYPES: &[RecordType] = &[
    RecordType::A,
    RecordType::AAAA,
    RecordType::CAA,
    RecordType::CNAME,
    RecordType::DS,
    RecordType::HTTPS,
    RecordType::MX,
    RecordType::NS,
    RecordType::PTR,
    RecordType::SRV,
    RecordType::SSHFP,
    RecordType::SVCB,
    RecordType::TLSA,
    RecordType::TXT,
];

/// A record as it arrives from the API or a form, as in the Cloudflare and PowerDNS APIs:
/// `name` relative to the zone (`@` for the apex, `www`) or fully qualified
/// (`www.example.com.`), `content` in zone-file presentation format (`10 mail.example.com.`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordInput {
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    /// Seconds; when absent the RRset's current TTL, else the zone's default.
    #[serde(default)]
    pub ttl: Option<u32>,
    pub content: String,
}

/// Limits applied to every record of a zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRules {
    pub min_ttl: u32,
    /// RFC 2181 §8 allows at most 2^31 − 1.
    pub max_ttl: u32,
    /// The TTL of a record whose input names none and whose RRset is new.
    pub default_ttl: u32,
}

impl Default for RecordRules {
    fn default() -> Self {
        Self {
            min_ttl: 30,
            max_ttl: 2_147_483_647,
            default_ttl: 3600,
        }
    }
}

/// A checked record: absolute, lowercase, punycode owner name; TTL; hickory's record data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DnsRecord {
    pub name: Name,
    pub ttl: u32,
    pub data: RData,
}

impl DnsRecord {
    pub fn record_type(&self) -> RecordType {
        self.data.record_type()
    }

    /// The canonical presentation text of the data (`10 mail.example.com.`).
    pub fn content(&self) -> String {
        content_text(&self.data)
    }

    /// The owner relative to `origin` in ASCII (punycode): `@`, `www`, or the absolute name
    /// when it is outside `origin`.
    pub fn relative_name(&self, origin: &Name) -> String {
        relative_name(&self.name, origin)
    }

    /// The owner as a person reads it: Unicode labels, no trailing dot.
    pub fn display_name(&self) -> String {
        display_name(&self.name)
    }

    /// The record as hickory-proto's wire type (class IN).
    pub fn to_hickory(&self) -> Record {
        Record::from_rdata(self.name.clone(), self.ttl, self.data.clone())
    }
}

/// `name` relative to `origin` (`@`, `www`), ASCII; the absolute name when outside it.
pub fn relative_name(name: &Name, origin: &Name) -> String {
    if name == origin {
        return "@".to_owned();
    }
    if origin.zone_of(name) {
        let keep = name.iter().count() - origin.iter().count();
        if let Ok(mut rel) = Name::from_labels(name.iter().take(keep)) {
            rel.set_fqdn(false);
            return rel.to_ascii();
        }
    }
    name.to_ascii()
}

/// A name as a person reads it: Unicode labels (IDN decoded), no trailing dot.
pub fn display_name(name: &Name) -> String {
    let s = name.to_utf8();
    match s.strip_suffix('.') {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => s,
    }
}

/// The canonical presentation text of record data.
pub fn content_text(data: &RData) -> String {
    let mut s = String::new();
    match data {
        RData::A(a) => {
            let _ = write!(s, "{}", a.0);
        }
        RData::AAAA(a) => {
            let _ = write!(s, "{}", a.0);
        }
        RData::CNAME(n) => s.push_str(&n.0.to_ascii()),
        RData::NS(n) => s.push_str(&n.0.to_ascii()),
        RData::PTR(n) => s.push_str(&n.0.to_ascii()),
        RData::MX(mx) => {
            let _ = write!(s, "{} {}", mx.preference, mx.exchange.to_ascii());
        }
        RData::SRV(srv) => {
            let _ = write!(
                s,
                "{} {} {} {}",
                srv.priority,
                srv.weight,
                srv.port,
                srv.target.to_ascii()
            );
        }
        RData::TXT(txt) => {
            for (i, part) in txt.txt_data.iter().enumerate() {
                if i > 0 {
                    s.push(' ');
                }
                text::write_quoted(&mut s, part);
            }
        }
        RData::CAA(caa) => {
            let _ = write!(s, "{} {} ", caa.flags(), caa.tag);
            text::write_quoted(&mut s, &caa.value);
        }
        RData::SVCB(svcb) => write_svcb(&mut s, svcb),
        RData::HTTPS(https) => write_svcb(&mut s, &https.0),
        RData::SOA(soa) => {
            let _ = write!(
                s,
                "{} {} {} {} {} {} {}",
                soa.mname.to_ascii(),
                soa.rname.to_ascii(),
                soa.serial,
                soa.refresh,
                soa.retry,
                soa.expire,
                soa.minimum
            );
        }
        // TLSA, DS, SSHFP: hickory writes numbers and hex, the canonical form.
        other => {
            let _ = write!(s, "{other}");
        }
    }
    s
}

fn write_svcb(s: &mut String, svcb: &SVCB) {
    let _ = write!(s, "{} {}", svcb.svc_priority, svcb.target_name.to_ascii());
    for (key, value) in &svcb.svc_params {
        let _ = write!(s, " {key}");
        match value {
            SvcParamValue::Mandatory(m) => {
                s.push('=');
                join(s, m.0.iter().map(|k| k.to_string()));
            }
            SvcParamValue::Alpn(a) => {
                s.push('=');
                let escaped =
                    a.0.iter()
                        .map(|id| id.replace('\\', "\\\\").replace(',', "\\,"));
                join(s, escaped);
            }
            SvcParamValue::NoDefaultAlpn => {}
            SvcParamValue::Port(p) => {
                let _ = write!(s, "={p}");
            }
            SvcParamValue::Ipv4Hint(h) => {
                s.push('=');
                join(s, h.0.iter().map(|a| a.0.to_string()));
            }
            SvcParamValue::Ipv6Hint(h) => {
                s.push('=');
                join(s, h.0.iter().map(|a| a.0.to_string()));
            }
            SvcParamValue::EchConfigList(e) => {
                let _ = write!(s, "={e}");
            }
            SvcParamValue::Unknown(u) => {
                if !u.0.is_empty() {
                    s.push('=');
                    text::write_quoted(s, &u.0);
                }
            }
        }
    }
}

fn join(s: &mut String, items: impl Iterator<Item = String>) {
    for (i, item) in items.enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&item);
    }
}

/// How names without a trailing dot are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameMode {
    /// Zone-file rule (RFC 1035): relative to the origin.
    Strict,
    /// API rule: relative to the origin, except a name that already ends in the zone's
    /// name (`mail.example.com` in `example.com`), which is taken as written.
    Lenient,
}

/// Parses a domain name relative to `origin`: `@`, relative, absolute, escapes, or Unicode
/// (stored as punycode). The result is absolute and lowercase.
pub(crate) fn parse_name(raw: &str, origin: &Name, mode: NameMode) -> Result<Name, String> {
    if raw == "@" {
        return Ok(origin.clone());
    }
    if raw.is_empty() {
        return Err("a name is required".into());
    }
    if (mode == NameMode::Strict || raw.ends_with('.'))
        && let Some(name) = fast_ascii_name(raw, origin)
    {
        if raw.contains('*') {
            check_name_limits(&name).map_err(|m| format!("`{}`: {m}", cut(raw)))?;
        }
        return Ok(name);
    }
    let parsed = if raw.is_ascii() {
        Name::from_ascii(raw).map(|n| {
            if raw.bytes().any(|b| b.is_ascii_uppercase()) {
                n.to_lowercase()
            } else {
                n
            }
        })
    } else {
        Name::from_utf8(raw)
    };
    let mut name = parsed.map_err(|e| describe_bad_name(raw, &e.to_string()))?;
    if !name.is_fqdn() {
        let mut as_fqdn = name.clone();
        as_fqdn.set_fqdn(true);
        if mode == NameMode::Lenient && origin.zone_of(&as_fqdn) && !origin.is_root() {
            name = as_fqdn;
        } else {
            name = name
                .append_domain(origin)
                .map_err(|_| describe_bad_name(raw, "too long"))?;
        }
    }
    // hickory enforces 63-octet labels and 255-octet names while parsing; wildcards are ours.
    if raw.contains('*') || name.len() > 255 {
        check_name_limits(&name).map_err(|m| format!("`{}`: {m}", cut(raw)))?;
    }
    Ok(name)
}

/// The common case of a host name (letters, digits, `-`, `_`, `*`, dots; no escapes) built
/// straight from its labels, which costs a fraction of the general parser. `None` sends
/// anything else, including every error, to hickory's parser.
fn fast_ascii_name(raw: &str, origin: &Name) -> Option<Name> {
    let b = raw.as_bytes();
    let body = b.strip_suffix(b".").unwrap_or(b);
    if body.is_empty() || body.len() > 253 {
        return None;
    }
    let mut lower = [0u8; 253];
    let lower = &mut lower[..body.len()];
    for (d, &c) in lower.iter_mut().zip(body) {
        if !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'*')) {
            return None;
        }
        *d = c.to_ascii_lowercase();
    }
    let mut name = Name::new();
    for label in lower.split(|&c| c == b'.') {
        if label.is_empty() || label[0] == b'-' || (label.contains(&b'*') && label != b"*") {
            return None;
        }
        name = name.append_label(label).ok()?;
    }
    if body.len() == b.len() {
        name = name.append_domain(origin).ok()?;
    }
    name.set_fqdn(true);
    Some(name)
}

fn check_name_limits(name: &Name) -> Result<(), String> {
    for label in name.iter() {
        if label.len() > 63 {
            return Err(format!(
                "the label `{}` is {} octets long; a label holds at most 63",
                cut(&String::from_utf8_lossy(label)),
                label.len()
            ));
        }
        if label.is_empty() {
            return Err("empty label (two dots in a row)".into());
        }
    }
    if name.len() > 255 {
        return Err(format!(
            "the name is {} octets long; a name holds at most 255",
            name.len()
        ));
    }
    let mut labels = name.iter();
    labels.next();
    if labels.any(|l| l == b"*") {
        return Err("`*` is a wildcard only as the leftmost label (`*.example.com.`)".into());
    }
    Ok(())
}

fn describe_bad_name(raw: &str, err: &str) -> String {
    for label in raw.trim_end_matches('.').split('.') {
        if label.len() > 63 && !label.contains('\\') {
            return format!(
                "`{}`: the label `{}` is {} octets long; a label holds at most 63",
                cut(raw),
                cut(label),
                label.len()
            );
        }
        if label.is_empty() && raw != "." {
            return format!("`{}` has an empty label (two dots in a row)", cut(raw));
        }
    }
    if raw.len() > 255 {
        return format!(
            "`{}` is {} characters long; a name holds at most 255 octets",
            cut(raw),
            raw.len()
        );
    }
    format!(
        "`{}` is not a valid domain name ({err}); use letters, digits, hyphens and dots, \
         or Unicode for an IDN",
        cut(raw)
    )
}

pub(crate) fn cut(s: &str) -> String {
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s.to_owned()
    }
}

/// Parses a record type mnemonic (`MX`, `mx`) among the supported ones.
pub fn parse_type(raw: &str) -> Result<RecordType, FieldError> {
    let upper = raw.trim().to_ascii_uppercase();
    let unsupported = || {
        FieldError::new(
            "type",
            "unsupported_type",
            format!(
                "`{}` is not a record type Panel1 hosts; use one of {}",
                cut(raw),
                SUPPORTED_TYPES
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    };
    if upper == "SOA" {
        return Err(FieldError::new(
            "type",
            "managed_type",
            "the SOA record is managed by Panel1 (its serial changes on every edit); \
             change the zone's SOA settings instead",
        ));
    }
    let t = RecordType::from_str(&upper).map_err(|_| unsupported())?;
    if SUPPORTED_TYPES.contains(&t) {
        Ok(t)
    } else {
        Err(unsupported())
    }
}

/// Parses and checks one record on its own (the rules that need no other record).
/// Field errors name `name`, `type`, `ttl` or `content`. A missing TTL becomes
/// `fallback_ttl`.
pub fn parse_record(
    input: &RecordInput,
    origin: &Name,
    rules: &RecordRules,
    fallback_ttl: u32,
) -> Result<DnsRecord, Vec<FieldError>> {
    let mut errors = Vec::new();
    let rtype = match parse_type(&input.rtype) {
        Ok(t) => Some(t),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let name = match parse_owner(input.name.trim(), origin, NameMode::Lenient) {
        Ok(n) => Some(n),
        Err(m) => {
            errors.push(FieldError::new("name", "name", m));
            None
        }
    };
    let ttl = input.ttl.unwrap_or(fallback_ttl);
    if let Err(m) = check_ttl(ttl, rules) {
        errors.push(FieldError::new("ttl", "range", m));
    }
    let (Some(rtype), Some(name)) = (rtype, name) else {
        return Err(errors);
    };
    let data = match text::content_tokens(&input.content) {
        Err(m) => Err(m),
        Ok(tokens) => parse_rdata(rtype, &tokens, origin, NameMode::Lenient),
    };
    match data {
        Ok(data) => {
            let record = DnsRecord { name, ttl, data };
            errors.extend(check_record(&record, origin));
            if errors.is_empty() {
                Ok(record)
            } else {
                Err(errors)
            }
        }
        Err(m) => {
            errors.push(FieldError::new("content", "content", m));
            Err(errors)
        }
    }
}

/// Rebuilds a record from its stored form (absolute `name`, `rtype`, `ttl` and canonical
/// `content`, as written by [`DnsRecord::content`]), without the write-time rules: a record
/// accepted once still loads if the rules change later.
pub fn parse_stored(
    origin: &Name,
    name: &str,
    rtype: &str,
    ttl: u32,
    content: &str,
) -> Result<DnsRecord, String> {
    let rtype = RecordType::from_str(&rtype.to_ascii_uppercase())
        .map_err(|_| format!("unknown record type `{}`", cut(rtype)))?;
    let name = parse_name(name, origin, NameMode::Strict)?;
    let tokens = text::content_tokens(content)?;
    let data = parse_rdata(rtype, &tokens, origin, NameMode::Strict)?;
    Ok(DnsRecord { name, ttl, data })
}

/// Parses an owner name and checks that it is inside the zone.
pub(crate) fn parse_owner(raw: &str, origin: &Name, mode: NameMode) -> Result<Name, String> {
    let name = parse_name(raw, origin, mode)?;
    if !origin.zone_of(&name) {
        return Err(format!(
            "`{}` is outside the zone {}; use a name ending in {} or a relative name",
            cut(raw),
            origin.to_ascii(),
            origin.to_ascii()
        ));
    }
    Ok(name)
}

pub(crate) fn check_ttl(ttl: u32, rules: &RecordRules) -> Result<(), String> {
    if ttl < rules.min_ttl || ttl > rules.max_ttl {
        return Err(format!(
            "TTL {ttl} is out of range; use {} to {} seconds",
            rules.min_ttl, rules.max_ttl
        ));
    }
    Ok(())
}

/// Parses record data of `rtype` from presentation tokens.
pub(crate) fn parse_rdata(
    rtype: RecordType,
    tokens: &[Token<'_>],
    origin: &Name,
    mode: NameMode,
) -> Result<RData, String> {
    let count = |n: usize, shape: &str| -> Result<(), String> {
        if tokens.len() == n {
            Ok(())
        } else {
            Err(format!(
                "{rtype} content is `{shape}` ({n} field{}), got {} field{}",
                if n == 1 { "" } else { "s" },
                tokens.len(),
                if tokens.len() == 1 { "" } else { "s" }
            ))
        }
    };
    let target = |raw: &str, what: &str| -> Result<Name, String> {
        if raw.parse::<Ipv4Addr>().is_ok() || raw.parse::<Ipv6Addr>().is_ok() {
            return Err(format!(
                "{rtype} needs a host name as its {what}, not the address `{raw}`; \
                 point it at a name that has an A/AAAA record"
            ));
        }
        parse_name(raw, origin, mode)
    };
    let num = |raw: &str, what: &str| -> Result<u16, String> {
        raw.parse::<u16>()
            .map_err(|_| format!("the {what} `{}` must be a number from 0 to 65535", cut(raw)))
    };
    let data = match rtype {
        RecordType::A => {
            count(1, "an IPv4 address like 192.0.2.1")?;
            let ip = tokens[0].raw.parse::<Ipv4Addr>().map_err(|_| {
                format!(
                    "`{}` is not an IPv4 address; write it like 192.0.2.1 (use AAAA for IPv6)",
                    cut(tokens[0].raw)
                )
            })?;
            RData::A(A(ip))
        }
        RecordType::AAAA => {
            count(1, "an IPv6 address like 2001:db8::1")?;
            let ip = tokens[0].raw.parse::<Ipv6Addr>().map_err(|_| {
                format!(
                    "`{}` is not an IPv6 address; write it like 2001:db8::1 (use A for IPv4)",
                    cut(tokens[0].raw)
                )
            })?;
            RData::AAAA(AAAA(ip))
        }
        RecordType::CNAME => {
            count(1, "a host name like target.example.com.")?;
            RData::CNAME(CNAME(target(tokens[0].raw, "target")?))
        }
        RecordType::NS => {
            count(1, "a name server like ns1.example.net.")?;
            RData::NS(NS(target(tokens[0].raw, "name server")?))
        }
        RecordType::PTR => {
            count(1, "a host name like host.example.com.")?;
            RData::PTR(PTR(target(tokens[0].raw, "target")?))
        }
        RecordType::MX => {
            count(2, "preference exchange, like 10 mail.example.com.")?;
            let pref = num(tokens[0].raw, "preference")?;
            RData::MX(MX::new(pref, target(tokens[1].raw, "mail exchange")?))
        }
        RecordType::SRV => {
            count(
                4,
                "priority weight port target, like 10 5 5060 sip.example.com.",
            )?;
            let priority = num(tokens[0].raw, "priority")?;
            let weight = num(tokens[1].raw, "weight")?;
            let port = num(tokens[2].raw, "port")?;
            RData::SRV(SRV::new(
                priority,
                weight,
                port,
                target(tokens[3].raw, "target")?,
            ))
        }
        RecordType::TXT => RData::TXT(parse_txt(tokens)?),
        RecordType::CAA => {
            count(3, "flags tag \"value\", like 0 issue \"letsencrypt.org\"")?;
            let flags = tokens[0]
                .raw
                .parse::<u8>()
                .map_err(|_| "CAA flags must be 0, or 128 for critical".to_owned())?;
            if flags != 0 && flags != 128 {
                return Err(format!(
                    "CAA flags {flags} are not defined; use 0, or 128 for critical"
                ));
            }
            let tag = tokens[1].raw.to_ascii_lowercase();
            if tag.is_empty() || tag.len() > 15 || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(format!(
                    "the CAA tag `{}` must be 1 to 15 letters or digits (issue, issuewild, iodef)",
                    cut(tokens[1].raw)
                ));
            }
            let value = text::char_string(tokens[2].raw)?.into_owned();
            match tag.as_str() {
                "issue" | "issuewild" => {
                    hickory_proto::rr::rdata::caa::read_issuer(&value).map_err(|e| {
                        format!(
                            "the CAA {tag} value `{}` is not `ca-domain[; key=value]` ({e}); \
                             write it like \"letsencrypt.org\" or \";\" to forbid issuance",
                            cut(&String::from_utf8_lossy(&value))
                        )
                    })?;
                }
                "iodef" => {
                    let v = String::from_utf8_lossy(&value);
                    if !(v.starts_with("mailto:")
                        || v.starts_with("https://")
                        || v.starts_with("http://"))
                    {
                        return Err(format!(
                            "the CAA iodef value `{}` must be a mailto:, http: or https: URL",
                            cut(&v)
                        ));
                    }
                }
                _ => {}
            }
            let RData::CAA(mut caa) =
                RData::try_from_str(RecordType::CAA, &format!("{flags} issue \";\""))
                    .map_err(|e| e.to_string())?
            else {
                return Err("CAA could not be built".into());
            };
            set_caa(&mut caa, tag, value);
            RData::CAA(caa)
        }
        RecordType::TLSA => {
            if tokens.len() < 4 {
                return Err(
                    "TLSA content is `usage selector matching-type data`, like 3 1 1 ABCD…".into(),
                );
            }
            let usage = small(tokens[0].raw, "usage", 3)?;
            let selector = small(tokens[1].raw, "selector", 1)?;
            let matching = small(tokens[2].raw, "matching type", 2)?;
            let hex = join_hex(&tokens[3..])?;
            let expect = match matching {
                1 => Some(64),
                2 => Some(128),
                _ => None,
            };
            if let Some(n) = expect
                && hex.len() != n
            {
                return Err(format!(
                    "TLSA matching type {matching} needs a {}-octet digest ({n} hex digits), \
                         got {} hex digits",
                    n / 2,
                    hex.len()
                ));
            }
            RData::try_from_str(
                RecordType::TLSA,
                &format!("{usage} {selector} {matching} {hex}"),
            )
            .map_err(|e| format!("TLSA data is not valid ({e})"))?
        }
        RecordType::DS => {
            if tokens.len() < 4 {
                return Err(
                    "DS content is `key-tag algorithm digest-type digest`, like 12345 13 2 ABCD…"
                        .into(),
                );
            }
            let tag = num(tokens[0].raw, "key tag")?;
            let alg = tokens[1]
                .raw
                .parse::<u8>()
                .map_err(|_| "the DS algorithm must be a number like 8 or 13".to_owned())?;
            let digest_type = tokens[2]
                .raw
                .parse::<u8>()
                .map_err(|_| "the DS digest type must be 1, 2 or 4".to_owned())?;
            let hex = join_hex(&tokens[3..])?;
            let expect = match digest_type {
                1 => 40,
                2 => 64,
                4 => 96,
                _ => {
                    return Err(format!(
                        "DS digest type {digest_type} is not defined; use 2 (SHA-256) or 4 (SHA-384)"
                    ));
                }
            };
            if hex.len() != expect {
                return Err(format!(
                    "a DS digest of type {digest_type} is {} hex digits, got {}",
                    expect,
                    hex.len()
                ));
            }
            let parsed =
                RData::try_from_str(RecordType::DS, &format!("{tag} {alg} {digest_type} {hex}"))
                    .map_err(|e| format!("DS data is not valid ({e})"))?;
            match parsed {
                RData::DNSSEC(DNSSECRData::DS(ds)) => RData::DNSSEC(DNSSECRData::DS(DS::new(
                    ds.key_tag(),
                    ds.algorithm(),
                    ds.digest_type(),
                    ds.digest().to_vec(),
                ))),
                other => other,
            }
        }
        RecordType::SSHFP => {
            if tokens.len() < 3 {
                return Err("SSHFP content is `algorithm type fingerprint`".into());
            }
            let alg = small(tokens[0].raw, "algorithm", 6)?;
            let fp = small(tokens[1].raw, "fingerprint type", 2)?;
            let hex = join_hex(&tokens[2..])?;
            RData::try_from_str(RecordType::SSHFP, &format!("{alg} {fp} {hex}"))
                .map_err(|e| format!("SSHFP data is not valid ({e})"))?
        }
        RecordType::SVCB | RecordType::HTTPS => {
            let svcb = parse_svcb(rtype, tokens, origin, mode)?;
            if rtype == RecordType::HTTPS {
                RData::HTTPS(HTTPS(svcb))
            } else {
                RData::SVCB(svcb)
            }
        }
        RecordType::SOA => {
            count(7, "mname rname serial refresh retry expire minimum")?;
            let mname = parse_name(tokens[0].raw, origin, mode)?;
            let rname = parse_name(tokens[1].raw, origin, mode)?;
            let serial = tokens[2]
                .raw
                .parse::<u32>()
                .map_err(|_| "the SOA serial must be a number".to_owned())?;
            let mut t = [0i32; 3];
            for (i, what) in ["refresh", "retry", "expire"].iter().enumerate() {
                let v = hickory_proto::serialize::txt::parse_ttl(tokens[3 + i].raw)
                    .map_err(|_| format!("the SOA {what} must be a time like 3600 or 1h"))?;
                t[i] = i32::try_from(v).map_err(|_| format!("the SOA {what} is too large"))?;
            }
            let minimum = hickory_proto::serialize::txt::parse_ttl(tokens[6].raw)
                .map_err(|_| "the SOA minimum must be a time like 3600 or 1h".to_owned())?;
            RData::SOA(hickory_proto::rr::rdata::SOA::new(
                mname, rname, serial, t[0], t[1], t[2], minimum,
            ))
        }
        other => {
            return Err(format!("{other} records are not supported"));
        }
    };
    Ok(data)
}

fn set_caa(caa: &mut CAA, tag: String, value: Vec<u8>) {
    caa.tag = tag;
    caa.value = value;
}

fn small(raw: &str, what: &str, max: u8) -> Result<u8, String> {
    match raw.parse::<u8>() {
        Ok(v) if v <= max => Ok(v),
        _ => Err(format!(
            "the {what} `{}` must be a number from 0 to {max}",
            cut(raw)
        )),
    }
}

fn join_hex(tokens: &[Token<'_>]) -> Result<String, String> {
    let mut hex = String::new();
    for t in tokens {
        hex.push_str(t.raw);
    }
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) || !hex.len().is_multiple_of(2)
    {
        return Err(format!(
            "`{}` is not hexadecimal data (an even number of 0-9/A-F digits)",
            cut(&hex)
        ));
    }
    Ok(hex.to_ascii_uppercase())
}

/// TXT: each token is one character-string; strings longer than 255 octets are split
/// into 255-octet pieces automatically (RFC 1035 §3.3.14 caps one string at 255).
fn parse_txt(tokens: &[Token<'_>]) -> Result<TXT, String> {
    if tokens.is_empty() {
        return Err("TXT content is one or more strings, like \"v=spf1 -all\"".into());
    }
    let mut parts: Vec<std::borrow::Cow<'_, [u8]>> = Vec::with_capacity(tokens.len());
    let mut total = 0usize;
    for t in tokens {
        parts.push(text::char_string(t.raw)?);
        total += parts[parts.len() - 1].len();
    }
    if total > 16_384 {
        return Err(format!(
            "TXT content is {total} octets; keep it under 16384 (split it across records)"
        ));
    }
    let mut strings: Vec<&[u8]> = Vec::with_capacity(parts.len() + total / 255);
    for p in &parts {
        if p.is_empty() {
            strings.push(&[]);
        }
        strings.extend(p.chunks(255));
    }
    Ok(TXT::from_bytes(strings))
}

fn parse_svcb(
    rtype: RecordType,
    tokens: &[Token<'_>],
    origin: &Name,
    mode: NameMode,
) -> Result<SVCB, String> {
    if tokens.len() < 2 {
        return Err(format!(
            "{rtype} content is `priority target [key=value …]`, like 1 . alpn=h2,h3"
        ));
    }
    let priority = tokens[0]
        .raw
        .parse::<u16>()
        .map_err(|_| format!("the {rtype} priority must be a number from 0 to 65535"))?;
    let target = if tokens[1].raw == "." {
        Name::root()
    } else {
        parse_name(tokens[1].raw, origin, mode)?
    };
    // Params: `key`, `key=value` or `key="value"` (which the lexer cuts in two).
    let mut params: Vec<String> = Vec::new();
    let mut i = 2;
    while i < tokens.len() {
        let t = tokens[i];
        if t.quoted {
            return Err(format!(
                "unexpected quoted text `{}` in {rtype}; write params as key=value",
                cut(t.raw)
            ));
        }
        if t.raw.ends_with('=') && tokens.get(i + 1).is_some_and(|n| n.quoted) {
            params.push(format!("{}{}", t.raw, tokens[i + 1].raw));
            i += 2;
        } else {
            params.push(t.raw.to_owned());
            i += 1;
        }
    }
    if priority == 0 && !params.is_empty() {
        return Err(format!(
            "an {rtype} record with priority 0 (alias mode) takes no parameters"
        ));
    }
    let mut text = format!("{priority} .");
    for p in &params {
        if p.contains(char::is_whitespace) {
            return Err(format!(
                "the {rtype} parameter `{}` must not contain spaces",
                cut(p)
            ));
        }
        text.push(' ');
        text.push_str(p);
    }
    let parsed = RData::try_from_str(RecordType::SVCB, &text)
        .map_err(|e| format!("{rtype} parameters are not valid ({e})"))?;
    let RData::SVCB(mut svcb) = parsed else {
        return Err(format!("{rtype} could not be parsed"));
    };
    svcb.target_name = target;
    svcb.svc_params.sort_by_key(|(k, _)| u16::from(*k));
    for w in svcb.svc_params.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(format!("the {rtype} parameter `{}` appears twice", w[0].0));
        }
    }
    let keys: Vec<SvcParamKey> = svcb.svc_params.iter().map(|(k, _)| *k).collect();
    for (_, v) in &svcb.svc_params {
        if let SvcParamValue::Mandatory(m) = v {
            for k in &m.0 {
                if !keys.contains(k) {
                    return Err(format!(
                        "{rtype} lists `{k}` as mandatory but does not set it; add {k}=…"
                    ));
                }
            }
        }
    }
    Ok(svcb)
}

/// Rules of one record that need only the record and the zone's origin. Field errors are
/// named `name` or `content`.
pub(crate) fn check_record(record: &DnsRecord, origin: &Name) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let rtype = record.record_type();
    let service_owner = matches!(rtype, RecordType::SRV | RecordType::TLSA) && {
        let mut labels = record.name.iter();
        labels.next().is_some_and(|l| l.starts_with(b"_"))
            && labels.next().is_some_and(|l| l.starts_with(b"_"))
    };
    match &record.data {
        RData::CNAME(_) if record.name == *origin => errors.push(FieldError::new(
            "name",
            "cname_at_apex",
            "a CNAME cannot be at the zone apex (it would hide the SOA and NS records); \
             use A/AAAA records, or an HTTPS/SVCB alias record, at the apex",
        )),
        RData::SRV(_) if !service_owner => errors.push(FieldError::new(
            "name",
            "srv_name",
            format!(
                "an SRV name is `_service._proto` under the zone (like _sip._tcp), not `{}`",
                relative_name(&record.name, origin)
            ),
        )),
        RData::TLSA(_) if !service_owner => errors.push(FieldError::new(
            "name",
            "tlsa_name",
            format!(
                "a TLSA name is `_port._proto` under the zone (like _443._tcp.www), not `{}`",
                relative_name(&record.name, origin)
            ),
        )),
        RData::PTR(_) if !is_reverse_zone(origin) => errors.push(FieldError::new(
            "type",
            "ptr_in_forward_zone",
            format!(
                "PTR records belong in reverse zones (under in-addr.arpa. or ip6.arpa.), \
                 not in {}; ask the owner of the address block to delegate its reverse zone",
                origin.to_ascii()
            ),
        )),
        RData::MX(mx) if mx.exchange.is_root() && mx.preference != 0 => {
            errors.push(FieldError::new(
                "content",
                "null_mx",
                "a null MX (`.`, RFC 7505) must have preference 0: write `0 .`",
            ));
        }
        RData::CNAME(c) if c.0 == record.name => errors.push(FieldError::new(
            "content",
            "cname_loop",
            "a CNAME cannot point at its own name",
        )),
        RData::NS(_) | RData::CNAME(_) | RData::PTR(_) => {}
        _ => {}
    }
    if rtype == RecordType::DS && record.name == *origin {
        errors.push(FieldError::new(
            "name",
            "ds_at_apex",
            "a DS record for this zone belongs in the parent zone (at the registrar), not at \
             its own apex; in this zone, put DS records at delegated child names",
        ));
    }
    errors
}

/// Whether the zone is a reverse-mapping zone (under in-addr.arpa. or ip6.arpa.).
pub fn is_reverse_zone(origin: &Name) -> bool {
    let mut labels = origin.iter().rev();
    labels
        .next()
        .is_some_and(|l| l.eq_ignore_ascii_case(b"arpa"))
        && labels
            .next()
            .is_some_and(|l| l.eq_ignore_ascii_case(b"in-addr") || l.eq_ignore_ascii_case(b"ip6"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Name {
        Name::from_ascii("example.com.").unwrap()
    }

    fn rec(name: &str, t: &str, content: &str) -> Result<DnsRecord, Vec<FieldError>> {
        parse_record(
            &RecordInput {
                name: name.into(),
                rtype: t.into(),
                ttl: Some(300),
                content: content.into(),
            },
            &origin(),
            &RecordRules::default(),
            3600,
        )
    }

    fn content(name: &str, t: &str, c: &str) -> String {
        rec(name, t, c).unwrap().content()
    }

    fn err(name: &str, t: &str, c: &str) -> FieldError {
        rec(name, t, c).unwrap_err().remove(0)
    }

    #[test]
    fn canonical_content_per_type() {
        assert_eq!(content("@", "A", "192.0.2.1"), "192.0.2.1");
        assert_eq!(content("@", "aaaa", "2001:DB8:0::1"), "2001:db8::1");
        assert_eq!(
            content("www", "CNAME", "Web.Example.NET."),
            "web.example.net."
        );
        assert_eq!(content("@", "MX", "10 mail"), "10 mail.example.com.");
        assert_eq!(
            content("@", "MX", "10 mail.example.com"),
            "10 mail.example.com."
        );
        assert_eq!(content("@", "MX", "0 ."), "0 .");
        assert_eq!(
            content("_sip._tcp", "SRV", "10 5 5060 sip"),
            "10 5 5060 sip.example.com."
        );
        assert_eq!(content("@", "TXT", "\"v=spf1 -all\""), "\"v=spf1 -all\"");
        assert_eq!(content("@", "TXT", "hello world"), "\"hello\" \"world\"");
        assert_eq!(
            content("@", "CAA", "0 ISSUE \"letsencrypt.org\""),
            "0 issue \"letsencrypt.org\""
        );
        assert_eq!(
            content("@", "CAA", "128 iodef \"mailto:a@example.com\""),
            "128 iodef \"mailto:a@example.com\""
        );
        assert_eq!(
            content(
                "_443._tcp.www",
                "TLSA",
                "3 1 1 ( 0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b566 64c5d3d6 )"
            ),
            "3 1 1 0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6"
        );
        assert_eq!(
            content(
                "child",
                "DS",
                "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"
            ),
            "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"
        );
        assert_eq!(
            content("@", "HTTPS", "1 . alpn=\"h2,h3\" port=443"),
            "1 . alpn=h2,h3 port=443"
        );
        assert_eq!(content("@", "HTTPS", "0 www"), "0 www.example.com.");
        assert_eq!(
            content(
                "svc",
                "SVCB",
                "1 svc1 port=8443 alpn=h2 ipv4hint=192.0.2.1,192.0.2.2 mandatory=alpn"
            ),
            "1 svc1.example.com. mandatory=alpn alpn=h2 port=8443 ipv4hint=192.0.2.1,192.0.2.2"
        );
        assert_eq!(content("@", "SSHFP", "4 2 ABCDEF01"), "4 2 abcdef01");
    }

    #[test]
    fn long_txt_is_split_into_255_octet_strings() {
        let long = "x".repeat(600);
        let r = rec("@", "TXT", &format!("\"{long}\"")).unwrap();
        let RData::TXT(t) = &r.data else { panic!() };
        let lens: Vec<usize> = t.txt_data.iter().map(|s| s.len()).collect();
        assert_eq!(lens, vec![255, 255, 90]);
    }

    #[test]
    fn names_relative_absolute_and_idn() {
        let r = rec("WWW", "A", "192.0.2.1").unwrap();
        assert_eq!(r.name.to_ascii(), "www.example.com.");
        assert_eq!(r.relative_name(&origin()), "www");
        let r = rec("www.example.com.", "A", "192.0.2.1").unwrap();
        assert_eq!(r.relative_name(&origin()), "www");
        let r = rec("bücher", "A", "192.0.2.1").unwrap();
        assert_eq!(r.name.to_ascii(), "xn--bcher-kva.example.com.");
        assert_eq!(r.display_name(), "bücher.example.com");
        assert_eq!(
            rec("@", "A", "192.0.2.1").unwrap().relative_name(&origin()),
            "@"
        );
    }

    #[test]
    fn errors_name_the_field_and_the_fix() {
        let e = err(&"a".repeat(64), "A", "192.0.2.1");
        assert_eq!(e.field, "name");
        assert!(e.message.contains("at most 63"), "{}", e.message);
        let long = vec!["abcdefghij"; 26].join(".");
        let e = err(&long, "A", "192.0.2.1");
        assert!(e.message.contains("at most 255"), "{}", e.message);
        let e = err("www.other.org.", "A", "192.0.2.1");
        assert!(e.message.contains("outside the zone"));
        let e = err("@", "A", "2001:db8::1");
        assert_eq!(e.field, "content");
        assert!(e.message.contains("use AAAA"));
        let e = err("@", "MX", "10 192.0.2.1");
        assert!(e.message.contains("not the address"));
        let e = err("@", "CNAME", "other.example.net.");
        assert_eq!(
            (e.field.as_str(), e.code.as_str()),
            ("name", "cname_at_apex")
        );
        let e = err("sip", "SRV", "1 1 1 a");
        assert_eq!(e.code, "srv_name");
        let e = err("@", "CAA", "0 issue \"bad domain!\"");
        assert!(e.message.contains("CAA issue"), "{}", e.message);
        let e = err("@", "CAA", "3 issue \"letsencrypt.org\"");
        assert!(e.message.contains("use 0"));
        let e = err("_443._tcp", "TLSA", "3 1 1 ABCD");
        assert!(e.message.contains("64 hex digits"), "{}", e.message);
        let e = err("_443._tcp", "TLSA", "4 1 1 ABCD");
        assert!(e.message.contains("usage"));
        let e = err("@", "PTR", "host.example.com.");
        assert_eq!(e.code, "ptr_in_forward_zone");
        let e = err("@", "SOA", "x");
        assert_eq!(e.code, "managed_type");
        let e = err("@", "NAPTR", "x");
        assert_eq!(e.code, "unsupported_type");
        let e = err("a.*.b", "A", "192.0.2.1");
        assert!(e.message.contains("wildcard"), "{}", e.message);
        let e = err("@", "HTTPS", "1 . mandatory=port alpn=h2");
        assert!(e.message.contains("mandatory"), "{}", e.message);
        let e = rec("@", "A", "192.0.2.1").map(|_| ());
        assert!(e.is_ok());
        let e = parse_record(
            &RecordInput {
                name: "@".into(),
                rtype: "A".into(),
                ttl: Some(1),
                content: "192.0.2.1".into(),
            },
            &origin(),
            &RecordRules::default(),
            3600,
        )
        .unwrap_err();
        assert_eq!(e[0].field, "ttl");
    }

    #[test]
    fn the_fast_name_path_agrees_with_hickory() {
        let o = origin();
        for raw in [
            "www",
            "WWW.Example.COM.",
            "a.b.c",
            "_sip._tcp",
            "*",
            "*.apps",
            "x-y",
            "host1.",
            "ns1.example.net.",
            "a.*.b",
            "mail.example.com",
        ] {
            let fast = fast_ascii_name(raw, &o).expect(raw);
            let mut slow = Name::from_ascii(raw).unwrap().to_lowercase();
            if !slow.is_fqdn() {
                slow = slow.append_domain(&o).unwrap();
            }
            assert_eq!(fast, slow, "{raw}");
            assert_eq!(fast.to_ascii(), slow.to_ascii(), "{raw}");
            assert_eq!(fast.is_wildcard(), slow.is_wildcard(), "{raw}");
        }
        for raw in [
            "-bad",
            "a..b",
            "a b",
            "a\\.b",
            "é",
            ".",
            "a*b",
            &"a".repeat(64),
        ] {
            assert!(fast_ascii_name(raw, &o).is_none(), "{raw}");
        }
    }

    #[test]
    fn stored_records_load_back() {
        let r = rec("_sip._tcp", "SRV", "10 5 5060 sip").unwrap();
        let back = parse_stored(
            &origin(),
            &r.name.to_ascii(),
            &r.record_type().to_string(),
            r.ttl,
            &r.content(),
        )
        .unwrap();
        assert_eq!(back, r);
        // TTL rules are not applied to stored records.
        assert_eq!(
            parse_stored(&origin(), "a.example.com.", "A", 1, "192.0.2.1")
                .unwrap()
                .ttl,
            1
        );
    }

    #[test]
    fn ptr_in_reverse_zone() {
        let o = Name::from_ascii("2.0.192.in-addr.arpa.").unwrap();
        let r = parse_record(
            &RecordInput {
                name: "1".into(),
                rtype: "PTR".into(),
                ttl: None,
                content: "host.example.com.".into(),
            },
            &o,
            &RecordRules::default(),
            3600,
        )
        .unwrap();
        assert_eq!(r.name.to_ascii(), "1.2.0.192.in-addr.arpa.");
        assert_eq!(r.ttl, 3600);
    }
}
