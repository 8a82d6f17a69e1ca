//! What one delivery attempt's answer means for the delivery and its
//! endpoint: only a 2xx delivers; 410 Gone asks for no more deliveries at
//! all; anything else (3xx included: redirects are not followed, no answer
//! at all) is retried on the schedule until the attempts run out.

use chrono::Duration;

use super::schedule::retry_delay;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Try again after this wait.
    RetryAfter(Duration),
    /// The last attempt failed: the delivery has failed.
    GiveUp,
    /// 410: the delivery fails and the endpoint is disabled at once.
    Gone,
}

/// `status`: the receiver's HTTP status, `None` when no answer came;
/// `attempts`: attempts made so far, this one included.
pub fn judge(
    status: Option<u16>,
    attempts: i32,
    jitter: f64,
    retry_after: Option<Duration>,
) -> AttemptOutcome {
    match status {
        Some(200..=299) => AttemptOutcome::Delivered,
        Some(410) => AttemptOutcome::Gone,
        _ => match retry_delay(attempts, jitter, retry_after) {
            Some(wait) => AttemptOutcome::RetryAfter(wait),
            None => AttemptOutcome::GiveUp,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_mean_what_the_specification_says() {
        assert_eq!(judge(Some(204), 1, 0.0, None), AttemptOutcome::Delivered);
        assert_eq!(judge(Some(410), 1, 0.0, None), AttemptOutcome::Gone);
        assert_eq!(
            judge(Some(500), 1, 0.0, None),
            AttemptOutcome::RetryAfter(Duration::seconds(5))
        );
        assert_eq!(
            judge(Some(301), 2, 0.0, None),
            AttemptOutcome::RetryAfter(Duration::minutes(5))
        );
        assert_eq!(
            judge(None, 1, 0.0, None),
            AttemptOutcome::RetryAfter(Duration::seconds(5))
        );
        assert_eq!(judge(Some(503), 8, 0.0, None), AttemptOutcome::GiveUp);
    }
}
