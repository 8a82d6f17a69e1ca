//! Hours in which a campaign sends nothing to a recipient, read in the
//! recipient's own time zone: the contact's, else the phone's country's, else
//! the account's (the quiet hours' `time_zone`). A recipient reached during
//! them waits until they end, on that recipient's clock.

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::schedule::to_utc;
use crate::NormalizedPhone;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// Local time the quiet hours begin, `HH:MM` (e.g. `21:00`).
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "21:00", pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    #[serde(with = "hh_mm")]
    pub start: NaiveTime,
    /// Local time they end (e.g. `08:00`); earlier than `start` means they
    /// span midnight.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "08:00", pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    #[serde(with = "hh_mm")]
    pub end: NaiveTime,
    /// The account's IANA zone, for recipients whose zone is unknown.
    #[cfg_attr(feature = "openapi", schema(example = "Africa/Nairobi"))]
    pub time_zone: String,
}

mod hh_mm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &NaiveTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&time.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        NaiveTime::parse_from_str(&text, "%H:%M")
            .map_err(|_| serde::de::Error::custom("a time must be HH:MM, e.g. 21:00"))
    }
}

impl QuietHours {
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.time_zone.parse::<Tz>().is_err() {
            return Err(("quiet_hours.time_zone", "is not an IANA time zone".into()));
        }
        if self.start == self.end {
            return Err((
                "quiet_hours.end",
                "must differ from start (quiet all day would never send)".into(),
            ));
        }
        Ok(())
    }

    /// The zone a recipient's quiet hours are read in.
    pub fn zone_of(&self, own: Option<&str>, phone: Option<&str>) -> Tz {
        own.and_then(|zone| zone.parse().ok())
            .or_else(|| {
                phone
                    .and_then(|phone| NormalizedPhone::parse(phone, None).ok())
                    .and_then(|phone| crate::time_zone::of_phone(&phone))
            })
            .or_else(|| self.time_zone.parse().ok())
            .unwrap_or(Tz::UTC)
    }

    /// When a send due `at` may go to a recipient in `zone`: `at` itself
    /// outside the quiet hours, else the moment they end there.
    pub fn next_allowed(&self, at: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
        let local = at.with_timezone(&zone).naive_local();
        let time = local.time();
        let quiet = if self.start < self.end {
            time >= self.start && time < self.end
        } else {
            time >= self.start || time < self.end
        };
        if !quiet {
            return at;
        }
        let mut end = local.date().and_time(self.end);
        if end <= local {
            end += chrono::Duration::days(1);
        }
        to_utc(&zone, end).unwrap_or(at).max(at)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn night() -> QuietHours {
        serde_json::from_value(
            json!({"start": "21:00", "end": "08:00", "time_zone": "Africa/Nairobi"}),
        )
        .unwrap()
    }

    #[test]
    fn a_send_in_the_recipients_night_waits_for_their_morning() {
        let quiet = night();
        // 19:30Z is 22:30 in Nairobi (UTC+3): wait until 08:00 there, 05:00Z.
        let nairobi = quiet.zone_of(None, Some("254712345678"));
        assert_eq!(nairobi, chrono_tz::Africa::Nairobi);
        assert_eq!(
            quiet.next_allowed(at("2026-12-01T19:30:00Z"), nairobi),
            at("2026-12-02T05:00:00Z")
        );
        // The same instant is 14:30 in New York: sent at once.
        let new_york = quiet.zone_of(Some("America/New_York"), Some("254712345678"));
        assert_eq!(
            quiet.next_allowed(at("2026-12-01T19:30:00Z"), new_york),
            at("2026-12-01T19:30:00Z")
        );
        // Early morning (06:00 local) waits the two hours left.
        assert_eq!(
            quiet.next_allowed(at("2026-12-02T03:00:00Z"), nairobi),
            at("2026-12-02T05:00:00Z")
        );
    }

    #[test]
    fn quiet_hours_within_one_day_and_the_account_zone_fallback() {
        let lunch: QuietHours =
            serde_json::from_value(json!({"start": "12:00", "end": "14:00", "time_zone": "UTC"}))
                .unwrap();
        let zone = lunch.zone_of(None, None);
        assert_eq!(zone, Tz::UTC);
        assert_eq!(
            lunch.next_allowed(at("2026-12-01T12:30:00Z"), zone),
            at("2026-12-01T14:00:00Z")
        );
        assert_eq!(
            lunch.next_allowed(at("2026-12-01T14:00:00Z"), zone),
            at("2026-12-01T14:00:00Z")
        );
    }

    #[test]
    fn bad_quiet_hours_are_refused() {
        assert!(
            serde_json::from_value::<QuietHours>(
                json!({"start": "25:00", "end": "08:00", "time_zone": "UTC"})
            )
            .is_err()
        );
        let same: QuietHours =
            serde_json::from_value(json!({"start": "08:00", "end": "08:00", "time_zone": "UTC"}))
                .unwrap();
        assert!(same.validate().is_err());
        let nowhere: QuietHours = serde_json::from_value(
            json!({"start": "21:00", "end": "08:00", "time_zone": "Nowhere"}),
        )
        .unwrap();
        assert!(nowhere.validate().is_err());
    }
}
