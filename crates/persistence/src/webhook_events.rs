//! Raw webhook bodies, stored before the provider gets its 200, processed by a
//! job, and kept (failed ones with their reason) for inspection and replay.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::StoreResult;
use crate::jobs::NewJob;
use crate::page::{Page, PageRequest};
use crate::prepared::PreparedExt as _;
use crate::schema::webhook_events;

pub const PENDING: &str = "pending";
pub const PROCESSED: &str = "processed";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_events)]
pub struct WebhookEvent {
    pub id: Uuid,
    pub connection_id: Uuid,
    pub provider: String,
    pub event_key: Vec<u8>,
    pub body: Vec<u8>,
    pub status: String,
    pub error: Option<String>,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
}

/// A body to store ([`store_with_jobs`]).
#[derive(Debug, Clone)]
pub struct NewWebhookEvent {
    pub id: Uuid,
    pub connection_id: Uuid,
    pub provider: String,
    pub event_key: Vec<u8>,
    pub body: Vec<u8>,
    pub status: String,
    pub error: Option<String>,
}

/// Stores `events` (a body already stored for the same connection is skipped)
/// and queues `jobs`, in ONE statement: atomic without a transaction block,
/// and one round trip for a whole group commit. Jobs are due now and have no
/// unique key.
pub async fn store_with_jobs(
    conn: &mut AsyncPgConnection,
    events: &[NewWebhookEvent],
    jobs: &[NewJob],
) -> StoreResult<()> {
    StoreWithJobs {
        ids: events.iter().map(|e| e.id).collect(),
        connection_ids: events.iter().map(|e| e.connection_id).collect(),
        providers: events.iter().map(|e| e.provider.as_str()).collect(),
        keys: events.iter().map(|e| e.event_key.as_slice()).collect(),
        bodies: events.iter().map(|e| e.body.as_slice()).collect(),
        statuses: events.iter().map(|e| e.status.as_str()).collect(),
        errors: events.iter().map(|e| e.error.as_deref()).collect(),
        kinds: jobs.iter().map(|j| j.kind.as_str()).collect(),
        payloads: jobs.iter().map(|j| &j.payload).collect(),
        max_attempts: jobs.iter().map(|j| j.max_attempts).collect(),
    }
    .execute(conn)
    .await?;
    Ok(())
}

/// [`store_with_jobs`]'s statement as a query of its own type, so that diesel
/// prepares it once per connection: `sql_query` is never prepared, and
/// parsing and planning it again for every group commit cost ≈ 5 % of
/// PostgreSQL's time at full ingest (bench/README.md).
struct StoreWithJobs<'a> {
    ids: Vec<Uuid>,
    connection_ids: Vec<Uuid>,
    providers: Vec<&'a str>,
    keys: Vec<&'a [u8]>,
    bodies: Vec<&'a [u8]>,
    statuses: Vec<&'a str>,
    errors: Vec<Option<&'a str>>,
    kinds: Vec<&'a str>,
    payloads: Vec<&'a serde_json::Value>,
    max_attempts: Vec<i32>,
}

impl QueryId for StoreWithJobs<'_> {
    type QueryId = StoreWithJobs<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for StoreWithJobs<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        use diesel::sql_types::{Array, Bytea, Integer, Jsonb, Nullable, Text, Uuid as SqlUuid};
        out.push_sql(
            "WITH stored AS (
                 INSERT INTO webhook_events
                     (id, connection_id, provider, event_key, body, status, error)
                 SELECT * FROM unnest(",
        );
        out.push_bind_param::<Array<SqlUuid>, _>(&self.ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<SqlUuid>, _>(&self.connection_ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.providers)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Bytea>, _>(&self.keys)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Bytea>, _>(&self.bodies)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.statuses)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.errors)?;
        out.push_sql(
            ")
                 ON CONFLICT (connection_id, event_key) DO NOTHING
             )
             INSERT INTO jobs (kind, payload, max_attempts)
             SELECT * FROM unnest(",
        );
        out.push_bind_param::<Array<Text>, _>(&self.kinds)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Jsonb>, _>(&self.payloads)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Integer>, _>(&self.max_attempts)?;
        out.push_sql(")");
        Ok(())
    }
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<WebhookEvent> {
    Ok(webhook_events::table
        .find(id)
        .select(WebhookEvent::as_select())
        .first(conn)
        .await?)
}

/// The events of `ids` still pending, oldest first (the ids are UUIDv7).
pub async fn find_pending(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> StoreResult<Vec<WebhookEvent>> {
    Ok(webhook_events::table
        .filter(webhook_events::id.eq_any(ids))
        .filter(webhook_events::status.eq(PENDING))
        .order(webhook_events::id)
        .select(WebhookEvent::as_select())
        .load(conn)
        .await?)
}

pub async fn mark_processed(conn: &mut AsyncPgConnection, ids: &[Uuid]) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    diesel::update(webhook_events::table.filter(webhook_events::id.eq_any(ids)))
        .set((
            webhook_events::status.eq(PROCESSED),
            webhook_events::error.eq(None::<String>),
            webhook_events::processed_at.eq(Utc::now()),
        ))
        .prepared()
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes up to `limit` events processed before `before`; returns how many went.
/// Failed and pending events are kept: someone still has to look at them.
pub async fn delete_processed_before(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> StoreResult<usize> {
    let old: Vec<Uuid> = webhook_events::table
        .filter(webhook_events::status.eq(PROCESSED))
        .filter(webhook_events::processed_at.lt(before))
        .select(webhook_events::id)
        .limit(limit)
        .load(conn)
        .await?;
    if old.is_empty() {
        return Ok(0);
    }
    Ok(
        diesel::delete(webhook_events::table.filter(webhook_events::id.eq_any(&old)))
            .execute(conn)
            .await?,
    )
}

pub async fn mark_failed(conn: &mut AsyncPgConnection, id: Uuid, reason: &str) -> StoreResult<()> {
    diesel::update(webhook_events::table.find(id))
        .set((
            webhook_events::status.eq(FAILED),
            webhook_events::error.eq(reason),
            webhook_events::processed_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Back to pending for a replay; `None` if the event is not failed.
pub async fn reset_failed(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> StoreResult<Option<WebhookEvent>> {
    Ok(diesel::update(
        webhook_events::table
            .find(id)
            .filter(webhook_events::status.eq(FAILED)),
    )
    .set((
        webhook_events::status.eq(PENDING),
        webhook_events::processed_at.eq(None::<DateTime<Utc>>),
    ))
    .returning(WebhookEvent::as_returning())
    .get_result(conn)
    .await
    .optional()?)
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    status: Option<&str>,
    page: PageRequest,
) -> StoreResult<Page<WebhookEvent>> {
    let mut query = webhook_events::table
        .select(WebhookEvent::as_select())
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(webhook_events::status.eq(status.to_owned()));
    }
    let rows = crate::paginate!(query, webhook_events::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |event| event.id))
}
