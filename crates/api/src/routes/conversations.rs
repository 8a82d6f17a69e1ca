//! The inbox as agents read it: conversations and their messages.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use wacrm_domain::conversation::ConversationStatus;
use wacrm_domain::{Permission, RelType, session};
use wacrm_persistence::{conversations, inbox, messages};

use crate::auth::{Principal, Visibility, visible_conversation};
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::pagination::{ActivityPageParams, PageParams, PageResponse, activity_cursor};
use crate::phone_consent::ConsentSummary;
use crate::routes::messages::{MessageResponse, load_messages};
use crate::state::AppState;
use crate::whatsapp_links::fill_consent;

#[derive(Serialize, ToSchema)]
pub struct LastMessage {
    pub id: Uuid,
    pub preview: String,
    pub at: DateTime<Utc>,
}

/// The 24-hour customer-service window.
#[derive(Serialize, ToSchema)]
pub struct SessionWindow {
    /// Free-form replies are allowed while true; outside it, only templates.
    pub active: bool,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct ConversationResponse {
    pub id: Uuid,
    pub number_id: Uuid,
    /// E.164 digits without `+`; `null` while the customer is known only by
    /// their WhatsApp user id.
    pub customer_phone: Option<String>,
    /// Meta's business-scoped user id (e.g. `US.13491208655302741918`), when
    /// Meta gave one; replies reach a customer without a phone through it (Meta only).
    pub customer_user_id: Option<String>,
    /// The customer's WhatsApp username, when they have one.
    pub username: Option<String>,
    pub profile_name: Option<String>,
    /// `lead`, `contact`, `staff` or `general` (unknown sender).
    pub rel_type: String,
    /// The lead, contact or staff member the sender is.
    pub rel_id: Option<Uuid>,
    /// `open`, `pending`, `resolved` or `snoozed`.
    pub status: String,
    pub assigned_to: Option<Uuid>,
    pub unread_count: i32,
    pub last_message: Option<LastMessage>,
    /// When wacrm recorded the latest inbound or outbound message (the
    /// conversation's creation before any): the inbox order, newest first.
    pub last_activity_at: DateTime<Utc>,
    pub session: SessionWindow,
    /// The customer's rating (1 to 5) from a rating bot, when given.
    pub rating: Option<i16>,
    /// An AI answer waiting for staff (AI mode `manual`); only on a single conversation.
    pub ai_suggestion: Option<String>,
    /// The customer's marketing consent, by their phone.
    pub consent: ConsentSummary,
    /// The blocklist names the customer's phone: nothing is sent to it.
    pub blocked: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<conversations::Conversation> for ConversationResponse {
    fn from(row: conversations::Conversation) -> Self {
        let last_message = match (row.last_message_id, row.last_message_at) {
            (Some(id), Some(at)) => Some(LastMessage {
                id,
                at,
                preview: row.last_message_preview.unwrap_or_default(),
            }),
            _ => None,
        };
        Self {
            session: SessionWindow {
                active: session::is_open(row.session_expires_at, Utc::now()),
                expires_at: row.session_expires_at,
            },
            id: row.id,
            number_id: row.number_id,
            customer_phone: row.customer_phone,
            customer_user_id: row.customer_user_id,
            username: row.customer_username,
            profile_name: row.profile_name,
            rel_type: row.rel_type,
            rel_id: row.rel_id,
            status: row.status,
            assigned_to: row.assigned_to,
            unread_count: row.unread_count,
            last_message,
            last_activity_at: row.last_activity_at,
            rating: None,
            ai_suggestion: None,
            // Unknown until `whatsapp_links::fill_consent` reads the phone's.
            consent: ConsentSummary::unknown(),
            blocked: false,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationQuery {
    /// `lead`, `contact`, `staff` or `general`.
    #[param(pattern = "^(lead|contact|staff|general)$")]
    pub rel_type: Option<String>,
    /// `open`, `pending`, `resolved` or `snoozed`.
    #[param(pattern = "^(open|pending|resolved|snoozed)$")]
    pub status: Option<String>,
    pub assigned_to: Option<Uuid>,
    pub number_id: Option<Uuid>,
    /// `true`: only conversations with unread messages; `false`: only read ones.
    pub unread: Option<bool>,
    /// Case-insensitive substring search in the customer's name, phone, WhatsApp
    /// user id and username, and message text; 1 to 200 characters. Terms of
    /// three characters or more use the search indexes; a search that runs past
    /// the server's statement timeout answers 503 `query_timeout`.
    #[param(min_length = 1, max_length = 200)]
    pub q: Option<String>,
}

/// The longest search term, in characters: longer is refused before it reaches
/// the database (a trigram search costs with the term's length).
pub const MAX_SEARCH_CHARS: usize = 200;

impl ConversationQuery {
    fn filter(self, visible_to: Option<Uuid>) -> ApiResult<inbox::ConversationFilter> {
        if let Some(q) = &self.q {
            let length = q.chars().count();
            if !(1..=MAX_SEARCH_CHARS).contains(&length) {
                return Err(ApiError::validation(vec![FieldError {
                    field: "q".into(),
                    message: format!("must be 1 to {MAX_SEARCH_CHARS} characters"),
                }]));
            }
        }
        if let Some(rel_type) = &self.rel_type {
            RelType::parse(rel_type).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_query",
                    "rel_type must be lead, contact, staff or general",
                )
            })?;
        }
        if let Some(status) = &self.status {
            ConversationStatus::parse(status).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_query",
                    "status must be open, pending, resolved or snoozed",
                )
            })?;
        }
        Ok(inbox::ConversationFilter {
            rel_type: self.rel_type,
            status: self.status,
            number_id: self.number_id,
            assigned_to: self.assigned_to,
            unread: self.unread,
            search: self.q.filter(|q| !q.trim().is_empty()),
            visible_to,
        })
    }
}

/// List conversations by last activity (newest inbound or outbound message
/// first, ties by id).
///
/// Pages are keyset pages on (`last_activity_at`, id): `next_cursor` marks a
/// boundary, and the next page lists what is below it. A conversation that did
/// not move is listed exactly once; one that moved to the top after its page
/// was read is not listed again below (reload the first page, or follow the
/// stream, to see it there); nothing is listed twice.
#[utoipa::path(tag = "inbox", params(ActivityPageParams, ConversationQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<ConversationResponse>),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/conversations")]
pub async fn list_conversations(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<ActivityPageParams>,
    query: web::Query<ConversationQuery>,
) -> ApiResult<web::Json<PageResponse<ConversationResponse>>> {
    principal.require(Permission::WHATSAPP_CHAT_VIEW)?;
    let (after, limit) = page.activity()?;
    let mut conn = state.conn().await?;
    let filter = query
        .into_inner()
        .filter(Visibility::of(&mut conn, &principal).await?.restricted_to())?;
    let page = inbox::list(&mut conn, &filter, after, limit).await?;
    let mut items: Vec<ConversationResponse> = page.items.into_iter().map(Into::into).collect();
    fill_consent(&mut conn, &mut items).await?;
    Ok(web::Json(PageResponse {
        items,
        next_cursor: page.next.map(activity_cursor),
    }))
}

/// How many conversations each rel type has, under the same filters as the list.
#[derive(Serialize, ToSchema)]
pub struct ConversationCounts {
    pub lead: i64,
    pub contact: i64,
    pub staff: i64,
    pub general: i64,
    pub total: i64,
}

#[utoipa::path(tag = "inbox", params(ConversationQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ConversationCounts),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/conversations/counts")]
pub async fn count_conversations(
    state: web::Data<AppState>,
    principal: Principal,
    query: web::Query<ConversationQuery>,
) -> ApiResult<web::Json<ConversationCounts>> {
    principal.require(Permission::WHATSAPP_CHAT_VIEW)?;
    let mut conn = state.conn().await?;
    let filter = query
        .into_inner()
        .filter(Visibility::of(&mut conn, &principal).await?.restricted_to())?;
    let names: Vec<&str> = RelType::ALL.iter().map(|rel| rel.as_str()).collect();
    let counts = inbox::count_by_rel_type(&mut conn, &filter, &names).await?;
    let count = |rel: RelType| {
        counts
            .iter()
            .find(|(name, _)| name == rel.as_str())
            .map_or(0, |(_, n)| *n)
    };
    Ok(web::Json(ConversationCounts {
        lead: count(RelType::Lead),
        contact: count(RelType::Contact),
        staff: count(RelType::Staff),
        general: count(RelType::General),
        total: counts.iter().map(|(_, n)| n).sum(),
    }))
}

/// One conversation, with its session window.
#[utoipa::path(tag = "inbox", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ConversationResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/conversations/{id}")]
pub async fn get_conversation(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<ConversationResponse>> {
    principal.require(Permission::WHATSAPP_CHAT_VIEW)?;
    let mut conn = state.conn().await?;
    let mut response: ConversationResponse = visible_conversation(&mut conn, &principal, *id)
        .await?
        .into();
    if let Some(bots) = wacrm_persistence::bots::memory_of(&mut conn, *id).await? {
        response.rating = bots.rating;
        response.ai_suggestion = bots.ai_suggestion;
    }
    fill_consent(&mut conn, std::slice::from_mut(&mut response)).await?;
    Ok(web::Json(response))
}

/// A conversation's messages, newest first, each with its status history.
#[utoipa::path(tag = "inbox", params(("id" = Uuid, Path), PageParams), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<MessageResponse>),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/conversations/{id}/messages")]
pub async fn list_conversation_messages(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<PageResponse<MessageResponse>>> {
    principal.require(Permission::WHATSAPP_CHAT_VIEW)?;
    let request = page.request()?;
    let mut conn = state.conn().await?;
    visible_conversation(&mut conn, &principal, *id).await?;
    let page = messages::list_for_conversation(&mut conn, *id, request).await?;
    let next = page.next;
    let items = load_messages(&mut conn, page.items).await?;
    Ok(web::Json(PageResponse::from_page(
        wacrm_persistence::Page { items, next },
        |m| m,
    )))
}
