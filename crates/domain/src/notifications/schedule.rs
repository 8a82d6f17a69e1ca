//! When a notification goes: at once, after the mapping's delay, or at a
//! reminder time counted from a date field of the event (`invoice.due_date`
//! minus 72 hours). Later sends are jobs with `run_at`, read against the
//! application's clock.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{check_path, field};

/// The longest delay or reminder offset: a year.
pub const MAX_HOURS: i32 = 24 * 366;

/// A reminder: `offset_hours` after (or, negative, before) the time in `field`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"field": "invoice.due_date", "offset_hours": -72})))]
#[serde(deny_unknown_fields)]
pub struct Reminder {
    /// A date (`YYYY-MM-DD`, midnight UTC) or RFC 3339 time field of the event.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub field: String,
    /// Hours after the field's time; negative for before (`-72`: three days before).
    #[cfg_attr(feature = "openapi", schema(minimum = -8784, maximum = 8784))]
    pub offset_hours: i32,
}

/// Why a notification cannot be scheduled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unschedulable {
    /// The reminder's field is missing or not a time (the path).
    MissingField(String),
    /// The reminder's time is already past.
    Passed(DateTime<Utc>),
}

/// A date (midnight UTC) or an RFC 3339 time.
pub fn parse_time(value: &Value) -> Option<DateTime<Utc>> {
    let text = value.as_str()?.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|time| time.and_utc())
}

impl Reminder {
    pub fn validate(&self, roots: &[&str]) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if let Err(problem) = check_path(&self.field, roots) {
            problems.push(("field", problem));
        }
        if self.offset_hours.abs() > MAX_HOURS {
            problems.push((
                "offset_hours",
                format!("must be between -{MAX_HOURS} and {MAX_HOURS}"),
            ));
        }
        problems
    }

    /// The reminder's time for `record`.
    pub fn at(&self, record: &Value) -> Result<DateTime<Utc>, Unschedulable> {
        let base = field(record, &self.field)
            .and_then(parse_time)
            .ok_or_else(|| Unschedulable::MissingField(self.field.clone()))?;
        Ok(base + Duration::hours(i64::from(self.offset_hours)))
    }
}

/// When the notification for `record` goes: the reminder's time (which must be
/// ahead of `now`), else `now` plus the delay.
pub fn send_at(
    now: DateTime<Utc>,
    delay_minutes: i32,
    reminder: Option<&Reminder>,
    record: &Value,
) -> Result<DateTime<Utc>, Unschedulable> {
    match reminder {
        Some(reminder) => {
            let at = reminder.at(record)?;
            if at <= now {
                Err(Unschedulable::Passed(at))
            } else {
                Ok(at)
            }
        }
        None => Ok(now + Duration::minutes(i64::from(delay_minutes.max(0)))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reminders_count_from_the_events_date_and_never_fire_in_the_past() {
        let now = parse_time(&json!("2026-12-01T09:00:00Z")).unwrap();
        let record = json!({"invoice": {"due_date": "2026-12-10"}});
        let three_days_before = Reminder {
            field: "invoice.due_date".into(),
            offset_hours: -72,
        };
        assert_eq!(
            send_at(now, 0, Some(&three_days_before), &record),
            Ok(parse_time(&json!("2026-12-07T00:00:00Z")).unwrap())
        );
        let soon = json!({"invoice": {"due_date": "2026-12-02T12:00:00+03:00"}});
        assert!(matches!(
            send_at(now, 0, Some(&three_days_before), &soon),
            Err(Unschedulable::Passed(_))
        ));
        assert_eq!(
            send_at(now, 0, Some(&three_days_before), &json!({})),
            Err(Unschedulable::MissingField("invoice.due_date".into()))
        );
        assert_eq!(
            send_at(now, 30, None, &record),
            Ok(now + Duration::minutes(30))
        );
        assert_eq!(send_at(now, 0, None, &record), Ok(now));
    }
}
