//! A campaign's lifecycle, for the API and the campaign jobs alike: start,
//! pause, resume, cancel, a run's completion, and the scheduling of the next
//! run. Every function runs in the caller's transaction with the campaign's
//! row locked (`campaigns::lock`), so a pause and a run's start never cross;
//! the caller wakes the workers after its commit (`JobSignal::jobs_queued`).
//!
//! Scheduling is jobs with `run_at`, no external cron: each run of the
//! schedule is a row, unique on (campaign, occurrence), created with the job
//! that starts it; the run that starts creates the next one. However many
//! workers run, an occurrence has one run and a run starts once.

pub mod failures;

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;
use wacrm_domain::campaigns::{CampaignStatus, PauseReason, Schedule};
use wacrm_persistence::campaigns::runs::{self, CampaignRun};
use wacrm_persistence::campaigns::{self as store, Campaign, recipients};
use wacrm_persistence::jobs::NewJob;
use wacrm_persistence::{
    AsyncPgConnection, StoreError, StoreResult, events, jobs as queue, templates,
};

use crate::jobs::{DispatchCampaignRun, StartCampaignRun};
use crate::new_job;

/// Why a lifecycle change cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// The campaign's status does not allow it (the status it has).
    #[error("the campaign is {0}")]
    WrongStatus(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

fn status_of(campaign: &Campaign) -> StoreResult<CampaignStatus> {
    CampaignStatus::parse(&campaign.status).ok_or_else(|| corrupt("unknown campaign status"))
}

async fn enqueue_at(
    conn: &mut AsyncPgConnection,
    job: NewJob,
    at: Option<DateTime<Utc>>,
) -> StoreResult<()> {
    queue::enqueue(conn, NewJob { run_at: at, ..job }).await?;
    Ok(())
}

/// Whether the campaign's template needs the recipient's marketing consent:
/// a MARKETING one, or one whose category is not known.
pub async fn needs_consent(
    conn: &mut AsyncPgConnection,
    campaign: &Campaign,
    connection_id: Uuid,
) -> StoreResult<bool> {
    Ok(templates::find_for_send(
        conn,
        connection_id,
        &campaign.template_name,
        &campaign.template_language,
    )
    .await?
    .and_then(|template| template.category)
    .is_none_or(|category| category.eq_ignore_ascii_case("MARKETING")))
}

/// Creates the run of the schedule's next occurrence and the job that starts
/// it then; records that none is left when the schedule is done.
pub async fn schedule_next(
    conn: &mut AsyncPgConnection,
    campaign: &Campaign,
    now: DateTime<Utc>,
) -> StoreResult<Option<CampaignRun>> {
    let schedule: Schedule = serde_json::from_value(campaign.schedule.clone()).map_err(corrupt)?;
    let next = campaign.runs_created + 1;
    let at = u32::try_from(next)
        .ok()
        .and_then(|n| schedule.occurrence(n, now));
    let Some(at) = at else {
        store::set_next_run(conn, campaign.id, campaign.runs_created, None).await?;
        return Ok(None);
    };
    let run = runs::insert(conn, campaign.id, next, at).await?;
    store::set_next_run(conn, campaign.id, next, Some(at)).await?;
    if let Some(run) = &run {
        let job = new_job(&StartCampaignRun { run_id: run.id }).map_err(corrupt)?;
        enqueue_at(conn, job, Some(at)).await?;
    }
    Ok(run)
}

/// Draft -> scheduled: the first run is created for its time.
pub async fn start(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Campaign, LifecycleError> {
    let campaign = store::lock(conn, id).await?;
    if status_of(&campaign)? != CampaignStatus::Draft {
        return Err(LifecycleError::WrongStatus(campaign.status));
    }
    store::set_status(conn, id, CampaignStatus::Scheduled.as_str(), None).await?;
    schedule_next(conn, &campaign, now).await?;
    publish(conn, id, None, "scheduled").await?;
    Ok(store::find(conn, id).await?)
}

/// Stops sending: the running runs pause with `reason`, and runs falling due
/// wait. Pausing a paused campaign changes only its reason.
pub async fn pause(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    reason: PauseReason,
    detail: Option<&str>,
) -> Result<Campaign, LifecycleError> {
    let campaign = store::lock(conn, id).await?;
    let status = status_of(&campaign)?;
    if !matches!(
        status,
        CampaignStatus::Scheduled | CampaignStatus::Running | CampaignStatus::Paused
    ) {
        return Err(LifecycleError::WrongStatus(campaign.status));
    }
    let pause = Some((reason.as_str(), detail));
    store::set_status(conn, id, CampaignStatus::Paused.as_str(), pause).await?;
    for run in runs::in_status(conn, id, &["running", "paused"]).await? {
        runs::set_status(conn, run.id, "paused", pause).await?;
    }
    publish(conn, id, None, "paused").await?;
    Ok(store::find(conn, id).await?)
}

/// Paused -> sending again: paused runs get a new dispatcher, runs whose
/// time came while paused start now.
pub async fn resume(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Campaign, LifecycleError> {
    let campaign = store::lock(conn, id).await?;
    if status_of(&campaign)? != CampaignStatus::Paused {
        return Err(LifecycleError::WrongStatus(campaign.status));
    }
    let paused = runs::in_status(conn, id, &["paused"]).await?;
    for run in &paused {
        runs::set_status(conn, run.id, "running", None).await?;
        dispatch(conn, run.id, None).await?;
    }
    for run in runs::in_status(conn, id, &["scheduled"]).await? {
        if run.scheduled_at <= now {
            let job = new_job(&StartCampaignRun { run_id: run.id }).map_err(corrupt)?;
            enqueue_at(conn, job, None).await?;
        }
    }
    let status = if paused.is_empty() {
        CampaignStatus::Scheduled
    } else {
        CampaignStatus::Running
    };
    store::set_status(conn, id, status.as_str(), None).await?;
    publish(conn, id, None, status.as_str()).await?;
    Ok(store::find(conn, id).await?)
}

/// Stops for good: no run starts again, recipients still pending are skipped
/// (`cancelled`) and messages still waiting in the outbox are withdrawn.
pub async fn cancel(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Campaign, LifecycleError> {
    let campaign = store::lock(conn, id).await?;
    if status_of(&campaign)?.is_final() {
        return Err(LifecycleError::WrongStatus(campaign.status));
    }
    for run in runs::in_status(conn, id, &["scheduled", "running", "paused"]).await? {
        runs::set_status(conn, run.id, "cancelled", None).await?;
        recipients::skip_pending(conn, run.id, "cancelled").await?;
        recipients::withdraw_unsent(conn, run.id).await?;
    }
    store::set_status(conn, id, CampaignStatus::Cancelled.as_str(), None).await?;
    store::set_next_run(conn, id, campaign.runs_created, None).await?;
    publish(conn, id, None, "cancelled").await?;
    Ok(store::find(conn, id).await?)
}

/// Makes the dispatcher of a new generation the run's only one, and queues it
/// (at `at`, or now).
pub async fn dispatch(
    conn: &mut AsyncPgConnection,
    run_id: Uuid,
    at: Option<DateTime<Utc>>,
) -> StoreResult<()> {
    let generation = runs::bump_generation(conn, run_id).await?;
    let job = new_job(&DispatchCampaignRun { run_id, generation }).map_err(corrupt)?;
    enqueue_at(conn, job, at).await
}

/// A run sent everything it will: it completes, and the campaign waits for
/// its next run or completes with it.
pub async fn complete_run(
    conn: &mut AsyncPgConnection,
    run: &CampaignRun,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let campaign = store::lock(conn, run.campaign_id).await?;
    runs::mark_completed(conn, run.id, now).await?;
    let others = runs::in_status(conn, campaign.id, &["scheduled", "running", "paused"]).await?;
    let status = if others.iter().any(|other| other.status != "scheduled") {
        CampaignStatus::Running
    } else if !others.is_empty() || campaign.next_run_at.is_some_and(|at| at > run.scheduled_at) {
        CampaignStatus::Scheduled
    } else {
        CampaignStatus::Completed
    };
    if status_of(&campaign)? != CampaignStatus::Paused {
        store::set_status(conn, campaign.id, status.as_str(), None).await?;
    }
    let funnel = recipients::funnel(conn, run.id).await?;
    events::publish(
        conn,
        &json!({
            "type": "campaign.completed",
            "campaign_id": campaign.id,
            "run_id": run.id,
            "occurrence": run.occurrence,
            "audience": funnel.audience,
            "queued": funnel.queued,
            "skipped": funnel.skipped,
            "failed": funnel.failed,
            "at": now,
        }),
    )
    .await
}

/// Tells SSE clients (and integrators) where a campaign stands.
pub async fn publish(
    conn: &mut AsyncPgConnection,
    campaign_id: Uuid,
    run_id: Option<Uuid>,
    status: &str,
) -> StoreResult<()> {
    events::publish(
        conn,
        &json!({"type": "campaign.progress", "campaign_id": campaign_id, "run_id": run_id, "status": status}),
    )
    .await
}
