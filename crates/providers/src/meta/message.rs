//! One Meta-shaped message object as an [`InboundMessage`]: Meta's own, TATA's, and the
//! flat providers' once `webhook::flat` has put them in Meta's shape.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use wacrm_domain::inbound::{
    CustomerRef, InboundMessage, MediaRef, MediaSource, MessageKind, NumberRef,
};

use super::body;
use crate::webhook::{ParseError, json, time};

/// Which media reference wins when a payload has both an id and a link.
///
/// Meta's id is durable (`GET /{id}` gives a fresh URL whenever the download job runs);
/// the other providers' links are what their APIs serve, and their ids may mean nothing
/// to the Graph API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediaPreference {
    ProviderId,
    Url,
}

/// The senders as the `contacts[]` next to the messages describe them: phone
/// (`wa_id`), business-scoped user id (`user_id`), profile name and username.
#[derive(Debug, Default)]
pub(crate) struct Profiles(Vec<Contact>);

#[derive(Debug, Default)]
struct Contact {
    wa_id: Option<String>,
    user_id: Option<String>,
    name: Option<String>,
    username: Option<String>,
}

impl Profiles {
    pub(crate) fn from_contacts(contacts: &[Value]) -> Self {
        let known = contacts.iter().map(|contact| {
            let profile = contact.get("profile");
            Contact {
                wa_id: json::text(contact, "wa_id"),
                user_id: json::text(contact, "user_id"),
                name: profile.and_then(|profile| json::text(profile, "name")),
                username: profile.and_then(|profile| json::text(profile, "username")),
            }
        });
        Self(known.collect())
    }

    pub(crate) fn one(wa_id: String, name: Option<String>) -> Self {
        Self(
            name.map(|name| Contact {
                wa_id: Some(wa_id),
                name: Some(name),
                ..Contact::default()
            })
            .into_iter()
            .collect(),
        )
    }

    /// The contact entry for this sender: by phone (a `+` or spaces on one side
    /// only still match), else by business-scoped user id.
    fn of(&self, phone: Option<&str>, user_id: Option<&str>) -> Option<&Contact> {
        let by_phone = |exact: bool| {
            let phone = phone?;
            self.0.iter().find(|contact| {
                contact.wa_id.as_deref().is_some_and(|wa_id| {
                    if exact {
                        wa_id == phone
                    } else {
                        digits(wa_id) == digits(phone)
                    }
                })
            })
        };
        let by_user_id = || {
            let user_id = user_id?;
            self.0
                .iter()
                .find(|contact| contact.user_id.as_deref() == Some(user_id))
        };
        // Meta's own examples for username users leave `from` out of the message
        // and name the one sender in `contacts[]` only.
        let the_only_one = || match (phone, user_id, self.0.as_slice()) {
            (None, None, [only]) => Some(only),
            _ => None,
        };
        by_phone(true)
            .or_else(|| by_phone(false))
            .or_else(by_user_id)
            .or_else(the_only_one)
    }
}

fn digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// What the envelope around a message says about it.
#[derive(Debug)]
pub(crate) struct Origin<'a> {
    pub number: &'a NumberRef,
    pub profiles: &'a Profiles,
    pub received_at: DateTime<Utc>,
    pub media: MediaPreference,
}

pub(crate) fn parse_message(
    message: &Value,
    origin: &Origin<'_>,
) -> Result<InboundMessage, ParseError> {
    let id = json::required_text(message, "id", "a message")?;
    let what = format!("message {id}");
    let (from, profile_name) = sender(message, origin.profiles)
        .ok_or_else(|| ParseError::shape(format!("{what} has no `from`")))?;
    let type_name = json::required_text(message, "type", &what)?;
    let sent_at = time::at_or(message.get("timestamp"), origin.received_at, &what)?;
    let content = content(
        message,
        &type_name,
        &format!("{type_name} {what}"),
        origin.media,
    )?;

    let replied_to = message
        .get("context")
        .and_then(|context| json::text(context, "id"));
    let mut payload = content.payload;
    keep_what_it_answers(message, &mut payload);

    Ok(InboundMessage {
        number: origin.number.clone(),
        profile_name,
        from,
        provider_message_id: id,
        sent_at,
        kind: content.kind,
        body: content.body,
        payload,
        media: content.media,
        // A reaction points at the message it reacts to; anything else at the one it quotes.
        context_message_id: content.reacted_to.or(replied_to),
    })
}

/// Who wrote, and their profile name. Since 2026 Meta names a user who adopted
/// a username by a business-scoped user id (`from_user_id`, `contacts[].user_id`,
/// `profile.username`) and may leave out `from` / `wa_id`
/// (<https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids>).
/// A system message about a changed id may name neither: its
/// `system.previous_user_id` is who wrote.
pub(crate) fn sender(
    message: &Value,
    profiles: &Profiles,
) -> Option<(CustomerRef, Option<String>)> {
    let phone = json::text(message, "from");
    let previous_user_id = || {
        json::object(message, "system").and_then(|system| json::text(system, "previous_user_id"))
    };
    let user_id = json::text(message, "from_user_id")
        .or_else(|| phone.is_none().then(previous_user_id).flatten());
    let contact = profiles.of(phone.as_deref(), user_id.as_deref());
    let phone = phone.or_else(|| contact.and_then(|contact| contact.wa_id.clone()));
    let user_id = user_id.or_else(|| contact.and_then(|contact| contact.user_id.clone()));
    if phone.is_none() && user_id.is_none() {
        return None;
    }
    let customer = CustomerRef {
        phone,
        user_id,
        username: contact.and_then(|contact| contact.username.clone()),
    };
    Some((customer, contact.and_then(|contact| contact.name.clone())))
}

/// The ad a customer clicked (`referral`) and the product they asked about
/// (`context.referred_product`) say what the message answers; the CRM wants both.
fn keep_what_it_answers(message: &Value, payload: &mut Value) {
    let Value::Object(fields) = payload else {
        return;
    };
    if let Some(referral) = json::object(message, "referral") {
        fields.insert("referral".into(), referral.clone());
    }
    let product = message
        .get("context")
        .and_then(|context| json::object(context, "referred_product"));
    if let Some(product) = product {
        fields.insert("referred_product".into(), product.clone());
    }
}

struct Content {
    kind: MessageKind,
    body: String,
    payload: Value,
    media: Option<MediaRef>,
    reacted_to: Option<String>,
}

impl Content {
    fn plain(kind: MessageKind, body: String, payload: &Value) -> Self {
        Self {
            kind,
            body,
            payload: payload.clone(),
            media: None,
            reacted_to: None,
        }
    }
}

fn kind_of(type_name: &str) -> MessageKind {
    match type_name {
        "text" => MessageKind::Text,
        "image" => MessageKind::Image,
        "audio" => MessageKind::Audio,
        "video" => MessageKind::Video,
        "document" => MessageKind::Document,
        "sticker" => MessageKind::Sticker,
        "location" => MessageKind::Location,
        "contacts" => MessageKind::Contacts,
        "interactive" => MessageKind::Interactive,
        "button" => MessageKind::Button,
        "reaction" => MessageKind::Reaction,
        "order" => MessageKind::Order,
        "system" => MessageKind::System,
        // "unsupported", the older "unknown", and types newer than this code
        // (e.g. "request_welcome") are kept, not refused.
        _ => MessageKind::Unsupported,
    }
}

fn content(
    message: &Value,
    type_name: &str,
    what: &str,
    media: MediaPreference,
) -> Result<Content, ParseError> {
    let kind = kind_of(type_name);
    let typed = || {
        json::object(message, type_name)
            .ok_or_else(|| ParseError::shape(format!("{what} has no `{type_name}` object")))
    };
    Ok(match kind {
        MessageKind::Text => {
            let text = typed()?;
            let body = json::text(text, "body")
                .ok_or_else(|| ParseError::shape(format!("{what} has no `text.body`")))?;
            Content::plain(kind, body, text)
        }
        MessageKind::Image
        | MessageKind::Audio
        | MessageKind::Video
        | MessageKind::Document
        | MessageKind::Sticker => {
            let object = typed()?;
            let media = media_ref(object, media)
                .ok_or_else(|| ParseError::shape(format!("{what} has no media `id` or `url`")))?;
            Content {
                media: Some(media),
                ..Content::plain(kind, body::media(kind, object), object)
            }
        }
        MessageKind::Location => {
            let location = typed()?;
            let coordinate = |key: &str| {
                json::number(location, key)
                    .ok_or_else(|| ParseError::shape(format!("{what} has no `{key}`")))
            };
            let (latitude, longitude) = (coordinate("latitude")?, coordinate("longitude")?);
            Content::plain(
                kind,
                body::location(location, latitude, longitude),
                location,
            )
        }
        MessageKind::Contacts => {
            // The cards sit in the message's own `contacts`, not the envelope's profiles.
            let cards = json::list(message, "contacts", what)?;
            Content::plain(kind, body::contacts(cards), &Value::Array(cards.to_vec()))
        }
        MessageKind::Interactive => {
            let interactive = typed()?;
            Content::plain(kind, body::interactive(interactive), interactive)
        }
        MessageKind::Button => {
            let button = typed()?;
            Content::plain(kind, body::button(button), button)
        }
        MessageKind::Reaction => {
            let reaction = typed()?;
            let reacted_to = json::required_text(reaction, "message_id", what)?;
            Content {
                reacted_to: Some(reacted_to),
                ..Content::plain(kind, body::reaction(reaction), reaction)
            }
        }
        MessageKind::Order => {
            let order = typed()?;
            Content::plain(kind, body::order(order), order)
        }
        MessageKind::System => {
            let system = typed()?;
            Content::plain(kind, body::system(system), system)
        }
        MessageKind::Template | MessageKind::Unsupported => unsupported(message, type_name)?,
    })
}

/// What Meta said about a message it could not show us: its `errors`, the
/// `unsupported.type` (e.g. "edit", "poll_creation"), and the type it came as.
fn unsupported(message: &Value, type_name: &str) -> Result<Content, ParseError> {
    let errors = json::list(message, "errors", "an unsupported message")?;
    let mut payload = Map::new();
    if !matches!(type_name, "unsupported" | "unknown") {
        payload.insert("type".into(), Value::String(type_name.to_owned()));
    }
    if let Some(object) = message.get(type_name).filter(|object| !object.is_null()) {
        payload.insert(type_name.to_owned(), object.clone());
    }
    if !errors.is_empty() {
        payload.insert("errors".into(), Value::Array(errors.to_vec()));
    }
    let payload = Value::Object(payload);
    Ok(Content::plain(
        MessageKind::Unsupported,
        body::unsupported(type_name, &payload, errors),
        &payload,
    ))
}

fn media_ref(object: &Value, preference: MediaPreference) -> Option<MediaRef> {
    let id = json::text(object, "id").map(MediaSource::ProviderId);
    let url = json::first_text(object, &["url", "link"]).map(MediaSource::Url);
    let source = match preference {
        MediaPreference::ProviderId => id.or(url),
        MediaPreference::Url => url.or(id),
    }?;
    Some(MediaRef {
        source,
        mime_type: json::text(object, "mime_type"),
        sha256: json::text(object, "sha256"),
        filename: json::text(object, "filename"),
    })
}

#[cfg(test)]
mod tests {
    //! Every message type Meta documents, each sent through the whole webhook envelope.

    use chrono::{DateTime, Utc};
    use serde_json::{Value, json};
    use wacrm_domain::inbound::{
        InboundEvent, InboundMessage, MediaRef, MediaSource, MessageKind, NumberRef,
    };

    use crate::meta::webhook::parse;

    fn received() -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000, 0).unwrap()
    }

    /// A `messages` webhook as Meta sends it, carrying `message` from Sheena.
    fn envelope(message: Value) -> Value {
        json!({
            "object": "whatsapp_business_account",
            "entry": [{
                "id": "102290129340398",
                "changes": [{
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                        "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
                        "messages": [message]
                    },
                    "field": "messages"
                }]
            }]
        })
    }

    fn only_message(message: Value) -> InboundMessage {
        let events = parse(&envelope(message), received()).unwrap();
        assert_eq!(events.len(), 1);
        match events.into_iter().next() {
            Some(InboundEvent::Message(message)) => message,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    fn first_message(message: Value) -> InboundMessage {
        match parse(&envelope(message), received())
            .unwrap()
            .into_iter()
            .next()
        {
            Some(InboundEvent::Message(message)) => message,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// Why a message could not be read. It never fails the body: it is kept as an
    /// unsupported message that says why, or as a system error when it has no id or
    /// sender to be kept under.
    fn shape_error(message: Value) -> String {
        let events = parse(&envelope(message), received()).unwrap();
        match events.as_slice() {
            [InboundEvent::Message(message)] => {
                assert_eq!(message.kind, MessageKind::Unsupported);
                message.payload["problem"].as_str().unwrap().to_owned()
            }
            [InboundEvent::SystemErrors(errors)] => {
                assert_eq!(errors.errors[0].code, "unreadable_message");
                errors.errors[0].detail.clone().unwrap()
            }
            other => panic!("expected one unreadable message, got {other:?}"),
        }
    }

    #[test]
    fn text() {
        let message = only_message(json!({
            "from": "16505551234",
            "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
            "timestamp": "1749416383",
            "type": "text",
            "text": {"body": "Does it come in another color?"}
        }));
        assert_eq!(
            message.number,
            NumberRef::ProviderId("106540352242922".into())
        );
        assert_eq!(message.from.phone.as_deref(), Some("16505551234"));
        assert_eq!(message.profile_name.as_deref(), Some("Sheena Nelson"));
        assert_eq!(
            message.provider_message_id,
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
        );
        assert_eq!(
            message.sent_at,
            DateTime::from_timestamp(1_749_416_383, 0).unwrap()
        );
        assert_eq!(message.kind, MessageKind::Text);
        assert_eq!(message.body, "Does it come in another color?");
        assert_eq!(
            message.payload,
            json!({"body": "Does it come in another color?"})
        );
        assert_eq!(message.media, None);
        assert_eq!(message.context_message_id, None);
    }

    #[test]
    fn a_reply_names_the_quoted_message() {
        let message = only_message(json!({
            "context": {"from": "15550783881", "id": "wamid.QUOTED"},
            "from": "16505551234", "id": "wamid.REPLY", "timestamp": "1749416383",
            "type": "text", "text": {"body": "Yes please"}
        }));
        assert_eq!(message.context_message_id.as_deref(), Some("wamid.QUOTED"));
    }

    #[test]
    fn image_with_caption() {
        let message = only_message(json!({
            "from": "16505551234", "id": "wamid.IMG", "timestamp": "1749416383", "type": "image",
            "image": {
                "caption": "This is a caption",
                "mime_type": "image/jpeg",
                "sha256": "AxBBKwA1NBWIqMc5mg+g/6mBvgXvFUCCj0/XfDbc4qY=",
                "id": "1003383421387256"
            }
        }));
        assert_eq!(message.kind, MessageKind::Image);
        assert_eq!(message.body, "This is a caption");
        assert_eq!(
            message.media,
            Some(MediaRef {
                source: MediaSource::ProviderId("1003383421387256".into()),
                mime_type: Some("image/jpeg".into()),
                sha256: Some("AxBBKwA1NBWIqMc5mg+g/6mBvgXvFUCCj0/XfDbc4qY=".into()),
                filename: None,
            })
        );
        assert_eq!(message.payload["id"], "1003383421387256");
    }

    #[test]
    fn image_without_caption_and_video_and_sticker() {
        let image = only_message(json!({
            "from": "16505551234", "id": "wamid.I", "timestamp": "1749416383", "type": "image",
            "image": {"mime_type": "image/jpeg", "sha256": "abc", "id": "111"}
        }));
        assert_eq!(image.body, "[image]");

        let video = only_message(json!({
            "from": "16505551234", "id": "wamid.V", "timestamp": "1749416383", "type": "video",
            "video": {"mime_type": "video/mp4", "sha256": "def", "id": "222"}
        }));
        assert_eq!(
            (video.kind, video.body.as_str()),
            (MessageKind::Video, "[video]")
        );
        assert_eq!(
            video.media.unwrap().source,
            MediaSource::ProviderId("222".into())
        );

        let sticker = only_message(json!({
            "from": "16505551234", "id": "wamid.S", "timestamp": "1749416383", "type": "sticker",
            "sticker": {"mime_type": "image/webp", "sha256": "ghi", "id": "333", "animated": false}
        }));
        assert_eq!(
            (sticker.kind, sticker.body.as_str()),
            (MessageKind::Sticker, "[sticker]")
        );
        assert_eq!(sticker.payload["animated"], false);
    }

    #[test]
    fn voice_note_and_audio_file() {
        let voice = only_message(json!({
            "from": "16505551234", "id": "wamid.AUD", "timestamp": "1749416383", "type": "audio",
            "audio": {"mime_type": "audio/ogg; codecs=opus", "sha256": "xyz", "id": "444", "voice": true}
        }));
        assert_eq!(voice.kind, MessageKind::Audio);
        assert_eq!(voice.body, "[voice message]");
        assert_eq!(voice.payload["voice"], true);
        assert_eq!(
            voice.media.unwrap().mime_type.as_deref(),
            Some("audio/ogg; codecs=opus")
        );

        let song = only_message(json!({
            "from": "16505551234", "id": "wamid.MP3", "timestamp": "1749416383", "type": "audio",
            "audio": {"mime_type": "audio/mpeg", "sha256": "xyz", "id": "445", "voice": false}
        }));
        assert_eq!(song.body, "[audio]");
    }

    #[test]
    fn document_keeps_its_filename() {
        let message = only_message(json!({
            "from": "16505551234", "id": "wamid.DOC", "timestamp": "1749416383", "type": "document",
            "document": {
                "filename": "invoice-0042.pdf", "mime_type": "application/pdf",
                "sha256": "Fh8bjBn9rGtkd1ovsdB+W2TcjHBkrNm2vz7qBczcf4o=", "id": "555"
            }
        }));
        assert_eq!(message.kind, MessageKind::Document);
        assert_eq!(message.body, "[document: invoice-0042.pdf]");
        let media = message.media.unwrap();
        assert_eq!(media.filename.as_deref(), Some("invoice-0042.pdf"));
        assert_eq!(media.mime_type.as_deref(), Some("application/pdf"));

        let captioned = only_message(json!({
            "from": "16505551234", "id": "wamid.DOC2", "timestamp": "1749416383", "type": "document",
            "document": {"caption": "Signed copy", "filename": "contract.pdf", "mime_type": "application/pdf", "id": "556"}
        }));
        assert_eq!(captioned.body, "Signed copy");
    }

    #[test]
    fn media_without_an_id_or_link_is_a_shape_error() {
        let error = shape_error(json!({
            "from": "16505551234", "id": "wamid.BAD", "timestamp": "1749416383", "type": "image",
            "image": {"mime_type": "image/jpeg"}
        }));
        assert_eq!(error, "image message wamid.BAD has no media `id` or `url`");
    }

    #[test]
    fn location() {
        let message = only_message(json!({
            "from": "16505551234", "id": "wamid.LOC", "timestamp": "1749416383", "type": "location",
            "location": {
                "address": "1 Hacker Way, Menlo Park, CA 94025",
                "latitude": 37.483307, "longitude": -122.148981,
                "name": "Main Street Beach", "url": "https://www.example.com"
            }
        }));
        assert_eq!(message.kind, MessageKind::Location);
        assert_eq!(
            message.body,
            "📍 Main Street Beach (37.483307, -122.148981)"
        );
        assert_eq!(message.payload["latitude"], 37.483307);
        assert_eq!(
            message.payload["address"],
            "1 Hacker Way, Menlo Park, CA 94025"
        );

        let pin = only_message(json!({
            "from": "16505551234", "id": "wamid.PIN", "timestamp": "1749416383", "type": "location",
            "location": {"latitude": -1.2921, "longitude": 36.8219}
        }));
        assert_eq!(pin.body, "📍 Location (-1.2921, 36.8219)");
        assert_eq!(
            pin.payload,
            json!({"latitude": -1.2921, "longitude": 36.8219})
        );
    }

    #[test]
    fn contacts() {
        let message = only_message(json!({
            "from": "16505551234", "id": "wamid.VCARD", "timestamp": "1749416383", "type": "contacts",
            "contacts": [{
                "addresses": [{"city": "Menlo Park", "country": "United States", "type": "HOME"}],
                "emails": [{"email": "bjohnson@example.com", "type": "WORK"}],
                "name": {"formatted_name": "Barbara J. Johnson", "first_name": "Barbara", "last_name": "Johnson"},
                "phones": [{"phone": "+1 (650) 555-1234", "wa_id": "16505551234", "type": "WORK"}]
            }, {
                "name": {"first_name": "Ann", "last_name": "Lee"},
                "phones": [{"phone": "+1 650 555 9999", "type": "CELL"}]
            }]
        }));
        assert_eq!(message.kind, MessageKind::Contacts);
        assert_eq!(message.body, "👤 Barbara J. Johnson, Ann Lee");
        assert_eq!(message.payload[0]["phones"][0]["wa_id"], "16505551234");
        assert_eq!(message.payload.as_array().unwrap().len(), 2);
        // The card's own wa_id does not make it the sender's profile.
        assert_eq!(message.profile_name.as_deref(), Some("Sheena Nelson"));
    }

    #[test]
    fn interactive_button_reply() {
        let message = only_message(json!({
            "context": {"from": "15550783881", "id": "wamid.BUTTONS"},
            "from": "16505551234", "id": "wamid.BR", "timestamp": "1749416383", "type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": "confirm-yes", "title": "Yes, book it"}}
        }));
        assert_eq!(message.kind, MessageKind::Interactive);
        assert_eq!(message.body, "Yes, book it");
        assert_eq!(message.payload["button_reply"]["id"], "confirm-yes");
        assert_eq!(message.context_message_id.as_deref(), Some("wamid.BUTTONS"));
    }

    #[test]
    fn interactive_list_reply() {
        let message = only_message(json!({
            "context": {"from": "15550783881", "id": "wamid.LIST"},
            "from": "16505551234", "id": "wamid.LR", "timestamp": "1749416383", "type": "interactive",
            "interactive": {
                "type": "list_reply",
                "list_reply": {"id": "priority-express", "title": "Express shipping", "description": "Next day delivery"}
            }
        }));
        assert_eq!(message.body, "Express shipping");
        assert_eq!(
            message.payload["list_reply"]["description"],
            "Next day delivery"
        );
    }

    #[test]
    fn template_quick_reply_button() {
        let message = only_message(json!({
            "context": {"from": "15550783881", "id": "wamid.TEMPLATE"},
            "from": "16505551234", "id": "wamid.QR", "timestamp": "1749416383", "type": "button",
            "button": {"payload": "STOP_PROMOTIONS", "text": "Stop promotions"}
        }));
        assert_eq!(message.kind, MessageKind::Button);
        assert_eq!(message.body, "Stop promotions");
        assert_eq!(
            message.payload,
            json!({"payload": "STOP_PROMOTIONS", "text": "Stop promotions"})
        );
        assert_eq!(
            message.context_message_id.as_deref(),
            Some("wamid.TEMPLATE")
        );
    }

    #[test]
    fn reaction_and_its_removal() {
        let reacted = only_message(json!({
            "from": "16505551234", "id": "wamid.REACT", "timestamp": "1749416383", "type": "reaction",
            "reaction": {"message_id": "wamid.OURS", "emoji": "👍"}
        }));
        assert_eq!(reacted.kind, MessageKind::Reaction);
        assert_eq!(reacted.body, "reacted 👍");
        assert_eq!(reacted.context_message_id.as_deref(), Some("wamid.OURS"));

        let removed = only_message(json!({
            "from": "16505551234", "id": "wamid.UNREACT", "timestamp": "1749416383", "type": "reaction",
            "reaction": {"message_id": "wamid.OURS"}
        }));
        assert_eq!(removed.body, "removed a reaction");

        let error = shape_error(json!({
            "from": "16505551234", "id": "wamid.R", "timestamp": "1749416383", "type": "reaction",
            "reaction": {"emoji": "👍"}
        }));
        assert_eq!(error, "reaction message wamid.R has no `message_id`");
    }

    #[test]
    fn order() {
        let message = only_message(json!({
            "from": "16505551234", "id": "wamid.ORDER", "timestamp": "1749416383", "type": "order",
            "order": {
                "catalog_id": "194836987003835",
                "text": "Please deliver before noon",
                "product_items": [
                    {"product_retailer_id": "di9ozbzfi4", "quantity": 2, "item_price": 30, "currency": "USD"},
                    {"product_retailer_id": "nqryix03ez", "quantity": 1, "item_price": 25, "currency": "USD"}
                ]
            }
        }));
        assert_eq!(message.kind, MessageKind::Order);
        assert_eq!(
            message.body,
            "🛒 order of 2 items: Please deliver before noon"
        );
        assert_eq!(message.payload["catalog_id"], "194836987003835");
        assert_eq!(
            message.payload["product_items"][1]["product_retailer_id"],
            "nqryix03ez"
        );
    }

    #[test]
    fn system_number_change() {
        let events = parse(&envelope(json!({
            "from": "16505551234", "id": "wamid.SYS", "timestamp": "1749416383", "type": "system",
            "system": {"body": "x", "wa_id": "16505559999", "type": "user_changed_number"}
        })), received())
        .unwrap();
        let Some(InboundEvent::CustomerChanged(change)) = events.get(1) else {
            panic!("a number change is an event too: {events:?}")
        };
        assert_eq!(change.previous.phone.as_deref(), Some("16505551234"));
        assert_eq!(change.current.phone.as_deref(), Some("16505559999"));
        let message = first_message(json!({
            "from": "16505551234", "id": "wamid.SYS", "timestamp": "1749416383", "type": "system",
            "system": {
                "body": "NAME changed from 16505551234 to 16505559999",
                "wa_id": "16505559999",
                "type": "user_changed_number"
            }
        }));
        assert_eq!(message.kind, MessageKind::System);
        assert_eq!(message.body, "NAME changed from 16505551234 to 16505559999");
        assert_eq!(message.payload["type"], "user_changed_number");
        assert_eq!(message.payload["wa_id"], "16505559999");
    }

    /// A user with a username, as Meta's business-scoped user id guide shows one:
    /// `from_user_id` and `contacts[].user_id`, no `from` and no `wa_id`.
    #[test]
    fn a_username_user_is_named_by_their_business_scoped_user_id() {
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                "contacts": [{"profile": {"name": "Sheena Nelson", "username": "sheena.n"}, "user_id": "US.13491208655302741918"}],
                "messages": [{"from_user_id": "US.13491208655302741918", "id": "wamid.U", "timestamp": "1749416383",
                              "type": "text", "text": {"body": "Hi"}}]
            }}]}]
        });
        let events = parse(&body, received()).unwrap();
        let Some(InboundEvent::Message(message)) = events.first() else {
            panic!("expected a message, got {events:?}")
        };
        assert_eq!(message.from.phone, None);
        assert_eq!(
            message.from.user_id.as_deref(),
            Some("US.13491208655302741918")
        );
        assert_eq!(message.from.username.as_deref(), Some("sheena.n"));
        assert_eq!(message.profile_name.as_deref(), Some("Sheena Nelson"));
    }

    #[test]
    fn a_user_id_change_is_an_event_after_its_system_message() {
        let events = parse(
            &envelope(json!({
                "id": "wamid.SYS2", "timestamp": "1749416383", "type": "system",
                "system": {"body": "User Sheena changed from US.1 to US.2", "user_id": "US.2",
                           "previous_user_id": "US.1", "type": "user_changed_user_id"}
            })),
            received(),
        )
        .unwrap();
        assert_eq!(events.len(), 2);
        let InboundEvent::Message(message) = &events[0] else {
            panic!("the system message first")
        };
        assert_eq!(message.from.user_id.as_deref(), Some("US.1"));
        let InboundEvent::CustomerChanged(change) = &events[1] else {
            panic!("then the change")
        };
        assert_eq!(change.previous.user_id.as_deref(), Some("US.1"));
        assert_eq!(change.current.user_id.as_deref(), Some("US.2"));
        assert_eq!(change.current.phone, None);
    }

    #[test]
    fn unsupported_keeps_what_meta_said() {
        let message = only_message(json!({
            "from": "16505551234", "id": "wamid.UNS", "timestamp": "1749416383", "type": "unsupported",
            "errors": [{
                "code": 131051,
                "title": "Message type unknown",
                "message": "Message type unknown",
                "error_data": {"details": "Message type is currently not supported."}
            }],
            "unsupported": {"type": "edit"}
        }));
        assert_eq!(message.kind, MessageKind::Unsupported);
        assert_eq!(message.body, "[unsupported message: edit]");
        assert_eq!(message.payload["unsupported"]["type"], "edit");
        assert_eq!(message.payload["errors"][0]["code"], 131051);

        let unknown = only_message(json!({
            "from": "16505551234", "id": "wamid.UNK", "timestamp": "1749416383", "type": "unknown",
            "errors": [{"code": 131051, "details": "Message type is not currently supported", "title": "Unsupported message type"}]
        }));
        assert_eq!(unknown.kind, MessageKind::Unsupported);
        assert_eq!(
            unknown.body,
            "[unsupported message: Unsupported message type]"
        );
    }

    #[test]
    fn a_type_newer_than_this_code_is_kept_as_unsupported() {
        let message = only_message(json!({
            "from": "16505551234", "id": "wamid.NEW", "timestamp": "1749416383", "type": "poll_vote"
        }));
        assert_eq!(message.kind, MessageKind::Unsupported);
        assert_eq!(message.body, "[unsupported message: poll_vote]");
        assert_eq!(message.payload, json!({"type": "poll_vote"}));
    }

    #[test]
    fn a_click_to_whatsapp_ad_keeps_its_referral() {
        let message = only_message(json!({
            "referral": {
                "source_url": "https://fb.me/2ZulEu42P", "source_id": "120226305854810726",
                "source_type": "ad", "headline": "Chat with us", "ctwa_clid": "ARAkLkA8"
            },
            "from": "16505551234", "id": "wamid.AD", "timestamp": "1749416383",
            "type": "text", "text": {"body": "Can I get more info about this?"}
        }));
        assert_eq!(message.body, "Can I get more info about this?");
        assert_eq!(message.payload["body"], "Can I get more info about this?");
        assert_eq!(
            message.payload["referral"]["source_id"],
            "120226305854810726"
        );
    }

    #[test]
    fn a_product_enquiry_keeps_the_product() {
        let message = only_message(json!({
            "context": {
                "from": "15550783881", "id": "wamid.CATALOG",
                "referred_product": {"catalog_id": "194836987003835", "product_retailer_id": "di9ozbzfi4"}
            },
            "from": "16505551234", "id": "wamid.ASK", "timestamp": "1749416383",
            "type": "text", "text": {"body": "Is this in stock?"}
        }));
        assert_eq!(
            message.payload["referred_product"]["product_retailer_id"],
            "di9ozbzfi4"
        );
    }

    #[test]
    fn missing_id_from_type_or_text_are_shape_errors() {
        assert_eq!(
            shape_error(
                json!({"from": "1", "timestamp": "1", "type": "text", "text": {"body": "x"}})
            ),
            "a message has no `id`"
        );
        // No `from`, no `from_user_id`, and no one contact to say who wrote.
        let mut nobody = envelope(
            json!({"id": "wamid.X", "timestamp": "1", "type": "text", "text": {"body": "x"}}),
        );
        nobody["entry"][0]["changes"][0]["value"]["contacts"] = json!([]);
        // It fails no body: it is kept as a system error that says why.
        match parse(&nobody, received()).unwrap().as_slice() {
            [InboundEvent::SystemErrors(errors)] => assert_eq!(
                errors.errors[0].detail.as_deref(),
                Some("message wamid.X has no `from`")
            ),
            other => panic!("expected one system error, got {other:?}"),
        }
        // The envelope's one contact is the sender when the message names none.
        let named_by_contact = only_message(
            json!({"id": "wamid.X", "timestamp": "1", "type": "text", "text": {"body": "x"}}),
        );
        assert_eq!(named_by_contact.from.phone.as_deref(), Some("16505551234"));
        assert_eq!(
            shape_error(
                json!({"id": "wamid.X", "from": "1", "timestamp": "1", "text": {"body": "x"}})
            ),
            "message wamid.X has no `type`"
        );
        assert_eq!(
            shape_error(
                json!({"id": "wamid.X", "from": "1", "timestamp": "1749416383", "type": "text"})
            ),
            "text message wamid.X has no `text` object"
        );
        assert_eq!(
            shape_error(
                json!({"id": "wamid.X", "from": "1", "timestamp": "soon", "type": "text", "text": {"body": "x"}})
            ),
            "the `timestamp` of message wamid.X is not a time we can read"
        );
    }

    #[test]
    fn a_profile_matches_the_sender_whatever_the_spelling() {
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "metadata": {"phone_number_id": "106540352242922"},
                "contacts": [{"profile": {"name": "Kofi"}, "wa_id": "233241234567"}],
                "messages": [{"from": "+233 24 123 4567", "id": "wamid.K", "timestamp": "1749416383",
                              "type": "text", "text": {"body": "hello"}}]
            }}]}]
        });
        let events = parse(&body, received()).unwrap();
        let InboundEvent::Message(message) = &events[0] else {
            panic!("not a message")
        };
        assert_eq!(message.profile_name.as_deref(), Some("Kofi"));
    }
}
