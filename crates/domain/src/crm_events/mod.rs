//! CRM events: what happened in the CRM that may notify someone on WhatsApp
//! (seed 001's `whatsapp_api` hooks). Our own lead, contact and ticket writes
//! emit them; the host CRM reports the rest with `POST /api/v1/events`.
//!
//! An event's `data` is kept as the caller sent it (extra fields included, so
//! a mapping can use them); [`payloads`] only checks that the fields each type
//! promises are there and well typed.

pub mod payloads;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The event types a mapping can listen to: seed 001's ten hooks, and
/// `invoice_paid`, which also cancels the invoice's pending reminders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = CrmEventType))]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    LeadCreated,
    WebToLeadFormSubmitted,
    ContactCreated,
    AfterInvoiceAdded,
    InvoicePaid,
    AfterAddTask,
    AfterAddProject,
    ProposalCreated,
    AfterPaymentAdded,
    TicketCreated,
    AfterCronRun,
}

/// The roots every event's record has besides its own (see [`EventType::root`]):
/// the related records the worker loads by id, and the event itself.
pub const RELATED_ROOTS: [&str; 4] = ["contact", "lead", "staff", "event"];

impl EventType {
    pub const ALL: [Self; 11] = [
        Self::LeadCreated,
        Self::WebToLeadFormSubmitted,
        Self::ContactCreated,
        Self::AfterInvoiceAdded,
        Self::InvoicePaid,
        Self::AfterAddTask,
        Self::AfterAddProject,
        Self::ProposalCreated,
        Self::AfterPaymentAdded,
        Self::TicketCreated,
        Self::AfterCronRun,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LeadCreated => "lead_created",
            Self::WebToLeadFormSubmitted => "web_to_lead_form_submitted",
            Self::ContactCreated => "contact_created",
            Self::AfterInvoiceAdded => "after_invoice_added",
            Self::InvoicePaid => "invoice_paid",
            Self::AfterAddTask => "after_add_task",
            Self::AfterAddProject => "after_add_project",
            Self::ProposalCreated => "proposal_created",
            Self::AfterPaymentAdded => "after_payment_added",
            Self::TicketCreated => "ticket_created",
            Self::AfterCronRun => "after_cron_run",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Where the event's `data` sits in the record a mapping reads:
    /// `{{invoice.number}}` for an invoice event.
    pub fn root(self) -> &'static str {
        match self {
            Self::LeadCreated => "lead",
            Self::WebToLeadFormSubmitted => "form",
            Self::ContactCreated => "contact",
            Self::AfterInvoiceAdded | Self::InvoicePaid => "invoice",
            Self::AfterAddTask => "task",
            Self::AfterAddProject => "project",
            Self::ProposalCreated => "proposal",
            Self::AfterPaymentAdded => "payment",
            Self::TicketCreated => "ticket",
            Self::AfterCronRun => "reminder",
        }
    }

    /// Every root a mapping on this type may reference.
    pub fn roots(self) -> Vec<&'static str> {
        let mut roots = vec![self.root()];
        roots.extend(RELATED_ROOTS.iter().filter(|root| **root != self.root()));
        roots
    }

    /// What the event is about, when later events can supersede what it
    /// scheduled: `invoice:<number>` for invoice events.
    pub fn subject(self, data: &Value) -> Option<String> {
        match self {
            Self::AfterInvoiceAdded | Self::InvoicePaid => {
                let number = match data.get("number")? {
                    Value::String(text) => text.trim().to_owned(),
                    Value::Number(number) => number.to_string(),
                    _ => return None,
                };
                (!number.is_empty()).then(|| format!("invoice:{number}"))
            }
            _ => None,
        }
    }

    /// Whether this event cancels the reminders still pending for its subject
    /// (a paid invoice needs no "due in 3 days").
    pub fn supersedes(self) -> bool {
        self == Self::InvoicePaid
    }
}

/// The record a notification's parameters, condition and recipient are read
/// from: the event's data under its root, the related records the worker
/// found (`contact`, `lead`, `staff`, each `None` when unknown), and the
/// event's own `id`, `type` and `occurred_at` under `event`.
pub fn record(kind: EventType, event: Value, data: &Value, related: Related) -> Value {
    let mut record = serde_json::Map::new();
    for (root, found) in [
        ("contact", related.contact),
        ("lead", related.lead),
        ("staff", related.staff),
    ] {
        if let Some(found) = found {
            record.insert(root.to_owned(), found);
        }
    }
    record.insert(kind.root().to_owned(), data.clone());
    record.insert("event".to_owned(), event);
    Value::Object(record)
}

/// The records an event refers to, as the worker loaded them.
#[derive(Debug, Clone, Default)]
pub struct Related {
    pub contact: Option<Value>,
    pub lead: Option<Value>,
    pub staff: Option<Value>,
}

/// The ids of our records an event's data names: `contact_id`, `lead_id` and
/// the staff member (`staff_id`, or the record's assignee).
pub fn related_ids(data: &Value) -> RelatedIds {
    let id = |keys: &[&str]| {
        keys.iter()
            .find_map(|key| data.get(*key)?.as_str()?.parse::<uuid::Uuid>().ok())
    };
    RelatedIds {
        contact: id(&["contact_id"]),
        lead: id(&["lead_id"]),
        staff: id(&["staff_id", "assigned_staff_id", "assigned_to"]),
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelatedIds {
    pub contact: Option<uuid::Uuid>,
    pub lead: Option<uuid::Uuid>,
    pub staff: Option<uuid::Uuid>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_type_parses_back_to_itself() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
            let named: EventType = serde_json::from_value(json!(kind.as_str())).unwrap();
            assert_eq!(named, kind);
        }
        assert_eq!(EventType::parse("lead_deleted"), None);
    }

    #[test]
    fn invoices_are_subjects_that_a_payment_supersedes() {
        let data = json!({"number": "INV-7", "total": 10});
        assert_eq!(
            EventType::AfterInvoiceAdded.subject(&data).as_deref(),
            Some("invoice:INV-7")
        );
        assert_eq!(
            EventType::InvoicePaid
                .subject(&json!({"number": 7}))
                .as_deref(),
            Some("invoice:7")
        );
        assert!(EventType::InvoicePaid.supersedes());
        assert!(!EventType::AfterInvoiceAdded.supersedes());
        assert_eq!(EventType::AfterAddTask.subject(&data), None);
    }

    #[test]
    fn the_record_puts_data_under_its_root_beside_the_related_records() {
        let lead = uuid::Uuid::now_v7();
        let data = json!({"number": "INV-7", "lead_id": lead.to_string()});
        assert_eq!(related_ids(&data).lead, Some(lead));
        let record = record(
            EventType::AfterInvoiceAdded,
            json!({"id": "e1"}),
            &data,
            Related {
                lead: Some(json!({"name": "Asha"})),
                ..Related::default()
            },
        );
        assert_eq!(record["invoice"]["number"], "INV-7");
        assert_eq!(record["lead"]["name"], "Asha");
        assert_eq!(record["event"]["id"], "e1");
        assert!(record.get("contact").is_none());
        assert_eq!(
            EventType::LeadCreated.roots(),
            ["lead", "contact", "staff", "event"]
        );
    }
}
