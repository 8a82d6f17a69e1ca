//! Meta's webhook envelope: `entry[].changes[]`, each with a `field` and a `value`.
//!
//! One body may carry many entries, each many changes, each many messages and statuses;
//! every one becomes an event, in the order Meta listed them (within a value: the
//! messages, then the statuses, then the value's own `errors`). The fields read are
//! `messages`, `smb_message_echoes`, `user_preferences` and the template fields
//! (`message_template_status_update`, `message_template_quality_update`,
//! `template_category_update`); others (e.g. `account_update`, `calls`) and other
//! `object`s are not ours and give no events.
//!
//! A message Meta could not describe, or one this code cannot read, never fails the
//! body: it is kept as an unsupported message with the reason (or, without an id or a
//! sender to store it under, as a system error), and the rest of the body applies.

use chrono::{DateTime, Utc};
use serde_json::Value;
use wacrm_domain::inbound::{InboundEvent, NumberRef};

use super::customer_change::customer_change;
use super::events;
use super::message::{MediaPreference, Origin, Profiles};
use super::status::parse_status;
use super::template::{parse_template_category, parse_template_event, parse_template_quality};
use crate::webhook::{ParseError, json};

pub fn parse(body: &Value, received_at: DateTime<Utc>) -> Result<Vec<InboundEvent>, ParseError> {
    if !body.is_object() {
        return Err(ParseError::shape("the body is not a JSON object"));
    }
    if json::text(body, "object").is_some_and(|object| object != "whatsapp_business_account") {
        return Ok(Vec::new());
    }
    if body.get("entry").is_none() {
        return Err(ParseError::shape("the body has no `entry`"));
    }
    let mut events = Vec::new();
    for entry in json::list(body, "entry", "the body")? {
        for change in json::list(entry, "changes", "an entry")? {
            read_change(change, received_at, &mut events)?;
        }
    }
    Ok(events)
}

fn read_change(
    change: &Value,
    received_at: DateTime<Utc>,
    events: &mut Vec<InboundEvent>,
) -> Result<(), ParseError> {
    let field = json::text(change, "field");
    let value = json::object(change, "value");
    match (field.as_deref(), value) {
        (Some("messages"), Some(value)) => read_messages(value, received_at, events),
        (Some("smb_message_echoes"), Some(value)) => {
            read_echoes(value, received_at, events);
            Ok(())
        }
        (Some("user_preferences"), Some(value)) => {
            let number = number(value);
            let preferences = json::list(value, "user_preferences", "a value")?;
            events.extend(events::preferences(preferences, &number, received_at));
            Ok(())
        }
        (Some("message_template_status_update"), Some(value)) => {
            events.extend(parse_template_event(value)?);
            Ok(())
        }
        (Some("message_template_quality_update"), Some(value)) => {
            events.extend(parse_template_quality(value)?.map(InboundEvent::TemplateQuality));
            Ok(())
        }
        (Some("template_category_update"), Some(value)) => {
            events.extend(parse_template_category(value)?.map(InboundEvent::TemplateCategory));
            Ok(())
        }
        (Some(field), None) if READ_FIELDS.contains(&field) => {
            Err(ParseError::shape("a change has no `value` object"))
        }
        _ => Ok(()),
    }
}

/// The `field`s whose changes give events.
const READ_FIELDS: [&str; 6] = [
    "messages",
    "smb_message_echoes",
    "user_preferences",
    "message_template_status_update",
    "message_template_quality_update",
    "template_category_update",
];

/// A `messages` value: messages from customers, statuses of ours, and `errors`
/// (system-level problems with no message to attach them to), kept as system errors.
fn read_messages(
    value: &Value,
    received_at: DateTime<Utc>,
    events: &mut Vec<InboundEvent>,
) -> Result<(), ParseError> {
    let number = number(value);
    let profiles = Profiles::from_contacts(json::list(value, "contacts", "a value")?);
    let origin = Origin {
        number: &number,
        profiles: &profiles,
        received_at,
        media: MediaPreference::ProviderId,
    };
    let errors = json::list(value, "errors", "a value").unwrap_or_default();
    for message in json::list(value, "messages", "a value")? {
        let event = events::message(message, &origin, errors);
        let change = match &event {
            InboundEvent::Message(parsed) => customer_change(message, &parsed.from, &number),
            _ => None,
        };
        events.push(event);
        // After the message, so the system message lands in the conversation it
        // speaks of before that conversation takes the new identity.
        events.extend(change.map(InboundEvent::CustomerChanged));
    }
    for status in json::list(value, "statuses", "a value")? {
        events.extend(parse_status(status, &number, received_at)?.map(InboundEvent::Status));
    }
    events.extend(events::system_errors(errors, &number, received_at));
    Ok(())
}

/// A `smb_message_echoes` value: what the business sent from the WhatsApp Business app.
fn read_echoes(value: &Value, received_at: DateTime<Utc>, events: &mut Vec<InboundEvent>) {
    let number = number(value);
    let business = value
        .get("metadata")
        .and_then(|metadata| json::text(metadata, "display_phone_number"));
    let profiles = Profiles::default();
    let origin = Origin {
        number: &number,
        profiles: &profiles,
        received_at,
        media: MediaPreference::ProviderId,
    };
    let echoes = json::list(value, "message_echoes", "a value").unwrap_or_default();
    for echo in echoes {
        events.push(events::echo(echo, &origin, business.as_deref()));
    }
}

/// Which of our numbers the value is for: Meta's phone number id, else the number itself.
fn number(value: &Value) -> NumberRef {
    let metadata = value.get("metadata");
    let id = metadata.and_then(|metadata| json::text(metadata, "phone_number_id"));
    let display = || metadata.and_then(|metadata| json::text(metadata, "display_phone_number"));
    id.map(NumberRef::ProviderId)
        .or_else(|| display().map(NumberRef::Phone))
        .unwrap_or(NumberRef::Default)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde_json::json;
    use wacrm_domain::MessageStatus;
    use wacrm_domain::inbound::{InboundEvent, MessageKind, NumberRef, StatusChange};

    use super::parse;

    fn received() -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000, 0).unwrap()
    }

    /// Two business numbers in two entries; the first change carries two messages from two
    /// customers, the second two statuses, the second entry a message and a status.
    #[test]
    fn a_batched_body_gives_every_event_in_order() {
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "changes": [
                        {
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                                "contacts": [
                                    {"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"},
                                    {"profile": {"name": "Amit Shah"}, "wa_id": "919876543210"}
                                ],
                                "messages": [
                                    {"from": "16505551234", "id": "wamid.M1", "timestamp": "1749416383",
                                     "type": "text", "text": {"body": "Hi"}},
                                    {"from": "919876543210", "id": "wamid.M2", "timestamp": "1749416390",
                                     "type": "image", "image": {"mime_type": "image/jpeg", "sha256": "s", "id": "777"}}
                                ]
                            },
                            "field": "messages"
                        },
                        {
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                                "statuses": [
                                    {"id": "wamid.S1", "status": "sent", "timestamp": "1749416400", "recipient_id": "16505551234"},
                                    {"id": "wamid.S2", "status": "read", "timestamp": "1749416401", "recipient_id": "919876543210"}
                                ]
                            },
                            "field": "messages"
                        },
                        {"value": {"phone_number": "15550783881", "event": "VERIFIED_ACCOUNT"}, "field": "account_update"}
                    ]
                },
                {
                    "id": "209876543210123",
                    "changes": [{
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "442071838750", "phone_number_id": "398765432101234"},
                            "contacts": [{"profile": {"name": "Olivia"}, "wa_id": "447700900123"}],
                            "messages": [{"from": "447700900123", "id": "wamid.M3", "timestamp": "1749416500",
                                          "type": "text", "text": {"body": "Hello from London"}}],
                            "statuses": [{"id": "wamid.S3", "status": "delivered", "timestamp": "1749416501",
                                          "recipient_id": "447700900456"}]
                        },
                        "field": "messages"
                    }]
                }
            ]
        });
        let events = parse(&body, received()).unwrap();
        let summary: Vec<(String, NumberRef, String)> = events
            .iter()
            .map(|event| match event {
                InboundEvent::Message(message) => (
                    message.provider_message_id.clone(),
                    message.number.clone(),
                    format!("{} from {:?}", message.kind.as_str(), message.profile_name),
                ),
                InboundEvent::Status(status) => (
                    status.provider_message_id.clone(),
                    status.number.clone(),
                    format!("{:?} to {:?}", status.status, status.recipient),
                ),
                InboundEvent::TemplateStatus(update) => {
                    (update.name.clone(), NumberRef::Default, String::new())
                }
                InboundEvent::CustomerChanged(change) => {
                    (format!("{change:?}"), NumberRef::Default, String::new())
                }
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        let first = NumberRef::ProviderId("106540352242922".into());
        let second = NumberRef::ProviderId("398765432101234".into());
        assert_eq!(
            summary,
            vec![
                (
                    "wamid.M1".into(),
                    first.clone(),
                    "text from Some(\"Sheena Nelson\")".into()
                ),
                (
                    "wamid.M2".into(),
                    first.clone(),
                    "image from Some(\"Amit Shah\")".into()
                ),
                (
                    "wamid.S1".into(),
                    first.clone(),
                    "To(Sent) to Some(\"16505551234\")".into()
                ),
                (
                    "wamid.S2".into(),
                    first,
                    "To(Read) to Some(\"919876543210\")".into()
                ),
                (
                    "wamid.M3".into(),
                    second.clone(),
                    "text from Some(\"Olivia\")".into()
                ),
                (
                    "wamid.S3".into(),
                    second,
                    "To(Delivered) to Some(\"447700900456\")".into()
                ),
            ]
        );
        let InboundEvent::Status(read) = &events[3] else {
            panic!("not a status")
        };
        assert_eq!(read.status, StatusChange::To(MessageStatus::Read));
        assert_eq!(read.at, DateTime::from_timestamp(1_749_416_401, 0).unwrap());
        let InboundEvent::Message(image) = &events[1] else {
            panic!("not a message")
        };
        assert_eq!(image.kind, MessageKind::Image);
    }

    #[test]
    fn fields_and_objects_we_do_not_handle_give_no_events() {
        let account_update = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}]}]
        });
        assert!(parse(&account_update, received()).unwrap().is_empty());
        let instagram = json!({"object": "instagram", "entry": [{"id": "1", "changes": []}]});
        assert!(parse(&instagram, received()).unwrap().is_empty());
    }

    #[test]
    fn a_values_own_errors_are_system_errors() {
        let system_error = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "metadata": {"phone_number_id": "1"},
                "errors": [{"code": 130429, "title": "Rate limit hit"}]
            }}]}]
        });
        let events = parse(&system_error, received()).unwrap();
        let [InboundEvent::SystemErrors(errors)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(errors.number, NumberRef::ProviderId("1".into()));
        assert_eq!(errors.errors[0].code, "130429");
        assert_eq!(errors.errors[0].title, "Rate limit hit");
        assert_eq!(errors.at, received());
    }

    #[test]
    fn a_number_without_an_id_is_named_by_its_display_number() {
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "metadata": {"display_phone_number": "15550783881"},
                "statuses": [{"id": "wamid.S", "status": "sent", "timestamp": "1749416400"}]
            }}]}]
        });
        let events = parse(&body, received()).unwrap();
        let InboundEvent::Status(status) = &events[0] else {
            panic!("not a status")
        };
        assert_eq!(status.number, NumberRef::Phone("15550783881".into()));
    }

    #[test]
    fn a_broken_envelope_says_what_is_wrong() {
        let error = |body| parse(&body, received()).unwrap_err().to_string();
        assert_eq!(error(json!([])), "the body is not a JSON object");
        assert_eq!(
            error(json!({"object": "whatsapp_business_account"})),
            "the body has no `entry`"
        );
        assert_eq!(
            error(json!({"entry": {"id": "1"}})),
            "`entry` in the body is not a list"
        );
        assert_eq!(
            error(json!({"entry": [{"id": "1", "changes": [{"field": "messages"}]}]})),
            "a change has no `value` object"
        );
        assert_eq!(
            error(
                json!({"entry": [{"id": "1", "changes": [{"field": "messages", "value": {"messages": {"id": "x"}}}]}]})
            ),
            "`messages` in a value is not a list"
        );
    }
}
