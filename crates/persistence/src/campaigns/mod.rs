//! Campaigns: what to send, to whom, from which number and when. Runs (one
//! per occurrence of the schedule) are in [`runs`], their recipients in
//! [`recipients`].

pub mod recipients;
pub mod runs;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::StoreResult;
use crate::page::{Page, PageRequest};
use crate::schema::campaigns;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = campaigns)]
pub struct Campaign {
    pub id: Uuid,
    pub name: String,
    pub status: String,
    pub pause_reason: Option<String>,
    pub pause_detail: Option<String>,
    pub audience: serde_json::Value,
    pub number_id: Uuid,
    pub template_name: String,
    pub template_language: String,
    pub parameters: serde_json::Value,
    pub schedule: serde_json::Value,
    pub quiet_hours: Option<serde_json::Value>,
    pub next_run_at: Option<DateTime<Utc>>,
    pub runs_created: i32,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = campaigns)]
pub struct NewCampaign {
    pub id: Uuid,
    pub name: String,
    pub audience: serde_json::Value,
    pub number_id: Uuid,
    pub template_name: String,
    pub template_language: String,
    pub parameters: serde_json::Value,
    pub schedule: serde_json::Value,
    pub quiet_hours: Option<serde_json::Value>,
    pub created_by: Option<Uuid>,
}

/// What an edit changes (`None`: unchanged).
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = campaigns)]
pub struct CampaignChanges {
    pub name: Option<String>,
    pub audience: Option<serde_json::Value>,
    pub number_id: Option<Uuid>,
    pub template_name: Option<String>,
    pub template_language: Option<String>,
    pub parameters: Option<serde_json::Value>,
    pub schedule: Option<serde_json::Value>,
    pub quiet_hours: Option<Option<serde_json::Value>>,
    pub updated_at: Option<DateTime<Utc>>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: NewCampaign) -> StoreResult<Campaign> {
    Ok(diesel::insert_into(campaigns::table)
        .values(new)
        .returning(Campaign::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<Campaign> {
    Ok(campaigns::table
        .find(id)
        .select(Campaign::as_select())
        .first(conn)
        .await?)
}

/// The campaign, its row locked until the transaction ends: every change of
/// status goes through this lock, so a pause and a run's start never cross.
pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<Campaign> {
    Ok(campaigns::table
        .find(id)
        .select(Campaign::as_select())
        .for_update()
        .first(conn)
        .await?)
}

/// Newest first, optionally only those in `status`.
pub async fn list(
    conn: &mut AsyncPgConnection,
    status: Option<&str>,
    page: PageRequest,
) -> StoreResult<Page<Campaign>> {
    let mut query = campaigns::table.select(Campaign::as_select()).into_boxed();
    if let Some(status) = status {
        query = query.filter(campaigns::status.eq(status.to_owned()));
    }
    let rows = crate::paginate!(query, campaigns::id, page)
        .load(conn)
        .await?;
    Ok(Page::from_rows(rows, page, |campaign| campaign.id))
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: CampaignChanges,
) -> StoreResult<Campaign> {
    Ok(diesel::update(campaigns::table.find(id))
        .set(changes)
        .returning(Campaign::as_returning())
        .get_result(conn)
        .await?)
}

/// Sets the status and the pause reason (cleared unless pausing).
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: &str,
    pause: Option<(&str, Option<&str>)>,
) -> StoreResult<()> {
    diesel::update(campaigns::table.find(id))
        .set((
            campaigns::status.eq(status),
            campaigns::pause_reason.eq(pause.map(|(reason, _)| reason)),
            campaigns::pause_detail.eq(pause.and_then(|(_, detail)| detail)),
            campaigns::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Records that occurrence `runs_created` has its run and when the next one
/// is due (`None`: no more).
pub async fn set_next_run(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    runs_created: i32,
    next_run_at: Option<DateTime<Utc>>,
) -> StoreResult<()> {
    diesel::update(campaigns::table.find(id))
        .set((
            campaigns::runs_created.eq(runs_created),
            campaigns::next_run_at.eq(next_run_at),
            campaigns::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the campaign with its runs and recipients; false if there was none.
pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<bool> {
    let deleted = diesel::delete(campaigns::table.find(id))
        .execute(conn)
        .await?;
    Ok(deleted > 0)
}
