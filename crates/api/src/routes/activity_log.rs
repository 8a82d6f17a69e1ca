//! The log of every provider call (seed 001's "log activity").

use actix_web::{HttpResponse, delete, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_persistence::{activity_log, messages};

use crate::auth::{Principal, Visibility};
use crate::error::{ApiResult, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct ActivityResponse {
    pub id: Uuid,
    pub connection_id: Option<Uuid>,
    pub provider: String,
    /// `send_message`, `mark_read`, `sync_templates`, …
    pub operation: String,
    pub method: String,
    /// The path called (never its query string).
    pub path: String,
    /// The HTTP status, when the provider answered.
    pub status: Option<i32>,
    pub duration_ms: i32,
    /// Bodies with every secret masked; `null` when `bodies_hidden`.
    pub request_body: Option<String>,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub message_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// The call carried a message of a conversation the caller may not see
    /// (inbox visibility): its bodies are left out.
    pub bodies_hidden: bool,
}

impl From<activity_log::Entry> for ActivityResponse {
    fn from(row: activity_log::Entry) -> Self {
        Self {
            id: row.id,
            connection_id: row.connection_id,
            provider: row.provider,
            operation: row.operation,
            method: row.method,
            path: row.path,
            status: row.status,
            duration_ms: row.duration_ms,
            request_body: row.request_body,
            response_body: row.response_body,
            error: row.error,
            message_id: row.message_id,
            created_at: row.created_at,
            bodies_hidden: false,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    pub connection_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
    /// `true`: only failed calls.
    pub errors: Option<bool>,
}

#[utoipa::path(tag = "activity-log", params(PageParams, ActivityQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<ActivityResponse>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/activity-log")]
pub async fn list_activity(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
    query: web::Query<ActivityQuery>,
) -> ApiResult<web::Json<PageResponse<ActivityResponse>>> {
    principal.require(Permission::WHATSAPP_LOG_ACTIVITY_VIEW)?;
    let filter = activity_log::EntryFilter {
        connection_id: query.connection_id,
        message_id: query.message_id,
        errors_only: query.errors.unwrap_or(false),
    };
    let mut conn = state.conn().await?;
    let page = activity_log::list(&mut conn, &filter, page.request()?).await?;
    let hidden = match Visibility::of(&mut conn, &principal).await?.restricted_to() {
        Some(staff) => {
            let ids: Vec<Uuid> = page.items.iter().filter_map(|e| e.message_id).collect();
            messages::outside_view(&mut conn, &ids, staff).await?
        }
        None => Vec::new(),
    };
    Ok(web::Json(PageResponse::from_page(page, |entry| {
        let hide = entry.message_id.is_some_and(|id| hidden.contains(&id));
        let mut response = ActivityResponse::from(entry);
        if hide {
            response.request_body = None;
            response.response_body = None;
            response.bodies_hidden = true;
        }
        response
    })))
}

/// Clear the whole log.
#[utoipa::path(tag = "activity-log", security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[delete("/activity-log")]
pub async fn clear_activity(
    state: web::Data<AppState>,
    principal: Principal,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_LOG_ACTIVITY_CLEAR)?;
    let mut conn = state.conn().await?;
    activity_log::clear(&mut conn).await?;
    Ok(HttpResponse::NoContent().finish())
}
