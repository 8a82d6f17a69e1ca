//! Removes a runner's finished leased jobs in batches: one statement (and one
//! commit) for every job that finished while the previous batch was being
//! removed, instead of one each. Deliveries finish hundreds a second, and a
//! round trip each was a tenth of their database work.
//!
//! Nothing waits on a timer: the first completion goes at once, and those
//! that arrive meanwhile make the next batch (group commit). A job's task
//! waits for its removal before it frees its slot, so the next job of its
//! ordering key is never held back by a row that is about to go. A crash
//! before the removal leaves the job to its lease, and it runs again, as any
//! job whose outcome was not recorded does.

use tokio::sync::{mpsc, oneshot};
use wacrm_persistence::{PgPool, jobs};

/// The most jobs one statement removes.
const BATCH: usize = 512;

/// Whether a finished job was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    Yes,
    /// Not under this claim any more: taken over while it ran.
    TakenOver,
    /// The statement failed (logged); the job runs again after its lease.
    Failed,
}

struct Completion {
    id: i64,
    token: uuid::Uuid,
    done: oneshot::Sender<Removed>,
}

/// The sending half, held by the runner's job tasks.
#[derive(Clone)]
pub struct Completions {
    requests: mpsc::Sender<Completion>,
}

impl Completions {
    /// The handle, and the task that removes the jobs until every handle is
    /// dropped.
    pub fn start(pool: PgPool) -> (Self, impl Future<Output = ()>) {
        let (requests, received) = mpsc::channel(BATCH * 4);
        (Self { requests }, remove_in_batches(pool, received))
    }

    /// Removes job `id`, finished under claim `token`, with the others
    /// finishing now.
    pub async fn complete(&self, id: i64, token: uuid::Uuid) -> Removed {
        let (done, removed) = oneshot::channel();
        let completion = Completion { id, token, done };
        if self.requests.send(completion).await.is_err() {
            return Removed::Failed;
        }
        removed.await.unwrap_or(Removed::Failed)
    }
}

async fn remove_in_batches(pool: PgPool, mut received: mpsc::Receiver<Completion>) {
    let mut batch = Vec::with_capacity(BATCH);
    while received.recv_many(&mut batch, BATCH).await > 0 {
        let held: Vec<(i64, uuid::Uuid)> = batch.iter().map(|c| (c.id, c.token)).collect();
        let removed = async {
            let mut conn = pool.get().await?;
            jobs::complete_many(&mut conn, &held).await
        }
        .await;
        if let Err(error) = &removed {
            tracing::error!(%error, jobs = held.len(), "cannot remove finished jobs; they run again when their leases expire");
        }
        for completion in batch.drain(..) {
            let outcome = match &removed {
                Ok(ids) if ids.contains(&completion.id) => Removed::Yes,
                Ok(_) => Removed::TakenOver,
                Err(_) => Removed::Failed,
            };
            let _ = completion.done.send(outcome);
        }
    }
}
