//! Waking the dispatcher: a `dispatch_webhooks` job due when the next
//! delivery is, queued unless one due by then is already waiting. No unique
//! key: concurrent writers never wait on each other's uncommitted job row; a
//! spare dispatcher finds nothing to claim and ends.

use chrono::{DateTime, Utc};
use diesel::sql_types::{Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::DISPATCH_JOB_KIND;
use crate::error::StoreResult;
use crate::prepared::PreparedExt as _;

/// Queues a dispatcher due at `at` unless one due by then is queued already.
pub async fn queue_dispatch(conn: &mut AsyncPgConnection, at: DateTime<Utc>) -> StoreResult<()> {
    diesel::sql_query(
        "INSERT INTO jobs (kind, payload, max_attempts, run_at) \
         SELECT $1, '{}'::jsonb, 8, $2 \
          WHERE NOT EXISTS (SELECT 1 FROM jobs \
                             WHERE kind = $1 AND status = 'queued' \
                               AND unique_key IS NULL AND run_at <= $2)",
    )
    .bind::<Text, _>(DISPATCH_JOB_KIND)
    .bind::<Timestamptz, _>(at)
    .prepared()
    .execute(conn)
    .await?;
    Ok(())
}
