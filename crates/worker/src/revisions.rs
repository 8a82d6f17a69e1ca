//! Edits and revokes of earlier messages (Meta's `type: "edit"` / `"revoke"`, from
//! the customer or, in coexistence mode, from the business app). The message takes
//! its new content, or is marked deleted; what it said before is kept in its payload
//! under `revisions` (oldest first), so nothing a person once read is lost.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use wacrm_domain::inbound::{InboundEvent, MessageRevision, RevisionChange};
use wacrm_persistence::connections::Connection;
use wacrm_persistence::messages::{self, Message};
use wacrm_persistence::{AsyncPgConnection, StoreResult};

use crate::inbound::Batch;

/// How a revoked message reads in the inbox.
pub const REVOKED_BODY: &str = "[message deleted]";

/// Applies the revision to the message it names; answers the event to apply instead
/// when that message is not ours (an edit then shows as the message it now is).
pub async fn apply_revision(
    conn: &mut AsyncPgConnection,
    batch: &mut Batch,
    connection: &Connection,
    revision: MessageRevision,
) -> StoreResult<Option<InboundEvent>> {
    let provider = connection.provider.as_str();
    let Some(message) =
        messages::lock_by_provider_id(conn, provider, &revision.original_message_id).await?
    else {
        return Ok(revision.unknown_original.map(|event| *event));
    };
    if already_applied(&message, &revision.provider_message_id) {
        return Ok(None);
    }
    let (kind, body, payload) = match &revision.change {
        RevisionChange::Edited(edited) => {
            let mut payload = with_history(&message, &revision.provider_message_id, revision.at);
            if let Value::Object(new_fields) = &edited.payload {
                for (key, value) in new_fields {
                    payload.insert(key.clone(), value.clone());
                }
            }
            payload.insert("edited_at".into(), json!(revision.at));
            (edited.kind.as_str(), edited.body.as_str(), payload)
        }
        RevisionChange::Revoked => {
            let mut payload = with_history(&message, &revision.provider_message_id, revision.at);
            payload.insert("revoked_at".into(), json!(revision.at));
            (message.kind.as_str(), REVOKED_BODY, payload)
        }
    };
    messages::revise(conn, message.id, kind, body, Value::Object(payload)).await?;
    batch.announcements.push(json!({
        "type": "message.updated",
        "message_id": message.id,
        "conversation_id": message.conversation_id,
    }));
    Ok(None)
}

/// A revision Meta delivered twice changes nothing the second time.
fn already_applied(message: &Message, revision_id: &str) -> bool {
    message.payload["revisions"]
        .as_array()
        .is_some_and(|revisions| {
            revisions
                .iter()
                .any(|revision| revision["by"].as_str() == Some(revision_id))
        })
}

/// The message's payload with its current content appended to `revisions`, and the
/// fields of the current content removed (the new content replaces them).
fn with_history(message: &Message, revision_id: &str, at: DateTime<Utc>) -> Map<String, Value> {
    let mut payload = match &message.payload {
        Value::Object(fields) => fields.clone(),
        _ => Map::new(),
    };
    let mut revisions = match payload.remove("revisions") {
        Some(Value::Array(revisions)) => revisions,
        _ => Vec::new(),
    };
    let previous: Map<String, Value> = payload
        .iter()
        .filter(|(key, _)| !matches!(key.as_str(), "edited_at" | "revoked_at"))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    revisions.push(json!({
        "kind": message.kind,
        "body": message.body,
        "payload": previous,
        "replaced_at": at,
        "by": revision_id,
    }));
    // Context the content does not carry (an ad's referral, a quoted product) stays.
    let kept: Map<String, Value> = payload
        .into_iter()
        .filter(|(key, _)| matches!(key.as_str(), "referral" | "referred_product"))
        .collect();
    let mut payload = kept;
    payload.insert("revisions".into(), Value::Array(revisions));
    payload
}
