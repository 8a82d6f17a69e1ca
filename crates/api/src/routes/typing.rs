//! "Typing…": an agent tells the customer a reply is being written. The provider
//! marks the customer's latest message read and shows the indicator until our reply
//! arrives or 25 seconds pass; the call goes out as a job, like a read receipt.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use diesel_async::AsyncConnection as _;
use serde_json::json;
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_persistence::conversations::{self, ConversationChanges};
use wacrm_persistence::{connections, events, messages, numbers};
use wacrm_providers::client::supports_typing;
use wacrm_worker::jobs::MarkRead;

use crate::auth::Principal;
use crate::auth::visible_conversation;
use crate::error::{ApiError, ApiResult, Problem};
use crate::routes::conversations::ConversationResponse;
use crate::state::AppState;
use crate::whatsapp_links::conversation_response;

/// Mark the customer's latest message read and show them a typing indicator.
#[utoipa::path(tag = "inbox", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 202, description = "the read status and typing indicator are queued for the provider; the conversation, now read", body = ConversationResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "`unsupported_by_provider`: the number's provider has no typing indicator; `no_inbound_message`: the customer has written nothing to answer", body = Problem, content_type = "application/problem+json"),
))]
#[post("/conversations/{id}/typing")]
pub async fn show_typing(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_CHAT_VIEW)?;
    let mut conn = state.conn().await?;
    let conversation = visible_conversation(&mut conn, &principal, *id).await?;
    let number = numbers::find(&mut conn, conversation.number_id).await?;
    let connection = connections::find(&mut conn, &state.cipher, number.connection_id).await?;
    if !supports_typing(connection.provider) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported_by_provider",
            format!(
                "{} has no typing indicator; only Meta's Cloud API documents one",
                connection.provider.as_str()
            ),
        ));
    }
    let latest = messages::latest_inbound(&mut conn, conversation.id)
        .await?
        .and_then(|message| message.provider_message_id)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_inbound_message",
                "the customer has sent no message to mark read and answer",
            )
        })?;
    let updated = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let typing = MarkRead {
                number_id: conversation.number_id,
                provider_message_id: latest,
                typing: true,
            };
            wacrm_worker::enqueue(conn, &typing)
                .await
                .map_err(ApiError::internal)?;
            let updated = conversations::update(
                conn,
                conversation.id,
                ConversationChanges {
                    unread_count: Some(0),
                    ..Default::default()
                },
            )
            .await?;
            events::publish(
                conn,
                &json!({"type": "conversation.updated", "conversation_id": conversation.id}),
            )
            .await?;
            Ok(updated)
        })
        .await?;
    state.jobs.jobs_queued();
    Ok(HttpResponse::Accepted().json(conversation_response(&mut conn, updated).await?))
}
