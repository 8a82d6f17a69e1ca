//! The one error type of the worker crate: what can go wrong around jobs (not
//! inside them: a job's own failure is a [`crate::JobError`], an outcome).

use wacrm_persistence::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("job payload: {0}")]
    Payload(#[from] serde_json::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}
