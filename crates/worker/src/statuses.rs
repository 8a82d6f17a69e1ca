//! Status reports and the sends they are about.
//!
//! A report is matched by any id the provider gave the send, and only on the
//! connection it came on (a report posted to one connection never touches a
//! message sent through another). A report that finds no message is kept,
//! waiting: the delivery that records the send's ids applies it in the same
//! transaction. A report naming a wamid we were never told (TATA answering with
//! its request id, Whats91 queueing a send) claims the oldest unmatched send to
//! its recipient, by the rule in [`wacrm_domain::provider_id`]. Statuses only
//! move forward; every report stays in the message's history.
//!
//! Both sides lock the ids (and, where sends can be claimed, the recipient)
//! before looking: whichever commits second sees what the first wrote, so a
//! report that beats the delivery's commit is never lost.

use std::collections::HashMap;
use std::iter;

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;
use wacrm_domain::inbound::{ProviderError, StatusChange, StatusUpdate};
use wacrm_domain::provider_id::{
    IdKind, QUEUE_CLAIM_WINDOW, REQUEST_CLAIM_WINDOW, statuses_may_need_claiming,
};
use wacrm_domain::{MessageStatus, NormalizedPhone};
use wacrm_persistence::connections::Connection;
use wacrm_persistence::message_provider_ids::{self as provider_ids, ClaimWindows};
use wacrm_persistence::messages::{self, Message, StatusEvent};
use wacrm_persistence::{AsyncPgConnection, StoreResult};
use wacrm_providers::client::Sent;

/// Records a provider's report and moves the message it is about forward.
pub async fn apply_report(
    conn: &mut AsyncPgConnection,
    announcements: &mut Vec<Value>,
    connection: &Connection,
    update: StatusUpdate,
) -> StoreResult<()> {
    let wamid = update.provider_message_id.clone();
    let ids: Vec<String> = iter::once(wamid.clone())
        .chain(update.other_ids.iter().cloned())
        .collect();
    let recipient = update.recipient.as_deref().map(recipient_digits);
    let claimable = statuses_may_need_claiming(connection.provider);
    let mut keys: Vec<String> = ids
        .iter()
        .map(|id| provider_ids::id_key(connection.id, id))
        .collect();
    if let (true, Some(recipient)) = (claimable, &recipient) {
        keys.push(provider_ids::recipient_key(connection.id, recipient));
    }
    provider_ids::lock_keys(conn, &keys).await?;

    let mut message_id = provider_ids::find_message(conn, connection.id, &ids).await?;
    if let Some(found) = message_id {
        // A report naming a queued send's id beside the wamid teaches us the wamid.
        if !update.other_ids.is_empty() {
            learn_wamid(conn, connection.id, found, &wamid).await?;
        }
    } else if let (true, Some(recipient)) = (claimable, &recipient) {
        let windows = ClaimWindows {
            request: REQUEST_CLAIM_WINDOW,
            queue: QUEUE_CLAIM_WINDOW,
        };
        message_id =
            provider_ids::oldest_unmatched(conn, connection.id, recipient, update.at, windows)
                .await?;
        if let Some(claimed) = message_id {
            learn_wamid(conn, connection.id, claimed, &wamid).await?;
            // Reports for this wamid that came earlier and found nothing then.
            let waiting =
                messages::waiting_statuses(conn, connection.id, std::slice::from_ref(&wamid))
                    .await?;
            settle(conn, announcements, claimed, waiting).await?;
        }
    }

    let message = match message_id {
        Some(id) => Some(messages::lock(conn, id).await?),
        None => None,
    };
    let reported = match update.status {
        StatusChange::To(status) => Some(status),
        StatusChange::Deleted => None,
    };
    let applied = match (&message, reported) {
        (Some(message), Some(next)) => {
            MessageStatus::parse(&message.status).is_some_and(|current| current.advances_to(next))
        }
        _ => false,
    };
    let recorded = messages::record_status_event(
        conn,
        StatusEvent {
            id: Uuid::now_v7(),
            message_id: message.as_ref().map(|m| m.id),
            provider: connection.provider.as_str().into(),
            provider_message_id: wamid,
            status: reported.map_or("deleted", MessageStatus::as_str).into(),
            occurred_at: update.at,
            applied,
            errors: serde_json::to_value(&update.errors).unwrap_or_default(),
            billing: update.billing,
            created_at: Utc::now(),
            connection_id: Some(connection.id),
            recipient: recipient.clone(),
        },
    )
    .await?;
    if reported == Some(MessageStatus::Failed) && recorded {
        let codes = update.errors.iter().map(|error| error.code.as_str());
        crate::consent::learn_from_failure(conn, recipient.as_deref(), codes, update.at).await?;
    }
    let (Some(message), Some(next), true, true) = (message, reported, applied, recorded) else {
        return Ok(());
    };
    let error = (next == MessageStatus::Failed).then(|| failure(&update.errors));
    messages::set_status(conn, message.id, next.as_str(), error).await?;
    if next == MessageStatus::Failed {
        let codes = update.errors.iter().map(|error| error.code.as_str());
        crate::campaigns::failures::learn(conn, message.id, codes, update.at).await?;
    }
    announcements.push(announcement(&message, next));
    Ok(())
}

/// A send the provider accepted, to record.
pub struct AcceptedSend<'a> {
    pub connection: &'a Connection,
    pub message: &'a Message,
    /// Claims by recipient are for TATA and Whats91, which only send to
    /// phones; a user-id-only customer has none to claim by (`""`).
    pub customer_phone: &'a str,
    pub sent: &'a Sent,
}

/// Records the ids a provider accepted each send under, marks each `sent`,
/// and applies the reports that arrived before this (forward only, with
/// history), in the caller's transaction, with a statement per step for all
/// the sends. Answers, per send, the announcements of the reports applied.
pub async fn record_sent_all(
    conn: &mut AsyncPgConnection,
    sends: &[AcceptedSend<'_>],
) -> StoreResult<Vec<Vec<Value>>> {
    let unmatched = |send: &AcceptedSend<'_>| {
        statuses_may_need_claiming(send.connection.provider)
            && !send
                .sent
                .ids
                .iter()
                .any(|(kind, _)| *kind == IdKind::Message)
    };
    let mut keys = Vec::new();
    for send in sends {
        let connection_id = send.connection.id;
        keys.extend(
            send.sent
                .ids
                .iter()
                .map(|(_, id)| provider_ids::id_key(connection_id, id)),
        );
        if unmatched(send) {
            keys.push(provider_ids::recipient_key(
                connection_id,
                send.customer_phone,
            ));
        }
    }
    provider_ids::lock_keys(conn, &keys).await?;
    // Per connection: the ids recorded, and the reports waiting for them.
    let mut connections: Vec<Uuid> = sends.iter().map(|send| send.connection.id).collect();
    connections.sort_unstable();
    connections.dedup();
    let mut waiting: HashMap<Uuid, Vec<StatusEvent>> = HashMap::new();
    for connection_id in connections {
        let on_it: Vec<&AcceptedSend<'_>> = sends
            .iter()
            .filter(|send| send.connection.id == connection_id)
            .collect();
        let ids: Vec<(Uuid, &[(IdKind, String)])> = on_it
            .iter()
            .map(|send| (send.message.id, send.sent.ids.as_slice()))
            .collect();
        provider_ids::record_many(conn, connection_id, &ids).await?;
        let message_of: HashMap<&str, Uuid> = on_it
            .iter()
            .flat_map(|send| {
                send.sent
                    .ids
                    .iter()
                    .map(|(_, id)| (id.as_str(), send.message.id))
            })
            .collect();
        let wanted: Vec<String> = message_of.keys().map(|id| (*id).to_owned()).collect();
        for event in messages::waiting_statuses(conn, connection_id, &wanted).await? {
            if let Some(message_id) = message_of.get(event.provider_message_id.as_str()) {
                waiting.entry(*message_id).or_default().push(event);
            }
        }
    }
    let marked: Vec<(Uuid, &str)> = sends
        .iter()
        .map(|send| (send.message.id, send.sent.provider_message_id.as_str()))
        .collect();
    messages::mark_sent_many(conn, &marked).await?;

    let mut announced = Vec::with_capacity(sends.len());
    for send in sends {
        let mut announcements = Vec::new();
        let message_id = send.message.id;
        if let Some(events) = waiting.remove(&message_id) {
            settle(conn, &mut announcements, message_id, events).await?;
        }
        if unmatched(send) {
            // A report that beat this commit, naming the wamid we were not told.
            let now = Utc::now();
            let waiting = messages::waiting_statuses_to(
                conn,
                send.connection.id,
                send.customer_phone,
                now - REQUEST_CLAIM_WINDOW,
                now + REQUEST_CLAIM_WINDOW,
            )
            .await?;
            if let Some(first) = waiting.first() {
                let wamid = first.provider_message_id.clone();
                learn_wamid(conn, send.connection.id, message_id, &wamid).await?;
                let same: Vec<StatusEvent> = waiting
                    .into_iter()
                    .filter(|event| event.provider_message_id == wamid)
                    .collect();
                settle(conn, &mut announcements, message_id, same).await?;
            }
        }
        announced.push(announcements);
    }
    Ok(announced)
}

/// Links waiting reports (oldest first) to their message and moves it forward.
async fn settle(
    conn: &mut AsyncPgConnection,
    announcements: &mut Vec<Value>,
    message_id: Uuid,
    waiting: Vec<StatusEvent>,
) -> StoreResult<()> {
    if waiting.is_empty() {
        return Ok(());
    }
    let message = messages::lock(conn, message_id).await?;
    let start = MessageStatus::parse(&message.status);
    let mut current = start;
    let mut error = None;
    for event in waiting {
        let next = MessageStatus::parse(&event.status);
        let applied = match (current, next) {
            (Some(current), Some(next)) => current.advances_to(next),
            _ => false,
        };
        if applied {
            current = next;
            error = (next == Some(MessageStatus::Failed)).then(|| {
                let errors: Vec<ProviderError> =
                    serde_json::from_value(event.errors.clone()).unwrap_or_default();
                failure(&errors)
            });
        }
        messages::link_status_event(conn, event.id, message_id, applied).await?;
    }
    if let Some(settled) = current.filter(|settled| Some(*settled) != start) {
        messages::set_status(conn, message.id, settled.as_str(), error).await?;
        announcements.push(announcement(&message, settled));
    }
    Ok(())
}

/// The wamid of a send we knew only by other ids: stored, and shown with it.
async fn learn_wamid(
    conn: &mut AsyncPgConnection,
    connection_id: Uuid,
    message_id: Uuid,
    wamid: &str,
) -> StoreResult<()> {
    if provider_ids::has_message_id(conn, message_id).await? {
        return Ok(());
    }
    provider_ids::record(
        conn,
        connection_id,
        message_id,
        &[(IdKind::Message, wamid.to_owned())],
    )
    .await?;
    messages::set_provider_message_id(conn, message_id, wamid).await
}

/// A recipient as conversations store customers: E.164 digits when it is a phone.
fn recipient_digits(recipient: &str) -> String {
    NormalizedPhone::parse(recipient, None)
        .map(|phone| phone.as_str().to_owned())
        .unwrap_or_else(|_| recipient.to_owned())
}

/// The message's `error` for a failure the provider reported.
fn failure(errors: &[ProviderError]) -> Value {
    let first = errors.first();
    json!({
        "code": "delivery_failed",
        "title": first.map_or("The provider could not deliver the message", |e| e.title.as_str()),
        "detail": first.and_then(|e| e.detail.clone()),
        "provider_code": first.map(|e| e.code.clone()),
    })
}

fn announcement(message: &Message, status: MessageStatus) -> Value {
    json!({"type": "message.status", "message_id": message.id, "conversation_id": message.conversation_id, "status": status.as_str()})
}
