//! Idempotency keys: the first request with a key does the work and saves its
//! answer in the same transaction; a repeat gets that answer back.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::error::StoreResult;
use crate::schema::idempotency_keys;

pub const LIFETIME: Duration = Duration::hours(24);

/// What claiming a key found.
#[derive(Debug)]
pub enum Claim {
    /// The key is ours: do the work, then [`save`] the answer.
    New,
    /// Done before with this request: replay the answer.
    Replay {
        status: i32,
        body: serde_json::Value,
    },
    /// Used before with another request.
    Mismatch,
    /// Another request with this key has not finished.
    InFlight,
}

/// Claims `key` for `request_hash` inside the caller's transaction. A
/// concurrent claim of the same key waits for this transaction to end.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    scope: &str,
    key: &str,
    request_hash: &[u8],
) -> StoreResult<Claim> {
    let now = Utc::now();
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::scope.eq(scope))
            .filter(idempotency_keys::key.eq(key))
            .filter(idempotency_keys::expires_at.le(now)),
    )
    .execute(conn)
    .await?;
    let inserted = diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::scope.eq(scope),
            idempotency_keys::key.eq(key),
            idempotency_keys::request_hash.eq(request_hash),
            idempotency_keys::expires_at.eq(now + LIFETIME),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let (hash, status, body): (Vec<u8>, Option<i32>, Option<serde_json::Value>) =
        idempotency_keys::table
            .find((scope, key))
            .select((
                idempotency_keys::request_hash,
                idempotency_keys::response_status,
                idempotency_keys::response_body,
            ))
            .first(conn)
            .await?;
    Ok(match (hash == request_hash, status, body) {
        (false, _, _) => Claim::Mismatch,
        (true, Some(status), Some(body)) => Claim::Replay { status, body },
        (true, _, _) => Claim::InFlight,
    })
}

pub async fn save(
    conn: &mut AsyncPgConnection,
    scope: &str,
    key: &str,
    status: i32,
    body: &serde_json::Value,
) -> StoreResult<()> {
    diesel::update(idempotency_keys::table.find((scope, key)))
        .set((
            idempotency_keys::response_status.eq(status),
            idempotency_keys::response_body.eq(body),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets keys past their lifetime.
pub async fn sweep(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> StoreResult<usize> {
    Ok(
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::expires_at.le(now)))
            .execute(conn)
            .await?,
    )
}
