//! A campaign run's dispatcher: hands the run's recipients to the outbox as
//! fast as the number can send, and stops the run when it must.
//!
//! Each batch is one transaction: it locks the run, checks what may stop it
//! (the template left APPROVED, the connection's credentials were refused,
//! too many recent failures, the number's daily budget), claims due
//! recipients (`FOR UPDATE SKIP LOCKED`) and queues their messages through
//! the outbox with the recipients' new state. A crash anywhere loses or
//! repeats nothing: a batch commits whole or not at all, and delivery itself
//! never sends a message twice (`deliver_message`).
//!
//! The dispatcher keeps only about a second of the number's rate in the
//! outbox (half on its way to the provider, half waiting for its pace), so
//! an agent's or a bot's reply on the same number waits behind at most that
//! much campaign traffic (conversations come first), and a pause or a cancel
//! takes effect within it.
//!
//! One dispatcher per run: a start, a resume or a continuation bumps the
//! run's `dispatch_generation` and queues a dispatcher carrying it; one of an
//! older generation stops at its next batch. It hands over to a fresh job
//! every [`SLICE`] (job attempts have a timeout) and sleeps as a job with a
//! `run_at` while nothing is due (quiet hours, the daily budget).

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;
use wacrm_domain::campaigns::{
    FAILURE_THRESHOLD, FAILURE_WINDOW, PauseReason, QuietHours, failing_too_often,
};
use wacrm_domain::template;
use wacrm_domain::template_mapping::MappedParameters;
use wacrm_persistence::campaigns::recipients::{self, Recipient};
use wacrm_persistence::campaigns::runs::{self, CampaignRun};
use wacrm_persistence::campaigns::{self as store, Campaign};
use wacrm_persistence::conversations::CustomerKey;
use wacrm_persistence::numbers::Number;
use wacrm_persistence::{
    AsyncPgConnection, StoreError, connections, conversations, events, numbers, templates,
};

use super::SEND_LATENCY;
use crate::campaigns::{self, LifecycleError};
use crate::context::WorkerContext;
use crate::outbox::{self, Draft, Refusal};
use crate::{Job, JobError};

/// How long one dispatcher job runs before handing over to the next.
const SLICE: Duration = Duration::from_secs(40);
/// The most recipients one batch queues.
const BATCH: i64 = 500;
/// How much of the number's traffic may wait for its pace in the outbox.
const WAITING_FOR_PACE: Duration = Duration::from_millis(500);
/// How long to wait while the outbox is full or messages are still on their way.
const PAUSE: Duration = Duration::from_millis(100);

#[derive(Debug, Serialize, Deserialize)]
pub struct DispatchCampaignRun {
    pub run_id: Uuid,
    /// Only the run's current generation dispatches.
    pub generation: i32,
}

/// What a batch leaves the dispatcher to do.
enum Next {
    /// The run is done, paused, cancelled, or taken over.
    Stop,
    /// Queued this many; go on at once.
    Queued(usize),
    /// Nothing to do for a moment.
    Wait,
    /// Nothing is due before this time.
    Sleep(DateTime<Utc>),
}

impl Job for DispatchCampaignRun {
    const KIND: &'static str = "dispatch_campaign_run";
    type Context = WorkerContext;

    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let started = tokio::time::Instant::now();
        loop {
            // A connection per batch: none is held while the dispatcher waits.
            let mut conn = ctx.pool.get().await.map_err(retry)?;
            let next = conn
                .transaction::<_, StoreError, _>(async |conn| self.batch(ctx, conn).await)
                .await
                .map_err(retry)?;
            match next {
                Next::Stop => return Ok(()),
                Next::Queued(0) => {}
                Next::Queued(_) => ctx.signal.jobs_queued(),
                Next::Wait => {
                    drop(conn);
                    tokio::time::sleep(PAUSE).await;
                }
                Next::Sleep(at) => return self.hand_over(ctx, &mut conn, Some(at)).await,
            }
            if started.elapsed() >= SLICE {
                let mut conn = ctx.pool.get().await.map_err(retry)?;
                return self.hand_over(ctx, &mut conn, None).await;
            }
        }
    }
}

impl DispatchCampaignRun {
    /// Queues the run's next dispatcher (at `at`, or now) and stops this one.
    async fn hand_over(
        &self,
        ctx: &WorkerContext,
        conn: &mut AsyncPgConnection,
        at: Option<DateTime<Utc>>,
    ) -> Result<(), JobError> {
        let (run_id, generation) = (self.run_id, self.generation);
        let handed = conn
            .transaction::<_, StoreError, _>(async |conn| {
                let run = runs::lock(conn, run_id).await?;
                if run.dispatch_generation != generation {
                    return Ok(false);
                }
                campaigns::dispatch(conn, run_id, at).await?;
                Ok(true)
            })
            .await
            .map_err(retry)?;
        if handed {
            ctx.signal.jobs_queued();
        }
        Ok(())
    }

    async fn batch(
        &self,
        ctx: &WorkerContext,
        conn: &mut AsyncPgConnection,
    ) -> Result<Next, StoreError> {
        let run = match runs::lock(conn, self.run_id).await {
            Ok(run) => run,
            Err(StoreError::NotFound) => return Ok(Next::Stop),
            Err(error) => return Err(error),
        };
        let budget_paused = run.status == "paused"
            && run.pause_reason.as_deref() == Some(PauseReason::DailyBudget.as_str());
        if run.dispatch_generation != self.generation || !(run.status == "running" || budget_paused)
        {
            return Ok(Next::Stop);
        }
        let campaign = store::find(conn, run.campaign_id).await?;
        let number = numbers::find(conn, campaign.number_id).await?;
        let connection = connections::find(conn, &ctx.cipher, number.connection_id).await?;
        let now = ctx.clock.now();

        if !connection.is_healthy {
            let detail = connection.health_error.as_deref();
            return stop(conn, &campaign, PauseReason::ConnectionAuthFailed, detail).await;
        }
        let template = templates::find_for_send(
            conn,
            connection.id,
            &campaign.template_name,
            &campaign.template_language,
        )
        .await?;
        let Some(template) = template.filter(|template| template.status == "APPROVED") else {
            let detail = "the template is no longer APPROVED; resume once it is";
            return stop(
                conn,
                &campaign,
                PauseReason::TemplateNotApproved,
                Some(detail),
            )
            .await;
        };
        let (failed, decided) =
            recipients::recent_failures(conn, campaign.id, FAILURE_WINDOW).await?;
        if failing_too_often(failed, decided, FAILURE_THRESHOLD) {
            let detail = format!("{failed} of the latest {decided} sends failed");
            return stop(conn, &campaign, PauseReason::FailureRatio, Some(&detail)).await;
        }

        match recipients::next_due(conn, run.id).await? {
            None if recipients::unsent(conn, run.id).await? == 0 => {
                campaigns::complete_run(conn, &run, now).await?;
                return Ok(Next::Stop);
            }
            // The last messages are on their way: look again shortly.
            None => return Ok(Next::Sleep(now + chrono::Duration::seconds(2))),
            Some(due) if due > now => return Ok(Next::Sleep(due)),
            Some(_) => {}
        }
        let Some(left) = budget_left(conn, &campaign, &run, &number, now).await? else {
            let freed =
                recipients::oldest_in_budget(conn, number.id, now - chrono::Duration::days(1))
                    .await?
                    .map_or(now + chrono::Duration::minutes(1), |oldest| {
                        oldest + chrono::Duration::days(1)
                    });
            return Ok(Next::Sleep(freed));
        };
        let room = outbox_room(&number) - recipients::waiting_in_outbox(conn, number.id).await?;
        if room <= 0 {
            return Ok(Next::Wait);
        }
        let parameters: MappedParameters = serde_json::from_value(campaign.parameters.clone())
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let quiet_hours: Option<QuietHours> = campaign
            .quiet_hours
            .clone()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let sending = Sending {
            campaign: &campaign,
            number: &number,
            parameters: &parameters,
            requirements: template::requirements(&template.components),
            quiet_hours: quiet_hours.as_ref(),
            now,
        };
        let claimed = recipients::claim_due(conn, run.id, now, room.min(left).min(BATCH)).await?;
        let handled = claimed.len();
        let queued = sending.send(ctx, conn, claimed).await?;
        if handled > 0 {
            events::publish(
                conn,
                &json!({"type": "campaign.progress", "campaign_id": campaign.id, "run_id": run.id,
                        "status": "running", "handled": handled, "queued": queued}),
            )
            .await?;
        }
        Ok(Next::Queued(queued))
    }
}

/// The campaign pauses for `reason`; this dispatcher stops.
async fn stop(
    conn: &mut AsyncPgConnection,
    campaign: &Campaign,
    reason: PauseReason,
    detail: Option<&str>,
) -> Result<Next, StoreError> {
    tracing::warn!(campaign_id = %campaign.id, reason = reason.as_str(), detail, "campaign paused");
    match campaigns::pause(conn, campaign.id, reason, detail).await {
        Ok(_) | Err(LifecycleError::WrongStatus(_)) => Ok(Next::Stop),
        Err(LifecycleError::Store(error)) => Err(error),
    }
}

/// How many more distinct recipients the number may be sent to now; `None`
/// when its daily budget is used up, in which case the run pauses (and the
/// campaign with it) until the moving 24 hours free some. A run paused for
/// the budget resumes here once they do.
async fn budget_left(
    conn: &mut AsyncPgConnection,
    campaign: &Campaign,
    run: &CampaignRun,
    number: &Number,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    let paused = run.status == "paused";
    let left = match number.daily_recipient_limit {
        None => i64::MAX,
        Some(limit) => {
            let used =
                recipients::budget_used(conn, number.id, now - chrono::Duration::days(1)).await?;
            i64::from(limit) - used
        }
    };
    if left <= 0 {
        if !paused {
            let detail = format!(
                "the number's daily budget of {} recipients is used up; the campaign resumes by itself when it frees up",
                number.daily_recipient_limit.unwrap_or_default()
            );
            tracing::info!(campaign_id = %campaign.id, "campaign paused for its number's daily budget");
            match campaigns::pause(conn, campaign.id, PauseReason::DailyBudget, Some(&detail)).await
            {
                Ok(_) | Err(LifecycleError::WrongStatus(_)) => {}
                Err(LifecycleError::Store(error)) => return Err(error),
            }
        }
        return Ok(None);
    }
    if paused {
        // Only the budget pauses a run this dispatcher keeps watching.
        runs::set_status(conn, run.id, "running", None).await?;
        store::set_status(conn, campaign.id, "running", None).await?;
        campaigns::publish(conn, campaign.id, Some(run.id), "running").await?;
    }
    Ok(Some(left))
}

/// How many campaign messages of `number` may be in the outbox, waiting or
/// on their way: a second of its rate (at least 2). About half of it is on
/// its way to the provider at any moment (`SEND_LATENCY` of the rate), the
/// rest waits for its pace, so an agent's reply queued now is claimed behind
/// at most that. Counting only what waits would let the runner's slots fill
/// the pacer; counting less than the sends in flight stalls the campaign on
/// the provider's answer time (half a second of room gave 225/s at 1,000/s).
fn outbox_room(number: &Number) -> i64 {
    let room = WAITING_FOR_PACE + SEND_LATENCY;
    let millis = i64::try_from(room.as_millis()).unwrap_or(1_000);
    (i64::from(number.messages_per_second) * millis / 1_000).max(2)
}

/// What every recipient of a batch is sent with.
struct Sending<'a> {
    campaign: &'a Campaign,
    number: &'a Number,
    parameters: &'a MappedParameters,
    requirements: template::TemplateRequirements,
    quiet_hours: Option<&'a QuietHours>,
    now: DateTime<Utc>,
}

impl Sending<'_> {
    /// Queues the recipients' messages in one batch, and records why for
    /// those that get none (or not yet: quiet hours); how many were queued.
    async fn send(
        &self,
        ctx: &WorkerContext,
        conn: &mut AsyncPgConnection,
        claimed: Vec<Recipient>,
    ) -> Result<usize, StoreError> {
        let mut ready = Vec::with_capacity(claimed.len());
        for recipient in claimed {
            if let Some(quiet) = self.quiet_hours {
                let zone =
                    quiet.zone_of(recipient.time_zone.as_deref(), recipient.phone.as_deref());
                let allowed = quiet.next_allowed(self.now, zone);
                if allowed > self.now {
                    recipients::defer(conn, recipient.id, allowed).await?;
                    continue;
                }
            }
            let Some(phone) = recipient.phone.clone() else {
                recipients::mark_unsent(conn, recipient.id, "skipped", "invalid_phone", None)
                    .await?;
                continue;
            };
            match self.parameters.render(
                &self.campaign.template_name,
                &self.campaign.template_language,
                &self.requirements,
                &recipient.record,
            ) {
                Ok(content) => ready.push((recipient.id, phone, content)),
                Err(field) => {
                    let detail = format!("`{field}` is empty and has no fallback");
                    recipients::mark_unsent(
                        conn,
                        recipient.id,
                        "skipped",
                        "missing_variable",
                        Some(&detail),
                    )
                    .await?;
                }
            }
        }
        if ready.is_empty() {
            return Ok(0);
        }
        let keys: Vec<CustomerKey> = ready
            .iter()
            .map(|(_, phone, _)| CustomerKey::phone(self.number.id, phone))
            .collect();
        let mut locked = conversations::lock_or_create_many(conn, &keys).await?;
        let mut ids = Vec::with_capacity(ready.len());
        let mut items = Vec::with_capacity(ready.len());
        for ((id, _, content), key) in ready.into_iter().zip(&keys) {
            let conversation = locked
                .of_key
                .get(key)
                .and_then(|conversation| locked.rows.get(conversation))
                .cloned()
                .ok_or(StoreError::NotFound)?;
            ids.push(id);
            items.push((
                conversation,
                Draft {
                    content,
                    context_message_id: None,
                    sent_by: format!("campaign:{}", self.campaign.id),
                },
            ));
        }
        locked.rows.clear();
        let outcomes =
            outbox::queue_batch(conn, &ctx.cipher, self.number.id, items, self.now).await?;
        let mut queued = Vec::with_capacity(outcomes.len());
        for (id, outcome) in ids.into_iter().zip(outcomes) {
            match outcome {
                Ok(message) => queued.push((id, message.id)),
                Err(refusal) => {
                    let (status, reason, detail) = refused(&refusal);
                    recipients::mark_unsent(conn, id, status, reason, detail.as_deref()).await?;
                }
            }
        }
        recipients::mark_queued_many(conn, &queued, self.now).await?;
        Ok(queued.len())
    }
}

/// A recipient's status, reason and detail for the outbox's refusal.
fn refused(refusal: &Refusal) -> (&'static str, &'static str, Option<String>) {
    match refusal {
        Refusal::RecipientOptedOut => ("skipped", "opted_out", None),
        Refusal::RecipientBlocked => ("skipped", "blocked", None),
        Refusal::Unsupported(sentence) => ("failed", "unsupported", Some(sentence.clone())),
        Refusal::SessionExpired { .. } => ("failed", "session_expired", None),
        Refusal::TemplateNotFound { .. } => ("failed", "template_not_found", None),
        Refusal::TemplateNotApproved { status, .. } => {
            ("failed", "template_not_approved", Some(status.clone()))
        }
        Refusal::TemplateParameters(sentence) => {
            ("failed", "invalid_parameters", Some(sentence.clone()))
        }
    }
}

fn retry(error: impl std::fmt::Display) -> JobError {
    JobError::retry(error.to_string())
}
