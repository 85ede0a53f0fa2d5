//! E-mail notifications: editable templates per tenant (minijinja, with built-in defaults),
//! every e-mail recorded before it is sent, and sent by a job that retries on SMTP failure.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use panel1_core::validate::{self, Checker};
use panel1_core::{EmailId, Page, PageRequest, TenantId, ValidationError};
use panel1_jobs::{EnqueueOptions, Job, JobContext, JobError};
use panel1_store::Tx;
use panel1_store::emails::{self, Email, EmailFilter, NewEmail};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::audit::{self, Change};
use crate::{Admin, App, AppError, AppResult, Staff};

/// The built-in templates: (key, subject, body). Variables depend on the template; every
/// template gets `tenant` (name) and `public_url`.
pub const DEFAULT_TEMPLATES: &[(&str, &str, &str)] = &[
    (
        "registration_confirmation",
        "{{ domain }} is registered",
        "Hello {{ client_name }},\n\n{{ domain }} is now registered for {{ years }} year(s). It expires on {{ expires_at }}.\n\n{{ tenant }}\n",
    ),
    (
        "invoice",
        "Invoice {{ number }}: {{ total }}",
        "Hello {{ client_name }},\n\nInvoice {{ number }} for {{ total }} is due on {{ due_at }}.\n{% for line in lines %}- {{ line.description }}: {{ line.amount }}\n{% endfor %}\nYou can pay it from your account credit in the client area.\n\n{{ tenant }}\n",
    ),
    (
        "renewal_done",
        "{{ domain }} is renewed until {{ expires_at }}",
        "Hello {{ client_name }},\n\n{{ domain }} was renewed; it now expires on {{ expires_at }}.\n\n{{ tenant }}\n",
    ),
    (
        "renewal_failed",
        "Renewal of {{ domain }} is failing",
        "The renewal of {{ domain }} (client {{ client_name }}) has not succeeded yet and the domain expires on {{ expires_at }}.\nLast error: {{ error }}\nPanel1 keeps retrying; please check the registrar account and the client's invoice.\n",
    ),
    (
        "expiry_reminder",
        "{{ domain }} expires in {{ days }} days",
        "Hello {{ client_name }},\n\n{{ domain }} expires on {{ expires_at }} ({{ days }} days from now).{% if auto_renew %} It will be renewed automatically when the renewal invoice is paid.{% else %} Renew it in the client area to keep it.{% endif %}{% if invoice %}\nInvoice {{ invoice.number }} for {{ invoice.total }} is waiting for payment; you can pay it from your account credit in the client area.{% endif %}\n\n{{ tenant }}\n",
    ),
    (
        "expired_notice",
        "{{ domain }} has expired",
        "Hello {{ client_name }},\n\n{{ domain }} expired on {{ expires_at }}. It can still be renewed during the grace period; after that, restoring it costs more.\n\n{{ tenant }}\n",
    ),
    (
        "domain_restored",
        "{{ domain }} is restored",
        "Hello {{ client_name }},\n\n{{ domain }} was restored from redemption; it now expires on {{ expires_at }}.\n\n{{ tenant }}\n",
    ),
    (
        "ssl_dns_records",
        "Create DNS records to validate {{ names }}",
        "Hello {{ client_name }},\n\nTo issue the TLS certificate for {{ names }}, create these DNS records exactly as shown:\n{% for r in records %}  {{ r }}\n{% endfor %}\nPanel1 checks them on your zone's name servers and tells the certificate authority as soon as every one is visible. It stops waiting on {{ deadline }}.\n\n{{ tenant }}\n",
    ),
    (
        "ssl_validation_failed",
        "The certificate for {{ names }} could not be validated",
        "Hello {{ client_name }},\n\nThe certificate authority could not validate {{ names }}:\n{{ error }}\n{% if records %}\nWhat had to be published:\n{% for r in records %}  {{ r }}\n{% endfor %}{% endif %}\nFix the records, then renew the certificate ({{ certificate_id }}) to try again.\n\n{{ tenant }}\n",
    ),
    (
        "ssl_issue_failed",
        "The certificate for {{ names }} could not be issued",
        "Hello {{ client_name }},\n\nThe certificate for {{ names }} ({{ certificate_id }}) could not be issued:\n{{ error }}\n\n{{ tenant }}\n",
    ),
    (
        "ssl_renewal_failed",
        "Renewal of the certificate for {{ names }} is failing",
        "Hello {{ client_name }},\n\nThe certificate for {{ names }} expires on {{ not_after }}{% if days is not none %} ({{ days }} days from now){% endif %}, and renewing it failed:\n{{ error }}\nPanel1 tries again at {{ retry_at }}; please check the DNS records or the server the names point to.\n\n{{ tenant }}\n",
    ),
    (
        "ssl_expiring",
        "The certificate for {{ names }} expires in {{ days }} days",
        "Hello {{ client_name }},\n\nThe certificate for {{ names }} expires on {{ not_after }} ({{ days }} days from now) and has not been renewed yet.{% if renewing %} A renewal is in progress.{% endif %}{% if error %}\nLast problem: {{ error }}{% endif %}\n\n{{ tenant }}\n",
    ),
    (
        "ssl_health_alert",
        "Certificate problem at {{ target }}",
        "Hello {{ client_name }},\n\nThe daily check of {{ target }} (certificate for {{ names }}) found:\n{% for p in problems %}  - {{ p }}\n{% endfor %}\n{{ tenant }}\n",
    ),
];

pub fn default_template(key: &str) -> Option<(&'static str, &'static str)> {
    DEFAULT_TEMPLATES
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, s, b)| (*s, *b))
}

fn env() -> minijinja::Environment<'static> {
    let mut e = minijinja::Environment::new();
    e.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    e
}

/// Renders a subject and body with `ctx`. Plain text: no HTML escaping.
pub fn render(
    subject: &str,
    body: &str,
    ctx: &serde_json::Value,
) -> Result<(String, String), String> {
    let e = env();
    let ctx = minijinja::Value::from(minijinja::value::Serde(ctx));
    let s = e
        .render_str(subject, ctx.clone())
        .map_err(|x| format!("subject: {x}"))?;
    let b = e.render_str(body, ctx).map_err(|x| format!("body: {x}"))?;
    Ok((s.trim().to_owned(), b))
}

/// What to send.
pub struct Notice<'a> {
    pub tenant_id: &'a TenantId,
    pub to: &'a str,
    pub template: &'a str,
    pub object: Option<(&'a str, &'a str)>,
    pub context: serde_json::Value,
    /// Sends at most one e-mail with this key (reminders per domain and date).
    pub dedupe_key: Option<String>,
}

/// Records an e-mail and enqueues its sending, inside the caller's transaction. Returns `None`
/// when one with the same dedupe key was already recorded.
pub async fn queue(app: &App, tx: &mut Tx, n: Notice<'_>) -> AppResult<Option<EmailId>> {
    let (subject_t, body_t) = match emails::get_template(tx.conn(), n.tenant_id, n.template).await?
    {
        Some(o) => (o.subject, o.body),
        None => {
            let (s, b) = default_template(n.template).ok_or_else(|| {
                AppError::internal(anyhow::anyhow!("no e-mail template `{}`", n.template))
            })?;
            (s.to_owned(), b.to_owned())
        }
    };
    let tenant_name = panel1_store::tenants::get(tx.conn(), n.tenant_id)
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    let mut ctx = n.context;
    if let Some(o) = ctx.as_object_mut() {
        o.entry("tenant").or_insert(serde_json::json!(tenant_name));
        o.entry("public_url")
            .or_insert(serde_json::json!(app.settings.public_url));
    }
    let (subject, body) = render(&subject_t, &body_t, &ctx).unwrap_or_else(|e| {
        tracing::warn!(template = n.template, error = %e, "a tenant's e-mail template does not render; using the default");
        let (s, b) = default_template(n.template).unwrap_or(("Notification", ""));
        render(s, b, &ctx).unwrap_or_else(|_| (s.to_owned(), b.to_owned()))
    });
    let id = emails::insert(
        tx.conn(),
        n.tenant_id,
        &NewEmail {
            to: n.to,
            template: n.template,
            object_type: n.object.map(|o| o.0),
            object_id: n.object.map(|o| o.1),
            subject: &subject,
            body: &body,
            dedupe_key: n.dedupe_key.as_deref(),
        },
    )
    .await?;
    if let Some(id) = &id {
        panel1_jobs::enqueue(
            tx,
            &SendEmail {
                email_id: id.clone(),
            },
            EnqueueOptions {
                tenant_id: Some(n.tenant_id.clone()),
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(id)
}

/// Sends one recorded e-mail.
#[derive(Debug, Serialize, Deserialize)]
pub struct SendEmail {
    pub email_id: EmailId,
}

#[async_trait]
impl Job for SendEmail {
    const KIND: &'static str = "email::send";
    const MAX_ATTEMPTS: i64 = 12;
    type Context = App;

    fn unique_key(&self) -> Option<String> {
        Some(self.email_id.to_string())
    }

    /// 30 s, 1 min, 2 min … capped at 2 h.
    fn backoff(attempt: i64) -> Duration {
        let exp = u32::try_from(attempt.clamp(1, 16) - 1).unwrap_or(0);
        Duration::from_secs(30u64.saturating_mul(1 << exp)).min(Duration::from_secs(7200))
    }

    async fn run(&self, app: &App, _job: &JobContext) -> Result<(), JobError> {
        let found = {
            let mut r = app.db.read().await?;
            emails::get(r.conn(), &self.email_id).await?
        };
        let Some((_tenant, email)) = found else {
            return Err(JobError::permanent("the e-mail record is gone"));
        };
        if email.status == "sent" || email.status == "logged" {
            return Ok(());
        }
        let outcome = match &app.settings.smtp_url {
            None => {
                tracing::info!(to = %email.to, subject = %email.subject, template = %email.template, "no SMTP server configured (smtp_url); e-mail logged, not sent");
                Ok("logged")
            }
            Some(url) => send(url.expose(), &app.settings.smtp_from, &email)
                .await
                .map(|()| "sent"),
        };
        let mut tx = app.db.begin().await?;
        match &outcome {
            Ok(status) => emails::record_attempt(tx.conn(), &email.id, status, None).await?,
            Err(e) => emails::record_attempt(tx.conn(), &email.id, "failed", Some(e)).await?,
        }
        tx.commit().await?;
        outcome
            .map(|_| ())
            .map_err(|e| JobError::Retry(format!("sending the e-mail failed: {e}")))
    }
}

async fn send(url: &str, from: &str, email: &Email) -> Result<(), String> {
    let from: Mailbox = from
        .parse()
        .map_err(|e| format!("smtp_from is not an address: {e}"))?;
    let to: Mailbox = email
        .to
        .parse()
        .map_err(|e| format!("recipient {}: {e}", email.to))?;
    let msg = Message::builder()
        .from(from)
        .to(to)
        .subject(&email.subject)
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(email.body.clone())
        .map_err(|e| e.to_string())?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|e| format!("smtp_url is not usable: {e}"))?
        .timeout(Some(Duration::from_secs(20)))
        .build();
    transport.send(msg).await.map(|_| ()).map_err(|e| {
        // lettre's errors may include the URL; never echo credentials.
        let m = e.to_string();
        if m.contains('@') && m.contains("://") {
            "the SMTP server refused or could not be reached".to_owned()
        } else {
            m
        }
    })
}

/// Recorded e-mails of the tenant, newest first.
pub async fn list(
    app: &App,
    staff: Staff<'_>,
    f: &EmailFilter,
    page: PageRequest,
) -> AppResult<Page<Email>> {
    let mut r = app.db.read().await?;
    let (items, total) = emails::list(r.conn(), staff.0.tenant(), f, page).await?;
    Ok(Page::new(items, page, total))
}

/// A template as the tenant sees it: its own version or the built-in one.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    pub key: String,
    pub subject: String,
    pub body: String,
    /// Whether the tenant changed it (otherwise it is the built-in default).
    pub customized: bool,
}

pub async fn list_templates(app: &App, admin: Admin<'_>) -> AppResult<Vec<TemplateView>> {
    let mut r = app.db.read().await?;
    let overrides = emails::list_templates(r.conn(), admin.0.tenant()).await?;
    Ok(DEFAULT_TEMPLATES
        .iter()
        .map(|(k, s, b)| match overrides.iter().find(|o| o.key == *k) {
            Some(o) => TemplateView {
                key: o.key.clone(),
                subject: o.subject.clone(),
                body: o.body.clone(),
                customized: true,
            },
            None => TemplateView {
                key: (*k).to_owned(),
                subject: (*s).to_owned(),
                body: (*b).to_owned(),
                customized: false,
            },
        })
        .collect())
}

/// A tenant's new version of a template.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    pub subject: String,
    pub body: String,
}

pub async fn update_template(
    app: &App,
    admin: Admin<'_>,
    key: &str,
    input: &TemplateInput,
) -> AppResult<TemplateView> {
    if default_template(key).is_none() {
        return Err(AppError::not_found("e-mail template", key));
    }
    let mut c = Checker::new();
    let subject = c.take("subject", validate::text(&input.subject, 300));
    if input.body.trim().is_empty() || input.body.len() > 20_000 {
        c.push(panel1_core::FieldError::new(
            "body",
            "length",
            "must be 1 to 20,000 characters",
        ));
    }
    c.finish()?;
    let Some(subject) = subject else {
        return Err(AppError::internal(anyhow::anyhow!(
            "validated input lost a field"
        )));
    };
    let e = env();
    for (field, text) in [("subject", subject.as_str()), ("body", input.body.as_str())] {
        if let Err(err) = e.template_from_str(text) {
            return Err(ValidationError::field(
                field,
                "template",
                format!("the template does not parse: {err}"),
            )
            .into());
        }
    }
    let mut tx = app.db.begin().await?;
    emails::upsert_template(tx.conn(), admin.0.tenant(), key, &subject, &input.body).await?;
    audit::record(
        &mut tx,
        admin.0,
        Change {
            action: "email_template.update",
            object_type: "email_template",
            object_id: key,
            summary: format!("changed the `{key}` e-mail template"),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(TemplateView {
        key: key.to_owned(),
        subject,
        body: input.body.clone(),
        customized: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_template_renders() {
        let ctx = serde_json::json!({"domain": "example.com", "client_name": "Ann", "years": 1, "expires_at": "2027-01-01", "number": "2026-000001",
            "total": "10.00 USD", "due_at": "2026-12-01", "lines": [{"description": "x", "amount": "10.00 USD"}], "error": "boom", "days": 30, "auto_renew": true, "tenant": "Host"});
        for (k, s, b) in DEFAULT_TEMPLATES {
            let (subject, body) = render(s, b, &ctx).unwrap_or_else(|e| panic!("{k}: {e}"));
            assert!(!subject.is_empty() && !body.is_empty(), "{k}");
            assert!(!subject.contains("{{"), "{k}: {subject}");
        }
        let (s, _) = render("{{ domain }} & co", "", &ctx).unwrap();
        assert_eq!(s, "example.com & co", "plain text is not HTML-escaped");
    }
}
