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
    let content = draft.content;
    if let Err(unsupported) = client::supports(connection.provider, &content) {
        return refused(Refusal::Unsupported(unsupported.to_string()));
    }
    if conversation.customer_phone.is_none() && connection.provider != Provider::Meta {
        return refused(Refusal::Unsupported(client::no_phone(connection.provider)));
    }
    if !content.is_template() && !session::is_open(conversation.session_expires_at, now) {
        return refused(Refusal::SessionExpired {
            expires_at: conversation.session_expires_at,
        });
    }
    let mut category = None;
    if let OutboundContent::Template {
        name,
        language,
        header,
        body_params,
        button_params,
        ..
    } = &content
    {
        let Some(found) = templates::find_for_send(conn, connection.id, name, language).await?
        else {
            return refused(Refusal::TemplateNotFound {
                name: name.clone(),
                language: language.clone(),
            });
        };
        if found.status != "APPROVED" {
            return refused(Refusal::TemplateNotApproved {
                name: name.clone(),
                status: found.status,
            });
        }
        let requirements = template::requirements(&found.components);
        if let Err(problem) =
            template::check(&requirements, header.as_ref(), body_params, button_params)
        {
            return refused(Refusal::TemplateParameters(problem));
        }
        category = found.category;
    }
    let sending = match &content {
        OutboundContent::Template { .. } => Sending::Template {
            category: category.as_deref(),
        },
        _ => Sending::FreeForm,
    };
    if let Some(refusal) =
        consent_refusal(conn, conversation.customer_phone.as_deref(), sending).await?
    {
        return refused(refusal);
    }
    let message = messages::insert_unless_known(
        conn,
        NewMessage {
            id: Uuid::now_v7(),
            conversation_id: conversation.id,
            direction: "outbound".into(),
            kind: content.kind().as_str().into(),
            body: content.preview(),
            payload: serde_json::to_value(&content)
                .map_err(|error| StoreError::Corrupt(error.to_string()))?,
            provider: connection.provider.as_str().into(),
            provider_message_id: None,
            status: "queued".into(),
            sent_by: Some(draft.sent_by),
            sent_at: now,
            context_message_id: draft.context_message_id,
        },
    )
    .await?
    .ok_or_else(|| StoreError::Corrupt("a new message id collided".into()))?;
    crate::enqueue(
        conn,
        &DeliverMessage {
            message_id: message.id,
            conversation_id: Some(conversation.id),
        },
    )
    .await
    .map_err(|error| StoreError::Corrupt(error.to_string()))?;
    let preview: String = message.body.chars().take(120).collect();
    conversations::record_outbound(conn, conversation.id, message.id, now, &preview).await?;
    events::publish(
        conn,
        &json!({"type": "message.created", "message_id": message.id, "conversation_id": conversation.id, "direction": "outbound"}),
    )
    .await?;
    Ok(message)
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
        Err(consent::Refusal::Blocked) => Some(Refusal::RecipientBlocked),
        Err(consent::Refusal::OptedOut) => Some(Refusal::RecipientOptedOut),
    })
}
