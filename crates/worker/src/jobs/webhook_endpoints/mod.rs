//! Delivering integrators' webhooks: a dispatcher job claims due deliveries
//! from the outbox in batches, sends them with a bounded number in flight,
//! and settles each by the Standard Webhooks rules (the domain's `judge`):
//! retry on the schedule, fail after the last attempt, disable the endpoint
//! on 410 Gone or after a run of failed deliveries, saying so with an
//! `endpoint.disabled` event.
//!
//! The dispatcher is queued by the statement that writes deliveries (see
//! `wacrm_persistence::events`), by itself for the next retry it leaves
//! waiting, and every 30 s as a safety net. One runs at a time per process,
//! on any number of nodes (claims skip each other's rows), so requests in
//! flight are at most `WACRM_WEBHOOK_CONCURRENCY` per node.

mod request;
mod signature;
mod sweep;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel_async::AsyncConnection as _;
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;
use wacrm_domain::webhook_endpoints::{AttemptOutcome, DeliveryStatus, DisabledReason, judge};
use wacrm_persistence::webhook_endpoints::{self as store, Claimed, NewAttempt, Settled};
use wacrm_persistence::{AsyncPgConnection, StoreError, events};
use wacrm_providers::egress::{Egress, HttpClient};

use self::request::{Answer, Target};
use crate::context::WorkerContext;
use crate::{Job, JobError};

pub use self::sweep::SweepWebhookDeliveries;

/// Deliveries claimed at a time.
const BATCH: i64 = 64;
/// How long a claim holds a batch beyond its requests' own time (each wave of
/// `in_flight` requests may take the 15 s timeout): then another dispatcher
/// may take it over.
const LEASE_MARGIN_SECS: i64 = 30;
/// A dispatcher hands over to a fresh job after this long, so one busy
/// endpoint set never holds a worker slot for good.
const BUDGET: Duration = Duration::from_secs(50);

/// What delivering webhooks needs beyond the rest of the workers.
#[derive(Clone)]
pub struct WebhookDelivery {
    /// For endpoints an admin allowed to reach private addresses; the others
    /// go through the workers' own client and its policy.
    pub private_http: HttpClient,
    /// `WACRM_WEBHOOK_DISABLE_AFTER_FAILURES`: deliveries in a row that ran out
    /// of attempts before the endpoint is disabled.
    pub disable_after_failures: i32,
    /// `WACRM_WEBHOOK_CONCURRENCY`: requests in flight per dispatcher.
    pub in_flight: usize,
    /// One dispatcher runs at a time in a process: the requests in flight stay
    /// bounded, and a burst of events never takes every worker slot.
    running: Arc<tokio::sync::Semaphore>,
}

pub const DEFAULT_DISABLE_AFTER_FAILURES: i32 = 10;
pub const DEFAULT_IN_FLIGHT: usize = 32;

impl WebhookDelivery {
    /// Fails only when the HTTP client's TLS backend cannot start.
    pub fn new() -> Result<Self, reqwest::Error> {
        Ok(Self {
            private_http: HttpClient::new(Egress {
                allow_private_targets: true,
            })?,
            disable_after_failures: DEFAULT_DISABLE_AFTER_FAILURES,
            in_flight: DEFAULT_IN_FLIGHT,
            running: Arc::new(tokio::sync::Semaphore::new(1)),
        })
    }
}

/// Sends every delivery that is due, then queues itself for the next one.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DispatchWebhooks {
    /// The periodic safety net (one queued at a time across nodes); the
    /// others carry no key, so writers never wait on each other.
    #[serde(default)]
    pub periodic: bool,
}

impl Job for DispatchWebhooks {
    const KIND: &'static str = store::DISPATCH_JOB_KIND;
    type Context = WorkerContext;

    fn unique_key(&self) -> Option<String> {
        self.periodic.then(|| format!("{}:periodic", Self::KIND))
    }

    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let Ok(_running) = ctx.webhook_delivery.running.try_acquire() else {
            // Another dispatcher of this process is at work and claims what is
            // due. It may have looked for the last time just before the
            // deliveries that queued this job committed: look again shortly.
            let mut conn = ctx.pool.get().await.map_err(retry)?;
            store::queue_dispatch(&mut conn, ctx.clock.now() + chrono::Duration::seconds(1))
                .await
                .map_err(retry)?;
            return Ok(());
        };
        let started = Instant::now();
        let in_flight = ctx.webhook_delivery.in_flight.max(1);
        let waves = i64::try_from(usize::try_from(BATCH).unwrap_or(1).div_ceil(in_flight))
            .unwrap_or(i64::MAX);
        let lease = chrono::Duration::seconds(
            waves
                .saturating_mul(request::TIMEOUT_SECS)
                .saturating_add(LEASE_MARGIN_SECS),
        );
        loop {
            let claimed = {
                let mut conn = ctx.pool.get().await.map_err(retry)?;
                store::claim_due(&mut conn, ctx.clock.now(), lease, BATCH)
                    .await
                    .map_err(retry)?
            };
            if claimed.is_empty() {
                break;
            }
            let more = claimed.len() as i64 == BATCH;
            dispatch(ctx, claimed).await?;
            if more && started.elapsed() > BUDGET {
                break;
            }
        }
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        if let Some(at) = store::next_due(&mut conn).await.map_err(retry)? {
            store::queue_dispatch(&mut conn, at).await.map_err(retry)?;
            if at <= ctx.clock.now() {
                ctx.signal.jobs_queued();
            }
        }
        Ok(())
    }
}

/// Sends one claimed batch and settles it.
async fn dispatch(ctx: &WorkerContext, claimed: Vec<Claimed>) -> Result<(), JobError> {
    let mut ids: Vec<Uuid> = claimed
        .iter()
        .map(|delivery| delivery.endpoint_id)
        .collect();
    ids.sort();
    ids.dedup();
    // An endpoint deleted since the claim is missing: its deliveries went with it.
    let endpoints: HashMap<Uuid, Arc<store::Target>> = {
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        store::targets(&mut conn, &ctx.cipher, &ids, ctx.clock.now())
            .await
            .map_err(retry)?
            .into_iter()
            .map(|target| (target.id, Arc::new(target)))
            .collect()
    };
    let attempts: Vec<_> = claimed
        .into_iter()
        .filter_map(|delivery| {
            let endpoint = endpoints.get(&delivery.endpoint_id)?.clone();
            Some(attempt(ctx, delivery, endpoint))
        })
        .collect();
    let answers: Vec<(Claimed, Answer)> = futures_util::stream::iter(attempts)
        .buffer_unordered(ctx.webhook_delivery.in_flight.max(1))
        .collect()
        .await;
    let mut conn = ctx.pool.get().await.map_err(retry)?;
    conn.transaction::<_, StoreError, _>(async |conn| settle(ctx, conn, answers).await)
        .await
        .map_err(retry)
}

/// Sends one delivery to its endpoint.
async fn attempt(
    ctx: &WorkerContext,
    delivery: Claimed,
    endpoint: Arc<store::Target>,
) -> (Claimed, Answer) {
    let target = Target {
        client: if endpoint.allow_private_targets {
            &ctx.webhook_delivery.private_http
        } else {
            &ctx.http
        },
        url: &endpoint.url,
        secrets: &endpoint.secrets,
    };
    let body = serde_json::to_vec(&delivery.payload).unwrap_or_default();
    let answer = request::send(&target, &delivery.id.to_string(), body, ctx.clock.now()).await;
    (delivery, answer)
}

/// Records a batch's attempts and what they mean for the deliveries and their
/// endpoints: a handful of statements for the whole batch, plus a few for
/// each delivery that failed for good.
async fn settle(
    ctx: &WorkerContext,
    conn: &mut AsyncPgConnection,
    answers: Vec<(Claimed, Answer)>,
) -> Result<(), StoreError> {
    let now = ctx.clock.now();
    let judged: Vec<(Claimed, Answer, AttemptOutcome)> = answers
        .into_iter()
        .map(|(delivery, answer)| {
            let outcome = judge(
                answer.status,
                delivery.attempts,
                rand::random::<f64>(),
                answer.retry_after,
            );
            (delivery, answer, outcome)
        })
        .collect();
    let attempts: Vec<NewAttempt> = judged
        .iter()
        .map(|(delivery, answer, _)| NewAttempt {
            delivery_id: delivery.id,
            attempted_at: answer.attempted_at,
            status_code: answer.status.map(i32::from),
            duration_ms: answer.duration_ms,
            error: answer.error.clone(),
            response_body: answer.body.clone(),
        })
        .collect();
    store::record_attempts(conn, &attempts).await?;
    let settled: Vec<(Uuid, i32, Settled)> = judged
        .iter()
        .map(|(delivery, answer, outcome)| {
            let (status, next_attempt_at) = match outcome {
                AttemptOutcome::Delivered => (DeliveryStatus::Succeeded, None),
                AttemptOutcome::RetryAfter(wait) => (DeliveryStatus::Pending, Some(now + *wait)),
                AttemptOutcome::GiveUp | AttemptOutcome::Gone => (DeliveryStatus::Failed, None),
            };
            let settled = Settled {
                status,
                next_attempt_at,
                status_code: answer.status.map(i32::from),
                error: answer.error.clone(),
            };
            (delivery.id, delivery.attempts, settled)
        })
        .collect();
    // Deliveries claimed again or replayed meanwhile are the newer attempt's to settle.
    let applied: HashSet<Uuid> = store::settle_many(conn, &settled)
        .await?
        .into_iter()
        .collect();
    let mut delivered_to: Vec<Uuid> = judged
        .iter()
        .filter(|(delivery, _, outcome)| {
            *outcome == AttemptOutcome::Delivered && applied.contains(&delivery.id)
        })
        .map(|(delivery, _, _)| delivery.endpoint_id)
        .collect();
    delivered_to.sort();
    delivered_to.dedup();
    store::reset_failures(conn, &delivered_to).await?;
    for (delivery, _, outcome) in &judged {
        if !applied.contains(&delivery.id) {
            continue;
        }
        match outcome {
            AttemptOutcome::Gone => {
                disable(ctx, conn, delivery.endpoint_id, DisabledReason::Gone).await?;
            }
            AttemptOutcome::GiveUp => {
                let run = store::count_failure(conn, delivery.endpoint_id).await?;
                if run >= ctx.webhook_delivery.disable_after_failures {
                    disable(ctx, conn, delivery.endpoint_id, DisabledReason::Failing).await?;
                }
            }
            AttemptOutcome::Delivered | AttemptOutcome::RetryAfter(_) => {}
        }
    }
    Ok(())
}

/// Turns the endpoint off, fails what was waiting for it, and tells everyone
/// listening (SSE clients, and integrators subscribed to `endpoint.disabled`).
async fn disable(
    ctx: &WorkerContext,
    conn: &mut AsyncPgConnection,
    endpoint_id: Uuid,
    reason: DisabledReason,
) -> Result<(), StoreError> {
    let now = ctx.clock.now();
    if !store::disable(conn, endpoint_id, reason, now).await? {
        return Ok(());
    }
    store::fail_pending(conn, endpoint_id, "the endpoint was disabled").await?;
    tracing::warn!(%endpoint_id, reason = reason.as_str(), "webhook endpoint disabled");
    events::publish(
        conn,
        &json!({"type": "endpoint.disabled", "endpoint_id": endpoint_id,
                "reason": reason.as_str(), "at": Utc::now()}),
    )
    .await
}

fn retry(error: impl std::fmt::Display) -> JobError {
    JobError::retry(error.to_string())
}
