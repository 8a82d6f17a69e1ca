//! Template notifications on CRM events: an event is matched against the
//! active mappings of its type ([`matching`], run by `ProcessCrmEvent`), each
//! match is sent at once or scheduled as a job, and a send renders the
//! mapping's parameters from the event and hands a template message to the
//! outbox ([`sending`]), logging how it ended. A notification never fails the
//! CRM write that caused it: that write only stored the event.

pub mod matching;
mod record;
pub mod sending;

/// Who notification messages are sent by, in a message's `sent_by`.
pub fn sent_by(mapping_id: uuid::Uuid) -> String {
    format!("notification:{mapping_id}")
}

/// The unique key of a scheduled notification's job, by which a superseding
/// event cancels it.
pub fn job_key(notification_id: uuid::Uuid) -> String {
    format!("send_notification:{notification_id}")
}
