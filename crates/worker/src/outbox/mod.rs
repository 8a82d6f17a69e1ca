//! The outbox: checks an outbound message against every sending rule (what the
//! provider can carry, the 24-hour window, template approval and parameters,
//! consent and the blocklist), then stores it `queued` with its delivery job in
//! the caller's transaction. Agents (through the API), API keys, bots and
//! consent replies send through here alike; delivery checks consent once more
//! ([`consent_refusal`]), since a customer may say STOP while a message waits.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;
use wacrm_domain::consent::{self, Sending};
use wacrm_domain::outbound::OutboundContent;
use wacrm_domain::{NormalizedPhone, Provider, session, template};
use wacrm_persistence::conversations::{self, Conversation};
use wacrm_persistence::messages::{self, Message, NewMessage};
use wacrm_persistence::secrets::Cipher;
use wacrm_persistence::{
    AsyncPgConnection, StoreError, StoreResult, connections, events, numbers, templates,
};
use wacrm_providers::client;

use crate::jobs::DeliverMessage;

mod batch;

pub use batch::queue_batch;

/// Why a message may not be sent as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The provider has no API for this content (the sentence names both).
    Unsupported(String),
    /// Free-form content outside the window (`None`: it never opened).
    SessionExpired {
        expires_at: Option<DateTime<Utc>>,
    },
    TemplateNotFound {
        name: String,
        language: String,
    },
    TemplateNotApproved {
        name: String,
        status: String,
    },
    /// A sentence naming what is missing or extra.
    TemplateParameters(String),
    /// The phone is blocklisted: it gets nothing at all.
    RecipientBlocked,
    /// A marketing template to a phone that opted out of marketing.
    RecipientOptedOut,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("refused: {0:?}")]
    Refused(Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Draft {
    pub content: OutboundContent,
    /// The provider's id of the message this one replies to.
    pub context_message_id: Option<String>,
    /// Who sends it: `staff:<id>`, `api_key:<id>` or `bot:<id>`.
    pub sent_by: String,
}

/// Checks `draft` and queues it in `conversation` (which the caller has locked).
pub async fn queue(
    conn: &mut AsyncPgConnection,
    cipher: &Cipher,
    conversation: &Conversation,
    draft: Draft,
    now: DateTime<Utc>,
) -> Result<Message, OutboxError> {
    let refused = |refusal| Err(OutboxError::Refused(refusal));
    let number = numbers::find(conn, conversation.number_id).await?;
    let connection = connections::find(conn, cipher, number.connection_id).await?;
    if let Err(refusal) = check_route(connection.provider, conversation, &draft.content, now) {
        return refused(refusal);
    }
    let approved = match &draft.content {
        OutboundContent::Template { name, language, .. } => {
            match approved_template(conn, connection.id, name, language).await? {
                Ok(approved) => Some(approved),
                Err(refusal) => return refused(refusal),
            }
        }
        _ => None,
    };
    if let Err(refusal) = check_parameters(approved.as_ref(), &draft.content) {
        return refused(refusal);
    }
    let sending = sending(approved.as_ref(), &draft.content);
    if let Some(refusal) =
        consent_refusal(conn, conversation.customer_phone.as_deref(), sending).await?
    {
        return refused(refusal);
    }
    let message = messages::insert_unless_known(
        conn,
        new_message(conversation, connection.provider, draft, now)?,
    )
    .await?
    .ok_or_else(|| StoreError::Corrupt("a new message id collided".into()))?;
    crate::enqueue(
        conn,
        &DeliverMessage {
            message_id: message.id,
            conversation_id: Some(conversation.id),
            number_id: Some(conversation.number_id),
        },
    )
    .await
    .map_err(|error| StoreError::Corrupt(error.to_string()))?;
    let preview: String = message.body.chars().take(PREVIEW_CHARS).collect();
    conversations::record_outbound(conn, conversation.id, message.id, now, &preview).await?;
    events::publish(
        conn,
        &json!({"type": "message.created", "message_id": message.id, "conversation_id": conversation.id, "direction": "outbound"}),
    )
    .await?;
    Ok(message)
}

/// How much of a message the conversation list shows.
const PREVIEW_CHARS: usize = 120;

/// What the provider can carry and the 24-hour window allow.
fn check_route(
    provider: Provider,
    conversation: &Conversation,
    content: &OutboundContent,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if let Err(unsupported) = client::supports(provider, content) {
        return Err(Refusal::Unsupported(unsupported.to_string()));
    }
    if conversation.customer_phone.is_none() && provider != Provider::Meta {
        return Err(Refusal::Unsupported(client::no_phone(provider)));
    }
    if !content.is_template() && !session::is_open(conversation.session_expires_at, now) {
        return Err(Refusal::SessionExpired {
            expires_at: conversation.session_expires_at,
        });
    }
    Ok(())
}

/// An approved template: its category and the parameters it needs.
pub(crate) struct Approved {
    category: Option<String>,
    requirements: template::TemplateRequirements,
}

/// The template `name` in `language` on the connection, if it is APPROVED.
async fn approved_template(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
    name: &str,
    language: &str,
) -> StoreResult<Result<Approved, Refusal>> {
    let Some(found) = templates::find_for_send(conn, connection_id, name, language).await? else {
        return Ok(Err(Refusal::TemplateNotFound {
            name: name.to_owned(),
            language: language.to_owned(),
        }));
    };
    if found.status != "APPROVED" {
        return Ok(Err(Refusal::TemplateNotApproved {
            name: name.to_owned(),
            status: found.status,
        }));
    }
    Ok(Ok(Approved {
        requirements: template::requirements(&found.components),
        category: found.category,
    }))
}

/// Whether a template message gives its template exactly its parameters.
fn check_parameters(approved: Option<&Approved>, content: &OutboundContent) -> Result<(), Refusal> {
    if let (
        Some(approved),
        OutboundContent::Template {
            header,
            body_params,
            button_params,
            ..
        },
    ) = (approved, content)
    {
        template::check(
            &approved.requirements,
            header.as_ref(),
            body_params,
            button_params,
        )
        .map_err(Refusal::TemplateParameters)?;
    }
    Ok(())
}

/// What consent sees of the message.
fn sending<'a>(approved: Option<&'a Approved>, content: &OutboundContent) -> Sending<'a> {
    match content {
        OutboundContent::Template { .. } => Sending::Template {
            category: approved.and_then(|approved| approved.category.as_deref()),
        },
        _ => Sending::FreeForm,
    }
}

/// The stored row of a message about to be queued.
fn new_message(
    conversation: &Conversation,
    provider: Provider,
    draft: Draft,
    now: DateTime<Utc>,
) -> StoreResult<NewMessage> {
    Ok(NewMessage {
        id: Uuid::now_v7(),
        conversation_id: conversation.id,
        direction: "outbound".into(),
        kind: draft.content.kind().as_str().into(),
        body: draft.content.preview(),
        payload: serde_json::to_value(&draft.content)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?,
        provider: provider.as_str().into(),
        provider_message_id: None,
        status: "queued".into(),
        sent_by: Some(draft.sent_by),
        sent_at: now,
        context_message_id: draft.context_message_id,
    })
}

/// Why the consent rules refuse `sending` to `phone`, if they do. A customer
/// known only by a user id has no phone to look up, and nothing to refuse.
pub async fn consent_refusal(
    conn: &mut AsyncPgConnection,
    phone: Option<&str>,
    sending: Sending<'_>,
) -> StoreResult<Option<Refusal>> {
    let Some(phone) = phone.and_then(|phone| NormalizedPhone::parse(phone, None).ok()) else {
        return Ok(None);
    };
    let standing = wacrm_persistence::consent::standing(conn, phone.as_str()).await?;
    Ok(match consent::check(standing, sending) {
        Ok(()) => None,
        Err(refusal) => Some(consent_refused(refusal)),
    })
}

/// The phone consent is kept by for a conversation's customer, if any.
pub(crate) fn consent_phone(conversation: &Conversation) -> Option<String> {
    conversation
        .customer_phone
        .as_deref()
        .and_then(|phone| NormalizedPhone::parse(phone, None).ok())
        .map(NormalizedPhone::into_string)
}

pub(crate) fn consent_refused(refusal: consent::Refusal) -> Refusal {
    match refusal {
        consent::Refusal::Blocked => Refusal::RecipientBlocked,
        consent::Refusal::OptedOut => Refusal::RecipientOptedOut,
    }
}
