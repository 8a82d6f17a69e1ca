//! What a background job is, and how one is queued.

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;
use wacrm_persistence::AsyncPgConnection;
use wacrm_persistence::jobs::{self, NewJob};

use crate::error::WorkerError;

/// A unit of background work, stored as JSON under its `KIND`.
///
/// Renaming `KIND` or changing the fields incompatibly strands queued jobs:
/// the runner buries a payload it cannot read.
pub trait Job: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The name the runner dispatches on; unique among jobs.
    const KIND: &'static str;
    /// Attempts before the job is left dead.
    const MAX_ATTEMPTS: i32 = 8;
    /// What `run` needs (pools, clients, settings), shared by all jobs of a runner.
    type Context: Clone + Send + Sync + 'static;

    /// Does the work. It may run more than once (after a crash or a retry), so
    /// it must be idempotent.
    fn run(&self, ctx: &Self::Context) -> impl Future<Output = Result<(), JobError>> + Send;

    /// While a queued or running job holds this key, the same key is not
    /// queued again (periodic jobs use it to run once across all nodes).
    fn unique_key(&self) -> Option<String> {
        None
    }

    /// Jobs with the same ordering key are claimed in the order they were
    /// queued (a conversation's deliveries); see `Runner::order_wait` for how
    /// long a failing one holds the later ones back.
    fn ordering_key(&self) -> Option<String> {
        None
    }
}

/// A job that only touches the database, and so can hold its claim in the
/// transaction that does its work instead of under a lease: a worker that dies
/// mid-run releases the job with its connection, and another takes it over at
/// once. Register it with `Runner::register_in_transaction`.
///
/// `run_in` runs inside a savepoint of the claiming transaction, which commits
/// with the job's outcome: on success with the job's removal, on failure with
/// the failure recorded. Work that a failure must undo goes in a nested
/// transaction (a savepoint) of its own. It must not commit or roll back what
/// it did not open, and should keep it short: the job's row stays locked until
/// it ends.
pub trait TransactionalJob: Job {
    fn run_in(
        &self,
        ctx: &Self::Context,
        conn: &mut AsyncPgConnection,
    ) -> impl Future<Output = Result<(), JobError>> + Send;
}

/// Why an attempt failed, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Try again: after `after` when given (e.g. a provider's Retry-After),
    /// else after the exponential backoff.
    #[error("{reason}")]
    Retry {
        reason: String,
        after: Option<chrono::Duration>,
    },
    /// Trying again cannot help: the job is left dead at once.
    #[error("{0}")]
    Permanent(String),
}

impl JobError {
    /// A retryable failure, retried after the backoff.
    pub fn retry(reason: impl Into<String>) -> Self {
        Self::Retry {
            reason: reason.into(),
            after: None,
        }
    }

    /// A retryable failure, retried after `after`.
    pub fn retry_after(reason: impl Into<String>, after: chrono::Duration) -> Self {
        Self::Retry {
            reason: reason.into(),
            after: Some(after),
        }
    }

    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::Permanent(reason.into())
    }
}

/// The row that queues `job` now.
pub fn new_job<J: Job>(job: &J) -> Result<NewJob, serde_json::Error> {
    Ok(NewJob {
        kind: J::KIND.to_owned(),
        payload: serde_json::to_value(job)?,
        unique_key: job.unique_key(),
        run_at: None,
        max_attempts: J::MAX_ATTEMPTS,
        ordering_key: job.ordering_key(),
    })
}

/// Queues `job` on `conn` (usually inside the caller's transaction). `None`
/// when an active job with the same unique key exists.
pub async fn enqueue<J: Job>(
    conn: &mut AsyncPgConnection,
    job: &J,
) -> Result<Option<i64>, WorkerError> {
    Ok(jobs::enqueue(conn, new_job(job)?).await?)
}
