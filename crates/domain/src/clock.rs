//! The time the application reads: the system's, or, in tests, the system's
//! moved forward by hand.
//!
//! Everything that schedules (campaign runs, recurrences, quiet hours, daily
//! budgets, reminders, job retries) asks a [`Clock`] instead of calling
//! `Utc::now()`, so a test can jump a day ahead and watch what falls due
//! without waiting. An adjustable clock keeps running at the system's pace
//! (pacing, leases and timeouts still see real time pass); only its offset
//! moves, and only forward.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

/// A cheap, shareable source of "now". Clones share one offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Microseconds added to the system time; `None` for the system clock,
    /// which cannot be moved.
    offset_micros: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock that starts at the system time and can be moved forward.
    pub fn adjustable() -> Self {
        Self {
            offset_micros: Some(Arc::new(AtomicI64::new(0))),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        match &self.offset_micros {
            None => now,
            Some(offset) => now
                .checked_add_signed(Duration::microseconds(offset.load(Ordering::SeqCst)))
                .unwrap_or(now),
        }
    }

    /// Moves an adjustable clock forward by `by` (a negative or zero
    /// duration does nothing: time never runs backwards). Returns false for
    /// the system clock, which stays as it is.
    pub fn advance(&self, by: Duration) -> bool {
        let Some(offset) = &self.offset_micros else {
            return false;
        };
        let micros = by.num_microseconds().unwrap_or(i64::MAX).max(0);
        offset
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |current| {
                Some(current.saturating_add(micros))
            })
            .is_ok()
    }

    /// Moves an adjustable clock forward to `at` (nothing if `at` has passed).
    pub fn advance_to(&self, at: DateTime<Utc>) -> bool {
        // The offset counts whole microseconds: round up, so that `now()` is
        // never a fraction of one short of `at`.
        self.advance(at - self.now() + Duration::microseconds(1))
    }

    /// Whether this clock can be moved (a test's).
    pub fn is_adjustable(&self) -> bool {
        self.offset_micros.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_cannot_be_moved() {
        let clock = Clock::system();
        assert!(!clock.advance(Duration::days(1)));
        assert!((clock.now() - Utc::now()).num_seconds().abs() < 5);
    }

    #[test]
    fn an_adjustable_clock_moves_forward_for_every_clone_and_never_back() {
        let clock = Clock::adjustable();
        let shared = clock.clone();
        assert!(clock.advance(Duration::days(2)));
        let ahead = shared.now() - Utc::now();
        assert!(ahead > Duration::days(2) - Duration::seconds(5), "{ahead}");
        assert!(ahead < Duration::days(2) + Duration::seconds(5), "{ahead}");

        let before = shared.now();
        clock.advance(Duration::days(-5));
        assert!(shared.now() >= before);

        let target = before + Duration::hours(3);
        clock.advance_to(target);
        assert!(shared.now() >= target);
        assert!(shared.now() - target < Duration::seconds(5));
    }
}
