//! The event types integrators subscribe to: a stable public catalogue, apart
//! from the internal events the SSE stream carries (`message.created` covers
//! both directions there; integrators asked for `message.received`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One entry of the catalogue. The wire name is [`EventType::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = WebhookEventType))]
pub enum EventType {
    /// A customer's message arrived (inbound `message.created`).
    #[serde(rename = "message.received")]
    MessageReceived,
    /// A message's delivery status moved (sent, delivered, read, failed).
    #[serde(rename = "message.status")]
    MessageStatus,
    /// A conversation was opened with a customer for the first time.
    #[serde(rename = "conversation.created")]
    ConversationCreated,
    /// A conversation was assigned to a staff member, or unassigned.
    #[serde(rename = "conversation.assigned")]
    ConversationAssigned,
    /// A conversation was marked resolved.
    #[serde(rename = "conversation.resolved")]
    ConversationResolved,
    /// A lead was created (through the API or by auto-lead).
    #[serde(rename = "lead.created")]
    LeadCreated,
    /// A campaign run finished.
    #[serde(rename = "campaign.completed")]
    CampaignCompleted,
    /// A CRM-event notification was sent.
    #[serde(rename = "notification.sent")]
    NotificationSent,
    /// wacrm disabled a webhook endpoint (410 Gone, or too many failures).
    #[serde(rename = "endpoint.disabled")]
    EndpointDisabled,
}

impl EventType {
    pub const ALL: [Self; 9] = [
        Self::MessageReceived,
        Self::MessageStatus,
        Self::ConversationCreated,
        Self::ConversationAssigned,
        Self::ConversationResolved,
        Self::LeadCreated,
        Self::CampaignCompleted,
        Self::NotificationSent,
        Self::EndpointDisabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MessageReceived => "message.received",
            Self::MessageStatus => "message.status",
            Self::ConversationCreated => "conversation.created",
            Self::ConversationAssigned => "conversation.assigned",
            Self::ConversationResolved => "conversation.resolved",
            Self::LeadCreated => "lead.created",
            Self::CampaignCompleted => "campaign.completed",
            Self::NotificationSent => "notification.sent",
            Self::EndpointDisabled => "endpoint.disabled",
        }
    }

    /// The catalogue entry an internal event (its `type`, and `direction` for
    /// messages) stands for; `None` for events integrators are not told of.
    /// The event fan-out (`persistence::events`) applies the same mapping in
    /// SQL; the end-to-end tests (`webhook_endpoints`) hold both to it.
    pub fn of_internal(kind: &str, direction: Option<&str>) -> Option<Self> {
        match (kind, direction) {
            ("message.created", Some("inbound")) => Some(Self::MessageReceived),
            ("message.created", _) => None,
            (other, _) => other.parse().ok(),
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type `{0}`")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| UnknownEventType(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back_as_itself() {
        for kind in EventType::ALL {
            assert_eq!(kind.as_str().parse::<EventType>(), Ok(kind));
        }
        assert!("message.created".parse::<EventType>().is_err());
    }

    #[test]
    fn serde_writes_the_wire_names() {
        for kind in EventType::ALL {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::from(kind.as_str())
            );
        }
    }

    #[test]
    fn only_inbound_messages_are_received_messages() {
        assert_eq!(
            EventType::of_internal("message.created", Some("inbound")),
            Some(EventType::MessageReceived)
        );
        assert_eq!(
            EventType::of_internal("message.created", Some("outbound")),
            None
        );
        assert_eq!(
            EventType::of_internal("message.status", None),
            Some(EventType::MessageStatus)
        );
        assert_eq!(
            EventType::of_internal("campaign.completed", None),
            Some(EventType::CampaignCompleted)
        );
        assert_eq!(EventType::of_internal("conversation.updated", None), None);
    }
}
