//! What makes a bot fire: seed 001's thirteen triggers (`reply_type`), how each
//! reads an inbound message, and which of them wait for time to pass.
//!
//! Message triggers read the customer's message (see `text` for how words are
//! compared):
//! - `exact` (1): the whole message is one of `values`;
//! - `contains` (2): one of `values` appears anywhere, even inside a word;
//! - `first_message` (3): the conversation's first inbound message ever;
//! - `keyword` (4): one of `keywords` or `synonyms` appears as whole words;
//! - `business_hours` (5) / `outside_business_hours` (6): the message was sent
//!   while the business was open / closed (the settings' schedule);
//! - `first_message_in_session` (7): the 24-hour window was closed when it came;
//! - `human_request` (9): the customer asks for a person (`phrases`, with a
//!   default list in English, Portuguese and Spanish);
//! - `synonym` (10): every group is mentioned by one of its words, so
//!   `[["price", "cost"], ["delivery", "shipping"]]` fires on "what does shipping
//!   cost?" but not on "what does it cost?". One group is "any of these words".
//!
//! Timed triggers fire on a timer `timers` schedules (`idle` (8),
//! `timeout_reminder` (11), `no_staff_response` (12)); `closed_rating` (13) fires
//! when the conversation is resolved.

use serde::{Deserialize, Serialize};

use crate::outbound::FieldErrors;
use crate::text::Said;

/// The longest wait a timed trigger may ask for: a week.
pub const MAX_MINUTES: u32 = 7 * 24 * 60;
/// A reminder must come before the 24-hour window it reminds of closes.
pub const MAX_REMINDER_MINUTES: u32 = 24 * 60 - 1;
const MAX_VALUE: usize = 256;
const MAX_VALUES: usize = 100;

pub const DEFAULT_HUMAN_PHRASES: [&str; 16] = [
    "human",
    "agent",
    "real person",
    "talk to someone",
    "operator",
    "representative",
    "humano",
    "atendente",
    "atendimento humano",
    "falar com alguem",
    "pessoa real",
    "operador",
    "agente",
    "asesor",
    "hablar con alguien",
    "persona real",
];

fn default_human_phrases() -> Vec<String> {
    DEFAULT_HUMAN_PHRASES
        .iter()
        .map(|phrase| (*phrase).to_owned())
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    Exact {
        #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 100))]
        values: Vec<String>,
    },
    Contains {
        #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 100))]
        values: Vec<String>,
    },
    FirstMessage,
    Keyword {
        #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 100))]
        keywords: Vec<String>,
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(max_items = 100))]
        synonyms: Vec<String>,
    },
    BusinessHours,
    OutsideBusinessHours,
    FirstMessageInSession,
    /// The customer has written nothing for `minutes` after their last message.
    Idle {
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10080))]
        minutes: u32,
    },
    HumanRequest {
        #[serde(default = "default_human_phrases")]
        #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 100))]
        phrases: Vec<String>,
    },
    Synonym {
        #[cfg_attr(feature = "openapi", schema(min_items = 1, value_type = Vec<WordGroup>))]
        groups: Vec<Vec<String>>,
    },
    /// `minutes` before the customer's 24-hour window closes, if they have not
    /// written since it opened.
    TimeoutReminder {
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1439))]
        minutes: u32,
    },
    /// `minutes` after the first customer message no staff member has answered.
    NoStaffResponse {
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10080))]
        minutes: u32,
    },
    ClosedRating,
}

/// One group of a `synonym` trigger: 1 to 100 words (the document's shape only).
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(min_items = 1, max_items = 100)]
#[allow(dead_code)]
pub struct WordGroup(Vec<String>);

/// What a message trigger may ask about the inbound message besides its words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// No inbound message came before this one in the conversation.
    pub first_ever: bool,
    /// The 24-hour window was closed when this message was sent.
    pub first_in_session: bool,
    /// The business was open when this message was sent.
    pub within_hours: bool,
}

impl Trigger {
    /// Seed 001's number for the trigger.
    pub fn reply_type(&self) -> u8 {
        match self {
            Self::Exact { .. } => 1,
            Self::Contains { .. } => 2,
            Self::FirstMessage => 3,
            Self::Keyword { .. } => 4,
            Self::BusinessHours => 5,
            Self::OutsideBusinessHours => 6,
            Self::FirstMessageInSession => 7,
            Self::Idle { .. } => 8,
            Self::HumanRequest { .. } => 9,
            Self::Synonym { .. } => 10,
            Self::TimeoutReminder { .. } => 11,
            Self::NoStaffResponse { .. } => 12,
            Self::ClosedRating => 13,
        }
    }

    /// Fires on a scheduled timer rather than on a message.
    pub fn is_timed(&self) -> bool {
        self.minutes().is_some()
    }

    /// The wait of a timed trigger.
    pub fn minutes(&self) -> Option<u32> {
        match self {
            Self::Idle { minutes }
            | Self::TimeoutReminder { minutes }
            | Self::NoStaffResponse { minutes } => Some(*minutes),
            _ => None,
        }
    }

    /// Whether the trigger fires on an inbound message. Timed triggers and
    /// `closed_rating` never do.
    pub fn matches(&self, said: &Said, facts: Facts) -> bool {
        match self {
            Self::Exact { values } => values.iter().any(|value| said.is(value)),
            Self::Contains { values } => values.iter().any(|value| said.contains(value)),
            Self::FirstMessage => facts.first_ever,
            Self::Keyword { keywords, synonyms } => keywords
                .iter()
                .chain(synonyms)
                .any(|word| said.mentions(word)),
            Self::BusinessHours => facts.within_hours,
            Self::OutsideBusinessHours => !facts.within_hours,
            Self::FirstMessageInSession => facts.first_in_session,
            Self::HumanRequest { phrases } => phrases.iter().any(|phrase| said.mentions(phrase)),
            Self::Synonym { groups } => {
                !groups.is_empty()
                    && groups
                        .iter()
                        .all(|group| group.iter().any(|word| said.mentions(word)))
            }
            Self::Idle { .. }
            | Self::TimeoutReminder { .. }
            | Self::NoStaffResponse { .. }
            | Self::ClosedRating => false,
        }
    }

    /// Every way the trigger's settings are unusable, by field path.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        match self {
            Self::Exact { values } | Self::Contains { values } => {
                words(&mut errors, "values", values, true);
            }
            Self::Keyword { keywords, synonyms } => {
                words(&mut errors, "keywords", keywords, true);
                words(&mut errors, "synonyms", synonyms, false);
            }
            Self::HumanRequest { phrases } => words(&mut errors, "phrases", phrases, true),
            Self::Synonym { groups } => {
                if groups.is_empty() {
                    errors.push(("groups".into(), "must hold at least one group".into()));
                }
                for (index, group) in groups.iter().enumerate() {
                    words(&mut errors, &format!("groups[{index}]"), group, true);
                }
            }
            Self::Idle { minutes } | Self::NoStaffResponse { minutes } => {
                range(&mut errors, *minutes, MAX_MINUTES);
            }
            Self::TimeoutReminder { minutes } => {
                range(&mut errors, *minutes, MAX_REMINDER_MINUTES);
            }
            Self::FirstMessage
            | Self::BusinessHours
            | Self::OutsideBusinessHours
            | Self::FirstMessageInSession
            | Self::ClosedRating => {}
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn words(errors: &mut FieldErrors, field: &str, values: &[String], required: bool) {
    if required && values.is_empty() {
        errors.push((field.to_owned(), "must hold at least one value".into()));
    }
    if values.len() > MAX_VALUES {
        errors.push((
            field.to_owned(),
            format!("must hold at most {MAX_VALUES} values"),
        ));
    }
    for (index, value) in values.iter().enumerate() {
        if Said::new(value).is_empty() {
            errors.push((
                format!("{field}[{index}]"),
                "must hold a word, not only spaces or punctuation".into(),
            ));
        } else if value.chars().count() > MAX_VALUE {
            errors.push((
                format!("{field}[{index}]"),
                format!("must be at most {MAX_VALUE} characters"),
            ));
        }
    }
}

fn range(errors: &mut FieldErrors, minutes: u32, max: u32) {
    if !(1..=max).contains(&minutes) {
        errors.push(("minutes".into(), format!("must be 1 to {max} minutes")));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const PLAIN: Facts = Facts {
        first_ever: false,
        first_in_session: false,
        within_hours: true,
    };

    fn fires(trigger: &Trigger, message: &str) -> bool {
        trigger.matches(&Said::new(message), PLAIN)
    }

    fn values(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| (*value).to_owned()).collect()
    }

    #[test]
    fn the_json_shape_names_each_trigger_by_type() {
        let trigger: Trigger =
            serde_json::from_value(json!({"type": "keyword", "keywords": ["preço"]})).unwrap();
        assert_eq!(
            trigger,
            Trigger::Keyword {
                keywords: values(&["preço"]),
                synonyms: vec![]
            }
        );
        let human: Trigger = serde_json::from_value(json!({"type": "human_request"})).unwrap();
        assert!(fires(&human, "I want to talk to a HUMAN please"));
        assert_eq!(
            serde_json::to_value(Trigger::Idle { minutes: 30 }).unwrap(),
            json!({"type": "idle", "minutes": 30})
        );
    }

    #[test]
    fn reply_types_are_seed_001s_numbers() {
        let all = [
            Trigger::Exact { values: vec![] },
            Trigger::Contains { values: vec![] },
            Trigger::FirstMessage,
            Trigger::Keyword {
                keywords: vec![],
                synonyms: vec![],
            },
            Trigger::BusinessHours,
            Trigger::OutsideBusinessHours,
            Trigger::FirstMessageInSession,
            Trigger::Idle { minutes: 1 },
            Trigger::HumanRequest { phrases: vec![] },
            Trigger::Synonym { groups: vec![] },
            Trigger::TimeoutReminder { minutes: 1 },
            Trigger::NoStaffResponse { minutes: 1 },
            Trigger::ClosedRating,
        ];
        let numbers: Vec<u8> = all.iter().map(Trigger::reply_type).collect();
        assert_eq!(numbers, (1..=13).collect::<Vec<u8>>());
        let timed: Vec<u8> = all
            .iter()
            .filter(|t| t.is_timed())
            .map(Trigger::reply_type)
            .collect();
        assert_eq!(timed, [8, 11, 12]);
    }

    #[test]
    fn exact_needs_the_whole_message() {
        let trigger = Trigger::Exact {
            values: values(&["Bom dia", "oi"]),
        };
        assert!(fires(&trigger, "BOM DIA!!"));
        assert!(fires(&trigger, "Oi."));
        assert!(!fires(&trigger, "oi, tudo bem?"));
    }

    #[test]
    fn contains_finds_the_value_even_inside_a_word() {
        let trigger = Trigger::Contains {
            values: values(&["reembolso"]),
        };
        assert!(fires(&trigger, "Quero meus REEMBOLSOS"));
        assert!(!fires(&trigger, "Quero meu dinheiro"));
    }

    #[test]
    fn keyword_needs_whole_words_from_keywords_or_synonyms() {
        let trigger = Trigger::Keyword {
            keywords: values(&["preço"]),
            synonyms: values(&["valor", "quanto custa"]),
        };
        assert!(fires(&trigger, "Qual o PRECO?"));
        assert!(fires(&trigger, "quanto custa isso"));
        assert!(fires(&trigger, "e o valor?"));
        assert!(!fires(&trigger, "valores"), "a different word");
        assert!(!fires(&trigger, "custa quanto"));
    }

    #[test]
    fn synonym_needs_every_group() {
        let trigger = Trigger::Synonym {
            groups: vec![
                values(&["price", "cost", "how much"]),
                values(&["delivery", "shipping"]),
            ],
        };
        assert!(fires(&trigger, "What does shipping cost?"));
        assert!(fires(&trigger, "how much is delivery"));
        assert!(!fires(&trigger, "what does it cost?"));
        assert!(!fires(&Trigger::Synonym { groups: vec![] }, "anything"));
    }

    #[test]
    fn human_request_uses_the_default_phrases_in_three_languages() {
        let trigger = Trigger::HumanRequest {
            phrases: default_human_phrases(),
        };
        for message in [
            "Can I talk to someone?",
            "quero falar com alguém",
            "ATENDENTE",
            "necesito un asesor",
        ] {
            assert!(fires(&trigger, message), "{message}");
        }
        assert!(!fires(&trigger, "humanity"), "whole words only");
        assert!(!fires(&trigger, "what are your prices?"));
    }

    #[test]
    fn facts_decide_first_message_session_and_hours_triggers() {
        let said = Said::new("hello");
        let first = Facts {
            first_ever: true,
            first_in_session: true,
            within_hours: false,
        };
        assert!(Trigger::FirstMessage.matches(&said, first));
        assert!(Trigger::FirstMessageInSession.matches(&said, first));
        assert!(Trigger::OutsideBusinessHours.matches(&said, first));
        assert!(!Trigger::BusinessHours.matches(&said, first));
        assert!(!Trigger::FirstMessage.matches(&said, PLAIN));
        assert!(!Trigger::FirstMessageInSession.matches(&said, PLAIN));
        assert!(Trigger::BusinessHours.matches(&said, PLAIN));
    }

    #[test]
    fn timed_and_closing_triggers_never_fire_on_a_message() {
        for trigger in [
            Trigger::Idle { minutes: 5 },
            Trigger::TimeoutReminder { minutes: 5 },
            Trigger::NoStaffResponse { minutes: 5 },
            Trigger::ClosedRating,
        ] {
            let everything = Facts {
                first_ever: true,
                first_in_session: true,
                within_hours: true,
            };
            assert!(!trigger.matches(&Said::new("5"), everything));
        }
    }

    #[test]
    fn validation_refuses_empty_words_and_impossible_waits() {
        let fields = |trigger: Trigger| -> Vec<String> {
            trigger
                .validate()
                .err()
                .unwrap_or_default()
                .into_iter()
                .map(|(field, _)| field)
                .collect()
        };
        assert_eq!(fields(Trigger::Exact { values: vec![] }), ["values"]);
        assert_eq!(
            fields(Trigger::Keyword {
                keywords: values(&["ok"]),
                synonyms: values(&["?!"])
            }),
            ["synonyms[0]"]
        );
        assert_eq!(
            fields(Trigger::Synonym {
                groups: vec![values(&["a"]), vec![]]
            }),
            ["groups[1]"]
        );
        assert_eq!(fields(Trigger::Idle { minutes: 0 }), ["minutes"]);
        assert_eq!(
            fields(Trigger::TimeoutReminder { minutes: 1440 }),
            ["minutes"]
        );
        assert!(fields(Trigger::NoStaffResponse { minutes: 15 }).is_empty());
        assert!(fields(Trigger::BusinessHours).is_empty());
    }
}
