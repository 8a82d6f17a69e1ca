//! Real-time events: published with PostgreSQL NOTIFY inside the transaction
//! that made the change (so they go out only if it commits), relayed by every
//! node to its SSE clients.

use diesel::sql_types::{Array, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use crate::error::StoreResult;

pub const CHANNEL: &str = "wacrm_events";

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
    let payloads: Vec<String> = events
        .iter()
        .map(|event| serde_json::to_string(event).unwrap_or_default())
        .collect();
    diesel::sql_query("SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload")
        .bind::<Text, _>(CHANNEL)
        .bind::<Array<Text>, _>(payloads)
        .execute(conn)
        .await?;
    Ok(())
}
