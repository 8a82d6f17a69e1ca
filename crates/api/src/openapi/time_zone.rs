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
