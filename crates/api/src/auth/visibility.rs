//! Which conversations a caller may see: the one inbox visibility policy.
//!
//! Every path that reads or acts on a conversation, or on something that
//! carries its content (messages, media, tickets, lead notes copied from chats,
//! the activity log's bodies, the SSE stream), asks this module, so an agent
//! restricted to their own conversations meets the same rule everywhere.
//!
//! The rule: with the inbox setting `visibility = assigned_or_unassigned`, a
//! caller without `admin` sees the conversations assigned to them and the
//! unassigned ones. An API key acts for the staff member who created it; a key
//! whose creator is unknown (created by another key) sees unassigned ones only.

use diesel_async::AsyncPgConnection;
use uuid::Uuid;
use wacrm_domain::settings::{InboxSettings, InboxVisibility};
use wacrm_persistence::{conversations, settings};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};

/// What one caller may see, decided once per request (or per SSE re-check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Every conversation.
    All,
    /// Conversations assigned to this staff member, and unassigned ones.
    /// `Uuid::nil()` names nobody, leaving the unassigned ones only.
    AssignedToOrUnassigned(Uuid),
}

impl Visibility {
    /// The caller's visibility under the current inbox settings.
    pub async fn of(conn: &mut AsyncPgConnection, principal: &Principal) -> ApiResult<Self> {
        if principal.permissions.is_admin() {
            return Ok(Self::All);
        }
        let settings: InboxSettings = settings::load(conn, InboxSettings::KEY).await?;
        Ok(match settings.visibility {
            InboxVisibility::All => Self::All,
            InboxVisibility::AssignedOrUnassigned => {
                Self::AssignedToOrUnassigned(principal.acts_for.unwrap_or(Uuid::nil()))
            }
        })
    }

    /// Whether a conversation assigned to `assignee` is visible.
    pub fn allows(self, assignee: Option<Uuid>) -> bool {
        match self {
            Self::All => true,
            Self::AssignedToOrUnassigned(staff) => assignee.is_none_or(|id| id == staff),
        }
    }

    /// The staff member a list query is restricted to (see
    /// `conversations::ConversationFilter::visible_to`), `None` for everything.
    pub fn restricted_to(self) -> Option<Uuid> {
        match self {
            Self::All => None,
            Self::AssignedToOrUnassigned(staff) => Some(staff),
        }
    }
}

/// The conversation, if the caller may see it (404 otherwise, as if absent).
pub async fn visible_conversation(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<conversations::Conversation> {
    let conversation = conversations::find(conn, id).await?;
    if Visibility::of(conn, principal)
        .await?
        .allows(conversation.assigned_to)
    {
        Ok(conversation)
    } else {
        Err(ApiError::not_found("conversation"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restricted_caller_sees_its_own_and_unassigned_conversations_only() {
        let me = Uuid::now_v7();
        let other = Uuid::now_v7();
        let mine = Visibility::AssignedToOrUnassigned(me);
        assert!(mine.allows(None));
        assert!(mine.allows(Some(me)));
        assert!(!mine.allows(Some(other)));
        assert!(Visibility::All.allows(Some(other)));
        let nobody = Visibility::AssignedToOrUnassigned(Uuid::nil());
        assert!(nobody.allows(None));
        assert!(!nobody.allows(Some(me)));
    }
}
