//! Durable webhook ingest with group commit.
//!
//! Each verified webhook is handed to a small pool of writer tasks. A writer
//! takes every submission waiting (up to `MAX_BATCH`) and stores them, with
//! their processing jobs, in ONE transaction; each request is answered only
//! after that commit. Under load many webhooks share a commit, so throughput
//! is bounded by batch size rather than by fsyncs per request; and they share
//! their processing jobs too (up to `EVENTS_PER_JOB` events each), so the
//! worker applies them in batches as well.

use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};
use uuid::Uuid;
use wacrm_persistence::webhook_events::{self, NewWebhookEvent};
use wacrm_persistence::{PgPool, StoreError, jobs};
use wacrm_worker::JobSignal;
use wacrm_worker::jobs::ProcessWebhooks;

const MAX_BATCH: usize = 512;
const WRITERS: usize = 4;
/// Keeps each processing transaction short (tens of milliseconds) while
/// sharing its fixed costs among many events.
const EVENTS_PER_JOB: usize = 64;

struct Submission {
    event: NewWebhookEvent,
    reply: oneshot::Sender<Result<(), ()>>,
}

#[derive(Clone)]
pub struct Ingest {
    sender: mpsc::Sender<Submission>,
}

#[derive(Debug, thiserror::Error)]
#[error("the webhook could not be stored")]
pub struct IngestFailed;

impl Ingest {
    /// Starts the writers on the current tokio runtime.
    pub fn start(pool: PgPool, signal: JobSignal) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * WRITERS * 4);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..WRITERS {
            tokio::spawn(write_batches(
                pool.clone(),
                signal.clone(),
                receiver.clone(),
            ));
        }
        Self { sender }
    }

    /// Returns once `event` is committed (or, for a body already stored, known).
    /// A `pending` event gets a processing job in the same transaction.
    pub async fn store(&self, event: NewWebhookEvent) -> Result<(), IngestFailed> {
        let (reply, committed) = oneshot::channel();
        self.sender
            .send(Submission { event, reply })
            .await
            .map_err(|_| IngestFailed)?;
        match committed.await {
            Ok(Ok(())) => Ok(()),
            _ => Err(IngestFailed),
        }
    }
}

async fn write_batches(
    pool: PgPool,
    signal: JobSignal,
    receiver: Arc<Mutex<mpsc::Receiver<Submission>>>,
) {
    loop {
        let batch = {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            batch
        };
        let events: Vec<NewWebhookEvent> = batch.iter().map(|s| s.event.clone()).collect();
        let outcome = match commit(&pool, events).await {
            Ok(queued) => {
                if queued {
                    signal.jobs_queued();
                }
                Ok(())
            }
            Err(error) => {
                tracing::error!(%error, "storing webhooks failed; the providers will retry");
                Err(())
            }
        };
        for submission in batch {
            let _ = submission.reply.send(outcome);
        }
    }
}

/// Stores `events` and their processing jobs; returns whether it queued any.
/// A body stored before is skipped; the job still names its new id, which
/// processing ignores (only pending events are applied).
async fn commit(pool: &PgPool, events: Vec<NewWebhookEvent>) -> Result<bool, StoreError> {
    let to_process: Vec<Uuid> = events
        .iter()
        .filter(|event| event.status == webhook_events::PENDING)
        .map(|event| event.id)
        .collect();
    let jobs = to_process
        .chunks(EVENTS_PER_JOB)
        .map(|event_ids| {
            wacrm_worker::new_job(&ProcessWebhooks {
                event_ids: event_ids.to_vec(),
            })
        })
        .collect::<Result<Vec<jobs::NewJob>, _>>()
        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
    let mut conn = pool.get().await?;
    webhook_events::store_with_jobs(&mut conn, &events, &jobs).await?;
    Ok(!jobs.is_empty())
}
