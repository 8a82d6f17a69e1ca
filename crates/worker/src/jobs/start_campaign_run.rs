//! Starts a campaign run when its time comes: materialises its recipients
//! (one row per phone, a snapshot of the audience), schedules the campaign's
//! next run, and hands the run to its dispatcher, all in one transaction. A
//! run starts once: the job does nothing for a run that is no longer
//! `scheduled`, and a crash before the commit leaves it so for the retry.

use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wacrm_domain::audiences::Audience;
use wacrm_domain::campaigns::{CampaignStatus, PauseReason};
use wacrm_persistence::campaigns::runs;
use wacrm_persistence::campaigns::{self as store, recipients};
use wacrm_persistence::{StoreError, audiences, numbers};

use crate::campaigns;
use crate::context::WorkerContext;
use crate::{Job, JobError};

#[derive(Debug, Serialize, Deserialize)]
pub struct StartCampaignRun {
    pub run_id: Uuid,
}

impl Job for StartCampaignRun {
    const KIND: &'static str = "start_campaign_run";
    type Context = WorkerContext;

    fn unique_key(&self) -> Option<String> {
        Some(format!("start_campaign_run:{}", self.run_id))
    }

    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        let now = ctx.clock.now();
        let run_id = self.run_id;
        let started = conn
            .transaction::<_, StoreError, _>(async |conn| {
                let run = match runs::lock(conn, run_id).await {
                    Ok(run) => run,
                    Err(StoreError::NotFound) => return Ok(false),
                    Err(error) => return Err(error),
                };
                if run.status != "scheduled" {
                    return Ok(false);
                }
                let campaign = store::lock(conn, run.campaign_id).await?;
                match CampaignStatus::parse(&campaign.status) {
                    Some(CampaignStatus::Scheduled | CampaignStatus::Running) => {}
                    // Waits for the resume, which queues this job again.
                    Some(CampaignStatus::Paused) => return Ok(false),
                    _ => {
                        runs::set_status(conn, run.id, "cancelled", None).await?;
                        return Ok(false);
                    }
                }
                let audience: Audience = serde_json::from_value(campaign.audience.clone())
                    .map_err(|error| StoreError::Corrupt(error.to_string()))?;
                let resolved = match audiences::resolve(conn, audience).await {
                    Ok(resolved) => resolved,
                    Err(StoreError::NotFound) => {
                        campaigns::pause(
                            conn,
                            campaign.id,
                            PauseReason::AudienceUnavailable,
                            Some("the audience's segment no longer exists"),
                        )
                        .await
                        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
                        return Ok(true);
                    }
                    Err(error) => return Err(error),
                };
                let number = numbers::find(conn, campaign.number_id).await?;
                let marketing =
                    campaigns::needs_consent(conn, &campaign, number.connection_id).await?;
                let materialising = std::time::Instant::now();
                let recipients =
                    recipients::materialise(conn, run.id, number.id, &resolved, marketing, now)
                        .await?;
                tracing::info!(
                    campaign_id = %campaign.id,
                    run_id = %run.id,
                    recipients,
                    elapsed_ms = materialising.elapsed().as_millis(),
                    "campaign run materialised"
                );
                let duplicates = audiences::count_duplicates(conn, &resolved).await?;
                runs::mark_started(
                    conn,
                    run.id,
                    now,
                    i32::try_from(duplicates).unwrap_or(i32::MAX),
                )
                .await?;
                store::set_status(conn, campaign.id, CampaignStatus::Running.as_str(), None)
                    .await?;
                campaigns::dispatch(conn, run.id, None).await?;
                campaigns::schedule_next(conn, &campaign, now).await?;
                campaigns::publish(conn, campaign.id, Some(run.id), "running").await?;
                Ok(true)
            })
            .await
            .map_err(retry)?;
        if started {
            ctx.signal.jobs_queued();
        }
        Ok(())
    }
}

fn retry(error: impl std::fmt::Display) -> JobError {
    JobError::retry(error.to_string())
}
