//! From an event to its notifications: each active mapping of the event's
//! type whose condition holds gets one log row (unique per event and mapping,
//! so a second processing sends nothing), then is sent at once or scheduled
//! as a `SendNotification` job at its delay or reminder time. An event that
//! supersedes (`invoice_paid`) first cancels the reminders still pending for
//! its subject.

use chrono::{DateTime, Utc};
use uuid::Uuid;
use wacrm_domain::crm_events::EventType;
use wacrm_domain::notifications::outcome::{Outcome, Reason};
use wacrm_domain::notifications::schedule::{self, Unschedulable};
use wacrm_persistence::crm_events::{self, CrmEvent};
use wacrm_persistence::jobs as queue;
use wacrm_persistence::notifications::log::{self, NewNotification, Settled};
use wacrm_persistence::notifications::mappings::{self, Mapping};
use wacrm_persistence::{AsyncPgConnection, StoreError, StoreResult};

use super::sending::{self, Definition};
use super::{job_key, record};
use crate::context::WorkerContext;
use crate::jobs::SendNotification;
use crate::new_job;

/// Processes the event once: later calls find it processed and do nothing.
pub async fn process_event(
    conn: &mut AsyncPgConnection,
    ctx: &WorkerContext,
    event_id: Uuid,
) -> StoreResult<()> {
    let event = match crm_events::lock(conn, event_id).await {
        Ok(event) => event,
        Err(StoreError::NotFound) => return Ok(()),
        Err(error) => return Err(error),
    };
    if event.processed_at.is_some() {
        return Ok(());
    }
    let now = ctx.clock.now();
    let Some(kind) = EventType::parse(&event.kind) else {
        tracing::warn!(event_id = %event.id, kind = %event.kind, "a CRM event of an unknown type is ignored");
        return crm_events::mark_processed(conn, event.id, now).await;
    };
    if kind.supersedes()
        && let Some(subject) = &event.subject
    {
        cancel_superseded(conn, subject, &event).await?;
    }
    let mappings = mappings::active_for(conn, kind.as_str()).await?;
    if !mappings.is_empty() {
        let record = record::of_event(conn, kind, &event).await?;
        for mapping in mappings {
            match Definition::of(&mapping) {
                Ok(definition) => {
                    notify(conn, ctx, &event, &record, &mapping, &definition, now).await?;
                }
                Err(error) => {
                    tracing::error!(mapping_id = %mapping.id, %error, "a stored notification mapping cannot be read");
                }
            }
        }
    }
    crm_events::mark_processed(conn, event.id, now).await
}

async fn notify(
    conn: &mut AsyncPgConnection,
    ctx: &WorkerContext,
    event: &CrmEvent,
    record: &serde_json::Value,
    mapping: &Mapping,
    definition: &Definition,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    if definition
        .condition
        .as_ref()
        .is_some_and(|condition| !condition.holds(record))
    {
        return Ok(());
    }
    let when = schedule::send_at(
        now,
        mapping.delay_minutes,
        definition.reminder.as_ref(),
        record,
    );
    let claim = NewNotification {
        id: Uuid::now_v7(),
        event_id: event.id,
        mapping_id: mapping.id,
        event_type: event.kind.clone(),
        subject: event.subject.clone(),
        outcome: Outcome::Scheduled.as_str().to_owned(),
        send_at: when.as_ref().ok().copied(),
    };
    let Some(notification) = log::insert(conn, claim).await? else {
        return Ok(());
    };
    let skipped = |reason: Reason, detail: String| Settled {
        outcome: Outcome::Skipped.as_str().to_owned(),
        reason: Some(reason.as_str().to_owned()),
        detail: Some(detail),
        ..Settled::default()
    };
    match when {
        Err(Unschedulable::MissingField(path)) => {
            let detail = format!("the reminder's field `{path}` is missing or not a date");
            log::settle(conn, notification.id, skipped(Reason::MissingField, detail)).await?;
        }
        Err(Unschedulable::Passed(at)) => {
            let detail = format!("the reminder's time ({at}) had passed when the event arrived");
            log::settle(
                conn,
                notification.id,
                skipped(Reason::ReminderPassed, detail),
            )
            .await?;
        }
        Ok(at) if at > now => {
            if already_superseded(conn, event).await? {
                log::settle(conn, notification.id, superseded_by(None)).await?;
                return Ok(());
            }
            let send = SendNotification {
                notification_id: notification.id,
            };
            let mut job = new_job(&send).map_err(|error| StoreError::Corrupt(error.to_string()))?;
            job.unique_key = Some(job_key(notification.id));
            job.run_at = Some(at);
            queue::enqueue(conn, job).await?;
        }
        Ok(_) => {
            sending::send(conn, ctx, mapping, definition, record, notification.id, now).await?;
        }
    }
    Ok(())
}

/// Whether a superseding event for this event's subject came first (an
/// invoice paid before its "due soon" reminder was scheduled).
async fn already_superseded(conn: &mut AsyncPgConnection, event: &CrmEvent) -> StoreResult<bool> {
    let Some(subject) = &event.subject else {
        return Ok(false);
    };
    // A superseding event's own notifications (a thank-you for the payment)
    // are not cancelled by itself.
    if EventType::parse(&event.kind).is_some_and(EventType::supersedes) {
        return Ok(false);
    }
    let superseding: Vec<&str> = EventType::ALL
        .into_iter()
        .filter(|kind| kind.supersedes())
        .map(EventType::as_str)
        .collect();
    crm_events::has_subject_event(conn, subject, &superseding).await
}

fn superseded_by(event: Option<&CrmEvent>) -> Settled {
    let detail = match event {
        Some(event) => format!("superseded by the {} event {}", event.kind, event.key),
        None => "the event's subject was superseded before the reminder was due".to_owned(),
    };
    Settled {
        outcome: Outcome::Cancelled.as_str().to_owned(),
        reason: Some(Reason::Superseded.as_str().to_owned()),
        detail: Some(detail),
        ..Settled::default()
    }
}

/// Cancels the scheduled notifications of `subject`: their jobs leave the
/// queue and their log rows say why.
async fn cancel_superseded(
    conn: &mut AsyncPgConnection,
    subject: &str,
    by: &CrmEvent,
) -> StoreResult<()> {
    for id in log::lock_scheduled_for(conn, subject).await? {
        queue::cancel_queued(conn, &job_key(id)).await?;
        log::settle(conn, id, superseded_by(Some(by))).await?;
    }
    Ok(())
}

/// Sends a notification whose time has come, unless it was settled meanwhile
/// (cancelled, or sent by an earlier attempt) or its mapping is gone or off.
pub async fn send_scheduled(
    conn: &mut AsyncPgConnection,
    ctx: &WorkerContext,
    notification_id: Uuid,
) -> StoreResult<()> {
    let notification = match log::lock(conn, notification_id).await {
        Ok(notification) => notification,
        Err(StoreError::NotFound) => return Ok(()),
        Err(error) => return Err(error),
    };
    if notification.outcome != Outcome::Scheduled.as_str() {
        return Ok(());
    }
    let mapping = match notification.mapping_id {
        Some(id) => match mappings::find(conn, id).await {
            Ok(mapping) => Some(mapping),
            Err(StoreError::NotFound) => None,
            Err(error) => return Err(error),
        },
        None => None,
    };
    let Some(mapping) = mapping.filter(|mapping| mapping.active) else {
        let settled = Settled {
            outcome: Outcome::Cancelled.as_str().to_owned(),
            reason: Some(Reason::MappingInactive.as_str().to_owned()),
            detail: Some("the mapping was deactivated or deleted before the send".into()),
            ..Settled::default()
        };
        log::settle(conn, notification.id, settled).await?;
        return Ok(());
    };
    let event = crm_events::find(conn, notification.event_id).await?;
    let Some(kind) = EventType::parse(&event.kind) else {
        return Ok(());
    };
    let definition =
        Definition::of(&mapping).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    let record = record::of_event(conn, kind, &event).await?;
    sending::send(
        conn,
        ctx,
        &mapping,
        &definition,
        &record,
        notification.id,
        ctx.clock.now(),
    )
    .await
}
