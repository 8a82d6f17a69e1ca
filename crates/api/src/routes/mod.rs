//! Every route, registered through utoipa-actix-web so the OpenAPI document
//! lists exactly what is served.

pub mod activity_log;
pub mod admin;
pub mod api_keys;
pub mod audiences;
pub mod auth;
pub mod blocklist;
pub mod bots;
pub mod campaign_previews;
pub mod campaign_runs;
pub mod campaigns;
pub mod connections;
pub mod consent;
pub mod contact_imports;
pub mod contacts;
pub mod conversations;
pub mod crm_events;
pub mod health;
pub mod inbox_actions;
pub mod lead_sources;
pub mod lead_statuses;
pub mod leads;
pub mod manual_templates;
pub mod messages;
pub mod notifications;
pub mod numbers;
pub mod provider_errors;
pub mod quick_replies;
pub mod segments;
pub mod send;
pub mod settings;
pub mod staff;
pub mod stream;
pub mod templates;
pub mod tickets;
pub mod typing;
pub mod webhook_endpoints;
pub mod webhooks;
pub mod whatsapp_contact_exports;
pub mod whatsapp_contacts;
pub mod whatsapp_groups;

use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(config: &mut ServiceConfig) {
    config
        .service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(webhooks::verify_meta_webhook)
        .service(webhooks::receive_webhook)
        .service(webhooks::receive_webhook_with_token)
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
                .service(contact_imports::import_contacts)
                .service(contact_imports::get_contact_import)
                .service(contact_imports::list_contact_import_errors)
                .service(contacts::list_contacts)
                .service(contacts::create_contact)
                .service(contacts::get_contact)
                .service(contacts::update_contact)
                .service(contacts::delete_contact)
                .service(whatsapp_contacts::list_whatsapp_contacts)
                .service(whatsapp_contacts::count_whatsapp_contacts)
                .service(whatsapp_contact_exports::export_whatsapp_contacts)
                .service(whatsapp_contacts::create_whatsapp_contact)
                .service(whatsapp_contacts::get_whatsapp_contact)
                .service(whatsapp_contacts::update_whatsapp_contact)
                .service(whatsapp_contacts::delete_whatsapp_contact)
                .service(whatsapp_groups::list_whatsapp_groups)
                .service(whatsapp_groups::create_whatsapp_group)
                .service(whatsapp_groups::get_whatsapp_group)
                .service(whatsapp_groups::update_whatsapp_group)
                .service(whatsapp_groups::delete_whatsapp_group)
                .service(whatsapp_groups::list_whatsapp_group_members)
                .service(whatsapp_groups::add_whatsapp_group_members)
                .service(whatsapp_groups::remove_whatsapp_group_members)
                .service(segments::list_segments)
                .service(segments::create_segment)
                .service(segments::get_segment)
                .service(segments::replace_segment)
                .service(segments::delete_segment)
                .service(audiences::preview_audience)
                .service(campaign_runs::get_campaign_report)
                .service(campaign_runs::list_campaign_recipients)
                .service(campaign_runs::export_campaign_recipients)
                .service(campaigns::list_campaigns)
                .service(campaigns::create_campaign)
                .service(campaigns::get_campaign)
                .service(campaigns::replace_campaign)
                .service(campaigns::delete_campaign)
                .service(campaigns::start_campaign)
                .service(campaigns::pause_campaign)
                .service(campaigns::resume_campaign)
                .service(campaigns::cancel_campaign)
                .service(campaign_previews::preview_campaign)
                .service(campaign_previews::test_campaign)
                .service(campaign_runs::list_campaign_runs)
                .service(tickets::list_tickets)
                .service(tickets::create_ticket)
                .service(tickets::get_ticket)
                .service(tickets::update_ticket)
                .service(tickets::delete_ticket)
                .service(tickets::create_conversation_ticket)
                .service(quick_replies::list_quick_replies)
                .service(quick_replies::create_quick_reply)
                .service(quick_replies::get_quick_reply)
                .service(quick_replies::update_quick_reply)
                .service(quick_replies::delete_quick_reply)
                .service(quick_replies::render_quick_reply)
                .service(connections::list_connections)
                .service(connections::create_connection)
                .service(connections::get_connection)
                .service(connections::update_connection)
                .service(connections::rotate_webhook_token)
                .service(connections::delete_connection)
                .service(webhook_endpoints::list_webhook_endpoints)
                .service(webhook_endpoints::create_webhook_endpoint)
                .service(webhook_endpoints::get_webhook_endpoint)
                .service(webhook_endpoints::update_webhook_endpoint)
                .service(webhook_endpoints::delete_webhook_endpoint)
                .service(webhook_endpoints::rotate_webhook_endpoint_secret)
                .service(webhook_endpoints::list_webhook_deliveries)
                .service(webhook_endpoints::get_webhook_delivery)
                .service(webhook_endpoints::replay_webhook_deliveries)
                .service(webhook_endpoints::retry_webhook_delivery)
                .service(numbers::list_numbers)
                .service(numbers::create_number)
                .service(numbers::get_number)
                .service(numbers::update_number)
                .service(numbers::delete_number)
                .service(settings::get_auto_lead)
                .service(settings::put_auto_lead)
                .service(settings::get_inbound)
                .service(settings::put_inbound)
                .service(settings::get_inbox)
                .service(settings::put_inbox)
                .service(settings::get_business_hours)
                .service(settings::put_business_hours)
                .service(settings::get_ai)
                .service(settings::put_ai)
                .service(consent::get_consent_settings)
                .service(consent::put_consent_settings)
                .service(consent::get_consent)
                .service(consent::set_consent)
                .service(blocklist::list_blocklist)
                .service(blocklist::block_phone)
                .service(blocklist::unblock_phone)
                .service(bots::list_bots)
                .service(bots::create_bot)
                .service(bots::test_bots)
                .service(bots::get_bot)
                .service(bots::update_bot)
                .service(bots::delete_bot)
                .service(conversations::list_conversations)
                .service(conversations::count_conversations)
                .service(conversations::get_conversation)
                .service(conversations::list_conversation_messages)
                .service(send::send_message)
                .service(send::start_message)
                .service(inbox_actions::assign_conversation)
                .service(inbox_actions::set_conversation_status)
                .service(inbox_actions::mark_conversation_read)
                .service(typing::show_typing)
                .service(templates::list_templates)
                .service(templates::sync_templates)
                .service(templates::get_template)
                .service(manual_templates::create_template)
                .service(manual_templates::update_template)
                .service(manual_templates::delete_template)
                .service(activity_log::list_activity)
                .service(activity_log::clear_activity)
                .service(messages::get_message)
                .service(messages::get_message_media)
                .service(stream::stream_events)
                .service(admin::list_webhook_events)
                .service(admin::retry_webhook_event)
                .service(admin::list_jobs)
                .service(admin::retry_job)
                .service(provider_errors::list_provider_errors)
                .service(crm_events::create_crm_event)
                .service(notifications::mappings::list_notification_mappings)
                .service(notifications::mappings::create_notification_mapping)
                .service(notifications::mappings::get_notification_mapping)
                .service(notifications::mappings::replace_notification_mapping)
                .service(notifications::mappings::delete_notification_mapping)
                .service(notifications::log::list_notifications),
        );
}
