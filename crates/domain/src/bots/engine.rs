//! The bot engine: given the bots, what is known of a conversation and an event,
//! decide which bots fire and what they send. Nothing here changes anything; the
//! worker applies the `Decision`, and a dry run is the same call with nothing applied.
//!
//! The rules, in the order they apply:
//! 1. Bots never act in a staff member's conversation (`rel_type` staff) nor on
//!    a message a staff number sent.
//! 2. Only active bots for the event's business number take part, highest
//!    `priority` first, equal priorities in id order.
//! 3. While the bots are paused (a human request or a staff reply), no bot
//!    answers a message; resolving the conversation unpauses them. Only
//!    `no_staff_response` still fires, since waiting for a person is its point.
//! 4. On a message, a `human_request` bot comes first, whatever else is going
//!    on: it answers, pauses the bots and drops any open menu or flow.
//! 5. Otherwise an open dialogue takes the message: the rating question, the
//!    menu or the flow of the bot that opened it. A menu or rating that gives up
//!    on the customer lets the message go on to rule 6.
//! 6. Otherwise the bots whose trigger matches answer in order: the first one
//!    answers, and the next one too only if the one before says `continue`. A bot
//!    that opens a dialogue (menu, flow, rating) always ends the chain. `ai` bots
//!    answer only when no other bot did, as seed 001's "auto" mode describes.
//! 7. A reply is skipped, and reported with the reason, when it is free-form and
//!    the 24-hour window is closed, when it is a template that is not approved,
//!    or when its bot is in its cooldown. A skipped reply does not count as the
//!    answer, so the next matching bot (say, a template) may still answer.
//! 8. After the event, each timed bot's timer is scheduled or cancelled (`timers`).

use std::cmp::Reverse;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::bot::Bot;
use super::business_hours::BusinessHours;
use super::flow::{self, FlowEnd};
use super::menu::{self, MenuStep};
use super::rating::{self, RatingAnswer};
use super::response::Response;
use super::state::{BotMemory, ConversationState, Dialogue};
use super::timers::{self, TimerChange};
use super::trigger::{Facts, Trigger};
use super::variables::render;
use crate::conversation::ConversationStatus;
use crate::matching::RelType;
use crate::outbound::OutboundContent;
use crate::session;
use crate::text::Said;

/// What the engine needs to know besides the bots and the conversation.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The business number the conversation is on.
    pub number_id: Uuid,
    pub now: DateTime<Utc>,
    pub business_hours: &'a BusinessHours,
    /// The connection's templates whose status is `APPROVED`.
    pub approved_templates: &'a [TemplateKey],
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateKey {
    pub name: String,
    pub language: String,
}

impl Context<'_> {
    fn approves(&self, name: &str, language: &str) -> bool {
        self.approved_templates
            .iter()
            .any(|key| key.name == name && key.language == language)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A customer's message (its text, or a caption or the title of a tapped
    /// button or row), sent `at`.
    Inbound {
        text: String,
        at: DateTime<Utc>,
        /// The sender is one of our staff numbers.
        #[serde(default)]
        from_staff: bool,
    },
    /// A timer `TimerChange::Schedule` asked for.
    Timer { bot_id: Uuid, due: DateTime<Utc> },
    /// Staff resolved the conversation.
    Resolved,
    /// A staff member sent a message in the conversation.
    StaffReplied,
}

/// Why the bots said nothing at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Silence {
    StaffMessage,
    StaffNumber,
    BotsPaused,
}

/// Why a planned reply is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Free-form content while the customer's 24-hour window is closed.
    SessionClosed,
    TemplateNotApproved,
    /// The bot replied in this conversation less than `cooldown_minutes` ago.
    CoolingDown,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedReply {
    pub bot_id: Uuid,
    pub bot_name: String,
    pub content: OutboundContent,
    /// `None`: send it. Otherwise what it would have been, and why it is not.
    pub skipped: Option<SkipReason>,
}

impl PlannedReply {
    /// The outbound message's `sent_by`, in the style of `staff:{id}`.
    pub fn sent_by(&self) -> String {
        format!("bot:{}", self.bot_id)
    }
}

/// An `ai` bot answers: the worker asks the configured AI, then sends the answer
/// or keeps it as a suggestion for staff, as the AI settings say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AiRequest {
    pub bot_id: Uuid,
    pub bot_name: String,
    pub instructions: Option<String>,
    /// The customer's message it answers; `None` when a timer fired the bot.
    pub message: Option<String>,
    pub skipped: Option<SkipReason>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Decision {
    pub silenced: Option<Silence>,
    /// Every bot whose trigger matched the event, in the order they were considered,
    /// whether or not it answered.
    pub matched: Vec<Uuid>,
    /// What to send, in order; a flow may send several messages for one event.
    pub replies: Vec<PlannedReply>,
    pub ai_requests: Vec<AiRequest>,
    /// The customer asked for a person (or a menu or flow handed over): the
    /// worker may tell staff.
    pub handoff: bool,
    /// A rating of 1 to 5 the customer just gave, to store on the conversation.
    pub rating: Option<u8>,
    /// The conversation's new bot memory, when it changed.
    pub memory: Option<BotMemory>,
    pub timers: Vec<TimerChange>,
}

impl Decision {
    fn silenced(silence: Silence) -> Self {
        Self {
            silenced: Some(silence),
            ..Self::default()
        }
    }

    /// Nothing to send, store, schedule or tell: the conversation stays as
    /// it was (what most messages come to, when no trigger matches them).
    pub fn changes_nothing(&self) -> bool {
        self.replies.is_empty()
            && self.ai_requests.is_empty()
            && !self.handoff
            && self.rating.is_none()
            && self.memory.is_none()
            && self.timers.is_empty()
    }
}

/// Decide what the bots do about `event` in `conversation`.
pub fn evaluate(
    bots: &[Bot],
    conversation: &ConversationState,
    event: &Event,
    context: &Context<'_>,
) -> Decision {
    if conversation.rel_type == RelType::Staff {
        return Decision::silenced(Silence::StaffNumber);
    }
    let mut taking_part: Vec<&Bot> = bots
        .iter()
        .filter(|bot| bot.serves(context.number_id))
        .collect();
    taking_part.sort_by_key(|bot| (Reverse(bot.priority), bot.id));
    let bots = taking_part.as_slice();
    let now = context.now;
    match event {
        Event::Inbound {
            from_staff: true, ..
        } => Decision::silenced(Silence::StaffMessage),
        Event::Inbound { text, at, .. } => {
            let after = conversation.after_inbound(*at);
            let window_open = session::is_open(after.session_expires_at, now);
            let mut turn = Turn::new(context, conversation, window_open);
            if conversation.memory.paused {
                turn.decision.silenced = Some(Silence::BotsPaused);
            } else {
                let facts = Facts {
                    first_ever: conversation.inbound_count_before == 0,
                    first_in_session: !session::is_open(conversation.session_expires_at, *at),
                    within_hours: context.business_hours.is_open(*at),
                };
                turn.on_message(bots, text, facts);
            }
            let after = ConversationState {
                memory: turn.memory.clone(),
                ..after
            };
            turn.decision.timers = timers::plan(bots, &after, now);
            turn.finish(bots)
        }
        Event::Timer { bot_id, due } => {
            let window_open = session::is_open(conversation.session_expires_at, now);
            let mut turn = Turn::new(context, conversation, window_open);
            if let Some(bot) = bots.iter().find(|bot| bot.id == *bot_id) {
                if timers::fires(&bot.trigger, conversation, *due, now) {
                    turn.decision.matched.push(bot.id);
                    turn.answer_in_order(&[*bot], None);
                }
            }
            turn.finish(bots)
        }
        Event::Resolved => {
            let window_open = session::is_open(conversation.session_expires_at, now);
            let mut turn = Turn::new(context, conversation, window_open);
            turn.memory.paused = false;
            turn.memory.dialogue = None;
            let matched: Vec<&Bot> = bots
                .iter()
                .copied()
                .filter(|bot| bot.trigger == Trigger::ClosedRating)
                .collect();
            turn.decision.matched = matched.iter().map(|bot| bot.id).collect();
            turn.answer_in_order(&matched, None);
            let after = ConversationState {
                status: ConversationStatus::Resolved,
                memory: turn.memory.clone(),
                ..conversation.clone()
            };
            turn.decision.timers = timers::plan(bots, &after, now);
            turn.finish(bots)
        }
        Event::StaffReplied => {
            let mut turn = Turn::new(context, conversation, true);
            turn.memory.paused = true;
            turn.memory.dialogue = None;
            let after = ConversationState {
                memory: turn.memory.clone(),
                ..conversation.after_staff_reply()
            };
            turn.decision.timers = timers::plan(bots, &after, now);
            turn.finish(bots)
        }
    }
}

/// Which bots match `text` at `at` in `conversation`, and what they would send,
/// without changing anything: `evaluate` on a customer's message.
pub fn dry_run(
    bots: &[Bot],
    conversation: &ConversationState,
    text: &str,
    at: DateTime<Utc>,
    context: &Context<'_>,
) -> Decision {
    let event = Event::Inbound {
        text: text.to_owned(),
        at,
        from_staff: false,
    };
    evaluate(bots, conversation, &event, context)
}

/// One event being decided: the memory as it changes and the decision so far.
struct Turn<'a> {
    context: &'a Context<'a>,
    conversation: &'a ConversationState,
    /// Whether free-form content may be sent now.
    window_open: bool,
    memory: BotMemory,
    decision: Decision,
}

impl<'a> Turn<'a> {
    fn new(
        context: &'a Context<'a>,
        conversation: &'a ConversationState,
        window_open: bool,
    ) -> Self {
        Self {
            context,
            conversation,
            window_open,
            memory: conversation.memory.clone(),
            decision: Decision::default(),
        }
    }

    fn on_message(&mut self, bots: &[&Bot], text: &str, facts: Facts) {
        let said = Said::new(text);
        let matched: Vec<&Bot> = bots
            .iter()
            .copied()
            .filter(|bot| bot.trigger.matches(&said, facts))
            .collect();
        self.decision.matched = matched.iter().map(|bot| bot.id).collect();
        if let Some(bot) = matched
            .iter()
            .find(|bot| matches!(bot.trigger, Trigger::HumanRequest { .. }))
        {
            self.fire(bot, Some(text));
            self.hand_off();
            return;
        }
        if self.continue_dialogue(bots, text) {
            return;
        }
        self.answer_in_order(&matched, Some(text));
    }

    /// The open dialogue takes the reply; `false` if there is none or it let go.
    fn continue_dialogue(&mut self, bots: &[&Bot], text: &str) -> bool {
        let Some(dialogue) = self.memory.dialogue.clone() else {
            return false;
        };
        let owner = bots.iter().copied().find(|bot| bot.id == dialogue.bot_id());
        let conversation = self.conversation;
        let variables = move |name: &str| conversation.variable(name);
        self.memory.dialogue = None;
        match (dialogue, owner) {
            (Dialogue::Rating(state), owner) => match rating::answer(&state, text) {
                RatingAnswer::Rated(stars) => {
                    self.decision.rating = Some(stars);
                    if let Some(
                        bot @ Bot {
                            response: Response::Rating { thanks, .. },
                            ..
                        },
                    ) = owner
                    {
                        let thanks = thanks.as_deref().unwrap_or(rating::DEFAULT_THANKS);
                        self.send(bot, vec![plain(render(thanks, &variables))], None);
                    }
                    true
                }
                RatingAnswer::AskAgain(next) => match owner {
                    Some(
                        bot @ Bot {
                            response: Response::Rating { question, .. },
                            ..
                        },
                    ) => {
                        let question = question.as_deref().unwrap_or(rating::DEFAULT_QUESTION);
                        let content = rating::question(&render(question, &variables));
                        self.send(bot, vec![content], None);
                        self.memory.dialogue = Some(Dialogue::Rating(next));
                        true
                    }
                    _ => false,
                },
                RatingAnswer::GiveUp => false,
            },
            (
                Dialogue::Menu(state),
                Some(
                    bot @ Bot {
                        response: Response::Menu(definition),
                        ..
                    },
                ),
            ) => match menu::navigate(definition, &state, text, &variables) {
                MenuStep::Show { state, content } => {
                    self.send(bot, vec![content], None);
                    self.memory.dialogue = Some(Dialogue::Menu(state));
                    true
                }
                MenuStep::Chosen { reply, handoff } => {
                    self.send(bot, reply.into_iter().collect(), None);
                    if handoff {
                        self.hand_off();
                    }
                    true
                }
                MenuStep::Left => true,
                MenuStep::Abandoned => false,
            },
            (
                Dialogue::Flow(state),
                Some(
                    bot @ Bot {
                        response: Response::Flow(definition),
                        ..
                    },
                ),
            ) => match flow::resume(definition, &state, text, &variables) {
                Some(run) => {
                    self.send(bot, run.messages, None);
                    self.memory.dialogue = run.state.map(Dialogue::Flow);
                    if run.end == FlowEnd::Handoff {
                        self.hand_off();
                    }
                    true
                }
                None => false,
            },
            // Its bot was deleted, turned off or changed to another response.
            (Dialogue::Menu(_) | Dialogue::Flow(_), _) => false,
        }
    }

    /// Rule 6: the matching bots answer in order, `ai` bots only if nobody else did.
    fn answer_in_order(&mut self, matched: &[&Bot], message: Option<&str>) {
        let is_ai = |bot: &&&Bot| matches!(bot.response, Response::Ai { .. });
        let mut answered = false;
        for bot in matched.iter().filter(|bot| !is_ai(bot)) {
            if self.fire(bot, message) {
                answered = true;
                if !bot.continue_after || bot.response.is_dialogue() || self.memory.paused {
                    return;
                }
            }
        }
        if answered {
            return;
        }
        for bot in matched.iter().filter(is_ai) {
            if self.fire(bot, message) {
                return;
            }
        }
    }

    /// Plan `bot`'s response; whether it answers (something is not skipped).
    fn fire(&mut self, bot: &Bot, message: Option<&str>) -> bool {
        let cooling = self.cooling_down(bot).then_some(SkipReason::CoolingDown);
        let conversation = self.conversation;
        let variables = move |name: &str| conversation.variable(name);
        let answered = match (bot.response.open(bot.id, &variables), &bot.response) {
            (Some(opening), _) => {
                let sent = self.send(bot, opening.messages, cooling);
                if sent {
                    if bot.response.is_dialogue() {
                        self.memory.dialogue = opening.dialogue;
                    }
                    if opening.handoff {
                        self.hand_off();
                    }
                }
                sent
            }
            (None, Response::Ai { instructions }) => {
                let skipped = cooling.or((!self.window_open).then_some(SkipReason::SessionClosed));
                self.decision.ai_requests.push(AiRequest {
                    bot_id: bot.id,
                    bot_name: bot.name.clone(),
                    instructions: instructions.clone(),
                    message: message.map(str::to_owned),
                    skipped,
                });
                skipped.is_none()
            }
            (None, _) => false,
        };
        if answered && bot.cooldown_minutes > 0 {
            self.memory.last_replied.insert(bot.id, self.context.now);
        }
        answered
    }

    /// Queue `messages` from `bot`; whether any of them will be sent.
    fn send(
        &mut self,
        bot: &Bot,
        messages: Vec<OutboundContent>,
        skip: Option<SkipReason>,
    ) -> bool {
        let mut sent = false;
        for content in messages {
            let skipped = skip.or_else(|| self.skip_reason(&content));
            sent |= skipped.is_none();
            self.decision.replies.push(PlannedReply {
                bot_id: bot.id,
                bot_name: bot.name.clone(),
                content,
                skipped,
            });
        }
        sent
    }

    fn skip_reason(&self, content: &OutboundContent) -> Option<SkipReason> {
        match content {
            OutboundContent::Template { name, language, .. } => {
                (!self.context.approves(name, language)).then_some(SkipReason::TemplateNotApproved)
            }
            _ => (!self.window_open).then_some(SkipReason::SessionClosed),
        }
    }

    fn cooling_down(&self, bot: &Bot) -> bool {
        bot.cooldown_minutes > 0
            && self.memory.last_replied.get(&bot.id).is_some_and(|at| {
                self.context.now < *at + Duration::minutes(i64::from(bot.cooldown_minutes))
            })
    }

    fn hand_off(&mut self) {
        self.memory.paused = true;
        self.memory.dialogue = None;
        self.decision.handoff = true;
    }

    fn finish(mut self, bots: &[&Bot]) -> Decision {
        // Forget replies whose cooldown is over, so the memory stays small.
        let now = self.context.now;
        self.memory.last_replied.retain(|id, at| {
            bots.iter().any(|bot| {
                bot.id == *id && now < *at + Duration::minutes(i64::from(bot.cooldown_minutes))
            })
        });
        if self.memory != self.conversation.memory {
            self.decision.memory = Some(self.memory);
        }
        self.decision
    }
}

fn plain(text: String) -> OutboundContent {
    OutboundContent::Text {
        text,
        preview_url: false,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Weekday};
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::bots::menu::MenuState;

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        // Wednesday 27 May 2026.
        Utc.with_ymd_and_hms(2026, 5, 27, hour, minute, 0).unwrap()
    }

    fn number() -> Uuid {
        Uuid::from_u128(0xAAAA)
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn bot(n: u128, priority: i32, trigger: Value, response: Value) -> Bot {
        serde_json::from_value(json!({
            "id": id(n),
            "name": format!("bot {n}"),
            "priority": priority,
            "trigger": trigger,
            "response": response,
        }))
        .unwrap()
    }

    use serde_json::Value;

    fn text(text: &str) -> Value {
        json!({"type": "text", "text": text})
    }

    fn keyword(word: &str) -> Value {
        json!({"type": "keyword", "keywords": [word]})
    }

    fn shop_menu() -> Value {
        json!({"type": "menu", "body": "How can we help?", "items": [
            {"title": "Prices", "reply": "From $10."},
            {"title": "Support", "items": [
                {"title": "Orders", "reply": "Send your order number."},
                {"title": "Agent", "reply": "Connecting you.", "handoff": true}
            ]}
        ]})
    }

    /// A lead who wrote at 8:00 today (the third message), window open until tomorrow 8:00.
    fn lead() -> ConversationState {
        let mut conversation = ConversationState::new(RelType::Lead);
        conversation
            .variables
            .insert("name".into(), "Ana Souza".into());
        conversation.inbound_count_before = 3;
        conversation.last_inbound_at = Some(at(8, 0));
        conversation.session_expires_at = Some(at(8, 0) + Duration::hours(24));
        conversation
    }

    fn approved() -> Vec<TemplateKey> {
        vec![TemplateKey {
            name: "welcome".into(),
            language: "en".into(),
        }]
    }

    fn decide(
        bots: &[Bot],
        conversation: &ConversationState,
        event: Event,
        now: DateTime<Utc>,
    ) -> Decision {
        let hours = BusinessHours::default();
        let templates = approved();
        let context = Context {
            number_id: number(),
            now,
            business_hours: &hours,
            approved_templates: &templates,
        };
        evaluate(bots, conversation, &event, &context)
    }

    fn message(text: &str, sent_at: DateTime<Utc>) -> Event {
        Event::Inbound {
            text: text.into(),
            at: sent_at,
            from_staff: false,
        }
    }

    /// The customer writes `text` at 10:00.
    fn customer_says(bots: &[Bot], conversation: &ConversationState, text: &str) -> Decision {
        decide(bots, conversation, message(text, at(10, 0)), at(10, 0))
    }

    /// What is actually sent, as (bot, inbox preview).
    fn sent(decision: &Decision) -> Vec<(Uuid, String)> {
        decision
            .replies
            .iter()
            .filter(|reply| reply.skipped.is_none())
            .map(|reply| (reply.bot_id, reply.content.preview()))
            .collect()
    }

    fn with_memory(conversation: &ConversationState, decision: &Decision) -> ConversationState {
        ConversationState {
            memory: decision
                .memory
                .clone()
                .unwrap_or(conversation.memory.clone()),
            ..conversation.clone()
        }
    }

    #[test]
    fn no_bot_answers_a_staff_message_or_a_staff_conversation() {
        let bots = [bot(1, 0, keyword("price"), text("From $10"))];
        let from_staff = Event::Inbound {
            text: "price".into(),
            at: at(10, 0),
            from_staff: true,
        };
        let decision = decide(&bots, &lead(), from_staff, at(10, 0));
        assert_eq!(decision, Decision::silenced(Silence::StaffMessage));

        let staff = ConversationState {
            rel_type: RelType::Staff,
            ..lead()
        };
        assert_eq!(
            customer_says(&bots, &staff, "price"),
            Decision::silenced(Silence::StaffNumber)
        );
        assert_eq!(
            decide(&bots, &staff, Event::Resolved, at(10, 0)),
            Decision::silenced(Silence::StaffNumber)
        );
    }

    #[test]
    fn inactive_bots_and_bots_of_other_numbers_never_fire() {
        let mut off = bot(1, 9, keyword("price"), text("off"));
        off.is_active = false;
        let mut elsewhere = bot(2, 8, keyword("price"), text("elsewhere"));
        elsewhere.number_ids = vec![id(0xBBBB)];
        let mut here = bot(3, 1, keyword("price"), text("here"));
        here.number_ids = vec![number()];
        let decision = customer_says(&[off, elsewhere, here], &lead(), "price?");
        assert_eq!(decision.matched, [id(3)]);
        assert_eq!(sent(&decision), [(id(3), "here".to_owned())]);
    }

    #[test]
    fn a_message_no_trigger_matches_changes_nothing_and_a_match_does() {
        let bots = [bot(1, 1, keyword("price"), text("It is 5"))];
        assert!(customer_says(&bots, &lead(), "hello").changes_nothing());
        let answered = customer_says(&bots, &lead(), "price?");
        assert!(!answered.changes_nothing());
        // A menu opened is a change even before anything else is sent.
        let menu = [bot(2, 1, keyword("help"), shop_menu())];
        let opened = customer_says(&menu, &lead(), "help");
        assert!(opened.memory.is_some());
        assert!(!opened.changes_nothing());
    }

    #[test]
    fn the_highest_priority_match_answers_alone_ties_by_id() {
        let bots = [
            bot(5, 1, keyword("price"), text("low")),
            bot(4, 7, keyword("price"), text("high, later id")),
            bot(
                3,
                7,
                json!({"type": "contains", "values": ["pri"]}),
                text("high, first id"),
            ),
            bot(2, 9, keyword("hours"), text("no match")),
        ];
        let decision = customer_says(&bots, &lead(), "Price please");
        assert_eq!(decision.matched, [id(3), id(4), id(5)]);
        assert_eq!(sent(&decision), [(id(3), "high, first id".to_owned())]);
    }

    #[test]
    fn continue_lets_the_next_match_answer_too_until_a_bot_without_it() {
        let mut first = bot(1, 3, keyword("price"), text("one"));
        first.continue_after = true;
        let second = bot(2, 2, keyword("price"), text("two"));
        let third = bot(3, 1, keyword("price"), text("three"));
        let decision = customer_says(&[first, second, third], &lead(), "price");
        assert_eq!(
            sent(&decision),
            [(id(1), "one".to_owned()), (id(2), "two".to_owned())]
        );
    }

    #[test]
    fn a_menu_ends_the_chain_even_after_continue() {
        let mut first = bot(1, 3, keyword("help"), shop_menu());
        first.continue_after = true;
        let second = bot(2, 2, keyword("help"), text("two"));
        let decision = customer_says(&[first, second], &lead(), "help");
        assert_eq!(sent(&decision), [(id(1), "How can we help?".to_owned())]);
        let memory = decision.memory.unwrap();
        assert_eq!(memory.dialogue, Some(Dialogue::Menu(MenuState::top(id(1)))));
    }

    #[test]
    fn first_message_ever_and_first_in_session() {
        let bots = [
            bot(1, 2, json!({"type": "first_message"}), text("Welcome!")),
            bot(
                2,
                1,
                json!({"type": "first_message_in_session"}),
                text("Welcome back!"),
            ),
        ];
        let new = ConversationState::new(RelType::General);
        let decision = customer_says(&bots, &new, "hi");
        assert_eq!(decision.matched, [id(1), id(2)]);
        assert_eq!(sent(&decision), [(id(1), "Welcome!".to_owned())]);

        // Written before, but the window closed at 8:00 today.
        let returning = ConversationState {
            session_expires_at: Some(at(8, 0)),
            ..lead()
        };
        assert_eq!(
            sent(&customer_says(&bots, &returning, "hi")),
            [(id(2), "Welcome back!".to_owned())]
        );
        // Window still open: neither.
        assert!(customer_says(&bots, &lead(), "hi").matched.is_empty());
    }

    #[test]
    fn business_hours_triggers_read_the_settings_schedule() {
        let bots = [
            bot(
                1,
                0,
                json!({"type": "business_hours"}),
                text("An agent will answer soon."),
            ),
            bot(
                2,
                0,
                json!({"type": "outside_business_hours"}),
                text("We are closed."),
            ),
        ];
        let hours = BusinessHours::closed("America/Sao_Paulo")
            .unwrap()
            .with(Weekday::Wed, &["09:00-18:00"])
            .unwrap();
        let templates = approved();
        let ask = |hour: u32| {
            let context = Context {
                number_id: number(),
                now: at(hour, 0),
                business_hours: &hours,
                approved_templates: &templates,
            };
            sent(&dry_run(&bots, &lead(), "hello", at(hour, 0), &context))
        };
        // 12:00 UTC is 09:00 in Sao Paulo; 21:00 UTC is 18:00.
        assert_eq!(ask(11), [(id(2), "We are closed.".to_owned())]);
        assert_eq!(ask(12), [(id(1), "An agent will answer soon.".to_owned())]);
        assert_eq!(ask(21), [(id(2), "We are closed.".to_owned())]);
    }

    #[test]
    fn an_open_menu_takes_the_reply_before_other_triggers() {
        let bots = [
            bot(1, 0, keyword("help"), shop_menu()),
            bot(
                2,
                9,
                json!({"type": "contains", "values": ["1"]}),
                text("I love ones"),
            ),
        ];
        let opened = customer_says(&bots, &lead(), "help");
        let in_menu = with_memory(&lead(), &opened);

        let decision = customer_says(&bots, &in_menu, "1");
        assert_eq!(decision.matched, [id(2)], "matched, but the menu answers");
        assert_eq!(sent(&decision), [(id(1), "From $10.".to_owned())]);
        assert_eq!(
            decision.memory.unwrap().dialogue,
            None,
            "a leaf ends the menu"
        );

        let decision = customer_says(&bots, &in_menu, "Support");
        assert_eq!(
            decision.memory.unwrap().dialogue,
            Some(Dialogue::Menu(MenuState {
                path: vec![1],
                ..MenuState::top(id(1))
            }))
        );
    }

    #[test]
    fn a_menu_item_can_hand_over_to_a_person() {
        let bots = [bot(1, 0, keyword("help"), shop_menu())];
        let in_support = ConversationState {
            memory: BotMemory {
                dialogue: Some(Dialogue::Menu(MenuState {
                    path: vec![1],
                    ..MenuState::top(id(1))
                })),
                ..BotMemory::default()
            },
            ..lead()
        };
        let decision = customer_says(&bots, &in_support, "2");
        assert_eq!(sent(&decision), [(id(1), "Connecting you.".to_owned())]);
        assert!(decision.handoff);
        let memory = decision.memory.unwrap();
        assert!(memory.paused);
        assert_eq!(memory.dialogue, None);
    }

    #[test]
    fn a_menu_that_gives_up_lets_the_message_reach_other_bots() {
        let bots = [
            bot(1, 0, keyword("help"), shop_menu()),
            bot(2, 0, keyword("refund"), text("Refunds take 5 days.")),
        ];
        let worn_out = ConversationState {
            memory: BotMemory {
                dialogue: Some(Dialogue::Menu(MenuState {
                    reprompts: menu::MAX_REPROMPTS,
                    ..MenuState::top(id(1))
                })),
                ..BotMemory::default()
            },
            ..lead()
        };
        let decision = customer_says(&bots, &worn_out, "I want a refund");
        assert_eq!(
            sent(&decision),
            [(id(2), "Refunds take 5 days.".to_owned())]
        );
        assert_eq!(decision.memory.unwrap().dialogue, None);

        // Before giving up, an invalid choice is asked again.
        let fresh = with_memory(&lead(), &customer_says(&bots, &lead(), "help"));
        let decision = customer_says(&bots, &fresh, "I want a refund");
        assert_eq!(sent(&decision).len(), 1);
        assert!(sent(&decision)[0].1.starts_with(menu::DEFAULT_INVALID_TEXT));
    }

    #[test]
    fn a_dialogue_whose_bot_is_gone_is_dropped() {
        let bots = [bot(2, 0, keyword("refund"), text("Refunds take 5 days."))];
        let orphan = ConversationState {
            memory: BotMemory {
                dialogue: Some(Dialogue::Menu(MenuState::top(id(1)))),
                ..BotMemory::default()
            },
            ..lead()
        };
        let decision = customer_says(&bots, &orphan, "refund");
        assert_eq!(
            sent(&decision),
            [(id(2), "Refunds take 5 days.".to_owned())]
        );
        assert_eq!(decision.memory.unwrap().dialogue, None);
    }

    #[test]
    fn a_flow_asks_remembers_and_finishes() {
        let flow = json!({"type": "flow", "start": "ask", "nodes": [
            {"id": "ask", "type": "question", "text": "Your city, {{first_name}}?", "variable": "city"},
            {"id": "done", "type": "end", "text": "We deliver in {{city}}!"}
        ], "edges": [{"from": "ask", "to": "done", "condition": {"type": "else"}}]});
        let bots = [bot(1, 0, keyword("delivery"), flow)];
        let opened = customer_says(&bots, &lead(), "delivery?");
        assert_eq!(sent(&opened), [(id(1), "Your city, Ana?".to_owned())]);
        let waiting = with_memory(&lead(), &opened);
        assert!(matches!(waiting.memory.dialogue, Some(Dialogue::Flow(_))));

        let decision = customer_says(&bots, &waiting, "Recife");
        assert_eq!(
            sent(&decision),
            [(id(1), "We deliver in Recife!".to_owned())]
        );
        assert_eq!(decision.memory.unwrap().dialogue, None);
    }

    #[test]
    fn a_human_request_pauses_the_bots_even_inside_a_menu() {
        let bots = [
            bot(1, 9, keyword("help"), shop_menu()),
            bot(
                2,
                0,
                json!({"type": "human_request"}),
                text("A person will answer you."),
            ),
            bot(3, 5, keyword("agent"), text("keyword bot")),
        ];
        let in_menu = with_memory(&lead(), &customer_says(&bots, &lead(), "help"));
        let decision = customer_says(&bots, &in_menu, "I want a human agent");
        assert_eq!(decision.matched, [id(3), id(2)]);
        assert_eq!(
            sent(&decision),
            [(id(2), "A person will answer you.".to_owned())]
        );
        assert!(decision.handoff);
        let memory = decision.memory.clone().unwrap();
        assert!(memory.paused);
        assert_eq!(memory.dialogue, None);

        // Paused: nothing answers, not even the human-request bot again.
        let paused = with_memory(&in_menu, &decision);
        for text in ["help", "agent please", "1"] {
            let decision = customer_says(&bots, &paused, text);
            assert_eq!(decision.silenced, Some(Silence::BotsPaused));
            assert!(decision.replies.is_empty() && decision.matched.is_empty());
        }

        // Resolving unpauses; the bots answer again.
        let resolved = decide(&bots, &paused, Event::Resolved, at(11, 0));
        assert!(!resolved.memory.clone().unwrap().paused);
        let reopened = with_memory(&paused, &resolved);
        assert_eq!(sent(&customer_says(&bots, &reopened, "help")).len(), 1);
    }

    #[test]
    fn a_staff_reply_pauses_the_bots_and_cancels_their_timers() {
        let bots = [
            bot(1, 0, keyword("help"), shop_menu()),
            bot(
                2,
                0,
                json!({"type": "no_staff_response", "minutes": 15}),
                text("Sorry for the wait!"),
            ),
            bot(
                3,
                0,
                json!({"type": "idle", "minutes": 30}),
                text("Still there?"),
            ),
        ];
        let in_menu = with_memory(&lead(), &customer_says(&bots, &lead(), "help"));
        let decision = decide(&bots, &in_menu, Event::StaffReplied, at(10, 5));
        assert!(decision.replies.is_empty());
        let memory = decision.memory.unwrap();
        assert!(memory.paused);
        assert_eq!(memory.dialogue, None);
        assert_eq!(
            decision.timers,
            [
                TimerChange::Cancel { bot_id: id(2) },
                TimerChange::Cancel { bot_id: id(3) }
            ]
        );
    }

    #[test]
    fn resolving_asks_for_a_rating_and_the_answer_is_stored_on_the_conversation() {
        let bots = [bot(
            1,
            0,
            json!({"type": "closed_rating"}),
            json!({"type": "rating", "thanks": "Thanks, {{first_name}}!"}),
        )];
        let resolved = decide(&bots, &lead(), Event::Resolved, at(10, 0));
        assert_eq!(resolved.matched, [id(1)]);
        assert_eq!(sent(&resolved).len(), 1);
        let awaiting = with_memory(&lead(), &resolved);
        assert!(matches!(
            awaiting.memory.dialogue,
            Some(Dialogue::Rating(_))
        ));

        let decision = customer_says(&bots, &awaiting, "5 ⭐⭐⭐⭐⭐");
        assert_eq!(decision.rating, Some(5));
        assert_eq!(sent(&decision), [(id(1), "Thanks, Ana!".to_owned())]);
        assert_eq!(decision.memory.unwrap().dialogue, None);
    }

    #[test]
    fn an_unreadable_rating_is_asked_again_then_the_message_moves_on() {
        let bots = [
            bot(
                1,
                0,
                json!({"type": "closed_rating"}),
                json!({"type": "rating"}),
            ),
            bot(2, 0, keyword("order"), text("Your order ships today.")),
        ];
        let awaiting = with_memory(&lead(), &decide(&bots, &lead(), Event::Resolved, at(10, 0)));
        let again = customer_says(&bots, &awaiting, "hmm");
        assert_eq!(again.rating, None);
        assert_eq!(sent(&again)[0].1, rating::DEFAULT_QUESTION);
        let still = with_memory(&awaiting, &again);
        let moved_on = customer_says(&bots, &still, "where is my order?");
        assert_eq!(moved_on.rating, None);
        assert_eq!(
            sent(&moved_on),
            [(id(2), "Your order ships today.".to_owned())]
        );
        assert_eq!(moved_on.memory.unwrap().dialogue, None);
    }

    #[test]
    fn outside_the_window_free_form_is_skipped_and_an_approved_template_goes() {
        let bots = [
            bot(
                1,
                3,
                json!({"type": "closed_rating"}),
                json!({"type": "rating"}),
            ),
            bot(
                2,
                2,
                json!({"type": "closed_rating"}),
                json!({"type": "template", "name": "feedback", "language": "en"}),
            ),
            bot(
                3,
                1,
                json!({"type": "closed_rating"}),
                json!({"type": "template", "name": "welcome", "language": "en"}),
            ),
        ];
        // The window closed at 8:00 this morning.
        let closed = ConversationState {
            session_expires_at: Some(at(8, 0)),
            ..lead()
        };
        let decision = decide(&bots, &closed, Event::Resolved, at(10, 0));
        let outcome: Vec<(Uuid, Option<SkipReason>)> = decision
            .replies
            .iter()
            .map(|reply| (reply.bot_id, reply.skipped))
            .collect();
        assert_eq!(
            outcome,
            [
                (id(1), Some(SkipReason::SessionClosed)),
                (id(2), Some(SkipReason::TemplateNotApproved)),
                (id(3), None),
            ]
        );
        // The skipped rating question is not waiting for an answer.
        assert_eq!(decision.memory.and_then(|memory| memory.dialogue), None);
    }

    #[test]
    fn a_message_older_than_a_day_opens_no_window_for_free_form_replies() {
        let bots = [bot(1, 0, keyword("price"), text("From $10"))];
        let late = decide(
            &bots,
            &lead(),
            message("price", at(10, 0)),
            at(10, 0) + Duration::hours(25),
        );
        assert_eq!(late.replies[0].skipped, Some(SkipReason::SessionClosed));
    }

    #[test]
    fn idle_is_scheduled_on_each_message_and_fires_only_when_still_due() {
        let bots = [bot(
            1,
            0,
            json!({"type": "idle", "minutes": 30}),
            text("Still there, {{first_name}}?"),
        )];
        let first = customer_says(&bots, &lead(), "hi");
        assert_eq!(
            first.timers,
            [TimerChange::Schedule {
                bot_id: id(1),
                at: at(10, 30)
            }]
        );
        let after_first = lead().after_inbound(at(10, 0));
        let second = decide(
            &bots,
            &after_first,
            message("hello?", at(10, 20)),
            at(10, 20),
        );
        assert_eq!(
            second.timers,
            [TimerChange::Schedule {
                bot_id: id(1),
                at: at(10, 50)
            }]
        );
        let after_second = after_first.after_inbound(at(10, 20));
        let stale = Event::Timer {
            bot_id: id(1),
            due: at(10, 30),
        };
        assert_eq!(
            decide(&bots, &after_second, stale, at(10, 30)),
            Decision::default()
        );
        let due = Event::Timer {
            bot_id: id(1),
            due: at(10, 50),
        };
        let fired = decide(&bots, &after_second, due, at(10, 50));
        assert_eq!(fired.matched, [id(1)]);
        assert_eq!(sent(&fired), [(id(1), "Still there, Ana?".to_owned())]);
    }

    #[test]
    fn no_staff_response_fires_while_the_customer_waits_for_a_person() {
        let bots = [
            bot(
                1,
                0,
                json!({"type": "human_request"}),
                text("A person will answer."),
            ),
            bot(
                2,
                0,
                json!({"type": "no_staff_response", "minutes": 15}),
                text("Sorry for the wait!"),
            ),
        ];
        let asked = customer_says(&bots, &lead(), "human please");
        assert!(asked.memory.clone().unwrap().paused);
        assert_eq!(
            asked.timers,
            [TimerChange::Schedule {
                bot_id: id(2),
                at: at(10, 15)
            }]
        );
        let waiting = with_memory(&lead().after_inbound(at(10, 0)), &asked);
        let timer = Event::Timer {
            bot_id: id(2),
            due: at(10, 15),
        };
        let fired = decide(&bots, &waiting, timer.clone(), at(10, 15));
        assert_eq!(sent(&fired), [(id(2), "Sorry for the wait!".to_owned())]);

        // Had staff answered first, the timer would do nothing.
        let answered = waiting.after_staff_reply();
        assert_eq!(
            decide(&bots, &answered, timer, at(10, 15)),
            Decision::default()
        );
    }

    #[test]
    fn the_timeout_reminder_comes_an_hour_before_the_window_closes() {
        let bots = [bot(
            1,
            0,
            json!({"type": "timeout_reminder", "minutes": 60}),
            text("Our chat closes in an hour."),
        )];
        let decision = customer_says(&bots, &lead(), "ok thanks");
        let closes = at(10, 0) + Duration::hours(24);
        assert_eq!(
            decision.timers,
            [TimerChange::Schedule {
                bot_id: id(1),
                at: closes - Duration::hours(1)
            }]
        );
        let after = lead().after_inbound(at(10, 0));
        let timer = Event::Timer {
            bot_id: id(1),
            due: closes - Duration::hours(1),
        };
        let fired = decide(&bots, &after, timer, closes - Duration::hours(1));
        assert_eq!(
            sent(&fired),
            [(id(1), "Our chat closes in an hour.".to_owned())]
        );
    }

    #[test]
    fn resolving_cancels_every_timer() {
        let bots = [
            bot(1, 0, json!({"type": "idle", "minutes": 30}), text("idle")),
            bot(
                2,
                0,
                json!({"type": "timeout_reminder", "minutes": 30}),
                text("reminder"),
            ),
        ];
        let conversation = lead().after_inbound(at(10, 0));
        let decision = decide(&bots, &conversation, Event::Resolved, at(10, 5));
        assert_eq!(
            decision.timers,
            [
                TimerChange::Cancel { bot_id: id(1) },
                TimerChange::Cancel { bot_id: id(2) }
            ]
        );
    }

    #[test]
    fn ai_answers_only_when_no_other_bot_did() {
        let bots = [
            bot(
                1,
                9,
                json!({"type": "business_hours"}),
                json!({"type": "ai", "instructions": "Be brief."}),
            ),
            bot(2, 0, keyword("price"), text("From $10")),
        ];
        let priced = customer_says(&bots, &lead(), "price?");
        assert_eq!(priced.matched, [id(1), id(2)]);
        assert_eq!(sent(&priced), [(id(2), "From $10".to_owned())]);
        assert!(priced.ai_requests.is_empty());

        let other = customer_says(&bots, &lead(), "do you ship to Recife?");
        assert!(other.replies.is_empty());
        assert_eq!(
            other.ai_requests,
            [AiRequest {
                bot_id: id(1),
                bot_name: "bot 1".into(),
                instructions: Some("Be brief.".into()),
                message: Some("do you ship to Recife?".into()),
                skipped: None,
            }]
        );
    }

    #[test]
    fn a_cooldown_keeps_a_bot_quiet_and_lets_the_next_one_answer() {
        let mut closed = bot(
            1,
            9,
            json!({"type": "outside_business_hours"}),
            text("We are closed."),
        );
        closed.cooldown_minutes = 12 * 60;
        let bots = [closed, bot(2, 0, keyword("price"), text("From $10"))];
        // 20:00 is after hours.
        let night = |conversation: &ConversationState, hour: u32| {
            decide(
                &bots,
                conversation,
                message("price", at(hour, 0)),
                at(hour, 0),
            )
        };
        let first = night(&lead(), 20);
        assert_eq!(sent(&first), [(id(1), "We are closed.".to_owned())]);
        let later = with_memory(&lead(), &first);
        let second = night(&later, 21);
        assert_eq!(second.replies[0].skipped, Some(SkipReason::CoolingDown));
        assert_eq!(sent(&second), [(id(2), "From $10".to_owned())]);
        // The cooldown is forgotten once over.
        let next_day = decide(
            &bots,
            &later,
            message("hi", at(10, 0) + Duration::days(1)),
            at(10, 0) + Duration::days(1),
        );
        assert!(next_day.memory.unwrap().last_replied.is_empty());
    }

    #[test]
    fn replies_name_their_bot_and_fill_variables() {
        let bots = [bot(
            1,
            0,
            keyword("hi"),
            text("Hi {{first_name}}, I am {{agent}}!"),
        )];
        let decision = customer_says(&bots, &lead(), "Hi!");
        assert_eq!(decision.replies[0].sent_by(), format!("bot:{}", id(1)));
        assert_eq!(decision.replies[0].bot_name, "bot 1");
        assert_eq!(sent(&decision)[0].1, "Hi Ana, I am!");
        assert_eq!(decision.memory, None, "a plain answer changes no memory");
    }

    #[test]
    fn a_dry_run_reports_without_changing_the_conversation() {
        let bots = [bot(1, 0, keyword("help"), shop_menu())];
        let conversation = lead();
        let hours = BusinessHours::default();
        let templates = approved();
        let context = Context {
            number_id: number(),
            now: at(10, 0),
            business_hours: &hours,
            approved_templates: &templates,
        };
        let preview = dry_run(&bots, &conversation, "help", at(10, 0), &context);
        assert_eq!(preview, customer_says(&bots, &conversation, "help"));
        assert_eq!(preview.matched, [id(1)]);
        assert!(
            preview.memory.is_some(),
            "the menu it would open is reported"
        );
        assert_eq!(conversation, lead());
    }

    // Properties over random bots and conversations.

    fn arb_word() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "hi", "price", "agent", "human", "1", "2", "menu", "back", "5", "help",
        ])
        .prop_map(str::to_owned)
    }

    fn arb_trigger() -> impl Strategy<Value = Value> {
        prop_oneof![
            arb_word().prop_map(|w| json!({"type": "exact", "values": [w]})),
            arb_word().prop_map(|w| json!({"type": "contains", "values": [w]})),
            arb_word()
                .prop_map(|w| json!({"type": "keyword", "keywords": [w], "synonyms": ["oi"]})),
            (arb_word(), arb_word())
                .prop_map(|(a, b)| json!({"type": "synonym", "groups": [[a], [b]]})),
            Just(json!({"type": "first_message"})),
            Just(json!({"type": "first_message_in_session"})),
            Just(json!({"type": "business_hours"})),
            Just(json!({"type": "outside_business_hours"})),
            Just(json!({"type": "human_request"})),
            (1u32..90).prop_map(|m| json!({"type": "idle", "minutes": m})),
            (1u32..90).prop_map(|m| json!({"type": "timeout_reminder", "minutes": m})),
            (1u32..90).prop_map(|m| json!({"type": "no_staff_response", "minutes": m})),
            Just(json!({"type": "closed_rating"})),
        ]
    }

    fn arb_response() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(text("hello {{first_name}}")),
            Just(json!({"type": "template", "name": "welcome", "language": "en"})),
            Just(json!({"type": "template", "name": "unapproved", "language": "en"})),
            Just(shop_menu()),
            Just(json!({"type": "flow", "start": "q", "nodes": [
                {"id": "q", "type": "question", "text": "Yes?", "variable": "answer"},
                {"id": "bye", "type": "end", "text": "Bye"},
                {"id": "human", "type": "handoff"}
            ], "edges": [
                {"from": "q", "to": "human", "condition": {"type": "equals", "value": "agent"}},
                {"from": "q", "to": "q", "condition": {"type": "equals", "value": "2"}},
                {"from": "q", "to": "bye", "condition": {"type": "else"}}
            ]})),
            Just(json!({"type": "rating"})),
            Just(json!({"type": "ai"})),
            Just(json!({"type": "media", "kind": "image", "link": "https://x.test/a.png"})),
        ]
    }

    fn arb_bots(continue_allowed: bool) -> impl Strategy<Value = Vec<Bot>> {
        prop::collection::vec(
            (
                arb_trigger(),
                arb_response(),
                -2i32..3,
                any::<bool>(),
                0usize..3,
                any::<bool>(),
                prop::sample::select(vec![0u32, 60]),
            ),
            0..7,
        )
        .prop_map(move |specs| {
            specs
                .into_iter()
                .enumerate()
                .map(
                    |(n, (trigger, response, priority, active, numbers, more, cooldown))| {
                        let mut bot = bot(n as u128 + 1, priority, trigger, response);
                        bot.is_active = active || n % 2 == 0;
                        bot.number_ids = match numbers {
                            0 => vec![],
                            1 => vec![number()],
                            _ => vec![id(0xBBBB)],
                        };
                        bot.continue_after = continue_allowed && more;
                        bot.cooldown_minutes = cooldown;
                        bot
                    },
                )
                .collect()
        })
    }

    fn arb_conversation() -> impl Strategy<Value = ConversationState> {
        let dialogue = prop_oneof![
            Just(None),
            (1u128..8, prop::collection::vec(0usize..3, 0..3)).prop_map(|(n, path)| Some(
                Dialogue::Menu(MenuState {
                    path,
                    ..MenuState::top(id(n))
                })
            )),
            (1u128..8).prop_map(|n| Some(Dialogue::Flow(crate::bots::FlowState {
                bot_id: id(n),
                node: "q".into(),
                variables: Default::default(),
            }))),
            (1u128..8).prop_map(|n| Some(Dialogue::Rating(crate::bots::RatingState::new(id(n))))),
        ];
        (
            prop::sample::select(vec![RelType::Lead, RelType::Contact, RelType::General]),
            0u64..3,
            prop::option::of(0i64..48),
            any::<bool>(),
            dialogue,
        )
            .prop_map(|(rel_type, before, expires, paused, dialogue)| {
                let mut conversation = ConversationState::new(rel_type);
                conversation.inbound_count_before = before;
                if before > 0 {
                    conversation.last_inbound_at = Some(at(8, 0));
                    conversation.unanswered_since = Some(at(8, 0));
                }
                conversation.session_expires_at = expires.map(|h| at(0, 0) + Duration::hours(h));
                conversation.memory.paused = paused;
                conversation.memory.dialogue = dialogue;
                conversation
            })
    }

    fn arb_text() -> impl Strategy<Value = String> {
        prop_oneof![
            arb_word(),
            (arb_word(), arb_word()).prop_map(|(a, b)| format!("{a} {b}!")),
            any::<String>(),
        ]
    }

    fn answering_bots(decision: &Decision) -> Vec<Uuid> {
        let mut bots: Vec<Uuid> = decision
            .replies
            .iter()
            .filter(|reply| reply.skipped.is_none())
            .map(|reply| reply.bot_id)
            .chain(
                decision
                    .ai_requests
                    .iter()
                    .filter(|request| request.skipped.is_none())
                    .map(|request| request.bot_id),
            )
            .collect();
        bots.dedup();
        bots
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn bots_never_answer_staff(
            bots in arb_bots(true),
            conversation in arb_conversation(),
            text in arb_text(),
            minute in 0u32..600,
        ) {
            let now = at(8, 0) + Duration::minutes(i64::from(minute));
            let from_staff = Event::Inbound { text: text.clone(), at: now, from_staff: true };
            let decision = decide(&bots, &conversation, from_staff, now);
            prop_assert_eq!(decision, Decision::silenced(Silence::StaffMessage));

            let staff = ConversationState { rel_type: RelType::Staff, ..conversation };
            for event in [
                message(&text, now),
                Event::Resolved,
                Event::StaffReplied,
                Event::Timer { bot_id: id(1), due: now },
            ] {
                prop_assert_eq!(decide(&bots, &staff, event, now), Decision::silenced(Silence::StaffNumber));
            }
        }

        #[test]
        fn at_most_one_bot_answers_a_message_without_continue(
            bots in arb_bots(false),
            conversation in arb_conversation(),
            text in arb_text(),
            hour in 0u32..24,
        ) {
            let decision = decide(&bots, &conversation, message(&text, at(hour, 0)), at(hour, 0));
            prop_assert!(answering_bots(&decision).len() <= 1, "{:?}", decision);
        }

        #[test]
        fn a_paused_conversation_gets_no_answer_to_a_message(
            bots in arb_bots(true),
            conversation in arb_conversation(),
            text in arb_text(),
        ) {
            let paused = ConversationState {
                memory: BotMemory { paused: true, ..conversation.memory.clone() },
                ..conversation
            };
            let decision = customer_says(&bots, &paused, &text);
            prop_assert!(decision.replies.is_empty() && decision.ai_requests.is_empty());
            prop_assert_eq!(decision.silenced, Some(Silence::BotsPaused));
        }

        /// Whatever happens, the memory's dialogue belongs to a bot of the right
        /// kind and points at a real menu level or flow question; every bot that
        /// answers took part; every timer set is in the future.
        #[test]
        fn decisions_leave_a_consistent_conversation(
            bots in arb_bots(true),
            conversation in arb_conversation(),
            texts in prop::collection::vec(arb_text(), 1..6),
        ) {
            let mut conversation = conversation;
            for (step, text) in texts.iter().enumerate() {
                let now = at(10, 0) + Duration::minutes(step as i64);
                let decision = decide(&bots, &conversation, message(text, now), now);
                for reply in &decision.replies {
                    let bot = bots.iter().find(|bot| bot.id == reply.bot_id);
                    prop_assert!(bot.is_some_and(|bot| bot.serves(number())));
                }
                for timer in &decision.timers {
                    if let TimerChange::Schedule { at, .. } = timer {
                        prop_assert!(*at > now);
                    }
                }
                let memory = decision.memory.clone().unwrap_or(conversation.memory.clone());
                if let Some(dialogue) = &memory.dialogue {
                    let owner = bots.iter().find(|bot| bot.id == dialogue.bot_id());
                    let fits = match (dialogue, owner.map(|bot| &bot.response)) {
                        (Dialogue::Menu(state), Some(Response::Menu(menu))) => menu.holds(state),
                        (Dialogue::Flow(state), Some(Response::Flow(flow))) => flow.holds(state),
                        (Dialogue::Rating(_), Some(Response::Rating { .. })) => true,
                        _ => false,
                    };
                    // A dialogue the conversation already had may be stale until a
                    // message reaches it; one the engine wrote must fit.
                    if decision.memory.as_ref().is_some_and(|m| m.dialogue != conversation.memory.dialogue) {
                        prop_assert!(fits, "{:?}", dialogue);
                    }
                }
                conversation = ConversationState {
                    memory,
                    ..conversation.after_inbound(now)
                };
            }
        }
    }
}
