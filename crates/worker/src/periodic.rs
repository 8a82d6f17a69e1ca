//! Periodic jobs: each runner queues them on a timer; their unique key keeps
//! more than one from being queued at a time, however many nodes run.

use std::time::Duration;

use tokio::time::MissedTickBehavior;
use wacrm_persistence::PgPool;
use wacrm_persistence::jobs::{self, NewJob};

use crate::CancellationToken;
use crate::runner::Wake;

pub(crate) type MakeJob = Box<dyn Fn() -> Result<NewJob, serde_json::Error> + Send + Sync>;

pub(crate) struct Periodic {
    pub(crate) kind: &'static str,
    pub(crate) interval: Duration,
    pub(crate) make: MakeJob,
}

/// Queues the job at once and then every `interval`, until shutdown.
pub(crate) async fn schedule(
    pool: PgPool,
    wake: std::sync::Arc<Wake>,
    periodic: Periodic,
    shutdown: CancellationToken,
) {
    let mut ticks = tokio::time::interval(periodic.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        match queue(&pool, &periodic).await {
            Ok(Some(id)) => {
                tracing::debug!(job.id = id, job.kind = periodic.kind, "periodic job queued");
                // This runner queued it: let it look at once.
                wake.now();
            }
            Ok(None) => tracing::debug!(job.kind = periodic.kind, "periodic job already queued"),
            Err(error) => {
                tracing::warn!(job.kind = periodic.kind, %error, "cannot queue periodic job");
            }
        }
    }
}

async fn queue(pool: &PgPool, periodic: &Periodic) -> Result<Option<i64>, crate::WorkerError> {
    let new = (periodic.make)()?;
    let mut conn = pool
        .get()
        .await
        .map_err(wacrm_persistence::StoreError::from)?;
    Ok(jobs::enqueue(&mut conn, new).await?)
}
