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
    /// A customer opened the chat for the first time (Meta's `request_welcome`): stored
    /// as a system message that opens the window, and the moment for a welcome bot.
    WelcomeRequest(InboundMessage),
    /// A message the business sent from the WhatsApp Business app on a number in
    /// coexistence mode (Meta's `smb_message_echoes`).
    Echo(EchoedMessage),
    /// An earlier message was edited or revoked.
    Revision(MessageRevision),
    /// A customer stopped or resumed marketing messages (Meta's `user_preferences`).
    MarketingPreference(MarketingPreferenceUpdate),
    /// Meta rated a template's quality (`message_template_quality_update`).
    TemplateQuality(TemplateQualityUpdate),
    /// Meta moved a template to another category (`template_category_update`).
    TemplateCategory(TemplateCategoryUpdate),
    /// A template was locked against edits, or unlocked (`LOCKED` / `UNLOCKED`).
    TemplateLock(TemplateLockUpdate),
    /// Errors the provider reported that belong to no message (Meta's value-level
    /// `errors`), or a message too broken to store.
    SystemErrors(SystemErrors),
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
    /// Archived by the business; Meta's template list names it the same.
    Archived,
    /// The business reached its limit of templates of this kind.
    LimitExceeded,
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

/// A message the business sent outside wacrm, e.g. from the WhatsApp Business app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EchoedMessage {
    /// The customer it went to, as the provider wrote it.
    pub to: String,
    /// Its content; `from` is the business number as the provider wrote it.
    pub message: InboundMessage,
}

/// What became of an earlier message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RevisionChange {
    /// Its new content (kind, body, payload and media; `provider_message_id` is the
    /// edit's own id).
    Edited(Box<InboundMessage>),
    /// The sender deleted it for everyone.
    Revoked,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRevision {
    pub number: NumberRef,
    /// The provider's id of the message that changed.
    pub original_message_id: String,
    /// The provider's id of the edit or revoke itself.
    pub provider_message_id: String,
    pub at: DateTime<Utc>,
    pub change: RevisionChange,
    /// What to apply instead when the original is not ours (sent before the number
    /// was connected): an edit is then shown as the message it now is.
    pub unknown_original: Option<Box<InboundEvent>>,
}

/// A customer's choice about marketing messages, as the provider reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketingPreference {
    /// Stop marketing messages.
    Stop,
    /// Receive them again (Meta's `resume`, and `signup` through a sign-up link).
    Resume,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketingPreferenceUpdate {
    pub number: NumberRef,
    /// The customer's phone as the provider wrote it.
    pub phone: String,
    pub preference: MarketingPreference,
    /// The provider's own words (e.g. "User requested to stop marketing messages").
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

/// Which template an account-level template event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRef {
    pub name: String,
    pub language: Option<String>,
    pub provider_template_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateQualityUpdate {
    pub template: TemplateRef,
    /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`, as Meta writes it.
    pub score: String,
    pub previous: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateCategoryUpdate {
    pub template: TemplateRef,
    /// `MARKETING`, `UTILITY` or `AUTHENTICATION`, as Meta writes it.
    pub category: String,
    pub previous: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateLockUpdate {
    pub template: TemplateRef,
    pub locked: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemErrors {
    pub number: NumberRef,
    pub errors: Vec<ProviderError>,
    /// Each error as the provider wrote it, in the same order.
    pub raw: Vec<serde_json::Value>,
    pub at: DateTime<Utc>,
}
