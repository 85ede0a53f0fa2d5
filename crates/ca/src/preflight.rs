//! Checks before ordering and before telling the CA to validate.
//!
//! - [`Preflight::check_caa`]: RFC 8659. From each name (the base name for a wildcard) climb
//!   towards the root until a CAA RRset is found; a wildcard uses its `issuewild` properties
//!   when there are any, else `issue`; the CA may issue when one of those properties names
//!   one of its identities (`letsencrypt.org`) and its RFC 8657 parameters (`accounturi`,
//!   `validationmethods`) allow this account and method. No relevant property means anyone
//!   may issue; an unknown property with the critical flag forbids everything; a lookup that
//!   fails (SERVFAIL, timeout) is an error, because the CA would refuse too. NXDOMAIN at any
//!   level, and REFUSED above the name itself (an authoritative-only server such as Panel1's
//!   refuses the parents of its zones), mean "no CAA RRset here": climbing goes on.
//! - [`Preflight::check_resolves`]: HTTP-01 names must have an A or AAAA record.
//! - [`check_methods`]: wildcards need DNS-01, with an error that says so.
//! - [`Preflight::authoritative_servers`] and [`Preflight::wait_txt_visible`]: find the zone
//!   of a DNS-01 record (following a CNAME delegation of `_acme-challenge`) and its
//!   authoritative servers, and wait until every one of them serves the TXT value.
//!
//! The questions go to one configured server (Panel1's own DNS server or a resolver) through
//! [`DnsClient`]; the TXT check asks the authoritative servers directly, without recursion.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::CAA;
use hickory_proto::rr::{RData, RecordType};

use crate::authority::ValidationMethod;
use crate::dns::{DnsAnswer, DnsClient, DnsError};
use crate::identifiers::{IdentifierSet, base_name, is_wildcard};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PreflightError {
    #[error(
        "`{name}` is a wildcard: wildcard names can only be validated with DNS-01; choose dns-01 for this certificate"
    )]
    WildcardNeedsDns01 { name: String },
    #[error(
        "CAA records at `{found_at}` do not allow {} to issue for `{name}` (records: {}); add `{found_at}. CAA 0 {tag} \"{}\"` or remove the CAA records",
        ca_identities.first().map(String::as_str).unwrap_or("this CA"),
        records.join("; "),
        ca_identities.first().map(String::as_str).unwrap_or("ca.example"),
    )]
    CaaForbids {
        name: String,
        found_at: String,
        tag: &'static str,
        ca_identities: Vec<String>,
        records: Vec<String>,
    },
    #[error(
        "the CAA lookup for `{name}` at `{at}` failed ({reason}); the CA would refuse to issue: fix the zone's DNS servers"
    )]
    CaaLookupFailed {
        name: String,
        at: String,
        reason: String,
    },
    #[error(
        "`{name}` does not resolve ({reason}); HTTP-01 needs an A or AAAA record pointing at the web server"
    )]
    DoesNotResolve { name: String, reason: String },
    #[error("no authoritative name server found for `{name}`: {reason}")]
    NoAuthoritativeServers { name: String, reason: String },
    #[error(
        "the TXT record `{record}` with the value `{value}` is not served by every authoritative server after {waited:?} (seen: {}); create it exactly as shown",
        seen.iter().map(|(s, v)| format!("{s} → [{}]", v.join(", "))).collect::<Vec<_>>().join("; ")
    )]
    TxtNotVisible {
        record: String,
        value: String,
        waited: Duration,
        seen: Vec<(SocketAddr, Vec<String>)>,
    },
    #[error(transparent)]
    Dns(#[from] DnsError),
}

/// Wildcards need DNS-01.
pub fn check_methods(
    names: &IdentifierSet,
    method: ValidationMethod,
) -> Result<(), PreflightError> {
    if method == ValidationMethod::Dns01 {
        return Ok(());
    }
    match names.iter().find(|n| is_wildcard(n)) {
        Some(n) => Err(PreflightError::WildcardNeedsDns01 { name: n.to_owned() }),
        None => Ok(()),
    }
}

/// Who asks, for the RFC 8657 CAA parameters.
#[derive(Debug, Clone, Default)]
pub struct CaaRequester<'a> {
    /// The CA's issuer domain names.
    pub identities: &'a [String],
    /// The ACME account URL (for `accounturi=`).
    pub account_uri: Option<&'a str>,
    /// The validation method (for `validationmethods=`).
    pub method: Option<ValidationMethod>,
}

/// The outcome of evaluating one CAA RRset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaaVerdict {
    Permitted,
    Forbidden { tag: &'static str },
}

/// RFC 8659 §4 evaluation of the relevant RRset for one name.
pub fn evaluate_caa(records: &[CAA], wildcard: bool, who: &CaaRequester<'_>) -> CaaVerdict {
    const KNOWN: [&str; 5] = ["issue", "issuewild", "iodef", "issuemail", "issuevmc"];
    if records
        .iter()
        .any(|r| r.issuer_critical && !KNOWN.contains(&r.tag.to_ascii_lowercase().as_str()))
    {
        return CaaVerdict::Forbidden { tag: "issue" };
    }
    let with_tag = |t: &str| -> Vec<&CAA> {
        records
            .iter()
            .filter(|r| r.tag.eq_ignore_ascii_case(t))
            .collect()
    };
    let (tag, relevant) = if wildcard && !with_tag("issuewild").is_empty() {
        ("issuewild", with_tag("issuewild"))
    } else {
        ("issue", with_tag("issue"))
    };
    if relevant.is_empty() {
        return CaaVerdict::Permitted;
    }
    let allowed = relevant.iter().any(|r| {
        let Ok((Some(issuer), params)) = r.value_as_issue() else {
            return false;
        };
        let issuer = issuer.to_ascii();
        let issuer = issuer.trim_end_matches('.');
        if !who
            .identities
            .iter()
            .any(|id| id.trim_end_matches('.').eq_ignore_ascii_case(issuer))
        {
            return false;
        }
        params.iter().all(|kv| match kv.key() {
            "accounturi" => who.account_uri.is_none_or(|a| a == kv.value()),
            "validationmethods" => who.method.is_none_or(|m| {
                kv.value()
                    .split(',')
                    .any(|v| v.trim().eq_ignore_ascii_case(m.as_str()))
            }),
            _ => true,
        })
    });
    if allowed {
        CaaVerdict::Permitted
    } else {
        CaaVerdict::Forbidden { tag }
    }
}

fn caa_text(r: &CAA) -> String {
    format!(
        "{} {} \"{}\"",
        r.flags(),
        r.tag,
        String::from_utf8_lossy(&r.value)
    )
}

/// Pre-flight checks through one DNS server.
#[derive(Debug, Clone)]
pub struct Preflight {
    dns: DnsClient,
    /// The port authoritative servers listen on (53; tests run them elsewhere).
    ns_port: u16,
}

impl Preflight {
    pub fn new(dns: DnsClient) -> Self {
        Self { dns, ns_port: 53 }
    }

    pub fn with_ns_port(mut self, port: u16) -> Self {
        self.ns_port = port;
        self
    }

    /// Checks every name against the CAA records that apply to it.
    pub async fn check_caa(
        &self,
        names: &IdentifierSet,
        who: &CaaRequester<'_>,
    ) -> Result<(), PreflightError> {
        for name in names.iter() {
            let wildcard = is_wildcard(name);
            let Some((at, records)) = self.relevant_caa(base_name(name)).await? else {
                continue;
            };
            if let CaaVerdict::Forbidden { tag } = evaluate_caa(&records, wildcard, who) {
                tracing::info!(%name, %at, "CAA forbids issuance");
                return Err(PreflightError::CaaForbids {
                    name: name.to_owned(),
                    found_at: at,
                    tag,
                    ca_identities: who.identities.to_vec(),
                    records: records.iter().map(caa_text).collect(),
                });
            }
        }
        Ok(())
    }

    /// The first non-empty CAA RRset climbing from `name` to its TLD, and where it was found.
    pub async fn relevant_caa(
        &self,
        name: &str,
    ) -> Result<Option<(String, Vec<CAA>)>, PreflightError> {
        let labels: Vec<&str> = name.trim_end_matches('.').split('.').collect();
        for i in 0..labels.len() {
            let at = labels[i..].join(".");
            let ans = self
                .dns
                .query(&at, RecordType::CAA, true)
                .await
                .map_err(|e| PreflightError::CaaLookupFailed {
                    name: name.to_owned(),
                    at: at.clone(),
                    reason: e.to_string(),
                })?;
            match ans.rcode {
                ResponseCode::NoError | ResponseCode::NXDomain => {}
                // An authoritative-only server (Panel1's own, asked as `ssl_resolver`) refuses
                // the parents of the zones it serves: it holds no CAA record there, which is
                // not a failed lookup. Climbing goes on (a higher zone may be served again);
                // the name itself must be answered.
                ResponseCode::Refused if i > 0 => {
                    tracing::debug!(%name, %at, "CAA lookup refused above the name; climbing on");
                    continue;
                }
                rcode => {
                    return Err(PreflightError::CaaLookupFailed {
                        name: name.to_owned(),
                        at,
                        reason: format!("the server answered {rcode}"),
                    });
                }
            }
            let caa: Vec<CAA> = ans
                .records(RecordType::CAA)
                .filter_map(|d| match d {
                    RData::CAA(c) => Some(c.clone()),
                    _ => None,
                })
                .collect();
            if !caa.is_empty() {
                return Ok(Some((at, caa)));
            }
        }
        Ok(None)
    }

    /// The names HTTP-01 will fetch must resolve to an address.
    pub async fn check_resolves(&self, names: &IdentifierSet) -> Result<(), PreflightError> {
        for name in names.iter().filter(|n| !is_wildcard(n)) {
            let mut reason = String::from("no A or AAAA record");
            let mut found = false;
            for rtype in [RecordType::A, RecordType::AAAA] {
                let ans = self.dns.query(name, rtype, true).await?;
                if ans.rcode == ResponseCode::NXDomain {
                    reason = "the name does not exist (NXDOMAIN)".into();
                    break;
                }
                if ans.rcode != ResponseCode::NoError {
                    reason = format!("the server answered {}", ans.rcode);
                    continue;
                }
                if ans.records(rtype).next().is_some() {
                    found = true;
                    break;
                }
            }
            if !found {
                return Err(PreflightError::DoesNotResolve {
                    name: name.to_owned(),
                    reason,
                });
            }
        }
        Ok(())
    }

    /// Follows CNAMEs from `record` (a `_acme-challenge` delegated to another zone) and
    /// returns the name that really holds the TXT record.
    pub async fn effective_record_name(&self, record: &str) -> Result<String, PreflightError> {
        let mut name = record.trim_end_matches('.').to_ascii_lowercase();
        for _ in 0..8 {
            let ans = self.dns.query(&name, RecordType::CNAME, true).await?;
            let target = ans.answers.iter().find_map(|r| match &r.data {
                RData::CNAME(c)
                    if r.name
                        .to_ascii()
                        .trim_end_matches('.')
                        .eq_ignore_ascii_case(&name) =>
                {
                    Some(c.0.to_ascii().trim_end_matches('.').to_ascii_lowercase())
                }
                _ => None,
            });
            match target {
                Some(t) => name = t,
                None => return Ok(name),
            }
        }
        Ok(name)
    }

    /// The zone holding `name` and the addresses of its authoritative servers.
    pub async fn authoritative_servers(
        &self,
        name: &str,
    ) -> Result<(String, Vec<SocketAddr>), PreflightError> {
        let none = |reason: String| PreflightError::NoAuthoritativeServers {
            name: name.to_owned(),
            reason,
        };
        let ans = self.dns.query(name, RecordType::SOA, true).await?;
        let zone = soa_owner(&ans).ok_or_else(|| none("no SOA record above it".into()))?;
        let ns = self.dns.query(&zone, RecordType::NS, true).await?;
        let hosts: Vec<String> = ns
            .records(RecordType::NS)
            .filter_map(|d| match d {
                RData::NS(n) => Some(n.0.to_ascii()),
                _ => None,
            })
            .collect();
        if hosts.is_empty() {
            return Err(none(format!("zone `{zone}` has no NS records")));
        }
        let mut addrs = Vec::new();
        for h in &hosts {
            for rtype in [RecordType::A, RecordType::AAAA] {
                let a = self.dns.query(h, rtype, true).await?;
                for d in a.records(rtype) {
                    let ip: Option<IpAddr> = match d {
                        RData::A(a) => Some(a.0.into()),
                        RData::AAAA(a) => Some(a.0.into()),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        let sa = SocketAddr::new(ip, self.ns_port);
                        if !addrs.contains(&sa) {
                            addrs.push(sa);
                        }
                    }
                }
            }
        }
        if addrs.is_empty() {
            return Err(none(format!(
                "the name servers of `{zone}` ({}) have no address",
                hosts.join(", ")
            )));
        }
        Ok((zone, addrs))
    }

    /// Waits until every authoritative server of the record's zone serves `value` at
    /// `record` (after CNAME delegation), polling every `interval` up to `timeout`.
    pub async fn wait_txt_visible(
        &self,
        record: &str,
        value: &str,
        timeout: Duration,
        interval: Duration,
    ) -> Result<Vec<SocketAddr>, PreflightError> {
        let name = self.effective_record_name(record).await?;
        let (_, servers) = self.authoritative_servers(&name).await?;
        wait_txt_at(
            &servers,
            &name,
            value,
            timeout,
            interval,
            self.dns_timeout(),
        )
        .await?;
        Ok(servers)
    }

    fn dns_timeout(&self) -> Duration {
        Duration::from_secs(2)
    }
}

fn soa_owner(ans: &DnsAnswer) -> Option<String> {
    ans.answers
        .iter()
        .chain(ans.authorities.iter())
        .find(|r| r.record_type() == RecordType::SOA)
        .map(|r| r.name.to_ascii().trim_end_matches('.').to_ascii_lowercase())
}

/// Waits until each of `servers` answers `value` among the TXT strings of `name` (asked
/// without recursion, as an authoritative question).
pub async fn wait_txt_at(
    servers: &[SocketAddr],
    name: &str,
    value: &str,
    timeout: Duration,
    interval: Duration,
    per_query: Duration,
) -> Result<(), PreflightError> {
    let started = tokio::time::Instant::now();
    loop {
        let mut seen = Vec::new();
        let mut all = true;
        for s in servers {
            let vals = match DnsClient::new(*s)
                .with_timeout(per_query)
                .query(name, RecordType::TXT, false)
                .await
            {
                Ok(a) => a.txt_values(),
                Err(e) => vec![format!("<{e}>")],
            };
            if !vals.iter().any(|v| v == value) {
                all = false;
            }
            seen.push((*s, vals));
        }
        if all {
            return Ok(());
        }
        if started.elapsed() + interval > timeout {
            return Err(PreflightError::TxtNotVisible {
                record: name.to_owned(),
                value: value.to_owned(),
                waited: started.elapsed(),
                seen,
            });
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::Name;
    use hickory_proto::rr::rdata::caa::KeyValue;

    fn issue(ca: Option<&str>, params: Vec<KeyValue>) -> CAA {
        CAA::new_issue(false, ca.map(|c| Name::from_ascii(c).unwrap()), params)
    }

    fn issuewild(ca: Option<&str>) -> CAA {
        CAA::new_issuewild(false, ca.map(|c| Name::from_ascii(c).unwrap()), vec![])
    }

    fn le() -> Vec<String> {
        vec!["letsencrypt.org".into()]
    }

    #[test]
    fn issue_names_the_ca_or_not() {
        let ids = le();
        let who = CaaRequester {
            identities: &ids,
            ..Default::default()
        };
        assert_eq!(
            evaluate_caa(&[issue(Some("letsencrypt.org"), vec![])], false, &who),
            CaaVerdict::Permitted
        );
        assert_eq!(
            evaluate_caa(&[issue(Some("LetsEncrypt.org."), vec![])], false, &who),
            CaaVerdict::Permitted
        );
        assert_eq!(
            evaluate_caa(&[issue(Some("pki.goog"), vec![])], false, &who),
            CaaVerdict::Forbidden { tag: "issue" }
        );
        // `issue ";"` forbids every CA.
        assert_eq!(
            evaluate_caa(&[issue(None, vec![])], false, &who),
            CaaVerdict::Forbidden { tag: "issue" }
        );
        // Only iodef: nothing restricts issuance.
        let iodef = CAA::new_iodef(false, "mailto:sec@example.com".parse().unwrap());
        assert_eq!(
            evaluate_caa(std::slice::from_ref(&iodef), false, &who),
            CaaVerdict::Permitted
        );
    }

    #[test]
    fn wildcards_prefer_issuewild() {
        let ids = le();
        let who = CaaRequester {
            identities: &ids,
            ..Default::default()
        };
        let set = [issue(Some("letsencrypt.org"), vec![]), issuewild(None)];
        assert_eq!(evaluate_caa(&set, false, &who), CaaVerdict::Permitted);
        assert_eq!(
            evaluate_caa(&set, true, &who),
            CaaVerdict::Forbidden { tag: "issuewild" }
        );
        // Without issuewild, a wildcard follows issue.
        assert_eq!(
            evaluate_caa(&[issue(Some("pki.goog"), vec![])], true, &who),
            CaaVerdict::Forbidden { tag: "issue" }
        );
        // issuewild does not restrict plain names.
        assert_eq!(
            evaluate_caa(&[issuewild(Some("pki.goog"))], false, &who),
            CaaVerdict::Permitted
        );
    }

    #[test]
    fn rfc8657_parameters_and_critical_unknown_tags() {
        let ids = le();
        let who = CaaRequester {
            identities: &ids,
            account_uri: Some("https://acme/acct/1"),
            method: Some(ValidationMethod::Http01),
        };
        let acct = |u: &str| {
            issue(
                Some("letsencrypt.org"),
                vec![KeyValue::new("accounturi", u)],
            )
        };
        assert_eq!(
            evaluate_caa(&[acct("https://acme/acct/1")], false, &who),
            CaaVerdict::Permitted
        );
        assert!(matches!(
            evaluate_caa(&[acct("https://acme/acct/2")], false, &who),
            CaaVerdict::Forbidden { .. }
        ));
        let methods = |m: &str| {
            issue(
                Some("letsencrypt.org"),
                vec![KeyValue::new("validationmethods", m)],
            )
        };
        assert_eq!(
            evaluate_caa(&[methods("dns-01,http-01")], false, &who),
            CaaVerdict::Permitted
        );
        assert!(matches!(
            evaluate_caa(&[methods("dns-01")], false, &who),
            CaaVerdict::Forbidden { .. }
        ));
        let mut critical = CAA::new_issue(true, None, vec![]);
        critical.tag = "tbs".into();
        critical.value = b"x".to_vec();
        assert!(matches!(
            evaluate_caa(
                &[critical, issue(Some("letsencrypt.org"), vec![])],
                false,
                &who
            ),
            CaaVerdict::Forbidden { .. }
        ));
    }

    #[test]
    fn wildcard_with_http01_is_refused_with_a_reason() {
        let names = IdentifierSet::new(["*.example.com", "example.com"]).unwrap();
        let e = check_methods(&names, ValidationMethod::Http01).unwrap_err();
        assert_eq!(
            e,
            PreflightError::WildcardNeedsDns01 {
                name: "*.example.com".into()
            }
        );
        assert!(e.to_string().contains("dns-01"));
        assert!(check_methods(&names, ValidationMethod::Dns01).is_ok());
    }
}
