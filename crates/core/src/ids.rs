//! Opaque, prefixed identifiers (`cli_0193…`): a type prefix and a UUIDv7 in lowercase hex,
//! so ids sort by creation time and say what they point at.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{value}` is not a valid {kind} id: expected `{prefix}_` followed by 32 lowercase hex digits"
)]
pub struct IdError {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub value: String,
}

fn check(prefix: &str, s: &str) -> bool {
    s.len() == prefix.len() + 1 + 32
        && s.starts_with(prefix)
        && s.as_bytes()[prefix.len()] == b'_'
        && s[prefix.len() + 1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A fresh id body: UUIDv7 (time-ordered) as 32 lowercase hex digits.
pub fn new_id_body() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

macro_rules! define_id {
    ($(#[$m:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// Mints a new, unique id.
            pub fn new() -> Self {
                Self(format!("{}_{}", $prefix, new_id_body()))
            }

            /// Parses an id received from outside (a URL, a request body, a database row).
            pub fn parse(s: &str) -> Result<Self, IdError> {
                if check($prefix, s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(IdError { kind: $kind, prefix: $prefix, value: s.chars().take(80).collect() })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some(concat!("^", $prefix, "_[0-9a-f]{32}$")))
                    .examples([serde_json::json!(concat!($prefix, "_0193f1c2a4b07c3e9d2f5a6b7c8d9e0f"))])
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

define_id!(
    /// A hosting company on the installation.
    TenantId, "ten", "tenant"
);
define_id!(
    /// A person who signs in: operator, tenant admin, staff or a client's user.
    UserId, "usr", "user"
);
define_id!(
    /// A tenant's customer.
    ClientId, "cli", "client"
);
define_id!(
    /// An API token (its secret is never stored, only its hash).
    TokenId, "tok", "token"
);
define_id!(
    /// A durable job.
    JobId, "job", "job"
);
define_id!(
    /// A tenant-configured webhook endpoint.
    WebhookId, "whk", "webhook"
);
define_id!(
    /// One delivery attempt of an event to a webhook.
    DeliveryId, "dlv", "delivery"
);
define_id!(
    /// An event in the outbox.
    EventId, "evt", "event"
);
define_id!(
    /// An entry of the audit log.
    AuditId, "aud", "audit entry"
);
define_id!(
    /// A domain name managed by Panel1 for a client.
    DomainId, "dom", "domain"
);
define_id!(
    /// A reusable WHOIS contact of a client.
    ContactId, "con", "contact"
);
define_id!(
    /// A tenant's account at a registrar (adapter and sealed credentials).
    RegistrarAccountId, "rga", "registrar account"
);
define_id!(
    /// One requested registrar operation on a domain (the domain operations log).
    DomainOperationId, "dop", "domain operation"
);

define_id!(
    /// An invoice issued to a client.
    InvoiceId, "inv", "invoice"
);
define_id!(
    /// An entry of a client's credit ledger.
    CreditEntryId, "crd", "credit entry"
);
define_id!(
    /// An e-mail Panel1 sent (or tried to send).
    EmailId, "eml", "email"
);
define_id!(
    /// A tenant's account at a certificate authority (directory, EAB, sealed account key).
    CaAccountId, "caa", "CA account"
);
define_id!(
    /// A certificate product a tenant sells (DV single, multi-domain, wildcard, OV, EV).
    CertificateProductId, "cpr", "certificate product"
);
define_id!(
    /// A client's certificate subscription: one paid term covering every reissue in it.
    CertificateSubscriptionId, "csb", "certificate subscription"
);
define_id!(
    /// A TLS certificate (one order at a CA and what it produced).
    CertificateId, "crt", "certificate"
);
define_id!(
    /// The validation of one identifier of a certificate order (DNS-01 / HTTP-01).
    ValidationRecordId, "cvr", "validation record"
);
define_id!(
    /// Where a certificate is installed (files + reload, webhook) and probed.
    InstallationId, "cin", "certificate installation"
);
define_id!(
    /// A DNS zone hosted by Panel1 or pushed to an external provider.
    ZoneId, "zon", "zone"
);
define_id!(
    /// A tenant's account at an external DNS provider (PowerDNS, RFC 2136).
    DnsProviderId, "dnp", "DNS provider"
);
define_id!(
    /// A secondary name server that follows a tenant's zones (NOTIFY, AXFR).
    DnsSecondaryId, "dns", "DNS secondary"
);
define_id!(
    /// One call to an external DNS provider (the provider calls log).
    DnsProviderCallId, "dpc", "DNS provider call"
);
define_id!(
    /// A difference between Panel1 and a registrar found by the sync (domain drift).
    DriftId, "dft", "domain drift entry"
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn new_ids_round_trip_and_sort_by_time() {
        let a = ClientId::new();
        let b = ClientId::new();
        assert_eq!(ClientId::parse(a.as_str()).unwrap(), a);
        assert!(a < b, "UUIDv7 ids must sort by creation");
        assert!(a.as_str().starts_with("cli_"));
    }

    #[test]
    fn wrong_prefix_is_refused_with_a_clear_message() {
        let t = TenantId::new();
        let err = ClientId::parse(t.as_str()).unwrap_err();
        assert!(err.to_string().contains("not a valid client id"), "{err}");
        assert!(
            ClientId::parse("cli_0193F1C2A4B07C3E9D2F5A6B7C8D9E0F").is_err(),
            "uppercase is refused"
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_only_accepts_canonical(s in ".{0,60}") {
            if let Ok(id) = ClientId::parse(&s) {
                prop_assert_eq!(id.as_str(), s.as_str());
            }
        }
    }
}
