//! The star rating a bot asks for (bot_type 13): the question, how a reply is
//! read as one to five stars, and how long an unreadable reply is asked again.
//!
//! The question is a WhatsApp list of five rows (buttons allow only three). A
//! customer may tap a row (whose id or title comes back), type a digit (`4`,
//! `4 stars`, `nota 4`) or send stars (`⭐⭐⭐⭐`). An unreadable reply is asked
//! again [`MAX_REPROMPTS`] times; after that the conversation moves on and the
//! message is read as an ordinary message, so a customer who ignores the
//! question is not trapped by it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::outbound::{Interactive, ListRow, ListSection, OutboundContent};
use crate::text::normalize;

pub const DEFAULT_QUESTION: &str =
    "How would you rate our service? Reply with a number from 1 (poor) to 5 (excellent).";
pub const DEFAULT_THANKS: &str = "Thank you for your rating!";
pub const MAX_REPROMPTS: u8 = 1;

const STAR: char = '⭐';

/// A conversation waiting for the rating `bot_id` asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingState {
    pub bot_id: Uuid,
    /// How many times an unreadable reply has been asked again.
    #[serde(default)]
    pub reprompts: u8,
}

impl RatingState {
    pub fn new(bot_id: Uuid) -> Self {
        Self {
            bot_id,
            reprompts: 0,
        }
    }
}

/// What a reply to the rating question means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RatingAnswer {
    Rated(u8),
    /// Unreadable: ask again, remembering it.
    AskAgain(RatingState),
    /// Unreadable too often: stop waiting and treat the reply as any message.
    GiveUp,
}

pub fn answer(state: &RatingState, reply: &str) -> RatingAnswer {
    match parse(reply) {
        Some(stars) => RatingAnswer::Rated(stars),
        None if state.reprompts < MAX_REPROMPTS => RatingAnswer::AskAgain(RatingState {
            bot_id: state.bot_id,
            reprompts: state.reprompts + 1,
        }),
        None => RatingAnswer::GiveUp,
    }
}

/// One to five stars, from a digit (alone or with words, but with no other
/// number) or from one to five star emoji.
pub fn parse(reply: &str) -> Option<u8> {
    let normal = normalize(reply);
    let stars = normal.chars().filter(|c| *c == STAR).count();
    if stars > 0 && normal.chars().all(|c| c == STAR || c == ' ') {
        return u8::try_from(stars).ok().filter(|n| (1..=5).contains(n));
    }
    let mut digits = normal
        .split(' ')
        .filter(|word| word.chars().any(|c| c.is_ascii_digit()));
    let only = digits.next()?;
    if digits.next().is_some() {
        return None;
    }
    // `4`, `4/5` read as four; `10` or `4.5` do not.
    let value = only.split_once('/').map_or(only, |(value, _)| value);
    match value.parse::<u8>() {
        Ok(stars @ 1..=5) if value.len() == 1 => Some(stars),
        _ => None,
    }
}

/// The question as a list the customer can tap, or answer by typing a digit.
pub fn question(text: &str) -> OutboundContent {
    OutboundContent::Interactive(Interactive::List {
        body: text.to_owned(),
        header: None,
        footer: None,
        button: "Rate".to_owned(),
        sections: vec![ListSection {
            title: None,
            rows: (1..=5u8)
                .rev()
                .map(|stars| ListRow {
                    id: stars.to_string(),
                    title: format!("{stars} {}", STAR.to_string().repeat(usize::from(stars))),
                    description: None,
                })
                .collect(),
        }],
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn digits_rows_and_stars_are_ratings() {
        for (reply, stars) in [
            ("5", 5),
            (" 4! ", 4),
            ("4 stars", 4),
            ("nota 3", 3),
            ("3/5", 3),
            ("1 ⭐", 1),
            ("5 ⭐⭐⭐⭐⭐", 5),
            ("⭐⭐", 2),
            ("⭐ ⭐ ⭐", 3),
        ] {
            assert_eq!(parse(reply), Some(stars), "{reply}");
        }
    }

    #[test]
    fn other_replies_are_not_ratings() {
        for reply in [
            "0",
            "6",
            "10",
            "4.5",
            "great",
            "",
            "⭐⭐⭐⭐⭐⭐",
            "between 3 and 4",
            "order 12345",
        ] {
            assert_eq!(parse(reply), None, "{reply}");
        }
    }

    #[test]
    fn an_unreadable_reply_is_asked_again_once_then_let_go() {
        let bot = Uuid::nil();
        let first = RatingState::new(bot);
        let RatingAnswer::AskAgain(second) = answer(&first, "what?") else {
            panic!("asked again");
        };
        assert_eq!(second.reprompts, 1);
        assert_eq!(answer(&second, "hello"), RatingAnswer::GiveUp);
        assert_eq!(answer(&second, "4"), RatingAnswer::Rated(4));
    }

    #[test]
    fn the_question_is_a_valid_list_whose_rows_read_back_as_their_rating() {
        let content = question(DEFAULT_QUESTION);
        assert_eq!(content.validate(), Ok(()));
        let OutboundContent::Interactive(Interactive::List { sections, .. }) = content else {
            panic!("a list");
        };
        for row in &sections[0].rows {
            let stars = parse(&row.id);
            assert!(stars.is_some());
            assert_eq!(parse(&row.title), stars);
        }
    }

    proptest! {
        #[test]
        fn a_rating_is_always_one_to_five(reply in any::<String>()) {
            if let Some(stars) = parse(&reply) {
                prop_assert!((1..=5).contains(&stars));
            }
        }
    }
}
