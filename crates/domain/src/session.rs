//! The 24-hour customer-service window: free-form replies are allowed until 24
//! hours after the customer's latest message, by that message's own timestamp.

use chrono::{DateTime, Duration, Utc};

pub const WINDOW: Duration = Duration::hours(24);

/// The window's end after an inbound message sent at `sent_at`. A late,
/// older message never shortens a window a newer one opened.
pub fn expiry_after_inbound(
    current: Option<DateTime<Utc>>,
    sent_at: DateTime<Utc>,
) -> DateTime<Utc> {
    // Saturating: a time near chrono's maximum must not panic the worker.
    let candidate = sent_at
        .checked_add_signed(WINDOW)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    current.map_or(candidate, |current| current.max(candidate))
}

pub fn is_open(expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    expires_at.is_some_and(|expires_at| now < expires_at)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 27, hour, 0, 0).unwrap()
    }

    #[test]
    fn the_window_is_24_hours_from_the_message() {
        // Seed 000: a message at 27 May 9:00 keeps the window open until 28 May 9:00.
        let expiry = expiry_after_inbound(None, at(9));
        assert_eq!(expiry, Utc.with_ymd_and_hms(2026, 5, 28, 9, 0, 0).unwrap());
        assert!(is_open(Some(expiry), expiry - Duration::seconds(1)));
        assert!(!is_open(Some(expiry), expiry));
        assert!(!is_open(None, at(9)));
    }

    #[test]
    fn a_late_older_message_never_shortens_the_window() {
        let newer = expiry_after_inbound(None, at(12));
        assert_eq!(expiry_after_inbound(Some(newer), at(9)), newer);
        assert_eq!(expiry_after_inbound(Some(newer), at(15)), at(15) + WINDOW);
    }

    #[test]
    fn a_time_at_the_end_of_the_calendar_does_not_panic() {
        let last = DateTime::<Utc>::MAX_UTC - Duration::hours(1);
        assert_eq!(expiry_after_inbound(None, last), DateTime::<Utc>::MAX_UTC);
    }
}
