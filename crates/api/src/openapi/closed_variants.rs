//! `additionalProperties: false` on the variants of the enums that refuse unknown
//! fields. serde's `deny_unknown_fields` on an enum applies to each variant's
//! fields, but utoipa declares it for structs only, so without this the document
//! promises that a segment or an audience takes any extra property while the
//! handler answers 400 `invalid_body` for it.

use utoipa::openapi::schema::AdditionalProperties;
use utoipa::openapi::{OpenApi as Document, RefOr, Schema};

/// The component schemas of enums declared `#[serde(deny_unknown_fields)]`.
/// A name missing from the document fails the test below, so a renamed enum
/// cannot silently reopen its variants.
pub const CLOSED_ENUMS: [&str; 5] = [
    "Audience",
    "MappedHeader",
    "MembersRequest",
    "Schedule",
    "SegmentRequest",
];

pub fn apply(document: &mut Document) {
    let Some(components) = document.components.as_mut() else {
        return;
    };
    for name in CLOSED_ENUMS {
        if let Some(RefOr::T(Schema::OneOf(one_of))) = components.schemas.get_mut(name) {
            for variant in &mut one_of.items {
                if let RefOr::T(Schema::Object(object)) = variant {
                    object.additional_properties =
                        Some(Box::new(AdditionalProperties::FreeForm(false)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_closed_enum_is_a_one_of_of_closed_objects() {
        let document = crate::openapi::document();
        let schemas = &document.components.as_ref().unwrap().schemas;
        for name in CLOSED_ENUMS {
            let Some(RefOr::T(Schema::OneOf(one_of))) = schemas.get(name) else {
                panic!("{name} is not a oneOf in the document");
            };
            for variant in &one_of.items {
                let RefOr::T(Schema::Object(object)) = variant else {
                    panic!("{name} has a variant that is not an inline object");
                };
                assert!(matches!(
                    object.additional_properties.as_deref(),
                    Some(AdditionalProperties::FreeForm(false))
                ));
            }
        }
    }
}
