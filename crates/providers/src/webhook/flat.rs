//! Turns the flat payloads of Lipachat and Whats91 into Meta's shapes, so that one set of
//! parsers (`meta::message`, `meta::status`, `meta::template`) reads every provider.
//!
//! Neither provider documents more than its text payload in full, so each field is
//! accepted both as Meta nests it (`image: {url, caption}`) and as a flat field
//! (`mediaUrl`, `caption`), under the spellings their documentation and APIs use.
//! The provider modules check the fields they require, with their own names, first.

use serde_json::{Map, Value, json};

use super::json;

/// A Meta-shaped message object for the flat message `flat`, whose provider calls its
/// kind `type_name` (`TEXT`, `IMAGE`, `LIST_REPLY`…).
pub(crate) fn meta_message(flat: &Value, id: String, from: String, type_name: &str) -> Value {
    let meta_type = meta_type(type_name, flat);
    let mut message = Map::new();
    message.insert("id".into(), Value::String(id));
    message.insert("from".into(), Value::String(from));
    message.insert("type".into(), Value::String(meta_type.to_owned()));
    if let Some(timestamp) = flat
        .get("timestamp")
        .filter(|timestamp| !timestamp.is_null())
    {
        message.insert("timestamp".into(), timestamp.clone());
    }
    if let Some(context) = context_id(flat) {
        message.insert("context".into(), json!({ "id": context }));
    }
    match meta_type {
        "text" => insert(&mut message, "text", text(flat)),
        "image" | "video" | "audio" | "document" | "sticker" => {
            insert(&mut message, meta_type, media(flat, meta_type, type_name));
        }
        "location" => insert(&mut message, "location", location(flat)),
        "contacts" => insert(&mut message, "contacts", contacts(flat)),
        "interactive" => insert(&mut message, "interactive", interactive(flat, type_name)),
        "button" => insert(&mut message, "button", button(flat)),
        "reaction" => insert(&mut message, "reaction", reaction(flat)),
        "order" | "system" => insert(&mut message, meta_type, nested(flat, &[meta_type])),
        _ => {
            let reported = type_name.trim().to_ascii_lowercase();
            insert(&mut message, "unsupported", json!({ "type": reported }));
            if let Some(errors) = flat.get("errors").filter(|errors| errors.is_array()) {
                message.insert("errors".into(), errors.clone());
            }
        }
    }
    Value::Object(message)
}

/// A Meta-shaped status object for a flat status callback.
pub(crate) fn meta_status(flat: &Value, id: String, status: String) -> Value {
    let failed = status.trim().eq_ignore_ascii_case("failed");
    let mut object = Map::new();
    object.insert("id".into(), Value::String(id));
    object.insert("status".into(), Value::String(status));
    if let Some(timestamp) = flat
        .get("timestamp")
        .filter(|timestamp| !timestamp.is_null())
    {
        object.insert("timestamp".into(), timestamp.clone());
    }
    // `to` last: in a callback about a message we sent, it is the customer.
    let recipient = json::first_text(flat, &["recipient", "recipientId", "recipient_id", "to"]);
    if let Some(recipient) = recipient {
        object.insert("recipient_id".into(), Value::String(recipient));
    }
    object.insert("errors".into(), Value::Array(errors(flat, failed)));
    Value::Object(object)
}

/// A Meta-shaped `message_template_status_update` value for a flat template update.
pub(crate) fn meta_template(flat: &Value, name: String, status: String) -> Value {
    let mut value = Map::new();
    value.insert("event".into(), Value::String(status));
    value.insert("message_template_name".into(), Value::String(name));
    let optional = [
        (
            "message_template_language",
            &["language", "languageCode", "language_code"][..],
        ),
        (
            "message_template_id",
            &["templateId", "template_id", "id"][..],
        ),
        (
            "reason",
            &[
                "reason",
                "rejectedReason",
                "rejectionReason",
                "rejected_reason",
            ][..],
        ),
    ];
    for (key, spellings) in optional {
        if let Some(found) = json::first_text(flat, spellings) {
            value.insert(key.into(), Value::String(found));
        }
    }
    Value::Object(value)
}

/// Meta's name for a provider's message type. A "button" is a template quick reply
/// (Meta's `button`) only when it carries a quick reply's `text` or `payload`; a tapped
/// reply button carries an `id` and `title`, which Meta calls `interactive`.
fn meta_type(type_name: &str, flat: &Value) -> &'static str {
    let name = type_name
        .trim()
        .to_ascii_lowercase()
        .replace(['-', ' '], "_");
    match name.as_str() {
        "text" | "chat" => "text",
        "image" | "photo" => "image",
        "video" => "video",
        "audio" | "voice" | "ptt" => "audio",
        "document" | "file" => "document",
        "sticker" => "sticker",
        "location" => "location",
        "contact" | "contacts" | "vcard" => "contacts",
        "interactive" | "interactive_reply" | "button_reply" | "buttonreply"
        | "button_response" | "list" | "list_reply" | "listreply" | "list_response" => {
            "interactive"
        }
        "button" | "quick_reply" if is_reply_button(flat) => "interactive",
        "button" | "quick_reply" => "button",
        "reaction" => "reaction",
        "order" => "order",
        "system" => "system",
        _ => "unsupported",
    }
}

fn is_reply_button(flat: &Value) -> bool {
    let tapped =
        json::first_object(flat, &["button_reply", "buttonReply", "interactive"]).is_some();
    let shaped = json::object(flat, "button").is_some_and(|button| {
        json::first_text(button, &["id", "title"]).is_some()
            && json::first_text(button, &["text", "payload"]).is_none()
    });
    tapped || shaped
}

fn insert(message: &mut Map<String, Value>, key: &str, value: Value) {
    message.insert(key.to_owned(), value);
}

/// The first nested object among `keys`, copied, or an empty object.
fn nested(flat: &Value, keys: &[&str]) -> Value {
    json::first_object(flat, keys)
        .cloned()
        .unwrap_or_else(|| json!({}))
}

/// Sets `key` in `object` when it is missing there, from the first spelling found.
fn fill(object: &mut Value, key: &str, found: Option<String>) {
    if let (Value::Object(fields), Some(found)) = (object, found) {
        fields.entry(key.to_owned()).or_insert(Value::String(found));
    }
}

fn context_id(flat: &Value) -> Option<String> {
    let nested = json::object(flat, "context")
        .and_then(|context| json::first_text(context, &["id", "messageId", "message_id"]));
    nested.or_else(|| {
        json::first_text(
            flat,
            &[
                "contextMessageId",
                "context_message_id",
                "replyToMessageId",
                "quotedMessageId",
            ],
        )
    })
}

/// Lipachat writes `text: "…"`; Meta-like payloads `text: {body}`.
fn text(flat: &Value) -> Value {
    let body = match flat.get("text") {
        Some(nested @ Value::Object(_)) => json::text(nested, "body"),
        _ => json::text(flat, "text"),
    };
    let body = body.or_else(|| json::first_text(flat, &["body", "message"]));
    json!({ "body": body })
}

/// `image: {url, caption}` (Lipachat's documented form), a Meta-like object with
/// `id`/`mime_type`, or flat `mediaUrl`, `caption`, `mimeType`… on the message itself.
fn media(flat: &Value, meta_type: &str, type_name: &str) -> Value {
    let own_key = type_name.trim().to_ascii_lowercase();
    let inner = json::first_object(flat, &[meta_type, own_key.as_str(), "media"]);
    let mut object = inner.cloned().unwrap_or_else(|| json!({}));
    // The message's own `id` is the message's, never the media's: flat ids must say so.
    let pick = |inner_keys: &[&str], flat_keys: &[&str]| {
        inner
            .and_then(|inner| json::first_text(inner, inner_keys))
            .or_else(|| json::first_text(flat, flat_keys))
    };
    let urls = [
        "url",
        "link",
        "mediaUrl",
        "media_url",
        "fileUrl",
        "file_url",
    ];
    let mime_types = [
        "mime_type",
        "mimeType",
        "mimetype",
        "contentType",
        "content_type",
    ];
    let filenames = ["filename", "fileName", "file_name"];
    fill(
        &mut object,
        "id",
        pick(&["id", "mediaId", "media_id"], &["mediaId", "media_id"]),
    );
    fill(&mut object, "url", pick(&urls, &urls));
    fill(&mut object, "mime_type", pick(&mime_types, &mime_types));
    fill(&mut object, "sha256", pick(&["sha256"], &["sha256"]));
    fill(&mut object, "caption", pick(&["caption"], &["caption"]));
    fill(&mut object, "filename", pick(&filenames, &filenames));
    if let Value::Object(fields) = &mut object {
        if matches!(own_key.as_str(), "voice" | "ptt") {
            fields.entry("voice").or_insert(Value::Bool(true));
        }
    }
    object
}

fn location(flat: &Value) -> Value {
    let inner = json::object(flat, "location");
    let mut object = inner.cloned().unwrap_or_else(|| json!({}));
    let coordinate = |keys: &[&str]| {
        inner
            .and_then(|inner| json::first_number(inner, keys))
            .or_else(|| json::first_number(flat, keys))
    };
    if let Value::Object(fields) = &mut object {
        // Canonical numbers, even where the provider sent strings.
        if let Some(latitude) = coordinate(&["latitude", "lat"]) {
            fields.insert("latitude".into(), json!(latitude));
        }
        if let Some(longitude) = coordinate(&["longitude", "lng", "lon", "long"]) {
            fields.insert("longitude".into(), json!(longitude));
        }
    }
    // A flat `name` would be the sender's; only a nested one names the place.
    fill(&mut object, "address", json::first_text(flat, &["address"]));
    fill(
        &mut object,
        "name",
        json::first_text(flat, &["locationName", "location_name"]),
    );
    object
}

fn contacts(flat: &Value) -> Value {
    let cards = ["contacts", "contact", "vcard"]
        .iter()
        .find_map(|key| match flat.get(*key) {
            Some(Value::Array(cards)) => Some(cards.clone()),
            Some(card @ Value::Object(_)) => Some(vec![card.clone()]),
            _ => None,
        });
    Value::Array(cards.unwrap_or_default())
}

/// A tapped reply button or list row as Meta's `{type, button_reply|list_reply: {id, title}}`.
fn interactive(flat: &Value, type_name: &str) -> Value {
    let meta_shaped = json::object(flat, "interactive").filter(|interactive| {
        json::first_object(interactive, &["button_reply", "list_reply", "nfm_reply"]).is_some()
    });
    if let Some(interactive) = meta_shaped {
        return interactive.clone();
    }
    let said_list = |text: &str| text.to_ascii_lowercase().contains("list");
    let generic_kind = |reply: &Value| {
        let typed = json::text(reply, "type").is_some_and(|kind| said_list(&kind));
        if typed || said_list(type_name) {
            "list_reply"
        } else {
            "button_reply"
        }
    };
    let candidates = [
        ("button_reply", Some("button_reply")),
        ("buttonReply", Some("button_reply")),
        ("list_reply", Some("list_reply")),
        ("listReply", Some("list_reply")),
        ("interactive", None),
        ("button", Some("button_reply")),
        ("list", Some("list_reply")),
        ("reply", None),
    ];
    let found = candidates.iter().find_map(|(key, kind)| {
        let reply = json::object(flat, key)?;
        Some((reply, kind.unwrap_or_else(|| generic_kind(reply))))
    });
    let (mut reply, kind) = match found {
        Some((reply, kind)) => (reply.clone(), kind),
        None => (json!({}), generic_kind(&Value::Null)),
    };
    let source = found.map_or(flat, |(reply, _)| reply);
    let flat_or = |inner_keys: &[&str], flat_keys: &[&str]| {
        json::first_text(source, inner_keys).or_else(|| json::first_text(flat, flat_keys))
    };
    fill(
        &mut reply,
        "id",
        flat_or(
            &["id", "replyId", "buttonId", "payload"],
            &["replyId", "buttonId", "listId"],
        ),
    );
    fill(
        &mut reply,
        "title",
        flat_or(
            &["title", "text", "replyTitle"],
            &["replyTitle", "buttonText", "title"],
        ),
    );
    fill(
        &mut reply,
        "description",
        json::first_text(source, &["description"]),
    );
    let mut interactive = Map::new();
    interactive.insert("type".into(), Value::String(kind.to_owned()));
    interactive.insert(kind.to_owned(), reply);
    Value::Object(interactive)
}

/// A template quick reply as Meta's `{text, payload}`.
fn button(flat: &Value) -> Value {
    let inner = json::object(flat, "button");
    let mut object = inner.cloned().unwrap_or_else(|| json!({}));
    let pick = |inner_keys: &[&str], flat_keys: &[&str]| {
        inner
            .and_then(|inner| json::first_text(inner, inner_keys))
            .or_else(|| json::first_text(flat, flat_keys))
    };
    fill(
        &mut object,
        "text",
        pick(&["text", "title"], &["buttonText", "text"]),
    );
    fill(
        &mut object,
        "payload",
        pick(&["payload", "id"], &["payload", "buttonPayload"]),
    );
    object
}

fn reaction(flat: &Value) -> Value {
    let inner = json::object(flat, "reaction");
    let mut object = inner.cloned().unwrap_or_else(|| json!({}));
    let ids = ["message_id", "messageId", "reactedMessageId"];
    let reacted_to = inner.and_then(|inner| json::first_text(inner, &ids));
    fill(
        &mut object,
        "message_id",
        reacted_to.or_else(|| json::first_text(flat, &["reactedMessageId"])),
    );
    fill(&mut object, "emoji", json::first_text(flat, &["emoji"]));
    object
}

/// A status callback's errors, as Meta-shaped error objects. A failure that names no
/// error keeps its description (`statusDesc`) so the person who sent it can act on it.
fn errors(flat: &Value, failed: bool) -> Vec<Value> {
    let mut errors: Vec<Value> = match flat.get("errors") {
        Some(Value::Array(errors)) => errors.clone(),
        Some(error @ (Value::Object(_) | Value::String(_))) => vec![error.clone()],
        _ => Vec::new(),
    };
    if let Some(error @ (Value::Object(_) | Value::String(_))) = flat.get("error") {
        errors.push(error.clone());
    }
    let code = json::first_text(flat, &["errorCode", "error_code"]);
    let message = json::first_text(flat, &["errorMessage", "error_message", "errorDescription"]);
    if errors.is_empty() && (code.is_some() || message.is_some()) {
        errors.push(json!({ "code": code, "message": message }));
    }
    let description = json::first_text(
        flat,
        &["statusDesc", "statusDescription", "description", "reason"],
    );
    if let (true, true, Some(description)) = (errors.is_empty(), failed, description) {
        errors.push(json!({ "title": description }));
    }
    errors
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lipachat_text_becomes_a_meta_text() {
        let flat = json!({"messageId": "c94ced08", "from": "254712345678", "type": "TEXT", "text": "Hello"});
        let message = meta_message(&flat, "c94ced08".into(), "254712345678".into(), "TEXT");
        assert_eq!(
            message,
            json!({"id": "c94ced08", "from": "254712345678", "type": "text", "text": {"body": "Hello"}})
        );
    }

    #[test]
    fn nested_and_flat_media_meet_in_one_shape() {
        let nested = json!({"type": "IMAGE", "image": {"caption": null, "url": "https://cdn.example/a.jpg"}});
        let message = meta_message(&nested, "m1".into(), "1".into(), "IMAGE");
        assert_eq!(message["image"]["url"], "https://cdn.example/a.jpg");
        assert_eq!(message["image"]["caption"], json!(null));

        let flat = json!({"type": "DOCUMENT", "mediaUrl": "https://cdn.example/b.pdf", "mimeType": "application/pdf",
                          "fileName": "b.pdf", "caption": "Quote"});
        let message = meta_message(&flat, "m2".into(), "1".into(), "DOCUMENT");
        assert_eq!(
            message["document"],
            json!({"url": "https://cdn.example/b.pdf", "mime_type": "application/pdf", "filename": "b.pdf", "caption": "Quote"})
        );

        let voice = json!({"type": "voice", "voice": {"url": "https://cdn.example/c.ogg", "mimeType": "audio/ogg"}});
        let message = meta_message(&voice, "m3".into(), "1".into(), "voice");
        assert_eq!(message["type"], "audio");
        assert_eq!(message["audio"]["voice"], true);
        assert_eq!(message["audio"]["mime_type"], "audio/ogg");
    }

    #[test]
    fn a_button_is_a_quick_reply_or_a_reply_button_by_what_it_carries() {
        let quick = json!({"type": "BUTTON", "button": {"text": "Yes", "payload": "YES"}});
        assert_eq!(
            meta_message(&quick, "m".into(), "1".into(), "BUTTON")["type"],
            "button"
        );
        let tapped = json!({"type": "BUTTON", "button": {"id": "YES_BTN", "title": "Yes"}});
        let message = meta_message(&tapped, "m".into(), "1".into(), "BUTTON");
        assert_eq!(message["type"], "interactive");
        assert_eq!(
            message["interactive"],
            json!({"type": "button_reply", "button_reply": {"id": "YES_BTN", "title": "Yes"}})
        );
    }

    #[test]
    fn statuses_keep_their_errors() {
        let flat = json!({"messageId": "m", "status": "FAILED", "statusDesc": "Recipient not on WhatsApp"});
        let status = meta_status(&flat, "m".into(), "FAILED".into());
        assert_eq!(
            status["errors"],
            json!([{"title": "Recipient not on WhatsApp"}])
        );

        let delivered =
            json!({"messageId": "m", "status": "DELIVERED", "statusDesc": "Message delivered"});
        assert_eq!(
            meta_status(&delivered, "m".into(), "DELIVERED".into())["errors"],
            json!([])
        );

        let coded = json!({"status": "failed", "error": {"code": 131026, "title": "Message undeliverable"}});
        assert_eq!(
            meta_status(&coded, "m".into(), "failed".into())["errors"],
            json!([{"code": 131026, "title": "Message undeliverable"}])
        );
    }
}
