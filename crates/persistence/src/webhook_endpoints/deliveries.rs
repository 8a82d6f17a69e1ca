//! The webhook outbox: one delivery per event and endpoint, claimed by the
//! dispatcher when due, settled by each attempt, replayed on request.
//!
//! A claim is not a lock held across the HTTP call: it moves the delivery's
//! `next_attempt_at` one lease ahead and counts the attempt, in one
//! statement (`FOR UPDATE SKIP LOCKED`, so dispatchers on several nodes take
//! different rows). The attempt settles the delivery only if nobody claimed
//! it since (same attempt count); a dispatcher that died leaves the delivery
//! to be taken again when the lease runs out.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int4, Interval, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;
use wacrm_domain::webhook_endpoints::DeliveryStatus;

use crate::error::StoreResult;
use crate::page::{Page, PageRequest};
use crate::prepared::PreparedExt as _;
use crate::schema::{webhook_deliveries, webhook_endpoints};

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    /// The `webhook-id` the receiver sees.
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_type: String,
    pub payload: serde_json::Value,
    /// `pending`, `succeeded` or `failed` ([`DeliveryStatus`]).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A delivery claimed for one attempt: `delivery.attempts` counts it.
pub type Claimed = Delivery;

/// How an attempt leaves its delivery.
#[derive(Debug, Clone)]
pub struct Settled {
    pub status: DeliveryStatus,
    /// For a pending delivery: when to try again.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub status_code: Option<i32>,
    pub error: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<String>,
    /// Created at or after.
    pub since: Option<DateTime<Utc>>,
    /// Created before.
    pub until: Option<DateTime<Utc>>,
}

/// Claims up to `limit` deliveries due at `now` (of enabled endpoints), the
/// longest-waiting first, for one attempt each.
pub async fn claim_due(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: i64,
) -> StoreResult<Vec<Claimed>> {
    Ok(diesel::sql_query(
        "UPDATE webhook_deliveries AS d \
            SET next_attempt_at = $1 + $2, attempts = d.attempts + 1, updated_at = now() \
           FROM (SELECT q.id FROM webhook_deliveries AS q \
                  WHERE q.status = 'pending' AND q.next_attempt_at <= $1 \
                    AND EXISTS (SELECT 1 FROM webhook_endpoints AS w \
                                 WHERE w.id = q.endpoint_id AND w.enabled) \
                  ORDER BY q.next_attempt_at \
                  LIMIT $3 \
                  FOR UPDATE OF q SKIP LOCKED) AS due \
          WHERE d.id = due.id \
      RETURNING d.*",
    )
    .bind::<Timestamptz, _>(now)
    .bind::<Interval, _>(lease)
    .bind::<BigInt, _>(limit)
    .prepared()
    .load(conn)
    .await?)
}

/// Records how a batch of attempts went, in one statement: `(delivery id,
/// attempt number, how it went)`. A delivery is settled only if nobody claimed
/// it since (the same attempt number) and it is still pending; answers those
/// settled (the others are the newer attempt's, or a replay's).
pub async fn settle_many(
    conn: &mut AsyncPgConnection,
    settled: &[(Uuid, i32, Settled)],
) -> StoreResult<Vec<Uuid>> {
    if settled.is_empty() {
        return Ok(Vec::new());
    }
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    let ids: Vec<Uuid> = settled.iter().map(|(id, _, _)| *id).collect();
    let attempts: Vec<i32> = settled.iter().map(|(_, attempt, _)| *attempt).collect();
    let statuses: Vec<&str> = settled.iter().map(|(_, _, s)| s.status.as_str()).collect();
    let next: Vec<Option<DateTime<Utc>>> =
        settled.iter().map(|(_, _, s)| s.next_attempt_at).collect();
    let codes: Vec<Option<i32>> = settled.iter().map(|(_, _, s)| s.status_code).collect();
    let errors: Vec<Option<&str>> = settled.iter().map(|(_, _, s)| s.error.as_deref()).collect();
    let rows: Vec<Id> = diesel::sql_query(
        "UPDATE webhook_deliveries AS d \
            SET status = u.status, next_attempt_at = u.next_attempt_at, \
                last_status_code = u.status_code, last_error = u.error, updated_at = now() \
           FROM unnest($1::uuid[], $2::int4[], $3::text[], $4::timestamptz[], $5::int4[], $6::text[]) \
                AS u (id, attempt, status, next_attempt_at, status_code, error) \
          WHERE d.id = u.id AND d.attempts = u.attempt AND d.status = 'pending' \
      RETURNING d.id",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(ids)
    .bind::<Array<Int4>, _>(attempts)
    .bind::<Array<Text>, _>(statuses)
    .bind::<Array<Nullable<Timestamptz>>, _>(next)
    .bind::<Array<Nullable<Int4>>, _>(codes)
    .bind::<Array<Nullable<Text>>, _>(errors)
    .prepared()
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|row| row.id).collect())
}

/// Fails every pending delivery of an endpoint that was disabled; answers how many.
pub async fn fail_pending(
    conn: &mut AsyncPgConnection,
    endpoint_id: Uuid,
    reason: &str,
) -> StoreResult<usize> {
    Ok(diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str())),
    )
    .set((
        webhook_deliveries::status.eq(DeliveryStatus::Failed.as_str()),
        webhook_deliveries::next_attempt_at.eq(None::<DateTime<Utc>>),
        webhook_deliveries::last_error.eq(reason),
        webhook_deliveries::updated_at.eq(Utc::now()),
    ))
    .execute(conn)
    .await?)
}

/// When the next pending delivery (of an enabled endpoint) falls due, if any
/// is waiting: only those can be claimed.
pub async fn next_due(conn: &mut AsyncPgConnection) -> StoreResult<Option<DateTime<Utc>>> {
    Ok(webhook_deliveries::table
        .inner_join(webhook_endpoints::table)
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_endpoints::enabled)
        .select(diesel::dsl::min(webhook_deliveries::next_attempt_at))
        .first(conn)
        .await?)
}

/// Sends the deliveries of `endpoint_id` that `filter` selects again, as new
/// deliveries of the same event: the same `webhook-id` and body, due at
/// `now`, with the whole schedule of attempts ahead. Deliveries still pending
/// are left on their way; `only` narrows to one delivery (which, pending,
/// is made due at once). Answers the deliveries re-queued.
pub async fn replay(
    conn: &mut AsyncPgConnection,
    endpoint_id: Uuid,
    filter: &DeliveryFilter,
    only: Option<Uuid>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Delivery>> {
    let mut query = diesel::update(webhook_deliveries::table)
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .into_boxed();
    match only {
        Some(id) => query = query.filter(webhook_deliveries::id.eq(id)),
        None => {
            query = query.filter(webhook_deliveries::status.ne(DeliveryStatus::Pending.as_str()));
        }
    }
    if let Some(status) = filter.status {
        query = query.filter(webhook_deliveries::status.eq(status.as_str()));
    }
    if let Some(kind) = &filter.event_type {
        query = query.filter(webhook_deliveries::event_type.eq(kind));
    }
    if let Some(since) = filter.since {
        query = query.filter(webhook_deliveries::created_at.ge(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(webhook_deliveries::created_at.lt(until));
    }
    Ok(query
        .set((
            webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
            webhook_deliveries::attempts.eq(0),
            webhook_deliveries::next_attempt_at.eq(Some(now)),
            webhook_deliveries::updated_at.eq(Utc::now()),
        ))
        .returning(Delivery::as_returning())
        .get_results(conn)
        .await?)
}

/// Deletes up to `limit` finished deliveries (with their attempts) created
/// before `before`; answers how many. Deliveries ids are UUIDv7, so "created
/// before" is a range of the primary key: no index on a time column needed.
pub async fn delete_finished_before(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> StoreResult<usize> {
    let millis = u128::try_from(before.timestamp_millis()).unwrap_or(0);
    // The smallest UUIDv7 of that millisecond: every delivery created earlier sorts below it.
    let boundary = Uuid::from_u128(millis << 80);
    Ok(diesel::sql_query(
        "DELETE FROM webhook_deliveries WHERE id IN ( \
             SELECT id FROM webhook_deliveries \
              WHERE id < $1 AND status <> 'pending' \
              LIMIT $2)",
    )
    .bind::<diesel::sql_types::Uuid, _>(boundary)
    .bind::<BigInt, _>(limit)
    .prepared()
    .execute(conn)
    .await?)
}

pub async fn find_delivery(
    conn: &mut AsyncPgConnection,
    endpoint_id: Uuid,
    id: Uuid,
) -> StoreResult<Delivery> {
    Ok(webhook_deliveries::table
        .find(id)
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .select(Delivery::as_select())
        .first(conn)
        .await?)
}

/// An endpoint's deliveries, newest first.
pub async fn list_deliveries(
    conn: &mut AsyncPgConnection,
    endpoint_id: Uuid,
    filter: &DeliveryFilter,
    page: PageRequest,
) -> StoreResult<Page<Delivery>> {
    let mut query = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .select(Delivery::as_select())
        .into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(webhook_deliveries::status.eq(status.as_str()));
    }
    if let Some(kind) = &filter.event_type {
        query = query.filter(webhook_deliveries::event_type.eq(kind.clone()));
    }
    if let Some(since) = filter.since {
        query = query.filter(webhook_deliveries::created_at.ge(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(webhook_deliveries::created_at.lt(until));
    }
    let rows = crate::paginate!(query, webhook_deliveries::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |delivery| delivery.id))
}

/// Whether `endpoint_id` names an endpoint (for the 404 of its sub-resources).
pub async fn endpoint_exists(conn: &mut AsyncPgConnection, endpoint_id: Uuid) -> StoreResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        webhook_endpoints::table.find(endpoint_id),
    ))
    .get_result(conn)
    .await?)
}
