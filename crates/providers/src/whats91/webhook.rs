//! Whats91 Webhooks v2 bodies: `{event, data, senderId, webhookUid}`.
//!
//! Handled events: `message.inbound.<type>` (text, image, video, audio, document,
//! location, interactive, button…), `message.status.<status>` and
//! `template.status_update`. Every other event (e.g. `message.outbound.*`) gives none.
//! A status may name a queued send's `queueUid` / `reportUid` beside the wamid: they
//! are kept as the update's `other_ids`, so the send (known by them) learns its wamid.
//!
//! Whats91 documents `data` in full only for inbound text (`messageId`, `from`, `text`,
//! `timestamp`) and statuses (`messageId`, `status`, `recipient`, `timestamp`); other
//! content is read as Meta nests it or as flat fields (see `webhook::flat`).
//!
//! Our number: Whats91 scopes webhooks by sender, and its envelopes carry the sender
//! number as top-level `senderId`. Failing that, `data.senderId`, `businessNumber` or
//! `businessPhoneNumber`, then (inbound only) `data.to`, then a Meta phone number id;
//! else the connection's default number.

use chrono::{DateTime, Utc};
use serde_json::Value;
use wacrm_domain::inbound::{InboundEvent, NumberRef};

use crate::meta::message::{MediaPreference, Origin, Profiles, parse_message};
use crate::meta::status::parse_status;
use crate::meta::template::parse_template_update;
use crate::webhook::{ParseError, flat, json};

pub fn parse(body: &Value, received_at: DateTime<Utc>) -> Result<Vec<InboundEvent>, ParseError> {
    match body {
        // Not documented, but cheap to accept: several envelopes in one request.
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

fn parse_one(body: &Value, received_at: DateTime<Utc>) -> Result<Option<InboundEvent>, ParseError> {
    let event = json::required_text(body, "event", "a Whats91 webhook")?;
    if let Some(type_name) = event.strip_prefix("message.inbound.") {
        inbound(body, &event, type_name, received_at).map(Some)
    } else if let Some(status_name) = event.strip_prefix("message.status.") {
        status(body, &event, status_name, received_at)
    } else if event == "template.status_update" {
        template(body, &event)
    } else {
        Ok(None)
    }
}

fn data<'a>(body: &'a Value, event: &str) -> Result<&'a Value, ParseError> {
    json::object(body, "data")
        .ok_or_else(|| ParseError::shape(format!("the {event} event has no `data` object")))
}

fn required(data: &Value, spellings: &[&str], event: &str) -> Result<String, ParseError> {
    json::first_text(data, spellings).ok_or_else(|| {
        ParseError::shape(format!("the {event} event has no `data.{}`", spellings[0]))
    })
}

fn inbound(
    body: &Value,
    event: &str,
    type_name: &str,
    received_at: DateTime<Utc>,
) -> Result<InboundEvent, ParseError> {
    let data = data(body, event)?;
    let id = required(data, &["messageId", "wamid", "id"], event)?;
    let from = required(data, &["from", "waId", "wa_id"], event)?;
    // `data.type` is the more specific when both say (e.g. an interactive list reply).
    let type_name = json::text(data, "type").unwrap_or_else(|| type_name.to_owned());
    let number = number(body, data, true);
    let profiles = Profiles::one(from.clone(), profile_name(data));
    let origin = Origin {
        number: &number,
        profiles: &profiles,
        received_at,
        media: MediaPreference::Url,
    };
    let message = flat::meta_message(data, id, from, &type_name);
    parse_message(&message, &origin).map(InboundEvent::Message)
}

fn status(
    body: &Value,
    event: &str,
    status_name: &str,
    received_at: DateTime<Utc>,
) -> Result<Option<InboundEvent>, ParseError> {
    let data = data(body, event)?;
    let id = required(data, &["messageId", "wamid", "id"], event)?;
    let name = json::text(data, "status").unwrap_or_else(|| status_name.to_owned());
    let status = flat::meta_status(data, id, name);
    let mut update = parse_status(&status, &number(body, data, false), received_at)?;
    if let Some(update) = &mut update {
        // A send Whats91 queued was answered with these, not with the wamid.
        update.other_ids = QUEUED_SEND_IDS
            .iter()
            .filter_map(|field| json::text(data, field))
            .filter(|id| *id != update.provider_message_id)
            .collect();
    }
    Ok(update.map(InboundEvent::Status))
}

/// The ids Whats91 answers a queued send with (`queueUid`, `reportUid`), as a
/// status may name them beside the wamid.
const QUEUED_SEND_IDS: [&str; 4] = ["queueUid", "queue_uid", "reportUid", "report_uid"];

fn template(body: &Value, event: &str) -> Result<Option<InboundEvent>, ParseError> {
    let data = data(body, event)?;
    let name = required(data, &["templateName", "template_name", "name"], event)?;
    let status = required(data, &["status", "event"], event)?;
    Ok(
        parse_template_update(&flat::meta_template(data, name, status))?
            .map(InboundEvent::TemplateStatus),
    )
}

fn profile_name(data: &Value) -> Option<String> {
    json::first_text(
        data,
        &[
            "profileName",
            "profile_name",
            "contactName",
            "senderName",
            "customerName",
        ],
    )
    .or_else(|| {
        data.get("profile")
            .and_then(|profile| json::text(profile, "name"))
    })
}

/// See the module documentation for the order. In a status, `to` is the customer, so it
/// only names our number on inbound messages.
fn number(body: &Value, data: &Value, inbound: bool) -> NumberRef {
    let ours = [
        "senderId",
        "businessNumber",
        "businessPhoneNumber",
        "business_phone_number",
    ];
    let phone = json::first_text(body, &ours)
        .or_else(|| json::first_text(data, &ours))
        .or_else(|| {
            if inbound {
                json::text(data, "to")
            } else {
                None
            }
        });
    let provider_id = || {
        let spellings = ["phoneNumberId", "phone_number_id"];
        json::first_text(body, &spellings).or_else(|| json::first_text(data, &spellings))
    };
    phone
        .map(NumberRef::Phone)
        .or_else(|| provider_id().map(NumberRef::ProviderId))
        .unwrap_or(NumberRef::Default)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde_json::{Value, json};
    use wacrm_domain::MessageStatus;
    use wacrm_domain::inbound::{
        CustomerRef, InboundEvent, InboundMessage, MediaSource, MessageKind, NumberRef,
        ProviderError, StatusChange, StatusUpdate, TemplateStatus, TemplateStatusUpdate,
    };

    use super::parse;

    fn received() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-05T10:30:05Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn events(body: Value) -> Vec<InboundEvent> {
        parse(&body, received()).unwrap()
    }

    fn message(body: Value) -> InboundMessage {
        match events(body).as_slice() {
            [InboundEvent::Message(message)] => message.clone(),
            other => panic!("expected one message, got {other:?}"),
        }
    }

    fn status(body: Value) -> StatusUpdate {
        match events(body).as_slice() {
            [InboundEvent::Status(status)] => status.clone(),
            other => panic!("expected one status, got {other:?}"),
        }
    }

    fn envelope(event: &str, data: Value) -> Value {
        json!({"event": event, "webhookUid": "wh_abc", "senderId": "916268662275", "data": data})
    }

    #[test]
    fn inbound_text_as_in_the_crm_handoff_example() {
        let message = message(envelope(
            "message.inbound.text",
            json!({
                "from": "919900011122",
                "messageId": "wamid.HBgMOTE5OTAwMDExMTIyFQIAEhggQjM0",
                "text": "GVT 6013 stock hai kya",
                "timestamp": "2026-06-05T10:30:00.000Z",
                "profileName": "Ravi Traders"
            }),
        ));
        assert_eq!(
            message,
            InboundMessage {
                number: NumberRef::Phone("916268662275".into()),
                from: CustomerRef::phone("919900011122"),
                profile_name: Some("Ravi Traders".into()),
                provider_message_id: "wamid.HBgMOTE5OTAwMDExMTIyFQIAEhggQjM0".into(),
                sent_at: DateTime::parse_from_rfc3339("2026-06-05T10:30:00Z")
                    .unwrap()
                    .with_timezone(&Utc),
                kind: MessageKind::Text,
                body: "GVT 6013 stock hai kya".into(),
                payload: json!({"body": "GVT 6013 stock hai kya"}),
                media: None,
                context_message_id: None,
            }
        );
    }

    #[test]
    fn the_number_falls_back_when_the_envelope_has_no_sender() {
        let bare = json!({"event": "message.inbound.text", "data": {"from": "919900011122", "messageId": "wamid.1", "text": "hi", "to": "916268662275"}});
        assert_eq!(
            message(bare).number,
            NumberRef::Phone("916268662275".into())
        );
        let nothing = json!({"event": "message.inbound.text", "data": {"from": "919900011122", "messageId": "wamid.1", "text": "hi"}});
        let received_only = message(nothing);
        assert_eq!(received_only.number, NumberRef::Default);
        assert_eq!(received_only.sent_at, received());
        assert_eq!(received_only.profile_name, None);
    }

    #[test]
    fn inbound_image_document_and_location() {
        let image = message(envelope(
            "message.inbound.image",
            json!({"from": "919900011122", "messageId": "wamid.IMG", "timestamp": 1780655400,
                   "image": {"id": "1284756", "url": "https://media.whats91.com/f/abc.jpg", "mime_type": "image/jpeg", "caption": "Tile sample"}}),
        ));
        assert_eq!(
            (image.kind, image.body.as_str()),
            (MessageKind::Image, "Tile sample")
        );
        assert_eq!(
            image.media.unwrap().source,
            MediaSource::Url("https://media.whats91.com/f/abc.jpg".into())
        );
        assert_eq!(
            image.sent_at,
            DateTime::from_timestamp(1_780_655_400, 0).unwrap()
        );

        let document = message(envelope(
            "message.inbound.document",
            json!({"from": "919900011122", "messageId": "wamid.DOC", "mediaUrl": "https://media.whats91.com/f/po.pdf",
                   "mimeType": "application/pdf", "fileName": "PO-2291.pdf"}),
        ));
        assert_eq!(document.body, "[document: PO-2291.pdf]");
        assert_eq!(
            document.media.unwrap().filename.as_deref(),
            Some("PO-2291.pdf")
        );

        let location = message(envelope(
            "message.inbound.location",
            json!({"from": "919900011122", "messageId": "wamid.LOC",
                   "location": {"latitude": 28.6139, "longitude": 77.209, "name": "Warehouse 4", "address": "Okhla, Delhi"}}),
        ));
        assert_eq!(location.body, "📍 Warehouse 4 (28.6139, 77.209)");
    }

    #[test]
    fn inbound_interactive_and_button() {
        let list = message(envelope(
            "message.inbound.interactive",
            json!({"from": "919900011122", "messageId": "wamid.LR", "context": {"id": "wamid.MENU"},
                   "interactive": {"type": "list_reply", "list_reply": {"id": "stock", "title": "Check stock"}}}),
        ));
        assert_eq!(
            (list.kind, list.body.as_str()),
            (MessageKind::Interactive, "Check stock")
        );
        assert_eq!(list.context_message_id.as_deref(), Some("wamid.MENU"));

        let quick = message(envelope(
            "message.inbound.button",
            json!({"from": "919900011122", "messageId": "wamid.QR", "button": {"text": "Talk to sales", "payload": "SALES"}}),
        ));
        assert_eq!(
            (quick.kind, quick.body.as_str()),
            (MessageKind::Button, "Talk to sales")
        );
    }

    #[test]
    fn delivery_status_as_in_the_sync_example() {
        let update = status(envelope(
            "message.status.delivered",
            json!({"messageId": "wamid.OUT1", "status": "delivered", "recipient": "919900011122",
                   "timestamp": "2026-06-05T10:31:00.000Z"}),
        ));
        assert_eq!(
            update,
            StatusUpdate {
                number: NumberRef::Phone("916268662275".into()),
                provider_message_id: "wamid.OUT1".into(),
                status: StatusChange::To(MessageStatus::Delivered),
                at: DateTime::parse_from_rfc3339("2026-06-05T10:31:00Z")
                    .unwrap()
                    .with_timezone(&Utc),
                recipient: Some("919900011122".into()),
                errors: vec![],
                billing: None,
                other_ids: vec![],
            }
        );
    }

    #[test]
    fn a_status_naming_the_queued_sends_ids_keeps_them() {
        let update = status(envelope(
            "message.status.sent",
            json!({"messageId": "wamid.Q", "queueUid": "queue-7", "reportUid": "report-7",
                   "status": "sent", "recipient": "919900011122"}),
        ));
        assert_eq!(update.provider_message_id, "wamid.Q");
        assert_eq!(update.other_ids, ["queue-7", "report-7"]);
    }

    #[test]
    fn sent_read_and_failed_statuses() {
        let sent = status(envelope(
            "message.status.sent",
            json!({"messageId": "wamid.O", "recipient": "919900011122"}),
        ));
        assert_eq!(sent.status, StatusChange::To(MessageStatus::Sent));
        // The event name says the status when `data` does not.
        let read = status(envelope(
            "message.status.read",
            json!({"messageId": "wamid.O"}),
        ));
        assert_eq!(read.status, StatusChange::To(MessageStatus::Read));

        let failed = status(envelope(
            "message.status.failed",
            json!({"messageId": "wamid.O", "status": "failed", "recipient": "919900011122",
                   "error": {"code": 131026, "title": "Message undeliverable", "message": "Receiver is incapable of receiving this message"}}),
        ));
        assert_eq!(failed.status, StatusChange::To(MessageStatus::Failed));
        assert_eq!(
            failed.errors,
            vec![ProviderError {
                code: "131026".into(),
                title: "Message undeliverable".into(),
                detail: Some("Receiver is incapable of receiving this message".into()),
            }]
        );
        let plain = status(envelope(
            "message.status.failed",
            json!({"messageId": "wamid.O", "error": "Invalid number"}),
        ));
        assert_eq!(
            plain.errors,
            vec![ProviderError {
                code: "unknown".into(),
                title: "Invalid number".into(),
                detail: None
            }]
        );
    }

    #[test]
    fn template_status_update() {
        let rejected = events(envelope(
            "template.status_update",
            json!({"templateName": "dealer_otp_auth", "status": "REJECTED", "language": "en", "reason": "INCORRECT_CATEGORY"}),
        ));
        assert_eq!(
            rejected,
            vec![InboundEvent::TemplateStatus(TemplateStatusUpdate {
                name: "dealer_otp_auth".into(),
                language: Some("en".into()),
                provider_template_id: None,
                status: TemplateStatus::Rejected,
                reason: Some("INCORRECT_CATEGORY".into()),
            })]
        );
        let paused = events(envelope(
            "template.status_update",
            json!({"templateName": "promo", "status": "paused"}),
        ));
        let [InboundEvent::TemplateStatus(paused)] = paused.as_slice() else {
            panic!("{paused:?}")
        };
        assert_eq!(paused.status, TemplateStatus::Paused);
    }

    #[test]
    fn events_we_do_not_handle_give_nothing() {
        assert!(
            events(envelope(
                "message.outbound.text",
                json!({"messageId": "wamid.O", "to": "919900011122"})
            ))
            .is_empty()
        );
        assert!(events(envelope("account.quality_update", json!({}))).is_empty());
        // A status this code does not know is skipped, not refused.
        assert!(
            events(envelope(
                "message.status.pending",
                json!({"messageId": "wamid.O"})
            ))
            .is_empty()
        );
    }

    #[test]
    fn broken_events_say_what_is_missing() {
        let error = |body: Value| parse(&body, received()).unwrap_err().to_string();
        assert_eq!(
            error(json!({"data": {}})),
            "a Whats91 webhook has no `event`"
        );
        assert_eq!(
            error(json!({"event": "message.inbound.text"})),
            "the message.inbound.text event has no `data` object"
        );
        assert_eq!(
            error(envelope(
                "message.inbound.text",
                json!({"text": "hi, no sender", "messageId": "wamid.1"})
            )),
            "the message.inbound.text event has no `data.from`"
        );
        assert_eq!(
            error(envelope(
                "message.inbound.text",
                json!({"from": "919900011122", "text": "hi"})
            )),
            "the message.inbound.text event has no `data.messageId`"
        );
        assert_eq!(
            error(envelope(
                "message.inbound.text",
                json!({"from": "919900011122", "messageId": "wamid.1"})
            )),
            "text message wamid.1 has no `text.body`"
        );
        assert_eq!(
            error(envelope(
                "message.status.delivered",
                json!({"status": "delivered"})
            )),
            "the message.status.delivered event has no `data.messageId`"
        );
        assert_eq!(
            error(envelope(
                "template.status_update",
                json!({"status": "APPROVED"})
            )),
            "the template.status_update event has no `data.templateName`"
        );
    }
}
