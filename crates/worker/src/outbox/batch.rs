//! The outbox for many messages on one number at once (a campaign's batch):
//! the same rules as [`super::queue`], applied per message, with what the
//! messages share read once (the number, its connection, each template) and
//! the rest read and written in a statement each for the whole batch
//! (consent, messages, delivery jobs, conversations, events), instead of a
//! dozen round trips per message.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;
use wacrm_domain::consent;
use wacrm_domain::outbound::OutboundContent;
use wacrm_persistence::conversations::{self, Conversation};
use wacrm_persistence::messages::{self, Message};
use wacrm_persistence::secrets::Cipher;
use wacrm_persistence::{
    AsyncPgConnection, StoreError, StoreResult, connections, events, jobs, numbers,
};

use super::{
    Approved, Draft, PREVIEW_CHARS, Refusal, approved_template, check_parameters, check_route,
    consent_phone, consent_refused, new_message, sending,
};
use crate::jobs::DeliverMessage;

/// Checks each draft and queues those the rules allow, each in its
/// conversation (all on `number_id`, locked by the caller); answers each
/// draft's message or refusal, in order.
pub async fn queue_batch(
    conn: &mut AsyncPgConnection,
    cipher: &Cipher,
    number_id: Uuid,
    items: Vec<(Conversation, Draft)>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Result<Message, Refusal>>> {
    let number = numbers::find(conn, number_id).await?;
    let connection = connections::find(conn, cipher, number.connection_id).await?;
    let mut templates: HashMap<(String, String), Result<Approved, Refusal>> = HashMap::new();
    for (_, draft) in &items {
        if let OutboundContent::Template { name, language, .. } = &draft.content {
            if let std::collections::hash_map::Entry::Vacant(entry) =
                templates.entry((name.clone(), language.clone()))
            {
                entry.insert(approved_template(conn, connection.id, name, language).await?);
            }
        }
    }
    let phones: Vec<String> = items.iter().filter_map(|(c, _)| consent_phone(c)).collect();
    let standings = wacrm_persistence::consent::standings(conn, &phones).await?;

    let mut outcomes: Vec<Result<Uuid, Refusal>> = Vec::with_capacity(items.len());
    let mut rows = Vec::new();
    let mut queued: Vec<(Uuid, Uuid)> = Vec::new();
    for (conversation, draft) in items {
        let approved = match &draft.content {
            OutboundContent::Template { name, language, .. } => {
                match templates.get(&(name.clone(), language.clone())) {
                    Some(Ok(approved)) => Some(approved),
                    Some(Err(refusal)) => {
                        outcomes.push(Err(refusal.clone()));
                        continue;
                    }
                    None => None,
                }
            }
            _ => None,
        };
        let checked = check_route(connection.provider, &conversation, &draft.content, now)
            .and_then(|()| check_parameters(approved, &draft.content))
            .and_then(|()| {
                let standing = consent_phone(&conversation)
                    .and_then(|phone| standings.get(&phone).copied())
                    .unwrap_or_default();
                consent::check(standing, sending(approved, &draft.content)).map_err(consent_refused)
            });
        if let Err(refusal) = checked {
            outcomes.push(Err(refusal));
            continue;
        }
        let row = new_message(&conversation, connection.provider, draft, now)?;
        outcomes.push(Ok(row.id));
        queued.push((row.id, conversation.id));
        rows.push(row);
    }

    let inserted: HashMap<Uuid, Message> = messages::insert_many_unless_known(conn, rows)
        .await?
        .into_iter()
        .map(|message| (message.id, message))
        .collect();
    let mut deliveries = Vec::with_capacity(queued.len());
    let mut latest = Vec::with_capacity(queued.len());
    let mut created = Vec::with_capacity(queued.len());
    for (message_id, conversation_id) in &queued {
        let message = inserted
            .get(message_id)
            .ok_or_else(|| StoreError::Corrupt("a new message id collided".into()))?;
        let job = DeliverMessage {
            message_id: *message_id,
            conversation_id: Some(*conversation_id),
            number_id: Some(number_id),
        };
        deliveries
            .push(crate::new_job(&job).map_err(|error| StoreError::Corrupt(error.to_string()))?);
        let preview: String = message.body.chars().take(PREVIEW_CHARS).collect();
        latest.push((*conversation_id, *message_id, preview));
        created.push(json!({"type": "message.created", "message_id": message_id, "conversation_id": conversation_id, "direction": "outbound"}));
    }
    jobs::enqueue_many(conn, deliveries).await?;
    conversations::record_outbound_many(conn, &latest, now).await?;
    events::publish_all(conn, &created).await?;

    let mut inserted = inserted;
    outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(id) => inserted
                .remove(&id)
                .map(Ok)
                .ok_or_else(|| StoreError::Corrupt("a queued message was not stored".into())),
            Err(refusal) => Ok(Err(refusal)),
        })
        .collect()
}
