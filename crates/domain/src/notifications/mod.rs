//! Template notifications on CRM events (seed 001's `whatsapp_api` module):
//! what a mapping decides besides its template — who receives it
//! ([`send_to`]), whether this event qualifies ([`condition`]), when it goes
//! ([`schedule`]) — and how each one ends ([`outcome`]). The parameters are a
//! [`crate::template_mapping::MappedParameters`], as for campaigns.

pub mod condition;
pub mod outcome;
pub mod schedule;
pub mod send_to;

use serde_json::Value;

use crate::placeholders::ValueSource;

/// The longest field path a mapping may name.
pub const MAX_PATH_CHARS: usize = 200;

/// The value at a dotted `path` of `record` (`invoice.total`), if any.
pub fn field<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(record, |value, key| value.get(key))
        .filter(|value| !value.is_null())
}

/// Checks that `path` is a field path starting at one of `roots`; the message
/// says what is wrong. (The same syntax as a parameter's `{{path}}`.)
pub fn check_path(path: &str, roots: &[&str]) -> Result<(), String> {
    if path.chars().count() > MAX_PATH_CHARS {
        return Err(format!("must be at most {MAX_PATH_CHARS} characters"));
    }
    if path.contains('{') || path.contains('}') || path.trim().is_empty() {
        return Err("must be a field path such as `invoice.due_date`".into());
    }
    ValueSource::literal(format!("{{{{{path}}}}}"))
        .validate(roots)
        .map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_reach_into_the_record_and_stay_under_its_roots() {
        let record = json!({"invoice": {"total": 10, "due": null}});
        assert_eq!(field(&record, "invoice.total"), Some(&json!(10)));
        assert_eq!(field(&record, "invoice.due"), None);
        assert_eq!(field(&record, "lead.name"), None);
        assert!(check_path("invoice.total", &["invoice"]).is_ok());
        assert!(check_path("lead.name", &["invoice"]).is_err());
        assert!(check_path("{{invoice}}", &["invoice"]).is_err());
        assert!(check_path("invoice..total", &["invoice"]).is_err());
    }
}
