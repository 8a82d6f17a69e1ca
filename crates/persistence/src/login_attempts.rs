//! Login attempts, counted per throttle key (an account or a client address)
//! in a window that opens with the first attempt. Stored in PostgreSQL so every
//! node sees them.
//!
//! An attempt is counted before its password is checked, in one upsert: the
//! row lock serialises concurrent attempts and each sees the count the others
//! left, so a burst of guesses cannot all pass a check before any is recorded.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Integer, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::StoreResult;
use crate::schema::login_attempts;

/// A key's count after an attempt was recorded.
#[derive(Debug, QueryableByName)]
pub struct Attempts {
    #[diesel(sql_type = Text)]
    pub throttle_key: String,
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    pub window_started_at: DateTime<Utc>,
}

/// Counts one attempt for each key (a window older than `window` starts over)
/// and answers every key's count, this attempt included.
pub async fn record(
    conn: &mut AsyncPgConnection,
    keys: &[String],
    now: DateTime<Utc>,
    window: Duration,
) -> StoreResult<Vec<Attempts>> {
    // Sorted, so two statements lock shared keys in the same order.
    let mut keys = keys.to_vec();
    keys.sort();
    keys.dedup();
    Ok(diesel::sql_query(
        "INSERT INTO login_attempts AS a (throttle_key, attempts, window_started_at) \
         SELECT key, 1, $2 FROM unnest($1::text[]) AS key \
         ON CONFLICT (throttle_key) DO UPDATE SET \
           attempts = CASE WHEN a.window_started_at <= $3 THEN 1 ELSE a.attempts + 1 END, \
           window_started_at = CASE WHEN a.window_started_at <= $3 THEN $2 ELSE a.window_started_at END \
         RETURNING throttle_key, attempts, window_started_at",
    )
    .bind::<Array<Text>, _>(keys)
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(now - window)
    .load(conn)
    .await?)
}

/// A successful login: its account starts afresh and its attempt is taken back
/// from the address, so people who sign in correctly never lock out others.
pub async fn forgive(
    conn: &mut AsyncPgConnection,
    account: &str,
    address: &str,
) -> StoreResult<()> {
    diesel::delete(login_attempts::table.find(account))
        .execute(conn)
        .await?;
    diesel::update(login_attempts::table.find(address))
        .set(login_attempts::attempts.eq(diesel::dsl::sql::<Integer>("greatest(attempts - 1, 0)")))
        .execute(conn)
        .await?;
    Ok(())
}
