//! What agents do to a conversation: assign it, move its status, mark it read.

use actix_web::{post, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_domain::bots::Event;
use wacrm_domain::conversation::ConversationStatus;
use wacrm_persistence::conversations::{self, ConversationChanges};
use wacrm_persistence::{StoreError, events, messages, staff};
use wacrm_worker::jobs::{BotEvent, MarkRead, RunBots};

use crate::auth::Principal;
use crate::auth::visible_conversation;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::routes::conversations::ConversationResponse;
use crate::state::AppState;
use crate::whatsapp_links::conversation_response;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// The staff member to assign; `null` unassigns.
    pub staff_id: Option<Uuid>,
}

/// `open`, `pending` or `resolved`; or `snoozed` with `snooze_until`, a future
/// time when it reopens by itself (only a snoozed conversation has one). The
/// schema is written by hand: utoipa cannot tie a field to another's value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    pub status: String,
    pub snooze_until: Option<DateTime<Utc>>,
}

impl utoipa::PartialSchema for StatusRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::hand_written(json!({
            "description": "`open`, `pending` or `resolved`; or `snoozed` until a future time.",
            "oneOf": [
                {
                    "type": "object",
                    "title": "Open, pending or resolved",
                    "required": ["status"],
                    "properties": {
                        "status": {"type": "string", "enum": ["open", "pending", "resolved"]},
                        "snooze_until": {"type": "null"},
                    },
                    "additionalProperties": false,
                },
                {
                    "type": "object",
                    "title": "Snoozed",
                    "required": ["status", "snooze_until"],
                    "properties": {
                        "status": {"type": "string", "enum": ["snoozed"]},
                        "snooze_until": {"type": "string", "format": "date-time",
                            "description": "When it reopens by itself: a time in the future (422 otherwise)."},
                    },
                    "additionalProperties": false,
                },
            ],
        }))
    }
}

impl utoipa::ToSchema for StatusRequest {}

/// Assign the conversation to a staff member (or unassign it).
#[utoipa::path(tag = "inbox", params(("id" = Uuid, Path)), request_body = AssignRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ConversationResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/conversations/{id}/assign")]
pub async fn assign_conversation(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<AssignRequest>,
) -> ApiResult<web::Json<ConversationResponse>> {
    principal.require(Permission::WHATSAPP_CHAT_VIEW)?;
    let mut conn = state.conn().await?;
    let before = visible_conversation(&mut conn, &principal, *id).await?;
    if let Some(staff_id) = body.staff_id {
        match staff::find(&mut conn, staff_id).await {
            Ok(member) if member.is_active => {}
            Ok(_) | Err(StoreError::NotFound) => {
                return Err(ApiError::validation(vec![FieldError {
                    field: "staff_id".into(),
                    message: "names no active staff member".into(),
                }]));
            }
            Err(other) => return Err(other.into()),
        }
    }
    let changes = ConversationChanges {
        assigned_to: Some(body.staff_id),
        ..Default::default()
    };
    let id = *id;
    let staff_id = body.staff_id;
    let updated = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let updated = update_and_announce(conn, id, changes).await?;
            if before.assigned_to != staff_id {
                // Integrators' `conversation.assigned` (`staff_id: null`: unassigned).
                events::publish(
                    conn,
                    &json!({"type": "conversation.assigned", "conversation_id": id,
                        "staff_id": staff_id, "previous_staff_id": before.assigned_to,
                        "by": principal.staff_id()}),
                )
                .await?;
            }
            Ok(updated)
        })
        .await?;
    Ok(web::Json(conversation_response(&mut conn, updated).await?))
}

/// Move the conversation to open, pending, resolved or snoozed (until a time).
#[utoipa::path(tag = "inbox", params(("id" = Uuid, Path)), request_body = StatusRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ConversationResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/conversations/{id}/status")]
pub async fn set_conversation_status(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<StatusRequest>,
) -> ApiResult<web::Json<ConversationResponse>> {
    principal.require(Permission::WHATSAPP_CHAT_VIEW)?;
    let field = |field: &str, message: &str| {
        ApiError::validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    };
    let status = ConversationStatus::parse(&body.status)
        .ok_or_else(|| field("status", "must be open, pending, resolved or snoozed"))?;
    let snooze_until = match (status, body.snooze_until) {
        (ConversationStatus::Snoozed, Some(until)) if until > Utc::now() => Some(until),
        (ConversationStatus::Snoozed, _) => {
            return Err(field("snooze_until", "snoozing needs a time in the future"));
        }
        (_, Some(_)) => return Err(field("snooze_until", "only a snoozed conversation has one")),
        (_, None) => None,
    };
    let mut conn = state.conn().await?;
    let before = visible_conversation(&mut conn, &principal, *id).await?;
    let changes = ConversationChanges {
        status: Some(status.as_str().into()),
        snooze_until: Some(snooze_until),
        ..Default::default()
    };
    let id = *id;
    let updated = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let updated = update_and_announce(conn, id, changes).await?;
            if status == ConversationStatus::Resolved
                && before.status != ConversationStatus::Resolved.as_str()
            {
                // Integrators' `conversation.resolved`.
                events::publish(
                    conn,
                    &json!({"type": "conversation.resolved", "conversation_id": id,
                        "by": principal.staff_id()}),
                )
                .await?;
            }
            if status == ConversationStatus::Resolved {
                // Bots hear of it: a rating question, and paused bots resume.
                let resolved = RunBots {
                    events: vec![BotEvent {
                        conversation_id: id,
                        message_id: None,
                        event: Event::Resolved,
                    }],
                };
                wacrm_worker::enqueue(conn, &resolved)
                    .await
                    .map_err(ApiError::internal)?;
            }
            Ok(updated)
        })
        .await?;
    state.jobs.jobs_queued();
    Ok(web::Json(conversation_response(&mut conn, updated).await?))
}

/// Mark the conversation read, and tell the provider (read receipts) where it can.
#[utoipa::path(tag = "inbox", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = ConversationResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[post("/conversations/{id}/read")]
pub async fn mark_conversation_read(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<ConversationResponse>> {
    principal.require(Permission::WHATSAPP_CHAT_VIEW)?;
    let mut conn = state.conn().await?;
    let conversation = visible_conversation(&mut conn, &principal, *id).await?;
    let id = conversation.id;
    let updated = conn
        .transaction::<_, ApiError, _>(async |conn| {
            if conversation.unread_count > 0 {
                if let Some(latest) = messages::latest_inbound(conn, id).await? {
                    if let Some(provider_message_id) = latest.provider_message_id {
                        let receipt = MarkRead {
                            number_id: conversation.number_id,
                            provider_message_id,
                            typing: false,
                        };
                        wacrm_worker::enqueue(conn, &receipt)
                            .await
                            .map_err(ApiError::internal)?;
                    }
                }
            }
            Ok(update_and_announce(
                conn,
                id,
                ConversationChanges {
                    unread_count: Some(0),
                    ..Default::default()
                },
            )
            .await?)
        })
        .await?;
    state.jobs.jobs_queued();
    Ok(web::Json(conversation_response(&mut conn, updated).await?))
}

async fn update_and_announce(
    conn: &mut wacrm_persistence::AsyncPgConnection,
    id: Uuid,
    changes: ConversationChanges,
) -> Result<conversations::Conversation, StoreError> {
    let updated = conversations::update(conn, id, changes).await?;
    events::publish(
        conn,
        &json!({"type": "conversation.updated", "conversation_id": id}),
    )
    .await?;
    Ok(updated)
}
