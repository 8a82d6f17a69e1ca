//! Turns one stored CRM event into its notifications (see
//! `crate::notifications::matching`). Database only: it runs in the
//! transaction that holds its claim, and what it sends is queued there with
//! each message's own delivery job.

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wacrm_persistence::AsyncPgConnection;

use crate::context::WorkerContext;
use crate::notifications::matching;
use crate::{Job, JobError, TransactionalJob};

#[derive(Debug, Serialize, Deserialize)]
pub struct ProcessCrmEvent {
    pub event_id: Uuid,
}

impl Job for ProcessCrmEvent {
    const KIND: &'static str = "process_crm_event";
    type Context = WorkerContext;

    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        self.run_in(ctx, &mut conn).await
    }
}

impl TransactionalJob for ProcessCrmEvent {
    async fn run_in(
        &self,
        ctx: &WorkerContext,
        conn: &mut AsyncPgConnection,
    ) -> Result<(), JobError> {
        matching::process_event(conn, ctx, self.event_id)
            .await
            .map_err(retry)?;
        ctx.signal.jobs_queued();
        Ok(())
    }
}

fn retry(error: impl std::fmt::Display) -> JobError {
    JobError::retry(error.to_string())
}
