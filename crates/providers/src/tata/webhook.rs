//! TATA's webhook bodies: Meta's message and status objects in TATA's own envelope,
//! `{contacts, messages, businessPhoneNumber, id}` and `{statuses, businessPhoneNumber}`.
//!
//! TATA's sample sends `messages` as one object; a list is accepted too, and so is
//! Meta's own envelope, should TATA relay it unchanged. `businessPhoneNumber` is our
//! number. A media id is preferred to a link: it is TATA's own, fetched from TATA's
//! download endpoint with TATA's key (see `media`), while a link in a relayed Meta
//! body would want Meta's token, which we do not have.

use chrono::{DateTime, Utc};
use serde_json::Value;
use wacrm_domain::inbound::{InboundEvent, NumberRef};

use crate::meta;
use crate::meta::message::{MediaPreference, Origin, Profiles, parse_message};
use crate::meta::status::parse_status;
use crate::webhook::{ParseError, json};

pub fn parse(body: &Value, received_at: DateTime<Utc>) -> Result<Vec<InboundEvent>, ParseError> {
    if !body.is_object() {
        return Err(ParseError::shape("the body is not a JSON object"));
    }
    if body.get("entry").is_some() {
        return meta::webhook::parse(body, received_at);
    }
    let number = json::first_text(body, &["businessPhoneNumber", "business_phone_number"])
        .map_or(NumberRef::Default, NumberRef::Phone);
    let profiles = Profiles::from_contacts(json::list(body, "contacts", "the body")?);
    let origin = Origin {
        number: &number,
        profiles: &profiles,
        received_at,
        media: MediaPreference::ProviderId,
    };

    let mut events = Vec::new();
    for message in one_or_many(body, "messages")? {
        events.push(InboundEvent::Message(parse_message(message, &origin)?));
    }
    for status in one_or_many(body, "statuses")? {
        events.extend(parse_status(status, &number, received_at)?.map(InboundEvent::Status));
    }
    Ok(events)
}

fn one_or_many<'a>(body: &'a Value, key: &str) -> Result<Vec<&'a Value>, ParseError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.iter().collect()),
        Some(item @ Value::Object(_)) => Ok(vec![item]),
        Some(_) => Err(ParseError::shape(format!(
            "`{key}` is neither an object nor a list"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde_json::{Value, json};
    use wacrm_domain::MessageStatus;
    use wacrm_domain::inbound::{
        CustomerRef, InboundEvent, InboundMessage, MediaSource, MessageKind, NumberRef,
        ProviderError, StatusChange, StatusUpdate,
    };

    use super::parse;

    fn received() -> DateTime<Utc> {
        DateTime::from_timestamp(1_744_109_210, 0).unwrap()
    }

    fn events(body: Value) -> Vec<InboundEvent> {
        parse(&body, received()).unwrap()
    }

    #[test]
    fn the_documented_incoming_message() {
        let events = events(json!({
            "contacts": [{"profile": {"name": "User Name"}, "wa_id": "919999999999"}],
            "messages": {
                "from": "919999999999",
                "id": "wamid.HBgMOTE5MTA2MDg5MzQzFQIAEhggRTQzMEI1QjA5QkU0RkIwREI1MzQyQThENUQ4NkQ4RTMA",
                "timestamp": "1744109205",
                "text": {"body": "hi"},
                "type": "text"
            },
            "businessPhoneNumber": "+919355421616",
            "id": "268e8b65-59a2-45df-9006-bd4b2aedbfdc"
        }));
        assert_eq!(
            events,
            vec![InboundEvent::Message(InboundMessage {
                number: NumberRef::Phone("+919355421616".into()),
                from: CustomerRef::phone("919999999999"),
                profile_name: Some("User Name".into()),
                provider_message_id:
                    "wamid.HBgMOTE5MTA2MDg5MzQzFQIAEhggRTQzMEI1QjA5QkU0RkIwREI1MzQyQThENUQ4NkQ4RTMA"
                        .into(),
                sent_at: DateTime::from_timestamp(1_744_109_205, 0).unwrap(),
                kind: MessageKind::Text,
                body: "hi".into(),
                payload: json!({"body": "hi"}),
                media: None,
                context_message_id: None,
            })]
        );
    }

    #[test]
    fn the_documented_status_update() {
        let events = events(json!({
            "statuses": [{
                "id": "wamid.HBgMOTE4NDkwMDI5MTA1FQIAERgSRDkwQjFEQURDMEI5MkExNUY3AA==",
                "status": "sent",
                "timestamp": "1729161280",
                "recipient_id": "919999999999"
            }],
            "businessPhoneNumber": "+919355421616"
        }));
        assert_eq!(
            events,
            vec![InboundEvent::Status(StatusUpdate {
                number: NumberRef::Phone("+919355421616".into()),
                provider_message_id:
                    "wamid.HBgMOTE4NDkwMDI5MTA1FQIAERgSRDkwQjFEQURDMEI5MkExNUY3AA==".into(),
                status: StatusChange::To(MessageStatus::Sent),
                at: DateTime::from_timestamp(1_729_161_280, 0).unwrap(),
                recipient: Some("919999999999".into()),
                errors: vec![],
                billing: None,
                other_ids: vec![],
            })]
        );
    }

    #[test]
    fn a_failed_status_with_pricing() {
        let events = events(json!({
            "statuses": [{
                "id": "wamid.F", "status": "failed", "timestamp": 1729161290, "recipient_id": "919999999999",
                "errors": [{"code": 131049, "title": "This message was not delivered to maintain healthy ecosystem engagement."}],
                "pricing": {"billable": false, "category": "marketing", "pricing_model": "PMP"}
            }],
            "businessPhoneNumber": "+919355421616"
        }));
        let [InboundEvent::Status(update)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(update.status, StatusChange::To(MessageStatus::Failed));
        assert_eq!(
            update.errors,
            vec![ProviderError {
                code: "131049".into(),
                title: "This message was not delivered to maintain healthy ecosystem engagement."
                    .into(),
                detail: None,
            }]
        );
        assert_eq!(
            update.billing,
            Some(
                json!({"conversation": null, "pricing": {"billable": false, "category": "marketing", "pricing_model": "PMP"}})
            )
        );
    }

    #[test]
    fn messages_as_a_list_and_media_by_tatas_id() {
        let events = events(json!({
            "contacts": [{"profile": {"name": "Asha"}, "wa_id": "919812345678"}],
            "messages": [
                {"from": "919812345678", "id": "wamid.1", "timestamp": "1744109205", "type": "image",
                 "image": {"id": "tata-media-1", "url": "https://media.tata.example/1.jpg", "mime_type": "image/jpeg"}},
                {"from": "919812345678", "id": "wamid.2", "timestamp": "1744109206", "type": "reaction",
                 "reaction": {"message_id": "wamid.OURS", "emoji": "🙏"}}
            ],
            "businessPhoneNumber": "+919355421616"
        }));
        let [
            InboundEvent::Message(image),
            InboundEvent::Message(reaction),
        ] = events.as_slice()
        else {
            panic!("{events:?}")
        };
        assert_eq!(
            image.media.as_ref().unwrap().source,
            MediaSource::ProviderId("tata-media-1".into())
        );
        assert_eq!(image.profile_name.as_deref(), Some("Asha"));
        assert_eq!(
            (
                reaction.body.as_str(),
                reaction.context_message_id.as_deref()
            ),
            ("reacted 🙏", Some("wamid.OURS"))
        );
    }

    #[test]
    fn a_relayed_meta_envelope_is_read_as_meta() {
        let events = events(json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "metadata": {"phone_number_id": "106540352242922"},
                "messages": [{"from": "919812345678", "id": "wamid.M", "timestamp": "1744109205", "type": "text", "text": {"body": "hey"}}]
            }}]}]
        }));
        let [InboundEvent::Message(message)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(
            message.number,
            NumberRef::ProviderId("106540352242922".into())
        );
    }

    #[test]
    fn nothing_to_read_and_broken_bodies() {
        assert!(events(json!({"businessPhoneNumber": "+919355421616"})).is_empty());
        let error = |body: Value| parse(&body, received()).unwrap_err().to_string();
        assert_eq!(
            error(json!({"messages": "hi"})),
            "`messages` is neither an object nor a list"
        );
        assert_eq!(
            error(json!({"messages": {"id": "wamid.1", "type": "text", "text": {"body": "x"}}})),
            "message wamid.1 has no `from`"
        );
        assert_eq!(error(json!([1])), "the body is not a JSON object");
    }
}
