//! Messages the business sent from the WhatsApp Business app on a number in
//! coexistence mode (Meta's `smb_message_echoes`): they join the customer's
//! conversation as outbound messages already sent, `sent_by: "business_app"`, with
//! no delivery job; the window, unread count and bots' turn are the customer's and
//! stay as they are, except that a person answering pauses the bots, as a staff
//! reply does.

use std::collections::HashSet;

use uuid::Uuid;
use wacrm_domain::NormalizedPhone;
use wacrm_domain::bots::Event;
use wacrm_domain::inbound::EchoedMessage;
use wacrm_persistence::connections::Connection;
use wacrm_persistence::conversations::{self, Conversation, CustomerKey};
use wacrm_persistence::messages::{self, NewMedia, NewMessage};
use wacrm_persistence::{AsyncPgConnection, StoreError, StoreResult};

use crate::inbound::{Batch, Rejection, resolve_number};
use crate::jobs::BotEvent;

/// Who sent an echoed message, as the inbox shows it.
pub const SENT_BY: &str = "business_app";

/// What storing one echo did.
#[derive(Debug)]
pub enum EchoOutcome {
    /// Stored; `media` when its bytes still have to be fetched; `bots` pauses them.
    Stored {
        message_id: Uuid,
        media: bool,
        bots: BotEvent,
    },
    /// Meta delivered it twice: nothing changed.
    Duplicate,
}

/// Stores each echo once, in its conversation; one outcome per echo, in order.
pub async fn apply_echoes(
    conn: &mut AsyncPgConnection,
    batch: &mut Batch,
    incoming: Vec<(&Connection, EchoedMessage)>,
) -> StoreResult<Vec<Result<EchoOutcome, Rejection>>> {
    let mut outcomes: Vec<Result<EchoOutcome, Rejection>> = Vec::with_capacity(incoming.len());
    let mut routed = Vec::new();
    for (index, (connection, echo)) in incoming.into_iter().enumerate() {
        outcomes.push(Ok(EchoOutcome::Duplicate));
        let number = match resolve_number(conn, batch, connection, &echo.message.number).await? {
            Ok(number) => number,
            Err(rejection) => {
                outcomes[index] = Err(rejection);
                continue;
            }
        };
        let Ok(customer) = NormalizedPhone::parse(&echo.to, None) else {
            outcomes[index] = Err(format!(
                "the recipient `{}` of an echoed message is not a phone number",
                echo.to
            ));
            continue;
        };
        routed.push((
            index,
            connection.provider,
            number.id,
            customer,
            echo.message,
        ));
    }
    if routed.is_empty() {
        return Ok(outcomes);
    }

    let keys: Vec<CustomerKey> = routed
        .iter()
        .map(|(_, _, number_id, customer, _)| CustomerKey::phone(*number_id, customer.as_str()))
        .collect();
    let conversations::Locked {
        rows: mut conversations,
        of_key,
    } = conversations::lock_or_create_many(conn, &keys).await?;
    let conversation_of = |number_id: Uuid, customer: &NormalizedPhone| {
        of_key
            .get(&CustomerKey::phone(number_id, customer.as_str()))
            .copied()
            .ok_or(StoreError::NotFound)
    };

    let mut drafts = Vec::with_capacity(routed.len());
    for (_, provider, number_id, customer, message) in &routed {
        let conversation_id = conversation_of(*number_id, customer)?;
        drafts.push(NewMessage {
            id: Uuid::now_v7(),
            conversation_id,
            direction: "outbound".into(),
            kind: message.kind.as_str().into(),
            body: message.body.clone(),
            payload: message.payload.clone(),
            provider: provider.as_str().into(),
            provider_message_id: Some(message.provider_message_id.clone()),
            status: "sent".into(),
            sent_by: Some(SENT_BY.into()),
            sent_at: message.sent_at,
            context_message_id: message.context_message_id.clone(),
        });
    }
    let draft_ids: Vec<Uuid> = drafts.iter().map(|draft| draft.id).collect();
    let stored: HashSet<Uuid> = messages::insert_many_unless_known(conn, drafts)
        .await?
        .into_iter()
        .map(|message| message.id)
        .collect();

    let mut changed: Vec<Uuid> = Vec::new();
    for ((index, _, number_id, customer, message), id) in routed.into_iter().zip(draft_ids) {
        if !stored.contains(&id) {
            continue;
        }
        if let Some(media) = &message.media {
            messages::insert_media(
                conn,
                NewMedia {
                    message_id: id,
                    source: serde_json::to_value(&media.source).unwrap_or_default(),
                    mime_type: media.mime_type.clone(),
                    filename: media.filename.clone(),
                    sha256: media.sha256.clone(),
                },
            )
            .await?;
        }
        let key = conversation_of(number_id, &customer)?;
        let conversation = conversations.get_mut(&key).ok_or(StoreError::NotFound)?;
        if conversation
            .last_message_at
            .is_none_or(|last| message.sent_at >= last)
        {
            conversation.last_message_id = Some(id);
            conversation.last_message_at = Some(message.sent_at);
            conversation.last_message_preview = Some(message.body.chars().take(120).collect());
        }
        if !changed.contains(&key) {
            changed.push(key);
        }
        batch.announce_new_message(id, conversation.id, "outbound");
        outcomes[index] = Ok(EchoOutcome::Stored {
            message_id: id,
            media: message.media.is_some(),
            bots: BotEvent {
                conversation_id: conversation.id,
                message_id: None,
                event: Event::StaffReplied,
            },
        });
    }
    let changed: Vec<Conversation> = changed
        .iter()
        .filter_map(|key| conversations.remove(key))
        .collect();
    conversations::save_inbound(conn, &changed).await?;
    Ok(outcomes)
}
