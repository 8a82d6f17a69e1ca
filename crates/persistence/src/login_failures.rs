//! Failed logins, counted per throttle key (an account or a client address)
//! inside a sliding window. Stored in PostgreSQL so every node sees them.

use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::StoreResult;
use crate::schema::login_failures;

/// How many failures `key` had since `since`, and when the oldest of them was.
pub async fn recent(
    conn: &mut AsyncPgConnection,
    key: &str,
    since: DateTime<Utc>,
) -> StoreResult<(i64, Option<DateTime<Utc>>)> {
    Ok(login_failures::table
        .filter(login_failures::throttle_key.eq(key))
        .filter(login_failures::failed_at.gt(since))
        .select((count_star(), min(login_failures::failed_at)))
        .first(conn)
        .await?)
}

/// Records one failure for each key, forgetting failures older than `forget_before`.
pub async fn record(
    conn: &mut AsyncPgConnection,
    keys: &[String],
    forget_before: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::delete(
        login_failures::table
            .filter(login_failures::throttle_key.eq_any(keys))
            .filter(login_failures::failed_at.lt(forget_before)),
    )
    .execute(conn)
    .await?;
    let rows: Vec<_> = keys
        .iter()
        .map(|key| login_failures::throttle_key.eq(key))
        .collect();
    diesel::insert_into(login_failures::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn clear(conn: &mut AsyncPgConnection, key: &str) -> StoreResult<()> {
    diesel::delete(login_failures::table.filter(login_failures::throttle_key.eq(key)))
        .execute(conn)
        .await?;
    Ok(())
}
