//! Tells the workers, on every node, that jobs were committed.
//!
//! Not a trigger on `jobs`: NOTIFY in a transaction that writes holds
//! PostgreSQL's global notify-queue lock from pre-commit until the commit is
//! flushed, so every transaction that queued a job committed one at a time
//! (bench/README.md). Here the NOTIFY is a statement of its own, sent after the
//! commit, and the wake-ups asked for while one is on its way fold into the
//! next. A lost one costs a poll interval, never a job.

use tokio::sync::mpsc;
use wacrm_persistence::{PgPool, StoreError, jobs};

#[derive(Clone)]
pub struct JobSignal {
    wanted: mpsc::Sender<()>,
}

impl JobSignal {
    /// Starts the sender on the current tokio runtime; it ends with the last
    /// handle.
    pub fn start(pool: PgPool) -> Self {
        // One slot: a wake-up already waiting covers every later one.
        let (wanted, requests) = mpsc::channel(1);
        tokio::spawn(send(pool, requests));
        Self { wanted }
    }

    /// Call once the transaction that queued jobs has committed.
    pub fn jobs_queued(&self) {
        let _ = self.wanted.try_send(());
    }
}

async fn send(pool: PgPool, mut requests: mpsc::Receiver<()>) {
    while requests.recv().await.is_some() {
        let sent = async {
            let mut conn = pool.get().await?;
            jobs::notify(&mut conn).await
        };
        if let Err(error) = sent.await as Result<(), StoreError> {
            tracing::warn!(%error, "cannot wake the workers; they will poll");
        }
    }
}
