//! When a failed delivery is tried again: the Standard Webhooks schedule
//! (immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), each wait
//! stretched by up to a tenth so that retries after an outage do not arrive
//! all at once, and never sooner than the receiver's `Retry-After`.

use chrono::Duration;

/// The waits after the 1st, 2nd, … failed attempt.
const WAITS_SECS: [i64; 7] = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];

/// Attempts per delivery: the first, and one after each wait.
pub const MAX_ATTEMPTS: i32 = WAITS_SECS.len() as i32 + 1;

/// The longest `Retry-After` honoured: a receiver cannot park a delivery
/// for longer than the schedule's own longest wait.
const MAX_RETRY_AFTER_SECS: i64 = 10 * 3600;

/// The wait after `failed` attempts (1 after the first), or `None` when
/// that was the last one. `jitter` in `0.0..=1.0` (clamped; the caller
/// supplies it so the rule stays pure) adds up to 10 %. A `retry_after` longer
/// than the scheduled wait replaces it, up to 10 hours.
pub fn retry_delay(failed: i32, jitter: f64, retry_after: Option<Duration>) -> Option<Duration> {
    let index = usize::try_from(failed.checked_sub(1)?).ok()?;
    let wait = Duration::seconds(*WAITS_SECS.get(index)?);
    let jitter = if jitter.is_nan() {
        0.0
    } else {
        jitter.clamp(0.0, 1.0)
    };
    // At most 36,000 s: exact in f64.
    let stretch = Duration::milliseconds((wait.num_milliseconds() as f64 * jitter / 10.0) as i64);
    let scheduled = wait + stretch;
    let asked = retry_after
        .unwrap_or_else(Duration::zero)
        .min(Duration::seconds(MAX_RETRY_AFTER_SECS));
    Some(scheduled.max(asked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_the_specifications() {
        let waits: Vec<i64> = (1..MAX_ATTEMPTS)
            .map(|failed| retry_delay(failed, 0.0, None).unwrap().num_seconds())
            .collect();
        assert_eq!(waits, [5, 300, 1800, 7200, 18000, 36000, 36000]);
        assert_eq!(MAX_ATTEMPTS, 8);
        assert_eq!(retry_delay(MAX_ATTEMPTS, 0.0, None), None);
        assert_eq!(retry_delay(0, 0.0, None), None);
    }

    #[test]
    fn jitter_stretches_a_wait_by_at_most_a_tenth() {
        assert_eq!(
            retry_delay(1, 1.0, None),
            Some(Duration::milliseconds(5_500))
        );
        assert_eq!(retry_delay(1, 7.0, None), retry_delay(1, 1.0, None));
        assert_eq!(retry_delay(1, f64::NAN, None), Some(Duration::seconds(5)));
    }

    #[test]
    fn a_longer_retry_after_wins_up_to_ten_hours() {
        assert_eq!(
            retry_delay(1, 0.0, Some(Duration::seconds(120))),
            Some(Duration::seconds(120))
        );
        assert_eq!(
            retry_delay(2, 0.0, Some(Duration::seconds(120))),
            Some(Duration::seconds(300))
        );
        assert_eq!(
            retry_delay(1, 0.0, Some(Duration::days(3))),
            Some(Duration::hours(10))
        );
    }
}
