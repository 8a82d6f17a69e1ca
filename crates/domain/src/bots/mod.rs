//! Bots: seed 001's automatic replies, as pure decisions. Given the bots, what
//! is known of a conversation and an event (a customer's message, a timer, the
//! conversation resolved, a staff reply), `evaluate` says which bots fire, what
//! they send, what they remember and which timers to set; the worker applies it.
//!
//! - `bot`: a bot's configuration and its validation on save;
//! - `trigger`: the thirteen triggers (seed `reply_type`) and how they read a message;
//! - `response`: the response types (seed `bot_type`) as outbound messages;
//! - `text`: how messages are compared (case, accents, punctuation);
//! - `variables`: `{{placeholders}}` in what bots send;
//! - `business_hours`: the weekly schedule in the business's time zone;
//! - `menu`, `flow`, `rating`: the responses that hold a conversation's next reply;
//! - `state`: the conversation as the engine sees it, and the bots' memory of it;
//! - `timers`: when timed triggers are due, and what to schedule or cancel;
//! - `engine`: the rules that put these together (read its module comment first).

pub mod bot;
pub mod business_hours;
pub mod engine;
pub mod flow;
pub mod menu;
pub mod rating;
pub mod response;
pub mod state;
pub mod timers;
pub mod trigger;
pub mod variables;

pub use bot::Bot;
pub use business_hours::{BusinessHours, BusinessHoursError, Interval};
pub use engine::{
    AiRequest, Context, Decision, Event, PlannedReply, Silence, SkipReason, TemplateKey, dry_run,
    evaluate,
};
pub use flow::{FlowDefinition, FlowState};
pub use menu::{MenuDefinition, MenuState};
pub use rating::RatingState;
pub use response::{MediaKind, Response};
pub use state::{BotMemory, ConversationState, Dialogue};
pub use timers::TimerChange;
pub use trigger::Trigger;
