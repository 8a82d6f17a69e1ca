//! The jobs wacrm runs, and the runner that knows them all.

mod fetch_media;
mod process_webhook;

use std::time::Duration;

pub use fetch_media::FetchMedia;
pub use process_webhook::ProcessWebhook;

use crate::Runner;
use crate::context::WorkerContext;

/// A runner with every job registered.
pub fn runner(context: WorkerContext) -> Runner<WorkerContext> {
    Runner::new(context.pool.clone(), context)
        .register::<ProcessWebhook>()
        .register::<FetchMedia>()
        .concurrency(8)
        .poll_interval(Duration::from_secs(5))
}
