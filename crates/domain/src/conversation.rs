//! A conversation's workflow status and how inbound messages move it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    Open,
    Pending,
    Resolved,
    Snoozed,
}

impl ConversationStatus {
    pub const ALL: [Self; 4] = [Self::Open, Self::Pending, Self::Resolved, Self::Snoozed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Pending => "pending",
            Self::Resolved => "resolved",
            Self::Snoozed => "snoozed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }

    /// A customer writing again reopens a resolved or snoozed conversation;
    /// an open or pending one stays as the agents left it.
    pub fn after_inbound(self) -> Self {
        match self {
            Self::Resolved | Self::Snoozed => Self::Open,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ConversationStatus::*;

    #[test]
    fn inbound_messages_reopen_resolved_and_snoozed_conversations() {
        assert_eq!(Resolved.after_inbound(), Open);
        assert_eq!(Snoozed.after_inbound(), Open);
        assert_eq!(Pending.after_inbound(), Pending);
        assert_eq!(Open.after_inbound(), Open);
    }
}
