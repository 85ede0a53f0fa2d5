//! RFC 1035 master files: import with a per-line error report (nothing is applied when any
//! line is wrong), and export in a form BIND's `named-checkzone` and Knot's `kzonecheck`
//! accept.
//!
//! Import understands `$ORIGIN`, `$TTL`, relative names, `@`, blank owners, parentheses,
//! quoted strings and comments; `$INCLUDE` is refused (a zone file uploaded through the API
//! must not read files on the server). Record data is parsed by hickory-proto; the file is
//! cut into entries by `crate::text`, which keeps line numbers.

use std::fmt::Write as _;

use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::txt::parse_ttl;

use crate::record::{
    self, DnsRecord, NameMode, RecordRules, SUPPORTED_TYPES, check_record, check_ttl, cut,
    parse_rdata, relative_name,
};
use crate::text::{Lexer, Token};
use crate::zone::{Soa, Zone, check_zone};

/// One wrong line of a zone file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number (the first line of a multi-line entry).
    pub line: usize,
    pub code: &'static str,
    pub message: String,
}

/// A zone file that was refused, with every wrong line (at most [`MAX_REPORTED_ERRORS`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.summary())]
pub struct ImportError {
    pub errors: Vec<LineError>,
    /// How many errors there were in all (more than `errors.len()` when capped).
    pub total: usize,
}

/// The most errors an import reports (the count says how many there were).
pub const MAX_REPORTED_ERRORS: usize = 100;

impl ImportError {
    fn summary(&self) -> String {
        let mut s = format!(
            "the zone file was not imported: {} error{}",
            self.total,
            if self.total == 1 { "" } else { "s" }
        );
        for e in self.errors.iter().take(5) {
            let _ = write!(s, "; line {}: {}", e.line, e.message);
        }
        if self.total > 5 {
            s.push_str("; …");
        }
        s
    }
}

/// A zone file's content, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedZone {
    /// The file's SOA, if it had one (the caller keeps its own serial policy).
    pub soa: Option<Soa>,
    pub records: Vec<DnsRecord>,
}

/// Parses and checks a master file for the zone `origin`. Either every record, or every
/// wrong line with what is wrong and how to fix it; never a part of the file.
pub fn import_zone(
    text: &str,
    origin: &Name,
    rules: &RecordRules,
) -> Result<ImportedZone, ImportError> {
    let start = PartState {
        origin: origin.clone(),
        default_ttl: None,
        last_ttl: None,
    };
    let part = parse_two_halves(text, origin, rules, PARALLEL_BYTES)
        .unwrap_or_else(|| parse_part(text, 1, origin, start, rules));
    let Part {
        records,
        lines,
        mut errors,
        soa,
        ..
    } = part;
    let push = |errors: &mut Vec<LineError>, line: usize, code: &'static str, message: String| {
        errors.push(LineError {
            line,
            code,
            message,
        });
    };
    if errors.is_empty() {
        for p in check_zone(origin, &records, rules) {
            let line = p.records.last().map_or(0, |&i| lines[i] as usize);
            let code = p.code;
            if code == "apex_ns_required" {
                // A file without NS records keeps the zone's current apex NS set.
                continue;
            }
            push(&mut errors, line, code, p.message);
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        let total = errors.len();
        errors.truncate(MAX_REPORTED_ERRORS);
        return Err(ImportError { errors, total });
    }
    Ok(ImportedZone {
        soa: soa.map(|(s, _)| s),
        records,
    })
}

/// Where parsing of a part of a file starts: the directives in force.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PartState {
    origin: Name,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
}

/// What one part of a file held.
struct Part {
    records: Vec<DnsRecord>,
    lines: Vec<u32>,
    errors: Vec<LineError>,
    soa: Option<(Soa, usize)>,
    end: PartState,
    /// A record had no TTL and none was known in this part.
    missing_ttl: bool,
    /// The part ended inside parentheses or a quoted string.
    unclosed: bool,
}

fn parse_part(
    text: &str,
    first_line: usize,
    origin: &Name,
    start: PartState,
    rules: &RecordRules,
) -> Part {
    let mut errors: Vec<LineError> = Vec::new();
    let push = |errors: &mut Vec<LineError>, line: usize, code: &'static str, message: String| {
        errors.push(LineError {
            line,
            code,
            message,
        });
    };

    let mut lexer = Lexer::with_line(text, first_line);
    let mut tokens: Vec<Token<'_>> = Vec::with_capacity(16);
    let mut cur_origin = start.origin;
    let mut origin_is_zone = cur_origin == *origin;
    let mut default_ttl: Option<u32> = start.default_ttl;
    let mut last_ttl: Option<u32> = start.last_ttl;
    let mut missing_ttl = false;
    let mut unclosed = false;
    let mut owner: Option<Name> = None;
    let mut owner_raw: &str = "";
    let mut soa: Option<(Soa, usize)> = None;
    let line_count = text.bytes().filter(|&b| b == b'\n').count() + 1;
    let mut records: Vec<DnsRecord> = Vec::with_capacity(line_count);
    let mut lines: Vec<u32> = Vec::with_capacity(line_count);

    while let Some(entry) = lexer.next_entry(&mut tokens) {
        let head = match entry {
            Ok(h) => h,
            Err(e) => {
                unclosed |= lexer.at_end();
                push(&mut errors, e.line, "syntax", e.message);
                continue;
            }
        };
        let line = head.line;
        let mut rest: &[Token<'_>] = &tokens;

        if head.has_owner && rest[0].raw.starts_with('$') && !rest[0].quoted {
            let directive = rest[0].raw.to_ascii_uppercase();
            match directive.as_str() {
                "$ORIGIN" => match rest.get(1) {
                    Some(t) if rest.len() == 2 => {
                        match record::parse_name(t.raw, &cur_origin, NameMode::Strict) {
                            Ok(n) => {
                                origin_is_zone = n == *origin;
                                cur_origin = n;
                                owner_raw = "";
                            }
                            Err(m) => push(&mut errors, line, "origin", m),
                        }
                    }
                    _ => push(
                        &mut errors,
                        line,
                        "origin",
                        "$ORIGIN takes one domain name, like `$ORIGIN example.com.`".into(),
                    ),
                },
                "$TTL" => match rest.get(1).map(|t| parse_ttl(t.raw)) {
                    Some(Ok(ttl)) if rest.len() == 2 => default_ttl = Some(ttl),
                    _ => push(
                        &mut errors,
                        line,
                        "ttl",
                        "$TTL takes one time value, like `$TTL 3600` or `$TTL 1h`".into(),
                    ),
                },
                "$INCLUDE" => push(
                    &mut errors,
                    line,
                    "include",
                    "$INCLUDE is not accepted in an uploaded zone file; paste the included \
                     file's records in its place"
                        .into(),
                ),
                other => push(
                    &mut errors,
                    line,
                    "directive",
                    format!(
                        "the directive {} is not supported; only $ORIGIN and $TTL are",
                        cut(other)
                    ),
                ),
            }
            continue;
        }

        // Owner.
        if head.has_owner {
            let raw = rest[0].raw;
            rest = &rest[1..];
            if owner.is_none() || raw != owner_raw || raw == "@" {
                let relative_to_zone = !raw.ends_with('.') && origin_is_zone;
                match record::parse_name(raw, &cur_origin, NameMode::Strict) {
                    Ok(n) if relative_to_zone || origin.zone_of(&n) => {
                        owner = Some(n);
                        owner_raw = raw;
                    }
                    Ok(n) => {
                        push(
                            &mut errors,
                            line,
                            "outside_zone",
                            format!(
                                "{} is outside the zone {}; remove it or fix $ORIGIN",
                                n.to_ascii(),
                                origin.to_ascii()
                            ),
                        );
                        owner = None;
                        owner_raw = "";
                        continue;
                    }
                    Err(m) => {
                        push(&mut errors, line, "name", m);
                        owner = None;
                        owner_raw = "";
                        continue;
                    }
                }
            }
        } else if owner.is_none() {
            push(
                &mut errors,
                line,
                "name",
                "this record starts with a blank, so it reuses the previous owner name, but \
                 there is none; put a name (or @) at the start of the line"
                    .into(),
            );
            continue;
        }

        // [ttl] [class] type, or [class] [ttl] type.
        let mut ttl: Option<u32> = None;
        let mut rtype: Option<RecordType> = None;
        let mut bad = false;
        while let Some(t) = rest.first() {
            rest = &rest[1..];
            let raw = t.raw;
            let first = raw.as_bytes().first().copied().unwrap_or(b'x');
            if first.is_ascii_digit() {
                match parse_ttl(raw) {
                    Ok(v) if ttl.is_none() => ttl = Some(v),
                    _ => {
                        push(
                            &mut errors,
                            line,
                            "ttl",
                            format!("`{}` is not a TTL", cut(raw)),
                        );
                        bad = true;
                        break;
                    }
                }
                continue;
            }
            if raw.eq_ignore_ascii_case("IN") {
                continue;
            }
            if ["CH", "HS", "CS", "NONE", "ANY"]
                .iter()
                .any(|c| raw.eq_ignore_ascii_case(c))
            {
                push(
                    &mut errors,
                    line,
                    "class",
                    format!("class {raw} is not served; only class IN records are"),
                );
                bad = true;
                break;
            }
            match raw.to_ascii_uppercase().parse::<RecordType>() {
                Ok(t) => rtype = Some(t),
                Err(_) => {
                    push(
                        &mut errors,
                        line,
                        "type",
                        format!("`{}` is not a record type", cut(raw)),
                    );
                    bad = true;
                }
            }
            break;
        }
        if bad {
            continue;
        }
        let Some(rtype) = rtype else {
            push(
                &mut errors,
                line,
                "type",
                "the record has no type; write `name [ttl] [IN] TYPE data`".into(),
            );
            continue;
        };
        let ttl = match ttl {
            Some(t) => {
                last_ttl = Some(t);
                t
            }
            None => match default_ttl.or(last_ttl) {
                Some(t) => t,
                None => {
                    missing_ttl = true;
                    push(
                        &mut errors,
                        line,
                        "ttl",
                        "the record has no TTL and none was set before; add `$TTL 3600` at \
                         the top of the file"
                            .into(),
                    );
                    continue;
                }
            },
        };
        if rtype != RecordType::SOA && !SUPPORTED_TYPES.contains(&rtype) {
            let hint = if matches!(
                rtype,
                RecordType::RRSIG
                    | RecordType::NSEC
                    | RecordType::NSEC3
                    | RecordType::NSEC3PARAM
                    | RecordType::DNSKEY
                    | RecordType::CDS
                    | RecordType::CDNSKEY
            ) {
                "; export the unsigned zone (DNSSEC records are made by the signer)"
            } else {
                ""
            };
            push(
                &mut errors,
                line,
                "unsupported_type",
                format!("{rtype} records are not supported{hint}"),
            );
            continue;
        }
        let data = match parse_rdata(rtype, rest, &cur_origin, NameMode::Strict) {
            Ok(d) => d,
            Err(m) => {
                push(&mut errors, line, "content", m);
                continue;
            }
        };
        let name = owner.clone().unwrap_or_else(Name::root);
        if let RData::SOA(s) = &data {
            if name != *origin {
                push(
                    &mut errors,
                    line,
                    "soa",
                    format!(
                        "the SOA record belongs at the apex ({}), not at {}",
                        origin.to_ascii(),
                        name.to_ascii()
                    ),
                );
            } else if soa.is_some() {
                push(
                    &mut errors,
                    line,
                    "soa",
                    "a zone has one SOA record; remove this one".into(),
                );
            } else {
                soa = Some((Soa::from_rdata(s, ttl), line));
            }
            continue;
        }
        if let Err(m) = check_ttl(ttl, rules) {
            push(&mut errors, line, "ttl", m);
            continue;
        }
        let rec = DnsRecord { name, ttl, data };
        let problems = check_record(&rec, origin);
        if !problems.is_empty() {
            for p in problems {
                push(&mut errors, line, "record", p.message);
            }
            continue;
        }
        records.push(rec);
        lines.push(u32::try_from(line).unwrap_or(u32::MAX));
    }

    Part {
        records,
        lines,
        errors,
        soa,
        end: PartState {
            origin: cur_origin,
            default_ttl,
            last_ttl,
        },
        missing_ttl,
        unclosed,
    }
}

/// Files above this size are parsed in two halves on two threads.
const PARALLEL_BYTES: usize = 4 << 20;

/// Parses a large file as two halves at once. `None` when the file is small, only one
/// core is available, or the halves do not join cleanly (a directive or a multi-line
/// entry across the cut, a TTL inherited across it): the caller then parses it whole.
fn parse_two_halves(
    text: &str,
    origin: &Name,
    rules: &RecordRules,
    min_bytes: usize,
) -> Option<Part> {
    if text.len() < min_bytes || std::thread::available_parallelism().map_or(1, usize::from) < 2 {
        return None;
    }
    let split = split_point(text)?;
    let (head, tail) = text.split_at(split);
    // The directives in force at the cut, read from the lines that start with `$`.
    let mut assumed = PartState {
        origin: origin.clone(),
        default_ttl: None,
        last_ttl: None,
    };
    let hb = head.as_bytes();
    let mut pos = 0;
    while pos < hb.len() {
        let end = hb[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(hb.len(), |e| pos + e + 1);
        if hb[pos] == b'$' {
            let line = &head[pos..end];
            let mut words = line.split_whitespace();
            match (
                words.next().map(str::to_ascii_uppercase).as_deref(),
                words.next(),
            ) {
                (Some("$ORIGIN"), Some(n)) => {
                    if let Ok(n) = record::parse_name(n, &assumed.origin, NameMode::Strict) {
                        assumed.origin = n;
                    }
                }
                (Some("$TTL"), Some(t)) => assumed.default_ttl = parse_ttl(t).ok(),
                _ => {}
            }
        }
        pos = end;
    }
    let tail_line = 1 + hb.iter().filter(|&&b| b == b'\n').count();
    let tail_start = PartState {
        last_ttl: None,
        ..assumed.clone()
    };
    let (a, b) = std::thread::scope(|scope| {
        let b = scope.spawn(|| parse_part(tail, tail_line, origin, tail_start, rules));
        let a = parse_part(
            head,
            1,
            origin,
            PartState {
                origin: origin.clone(),
                default_ttl: None,
                last_ttl: None,
            },
            rules,
        );
        (a, b.join())
    });
    let b = b.ok()?;
    let joins = !a.unclosed
        && a.end.origin == assumed.origin
        && a.end.default_ttl == assumed.default_ttl
        && !b.missing_ttl;
    if !joins {
        return None;
    }
    let mut out = a;
    out.records.extend(b.records);
    out.lines.extend(b.lines);
    out.errors.extend(b.errors);
    match (&out.soa, b.soa) {
        (Some(_), Some((_, line))) => out.errors.push(LineError {
            line,
            code: "soa",
            message: "a zone has one SOA record; remove this one".into(),
        }),
        (None, Some(s)) => out.soa = Some(s),
        _ => {}
    }
    out.end = b.end;
    Some(out)
}

/// A line start near the middle of `text` that begins a new entry with its own owner.
fn split_point(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = b.len() / 2;
    loop {
        let nl = b[i..].iter().position(|&c| c == b'\n')?;
        let p = i + nl + 1;
        match b.get(p)? {
            b' ' | b'\t' | b';' | b'$' | b'\n' | b'\r' | b'(' | b')' | b'"' => i = p,
            _ => return Some(p),
        }
    }
}

/// Writes a zone as a master file: `$ORIGIN`, the SOA, then the records sorted in DNS
/// canonical order, owners relative to the origin.
pub fn export_zone(zone: &Zone) -> String {
    let mut out = String::with_capacity(64 + zone.records.len() * 48);
    let origin = &zone.origin;
    let _ = writeln!(out, "$ORIGIN {}", origin.to_ascii());
    let soa = &zone.soa;
    let _ = writeln!(
        out,
        "@\t{}\tIN\tSOA\t{} {} {} {} {} {} {}",
        soa.ttl,
        soa.mname.to_ascii(),
        soa.rname.to_ascii(),
        soa.serial,
        soa.refresh,
        soa.retry,
        soa.expire,
        soa.minimum
    );
    let mut order: Vec<&DnsRecord> = zone.records.iter().collect();
    order.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then_with(|| u16::from(a.record_type()).cmp(&u16::from(b.record_type())))
    });
    let mut last: Option<&Name> = None;
    let mut owner = String::new();
    for r in order {
        if last != Some(&r.name) {
            owner = relative_name(&r.name, origin);
            last = Some(&r.name);
        }
        let _ = writeln!(
            out,
            "{owner}\t{}\tIN\t{}\t{}",
            r.ttl,
            r.record_type(),
            r.content()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Name {
        Name::from_ascii("example.com.").unwrap()
    }

    #[test]
    fn imports_directives_relative_names_and_parentheses() {
        let text = "$ORIGIN example.com.\n$TTL 1h\n@ IN SOA ns1 hostmaster (\n 2024010101 ; serial\n 7200 3600 1209600 300 )\n\
                    @ NS ns1\n  NS ns2.example.net.\nns1 A 192.0.2.1\nwww 300 IN CNAME @\n$ORIGIN sub.example.com.\nhost A 192.0.2.2\n";
        let z = import_zone(text, &origin(), &RecordRules::default()).unwrap();
        let soa = z.soa.unwrap();
        assert_eq!(soa.serial, 2024010101);
        assert_eq!(soa.ttl, 3600);
        assert_eq!(soa.minimum, 300);
        assert_eq!(soa.mname.to_ascii(), "ns1.example.com.");
        let names: Vec<String> = z
            .records
            .iter()
            .map(|r| format!("{} {} {}", r.name.to_ascii(), r.ttl, r.content()))
            .collect();
        assert_eq!(
            names,
            vec![
                "example.com. 3600 ns1.example.com.",
                "example.com. 3600 ns2.example.net.",
                "ns1.example.com. 3600 192.0.2.1",
                "www.example.com. 300 example.com.",
                "host.sub.example.com. 3600 192.0.2.2",
            ]
        );
    }

    #[test]
    fn every_wrong_line_is_reported_and_nothing_applied() {
        let text = "$TTL 300\n@ NS ns1.example.net.\nwww A 999.1.1.1\n$INCLUDE /etc/passwd\nmail MX 10\nok A 192.0.2.1\nother.org. A 192.0.2.1\nalias CNAME x.example.net.\nalias A 192.0.2.1\n";
        let err = import_zone(text, &origin(), &RecordRules::default()).unwrap_err();
        let lines: Vec<(usize, &str)> = err.errors.iter().map(|e| (e.line, e.code)).collect();
        assert_eq!(
            lines,
            vec![
                (3, "content"),
                (4, "include"),
                (5, "content"),
                (7, "outside_zone")
            ]
        );
        assert!(err.to_string().contains("line 3"));
        // The zone-wide rules run once the lines parse.
        let text = "$TTL 300\nalias CNAME x.example.net.\nalias A 192.0.2.1\n";
        let err = import_zone(text, &origin(), &RecordRules::default()).unwrap_err();
        assert_eq!(err.errors[0].line, 3);
        assert_eq!(err.errors[0].code, "cname_exclusive");
    }

    fn whole(text: &str) -> Part {
        let start = PartState {
            origin: origin(),
            default_ttl: None,
            last_ttl: None,
        };
        parse_part(text, 1, &origin(), start, &RecordRules::default())
    }

    #[test]
    fn two_halves_give_what_one_pass_gives() {
        let mut text = String::from("$TTL 300\n@ NS ns1.example.net.\n");
        for i in 0..2000 {
            if i == 500 {
                text.push_str("$ORIGIN sub.example.com.\n$TTL 600\n");
            }
            text.push_str(&format!(
                "h{i} A 192.0.2.{}\n  TXT ( \"a\"\n  \"b\" )\n",
                i % 250
            ));
        }
        let one = whole(&text);
        let two = parse_two_halves(&text, &origin(), &RecordRules::default(), 0).expect("joins");
        assert_eq!(one.records, two.records);
        assert_eq!(one.lines, two.lines);
        assert!(one.errors.is_empty() && two.errors.is_empty());
        assert_eq!(two.records[1999 * 2].ttl, 600);
        // Errors keep their line numbers in the second half.
        let bad = text.replace("h1900 A 192.0.2.150", "h1900 A 192.0.2.999");
        let two = parse_two_halves(&bad, &origin(), &RecordRules::default(), 0).expect("joins");
        assert_eq!(two.errors.len(), 1);
        assert_eq!(two.errors[0].line, whole(&bad).errors[0].line);
    }

    #[test]
    fn halves_that_do_not_join_fall_back() {
        // The middle of the file is inside one long parenthesised entry.
        let mut text = String::from("$TTL 300\nbig TXT (\n");
        for i in 0..2000 {
            text.push_str(&format!("\"part{i}\"\nx{i}\n"));
        }
        text.push_str(")\n");
        assert!(parse_two_halves(&text, &origin(), &RecordRules::default(), 0).is_none());
        // A TTL inherited across the cut (no $TTL) is another.
        let mut text = String::from("a 300 A 192.0.2.1\n");
        for i in 0..2000 {
            text.push_str(&format!("h{i} A 192.0.2.1\n"));
        }
        assert!(parse_two_halves(&text, &origin(), &RecordRules::default(), 0).is_none());
        let z = import_zone(&text, &origin(), &RecordRules::default()).unwrap();
        assert!(z.records.iter().all(|r| r.ttl == 300));
    }

    #[test]
    fn export_then_import_is_identity() {
        let text = "$TTL 300\n@ NS ns1.example.net.\n@ MX 10 mail\nmail A 192.0.2.1\n* TXT \"wild; card\" \"x\"\n_443._tcp.www TLSA 3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6\n";
        let z = import_zone(text, &origin(), &RecordRules::default()).unwrap();
        let zone = Zone {
            origin: origin(),
            soa: crate::zone::new_zone(
                &origin(),
                &Default::default(),
                chrono::NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(),
            )
            .unwrap()
            .soa,
            records: z.records.clone(),
        };
        let text2 = export_zone(&zone);
        let z2 = import_zone(&text2, &origin(), &RecordRules::default()).unwrap();
        let mut a = z.records.clone();
        let mut b = z2.records.clone();
        a.sort_by_key(|r| (r.name.clone(), r.content()));
        b.sort_by_key(|r| (r.name.clone(), r.content()));
        assert_eq!(a, b);
        assert_eq!(z2.soa.unwrap(), zone.soa);
    }
}
