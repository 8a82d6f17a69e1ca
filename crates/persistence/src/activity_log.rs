//! The log of every call made to a provider (bodies arrive already redacted).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::bulk::rows_per_insert;
use crate::error::StoreResult;
use crate::page::{Page, PageRequest};
use crate::schema::activity_log;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = activity_log)]
pub struct Entry {
    pub id: Uuid,
    pub connection_id: Option<Uuid>,
    pub provider: String,
    /// What wacrm was doing: `send_message`, `mark_read`, `sync_templates`, `fetch_media`.
    pub operation: String,
    pub method: String,
    pub path: String,
    pub status: Option<i32>,
    pub duration_ms: i32,
    pub request_body: Option<String>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub message_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

pub async fn record(conn: &mut AsyncPgConnection, entries: Vec<Entry>) -> StoreResult<()> {
    // A row binds 14 parameters.
    for chunk in entries.chunks(rows_per_insert(14)) {
        diesel::insert_into(activity_log::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(())
}

#[derive(Debug, Default)]
pub struct EntryFilter {
    pub connection_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
    pub errors_only: bool,
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &EntryFilter,
    page: PageRequest,
) -> StoreResult<Page<Entry>> {
    let mut query = activity_log::table.select(Entry::as_select()).into_boxed();
    if let Some(connection_id) = filter.connection_id {
        query = query.filter(activity_log::connection_id.eq(connection_id));
    }
    if let Some(message_id) = filter.message_id {
        query = query.filter(activity_log::message_id.eq(message_id));
    }
    if filter.errors_only {
        query = query.filter(activity_log::error.is_not_null());
    }
    let rows = crate::paginate!(query, activity_log::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |entry| entry.id))
}

pub async fn clear(conn: &mut AsyncPgConnection) -> StoreResult<usize> {
    Ok(diesel::delete(activity_log::table).execute(conn).await?)
}
