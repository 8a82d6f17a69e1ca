//! How a phone's marketing consent and blocklist entry appear in responses
//! (WhatsApp contacts, conversations, audience samples).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use wacrm_persistence::phone_consent::PhoneConsent;

/// A phone's marketing state: `unknown` until the customer (or staff, or the
/// provider) said otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    Subscribed,
    OptedOut,
    Unknown,
}

impl ConsentState {
    pub fn parse(state: Option<&str>) -> Self {
        match state {
            Some("subscribed") => Self::Subscribed,
            Some("opted_out") => Self::OptedOut,
            _ => Self::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subscribed => "subscribed",
            Self::OptedOut => "opted_out",
            Self::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"state": "opted_out", "reason": "the customer wrote \"STOP\"", "source": "customer:keyword", "changed_at": "2026-11-30T09:00:00Z"}))]
pub struct ConsentSummary {
    pub state: ConsentState,
    /// Why it changed (e.g. the stop word), when recorded.
    pub reason: Option<String>,
    /// Who reported it (e.g. `meta:user_preferences`, `staff`).
    pub source: Option<String>,
    pub changed_at: Option<DateTime<Utc>>,
}

impl ConsentSummary {
    /// A phone with no recorded state.
    pub fn unknown() -> Self {
        Self {
            state: ConsentState::Unknown,
            reason: None,
            source: None,
            changed_at: None,
        }
    }
}

impl From<&PhoneConsent> for ConsentSummary {
    fn from(row: &PhoneConsent) -> Self {
        Self {
            state: ConsentState::parse(row.consent_state.as_deref()),
            reason: row.consent_reason.clone(),
            source: row.consent_source.clone(),
            changed_at: row.consent_changed_at,
        }
    }
}
