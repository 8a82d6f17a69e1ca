//! Quick replies: canned answers agents pick by shortcut in the inbox.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::page::{Page, PageRequest};
use crate::schema::quick_replies;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = quick_replies)]
pub struct QuickReply {
    pub id: Uuid,
    pub shortcut: String,
    pub title: Option<String>,
    pub body: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Shortcuts are unique without regard to case
/// ([`StoreError::Conflict`] on `quick_replies_shortcut_key`).
#[derive(Debug, Insertable)]
#[diesel(table_name = quick_replies)]
pub struct NewQuickReply {
    pub id: Uuid,
    pub shortcut: String,
    pub title: Option<String>,
    pub body: String,
    pub created_by: Option<Uuid>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = quick_replies)]
pub struct QuickReplyChanges {
    pub shortcut: Option<String>,
    pub title: Option<Option<String>>,
    pub body: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
pub struct QuickReplyFilter {
    /// Case-insensitive substring of the shortcut, title or body.
    pub search: Option<String>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: NewQuickReply) -> StoreResult<QuickReply> {
    Ok(diesel::insert_into(quick_replies::table)
        .values(new)
        .returning(QuickReply::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<QuickReply> {
    Ok(quick_replies::table
        .find(id)
        .select(QuickReply::as_select())
        .first(conn)
        .await?)
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &QuickReplyFilter,
    page: PageRequest,
) -> StoreResult<Page<QuickReply>> {
    let mut query = quick_replies::table
        .select(QuickReply::as_select())
        .into_boxed();
    if let Some(search) = &filter.search {
        let pattern = crate::like_pattern(search);
        query = query.filter(
            quick_replies::shortcut
                .ilike(pattern.clone())
                .or(quick_replies::title.ilike(pattern.clone()))
                .or(quick_replies::body.ilike(pattern)),
        );
    }
    let rows = crate::paginate!(query, quick_replies::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |reply| reply.id))
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    mut changes: QuickReplyChanges,
) -> StoreResult<QuickReply> {
    changes.updated_at = Some(Utc::now());
    Ok(diesel::update(quick_replies::table.find(id))
        .set(changes)
        .returning(QuickReply::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    match diesel::delete(quick_replies::table.find(id))
        .execute(conn)
        .await?
    {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}
