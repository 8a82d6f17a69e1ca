//! Bulk campaigns: the rules that need no I/O. A campaign's lifecycle and
//! what each state allows, why a campaign stops by itself, why a recipient
//! is skipped, when runs happen ([`schedule`]) and when a recipient may be
//! messaged ([`quiet_hours`]).

pub mod quiet_hours;
pub mod schedule;

use serde::{Deserialize, Serialize};

pub use quiet_hours::QuietHours;
pub use schedule::Schedule;

/// The roots a campaign's parameters may read (`{{name}}`,
/// `{{custom_fields.plan}}`, `{{lead.status}}`); what each holds is built when
/// a run materialises its recipients.
pub const RECORD_ROOTS: &[&str] = &["name", "phone", "custom_fields", "lead", "contact"];

/// Where a campaign is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Being written; nothing is scheduled.
    Draft,
    /// Waiting for its next run.
    Scheduled,
    /// A run is sending.
    Running,
    /// Stopped by a person or by a condition (`pause_reason`); nothing is sent.
    Paused,
    /// No run is left to make.
    Completed,
    /// Stopped for good.
    Cancelled,
}

impl CampaignStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "draft" => Self::Draft,
            "scheduled" => Self::Scheduled,
            "running" => Self::Running,
            "paused" => Self::Paused,
            "completed" => Self::Completed,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }

    /// What may be edited: everything before a run has started, and between
    /// the runs of a recurring campaign.
    pub fn is_editable(self) -> bool {
        matches!(self, Self::Draft | Self::Scheduled)
    }

    /// A finished campaign never sends again.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled)
    }
}

/// Why a campaign or run stopped sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PauseReason {
    /// A person paused it; only a person resumes it.
    Manual,
    /// The template left APPROVED (paused or disabled by Meta).
    TemplateNotApproved,
    /// The provider refused the connection's credentials.
    ConnectionAuthFailed,
    /// The number's daily unique-recipient budget is used up; it resumes by
    /// itself when the moving 24 hours free some.
    DailyBudget,
    /// Too many of the latest sends failed.
    FailureRatio,
    /// The audience cannot be read (its segment was deleted).
    AudienceUnavailable,
}

impl PauseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::TemplateNotApproved => "template_not_approved",
            Self::ConnectionAuthFailed => "connection_auth_failed",
            Self::DailyBudget => "daily_budget",
            Self::FailureRatio => "failure_ratio",
            Self::AudienceUnavailable => "audience_unavailable",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "manual" => Self::Manual,
            "template_not_approved" => Self::TemplateNotApproved,
            "connection_auth_failed" => Self::ConnectionAuthFailed,
            "daily_budget" => Self::DailyBudget,
            "failure_ratio" => Self::FailureRatio,
            "audience_unavailable" => Self::AudienceUnavailable,
            _ => return None,
        })
    }

    /// Only the budget lifts by itself; everything else needs a person to
    /// fix the cause and resume.
    pub fn resumes_by_itself(self) -> bool {
        matches!(self, Self::DailyBudget)
    }
}

/// The latest sends a campaign's failure ratio is measured over.
pub const FAILURE_WINDOW: i64 = 200;
/// Fewer decided sends than this say nothing about the ratio yet.
pub const FAILURE_MIN_SAMPLE: i64 = 50;

/// A campaign pauses when more than this share of its latest sends failed.
pub const FAILURE_THRESHOLD: f64 = 0.5;

/// Whether `failed` of `decided` recent sends is over `threshold` (0..1).
pub fn failing_too_often(failed: i64, decided: i64, threshold: f64) -> bool {
    if decided < FAILURE_MIN_SAMPLE {
        return false;
    }
    #[expect(
        clippy::cast_precision_loss,
        reason = "counts of at most FAILURE_WINDOW"
    )]
    let ratio = failed as f64 / decided as f64;
    ratio > threshold
}

/// The messaging-limit tiers Meta assigns a number (distinct customers per
/// moving 24 hours); a number's budget is one of them or unlimited.
pub const MESSAGING_TIERS: &[i32] = &[250, 1_000, 2_000, 10_000, 100_000];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failure_ratio_needs_a_sample() {
        assert!(!failing_too_often(40, 40, 0.5));
        assert!(failing_too_often(60, 100, 0.5));
        assert!(!failing_too_often(50, 100, 0.5));
    }

    #[test]
    fn statuses_round_trip_and_say_what_they_allow() {
        for status in [
            CampaignStatus::Draft,
            CampaignStatus::Scheduled,
            CampaignStatus::Running,
            CampaignStatus::Paused,
            CampaignStatus::Completed,
            CampaignStatus::Cancelled,
        ] {
            assert_eq!(CampaignStatus::parse(status.as_str()), Some(status));
        }
        assert!(CampaignStatus::Draft.is_editable());
        assert!(!CampaignStatus::Running.is_editable());
        assert!(PauseReason::DailyBudget.resumes_by_itself());
        assert!(!PauseReason::Manual.resumes_by_itself());
    }
}
