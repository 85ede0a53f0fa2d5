//! NOTIFY (RFC 1996): tell secondaries that a zone changed, so they refresh now instead of
//! at the next SOA refresh. The message is built with hickory-proto; each target is
//! retried with a growing timeout until it acknowledges.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use tokio::net::UdpSocket;

use crate::tsig::TsigKey;

/// How a NOTIFY to one target ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyOutcome {
    /// The target answered NOERROR.
    Acknowledged { target: SocketAddr, attempts: u32 },
    /// The target answered with an error (it does not serve the zone as a secondary of
    /// ours, or refuses NOTIFY from this address or key).
    Refused { target: SocketAddr, rcode: String },
    /// No answer after every attempt.
    NoAnswer { target: SocketAddr, attempts: u32 },
    /// The message could not be sent at all.
    Failed { target: SocketAddr, reason: String },
}

/// Retry schedule of NOTIFY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyPolicy {
    pub attempts: u32,
    pub first_timeout: Duration,
}

impl Default for NotifyPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_timeout: Duration::from_millis(500),
        }
    }
}

/// Sends NOTIFY for `zone` (at `serial`, for the logs) to every target at once and waits
/// for their answers.
pub async fn notify(
    zone: &Name,
    serial: u32,
    targets: &[SocketAddr],
    key: Option<&TsigKey>,
    policy: &NotifyPolicy,
) -> Vec<NotifyOutcome> {
    futures::future::join_all(
        targets
            .iter()
            .map(|t| notify_one(zone, serial, *t, key, policy)),
    )
    .await
}

async fn notify_one(
    zone: &Name,
    serial: u32,
    target: SocketAddr,
    key: Option<&TsigKey>,
    policy: &NotifyPolicy,
) -> NotifyOutcome {
    let bind: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0".parse().expect("static address")
    } else {
        "[::]:0".parse().expect("static address")
    };
    let socket = match UdpSocket::bind(bind).await {
        Ok(s) => s,
        Err(e) => {
            return NotifyOutcome::Failed {
                target,
                reason: e.to_string(),
            };
        }
    };
    let mut timeout = policy.first_timeout;
    let mut buf = vec![0u8; 4096];
    for attempt in 1..=policy.attempts.max(1) {
        let id: u16 = rand::random();
        let mut msg = Message::new(id, MessageType::Query, OpCode::Notify);
        msg.metadata.authoritative = true;
        let mut q = Query::query(zone.clone(), RecordType::SOA);
        q.set_query_class(DNSClass::IN);
        msg.add_query(q);
        let bytes = match key.map(|k| k.signer()) {
            Some(Ok(signer)) => match msg.finalize(&signer, crate::tsig::now()) {
                Ok(_) => msg.to_vec(),
                Err(e) => Err(e),
            },
            Some(Err(e)) => {
                return NotifyOutcome::Failed {
                    target,
                    reason: e.to_string(),
                };
            }
            None => msg.to_vec(),
        };
        let bytes = match bytes {
            Ok(b) => b,
            Err(e) => {
                return NotifyOutcome::Failed {
                    target,
                    reason: e.to_string(),
                };
            }
        };
        if let Err(e) = socket.send_to(&bytes, target).await {
            tracing::debug!(zone = %zone, %target, error = %e, "NOTIFY send failed");
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await {
                Ok(Ok((n, from))) if from == target => {
                    let Ok(resp) = Message::from_vec(&buf[..n]) else {
                        continue;
                    };
                    if resp.id != id || resp.message_type != MessageType::Response {
                        continue;
                    }
                    if resp.response_code == ResponseCode::NoError {
                        tracing::info!(zone = %zone, serial, %target, attempt, "NOTIFY acknowledged");
                        return NotifyOutcome::Acknowledged {
                            target,
                            attempts: attempt,
                        };
                    }
                    tracing::warn!(zone = %zone, serial, %target, rcode = %resp.response_code, "NOTIFY refused");
                    return NotifyOutcome::Refused {
                        target,
                        rcode: resp.response_code.to_string(),
                    };
                }
                Ok(Ok(_)) => continue,
                Ok(Err(_)) | Err(_) => break,
            }
        }
        timeout *= 2;
    }
    tracing::warn!(zone = %zone, serial, %target, attempts = policy.attempts, "NOTIFY not acknowledged");
    NotifyOutcome::NoAnswer {
        target,
        attempts: policy.attempts,
    }
}
