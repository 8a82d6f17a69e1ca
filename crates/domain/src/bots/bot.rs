//! A bot as an admin configures it (seed 001, Bots → New Bot): when it fires,
//! what it answers, where and in which order, and how it is checked on save.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::response::Response;
use super::trigger::Trigger;
use crate::outbound::FieldErrors;

const MAX_NAME: usize = 100;
/// A week: a longer silence is better expressed by turning the bot off.
pub const MAX_COOLDOWN_MINUTES: u32 = 7 * 24 * 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bot {
    pub id: Uuid,
    pub name: String,
    #[serde(default = "active")]
    pub is_active: bool,
    /// Higher first; bots of equal priority in id order.
    #[serde(default)]
    pub priority: i32,
    /// The business numbers the bot answers on; empty for all of them.
    #[serde(default)]
    pub number_ids: Vec<Uuid>,
    pub trigger: Trigger,
    pub response: Response,
    /// Let lower-priority bots answer the same event too.
    #[serde(default, rename = "continue", alias = "continue_after")]
    pub continue_after: bool,
    /// After replying in a conversation, stay silent there for this long
    /// (0: never), so that e.g. an "we are closed" bot answers once a night
    /// rather than every message.
    #[serde(default)]
    pub cooldown_minutes: u32,
}

fn active() -> bool {
    true
}

impl Bot {
    /// Whether the bot takes part on the business number `number_id`.
    pub fn serves(&self, number_id: Uuid) -> bool {
        self.is_active && (self.number_ids.is_empty() || self.number_ids.contains(&number_id))
    }

    /// Every way the bot cannot work, by field path (`trigger.values[0]`,
    /// `response.items[1].title`…), for the API to return all at once.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        let length = self.name.chars().count();
        if self.name.trim().is_empty() || length > MAX_NAME {
            errors.push(("name".into(), format!("must be 1 to {MAX_NAME} characters")));
        }
        if self.cooldown_minutes > MAX_COOLDOWN_MINUTES {
            errors.push((
                "cooldown_minutes".into(),
                format!("must be at most {MAX_COOLDOWN_MINUTES}"),
            ));
        }
        let nested = |prefix: &str, result: Result<(), FieldErrors>| {
            result
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(move |(field, message)| (format!("{prefix}.{field}"), message))
                .collect::<Vec<_>>()
        };
        errors.extend(nested("trigger", self.trigger.validate()));
        errors.extend(nested("response", self.response.validate()));
        // A person is coming; a menu, a flow or a rating question would capture
        // the customer's next messages the person should read.
        if matches!(self.trigger, Trigger::HumanRequest { .. }) && self.response.is_dialogue() {
            errors.push((
                "response.type".into(),
                "a human request pauses the bots, so it answers with a message, not a menu, flow or rating".into(),
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn bot(value: serde_json::Value) -> Bot {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_bot_reads_from_json_with_defaults() {
        let bot = bot(json!({
            "id": Uuid::nil(),
            "name": "Prices",
            "trigger": {"type": "keyword", "keywords": ["price"]},
            "response": {"type": "text", "text": "From $10"},
            "continue": true
        }));
        assert!(bot.is_active);
        assert_eq!(bot.priority, 0);
        assert!(bot.continue_after);
        assert!(
            bot.serves(Uuid::from_u128(9)),
            "no numbers means all numbers"
        );
        assert_eq!(bot.validate(), Ok(()));
    }

    #[test]
    fn inactive_bots_and_other_numbers_are_not_served() {
        let number = Uuid::from_u128(1);
        let mut bot = bot(json!({
            "id": Uuid::nil(), "name": "B", "number_ids": [number],
            "trigger": {"type": "first_message"}, "response": {"type": "text", "text": "Hi"}
        }));
        assert!(bot.serves(number));
        assert!(!bot.serves(Uuid::from_u128(2)));
        bot.is_active = false;
        assert!(!bot.serves(number));
    }

    #[test]
    fn validation_prefixes_nested_fields() {
        let broken = bot(json!({
            "id": Uuid::nil(), "name": " ",
            "trigger": {"type": "exact", "values": ["!!"]},
            "response": {"type": "menu", "body": "Pick", "items": [{"title": "A"}]},
            "cooldown_minutes": 100000
        }));
        let fields: Vec<String> = broken
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|(field, _)| field)
            .collect();
        assert_eq!(
            fields,
            [
                "name",
                "cooldown_minutes",
                "trigger.values[0]",
                "response.items[0].reply"
            ]
        );
    }

    #[test]
    fn a_human_request_cannot_open_a_menu() {
        let broken = bot(json!({
            "id": Uuid::nil(), "name": "Agent",
            "trigger": {"type": "human_request"},
            "response": {"type": "rating"}
        }));
        assert_eq!(broken.validate().unwrap_err()[0].0, "response.type");
    }
}
