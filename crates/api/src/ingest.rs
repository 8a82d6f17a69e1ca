//! Durable webhook ingest with group commit.
//!
//! Each verified webhook is handed to a small pool of writer tasks. A writer
//! takes every submission waiting (up to `MAX_BATCH`) and stores them, with
//! their processing jobs, in ONE transaction; each request is answered only
//! after that commit. Under load many webhooks share a commit, so throughput
//! is bounded by batch size rather than by fsyncs per request.

use std::sync::Arc;

use diesel_async::AsyncConnection as _;
use tokio::sync::{Mutex, mpsc, oneshot};
use uuid::Uuid;
use wacrm_persistence::webhook_events::{self, NewWebhookEvent};
use wacrm_persistence::{PgPool, StoreError, jobs};
use wacrm_worker::jobs::ProcessWebhook;

const MAX_BATCH: usize = 512;
const WRITERS: usize = 4;

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
    pub fn start(pool: PgPool) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_BATCH * WRITERS * 4);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..WRITERS {
            tokio::spawn(write_batches(pool.clone(), receiver.clone()));
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

async fn write_batches(pool: PgPool, receiver: Arc<Mutex<mpsc::Receiver<Submission>>>) {
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
        let outcome = commit(&pool, events).await.map_err(|error| {
            tracing::error!(%error, "storing webhooks failed; the providers will retry");
        });
        for submission in batch {
            let _ = submission.reply.send(outcome);
        }
    }
}

async fn commit(pool: &PgPool, events: Vec<NewWebhookEvent>) -> Result<(), StoreError> {
    let mut conn = pool.get().await?;
    let pending: std::collections::HashSet<Uuid> = events
        .iter()
        .filter(|event| event.status == webhook_events::PENDING)
        .map(|event| event.id)
        .collect();
    conn.transaction::<_, StoreError, _>(async |conn| {
        let inserted = webhook_events::insert_new(conn, &events).await?;
        let jobs: Vec<jobs::NewJob> = inserted
            .into_iter()
            .filter(|id| pending.contains(id))
            .filter_map(|event_id| wacrm_worker::new_job(&ProcessWebhook { event_id }).ok())
            .collect();
        jobs::enqueue_many(conn, jobs).await
    })
    .await
}
