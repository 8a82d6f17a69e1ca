//! What becomes of a job after one attempt: done, again later, or dead.

use chrono::{DateTime, Utc};
use wacrm_domain::backoff;

use crate::job::JobError;

/// Why an attempt did not succeed, as the runner saw it.
#[derive(Debug)]
pub(crate) enum Failure {
    UnknownKind,
    Payload(serde_json::Error),
    Job(JobError),
    TimedOut(std::time::Duration),
    Panicked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Complete,
    RetryAt { at: DateTime<Utc>, error: String },
    Bury { error: String },
}

/// Decides the outcome of attempt number `attempts` (counting this one) of a
/// job of `kind` allowed `max_attempts`; `jitter` in `0.0..1.0` spreads retries.
pub(crate) fn decide(
    kind: &str,
    result: Result<(), Failure>,
    attempts: i32,
    max_attempts: i32,
    now: DateTime<Utc>,
    jitter: f64,
) -> Outcome {
    let (reason, after) = match result {
        Ok(()) => return Outcome::Complete,
        Err(Failure::UnknownKind) => {
            return Outcome::Bury {
                error: format!("no handler is registered for job kind `{kind}`"),
            };
        }
        Err(Failure::Payload(error)) => {
            return Outcome::Bury {
                error: format!("the payload is not a valid `{kind}` job: {error}"),
            };
        }
        Err(Failure::Job(JobError::Permanent(error))) => return Outcome::Bury { error },
        Err(Failure::Job(JobError::Retry { reason, after })) => (reason, after),
        Err(Failure::TimedOut(limit)) => (format!("timed out after {limit:?}"), None),
        Err(Failure::Panicked) => ("the job panicked".to_owned(), None),
    };
    if attempts >= max_attempts {
        return Outcome::Bury {
            error: format!("{reason} (gave up after {attempts} attempts)"),
        };
    }
    let attempt = u32::try_from(attempts).unwrap_or(1);
    let delay = after
        .unwrap_or_else(|| backoff::retry_delay(attempt, jitter))
        .max(chrono::Duration::zero());
    Outcome::RetryAt {
        at: now + delay,
        error: reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn success_completes_the_job() {
        assert_eq!(decide("k", Ok(()), 1, 3, now(), 0.0), Outcome::Complete);
    }

    #[test]
    fn a_retryable_failure_backs_off_unless_the_job_says_when() {
        let failure = Failure::Job(JobError::retry("provider down"));
        assert_eq!(
            decide("k", Err(failure), 2, 3, now(), 0.0),
            Outcome::RetryAt {
                at: now() + backoff::retry_delay(2, 0.0),
                error: "provider down".into()
            }
        );
        let failure = Failure::Job(JobError::retry_after("429", chrono::Duration::seconds(30)));
        assert_eq!(
            decide("k", Err(failure), 2, 3, now(), 0.0),
            Outcome::RetryAt {
                at: now() + chrono::Duration::seconds(30),
                error: "429".into()
            }
        );
    }

    #[test]
    fn the_last_attempt_buries_the_job_with_its_reason() {
        let failure = Failure::TimedOut(std::time::Duration::from_secs(4));
        assert_eq!(
            decide("k", Err(failure), 3, 3, now(), 0.0),
            Outcome::Bury {
                error: "timed out after 4s (gave up after 3 attempts)".into()
            }
        );
    }

    #[test]
    fn permanent_failures_and_unreadable_jobs_are_buried_at_once() {
        let failure = Failure::Job(JobError::permanent("number not on WhatsApp"));
        assert_eq!(
            decide("k", Err(failure), 1, 8, now(), 0.0),
            Outcome::Bury {
                error: "number not on WhatsApp".into()
            }
        );
        assert_eq!(
            decide("mystery", Err(Failure::UnknownKind), 1, 8, now(), 0.0),
            Outcome::Bury {
                error: "no handler is registered for job kind `mystery`".into()
            }
        );
    }
}
