//! Runs the bots on one event of a conversation: builds what the domain engine
//! needs from the database, asks it what to do (`wacrm_domain::bots::evaluate`),
//! and applies the decision: replies through the outbox, memory, rating,
//! timers; then AI answers, outside the transaction.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use chrono::Utc;
use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;
use wacrm_domain::bots::{
    self, Bot, BotMemory, BusinessHours, Context, ConversationState, Event, TemplateKey,
    TimerChange,
};
use wacrm_domain::conversation::ConversationStatus;
use wacrm_domain::outbound::OutboundContent;
use wacrm_domain::{RelType, session};
use wacrm_persistence::conversations::Conversation;
use wacrm_persistence::jobs as queue;
use wacrm_persistence::{
    AsyncPgConnection, StoreError, bots as store, contacts, conversations, events, leads, numbers,
    settings, staff, templates,
};
use wacrm_providers::ai::{AiClient, Speaker, Turn};

use crate::ai_settings::{self, AiMode};
use crate::context::WorkerContext;
use crate::outbox::{self, Draft, OutboxError};
use crate::{Job, JobError, new_job};

/// How many recent messages an AI answer sees.
const AI_CONTEXT_MESSAGES: i64 = 20;

/// One event the bots of a conversation consider.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BotEvent {
    pub conversation_id: Uuid,
    /// The inbound message the event is about, if any.
    pub message_id: Option<Uuid>,
    pub event: Event,
}

/// The bot events of one processing batch (or of one staff action, or one
/// timer), in the order they happened. One job per batch rather than one per
/// message keeps the queue's churn (a row inserted, claimed and deleted, and
/// the dead index entries every claim then steps over) off each message.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "StoredRunBots")]
pub struct RunBots {
    pub events: Vec<BotEvent>,
}

/// A `run_bots` payload as stored: jobs queued before a job carried several
/// events hold one event.
#[derive(Deserialize)]
#[serde(untagged)]
enum StoredRunBots {
    Events { events: Vec<BotEvent> },
    One(BotEvent),
}

impl From<StoredRunBots> for RunBots {
    fn from(stored: StoredRunBots) -> Self {
        match stored {
            StoredRunBots::Events { events } => Self { events },
            StoredRunBots::One(event) => Self {
                events: vec![event],
            },
        }
    }
}

impl Job for RunBots {
    const KIND: &'static str = "run_bots";
    const MAX_ATTEMPTS: i32 = 5;
    type Context = WorkerContext;

    /// A timer is one per bot and conversation (its job carries it alone):
    /// scheduling again replaces it.
    fn unique_key(&self) -> Option<String> {
        match self.events.as_slice() {
            [
                BotEvent {
                    conversation_id,
                    event: Event::Timer { bot_id, .. },
                    ..
                },
            ] => Some(timer_key(*conversation_id, *bot_id)),
            _ => None,
        }
    }

    /// Also takes over the `run_bots` jobs queued behind this one (in one
    /// transaction, oldest first, with the bots, settings and templates read
    /// once); if that fails, the others are back in the queue and this job's
    /// events run alone.
    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        let cipher = ctx.cipher.clone();
        let together = conn
            .transaction::<_, StoreError, _>(async |conn| {
                let mut events = self.events.clone();
                for payload in queue::take_queued(conn, Self::KIND, JOBS_TAKEN_OVER).await? {
                    let job: Self = serde_json::from_value(payload)
                        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
                    events.extend(job.events);
                }
                decide_and_apply_all(conn, &cipher, events).await
            })
            .await;
        let ai = match together {
            Ok(ai) => ai,
            Err(error) => {
                tracing::warn!(%error, "bots failed on a batch of events; this job's events run alone");
                self.run_alone(&mut conn, &cipher).await?
            }
        };
        for (conversation_id, request) in ai {
            answer_with_ai(ctx, &mut conn, conversation_id, request).await;
        }
        // Replies and timers may have been queued.
        ctx.signal.jobs_queued();
        Ok(())
    }
}

impl RunBots {
    /// This job's events without the jobs taken over. If they fail together
    /// and are several, each is queued again as a job of its own (all in one
    /// transaction, so that none is lost or applied twice): the failure then
    /// stays with the event that causes it, which is retried and counted on
    /// its own, as when every message had its job.
    async fn run_alone(
        &self,
        conn: &mut AsyncPgConnection,
        cipher: &wacrm_persistence::secrets::Cipher,
    ) -> Result<Vec<(Uuid, AiWork)>, JobError> {
        let alone = conn
            .transaction::<_, StoreError, _>(async |conn| {
                decide_and_apply_all(conn, cipher, self.events.clone()).await
            })
            .await;
        match alone {
            Ok(ai) => Ok(ai),
            Err(error) if self.events.len() == 1 => Err(retry(error)),
            Err(error) => {
                tracing::warn!(%error, events = self.events.len(), "bots failed on this job's events; each is queued again alone");
                let apart = self
                    .events
                    .iter()
                    .map(|event| {
                        new_job(&Self {
                            events: vec![event.clone()],
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(retry)?;
                queue::enqueue_many(conn, apart).await.map_err(retry)?;
                Ok(Vec::new())
            }
        }
    }
}

/// How many queued `run_bots` jobs one takes over (each carries the events
/// of one processing batch: up to a few hundred).
const JOBS_TAKEN_OVER: i64 = 4;

/// Runs the bots on each event in turn; returns the AI answers to ask for,
/// with their conversation.
async fn decide_and_apply_all(
    conn: &mut AsyncPgConnection,
    cipher: &wacrm_persistence::secrets::Cipher,
    mut events: Vec<BotEvent>,
) -> Result<Vec<(Uuid, AiWork)>, StoreError> {
    // Conversations locked in id order, as processing locks them; a
    // conversation's own events keep their order (the sort is stable).
    events.sort_by_key(|event| event.conversation_id);
    let mut known = KnownInputs::default();
    let mut first_events = FirstEvents::read(conn, &events).await?;
    let mut ai = Vec::new();
    for event in &events {
        // A conversation's first event is decided on what was read for the
        // whole batch, unlocked: most messages match no trigger and change
        // nothing, and their conversation is then never locked (a lock is a
        // write, and it waits for processing batches holding the row). That
        // decision is as if made just before any change being committed now.
        if let Some((conversation, state)) = first_events.take(event.conversation_id) {
            let decision = decide(conn, &mut known, event, &conversation, state).await?;
            if decision.changes_nothing() {
                continue;
            }
        }
        // Something to change (or a later event of a conversation, which an
        // earlier one may have changed): locked, read afresh, decided again.
        let conversation = match conversations::lock(conn, event.conversation_id).await {
            Ok(conversation) => conversation,
            Err(StoreError::NotFound) => continue,
            Err(error) => return Err(error),
        };
        let state = conversation_state(conn, &conversation, event.message_id).await?;
        let decision = decide(conn, &mut known, event, &conversation, state).await?;
        for work in apply(conn, cipher, &conversation, decision).await? {
            ai.push((event.conversation_id, work));
        }
    }
    Ok(ai)
}

/// The conversations of a batch of events, and each one's state before its
/// first event, read (unlocked) with a handful of queries for the whole batch
/// rather than a handful per event (a bot evaluates every inbound message, so
/// these reads are on ingest's critical path).
struct FirstEvents(HashMap<Uuid, (Conversation, ConversationState)>);

impl FirstEvents {
    /// `events` are in conversation id order.
    async fn read(conn: &mut AsyncPgConnection, events: &[BotEvent]) -> Result<Self, StoreError> {
        // Each conversation's first event (the events are sorted by conversation).
        let mut firsts: Vec<(Uuid, Uuid)> = events
            .iter()
            .map(|event| {
                (
                    event.conversation_id,
                    event.message_id.unwrap_or(Uuid::max()),
                )
            })
            .collect();
        firsts.dedup_by_key(|(conversation_id, _)| *conversation_id);
        let ids: Vec<Uuid> = firsts.iter().map(|(id, _)| *id).collect();
        let found = conversations::find_all(conn, &ids).await?;
        let mut histories: HashMap<Uuid, store::History> = ids
            .iter()
            .copied()
            .zip(store::histories(conn, &firsts).await?)
            .collect();
        let mut memories: HashMap<Uuid, store::ConversationBots> = store::memories_of(conn, &ids)
            .await?
            .into_iter()
            .map(|row| (row.conversation_id, row))
            .collect();
        let linked = |kind: RelType| -> Vec<Uuid> {
            found
                .iter()
                .filter(|c| RelType::parse(&c.rel_type) == Some(kind))
                .filter_map(|c| c.rel_id)
                .collect()
        };
        let names: HashMap<Uuid, String> = store::record_names(
            conn,
            &linked(RelType::Lead),
            &linked(RelType::Contact),
            &linked(RelType::Staff),
        )
        .await?
        .into_iter()
        .collect();
        let mut read = HashMap::new();
        for conversation in found {
            let Some(history) = histories.remove(&conversation.id) else {
                continue;
            };
            let name = conversation.rel_id.and_then(|id| names.get(&id).cloned());
            let memory = memories.remove(&conversation.id);
            let state = state_of(&conversation, history, memory, name);
            read.insert(conversation.id, (conversation, state));
        }
        Ok(Self(read))
    }

    /// The conversation and its state, for its first event only.
    fn take(&mut self, conversation_id: Uuid) -> Option<(Conversation, ConversationState)> {
        self.0.remove(&conversation_id)
    }
}

/// Numbers and [`Inputs`] read once per transaction.
#[derive(Default)]
struct KnownInputs {
    numbers: HashMap<Uuid, numbers::Number>,
    inputs: HashMap<Uuid, Inputs>,
}

fn timer_key(conversation_id: Uuid, bot_id: Uuid) -> String {
    format!("bot_timer:{conversation_id}:{bot_id}")
}

struct AiWork {
    bot_id: Uuid,
    instructions: Option<String>,
}

/// Everything the engine reads about a conversation, as of before the event.
pub async fn conversation_state(
    conn: &mut AsyncPgConnection,
    conversation: &Conversation,
    before_message: Option<Uuid>,
) -> Result<ConversationState, StoreError> {
    let history =
        store::history(conn, conversation.id, before_message.unwrap_or(Uuid::max())).await?;
    let memory = store::memory_of(conn, conversation.id).await?;
    let rel_type = RelType::parse(&conversation.rel_type).unwrap_or(RelType::General);
    let name = match (rel_type, conversation.rel_id) {
        (RelType::Lead, Some(id)) => leads::find(conn, id).await.ok().map(|lead| lead.name),
        (RelType::Contact, Some(id)) => contacts::find(conn, id)
            .await
            .ok()
            .map(|contact| contact.name),
        (RelType::Staff, Some(id)) => staff::find(conn, id).await.ok().map(|member| member.name),
        _ => None,
    };
    Ok(state_of(conversation, history, memory, name))
}

/// The engine's view of `conversation` from what was read about it; `name` is
/// its CRM record's (else the name WhatsApp reported is used).
fn state_of(
    conversation: &Conversation,
    history: store::History,
    memory: Option<store::ConversationBots>,
    name: Option<String>,
) -> ConversationState {
    let memory: BotMemory = memory
        .and_then(|row| serde_json::from_value(row.memory).ok())
        .unwrap_or_default();
    let rel_type = RelType::parse(&conversation.rel_type).unwrap_or(RelType::General);
    let name = name.or_else(|| conversation.profile_name.clone());
    let mut state = ConversationState::new(rel_type);
    state.status =
        ConversationStatus::parse(&conversation.status).unwrap_or(ConversationStatus::Open);
    if let Some(name) = name {
        state.variables.insert("name".into(), name);
    }
    if let Some(phone) = &conversation.customer_phone {
        state.variables.insert("phone".into(), format!("+{phone}"));
    }
    state.inbound_count_before = u64::try_from(history.inbound_before).unwrap_or(0);
    state.last_inbound_at = history.last_inbound_at;
    // The window before the event: 24 hours after the latest earlier message.
    state.session_expires_at = history.last_inbound_at.map(|at| at + session::WINDOW);
    state.unanswered_since = history.unanswered_since;
    state.memory = memory;
    state
}

/// The settings, templates and bots the engine decides with.
pub struct Inputs {
    pub bots: Vec<Bot>,
    pub hours: BusinessHours,
    pub approved: Vec<TemplateKey>,
}

pub async fn inputs(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
) -> Result<Inputs, StoreError> {
    let bots = store::active(conn)
        .await?
        .into_iter()
        .filter_map(|row| match serde_json::from_value::<Bot>(row.definition) {
            Ok(bot) => Some(bot),
            Err(error) => {
                tracing::error!(bot_id = %row.id, %error, "a stored bot cannot be read; skipped");
                None
            }
        })
        .collect();
    let hours: BusinessHours = settings::load(conn, BusinessHours::KEY).await?;
    let approved = templates::approved(conn, connection_id)
        .await?
        .into_iter()
        .map(|(name, language)| TemplateKey { name, language })
        .collect();
    Ok(Inputs {
        bots,
        hours,
        approved,
    })
}

/// What the bots decide about `event` of `conversation`, whose state before
/// the event is `state`.
async fn decide(
    conn: &mut AsyncPgConnection,
    known: &mut KnownInputs,
    event: &BotEvent,
    conversation: &Conversation,
    state: ConversationState,
) -> Result<bots::Decision, StoreError> {
    if let Entry::Vacant(entry) = known.numbers.entry(conversation.number_id) {
        entry.insert(numbers::find(conn, conversation.number_id).await?);
    }
    let number = &known.numbers[&conversation.number_id];
    if let Entry::Vacant(entry) = known.inputs.entry(number.connection_id) {
        entry.insert(inputs(conn, number.connection_id).await?);
    }
    let inputs = &known.inputs[&number.connection_id];
    let context = Context {
        number_id: number.id,
        now: Utc::now(),
        business_hours: &inputs.hours,
        approved_templates: &inputs.approved,
    };
    let decision = bots::evaluate(&inputs.bots, &state, &event.event, &context);
    if let Some(silence) = &decision.silenced {
        tracing::debug!(conversation_id = %conversation.id, ?silence, "bots silent");
    }
    Ok(decision)
}

/// Applies what the bots decided about the locked `conversation`.
async fn apply(
    conn: &mut AsyncPgConnection,
    cipher: &wacrm_persistence::secrets::Cipher,
    conversation: &Conversation,
    decision: bots::Decision,
) -> Result<Vec<AiWork>, StoreError> {
    let now = Utc::now();
    for reply in decision.replies {
        if let Some(reason) = reply.skipped {
            tracing::info!(bot = %reply.bot_name, conversation_id = %conversation.id, ?reason, "bot reply skipped");
            continue;
        }
        let sent_by = reply.sent_by();
        let draft = Draft {
            content: reply.content,
            context_message_id: None,
            sent_by,
        };
        match outbox::queue(conn, cipher, conversation, draft, now).await {
            Ok(_) => {}
            Err(OutboxError::Refused(refusal)) => {
                tracing::info!(bot = %reply.bot_name, conversation_id = %conversation.id, ?refusal, "bot reply refused by the sending rules");
            }
            Err(OutboxError::Store(error)) => return Err(error),
        }
    }
    if let Some(memory) = &decision.memory {
        let value =
            serde_json::to_value(memory).map_err(|error| StoreError::Corrupt(error.to_string()))?;
        store::save_memory(conn, conversation.id, &value).await?;
    }
    if let Some(rating) = decision.rating {
        store::save_rating(conn, conversation.id, i16::from(rating)).await?;
    }
    for timer in decision.timers {
        match timer {
            TimerChange::Schedule { bot_id, at } => {
                queue::cancel_queued(conn, &timer_key(conversation.id, bot_id)).await?;
                let fire = RunBots {
                    events: vec![BotEvent {
                        conversation_id: conversation.id,
                        message_id: None,
                        event: Event::Timer { bot_id, due: at },
                    }],
                };
                let mut job =
                    new_job(&fire).map_err(|error| StoreError::Corrupt(error.to_string()))?;
                job.run_at = Some(at);
                queue::enqueue(conn, job).await?;
            }
            TimerChange::Cancel { bot_id } => {
                queue::cancel_queued(conn, &timer_key(conversation.id, bot_id)).await?;
            }
        }
    }
    if decision.handoff {
        events::publish(
            conn,
            &json!({"type": "conversation.handoff", "conversation_id": conversation.id}),
        )
        .await?;
    }
    Ok(decision
        .ai_requests
        .into_iter()
        .filter(|request| request.skipped.is_none())
        .map(|request| AiWork {
            bot_id: request.bot_id,
            instructions: request.instructions,
        })
        .collect())
}

/// Asks the configured model and sends its answer (auto) or keeps it as a
/// suggestion (manual). Any failure leaves the conversation to staff.
async fn answer_with_ai(
    ctx: &WorkerContext,
    conn: &mut AsyncPgConnection,
    conversation_id: Uuid,
    work: AiWork,
) {
    let outcome = async {
        let settings = ai_settings::load(conn, &ctx.cipher).await.map_err(|e| e.to_string())?;
        let (Some(provider), Some(model), Some(api_key)) = (settings.provider, settings.model.as_deref(), settings.api_key.as_deref()) else {
            return Err("AI is not configured".to_owned());
        };
        if settings.mode == AiMode::Off {
            return Err("AI is off".to_owned());
        }
        let history: Vec<Turn> = store::recent_messages(conn, conversation_id, AI_CONTEXT_MESSAGES)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|(direction, text)| Turn {
                speaker: if direction == "inbound" { Speaker::Customer } else { Speaker::Business },
                text,
            })
            .collect();
        let instructions = work.instructions.clone().unwrap_or_else(|| {
            "You answer customers of this business on WhatsApp, briefly and politely. If you cannot help, say a person will follow up.".to_owned()
        });
        let client = AiClient {
            http: &ctx.http,
            provider,
            base_url: settings.base_url.as_deref().unwrap_or(provider.default_base_url()),
            model,
            api_key,
        };
        let answer = tokio::time::timeout(std::time::Duration::from_secs(30), client.reply(&instructions, &history))
            .await
            .map_err(|_| "the model did not answer in time".to_owned())?
            .result
            .map_err(|e| e.to_string())?;
        let sent_by = format!("bot:{}", work.bot_id);
        match settings.mode {
            AiMode::Manual => store::save_suggestion(conn, conversation_id, &answer).await.map_err(|e| e.to_string()),
            _ => conn
                .transaction::<_, StoreError, _>(async |conn| {
                    let conversation = conversations::lock(conn, conversation_id).await?;
                    let draft = Draft { content: OutboundContent::Text { text: answer.clone(), preview_url: false }, context_message_id: None, sent_by };
                    match outbox::queue(conn, &ctx.cipher, &conversation, draft, Utc::now()).await {
                        Ok(_) => Ok(()),
                        Err(OutboxError::Refused(refusal)) => Err(StoreError::Corrupt(format!("{refusal:?}"))),
                        Err(OutboxError::Store(error)) => Err(error),
                    }
                })
                .await
                .map_err(|e| e.to_string()),
        }
    }
    .await;
    if let Err(reason) = outcome {
        tracing::warn!(%conversation_id, bot_id = %work.bot_id, %reason, "AI answer not given; left to staff");
    }
}

fn retry(error: impl std::fmt::Display) -> JobError {
    JobError::retry(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_queued_with_one_event_is_read_as_a_job_of_that_event() {
        let conversation_id = Uuid::now_v7();
        let stored = json!({"conversation_id": conversation_id, "message_id": null,
            "event": serde_json::to_value(Event::Resolved).unwrap()});
        let job: RunBots = serde_json::from_value(stored).unwrap();
        assert_eq!(job.events.len(), 1);
        assert_eq!(job.events[0].conversation_id, conversation_id);
        let again: RunBots = serde_json::from_value(serde_json::to_value(&job).unwrap()).unwrap();
        assert_eq!(again.events.len(), 1);
        assert_eq!(again.events[0].conversation_id, conversation_id);
    }

    #[test]
    fn a_timer_is_unique_per_conversation_and_bot_and_a_batch_is_not() {
        let (conversation_id, bot_id) = (Uuid::now_v7(), Uuid::now_v7());
        let timer = BotEvent {
            conversation_id,
            message_id: None,
            event: Event::Timer {
                bot_id,
                due: Utc::now(),
            },
        };
        let alone = RunBots {
            events: vec![timer.clone()],
        };
        assert_eq!(alone.unique_key(), Some(timer_key(conversation_id, bot_id)));
        let batch = RunBots {
            events: vec![timer.clone(), timer],
        };
        assert_eq!(batch.unique_key(), None);
    }
}
