//! Text with `{{field.path}}` references, filled from a JSON record: how a
//! campaign gives each recipient its own template parameters (`{{name}}`,
//! `{{lead.status}}`, `{{custom_fields.plan}}`) and how a notification fills
//! them from its event (`{{invoice.number}}`).
//!
//! Hand-rolled rather than a template engine (Handlebars, Tera): the language
//! is one construct, a dotted path; no loops, helpers or escaping, which a
//! WhatsApp parameter must not carry anyway, and a missing value must be an
//! error we can report per recipient, not an empty string.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The longest text a value source may hold.
pub const MAX_SOURCE_CHARS: usize = 1_024;

/// One parameter: text with `{{path}}` references, and what to use instead
/// when a referenced field is missing or empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"value": "{{name}}", "fallback": "there"})))]
#[serde(deny_unknown_fields)]
pub struct ValueSource {
    /// Literal text and `{{field.path}}` references, e.g. `{{name}}` or
    /// `Order {{custom_fields.order_id}}`.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 1024, pattern = r"\S")
    )]
    pub value: String,
    /// Used as the whole parameter when a referenced field is missing or
    /// empty; without it, that recipient or event is skipped with the field
    /// named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 1024))]
    pub fallback: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Field(Vec<&'a str>),
}

/// Why a value source cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("must not be empty")]
    Empty,
    #[error("is longer than {MAX_SOURCE_CHARS} characters")]
    TooLong,
    #[error("has a `{{{{` without its `}}}}`")]
    Unclosed,
    #[error("`{{{{{0}}}}}` is not a field path (letters, digits and `_`, joined by dots)")]
    BadPath(String),
    #[error("names `{0}`, which is not a field here")]
    UnknownField(String),
}

fn parse(text: &str) -> Result<Vec<Piece<'_>>, SourceError> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(Piece::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or(SourceError::Unclosed)?;
        let path = after[..end].trim();
        let parts: Vec<&str> = path.split('.').collect();
        let valid = parts.iter().all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
        if !valid {
            return Err(SourceError::BadPath(path.to_owned()));
        }
        pieces.push(Piece::Field(parts));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

impl ValueSource {
    /// A source that is only `text` (no fallback).
    pub fn literal(text: impl Into<String>) -> Self {
        Self {
            value: text.into(),
            fallback: None,
        }
    }

    /// Checks the syntax and that every path starts with one of `roots`
    /// (e.g. `name`, `lead`, `custom_fields`); an empty `roots` allows any.
    pub fn validate(&self, roots: &[&str]) -> Result<(), SourceError> {
        if self.value.trim().is_empty() {
            return Err(SourceError::Empty);
        }
        let too_long = |text: &str| text.chars().count() > MAX_SOURCE_CHARS;
        if too_long(&self.value) || self.fallback.as_deref().is_some_and(too_long) {
            return Err(SourceError::TooLong);
        }
        for piece in parse(&self.value)? {
            if let Piece::Field(path) = piece
                && !roots.is_empty()
                && !roots.contains(&path[0])
            {
                return Err(SourceError::UnknownField(path.join(".")));
            }
        }
        Ok(())
    }

    /// The dotted paths this source reads.
    pub fn fields(&self) -> Vec<String> {
        parse(&self.value)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|piece| match piece {
                Piece::Field(path) => Some(path.join(".")),
                Piece::Text(_) => None,
            })
            .collect()
    }

    /// The text with every reference filled from `record`; the fallback when
    /// one is missing or empty; else `Err` with the first missing path.
    pub fn render(&self, record: &Value) -> Result<String, String> {
        let pieces = parse(&self.value).map_err(|_| self.value.clone())?;
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Field(path) => match lookup(record, &path) {
                    Some(value) => out.push_str(&value),
                    None => {
                        return match &self.fallback {
                            Some(fallback) if !fallback.trim().is_empty() => Ok(fallback.clone()),
                            _ => Err(path.join(".")),
                        };
                    }
                },
            }
        }
        if out.trim().is_empty() {
            return match &self.fallback {
                Some(fallback) if !fallback.trim().is_empty() => Ok(fallback.clone()),
                _ => Err(self.fields().first().cloned().unwrap_or_default()),
            };
        }
        Ok(out)
    }
}

/// The text of the field at `path`, if it holds a non-empty scalar.
fn lookup(record: &Value, path: &[&str]) -> Option<String> {
    let mut value = record;
    for key in path {
        value = value.get(key)?;
    }
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Null | Value::Array(_) | Value::Object(_) => return None,
    };
    (!text.trim().is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn source(value: &str, fallback: Option<&str>) -> ValueSource {
        ValueSource {
            value: value.into(),
            fallback: fallback.map(Into::into),
        }
    }

    #[test]
    fn references_are_filled_from_the_record() {
        let record = json!({"name": "Asha", "lead": {"status": "Won"}, "custom_fields": {"plan": "gold"}, "invoice": {"total": 12.5}});
        assert_eq!(
            source("{{name}}", None).render(&record).as_deref(),
            Ok("Asha")
        );
        assert_eq!(
            source("{{ lead.status }} / {{custom_fields.plan}}", None)
                .render(&record)
                .as_deref(),
            Ok("Won / gold")
        );
        assert_eq!(
            source("Total {{invoice.total}}", None)
                .render(&record)
                .as_deref(),
            Ok("Total 12.5")
        );
        assert_eq!(
            source("plain text", None).render(&record).as_deref(),
            Ok("plain text")
        );
    }

    #[test]
    fn a_missing_or_empty_field_takes_the_fallback_or_names_the_field() {
        let record = json!({"name": "  ", "lead": {}});
        assert_eq!(
            source("Hi {{name}}", Some("there"))
                .render(&record)
                .as_deref(),
            Ok("there")
        );
        assert_eq!(
            source("{{lead.status}}", None).render(&record),
            Err("lead.status".to_owned())
        );
        assert_eq!(
            source("{{name}}", Some(" ")).render(&record),
            Err("name".to_owned())
        );
    }

    #[test]
    fn bad_sources_are_refused_with_the_reason() {
        assert_eq!(source(" ", None).validate(&[]), Err(SourceError::Empty));
        assert_eq!(
            source("{{name", None).validate(&[]),
            Err(SourceError::Unclosed)
        );
        assert_eq!(
            source("{{na me}}", None).validate(&[]),
            Err(SourceError::BadPath("na me".into()))
        );
        assert_eq!(
            source("{{a..b}}", None).validate(&[]),
            Err(SourceError::BadPath("a..b".into()))
        );
        assert_eq!(
            source("{{invoice.total}}", None).validate(&["name", "lead"]),
            Err(SourceError::UnknownField("invoice.total".into()))
        );
        assert_eq!(
            source(&"x".repeat(MAX_SOURCE_CHARS + 1), None).validate(&[]),
            Err(SourceError::TooLong)
        );
        assert!(source("{{lead.name}}", None).validate(&["lead"]).is_ok());
    }
}
