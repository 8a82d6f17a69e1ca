//! Turns stored webhook bodies into inbox changes.
//!
//! Ingest queues one job per group commit, so under load one job carries many
//! events. They are applied in one transaction: the settings, connections and
//! numbers are read once, and the follow-up jobs and real-time events are
//! written with one statement each, so a busy inbox costs one commit per batch
//! rather than one per message. If that transaction fails, each event is
//! applied in a transaction of its own: the others go through and the failure
//! stays with the event that caused it.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wacrm_domain::Provider;
use wacrm_domain::inbound::InboundEvent;
use wacrm_persistence::connections::{self, Connection};
use wacrm_persistence::jobs::{self as queue, NewJob};
use wacrm_persistence::webhook_events::{self, WebhookEvent};
use wacrm_persistence::{AsyncPgConnection, StoreError, bots, events};

use crate::context::WorkerContext;
use crate::inbound::{self, Batch, InboundRules, MessageOutcome, Rejection};
use crate::jobs::FetchMedia;
use crate::{Job, JobError, new_job};

#[derive(Debug, Serialize, Deserialize)]
pub struct ProcessWebhooks {
    pub event_ids: Vec<Uuid>,
}

impl Job for ProcessWebhooks {
    const KIND: &'static str = "process_webhooks";
    type Context = WorkerContext;

    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        // Events applied by an earlier attempt are no longer pending.
        let events = webhook_events::find_pending(&mut conn, &self.event_ids)
            .await
            .map_err(retry)?;
        let mut connections = Connections::default();
        let (queued, failure) = match apply(ctx, &mut conn, &mut connections, &events).await {
            Ok(queued) => (queued, None),
            Err(error) if events.len() > 1 => {
                tracing::warn!(%error, events = events.len(), "a batch of webhooks failed; applying its events one by one");
                let mut queued = false;
                let mut failure = None;
                for event in &events {
                    match apply(
                        ctx,
                        &mut conn,
                        &mut connections,
                        std::slice::from_ref(event),
                    )
                    .await
                    {
                        Ok(more) => queued |= more,
                        Err(error) => {
                            tracing::warn!(event_id = %event.id, %error, "webhook event not applied; it will be retried");
                            failure = Some(error);
                        }
                    }
                }
                (queued, failure)
            }
            Err(error) => (false, Some(error)),
        };
        if queued {
            ctx.signal.jobs_queued();
        }
        failure.map_or(Ok(()), |error| Err(retry(error)))
    }
}

/// Connections as the events name them, decrypted once per job; `None` for a
/// deleted one.
#[derive(Default)]
struct Connections(HashMap<Uuid, Option<Connection>>);

impl Connections {
    async fn get(
        &mut self,
        conn: &mut AsyncPgConnection,
        ctx: &WorkerContext,
        id: Uuid,
    ) -> Result<Option<&Connection>, StoreError> {
        if let Entry::Vacant(entry) = self.0.entry(id) {
            let found = match connections::find(conn, &ctx.cipher, id).await {
                Ok(connection) => Some(connection),
                Err(StoreError::NotFound) => None,
                Err(error) => return Err(error),
            };
            entry.insert(found);
        }
        Ok(self.0.get(&id).and_then(Option::as_ref))
    }
}

/// Applies `events` in one transaction; returns whether it queued jobs.
async fn apply(
    ctx: &WorkerContext,
    conn: &mut AsyncPgConnection,
    connections: &mut Connections,
    events: &[WebhookEvent],
) -> Result<bool, StoreError> {
    if events.is_empty() {
        return Ok(false);
    }
    conn.transaction::<_, StoreError, _>(async |conn| {
        let mut batch = Batch::new(InboundRules::load(conn).await?);
        let bots_active = bots::any_active(conn).await?;
        let mut follow_ups = Vec::new();
        let mut processed = Vec::with_capacity(events.len());
        for event in events {
            let rejections =
                apply_event(ctx, conn, connections, &mut batch, event, &mut follow_ups).await?;
            if rejections.is_empty() {
                processed.push(event.id);
            } else {
                let reason = rejections.join("; ");
                tracing::warn!(event_id = %event.id, %reason, "webhook event failed");
                webhook_events::mark_failed(conn, event.id, &reason).await?;
            }
        }
        webhook_events::mark_processed(conn, &processed).await?;
        events::publish_all(conn, &batch.announcements).await?;
        let jobs = follow_ups
            .into_iter()
            .filter(|follow_up| bots_active || !matches!(follow_up, FollowUp::Bots(_)))
            .map(FollowUp::into_job)
            .collect::<Result<Vec<NewJob>, _>>()
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let queued = !jobs.is_empty();
        queue::enqueue_many(conn, jobs).await?;
        Ok(queued)
    })
    .await
}

/// What a stored message asks for next.
enum FollowUp {
    Media(FetchMedia),
    Bots(Box<crate::jobs::RunBots>),
}

impl FollowUp {
    fn into_job(self) -> Result<NewJob, serde_json::Error> {
        match self {
            Self::Media(job) => new_job(&job),
            Self::Bots(job) => new_job(job.as_ref()),
        }
    }
}

/// Applies one stored body; returns why parts of it were refused, if any.
async fn apply_event(
    ctx: &WorkerContext,
    conn: &mut AsyncPgConnection,
    connections: &mut Connections,
    batch: &mut Batch,
    event: &WebhookEvent,
    follow_ups: &mut Vec<FollowUp>,
) -> Result<Vec<Rejection>, StoreError> {
    let Some(provider) = Provider::parse(&event.provider) else {
        return Ok(vec![format!("unknown provider `{}`", event.provider)]);
    };
    let parsed = match wacrm_providers::parse(provider, &event.body, event.received_at) {
        Ok(parsed) => parsed,
        Err(error) => return Ok(vec![error.to_string()]),
    };
    let Some(connection) = connections.get(conn, ctx, event.connection_id).await? else {
        return Ok(vec!["the connection was deleted".into()]);
    };
    let mut rejections = Vec::new();
    for parsed in parsed {
        match parsed {
            InboundEvent::Message(message) => {
                match inbound::apply_message(conn, batch, connection, message).await? {
                    Ok(MessageOutcome::Stored {
                        message_id,
                        media,
                        bots,
                    }) => {
                        if media {
                            follow_ups.push(FollowUp::Media(FetchMedia { message_id }));
                        }
                        follow_ups.push(FollowUp::Bots(bots));
                    }
                    Ok(MessageOutcome::Duplicate) => {}
                    Err(rejection) => rejections.push(rejection),
                }
            }
            InboundEvent::Status(update) => {
                inbound::apply_status(conn, batch, connection, update).await?;
            }
            InboundEvent::TemplateStatus(update) => {
                inbound::apply_template_status(conn, batch, connection, update).await?;
            }
        }
    }
    Ok(rejections)
}

fn retry(error: impl std::fmt::Display) -> JobError {
    JobError::retry(error.to_string())
}
