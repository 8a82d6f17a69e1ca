//! Field checks for request bodies, collected so one answer lists every problem.

use wacrm_domain::{Country, NormalizedPhone, Permission, PermissionSet};

use crate::error::{ApiError, ApiResult, FieldError};

#[derive(Default)]
pub struct Checks(Vec<FieldError>);

impl Checks {
    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    /// Trimmed, non-empty, at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> String {
        let value = value.trim();
        if value.is_empty() {
            self.fail(field, "must not be empty");
        } else if value.chars().count() > max {
            self.fail(field, format!("must be at most {max} characters"));
        }
        value.to_owned()
    }

    /// A plausible address (one `@`, something on both sides, a dot in the domain), lowercased.
    pub fn email(&mut self, field: &str, value: &str) -> String {
        let value = value.trim().to_lowercase();
        let plausible = match value.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.contains('@')
                    && !value.contains(' ')
            }
            None => false,
        };
        if !plausible || value.len() > 254 {
            self.fail(field, "must be an email address");
        }
        value
    }

    pub fn password(&mut self, field: &str, value: &str) {
        if value.chars().count() < 8 {
            self.fail(field, "must be at least 8 characters");
        }
        if value.len() > 1024 {
            self.fail(field, "must be at most 1024 bytes");
        }
    }

    /// The phone as given and its normalised digits; both `None` without a phone.
    pub fn phone(
        &mut self,
        field: &str,
        value: Option<&str>,
        country: Option<Country>,
    ) -> (Option<String>, Option<String>) {
        let Some(value) = value else {
            return (None, None);
        };
        match NormalizedPhone::parse(value, country) {
            Ok(normalized) => (
                Some(value.trim().to_owned()),
                Some(normalized.into_string()),
            ),
            Err(error) => {
                self.fail(field, error.to_string());
                (Some(value.to_owned()), None)
            }
        }
    }

    pub fn permissions(&mut self, field: &str, names: &[String]) -> Vec<String> {
        match PermissionSet::parse(names) {
            Ok(set) => set.names(),
            Err(error) => {
                let known: Vec<_> = Permission::ALL.iter().map(|p| p.as_str()).collect();
                self.fail(field, format!("{error}; known: {}", known.join(", ")));
                Vec::new()
            }
        }
    }

    /// An audience filter's verdict, its problems under `prefix` (e.g. `filter.`).
    pub fn filter(
        &mut self,
        prefix: &str,
        verdict: Result<(), Vec<wacrm_domain::audiences::FilterProblem>>,
    ) {
        if let Err(problems) = verdict {
            self.0.extend(filter_errors(prefix, problems));
        }
    }

    pub fn finish(self) -> ApiResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.0))
        }
    }
}

/// A `?phone=` filter in any spelling, as normalised digits (400 when it is not a phone).
pub fn phone_filter(value: Option<&str>, country: Option<Country>) -> ApiResult<Option<String>> {
    value
        .map(|phone| {
            NormalizedPhone::parse(phone, country)
                .map(NormalizedPhone::into_string)
                .map_err(|error| ApiError::bad_request("invalid_query", error.to_string()))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut checks = Checks::default();
        checks.text("name", "  ", 10);
        checks.email("email", "nobody");
        checks.phone("phone", Some("call me"), None);
        let error = checks.finish().unwrap_err();
        assert_eq!(error.code(), "validation_failed");
    }

    #[test]
    fn good_values_pass_normalised() {
        let mut checks = Checks::default();
        assert_eq!(
            checks.email("email", " Ana@Example.COM "),
            "ana@example.com"
        );
        assert_eq!(
            checks
                .phone("phone", Some("+254 712 345678"), None)
                .1
                .as_deref(),
            Some("254712345678")
        );
        assert!(checks.finish().is_ok());
    }
}

/// Reads an optional whole number written either way JSON allows: `20` or
/// `20.0`. JSON Schema's `integer` admits both (and clients that hold every
/// number as a double send the second); serde's integer types refuse `20.0`.
/// A fraction or an out-of-range value is still an error.
pub fn whole_number<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    use serde::Deserialize as _;
    use serde::de::Error as _;
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let whole = number.as_i64().or_else(|| {
        number
            .as_f64()
            .filter(|value| value.fract() == 0.0 && value.abs() < 9.0e15)
            // Exact: a whole double below 2^53 converts without loss.
            .map(|value| value as i64)
    });
    whole
        .and_then(|value| T::try_from(value).ok())
        .map(Some)
        .ok_or_else(|| D::Error::custom(format!("expected a whole number in range, got {number}")))
}

/// [`whole_number`] for a field where `null` means something (clear it):
/// absent is `None`, `null` is `Some(None)`, a number is `Some(Some(n))`.
/// Use with `#[serde(default)]`.
pub fn whole_number_or_null<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    whole_number(deserializer).map(Some)
}

#[cfg(test)]
mod whole_number_tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "super::whole_number")]
        n: Option<i32>,
    }

    fn read(json: &str) -> Result<Option<i32>, serde_json::Error> {
        serde_json::from_str::<Body>(json).map(|body| body.n)
    }

    #[test]
    fn whole_numbers_are_read_however_they_are_written() {
        assert_eq!(read(r#"{"n": 20}"#).unwrap(), Some(20));
        assert_eq!(read(r#"{"n": 20.0}"#).unwrap(), Some(20));
        assert_eq!(read(r#"{"n": -3.0}"#).unwrap(), Some(-3));
        assert_eq!(read(r#"{"n": null}"#).unwrap(), None);
        assert_eq!(read(r#"{}"#).unwrap(), None);
        assert!(read(r#"{"n": 20.5}"#).is_err());
        assert!(read(r#"{"n": 3000000000}"#).is_err());
        assert!(read(r#"{"n": "20"}"#).is_err());
    }
}

/// An audience filter's problems as field errors, under `prefix` (e.g. `filter.`).
pub fn filter_errors(
    prefix: &str,
    problems: Vec<wacrm_domain::audiences::FilterProblem>,
) -> Vec<FieldError> {
    problems
        .into_iter()
        .map(|problem| FieldError {
            field: format!("{prefix}{}", problem.field),
            message: problem.message,
        })
        .collect()
}

/// A list of permission names, each one of the catalogue's (`Permission::ALL`): the
/// schema lists them, so it cannot drift from what [`Checks::permissions`] accepts.
pub fn permission_names(min_items: usize) -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    let names = ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .enum_values(Some(Permission::ALL.iter().map(|p| p.as_str())));
    ArrayBuilder::new()
        .items(names)
        .min_items(Some(min_items))
        .build()
}

/// [`permission_names`] for a key: at least one.
pub fn some_permission_names() -> utoipa::openapi::schema::Array {
    permission_names(1)
}

/// [`permission_names`] for staff: any number, none included.
pub fn any_permission_names() -> utoipa::openapi::schema::Array {
    permission_names(0)
}

/// [`permission_names`] for a change: any number, or `null` (or absent) to keep them.
pub fn optional_permission_names() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{SchemaType, Type};
    let mut names = permission_names(0);
    names.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
    names
}
