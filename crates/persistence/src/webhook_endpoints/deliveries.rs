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
use diesel::sql_types::{BigInt, Interval, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;
use wacrm_domain::webhook_endpoints::DeliveryStatus;

use crate::error::StoreResult;
use crate::page::{Page, PageRequest};
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
    .load(conn)
    .await?)
}

/// Records how the attempt numbered `attempt` went; `false` when the delivery
/// was claimed again (or replayed) meanwhile, and the outcome is not ours
/// to record.
pub async fn settle(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    attempt: i32,
    settled: Settled,
) -> StoreResult<bool> {
    let changed = diesel::update(
        webhook_deliveries::table
            .find(id)
            .filter(webhook_deliveries::attempts.eq(attempt))
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str())),
    )
    .set((
        webhook_deliveries::status.eq(settled.status.as_str()),
        webhook_deliveries::next_attempt_at.eq(settled.next_attempt_at),
        webhook_deliveries::last_status_code.eq(settled.status_code),
        webhook_deliveries::last_error.eq(settled.error),
        webhook_deliveries::updated_at.eq(Utc::now()),
    ))
    .execute(conn)
    .await?;
    Ok(changed > 0)
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
