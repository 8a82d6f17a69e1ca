//! What the engine knows about a conversation (the worker reads it from the
//! database) and the part of it the engine owns, `BotMemory`, which the worker
//! stores back as it comes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::flow::FlowState;
use super::menu::MenuState;
use super::rating::RatingState;
use crate::conversation::ConversationStatus;
use crate::matching::RelType;
use crate::session;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationState {
    pub rel_type: RelType,
    pub status: ConversationStatus,
    /// Values for `{{placeholders}}`, by lowercase name: `name`, `first_name`,
    /// `phone`, `agent`… `first_name` defaults to the first word of `name`.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// Inbound messages before the one being handled; 0 means it is the first ever.
    #[serde(default)]
    pub inbound_count_before: u64,
    /// The 24-hour window's end before the event (`session::expiry_after_inbound`).
    #[serde(default)]
    pub session_expires_at: Option<DateTime<Utc>>,
    /// The customer's latest message before the event.
    #[serde(default)]
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// The first customer message no staff member has answered since; `None`
    /// once staff replied. Bot replies do not count as answers.
    #[serde(default)]
    pub unanswered_since: Option<DateTime<Utc>>,
    #[serde(default)]
    pub memory: BotMemory,
}

/// The bots' own memory of a conversation, stored whole (one JSON column).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotMemory {
    /// A human request or a staff reply silenced the bots until the
    /// conversation is resolved.
    #[serde(default)]
    pub paused: bool,
    /// The menu, flow or rating question the next reply answers; one at a time,
    /// since one reply cannot answer two of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialogue: Option<Dialogue>,
    /// When each bot with a cooldown last replied here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub last_replied: BTreeMap<Uuid, DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Dialogue {
    Menu(MenuState),
    Flow(FlowState),
    Rating(RatingState),
}

impl Dialogue {
    pub fn bot_id(&self) -> Uuid {
        match self {
            Self::Menu(state) => state.bot_id,
            Self::Flow(state) => state.bot_id,
            Self::Rating(state) => state.bot_id,
        }
    }
}

impl ConversationState {
    /// A conversation nobody has written in yet.
    pub fn new(rel_type: RelType) -> Self {
        Self {
            rel_type,
            status: ConversationStatus::Open,
            variables: BTreeMap::new(),
            inbound_count_before: 0,
            session_expires_at: None,
            last_inbound_at: None,
            unanswered_since: None,
            memory: BotMemory::default(),
        }
    }

    /// A placeholder's value; `first_name` falls back to the first word of `name`.
    pub fn variable(&self, name: &str) -> Option<String> {
        let known = |name: &str| {
            self.variables
                .get(name)
                .filter(|value| !value.trim().is_empty())
                .cloned()
        };
        known(name).or_else(|| match name {
            "first_name" => {
                known("name").and_then(|full| full.split_whitespace().next().map(str::to_owned))
            }
            _ => None,
        })
    }

    /// The conversation as it is once the inbound message sent `at` is counted.
    pub fn after_inbound(&self, at: DateTime<Utc>) -> Self {
        Self {
            status: self.status.after_inbound(),
            inbound_count_before: self.inbound_count_before.saturating_add(1),
            session_expires_at: Some(session::expiry_after_inbound(self.session_expires_at, at)),
            last_inbound_at: Some(self.last_inbound_at.map_or(at, |last| last.max(at))),
            unanswered_since: Some(self.unanswered_since.map_or(at, |since| since.min(at))),
            ..self.clone()
        }
    }

    /// The conversation as it is once a staff member has replied.
    pub fn after_staff_reply(&self) -> Self {
        Self {
            unanswered_since: None,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use serde_json::json;

    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 27, hour, 0, 0).unwrap()
    }

    #[test]
    fn first_name_falls_back_to_the_first_word_of_the_name() {
        let mut state = ConversationState::new(RelType::Lead);
        state.variables.insert("name".into(), "Ana Souza".into());
        assert_eq!(state.variable("first_name").as_deref(), Some("Ana"));
        state.variables.insert("first_name".into(), "Aninha".into());
        assert_eq!(state.variable("first_name").as_deref(), Some("Aninha"));
        assert_eq!(state.variable("agent"), None);
    }

    #[test]
    fn an_inbound_message_opens_the_window_and_starts_waiting_for_staff() {
        let state = ConversationState {
            status: ConversationStatus::Resolved,
            ..ConversationState::new(RelType::Contact)
        };
        let after = state.after_inbound(at(9));
        assert_eq!(after.status, ConversationStatus::Open);
        assert_eq!(after.inbound_count_before, 1);
        assert_eq!(after.session_expires_at, Some(at(9) + Duration::hours(24)));
        assert_eq!(after.unanswered_since, Some(at(9)));
        // A second message keeps the first unanswered one.
        let again = after.after_inbound(at(10));
        assert_eq!(again.unanswered_since, Some(at(9)));
        assert_eq!(again.last_inbound_at, Some(at(10)));
        assert_eq!(again.after_staff_reply().unanswered_since, None);
    }

    #[test]
    fn memory_is_stored_as_compact_json() {
        assert_eq!(
            serde_json::to_value(BotMemory::default()).unwrap(),
            json!({"paused": false})
        );
        let memory = BotMemory {
            dialogue: Some(Dialogue::Menu(MenuState::top(Uuid::nil()))),
            ..BotMemory::default()
        };
        let stored = serde_json::to_value(&memory).unwrap();
        assert_eq!(stored["dialogue"]["type"], "menu");
        assert_eq!(serde_json::from_value::<BotMemory>(stored).unwrap(), memory);
        assert_eq!(
            serde_json::from_value::<BotMemory>(json!({})).unwrap(),
            BotMemory::default()
        );
    }
}
