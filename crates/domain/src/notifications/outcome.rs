//! How a notification ended, and why: the log's `outcome` and `reason`.

use serde::{Deserialize, Serialize};

use crate::consent;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Waiting for its time (a delay or a reminder).
    Scheduled,
    /// Queued in the outbox as a message (its delivery status is the message's).
    Sent,
    /// Not sent, with the reason.
    Skipped,
    /// A scheduled notification that will not go (superseded, mapping removed).
    Cancelled,
}

impl Outcome {
    pub const ALL: [Self; 4] = [Self::Scheduled, Self::Sent, Self::Skipped, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Sent => "sent",
            Self::Skipped => "skipped",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == name)
    }
}

/// Why a notification was skipped or cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The recipient has no phone (or not one WhatsApp can reach).
    NoPhone,
    OptedOut,
    Blocked,
    TemplateNotFound,
    TemplateNotApproved,
    /// The parameters do not fit the template as it is now.
    TemplateParametersMismatch,
    /// A parameter's field is missing from the event, with no fallback.
    MissingField,
    /// The provider cannot send this template.
    UnsupportedByProvider,
    /// The reminder's time had passed when the event arrived.
    ReminderPassed,
    /// A later event (`invoice_paid`) cancelled the reminder.
    Superseded,
    /// The mapping was deactivated or deleted before the send.
    MappingInactive,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoPhone => "no_phone",
            Self::OptedOut => "opted_out",
            Self::Blocked => "blocked",
            Self::TemplateNotFound => "template_not_found",
            Self::TemplateNotApproved => "template_not_approved",
            Self::TemplateParametersMismatch => "template_parameters_mismatch",
            Self::MissingField => "missing_field",
            Self::UnsupportedByProvider => "unsupported_by_provider",
            Self::ReminderPassed => "reminder_passed",
            Self::Superseded => "superseded",
            Self::MappingInactive => "mapping_inactive",
        }
    }
}

impl From<consent::Refusal> for Reason {
    fn from(refusal: consent::Refusal) -> Self {
        match refusal {
            consent::Refusal::Blocked => Self::Blocked,
            consent::Refusal::OptedOut => Self::OptedOut,
        }
    }
}
