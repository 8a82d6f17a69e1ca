//! Writes a provider client's call records to the activity log.

use chrono::Utc;
use uuid::Uuid;
use wacrm_persistence::activity_log::{self, Entry};
use wacrm_persistence::connections::Connection;
use wacrm_persistence::{AsyncPgConnection, StoreResult};
use wacrm_providers::CallRecord;

pub async fn record_calls(
    conn: &mut AsyncPgConnection,
    connection: &Connection,
    operation: &str,
    message_id: Option<Uuid>,
    calls: Vec<CallRecord>,
) -> StoreResult<()> {
    activity_log::record(conn, entries(connection, operation, message_id, calls)).await
}

/// The activity log's entries for `calls` (several operations' entries can
/// then be written together).
pub fn entries(
    connection: &Connection,
    operation: &str,
    message_id: Option<Uuid>,
    calls: Vec<CallRecord>,
) -> Vec<Entry> {
    calls
        .into_iter()
        .map(|call| Entry {
            id: Uuid::now_v7(),
            connection_id: Some(connection.id),
            provider: connection.provider.as_str().to_owned(),
            operation: operation.to_owned(),
            method: call.method,
            path: call.path,
            status: call.status.map(i32::from),
            duration_ms: i32::try_from(call.duration_ms).unwrap_or(i32::MAX),
            request_body: call.request_body,
            response_body: call.response_body,
            error: call.error,
            message_id,
            created_at: Utc::now(),
        })
        .collect()
}
