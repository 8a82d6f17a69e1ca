//! The life of a message we send: `queued < sent < delivered < read < played`,
//! or `failed`. Statuses only move forward; a late, lower one is history only.
//! `played` is Meta's status for a voice message the customer listened to; it comes
//! after `read` (a played message was also read), so it may skip both.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Queued,
    Sent,
    Delivered,
    Read,
    Played,
    Failed,
}

impl MessageStatus {
    pub const ALL: [Self; 6] = [
        Self::Queued,
        Self::Sent,
        Self::Delivered,
        Self::Read,
        Self::Played,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
            Self::Played => "played",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// Whether a message in `self` moves to `next`. Forward only: `read` may
    /// skip `delivered`; `failed` only before delivery (a delivered message did
    /// not fail); nothing leaves `failed` or `played` except as history.
    pub fn advances_to(self, next: Self) -> bool {
        match (self, next) {
            (Self::Failed, _) => false,
            (Self::Queued | Self::Sent, Self::Failed) => true,
            (_, Self::Failed) => false,
            (current, next) => next.rank() > current.rank(),
        }
    }

    fn rank(self) -> u8 {
        match self {
            Self::Queued => 0,
            Self::Sent => 1,
            Self::Delivered => 2,
            Self::Read => 3,
            Self::Played => 4,
            Self::Failed => 5,
        }
    }
}

/// The status after applying `updates` in arrival order, from `start`.
pub fn settle(
    start: MessageStatus,
    updates: impl IntoIterator<Item = MessageStatus>,
) -> MessageStatus {
    updates.into_iter().fold(start, |current, next| {
        if current.advances_to(next) {
            next
        } else {
            current
        }
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::MessageStatus::*;
    use super::*;

    #[test]
    fn the_happy_path_moves_forward() {
        assert_eq!(settle(Queued, [Sent, Delivered, Read]), Read);
    }

    #[test]
    fn read_may_skip_delivered_and_late_lower_statuses_change_nothing() {
        assert_eq!(settle(Sent, [Read, Delivered]), Read);
        assert_eq!(settle(Queued, [Delivered, Sent]), Delivered);
    }

    #[test]
    fn played_comes_after_read_and_nothing_moves_it_back() {
        assert_eq!(settle(Sent, [Delivered, Played, Read]), Played);
        assert_eq!(settle(Read, [Played]), Played);
        assert_eq!(settle(Played, [Delivered, Failed]), Played);
    }

    #[test]
    fn failure_sticks_and_only_comes_before_delivery() {
        assert_eq!(settle(Sent, [Failed, Delivered, Read]), Failed);
        assert_eq!(settle(Delivered, [Failed]), Delivered);
    }

    #[test]
    fn names_round_trip() {
        for status in MessageStatus::ALL {
            assert_eq!(MessageStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(MessageStatus::parse("DELIVERED"), Some(Delivered));
        assert_eq!(MessageStatus::parse("deleted"), None);
    }

    fn any_status() -> impl Strategy<Value = MessageStatus> {
        proptest::sample::select(MessageStatus::ALL.to_vec())
    }

    proptest! {
        /// Whatever order updates arrive in, the status never moves backwards.
        #[test]
        fn never_moves_backwards(updates in proptest::collection::vec(any_status(), 0..12)) {
            let mut current = Queued;
            for next in updates {
                let after = settle(current, [next]);
                if after != current {
                    prop_assert!(current.advances_to(after));
                    prop_assert!(current != Failed && current != Played);
                }
                current = after;
            }
        }

        /// Without failures the result is the highest status seen, in any order.
        #[test]
        fn the_highest_non_failed_status_wins(mut updates in proptest::collection::vec(proptest::sample::select(vec![Sent, Delivered, Read, Played]), 1..8)) {
            let best = updates.iter().copied().max_by_key(|s| s.rank()).unwrap();
            prop_assert_eq!(settle(Queued, updates.clone()), best);
            updates.reverse();
            prop_assert_eq!(settle(Queued, updates), best);
        }
    }
}
