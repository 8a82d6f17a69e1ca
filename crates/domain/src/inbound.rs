//! What a provider's webhook tells us, once parsed: the same events whichever
//! provider sent them. Providers parse into these; the worker applies them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::message_status::MessageStatus;

/// Which of our business numbers an event is for, as the provider names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NumberRef {
    /// The provider's id for the number (Meta's `phone_number_id`).
    ProviderId(String),
    /// The number itself, in any spelling (Lipachat `to`, TATA `businessPhoneNumber`).
    Phone(String),
    /// The event does not say: the connection's default number.
    Default,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InboundEvent {
    Message(InboundMessage),
    Status(StatusUpdate),
    TemplateStatus(TemplateStatusUpdate),
    /// The customer's phone or business-scoped user id changed (Meta's
    /// `user_changed_number` / `user_changed_user_id` system messages).
    CustomerChanged(CustomerChange),
}

/// Who a customer is, as WhatsApp names them: by phone, by Meta's business-scoped
/// user id (BSUID), or both. Since 2026 a user who adopts a username may come
/// with the user id alone; Meta reveals the phone later, or never.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRef {
    /// The phone as the provider wrote it.
    pub phone: Option<String>,
    /// Meta's business-scoped user id, e.g. `US.13491208655302741918`: stable
    /// for one business portfolio until the user changes their number.
    pub user_id: Option<String>,
    /// The user's WhatsApp username: for display only, the user can change it.
    pub username: Option<String>,
}

impl CustomerRef {
    /// A customer known by phone only (every provider but Meta).
    pub fn phone(phone: impl Into<String>) -> Self {
        Self {
            phone: Some(phone.into()),
            ..Self::default()
        }
    }
}

/// A customer's identity changed: `previous` is who we knew, `current` who
/// they are now. Unknown parts of `current` stay as they were.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerChange {
    pub number: NumberRef,
    pub previous: CustomerRef,
    pub current: CustomerRef,
}

/// The kinds of message WhatsApp carries; `Unsupported` keeps what the
/// provider said about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Text,
    Image,
    Audio,
    Video,
    Document,
    Sticker,
    Location,
    Contacts,
    Interactive,
    Button,
    Reaction,
    Order,
    System,
    Template,
    Unsupported,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Document => "document",
            Self::Sticker => "sticker",
            Self::Location => "location",
            Self::Contacts => "contacts",
            Self::Interactive => "interactive",
            Self::Button => "button",
            Self::Reaction => "reaction",
            Self::Order => "order",
            Self::System => "system",
            Self::Template => "template",
            Self::Unsupported => "unsupported",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        ALL_KINDS.iter().copied().find(|kind| kind.as_str() == name)
    }
}

const ALL_KINDS: [MessageKind; 15] = [
    MessageKind::Text,
    MessageKind::Image,
    MessageKind::Audio,
    MessageKind::Video,
    MessageKind::Document,
    MessageKind::Sticker,
    MessageKind::Location,
    MessageKind::Contacts,
    MessageKind::Interactive,
    MessageKind::Button,
    MessageKind::Reaction,
    MessageKind::Order,
    MessageKind::System,
    MessageKind::Template,
    MessageKind::Unsupported,
];

/// Where a message's media can be fetched from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MediaSource {
    /// The provider's media id, fetched through its media endpoint (Meta's Graph
    /// API, TATA's `/whatsapp-cloud/media/download/{id}`).
    ProviderId(String),
    /// A direct link (Lipachat, Whats91; TATA when it sends no id).
    Url(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRef {
    pub source: MediaSource,
    pub mime_type: Option<String>,
    pub sha256: Option<String>,
    pub filename: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    pub number: NumberRef,
    /// The customer: phone, business-scoped user id, or both.
    pub from: CustomerRef,
    pub profile_name: Option<String>,
    /// Unique per provider: a second delivery of the same id changes nothing.
    pub provider_message_id: String,
    /// When the customer sent it (the provider's timestamp).
    pub sent_at: DateTime<Utc>,
    pub kind: MessageKind,
    /// A readable one-line rendering, e.g. the text, a caption or "📍 Location".
    pub body: String,
    /// The type-specific fields, as JSON (e.g. `{latitude, longitude}`).
    pub payload: serde_json::Value,
    pub media: Option<MediaRef>,
    /// The provider message id this one replies or reacts to.
    pub context_message_id: Option<String>,
}

/// A provider's error, kept as the provider stated it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderError {
    pub code: String,
    pub title: String,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusUpdate {
    pub number: NumberRef,
    /// The id the provider gave the message when we sent it.
    pub provider_message_id: String,
    pub status: StatusChange,
    pub at: DateTime<Utc>,
    pub recipient: Option<String>,
    pub errors: Vec<ProviderError>,
    /// Meta's `conversation` and `pricing` objects, when present.
    pub billing: Option<serde_json::Value>,
    /// Other ids the report gives the same message (Whats91's `queueUid` and
    /// `reportUid` for a send it queued): the status matches on any of them.
    #[serde(default)]
    pub other_ids: Vec<String>,
}

/// A status as providers report it; `Deleted` (Lipachat) is history only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatusChange {
    To(MessageStatus),
    Deleted,
}

/// The statuses Meta gives templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateStatus {
    Approved,
    Pending,
    Rejected,
    Paused,
    Disabled,
    InAppeal,
    Flagged,
    Deleted,
}

impl TemplateStatus {
    pub fn parse(name: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(name.trim().to_ascii_uppercase())).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateStatusUpdate {
    pub name: String,
    pub language: Option<String>,
    pub provider_template_id: Option<String>,
    pub status: TemplateStatus,
    pub reason: Option<String>,
}
