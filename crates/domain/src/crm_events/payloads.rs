//! The `data` each event type carries, as the OpenAPI document describes it
//! and as [`check`] accepts it. Fields beyond these are kept and usable in
//! mappings (`{{invoice.client_name}}`); these are the ones integrators can
//! rely on, and the ones wacrm itself reads (`contact_id`, `lead_id`,
//! `staff_id`, an invoice's `number`, dates for reminders).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::EventType;

/// The host CRM's own id of a record: text or a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum ExternalId {
    Number(f64),
    Text(String),
}

/// Our records an event is about, by their wacrm ids: a mapping sends to the
/// contact, lead or staff member named here. An id that names none of ours
/// (another system's, or a deleted record) leaves that recipient without a
/// phone: its notifications are logged `no_phone`, the event is still taken.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Links {
    /// A contact's id (a UUID); any other text is taken and names no one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    /// A lead's id (a UUID); any other text is taken and names no one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<String>,
    /// The staff member concerned (assignee, owner), by id (a UUID); any other
    /// text is taken and names no one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_id: Option<String>,
}

macro_rules! payload {
    ($(#[$meta:meta])* $name:ident { $($(#[$field_meta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct $name {
            $($(#[$field_meta])* pub $field: $ty,)*
            #[serde(flatten)]
            pub links: Links,
        }
    };
}

payload!(
    /// `lead_created`: a lead (ours, or the host CRM's).
    LeadData {
        #[serde(default)] id: Option<ExternalId>,
        name: String,
        #[serde(default)] phone: Option<String>,
        #[serde(default)] email: Option<String>,
        #[serde(default)] company: Option<String>,
    }
);

payload!(
    /// `web_to_lead_form_submitted`: what a web form collected.
    FormSubmissionData {
        #[serde(default)] form_id: Option<ExternalId>,
        form_name: String,
        #[serde(default)] name: Option<String>,
        #[serde(default)] phone: Option<String>,
        #[serde(default)] email: Option<String>,
        /// The form's other answers by field name.
        #[serde(default)] fields: Option<serde_json::Map<String, Value>>,
    }
);

payload!(
    /// `contact_created`: a customer contact.
    ContactData {
        #[serde(default)] id: Option<ExternalId>,
        name: String,
        #[serde(default)] phone: Option<String>,
        #[serde(default)] email: Option<String>,
        #[serde(default)] company: Option<String>,
    }
);

payload!(
    /// `after_invoice_added` and `invoice_paid`: an invoice. Its `number`
    /// identifies it: `invoice_paid` with the same number cancels the
    /// invoice's pending reminders.
    InvoiceData {
        #[serde(default)] id: Option<ExternalId>,
        number: String,
        total: f64,
        /// ISO 4217, e.g. `KES`.
        currency: String,
        /// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time: what reminders count from.
        #[serde(default)] #[cfg_attr(feature = "openapi", schema(format = Date))] due_date: Option<String>,
        /// Where the customer views or pays it.
        #[serde(default)] link: Option<String>,
        #[serde(default)] status: Option<String>,
    }
);

payload!(
    /// `after_add_task`: a task.
    TaskData {
        #[serde(default)] id: Option<ExternalId>,
        name: String,
        /// `YYYY-MM-DD` or an RFC 3339 time.
        #[serde(default)] #[cfg_attr(feature = "openapi", schema(format = Date))] due_date: Option<String>,
        #[serde(default)] priority: Option<String>,
        #[serde(default)] link: Option<String>,
    }
);

payload!(
    /// `after_add_project`: a project.
    ProjectData {
        #[serde(default)] id: Option<ExternalId>,
        name: String,
        #[serde(default)] #[cfg_attr(feature = "openapi", schema(format = Date))] start_date: Option<String>,
        #[serde(default)] #[cfg_attr(feature = "openapi", schema(format = Date))] deadline: Option<String>,
        #[serde(default)] link: Option<String>,
    }
);

payload!(
    /// `proposal_created`: a proposal (quote) sent to a lead or customer.
    ProposalData {
        #[serde(default)] id: Option<ExternalId>,
        subject: String,
        #[serde(default)] total: Option<f64>,
        #[serde(default)] currency: Option<String>,
        /// `YYYY-MM-DD` or an RFC 3339 time.
        #[serde(default)] #[cfg_attr(feature = "openapi", schema(format = Date))] open_till: Option<String>,
        #[serde(default)] link: Option<String>,
    }
);

payload!(
    /// `after_payment_added`: a payment recorded against an invoice.
    PaymentData {
        #[serde(default)] id: Option<ExternalId>,
        amount: f64,
        currency: String,
        #[serde(default)] invoice_number: Option<String>,
        #[serde(default)] #[cfg_attr(feature = "openapi", schema(format = Date))] date: Option<String>,
        /// How it was paid (`bank`, `mpesa`, …).
        #[serde(default)] mode: Option<String>,
        #[serde(default)] link: Option<String>,
    }
);

payload!(
    /// `ticket_created`: a support ticket.
    TicketData {
        #[serde(default)] id: Option<ExternalId>,
        subject: String,
        #[serde(default)] priority: Option<String>,
        #[serde(default)] status: Option<String>,
        #[serde(default)] link: Option<String>,
    }
);

payload!(
    /// `after_cron_run`: a scheduled reminder the host CRM's cron raised.
    ReminderData {
        #[serde(default)] id: Option<ExternalId>,
        name: String,
        #[serde(default)] text: Option<String>,
        /// `YYYY-MM-DD` or an RFC 3339 time.
        #[serde(default)] #[cfg_attr(feature = "openapi", schema(format = Date))] due_at: Option<String>,
        #[serde(default)] link: Option<String>,
    }
);

/// An event's type with its typed `data`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum CrmEventBody {
    LeadCreated(LeadData),
    WebToLeadFormSubmitted(FormSubmissionData),
    ContactCreated(ContactData),
    AfterInvoiceAdded(InvoiceData),
    InvoicePaid(InvoiceData),
    AfterAddTask(TaskData),
    AfterAddProject(ProjectData),
    ProposalCreated(ProposalData),
    AfterPaymentAdded(PaymentData),
    TicketCreated(TicketData),
    AfterCronRun(ReminderData),
}

/// Checks that `data` is what `kind` promises; the message names the first
/// field that is not.
pub fn check(kind: EventType, data: &Value) -> Result<(), String> {
    if !data.is_object() {
        return Err("data must be an object".into());
    }
    let body = serde_json::json!({"type": kind.as_str(), "data": data});
    serde_json::from_value::<CrmEventBody>(body)
        .map(|_| ())
        .map_err(|error| error.to_string())?;
    for date in [
        "due_date",
        "due_at",
        "open_till",
        "start_date",
        "deadline",
        "date",
    ] {
        // Absent, null or empty: no date (a reminder on it is logged, not sent).
        if let Some(value) = data.get(date).filter(|value| {
            !value.is_null() && value.as_str().is_none_or(|text| !text.trim().is_empty())
        }) && crate::notifications::schedule::parse_time(value).is_none()
        {
            return Err(format!(
                "data.{date} must be a date (YYYY-MM-DD) or an RFC 3339 time"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_type_checks_its_own_fields() {
        let invoice = json!({"number": "INV-7", "total": 1250.5, "currency": "KES",
            "due_date": "2026-12-10", "client_name": "Asha"});
        assert!(check(EventType::AfterInvoiceAdded, &invoice).is_ok());
        let no_total = json!({"number": "INV-7", "currency": "KES"});
        let problem = check(EventType::AfterInvoiceAdded, &no_total).unwrap_err();
        assert!(problem.contains("total"), "{problem}");
        let bad_date =
            json!({"number": "INV-7", "total": 1, "currency": "KES", "due_date": "soon"});
        assert!(
            check(EventType::InvoicePaid, &bad_date)
                .unwrap_err()
                .contains("due_date")
        );
        assert!(check(EventType::LeadCreated, &json!({"name": "Asha", "id": 42})).is_ok());
        assert!(check(EventType::LeadCreated, &json!([])).is_err());
        let bad_link = json!({"name": "Asha", "contact_id": 42});
        assert!(check(EventType::ContactCreated, &bad_link).is_err());
    }
}
