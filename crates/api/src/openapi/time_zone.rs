//! `TimeZone`: the IANA time zone names the API accepts, as an enum, so that a
//! client (and a schema-driven test) knows `Europe/London` is a value and `UTC+3`
//! is not. The list is chrono-tz's, the one the handlers parse with.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

/// An IANA time zone name such as `Africa/Nairobi` (schema only).
pub struct TimeZone;

impl PartialSchema for TimeZone {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .description(Some("An IANA time zone name such as `Africa/Nairobi`."))
            .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|zone| zone.name())))
            .into()
    }
}

impl ToSchema for TimeZone {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("TimeZone")
    }
}

/// The schemas whose `time_zone` the domain declares as a plain string (it has
/// no `TimeZone` schema of its own) but parses as an IANA name: pointed at
/// [`TimeZone`] here, so the document refuses what the handler refuses.
const PLAIN_ZONES: [&str; 2] = ["Schedule", "QuietHours"];

pub fn apply(document: &mut utoipa::openapi::OpenApi) {
    let Some(components) = document.components.as_mut() else {
        return;
    };
    for name in PLAIN_ZONES {
        match components.schemas.get_mut(name) {
            Some(RefOr::T(Schema::OneOf(one_of))) => {
                one_of.items.iter_mut().for_each(point_at_time_zone);
            }
            Some(schema) => point_at_time_zone(schema),
            None => {}
        }
    }
}

fn point_at_time_zone(schema: &mut RefOr<Schema>) {
    let RefOr::T(Schema::Object(object)) = schema else {
        return;
    };
    let Some(RefOr::T(Schema::Object(zone))) = object.properties.get("time_zone") else {
        return;
    };
    let nullable =
        matches!(&zone.schema_type, SchemaType::Array(types) if types.contains(&Type::Null));
    let reference = RefOr::Ref(utoipa::openapi::Ref::from_schema_name("TimeZone"));
    let replacement = if nullable {
        RefOr::T(Schema::OneOf(
            utoipa::openapi::schema::OneOfBuilder::new()
                .item(reference)
                .item(ObjectBuilder::new().schema_type(SchemaType::new(Type::Null)))
                .build(),
        ))
    } else {
        reference
    };
    object
        .properties
        .insert("time_zone".to_owned(), replacement);
}
