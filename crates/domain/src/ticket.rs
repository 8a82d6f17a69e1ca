//! A support ticket's workflow status and priority.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// A new ticket waits for someone to work on it.
    #[default]
    Open,
    Pending,
    Resolved,
    Closed,
}

impl TicketStatus {
    pub const ALL: [Self; 4] = [Self::Open, Self::Pending, Self::Resolved, Self::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Pending => "pending",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum TicketPriority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl TicketPriority {
    /// In rising order of urgency.
    pub const ALL: [Self; 4] = [Self::Low, Self::Normal, Self::High, Self::Urgent];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|priority| priority.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_and_priority_parses_back_to_itself() {
        for status in TicketStatus::ALL {
            assert_eq!(TicketStatus::parse(status.as_str()), Some(status));
        }
        for priority in TicketPriority::ALL {
            assert_eq!(TicketPriority::parse(priority.as_str()), Some(priority));
        }
    }

    #[test]
    fn unknown_names_and_other_spellings_are_rejected() {
        assert_eq!(TicketStatus::parse("snoozed"), None);
        assert_eq!(TicketStatus::parse("Open"), None);
        assert_eq!(TicketPriority::parse("critical"), None);
    }

    #[test]
    fn new_tickets_are_open_and_of_normal_priority() {
        assert_eq!(TicketStatus::default(), TicketStatus::Open);
        assert_eq!(TicketPriority::default(), TicketPriority::Normal);
        assert!(TicketPriority::Urgent > TicketPriority::High);
    }
}
