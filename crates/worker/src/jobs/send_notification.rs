//! Sends a notification at its time (a mapping's delay, or a reminder before
//! or after a date of the event). Queued with a unique key per notification,
//! so a superseding event can take it out of the queue.

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wacrm_persistence::AsyncPgConnection;

use crate::context::WorkerContext;
use crate::notifications::matching;
use crate::{Job, JobError, TransactionalJob};

#[derive(Debug, Serialize, Deserialize)]
pub struct SendNotification {
    pub notification_id: Uuid,
}

impl Job for SendNotification {
    const KIND: &'static str = "send_notification";
    type Context = WorkerContext;

    fn unique_key(&self) -> Option<String> {
        Some(crate::notifications::job_key(self.notification_id))
    }

    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        self.run_in(ctx, &mut conn).await
    }
}

impl TransactionalJob for SendNotification {
    async fn run_in(
        &self,
        ctx: &WorkerContext,
        conn: &mut AsyncPgConnection,
    ) -> Result<(), JobError> {
        matching::send_scheduled(conn, ctx, self.notification_id)
            .await
            .map_err(retry)?;
        ctx.signal.jobs_queued();
        Ok(())
    }
}

fn retry(error: impl std::fmt::Display) -> JobError {
    JobError::retry(error.to_string())
}
