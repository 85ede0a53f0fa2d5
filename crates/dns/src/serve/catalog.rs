//! The zones the built-in server answers from: an immutable, indexed snapshot per zone,
//! swapped atomically on each change. Readers never block writers and never see a half
//! applied change.
//!
//! Names are keyed by their lowercase wire form (`\x03www\x07example\x03com\x00`), so the
//! key of a name's parent is a suffix of its key: walking up to the closest encloser, the
//! delegation point or the zone apex takes slices, not allocations. Every ancestor of an
//! owner up to the apex is a node (empty non-terminals included), so "does this name
//! exist" is one hash lookup.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use foldhash::fast::RandomState;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::sync::broadcast;

use crate::record::DnsRecord;
use crate::zone::{Soa, Zone};

static NEXT_SNAPSHOT_ID: AtomicU64 = AtomicU64::new(1);

/// The lowercase wire form of a name (uncompressed), the key of every index here.
pub(crate) fn wire_key(name: &Name) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 2);
    write_wire_key(&mut key, name);
    key
}

/// Writes the lowercase wire form of `name` into `buf` (cleared first); returns whether
/// the name was lowercase already.
pub(crate) fn write_wire_key(buf: &mut Vec<u8>, name: &Name) -> bool {
    buf.clear();
    let mut lowercase = true;
    for label in name.iter() {
        buf.push(u8::try_from(label.len()).unwrap_or(63));
        if label.iter().any(u8::is_ascii_uppercase) {
            lowercase = false;
            buf.extend(label.iter().map(u8::to_ascii_lowercase));
        } else {
            buf.extend_from_slice(label);
        }
    }
    buf.push(0);
    lowercase
}

/// Whether the name with wire key `key` is at or below the zone with key `origin`.
pub(crate) fn key_in_zone(key: &[u8], origin: &[u8]) -> bool {
    if key.len() < origin.len() || !key.ends_with(origin) {
        return false;
    }
    // The suffix must start at a label boundary.
    let want = key.len() - origin.len();
    let mut pos = 0;
    while pos < want {
        pos += usize::from(key[pos]) + 1;
    }
    pos == want
}

/// The key of the parent name, or `None` for the root.
pub(crate) fn parent_key(key: &[u8]) -> Option<&[u8]> {
    let first = *key.first()? as usize;
    if first == 0 {
        None
    } else {
        key.get(first + 1..)
    }
}

/// One RRset of a node.
#[derive(Debug)]
pub(crate) struct RrSet {
    pub rtype: RecordType,
    pub ttl: u32,
    pub data: Box<[RData]>,
}

/// One name of a zone: its RRsets (none for an empty non-terminal) and the delegation
/// point at or above it, if any.
#[derive(Debug)]
pub(crate) struct Node {
    pub name: Name,
    pub rrsets: Box<[RrSet]>,
    /// The node index of the nearest zone cut at or above this name (below the apex).
    pub cut: Option<u32>,
}

impl Node {
    pub fn rrset(&self, rtype: RecordType) -> Option<&RrSet> {
        self.rrsets.iter().find(|r| r.rtype == rtype)
    }

    pub fn records(&self, set: &RrSet, owner: &Name) -> impl Iterator<Item = Record> {
        let owner = owner.clone();
        let ttl = set.ttl;
        set.data
            .iter()
            .map(move |d| Record::from_rdata(owner.clone(), ttl, d.clone()))
    }
}

/// An immutable, indexed copy of one zone, as served.
#[derive(Debug)]
pub struct ZoneSnapshot {
    id: u64,
    origin: Name,
    origin_key: Box<[u8]>,
    soa: Soa,
    soa_record: Record,
    index: HashMap<Box<[u8]>, u32, RandomState>,
    nodes: Vec<Node>,
    record_count: usize,
}

impl ZoneSnapshot {
    /// Indexes a zone. Records must already be checked ([`crate::zone::check_zone`]);
    /// records outside the origin are left out.
    pub fn build(zone: &Zone) -> Self {
        Self::from_parts(&zone.origin, &zone.soa, &zone.records)
    }

    pub fn from_parts(origin: &Name, soa: &Soa, records: &[DnsRecord]) -> Self {
        let origin_key = wire_key(origin);
        let mut index: HashMap<Box<[u8]>, u32, RandomState> =
            HashMap::with_capacity_and_hasher(records.len() + 1, RandomState::default());
        let mut names: Vec<Name> = Vec::with_capacity(records.len() + 1);
        let mut sets: Vec<Vec<(RecordType, u32, Vec<RData>)>> =
            Vec::with_capacity(records.len() + 1);
        // Parent node and key length of each node, for the zone cuts below.
        let mut parents: Vec<u32> = Vec::with_capacity(records.len() + 1);
        let mut key_lens: Vec<u16> = Vec::with_capacity(records.len() + 1);
        index.insert(origin_key.clone().into_boxed_slice(), 0);
        names.push(origin.clone());
        sets.push(Vec::new());
        parents.push(u32::MAX);
        key_lens.push(origin_key.len() as u16);
        let mut count = 0;
        let mut key: Vec<u8> = Vec::with_capacity(256);
        for r in records {
            let lowercase = write_wire_key(&mut key, &r.name);
            if !key_in_zone(&key, &origin_key) {
                continue;
            }
            count += 1;
            let node = match index.get(key.as_slice()) {
                Some(&n) => n as usize,
                None => {
                    let n = names.len();
                    index.insert(key.as_slice().into(), n as u32);
                    let mut name = if lowercase {
                        r.name.clone()
                    } else {
                        r.name.to_lowercase()
                    };
                    names.push(name.clone());
                    sets.push(Vec::new());
                    parents.push(0);
                    key_lens.push(key.len() as u16);
                    // Link to the parent, creating empty non-terminals up to the apex.
                    let mut child = n;
                    let mut k: &[u8] = &key;
                    while let Some(p) = parent_key(k) {
                        if p.len() < origin_key.len() {
                            break;
                        }
                        if let Some(&pi) = index.get(p) {
                            parents[child] = pi;
                            break;
                        }
                        let e = names.len();
                        name = name.base_name();
                        index.insert(p.to_vec().into_boxed_slice(), e as u32);
                        names.push(name.clone());
                        sets.push(Vec::new());
                        parents.push(0);
                        key_lens.push(p.len() as u16);
                        parents[child] = e as u32;
                        child = e;
                        k = p;
                    }
                    n
                }
            };
            let rtype = r.record_type();
            match sets[node].iter_mut().find(|s| s.0 == rtype) {
                Some(set) => set.2.push(r.data.clone()),
                None => sets[node].push((rtype, r.ttl, vec![r.data.clone()])),
            }
        }
        let mut nodes: Vec<Node> = names
            .into_iter()
            .zip(sets)
            .map(|(name, rrsets)| Node {
                name,
                rrsets: rrsets
                    .into_iter()
                    .map(|(rtype, ttl, data)| RrSet {
                        rtype,
                        ttl,
                        data: data.into_boxed_slice(),
                    })
                    .collect(),
                cut: None,
            })
            .collect();
        // Zone cuts, from the apex down: a parent's key is shorter than its child's.
        let mut order: Vec<u32> = (1..nodes.len() as u32).collect();
        order.sort_unstable_by_key(|&i| key_lens[i as usize]);
        for i in order {
            let i = i as usize;
            let inherited = nodes[parents[i] as usize].cut;
            let is_cut = nodes[i].rrset(RecordType::NS).is_some();
            nodes[i].cut = inherited.or(if is_cut { Some(i as u32) } else { None });
        }
        let soa_record = soa.record(origin).to_hickory();
        Self {
            id: NEXT_SNAPSHOT_ID.fetch_add(1, Ordering::Relaxed),
            origin: origin.clone(),
            origin_key: origin_key.into_boxed_slice(),
            soa: soa.clone(),
            soa_record,
            index,
            nodes,
            record_count: count,
        }
    }

    /// A number unique to this snapshot (answers cached for it die with it).
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn origin(&self) -> &Name {
        &self.origin
    }

    pub fn serial(&self) -> u32 {
        self.soa.serial
    }

    pub fn soa(&self) -> &Soa {
        &self.soa
    }

    /// How many records (besides the SOA) are served.
    pub fn record_count(&self) -> usize {
        self.record_count
    }

    pub(crate) fn origin_key(&self) -> &[u8] {
        &self.origin_key
    }

    pub(crate) fn soa_record(&self) -> &Record {
        &self.soa_record
    }

    /// The SOA record with the negative-caching TTL, for the authority section of
    /// NXDOMAIN and NODATA answers (RFC 2308 §3).
    pub(crate) fn negative_soa(&self) -> Record {
        let mut r = self.soa_record.clone();
        r.ttl = self.soa.negative_ttl();
        r
    }

    pub(crate) fn node(&self, key: &[u8]) -> Option<&Node> {
        self.index.get(key).map(|&i| &self.nodes[i as usize])
    }

    pub(crate) fn node_at(&self, i: u32) -> &Node {
        &self.nodes[i as usize]
    }

    pub(crate) fn apex(&self) -> &Node {
        &self.nodes[0]
    }

    /// The zone as served, back in its stored form.
    pub fn to_zone(&self) -> Zone {
        Zone {
            origin: self.origin.clone(),
            soa: self.soa.clone(),
            records: self
                .all_records()
                .map(|r| DnsRecord {
                    name: r.name,
                    ttl: r.ttl,
                    data: r.data,
                })
                .collect(),
        }
    }

    /// Every record in transfer order (apex first), without the SOA.
    pub(crate) fn all_records(&self) -> impl Iterator<Item = Record> + '_ {
        self.nodes
            .iter()
            .flat_map(|n| n.rrsets.iter().flat_map(move |s| n.records(s, &n.name)))
    }
}

/// Frees a replaced snapshot off the query path: a large zone takes a while to free, and
/// the last reference could otherwise be dropped by a UDP worker in the middle of serving.
fn retire(old: Arc<ZoneSnapshot>) {
    if old.record_count() < 10_000 {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("dns-retire".into())
        .spawn(move || {
            // Readers hold a snapshot only while answering one packet.
            for _ in 0..1000 {
                if Arc::strong_count(&old) == 1 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            drop(old);
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start a thread to free a replaced zone");
    }
}

/// A change to the catalog, for the NOTIFY sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneChanged {
    pub origin: Name,
    pub serial: u32,
}

pub(crate) struct CatalogState {
    pub zones: HashMap<Box<[u8]>, Arc<ZoneSnapshot>, RandomState>,
}

impl CatalogState {
    /// The most specific zone containing the name with this key.
    pub fn find(&self, key: &[u8]) -> Option<&Arc<ZoneSnapshot>> {
        let mut k = key;
        loop {
            if let Some(z) = self.zones.get(k) {
                return Some(z);
            }
            k = parent_key(k)?;
        }
    }
}

/// The zones served, shared by the server and the code that publishes changes. Cheap to
/// clone; publishing swaps one pointer, so queries in flight finish on the old snapshot.
#[derive(Clone)]
pub struct Catalog {
    state: Arc<ArcSwap<CatalogState>>,
    changes: broadcast::Sender<ZoneChanged>,
}

impl Default for Catalog {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("zones", &self.state.load().zones.len())
            .finish()
    }
}

impl Catalog {
    pub fn new() -> Self {
        let (changes, _) = broadcast::channel(1024);
        Self {
            state: Arc::new(ArcSwap::from_pointee(CatalogState {
                zones: HashMap::default(),
            })),
            changes,
        }
    }

    /// Indexes `zone` and serves it from now on, replacing the previous version.
    pub fn publish(&self, zone: &Zone) -> Arc<ZoneSnapshot> {
        let snap = Arc::new(ZoneSnapshot::build(zone));
        self.publish_snapshot(snap.clone());
        snap
    }

    /// Serves an already built snapshot.
    pub fn publish_snapshot(&self, snap: Arc<ZoneSnapshot>) {
        let key: Box<[u8]> = snap.origin_key().into();
        let previous = self.state.rcu(|cur| {
            let mut zones = cur.zones.clone();
            zones.insert(key.clone(), snap.clone());
            CatalogState { zones }
        });
        let replaced = previous.zones.get(&key).cloned();
        drop(previous);
        if let Some(old) = replaced {
            retire(old);
        }
        tracing::debug!(zone = %snap.origin(), serial = snap.serial(), records = snap.record_count(), "zone published");
        let _ = self.changes.send(ZoneChanged {
            origin: snap.origin().clone(),
            serial: snap.serial(),
        });
    }

    /// Stops serving a zone; answers for it become REFUSED. Returns whether it was served.
    pub fn remove(&self, origin: &Name) -> bool {
        let key: Box<[u8]> = wire_key(origin).into();
        let previous = self.state.rcu(|cur| {
            let mut zones = cur.zones.clone();
            zones.remove(&key);
            CatalogState { zones }
        });
        let replaced = previous.zones.get(&key).cloned();
        drop(previous);
        let removed = replaced.is_some();
        if let Some(old) = replaced {
            retire(old);
        }
        if removed {
            tracing::debug!(zone = %origin, "zone removed");
        }
        removed
    }

    /// The snapshot served for exactly this zone name.
    pub fn get(&self, origin: &Name) -> Option<Arc<ZoneSnapshot>> {
        self.state
            .load()
            .zones
            .get(wire_key(origin).as_slice())
            .cloned()
    }

    /// The names of the zones served.
    pub fn zones(&self) -> Vec<Name> {
        self.state
            .load()
            .zones
            .values()
            .map(|z| z.origin().clone())
            .collect()
    }

    pub(crate) fn load(&self) -> arc_swap::Guard<Arc<CatalogState>> {
        self.state.load()
    }

    /// Receives every publish (for NOTIFY).
    pub fn subscribe(&self) -> broadcast::Receiver<ZoneChanged> {
        self.changes.subscribe()
    }
}
