//! Recording a batch of accepted sends: their calls, ids, statuses and
//! events, in one transaction with a statement per step for the whole batch.

use chrono::Utc;
use diesel_async::AsyncConnection as _;
use serde_json::{Value, json};
use wacrm_persistence::connections::Connection;
use wacrm_persistence::messages::Message;
use wacrm_persistence::{AsyncPgConnection, PgPool, StoreError, activity_log, events};
use wacrm_providers::CallRecord;
use wacrm_providers::client::Sent;

use crate::jobs::activity;
use crate::statuses::{self, AcceptedSend};

/// A send the provider accepted, with the calls it took.
pub struct SentRecord {
    pub connection: Connection,
    pub message: Message,
    pub customer_phone: String,
    pub sent: Sent,
    pub calls: Vec<CallRecord>,
}

/// Records every send of `records` (one transaction); answers each in
/// order. When the batch fails together, each is recorded alone, so that a
/// failure stays with the send that causes it.
pub async fn record_all(pool: PgPool, records: Vec<SentRecord>) -> Vec<Result<(), String>> {
    let mut conn = match pool.get().await {
        Ok(conn) => conn,
        Err(error) => return records.iter().map(|_| Err(error.to_string())).collect(),
    };
    let together = conn
        .transaction::<_, StoreError, _>(async |conn| record(conn, &records).await)
        .await;
    match together {
        Ok(()) => records.iter().map(|_| Ok(())).collect(),
        Err(error) if records.len() == 1 => vec![Err(error.to_string())],
        Err(error) => {
            tracing::warn!(%error, sends = records.len(), "cannot record a batch of sends together; each is recorded alone");
            let mut answers = Vec::with_capacity(records.len());
            for one in records.chunks(1) {
                let alone = conn
                    .transaction::<_, StoreError, _>(async |conn| record(conn, one).await)
                    .await;
                answers.push(alone.map_err(|error| error.to_string()));
            }
            answers
        }
    }
}

async fn record(conn: &mut AsyncPgConnection, records: &[SentRecord]) -> Result<(), StoreError> {
    let entries = records
        .iter()
        .flat_map(|record| {
            activity::entries(
                &record.connection,
                "send_message",
                Some(record.message.id),
                record.calls.clone(),
            )
        })
        .collect();
    activity_log::record(conn, entries).await?;
    let sends: Vec<AcceptedSend<'_>> = records
        .iter()
        .map(|record| AcceptedSend {
            connection: &record.connection,
            message: &record.message,
            customer_phone: &record.customer_phone,
            sent: &record.sent,
        })
        .collect();
    let later = statuses::record_sent_all(conn, &sends).await?;
    // Each send's `sent`, then the reports that beat this commit.
    let mut announcements: Vec<Value> = Vec::new();
    for (record, later) in records.iter().zip(later) {
        announcements.push(status_event(&record.message, "sent"));
        announcements.extend(later);
    }
    events::publish_all(conn, &announcements).await
}

/// A `message.status` event.
pub fn status_event(message: &Message, status: &str) -> Value {
    json!({"type": "message.status", "message_id": message.id, "conversation_id": message.conversation_id, "status": status, "at": Utc::now()})
}
