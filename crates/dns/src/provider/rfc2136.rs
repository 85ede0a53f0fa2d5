//! RFC 2136 dynamic updates, TSIG-signed (RFC 8945), for BIND, Knot, PowerDNS or any
//! primary that accepts them. Each batch of RRset changes is one UPDATE message over TCP:
//! delete the RRset (class ANY), then add its new records, applied atomically by the
//! primary, which also bumps its own SOA serial. The zone is read back by AXFR.

use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, TSigVerifier};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{DnsProvider, ProviderError, RrsetChange};
use crate::record::DnsRecord;
use crate::tsig::{TsigKey, now};
use crate::zone::{Soa, Zone};

const KIND: &str = "rfc2136";

/// The primary to update and the key to sign with.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Rfc2136Config {
    /// The primary's address, like `192.0.2.53:53`.
    pub server: SocketAddr,
    /// The TSIG key the primary's update policy names (strongly recommended).
    #[serde(default)]
    pub key: Option<TsigKey>,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
}

fn default_timeout() -> u64 {
    10
}

impl Rfc2136Config {
    pub fn new(server: SocketAddr, key: Option<TsigKey>) -> Self {
        Self {
            server,
            key,
            timeout_seconds: default_timeout(),
        }
    }
}

/// The dynamic-update adapter.
#[derive(Debug, Clone)]
pub struct Rfc2136Provider {
    config: Rfc2136Config,
}

impl Rfc2136Provider {
    pub fn new(config: Rfc2136Config) -> Result<Self, ProviderError> {
        if let Some(k) = &config.key {
            k.signer().map_err(|e| ProviderError::Config {
                provider: KIND.into(),
                detail: e.to_string(),
            })?;
        }
        Ok(Self { config })
    }

    fn endpoint(&self) -> String {
        self.config.server.to_string()
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.config.timeout_seconds.max(1))
    }

    fn unreachable(&self, e: &std::io::Error) -> ProviderError {
        ProviderError::Unreachable {
            provider: KIND.into(),
            endpoint: self.endpoint(),
            reason: e.to_string(),
        }
    }

    fn protocol(detail: impl Into<String>) -> ProviderError {
        ProviderError::Protocol {
            provider: KIND.into(),
            detail: detail.into(),
        }
    }

    /// Signs (if a key is set) and encodes a request; returns the verifier of the answers.
    fn seal(&self, msg: &mut Message) -> Result<(Vec<u8>, Option<TSigVerifier>), ProviderError> {
        let verifier = match &self.config.key {
            Some(k) => {
                let signer = k.signer().map_err(|e| ProviderError::Config {
                    provider: KIND.into(),
                    detail: e.to_string(),
                })?;
                msg.finalize(&signer, now())
                    .map_err(|e| Self::protocol(e.to_string()))?
            }
            None => None,
        };
        let bytes = msg.to_vec().map_err(|e| Self::protocol(e.to_string()))?;
        Ok((bytes, verifier))
    }

    async fn connect(&self) -> Result<TcpStream, ProviderError> {
        match tokio::time::timeout(self.timeout(), TcpStream::connect(self.config.server)).await {
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(self.unreachable(&e)),
            Err(_) => Err(self.timed_out()),
        }
    }

    fn timed_out(&self) -> ProviderError {
        ProviderError::Timeout {
            provider: KIND.into(),
            endpoint: self.endpoint(),
            seconds: self.config.timeout_seconds,
        }
    }

    async fn send(&self, stream: &mut TcpStream, bytes: &[u8]) -> Result<(), ProviderError> {
        let len = u16::try_from(bytes.len())
            .map_err(|_| Self::protocol("the update is over 64 KiB; split the change"))?;
        let mut frame = Vec::with_capacity(bytes.len() + 2);
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(bytes);
        stream
            .write_all(&frame)
            .await
            .map_err(|e| self.unreachable(&e))
    }

    async fn receive(&self, stream: &mut TcpStream) -> Result<Vec<u8>, ProviderError> {
        let read = async {
            let mut len = [0u8; 2];
            stream.read_exact(&mut len).await?;
            let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
            stream.read_exact(&mut buf).await?;
            Ok::<_, std::io::Error>(buf)
        };
        match tokio::time::timeout(self.timeout(), read).await {
            Ok(Ok(b)) => Ok(b),
            Ok(Err(e)) => Err(self.unreachable(&e)),
            Err(_) => Err(self.timed_out()),
        }
    }

    /// Verifies (when signed) and decodes one answer.
    fn open(
        &self,
        bytes: Vec<u8>,
        verifier: &mut Option<TSigVerifier>,
    ) -> Result<Message, ProviderError> {
        let msg = Message::from_vec(&bytes).map_err(|e| Self::protocol(e.to_string()))?;
        if let Some(v) = verifier {
            if msg.signature().is_none() {
                // An unsigned error answer (BADKEY/BADSIG are sent unsigned).
                return Err(self.rcode_error(msg.response_code, "the answer is not signed"));
            }
            v.verify(&bytes).map_err(|e| ProviderError::Unauthorized {
                provider: KIND.into(),
                status: format!("TSIG of the answer: {e}"),
            })?;
        }
        Ok(msg)
    }

    fn rcode_error(&self, rcode: ResponseCode, detail: &str) -> ProviderError {
        let status = rcode.to_string();
        match rcode {
            ResponseCode::NotAuth => ProviderError::Unauthorized {
                provider: KIND.into(),
                status,
            },
            ResponseCode::ServFail => ProviderError::ServerFailure {
                provider: KIND.into(),
                status,
                detail: detail.into(),
            },
            _ => ProviderError::Rejected {
                provider: KIND.into(),
                status,
                detail: detail.into(),
            },
        }
    }
}

#[async_trait]
impl DnsProvider for Rfc2136Provider {
    fn kind(&self) -> &'static str {
        KIND
    }

    async fn health_check(&self) -> Result<(), ProviderError> {
        let mut stream = self.connect().await?;
        let mut msg = Message::new(rand::random(), MessageType::Query, OpCode::Query);
        msg.add_query(Query::query(Name::root(), RecordType::SOA));
        let bytes = msg.to_vec().map_err(|e| Self::protocol(e.to_string()))?;
        self.send(&mut stream, &bytes).await?;
        let answer = self.receive(&mut stream).await?;
        Message::from_vec(&answer).map_err(|e| Self::protocol(e.to_string()))?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(provider = KIND, zone = %origin, changes = changes.len()))]
    async fn apply_changes(
        &self,
        origin: &Name,
        soa: &Soa,
        changes: &[RrsetChange],
    ) -> Result<(), ProviderError> {
        let _ = soa; // the primary keeps its own serial
        let changes: Vec<&RrsetChange> = changes
            .iter()
            .filter(|c| c.rtype != RecordType::SOA)
            .collect();
        if changes.is_empty() {
            return Ok(());
        }
        let mut msg = Message::new(rand::random(), MessageType::Query, OpCode::Update);
        let mut zone = Query::query(origin.clone(), RecordType::SOA);
        zone.set_query_class(DNSClass::IN);
        msg.add_query(zone);
        for c in &changes {
            // RFC 2136 §2.5.2: delete the RRset …
            let mut del = Record::update0(c.name.clone(), 0, c.rtype);
            del.dns_class = DNSClass::ANY;
            msg.add_authority(del);
            // … §2.5.1: then add its new records.
            for d in &c.records {
                msg.add_authority(Record::from_rdata(c.name.clone(), c.ttl, d.clone()));
            }
        }
        let (bytes, mut verifier) = self.seal(&mut msg)?;
        let mut stream = self.connect().await?;
        self.send(&mut stream, &bytes).await?;
        let answer = self.receive(&mut stream).await?;
        let resp = self.open(answer, &mut verifier)?;
        if resp.id != msg.id {
            return Err(Self::protocol("the answer has another message id"));
        }
        match resp.response_code {
            ResponseCode::NoError => {
                tracing::info!("dynamic update applied");
                Ok(())
            }
            ResponseCode::NotZone => Err(ProviderError::ZoneNotFound {
                provider: KIND.into(),
                zone: origin.to_ascii(),
            }),
            rc => {
                tracing::warn!(rcode = %rc, "dynamic update refused");
                Err(self.rcode_error(
                    rc,
                    "check that the primary serves the zone and its update policy allows this key",
                ))
            }
        }
    }

    /// Reads the zone by AXFR (the primary must allow transfers to this key or address).
    async fn get_zone(&self, origin: &Name) -> Result<Option<Zone>, ProviderError> {
        let mut msg = Message::new(rand::random(), MessageType::Query, OpCode::Query);
        msg.add_query(Query::query(origin.clone(), RecordType::AXFR));
        let (bytes, mut verifier) = self.seal(&mut msg)?;
        let mut stream = self.connect().await?;
        self.send(&mut stream, &bytes).await?;
        let mut soa: Option<Soa> = None;
        let mut records = Vec::new();
        loop {
            let answer = self.receive(&mut stream).await?;
            let resp = self.open(answer, &mut verifier)?;
            match resp.response_code {
                ResponseCode::NoError => {}
                ResponseCode::NotAuth | ResponseCode::Refused if soa.is_none() => {
                    // Not served there, or no transfer allowed: tell them apart by NOTAUTH.
                    if resp.response_code == ResponseCode::NotAuth {
                        return Ok(None);
                    }
                    return Err(self.rcode_error(
                        resp.response_code,
                        "the primary refuses zone transfers to this key or address",
                    ));
                }
                rc => return Err(self.rcode_error(rc, "zone transfer failed")),
            }
            for r in resp.answers {
                match (&r.data, &soa) {
                    (RData::SOA(s), None) => soa = Some(Soa::from_rdata(s, r.ttl)),
                    (RData::SOA(_), Some(s)) => {
                        return Ok(Some(Zone {
                            origin: origin.clone(),
                            soa: s.clone(),
                            records,
                        }));
                    }
                    _ => records.push(DnsRecord {
                        name: r.name.to_lowercase(),
                        ttl: r.ttl,
                        data: r.data,
                    }),
                }
            }
        }
    }
}
