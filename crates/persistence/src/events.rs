//! Real-time events: published with PostgreSQL NOTIFY inside the transaction
//! that made the change (so they go out only if it commits), relayed by every
//! node to its SSE clients.

use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use crate::error::StoreResult;

pub const CHANNEL: &str = "wacrm_events";

/// Queues `event` for delivery at commit. Payloads stay small (ids and
/// statuses): NOTIFY carries at most 8000 bytes, and clients fetch details.
pub async fn publish<E: Serialize>(conn: &mut AsyncPgConnection, event: &E) -> StoreResult<()> {
    let payload = serde_json::to_string(event).unwrap_or_default();
    diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<Text, _>(CHANNEL)
        .bind::<Text, _>(payload)
        .execute(conn)
        .await?;
    Ok(())
}
