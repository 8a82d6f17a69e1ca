//! Audiences: the filters that pick leads, contacts or WhatsApp contacts, the
//! saved form of one (a segment), and what a campaign or a preview is sent to.
//! Filters are validated here; the SQL that evaluates them lives in
//! `persistence::audiences`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The most days `last_inbound_within_days` may name (ten years).
pub const MAX_INBOUND_DAYS: u16 = 3650;
/// The most groups one audience may name.
pub const MAX_AUDIENCE_GROUPS: usize = 100;
/// Longest label and text search accepted in a filter.
pub const MAX_LABEL_CHARS: usize = 64;
pub const MAX_SEARCH_CHARS: usize = 200;

/// Where a phone stands: its marketing consent (`subscribed`, `opted_out`, or
/// `unknown` when it never said), or `blocked` when the blocklist names it.
/// Blocked is independent of consent: a blocked phone also has a consent state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConsentFilter {
    Subscribed,
    OptedOut,
    Unknown,
    Blocked,
}

/// Picks leads; every field given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"status_id": "0193a5b0-7f1e-7c3a-9b1e-3f5d2c1a0b9e", "last_inbound_within_days": 30, "consent": "subscribed"})))]
#[serde(deny_unknown_fields)]
pub struct LeadFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_staff_id: Option<Uuid>,
    /// Created at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_after: Option<DateTime<Utc>>,
    /// Created strictly before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_before: Option<DateTime<Utc>>,
    /// The phone sent us a message in the last N days (any business number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 3650))]
    pub last_inbound_within_days: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentFilter>,
}

/// Picks contacts; every field given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"created_after": "2026-01-01T00:00:00Z", "consent": "unknown"})))]
#[serde(deny_unknown_fields)]
pub struct ContactFilter {
    /// Created at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_after: Option<DateTime<Utc>>,
    /// Created strictly before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_before: Option<DateTime<Utc>>,
    /// The phone sent us a message in the last N days (any business number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 3650))]
    pub last_inbound_within_days: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentFilter>,
}

/// Picks WhatsApp contacts; every field given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"label": "vip", "consent": "subscribed"})))]
#[serde(deny_unknown_fields)]
pub struct WhatsappContactFilter {
    /// Contacts carrying this label (exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 64, pattern = r"\S")
    )]
    pub label: Option<String>,
    /// Members of this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<Uuid>,
    /// Case-insensitive substring of the name or the phone digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 200, pattern = r"\S")
    )]
    pub q: Option<String>,
    /// Created at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_after: Option<DateTime<Utc>>,
    /// Created strictly before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_before: Option<DateTime<Utc>>,
    /// The phone sent us a message in the last N days (any business number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 3650))]
    pub last_inbound_within_days: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentFilter>,
}

/// The conditions every target has (each filter carries them as its own
/// fields, so the JSON stays flat and unknown fields are refused).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommonFilter {
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub last_inbound_within_days: Option<u16>,
    pub consent: Option<ConsentFilter>,
}

macro_rules! common_filter {
    ($($filter:ident),*) => {$(
        impl $filter {
            /// The conditions every target has.
            pub fn common(&self) -> CommonFilter {
                CommonFilter {
                    created_after: self.created_after,
                    created_before: self.created_before,
                    last_inbound_within_days: self.last_inbound_within_days,
                    consent: self.consent,
                }
            }
        }
    )*};
}
common_filter!(LeadFilter, ContactFilter, WhatsappContactFilter);

/// A filter field that does not hold, for the API's field errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterProblem {
    pub field: String,
    pub message: String,
}

impl FilterProblem {
    fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl CommonFilter {
    fn check(&self, problems: &mut Vec<FilterProblem>) {
        if let (Some(after), Some(before)) = (self.created_after, self.created_before)
            && after >= before
        {
            problems.push(FilterProblem::new(
                "created_before",
                "must be later than created_after",
            ));
        }
        if let Some(days) = self.last_inbound_within_days
            && !(1..=MAX_INBOUND_DAYS).contains(&days)
        {
            problems.push(FilterProblem::new(
                "last_inbound_within_days",
                format!("must be between 1 and {MAX_INBOUND_DAYS}"),
            ));
        }
    }
}

/// Trimmed, non-empty and at most `max` characters.
fn check_text(field: &str, value: &str, max: usize, problems: &mut Vec<FilterProblem>) {
    let value = value.trim();
    if value.is_empty() {
        problems.push(FilterProblem::new(field, "must not be empty"));
    } else if value.chars().count() > max {
        problems.push(FilterProblem::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
}

impl LeadFilter {
    pub fn validate(&self) -> Result<(), Vec<FilterProblem>> {
        let mut problems = Vec::new();
        self.common().check(&mut problems);
        finish(problems)
    }
}

impl ContactFilter {
    pub fn validate(&self) -> Result<(), Vec<FilterProblem>> {
        let mut problems = Vec::new();
        self.common().check(&mut problems);
        finish(problems)
    }
}

impl WhatsappContactFilter {
    pub fn validate(&self) -> Result<(), Vec<FilterProblem>> {
        let mut problems = Vec::new();
        if let Some(label) = &self.label {
            check_text("label", label, MAX_LABEL_CHARS, &mut problems);
        }
        if let Some(q) = &self.q {
            check_text("q", q, MAX_SEARCH_CHARS, &mut problems);
        }
        self.common().check(&mut problems);
        finish(problems)
    }

    /// The same filter without its consent condition: what per-state counts
    /// are taken over.
    pub fn without_consent(&self) -> Self {
        let mut filter = self.clone();
        filter.consent = None;
        filter
    }
}

fn finish(problems: Vec<FilterProblem>) -> Result<(), Vec<FilterProblem>> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// What a segment is over, as its `target` column names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SegmentTarget {
    Leads,
    Contacts,
    WhatsappContacts,
}

impl SegmentTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Leads => "leads",
            Self::Contacts => "contacts",
            Self::WhatsappContacts => "whatsapp_contacts",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Leads, Self::Contacts, Self::WhatsappContacts]
            .into_iter()
            .find(|target| target.as_str() == name)
    }
}

/// A segment's definition: its target and the filter over it. Serialised as
/// the bare filter (the target is a column, and a field, of its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum SegmentFilter {
    Leads(LeadFilter),
    Contacts(ContactFilter),
    WhatsappContacts(WhatsappContactFilter),
}

/// A stored segment that no longer reads as its target's filter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored segment filter for `{target}` cannot be read: {reason}")]
pub struct StoredFilterError {
    pub target: String,
    pub reason: String,
}

impl SegmentFilter {
    pub fn target(&self) -> SegmentTarget {
        match self {
            Self::Leads(_) => SegmentTarget::Leads,
            Self::Contacts(_) => SegmentTarget::Contacts,
            Self::WhatsappContacts(_) => SegmentTarget::WhatsappContacts,
        }
    }

    pub fn validate(&self) -> Result<(), Vec<FilterProblem>> {
        match self {
            Self::Leads(filter) => filter.validate(),
            Self::Contacts(filter) => filter.validate(),
            Self::WhatsappContacts(filter) => filter.validate(),
        }
    }

    /// The filter as the `filter` column keeps it.
    pub fn to_json(&self) -> serde_json::Value {
        // Plain structs of options, uuids and times always serialise.
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Reads the `target` and `filter` columns back.
    pub fn from_stored(target: &str, filter: serde_json::Value) -> Result<Self, StoredFilterError> {
        let error = |reason: String| StoredFilterError {
            target: target.to_owned(),
            reason,
        };
        let target_kind =
            SegmentTarget::parse(target).ok_or_else(|| error("unknown target".into()))?;
        let read = match target_kind {
            SegmentTarget::Leads => serde_json::from_value(filter).map(Self::Leads),
            SegmentTarget::Contacts => serde_json::from_value(filter).map(Self::Contacts),
            SegmentTarget::WhatsappContacts => {
                serde_json::from_value(filter).map(Self::WhatsappContacts)
            }
        };
        read.map_err(|e| error(e.to_string()))
    }

    /// The audience the segment stands for.
    pub fn into_audience(self) -> Audience {
        match self {
            Self::Leads(filter) => Audience::Leads(filter),
            Self::Contacts(filter) => Audience::Contacts(filter),
            Self::WhatsappContacts(filter) => Audience::WhatsappContacts(filter),
        }
    }
}

/// Reads a filter only from a JSON object. serde's derived structs also accept
/// a sequence of their fields in order, so `[null, null]` would be an empty
/// filter, one that matches everyone: for a filter that adds group members or
/// picks campaign recipients, that must be a 422, not everyone.
pub fn object<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::de::Error as _;
    let value = serde_json::Value::deserialize(deserializer)?;
    if !value.is_object() {
        return Err(D::Error::custom("a filter must be a JSON object"));
    }
    T::deserialize(value).map_err(D::Error::custom)
}

/// Who a campaign or a preview is for: exactly one of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"whatsapp_groups": ["0193a5b0-7f1e-7c3a-9b1e-3f5d2c1a0b9e"]})))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Audience {
    #[serde(deserialize_with = "object")]
    Leads(LeadFilter),
    #[serde(deserialize_with = "object")]
    Contacts(ContactFilter),
    #[serde(deserialize_with = "object")]
    WhatsappContacts(WhatsappContactFilter),
    /// The members of these groups (1 to 100).
    WhatsappGroups(Vec<Uuid>),
    /// A saved segment, evaluated now.
    SegmentId(Uuid),
}

impl Audience {
    pub fn validate(&self) -> Result<(), Vec<FilterProblem>> {
        match self {
            Self::Leads(filter) => filter.validate(),
            Self::Contacts(filter) => filter.validate(),
            Self::WhatsappContacts(filter) => filter.validate(),
            Self::WhatsappGroups(ids) if ids.is_empty() || ids.len() > MAX_AUDIENCE_GROUPS => {
                Err(vec![FilterProblem::new(
                    "whatsapp_groups",
                    format!("must name 1 to {MAX_AUDIENCE_GROUPS} groups"),
                )])
            }
            Self::WhatsappGroups(_) | Self::SegmentId(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_filter_is_only_ever_an_object() {
        let audience = |value| serde_json::from_value::<Audience>(value);
        assert!(audience(json!({"whatsapp_contacts": [null, null]})).is_err());
        assert!(audience(json!({"leads": []})).is_err());
        assert_eq!(
            audience(json!({"contacts": {}})).ok(),
            Some(Audience::Contacts(ContactFilter::default()))
        );
    }

    #[test]
    fn unknown_filter_fields_are_refused() {
        // `label` is a WhatsApp contact field, not a lead's.
        assert!(serde_json::from_value::<LeadFilter>(json!({"label": "vip"})).is_err());
        assert!(
            serde_json::from_value::<ContactFilter>(json!({"status_id": Uuid::nil()})).is_err()
        );
        assert!(
            serde_json::from_value::<WhatsappContactFilter>(
                json!({"assigned_staff_id": Uuid::nil()})
            )
            .is_err()
        );
        let lead: LeadFilter = serde_json::from_value(
            json!({"status_id": Uuid::nil(), "last_inbound_within_days": 7}),
        )
        .unwrap();
        assert_eq!(lead.status_id, Some(Uuid::nil()));
        assert_eq!(lead.last_inbound_within_days, Some(7));
    }

    #[test]
    fn an_audience_is_exactly_one_kind() {
        let groups: Audience =
            serde_json::from_value(json!({"whatsapp_groups": [Uuid::nil()]})).unwrap();
        assert_eq!(groups, Audience::WhatsappGroups(vec![Uuid::nil()]));
        for bad in [
            json!({}),
            json!({"leads": {}, "contacts": {}}),
            json!({"everyone": true}),
            json!({"segment_id": "not-a-uuid"}),
        ] {
            assert!(
                serde_json::from_value::<Audience>(bad.clone()).is_err(),
                "{bad}"
            );
        }
        assert!(Audience::WhatsappGroups(vec![]).validate().is_err());
        assert!(
            Audience::WhatsappGroups(vec![Uuid::nil(); MAX_AUDIENCE_GROUPS + 1])
                .validate()
                .is_err()
        );
    }

    #[test]
    fn ranges_and_texts_are_checked() {
        let reversed = LeadFilter {
            created_after: Some("2026-02-01T00:00:00Z".parse().unwrap()),
            created_before: Some("2026-01-01T00:00:00Z".parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(reversed.validate().unwrap_err()[0].field, "created_before");
        let zero_days = ContactFilter {
            last_inbound_within_days: Some(0),
            ..Default::default()
        };
        assert_eq!(
            zero_days.validate().unwrap_err()[0].field,
            "last_inbound_within_days"
        );
        let blank = WhatsappContactFilter {
            label: Some("  ".into()),
            q: Some("x".repeat(MAX_SEARCH_CHARS + 1)),
            ..Default::default()
        };
        let fields: Vec<_> = blank
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, ["label", "q"]);
        assert!(WhatsappContactFilter::default().validate().is_ok());
    }

    #[test]
    fn a_segment_filter_round_trips_through_its_columns() {
        let filter = SegmentFilter::WhatsappContacts(WhatsappContactFilter {
            label: Some("vip".into()),
            consent: Some(ConsentFilter::OptedOut),
            ..Default::default()
        });
        let stored = filter.to_json();
        assert_eq!(stored, json!({"label": "vip", "consent": "opted_out"}));
        assert_eq!(
            SegmentFilter::from_stored(filter.target().as_str(), stored).unwrap(),
            filter
        );
        assert!(SegmentFilter::from_stored("leads", json!({"label": "vip"})).is_err());
        assert!(SegmentFilter::from_stored("staff", json!({})).is_err());
    }
}
