//! When an event happened, from whatever the provider wrote: unix seconds or
//! milliseconds (as a number or a string), RFC 3339, or a date-time without a zone.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde_json::Value;

use super::ParseError;

/// Below this, a unix time is in seconds (it reaches the year 5138); above it, in
/// milliseconds (from March 1973 on). No provider of ours sends either outside that.
const MILLIS_FROM: i64 = 100_000_000_000;

/// No WhatsApp event predates 2009 (WhatsApp's launch); a time before it is a unit
/// mistake or a forgery.
const EARLIEST: DateTime<Utc> = match DateTime::from_timestamp(1_230_768_000, 0) {
    Some(at) => at,
    None => DateTime::<Utc>::UNIX_EPOCH,
};

/// How far ahead of our own receipt an event may claim to be: clock skew, not more.
/// Beyond it a time would hold a session window open for ever (and near chrono's
/// maximum, adding the window to it overflows).
const AHEAD: Duration = Duration::days(1);

/// The event's time: `received_at` when the payload has none, an error when it has one
/// we cannot read (a wrong time is worse than a missing one: it would reorder the inbox).
pub(crate) fn at_or(
    value: Option<&Value>,
    received_at: DateTime<Utc>,
    what: &str,
) -> Result<DateTime<Utc>, ParseError> {
    match value {
        None | Some(Value::Null) => Ok(received_at),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(received_at),
        Some(value) => {
            let at = timestamp(value).ok_or_else(|| {
                ParseError::shape(format!(
                    "the `timestamp` of {what} is not a time we can read"
                ))
            })?;
            let latest = received_at
                .checked_add_signed(AHEAD)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            if at < EARLIEST || at > latest {
                return Err(ParseError::shape(format!(
                    "the `timestamp` of {what} is outside 2009-01-01 .. a day after it was received"
                )));
            }
            Ok(at)
        }
    }
}

pub(crate) fn timestamp(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(number) => match number.as_i64() {
            Some(whole) => from_unix(whole),
            None => from_unix_fraction(number.as_f64()?),
        },
        Value::String(text) => from_text(text.trim()),
        _ => None,
    }
}

fn from_text(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(whole) = text.parse::<i64>() {
        return from_unix(whole);
    }
    if let Ok(fraction) = text.parse::<f64>() {
        return from_unix_fraction(fraction);
    }
    if let Ok(zoned) = DateTime::parse_from_rfc3339(text) {
        return Some(zoned.with_timezone(&Utc));
    }
    // Lipachat writes `2023-08-06T01:27:56.825898971` with no zone; we take it as UTC.
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|naive| naive.and_utc())
}

fn from_unix(whole: i64) -> Option<DateTime<Utc>> {
    if whole.abs() >= MILLIS_FROM {
        DateTime::from_timestamp_millis(whole)
    } else {
        DateTime::from_timestamp(whole, 0)
    }
}

fn from_unix_fraction(fraction: f64) -> Option<DateTime<Utc>> {
    if !fraction.is_finite() {
        return None;
    }
    let seconds = if fraction.abs() >= MILLIS_FROM as f64 {
        fraction / 1000.0
    } else {
        fraction
    };
    let millis = (seconds * 1000.0).round();
    // The range check keeps the cast exact; chrono refuses what is out of its range.
    if millis.abs() > 9.0e15 {
        return None;
    }
    DateTime::from_timestamp_millis(millis as i64)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn unix_seconds_and_milliseconds_as_numbers_or_strings() {
        let expected = utc("2025-06-08T20:59:43Z");
        assert_eq!(timestamp(&json!("1749416383")), Some(expected));
        assert_eq!(timestamp(&json!(1749416383)), Some(expected));
        assert_eq!(timestamp(&json!(1749416383000_i64)), Some(expected));
        assert_eq!(timestamp(&json!("1749416383000")), Some(expected));
        assert_eq!(
            timestamp(&json!(1749416383.5)),
            Some(utc("2025-06-08T20:59:43.5Z"))
        );
    }

    #[test]
    fn rfc3339_and_zoneless_date_times() {
        assert_eq!(
            timestamp(&json!("2026-06-05T10:30:00.000Z")),
            Some(utc("2026-06-05T10:30:00Z"))
        );
        assert_eq!(
            timestamp(&json!("2026-06-05T13:30:00+03:00")),
            Some(utc("2026-06-05T10:30:00Z"))
        );
        assert_eq!(
            timestamp(&json!("2023-08-06T01:27:56.825898971")),
            Some(utc("2023-08-06T01:27:56.825898971Z"))
        );
        assert_eq!(
            timestamp(&json!("2023-08-06 01:27:56")),
            Some(utc("2023-08-06T01:27:56Z"))
        );
    }

    #[test]
    fn a_missing_time_is_the_received_time_and_a_bad_one_is_an_error() {
        let received = utc("2026-01-01T00:00:00Z");
        assert_eq!(at_or(None, received, "x").unwrap(), received);
        assert_eq!(at_or(Some(&json!(null)), received, "x").unwrap(), received);
        assert_eq!(at_or(Some(&json!("")), received, "x").unwrap(), received);
        let error = at_or(Some(&json!("yesterday")), received, "message wamid.1").unwrap_err();
        assert_eq!(
            error.to_string(),
            "the `timestamp` of message wamid.1 is not a time we can read"
        );
        assert!(at_or(Some(&json!(true)), received, "x").is_err());
    }

    #[test]
    fn a_time_before_2009_or_more_than_a_day_ahead_is_an_error() {
        let received = utc("2026-01-01T00:00:00Z");
        // Issue 13's poison: milliseconds in the year 262,000.
        let error = at_or(Some(&json!("8210266873199999")), received, "message m1").unwrap_err();
        assert!(error.to_string().contains("outside 2009-01-01"), "{error}");
        assert!(at_or(Some(&json!("1230767999")), received, "x").is_err());
        assert!(at_or(Some(&json!(0)), received, "x").is_err());
        let ahead = received + Duration::days(1);
        assert_eq!(
            at_or(Some(&json!(ahead.timestamp())), received, "x").unwrap(),
            ahead
        );
        let beyond = ahead.timestamp() + 1;
        assert!(at_or(Some(&json!(beyond)), received, "x").is_err());
        assert!(at_or(Some(&json!("1230768000")), received, "x").is_ok());
    }
}
