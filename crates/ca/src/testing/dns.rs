use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, CAA, CNAME, NS, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use super::TestingError;
use crate::authority::{Authorization, Challenge, Publication, ValidationMethod};
use crate::issue::{ChallengeSolver, SolverError};

#[derive(Default)]
struct State {
    default_a: Option<Ipv4Addr>,
    records: HashMap<(String, RecordType), Vec<RData>>,
    zones: Vec<String>,
    servfail: HashSet<String>,
    refused: HashSet<String>,
    queries: Vec<(String, RecordType)>,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A small authoritative DNS server for tests (UDP and TCP on one loopback port).
///
/// Every name has an A record (the default address) unless the test sets one; TXT, CAA,
/// CNAME records and zones (SOA + NS + the name server's A) are set by the test. A name
/// can be made to answer SERVFAIL or REFUSED. Like a resolver, it follows a CNAME it holds.
pub struct TestDns {
    addr: SocketAddr,
    state: Arc<RwLock<State>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for TestDns {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl TestDns {
    /// Starts on a free port; `default_a` answers A queries for names without their own.
    pub async fn start(default_a: Option<Ipv4Addr>) -> Result<Self, TestingError> {
        let mut last = None;
        for _ in 0..20 {
            let port = super::free_udp_tcp_port();
            let udp = match UdpSocket::bind(("127.0.0.1", port)).await {
                Ok(u) => u,
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            let tcp = match TcpListener::bind(("127.0.0.1", port)).await {
                Ok(t) => t,
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            let state = Arc::new(RwLock::new(State {
                default_a,
                ..State::default()
            }));
            let udp = Arc::new(udp);
            let st = state.clone();
            let u = udp.clone();
            let udp_task = tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    let Ok((n, peer)) = u.recv_from(&mut buf).await else {
                        continue;
                    };
                    if let Some(resp) = answer(&st, &buf[..n], 512) {
                        let _ = u.send_to(&resp, peer).await;
                    }
                }
            });
            let st = state.clone();
            let tcp_task = tokio::spawn(async move {
                loop {
                    let Ok((mut s, _)) = tcp.accept().await else {
                        continue;
                    };
                    let st = st.clone();
                    tokio::spawn(async move {
                        while let Ok(n) = s.read_u16().await {
                            let mut buf = vec![0u8; n as usize];
                            if s.read_exact(&mut buf).await.is_err() {
                                return;
                            }
                            let Some(resp) = answer(&st, &buf, u16::MAX as usize) else {
                                return;
                            };
                            let mut out = (resp.len() as u16).to_be_bytes().to_vec();
                            out.extend_from_slice(&resp);
                            if s.write_all(&out).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            });
            return Ok(Self {
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
                state,
                tasks: vec![udp_task, tcp_task],
            });
        }
        Err(format!("no free DNS port: {last:?}").into())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a TXT value at `name` (kept with any other values).
    pub fn add_txt(&self, name: &str, value: &str) {
        self.write()
            .records
            .entry((key(name), RecordType::TXT))
            .or_default()
            .push(RData::TXT(TXT::new(vec![value.to_owned()])));
    }

    /// Removes one TXT value from `name`.
    pub fn remove_txt(&self, name: &str, value: &str) {
        if let Some(v) = self.write().records.get_mut(&(key(name), RecordType::TXT)) {
            v.retain(|d| !matches!(d, RData::TXT(t) if t.txt_data.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect::<String>() == value));
        }
    }

    /// The TXT values currently at `name`.
    pub fn txt(&self, name: &str) -> Vec<String> {
        let st = self.state.read().unwrap_or_else(|e| e.into_inner());
        st.records
            .get(&(key(name), RecordType::TXT))
            .into_iter()
            .flatten()
            .filter_map(|d| match d {
                RData::TXT(t) => Some(
                    t.txt_data
                        .iter()
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    }

    /// Replaces the CAA RRset at `name`.
    pub fn set_caa(&self, name: &str, records: Vec<CAA>) {
        self.write().records.insert(
            (key(name), RecordType::CAA),
            records.into_iter().map(RData::CAA).collect(),
        );
    }

    /// Sets the A record of `name`.
    pub fn set_a(&self, name: &str, ip: Ipv4Addr) {
        self.write()
            .records
            .insert((key(name), RecordType::A), vec![RData::A(A(ip))]);
    }

    /// Makes `name` a CNAME to `target`.
    pub fn set_cname(&self, name: &str, target: &str) {
        let t = crate::dns::fqdn(target).expect("a valid CNAME target");
        self.write()
            .records
            .insert((key(name), RecordType::CNAME), vec![RData::CNAME(CNAME(t))]);
    }

    /// Declares a zone served by this server: SOA and NS at the apex, and `ns.<zone>`
    /// pointing at 127.0.0.1 (ask it on this server's port).
    pub fn add_zone(&self, zone: &str) {
        let z = key(zone);
        let apex = crate::dns::fqdn(&z).expect("a valid zone name");
        let ns = crate::dns::fqdn(&format!("ns.{z}")).expect("a valid name");
        let mbox = crate::dns::fqdn(&format!("hostmaster.{z}")).expect("a valid name");
        let mut st = self.write();
        st.records.insert(
            (z.clone(), RecordType::SOA),
            vec![RData::SOA(SOA::new(
                ns.clone(),
                mbox,
                1,
                3600,
                600,
                86400,
                60,
            ))],
        );
        st.records
            .insert((z.clone(), RecordType::NS), vec![RData::NS(NS(ns))]);
        st.records.insert(
            (format!("ns.{z}"), RecordType::A),
            vec![RData::A(A(Ipv4Addr::LOCALHOST))],
        );
        let _ = apex;
        st.zones.push(z);
    }

    /// Makes every question about `name` answer SERVFAIL.
    pub fn set_servfail(&self, name: &str) {
        self.write().servfail.insert(key(name));
    }

    /// Makes every question about `name` answer REFUSED, as an authoritative-only server
    /// answers for names outside its zones.
    pub fn set_refused(&self, name: &str) {
        self.write().refused.insert(key(name));
    }

    /// Every question asked so far (name, type).
    pub fn queries(&self) -> Vec<(String, RecordType)> {
        self.state
            .read()
            .map(|s| s.queries.clone())
            .unwrap_or_default()
    }
}

fn answer(state: &RwLock<State>, wire: &[u8], max: usize) -> Option<Vec<u8>> {
    let req = Message::from_vec(wire).ok()?;
    if req.metadata.message_type != MessageType::Query {
        return None;
    }
    let q = req.queries.first()?.clone();
    let mut resp = Message::response(req.metadata.id, OpCode::Query);
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.metadata.authoritative = true;
    resp.add_query(q.clone());
    let name = key(&q.name().to_ascii());
    let rtype = q.query_type();
    {
        let mut st = state.write().unwrap_or_else(|e| e.into_inner());
        st.queries.push((name.clone(), rtype));
    }
    let st = state.read().unwrap_or_else(|e| e.into_inner());
    if st.servfail.contains(&name) {
        resp.metadata.response_code = ResponseCode::ServFail;
        return resp.to_vec().ok();
    }
    if st.refused.contains(&name) {
        resp.metadata.response_code = ResponseCode::Refused;
        resp.metadata.authoritative = false;
        return resp.to_vec().ok();
    }
    let mut current = name.clone();
    for _ in 0..8 {
        let owner = crate::dns::fqdn(&current).ok()?;
        if rtype != RecordType::CNAME
            && let Some(cn) = st.records.get(&(current.clone(), RecordType::CNAME))
        {
            for d in cn {
                resp.add_answer(Record::from_rdata(owner.clone(), 60, d.clone()));
            }
            if let Some(RData::CNAME(t)) = cn.first() {
                current = key(&t.0.to_ascii());
                continue;
            }
        }
        match st.records.get(&(current.clone(), rtype)) {
            Some(v) if !v.is_empty() => {
                for d in v {
                    resp.add_answer(Record::from_rdata(owner.clone(), 60, d.clone()));
                }
            }
            _ if rtype == RecordType::A => {
                if let Some(ip) = st.default_a {
                    resp.add_answer(Record::from_rdata(owner.clone(), 60, RData::A(A(ip))));
                }
            }
            _ => {
                // NODATA: the enclosing zone's SOA in the authority section.
                if let Some(z) = st
                    .zones
                    .iter()
                    .filter(|z| current == **z || current.ends_with(&format!(".{z}")))
                    .max_by_key(|z| z.len())
                    && let Some(soa) = st.records.get(&(z.clone(), RecordType::SOA))
                    && let Ok(zn) = Name::from_ascii(format!("{z}."))
                {
                    for d in soa {
                        resp.add_authority(Record::from_rdata(zn.clone(), 60, d.clone()));
                    }
                }
            }
        }
        break;
    }
    let bytes = resp.to_vec().ok()?;
    if bytes.len() > max {
        let mut t = Message::response(req.metadata.id, OpCode::Query);
        t.add_query(q);
        t.metadata.truncation = true;
        t.metadata.authoritative = true;
        return t.to_vec().ok();
    }
    Some(bytes)
}

#[async_trait]
impl ChallengeSolver for TestDns {
    fn method(&self) -> ValidationMethod {
        ValidationMethod::Dns01
    }

    async fn present(&self, a: &Authorization, c: &Challenge) -> Result<(), SolverError> {
        match &c.publication {
            Publication::Dns01 { record_name, value } => {
                self.add_txt(record_name, value);
                Ok(())
            }
            _ => Err(SolverError {
                identifier: a.identifier.clone(),
                method: c.method,
                reason: "the test DNS server only publishes DNS-01 records".into(),
            }),
        }
    }

    async fn cleanup(&self, _a: &Authorization, c: &Challenge) -> Result<(), SolverError> {
        if let Publication::Dns01 { record_name, value } = &c.publication {
            self.remove_txt(record_name, value);
        }
        Ok(())
    }
}
