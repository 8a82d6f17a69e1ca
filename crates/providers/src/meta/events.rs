//! Meta's events around messages: a welcome request, an edit or a revoke, an echo of
//! what the business sent from the WhatsApp Business app, a marketing preference, and
//! errors that belong to no message; and the rule that one message this code cannot
//! read never fails the body it came in (it is kept as an unsupported message).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use wacrm_domain::inbound::{
    EchoedMessage, InboundEvent, InboundMessage, MarketingPreference, MarketingPreferenceUpdate,
    MessageKind, MessageRevision, NumberRef, ProviderError, RevisionChange, SystemErrors,
};

use super::body;
use super::message::{Origin, parse_message, sender};
use super::status::provider_errors;
use crate::webhook::{ParseError, json, time};

/// How a welcome request reads in the inbox.
pub(crate) const WELCOME_BODY: &str = "[opened the chat]";

/// One entry of `messages[]` as its event; never an error.
pub(crate) fn message(
    message: &Value,
    origin: &Origin<'_>,
    value_errors: &[Value],
) -> InboundEvent {
    let parsed = match json::text(message, "type").as_deref() {
        Some("request_welcome") => welcome(message, origin).map(InboundEvent::WelcomeRequest),
        Some("edit" | "revoke") => revision(message, origin, None).map(InboundEvent::Revision),
        _ => parse_message(message, origin).map(InboundEvent::Message),
    };
    parsed.unwrap_or_else(|error| unreadable(message, origin, value_errors, &error))
}

/// One entry of `message_echoes[]` (field `smb_message_echoes`): `from` is the business
/// number, `to` the customer. Some published examples (pywa's `outgoing_message.json`)
/// have the two the other way round, so the side that is the business's own display
/// number is not taken for the customer.
pub(crate) fn echo(echo: &Value, origin: &Origin<'_>, business: Option<&str>) -> InboundEvent {
    let to = customer(echo, business);
    let parsed = match json::text(echo, "type").as_deref() {
        Some("edit" | "revoke") => revision(echo, origin, Some(&to)).map(InboundEvent::Revision),
        _ => parse_message(echo, origin).map(|message| {
            InboundEvent::Echo(EchoedMessage {
                to: to.clone(),
                message,
            })
        }),
    };
    match parsed.unwrap_or_else(|error| unreadable(echo, origin, &[], &error)) {
        InboundEvent::Message(message) => InboundEvent::Echo(EchoedMessage { to, message }),
        other => other,
    }
}

fn customer(echo: &Value, business: Option<&str>) -> String {
    let to = json::first_text(echo, &["to", "to_user_id"]).unwrap_or_default();
    let from = json::text(echo, "from");
    let is_business =
        |side: &str| business.is_some_and(|business| digits(business) == digits(side));
    match from {
        Some(from) if is_business(&to) && !is_business(&from) => from,
        _ => to,
    }
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// `type: "request_welcome"`: read as a system message, so the sender is read as any
/// message's sender is.
fn welcome(message: &Value, origin: &Origin<'_>) -> Result<InboundMessage, ParseError> {
    let mut system = message.clone();
    if let Value::Object(fields) = &mut system {
        fields.insert("type".into(), Value::String("system".into()));
        fields.insert(
            "system".into(),
            serde_json::json!({"type": "request_welcome", "body": WELCOME_BODY}),
        );
    }
    parse_message(&system, origin)
}

/// `type: "edit"` (`edit.original_message_id` and the new `edit.message`) or
/// `type: "revoke"` (`revoke.original_message_id`), as pywa's `edited_message.json`,
/// `deleted_message.json` and `outgoing_message.json` show them. `echo_to` names the
/// customer when the business made the change in the WhatsApp Business app.
fn revision(
    message: &Value,
    origin: &Origin<'_>,
    echo_to: Option<&str>,
) -> Result<MessageRevision, ParseError> {
    let id = json::required_text(message, "id", "a message")?;
    let type_name = json::required_text(message, "type", &format!("message {id}"))?;
    let what = format!("{type_name} message {id}");
    let object = json::object(message, &type_name)
        .ok_or_else(|| ParseError::shape(format!("{what} has no `{type_name}` object")))?;
    let original_message_id = json::required_text(object, "original_message_id", &what)?;
    let at = time::at_or(message.get("timestamp"), origin.received_at, &what)?;
    let (change, unknown_original) = if type_name == "edit" {
        let edited = edited_message(message, object, &id, &what)?;
        let edited = parse_message(&edited, origin)?;
        let instead = match echo_to {
            None => InboundEvent::Message(edited.clone()),
            Some(to) => InboundEvent::Echo(EchoedMessage {
                to: to.to_owned(),
                message: edited.clone(),
            }),
        };
        (
            RevisionChange::Edited(Box::new(edited)),
            Some(Box::new(instead)),
        )
    } else {
        (RevisionChange::Revoked, None)
    };
    Ok(MessageRevision {
        number: origin.number.clone(),
        original_message_id,
        provider_message_id: id,
        at,
        change,
        unknown_original,
    })
}

/// The new content as a whole message: the inner `message` with the edit's own id,
/// sender and time.
fn edited_message(
    message: &Value,
    edit: &Value,
    id: &str,
    what: &str,
) -> Result<Value, ParseError> {
    let Some(Value::Object(inner)) = edit.get("message") else {
        return Err(ParseError::shape(format!(
            "{what} has no `edit.message` object"
        )));
    };
    let mut edited = inner.clone();
    edited.insert("id".into(), Value::String(id.to_owned()));
    for key in ["from", "from_user_id", "timestamp"] {
        if let Some(value) = message.get(key) {
            edited.insert(key.into(), value.clone());
        }
    }
    Ok(Value::Object(edited))
}

/// A message that could not be read: kept as an unsupported message with the reason
/// and the errors Meta sent with it (its own and the value's), so the conversation
/// shows that something came; without an id or a sender to keep it under, a system
/// error that says why.
fn unreadable(
    message: &Value,
    origin: &Origin<'_>,
    value_errors: &[Value],
    error: &ParseError,
) -> InboundEvent {
    let id = json::text(message, "id");
    let sender = sender(message, origin.profiles);
    let (Some(id), Some((from, profile_name))) = (id, sender) else {
        return InboundEvent::SystemErrors(SystemErrors {
            number: origin.number.clone(),
            errors: vec![ProviderError {
                code: "unreadable_message".into(),
                title: "A message in the webhook could not be read".into(),
                detail: Some(error.to_string()),
            }],
            raw: vec![message.clone()],
            at: origin.received_at,
        });
    };
    let type_name = json::text(message, "type").unwrap_or_else(|| "unknown".to_owned());
    let own_errors = json::list(message, "errors", "a message").unwrap_or_default();
    let errors: Vec<Value> = own_errors.iter().chain(value_errors).cloned().collect();
    let mut payload = Map::new();
    payload.insert("type".into(), Value::String(type_name.clone()));
    if let Some(object) = message.get(&type_name).filter(|object| !object.is_null()) {
        payload.insert(type_name.clone(), object.clone());
    }
    if !errors.is_empty() {
        payload.insert("errors".into(), Value::Array(errors.clone()));
    }
    payload.insert("problem".into(), Value::String(error.to_string()));
    let payload = Value::Object(payload);
    InboundEvent::Message(InboundMessage {
        number: origin.number.clone(),
        profile_name,
        from,
        provider_message_id: id,
        sent_at: message
            .get("timestamp")
            .and_then(time::timestamp)
            .unwrap_or(origin.received_at),
        kind: MessageKind::Unsupported,
        body: body::unsupported(&type_name, &payload, &errors),
        payload,
        media: None,
        context_message_id: message
            .get("context")
            .and_then(|context| json::text(context, "id")),
    })
}

/// `user_preferences[]`: a customer's marketing choice (`stop`, `resume`, or `signup`
/// through a sign-up link, which subscribes). Other categories or values are not ours.
pub(crate) fn preferences(
    preferences: &[Value],
    number: &NumberRef,
    received_at: DateTime<Utc>,
) -> Vec<InboundEvent> {
    preferences
        .iter()
        .filter_map(|entry| {
            let category = json::text(entry, "category");
            if category.is_some_and(|category| category != "marketing_messages") {
                return None;
            }
            let preference = match json::text(entry, "value")?
                .trim()
                .to_ascii_lowercase()
                .as_str()
            {
                "stop" => MarketingPreference::Stop,
                "resume" | "signup" => MarketingPreference::Resume,
                _ => return None,
            };
            Some(InboundEvent::MarketingPreference(
                MarketingPreferenceUpdate {
                    number: number.clone(),
                    phone: json::first_text(entry, &["wa_id", "user_id"])?,
                    preference,
                    detail: json::text(entry, "detail"),
                    at: entry
                        .get("timestamp")
                        .and_then(time::timestamp)
                        .unwrap_or(received_at),
                },
            ))
        })
        .collect()
}

/// A value's own `errors`: system errors with no message to attach them to.
pub(crate) fn system_errors(
    errors: &[Value],
    number: &NumberRef,
    received_at: DateTime<Utc>,
) -> Option<InboundEvent> {
    if errors.is_empty() {
        return None;
    }
    Some(InboundEvent::SystemErrors(SystemErrors {
        number: number.clone(),
        errors: provider_errors(errors),
        raw: errors.to_vec(),
        at: received_at,
    }))
}

#[cfg(test)]
mod tests {
    //! Shapes from pywa's test data (david-lev/pywa, `tests/data/updates/`) and Meta's
    //! webhook reference (developers.facebook.com/documentation/business-messaging/
    //! whatsapp/webhooks/reference/…).

    use chrono::{DateTime, Utc};
    use serde_json::{Value, json};
    use wacrm_domain::inbound::{
        InboundEvent, MarketingPreference, MessageKind, NumberRef, RevisionChange,
    };

    use crate::meta::webhook::parse;

    fn received() -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000, 0).unwrap()
    }

    fn change(field: &str, value: Value) -> Vec<InboundEvent> {
        let mut value = value;
        value["messaging_product"] = json!("whatsapp");
        value["metadata"] =
            json!({"display_phone_number": "15550783881", "phone_number_id": "106540352242922"});
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": field, "value": value}]}]
        });
        parse(&body, received()).unwrap()
    }

    /// pywa `message.json` `interactive_message_with_err`: an `interactive` message with
    /// no `interactive` object, and the value's `errors` saying why.
    #[test]
    fn a_message_meta_could_not_describe_is_kept_with_the_error_and_the_rest_applies() {
        let events = change(
            "messages",
            json!({
                "contacts": [{"profile": {"name": "Test Name"}, "wa_id": "972987654321"}],
                "messages": [
                    {"context": {"from": "972123456789", "id": "wamid.gvwegfretge=="},
                     "from": "972987654321", "id": "wamid.wegrchytvwcggt=", "timestamp": "1700505494",
                     "type": "interactive"},
                    {"from": "972987654321", "id": "wamid.OK", "timestamp": "1700505495",
                     "type": "text", "text": {"body": "still here"}}
                ],
                "errors": [{"code": 131000, "title": "Something went wrong", "message": "Something went wrong",
                            "error_data": {"details": "Unsupported webhook payload"}}]
            }),
        );
        let [
            InboundEvent::Message(broken),
            InboundEvent::Message(text),
            InboundEvent::SystemErrors(errors),
        ] = events.as_slice()
        else {
            panic!("{events:?}")
        };
        assert_eq!(broken.kind, MessageKind::Unsupported);
        assert_eq!(broken.provider_message_id, "wamid.wegrchytvwcggt=");
        assert_eq!(broken.from.phone.as_deref(), Some("972987654321"));
        assert_eq!(broken.profile_name.as_deref(), Some("Test Name"));
        assert_eq!(broken.body, "[unsupported message: Something went wrong]");
        assert_eq!(broken.payload["errors"][0]["code"], 131000);
        assert_eq!(broken.payload["type"], "interactive");
        assert_eq!(
            broken.payload["problem"],
            "interactive message wamid.wegrchytvwcggt= has no `interactive` object"
        );
        assert_eq!(
            broken.context_message_id.as_deref(),
            Some("wamid.gvwegfretge==")
        );
        assert_eq!(text.body, "still here");
        assert_eq!(errors.errors[0].code, "131000");
        assert_eq!(
            errors.errors[0].detail.as_deref(),
            Some("Unsupported webhook payload")
        );
    }

    /// Meta's `messages` reference, `request_welcome` (and 360dialog's copy of it).
    #[test]
    fn a_welcome_request_is_its_own_event() {
        let events = change(
            "messages",
            json!({
                "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
                "messages": [{"from": "16505551234", "id": "wamid.WELCOME", "timestamp": "1749416383",
                              "type": "request_welcome"}]
            }),
        );
        let [InboundEvent::WelcomeRequest(welcome)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(welcome.kind, MessageKind::System);
        assert_eq!(welcome.body, "[opened the chat]");
        assert_eq!(welcome.payload["type"], "request_welcome");
        assert_eq!(welcome.from.phone.as_deref(), Some("16505551234"));
        assert_eq!(welcome.profile_name.as_deref(), Some("Sheena Nelson"));
    }

    /// pywa `edited_message.json`.
    #[test]
    fn an_edit_names_the_original_and_carries_the_new_content() {
        let events = change(
            "messages",
            json!({
                "contacts": [{"profile": {"name": "Test Name"}, "wa_id": "16505551234"}],
                "messages": [{
                    "from": "16505551234",
                    "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
                    "timestamp": "1749854575", "type": "edit",
                    "edit": {
                        "original_message_id": "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=",
                        "message": {"context": {"id": "M0"}, "type": "image", "image": {
                            "caption": "Updated image caption", "mime_type": "image/jpeg",
                            "sha256": "a1b2c3d4e5f6...", "id": "1234567890"}}
                    }
                }]
            }),
        );
        let [InboundEvent::Revision(revision)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(
            revision.original_message_id,
            "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA="
        );
        assert_eq!(
            revision.at,
            DateTime::from_timestamp(1_749_854_575, 0).unwrap()
        );
        let RevisionChange::Edited(edited) = &revision.change else {
            panic!("not an edit")
        };
        assert_eq!(edited.kind, MessageKind::Image);
        assert_eq!(edited.body, "Updated image caption");
        assert_eq!(edited.from.phone.as_deref(), Some("16505551234"));
        assert_eq!(
            edited.provider_message_id,
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="
        );
        assert!(matches!(
            revision.unknown_original.as_deref(),
            Some(InboundEvent::Message(message)) if message.body == "Updated image caption"
        ));
    }

    /// pywa `deleted_message.json`.
    #[test]
    fn a_revoke_names_the_original() {
        let events = change(
            "messages",
            json!({"messages": [{"from": "16505551234", "id": "wamid.REVOKE", "timestamp": "1697043223",
                                  "type": "revoke", "revoke": {"original_message_id": "wamid.ORIGINAL"}}]}),
        );
        let [InboundEvent::Revision(revision)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(revision.original_message_id, "wamid.ORIGINAL");
        assert_eq!(revision.change, RevisionChange::Revoked);
        assert_eq!(revision.unknown_original, None);
    }

    /// Meta's `smb_message_echoes` reference, and pywa `outgoing_message.json` (whose
    /// edit example has `from` and `to` the other way round).
    #[test]
    fn an_echo_goes_to_the_customer_whichever_way_round() {
        let events = change(
            "smb_message_echoes",
            json!({"message_echoes": [
                {"from": "15550783881", "to": "16505551234", "id": "wamid.ECHO", "timestamp": "1739321024",
                 "type": "text", "text": {"body": "Here's the info you requested!"}},
                {"from": "16505551234", "to": "15550783881", "id": "wamid.EDIT", "timestamp": "1739321030",
                 "type": "edit", "edit": {"original_message_id": "wamid.ECHO",
                                          "message": {"type": "text", "text": {"body": "Text was edited"}}}}
            ]}),
        );
        let [InboundEvent::Echo(echo), InboundEvent::Revision(edit)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(echo.to, "16505551234");
        assert_eq!(echo.message.body, "Here's the info you requested!");
        assert_eq!(echo.message.provider_message_id, "wamid.ECHO");
        assert!(matches!(
            edit.unknown_original.as_deref(),
            Some(InboundEvent::Echo(echo)) if echo.to == "16505551234" && echo.message.body == "Text was edited"
        ));
    }

    /// Meta's `user_preferences` reference example, and pywa's `signup`.
    #[test]
    fn marketing_preferences_stop_resume_and_signup() {
        let events = change(
            "user_preferences",
            json!({"contacts": [{"wa_id": "16505551234"}], "user_preferences": [
                {"wa_id": "16505551234", "detail": "User requested to stop marketing messages",
                 "category": "marketing_messages", "value": "stop", "timestamp": 1_731_705_721},
                {"wa_id": "16505551234", "detail": "User requested to resume marketing messages",
                 "category": "marketing_messages", "value": "resume", "timestamp": 1_731_705_800},
                {"wa_id": "16505551234", "detail": "User signed up via signup link",
                 "category": "marketing_messages", "value": "signup", "signup_id": "13176843987434774",
                 "timestamp": 1_731_705_900},
                {"wa_id": "16505551234", "category": "something_else", "value": "stop"}
            ]}),
        );
        let seen: Vec<(MarketingPreference, i64)> = events
            .iter()
            .map(|event| match event {
                InboundEvent::MarketingPreference(update) => {
                    assert_eq!(update.phone, "16505551234");
                    assert_eq!(
                        update.number,
                        NumberRef::ProviderId("106540352242922".into())
                    );
                    (update.preference, update.at.timestamp())
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (MarketingPreference::Stop, 1_731_705_721),
                (MarketingPreference::Resume, 1_731_705_800),
                (MarketingPreference::Resume, 1_731_705_900),
            ]
        );
    }
}
