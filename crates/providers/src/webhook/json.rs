//! Reading fields out of loosely typed webhook JSON: providers write the same value as a
//! string in one payload and a number in the next, and leave out what they have not got.

use serde_json::Value;

use super::ParseError;

/// A field as text: a non-blank string, or a number written out (ids such as Meta's
/// `message_template_id` or an error `code` arrive as numbers).
pub(crate) fn text(value: &Value, key: &str) -> Option<String> {
    as_text(value.get(key)?)
}

/// The first of `keys` that holds text: for providers that spell one field several ways.
pub(crate) fn first_text(value: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| text(value, key))
}

/// A field that must hold text; `what` names the object in the error.
pub(crate) fn required_text(value: &Value, key: &str, what: &str) -> Result<String, ParseError> {
    text(value, key).ok_or_else(|| ParseError::shape(format!("{what} has no `{key}`")))
}

pub(crate) fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.trim().is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A number, or a string holding one (coordinates arrive both ways).
pub(crate) fn number(value: &Value, key: &str) -> Option<f64> {
    match value.get(key)? {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn first_number(value: &Value, keys: &[&str]) -> Option<f64> {
    keys.iter().find_map(|key| number(value, key))
}

/// A list field: absent or null is an empty list, anything else but a list is an error.
pub(crate) fn list<'a>(value: &'a Value, key: &str, what: &str) -> Result<&'a [Value], ParseError> {
    match value.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(ParseError::shape(format!(
            "`{key}` in {what} is not a list"
        ))),
    }
}

/// A field that is a JSON object, if it is one.
pub(crate) fn object<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value.get(key).filter(|inner| inner.is_object())
}

/// The first of `keys` that holds an object.
pub(crate) fn first_object<'a>(value: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|key| object(value, key))
}

/// Drops every NUL character (U+0000) from the body's strings, keys included:
/// PostgreSQL's `text` cannot hold one, and a customer's message must be kept, not
/// refused, for a stray control character.
pub(crate) fn strip_nul(value: &mut Value) {
    match value {
        Value::String(text) if text.contains('\0') => text.retain(|c| c != '\0'),
        Value::Array(items) => items.iter_mut().for_each(strip_nul),
        Value::Object(fields) => {
            if fields.keys().any(|key| key.contains('\0')) {
                *fields = std::mem::take(fields)
                    .into_iter()
                    .map(|(key, value)| (key.replace('\0', ""), value))
                    .collect();
            }
            fields.values_mut().for_each(strip_nul);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_reads_strings_and_numbers_and_skips_blanks() {
        let value = json!({"id": "wamid.1", "code": 131051, "blank": " ", "flag": true});
        assert_eq!(text(&value, "id").as_deref(), Some("wamid.1"));
        assert_eq!(text(&value, "code").as_deref(), Some("131051"));
        assert_eq!(text(&value, "blank"), None);
        assert_eq!(text(&value, "flag"), None);
        assert_eq!(
            first_text(&value, &["missing", "blank", "id"]).as_deref(),
            Some("wamid.1")
        );
    }

    #[test]
    fn numbers_may_be_strings() {
        let value = json!({"lat": "-1.2921", "lng": 36.8219});
        assert_eq!(number(&value, "lat"), Some(-1.2921));
        assert_eq!(number(&value, "lng"), Some(36.8219));
    }

    #[test]
    fn a_list_that_is_not_a_list_is_a_shape_error() {
        let value = json!({"messages": {"id": "x"}, "statuses": null});
        assert!(list(&value, "statuses", "the value").unwrap().is_empty());
        assert!(list(&value, "absent", "the value").unwrap().is_empty());
        let error = list(&value, "messages", "the value").unwrap_err();
        assert_eq!(error.to_string(), "`messages` in the value is not a list");
    }
}
