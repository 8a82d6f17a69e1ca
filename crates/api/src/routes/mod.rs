//! Every route, registered through utoipa-actix-web so the OpenAPI document
//! lists exactly what is served.

pub mod api_keys;
pub mod auth;
pub mod contacts;
pub mod health;
pub mod lead_sources;
pub mod lead_statuses;
pub mod leads;
pub mod staff;

use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(
            scope::scope("/api/v1")
                .service(auth::login)
                .service(auth::refresh)
                .service(auth::logout)
                .service(auth::me)
                .service(staff::list_staff)
                .service(staff::create_staff)
                .service(staff::get_staff)
                .service(staff::update_staff)
                .service(staff::delete_staff)
                .service(api_keys::list_api_keys)
                .service(api_keys::create_api_key)
                .service(api_keys::revoke_api_key)
                .service(leads::list_leads)
                .service(leads::create_lead)
                .service(leads::get_lead)
                .service(leads::update_lead)
                .service(leads::delete_lead)
                .service(leads::list_lead_notes)
                .service(leads::create_lead_note)
                .service(lead_statuses::list_lead_statuses)
                .service(lead_statuses::create_lead_status)
                .service(lead_statuses::get_lead_status)
                .service(lead_statuses::update_lead_status)
                .service(lead_statuses::delete_lead_status)
                .service(lead_sources::list_lead_sources)
                .service(lead_sources::create_lead_source)
                .service(lead_sources::get_lead_source)
                .service(lead_sources::update_lead_source)
                .service(lead_sources::delete_lead_source)
                .service(contacts::list_contacts)
                .service(contacts::create_contact)
                .service(contacts::get_contact)
                .service(contacts::update_contact)
                .service(contacts::delete_contact),
        );
}
