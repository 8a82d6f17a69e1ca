//! Background jobs of wacrm and the runner that executes them.
//!
//! A job is a serialisable value implementing [`Job`]; [`enqueue`] stores it in
//! the caller's transaction, so it commits or rolls back with the rows it is
//! about; after the commit, [`JobSignal::jobs_queued`] wakes the workers. A
//! [`Runner`] claims due jobs from PostgreSQL (under a short lease renewed by
//! a heartbeat, or, for a [`TransactionalJob`], by the row lock of the
//! transaction the job runs in), runs them, and records the outcome: success deletes the job, a retryable failure backs off
//! ([`wacrm_domain::backoff`]), a permanent one (or the last attempt) leaves
//! the job dead for inspection. Storage lives in [`wacrm_persistence::jobs`].

pub mod ai_settings;
pub mod campaigns;
mod completions;
pub mod consent;
mod contain;
mod context;
pub mod crm_events;
pub mod deliveries;
pub mod echoes;
mod error;
mod group;
pub mod inbound;
mod job;
pub mod jobs;
mod listener;
pub mod media_store;
pub mod notifications;
pub mod outbox;
mod outcome;
pub mod pacer;
mod periodic;
pub mod provider_errors;
pub mod revisions;
mod runner;
mod signal;
pub mod statuses;

pub use context::WorkerContext;
pub use error::WorkerError;
pub use job::{Job, JobError, TransactionalJob, enqueue, new_job};
pub use runner::{Runner, Slots};
pub use signal::JobSignal;
pub use tokio_util::sync::CancellationToken;
