//! Turns stored webhook bodies into inbox changes.
//!
//! Ingest queues one job per group commit, and a job takes over the jobs of
//! its kind waiting behind it, so under load one transaction carries many
//! events. They are applied in one transaction: the settings, connections and
//! numbers are read once, and the follow-up jobs and real-time events are
//! written with one statement each, so a busy inbox costs one commit per batch
//! rather than one per message. If that transaction fails, the jobs taken over
//! are back in the queue and each of this job's events is applied in a
//! transaction of its own: the others go through and the failure stays with
//! the event that caused it. A panic counts as such a failure, and an event
//! whose own application panics ends failed with the panic as its reason.
//!
//! The job only touches the database, so the runner holds its claim in the
//! transaction it runs in (`TransactionalJob`): the batch and the per-event
//! fallback are savepoints of it. A node that dies mid-batch releases the job
//! with its connection, and another node takes it over at once.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wacrm_domain::Provider;
use wacrm_domain::bots::Event;
use wacrm_domain::inbound::{
    EchoedMessage, InboundEvent, InboundMessage, MarketingPreferenceUpdate, MessageRevision,
    SystemErrors,
};
use wacrm_persistence::connections::{self, Connection};
use wacrm_persistence::jobs::{self as queue, NewJob};
use wacrm_persistence::templates::TemplateChange;
use wacrm_persistence::webhook_events::{self, WebhookEvent};
use wacrm_persistence::{AsyncPgConnection, StoreError, bots, events, transaction};

use crate::contain::contained;
use crate::context::WorkerContext;
use crate::echoes::{self, EchoOutcome};
use crate::inbound::{self, Batch, InboundRules, MessageOutcome, Rejection};
use crate::jobs::{BotEvent, FetchMedia, ReplyToConsent, RunBots};
use crate::{Job, JobError, TransactionalJob, new_job};
use crate::{consent, provider_errors, revisions};

#[derive(Debug, Serialize, Deserialize)]
pub struct ProcessWebhooks {
    pub event_ids: Vec<Uuid>,
}

impl Job for ProcessWebhooks {
    const KIND: &'static str = "process_webhooks";
    type Context = WorkerContext;

    /// Outside the runner (tests, tools): on a connection of its own.
    async fn run(&self, ctx: &WorkerContext) -> Result<(), JobError> {
        let mut conn = ctx.pool.get().await.map_err(retry)?;
        self.run_in(ctx, &mut conn).await
    }
}

impl TransactionalJob for ProcessWebhooks {
    async fn run_in(
        &self,
        ctx: &WorkerContext,
        conn: &mut AsyncPgConnection,
    ) -> Result<(), JobError> {
        // Events applied by an earlier attempt are no longer pending.
        let events = webhook_events::find_pending(conn, &self.event_ids)
            .await
            .map_err(retry)?;
        // Where a panic leaves the connection is rolled back to here.
        let depth = transaction::depth(conn).map_err(retry)?;
        let mut connections = Connections::default();
        let batch = contained(apply(ctx, conn, &mut connections, &events, true)).await;
        let batch = match batch {
            Ok(Ok(queued)) => Ok(queued),
            Ok(Err(error)) => Err(error.to_string()),
            Err(panic) => {
                undo_after_panic(conn, depth).await?;
                Err(format!("panicked: {panic}"))
            }
        };
        let (queued, failure) = match batch {
            Ok(queued) => (queued, None),
            Err(error) => {
                tracing::warn!(%error, events = events.len(), "a batch of webhooks failed; applying its events one by one");
                let mut queued = false;
                let mut failure = None;
                for event in &events {
                    let one = std::slice::from_ref(event);
                    match contained(apply(ctx, conn, &mut connections, one, false)).await {
                        Ok(Ok(more)) => queued |= more,
                        Ok(Err(error)) => {
                            tracing::warn!(event_id = %event.id, %error, "webhook event not applied; it will be retried");
                            failure = Some(error);
                        }
                        // A panic is no passing fault: retrying would panic again.
                        Err(panic) => {
                            undo_after_panic(conn, depth).await?;
                            let reason = format!("processing this event panicked: {panic}");
                            tracing::error!(event_id = %event.id, %reason, "webhook event failed");
                            webhook_events::mark_failed(conn, event.id, &reason)
                                .await
                                .map_err(retry)?;
                        }
                    }
                }
                (queued, failure)
            }
        };
        if queued {
            ctx.signal.jobs_queued();
        }
        failure.map_or(Ok(()), |error| Err(retry(error)))
    }
}

/// A panic skips the rollback of the transaction (savepoint) it interrupted,
/// which stays open with its row locks and inserts: roll back to `depth`, where
/// the job started, before the events are tried again. If that fails the
/// connection is unusable, and so is the claim: the job fails and the runner
/// closes the connection.
async fn undo_after_panic(conn: &mut AsyncPgConnection, depth: u32) -> Result<(), JobError> {
    transaction::rollback_to(conn, depth).await.map_err(retry)
}

/// Connections as the events name them, decrypted once per job; `None` for a
/// deleted one.
#[derive(Default)]
struct Connections(HashMap<Uuid, Option<Connection>>);

impl Connections {
    async fn load(
        &mut self,
        conn: &mut AsyncPgConnection,
        ctx: &WorkerContext,
        id: Uuid,
    ) -> Result<(), StoreError> {
        if let Entry::Vacant(entry) = self.0.entry(id) {
            let found = match connections::find(conn, &ctx.cipher, id).await {
                Ok(connection) => Some(connection),
                Err(StoreError::NotFound) => None,
                Err(error) => return Err(error),
            };
            entry.insert(found);
        }
        Ok(())
    }

    fn get(&self, id: Uuid) -> Option<&Connection> {
        self.0.get(&id).and_then(Option::as_ref)
    }
}

/// How many waiting jobs one job takes over (each holds up to 64 events).
const JOBS_TAKEN_OVER: i64 = 8;

/// Applies `events` in one transaction, with those of the jobs waiting behind
/// this one when `take_over`; returns whether it queued jobs.
async fn apply(
    ctx: &WorkerContext,
    conn: &mut AsyncPgConnection,
    connections: &mut Connections,
    events: &[WebhookEvent],
    take_over: bool,
) -> Result<bool, StoreError> {
    conn.transaction::<_, StoreError, _>(async |conn| {
        let mut taken_over = Vec::new();
        if take_over {
            let mut event_ids = Vec::new();
            for payload in queue::take_queued(conn, ProcessWebhooks::KIND, JOBS_TAKEN_OVER).await? {
                let job: ProcessWebhooks = serde_json::from_value(payload).map_err(corrupt)?;
                event_ids.extend(job.event_ids);
            }
            taken_over = webhook_events::find_pending(conn, &event_ids).await?;
        }
        let events: Vec<&WebhookEvent> = events.iter().chain(&taken_over).collect();
        if events.is_empty() {
            return Ok(false);
        }
        let mut batch = Batch::new(InboundRules::load(conn).await?);
        let bots_active = bots::any_active(conn).await?;
        let mut rejections: Vec<Vec<Rejection>> = vec![Vec::new(); events.len()];

        // Every body parsed first: a body that cannot be parsed fails alone.
        let mut parsed = Vec::with_capacity(events.len());
        for (index, event) in events.iter().enumerate() {
            match parse(event) {
                Ok(items) => {
                    connections.load(conn, ctx, event.connection_id).await?;
                    parsed.push((index, items));
                }
                Err(reason) => rejections[index].push(reason),
            }
        }
        let mut messages = Vec::new();
        let mut senders_of = Vec::new();
        let mut statuses = Vec::new();
        let mut template_statuses = Vec::new();
        let mut customer_changes = Vec::new();
        let mut others = Others::default();
        for (index, items) in parsed {
            let Some(connection) = connections.get(events[index].connection_id) else {
                rejections[index].push("the connection was deleted".into());
                continue;
            };
            for item in items {
                match item {
                    InboundEvent::Message(message) => {
                        senders_of.push((index, false));
                        messages.push((connection, message));
                    }
                    InboundEvent::Status(update) => statuses.push((connection, update)),
                    InboundEvent::TemplateStatus(update) => {
                        template_statuses.push((connection, update));
                    }
                    InboundEvent::CustomerChanged(change) => {
                        customer_changes.push((index, connection, change));
                    }
                    other => others.sort(index, connection, other, &mut messages, &mut senders_of),
                }
            }
        }

        let mut follow_ups = FollowUps::new(bots_active);
        let outcomes = inbound::apply_messages(conn, &mut batch, messages).await?;
        follow_messages(senders_of, outcomes, &mut follow_ups, &mut rejections)?;
        // After the messages: a system message announcing the change lands in
        // the conversation it speaks of, which then takes the new identity.
        for (index, connection, change) in customer_changes {
            if let Err(rejection) =
                inbound::apply_customer_change(conn, &mut batch, connection, change).await?
            {
                rejections[index].push(rejection);
            }
        }
        others
            .apply(conn, &mut batch, &mut follow_ups, &mut rejections)
            .await?;
        for (connection, update) in statuses {
            inbound::apply_status(conn, &mut batch, connection, update).await?;
        }
        for (connection, update) in template_statuses {
            inbound::apply_template_status(conn, &mut batch, connection, update).await?;
        }

        let mut processed = Vec::with_capacity(events.len());
        for (event, rejections) in events.iter().copied().zip(rejections) {
            if rejections.is_empty() {
                processed.push(event.id);
            } else {
                let reason = rejections.join("; ");
                tracing::warn!(event_id = %event.id, %reason, "webhook event failed");
                webhook_events::mark_failed(conn, event.id, &reason).await?;
            }
        }
        webhook_events::mark_processed(conn, &processed).await?;
        events::publish_all(conn, &batch.announcements).await?;
        let follow_ups = follow_ups.into_jobs()?;
        let queued = !follow_ups.is_empty();
        queue::enqueue_many(conn, follow_ups).await?;
        Ok(queued)
    })
    .await
}

/// The jobs a batch queues after its events: per message, its media to fetch
/// or the reply to its stop or start word; and one `run_bots` job for all the
/// events the bots are to consider, in the order they happened (none while no
/// bot is active).
struct FollowUps {
    jobs: Vec<NewJob>,
    bots_active: bool,
    bot_events: Vec<BotEvent>,
}

impl FollowUps {
    fn new(bots_active: bool) -> Self {
        Self {
            jobs: Vec::new(),
            bots_active,
            bot_events: Vec::new(),
        }
    }

    fn for_bots(&mut self, event: BotEvent) {
        if self.bots_active {
            self.bot_events.push(event);
        }
    }

    fn into_jobs(mut self) -> Result<Vec<NewJob>, StoreError> {
        if !self.bot_events.is_empty() {
            let bots = RunBots {
                events: self.bot_events,
            };
            self.jobs.push(new_job(&bots).map_err(corrupt)?);
        }
        Ok(self.jobs)
    }
}

/// The jobs that follow stored messages (media to fetch; the reply to a stop or
/// start word, or else the bots), and the rejections of those that could not be
/// stored. A welcome request (`true`) gives the bots no text to match: it is the
/// start of the conversation, for `first_message`.
fn follow_messages(
    senders_of: Vec<(usize, bool)>,
    outcomes: Vec<Result<MessageOutcome, Rejection>>,
    follow_ups: &mut FollowUps,
    rejections: &mut [Vec<Rejection>],
) -> Result<(), StoreError> {
    for ((index, welcome), outcome) in senders_of.into_iter().zip(outcomes) {
        match outcome {
            Ok(MessageOutcome::Stored {
                message_id,
                media,
                mut bots,
                keyword,
            }) => {
                if media {
                    follow_ups
                        .jobs
                        .push(new_job(&FetchMedia { message_id }).map_err(corrupt)?);
                }
                if let Some(state) = keyword {
                    let reply = ReplyToConsent {
                        conversation_id: bots.conversation_id,
                        state,
                    };
                    follow_ups.jobs.push(new_job(&reply).map_err(corrupt)?);
                    continue;
                }
                if welcome {
                    if let Event::Inbound { text, .. } = &mut bots.event {
                        text.clear();
                    }
                }
                follow_ups.for_bots(bots);
            }
            Ok(MessageOutcome::Duplicate) => {}
            Err(rejection) => rejections[index].push(rejection),
        }
    }
    Ok(())
}

/// The events beyond messages, statuses and template statuses, each with the index
/// of the webhook it came in.
#[derive(Default)]
struct Others<'c> {
    echoes: Vec<(usize, &'c Connection, EchoedMessage)>,
    revisions: Vec<(usize, &'c Connection, MessageRevision)>,
    preferences: Vec<(usize, MarketingPreferenceUpdate)>,
    templates: Vec<(&'c Connection, InboundEvent)>,
    system_errors: Vec<(&'c Connection, SystemErrors)>,
}

impl<'c> Others<'c> {
    /// Files one event; a welcome request joins the messages, marked as one.
    fn sort(
        &mut self,
        index: usize,
        connection: &'c Connection,
        event: InboundEvent,
        messages: &mut Vec<(&'c Connection, InboundMessage)>,
        senders_of: &mut Vec<(usize, bool)>,
    ) {
        match event {
            InboundEvent::WelcomeRequest(message) => {
                senders_of.push((index, true));
                messages.push((connection, message));
            }
            InboundEvent::Echo(echo) => self.echoes.push((index, connection, echo)),
            InboundEvent::Revision(revision) => {
                self.revisions.push((index, connection, revision));
            }
            InboundEvent::MarketingPreference(update) => self.preferences.push((index, update)),
            InboundEvent::SystemErrors(errors) => self.system_errors.push((connection, errors)),
            template => self.templates.push((connection, template)),
        }
    }

    /// Echoes first, then revisions (which may name a message or echo applied just
    /// before them); a revision of a message that is not ours applies as what it
    /// carries instead.
    async fn apply(
        self,
        conn: &mut AsyncPgConnection,
        batch: &mut Batch,
        follow_ups: &mut FollowUps,
        rejections: &mut [Vec<Rejection>],
    ) -> Result<(), StoreError> {
        let mut echoes = self.echoes;
        let first = std::mem::take(&mut echoes);
        self::apply_echoes(conn, batch, first, follow_ups, rejections).await?;
        let mut instead_messages = Vec::new();
        let mut instead_senders = Vec::new();
        for (index, connection, revision) in self.revisions {
            match revisions::apply_revision(conn, batch, connection, revision).await? {
                Some(InboundEvent::Message(message)) => {
                    instead_senders.push((index, false));
                    instead_messages.push((connection, message));
                }
                Some(InboundEvent::Echo(echo)) => echoes.push((index, connection, echo)),
                Some(_) | None => {}
            }
        }
        if !instead_messages.is_empty() {
            let outcomes = inbound::apply_messages(conn, batch, instead_messages).await?;
            follow_messages(instead_senders, outcomes, follow_ups, rejections)?;
        }
        self::apply_echoes(conn, batch, echoes, follow_ups, rejections).await?;
        for (index, update) in self.preferences {
            if let Err(rejection) = consent::apply_marketing_preference(conn, update).await? {
                rejections[index].push(rejection);
            }
        }
        for (connection, event) in self.templates {
            let (template, change) = match &event {
                InboundEvent::TemplateQuality(update) => {
                    (&update.template, TemplateChange::Quality(&update.score))
                }
                InboundEvent::TemplateCategory(update) => {
                    (&update.template, TemplateChange::Category(&update.category))
                }
                InboundEvent::TemplateLock(update) => {
                    (&update.template, TemplateChange::Locked(update.locked))
                }
                _ => continue,
            };
            inbound::apply_template_change(conn, batch, connection, template, change).await?;
        }
        for (connection, errors) in self.system_errors {
            provider_errors::apply_system_errors(conn, batch, connection, errors).await?;
        }
        Ok(())
    }
}

async fn apply_echoes(
    conn: &mut AsyncPgConnection,
    batch: &mut Batch,
    echoes: Vec<(usize, &Connection, EchoedMessage)>,
    follow_ups: &mut FollowUps,
    rejections: &mut [Vec<Rejection>],
) -> Result<(), StoreError> {
    if echoes.is_empty() {
        return Ok(());
    }
    let (indexes, echoes): (Vec<usize>, Vec<_>) = echoes
        .into_iter()
        .map(|(index, connection, echo)| (index, (connection, echo)))
        .unzip();
    let outcomes = echoes::apply_echoes(conn, batch, echoes).await?;
    for (index, outcome) in indexes.into_iter().zip(outcomes) {
        match outcome {
            Ok(EchoOutcome::Stored {
                message_id,
                media,
                bots,
            }) => {
                if media {
                    follow_ups
                        .jobs
                        .push(new_job(&FetchMedia { message_id }).map_err(corrupt)?);
                }
                follow_ups.for_bots(bots);
            }
            Ok(EchoOutcome::Duplicate) => {}
            Err(rejection) => rejections[index].push(rejection),
        }
    }
    Ok(())
}

/// The events of one stored body, or why it cannot be read.
fn parse(event: &WebhookEvent) -> Result<Vec<InboundEvent>, Rejection> {
    let Some(provider) = Provider::parse(&event.provider) else {
        return Err(format!("unknown provider `{}`", event.provider));
    };
    wacrm_providers::parse(provider, &event.body, event.received_at)
        .map_err(|error| error.to_string())
}

fn corrupt(error: serde_json::Error) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

fn retry(error: impl std::fmt::Display) -> JobError {
    JobError::retry(error.to_string())
}
