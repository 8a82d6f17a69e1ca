//! Notification mappings: an event type to a template on a sender number,
//! with the recipient, parameters, condition and timing kept as the domain's
//! JSON. `problem_*` is set by a trigger on `templates` when the template stops
//! being sendable (see the migration), and cleared when the mapping is saved.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::page::{Page, PageRequest};
use crate::schema::notification_mappings;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = notification_mappings)]
pub struct Mapping {
    pub id: Uuid,
    pub name: String,
    pub event_type: String,
    pub number_id: Uuid,
    pub template_name: String,
    pub template_language: String,
    pub send_to: serde_json::Value,
    pub parameters: serde_json::Value,
    pub condition: Option<serde_json::Value>,
    pub delay_minutes: i32,
    pub reminder: Option<serde_json::Value>,
    pub active: bool,
    pub problem_code: Option<String>,
    pub problem_detail: Option<String>,
    pub flagged_at: Option<DateTime<Utc>>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a save writes (create or replace).
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = notification_mappings, treat_none_as_null = true)]
pub struct MappingValues {
    pub name: String,
    pub event_type: String,
    pub number_id: Uuid,
    pub template_name: String,
    pub template_language: String,
    pub send_to: serde_json::Value,
    pub parameters: serde_json::Value,
    pub condition: Option<serde_json::Value>,
    pub delay_minutes: i32,
    pub reminder: Option<serde_json::Value>,
    pub active: bool,
}

#[derive(Debug, Clone, Default)]
pub struct MappingFilter {
    pub event_type: Option<String>,
    pub active: Option<bool>,
    /// Only mappings flagged with a problem.
    pub flagged: Option<bool>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    values: MappingValues,
    created_by: Option<Uuid>,
) -> StoreResult<Mapping> {
    Ok(diesel::insert_into(notification_mappings::table)
        .values((
            notification_mappings::id.eq(id),
            values,
            notification_mappings::created_by.eq(created_by),
        ))
        .returning(Mapping::as_returning())
        .get_result(conn)
        .await?)
}

/// Replaces the mapping's definition; a saved mapping was checked against its
/// template, so any flag is cleared.
pub async fn replace(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    values: MappingValues,
) -> StoreResult<Mapping> {
    Ok(diesel::update(notification_mappings::table.find(id))
        .set((
            values,
            notification_mappings::problem_code.eq(None::<String>),
            notification_mappings::problem_detail.eq(None::<String>),
            notification_mappings::flagged_at.eq(None::<DateTime<Utc>>),
            notification_mappings::updated_at.eq(Utc::now()),
        ))
        .returning(Mapping::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<Mapping> {
    Ok(notification_mappings::table
        .find(id)
        .select(Mapping::as_select())
        .first(conn)
        .await?)
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &MappingFilter,
    page: PageRequest,
) -> StoreResult<Page<Mapping>> {
    let mut query = notification_mappings::table
        .select(Mapping::as_select())
        .into_boxed();
    if let Some(event_type) = &filter.event_type {
        query = query.filter(notification_mappings::event_type.eq(event_type.clone()));
    }
    if let Some(active) = filter.active {
        query = query.filter(notification_mappings::active.eq(active));
    }
    match filter.flagged {
        Some(true) => query = query.filter(notification_mappings::problem_code.is_not_null()),
        Some(false) => query = query.filter(notification_mappings::problem_code.is_null()),
        None => {}
    }
    let rows = crate::paginate!(query, notification_mappings::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |mapping| mapping.id))
}

/// The active mappings of `event_type`, oldest first.
pub async fn active_for(
    conn: &mut AsyncPgConnection,
    event_type: &str,
) -> StoreResult<Vec<Mapping>> {
    Ok(notification_mappings::table
        .filter(notification_mappings::event_type.eq(event_type))
        .filter(notification_mappings::active)
        .order(notification_mappings::id)
        .select(Mapping::as_select())
        .load(conn)
        .await?)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    match diesel::delete(notification_mappings::table.find(id))
        .execute(conn)
        .await?
    {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}
