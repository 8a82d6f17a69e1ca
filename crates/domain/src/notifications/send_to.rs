//! Who a notification goes to: the event's contact, lead or staff member (as
//! the worker loaded them), or a phone number found in the event itself (a
//! web form's `form.phone`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{check_path, field};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SendTo {
    Contact,
    Lead,
    Staff,
    /// The phone at a field path of the event, e.g. `form.phone`.
    PhoneField {
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
        path: String,
    },
}

impl SendTo {
    /// Checks a phone field's path against the event's `roots`.
    pub fn validate(&self, roots: &[&str]) -> Result<(), String> {
        match self {
            Self::PhoneField { path } => check_path(path, roots),
            _ => Ok(()),
        }
    }

    /// The recipient's phone as the record has it (our records' normalised
    /// digits first), or `None`: the notification is skipped as `no_phone`.
    pub fn phone(&self, record: &Value) -> Option<String> {
        let text = |value: Option<&Value>| {
            value
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|text| !text.is_empty())
                .map(str::to_owned)
        };
        let of = |root: &str| {
            text(field(record, &format!("{root}.phone_normalized")))
                .or_else(|| text(field(record, &format!("{root}.phone"))))
        };
        match self {
            Self::Contact => of("contact"),
            Self::Lead => of("lead"),
            Self::Staff => of("staff"),
            Self::PhoneField { path } => match field(record, path)? {
                Value::Number(number) => Some(number.to_string()),
                other => text(Some(other)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_recipient_reads_its_own_phone() {
        let record = json!({"contact": {"phone": "+254 712 345678", "phone_normalized": "254712345678"},
            "lead": {"phone": "+1 555 0100"}, "form": {"phone": 254700000001u64}});
        assert_eq!(
            SendTo::Contact.phone(&record).as_deref(),
            Some("254712345678")
        );
        assert_eq!(SendTo::Lead.phone(&record).as_deref(), Some("+1 555 0100"));
        assert_eq!(SendTo::Staff.phone(&record), None);
        let form = SendTo::PhoneField {
            path: "form.phone".into(),
        };
        assert_eq!(form.phone(&record).as_deref(), Some("254700000001"));
        let parsed: SendTo =
            serde_json::from_value(json!({"type": "phone_field", "path": "form.phone"})).unwrap();
        assert_eq!(parsed, form);
        assert!(form.validate(&["form"]).is_ok());
        assert!(form.validate(&["invoice"]).is_err());
    }
}
