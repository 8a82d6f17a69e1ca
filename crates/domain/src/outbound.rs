//! A message we send, whichever provider carries it: what it contains, the limits
//! WhatsApp puts on that content, and the one-line rendering the inbox lists.
//!
//! The JSON shape (`#[serde(tag = "type")]`) is what the API accepts and the outbox
//! stores, e.g. `{"type": "text", "text": "Hi"}`, `{"type": "image", "link": "https://…"}`,
//! `{"type": "interactive", "kind": "buttons", "body": "…", "buttons": [{"id", "title"}]}`
//! or `{"type": "template", "name": "order_update", "language": "en",
//! "header": {"type": "image", "link": "https://…"}, "body_params": ["Asha", "#1042"],
//! "button_params": [{"index": 0, "sub_type": "url", "param": "1042"}]}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::inbound::MessageKind;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundMessage {
    /// Our id for the message. Lipachat sends it back in its status callbacks as
    /// `messageId`, so for Lipachat it is also the provider's id.
    pub client_id: Uuid,
    /// The customer's number: E.164 digits, no `+`; empty when only `to_user_id`
    /// is known.
    pub to: String,
    /// Meta's business-scoped user id, for a customer whose number we do not
    /// know; Meta takes it as `recipient`. Other providers cannot reach such a
    /// customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_user_id: Option<String>,
    pub content: OutboundContent,
    /// The provider message id this one quotes (WhatsApp's reply context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutboundContent {
    Text {
        text: String,
        /// Ask WhatsApp to render a preview of the first link in the text.
        #[serde(default)]
        preview_url: bool,
    },
    /// An approved template; the only content allowed outside the 24-hour window.
    Template {
        name: String,
        /// The template's language code as the provider lists it, e.g. `en` or `pt_BR`.
        language: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<TemplateHeader>,
        /// The values of the body's placeholders, in order.
        #[serde(default)]
        body_params: Vec<String>,
        #[serde(default)]
        button_params: Vec<ButtonParam>,
        /// For Meta's named-parameter templates (`{{first_name}}`): the placeholder
        /// name of each body parameter, same order as `body_params`. Empty for
        /// positional (`{{1}}`) templates. `template::requirements` lists them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        body_param_names: Vec<String>,
        /// Likewise for the header's one text parameter.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header_param_name: Option<String>,
    },
    Image(Media),
    Audio(Media),
    Video(Media),
    Document(Media),
    Sticker(Media),
    Location {
        latitude: f64,
        longitude: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
    },
    Contacts {
        /// Contact cards exactly as Meta documents them (`name.formatted_name`, `phones`…).
        contacts: Vec<Value>,
    },
    Interactive(Interactive),
    /// A reaction to one of the customer's messages; an empty emoji removes ours.
    Reaction {
        message_id: String,
        emoji: String,
    },
}

/// Media by a public link or by an id the provider gave an upload: exactly one of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Media {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// Images, videos and documents only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Documents only: the name the customer sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// A text header's one parameter: 1 to 60 characters, not only spaces (the
/// document's shape only).
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(min_length = 1, max_length = 60, pattern = r"\S")]
#[allow(dead_code)]
pub struct HeaderParamText(String);

/// A body parameter's value: 1 to 1024 characters, not only spaces (the
/// document's shape only).
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(min_length = 1, max_length = 1024, pattern = r"\S")]
#[allow(dead_code)]
pub struct BodyParamText(String);

/// A template's header value: the text header's parameters, or the media it
/// shows, by a public link or by the id the provider gave an upload (Meta's
/// `POST /{phone-number-id}/media`): exactly one of the two, as for [`Media`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TemplateHeader {
    Text {
        #[cfg_attr(feature = "openapi", schema(max_items = 1, value_type = Vec<HeaderParamText>))]
        params: Vec<String>,
    },
    Image {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(
            feature = "openapi",
            schema(pattern = r"^ *[Hh][Tt][Tt][Pp][Ss]?://[^/\s]")
        )]
        link: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_id: Option<String>,
    },
    Video {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(
            feature = "openapi",
            schema(pattern = r"^ *[Hh][Tt][Tt][Pp][Ss]?://[^/\s]")
        )]
        link: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_id: Option<String>,
    },
    Document {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(
            feature = "openapi",
            schema(pattern = r"^ *[Hh][Tt][Tt][Pp][Ss]?://[^/\s]")
        )]
        link: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filename: Option<String>,
    },
}

/// Where a media header's file comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaSource<'a> {
    Link(&'a str),
    Uploaded(&'a str),
}

impl TemplateHeader {
    /// The media header's file: its link, else its upload's id; `None` for a
    /// text header or one that names neither (refused by
    /// [`OutboundContent::validate`]).
    pub fn media_source(&self) -> Option<MediaSource<'_>> {
        let (link, media_id) = match self {
            Self::Text { .. } => return None,
            Self::Image { link, media_id }
            | Self::Video { link, media_id }
            | Self::Document { link, media_id, .. } => (link, media_id),
        };
        fn given(value: &Option<String>) -> Option<&str> {
            value.as_deref().filter(|value| !value.trim().is_empty())
        }
        given(link)
            .map(MediaSource::Link)
            .or_else(|| given(media_id).map(MediaSource::Uploaded))
    }
}

/// The value for one of a template's buttons, by its position among the buttons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ButtonParam {
    /// 0-based position of the button in the template.
    #[cfg_attr(feature = "openapi", schema(maximum = 9))]
    pub index: u8,
    pub sub_type: ButtonSubType,
    /// The URL suffix, the quick-reply payload, or the coupon code.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 2000, pattern = r"\S")
    )]
    pub param: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ButtonSubType {
    /// A URL button whose link ends in a placeholder.
    Url,
    /// The payload sent back when the customer taps the quick reply.
    QuickReply,
    /// The code a copy-code button copies.
    CopyCode,
}

impl ButtonSubType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Url => "url",
            Self::QuickReply => "quick_reply",
            Self::CopyCode => "copy_code",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Interactive {
    /// Up to three reply buttons.
    Buttons {
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 1024, pattern = r"\S")
        )]
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 60, pattern = r"\S")
        )]
        header: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 60, pattern = r"\S")
        )]
        footer: Option<String>,
        #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 3))]
        buttons: Vec<ReplyButton>,
    },
    /// A menu: one button opens sections of rows.
    List {
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 4096, pattern = r"\S")
        )]
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 60, pattern = r"\S")
        )]
        header: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 60, pattern = r"\S")
        )]
        footer: Option<String>,
        /// The label of the button that opens the list.
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 20, pattern = r"\S")
        )]
        button: String,
        #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 10))]
        sections: Vec<ListSection>,
    },
    /// One button that opens a URL.
    CtaUrl {
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 1024, pattern = r"\S")
        )]
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 60, pattern = r"\S")
        )]
        header: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 60, pattern = r"\S")
        )]
        footer: Option<String>,
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 20, pattern = r"\S")
        )]
        display_text: String,
        #[cfg_attr(
            feature = "openapi",
            schema(pattern = r"^ *[Hh][Tt][Tt][Pp][Ss]?://[^/\s]")
        )]
        url: String,
    },
    /// A WhatsApp Flow (Meta's `interactive.type = "flow"`): a button that opens the
    /// published Flow named by `flow_id` or `flow_name`; the customer's answers come
    /// back as an `nfm_reply` message.
    Flow {
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 1024, pattern = r"\S")
        )]
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 60, pattern = r"\S")
        )]
        header: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 60, pattern = r"\S")
        )]
        footer: Option<String>,
        /// Meta's Flow message version; only `"3"` exists.
        #[serde(default = "flow_message_version")]
        #[cfg_attr(feature = "openapi", schema(pattern = "^3$"))]
        flow_message_version: String,
        /// Our identifier for this Flow session, echoed back in the reply.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 256, pattern = r"\S")
        )]
        flow_token: Option<String>,
        /// Exactly one of `flow_id` and `flow_name`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        flow_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        flow_name: Option<String>,
        /// The button's label: at most 20 characters.
        #[cfg_attr(
            feature = "openapi",
            schema(min_length = 1, max_length = 20, pattern = r"\S")
        )]
        flow_cta: String,
        #[serde(default)]
        flow_action: FlowAction,
        /// Required for `navigate` (the first screen), absent for `data_exchange`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        flow_action_payload: Option<FlowActionPayload>,
    },
}

/// How a Flow starts: on a screen we name, or by asking our data endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FlowAction {
    #[default]
    Navigate,
    DataExchange,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FlowActionPayload {
    /// The id of the Flow's first screen.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 256, pattern = r"\S")
    )]
    pub screen: String,
    /// Input for that screen: a non-empty object when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub data: Option<Value>,
}

fn flow_message_version() -> String {
    "3".to_owned()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplyButton {
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 256, pattern = r"\S")
    )]
    pub id: String,
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 20, pattern = r"\S")
    )]
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListSection {
    /// Required by WhatsApp once there is more than one section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 24, pattern = r"\S")
    )]
    pub title: Option<String>,
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 10))]
    pub rows: Vec<ListRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListRow {
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 200, pattern = r"\S")
    )]
    pub id: String,
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 24, pattern = r"\S")
    )]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 72))]
    pub description: Option<String>,
}

/// WhatsApp's limits, in characters.
mod limits {
    pub const TEXT: usize = 4096;
    pub const CAPTION: usize = 1024;
    pub const TEMPLATE_PARAM: usize = 1024;
    pub const INTERACTIVE_BODY: usize = 1024;
    pub const LIST_BODY: usize = 4096;
    pub const HEADER: usize = 60;
    pub const FOOTER: usize = 60;
    pub const BUTTON_TITLE: usize = 20;
    pub const BUTTON_ID: usize = 256;
    pub const BUTTONS: usize = 3;
    pub const SECTIONS: usize = 10;
    pub const ROWS: usize = 10;
    pub const SECTION_TITLE: usize = 24;
    pub const ROW_ID: usize = 200;
    pub const ROW_TITLE: usize = 24;
    pub const ROW_DESCRIPTION: usize = 72;
    pub const BUTTON_INDEX: u8 = 9;
    /// The inbox preview, not a WhatsApp limit.
    pub const PREVIEW: usize = 160;
}

/// Field errors: the field's path (`buttons[1].title`) and what is wrong with it.
pub type FieldErrors = Vec<(String, String)>;

impl OutboundContent {
    pub fn kind(&self) -> MessageKind {
        match self {
            Self::Text { .. } => MessageKind::Text,
            Self::Template { .. } => MessageKind::Template,
            Self::Image(_) => MessageKind::Image,
            Self::Audio(_) => MessageKind::Audio,
            Self::Video(_) => MessageKind::Video,
            Self::Document(_) => MessageKind::Document,
            Self::Sticker(_) => MessageKind::Sticker,
            Self::Location { .. } => MessageKind::Location,
            Self::Contacts { .. } => MessageKind::Contacts,
            Self::Interactive(_) => MessageKind::Interactive,
            Self::Reaction { .. } => MessageKind::Reaction,
        }
    }

    /// Templates may be sent whether or not the customer's 24-hour window is open.
    pub fn is_template(&self) -> bool {
        matches!(self, Self::Template { .. })
    }

    /// A readable one-liner for the inbox, in the style of inbound messages' bodies.
    pub fn preview(&self) -> String {
        let line = match self {
            Self::Text { text, .. } => text.clone(),
            Self::Template { name, .. } => format!("[template: {name}]"),
            Self::Image(media) | Self::Video(media) | Self::Sticker(media) => media
                .caption
                .clone()
                .filter(|caption| !caption.trim().is_empty())
                .unwrap_or_else(|| format!("[{}]", self.kind().as_str())),
            Self::Audio(_) => "[audio]".to_owned(),
            Self::Document(media) => match (&media.caption, &media.filename) {
                (Some(caption), _) if !caption.trim().is_empty() => caption.clone(),
                (_, Some(filename)) => format!("[document: {filename}]"),
                _ => "[document]".to_owned(),
            },
            Self::Location {
                latitude,
                longitude,
                name,
                address,
            } => {
                let label = name
                    .as_ref()
                    .or(address.as_ref())
                    .map_or("Location", String::as_str);
                format!("📍 {label} ({latitude}, {longitude})")
            }
            Self::Contacts { contacts } => {
                let names: Vec<&str> = contacts.iter().filter_map(contact_name).collect();
                if names.is_empty() {
                    "[contacts]".to_owned()
                } else {
                    format!("👤 {}", names.join(", "))
                }
            }
            Self::Interactive(interactive) => interactive.body().to_owned(),
            Self::Reaction { emoji, .. } if emoji.is_empty() => "removed a reaction".to_owned(),
            Self::Reaction { emoji, .. } => format!("reacted {emoji}"),
        };
        one_line(&line)
    }

    /// Every way the content breaks WhatsApp's rules, so a caller can report them all
    /// at once instead of letting the provider refuse the first.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = Errors::default();
        match self {
            Self::Text { text, .. } => errors.text("text", text, 1, limits::TEXT),
            Self::Template {
                name,
                language,
                header,
                body_params,
                button_params,
                body_param_names,
                header_param_name,
            } => {
                errors.text("name", name, 1, 512);
                errors.text("language", language, 1, 16);
                validate_template_header(&mut errors, header.as_ref(), header_param_name);
                for (index, param) in body_params.iter().enumerate() {
                    errors.text(
                        &format!("body_params[{index}]"),
                        param,
                        1,
                        limits::TEMPLATE_PARAM,
                    );
                }
                if !body_param_names.is_empty() && body_param_names.len() != body_params.len() {
                    errors.push(
                        "body_param_names",
                        format!(
                            "must name each of the {} body parameters, {} names given",
                            body_params.len(),
                            body_param_names.len()
                        ),
                    );
                }
                validate_button_params(&mut errors, button_params);
            }
            Self::Image(media) | Self::Video(media) | Self::Document(media) => {
                validate_media(&mut errors, media, true);
            }
            Self::Audio(media) | Self::Sticker(media) => validate_media(&mut errors, media, false),
            Self::Location {
                latitude,
                longitude,
                ..
            } => {
                if !(-90.0..=90.0).contains(latitude) {
                    errors.push("latitude", "must be between -90 and 90");
                }
                if !(-180.0..=180.0).contains(longitude) {
                    errors.push("longitude", "must be between -180 and 180");
                }
            }
            Self::Contacts { contacts } => {
                if contacts.is_empty() {
                    errors.push("contacts", "must hold at least one contact");
                }
                for (index, contact) in contacts.iter().enumerate() {
                    if contact_name(contact).is_none() {
                        errors.push(
                            format!("contacts[{index}].name.formatted_name"),
                            "is required",
                        );
                    }
                }
            }
            Self::Interactive(interactive) => validate_interactive(&mut errors, interactive),
            Self::Reaction { message_id, .. } => errors.text("message_id", message_id, 1, 256),
        }
        // Media kinds that cannot carry a caption or a filename.
        if let Self::Image(media) | Self::Video(media) | Self::Audio(media) | Self::Sticker(media) =
            self
        {
            if media.filename.is_some() {
                errors.push("filename", "only documents carry a filename");
            }
        }
        errors.finish()
    }
}

impl Interactive {
    pub fn body(&self) -> &str {
        match self {
            Self::Buttons { body, .. }
            | Self::List { body, .. }
            | Self::CtaUrl { body, .. }
            | Self::Flow { body, .. } => body,
        }
    }
}

/// A card's `name.formatted_name`, which WhatsApp requires of every contact.
fn contact_name(card: &Value) -> Option<&str> {
    card.get("name")?
        .get("formatted_name")?
        .as_str()
        .filter(|name| !name.trim().is_empty())
}

fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= limits::PREVIEW {
        return joined;
    }
    let cut: String = joined.chars().take(limits::PREVIEW - 1).collect();
    format!("{}…", cut.trim_end())
}

fn is_http_url(link: &str) -> bool {
    let lower = link.trim().to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
}

/// A file given by exactly one of an http(s) link and an upload's id; the
/// fields are named under `prefix` (`""` or `"header."`).
fn validate_link_or_id(
    errors: &mut Errors,
    prefix: &str,
    link: Option<&String>,
    media_id: Option<&String>,
) {
    let link = link.filter(|link| !link.trim().is_empty());
    let id = media_id.filter(|id| !id.trim().is_empty());
    match (link, id) {
        (None, None) => errors.push(format!("{prefix}link"), "a link or a media_id is required"),
        (Some(_), Some(_)) => errors.push(
            format!("{prefix}media_id"),
            "give a link or a media_id, not both",
        ),
        (Some(link), None) if !is_http_url(link) => {
            errors.push(format!("{prefix}link"), "must be an http(s) URL");
        }
        _ => {}
    }
}

fn validate_media(errors: &mut Errors, media: &Media, captioned: bool) {
    validate_link_or_id(errors, "", media.link.as_ref(), media.media_id.as_ref());
    match &media.caption {
        Some(_) if !captioned => errors.push("caption", "audio and stickers carry no caption"),
        Some(caption) => errors.max("caption", caption, limits::CAPTION),
        None => {}
    }
}

fn validate_template_header(
    errors: &mut Errors,
    header: Option<&TemplateHeader>,
    param_name: &Option<String>,
) {
    match header {
        Some(TemplateHeader::Text { params }) => {
            if params.len() > 1 {
                errors.push("header.params", "a text header takes at most 1 parameter");
            }
            for (index, param) in params.iter().enumerate() {
                errors.text(&format!("header.params[{index}]"), param, 1, limits::HEADER);
            }
        }
        Some(
            TemplateHeader::Image { link, media_id }
            | TemplateHeader::Video { link, media_id }
            | TemplateHeader::Document { link, media_id, .. },
        ) => validate_link_or_id(errors, "header.", link.as_ref(), media_id.as_ref()),
        None => {}
    }
    let has_text_param =
        matches!(header, Some(TemplateHeader::Text { params }) if !params.is_empty());
    if param_name.is_some() && !has_text_param {
        errors.push(
            "header_param_name",
            "names a header parameter, but no text header parameter is given",
        );
    }
}

fn validate_button_params(errors: &mut Errors, params: &[ButtonParam]) {
    for (position, param) in params.iter().enumerate() {
        let field = format!("button_params[{position}]");
        if param.index > limits::BUTTON_INDEX {
            errors.push(
                format!("{field}.index"),
                format!("must be at most {}", limits::BUTTON_INDEX),
            );
        }
        if params[..position]
            .iter()
            .any(|earlier| earlier.index == param.index)
        {
            errors.push(
                format!("{field}.index"),
                format!("button {} is given twice", param.index),
            );
        }
        errors.text(&format!("{field}.param"), &param.param, 1, 2000);
    }
}

fn validate_interactive(errors: &mut Errors, interactive: &Interactive) {
    let (header, footer) = match interactive {
        Interactive::Buttons { header, footer, .. }
        | Interactive::List { header, footer, .. }
        | Interactive::CtaUrl { header, footer, .. }
        | Interactive::Flow { header, footer, .. } => (header, footer),
    };
    if let Some(header) = header {
        errors.text("header", header, 1, limits::HEADER);
    }
    if let Some(footer) = footer {
        errors.text("footer", footer, 1, limits::FOOTER);
    }
    match interactive {
        Interactive::Buttons { body, buttons, .. } => {
            errors.text("body", body, 1, limits::INTERACTIVE_BODY);
            if !(1..=limits::BUTTONS).contains(&buttons.len()) {
                errors.push(
                    "buttons",
                    format!("must hold 1 to 3 buttons, {} given", buttons.len()),
                );
            }
            for (index, button) in buttons.iter().enumerate() {
                errors.text(
                    &format!("buttons[{index}].id"),
                    &button.id,
                    1,
                    limits::BUTTON_ID,
                );
                errors.text(
                    &format!("buttons[{index}].title"),
                    &button.title,
                    1,
                    limits::BUTTON_TITLE,
                );
                if buttons[..index].iter().any(|other| other.id == button.id) {
                    errors.push(format!("buttons[{index}].id"), "must be unique");
                }
                if buttons[..index]
                    .iter()
                    .any(|other| other.title == button.title)
                {
                    errors.push(format!("buttons[{index}].title"), "must be unique");
                }
            }
        }
        Interactive::List {
            body,
            button,
            sections,
            ..
        } => {
            errors.text("body", body, 1, limits::LIST_BODY);
            errors.text("button", button, 1, limits::BUTTON_TITLE);
            if !(1..=limits::SECTIONS).contains(&sections.len()) {
                errors.push(
                    "sections",
                    format!("must hold 1 to 10 sections, {} given", sections.len()),
                );
            }
            let rows: usize = sections.iter().map(|section| section.rows.len()).sum();
            if !(1..=limits::ROWS).contains(&rows) {
                errors.push(
                    "sections",
                    format!("must hold 1 to 10 rows in all, {rows} given"),
                );
            }
            let mut ids: Vec<&str> = Vec::new();
            for (s, section) in sections.iter().enumerate() {
                match &section.title {
                    Some(title) => errors.text(
                        &format!("sections[{s}].title"),
                        title,
                        1,
                        limits::SECTION_TITLE,
                    ),
                    None if sections.len() > 1 => errors.push(
                        format!("sections[{s}].title"),
                        "is required when there is more than one section",
                    ),
                    None => {}
                }
                for (r, row) in section.rows.iter().enumerate() {
                    let field = format!("sections[{s}].rows[{r}]");
                    errors.text(&format!("{field}.id"), &row.id, 1, limits::ROW_ID);
                    errors.text(&format!("{field}.title"), &row.title, 1, limits::ROW_TITLE);
                    if let Some(description) = &row.description {
                        errors.max(
                            &format!("{field}.description"),
                            description,
                            limits::ROW_DESCRIPTION,
                        );
                    }
                    if ids.contains(&row.id.as_str()) {
                        errors.push(format!("{field}.id"), "must be unique across the list");
                    }
                    ids.push(&row.id);
                }
            }
        }
        Interactive::CtaUrl {
            body,
            display_text,
            url,
            ..
        } => {
            errors.text("body", body, 1, limits::INTERACTIVE_BODY);
            errors.text("display_text", display_text, 1, limits::BUTTON_TITLE);
            if !is_http_url(url) {
                errors.push("url", "must be an http(s) URL");
            }
        }
        Interactive::Flow {
            body,
            flow_message_version,
            flow_token,
            flow_id,
            flow_name,
            flow_cta,
            flow_action,
            flow_action_payload,
            ..
        } => validate_flow(
            errors,
            body,
            flow_message_version,
            flow_token.as_deref(),
            (flow_id.as_deref(), flow_name.as_deref()),
            flow_cta,
            *flow_action,
            flow_action_payload.as_ref(),
        ),
    }
}

/// Meta's rules for a Flow message (developers.facebook.com/documentation/
/// business-messaging/whatsapp/flows/guides/sendingaflow/).
#[allow(clippy::too_many_arguments)]
fn validate_flow(
    errors: &mut Errors,
    body: &str,
    version: &str,
    token: Option<&str>,
    (id, name): (Option<&str>, Option<&str>),
    cta: &str,
    action: FlowAction,
    payload: Option<&FlowActionPayload>,
) {
    errors.text("body", body, 1, limits::INTERACTIVE_BODY);
    if version != "3" {
        errors.push("flow_message_version", "must be \"3\"");
    }
    if let Some(token) = token {
        errors.text("flow_token", token, 1, limits::BUTTON_ID);
    }
    let given = |value: Option<&str>| value.is_some_and(|value| !value.trim().is_empty());
    match (given(id), given(name)) {
        (false, false) => errors.push("flow_id", "a flow_id or a flow_name is required"),
        (true, true) => errors.push("flow_name", "give a flow_id or a flow_name, not both"),
        _ => {}
    }
    errors.text("flow_cta", cta, 1, limits::BUTTON_TITLE);
    match (action, payload) {
        (FlowAction::Navigate, None) => errors.push(
            "flow_action_payload",
            "is required for navigate: name the first screen",
        ),
        (FlowAction::Navigate, Some(payload)) => {
            errors.text("flow_action_payload.screen", &payload.screen, 1, 256);
            match &payload.data {
                Some(Value::Object(data)) if data.is_empty() => errors.push(
                    "flow_action_payload.data",
                    "must not be empty: leave it out instead",
                ),
                Some(Value::Object(_)) | None => {}
                Some(_) => errors.push("flow_action_payload.data", "must be an object"),
            }
        }
        (FlowAction::DataExchange, Some(_)) => errors.push(
            "flow_action_payload",
            "must be left out for data_exchange: the data endpoint names the first screen",
        ),
        (FlowAction::DataExchange, None) => {}
    }
}

/// Collects field errors in the order the fields appear.
#[derive(Default)]
struct Errors(FieldErrors);

impl Errors {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push((field.into(), message.into()));
    }

    /// Text of `min..=max` characters; blank counts as empty.
    fn text(&mut self, field: &str, value: &str, min: usize, max: usize) {
        if min > 0 && value.trim().is_empty() {
            self.push(field, "must not be empty");
        } else {
            self.max(field, value, max);
        }
    }

    fn max(&mut self, field: &str, value: &str, max: usize) {
        let length = value.chars().count();
        if length > max {
            self.push(
                field,
                format!("must be at most {max} characters, {length} given"),
            );
        }
    }

    fn finish(self) -> Result<(), FieldErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn text(text: &str) -> OutboundContent {
        OutboundContent::Text {
            text: text.into(),
            preview_url: false,
        }
    }

    fn image(link: Option<&str>, media_id: Option<&str>) -> OutboundContent {
        OutboundContent::Image(Media {
            link: link.map(Into::into),
            media_id: media_id.map(Into::into),
            ..Media::default()
        })
    }

    fn buttons(titles: &[&str]) -> OutboundContent {
        OutboundContent::Interactive(Interactive::Buttons {
            body: "Pick one".into(),
            header: None,
            footer: None,
            buttons: titles
                .iter()
                .enumerate()
                .map(|(index, title)| ReplyButton {
                    id: format!("b{index}"),
                    title: (*title).into(),
                })
                .collect(),
        })
    }

    fn list(rows: usize) -> OutboundContent {
        OutboundContent::Interactive(Interactive::List {
            body: "Choose a service".into(),
            header: None,
            footer: None,
            button: "Services".into(),
            sections: vec![ListSection {
                title: None,
                rows: (0..rows)
                    .map(|row| ListRow {
                        id: format!("r{row}"),
                        title: format!("Row {row}"),
                        description: None,
                    })
                    .collect(),
            }],
        })
    }

    fn fields(content: &OutboundContent) -> Vec<String> {
        content
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|(field, _)| field)
            .collect()
    }

    #[test]
    fn text_needs_1_to_4096_characters() {
        assert!(text("Hello").validate().is_ok());
        assert!(text(&"é".repeat(4096)).validate().is_ok());
        assert_eq!(
            text(&"é".repeat(4097)).validate().unwrap_err(),
            vec![(
                "text".to_owned(),
                "must be at most 4096 characters, 4097 given".to_owned()
            )]
        );
        assert_eq!(fields(&text("  ")), ["text"]);
    }

    #[test]
    fn media_needs_a_link_or_an_id_but_not_both() {
        assert!(
            image(Some("https://cdn.example/a.jpg"), None)
                .validate()
                .is_ok()
        );
        assert!(image(None, Some("1234567890")).validate().is_ok());
        assert_eq!(fields(&image(None, None)), ["link"]);
        assert_eq!(
            fields(&image(Some("https://cdn.example/a.jpg"), Some("1"))),
            ["media_id"]
        );
        assert_eq!(
            fields(&image(Some("ftp://cdn.example/a.jpg"), None)),
            ["link"]
        );
    }

    #[test]
    fn only_documents_carry_a_filename_and_audio_no_caption() {
        let audio = OutboundContent::Audio(Media {
            link: Some("https://cdn.example/a.ogg".into()),
            caption: Some("listen".into()),
            filename: Some("a.ogg".into()),
            ..Media::default()
        });
        assert_eq!(fields(&audio), ["caption", "filename"]);
        let document = OutboundContent::Document(Media {
            link: Some("https://cdn.example/q.pdf".into()),
            caption: Some("Your quote".into()),
            filename: Some("quote.pdf".into()),
            ..Media::default()
        });
        assert!(document.validate().is_ok());
    }

    #[test]
    fn one_to_three_buttons_of_at_most_20_characters() {
        assert!(buttons(&["Yes", "No", "Maybe"]).validate().is_ok());
        assert_eq!(fields(&buttons(&[])), ["buttons"]);
        assert_eq!(fields(&buttons(&["a", "b", "c", "d"])), ["buttons"]);
        assert_eq!(
            fields(&buttons(&["Yes", "This title is far too long"])),
            ["buttons[1].title"]
        );
        assert_eq!(fields(&buttons(&["Yes", "Yes"])), ["buttons[1].title"]);
    }

    #[test]
    fn a_list_holds_1_to_10_rows() {
        assert!(list(10).validate().is_ok());
        assert_eq!(fields(&list(11)), ["sections"]);
        assert_eq!(fields(&list(0)), ["sections"]);
    }

    #[test]
    fn several_sections_need_titles() {
        let content = OutboundContent::Interactive(Interactive::List {
            body: "Choose".into(),
            header: None,
            footer: None,
            button: "Open".into(),
            sections: vec![
                ListSection {
                    title: None,
                    rows: vec![ListRow {
                        id: "a".into(),
                        title: "A".into(),
                        description: None,
                    }],
                },
                ListSection {
                    title: Some("Second".into()),
                    rows: vec![ListRow {
                        id: "a".into(),
                        title: "B".into(),
                        description: Some("d".repeat(73)),
                    }],
                },
            ],
        });
        assert_eq!(
            fields(&content),
            [
                "sections[0].title",
                "sections[1].rows[0].description",
                "sections[1].rows[0].id"
            ]
        );
    }

    #[test]
    fn coordinates_stay_on_earth() {
        let location = |latitude, longitude| OutboundContent::Location {
            latitude,
            longitude,
            name: None,
            address: None,
        };
        assert!(location(-1.2921, 36.8219).validate().is_ok());
        assert_eq!(fields(&location(90.5, 0.0)), ["latitude"]);
        assert_eq!(fields(&location(0.0, -180.5)), ["longitude"]);
        assert_eq!(fields(&location(f64::NAN, 0.0)), ["latitude"]);
    }

    #[test]
    fn contacts_need_a_formatted_name() {
        let contacts = OutboundContent::Contacts {
            contacts: vec![
                json!({"name": {"formatted_name": "Asha Otieno"}, "phones": [{"phone": "+254700000001"}]}),
                json!({"phones": [{"phone": "+254700000002"}]}),
            ],
        };
        assert_eq!(fields(&contacts), ["contacts[1].name.formatted_name"]);
        assert_eq!(
            fields(&OutboundContent::Contacts { contacts: vec![] }),
            ["contacts"]
        );
    }

    #[test]
    fn template_parameters_are_checked_field_by_field() {
        let template = OutboundContent::Template {
            name: "order_update".into(),
            language: "en".into(),
            header: Some(TemplateHeader::Image {
                link: Some("not a link".into()),
                media_id: None,
            }),
            body_params: vec!["Asha".into(), String::new()],
            button_params: vec![
                ButtonParam {
                    index: 0,
                    sub_type: ButtonSubType::Url,
                    param: "1042".into(),
                },
                ButtonParam {
                    index: 0,
                    sub_type: ButtonSubType::QuickReply,
                    param: "stop".into(),
                },
            ],
            body_param_names: vec!["name".into()],
            header_param_name: None,
        };
        assert_eq!(
            fields(&template),
            [
                "header.link",
                "body_params[1]",
                "body_param_names",
                "button_params[1].index"
            ]
        );
    }

    #[test]
    fn cta_url_needs_an_http_url() {
        let cta = |url: &str| {
            OutboundContent::Interactive(Interactive::CtaUrl {
                body: "Track your order".into(),
                header: None,
                footer: Some("Thanks".into()),
                display_text: "Track".into(),
                url: url.into(),
            })
        };
        assert!(cta("https://shop.example/track/1042").validate().is_ok());
        assert_eq!(fields(&cta("javascript:alert(1)")), ["url"]);
    }

    #[test]
    fn serde_shapes_round_trip() {
        let cases = [
            (
                json!({"type": "text", "text": "Hi", "preview_url": true}),
                OutboundContent::Text {
                    text: "Hi".into(),
                    preview_url: true,
                },
            ),
            (
                json!({"type": "image", "link": "https://cdn.example/a.jpg", "caption": "Menu"}),
                OutboundContent::Image(Media {
                    link: Some("https://cdn.example/a.jpg".into()),
                    caption: Some("Menu".into()),
                    ..Media::default()
                }),
            ),
            (
                json!({"type": "interactive", "kind": "buttons", "body": "Pick", "buttons": [{"id": "y", "title": "Yes"}]}),
                OutboundContent::Interactive(Interactive::Buttons {
                    body: "Pick".into(),
                    header: None,
                    footer: None,
                    buttons: vec![ReplyButton {
                        id: "y".into(),
                        title: "Yes".into(),
                    }],
                }),
            ),
            (
                json!({"type": "location", "latitude": -1.5, "longitude": 36.25, "name": "Office"}),
                OutboundContent::Location {
                    latitude: -1.5,
                    longitude: 36.25,
                    name: Some("Office".into()),
                    address: None,
                },
            ),
            (
                json!({"type": "reaction", "message_id": "wamid.X", "emoji": "👍"}),
                OutboundContent::Reaction {
                    message_id: "wamid.X".into(),
                    emoji: "👍".into(),
                },
            ),
            (
                json!({
                    "type": "template", "name": "order_update", "language": "en",
                    "header": {"type": "document", "link": "https://cdn.example/i.pdf", "filename": "invoice.pdf"},
                    "body_params": ["Asha"],
                    "button_params": [{"index": 0, "sub_type": "copy_code", "param": "SAVE10"}]
                }),
                OutboundContent::Template {
                    name: "order_update".into(),
                    language: "en".into(),
                    header: Some(TemplateHeader::Document {
                        link: Some("https://cdn.example/i.pdf".into()),
                        media_id: None,
                        filename: Some("invoice.pdf".into()),
                    }),
                    body_params: vec!["Asha".into()],
                    button_params: vec![ButtonParam {
                        index: 0,
                        sub_type: ButtonSubType::CopyCode,
                        param: "SAVE10".into(),
                    }],
                    body_param_names: vec![],
                    header_param_name: None,
                },
            ),
        ];
        for (wire, content) in cases {
            let parsed: OutboundContent = serde_json::from_value(wire.clone()).unwrap();
            assert_eq!(parsed, content, "{wire}");
            assert_eq!(serde_json::to_value(&content).unwrap(), wire);
        }
    }

    #[test]
    fn every_variant_survives_a_round_trip_inside_a_message() {
        let contents = vec![
            text("Hello"),
            image(None, Some("media-1")),
            OutboundContent::Sticker(Media {
                link: Some("https://cdn.example/s.webp".into()),
                ..Media::default()
            }),
            list(2),
            OutboundContent::Interactive(Interactive::CtaUrl {
                body: "b".into(),
                header: Some("h".into()),
                footer: None,
                display_text: "Open".into(),
                url: "https://x.example".into(),
            }),
            OutboundContent::Contacts {
                contacts: vec![json!({"name": {"formatted_name": "Asha"}})],
            },
        ];
        for content in contents {
            let message = OutboundMessage {
                client_id: Uuid::nil(),
                to: "254700000001".into(),
                to_user_id: None,
                content,
                reply_to: Some("wamid.Q".into()),
            };
            let wire = serde_json::to_string(&message).unwrap();
            let back: OutboundMessage = serde_json::from_str(&wire).unwrap();
            assert_eq!(back, message, "{wire}");
        }
    }

    #[test]
    fn kinds_and_previews() {
        assert_eq!(text("x").kind(), MessageKind::Text);
        assert!(!text("x").is_template());
        assert_eq!(text("Hello\n  there").preview(), "Hello there");
        assert_eq!(text(&"a".repeat(500)).preview().chars().count(), 160);
        assert_eq!(image(None, Some("1")).preview(), "[image]");
        assert_eq!(buttons(&["Yes"]).preview(), "Pick one");
        assert_eq!(buttons(&["Yes"]).kind(), MessageKind::Interactive);
        let document = OutboundContent::Document(Media {
            media_id: Some("1".into()),
            filename: Some("quote.pdf".into()),
            ..Media::default()
        });
        assert_eq!(document.preview(), "[document: quote.pdf]");
        let location = OutboundContent::Location {
            latitude: -1.5,
            longitude: 36.25,
            name: None,
            address: Some("Kenyatta Ave".into()),
        };
        assert_eq!(location.preview(), "📍 Kenyatta Ave (-1.5, 36.25)");
        let reaction = OutboundContent::Reaction {
            message_id: "m".into(),
            emoji: String::new(),
        };
        assert_eq!(reaction.preview(), "removed a reaction");
        let template = OutboundContent::Template {
            name: "welcome".into(),
            language: "en".into(),
            header: None,
            body_params: vec![],
            button_params: vec![],
            body_param_names: vec![],
            header_param_name: None,
        };
        assert!(template.is_template());
        assert_eq!(template.kind(), MessageKind::Template);
        assert_eq!(template.preview(), "[template: welcome]");
        let contacts = OutboundContent::Contacts {
            contacts: vec![
                json!({"name": {"formatted_name": "Asha"}}),
                json!({"name": {"formatted_name": "Ben"}}),
            ],
        };
        assert_eq!(contacts.preview(), "👤 Asha, Ben");
    }

    #[test]
    fn a_flow_message_parses_from_the_api_and_breaks_no_rule() {
        let content: OutboundContent = serde_json::from_value(json!({
            "type": "interactive", "kind": "flow", "body": "Book your appointment",
            "flow_token": "AQAAAAACS5FpgQ_cAAAAAD0QI3s.", "flow_id": "1197715005513101",
            "flow_cta": "Book!", "flow_action_payload": {"screen": "BOOKING", "data": {"product_name": "name"}}
        }))
        .unwrap();
        assert_eq!(content.validate(), Ok(()));
        assert_eq!(content.preview(), "Book your appointment");
        let OutboundContent::Interactive(Interactive::Flow {
            flow_message_version,
            flow_action,
            ..
        }) = &content
        else {
            panic!("a flow");
        };
        assert_eq!(
            (flow_message_version.as_str(), *flow_action),
            ("3", FlowAction::Navigate)
        );

        let broken: OutboundContent = serde_json::from_value(json!({
            "type": "interactive", "kind": "flow", "body": "", "flow_id": "1", "flow_name": "booking",
            "flow_cta": "A label far longer than twenty", "flow_message_version": "2",
            "flow_action_payload": {"screen": "S", "data": {}}
        }))
        .unwrap();
        assert_eq!(
            fields(&broken),
            [
                "body",
                "flow_message_version",
                "flow_name",
                "flow_cta",
                "flow_action_payload.data"
            ]
        );
        let navigate_without_screen: OutboundContent = serde_json::from_value(json!({
            "type": "interactive", "kind": "flow", "body": "b", "flow_name": "booking", "flow_cta": "Go"
        }))
        .unwrap();
        assert_eq!(fields(&navigate_without_screen), ["flow_action_payload"]);
        let exchange: OutboundContent = serde_json::from_value(json!({
            "type": "interactive", "kind": "flow", "body": "b", "flow_name": "booking", "flow_cta": "Go",
            "flow_action": "data_exchange"
        }))
        .unwrap();
        assert_eq!(exchange.validate(), Ok(()));
    }
}
