//! Events in: records a CRM event in the caller's transaction with the job
//! that processes it, so the write that caused it (a new lead, an API call)
//! commits or rolls back with it and never waits for a notification.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;
use wacrm_domain::crm_events::EventType;
use wacrm_persistence::crm_events::{self, CrmEvent, NewCrmEvent, SOURCE_INTERNAL};
use wacrm_persistence::{AsyncPgConnection, StoreError, StoreResult};

use crate::jobs::ProcessCrmEvent;

/// An event as stored, and whether this call stored it (`false`: the same
/// source and key arrived before, and nothing new was queued).
pub struct Recorded {
    pub event: CrmEvent,
    pub new: bool,
}

/// Stores the event under `source` and `key` and queues its processing; the
/// first event stored under that key when there is one.
pub async fn record(
    conn: &mut AsyncPgConnection,
    source: &str,
    key: &str,
    kind: EventType,
    occurred_at: DateTime<Utc>,
    data: Value,
    now: DateTime<Utc>,
) -> StoreResult<Recorded> {
    let new = NewCrmEvent {
        id: Uuid::now_v7(),
        source: source.to_owned(),
        key: key.to_owned(),
        kind: kind.as_str().to_owned(),
        occurred_at,
        subject: kind.subject(&data),
        data,
        received_at: now,
    };
    match crm_events::insert(conn, new).await? {
        Some(event) => {
            crate::enqueue(conn, &ProcessCrmEvent { event_id: event.id })
                .await
                .map_err(|error| StoreError::Corrupt(error.to_string()))?;
            Ok(Recorded { event, new: true })
        }
        None => Ok(Recorded {
            event: crm_events::find_by_key(conn, source, key).await?,
            new: false,
        }),
    }
}

/// Emits one of our own events (`lead_created` for lead `record_id`, …) in the
/// transaction that wrote the record. The caller wakes the workers after its
/// commit (`JobSignal::jobs_queued`).
pub async fn emit(
    conn: &mut AsyncPgConnection,
    kind: EventType,
    record_id: Uuid,
    data: Value,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let key = format!("{}:{record_id}", kind.as_str());
    record(conn, SOURCE_INTERNAL, &key, kind, now, data, now).await?;
    Ok(())
}

/// A lead as its `lead_created` event carries it.
pub fn lead_data(lead: &wacrm_persistence::leads::Lead) -> Value {
    serde_json::json!({"id": lead.id, "name": lead.name, "phone": lead.phone,
        "phone_normalized": lead.phone_normalized, "email": lead.email,
        "status_id": lead.status_id, "source_id": lead.source_id,
        "assigned_staff_id": lead.assigned_staff_id, "staff_id": lead.assigned_staff_id})
}

/// A contact as its `contact_created` event carries it.
pub fn contact_data(contact: &wacrm_persistence::contacts::Contact) -> Value {
    serde_json::json!({"id": contact.id, "name": contact.name, "phone": contact.phone,
        "phone_normalized": contact.phone_normalized, "email": contact.email,
        "company": contact.company})
}

/// A ticket as its `ticket_created` event carries it.
pub fn ticket_data(ticket: &wacrm_persistence::tickets::Ticket) -> Value {
    serde_json::json!({"id": ticket.id, "subject": ticket.subject,
        "priority": ticket.priority, "status": ticket.status,
        "contact_id": ticket.contact_id, "lead_id": ticket.lead_id,
        "staff_id": ticket.assigned_to, "conversation_id": ticket.conversation_id})
}
