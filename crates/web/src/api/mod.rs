//! `/api/v1`: one module per resource; each handler is annotated for the OpenAPI document.

pub mod audit;
pub mod billing;
pub mod certificates;
pub mod clients;
pub mod contacts;
pub mod dns;
pub mod domains;
pub mod jobs;
pub mod me;
pub mod registrars;
pub mod tenants;
pub mod users;
pub mod webhooks;

use panel1_app::App;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// One page of a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageOf<T> {
    pub items: Vec<T>,
    /// The page returned, from 1.
    pub page: u32,
    pub limit: u32,
    /// How many items match in all.
    pub total: u64,
}

impl<T> From<panel1_core::Page<T>> for PageOf<T> {
    fn from(p: panel1_core::Page<T>) -> Self {
        Self {
            items: p.items,
            page: p.page,
            limit: p.limit,
            total: p.total,
        }
    }
}

/// All API routes, with their OpenAPI paths.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(me::get_me))
        .routes(routes!(clients::list_clients, clients::create_client))
        .routes(routes!(clients::get_client, clients::update_client))
        .routes(routes!(users::list_users, users::create_user))
        .routes(routes!(users::get_user, users::delete_user))
        .routes(routes!(users::list_tokens, users::create_token))
        .routes(routes!(users::revoke_token))
        .routes(routes!(tenants::list_tenants, tenants::create_tenant))
        .routes(routes!(audit::list_audit_log))
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(jobs::get_job))
        .routes(routes!(jobs::retry_job))
        .routes(routes!(jobs::list_schedules))
        .routes(routes!(jobs::update_schedule))
        .routes(routes!(webhooks::list_webhooks, webhooks::create_webhook))
        .routes(routes!(webhooks::delete_webhook))
        .routes(routes!(webhooks::list_webhook_deliveries))
        .routes(routes!(domains::check_domains))
        .routes(routes!(domains::list_domains, domains::register_domain))
        .routes(routes!(domains::get_domain))
        .routes(routes!(domains::renew_domain))
        .routes(routes!(domains::transfer_domain))
        .routes(routes!(domains::get_domain_transfer))
        .routes(routes!(domains::update_nameservers))
        .routes(routes!(domains::update_domain_contacts))
        .routes(routes!(domains::set_domain_lock))
        .routes(routes!(domains::set_domain_privacy))
        .routes(routes!(domains::get_domain_auth_code))
        .routes(routes!(domains::suspend_domain))
        .routes(routes!(domains::unsuspend_domain))
        .routes(routes!(domains::list_domain_operations))
        .routes(routes!(domains::restore_domain))
        .routes(routes!(domains::set_domain_auto_renew))
        .routes(routes!(domains::sync_domain))
        .routes(routes!(domains::list_domain_drift))
        .routes(routes!(domains::list_drift))
        .routes(routes!(
            domains::get_domain_settings,
            domains::update_domain_settings
        ))
        .routes(routes!(
            domains::set_tld_renewal_setting,
            domains::delete_tld_renewal_setting
        ))
        .routes(routes!(domains::run_renewal_sweep))
        .routes(routes!(
            domains::get_registrar_sync,
            domains::update_registrar_sync
        ))
        .routes(routes!(domains::import_registrar_domains))
        .routes(routes!(contacts::list_contacts, contacts::create_contact))
        .routes(routes!(
            contacts::get_contact,
            contacts::update_contact,
            contacts::delete_contact
        ))
        .routes(routes!(
            registrars::list_registrar_accounts,
            registrars::create_registrar_account
        ))
        .routes(routes!(registrars::delete_registrar_account))
        .routes(routes!(registrars::list_tld_registrars))
        .routes(routes!(
            registrars::set_tld_registrar,
            registrars::delete_tld_registrar
        ))
        .routes(routes!(billing::list_tld_prices, billing::upsert_tld_price))
        .routes(routes!(billing::import_tld_prices))
        .routes(routes!(billing::list_invoices))
        .routes(routes!(billing::get_invoice))
        .routes(routes!(billing::pay_invoice))
        .routes(routes!(billing::void_invoice))
        .routes(routes!(
            billing::get_client_credit,
            billing::add_client_credit
        ))
        .routes(routes!(billing::list_emails))
        .routes(routes!(billing::list_email_templates))
        .routes(routes!(billing::update_email_template))
        .routes(routes!(
            certificates::list_certificates,
            certificates::issue_certificate
        ))
        .routes(routes!(certificates::get_certificate))
        .routes(routes!(certificates::renew_certificate))
        .routes(routes!(certificates::revoke_certificate))
        .routes(routes!(certificates::install_certificate))
        .routes(routes!(certificates::list_certificate_health_checks))
        .routes(routes!(
            certificates::list_validation_records,
            certificates::create_validation_record
        ))
        .routes(routes!(certificates::validate_domain))
        .routes(routes!(certificates::download_certificate))
        .routes(routes!(certificates::list_certificate_operations))
        .routes(routes!(
            certificates::list_ca_accounts,
            certificates::create_ca_account
        ))
        .routes(routes!(certificates::delete_ca_account))
        .routes(routes!(
            certificates::list_certificate_products,
            certificates::create_certificate_product
        ))
        .routes(routes!(certificates::delete_certificate_product))
        .routes(routes!(certificates::list_certificate_subscriptions))
        .routes(routes!(dns::list_zones, dns::create_zone))
        .routes(routes!(dns::get_zone, dns::delete_zone))
        .routes(routes!(
            dns::list_records,
            dns::create_record,
            dns::change_records
        ))
        .routes(routes!(dns::update_record, dns::delete_record))
        .routes(routes!(dns::import_zone))
        .routes(routes!(dns::export_zone))
        .routes(routes!(dns::list_provider_calls))
        .routes(routes!(dns::list_providers, dns::create_provider))
        .routes(routes!(dns::delete_provider))
        .routes(routes!(dns::list_secondaries, dns::create_secondary))
        .routes(routes!(dns::delete_secondary))
        .routes(routes!(dns::get_defaults, dns::update_defaults))
}
