//! A phone's marketing consent: `subscribed` or `opted_out`, and how a reported
//! preference moves it. The full consent rules (stop words, what each state allows)
//! build on these names.

use serde::{Deserialize, Serialize};

use crate::inbound::MarketingPreference;

/// Where a phone stands on marketing messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketingState {
    Subscribed,
    OptedOut,
}

impl MarketingState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subscribed => "subscribed",
            Self::OptedOut => "opted_out",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Subscribed, Self::OptedOut]
            .into_iter()
            .find(|state| state.as_str() == name)
    }

    /// The state a customer's own choice puts them in.
    pub fn after(preference: MarketingPreference) -> Self {
        match preference {
            MarketingPreference::Stop => Self::OptedOut,
            MarketingPreference::Resume => Self::Subscribed,
        }
    }
}

/// Who reported a change: the `source` kept with it.
pub mod source {
    /// Meta's `user_preferences` webhook (the customer's "Offers and announcements"
    /// setting in WhatsApp).
    pub const META_USER_PREFERENCES: &str = "meta:user_preferences";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_opts_out_and_a_resume_subscribes() {
        assert_eq!(
            MarketingState::after(MarketingPreference::Stop),
            MarketingState::OptedOut
        );
        assert_eq!(
            MarketingState::after(MarketingPreference::Resume),
            MarketingState::Subscribed
        );
    }

    #[test]
    fn names_round_trip() {
        for state in [MarketingState::Subscribed, MarketingState::OptedOut] {
            assert_eq!(MarketingState::parse(state.as_str()), Some(state));
        }
        assert_eq!(MarketingState::parse("unknown"), None);
    }
}
