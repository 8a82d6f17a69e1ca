//! When a campaign sends: once (now or at a time), every N days (optionally
//! only on some weekdays, until a date or for N runs), or at an explicit list
//! of times. Occurrence `n` (1-based) is a pure function of the schedule, so
//! any worker computes the same run times and a run is keyed by its
//! occurrence number.

use chrono::{DateTime, Datelike, Days, NaiveDateTime, TimeZone as _, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The most send times a custom schedule may list.
pub const MAX_SEND_TIMES: usize = 100;
/// The most runs a recurring schedule makes (a bound on runaway schedules).
pub const MAX_RUNS: u32 = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// One run: at `send_at`, or when started if it is absent.
    Onetime {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        send_at: Option<DateTime<Utc>>,
    },
    /// A run every `every_days` days from `start_at` at the same local time
    /// in `time_zone` (so 09:00 stays 09:00 across daylight saving), only on
    /// `weekdays` when given, until `until` or for `max_runs` runs.
    Recurring {
        start_at: DateTime<Utc>,
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 365))]
        every_days: u32,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[cfg_attr(feature = "openapi", schema(example = json!(["mon", "thu"])))]
        weekdays: Vec<WeekdayName>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<DateTime<Utc>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
        max_runs: Option<u32>,
        /// IANA zone the local time is kept in (default UTC).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(example = "Africa/Nairobi"))]
        time_zone: Option<String>,
    },
    /// One run at each of these times (1 to 100, in any order).
    Custom {
        #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 100))]
        send_times: Vec<DateTime<Utc>>,
    },
}

/// A weekday as the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WeekdayName {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl WeekdayName {
    fn weekday(self) -> Weekday {
        match self {
            Self::Mon => Weekday::Mon,
            Self::Tue => Weekday::Tue,
            Self::Wed => Weekday::Wed,
            Self::Thu => Weekday::Thu,
            Self::Fri => Weekday::Fri,
            Self::Sat => Weekday::Sat,
            Self::Sun => Weekday::Sun,
        }
    }
}

/// A problem with a schedule, at a field of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleProblem {
    pub field: &'static str,
    pub message: String,
}

fn problem(field: &'static str, message: impl Into<String>) -> Result<(), ScheduleProblem> {
    Err(ScheduleProblem {
        field,
        message: message.into(),
    })
}

impl Schedule {
    /// Checks the schedule's own rules; times in the past are the caller's
    /// business (`validate_future`).
    pub fn validate(&self) -> Result<(), ScheduleProblem> {
        match self {
            Self::Onetime { .. } => Ok(()),
            Self::Recurring {
                every_days,
                max_runs,
                time_zone,
                ..
            } => {
                if !(1..=365).contains(every_days) {
                    return problem("schedule.every_days", "must be between 1 and 365");
                }
                if max_runs.is_some_and(|runs| !(1..=MAX_RUNS).contains(&runs)) {
                    return problem(
                        "schedule.max_runs",
                        format!("must be between 1 and {MAX_RUNS}"),
                    );
                }
                if let Some(zone) = time_zone
                    && zone.parse::<Tz>().is_err()
                {
                    return problem("schedule.time_zone", "is not an IANA time zone");
                }
                Ok(())
            }
            Self::Custom { send_times } => {
                if send_times.is_empty() || send_times.len() > MAX_SEND_TIMES {
                    return problem(
                        "schedule.send_times",
                        format!("must list 1 to {MAX_SEND_TIMES} times"),
                    );
                }
                Ok(())
            }
        }
    }

    /// Whether the schedule has any occurrence at all (a recurring one may
    /// end before its first weekday comes): a draft may be saved without, but
    /// it cannot start.
    pub fn has_occurrence(&self) -> bool {
        match self {
            Self::Onetime { .. } => true,
            _ => self.nth(1).is_some(),
        }
    }

    /// Whether the schedule's first occurrence lies before `now` (a scheduled
    /// send in the past is refused rather than sent at once by surprise).
    pub fn starts_in_the_past(&self, now: DateTime<Utc>) -> bool {
        match self {
            Self::Onetime { send_at } => {
                send_at.is_some_and(|at| at < now - chrono::Duration::minutes(1))
            }
            Self::Recurring { .. } | Self::Custom { .. } => self
                .nth(1)
                .is_some_and(|at| at < now - chrono::Duration::minutes(1)),
        }
    }

    /// The time of occurrence `n` (1-based); `started` stands in for an
    /// onetime schedule without a time. `None` when there is no such
    /// occurrence.
    pub fn occurrence(&self, n: u32, started: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Onetime { send_at } => (n == 1).then(|| send_at.unwrap_or(started)),
            _ => self.nth(n),
        }
    }

    fn nth(&self, n: u32) -> Option<DateTime<Utc>> {
        if n == 0 {
            return None;
        }
        match self {
            Self::Onetime { send_at } => send_at.filter(|_| n == 1),
            Self::Custom { send_times } => {
                let mut times = send_times.clone();
                times.sort();
                times.dedup();
                times.get(usize::try_from(n - 1).ok()?).copied()
            }
            Self::Recurring {
                start_at,
                every_days,
                weekdays,
                until,
                max_runs,
                time_zone,
            } => {
                if n > max_runs.unwrap_or(MAX_RUNS).min(MAX_RUNS) {
                    return None;
                }
                let zone: Tz = time_zone
                    .as_deref()
                    .and_then(|zone| zone.parse().ok())
                    .unwrap_or(Tz::UTC);
                let local = start_at.with_timezone(&zone).naive_local();
                let wanted: Vec<Weekday> = weekdays.iter().map(|day| day.weekday()).collect();
                let step = u64::from((*every_days).max(1));
                let mut found = 0;
                // Weekday filters skip candidates; a year of daily steps bounds
                // the search for one occurrence.
                for k in 0..u64::from(MAX_RUNS) * 7 {
                    let candidate = local.checked_add_days(Days::new(k.checked_mul(step)?))?;
                    if !wanted.is_empty() && !wanted.contains(&candidate.weekday()) {
                        continue;
                    }
                    let at = to_utc(&zone, candidate)?;
                    if until.is_some_and(|until| at > until) {
                        return None;
                    }
                    found += 1;
                    if found == n {
                        return Some(at);
                    }
                }
                None
            }
        }
    }
}

/// A local time in `zone` as UTC; in a daylight-saving gap, the first valid
/// instant after it.
pub(crate) fn to_utc(zone: &Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let mut probe = local;
    for _ in 0..4 {
        if let Some(at) = zone.from_local_datetime(&probe).earliest() {
            return Some(at.with_timezone(&Utc));
        }
        probe += chrono::Duration::minutes(30);
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn schedule(value: serde_json::Value) -> Schedule {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_onetime_schedule_has_one_occurrence() {
        let now = at("2026-12-01T10:00:00Z");
        assert_eq!(
            schedule(json!({"type": "onetime"})).occurrence(1, now),
            Some(now)
        );
        let later = schedule(json!({"type": "onetime", "send_at": "2026-12-02T08:00:00Z"}));
        assert_eq!(later.occurrence(1, now), Some(at("2026-12-02T08:00:00Z")));
        assert_eq!(later.occurrence(2, now), None);
    }

    #[test]
    fn recurring_keeps_the_local_time_across_daylight_saving() {
        // Berlin leaves summer time on 2026-10-25: 09:00 local is 07:00Z
        // before and 08:00Z after.
        let weekly = schedule(
            json!({"type": "recurring", "start_at": "2026-10-19T07:00:00Z",
            "every_days": 7, "time_zone": "Europe/Berlin", "max_runs": 3}),
        );
        let now = at("2026-10-01T00:00:00Z");
        assert_eq!(weekly.occurrence(1, now), Some(at("2026-10-19T07:00:00Z")));
        assert_eq!(weekly.occurrence(2, now), Some(at("2026-10-26T08:00:00Z")));
        assert_eq!(weekly.occurrence(3, now), Some(at("2026-11-02T08:00:00Z")));
        assert_eq!(weekly.occurrence(4, now), None);
    }

    #[test]
    fn recurring_on_weekdays_until_a_date() {
        // 2026-12-07 is a Monday.
        let mon_thu = schedule(
            json!({"type": "recurring", "start_at": "2026-12-07T09:00:00Z",
            "every_days": 1, "weekdays": ["mon", "thu"], "until": "2026-12-17T00:00:00Z"}),
        );
        let now = at("2026-12-01T00:00:00Z");
        let runs: Vec<_> = (1..=5).map_while(|n| mon_thu.occurrence(n, now)).collect();
        assert_eq!(
            runs,
            [
                at("2026-12-07T09:00:00Z"),
                at("2026-12-10T09:00:00Z"),
                at("2026-12-14T09:00:00Z"),
            ]
        );
        assert!(mon_thu.validate().is_ok());
        // Until before the first Monday: valid to save, nothing to run.
        let never = schedule(
            json!({"type": "recurring", "start_at": "2026-12-08T09:00:00Z",
            "every_days": 1, "weekdays": ["mon"], "until": "2026-12-10T00:00:00Z"}),
        );
        assert!(never.validate().is_ok());
        assert!(!never.has_occurrence());
        assert!(mon_thu.has_occurrence());
    }

    #[test]
    fn custom_times_run_in_order_once_each() {
        let custom = schedule(json!({"type": "custom", "send_times":
            ["2026-12-03T10:00:00Z", "2026-12-01T10:00:00Z", "2026-12-03T10:00:00Z"]}));
        let now = at("2026-11-30T00:00:00Z");
        assert_eq!(custom.occurrence(1, now), Some(at("2026-12-01T10:00:00Z")));
        assert_eq!(custom.occurrence(2, now), Some(at("2026-12-03T10:00:00Z")));
        assert_eq!(custom.occurrence(3, now), None);
    }

    #[test]
    fn bad_schedules_are_refused() {
        let problem = |value| schedule(value).validate().unwrap_err().field;
        assert_eq!(
            problem(
                json!({"type": "recurring", "start_at": "2026-12-07T09:00:00Z", "every_days": 0})
            ),
            "schedule.every_days"
        );
        assert_eq!(
            problem(
                json!({"type": "recurring", "start_at": "2026-12-07T09:00:00Z", "every_days": 1, "time_zone": "Mars/Base"})
            ),
            "schedule.time_zone"
        );
        assert_eq!(
            problem(json!({"type": "custom", "send_times": []})),
            "schedule.send_times"
        );
        assert!(serde_json::from_value::<Schedule>(json!({"type": "weekly"})).is_err());
        let past = schedule(json!({"type": "onetime", "send_at": "2020-01-01T00:00:00Z"}));
        assert!(past.starts_in_the_past(at("2026-01-01T00:00:00Z")));
    }
}
