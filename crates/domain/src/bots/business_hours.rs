//! When the business is open: a weekly schedule of opening intervals per weekday,
//! read on the wall clock of one IANA time zone.
//!
//! An interval is written as seed 001 writes it, `"09:00-17:00"`. One whose end
//! is not after its start crosses midnight and belongs to the day it starts:
//! Friday's `"22:00-02:00"` keeps the business open until 02:00 on Saturday.
//! `"00:00-24:00"` is the whole day.
//!
//! Times are wall-clock times in the zone, so daylight saving moves the opening
//! in UTC with it: London's `09:00` is 09:00 UTC in January and 08:00 UTC in
//! July. On the night clocks go forward the skipped wall times never happen,
//! and on the night they go back the repeated hour is open (or closed) both times.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

const DAY_MINUTES: u16 = 24 * 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusinessHoursError {
    #[error("`{0}` is not an IANA time zone such as `Europe/London`")]
    UnknownTimeZone(String),
    #[error("`{0}` is not an interval such as `09:00-17:00`")]
    BadInterval(String),
}

/// One opening, in minutes after local midnight. `end <= start` crosses midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    start: u16,
    end: u16,
}

impl Interval {
    pub fn crosses_midnight(self) -> bool {
        self.end <= self.start
    }

    /// Whether the minute `minute` of the day the interval starts is inside it.
    fn holds_same_day(self, minute: u16) -> bool {
        self.start <= minute && (self.crosses_midnight() || minute < self.end)
    }

    /// Whether the minute `minute` of the day after the one it starts is inside it.
    fn holds_next_day(self, minute: u16) -> bool {
        self.crosses_midnight() && minute < self.end
    }
}

impl FromStr for Interval {
    type Err = BusinessHoursError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || BusinessHoursError::BadInterval(text.to_owned());
        let (start, end) = text.split_once('-').ok_or_else(bad)?;
        let start = clock(start.trim()).filter(|m| *m < DAY_MINUTES);
        let end = clock(end.trim());
        match (start, end) {
            (Some(start), Some(end)) if start != end && !(end == DAY_MINUTES && start == 0) => {
                // `24:00` is midnight at the end of the day: the same as `00:00`
                // crossing midnight, stored that way so each interval has one form.
                let end = if end == DAY_MINUTES { 0 } else { end };
                Ok(Self { start, end })
            }
            (Some(0), Some(DAY_MINUTES)) => Ok(Self { start: 0, end: 0 }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = if self.start == 0 && self.end == 0 {
            DAY_MINUTES
        } else {
            self.end
        };
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            end / 60,
            end % 60
        )
    }
}

/// `HH:MM` (hours 0 to 24; `24:00` only as an end) as minutes after midnight.
fn clock(text: &str) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.is_empty() || hours.len() > 2 || minutes.len() != 2 {
        return None;
    }
    let hours: u16 = hours.parse().ok()?;
    let minutes: u16 = minutes.parse().ok()?;
    let total = hours.checked_mul(60)?.checked_add(minutes)?;
    (minutes < 60 && total <= DAY_MINUTES).then_some(total)
}

/// The business's weekly opening hours in its time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BusinessHoursSpec", into = "BusinessHoursSpec")]
pub struct BusinessHours {
    time_zone: Tz,
    /// Monday first, as `Weekday::num_days_from_monday` counts.
    week: [Vec<Interval>; 7],
}

impl BusinessHours {
    pub const KEY: &'static str = "business_hours";

    /// A schedule in `time_zone` with no opening yet; add days with [`Self::with`].
    pub fn closed(time_zone: &str) -> Result<Self, BusinessHoursError> {
        let time_zone = Tz::from_str(time_zone.trim())
            .map_err(|_| BusinessHoursError::UnknownTimeZone(time_zone.to_owned()))?;
        Ok(Self {
            time_zone,
            week: Default::default(),
        })
    }

    /// The schedule with `day`'s openings replaced by `intervals` (`"09:00-17:00"`…).
    pub fn with(mut self, day: Weekday, intervals: &[&str]) -> Result<Self, BusinessHoursError> {
        self.week[day.num_days_from_monday() as usize] = intervals
            .iter()
            .map(|interval| interval.parse())
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    pub fn time_zone(&self) -> &str {
        self.time_zone.name()
    }

    pub fn day(&self, day: Weekday) -> &[Interval] {
        &self.week[day.num_days_from_monday() as usize]
    }

    /// Whether the business is open at `at`, on the zone's wall clock.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.time_zone);
        // Minutes, not seconds: an interval ending at 17:00 closes at 17:00:00.
        let minute = (local.hour() * 60 + local.minute()) as u16;
        let today = local.weekday();
        let yesterday = (local - Duration::days(1)).weekday();
        self.day(today)
            .iter()
            .any(|interval| interval.holds_same_day(minute))
            || self
                .day(yesterday)
                .iter()
                .any(|interval| interval.holds_next_day(minute))
    }
}

impl Default for BusinessHours {
    /// Seed 001's example, `09:00-17:00`, Monday to Friday, in UTC.
    fn default() -> Self {
        let nine_to_five = Interval {
            start: 9 * 60,
            end: 17 * 60,
        };
        let mut week: [Vec<Interval>; 7] = Default::default();
        for day in week.iter_mut().take(5) {
            day.push(nine_to_five);
        }
        Self {
            time_zone: Tz::UTC,
            week,
        }
    }
}

/// The stored shape: `{"time_zone": "Europe/London", "monday": ["09:00-17:00"], …}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BusinessHoursSpec {
    time_zone: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    monday: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tuesday: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    wednesday: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    thursday: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    friday: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    saturday: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sunday: Vec<String>,
}

impl TryFrom<BusinessHoursSpec> for BusinessHours {
    type Error = BusinessHoursError;

    fn try_from(spec: BusinessHoursSpec) -> Result<Self, Self::Error> {
        let days = [
            (Weekday::Mon, &spec.monday),
            (Weekday::Tue, &spec.tuesday),
            (Weekday::Wed, &spec.wednesday),
            (Weekday::Thu, &spec.thursday),
            (Weekday::Fri, &spec.friday),
            (Weekday::Sat, &spec.saturday),
            (Weekday::Sun, &spec.sunday),
        ];
        let mut hours = Self::closed(&spec.time_zone)?;
        for (day, intervals) in days {
            let intervals: Vec<&str> = intervals.iter().map(String::as_str).collect();
            hours = hours.with(day, &intervals)?;
        }
        Ok(hours)
    }
}

impl From<BusinessHours> for BusinessHoursSpec {
    fn from(hours: BusinessHours) -> Self {
        let day = |day: Weekday| -> Vec<String> {
            hours.day(day).iter().map(ToString::to_string).collect()
        };
        Self {
            time_zone: hours.time_zone().to_owned(),
            monday: day(Weekday::Mon),
            tuesday: day(Weekday::Tue),
            wednesday: day(Weekday::Wed),
            thursday: day(Weekday::Thu),
            friday: day(Weekday::Fri),
            saturday: day(Weekday::Sat),
            sunday: day(Weekday::Sun),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn weekdays(zone: &str, interval: &str) -> BusinessHours {
        [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ]
        .into_iter()
        .try_fold(BusinessHours::closed(zone).unwrap(), |hours, day| {
            hours.with(day, &[interval])
        })
        .unwrap()
    }

    #[test]
    fn intervals_parse_as_seed_001_writes_them() {
        let interval: Interval = "09:00-17:00".parse().unwrap();
        assert!(!interval.crosses_midnight());
        assert_eq!(interval.to_string(), "09:00-17:00");
        assert!(
            "22:00-02:00"
                .parse::<Interval>()
                .unwrap()
                .crosses_midnight()
        );
        assert_eq!(
            "00:00-24:00".parse::<Interval>().unwrap().to_string(),
            "00:00-24:00"
        );
        assert_eq!(
            "22:00-24:00".parse::<Interval>().unwrap(),
            "22:00-00:00".parse::<Interval>().unwrap()
        );
        for bad in [
            "9-17",
            "09:00",
            "09:00-09:00",
            "24:00-02:00",
            "09:60-10:00",
            "09:00-25:00",
            "ab:cd-ef:gh",
            "",
        ] {
            assert!(bad.parse::<Interval>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_stored_shape_round_trips_and_refuses_unknown_zones() {
        let stored = json!({
            "time_zone": "America/Sao_Paulo",
            "monday": ["09:00-12:00", "13:00-18:00"],
            "friday": ["22:00-02:00"],
        });
        let hours: BusinessHours = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(hours.time_zone(), "America/Sao_Paulo");
        assert_eq!(serde_json::to_value(&hours).unwrap(), stored);
        assert!(
            serde_json::from_value::<BusinessHours>(json!({"time_zone": "Mars/Olympus"})).is_err()
        );
        assert!(
            serde_json::from_value::<BusinessHours>(
                json!({"time_zone": "UTC", "funday": ["09:00-10:00"]})
            )
            .is_err()
        );
    }

    #[test]
    fn the_default_is_nine_to_five_on_weekdays_in_utc() {
        let hours = BusinessHours::default();
        // Wednesday 27 May 2026.
        assert!(!hours.is_open(utc(2026, 5, 27, 8, 59)));
        assert!(hours.is_open(utc(2026, 5, 27, 9, 0)));
        assert!(hours.is_open(utc(2026, 5, 27, 16, 59)));
        assert!(!hours.is_open(utc(2026, 5, 27, 17, 0)));
        // Saturday.
        assert!(!hours.is_open(utc(2026, 5, 30, 12, 0)));
    }

    #[test]
    fn an_interval_across_midnight_belongs_to_the_day_it_starts() {
        let hours = BusinessHours::closed("UTC")
            .unwrap()
            .with(Weekday::Fri, &["22:00-02:00"])
            .unwrap();
        // Friday 29 May 2026 and the Saturday after.
        assert!(!hours.is_open(utc(2026, 5, 29, 21, 59)));
        assert!(hours.is_open(utc(2026, 5, 29, 23, 30)));
        assert!(hours.is_open(utc(2026, 5, 30, 1, 59)));
        assert!(!hours.is_open(utc(2026, 5, 30, 2, 0)));
        // Thursday night into Friday is not open: only Friday's own night is.
        assert!(!hours.is_open(utc(2026, 5, 29, 1, 0)));
        // Saturday night is not open either.
        assert!(!hours.is_open(utc(2026, 5, 30, 23, 0)));
    }

    #[test]
    fn sunday_night_runs_into_monday() {
        let hours = BusinessHours::closed("UTC")
            .unwrap()
            .with(Weekday::Sun, &["20:00-00:30"])
            .unwrap();
        // Sunday 31 May and Monday 1 June 2026.
        assert!(hours.is_open(utc(2026, 5, 31, 20, 0)));
        assert!(hours.is_open(utc(2026, 6, 1, 0, 29)));
        assert!(!hours.is_open(utc(2026, 6, 1, 0, 30)));
    }

    #[test]
    fn london_opening_follows_british_summer_time() {
        let hours = weekdays("Europe/London", "09:00-17:00");
        // Winter, GMT = UTC: Monday 23 March 2026.
        assert!(!hours.is_open(utc(2026, 3, 23, 8, 30)));
        assert!(hours.is_open(utc(2026, 3, 23, 16, 30)));
        // Clocks go forward on Sunday 29 March; Monday 30 March is BST = UTC+1.
        assert!(hours.is_open(utc(2026, 3, 30, 8, 30)), "09:30 BST");
        assert!(!hours.is_open(utc(2026, 3, 30, 16, 30)), "17:30 BST");
        // Clocks go back on Sunday 25 October; Monday 26 October is GMT again.
        assert!(!hours.is_open(utc(2026, 10, 26, 8, 30)));
        assert!(hours.is_open(utc(2026, 10, 26, 16, 30)));
    }

    #[test]
    fn the_night_clocks_change_uses_the_wall_clock() {
        // Open 00:30-03:00 on Sundays in London.
        let hours = BusinessHours::closed("Europe/London")
            .unwrap()
            .with(Weekday::Sun, &["00:30-03:00"])
            .unwrap();
        // 29 March 2026: 01:00 GMT jumps to 02:00 BST, so 00:30-03:00 wall time
        // is 00:30-02:00 UTC, an hour and a half.
        assert!(hours.is_open(utc(2026, 3, 29, 0, 30)), "00:30 GMT");
        assert!(hours.is_open(utc(2026, 3, 29, 1, 30)), "02:30 BST");
        assert!(!hours.is_open(utc(2026, 3, 29, 2, 0)), "03:00 BST");
        // 25 October 2026: 02:00 BST falls back to 01:00 GMT, so the wall clock
        // shows 01:xx twice and the interval lasts three and a half hours.
        assert!(hours.is_open(utc(2026, 10, 24, 23, 30)), "00:30 BST");
        assert!(hours.is_open(utc(2026, 10, 25, 0, 30)), "first 01:30, BST");
        assert!(hours.is_open(utc(2026, 10, 25, 1, 30)), "second 01:30, GMT");
        assert!(hours.is_open(utc(2026, 10, 25, 2, 59)), "02:59 GMT");
        assert!(!hours.is_open(utc(2026, 10, 25, 3, 0)), "03:00 GMT");
    }

    #[test]
    fn sao_paulo_across_midnight_and_its_old_daylight_saving() {
        // Brazil last had daylight saving in 2018-19: clocks went from 00:00 to
        // 01:00 on Sunday 4 November 2018 (UTC-3 to UTC-2).
        let hours = weekdays("America/Sao_Paulo", "09:00-18:00")
            .with(Weekday::Sat, &["22:00-02:00"])
            .unwrap();
        // Monday 29 October 2018, UTC-3: 09:00 local is 12:00 UTC.
        assert!(!hours.is_open(utc(2018, 10, 29, 11, 30)));
        assert!(hours.is_open(utc(2018, 10, 29, 12, 0)));
        // Monday 5 November 2018, UTC-2: 09:00 local is 11:00 UTC.
        assert!(hours.is_open(utc(2018, 11, 5, 11, 0)));
        assert!(!hours.is_open(utc(2018, 11, 5, 20, 0)), "18:00 local");
        // Saturday 3 November 22:00 (UTC-3) until Sunday 02:00 (UTC-2), a night
        // an hour short because 00:00-00:59 never happened.
        assert!(hours.is_open(utc(2018, 11, 4, 1, 0)), "22:00 Sat, UTC-3");
        assert!(hours.is_open(utc(2018, 11, 4, 3, 30)), "01:30 Sun, UTC-2");
        assert!(!hours.is_open(utc(2018, 11, 4, 4, 0)), "02:00 Sun, UTC-2");
        // Today Sao Paulo has no daylight saving: UTC-3 all year.
        assert!(hours.is_open(utc(2026, 1, 5, 12, 0)));
        assert!(!hours.is_open(utc(2026, 1, 5, 11, 59)));
    }

    proptest! {
        /// A night interval is the union of its two halves on the two days.
        #[test]
        fn a_night_interval_is_its_two_halves(
            start in 1u16..DAY_MINUTES,
            end in 0u16..DAY_MINUTES,
            minute_of_week in 0i64..(7 * 24 * 60),
        ) {
            prop_assume!(end < start && end > 0);
            let night = Interval { start, end }.to_string();
            let evening = Interval { start, end: 0 }.to_string();
            let morning = Interval { start: 0, end }.to_string();
            let crossing = BusinessHours::closed("UTC").unwrap().with(Weekday::Tue, &[&night]).unwrap();
            let split = BusinessHours::closed("UTC").unwrap()
                .with(Weekday::Tue, &[&evening]).unwrap()
                .with(Weekday::Wed, &[&morning]).unwrap();
            // Monday 25 May 2026, 00:00 UTC.
            let at = utc(2026, 5, 25, 0, 0) + Duration::minutes(minute_of_week);
            prop_assert_eq!(crossing.is_open(at), split.is_open(at));
        }

        /// Opening hours never depend on the seconds within a minute.
        #[test]
        fn is_open_is_constant_within_a_minute(minute in 0i64..(7 * 24 * 60), second in 0i64..60) {
            let hours = weekdays("Europe/London", "09:00-17:30")
                .with(Weekday::Sat, &["23:00-01:00"]).unwrap();
            let at = utc(2026, 10, 19, 0, 0) + Duration::minutes(minute);
            prop_assert_eq!(hours.is_open(at), hours.is_open(at + Duration::seconds(second)));
        }

        #[test]
        fn intervals_print_as_they_parse(start in 0u16..DAY_MINUTES, end in 0u16..=DAY_MINUTES) {
            let text = format!("{:02}:{:02}-{:02}:{:02}", start / 60, start % 60, end / 60, end % 60);
            if let Ok(interval) = text.parse::<Interval>() {
                prop_assert_eq!(interval.to_string().parse::<Interval>().unwrap(), interval);
            }
        }
    }
}
