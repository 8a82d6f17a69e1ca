//! The WhatsApp providers wacrm connects to.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Meta's WhatsApp Cloud API (Graph API).
    Meta,
    Lipachat,
    Whats91,
    /// Tata Tele Business Services' WhatsApp API.
    Tata,
}

impl Provider {
    pub const ALL: [Self; 4] = [Self::Meta, Self::Lipachat, Self::Whats91, Self::Tata];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Meta => "meta",
            Self::Lipachat => "lipachat",
            Self::Whats91 => "whats91",
            Self::Tata => "tata",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|provider| provider.as_str() == name)
    }

    /// Lipachat and TATA do not sign webhooks: a secret in the URL stands in.
    pub fn signs_webhooks(self) -> bool {
        matches!(self, Self::Meta | Self::Whats91)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
