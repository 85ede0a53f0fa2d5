//! Who is acting, and on what: roles, the authenticated principal, and the tenant scope
//! that every repository call takes.

use serde::{Deserialize, Serialize};

use crate::ids::{ClientId, TenantId, TokenId, UserId};

/// What a user may do. Ordered from the most to the least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs the installation: manages tenants and installation-wide schedules.
    Operator,
    /// A hosting company's administrator: everything within the tenant.
    Admin,
    /// A hosting company's employee: day-to-day work within the tenant.
    Staff,
    /// A customer's user: only the objects of its own client.
    Client,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Operator, Role::Admin, Role::Staff, Role::Client];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::Client => "client",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Staff and above: may act on any object of the tenant.
    pub fn is_staff(self) -> bool {
        !matches!(self, Role::Client)
    }

    /// Admin and above: may manage users, tokens, webhooks and settings.
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Operator | Role::Admin)
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub role: Role,
    /// Set for (and only for) users with the client role.
    pub client_id: Option<ClientId>,
    /// The API token used, when the call came with one.
    pub token_id: Option<TokenId>,
}

impl Principal {
    /// The data this principal may reach.
    pub fn scope(&self) -> Scope {
        Scope {
            tenant_id: self.tenant_id.clone(),
            client_id: if self.role == Role::Client {
                self.client_id.clone()
            } else {
                None
            },
        }
    }
}

/// The slice of data a repository call may touch: always one tenant, and for client users
/// only one client within it. Produced from a [`Principal`] after authentication, or by
/// system code acting for a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub tenant_id: TenantId,
    pub client_id: Option<ClientId>,
}

impl Scope {
    /// The whole tenant (staff and system work).
    pub fn tenant(tenant_id: TenantId) -> Self {
        Self {
            tenant_id,
            client_id: None,
        }
    }

    /// One client of a tenant.
    pub fn client(tenant_id: TenantId, client_id: ClientId) -> Self {
        Self {
            tenant_id,
            client_id: Some(client_id),
        }
    }

    /// Whether an object owned by `owner` (or by nobody) is visible in this scope.
    pub fn sees_client(&self, owner: Option<&ClientId>) -> bool {
        match (&self.client_id, owner) {
            (None, _) => true,
            (Some(mine), Some(theirs)) => mine == theirs,
            (Some(_), None) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_scope_sees_only_its_own_client() {
        let t = TenantId::new();
        let me = ClientId::new();
        let other = ClientId::new();
        let s = Scope::client(t.clone(), me.clone());
        assert!(s.sees_client(Some(&me)));
        assert!(!s.sees_client(Some(&other)));
        assert!(!s.sees_client(None));
        assert!(Scope::tenant(t).sees_client(Some(&other)));
    }

    #[test]
    fn staff_principal_scope_is_the_whole_tenant() {
        let p = Principal {
            tenant_id: TenantId::new(),
            user_id: UserId::new(),
            role: Role::Staff,
            client_id: Some(ClientId::new()),
            token_id: None,
        };
        assert_eq!(p.scope().client_id, None);
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }
}
