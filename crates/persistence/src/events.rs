//! Real-time events: written to `event_relay` inside the transaction that
//! made the change (so they go out only if it commits), moved to PostgreSQL
//! NOTIFY by a relay ([`relay`], every node runs one) and relayed by every
//! node to its SSE clients. The same statement writes the integrators' webhook
//! outbox (`webhook_deliveries`, see [`crate::webhook_endpoints`]): one row per
//! event and enabled endpoint subscribed to it, committed or rolled back with
//! the change.
//!
//! Why not NOTIFY in the change's own transaction: NOTIFY holds PostgreSQL's
//! global notify lock until its transaction's commit is flushed, so writing
//! transactions that announce something commit one at a time. A campaign
//! sending a thousand messages a second commits a thousand of them; the relay
//! takes that lock once per batch of events instead.

use diesel::sql_types::{Array, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use crate::error::StoreResult;
use crate::prepared::PreparedExt as _;
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
const FAN_OUT_AND_RELAY: &str = "\
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
INSERT INTO event_relay (channel, payload) \
SELECT channel, payload FROM ( \
    SELECT $1 AS channel, CASE WHEN e.doc ? 'conversation_id' \
             THEN (e.doc || jsonb_build_object('assigned_to', \
                   (SELECT c.assigned_to FROM conversations AS c \
                     WHERE c.id = (e.doc ->> 'conversation_id')::uuid)))::text \
             ELSE e.payload END AS payload, e.ord \
      FROM e \
    UNION ALL \
    SELECT $4, '', 0 FROM wake) AS relayed \
ORDER BY ord";

/// The statement of [`relay`]: the oldest waiting events (`$1` at most), each
/// NOTIFYed on its channel in order and removed, in one transaction. The
/// advisory lock lets one relay of one node work at a time, so events leave
/// in the order they were written; the others find nothing to do. It is
/// taken once, in its own CTE: as a condition on the rows it was called for
/// every row of a sequential scan of the whole (churning) table, 17 ms a
/// batch at 1,000 events a second; now the primary key's order is read.
const RELAY: &str = "\
WITH held AS MATERIALIZED ( \
    SELECT pg_try_advisory_xact_lock(hashtext('wacrm.event_relay')) AS held), \
batch AS ( \
    DELETE FROM event_relay \
     WHERE id IN (SELECT id FROM event_relay \
                   WHERE (SELECT held FROM held) \
                   ORDER BY id LIMIT $1) \
    RETURNING id, channel, payload) \
SELECT count(pg_notify(channel, payload)) AS relayed \
  FROM (SELECT channel, payload FROM batch ORDER BY id) AS ordered";

/// Queues `event` for delivery once its transaction commits. Payloads stay
/// small (ids and statuses): NOTIFY carries at most 8000 bytes, and clients
/// fetch details.
pub async fn publish<E: Serialize>(conn: &mut AsyncPgConnection, event: &E) -> StoreResult<()> {
    publish_all(conn, std::slice::from_ref(event)).await
}

/// Queues every event of `events` for delivery once its transaction commits, in one statement
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
    // events in `unnest` order (a join could reorder them).
    //
    // The webhook fan-out rides in the same statement, so it costs no round
    // trip: with no endpoint enabled, `hooks` joins against an empty (or
    // tiny) table and inserts nothing, and `wake` stops at its `EXISTS`. An
    // event that did fan out also queues one dispatcher job (unless one is
    // already waiting) and wakes the workers, through the relay as well.
    diesel::sql_query(FAN_OUT_AND_RELAY)
        .bind::<Text, _>(CHANNEL)
        .bind::<Array<Text>, _>(payloads)
        .bind::<Text, _>(webhook_endpoints::DISPATCH_JOB_KIND)
        .bind::<Text, _>(crate::jobs::CHANNEL)
        .prepared()
        .execute(conn)
        .await?;
    Ok(())
}

/// The most events one [`relay`] call sends.
pub const RELAY_BATCH: i64 = 1_000;

/// Sends the oldest committed events waiting in `event_relay` (at most
/// [`RELAY_BATCH`]) as NOTIFYs, in the order they were written, and removes
/// them; how many it sent. Run it outside any other transaction. Identical
/// payloads on one channel in one batch reach listeners once (PostgreSQL
/// folds them): the same announcement twice says nothing more.
pub async fn relay(conn: &mut AsyncPgConnection) -> StoreResult<usize> {
    #[derive(diesel::QueryableByName)]
    struct Relayed {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        relayed: i64,
    }
    let relayed: Relayed = diesel::sql_query(RELAY)
        .bind::<diesel::sql_types::BigInt, _>(RELAY_BATCH)
        .prepared()
        .get_result(conn)
        .await?;
    Ok(usize::try_from(relayed.relayed).unwrap_or_default())
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
