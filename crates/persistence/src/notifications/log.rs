//! The notification log: one row per (event, mapping), from `scheduled` to
//! `sent` (with the message it queued), `skipped` or `cancelled`, with the
//! reason. The row is also the claim: a second processing of the same event
//! finds it and sends nothing.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::StoreResult;
use crate::page::{Page, PageRequest};
use crate::schema::{crm_events, messages, notifications};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notifications)]
pub struct Notification {
    pub id: Uuid,
    pub event_id: Uuid,
    pub mapping_id: Option<Uuid>,
    pub event_type: String,
    pub subject: Option<String>,
    pub phone: Option<String>,
    pub parameters: Option<serde_json::Value>,
    pub message_id: Option<Uuid>,
    pub outcome: String,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub send_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = notifications)]
pub struct NewNotification {
    pub id: Uuid,
    pub event_id: Uuid,
    pub mapping_id: Uuid,
    pub event_type: String,
    pub subject: Option<String>,
    pub outcome: String,
    pub send_at: Option<DateTime<Utc>>,
}

/// How a notification ended.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = notifications, treat_none_as_null = true)]
pub struct Settled {
    pub outcome: String,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub phone: Option<String>,
    pub parameters: Option<serde_json::Value>,
    pub message_id: Option<Uuid>,
}

/// A log entry with its message's delivery status (a provider's refusal
/// shows there: `failed` with the error).
#[derive(Debug, Clone)]
pub struct LoggedNotification {
    pub notification: Notification,
    /// The event's id as its sender gave it (`lead_created:<id>` for ours).
    pub event_key: String,
    pub message_status: Option<String>,
    pub message_error: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default)]
pub struct NotificationFilter {
    pub event_type: Option<String>,
    pub mapping_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    pub outcome: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Claims (event, mapping); `None` when it was claimed before.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    new: NewNotification,
) -> StoreResult<Option<Notification>> {
    Ok(diesel::insert_into(notifications::table)
        .values(new)
        .on_conflict((notifications::event_id, notifications::mapping_id))
        .do_nothing()
        .returning(Notification::as_returning())
        .get_result(conn)
        .await
        .optional()?)
}

/// The notification, locked for the caller's transaction.
pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<Notification> {
    Ok(notifications::table
        .find(id)
        .select(Notification::as_select())
        .for_update()
        .first(conn)
        .await?)
}

pub async fn settle(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    settled: Settled,
) -> StoreResult<Notification> {
    Ok(diesel::update(notifications::table.find(id))
        .set((settled, notifications::updated_at.eq(Utc::now())))
        .returning(Notification::as_returning())
        .get_result(conn)
        .await?)
}

/// The ids of the notifications still scheduled for `subject`, locked.
pub async fn lock_scheduled_for(
    conn: &mut AsyncPgConnection,
    subject: &str,
) -> StoreResult<Vec<Uuid>> {
    Ok(notifications::table
        .filter(notifications::subject.eq(subject))
        .filter(notifications::outcome.eq("scheduled"))
        .select(notifications::id)
        .for_update()
        .load(conn)
        .await?)
}

/// The log, newest first.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &NotificationFilter,
    page: PageRequest,
) -> StoreResult<Page<LoggedNotification>> {
    let mut query = notifications::table
        .inner_join(crm_events::table)
        .left_join(messages::table)
        .select((
            Notification::as_select(),
            crm_events::key,
            messages::status.nullable(),
            messages::error.nullable(),
        ))
        .into_boxed();
    if let Some(event_type) = &filter.event_type {
        query = query.filter(notifications::event_type.eq(event_type.clone()));
    }
    if let Some(mapping_id) = filter.mapping_id {
        query = query.filter(notifications::mapping_id.eq(mapping_id));
    }
    if let Some(event_id) = filter.event_id {
        query = query.filter(notifications::event_id.eq(event_id));
    }
    if let Some(outcome) = &filter.outcome {
        query = query.filter(notifications::outcome.eq(outcome.clone()));
    }
    if let Some(from) = filter.from {
        query = query.filter(notifications::created_at.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(notifications::created_at.lt(to));
    }
    let rows: Vec<(
        Notification,
        String,
        Option<String>,
        Option<serde_json::Value>,
    )> = crate::paginate!(query, notifications::id, page)
        .load(conn)
        .await?;
    let rows = rows
        .into_iter()
        .map(
            |(notification, event_key, message_status, message_error)| LoggedNotification {
                notification,
                event_key,
                message_status,
                message_error,
            },
        )
        .collect();
    Ok(Page::from_rows(rows, page, |row| row.notification.id))
}
