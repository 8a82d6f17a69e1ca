//! Integrators' webhook endpoints, the durable outbox of their deliveries
//! (written by [`crate::events::publish_all`] in the transaction of each
//! change) and every attempt made to deliver one.

mod attempts;
mod deliveries;
mod dispatch;
mod endpoints;

pub use attempts::{Attempt, NewAttempt, list_attempts, record_attempts};
pub use deliveries::{
    Claimed, Delivery, DeliveryFilter, Settled, claim_due, delete_finished_before, endpoint_exists,
    fail_pending, find_delivery, list_deliveries, next_due, replay, settle_many,
};
pub use dispatch::queue_dispatch;
pub use endpoints::{
    Endpoint, EndpointChanges, NewEndpoint, Target, count_failure, delete, disable, find, insert,
    list, reset_failures, rotate_secret, targets, update,
};

/// The job that sends due deliveries (`wacrm_worker`'s `DispatchWebhooks`):
/// named here because the fan-out statement queues it.
pub const DISPATCH_JOB_KIND: &str = "dispatch_webhooks";
