//! A small DNS client: one question to one server, over UDP with a retry, falling back to TCP
//! when the answer is truncated. Messages are built and parsed by hickory-proto. It asks a
//! configured server (Panel1's own DNS server, a resolver, or a zone's authoritative
//! servers) and does not recurse itself.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    #[error("`{0}` is not a valid DNS name")]
    BadName(String),
    #[error("no answer from the DNS server {server} for {name} {rtype} within {timeout:?}")]
    Timeout {
        server: SocketAddr,
        name: String,
        rtype: RecordType,
        timeout: Duration,
    },
    #[error("cannot talk to the DNS server {server}: {reason}")]
    Io { server: SocketAddr, reason: String },
    #[error("the DNS server {server} sent an answer that cannot be parsed: {reason}")]
    Malformed { server: SocketAddr, reason: String },
}

/// A parsed answer.
#[derive(Debug, Clone)]
pub struct DnsAnswer {
    pub rcode: ResponseCode,
    pub authoritative: bool,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
}

impl DnsAnswer {
    /// The answer records of one type (CNAMEs a resolver followed are skipped).
    pub fn records(&self, rtype: RecordType) -> impl Iterator<Item = &RData> {
        self.answers
            .iter()
            .filter(move |r| r.record_type() == rtype)
            .map(|r| &r.data)
    }

    /// The TXT strings of the answer (each record's character-strings concatenated).
    pub fn txt_values(&self) -> Vec<String> {
        self.records(RecordType::TXT)
            .filter_map(|d| match d {
                RData::TXT(t) => Some(
                    t.txt_data
                        .iter()
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect()
    }
}

/// Asks one DNS server.
#[derive(Debug, Clone)]
pub struct DnsClient {
    server: SocketAddr,
    timeout: Duration,
    attempts: u32,
}

impl DnsClient {
    pub fn new(server: SocketAddr) -> Self {
        Self {
            server,
            timeout: Duration::from_secs(2),
            attempts: 2,
        }
    }

    /// The wait for each UDP attempt and for the TCP exchange.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn server(&self) -> SocketAddr {
        self.server
    }

    /// Asks `name` `rtype` with recursion desired (set it off when asking an authoritative
    /// server, so it answers only from its zones).
    pub async fn query(
        &self,
        name: &str,
        rtype: RecordType,
        recursion_desired: bool,
    ) -> Result<DnsAnswer, DnsError> {
        let qname = fqdn(name)?;
        let mut msg = Message::query();
        msg.metadata.recursion_desired = recursion_desired;
        msg.add_query(Query::query(qname.clone(), rtype));
        let id = msg.metadata.id;
        let wire = msg.to_vec().map_err(|e| DnsError::Malformed {
            server: self.server,
            reason: e.to_string(),
        })?;
        let timeout_err = || DnsError::Timeout {
            server: self.server,
            name: name.to_owned(),
            rtype,
            timeout: self.timeout,
        };
        let io = |e: std::io::Error| DnsError::Io {
            server: self.server,
            reason: e.to_string(),
        };

        let bind: SocketAddr = if self.server.is_ipv4() {
            "0.0.0.0:0".parse().expect("literal")
        } else {
            "[::]:0".parse().expect("literal")
        };
        let sock = UdpSocket::bind(bind).await.map_err(io)?;
        sock.connect(self.server).await.map_err(io)?;
        let mut buf = vec![0u8; 4096];
        let mut reply = None;
        'attempts: for _ in 0..self.attempts.max(1) {
            sock.send(&wire).await.map_err(io)?;
            let deadline = tokio::time::Instant::now() + self.timeout;
            loop {
                match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
                    Err(_) => continue 'attempts,
                    Ok(Err(e)) => return Err(io(e)),
                    Ok(Ok(n)) => {
                        // Ignore stray datagrams that do not answer this question.
                        if let Ok(m) = Message::from_vec(&buf[..n])
                            && m.metadata.id == id
                            && m.metadata.message_type == MessageType::Response
                        {
                            reply = Some(m);
                            break 'attempts;
                        }
                    }
                }
            }
        }
        let mut reply = reply.ok_or_else(timeout_err)?;
        if reply.metadata.truncation {
            reply = tokio::time::timeout(self.timeout, self.tcp(&wire))
                .await
                .map_err(|_| timeout_err())??;
        }
        if reply.metadata.op_code != OpCode::Query {
            return Err(DnsError::Malformed {
                server: self.server,
                reason: "the answer is not a query response".into(),
            });
        }
        Ok(DnsAnswer {
            rcode: reply.metadata.response_code,
            authoritative: reply.metadata.authoritative,
            answers: std::mem::take(&mut reply.answers),
            authorities: std::mem::take(&mut reply.authorities),
            additionals: std::mem::take(&mut reply.additionals),
        })
    }

    async fn tcp(&self, wire: &[u8]) -> Result<Message, DnsError> {
        let io = |e: std::io::Error| DnsError::Io {
            server: self.server,
            reason: e.to_string(),
        };
        let mut s = TcpStream::connect(self.server).await.map_err(io)?;
        let len = u16::try_from(wire.len()).map_err(|_| DnsError::Malformed {
            server: self.server,
            reason: "query too long".into(),
        })?;
        let mut framed = Vec::with_capacity(wire.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(wire);
        s.write_all(&framed).await.map_err(io)?;
        let n = s.read_u16().await.map_err(io)? as usize;
        let mut buf = vec![0u8; n];
        s.read_exact(&mut buf).await.map_err(io)?;
        Message::from_vec(&buf).map_err(|e| DnsError::Malformed {
            server: self.server,
            reason: e.to_string(),
        })
    }
}

/// Parses a name as fully qualified.
pub fn fqdn(name: &str) -> Result<Name, DnsError> {
    let mut n = Name::from_ascii(name).map_err(|_| DnsError::BadName(name.to_owned()))?;
    n.set_fqdn(true);
    Ok(n)
}
