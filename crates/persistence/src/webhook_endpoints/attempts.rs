//! The history of a delivery: one row per attempt, with the receiver's status,
//! how long it took, and a fixed sentence when no answer came.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::StoreResult;
use crate::schema::webhook_attempts;

/// A delivery shows at most this many attempts (the newest).
const MAX_LISTED: i64 = 200;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_attempts)]
pub struct Attempt {
    pub id: i64,
    pub delivery_id: Uuid,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    pub error: Option<String>,
    pub response_body: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = webhook_attempts)]
pub struct NewAttempt {
    pub delivery_id: Uuid,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    pub error: Option<String>,
    pub response_body: Option<String>,
}

/// Records the attempts of a batch (in as few statements as the parameter
/// limit allows).
pub async fn record_attempts(conn: &mut AsyncPgConnection, new: &[NewAttempt]) -> StoreResult<()> {
    for chunk in new.chunks(crate::bulk::rows_per_insert(6)) {
        diesel::insert_into(webhook_attempts::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// A delivery's attempts, oldest first (the newest 200).
pub async fn list_attempts(
    conn: &mut AsyncPgConnection,
    delivery_id: Uuid,
) -> StoreResult<Vec<Attempt>> {
    let mut newest: Vec<Attempt> = webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq(delivery_id))
        .order(webhook_attempts::id.desc())
        .limit(MAX_LISTED)
        .select(Attempt::as_select())
        .load(conn)
        .await?;
    newest.reverse();
    Ok(newest)
}
