//! Lipachat's webhook bodies: an inbound message, a status callback on a message we sent,
//! or a template status update, each one flat JSON object.
//!
//! Which is which (Lipachat sends no event name):
//! - a **status callback** has a `status` and no content: no `text` and no content object
//!   (`image`, `location`, `interactive`…). Its `type`, if any, does not count: a callback
//!   may well echo the type of the message it is about;
//! - a **template update** is such a body without a `messageId` but with a template name
//!   (`templateName`/`name`); its shape is our reading, Lipachat shows no sample;
//! - a **message** is any other body with a `type` or a `text`;
//! - anything else is not an event we handle and gives none.
//!
//! `to` is our number. Lipachat's samples carry no time: `timestamp` is read when present
//! (unix seconds or milliseconds, RFC 3339), else the time we received the request.
//! A status callback names the `messageId` *we* chose when sending, so that is its id.

use chrono::{DateTime, Utc};
use serde_json::Value;
use wacrm_domain::inbound::{InboundEvent, NumberRef};

use crate::meta::message::{MediaPreference, Origin, Profiles, parse_message};
use crate::meta::status::parse_status;
use crate::meta::template::parse_template_update;
use crate::webhook::{ParseError, flat, json};

pub fn parse(body: &Value, received_at: DateTime<Utc>) -> Result<Vec<InboundEvent>, ParseError> {
    match body {
        // Not documented, but cheap to accept: several callbacks in one request.
        Value::Array(bodies) => {
            let mut events = Vec::new();
            for body in bodies {
                events.extend(parse_one(body, received_at)?);
            }
            Ok(events)
        }
        Value::Object(_) => Ok(parse_one(body, received_at)?.into_iter().collect()),
        _ => Err(ParseError::shape("the body is not a JSON object")),
    }
}

enum Kind {
    Message,
    Status,
    Template,
    NotOurs,
}

/// The fields that hold a message's content, in Lipachat's documented and Meta's forms.
const CONTENT: [&str; 20] = [
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "contact",
    "interactive",
    "button",
    "reaction",
    "order",
    "buttonReply",
    "button_reply",
    "listReply",
    "list_reply",
    "mediaUrl",
    "latitude",
    "caption",
];

fn kind_of(body: &Value) -> Kind {
    let has_content = CONTENT
        .iter()
        .any(|key| body.get(key).is_some_and(|value| !value.is_null()));
    if json::text(body, "status").is_some() && !has_content {
        let is_template = json::text(body, "messageId").is_none() && template_name(body).is_some();
        if is_template {
            Kind::Template
        } else {
            Kind::Status
        }
    } else if has_content || json::text(body, "type").is_some() {
        Kind::Message
    } else {
        Kind::NotOurs
    }
}

fn parse_one(body: &Value, received_at: DateTime<Utc>) -> Result<Option<InboundEvent>, ParseError> {
    match kind_of(body) {
        Kind::Message => message(body, received_at).map(Some),
        Kind::Status => status(body, received_at),
        Kind::Template => template(body),
        Kind::NotOurs => Ok(None),
    }
}

fn message(body: &Value, received_at: DateTime<Utc>) -> Result<InboundEvent, ParseError> {
    let id = json::required_text(body, "messageId", "a Lipachat message")?;
    let from = json::required_text(body, "from", &format!("Lipachat message {id}"))?;
    // A body with `text` and no `type` is a text message.
    let type_name = json::text(body, "type").unwrap_or_else(|| "TEXT".to_owned());
    let number = json::text(body, "to").map_or(NumberRef::Default, NumberRef::Phone);
    let profiles = Profiles::one(
        from.clone(),
        json::first_text(body, &["profileName", "profile_name"]),
    );
    let origin = Origin {
        number: &number,
        profiles: &profiles,
        received_at,
        media: MediaPreference::Url,
    };
    let message = flat::meta_message(body, id, from, &type_name);
    parse_message(&message, &origin).map(InboundEvent::Message)
}

/// A status on a message we sent. Its number is the connection's default: the message
/// is found by its id, and the callback's `from`/`to` are not documented.
fn status(body: &Value, received_at: DateTime<Utc>) -> Result<Option<InboundEvent>, ParseError> {
    let id = json::required_text(body, "messageId", "a Lipachat status callback")?;
    let name = json::required_text(body, "status", "a Lipachat status callback")?;
    let status = flat::meta_status(body, id, name);
    Ok(parse_status(&status, &NumberRef::Default, received_at)?.map(InboundEvent::Status))
}

fn template(body: &Value) -> Result<Option<InboundEvent>, ParseError> {
    let what = "a Lipachat template update";
    let name = template_name(body)
        .ok_or_else(|| ParseError::shape(format!("{what} has no `templateName`")))?;
    let status = json::required_text(body, "status", what)?;
    Ok(
        parse_template_update(&flat::meta_template(body, name, status))?
            .map(InboundEvent::TemplateStatus),
    )
}

fn template_name(body: &Value) -> Option<String> {
    json::first_text(body, &["templateName", "template_name", "name"])
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde_json::{Value, json};
    use wacrm_domain::MessageStatus;
    use wacrm_domain::inbound::{
        CustomerRef, InboundEvent, InboundMessage, MediaRef, MediaSource, MessageKind, NumberRef,
        ProviderError, StatusChange, StatusUpdate, TemplateStatus,
    };

    use super::parse;

    fn received() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-05-27T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn message(body: Value) -> InboundMessage {
        match parse(&body, received()).unwrap().as_slice() {
            [InboundEvent::Message(message)] => message.clone(),
            other => panic!("expected one message, got {other:?}"),
        }
    }

    fn status(body: Value) -> StatusUpdate {
        match parse(&body, received()).unwrap().as_slice() {
            [InboundEvent::Status(status)] => status.clone(),
            other => panic!("expected one status, got {other:?}"),
        }
    }

    /// Lipachat's documented fields around `content`.
    fn inbound(content: Value) -> Value {
        let mut body = json!({
            "messageId": "c94ced08-5f40-46b7-a88d-7d4fbe113fe9",
            "from": "254712345678",
            "to": "254110090747",
            "profileName": "Wanjiru"
        });
        for (key, value) in content.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    }

    #[test]
    fn text_as_in_the_crm_workflow_sample() {
        let message = message(json!({
            "messageId": "c94ced08-5f40-46b7-a88d-7d4fbe113fe9",
            "from": "254712345678",
            "to": "254110090747",
            "profileName": "Wanjiru",
            "type": "TEXT",
            "text": "Text Content"
        }));
        assert_eq!(
            message,
            InboundMessage {
                number: NumberRef::Phone("254110090747".into()),
                from: CustomerRef::phone("254712345678"),
                profile_name: Some("Wanjiru".into()),
                provider_message_id: "c94ced08-5f40-46b7-a88d-7d4fbe113fe9".into(),
                // The sample has no time: the request's arrival stands in.
                sent_at: received(),
                kind: MessageKind::Text,
                body: "Text Content".into(),
                payload: json!({"body": "Text Content"}),
                media: None,
                context_message_id: None,
            }
        );
    }

    #[test]
    fn a_timestamp_is_read_in_any_form_lipachat_might_use() {
        let at = |timestamp: Value| {
            message(inbound(
                json!({"type": "TEXT", "text": "hi", "timestamp": timestamp}),
            ))
            .sent_at
        };
        let expected = DateTime::parse_from_rfc3339("2025-05-27T08:59:30Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(at(json!(1_748_336_370)), expected);
        assert_eq!(at(json!("1748336370000")), expected);
        assert_eq!(at(json!("2025-05-27T08:59:30Z")), expected);
        assert_eq!(at(json!("2025-05-27T08:59:30")), expected);
    }

    #[test]
    fn image_as_documented_is_a_link() {
        let message = message(inbound(json!({
            "type": "IMAGE",
            "image": {"caption": null, "url": "https://files.lipachat.com/media/8f1c.jpg"}
        })));
        assert_eq!(message.kind, MessageKind::Image);
        assert_eq!(message.body, "[image]");
        assert_eq!(
            message.media,
            Some(MediaRef {
                source: MediaSource::Url("https://files.lipachat.com/media/8f1c.jpg".into()),
                mime_type: None,
                sha256: None,
                filename: None,
            })
        );
    }

    #[test]
    fn video_with_a_caption() {
        let message = message(inbound(json!({
            "type": "VIDEO",
            "video": {"caption": "Unboxing", "url": "https://files.lipachat.com/media/v1.mp4"}
        })));
        assert_eq!(
            (message.kind, message.body.as_str()),
            (MessageKind::Video, "Unboxing")
        );
        assert_eq!(
            message.media.unwrap().source,
            MediaSource::Url("https://files.lipachat.com/media/v1.mp4".into())
        );
    }

    #[test]
    fn audio_document_and_sticker_in_nested_or_flat_form() {
        let audio = message(inbound(json!({
            "type": "AUDIO", "audio": {"url": "https://files.lipachat.com/media/a.ogg", "mimeType": "audio/ogg"}
        })));
        assert_eq!(
            (audio.kind, audio.body.as_str()),
            (MessageKind::Audio, "[audio]")
        );
        assert_eq!(audio.media.unwrap().mime_type.as_deref(), Some("audio/ogg"));

        let document = message(inbound(json!({
            "type": "DOCUMENT", "mediaUrl": "https://files.lipachat.com/media/q.pdf",
            "fileName": "quotation.pdf", "mimeType": "application/pdf"
        })));
        assert_eq!(
            (document.kind, document.body.as_str()),
            (MessageKind::Document, "[document: quotation.pdf]")
        );
        let media = document.media.unwrap();
        assert_eq!(
            media.source,
            MediaSource::Url("https://files.lipachat.com/media/q.pdf".into())
        );
        assert_eq!(media.filename.as_deref(), Some("quotation.pdf"));

        let sticker = message(inbound(
            json!({"type": "STICKER", "sticker": {"url": "https://files.lipachat.com/s.webp"}}),
        ));
        assert_eq!(
            (sticker.kind, sticker.body.as_str()),
            (MessageKind::Sticker, "[sticker]")
        );
    }

    #[test]
    fn media_without_a_link_is_a_shape_error() {
        let error = parse(
            &inbound(json!({"type": "IMAGE", "image": {"caption": "lost"}})),
            received(),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "image message c94ced08-5f40-46b7-a88d-7d4fbe113fe9 has no media `id` or `url`"
        );
    }

    #[test]
    fn location_nested_or_flat() {
        let nested = message(inbound(json!({
            "type": "LOCATION",
            "location": {"latitude": -1.2864, "longitude": 36.8172, "name": "Kenyatta Avenue", "address": "Nairobi"}
        })));
        assert_eq!(nested.kind, MessageKind::Location);
        assert_eq!(nested.body, "📍 Kenyatta Avenue (-1.2864, 36.8172)");

        let flat = message(inbound(
            json!({"type": "LOCATION", "latitude": "-1.2864", "longitude": "36.8172"}),
        ));
        assert_eq!(flat.body, "📍 Location (-1.2864, 36.8172)");
        assert_eq!(
            flat.payload,
            json!({"latitude": -1.2864, "longitude": 36.8172})
        );
    }

    #[test]
    fn contact_cards() {
        let message = message(inbound(json!({
            "type": "CONTACT",
            "contacts": [{"name": {"formatted_name": "Otieno Ouma"}, "phones": [{"phone": "+254 700 000 001"}]}]
        })));
        assert_eq!(message.kind, MessageKind::Contacts);
        assert_eq!(message.body, "👤 Otieno Ouma");
        assert_eq!(message.payload[0]["phones"][0]["phone"], "+254 700 000 001");
    }

    #[test]
    fn list_and_button_replies() {
        let list = message(inbound(json!({
            "type": "INTERACTIVE",
            "interactive": {"type": "list_reply", "list_reply": {"id": "SAFARICOM_AIRTIME", "title": "Safaricom", "description": "mpesa network"}},
            "context": {"id": "ca739107-4b0d-4581-acb1-4c4af70555de"}
        })));
        assert_eq!(list.kind, MessageKind::Interactive);
        assert_eq!(list.body, "Safaricom");
        assert_eq!(list.payload["list_reply"]["id"], "SAFARICOM_AIRTIME");
        assert_eq!(
            list.context_message_id.as_deref(),
            Some("ca739107-4b0d-4581-acb1-4c4af70555de")
        );

        let button = message(inbound(
            json!({"type": "BUTTON_REPLY", "buttonReply": {"id": "YES_BTN", "title": "Yes"}}),
        ));
        assert_eq!(button.kind, MessageKind::Interactive);
        assert_eq!(button.body, "Yes");
        assert_eq!(
            button.payload,
            json!({"type": "button_reply", "button_reply": {"id": "YES_BTN", "title": "Yes"}})
        );

        let list_flat = message(inbound(
            json!({"type": "LIST_REPLY", "listReply": {"id": "KPLC", "title": "KPLC"}}),
        ));
        assert_eq!(list_flat.payload["type"], "list_reply");
    }

    #[test]
    fn a_template_quick_reply() {
        let message = message(inbound(
            json!({"type": "BUTTON", "button": {"text": "Yes", "payload": "Yes"}}),
        ));
        assert_eq!(
            (message.kind, message.body.as_str()),
            (MessageKind::Button, "Yes")
        );
    }

    #[test]
    fn each_status_callback() {
        let callback = |name: &str| {
            status(json!({
                "messageId": "5c7be224-be61-4aa5-97aa-98906f1f6d15",
                "waId": "wamid.HBgMMjU0NzE3NzQ2NTY1FQIAEnRgSRjJGRkMzNkQ0QUVENTIxQ0NBAA==",
                "status": name,
                "statusDesc": "Message status update"
            }))
        };
        for (name, expected) in [
            ("SENT", StatusChange::To(MessageStatus::Sent)),
            ("DELIVERED", StatusChange::To(MessageStatus::Delivered)),
            ("READ", StatusChange::To(MessageStatus::Read)),
            ("DELETED", StatusChange::Deleted),
        ] {
            let update = callback(name);
            assert_eq!(
                update.provider_message_id, "5c7be224-be61-4aa5-97aa-98906f1f6d15",
                "{name}"
            );
            assert_eq!(update.status, expected, "{name}");
            assert_eq!(update.number, NumberRef::Default, "{name}");
            assert_eq!(update.at, received(), "{name}");
            assert!(update.errors.is_empty(), "{name}");
            assert_eq!(update.billing, None, "{name}");
        }
    }

    #[test]
    fn a_failed_callback_keeps_its_errors() {
        let described = status(json!({
            "messageId": "5c7be224", "status": "FAILED", "statusDesc": "Recipient phone number not on WhatsApp",
            "to": "254700000000", "timestamp": "2025-05-27T08:59:30Z"
        }));
        assert_eq!(described.status, StatusChange::To(MessageStatus::Failed));
        assert_eq!(described.recipient.as_deref(), Some("254700000000"));
        assert_eq!(
            described.errors,
            vec![ProviderError {
                code: "unknown".into(),
                title: "Recipient phone number not on WhatsApp".into(),
                detail: None
            }]
        );

        let coded = status(json!({
            "messageId": "5c7be224", "status": "FAILED",
            "errors": [{"code": 131047, "title": "Re-engagement message",
                        "error_data": {"details": "More than 24 hours have passed since the customer last replied."}}]
        }));
        assert_eq!(
            coded.errors,
            vec![ProviderError {
                code: "131047".into(),
                title: "Re-engagement message".into(),
                detail: Some(
                    "More than 24 hours have passed since the customer last replied.".into()
                ),
            }]
        );

        let flat = status(
            json!({"messageId": "5c7be224", "status": "FAILED", "errorCode": "470", "errorMessage": "Session expired"}),
        );
        assert_eq!(
            flat.errors,
            vec![ProviderError {
                code: "470".into(),
                title: "Session expired".into(),
                detail: None
            }]
        );
    }

    #[test]
    fn a_template_status_update() {
        let events = parse(
            &json!({"templateName": "declined_transfert", "status": "APPROVED", "language": "en", "reason": null}),
            received(),
        )
        .unwrap();
        let [InboundEvent::TemplateStatus(update)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(update.name, "declined_transfert");
        assert_eq!(update.status, TemplateStatus::Approved);
        assert_eq!(update.language.as_deref(), Some("en"));
        assert_eq!(update.reason, None);
    }

    #[test]
    fn bodies_we_do_not_handle_give_nothing_and_broken_ones_say_why() {
        assert!(
            parse(&json!({"hello": "world"}), received())
                .unwrap()
                .is_empty()
        );
        // A callback that echoes the type of the message it is about is still a callback.
        let echoed = status(
            json!({"status": "READ", "messageId": "m", "type": "TEXT", "from": "254110090747"}),
        );
        assert_eq!(echoed.status, StatusChange::To(MessageStatus::Read));
        let error = |body: Value| parse(&body, received()).unwrap_err().to_string();
        assert_eq!(
            error(json!({"from": "254712345678", "type": "TEXT", "text": "hi"})),
            "a Lipachat message has no `messageId`"
        );
        assert_eq!(
            error(json!({"messageId": "m", "type": "TEXT", "text": "hi"})),
            "Lipachat message m has no `from`"
        );
        assert_eq!(
            error(json!({"status": "DELIVERED"})),
            "a Lipachat status callback has no `messageId`"
        );
        assert_eq!(error(json!("SENT")), "the body is not a JSON object");
    }
}
