//! Who is calling, and the capabilities authorisation produced for them.
//!
//! A service that only staff may use takes a [`Staff`]; the only way to get one is
//! [`Caller::staff`], which checks the role. The same for [`Admin`] and [`Operator`].

use panel1_core::{Principal, Role, Scope, TenantId};
use panel1_store::audit::Actor;

use crate::error::{AppError, AppResult};

/// An authenticated request (or system action) with its correlation id.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub request_id: Option<String>,
}

impl Caller {
    pub fn new(principal: Principal, request_id: Option<String>) -> Self {
        Self {
            principal,
            request_id,
        }
    }

    pub fn tenant(&self) -> &TenantId {
        &self.principal.tenant_id
    }

    pub fn scope(&self) -> Scope {
        self.principal.scope()
    }

    pub fn actor(&self) -> Actor {
        Actor {
            kind: if self.principal.token_id.is_some() {
                "token".into()
            } else {
                "user".into()
            },
            id: Some(self.principal.user_id.to_string()),
            token_id: self.principal.token_id.as_ref().map(ToString::to_string),
        }
    }

    pub fn staff(&self) -> AppResult<Staff<'_>> {
        if self.principal.role.is_staff() {
            Ok(Staff(self))
        } else {
            Err(AppError::Forbidden(
                "this needs a staff account of the hosting company; client accounts cannot do it"
                    .into(),
            ))
        }
    }

    pub fn admin(&self) -> AppResult<Admin<'_>> {
        if self.principal.role.is_admin() {
            Ok(Admin(self))
        } else {
            Err(AppError::Forbidden(
                "this needs an administrator of the hosting company".into(),
            ))
        }
    }

    pub fn operator(&self) -> AppResult<Operator<'_>> {
        if self.principal.role == Role::Operator {
            Ok(Operator(self))
        } else {
            Err(AppError::Forbidden(
                "this needs the installation's operator".into(),
            ))
        }
    }
}

/// Proof that the caller is staff (or above) of its tenant.
#[derive(Debug, Clone, Copy)]
pub struct Staff<'a>(pub &'a Caller);

/// Proof that the caller administers its tenant.
#[derive(Debug, Clone, Copy)]
pub struct Admin<'a>(pub &'a Caller);

/// Proof that the caller operates the installation.
#[derive(Debug, Clone, Copy)]
pub struct Operator<'a>(pub &'a Caller);
