//! System errors a provider reported outside any message (Meta's value-level
//! `errors`): kept per connection for its health and the admin list.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::bulk::rows_per_insert;
use crate::error::StoreResult;
use crate::page::{Page, PageRequest};
use crate::schema::provider_errors;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = provider_errors)]
pub struct ProviderErrorRow {
    pub id: Uuid,
    pub connection_id: Uuid,
    pub number_id: Option<Uuid>,
    pub code: String,
    pub title: String,
    pub details: Option<String>,
    pub raw: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_many(
    conn: &mut AsyncPgConnection,
    rows: Vec<ProviderErrorRow>,
) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    // One webhook may report any number of errors; a row binds 9 parameters.
    for chunk in rows.chunks(rows_per_insert(9)) {
        diesel::insert_into(provider_errors::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Newest first, of one connection or of all.
pub async fn list(
    conn: &mut AsyncPgConnection,
    connection_id: Option<Uuid>,
    page: PageRequest,
) -> StoreResult<Page<ProviderErrorRow>> {
    let mut query = provider_errors::table
        .select(ProviderErrorRow::as_select())
        .into_boxed();
    if let Some(connection_id) = connection_id {
        query = query.filter(provider_errors::connection_id.eq(connection_id));
    }
    let rows = crate::paginate!(query, provider_errors::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |row| row.id))
}

/// The newest error of each of these connections that has one.
pub async fn latest_of(
    conn: &mut AsyncPgConnection,
    connection_ids: &[Uuid],
) -> StoreResult<Vec<ProviderErrorRow>> {
    if connection_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(provider_errors::table
        .filter(provider_errors::connection_id.eq_any(connection_ids))
        .distinct_on(provider_errors::connection_id)
        .order((provider_errors::connection_id, provider_errors::id.desc()))
        .select(ProviderErrorRow::as_select())
        .load(conn)
        .await?)
}
