//! Single messages, their status history and their media.

use std::collections::HashMap;

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_persistence::{AsyncPgConnection, messages};

use crate::auth::Principal;
use crate::auth::visible_conversation;
use crate::error::{ApiError, ApiResult, Problem};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct MediaResponse {
    pub mime_type: Option<String>,
    pub filename: Option<String>,
    pub sha256: Option<String>,
    pub size_bytes: Option<i64>,
    /// True once the bytes are stored here and `GET /api/v1/messages/{id}/media` serves them.
    pub downloaded: bool,
    /// The last download failure, while it is being retried.
    pub last_error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct StatusEventResponse {
    pub status: String,
    pub at: DateTime<Utc>,
    /// False for a late, lower status that was recorded but changed nothing.
    pub applied: bool,
    pub errors: serde_json::Value,
    /// Meta's conversation and pricing details, when given.
    pub billing: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageResponse {
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// text, image, audio, video, document, sticker, location, contacts,
    /// interactive, button, reaction, order, system, template or unsupported.
    #[serde(rename = "type")]
    pub kind: String,
    /// A readable rendering of the message.
    pub body: String,
    /// The type-specific fields.
    pub payload: serde_json::Value,
    pub media: Option<MediaResponse>,
    /// `received` (inbound), or `queued`, `sent`, `delivered`, `read`, `played` (a voice
    /// message listened to), `failed`.
    pub status: String,
    /// For `failed`: `{code, title, detail, provider_code}`.
    pub error: Option<serde_json::Value>,
    pub provider: String,
    pub provider_message_id: Option<String>,
    /// The message this one replies or reacts to (provider id).
    pub context_message_id: Option<String>,
    pub sent_by: Option<String>,
    /// When the customer sent it (inbound) or we did (outbound).
    pub sent_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub status_history: Vec<StatusEventResponse>,
}

/// Responses for `rows`, with media and status histories in two queries.
pub async fn load_messages(
    conn: &mut AsyncPgConnection,
    rows: Vec<messages::Message>,
) -> ApiResult<Vec<MessageResponse>> {
    let ids: Vec<Uuid> = rows.iter().map(|m| m.id).collect();
    let mut media: HashMap<Uuid, messages::Media> = messages::media_of(conn, &ids)
        .await?
        .into_iter()
        .map(|m| (m.message_id, m))
        .collect();
    let mut histories: HashMap<Uuid, Vec<StatusEventResponse>> = HashMap::new();
    for event in messages::status_histories(conn, &ids).await? {
        if let Some(message_id) = event.message_id {
            histories
                .entry(message_id)
                .or_default()
                .push(StatusEventResponse {
                    status: event.status,
                    at: event.occurred_at,
                    applied: event.applied,
                    errors: event.errors,
                    billing: event.billing,
                });
        }
    }
    Ok(rows
        .into_iter()
        .map(|row| MessageResponse {
            media: media.remove(&row.id).map(|m| MediaResponse {
                downloaded: m.stored_key.is_some(),
                mime_type: m.mime_type,
                filename: m.filename,
                sha256: m.sha256,
                size_bytes: m.size_bytes,
                last_error: m.last_error,
            }),
            status_history: histories.remove(&row.id).unwrap_or_default(),
            id: row.id,
            conversation_id: row.conversation_id,
            direction: row.direction,
            kind: row.kind,
            body: row.body,
            payload: row.payload,
            status: row.status,
            error: row.error,
            provider: row.provider,
            provider_message_id: row.provider_message_id,
            context_message_id: row.context_message_id,
            sent_by: row.sent_by,
            sent_at: row.sent_at,
            created_at: row.created_at,
        })
        .collect())
}

/// One message with its status history and error.
#[utoipa::path(tag = "inbox", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = MessageResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/messages/{id}")]
pub async fn get_message(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<MessageResponse>> {
    principal.require(Permission::WHATSAPP_CHAT_VIEW)?;
    let mut conn = state.conn().await?;
    let row = messages::find(&mut conn, *id).await?;
    visible_conversation(&mut conn, &principal, row.conversation_id).await?;
    let mut loaded = load_messages(&mut conn, vec![row]).await?;
    loaded
        .pop()
        .map(web::Json)
        .ok_or_else(|| ApiError::not_found("message"))
}

/// The message's media bytes with their content type; 404 `media_not_ready` until downloaded.
#[utoipa::path(tag = "inbox", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, description = "the media bytes", content_type = "application/octet-stream", body = Vec<u8>),
    (status = 404, body = Problem, content_type = "application/problem+json", description = "`not_found` or `media_not_ready`"),
))]
#[get("/messages/{id}/media")]
pub async fn get_message_media(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_CHAT_VIEW)?;
    let mut conn = state.conn().await?;
    let message = messages::find(&mut conn, *id).await?;
    visible_conversation(&mut conn, &principal, message.conversation_id).await?;
    let media = messages::find_media(&mut conn, *id)
        .await?
        .ok_or_else(|| ApiError::not_found("media"))?;
    drop(conn);
    let Some(key) = &media.stored_key else {
        return Err(ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "media_not_ready",
            "the media is still being downloaded from the provider",
        ));
    };
    let bytes = state.media.get(key).await.map_err(ApiError::internal)?;
    let mime_type = media
        .mime_type
        .as_deref()
        .unwrap_or("application/octet-stream");
    let mut response = HttpResponse::Ok();
    response.content_type(mime_type);
    response.insert_header((
        "content-disposition",
        disposition(mime_type, media.filename.as_deref()),
    ));
    Ok(response.body(bytes))
}

/// Only what a browser shows as media is inline; anything else (HTML, SVG,
/// PDF, ...) downloads, so a customer's file never runs in our origin.
fn disposition(mime_type: &str, filename: Option<&str>) -> String {
    let essence = mime_type.split(';').next().unwrap_or_default().trim();
    let (kind, subtype) = essence.split_once('/').unwrap_or((essence, ""));
    let shown = matches!(
        kind.to_ascii_lowercase().as_str(),
        "image" | "video" | "audio"
    ) && !subtype.to_ascii_lowercase().starts_with("svg");
    let mode = if shown { "inline" } else { "attachment" };
    match filename.map(safe_filename).filter(|name| !name.is_empty()) {
        Some(name) => format!("{mode}; filename=\"{name}\""),
        None => mode.to_owned(),
    }
}

/// The name as printable ASCII without quotes, backslashes or path
/// separators: anything else (a control character made this a 500) becomes `_`.
fn safe_filename(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '\r' | '\n'))
        .map(|c| match c {
            ' '..='~' if !matches!(c, '"' | '\\' | '/') => c,
            _ => '_',
        })
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_shows_inline_and_everything_else_downloads() {
        assert_eq!(disposition("image/jpeg", None), "inline");
        assert_eq!(
            disposition("video/mp4; codecs=avc1", Some("a.mp4")),
            "inline; filename=\"a.mp4\""
        );
        assert_eq!(disposition("image/svg+xml", None), "attachment");
        assert_eq!(
            disposition("text/html", Some("x.html")),
            "attachment; filename=\"x.html\""
        );
        assert_eq!(disposition("application/pdf", Some("\r\n")), "attachment");
    }

    #[test]
    fn a_filename_keeps_only_safe_characters() {
        assert_eq!(safe_filename("in\u{1}voice\"\r\n;.html"), "in_voice_;.html");
        assert_eq!(safe_filename("../etc/passwd"), ".._etc_passwd");
        assert_eq!(safe_filename("café.pdf"), "caf_.pdf");
    }
}
