//! The notification log (admin): every notification a mapping produced, with
//! the event, the rendered parameters, the message it queued and its delivery
//! status, or why it was skipped or cancelled; filterable and keyset-paginated.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_domain::crm_events::EventType;
use wacrm_domain::notifications::outcome::Outcome;
use wacrm_persistence::notifications::log::{self, LoggedNotification, NotificationFilter};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct NotificationResponse {
    pub id: Uuid,
    /// wacrm's id of the event.
    pub event_id: Uuid,
    /// The event's id as its sender gave it (`lead_created:<lead id>` for ours).
    pub event_key: String,
    pub event_type: String,
    /// `null` once the mapping is deleted.
    pub mapping_id: Option<Uuid>,
    /// The recipient's phone (E.164 digits), when one was found.
    pub phone: Option<String>,
    /// The template message as rendered for this event (name, language,
    /// header, body and button parameters).
    #[schema(value_type = Option<Object>)]
    pub parameters: Option<serde_json::Value>,
    pub message_id: Option<Uuid>,
    /// The message's delivery status (`queued`, `sent`, `delivered`, `read`,
    /// `failed`); a provider's refusal shows here with `message_error`.
    pub message_status: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub message_error: Option<serde_json::Value>,
    pub outcome: String,
    /// Why it was skipped or cancelled: `no_phone`, `opted_out`, `blocked`,
    /// `template_not_found`, `template_not_approved`,
    /// `template_parameters_mismatch`, `missing_field`,
    /// `unsupported_by_provider`, `reminder_passed`, `superseded`,
    /// `mapping_inactive`.
    pub reason: Option<String>,
    /// A sentence saying what happened.
    pub detail: Option<String>,
    /// When a scheduled notification goes (or went).
    pub send_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<LoggedNotification> for NotificationResponse {
    fn from(row: LoggedNotification) -> Self {
        let notification = row.notification;
        Self {
            id: notification.id,
            event_id: notification.event_id,
            event_key: row.event_key,
            event_type: notification.event_type,
            mapping_id: notification.mapping_id,
            phone: notification.phone,
            parameters: notification.parameters,
            message_id: notification.message_id,
            message_status: row.message_status,
            message_error: row.message_error,
            outcome: notification.outcome,
            reason: notification.reason,
            detail: notification.detail,
            send_at: notification.send_at,
            created_at: notification.created_at,
            updated_at: notification.updated_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    pub event_type: Option<EventType>,
    pub mapping_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    #[param(pattern = "^(scheduled|sent|skipped|cancelled)$")]
    pub outcome: Option<String>,
    /// Logged at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Logged before this time.
    pub to: Option<DateTime<Utc>>,
}

/// The notification log, newest first.
#[utoipa::path(tag = "notifications", params(PageParams, NotificationQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<NotificationResponse>),
    (status = 400, body = Problem, content_type = "application/problem+json", description = "`invalid_query` or `invalid_cursor`"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/notifications")]
pub async fn list_notifications(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
    query: web::Query<NotificationQuery>,
) -> ApiResult<web::Json<PageResponse<NotificationResponse>>> {
    principal.require(Permission::ADMIN)?;
    let outcome = match query.outcome.as_deref() {
        None => None,
        Some(name) => Some(Outcome::parse(name).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                "outcome must be scheduled, sent, skipped or cancelled",
            )
        })?),
    };
    let filter = NotificationFilter {
        event_type: query.event_type.map(|kind| kind.as_str().to_owned()),
        mapping_id: query.mapping_id,
        event_id: query.event_id,
        outcome: outcome.map(|outcome| outcome.as_str().to_owned()),
        from: query.from,
        to: query.to,
    };
    let mut conn = state.conn().await?;
    let page = log::list(&mut conn, &filter, page.request()?).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}
