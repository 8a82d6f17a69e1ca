//! The inbox as agents read it: conversations and their messages.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use wacrm_domain::conversation::ConversationStatus;
use wacrm_domain::{Permission, RelType, session};
use wacrm_persistence::{conversations, messages};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::routes::messages::{MessageResponse, load_messages};
use crate::state::AppState;

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
    /// E.164 digits without `+`.
    pub customer_phone: String,
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
    pub session: SessionWindow,
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
            profile_name: row.profile_name,
            rel_type: row.rel_type,
            rel_id: row.rel_id,
            status: row.status,
            assigned_to: row.assigned_to,
            unread_count: row.unread_count,
            last_message,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationQuery {
    /// `lead`, `contact`, `staff` or `general`.
    pub rel_type: Option<String>,
    /// `open`, `pending`, `resolved` or `snoozed`.
    pub status: Option<String>,
    pub assigned_to: Option<Uuid>,
    pub number_id: Option<Uuid>,
    /// `true`: only conversations with unread messages.
    pub unread: Option<bool>,
}

/// List conversations, newest first.
#[utoipa::path(tag = "inbox", params(PageParams, ConversationQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<ConversationResponse>),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/conversations")]
pub async fn list_conversations(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
    query: web::Query<ConversationQuery>,
) -> ApiResult<web::Json<PageResponse<ConversationResponse>>> {
    principal.require(Permission::WHATSAPP_CHAT_VIEW)?;
    let query = query.into_inner();
    if let Some(rel_type) = &query.rel_type {
        RelType::parse(rel_type).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                "rel_type must be lead, contact, staff or general",
            )
        })?;
    }
    if let Some(status) = &query.status {
        ConversationStatus::parse(status).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                "status must be open, pending, resolved or snoozed",
            )
        })?;
    }
    let filter = conversations::ConversationFilter {
        rel_type: query.rel_type,
        status: query.status,
        number_id: query.number_id,
        assigned_to: query.assigned_to,
        unread: query.unread,
    };
    let mut conn = state.conn().await?;
    let page = conversations::list(&mut conn, &filter, page.request()?).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
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
    Ok(web::Json(conversations::find(&mut conn, *id).await?.into()))
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
    conversations::find(&mut conn, *id).await?;
    let page = messages::list_for_conversation(&mut conn, *id, request).await?;
    let next = page.next;
    let items = load_messages(&mut conn, page.items).await?;
    Ok(web::Json(PageResponse::from_page(
        wacrm_persistence::Page { items, next },
        |m| m,
    )))
}
