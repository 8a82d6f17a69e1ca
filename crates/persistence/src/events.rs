//! Real-time events: published with PostgreSQL NOTIFY inside the transaction
//! that made the change (so they go out only if it commits), relayed by every
//! node to its SSE clients. The same statement writes the integrators' webhook
//! outbox (`webhook_deliveries`, see [`crate::webhook_endpoints`]): one row per
//! event and enabled endpoint subscribed to it, committed or rolled back with
//! the change.

use diesel::sql_types::{Array, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use crate::error::StoreResult;
use crate::webhook_endpoints;

pub const CHANNEL: &str = "wacrm_events";

/// PostgreSQL refuses a NOTIFY payload of 8000 bytes or more, and the refusal
/// fails the transaction that made the change: an event must never be that long.
/// The margin leaves room for the `assigned_to` added at publish and for the
/// spaces `jsonb`'s text form puts after each `:` and `,`.
const MAX_PAYLOAD_BYTES: usize = 7_000;
/// Longer values (a provider's reason, a message preview) are left out of an
/// event that would otherwise be too long; clients fetch them by id.
const MAX_VALUE_BYTES: usize = 256;

/// The statement of [`publish_all`]. `$1` the SSE channel, `$2` the events,
/// `$3` the dispatcher job's kind, `$4` the job queue's channel.
///
/// Integrators see the catalogue names (`wacrm_domain::webhook_endpoints::
/// EventType`): an inbound `message.created` is `message.received`, an
/// outbound one is not announced, every other type goes by its own name (and
/// reaches only endpoints subscribed to it, which the API allows for catalogue
/// names only). The body is Standard Webhooks' `{type, timestamp, data}`, the
/// data being the event without its `type`.
const FAN_OUT_AND_NOTIFY: &str = "\
WITH e AS MATERIALIZED ( \
    SELECT u.payload, u.payload::jsonb AS doc, u.ord \
      FROM unnest($2::text[]) WITH ORDINALITY AS u (payload, ord)), \
hooks AS ( \
    INSERT INTO webhook_deliveries (id, endpoint_id, event_type, payload, next_attempt_at) \
    SELECT webhook_uuid_v7(), w.id, t.kind, \
           jsonb_build_object('type', t.kind, \
               'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
               'data', e.doc - 'type'), \
           now() \
      FROM e \
     CROSS JOIN LATERAL (SELECT CASE WHEN e.doc ->> 'type' = 'message.created' \
                 THEN CASE WHEN e.doc ->> 'direction' = 'inbound' THEN 'message.received' END \
                 ELSE e.doc ->> 'type' END AS kind) AS t \
      JOIN webhook_endpoints AS w ON w.enabled AND t.kind = ANY (w.event_types) \
     ORDER BY e.ord, w.id \
    RETURNING 1), \
wake AS ( \
    INSERT INTO jobs (kind, payload, max_attempts) \
    SELECT $3, '{}'::jsonb, 8 \
     WHERE EXISTS (SELECT 1 FROM hooks) \
       AND NOT EXISTS (SELECT 1 FROM jobs \
                        WHERE kind = $3 AND status = 'queued' AND unique_key IS NULL \
                          AND run_at <= now()) \
    RETURNING 1) \
SELECT pg_notify($1, CASE WHEN e.doc ? 'conversation_id' \
         THEN (e.doc || jsonb_build_object('assigned_to', \
               (SELECT c.assigned_to FROM conversations AS c \
                 WHERE c.id = (e.doc ->> 'conversation_id')::uuid)))::text \
         ELSE e.payload END) \
  FROM e \
UNION ALL \
SELECT pg_notify($4, '') FROM wake";

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
    //
    // The webhook fan-out rides in the same statement, so it costs no round
    // trip: with no endpoint enabled, `hooks` joins against an empty (or
    // tiny) table and inserts nothing, and `wake` stops at its `EXISTS`. An
    // event that did fan out also queues one dispatcher job (unless one is
    // already waiting) and wakes the workers; this transaction NOTIFYs
    // anyway, so the wake-up adds no commit-time lock it did not already take.
    diesel::sql_query(FAN_OUT_AND_NOTIFY)
        .bind::<Text, _>(CHANNEL)
        .bind::<Array<Text>, _>(payloads)
        .bind::<Text, _>(webhook_endpoints::DISPATCH_JOB_KIND)
        .bind::<Text, _>(crate::jobs::CHANNEL)
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
