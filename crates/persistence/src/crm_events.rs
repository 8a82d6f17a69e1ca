//! CRM events in: the durable outbox between a change (our own lead, contact
//! or ticket write, or the host CRM's `POST /api/v1/events`) and the job that
//! turns it into notifications. Unique on (source, key): the same event id
//! never acts twice.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::StoreResult;
use crate::schema::crm_events;

/// `POST /api/v1/events`: the key is the caller's event id.
pub const SOURCE_API: &str = "api";
/// Our own writes: the key is `<type>:<record id>`.
pub const SOURCE_INTERNAL: &str = "internal";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = crm_events)]
pub struct CrmEvent {
    pub id: Uuid,
    pub source: String,
    pub key: String,
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
    pub subject: Option<String>,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = crm_events)]
pub struct NewCrmEvent {
    pub id: Uuid,
    pub source: String,
    pub key: String,
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
    pub subject: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// Stores the event; `None` when one with the same source and key exists.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    new: NewCrmEvent,
) -> StoreResult<Option<CrmEvent>> {
    Ok(diesel::insert_into(crm_events::table)
        .values(new)
        .on_conflict((crm_events::source, crm_events::key))
        .do_nothing()
        .returning(CrmEvent::as_returning())
        .get_result(conn)
        .await
        .optional()?)
}

pub async fn find_by_key(
    conn: &mut AsyncPgConnection,
    source: &str,
    key: &str,
) -> StoreResult<CrmEvent> {
    Ok(crm_events::table
        .filter(crm_events::source.eq(source))
        .filter(crm_events::key.eq(key))
        .select(CrmEvent::as_select())
        .first(conn)
        .await?)
}

/// The event, locked for the caller's transaction (its processing).
pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<CrmEvent> {
    Ok(crm_events::table
        .find(id)
        .select(CrmEvent::as_select())
        .for_update()
        .first(conn)
        .await?)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<CrmEvent> {
    Ok(crm_events::table
        .find(id)
        .select(CrmEvent::as_select())
        .first(conn)
        .await?)
}

pub async fn mark_processed(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::update(crm_events::table.find(id))
        .set(crm_events::processed_at.eq(at))
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether an event of one of `kinds` has arrived for `subject` (an invoice
/// paid before its reminder was scheduled schedules none).
pub async fn has_subject_event(
    conn: &mut AsyncPgConnection,
    subject: &str,
    kinds: &[&str],
) -> StoreResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        crm_events::table
            .filter(crm_events::subject.eq(subject))
            .filter(crm_events::kind.eq_any(kinds)),
    ))
    .get_result(conn)
    .await?)
}
