//! The ids a provider gives a message we send, and the rule that matches a
//! status report naming an id we never saw to the send it is about.
//!
//! Meta answers a send with the wamid, which its status reports name. TATA may
//! answer with only its own request id, and Whats91 holding a send until the
//! number reconnects answers with a `queueUid` (and `reportUid`): their status
//! reports name the wamid we were never told. Such a send is *unmatched* until
//! a status claims it: the first status naming an unknown wamid for a
//! recipient, on the same connection, is taken to be about the OLDEST
//! unmatched send to that recipient whose id was recorded within
//! [`REQUEST_CLAIM_WINDOW`] of the status's time (for a Whats91 queued send,
//! within [`QUEUE_CLAIM_WINDOW`] before it: the queue holds a send until the
//! number reconnects). The wamid is then the send's, and later statuses match
//! by it. Two sends to one customer in flight at once may be swapped, and a
//! send made outside wacrm within the window may be taken for ours.

use crate::Provider;

/// What an id is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// The id status reports name: the wamid (Lipachat: our own id, echoed).
    Message,
    /// TATA's id for the send request.
    Request,
    /// Whats91's queue entry for a send it holds until the number reconnects.
    Queue,
    /// Whats91's report row for a send.
    Report,
}

impl IdKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Request => "request",
            Self::Queue => "queue",
            Self::Report => "report",
        }
    }
}

/// How far apart a TATA send (its request id recorded) and the first status
/// naming an unknown wamid for the same recipient may be, either way (the
/// provider's clock and ours differ a little).
pub const REQUEST_CLAIM_WINDOW: chrono::Duration = chrono::Duration::minutes(10);

/// How long before its first status a send Whats91 queued may have been made.
pub const QUEUE_CLAIM_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// Whether the provider may accept a send without telling us the id its status
/// reports will name, so that statuses are matched by recipient as above.
pub fn statuses_may_need_claiming(provider: Provider) -> bool {
    matches!(provider, Provider::Tata | Provider::Whats91)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tata_and_whats91_sends_can_be_unmatched() {
        assert!(statuses_may_need_claiming(Provider::Tata));
        assert!(statuses_may_need_claiming(Provider::Whats91));
        assert!(!statuses_may_need_claiming(Provider::Meta));
        assert!(!statuses_may_need_claiming(Provider::Lipachat));
        assert_eq!(IdKind::Request.as_str(), "request");
    }
}
