//! The readable one-line rendering of a message that the inbox lists and bots match on:
//! the text itself, a caption, or a short stand-in such as "[image]" or "📍 Office (…)".

use serde_json::Value;
use wacrm_domain::inbound::MessageKind;

use crate::webhook::json;

pub(crate) fn media(kind: MessageKind, object: &Value) -> String {
    if let Some(caption) = json::text(object, "caption") {
        return caption;
    }
    match kind {
        MessageKind::Audio if object.get("voice") == Some(&Value::Bool(true)) => {
            "[voice message]".to_owned()
        }
        MessageKind::Document => match json::text(object, "filename") {
            Some(filename) => format!("[document: {filename}]"),
            None => "[document]".to_owned(),
        },
        other => format!("[{}]", other.as_str()),
    }
}

pub(crate) fn location(location: &Value, latitude: f64, longitude: f64) -> String {
    let label =
        json::first_text(location, &["name", "address"]).unwrap_or_else(|| "Location".to_owned());
    format!("📍 {label} ({latitude}, {longitude})")
}

pub(crate) fn contacts(cards: &[Value]) -> String {
    let names: Vec<String> = cards.iter().filter_map(card_name).collect();
    if names.is_empty() {
        "[contacts]".to_owned()
    } else {
        format!("👤 {}", names.join(", "))
    }
}

fn card_name(card: &Value) -> Option<String> {
    let name = card.get("name");
    let formatted = name.and_then(|name| json::text(name, "formatted_name"));
    let parts = || {
        let name = name?;
        let parts: Vec<String> = ["first_name", "middle_name", "last_name"]
            .iter()
            .filter_map(|key| json::text(name, key))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    };
    let phone = || {
        card.get("phones")?
            .as_array()?
            .iter()
            .find_map(|phone| json::text(phone, "phone"))
    };
    // Flat providers may send `{name: "…", phone: "…"}` cards.
    let flat = || json::first_text(card, &["name", "phone"]);
    formatted.or_else(parts).or_else(phone).or_else(flat)
}

/// The title the customer tapped: a reply button, a list row, or a submitted flow form.
pub(crate) fn interactive(interactive: &Value) -> String {
    let reply = ["button_reply", "list_reply"]
        .iter()
        .find_map(|key| json::object(interactive, key))
        .and_then(|reply| json::first_text(reply, &["title", "id"]));
    if let Some(title) = reply {
        return title;
    }
    match json::text(interactive, "type").as_deref() {
        Some("nfm_reply") => "[form submitted]".to_owned(),
        _ => "[interactive reply]".to_owned(),
    }
}

/// A template's quick-reply button: its label, else the payload we set on it.
pub(crate) fn button(button: &Value) -> String {
    json::first_text(button, &["text", "payload"]).unwrap_or_else(|| "[button]".to_owned())
}

/// Meta sends a reaction without an emoji when the customer takes theirs back.
pub(crate) fn reaction(reaction: &Value) -> String {
    match json::text(reaction, "emoji") {
        Some(emoji) => format!("reacted {emoji}"),
        None => "removed a reaction".to_owned(),
    }
}

pub(crate) fn order(order: &Value) -> String {
    let items = order
        .get("product_items")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let noun = if items == 1 { "item" } else { "items" };
    match json::text(order, "text") {
        Some(text) => format!("🛒 order of {items} {noun}: {text}"),
        None => format!("🛒 order of {items} {noun}"),
    }
}

pub(crate) fn system(system: &Value) -> String {
    json::text(system, "body")
        .or_else(|| json::text(system, "type").map(|kind| format!("[system: {kind}]")))
        .unwrap_or_else(|| "[system message]".to_owned())
}

/// Names what could not be shown: the kind Meta reports (`unsupported.type`), else the
/// error's title, else the message type itself.
pub(crate) fn unsupported(type_name: &str, payload: &Value, errors: &[Value]) -> String {
    let reported = payload
        .get("unsupported")
        .and_then(|unsupported| json::text(unsupported, "type"));
    let error = || {
        errors
            .iter()
            .find_map(|error| json::first_text(error, &["title", "message", "details"]))
    };
    let own_type =
        || (!matches!(type_name, "unsupported" | "unknown")).then(|| type_name.to_owned());
    match reported.or_else(error).or_else(own_type) {
        Some(what) => format!("[unsupported message: {what}]"),
        None => "[unsupported message]".to_owned(),
    }
}
