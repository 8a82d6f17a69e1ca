//! Forgets finished webhook deliveries (and their attempts) once they are
//! older than the retention: their bodies carry customers' ids and states,
//! and the outbox would otherwise only grow.

use serde::{Deserialize, Serialize};
use wacrm_persistence::webhook_endpoints as store;

use crate::context::WorkerContext;
use crate::{Job, JobError};

/// Deliveries deleted per statement, so a backlog never holds one long transaction.
const BATCH: i64 = 5_000;

/// Hourly: deletes deliveries created longer ago than
/// `WACRM_WEBHOOK_RETENTION_DAYS` that are no longer pending.
#[derive(Debug, Serialize, Deserialize)]
pub struct SweepWebhookDeliveries;

impl Job for SweepWebhookDeliveries {
    const KIND: &'static str = "sweep_webhook_deliveries";
    type Context = WorkerContext;

    fn unique_key(&self) -> Option<String> {
        Some(Self::KIND.into())
    }

    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx
            .pool
            .get()
            .await
            .map_err(|error| JobError::retry(error.to_string()))?;
        let before = ctx.clock.now() - ctx.webhook_retention;
        while store::delete_finished_before(&mut conn, before, BATCH)
            .await
            .map_err(|error| JobError::retry(error.to_string()))?
            > 0
        {}
        Ok(())
    }
}
