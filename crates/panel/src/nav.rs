//! The menu: one entry per page, shown to the roles it is for. A new area adds its entry
//! here, in the order it should appear.

use panel1_core::Role;
use serde::Serialize;

/// Who sees an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The hosting company's staff (staff, admin, operator).
    Staff,
    /// Administrators only.
    Admin,
    /// A client's users.
    Client,
}

impl Audience {
    fn admits(self, role: Role) -> bool {
        match self {
            Audience::Staff => role.is_staff(),
            Audience::Admin => role.is_admin(),
            Audience::Client => role == Role::Client,
        }
    }
}

pub struct Entry {
    /// The section key pages pass to mark the entry current.
    pub key: &'static str,
    pub label: &'static str,
    pub href: &'static str,
    pub audience: Audience,
}

/// The menu, in order.
pub const ENTRIES: &[Entry] = &[
    Entry {
        key: "dashboard",
        label: "Dashboard",
        href: "/admin",
        audience: Audience::Staff,
    },
    Entry {
        key: "clients",
        label: "Clients",
        href: "/admin/clients",
        audience: Audience::Staff,
    },
    Entry {
        key: "domains",
        label: "Domains",
        href: "/admin/domains",
        audience: Audience::Staff,
    },
    Entry {
        key: "dns",
        label: "DNS",
        href: "/admin/dns",
        audience: Audience::Staff,
    },
    Entry {
        key: "certificates",
        label: "Certificates",
        href: "/admin/certificates",
        audience: Audience::Staff,
    },
    Entry {
        key: "invoices",
        label: "Invoices",
        href: "/admin/invoices",
        audience: Audience::Staff,
    },
    Entry {
        key: "prices",
        label: "TLD prices",
        href: "/admin/prices",
        audience: Audience::Staff,
    },
    Entry {
        key: "jobs",
        label: "Jobs",
        href: "/admin/jobs",
        audience: Audience::Staff,
    },
    Entry {
        key: "schedules",
        label: "Schedules",
        href: "/admin/schedules",
        audience: Audience::Staff,
    },
    Entry {
        key: "audit",
        label: "Audit log",
        href: "/admin/audit",
        audience: Audience::Staff,
    },
    Entry {
        key: "users",
        label: "Users",
        href: "/admin/users",
        audience: Audience::Admin,
    },
    Entry {
        key: "tokens",
        label: "API tokens",
        href: "/admin/tokens",
        audience: Audience::Staff,
    },
    Entry {
        key: "webhooks",
        label: "Webhooks",
        href: "/admin/webhooks",
        audience: Audience::Admin,
    },
    Entry {
        key: "registrars",
        label: "Registrars",
        href: "/admin/registrars",
        audience: Audience::Staff,
    },
    Entry {
        key: "ca_accounts",
        label: "CA accounts",
        href: "/admin/ca-accounts",
        audience: Audience::Staff,
    },
    Entry {
        key: "emails",
        label: "E-mails",
        href: "/admin/emails",
        audience: Audience::Staff,
    },
    Entry {
        key: "client_home",
        label: "Overview",
        href: "/client",
        audience: Audience::Client,
    },
    Entry {
        key: "client_domains",
        label: "Domains",
        href: "/client/domains",
        audience: Audience::Client,
    },
    Entry {
        key: "client_dns",
        label: "DNS",
        href: "/client/dns",
        audience: Audience::Client,
    },
    Entry {
        key: "client_certificates",
        label: "Certificates",
        href: "/client/certificates",
        audience: Audience::Client,
    },
    Entry {
        key: "client_invoices",
        label: "Invoices",
        href: "/client/invoices",
        audience: Audience::Client,
    },
    Entry {
        key: "client_credit",
        label: "Credit",
        href: "/client/credit",
        audience: Audience::Client,
    },
    Entry {
        key: "client_tokens",
        label: "API tokens",
        href: "/client/tokens",
        audience: Audience::Client,
    },
];

#[derive(Debug, Serialize)]
pub struct Shown {
    pub label: &'static str,
    pub href: &'static str,
    pub current: bool,
}

/// The entries `role` sees, with `current` marking the page's section.
pub fn for_role(role: Role, current: &str) -> Vec<Shown> {
    ENTRIES
        .iter()
        .filter(|e| e.audience.admits(role))
        .map(|e| Shown {
            label: e.label,
            href: e.href,
            current: e.key == current,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_see_only_the_client_area_and_staff_only_theirs() {
        let client: Vec<_> = for_role(Role::Client, "").iter().map(|e| e.href).collect();
        assert!(
            client.iter().all(|h| h.starts_with("/client")),
            "{client:?}"
        );
        let staff: Vec<_> = for_role(Role::Staff, "").iter().map(|e| e.href).collect();
        assert!(staff.contains(&"/admin/clients"));
        assert!(!staff.contains(&"/admin/users"), "users are for admins");
        assert!(
            for_role(Role::Admin, "")
                .iter()
                .any(|e| e.href == "/admin/users")
        );
        assert!(
            for_role(Role::Admin, "clients")
                .iter()
                .any(|e| e.current && e.href == "/admin/clients")
        );
    }
}
