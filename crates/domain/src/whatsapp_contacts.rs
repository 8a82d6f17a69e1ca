//! The fields of a WhatsApp contact that have rules: labels, custom fields
//! (template variables), language and time zone, opt-in status. Shared by the
//! API and the CSV import, so a contact is valid the same way however it came.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::phone::NormalizedPhone;

pub const MAX_LABELS: usize = 50;
pub const MAX_LABEL_CHARS: usize = 64;
pub const MAX_CUSTOM_FIELDS: usize = 50;
pub const MAX_CUSTOM_FIELD_KEY_CHARS: usize = 64;
pub const MAX_CUSTOM_FIELD_VALUE_CHARS: usize = 1000;
/// The whole object, as JSON text.
pub const MAX_CUSTOM_FIELDS_BYTES: usize = 16 * 1024;

/// Whether the customer agreed to hear from us, as the business recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OptInStatus {
    OptedIn,
    NotOptedIn,
    #[default]
    Unknown,
}

impl OptInStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OptedIn => "opted_in",
            Self::NotOptedIn => "not_opted_in",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::OptedIn, Self::NotOptedIn, Self::Unknown]
            .into_iter()
            .find(|status| status.as_str() == name)
    }
}

/// Labels trimmed, de-duplicated (first spelling kept) and bounded.
pub fn labels(values: &[String]) -> Result<Vec<String>, String> {
    if values.len() > MAX_LABELS {
        return Err(format!("at most {MAX_LABELS} labels"));
    }
    let mut kept: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let label = value.trim();
        if label.is_empty() {
            return Err("a label must not be empty".into());
        }
        // `;` separates labels in one CSV cell (export and import).
        if label.contains(';') {
            return Err("a label must not contain `;`".into());
        }
        if label.chars().count() > MAX_LABEL_CHARS {
            return Err(format!("a label is at most {MAX_LABEL_CHARS} characters"));
        }
        if !kept.iter().any(|k| k == label) {
            kept.push(label.to_owned());
        }
    }
    Ok(kept)
}

/// A key usable as a template variable name: `[a-z0-9_]{1,64}`.
pub fn is_custom_field_key(key: &str) -> bool {
    (1..=MAX_CUSTOM_FIELD_KEY_CHARS).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Custom fields: string values under template-variable keys, bounded.
pub fn custom_fields(fields: &BTreeMap<String, String>) -> Result<(), String> {
    if fields.len() > MAX_CUSTOM_FIELDS {
        return Err(format!("at most {MAX_CUSTOM_FIELDS} custom fields"));
    }
    if let Some(key) = fields.keys().find(|key| !is_custom_field_key(key)) {
        return Err(format!(
            "key `{key}` must be 1 to {MAX_CUSTOM_FIELD_KEY_CHARS} of a-z, 0-9 and _"
        ));
    }
    if let Some(key) = fields
        .iter()
        .find(|(_, value)| value.chars().count() > MAX_CUSTOM_FIELD_VALUE_CHARS)
        .map(|(key, _)| key)
    {
        return Err(format!(
            "the value of `{key}` is longer than {MAX_CUSTOM_FIELD_VALUE_CHARS} characters"
        ));
    }
    let size: usize = fields.iter().map(|(k, v)| k.len() + v.len() + 6).sum();
    if size > MAX_CUSTOM_FIELDS_BYTES {
        return Err(format!("at most {MAX_CUSTOM_FIELDS_BYTES} bytes in all"));
    }
    Ok(())
}

/// A WhatsApp template language code: `en`, `pt_BR`, `zh_HK`, `es_419`
/// (a language, optionally `_` or `-` and a region or variant). `-` is
/// written as `_`, the form Meta's templates use.
pub fn language(value: &str) -> Result<String, String> {
    let value = value.trim().replace('-', "_");
    let (lang, region) = match value.split_once('_') {
        Some((lang, region)) => (lang, Some(region)),
        None => (value.as_str(), None),
    };
    let lang_ok = (2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase());
    let region_ok = region.is_none_or(|region| {
        (2..=8).contains(&region.len()) && region.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    if lang_ok && region_ok {
        Ok(value)
    } else {
        Err("must be a language code such as `en`, `pt_BR` or `es_419`".into())
    }
}

/// The contact's zone: the one given (an IANA name), else the phone's country's.
/// `None` (with no zone given) when the number belongs to no single country;
/// the caller then falls back to UTC.
pub fn time_zone(given: Option<&str>, phone: &NormalizedPhone) -> Result<Option<Tz>, String> {
    match given {
        Some(name) => name
            .trim()
            .parse::<Tz>()
            .map(Some)
            .map_err(|_| format!("`{name}` is not an IANA time zone such as `Africa/Nairobi`")),
        None => Ok(crate::time_zone::of_phone(phone)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_trimmed_deduplicated_and_bounded() {
        let given = vec![" vip ".to_owned(), "vip".to_owned(), "Nairobi".to_owned()];
        assert_eq!(labels(&given).unwrap(), ["vip", "Nairobi"]);
        assert!(labels(&["  ".to_owned()]).is_err());
        assert!(labels(&["x".repeat(65)]).is_err());
        assert!(labels(&["a;b".to_owned()]).is_err());
        assert!(labels(&vec!["a".to_owned(); 51]).is_err());
    }

    #[test]
    fn custom_field_keys_are_template_variable_names() {
        let mut fields = BTreeMap::new();
        fields.insert("first_name".to_owned(), "Ana".to_owned());
        fields.insert("order_2".to_owned(), String::new());
        assert!(custom_fields(&fields).is_ok());
        for bad in ["First", "first-name", "", "ñ", &"k".repeat(65)] {
            let mut fields = BTreeMap::new();
            fields.insert(bad.to_owned(), "v".to_owned());
            assert!(custom_fields(&fields).is_err(), "{bad}");
        }
        let mut long = BTreeMap::new();
        long.insert("k".to_owned(), "v".repeat(1001));
        assert!(custom_fields(&long).is_err());
    }

    #[test]
    fn languages_are_template_codes() {
        assert_eq!(language("en").unwrap(), "en");
        assert_eq!(language("pt_BR").unwrap(), "pt_BR");
        assert_eq!(language("pt-BR").unwrap(), "pt_BR");
        assert_eq!(language("es_419").unwrap(), "es_419");
        for bad in ["", "e", "English", "EN", "en_", "en_B R"] {
            assert!(language(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_zone_comes_from_the_phone_unless_given() {
        let kenyan = NormalizedPhone::parse("+254712345678", None).unwrap();
        assert_eq!(
            time_zone(None, &kenyan).unwrap(),
            Some(chrono_tz::Africa::Nairobi)
        );
        assert_eq!(
            time_zone(Some("America/Sao_Paulo"), &kenyan).unwrap(),
            Some(chrono_tz::America::Sao_Paulo)
        );
        assert!(time_zone(Some("Mars/Olympus"), &kenyan).is_err());
    }
}
