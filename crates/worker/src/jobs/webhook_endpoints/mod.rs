//! Delivering integrators' webhooks: a dispatcher job claims due deliveries
//! from the outbox in batches, sends them with a bounded number in flight,
//! and settles each by the Standard Webhooks rules (the domain's `judge`):
//! retry on the schedule, fail after the last attempt, disable the endpoint
//! on 410 Gone or after a run of failed deliveries, saying so with an
//! `endpoint.disabled` event.
//!
//! The dispatcher is queued by the statement that writes deliveries (see
//! `wacrm_persistence::events`), by itself for the next retry it leaves
//! waiting, and every 30 s as a safety net; any number may run at once on
//! any number of nodes (claims skip each other's rows).

mod request;
mod signature;

use std::collections::HashMap;
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

pub use self::signature::header as signature_header;

/// Deliveries claimed at a time.
const BATCH: i64 = 64;
/// How long a claim holds a delivery: well past the 15 s request timeout.
const LEASE: chrono::Duration = chrono::Duration::seconds(60);
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
        let started = Instant::now();
        loop {
            let claimed = {
                let mut conn = ctx.pool.get().await.map_err(retry)?;
                store::claim_due(&mut conn, ctx.clock.now(), LEASE, BATCH)
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

/// An endpoint as one batch sends to it.
struct Resolved {
    url: String,
    allow_private_targets: bool,
    secrets: Vec<wacrm_domain::webhook_endpoints::EndpointSecret>,
}

/// Sends one claimed batch and settles it.
async fn dispatch(ctx: &WorkerContext, claimed: Vec<Claimed>) -> Result<(), JobError> {
    let mut endpoints: HashMap<Uuid, Option<Arc<Resolved>>> = HashMap::new();
    {
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        let now = ctx.clock.now();
        for delivery in &claimed {
            if endpoints.contains_key(&delivery.endpoint_id) {
                continue;
            }
            let resolved = match store::find(&mut conn, delivery.endpoint_id).await {
                Ok(endpoint) => Some(Arc::new(Resolved {
                    secrets: store::signing_secrets(&mut conn, &ctx.cipher, endpoint.id, now)
                        .await
                        .map_err(retry)?,
                    url: endpoint.url,
                    allow_private_targets: endpoint.allow_private_targets,
                })),
                // Deleted since the claim: its deliveries went with it.
                Err(StoreError::NotFound) => None,
                Err(error) => return Err(retry(error)),
            };
            endpoints.insert(delivery.endpoint_id, resolved);
        }
    }
    let attempts: Vec<_> = claimed
        .into_iter()
        .filter_map(|delivery| {
            let endpoint = endpoints.get(&delivery.endpoint_id)?.clone()?;
            Some(attempt(ctx, delivery, endpoint))
        })
        .collect();
    let answers: Vec<(Claimed, Answer)> = futures_util::stream::iter(attempts)
        .buffer_unordered(ctx.webhook_delivery.in_flight.max(1))
        .collect()
        .await;
    let mut conn = ctx.pool.get().await.map_err(retry)?;
    conn.transaction::<_, StoreError, _>(async |conn| {
        for (delivery, answer) in answers {
            settle(ctx, conn, delivery, answer).await?;
        }
        Ok(())
    })
    .await
    .map_err(retry)
}

/// Sends one delivery to its endpoint.
async fn attempt(
    ctx: &WorkerContext,
    delivery: Claimed,
    endpoint: Arc<Resolved>,
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

/// Records the attempt and what it means for the delivery and its endpoint.
async fn settle(
    ctx: &WorkerContext,
    conn: &mut AsyncPgConnection,
    delivery: Claimed,
    answer: Answer,
) -> Result<(), StoreError> {
    let outcome = judge(
        answer.status,
        delivery.attempts,
        rand::random::<f64>(),
        answer.retry_after,
    );
    let status_code = answer.status.map(i32::from);
    store::record_attempt(
        conn,
        NewAttempt {
            delivery_id: delivery.id,
            attempted_at: answer.attempted_at,
            status_code,
            duration_ms: answer.duration_ms,
            error: answer.error.clone(),
            response_body: answer.body,
        },
    )
    .await?;
    let settled = match outcome {
        AttemptOutcome::Delivered => Settled {
            status: DeliveryStatus::Succeeded,
            next_attempt_at: None,
            status_code,
            error: None,
        },
        AttemptOutcome::RetryAfter(wait) => Settled {
            status: DeliveryStatus::Pending,
            next_attempt_at: Some(ctx.clock.now() + wait),
            status_code,
            error: answer.error,
        },
        AttemptOutcome::GiveUp | AttemptOutcome::Gone => Settled {
            status: DeliveryStatus::Failed,
            next_attempt_at: None,
            status_code,
            error: answer.error,
        },
    };
    if !store::settle(conn, delivery.id, delivery.attempts, settled).await? {
        // Claimed again or replayed meanwhile: the newer attempt decides.
        return Ok(());
    }
    match outcome {
        AttemptOutcome::Delivered => store::reset_failures(conn, delivery.endpoint_id).await,
        AttemptOutcome::RetryAfter(_) => Ok(()),
        AttemptOutcome::Gone => {
            disable(ctx, conn, delivery.endpoint_id, DisabledReason::Gone).await
        }
        AttemptOutcome::GiveUp => {
            let run = store::count_failure(conn, delivery.endpoint_id).await?;
            if run >= ctx.webhook_delivery.disable_after_failures {
                disable(ctx, conn, delivery.endpoint_id, DisabledReason::Failing).await?;
            }
            Ok(())
        }
    }
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
