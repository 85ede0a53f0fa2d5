//! Authoritative answers (RFC 1034 §4.3.2, RFC 2181, RFC 2308, RFC 4592) from a zone
//! snapshot, and their wire form.
//!
//! An answer depends only on the snapshot, the lowercase question and the EDNS/DO flags,
//! so its encoded bytes are cached per (snapshot, name, type, flags) and reused with the
//! query's id, RD/CD bits and question spelling patched in. A cached answer dies with its
//! snapshot: entries carry the snapshot id.

use std::collections::HashMap;

use foldhash::fast::RandomState;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::catalog::{Node, ZoneSnapshot, parent_key, wire_key};

/// How many CNAMEs are followed inside a zone before giving up (loops are refused at
/// write time; this only bounds the work).
const MAX_CNAME_CHAIN: usize = 8;

/// The sections of an authoritative answer.
#[derive(Debug, Default)]
pub(crate) struct Resolution {
    pub rcode: ResponseCode,
    pub authoritative: bool,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
}

enum Lookup<'z> {
    /// The name exists (possibly as an empty non-terminal).
    Found(&'z Node),
    /// The name does not exist; the closest encloser is given.
    Missing(&'z Node),
}

fn lookup<'z>(zone: &'z ZoneSnapshot, key: &[u8]) -> Lookup<'z> {
    if let Some(n) = zone.node(key) {
        return Lookup::Found(n);
    }
    let mut k = key;
    while let Some(p) = parent_key(k) {
        if let Some(n) = zone.node(p) {
            return Lookup::Missing(n);
        }
        k = p;
    }
    Lookup::Missing(zone.apex())
}

/// Answers `qname`/`qtype` from `zone` (which must contain `qname`).
pub(crate) fn resolve(zone: &ZoneSnapshot, qname: &Name, qtype: RecordType) -> Resolution {
    let mut res = Resolution {
        authoritative: true,
        ..Resolution::default()
    };
    let mut name = qname.clone();
    let mut key = wire_key(qname);
    for _ in 0..MAX_CNAME_CHAIN {
        let node = match lookup(zone, &key) {
            Lookup::Found(node) => node,
            Lookup::Missing(encloser) => {
                if let Some(cut) = encloser.cut {
                    referral(zone, zone.node_at(cut), &mut res);
                    return res;
                }
                // RFC 4592: the wildcard at the closest encloser answers for the name.
                let mut wkey = Vec::with_capacity(encloser.name.len() + 4);
                wkey.extend_from_slice(b"\x01*");
                wkey.extend_from_slice(&wire_key(&encloser.name));
                match zone.node(&wkey) {
                    Some(w) => w,
                    None => {
                        res.rcode = ResponseCode::NXDomain;
                        res.authorities.push(zone.negative_soa());
                        return res;
                    }
                }
            }
        };
        if let Some(cut) = node.cut {
            let at_cut = std::ptr::eq(zone.node_at(cut), node);
            if !(at_cut && qtype == RecordType::DS) {
                referral(zone, zone.node_at(cut), &mut res);
                return res;
            }
        }
        let at_apex = std::ptr::eq(node, zone.apex());
        if at_apex && matches!(qtype, RecordType::SOA | RecordType::ANY) {
            res.answers.push(zone.soa_record().clone());
            if qtype == RecordType::SOA {
                return res;
            }
        }
        if qtype == RecordType::ANY {
            for set in node.rrsets.iter() {
                res.answers.extend(node.records(set, &name));
            }
            if res.answers.is_empty() {
                res.authorities.push(zone.negative_soa());
            }
            return res;
        }
        if let Some(set) = node.rrset(qtype) {
            res.answers.extend(node.records(set, &name));
            additional_for(zone, set, &mut res);
            return res;
        }
        if qtype != RecordType::CNAME
            && let Some(set) = node.rrset(RecordType::CNAME)
        {
            res.answers.extend(node.records(set, &name));
            let Some(RData::CNAME(target)) = set.data.first() else {
                return res;
            };
            let target = target.0.clone();
            if !zone.origin().zone_of(&target) {
                return res;
            }
            key = wire_key(&target);
            name = target;
            continue;
        }
        // NODATA (RFC 2308 §2.2).
        res.authorities.push(zone.negative_soa());
        return res;
    }
    res
}

/// A referral to the child zone at `cut`: its NS set in authority, glue in additional,
/// not authoritative (RFC 1034 §4.3.2 step 3b).
fn referral(zone: &ZoneSnapshot, cut: &Node, res: &mut Resolution) {
    res.authoritative = !res.answers.is_empty();
    if let Some(ns) = cut.rrset(RecordType::NS) {
        res.authorities.extend(cut.records(ns, &cut.name));
        for d in ns.data.iter() {
            if let RData::NS(target) = d {
                glue(zone, &target.0, res, true);
            }
        }
    }
}

/// Addresses of in-zone targets of MX, NS and SRV answers (RFC 1035 §3.3.9 and friends).
fn additional_for(zone: &ZoneSnapshot, set: &super::catalog::RrSet, res: &mut Resolution) {
    for d in set.data.iter() {
        let target = match d {
            RData::MX(mx) => &mx.exchange,
            RData::NS(ns) => &ns.0,
            RData::SRV(srv) => &srv.target,
            _ => continue,
        };
        glue(zone, target, res, false);
    }
}

fn glue(zone: &ZoneSnapshot, target: &Name, res: &mut Resolution, below_cut_ok: bool) {
    if !zone.origin().zone_of(target) {
        return;
    }
    let Some(node) = zone.node(&wire_key(target)) else {
        return;
    };
    if node.cut.is_some() && !below_cut_ok {
        return;
    }
    for t in [RecordType::A, RecordType::AAAA] {
        if let Some(set) = node.rrset(t) {
            let already = res
                .additionals
                .iter()
                .any(|r| r.record_type() == t && r.name == node.name);
            if !already {
                res.additionals.extend(node.records(set, &node.name));
            }
        }
    }
}

/// EDNS as the client sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientEdns {
    pub payload: u16,
    pub dnssec_ok: bool,
}

/// The encoded forms of one answer, from fullest to leanest; the sender picks the first
/// that fits the client's size limit.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    pub full: Box<[u8]>,
    /// Without the additional section (glue dropped), if that differs.
    pub lean: Option<Box<[u8]>>,
    /// Header, question and OPT only, with TC set.
    pub truncated: Box<[u8]>,
}

impl Encoded {
    pub fn fitting(&self, limit: usize) -> &[u8] {
        if self.full.len() <= limit {
            return &self.full;
        }
        if let Some(lean) = &self.lean
            && lean.len() <= limit
        {
            return lean;
        }
        &self.truncated
    }
}

/// Our EDNS UDP payload size (RFC 9715 / DNS flag day 2020).
pub(crate) const OUR_PAYLOAD: u16 = 1232;

pub(crate) fn response_message(
    id: u16,
    query: &Query,
    res: &Resolution,
    edns: Option<ClientEdns>,
    with_additional: bool,
    with_records: bool,
) -> Message {
    let mut m = Message::response(id, OpCode::Query);
    m.metadata.message_type = MessageType::Response;
    m.metadata.authoritative = res.authoritative;
    m.metadata.response_code = res.rcode;
    m.add_query(query.clone());
    if with_records {
        m.add_answers(res.answers.iter().cloned());
        m.add_authorities(res.authorities.iter().cloned());
        if with_additional {
            m.add_additionals(res.additionals.iter().cloned());
        }
    } else {
        m.metadata.truncation = true;
    }
    if let Some(e) = edns {
        let mut ours = Edns::new();
        ours.set_max_payload(OUR_PAYLOAD);
        ours.set_dnssec_ok(e.dnssec_ok);
        m.set_edns(ours);
    }
    m
}

/// Encodes an answer in its three sizes. `query` must carry the lowercase name.
pub(crate) fn encode(
    id: u16,
    query: &Query,
    res: &Resolution,
    edns: Option<ClientEdns>,
) -> Option<Encoded> {
    let full = response_message(id, query, res, edns, true, true)
        .to_vec()
        .ok()?;
    let lean = if res.additionals.is_empty() {
        None
    } else {
        Some(
            response_message(id, query, res, edns, false, true)
                .to_vec()
                .ok()?
                .into_boxed_slice(),
        )
    };
    let truncated = response_message(id, query, res, edns, false, false)
        .to_vec()
        .ok()?;
    Some(Encoded {
        full: full.into_boxed_slice(),
        lean,
        truncated: truncated.into_boxed_slice(),
    })
}

/// A plain query as the fast path reads it straight from the packet: one question, class
/// IN, opcode QUERY, at most an OPT record. Anything else goes to the full decoder.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastQuery<'a> {
    pub id: u16,
    /// The question name as sent (original case), with its terminating zero.
    pub qname: &'a [u8],
    pub qtype: u16,
    pub edns: Option<ClientEdns>,
    /// Byte 2 and 3 of the header, for RD and CD.
    pub flags: [u8; 2],
}

pub(crate) fn parse_fast(buf: &[u8]) -> Option<FastQuery<'_>> {
    if buf.len() < 17 {
        return None;
    }
    let flags = [buf[2], buf[3]];
    // QR=0, OPCODE=0, TC=0; Z bit clear.
    if flags[0] & 0xfa != 0 || flags[1] & 0x40 != 0 {
        return None;
    }
    let count = |i: usize| u16::from_be_bytes([buf[i], buf[i + 1]]);
    if count(4) != 1 || count(6) != 0 || count(8) != 0 || count(10) > 1 {
        return None;
    }
    let mut pos = 12;
    loop {
        let l = *buf.get(pos)? as usize;
        if l == 0 {
            pos += 1;
            break;
        }
        if l > 63 {
            return None;
        }
        pos += l + 1;
        if pos - 12 > 255 {
            return None;
        }
    }
    let qname = &buf[12..pos];
    let qtype = u16::from_be_bytes([*buf.get(pos)?, *buf.get(pos + 1)?]);
    let qclass = u16::from_be_bytes([*buf.get(pos + 2)?, *buf.get(pos + 3)?]);
    pos += 4;
    if qclass != 1 {
        return None;
    }
    // Meta types (AXFR, IXFR, ANY …) take the full path.
    if qtype == 0 || qtype == 41 || (128..=255).contains(&qtype) {
        return None;
    }
    let edns = if count(10) == 1 {
        // OPT: root name, type 41, payload, ext-rcode, version, flags, rdlen, options.
        let opt = buf.get(pos..pos + 11)?;
        if opt[0] != 0 || u16::from_be_bytes([opt[1], opt[2]]) != 41 || opt[6] != 0 {
            return None;
        }
        let payload = u16::from_be_bytes([opt[3], opt[4]]);
        let dnssec_ok = opt[7] & 0x80 != 0;
        let rdlen = u16::from_be_bytes([opt[9], opt[10]]) as usize;
        pos += 11 + rdlen;
        Some(ClientEdns { payload, dnssec_ok })
    } else {
        None
    };
    if pos != buf.len() {
        return None;
    }
    Some(FastQuery {
        id: u16::from_be_bytes([buf[0], buf[1]]),
        qname,
        qtype,
        edns,
        flags,
    })
}

/// The UDP size limit for a client (RFC 6891 §6.2.5).
pub(crate) fn udp_limit(edns: Option<ClientEdns>) -> usize {
    match edns {
        Some(e) => usize::from(e.payload.clamp(512, OUR_PAYLOAD)),
        None => 512,
    }
}

/// Writes a cached answer for this query: id, RD and CD from the query, and the question
/// spelled as the client spelled it.
pub(crate) fn patch_into(out: &mut Vec<u8>, cached: &[u8], q: &FastQuery<'_>) {
    out.clear();
    out.extend_from_slice(cached);
    out[0..2].copy_from_slice(&q.id.to_be_bytes());
    out[2] = (out[2] & !0x01) | (q.flags[0] & 0x01);
    out[3] = (out[3] & !0x10) | (q.flags[1] & 0x10);
    out[12..12 + q.qname.len()].copy_from_slice(q.qname);
}

/// Answers cached by one worker. Bounded: cleared when full (random names cannot grow it
/// without limit).
pub(crate) struct AnswerCache {
    map: HashMap<Box<[u8]>, Encoded, RandomState>,
    capacity: usize,
}

impl AnswerCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::with_capacity_and_hasher(capacity.min(1 << 16), RandomState::default()),
            capacity,
        }
    }

    /// The cache key: snapshot id, type, EDNS flags, lowercase wire name.
    pub fn key(buf: &mut Vec<u8>, snapshot: u64, q: &FastQuery<'_>) {
        buf.clear();
        buf.extend_from_slice(&snapshot.to_le_bytes());
        buf.extend_from_slice(&q.qtype.to_be_bytes());
        buf.push(match q.edns {
            None => 0,
            Some(e) if e.dnssec_ok => 2,
            Some(_) => 1,
        });
        buf.extend(q.qname.iter().map(u8::to_ascii_lowercase));
    }

    pub fn get(&self, key: &[u8]) -> Option<&Encoded> {
        self.map.get(key)
    }

    pub fn insert(&mut self, key: &[u8], value: Encoded) {
        if self.map.len() >= self.capacity {
            self.map.clear();
        }
        self.map.insert(key.into(), value);
    }
}
