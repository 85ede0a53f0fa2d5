//! WHOIS contacts: reusable per client, checked with [`panel1_core::contact::Contact`]
//! (ISO 3166 country, E.164 phone, e-mail, required fields) before they are stored.

use panel1_core::contact::{Contact, ContactData};
use panel1_core::{ClientId, ContactId, Page, PageRequest, ValidationError};
use panel1_store::clients;
use panel1_store::contacts::{self, ContactFilter, ContactRecord};
use panel1_store::domains as domain_repo;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::audit::{self, Change};
use crate::{App, AppError, AppResult, Caller};

/// A new contact of a client.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    /// The client it belongs to; client users may leave it out (their own client).
    pub client_id: Option<ClientId>,
    #[schema(example = "Ann")]
    pub first_name: String,
    #[schema(example = "Example")]
    pub last_name: String,
    pub organization: Option<String>,
    #[schema(example = "ann@example.com")]
    pub email: String,
    /// International form, `+CC.NUMBER` or `+44 20 7946 0000`.
    #[schema(example = "+44.2079460000")]
    pub phone: String,
    pub fax: Option<String>,
    #[schema(example = "1 High Street")]
    pub address1: String,
    pub address2: Option<String>,
    #[schema(example = "London")]
    pub city: String,
    pub state_province: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. `GB`.
    #[schema(example = "GB")]
    pub country: String,
}

impl NewContact {
    pub fn data(&self) -> ContactData {
        ContactData {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            organization: self.organization.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            fax: self.fax.clone(),
            address1: self.address1.clone(),
            address2: self.address2.clone(),
            city: self.city.clone(),
            state_province: self.state_province.clone(),
            postal_code: self.postal_code.clone(),
            country: self.country.clone(),
        }
    }
}

/// Changes to a contact: absent fields stay as they are; an empty string clears an optional one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub organization: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub fax: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub state_province: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

impl ContactPatch {
    fn apply(&self, d: &ContactData) -> ContactData {
        let opt = |p: &Option<String>, cur: &Option<String>| match p {
            Some(v) if v.trim().is_empty() => None,
            Some(v) => Some(v.clone()),
            None => cur.clone(),
        };
        ContactData {
            first_name: self
                .first_name
                .clone()
                .unwrap_or_else(|| d.first_name.clone()),
            last_name: self
                .last_name
                .clone()
                .unwrap_or_else(|| d.last_name.clone()),
            organization: opt(&self.organization, &d.organization),
            email: self.email.clone().unwrap_or_else(|| d.email.clone()),
            phone: self.phone.clone().unwrap_or_else(|| d.phone.clone()),
            fax: opt(&self.fax, &d.fax),
            address1: self.address1.clone().unwrap_or_else(|| d.address1.clone()),
            address2: opt(&self.address2, &d.address2),
            city: self.city.clone().unwrap_or_else(|| d.city.clone()),
            state_province: opt(&self.state_province, &d.state_province),
            postal_code: opt(&self.postal_code, &d.postal_code),
            country: self.country.clone().unwrap_or_else(|| d.country.clone()),
        }
    }
}

/// The client a caller acts for: client users always their own; staff must name one.
pub(crate) fn client_for(
    caller: &Caller,
    given: Option<&ClientId>,
    field: &str,
) -> Result<ClientId, ValidationError> {
    match (&caller.scope().client_id, given) {
        (Some(own), None) => Ok(own.clone()),
        (Some(own), Some(g)) if g == own => Ok(own.clone()),
        (Some(_), Some(g)) => Err(ValidationError::field(
            field,
            "not_found",
            format!("no client `{g}` exists"),
        )),
        (None, Some(g)) => Ok(g.clone()),
        (None, None) => Err(ValidationError::field(
            field,
            "required",
            "name the client (cli_…) this belongs to",
        )),
    }
}

/// Creates a contact for a client (staff, or the client's own users).
pub async fn create(app: &App, caller: &Caller, input: &NewContact) -> AppResult<ContactRecord> {
    let client = client_for(caller, input.client_id.as_ref(), "client_id");
    let parsed = Contact::parse(input.data());
    let mut errors = Vec::new();
    if let Err(e) = &client {
        errors.extend(e.0.clone());
    }
    if let Err(e) = &parsed {
        errors.extend(e.0.clone());
    }
    if !errors.is_empty() {
        return Err(ValidationError(errors).into());
    }
    let (Ok(client), Ok(contact)) = (client, parsed) else {
        return Err(AppError::internal(anyhow::anyhow!(
            "validated input lost a field"
        )));
    };
    let scope = caller.scope();
    let mut tx = app.db.begin().await?;
    if clients::get(tx.conn(), &scope, &client).await?.is_none() {
        return Err(ValidationError::field(
            "client_id",
            "not_found",
            format!("no client `{client}` exists"),
        )
        .into());
    }
    let rec = contacts::insert(tx.conn(), caller.tenant(), &client, contact.data()).await?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "contact.create",
            object_type: "contact",
            object_id: rec.id.as_str(),
            summary: format!(
                "created contact {} <{}>",
                contact.full_name(),
                contact.email
            ),
            before: None,
            after: Some(serde_json::to_value(&rec).map_err(AppError::internal)?),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(rec)
}

pub async fn get(app: &App, caller: &Caller, id: &ContactId) -> AppResult<ContactRecord> {
    let mut r = app.db.read().await?;
    contacts::get(r.conn(), &caller.scope(), id)
        .await?
        .ok_or_else(|| AppError::not_found("contact", id))
}

pub async fn list(
    app: &App,
    caller: &Caller,
    filter: &ContactFilter,
    page: PageRequest,
) -> AppResult<Page<ContactRecord>> {
    let mut r = app.db.read().await?;
    let (items, total) = contacts::list(r.conn(), &caller.scope(), filter, page).await?;
    Ok(Page::new(items, page, total))
}

/// Changes a contact. Domains that use it keep their registry contacts until their contacts
/// are updated (`updateDomainContacts`).
pub async fn update(
    app: &App,
    caller: &Caller,
    id: &ContactId,
    patch: &ContactPatch,
) -> AppResult<ContactRecord> {
    let scope = caller.scope();
    let mut tx = app.db.begin().await?;
    let current = contacts::get(tx.conn(), &scope, id)
        .await?
        .ok_or_else(|| AppError::not_found("contact", id))?;
    let contact = Contact::parse(patch.apply(&current.data))?;
    if contact.data() == &current.data {
        return Ok(current);
    }
    let Some((before, after)) = contacts::update(tx.conn(), &scope, id, contact.data()).await?
    else {
        return Err(AppError::not_found("contact", id));
    };
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "contact.update",
            object_type: "contact",
            object_id: id.as_str(),
            summary: format!("updated contact {}", contact.full_name()),
            before: Some(serde_json::to_value(&before).map_err(AppError::internal)?),
            after: Some(serde_json::to_value(&after).map_err(AppError::internal)?),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Deletes a contact that no live domain uses.
pub async fn delete(app: &App, caller: &Caller, id: &ContactId) -> AppResult<()> {
    let scope = caller.scope();
    let mut tx = app.db.begin().await?;
    let current = contacts::get(tx.conn(), &scope, id)
        .await?
        .ok_or_else(|| AppError::not_found("contact", id))?;
    let used = domain_repo::using_contact(tx.conn(), caller.tenant(), id, 5).await?;
    if !used.is_empty() {
        return Err(AppError::conflict(
            format!(
                "contact {id} is used by {}; give those domains other contacts first",
                used.join(", ")
            ),
            None,
        ));
    }
    contacts::delete(tx.conn(), &scope, id).await?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "contact.delete",
            object_type: "contact",
            object_id: id.as_str(),
            summary: format!(
                "deleted contact {} {}",
                current.data.first_name, current.data.last_name
            ),
            before: Some(serde_json::to_value(&current).map_err(AppError::internal)?),
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
