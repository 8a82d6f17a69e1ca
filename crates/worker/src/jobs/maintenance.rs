//! Periodic housekeeping: waking snoozed conversations and forgetting expired
//! idempotency keys.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use wacrm_persistence::{conversations, events, idempotency};

use crate::context::WorkerContext;
use crate::{Job, JobError};

/// Reopens snoozed conversations whose time has come.
#[derive(Debug, Serialize, Deserialize)]
pub struct WakeSnoozed;

impl Job for WakeSnoozed {
    const KIND: &'static str = "wake_snoozed";
    type Context = WorkerContext;

    fn unique_key(&self) -> Option<String> {
        Some(Self::KIND.into())
    }

    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        for id in conversations::wake_snoozed(&mut conn, Utc::now())
            .await
            .map_err(retry)?
        {
            events::publish(
                &mut conn,
                &json!({"type": "conversation.updated", "conversation_id": id}),
            )
            .await
            .map_err(retry)?;
        }
        Ok(())
    }
}

/// Deletes idempotency keys past their 24 hours.
#[derive(Debug, Serialize, Deserialize)]
pub struct SweepIdempotencyKeys;

impl Job for SweepIdempotencyKeys {
    const KIND: &'static str = "sweep_idempotency_keys";
    type Context = WorkerContext;

    fn unique_key(&self) -> Option<String> {
        Some(Self::KIND.into())
    }

    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        idempotency::sweep(&mut conn, Utc::now())
            .await
            .map_err(retry)?;
        Ok(())
    }
}

fn retry(error: impl std::fmt::Display) -> JobError {
    JobError::retry(error.to_string())
}
