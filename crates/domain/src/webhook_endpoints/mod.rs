//! Webhooks for integrators (Standard Webhooks, <https://www.standardwebhooks.com>):
//! the catalogue of event types an endpoint subscribes to, the retry schedule,
//! what one attempt's answer means, and the shape of an endpoint secret.
//!
//! The rules are here so that the API (validation), the event fan-out and the
//! dispatcher read one definition; signing and sending live in the worker.

mod event_type;
mod outcome;
mod schedule;
mod secret;

pub use event_type::{EventType, UnknownEventType};
pub use outcome::{AttemptOutcome, judge};
pub use schedule::{MAX_ATTEMPTS, retry_delay};
pub use secret::{EndpointSecret, InvalidSecret, SECRET_PREFIX};

/// Why wacrm disabled an endpoint by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisabledReason {
    /// The receiver answered 410 Gone: it asked for no more deliveries.
    Gone,
    /// Too many deliveries in a row ran out of attempts.
    Failing,
}

impl DisabledReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gone => "gone",
            Self::Failing => "failing",
        }
    }
}

/// Where a delivery is: waiting for an attempt (the first, a retry or a
/// replay), delivered (a 2xx), or given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

impl DeliveryStatus {
    pub const ALL: [Self; 3] = [Self::Pending, Self::Succeeded, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}
