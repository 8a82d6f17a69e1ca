//! Real-time events: published with PostgreSQL NOTIFY inside the transaction
//! that made the change (so they go out only if it commits), relayed by every
//! node to its SSE clients.

use diesel::sql_types::{Array, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use crate::error::StoreResult;

pub const CHANNEL: &str = "wacrm_events";

/// PostgreSQL refuses a NOTIFY payload of 8000 bytes or more, and the refusal
/// fails the transaction that made the change: an event must never be that long.
/// The margin leaves room for the `assigned_to` added at publish and for the
/// spaces `jsonb`'s text form puts after each `:` and `,`.
const MAX_PAYLOAD_BYTES: usize = 7_000;
/// Longer values (a provider's reason, a message preview) are left out of an
/// event that would otherwise be too long; clients fetch them by id.
const MAX_VALUE_BYTES: usize = 256;

/// Queues `event` for delivery at commit. Payloads stay small (ids and
/// statuses): NOTIFY carries at most 8000 bytes, and clients fetch details.
pub async fn publish<E: Serialize>(conn: &mut AsyncPgConnection, event: &E) -> StoreResult<()> {
    publish_all(conn, std::slice::from_ref(event)).await
}

/// Queues every event of `events` for delivery at commit, in one statement
/// (a batch of webhooks announces all its changes with one round trip).
pub async fn publish_all<E: Serialize>(
    conn: &mut AsyncPgConnection,
    events: &[E],
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let payloads: Vec<String> = events.iter().map(bounded).collect();
    // An event about a conversation carries the conversation's assignee as
    // this transaction sees it, so that every node's SSE streams apply the inbox
    // visibility without a query per event. The correlated subquery keeps the
    // events in `unnest` order (a join could reorder the NOTIFYs).
    diesel::sql_query(
        "SELECT pg_notify($1, CASE WHEN e.doc ? 'conversation_id' \
             THEN (e.doc || jsonb_build_object('assigned_to', \
                   (SELECT c.assigned_to FROM conversations AS c \
                     WHERE c.id = (e.doc ->> 'conversation_id')::uuid)))::text \
             ELSE e.payload END) \
         FROM (SELECT payload, payload::jsonb AS doc FROM unnest($2::text[]) AS payload) AS e",
    )
    .bind::<Text, _>(CHANNEL)
    .bind::<Array<Text>, _>(payloads)
    .execute(conn)
    .await?;
    Ok(())
}

/// `event` as a NOTIFY payload under PostgreSQL's limit: whole when it fits, else
/// without its long values (marked `"truncated": true`), else its `type` and ids only.
fn bounded<E: Serialize>(event: &E) -> String {
    let whole = serde_json::to_string(event).unwrap_or_default();
    if whole.len() <= MAX_PAYLOAD_BYTES {
        return whole;
    }
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(event) else {
        return r#"{"truncated":true}"#.to_owned();
    };
    let short = |value: &serde_json::Value| value.to_string().len() <= MAX_VALUE_BYTES;
    let mut kept: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .filter(|(_, value)| short(value))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    kept.insert("truncated".into(), true.into());
    let reduced = serde_json::Value::Object(kept).to_string();
    if reduced.len() <= MAX_PAYLOAD_BYTES {
        return reduced;
    }
    let mut ids: serde_json::Map<String, serde_json::Value> = fields
        .into_iter()
        .filter(|(key, value)| (key == "type" || key.ends_with("id")) && short(value))
        .collect();
    ids.insert("truncated".into(), true.into());
    serde_json::Value::Object(ids).to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn a_long_event_keeps_its_type_and_ids_under_the_limit() {
        let small = json!({"type": "message.status", "message_id": "m1", "status": "read"});
        assert_eq!(bounded(&small), small.to_string());

        let long_reason = json!({"type": "template.updated", "template_id": "t1",
            "status": "REJECTED", "reason": "x".repeat(9_000)});
        let payload: Value = serde_json::from_str(&bounded(&long_reason)).unwrap();
        assert_eq!(
            payload,
            json!({"type": "template.updated", "template_id": "t1", "status": "REJECTED", "truncated": true})
        );

        let many: serde_json::Map<String, Value> = (0..100)
            .map(|i| (format!("field_{i}"), Value::String("y".repeat(200))))
            .chain([
                ("type".to_owned(), json!("x.y")),
                ("conversation_id".to_owned(), json!("c1")),
            ])
            .collect();
        let payload = bounded(&Value::Object(many));
        assert!(payload.len() <= MAX_PAYLOAD_BYTES);
        assert_eq!(
            serde_json::from_str::<Value>(&payload).unwrap(),
            json!({"type": "x.y", "conversation_id": "c1", "truncated": true})
        );
    }
}
