//! The OpenAPI document: paths come from the registered routes, the rest
//! (info, security schemes, tags, shared schemas, the problems every route can
//! answer) from here.

mod allowed_methods;
mod closed_variants;
mod common_responses;
mod phone_format;
mod time_zone;

pub use allowed_methods::AllowedMethods;
pub use time_zone::TimeZone;

use actix_web::App;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, OpenApi as Document, RefOr, Schema};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt as _;

use crate::error::{FieldError, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "wacrm",
        description = "The WhatsApp module of a CRM: inbox, leads, contacts, bots, campaigns and provider webhooks."
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "service", description = "Health, readiness and metrics"),
        (name = "auth", description = "Login, token refresh, logout and the signed-in staff member"),
        (name = "staff", description = "Staff accounts and permissions (admin)"),
        (name = "api-keys", description = "API keys for integrators (admin)"),
        (name = "leads", description = "Leads, their notes, statuses and sources"),
        (name = "contacts", description = "Contacts"),
        (name = "consent", description = "Marketing consent per phone, its history, and the blocklist"),
        (name = "segments", description = "Saved filters over leads, contacts or WhatsApp contacts, evaluated when used"),
        (name = "audiences", description = "Who a send would reach: size, exclusions and a sample"),
        (name = "whatsapp-groups", description = "Static lists of WhatsApp contacts, members added and removed in bulk"),
        (name = "whatsapp-contacts", description = "WhatsApp contacts: the people campaigns send to, one per phone, with labels, template variables and consent; CSV import (column mapping, dry run, progress, per-row errors) and export"),
        (name = "tickets", description = "Support tickets, opened by hand or from a conversation"),
        (name = "quick-replies", description = "Canned answers with variables, rendered per conversation"),
        (name = "connections", description = "Provider connections (admin)"),
        (name = "numbers", description = "Business numbers"),
        (name = "webhooks", description = "Provider webhooks (public; verified by signature or URL token)"),
        (name = "webhook-endpoints", description = "Integrators' webhook endpoints (admin): Standard Webhooks deliveries, their attempts and replay"),
        (name = "inbox", description = "Conversations, messages, media and the event stream"),
        (name = "settings", description = "Auto-lead, inbound, inbox, business hours, AI and consent settings (admin)"),
        (name = "templates", description = "Message templates synced from the providers, or registered by hand"),
        (name = "activity-log", description = "Every call made to a provider, secrets redacted"),
        (name = "bots", description = "Bots: triggers and responses of seed 001, and a dry run"),
        (name = "admin", description = "Failed webhook events and dead jobs (admin)"),
        (name = "notifications", description = "Template notifications on CRM events: events in (POST /api/v1/events), mappings from an event type to a template (admin), and the log of what was sent or skipped"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi
            .components
            .get_or_insert_with(|| ComponentsBuilder::new().build());
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
    }
}

/// The base document the routes are added to.
pub fn base() -> Document {
    ApiDoc::openapi()
}

/// The complete document, as `/api-docs/openapi.json` serves it.
pub fn document() -> Document {
    let (_, document) = App::new()
        .into_utoipa_app()
        .openapi(base())
        .configure(crate::routes::configure)
        .split_for_parts();
    finish(document)
}

/// Completes the document the routes built: the shared problem responses, and
/// what utoipa cannot derive (closed enum variants, the phone format).
pub fn finish(mut document: Document) -> Document {
    common_responses::apply(&mut document);
    closed_variants::apply(&mut document);
    phone_format::apply(&mut document);
    time_zone::apply(&mut document);
    document
}

/// A schema written as JSON, for what utoipa cannot derive (one of several
/// field sets, a field tied to another's value). The tests below read each
/// back from the document, so a typo cannot ship as an empty schema.
pub fn hand_written(value: serde_json::Value) -> RefOr<Schema> {
    serde_json::from_value(value)
        .unwrap_or_else(|_| RefOr::T(Schema::Object(utoipa::openapi::Object::new())))
}

/// As [`hand_written`], for a schema that is one object.
pub fn hand_written_object(value: serde_json::Value) -> utoipa::openapi::Object {
    serde_json::from_value(value).unwrap_or_default()
}

/// The operations of a path that the API serves, to change each in place.
fn operations_mut(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each hand-written schema parsed: none fell back to an empty object.
    #[test]
    fn hand_written_schemas_are_in_the_document() {
        let document = document();
        let schemas = &document.components.as_ref().unwrap().schemas;
        for name in ["BotTestRequest", "StatusRequest", "CreateConnectionRequest"] {
            let Some(RefOr::T(Schema::OneOf(one_of))) = schemas.get(name) else {
                panic!("{name} is not a oneOf in the document");
            };
            assert!(one_of.items.len() >= 2, "{name}");
        }
        let json = serde_json::to_value(&document).unwrap();
        let fields = &json["components"]["schemas"]["CreateWhatsappContactRequest"]["properties"]["custom_fields"];
        assert_eq!(fields["maxProperties"], 50, "{fields}");
    }
}
