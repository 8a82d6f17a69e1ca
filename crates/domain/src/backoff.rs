//! How long a failed background job waits before its next attempt: exponential
//! backoff with jitter, so retries thin out and do not arrive in lockstep.

use chrono::Duration;

/// The wait after the first failed attempt, before jitter.
pub const BASE_MS: i64 = 2_000;
/// No wait is longer than this, whatever the attempt.
pub const CAP_MS: i64 = 60 * 60 * 1_000;

/// The wait after `attempt` failed attempts (1 after the first failure; 0 is
/// treated as 1), shortened by `jitter` (a fraction in `0.0..1.0`, supplied by
/// the caller so the rule stays pure).
///
/// Without jitter the wait is `BASE_MS * 2^(attempt - 1)`, capped at `CAP_MS`;
/// jitter takes away up to half of it, so the wait always lies in
/// `(ceiling / 2, ceiling]` and is never zero. Jitter outside `0.0..=1.0`
/// (or NaN) is clamped.
pub fn retry_delay(attempt: u32, jitter: f64) -> Duration {
    let ceiling = ceiling_ms(attempt);
    let jitter = if jitter.is_nan() {
        0.0
    } else {
        jitter.clamp(0.0, 1.0)
    };
    // ceiling <= CAP_MS, well inside f64's exact integer range.
    let shortened = (ceiling as f64 * jitter / 2.0) as i64;
    Duration::milliseconds((ceiling - shortened).max(1))
}

/// The wait after `attempt` failures before jitter: the upper bound of
/// [`retry_delay`].
pub fn ceiling_ms(attempt: u32) -> i64 {
    // 2^21 * BASE_MS already exceeds the cap; stop doubling there.
    let doublings = attempt.saturating_sub(1).min(21);
    (BASE_MS << doublings).min(CAP_MS)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_first_retry_waits_about_two_seconds_and_each_next_one_twice_as_long() {
        assert_eq!(retry_delay(1, 0.0), Duration::seconds(2));
        assert_eq!(retry_delay(2, 0.0), Duration::seconds(4));
        assert_eq!(retry_delay(3, 0.0), Duration::seconds(8));
        assert_eq!(retry_delay(0, 0.0), retry_delay(1, 0.0));
        assert_eq!(retry_delay(1, 1.0), Duration::seconds(1));
    }

    #[test]
    fn the_wait_stops_growing_at_one_hour() {
        assert_eq!(retry_delay(12, 0.0), Duration::hours(1));
        assert_eq!(retry_delay(u32::MAX, 0.0), Duration::hours(1));
    }

    #[test]
    fn jitter_outside_the_unit_interval_is_clamped() {
        assert_eq!(retry_delay(3, f64::NAN), retry_delay(3, 0.0));
        assert_eq!(retry_delay(3, -5.0), retry_delay(3, 0.0));
        assert_eq!(retry_delay(3, 7.0), retry_delay(3, 1.0));
    }

    proptest! {
        #[test]
        fn the_wait_lies_between_half_the_ceiling_and_the_ceiling(
            attempt in any::<u32>(),
            jitter in 0.0..1.0f64,
        ) {
            let wait = retry_delay(attempt, jitter).num_milliseconds();
            let ceiling = ceiling_ms(attempt);
            prop_assert!(wait <= ceiling);
            prop_assert!(wait * 2 >= ceiling);
        }

        #[test]
        fn the_ceiling_never_shrinks_as_attempts_grow(attempt in 0..u32::MAX, jitter in 0.0..1.0f64) {
            prop_assert!(ceiling_ms(attempt + 1) >= ceiling_ms(attempt));
            prop_assert!(retry_delay(attempt + 1, jitter) >= retry_delay(attempt, jitter));
        }

        #[test]
        fn the_cap_is_respected(attempt in any::<u32>(), jitter in any::<f64>()) {
            prop_assert!(retry_delay(attempt, jitter) <= Duration::milliseconds(CAP_MS));
        }

        #[test]
        fn the_wait_is_never_zero(attempt in any::<u32>(), jitter in any::<f64>()) {
            prop_assert!(retry_delay(attempt, jitter) >= Duration::seconds(1));
        }
    }
}
