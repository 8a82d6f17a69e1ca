//! The record a mapping reads from an event: its data under its root, with
//! the contact, lead and staff member it names loaded from our tables (read
//! at send time, so a reminder uses the phone as it is then).

use serde_json::{Value, json};
use wacrm_domain::crm_events::{self, EventType, Related};
use wacrm_persistence::crm_events::CrmEvent;
use wacrm_persistence::{AsyncPgConnection, StoreError, StoreResult, contacts, leads, staff};

/// `None` for a record that is gone (or was never ours).
fn found<T>(result: StoreResult<T>) -> StoreResult<Option<T>> {
    match result {
        Ok(row) => Ok(Some(row)),
        Err(StoreError::NotFound) => Ok(None),
        Err(error) => Err(error),
    }
}

pub async fn of_event(
    conn: &mut AsyncPgConnection,
    kind: EventType,
    event: &CrmEvent,
) -> StoreResult<Value> {
    let ids = crm_events::related_ids(&event.data);
    let mut related = Related::default();
    if let Some(id) = ids.contact.filter(|_| kind.root() != "contact") {
        related.contact = found(contacts::find(conn, id).await)?.map(|contact| {
            json!({"id": contact.id, "name": contact.name, "phone": contact.phone,
                   "phone_normalized": contact.phone_normalized, "email": contact.email,
                   "company": contact.company})
        });
    }
    if let Some(id) = ids.lead.filter(|_| kind.root() != "lead") {
        related.lead = found(leads::find(conn, id).await)?.map(|lead| {
            json!({"id": lead.id, "name": lead.name, "phone": lead.phone,
                   "phone_normalized": lead.phone_normalized, "email": lead.email})
        });
    }
    if let Some(id) = ids.staff {
        related.staff = found(staff::find(conn, id).await)?.map(|member| {
            json!({"id": member.id, "name": member.name, "phone": member.phone,
                   "phone_normalized": member.phone_normalized, "email": member.email})
        });
    }
    let about = json!({"id": event.key, "type": event.kind, "occurred_at": event.occurred_at});
    Ok(crm_events::record(kind, about, &event.data, related))
}
