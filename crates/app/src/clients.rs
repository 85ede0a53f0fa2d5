//! The tenant's customers.

use panel1_core::validate::{self, Checker, FieldError};
use panel1_core::{ClientId, Page, PageRequest, ValidationError};
use panel1_store::clients::{self, Client, ClientDetails, ClientFilter};
use panel1_store::events::{self, NewEvent};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::audit::{self, Change};
use crate::{App, AppError, AppResult, Caller, Staff};

/// A new client.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// The contact person's full name.
    #[schema(example = "Ann Example")]
    pub name: String,
    pub company: Option<String>,
    #[schema(example = "ann@example.com")]
    pub email: String,
    /// International format, e.g. `+31 20 123 4567`.
    pub phone: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, e.g. `NL`.
    pub country: Option<String>,
    /// `active` (default), `suspended` or `closed`.
    pub status: Option<String>,
    pub notes: Option<String>,
}

/// Changes to a client: absent fields stay as they are; an empty string clears an optional one.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    pub name: Option<String>,
    pub company: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub status: Option<String>,
    pub notes: Option<String>,
}

const STATUSES: [&str; 3] = ["active", "suspended", "closed"];

fn phone(v: Option<&str>) -> Result<Option<String>, ValidationError> {
    let Some(p) = validate::optional_text(v, 40)? else {
        return Ok(None);
    };
    let digits = p.chars().filter(char::is_ascii_digit).count();
    if !p.starts_with('+')
        || !(6..=15).contains(&digits)
        || !p
            .chars()
            .all(|c| c.is_ascii_digit() || " +-.()".contains(c))
    {
        return Err(ValidationError::field(
            "",
            "format",
            "must be an international number starting with + and the country code, e.g. +31 20 123 4567",
        ));
    }
    Ok(Some(p))
}

fn country(v: Option<&str>) -> Result<Option<String>, ValidationError> {
    let Some(c) = validate::optional_text(v, 2)? else {
        return Ok(None);
    };
    let c = c.to_ascii_uppercase();
    if c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_uppercase()) {
        return Err(ValidationError::field(
            "",
            "format",
            "must be an ISO 3166-1 alpha-2 country code such as NL or US",
        ));
    }
    Ok(Some(c))
}

fn status(v: Option<&str>) -> Result<String, ValidationError> {
    let s = v.unwrap_or("active");
    if STATUSES.contains(&s) {
        Ok(s.to_owned())
    } else {
        Err(ValidationError::field(
            "",
            "enum",
            "must be one of active, suspended, closed",
        ))
    }
}

impl NewClient {
    /// Checks every field, reporting all problems at once.
    pub fn validate(&self) -> Result<ClientDetails, ValidationError> {
        let mut c = Checker::new();
        let name = c.take("name", validate::text(&self.name, 200));
        let email = c.take("email", validate::email(&self.email));
        let company = c.take(
            "company",
            validate::optional_text(self.company.as_deref(), 200),
        );
        let phone = c.take("phone", phone(self.phone.as_deref()));
        let address1 = c.take(
            "address1",
            validate::optional_text(self.address1.as_deref(), 200),
        );
        let address2 = c.take(
            "address2",
            validate::optional_text(self.address2.as_deref(), 200),
        );
        let city = c.take("city", validate::optional_text(self.city.as_deref(), 100));
        let state = c.take("state", validate::optional_text(self.state.as_deref(), 100));
        let postal_code = c.take(
            "postal_code",
            validate::optional_text(self.postal_code.as_deref(), 20),
        );
        let country = c.take("country", country(self.country.as_deref()));
        let status = c.take("status", status(self.status.as_deref()));
        let notes = c.take(
            "notes",
            validate::optional_text(self.notes.as_deref(), 5000),
        );
        c.finish()?;
        let (
            Some(name),
            Some(email),
            Some(company),
            Some(phone),
            Some(address1),
            Some(address2),
            Some(city),
            Some(state),
            Some(postal_code),
            Some(country),
            Some(status),
            Some(notes),
        ) = (
            name,
            email,
            company,
            phone,
            address1,
            address2,
            city,
            state,
            postal_code,
            country,
            status,
            notes,
        )
        else {
            return Err(ValidationError(vec![FieldError::new(
                "",
                "invalid",
                "invalid input",
            )]));
        };
        Ok(ClientDetails {
            name,
            company,
            email,
            phone,
            address1,
            address2,
            city,
            state,
            postal_code,
            country,
            status,
            notes,
        })
    }
}

impl ClientPatch {
    fn apply(&self, d: &ClientDetails) -> Result<ClientDetails, ValidationError> {
        let pick =
            |patch: &Option<String>, cur: &Option<String>| patch.clone().or_else(|| cur.clone());
        NewClient {
            name: self.name.clone().unwrap_or_else(|| d.name.clone()),
            company: pick(&self.company, &d.company),
            email: self.email.clone().unwrap_or_else(|| d.email.clone()),
            phone: pick(&self.phone, &d.phone),
            address1: pick(&self.address1, &d.address1),
            address2: pick(&self.address2, &d.address2),
            city: pick(&self.city, &d.city),
            state: pick(&self.state, &d.state),
            postal_code: pick(&self.postal_code, &d.postal_code),
            country: pick(&self.country, &d.country),
            status: Some(self.status.clone().unwrap_or_else(|| d.status.clone())),
            notes: pick(&self.notes, &d.notes),
        }
        .validate()
    }
}

pub async fn create(app: &App, staff: Staff<'_>, input: &NewClient) -> AppResult<Client> {
    let details = input.validate()?;
    let caller = staff.0;
    let mut tx = app.db.begin().await?;
    let client = clients::insert(tx.conn(), caller.tenant(), &details).await?;
    let after = serde_json::to_value(&client).map_err(AppError::internal)?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "client.create",
            object_type: "client",
            object_id: client.id.as_str(),
            summary: format!(
                "created client {} <{}>",
                client.details.name, client.details.email
            ),
            before: None,
            after: Some(after.clone()),
        },
    )
    .await?;
    events::append(
        &mut tx,
        NewEvent {
            tenant_id: caller.tenant(),
            kind: "client.created",
            object_type: "client",
            object_id: client.id.as_str(),
            payload: after,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(client)
}

pub async fn get(app: &App, caller: &Caller, id: &ClientId) -> AppResult<Client> {
    let mut r = app.db.read().await?;
    clients::get(r.conn(), &caller.scope(), id)
        .await?
        .ok_or_else(|| AppError::not_found("client", id))
}

pub async fn list(
    app: &App,
    caller: &Caller,
    filter: &ClientFilter,
    page: PageRequest,
) -> AppResult<Page<Client>> {
    if let Some(s) = &filter.status {
        status(Some(s))
            .map_err(|e| ValidationError(e.0.into_iter().map(|f| f.under("status")).collect()))?;
    }
    let mut r = app.db.read().await?;
    let (items, total) = clients::list(r.conn(), &caller.scope(), filter, page).await?;
    Ok(Page::new(items, page, total))
}

pub async fn update(
    app: &App,
    staff: Staff<'_>,
    id: &ClientId,
    patch: &ClientPatch,
) -> AppResult<Client> {
    let caller = staff.0;
    let scope = caller.scope();
    let mut tx = app.db.begin().await?;
    let current = clients::get_for_update(tx.conn(), &scope, id)
        .await?
        .ok_or_else(|| AppError::not_found("client", id))?;
    let details = patch.apply(&current.details)?;
    if details == current.details {
        return Ok(current);
    }
    let (before, after) = clients::update(tx.conn(), &scope, id, &details).await?;
    let before_v = serde_json::to_value(&before).map_err(AppError::internal)?;
    let after_v = serde_json::to_value(&after).map_err(AppError::internal)?;
    audit::record(
        &mut tx,
        caller,
        Change {
            action: "client.update",
            object_type: "client",
            object_id: id.as_str(),
            summary: format!("updated client {}", after.details.name),
            before: Some(before_v),
            after: Some(after_v.clone()),
        },
    )
    .await?;
    events::append(
        &mut tx,
        NewEvent {
            tenant_id: caller.tenant(),
            kind: "client.updated",
            object_type: "client",
            object_id: id.as_str(),
            payload: after_v,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
