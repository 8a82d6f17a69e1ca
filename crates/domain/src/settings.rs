//! Settings that change how inbound messages are handled, with their defaults.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Seed 001: an unknown sender becomes a lead when enabled (off by default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoLeadSettings {
    pub enabled: bool,
    pub status_id: Option<Uuid>,
    pub source_id: Option<Uuid>,
    pub assigned_staff_id: Option<Uuid>,
}

impl AutoLeadSettings {
    pub const KEY: &'static str = "auto_lead";
}

/// Seed 004: inbound messages of a lead conversation are also kept as lead notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundSettings {
    pub lead_notes: bool,
}

impl InboundSettings {
    pub const KEY: &'static str = "inbound";
}

impl Default for InboundSettings {
    fn default() -> Self {
        Self { lead_notes: true }
    }
}

/// Which conversations agents (staff without `admin`) see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboxVisibility {
    /// Every conversation.
    #[default]
    All,
    /// Those assigned to them, and unassigned ones.
    AssignedOrUnassigned,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxSettings {
    pub visibility: InboxVisibility,
}

impl InboxSettings {
    pub const KEY: &'static str = "inbox";
}
