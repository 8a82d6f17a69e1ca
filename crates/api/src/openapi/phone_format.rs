//! `format: phone` on every phone the API reads: request fields named `phone`
//! or `to_phone` and parameters named `phone`. Each is parsed by
//! `NormalizedPhone::parse` (libphonenumber's rules: spaces, dashes, brackets
//! and `00` allowed, unassigned country codes refused), which no pattern can
//! mirror; the format names the rule for clients, and lets a schema-driven test
//! generate phones from a strategy of its own (`.ci/schemathesis_hooks.py`)
//! instead of arbitrary strings.

use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::schema::{SchemaFormat, SchemaType, Type};
use utoipa::openapi::{OpenApi as Document, RefOr, Schema};

pub const FORMAT: &str = "phone";
const DESCRIPTION: &str = "A phone number in any common spelling (`+254 712 345 678`, \
`00254712345678`, `(11) 98765-4321` with a default country), valid by libphonenumber's rules.";
const FIELDS: [&str; 2] = ["phone", "to_phone"];

pub fn apply(document: &mut Document) {
    if let Some(components) = document.components.as_mut() {
        for (name, schema) in components.schemas.iter_mut() {
            // Requests only: answers carry the stored phone as written.
            if name.ends_with("Request") {
                mark_fields(schema);
            }
        }
    }
    for item in document.paths.paths.values_mut() {
        for operation in super::operations_mut(item) {
            for parameter in operation.parameters.iter_mut().flatten() {
                let RefOr::T(parameter) = parameter else {
                    continue;
                };
                let read_as_phone = parameter.name == "phone"
                    && matches!(
                        parameter.parameter_in,
                        ParameterIn::Path | ParameterIn::Query
                    );
                if let (true, Some(schema)) = (read_as_phone, parameter.schema.as_mut()) {
                    mark(schema);
                }
            }
        }
    }
}

fn mark_fields(schema: &mut RefOr<Schema>) {
    match schema {
        RefOr::T(Schema::Object(object)) => {
            for (name, property) in object.properties.iter_mut() {
                if FIELDS.contains(&name.as_str()) {
                    mark(property);
                }
            }
        }
        RefOr::T(Schema::AllOf(all_of)) => all_of.items.iter_mut().for_each(mark_fields),
        RefOr::T(Schema::OneOf(one_of)) => one_of.items.iter_mut().for_each(mark_fields),
        _ => {}
    }
}

fn mark(schema: &mut RefOr<Schema>) {
    if let RefOr::T(Schema::Object(object)) = schema {
        // A variant where the field must be absent (`type: null`) reads no phone.
        if matches!(object.schema_type, SchemaType::Type(Type::Null)) {
            return;
        }
        object.format = Some(SchemaFormat::Custom(FORMAT.to_owned()));
        object
            .description
            .get_or_insert_with(|| DESCRIPTION.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    #[test]
    fn phones_read_by_the_api_carry_the_phone_format() {
        let document = serde_json::to_value(crate::openapi::document()).unwrap();
        let schemas = &document["components"]["schemas"];
        for (schema, field) in [
            ("CreateContactRequest", "phone"),
            ("UpdateStaffRequest", "phone"),
            ("BlockPhoneRequest", "phone"),
        ] {
            assert_eq!(
                schemas[schema]["properties"][field]["format"], "phone",
                "{schema}.{field}"
            );
        }
        let to_phone = schemas["StartMessageRequest"]["allOf"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|part| part["properties"].get("to_phone"))
            .unwrap();
        assert_eq!(to_phone["format"], "phone");
        let consent = &document["paths"]["/api/v1/consent/{phone}"]["put"]["parameters"];
        let path_phone = consent
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "phone")
            .unwrap();
        assert_eq!(path_phone["schema"]["format"], "phone");
        // Answers are not requests: the stored phone is not re-validated.
        assert_eq!(
            schemas["ContactResponse"]["properties"]["phone"]["format"],
            Value::Null
        );
    }
}
