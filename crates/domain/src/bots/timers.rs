//! When each timed trigger is due in a conversation, and the timers to schedule
//! or cancel after an event.
//!
//! A timed bot is due at one moment computed from the conversation alone:
//! - `idle`: `minutes` after the customer's latest message;
//! - `timeout_reminder`: `minutes` before the 24-hour window closes;
//! - `no_staff_response`: `minutes` after the first message staff has not answered.
//!
//! None is due in a resolved conversation, and only `no_staff_response` is due
//! while the bots are paused: waiting for a person is exactly when it matters.
//!
//! After every event the engine recomputes each timed bot's moment: a moment
//! still ahead is (re)scheduled, any other timer is cancelled. The worker keeps
//! one timer per conversation and bot, so scheduling replaces. A timer that fires
//! anyway (a cancel lost, a retry) only acts if its moment is still the one the
//! conversation gives now, so a superseded timer does nothing.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::bot::Bot;
use super::state::ConversationState;
use super::trigger::Trigger;
use crate::conversation::ConversationStatus;

/// Databases keep microseconds, so a moment read back may differ from the one computed.
const TOLERANCE: Duration = Duration::seconds(1);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimerChange {
    /// Fire `Event::Timer { bot_id, due: at }` at `at`, replacing the bot's timer
    /// in this conversation.
    Schedule {
        bot_id: Uuid,
        at: DateTime<Utc>,
    },
    Cancel {
        bot_id: Uuid,
    },
}

/// The moment `trigger` is due in `conversation`, if it is due at all.
pub fn due(trigger: &Trigger, conversation: &ConversationState) -> Option<DateTime<Utc>> {
    if conversation.status == ConversationStatus::Resolved {
        return None;
    }
    let paused = conversation.memory.paused;
    let minutes = Duration::minutes(i64::from(trigger.minutes()?));
    match trigger {
        Trigger::Idle { .. } if !paused => {
            conversation.last_inbound_at?.checked_add_signed(minutes)
        }
        Trigger::TimeoutReminder { .. } if !paused => {
            conversation.session_expires_at?.checked_sub_signed(minutes)
        }
        Trigger::NoStaffResponse { .. } => {
            conversation.unanswered_since?.checked_add_signed(minutes)
        }
        _ => None,
    }
}

/// Whether a timer scheduled for `scheduled` should act now.
pub fn fires(
    trigger: &Trigger,
    conversation: &ConversationState,
    scheduled: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    due(trigger, conversation).is_some_and(|moment| {
        (moment - scheduled).abs() < TOLERANCE && scheduled <= now + TOLERANCE
    })
}

/// The timers of `bots` once the event has left the conversation as `conversation`.
pub fn plan(
    bots: &[&Bot],
    conversation: &ConversationState,
    now: DateTime<Utc>,
) -> Vec<TimerChange> {
    bots.iter()
        .filter(|bot| bot.trigger.is_timed())
        .map(|bot| match due(&bot.trigger, conversation) {
            Some(at) if at > now => TimerChange::Schedule { bot_id: bot.id, at },
            _ => TimerChange::Cancel { bot_id: bot.id },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::matching::RelType;

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 27, hour, minute, 0).unwrap()
    }

    fn customer_wrote(hour: u32, minute: u32) -> ConversationState {
        ConversationState::new(RelType::Lead).after_inbound(at(hour, minute))
    }

    #[test]
    fn idle_is_due_minutes_after_the_latest_message() {
        let idle = Trigger::Idle { minutes: 30 };
        let state = customer_wrote(9, 0);
        assert_eq!(due(&idle, &state), Some(at(9, 30)));
        let later = state.after_inbound(at(9, 20));
        assert_eq!(due(&idle, &later), Some(at(9, 50)));
        // The first timer was superseded by the second message.
        assert!(!fires(&idle, &later, at(9, 30), at(9, 30)));
        assert!(fires(&idle, &later, at(9, 50), at(9, 50)));
        assert!(!fires(&idle, &later, at(9, 50), at(9, 40)), "not yet");
    }

    #[test]
    fn the_reminder_is_due_before_the_window_closes() {
        let reminder = Trigger::TimeoutReminder { minutes: 60 };
        let state = customer_wrote(9, 0);
        // The window closes at 9:00 the next day.
        assert_eq!(due(&reminder, &state), Some(at(9, 0) + Duration::hours(23)));
    }

    #[test]
    fn no_staff_response_counts_from_the_first_unanswered_message() {
        let waiting = Trigger::NoStaffResponse { minutes: 15 };
        let state = customer_wrote(9, 0).after_inbound(at(9, 10));
        assert_eq!(due(&waiting, &state), Some(at(9, 15)));
        assert_eq!(due(&waiting, &state.after_staff_reply()), None);
    }

    #[test]
    fn paused_conversations_only_wait_for_staff_and_resolved_ones_for_nothing() {
        let mut state = customer_wrote(9, 0);
        state.memory.paused = true;
        assert_eq!(due(&Trigger::Idle { minutes: 5 }, &state), None);
        assert_eq!(due(&Trigger::TimeoutReminder { minutes: 5 }, &state), None);
        assert_eq!(
            due(&Trigger::NoStaffResponse { minutes: 5 }, &state),
            Some(at(9, 5))
        );
        state.status = ConversationStatus::Resolved;
        assert_eq!(due(&Trigger::NoStaffResponse { minutes: 5 }, &state), None);
        assert_eq!(due(&Trigger::ClosedRating, &customer_wrote(9, 0)), None);
    }
}
