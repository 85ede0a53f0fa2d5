//! The built-in authoritative server: UDP and TCP listeners over the [`Catalog`].
//!
//! UDP is served by plain OS threads (one per core by default) on clones of one socket,
//! each with its own answer cache, so a cached answer costs a hash lookup and a copy.
//! Plain queries are read straight from the packet (`answer::parse_fast`); anything
//! else (TSIG, NOTIFY, UPDATE, AXFR/IXFR, odd flags) is decoded by hickory-proto. TCP runs
//! on tokio, one task per connection, and carries zone transfers. A notifier task sends
//! NOTIFY to the configured secondaries after every publish.

pub(crate) mod answer;
pub mod catalog;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket as StdUdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, Record, RecordType, TSigner};
use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub use catalog::{Catalog, ZoneChanged, ZoneSnapshot};

use crate::notify::{NotifyPolicy, notify};
use crate::tsig::{ResponseSigner, TsigContext, TsigKey, TsigKeyError, verify_request};
use answer::{
    AnswerCache, ClientEdns, FastQuery, encode, parse_fast, patch_into, resolve, udp_limit,
};

/// Where NOTIFY goes after a zone changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyConfig {
    /// Secondaries of every zone.
    pub targets: Vec<SocketAddr>,
    /// Secondaries of one zone (key: the zone name, `example.com.`), in addition.
    pub per_zone: HashMap<String, Vec<SocketAddr>>,
    /// Signs NOTIFY messages with this key, if set.
    pub key: Option<TsigKey>,
    pub policy: NotifyPolicy,
}

impl NotifyConfig {
    pub fn targets_for(&self, zone: &Name) -> Vec<SocketAddr> {
        let mut t = self.targets.clone();
        for (name, extra) in &self.per_zone {
            let matches = Name::from_utf8(name).is_ok_and(|n| {
                let mut n = n;
                n.set_fqdn(true);
                n == *zone
            });
            if matches {
                t.extend(extra.iter().copied());
            }
        }
        t.sort();
        t.dedup();
        t
    }
}

/// Transfer rights per zone, set while the server runs: addresses allowed without a key,
/// and TSIG keys (which only open the zones that list them).
#[derive(Debug, Clone, Default)]
pub struct TransferAccess {
    pub zones: HashMap<Name, ZoneAccess>,
    /// The keys the zones name (a key may serve several zones).
    pub keys: Vec<TsigKey>,
}

/// Who may transfer one zone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZoneAccess {
    pub allow: Vec<IpNet>,
    /// Key names (`transfer-key.`), as in [`TsigKey::name`].
    pub keys: Vec<Name>,
}

/// The keys the server verifies with: the configuration's and the zones'.
#[derive(Default)]
struct Access {
    keys: Vec<TSigner>,
    config_keys: std::collections::HashSet<Name>,
    zones: HashMap<Name, ZoneAccess>,
}

impl Access {
    fn new(config: &[TSigner], extra: TransferAccess) -> Result<Self, ServerError> {
        let mut keys: Vec<TSigner> = config.to_vec();
        let config_keys = config.iter().map(|k| k.signer_name().clone()).collect();
        for k in &extra.keys {
            let signer = k.signer()?;
            if !keys.iter().any(|s| s.signer_name() == signer.signer_name()) {
                keys.push(signer);
            }
        }
        Ok(Self {
            keys,
            config_keys,
            zones: extra.zones,
        })
    }
}

/// The server's settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// UDP and TCP listen address (`127.0.0.1:5353`; port 0 picks a free port).
    pub listen: SocketAddr,
    /// UDP worker threads; 0 means one per core.
    pub udp_workers: usize,
    /// Addresses allowed to transfer zones (AXFR) without a TSIG key.
    pub axfr_allow: Vec<IpNet>,
    /// Keys accepted on signed requests; a request signed with one may transfer zones.
    pub tsig_keys: Vec<TsigKey>,
    pub notify: NotifyConfig,
    /// How long an idle TCP connection stays open.
    pub tcp_idle_timeout: Duration,
    /// Cached answers per UDP worker.
    pub cache_entries: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 5353)),
            udp_workers: 0,
            axfr_allow: Vec::new(),
            tsig_keys: Vec::new(),
            notify: NotifyConfig::default(),
            tcp_idle_timeout: Duration::from_secs(10),
            cache_entries: 250_000,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    #[error(
        "cannot listen for DNS on UDP {addr}: {source}; pick a free address (PANEL1_DNS_ADDR) or stop what uses it"
    )]
    BindUdp {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(
        "cannot listen for DNS on TCP {addr}: {source}; pick a free address (PANEL1_DNS_ADDR) or stop what uses it"
    )]
    BindTcp {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    TsigKey(#[from] TsigKeyError),
    #[error("cannot start the DNS server's threads: {0}")]
    Io(#[from] std::io::Error),
}

/// Counters of the running server.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub udp_queries: AtomicU64,
    pub tcp_queries: AtomicU64,
    pub cache_hits: AtomicU64,
    pub refused: AtomicU64,
    pub transfers: AtomicU64,
}

pub(crate) struct Handler {
    /// Transfer rights added while running ([`RunningServer::set_transfer_access`]).
    access: arc_swap::ArcSwap<Access>,
    catalog: Catalog,
    /// The configuration's TSIG keys.
    config_keys: Vec<TSigner>,
    axfr_allow: Vec<IpNet>,
    stats: Arc<ServerStats>,
}

/// Starts the authoritative server.
pub struct DnsServer;

impl DnsServer {
    /// Binds UDP and TCP on `config.listen` and serves `catalog` until
    /// [`RunningServer::shutdown`]. Must be called inside a tokio runtime.
    pub async fn start(
        config: ServerConfig,
        catalog: Catalog,
    ) -> Result<RunningServer, ServerError> {
        let keys = config
            .tsig_keys
            .iter()
            .map(TsigKey::signer)
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(k) = &config.notify.key {
            k.signer()?;
        }
        // UDP and TCP on the same port. With port 0 the UDP bind picks it; if that port is
        // taken for TCP, pick again.
        let mut attempt = 0;
        let (udp, udp_addr, tcp) = loop {
            attempt += 1;
            let udp = StdUdpSocket::bind(config.listen).map_err(|source| ServerError::BindUdp {
                addr: config.listen,
                source,
            })?;
            let udp_addr = udp.local_addr()?;
            match TcpListener::bind(udp_addr).await {
                Ok(tcp) => break (udp, udp_addr, tcp),
                Err(e)
                    if config.listen.port() == 0
                        && e.kind() == std::io::ErrorKind::AddrInUse
                        && attempt < 20 => {}
                Err(source) => {
                    return Err(ServerError::BindTcp {
                        addr: udp_addr,
                        source,
                    });
                }
            }
        };
        let tcp_addr = tcp.local_addr()?;
        let stats = Arc::new(ServerStats::default());
        let handler = Arc::new(Handler {
            access: arc_swap::ArcSwap::from_pointee(Access::new(&keys, TransferAccess::default())?),
            catalog: catalog.clone(),
            config_keys: keys,
            axfr_allow: config.axfr_allow.clone(),
            stats: stats.clone(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        udp.set_read_timeout(Some(Duration::from_millis(200)))?;
        let workers = if config.udp_workers == 0 {
            std::thread::available_parallelism().map_or(2, usize::from)
        } else {
            config.udp_workers
        };
        let mut threads = Vec::with_capacity(workers);
        for i in 0..workers {
            let sock = udp.try_clone()?;
            let handler = handler.clone();
            let stop = stop.clone();
            let cache = config.cache_entries;
            threads.push(
                std::thread::Builder::new()
                    .name(format!("dns-udp-{i}"))
                    .spawn(move || udp_worker(sock, handler, stop, cache))?,
            );
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let tcp_task = tokio::spawn(tcp_loop(
            tcp,
            handler.clone(),
            stop_rx.clone(),
            config.tcp_idle_timeout,
        ));
        let notify_task = tokio::spawn(notify_loop(catalog, config.notify.clone(), stop_rx));
        tracing::info!(udp = %udp_addr, tcp = %tcp_addr, workers, "DNS server listening");
        Ok(RunningServer {
            handler: handler.clone(),
            udp_addr,
            tcp_addr,
            stop,
            stop_tx,
            threads,
            tasks: vec![tcp_task, notify_task],
            stats,
        })
    }
}

/// A running server: its addresses, counters and shutdown.
pub struct RunningServer {
    handler: Arc<Handler>,
    udp_addr: SocketAddr,
    tcp_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    stop_tx: watch::Sender<bool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stats: Arc<ServerStats>,
}

impl RunningServer {
    /// Replaces the transfer rights given per zone (secondaries' addresses and TSIG keys)
    /// while the server runs; the configuration's `axfr_allow` and `tsig_keys` stay.
    pub fn set_transfer_access(&self, access: TransferAccess) -> Result<(), ServerError> {
        let next = Access::new(&self.handler.config_keys, access)?;
        self.handler.access.store(Arc::new(next));
        Ok(())
    }

    pub fn udp_addr(&self) -> SocketAddr {
        self.udp_addr
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    /// Stops listening and waits for the workers (at most a fraction of a second).
    pub async fn shutdown(mut self) {
        self.stop_all();
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
        let threads: Vec<_> = self.threads.drain(..).collect();
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
        tracing::info!(udp = %self.udp_addr, "DNS server stopped");
    }

    fn stop_all(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.stop_tx.send(true);
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop_all();
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn udp_worker(
    sock: StdUdpSocket,
    handler: Arc<Handler>,
    stop: Arc<AtomicBool>,
    cache_entries: usize,
) {
    let mut buf = vec![0u8; 65_535];
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    let mut key: Vec<u8> = Vec::with_capacity(300);
    let mut lower = [0u8; 256];
    let mut cache = AnswerCache::new(cache_entries);
    let mut hits = 0u64;
    let mut count = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let (n, src) = match sock.recv_from(&mut buf) {
            Ok(v) => v,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                flush_stats(&handler.stats, &mut count, &mut hits);
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "DNS UDP receive failed");
                continue;
            }
        };
        count += 1;
        let pkt = &buf[..n];
        if let Some(q) = parse_fast(pkt) {
            let len = q.qname.len();
            for (d, s) in lower[..len].iter_mut().zip(q.qname) {
                *d = s.to_ascii_lowercase();
            }
            let state = handler.catalog.load();
            match state.find(&lower[..len]) {
                None => {
                    handler.stats.refused.fetch_add(1, Ordering::Relaxed);
                    refused_fast(&mut out, pkt, &q);
                }
                Some(zone) => {
                    AnswerCache::key(&mut key, zone.id(), &q);
                    let limit = udp_limit(q.edns);
                    if let Some(enc) = cache.get(&key) {
                        hits += 1;
                        patch_into(&mut out, enc.fitting(limit), &q);
                    } else {
                        let Some(enc) = answer_fast(zone, &lower[..len], &q) else {
                            continue;
                        };
                        patch_into(&mut out, enc.fitting(limit), &q);
                        cache.insert(&key, enc);
                    }
                }
            }
        } else {
            match handler.handle(pkt, src.ip(), false) {
                Some(resp) => {
                    out.clear();
                    out.extend_from_slice(&resp);
                }
                None => continue,
            }
        }
        if count >= 4096 {
            flush_stats(&handler.stats, &mut count, &mut hits);
        }
        if let Err(e) = sock.send_to(&out, src) {
            tracing::debug!(error = %e, %src, "DNS UDP send failed");
        }
    }
}

fn flush_stats(stats: &ServerStats, count: &mut u64, hits: &mut u64) {
    if *count > 0 {
        stats.udp_queries.fetch_add(*count, Ordering::Relaxed);
        stats.cache_hits.fetch_add(*hits, Ordering::Relaxed);
        *count = 0;
        *hits = 0;
    }
}

/// Resolves and encodes a fast-path query (cache miss).
fn answer_fast(zone: &ZoneSnapshot, lower: &[u8], q: &FastQuery<'_>) -> Option<answer::Encoded> {
    let mut labels: Vec<&[u8]> = Vec::with_capacity(8);
    let mut pos = 0;
    while lower[pos] != 0 {
        let l = lower[pos] as usize;
        labels.push(&lower[pos + 1..pos + 1 + l]);
        pos += l + 1;
    }
    let name = if labels.is_empty() {
        Name::root()
    } else {
        Name::from_labels(labels).ok()?
    };
    let qtype = RecordType::from(q.qtype);
    let res = resolve(zone, &name, qtype);
    let query = Query::query(name, qtype);
    encode(q.id, &query, &res, q.edns)
}

/// REFUSED for a zone we do not serve: the query's header and question, QR and RCODE 5,
/// an OPT record if the query had one.
fn refused_fast(out: &mut Vec<u8>, pkt: &[u8], q: &FastQuery<'_>) {
    out.clear();
    out.extend_from_slice(&pkt[..12 + q.qname.len() + 4]);
    out[2] = 0x80 | (q.flags[0] & 0x01);
    out[3] = (q.flags[1] & 0x10) | 5;
    out[6..12].copy_from_slice(&[0, 0, 0, 0, 0, u8::from(q.edns.is_some())]);
    if let Some(e) = q.edns {
        out.extend_from_slice(&[0, 0, 41]);
        out.extend_from_slice(&answer::OUR_PAYLOAD.to_be_bytes());
        out.extend_from_slice(&[0, 0, if e.dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
    }
}

impl Handler {
    /// The full path: decodes with hickory and answers one message (not AXFR).
    pub(crate) fn handle(&self, raw: &[u8], src: IpAddr, tcp: bool) -> Option<Vec<u8>> {
        match self.prepare(raw, src, tcp)? {
            Prepared::Done(bytes) => Some(bytes),
            Prepared::Transfer { .. } => None,
        }
    }

    fn prepare(&self, raw: &[u8], src: IpAddr, tcp: bool) -> Option<Prepared> {
        let msg = match Message::from_vec(raw) {
            Ok(m) => m,
            Err(_) => return formerr(raw).map(Prepared::Done),
        };
        if msg.message_type != MessageType::Query {
            return None;
        }
        let access = self.access.load();
        let tsig = match verify_request(raw, &msg, &access.keys) {
            None => None,
            Some(Ok(ctx)) => Some(ctx),
            Some(Err(failure)) => {
                tracing::warn!(%src, error = ?failure.error, "TSIG verification failed");
                let mut resp = error_response(&msg, ResponseCode::NotAuth);
                resp.signature = failure.record;
                return resp.to_vec().ok().map(Prepared::Done);
            }
        };
        let finish = |mut resp: Message| -> Option<Prepared> {
            let bytes = match &tsig {
                Some(ctx) => ResponseSigner::new(ctx).sign(&mut resp)?,
                None => resp.to_vec().ok()?,
            };
            Some(Prepared::Done(bytes))
        };
        match msg.op_code {
            OpCode::Query => {}
            OpCode::Notify | OpCode::Update => {
                // We are the primary: NOTIFY and UPDATE go to the API, not here.
                return finish(error_response(&msg, ResponseCode::Refused));
            }
            _ => return finish(error_response(&msg, ResponseCode::NotImp)),
        }
        if msg.queries.len() != 1 {
            return finish(error_response(&msg, ResponseCode::FormErr));
        }
        if msg.edns.as_ref().is_some_and(|e| e.version() > 0) {
            return finish(error_response(&msg, ResponseCode::BADVERS));
        }
        let q = &msg.queries[0];
        if q.query_class() != DNSClass::IN {
            return finish(error_response(&msg, ResponseCode::Refused));
        }
        let qname = q.name().to_lowercase();
        let state = self.catalog.load();
        let Some(zone) = state.find(&catalog::wire_key(&qname)).cloned() else {
            self.stats.refused.fetch_add(1, Ordering::Relaxed);
            return finish(error_response(&msg, ResponseCode::Refused));
        };
        drop(state);
        let qtype = q.query_type();
        let edns = msg.edns.as_ref().map(|e| ClientEdns {
            payload: e.max_payload(),
            dnssec_ok: e.flags().dnssec_ok,
        });
        if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            if qname != *zone.origin() {
                return finish(error_response(&msg, ResponseCode::NotAuth));
            }
            if !tcp {
                if qtype == RecordType::IXFR {
                    // RFC 1995 §2: over UDP, the SOA alone tells the client to use TCP.
                    let mut resp = base_response(&msg);
                    resp.metadata.authoritative = true;
                    resp.add_answer(zone.soa_record().clone());
                    return finish(resp);
                }
                return finish(error_response(&msg, ResponseCode::Refused));
            }
            let zone_access = access.zones.get(zone.origin());
            let allowed = match &tsig {
                // A key from the server's configuration may transfer every zone; a zone's own
                // key only that zone.
                Some(ctx) => {
                    access.config_keys.contains(ctx.signer.signer_name())
                        || zone_access
                            .is_some_and(|z| z.keys.iter().any(|k| k == ctx.signer.signer_name()))
                }
                None => {
                    self.axfr_allow.iter().any(|n| n.contains(&src))
                        || zone_access.is_some_and(|z| z.allow.iter().any(|n| n.contains(&src)))
                }
            };
            if !allowed {
                tracing::warn!(zone = %zone.origin(), %src, "zone transfer refused: address not allowed and no TSIG key");
                return finish(error_response(&msg, ResponseCode::Refused));
            }
            return Some(Prepared::Transfer {
                zone,
                request: msg.clone(),
                tsig,
            });
        }
        let res = resolve(&zone, &qname, qtype);
        let mut query = q.clone();
        query.set_name(q.name().clone());
        let mut resp = answer::response_message(msg.id, &query, &res, edns, true, true);
        copy_flags(&msg, &mut resp);
        if !tcp && tsig.is_none() {
            let limit = udp_limit(edns);
            let bytes = resp.to_vec().ok()?;
            if bytes.len() <= limit {
                return Some(Prepared::Done(bytes));
            }
            let enc = encode(msg.id, &query, &res, edns)?;
            let mut out = enc.fitting(limit).to_vec();
            out[2] = (out[2] & !0x01) | u8::from(msg.recursion_desired);
            return Some(Prepared::Done(out));
        }
        if !tcp {
            let limit = udp_limit(edns);
            let mut bytes = ResponseSigner::new(tsig.as_ref()?).sign(&mut resp)?;
            if bytes.len() > limit {
                let mut lean = answer::response_message(msg.id, &query, &res, edns, false, false);
                copy_flags(&msg, &mut lean);
                bytes = ResponseSigner::new(tsig.as_ref()?).sign(&mut lean)?;
            }
            return Some(Prepared::Done(bytes));
        }
        finish(resp)
    }
}

enum Prepared {
    Done(Vec<u8>),
    Transfer {
        zone: Arc<ZoneSnapshot>,
        request: Message,
        tsig: Option<TsigContext>,
    },
}

fn copy_flags(req: &Message, resp: &mut Message) {
    resp.metadata.recursion_desired = req.recursion_desired;
    resp.metadata.checking_disabled = req.checking_disabled;
}

fn base_response(req: &Message) -> Message {
    let mut m = Message::response(req.id, req.op_code);
    m.metadata.message_type = MessageType::Response;
    copy_flags(req, &mut m);
    m.add_queries(req.queries.iter().cloned());
    if let Some(e) = &req.edns {
        let mut ours = Edns::new();
        ours.set_max_payload(answer::OUR_PAYLOAD);
        ours.set_dnssec_ok(e.flags().dnssec_ok);
        m.set_edns(ours);
    }
    m
}

fn error_response(req: &Message, rcode: ResponseCode) -> Message {
    let mut m = base_response(req);
    m.metadata.response_code = rcode;
    m
}

/// FORMERR for a message hickory could not decode: its id, no sections.
fn formerr(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.len() < 12 || raw[2] & 0x80 != 0 {
        return None;
    }
    let mut out = raw[..12].to_vec();
    out[2] = 0x80 | (raw[2] & 0x79);
    out[3] = 1;
    out[4..12].fill(0);
    Some(out)
}

async fn tcp_loop(
    listener: TcpListener,
    handler: Arc<Handler>,
    mut stop: watch::Receiver<bool>,
    idle: Duration,
) {
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let handler = handler.clone();
                    let stop = stop.clone();
                    tokio::spawn(async move {
                        if let Err(e) = tcp_conn(stream, peer, handler, stop, idle).await {
                            tracing::debug!(%peer, error = %e, "DNS TCP connection ended");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "DNS TCP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

async fn tcp_conn(
    mut stream: TcpStream,
    peer: SocketAddr,
    handler: Arc<Handler>,
    mut stop: watch::Receiver<bool>,
    idle: Duration,
) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; 65_535];
    loop {
        let mut len = [0u8; 2];
        tokio::select! {
            _ = stop.changed() => return Ok(()),
            r = tokio::time::timeout(idle, stream.read_exact(&mut len)) => match r {
                Ok(Ok(_)) => {}
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(()),
            }
        }
        let n = usize::from(u16::from_be_bytes(len));
        tokio::time::timeout(idle, stream.read_exact(&mut buf[..n]))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "idle"))??;
        handler.stats.tcp_queries.fetch_add(1, Ordering::Relaxed);
        match handler.prepare(&buf[..n], peer.ip(), true) {
            None => {}
            Some(Prepared::Done(bytes)) => write_frame(&mut stream, &bytes).await?,
            Some(Prepared::Transfer {
                zone,
                request,
                tsig,
            }) => {
                handler.stats.transfers.fetch_add(1, Ordering::Relaxed);
                transfer(&mut stream, peer, &zone, &request, tsig.as_ref()).await?;
            }
        }
    }
}

async fn write_frame(stream: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    let len = u16::try_from(bytes.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "message over 64 KiB"))?;
    let mut frame = Vec::with_capacity(bytes.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(bytes);
    stream.write_all(&frame).await
}

/// Sends a zone as AXFR (RFC 5936): SOA, every record, SOA, in messages of up to about
/// 16 KiB, each TSIG-signed when the request was.
async fn transfer(
    stream: &mut TcpStream,
    peer: SocketAddr,
    zone: &ZoneSnapshot,
    request: &Message,
    tsig: Option<&TsigContext>,
) -> std::io::Result<()> {
    const BATCH_BYTES: usize = 16_000;
    let mut signer = tsig.map(ResponseSigner::new);
    let mut batch: Vec<Record> = Vec::with_capacity(256);
    let mut size = 0usize;
    let mut sent = 0usize;
    let records = std::iter::once(zone.soa_record().clone())
        .chain(zone.all_records())
        .chain(std::iter::once(zone.soa_record().clone()));
    let mut first = true;
    for r in records {
        size += r.name.len() + 12 + rdata_estimate(&r);
        batch.push(r);
        if size >= BATCH_BYTES {
            send_batch(stream, request, &mut batch, &mut signer, first).await?;
            first = false;
            sent += 1;
            size = 0;
        }
    }
    if !batch.is_empty() {
        send_batch(stream, request, &mut batch, &mut signer, first).await?;
        sent += 1;
    }
    tracing::info!(zone = %zone.origin(), serial = zone.serial(), %peer, messages = sent, signed = tsig.is_some(), "zone transferred");
    Ok(())
}

fn rdata_estimate(r: &Record) -> usize {
    use hickory_proto::rr::RData;
    match &r.data {
        RData::A(_) => 4,
        RData::AAAA(_) => 16,
        RData::TXT(t) => t.txt_data.iter().map(|s| s.len() + 1).sum(),
        RData::CAA(c) => c.value.len() + c.tag.len() + 2,
        _ => 64,
    }
}

async fn send_batch(
    stream: &mut TcpStream,
    request: &Message,
    batch: &mut Vec<Record>,
    signer: &mut Option<ResponseSigner>,
    first: bool,
) -> std::io::Result<()> {
    let mut m = Message::response(request.id, OpCode::Query);
    m.metadata.message_type = MessageType::Response;
    m.metadata.authoritative = true;
    if first {
        m.add_queries(request.queries.iter().cloned());
    }
    m.insert_answers(std::mem::take(batch));
    let bytes = match signer {
        Some(s) => s.sign(&mut m),
        None => m.to_vec().ok(),
    }
    .ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "zone transfer message could not be encoded",
        )
    })?;
    write_frame(stream, &bytes).await
}

async fn notify_loop(catalog: Catalog, config: NotifyConfig, mut stop: watch::Receiver<bool>) {
    let mut changes = catalog.subscribe();
    loop {
        let change = tokio::select! {
            _ = stop.changed() => break,
            c = changes.recv() => c,
        };
        let first = match change {
            Ok(c) => c,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "NOTIFY sender fell behind; later changes notify anyway"
                );
                continue;
            }
            Err(_) => break,
        };
        // A burst of changes notifies each zone once, with its latest serial.
        let mut latest: HashMap<Name, u32> = HashMap::new();
        latest.insert(first.origin, first.serial);
        while let Ok(c) = changes.try_recv() {
            latest.insert(c.origin, c.serial);
        }
        for (origin, serial) in latest {
            let targets = config.targets_for(&origin);
            if targets.is_empty() {
                continue;
            }
            let key = config.key.clone();
            let policy = config.policy.clone();
            tokio::spawn(async move {
                notify(&origin, serial, &targets, key.as_ref(), &policy).await;
            });
        }
    }
}

/// Runs one packet through the query paths (fast reader, cache miss, full decoder) against
/// a small fixed zone. For the fuzz target; not part of the API.
#[doc(hidden)]
pub fn fuzz_packet(data: &[u8]) {
    static HANDLER: std::sync::OnceLock<Handler> = std::sync::OnceLock::new();
    let handler = HANDLER.get_or_init(|| {
        let origin = Name::from_ascii("example.com.").expect("static name");
        let text = "$TTL 300\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\nwww CNAME @\n\
                    * TXT \"w\"\nsub NS ns.sub\nns.sub A 192.0.2.2\n@ MX 10 ns1\n";
        let z = crate::zonefile::import_zone(text, &origin, &crate::record::RecordRules::default())
            .expect("static zone");
        let catalog = Catalog::new();
        catalog.publish(&crate::zone::Zone {
            origin,
            soa: z.soa.expect("static SOA"),
            records: z.records,
        });
        Handler {
            access: arc_swap::ArcSwap::from_pointee(Access::default()),
            catalog,
            config_keys: Vec::new(),
            axfr_allow: Vec::new(),
            stats: Arc::new(ServerStats::default()),
        }
    });
    if let Some(q) = parse_fast(data) {
        let mut lower = [0u8; 256];
        let len = q.qname.len();
        for (d, s) in lower[..len].iter_mut().zip(q.qname) {
            *d = s.to_ascii_lowercase();
        }
        let state = handler.catalog.load();
        let mut out = Vec::new();
        match state.find(&lower[..len]) {
            None => refused_fast(&mut out, data, &q),
            Some(zone) => {
                if let Some(enc) = answer_fast(zone, &lower[..len], &q) {
                    patch_into(&mut out, enc.fitting(udp_limit(q.edns)), &q);
                    assert!(Message::from_vec(&out).is_ok(), "our answer decodes");
                }
            }
        }
    }
    let _ = handler.prepare(data, IpAddr::from([127, 0, 0, 1]), false);
    let _ = handler.prepare(data, IpAddr::from([127, 0, 0, 1]), true);
}
