//! Taking over an existing registrar account: its domains become Panel1 domains with their
//! real expiry and statuses, each client found by the registrant's e-mail or created, and
//! nothing is charged (no operation, no invoice, no registrar call that changes anything).
//!
//! `importRegistrarDomains` enqueues `domain::import`; the job pages through the account's
//! domain list (`list_domains`), reads each new name with `info` (at the account's sync rate,
//! bounded by the registrar timeout), and stores the domains of each page in one transaction
//! together with the clients and registrant contacts it created. Names the tenant already has
//! are left alone, so running an import again (or after a crash) adds only what is missing.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use panel1_core::contact::Contact;
use panel1_core::domain_lifecycle::{DomainState, derive_state};
use panel1_core::domain_name::DomainName;
use panel1_core::{ClientId, DomainId, JobId, RegistrarAccountId, Scope, TenantId};
use panel1_jobs::{EnqueueOptions, Job, JobContext, JobError};
use panel1_registrar::{DomainInfo, ListRequest};
use panel1_store::clients::{self, ClientDetails};
use panel1_store::contacts;
use panel1_store::domain_automation as auto;
use panel1_store::domains::{self as repo, ContactIds, Domain};
use panel1_store::events::{self, NewEvent};
use panel1_store::registrars;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::accounts;
use crate::audit::{self, Change};
use crate::{App, AppError, AppResult, Staff};

/// What to import.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// Renew the imported domains automatically (default on).
    pub auto_renew: Option<bool>,
    /// The client for domains whose registrant e-mail the registrar does not give.
    pub fallback_client_id: Option<ClientId>,
}

/// An import under way.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportStarted {
    /// The `domain::import` job; its result counts what was imported.
    pub job_id: JobId,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    pub listed: usize,
    pub imported: usize,
    /// Names the tenant already had.
    pub existing: usize,
    pub clients_created: usize,
    pub clients_matched: usize,
    /// Names that could not be imported, with why (at most 50).
    pub failed: Vec<String>,
}

/// Starts importing a registrar account's domains (staff).
pub async fn start(
    app: &App,
    staff: Staff<'_>,
    account: &RegistrarAccountId,
    input: &ImportRequest,
) -> AppResult<ImportStarted> {
    let tenant = staff.0.tenant();
    let mut tx = app.db.begin().await?;
    let Some(acc) = registrars::get(tx.conn(), tenant, account).await? else {
        return Err(AppError::not_found("registrar account", account));
    };
    if let Some(c) = &input.fallback_client_id
        && clients::get(tx.conn(), &staff.0.scope(), c)
            .await?
            .is_none()
    {
        return Err(panel1_core::ValidationError::field(
            "fallback_client_id",
            "not_found",
            format!("no client `{c}` exists"),
        )
        .into());
    }
    let job = ImportDomains {
        tenant_id: tenant.clone(),
        account_id: account.clone(),
        request: input.clone(),
        nonce: panel1_core::ids::new_id_body(),
    };
    let e = panel1_jobs::enqueue(
        &mut tx,
        &job,
        EnqueueOptions {
            tenant_id: Some(tenant.clone()),
            ..Default::default()
        },
    )
    .await?;
    audit::record(
        &mut tx,
        staff.0,
        Change {
            action: "registrar_account.import",
            object_type: "registrar_account",
            object_id: account.as_str(),
            summary: format!("started importing the domains of `{}`", acc.name),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(ImportStarted {
        job_id: e.id().clone(),
    })
}

/// Imports a registrar account's domains (the body of the `domain::import` job).
pub async fn run(
    app: &App,
    tenant: &TenantId,
    account_id: &RegistrarAccountId,
    request: &ImportRequest,
) -> AppResult<ImportReport> {
    let account = {
        let mut r = app.db.read().await?;
        registrars::get_any(r.conn(), tenant, account_id)
            .await?
            .ok_or_else(|| AppError::not_found("registrar account", account_id))?
    };
    let registrar = accounts::registrar(app, &account)
        .await
        .map_err(|e| AppError::Unavailable(format!("registrar `{}`: {e}", account.name)))?;
    let rate = {
        let mut r = app.db.read().await?;
        auto::sync_state(r.conn(), tenant, account_id)
            .await?
            .rate_per_minute
            .unwrap_or(i64::from(app.settings.registrar_sync_rate_per_minute))
            .max(1)
    };
    let spacing = Duration::from_secs_f64(60.0 / rate as f64);
    let timeout = Duration::from_secs(app.settings.registrar_timeout_secs);
    let auto_renew = request.auto_renew.unwrap_or(true);
    let scope = Scope::tenant(tenant.clone());
    let mut report = ImportReport::default();
    let mut clients_by_email: HashMap<String, ClientId> = HashMap::new();
    let mut page = ListRequest {
        page: 1,
        page_size: 500,
    };
    let started = tokio::time::Instant::now();
    let mut calls: u32 = 0;
    loop {
        let list = tokio::time::timeout(timeout, registrar.list_domains(&page))
            .await
            .map_err(|_| {
                AppError::Unavailable(format!(
                    "registrar `{}` did not list its domains within {} s",
                    account.name,
                    timeout.as_secs()
                ))
            })?
            .result
            .map_err(|e| AppError::Unavailable(format!("registrar `{}`: {e}", account.name)))?;
        report.listed += list.domains.len();
        // Which names are new to the tenant.
        let mut fresh = Vec::new();
        {
            let mut r = app.db.read().await?;
            for l in &list.domains {
                if repo::get_by_name(r.conn(), tenant, l.name.as_ascii())
                    .await?
                    .is_some()
                {
                    report.existing += 1;
                } else {
                    fresh.push(l.name.clone());
                }
            }
        }
        let mut infos: Vec<(DomainName, DomainInfo)> = Vec::new();
        for name in fresh {
            tokio::time::sleep_until(started + spacing * calls).await;
            calls = calls.saturating_add(1);
            match tokio::time::timeout(timeout, registrar.info(&name)).await {
                Ok(reply) => match reply.result {
                    Ok(info) if info.in_account => infos.push((name, info)),
                    Ok(_) => fail(&mut report, &name, "it belongs to another account now"),
                    Err(e) => fail(&mut report, &name, &e.to_string()),
                },
                Err(_) => fail(&mut report, &name, "the registrar did not answer in time"),
            }
        }
        store_page(
            app,
            tenant,
            &scope,
            &account.id,
            request,
            auto_renew,
            infos,
            &mut clients_by_email,
            &mut report,
        )
        .await?;
        match list.next_page {
            Some(n) if n > page.page => page.page = n,
            _ => break,
        }
    }
    let mut tx = app.db.begin().await?;
    audit::record_as(
        &mut tx,
        tenant,
        &panel1_store::audit::Actor::system("import"),
        None,
        Change {
            action: "registrar_account.imported",
            object_type: "registrar_account",
            object_id: account.id.as_str(),
            summary: format!(
                "imported {} domains from `{}` ({} already here, {} failed; {} clients created, {} matched)",
                report.imported,
                account.name,
                report.existing,
                report.failed.len(),
                report.clients_created,
                report.clients_matched
            ),
            before: None,
            after: serde_json::to_value(&report).ok(),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(account = %account.name, imported = report.imported, existing = report.existing, failed = report.failed.len(), "registrar account imported");
    Ok(report)
}

fn fail(report: &mut ImportReport, name: &DomainName, why: &str) {
    if report.failed.len() < 50 {
        report.failed.push(format!("{name}: {why}"));
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one page of an import needs the whole import's state"
)]
async fn store_page(
    app: &App,
    tenant: &TenantId,
    scope: &Scope,
    account: &RegistrarAccountId,
    request: &ImportRequest,
    auto_renew: bool,
    infos: Vec<(DomainName, DomainInfo)>,
    clients_by_email: &mut HashMap<String, ClientId>,
    report: &mut ImportReport,
) -> AppResult<()> {
    if infos.is_empty() {
        return Ok(());
    }
    let now = app.clock.now();
    let mut tx = app.db.begin().await?;
    let mut new_domains = Vec::with_capacity(infos.len());
    let mut created_here: Vec<(String, ClientId)> = Vec::new();
    for (name, info) in &infos {
        let registrant = info.contacts.as_ref().map(|c| c.registrant.clone());
        let email = registrant
            .as_ref()
            .map(|r| r.email.trim().to_lowercase())
            .filter(|e| e.contains('@'));
        let client = match &email {
            Some(e) => match clients_by_email.get(e) {
                Some(c) => Some(c.clone()),
                None => match auto::client_by_email(tx.conn(), tenant, e).await? {
                    Some(c) => {
                        report.clients_matched += 1;
                        clients_by_email.insert(e.clone(), c.clone());
                        Some(c)
                    }
                    None => {
                        let r = registrant
                            .as_ref()
                            .expect("an e-mail comes from a registrant");
                        let person = format!("{} {}", r.first_name.trim(), r.last_name.trim());
                        let display = r
                            .organization
                            .clone()
                            .filter(|o| !o.trim().is_empty())
                            .unwrap_or_else(|| person.trim().to_owned());
                        let details = ClientDetails {
                            name: if display.is_empty() {
                                e.clone()
                            } else {
                                display
                            },
                            company: r.organization.clone().filter(|o| !o.trim().is_empty()),
                            email: e.clone(),
                            phone: Some(r.phone.clone()).filter(|p| !p.is_empty()),
                            address1: Some(r.address1.clone()).filter(|a| !a.is_empty()),
                            address2: r.address2.clone(),
                            city: Some(r.city.clone()).filter(|c| !c.is_empty()),
                            state: r.state_province.clone(),
                            postal_code: r.postal_code.clone(),
                            country: Some(r.country.clone()).filter(|c| !c.is_empty()),
                            status: "active".into(),
                            notes: Some(format!(
                                "created by the import of registrar account {account}"
                            )),
                        };
                        let c = clients::insert(tx.conn(), tenant, &details).await?;
                        report.clients_created += 1;
                        created_here.push((e.clone(), c.id.clone()));
                        clients_by_email.insert(e.clone(), c.id.clone());
                        events::append(
                            &mut tx,
                            NewEvent {
                                tenant_id: tenant,
                                kind: "client.created",
                                object_type: "client",
                                object_id: c.id.as_str(),
                                payload: serde_json::to_value(&c).map_err(AppError::internal)?,
                            },
                        )
                        .await?;
                        Some(c.id)
                    }
                },
            },
            None => request.fallback_client_id.clone(),
        };
        let Some(client) = client else {
            fail(
                report,
                name,
                "the registrar gives no registrant e-mail; import again with fallback_client_id",
            );
            continue;
        };
        // The registrant as a reusable contact of the client, when its data is complete.
        let contact_id = match registrant.map(Contact::parse) {
            Some(Ok(c)) => Some(contacts::insert(tx.conn(), tenant, &client, &c).await?.id),
            _ => None,
        };
        let report_state = derive_state(DomainState::Active, &info.report(), now);
        new_domains.push(Domain {
            id: DomainId::new(),
            tenant_id: tenant.clone(),
            client_id: client,
            name: name.as_ascii().to_owned(),
            name_unicode: name.unicode().to_owned(),
            tld: name.public_suffix().to_owned(),
            registrar_account_id: account.clone(),
            state: report_state,
            epp_statuses: info
                .epp_statuses
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            rgp_statuses: info
                .rgp_statuses
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            registry_id: info.registry_id.clone(),
            registered_at: info.created_at,
            expires_at: info.expires_at,
            nameservers: info
                .nameservers
                .iter()
                .map(|n| n.as_ascii().to_owned())
                .collect(),
            locked: info.locked,
            privacy: info.privacy.unwrap_or(false),
            auto_renew,
            contacts: ContactIds {
                registrant: contact_id.clone(),
                admin: contact_id.clone(),
                tech: contact_id.clone(),
                billing: contact_id,
            },
            suspension_reason: None,
            synced_at: Some(now),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        });
    }
    let stored = repo::insert_many(tx.conn(), &new_domains).await?;
    report.imported += stored.len();
    report.existing += new_domains.len() - stored.len();
    for d in new_domains.iter().filter(|d| stored.contains(&d.id)) {
        events::append(
            &mut tx,
            NewEvent {
                tenant_id: tenant,
                kind: "domain.imported",
                object_type: "domain",
                object_id: d.id.as_str(),
                payload: serde_json::json!({ "domain": d }),
            },
        )
        .await?;
    }
    let _ = scope;
    match tx.commit().await {
        Ok(()) => Ok(()),
        Err(e) => {
            for (email, _) in created_here {
                clients_by_email.remove(&email);
            }
            Err(e.into())
        }
    }
}

/// Imports the domains of a registrar account (see the module documentation).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportDomains {
    pub tenant_id: TenantId,
    pub account_id: RegistrarAccountId,
    pub request: ImportRequest,
    /// Makes each requested import its own job.
    pub nonce: String,
}

#[async_trait]
impl Job for ImportDomains {
    const KIND: &'static str = "domain::import";
    const MAX_ATTEMPTS: i64 = 5;
    type Context = App;

    fn unique_key(&self) -> Option<String> {
        Some(format!("{}:{}", self.account_id, self.nonce))
    }

    fn ordering_key(&self) -> Option<String> {
        Some(format!("import:{}", self.account_id))
    }

    async fn run(&self, app: &App, job: &JobContext) -> Result<(), JobError> {
        let r = run(app, &self.tenant_id, &self.account_id, &self.request)
            .await
            .map_err(|e| match e {
                AppError::NotFound { .. } => JobError::permanent(e),
                other => JobError::retry(other.detail()),
            })?;
        job.report(
            i64::try_from(r.imported).unwrap_or(i64::MAX),
            i64::try_from(r.failed.len()).unwrap_or(i64::MAX),
        );
        let mut tx = app.db.begin().await?;
        job.complete_in(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}
