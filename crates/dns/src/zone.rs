//! A zone's content and the rules that need more than one record: CNAME exclusivity,
//! duplicates, one TTL per RRset, MX/NS/SRV targets that are aliases, delegations and
//! glue. Changes (create/update/delete by record id) are applied atomically: either a new
//! checked content with a bumped SOA serial, or field errors and nothing changed.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use foldhash::fast::RandomState;
use hickory_proto::rr::rdata::{NS, SOA};
use hickory_proto::rr::{Name, RData, RecordType};
use panel1_core::validate::{FieldError, ValidationError};
use serde::{Deserialize, Serialize};

use crate::record::{
    self, DnsRecord, NameMode, RecordInput, RecordRules, check_ttl, cut, parse_record,
    relative_name,
};

/// The SOA of a zone. The serial changes on every committed change ([`next_serial`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soa {
    pub mname: Name,
    pub rname: Name,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    /// The negative-caching TTL (RFC 2308 §4).
    pub minimum: u32,
    /// The TTL of the SOA record itself.
    pub ttl: u32,
}

impl Soa {
    pub fn to_rdata(&self) -> RData {
        let clamp = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        RData::SOA(SOA::new(
            self.mname.clone(),
            self.rname.clone(),
            self.serial,
            clamp(self.refresh),
            clamp(self.retry),
            clamp(self.expire),
            self.minimum,
        ))
    }

    pub fn record(&self, origin: &Name) -> DnsRecord {
        DnsRecord {
            name: origin.clone(),
            ttl: self.ttl,
            data: self.to_rdata(),
        }
    }

    /// The TTL of negative answers: the lesser of the SOA's TTL and its MINIMUM (RFC 2308 §3).
    pub fn negative_ttl(&self) -> u32 {
        self.ttl.min(self.minimum)
    }

    pub(crate) fn from_rdata(soa: &SOA, ttl: u32) -> Self {
        let pos = |v: i32| u32::try_from(v).unwrap_or(0);
        Self {
            mname: soa.mname.clone(),
            rname: soa.rname.clone(),
            serial: soa.serial,
            refresh: pos(soa.refresh),
            retry: pos(soa.retry),
            expire: pos(soa.expire),
            minimum: soa.minimum,
            ttl,
        }
    }
}

/// What a new zone starts with: the SOA fields and the apex NS set (a tenant's defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneDefaults {
    /// The primary name server (SOA MNAME), like `ns1.example.net`.
    pub primary_ns: String,
    /// The zone contact, as an e-mail address (`hostmaster@example.net`) or SOA RNAME.
    pub hostmaster: String,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
    pub soa_ttl: u32,
    /// The apex NS records.
    pub nameservers: Vec<String>,
    pub ns_ttl: u32,
}

impl Default for ZoneDefaults {
    fn default() -> Self {
        Self {
            primary_ns: "ns1.panel1.invalid.".into(),
            hostmaster: "hostmaster@panel1.invalid".into(),
            refresh: 10_800,
            retry: 3_600,
            expire: 1_209_600,
            minimum: 3_600,
            soa_ttl: 3_600,
            nameservers: vec!["ns1.panel1.invalid.".into(), "ns2.panel1.invalid.".into()],
            ns_ttl: 86_400,
        }
    }
}

/// A zone: its origin, SOA and records (the SOA is not among `records`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub origin: Name,
    pub soa: Soa,
    pub records: Vec<DnsRecord>,
}

/// Parses a zone name (`example.com`, `bücher.de.`, `2.0.192.in-addr.arpa`): absolute,
/// lowercase, IDN as punycode, at least two labels.
pub fn parse_zone_name(raw: &str) -> Result<Name, ValidationError> {
    let raw = raw.trim();
    let name = record::parse_name(raw, &Name::root(), NameMode::Strict)
        .map_err(|m| ValidationError::field("name", "name", m))?;
    if name.iter().count() < 2 {
        return Err(ValidationError::field(
            "name",
            "zone_name",
            format!(
                "`{}` is a top-level domain; a zone is a domain like example.com",
                cut(raw)
            ),
        ));
    }
    if name.is_wildcard() {
        return Err(ValidationError::field(
            "name",
            "zone_name",
            "a zone name cannot be a wildcard",
        ));
    }
    Ok(name)
}

/// The SOA RNAME for a contact address: `hostmaster@example.net` → `hostmaster.example.net.`
/// (dots in the local part escaped); a name is taken as it is.
pub fn contact_rname(contact: &str) -> Result<Name, String> {
    let contact = contact.trim();
    match contact.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
            let escaped = local.replace('\\', "\\\\").replace('.', "\\.");
            record::parse_name(
                &format!("{escaped}.{}.", domain.trim_end_matches('.')),
                &Name::root(),
                NameMode::Strict,
            )
        }
        _ => record::parse_name(contact, &Name::root(), NameMode::Strict),
    }
}

/// A new zone from defaults: SOA with a date serial (`YYYYMMDD00`) and the apex NS set.
pub fn new_zone(
    origin: &Name,
    defaults: &ZoneDefaults,
    today: NaiveDate,
) -> Result<Zone, ValidationError> {
    let mut errors = Vec::new();
    let root = Name::root();
    let mname = record::parse_name(&defaults.primary_ns, &root, NameMode::Strict)
        .map_err(|m| errors.push(FieldError::new("defaults.primary_ns", "name", m)))
        .ok();
    let rname = contact_rname(&defaults.hostmaster)
        .map_err(|m| errors.push(FieldError::new("defaults.hostmaster", "name", m)))
        .ok();
    let mut records = Vec::new();
    for (i, ns) in defaults.nameservers.iter().enumerate() {
        match record::parse_name(ns, &root, NameMode::Strict) {
            Ok(n) => records.push(DnsRecord {
                name: origin.clone(),
                ttl: defaults.ns_ttl,
                data: RData::NS(NS(n)),
            }),
            Err(m) => errors.push(FieldError::new(
                format!("defaults.nameservers.{i}"),
                "name",
                m,
            )),
        }
    }
    if defaults.nameservers.is_empty() {
        errors.push(FieldError::new(
            "defaults.nameservers",
            "required",
            "a zone needs at least one name server; set the default name servers",
        ));
    }
    let (Some(mname), Some(rname)) = (mname, rname) else {
        return Err(ValidationError(errors));
    };
    if !errors.is_empty() {
        return Err(ValidationError(errors));
    }
    records.dedup();
    Ok(Zone {
        origin: origin.clone(),
        soa: Soa {
            mname,
            rname,
            serial: date_serial(today),
            refresh: defaults.refresh,
            retry: defaults.retry,
            expire: defaults.expire,
            minimum: defaults.minimum,
            ttl: defaults.soa_ttl,
        },
        records,
    })
}

fn date_serial(today: NaiveDate) -> u32 {
    let y = u32::try_from(today.year()).unwrap_or(0);
    y * 1_000_000 + today.month() * 10_000 + today.day() * 100
}

/// The next SOA serial: `YYYYMMDD00` of `today` if that is newer than `current` in serial
/// number arithmetic (RFC 1982), else `current + 1` (mod 2^32), so `YYYYMMDDnn` counts up
/// within a day and any serial keeps increasing.
pub fn next_serial(current: u32, today: NaiveDate) -> u32 {
    let candidate = date_serial(today);
    if serial_gt(candidate, current) {
        candidate
    } else {
        current.wrapping_add(1)
    }
}

/// `a > b` in RFC 1982 serial number arithmetic (SERIAL_BITS = 32).
pub fn serial_gt(a: u32, b: u32) -> bool {
    const HALF: u32 = 1 << 31;
    (a < b && b - a > HALF) || (a > b && a - b < HALF)
}

/// One change of a batch, addressed by record id. New records carry the id the caller
/// minted for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    Create { id: String, record: RecordInput },
    Update { id: String, record: RecordInput },
    Delete { id: String },
}

/// The result of a batch that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeOutcome {
    /// The SOA with its new serial.
    pub soa: Soa,
    /// The zone's whole new content, with ids.
    pub records: Vec<(String, DnsRecord)>,
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub deleted: Vec<String>,
}

impl ChangeOutcome {
    pub fn zone(&self, origin: &Name) -> Zone {
        Zone {
            origin: origin.clone(),
            soa: self.soa.clone(),
            records: self.records.iter().map(|(_, r)| r.clone()).collect(),
        }
    }
}

/// Applies a batch of changes to a zone's current records, atomically. Errors name the
/// change as `records.<index>.<field>` (`records.3.content`) and say which rule failed and
/// how to fix it; on error nothing is returned to store.
pub fn apply_changes(
    origin: &Name,
    soa: &Soa,
    current: &[(String, DnsRecord)],
    changes: &[Change],
    rules: &RecordRules,
    today: NaiveDate,
) -> Result<ChangeOutcome, ValidationError> {
    let mut errors: Vec<FieldError> = Vec::new();
    // (id, record, index of the change that produced it)
    let mut work: Vec<Option<(String, DnsRecord, Option<usize>)>> = current
        .iter()
        .map(|(id, r)| Some((id.clone(), r.clone(), None)))
        .collect();
    let mut by_id: HashMap<String, usize, RandomState> = current
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.clone(), i))
        .collect();
    let mut rrset_ttl: HashMap<(Name, RecordType), u32, RandomState> = HashMap::default();
    for (_, r) in current {
        rrset_ttl
            .entry((r.name.clone(), r.record_type()))
            .or_insert(r.ttl);
    }
    let mut touched_apex_ns: Option<usize> = None;
    let (mut created, mut updated, mut deleted) = (Vec::new(), Vec::new(), Vec::new());

    let parse = |i: usize, input: &RecordInput, errors: &mut Vec<FieldError>| match parse_record(
        input,
        origin,
        rules,
        rules.default_ttl,
    ) {
        Ok(mut r) => {
            if input.ttl.is_none()
                && let Some(ttl) = rrset_ttl.get(&(r.name.clone(), r.record_type()))
            {
                r.ttl = *ttl;
            }
            Some(r)
        }
        Err(es) => {
            errors.extend(es.into_iter().map(|e| e.under(&format!("records.{i}"))));
            None
        }
    };

    for (i, change) in changes.iter().enumerate() {
        match change {
            Change::Create { id, record } => {
                if by_id.contains_key(id) {
                    errors.push(FieldError::new(
                        format!("records.{i}.id"),
                        "duplicate_id",
                        format!(
                            "a record with id `{}` already exists; use a new id",
                            cut(id)
                        ),
                    ));
                    continue;
                }
                if let Some(r) = parse(i, record, &mut errors) {
                    by_id.insert(id.clone(), work.len());
                    work.push(Some((id.clone(), r, Some(i))));
                    created.push(id.clone());
                }
            }
            Change::Update { id, record } => {
                let Some(&slot) = by_id.get(id) else {
                    errors.push(unknown_id(i, id));
                    continue;
                };
                let Some(r) = parse(i, record, &mut errors) else {
                    continue;
                };
                match &mut work[slot] {
                    Some(entry) => {
                        if is_apex_ns(&entry.1, origin) {
                            touched_apex_ns.get_or_insert(i);
                        }
                        entry.1 = r;
                        entry.2 = Some(i);
                        if !created.contains(id) && !updated.contains(id) {
                            updated.push(id.clone());
                        }
                    }
                    None => errors.push(unknown_id(i, id)),
                }
            }
            Change::Delete { id } => {
                let Some(slot) = by_id.remove(id) else {
                    errors.push(unknown_id(i, id));
                    continue;
                };
                if let Some(entry) = work[slot].take()
                    && is_apex_ns(&entry.1, origin)
                {
                    touched_apex_ns.get_or_insert(i);
                }
                if let Some(pos) = created.iter().position(|c| c == id) {
                    created.remove(pos);
                } else {
                    updated.retain(|u| u != id);
                    deleted.push(id.clone());
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(ValidationError(errors));
    }

    let kept: Vec<(String, DnsRecord, Option<usize>)> = work.into_iter().flatten().collect();
    let records: Vec<DnsRecord> = kept.iter().map(|(_, r, _)| r.clone()).collect();
    let problems = check_zone(origin, &records, rules);
    for p in problems {
        let blame = p.records.iter().filter_map(|&ri| kept[ri].2).max().or(
            if p.code == "apex_ns_required" {
                touched_apex_ns
            } else {
                None
            },
        );
        let field = match blame {
            Some(ci) => format!("records.{ci}.{}", p.field),
            None => "records".to_owned(),
        };
        errors.push(FieldError::new(field, p.code, p.message));
    }
    if !errors.is_empty() {
        return Err(ValidationError(errors));
    }
    let mut soa = soa.clone();
    soa.serial = next_serial(soa.serial, today);
    Ok(ChangeOutcome {
        soa,
        records: kept.into_iter().map(|(id, r, _)| (id, r)).collect(),
        created,
        updated,
        deleted,
    })
}

fn unknown_id(i: usize, id: &str) -> FieldError {
    FieldError::new(
        format!("records.{i}.id"),
        "not_found",
        format!("there is no record with id `{}` in this zone", cut(id)),
    )
}

fn is_apex_ns(r: &DnsRecord, origin: &Name) -> bool {
    r.name == *origin && r.record_type() == RecordType::NS
}

/// A rule broken by one or more records of a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneProblem {
    /// Indexes of the records involved (the last one is the one to change).
    pub records: Vec<usize>,
    /// `name`, `ttl` or `content`.
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
}

/// Appends the lowercase wire form of a name (the hash key of names here: hickory's own
/// `Hash` feeds the hasher one byte at a time, which dominated checks of large zones).
pub(crate) fn push_wire(buf: &mut Vec<u8>, name: &Name) {
    for label in name.iter() {
        buf.push(label.len() as u8);
        buf.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    buf.push(0);
}

#[derive(Default, Clone, Copy)]
struct NodeInfo {
    cname: Option<u32>,
    other: Option<u32>,
    ns: bool,
    addr: bool,
}

/// Checks the rules that involve several records of a zone (records exclude the SOA).
pub fn check_zone(origin: &Name, records: &[DnsRecord], rules: &RecordRules) -> Vec<ZoneProblem> {
    let mut problems = Vec::new();
    let n = records.len();
    // Names in lowercase wire form, side by side in one buffer: one hash of a byte
    // slice per record, no allocation per record.
    let mut arena: Vec<u8> = Vec::with_capacity(n * 24);
    let mut spans: Vec<(u32, u16)> = Vec::with_capacity(n);
    for r in records {
        let start = arena.len();
        push_wire(&mut arena, &r.name);
        spans.push((start as u32, (arena.len() - start) as u16));
    }
    let key_of = |i: usize| {
        let (s, l) = spans[i];
        &arena[s as usize..s as usize + l as usize]
    };
    let mut node_ids: HashMap<&[u8], u32, RandomState> =
        HashMap::with_capacity_and_hasher(n, RandomState::default());
    let mut node_of: Vec<u32> = Vec::with_capacity(n);
    let mut node_rep: Vec<usize> = Vec::new();
    let types: Vec<RecordType> = records.iter().map(DnsRecord::record_type).collect();
    // Records that the second pass looks at again: targets, DS, TTL out of range.
    let mut special: Vec<usize> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let next = u32::try_from(node_ids.len()).unwrap_or(u32::MAX);
        let id = *node_ids.entry(key_of(i)).or_insert(next);
        if id == next {
            node_rep.push(i);
        }
        node_of.push(id);
        if matches!(
            r.data,
            RData::MX(_) | RData::NS(_) | RData::SRV(_) | RData::DNSSEC(_)
        ) || check_ttl(r.ttl, rules).is_err()
        {
            special.push(i);
        }
    }
    let mut nodes: Vec<NodeInfo> = vec![NodeInfo::default(); node_ids.len()];
    // Records grouped by (node, type): RRsets are runs of this order.
    let mut order: Vec<u128> = (0..n)
        .map(|i| {
            (u128::from(node_of[i]) << 64) | (u128::from(u16::from(types[i])) << 32) | i as u128
        })
        .collect();
    order.sort_unstable();
    let idx = |k: u128| (k & 0xffff_ffff) as usize;
    let mut apex_ns = false;
    let mut g = 0;
    while g < order.len() {
        let head = order[g] >> 32;
        let mut end = g + 1;
        while end < order.len() && order[end] >> 32 == head {
            end += 1;
        }
        let set = &order[g..end];
        let first = idx(set[0]);
        let r0 = &records[first];
        let rtype = types[first];
        // One TTL per RRset; no duplicate data.
        for i in set[1..].iter().map(|&k| idx(k)) {
            if records[i].ttl != r0.ttl {
                problems.push(problem(
                    vec![first, i],
                    "ttl",
                    "rrset_ttl",
                    format!(
                        "all {rtype} records of {} share one TTL (RFC 2181 §5.2); use {} or \
                         change the others too",
                        show(&r0.name, origin),
                        r0.ttl
                    ),
                ));
                break;
            }
        }
        if set.len() > 1 {
            let mut dup = |prev: usize, i: usize| {
                problems.push(problem(
                    vec![prev, i],
                    "content",
                    "duplicate_record",
                    format!(
                        "{} already has the {rtype} record `{}`; remove the duplicate",
                        show(&records[i].name, origin),
                        cut(&records[i].content())
                    ),
                ));
            };
            if set.len() <= 16 {
                for (a, &ka) in set.iter().enumerate() {
                    let ia = idx(ka);
                    if let Some(&kb) = set[..a]
                        .iter()
                        .find(|&&kb| records[idx(kb)].data == records[ia].data)
                    {
                        dup(idx(kb), ia);
                    }
                }
            } else {
                let mut by_data: HashMap<&RData, usize, RandomState> = HashMap::default();
                for i in set.iter().map(|&k| idx(k)) {
                    if let Some(&prev) = by_data.get(&records[i].data) {
                        dup(prev, i);
                    } else {
                        by_data.insert(&records[i].data, i);
                    }
                }
            }
        }
        let node = &mut nodes[node_of[first] as usize];
        let last = u32::try_from(idx(set[set.len() - 1])).unwrap_or(u32::MAX);
        match rtype {
            RecordType::CNAME => {
                if set.len() > 1 {
                    problems.push(problem(
                        vec![idx(set[0]), idx(set[1])],
                        "content",
                        "cname_single",
                        format!(
                            "{} already is an alias (CNAME); a name has at most one CNAME",
                            show(&r0.name, origin)
                        ),
                    ));
                }
                node.cname = Some(last);
            }
            _ => {
                node.other = Some(node.other.map_or(last, |o| o.max(last)));
                node.addr |= matches!(rtype, RecordType::A | RecordType::AAAA);
                if rtype == RecordType::NS {
                    if r0.name == *origin {
                        apex_ns = true;
                    } else {
                        node.ns = true;
                    }
                }
            }
        }
        g = end;
    }

    let mut cuts: Vec<&Name> = Vec::new();
    for (id, &rep) in node_rep.iter().enumerate() {
        let node = nodes[id];
        let key = &records[rep].name;
        if let (Some(c), Some(o)) = (node.cname, node.other) {
            let (c, o) = (c as usize, o as usize);
            problems.push(problem(
                vec![c.min(o), c.max(o)],
                "name",
                "cname_exclusive",
                format!(
                    "{} has a CNAME, so it can have no other records (RFC 1034 §3.6.2); \
                     remove the CNAME or the {} record",
                    show(key, origin),
                    types[o]
                ),
            ));
        }
        if node.ns {
            cuts.push(key);
        }
    }
    let mut scratch: Vec<u8> = Vec::with_capacity(256);
    let mut node_info = |name: &Name| {
        scratch.clear();
        push_wire(&mut scratch, name);
        node_ids
            .get(scratch.as_slice())
            .map(|&id| nodes[id as usize])
    };
    let in_cut = |name: &Name| -> Option<&Name> {
        cuts.iter()
            .copied()
            .filter(|c| c.zone_of(name))
            .max_by_key(|c| c.iter().count())
    };

    let second: Box<dyn Iterator<Item = usize>> = if cuts.is_empty() {
        Box::new(special.into_iter())
    } else {
        Box::new(0..n)
    };
    for i in second {
        let r = &records[i];
        let rtype = types[i];
        if let Err(m) = check_ttl(r.ttl, rules) {
            problems.push(problem(vec![i], "ttl", "range", m));
        }
        let target = match &r.data {
            RData::MX(mx) => Some(&mx.exchange),
            RData::NS(ns) => Some(&ns.0),
            RData::SRV(srv) => Some(&srv.target),
            _ => None,
        };
        if let Some(t) = target
            && let Some(alias) = node_info(t).and_then(|n| n.cname)
        {
            let alias = alias as usize;
            problems.push(problem(
                vec![alias, i],
                "content",
                "target_is_alias",
                format!(
                    "the {rtype} target {} is an alias (CNAME), which RFC 2181 §10.3 \
                         forbids; point it at the canonical name {}",
                    show(t, origin),
                    records[alias].content()
                ),
            ));
        }
        if rtype == RecordType::DS && r.name != *origin && !nodes[node_of[i] as usize].ns {
            problems.push(problem(
                vec![i],
                "name",
                "ds_not_at_delegation",
                format!(
                    "a DS record belongs at a delegation (a name with NS records); add NS \
                     records for {} or remove the DS",
                    show(&r.name, origin)
                ),
            ));
        }
        if cuts.is_empty() {
            continue;
        }
        if let Some(cut_name) = in_cut(&r.name) {
            let at_cut = *cut_name == r.name;
            let allowed = matches!(rtype, RecordType::A | RecordType::AAAA)
                || (at_cut && matches!(rtype, RecordType::NS | RecordType::DS));
            if !allowed {
                problems.push(problem(
                    vec![i],
                    "name",
                    "occluded",
                    format!(
                        "{} is delegated (it has NS records), so only NS, DS and glue A/AAAA \
                         records can be there or below; put this {rtype} record in the child zone",
                        show(cut_name, origin)
                    ),
                ));
            }
        }
        if let RData::NS(ns) = &r.data {
            // A name server inside the zone it serves needs glue.
            if let Some(c) = in_cut(&ns.0)
                && c.zone_of(&r.name)
            {
                let has_glue = node_info(&ns.0).is_some_and(|n| n.addr);
                if !has_glue {
                    problems.push(problem(
                        vec![i],
                        "content",
                        "glue_required",
                        format!(
                            "the name server {} is inside the delegated zone {}; add an A \
                                 or AAAA record for it (glue)",
                            show(&ns.0, origin),
                            show(c, origin)
                        ),
                    ));
                }
            }
        }
    }

    if !apex_ns {
        problems.push(problem(
            Vec::new(),
            "content",
            "apex_ns_required",
            format!(
                "the zone {} needs at least one NS record at its apex (@); keep or add one",
                origin.to_ascii()
            ),
        ));
    }
    problems.sort_by_key(|p| p.records.last().copied().unwrap_or(usize::MAX));
    problems
}

fn problem(
    records: Vec<usize>,
    field: &'static str,
    code: &'static str,
    message: String,
) -> ZoneProblem {
    ZoneProblem {
        records,
        field,
        code,
        message,
    }
}

fn show(name: &Name, origin: &Name) -> String {
    let rel = relative_name(name, origin);
    if rel == "@" {
        format!("the apex ({})", origin.to_ascii())
    } else {
        format!("`{rel}`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Name {
        Name::from_ascii("example.com.").unwrap()
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 5, 1).unwrap()
    }

    fn input(name: &str, t: &str, ttl: Option<u32>, content: &str) -> RecordInput {
        RecordInput {
            name: name.into(),
            rtype: t.into(),
            ttl,
            content: content.into(),
        }
    }

    fn base() -> (Soa, Vec<(String, DnsRecord)>) {
        let z = new_zone(&origin(), &ZoneDefaults::default(), today()).unwrap();
        let recs = z
            .records
            .into_iter()
            .enumerate()
            .map(|(i, r)| (format!("ns{i}"), r))
            .collect();
        (z.soa, recs)
    }

    fn apply(changes: &[Change]) -> Result<ChangeOutcome, ValidationError> {
        let (soa, recs) = base();
        apply_changes(
            &origin(),
            &soa,
            &recs,
            changes,
            &RecordRules::default(),
            today(),
        )
    }

    fn create(id: &str, name: &str, t: &str, content: &str) -> Change {
        Change::Create {
            id: id.into(),
            record: input(name, t, None, content),
        }
    }

    fn codes(r: Result<ChangeOutcome, ValidationError>) -> Vec<(String, String)> {
        r.unwrap_err()
            .0
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    #[test]
    fn serials_follow_dates_then_count_up() {
        assert_eq!(next_serial(1, today()), 2026050100);
        assert_eq!(next_serial(2026050100, today()), 2026050101);
        assert_eq!(next_serial(2026050199, today()), 2026050200);
        assert_eq!(next_serial(2030010100, today()), 2030010101);
        assert_eq!(next_serial(3_000_000_000, today()), 3_000_000_001);
        assert_eq!(next_serial(u32::MAX, today()), 2026050100);
        assert!(serial_gt(0, u32::MAX));
        assert!(!serial_gt(1, 1));
    }

    #[test]
    fn new_zone_has_soa_and_ns_from_defaults() {
        let z = new_zone(&origin(), &ZoneDefaults::default(), today()).unwrap();
        assert_eq!(z.soa.serial, 2026050100);
        assert_eq!(z.soa.rname.to_ascii(), "hostmaster.panel1.invalid.");
        assert_eq!(z.records.len(), 2);
        assert_eq!(
            contact_rname("john.doe@example.net").unwrap().to_ascii(),
            "john\\.doe.example.net."
        );
        let bad = ZoneDefaults {
            nameservers: vec![],
            ..ZoneDefaults::default()
        };
        assert!(new_zone(&origin(), &bad, today()).is_err());
    }

    #[test]
    fn a_batch_applies_whole_and_bumps_the_serial() {
        let out = apply(&[
            create("a", "www", "A", "192.0.2.1"),
            create("b", "www", "A", "192.0.2.2"),
            create("c", "@", "MX", "10 mail"),
            create("d", "mail", "A", "192.0.2.3"),
        ])
        .unwrap();
        assert_eq!(out.soa.serial, 2026050101);
        assert_eq!(out.created, vec!["a", "b", "c", "d"]);
        assert_eq!(out.records.len(), 6);
        // Update then delete in one batch.
        let (soa, _) = base();
        let out2 = apply_changes(
            &origin(),
            &out.soa,
            &out.records,
            &[
                Change::Update {
                    id: "a".into(),
                    record: input("www", "A", Some(3600), "192.0.2.9"),
                },
                Change::Delete { id: "b".into() },
            ],
            &RecordRules::default(),
            today(),
        )
        .unwrap();
        assert_eq!(out2.updated, vec!["a"]);
        assert_eq!(out2.deleted, vec!["b"]);
        assert_eq!(out2.soa.serial, 2026050102);
        assert!(soa.serial < out2.soa.serial);
    }

    #[test]
    fn missing_ttl_joins_the_rrset() {
        let out = apply(&[Change::Create {
            id: "x".into(),
            record: input("@", "NS", None, "ns3.panel1.invalid."),
        }])
        .unwrap();
        let r = &out.records.iter().find(|(id, _)| id == "x").unwrap().1;
        assert_eq!(r.ttl, 86_400);
    }

    #[test]
    fn cross_record_rules_blame_the_change() {
        assert_eq!(
            codes(apply(&[
                create("a", "www", "A", "192.0.2.1"),
                create("b", "www", "CNAME", "x.example.net.")
            ])),
            vec![("records.1.name".into(), "cname_exclusive".into())]
        );
        assert_eq!(
            codes(apply(&[
                create("a", "www", "A", "192.0.2.1"),
                create("b", "www", "A", "192.0.2.1")
            ])),
            vec![("records.1.content".into(), "duplicate_record".into())]
        );
        assert_eq!(
            codes(apply(&[
                Change::Create {
                    id: "a".into(),
                    record: input("www", "A", Some(300), "192.0.2.1")
                },
                Change::Create {
                    id: "b".into(),
                    record: input("www", "A", Some(600), "192.0.2.2")
                },
            ])),
            vec![("records.1.ttl".into(), "rrset_ttl".into())]
        );
        assert_eq!(
            codes(apply(&[
                create("a", "alias", "CNAME", "www.example.net."),
                create("b", "@", "MX", "10 alias")
            ])),
            vec![("records.1.content".into(), "target_is_alias".into())]
        );
        assert_eq!(
            codes(apply(&[
                Change::Delete { id: "ns0".into() },
                Change::Delete { id: "ns1".into() }
            ])),
            vec![("records.0.content".into(), "apex_ns_required".into())]
        );
        assert_eq!(
            codes(apply(&[
                create("a", "sub", "NS", "ns1.sub"),
                create("b", "www.sub", "TXT", "x")
            ])),
            vec![
                ("records.0.content".into(), "glue_required".into()),
                ("records.1.name".into(), "occluded".into())
            ]
        );
        assert!(
            apply(&[
                create("a", "sub", "NS", "ns1.sub"),
                create("b", "ns1.sub", "A", "192.0.2.53"),
                create(
                    "c",
                    "sub",
                    "DS",
                    "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"
                ),
            ])
            .is_ok()
        );
        assert_eq!(
            codes(apply(&[create(
                "c",
                "sub",
                "DS",
                "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"
            )])),
            vec![("records.0.name".into(), "ds_not_at_delegation".into())]
        );
        assert_eq!(
            codes(apply(&[Change::Delete { id: "nope".into() }])),
            vec![("records.0.id".into(), "not_found".into())]
        );
        assert_eq!(
            codes(apply(&[create("x", "www", "A", "not-an-ip")])),
            vec![("records.0.content".into(), "content".into())]
        );
    }
}
