//! Periodic housekeeping: waking snoozed conversations, forgetting expired
//! idempotency keys, deleting processed webhook bodies past their retention,
//! folding the inbox's count rows, and vacuuming the queue tables.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use wacrm_persistence::{conversations, events, idempotency, inbox, jobs, webhook_events};

use wacrm_persistence::AsyncPgConnection;

use crate::context::WorkerContext;
use crate::{Job, JobError, TransactionalJob};

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
        self.run_in(ctx, &mut conn).await
    }
}

/// Database only: its claim is held by the transaction that wakes them.
impl TransactionalJob for WakeSnoozed {
    async fn run_in(
        &self,
        _: &WorkerContext,
        conn: &mut AsyncPgConnection,
    ) -> Result<(), JobError> {
        for id in conversations::wake_snoozed(conn, Utc::now())
            .await
            .map_err(retry)?
        {
            events::publish(
                conn,
                &json!({"type": "conversation.updated", "conversation_id": id}),
            )
            .await
            .map_err(retry)?;
        }
        Ok(())
    }
}

/// Vacuums the queue tables far more often than autovacuum would (see
/// `jobs::vacuum_queue_tables`).
#[derive(Debug, Serialize, Deserialize)]
pub struct VacuumQueues;

impl Job for VacuumQueues {
    const KIND: &'static str = "vacuum_queues";
    type Context = WorkerContext;

    fn unique_key(&self) -> Option<String> {
        Some(Self::KIND.into())
    }

    /// Outside any transaction: PostgreSQL runs VACUUM only there.
    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        jobs::vacuum_queue_tables(&mut conn).await.map_err(retry)
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

/// Deletes processed webhook events older than the retention: a body holds
/// customers' messages and phone numbers, and the messages it made are stored.
/// In batches, so a large backlog never holds one long transaction.
#[derive(Debug, Serialize, Deserialize)]
pub struct SweepWebhookEvents;

/// Rows deleted per statement.
const SWEEP_BATCH: i64 = 5_000;

impl Job for SweepWebhookEvents {
    const KIND: &'static str = "sweep_webhook_events";
    type Context = WorkerContext;

    fn unique_key(&self) -> Option<String> {
        Some(Self::KIND.into())
    }

    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        let before = Utc::now() - ctx.webhook_retention;
        while webhook_events::delete_processed_before(&mut conn, before, SWEEP_BATCH)
            .await
            .map_err(retry)?
            > 0
        {}
        Ok(())
    }
}

/// Folds the inbox's per-key count rows (one appended per change) into one
/// per key, so a count stays a sum over a few hundred rows.
#[derive(Debug, Serialize, Deserialize)]
pub struct CompactConversationCounts;

impl Job for CompactConversationCounts {
    const KIND: &'static str = "compact_conversation_counts";
    type Context = WorkerContext;

    fn unique_key(&self) -> Option<String> {
        Some(Self::KIND.into())
    }

    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        inbox::compact_counts(&mut conn).await.map_err(retry)?;
        Ok(())
    }
}

fn retry(error: impl std::fmt::Display) -> JobError {
    JobError::retry(error.to_string())
}
