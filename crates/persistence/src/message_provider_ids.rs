//! The ids providers give our outbound messages, per connection, and the locks
//! that keep a status report and the delivery that records its id from
//! missing each other.
//!
//! A message can have several ids (TATA's request id, then the wamid; Whats91's
//! queueUid and reportUid, then the wamid). Each is unique on its connection:
//! a status is only ever matched on the connection it arrived on.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;
use wacrm_domain::provider_id::IdKind;

use crate::bulk::rows_per_insert;
use crate::error::StoreResult;
use crate::prepared::PreparedExt as _;
use crate::schema::message_provider_ids;

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = message_provider_ids)]
struct NewProviderId<'a> {
    connection_id: Uuid,
    provider_message_id: &'a str,
    message_id: Uuid,
    kind: &'static str,
}

/// Takes, for the caller's transaction, a lock per key, in one global order
/// (so two transactions never wait on each other in a circle). A status report
/// and the delivery that records its id both lock the id first: whichever
/// commits second sees the other's rows.
pub async fn lock_keys(conn: &mut AsyncPgConnection, keys: &[String]) -> StoreResult<()> {
    if keys.is_empty() {
        return Ok(());
    }
    diesel::sql_query(
        "SELECT count(pg_advisory_xact_lock(key)) AS locked FROM (
             SELECT DISTINCT hashtextextended(text_key, 0) AS key
             FROM unnest($1::text[]) AS text_key
             ORDER BY key
         ) AS keys",
    )
    .bind::<Array<Text>, _>(keys)
    .prepared()
    .execute(conn)
    .await?;
    Ok(())
}

/// The lock key of a provider id on a connection.
pub fn id_key(connection_id: Uuid, provider_message_id: &str) -> String {
    format!("message-id:{connection_id}:{provider_message_id}")
}

/// The lock key of a customer's unmatched sends on a connection.
pub fn recipient_key(connection_id: Uuid, recipient: &str) -> String {
    format!("recipient:{connection_id}:{recipient}")
}

/// The message one of `ids` belongs to on the connection, if any.
pub async fn find_message(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
    ids: &[String],
) -> StoreResult<Option<Uuid>> {
    Ok(message_provider_ids::table
        .filter(message_provider_ids::connection_id.eq(connection_id))
        .filter(message_provider_ids::provider_message_id.eq_any(ids))
        .select(message_provider_ids::message_id)
        .first(conn)
        .await
        .optional()?)
}

/// Records the ids of a message; an id already recorded stays as it is.
pub async fn record(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
    message_id: Uuid,
    ids: &[(IdKind, String)],
) -> StoreResult<()> {
    record_many(conn, connection_id, &[(message_id, ids)]).await
}

/// [`record`] for many messages on one connection, in a statement per
/// chunk of rows (a batch of deliveries).
pub async fn record_many(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
    messages: &[(Uuid, &[(IdKind, String)])],
) -> StoreResult<()> {
    let rows: Vec<NewProviderId<'_>> = messages
        .iter()
        .flat_map(|(message_id, ids)| {
            ids.iter().map(move |(kind, id)| NewProviderId {
                connection_id,
                provider_message_id: id,
                message_id: *message_id,
                kind: kind.as_str(),
            })
        })
        .collect();
    // A row binds 4 parameters.
    for chunk in rows.chunks(rows_per_insert(4)) {
        diesel::insert_into(message_provider_ids::table)
            .values(chunk)
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Whether the message has the id its status reports name.
pub async fn has_message_id(conn: &mut AsyncPgConnection, message_id: Uuid) -> StoreResult<bool> {
    let found: Option<Uuid> = message_provider_ids::table
        .filter(message_provider_ids::message_id.eq(message_id))
        .filter(message_provider_ids::kind.eq(IdKind::Message.as_str()))
        .select(message_provider_ids::message_id)
        .first(conn)
        .await
        .optional()?;
    Ok(found.is_some())
}

/// How long after its id was recorded an unmatched send may still be claimed
/// by a status naming an unknown wamid, per kind of id it has.
#[derive(Debug, Clone, Copy)]
pub struct ClaimWindows {
    pub request: chrono::Duration,
    pub queue: chrono::Duration,
}

/// The oldest send to `recipient` on the connection that has no `message` id
/// yet, recorded within its window around `at` (a TATA request id, a Whats91
/// queued send); locked for the caller's transaction.
pub async fn oldest_unmatched(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
    recipient: &str,
    at: DateTime<Utc>,
    windows: ClaimWindows,
) -> StoreResult<Option<Uuid>> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = SqlUuid)]
        message_id: Uuid,
    }
    let found: Option<Found> = diesel::sql_query(
        "SELECT ids.message_id FROM message_provider_ids AS ids
         JOIN messages ON messages.id = ids.message_id
         JOIN conversations ON conversations.id = messages.conversation_id
         WHERE ids.connection_id = $1
           AND conversations.customer_phone = $2
           AND messages.direction = 'outbound'
           AND ((ids.kind = 'request' AND ids.created_at BETWEEN $3 - $4 * interval '1 second'
                                                            AND $3 + $4 * interval '1 second')
             OR (ids.kind = 'queue' AND ids.created_at BETWEEN $3 - $5 * interval '1 second'
                                                          AND $3 + $4 * interval '1 second'))
           AND NOT EXISTS (
               SELECT 1 FROM message_provider_ids AS known
               WHERE known.message_id = ids.message_id AND known.kind = 'message')
         ORDER BY ids.created_at, ids.message_id
         LIMIT 1
         FOR UPDATE OF messages",
    )
    .bind::<SqlUuid, _>(connection_id)
    .bind::<Text, _>(recipient)
    .bind::<Timestamptz, _>(at)
    .bind::<BigInt, _>(windows.request.num_seconds())
    .bind::<BigInt, _>(windows.queue.num_seconds())
    .prepared()
    .get_result(conn)
    .await
    .optional()?;
    Ok(found.map(|found| found.message_id))
}
