//! Segments: saved filters over leads, contacts or WhatsApp contacts, kept as
//! their target and filter and evaluated only when used (`audiences`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::page::{Page, PageRequest};
use crate::schema::segments;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = segments)]
pub struct Segment {
    pub id: Uuid,
    pub name: String,
    pub target: String,
    pub filter: serde_json::Value,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = segments)]
pub struct NewSegment {
    pub id: Uuid,
    pub name: String,
    pub target: String,
    pub filter: serde_json::Value,
    pub created_by: Option<Uuid>,
}

/// The unique index a second segment with the same name runs into.
pub const NAME_CONSTRAINT: &str = "segments_name_key";

pub async fn insert(conn: &mut AsyncPgConnection, new: NewSegment) -> StoreResult<Segment> {
    Ok(diesel::insert_into(segments::table)
        .values(new)
        .returning(Segment::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<Segment> {
    Ok(segments::table
        .find(id)
        .select(Segment::as_select())
        .first(conn)
        .await?)
}

pub async fn list(conn: &mut AsyncPgConnection, page: PageRequest) -> StoreResult<Page<Segment>> {
    let query = segments::table.select(Segment::as_select()).into_boxed();
    let rows = crate::paginate!(query, segments::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |segment| segment.id))
}

/// Replaces the name, target and filter.
pub async fn replace(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    name: String,
    target: String,
    filter: serde_json::Value,
) -> StoreResult<Segment> {
    Ok(diesel::update(segments::table.find(id))
        .set((
            segments::name.eq(name),
            segments::target.eq(target),
            segments::filter.eq(filter),
            segments::updated_at.eq(Utc::now()),
        ))
        .returning(Segment::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    match diesel::delete(segments::table.find(id))
        .execute(conn)
        .await?
    {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}
