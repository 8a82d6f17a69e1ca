//! Campaign runs: one per occurrence of a campaign's schedule, unique on
//! (campaign, occurrence) so that an occurrence is run once however many
//! workers schedule it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::StoreResult;
use crate::schema::campaign_runs;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = campaign_runs)]
pub struct CampaignRun {
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub occurrence: i32,
    pub scheduled_at: DateTime<Utc>,
    pub status: String,
    pub pause_reason: Option<String>,
    pub pause_detail: Option<String>,
    pub duplicates: i32,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub dispatch_generation: i32,
}

/// Creates the run of `occurrence`; `None` when it exists already.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    campaign_id: Uuid,
    occurrence: i32,
    scheduled_at: DateTime<Utc>,
) -> StoreResult<Option<CampaignRun>> {
    Ok(diesel::insert_into(campaign_runs::table)
        .values((
            campaign_runs::id.eq(Uuid::now_v7()),
            campaign_runs::campaign_id.eq(campaign_id),
            campaign_runs::occurrence.eq(occurrence),
            campaign_runs::scheduled_at.eq(scheduled_at),
        ))
        .on_conflict((campaign_runs::campaign_id, campaign_runs::occurrence))
        .do_nothing()
        .returning(CampaignRun::as_returning())
        .get_result(conn)
        .await
        .optional()?)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<CampaignRun> {
    Ok(campaign_runs::table
        .find(id)
        .select(CampaignRun::as_select())
        .first(conn)
        .await?)
}

/// The run, locked until the transaction ends.
pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<CampaignRun> {
    Ok(campaign_runs::table
        .find(id)
        .select(CampaignRun::as_select())
        .for_update()
        .first(conn)
        .await?)
}

/// A campaign's runs, latest occurrence first.
pub async fn of_campaign(
    conn: &mut AsyncPgConnection,
    campaign_id: Uuid,
) -> StoreResult<Vec<CampaignRun>> {
    Ok(campaign_runs::table
        .filter(campaign_runs::campaign_id.eq(campaign_id))
        .order(campaign_runs::occurrence.desc())
        .select(CampaignRun::as_select())
        .load(conn)
        .await?)
}

/// Sets a run's status (and its pause reason, cleared unless pausing).
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: &str,
    pause: Option<(&str, Option<&str>)>,
) -> StoreResult<()> {
    diesel::update(campaign_runs::table.find(id))
        .set((
            campaign_runs::status.eq(status),
            campaign_runs::pause_reason.eq(pause.map(|(reason, _)| reason)),
            campaign_runs::pause_detail.eq(pause.and_then(|(_, detail)| detail)),
            campaign_runs::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks the run started at `at` with `duplicates` records merged by phone.
pub async fn mark_started(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    at: DateTime<Utc>,
    duplicates: i32,
) -> StoreResult<()> {
    diesel::update(campaign_runs::table.find(id))
        .set((
            campaign_runs::status.eq("running"),
            campaign_runs::started_at.eq(at),
            campaign_runs::duplicates.eq(duplicates),
            campaign_runs::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn mark_completed(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::update(campaign_runs::table.find(id))
        .set((
            campaign_runs::status.eq("completed"),
            campaign_runs::pause_reason.eq(None::<String>),
            campaign_runs::pause_detail.eq(None::<String>),
            campaign_runs::completed_at.eq(at),
            campaign_runs::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Makes the run's dispatcher of the new generation the only one that sends;
/// returns that generation.
pub async fn bump_generation(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<i32> {
    Ok(diesel::update(campaign_runs::table.find(id))
        .set(campaign_runs::dispatch_generation.eq(campaign_runs::dispatch_generation + 1))
        .returning(campaign_runs::dispatch_generation)
        .get_result(conn)
        .await?)
}

/// The campaign's runs in any of `statuses`.
pub async fn in_status(
    conn: &mut AsyncPgConnection,
    campaign_id: Uuid,
    statuses: &[&str],
) -> StoreResult<Vec<CampaignRun>> {
    Ok(campaign_runs::table
        .filter(campaign_runs::campaign_id.eq(campaign_id))
        .filter(campaign_runs::status.eq_any(statuses))
        .order(campaign_runs::occurrence)
        .select(CampaignRun::as_select())
        .load(conn)
        .await?)
}

/// Deletes a run (one not started yet, being rescheduled).
pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<()> {
    diesel::delete(campaign_runs::table.find(id))
        .execute(conn)
        .await?;
    Ok(())
}
