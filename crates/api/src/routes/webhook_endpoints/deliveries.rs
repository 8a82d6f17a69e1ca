//! What was sent to an endpoint: its deliveries (one per event, with a stable
//! `webhook-id`), each delivery's attempts, and sending some again.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_domain::webhook_endpoints::{DeliveryStatus, EventType};
use wacrm_persistence::webhook_endpoints::{self as store, Attempt, Delivery, DeliveryFilter};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, FieldError, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct WebhookDeliveryResponse {
    /// The `webhook-id` header: the same on every attempt and replay.
    pub id: Uuid,
    pub endpoint_id: Uuid,
    #[schema(value_type = EventType)]
    pub event_type: String,
    #[schema(value_type = DeliveryStatus)]
    pub status: String,
    /// Attempts since the delivery was created or last replayed.
    pub attempt_count: i32,
    /// When a pending delivery is tried next.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's last HTTP status, if it answered.
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    /// The body sent: `{type, timestamp, data}`.
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Delivery> for WebhookDeliveryResponse {
    fn from(row: Delivery) -> Self {
        Self {
            id: row.id,
            endpoint_id: row.endpoint_id,
            event_type: row.event_type,
            status: row.status,
            attempt_count: row.attempts,
            next_attempt_at: row.next_attempt_at,
            last_status_code: row.last_status_code,
            last_error: row.last_error,
            payload: row.payload,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct WebhookAttemptResponse {
    pub attempted_at: DateTime<Utc>,
    /// The receiver's HTTP status; `null` when no answer came.
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    /// Why it did not count as delivered.
    pub error: Option<String>,
    /// The first KiB of the receiver's answer.
    pub response_body: Option<String>,
}

impl From<Attempt> for WebhookAttemptResponse {
    fn from(row: Attempt) -> Self {
        Self {
            attempted_at: row.attempted_at,
            status_code: row.status_code,
            duration_ms: row.duration_ms,
            error: row.error,
            response_body: row.response_body,
        }
    }
}

/// A delivery with every attempt made (oldest first, the latest 200).
#[derive(Serialize, ToSchema)]
pub struct WebhookDeliveryDetailResponse {
    #[serde(flatten)]
    pub delivery: WebhookDeliveryResponse,
    pub attempts: Vec<WebhookAttemptResponse>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WebhookDeliveryQuery {
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<EventType>,
    /// Created at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Created before this time.
    pub until: Option<DateTime<Utc>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayWebhookDeliveriesRequest {
    /// Deliveries created at or after this time…
    pub since: DateTime<Utc>,
    /// …and before this one.
    pub until: DateTime<Utc>,
    /// Only deliveries in this state (default: succeeded and failed alike;
    /// pending ones are on their way already).
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<EventType>,
}

#[derive(Serialize, ToSchema)]
pub struct ReplayWebhookDeliveriesResponse {
    /// Deliveries queued again.
    pub replayed: usize,
}

/// An endpoint's deliveries, newest first.
#[utoipa::path(tag = "webhook-endpoints", params(("id" = Uuid, Path), PageParams, WebhookDeliveryQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<WebhookDeliveryResponse>),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/webhook-endpoints/{id}/deliveries")]
pub async fn list_webhook_deliveries(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    page: web::Query<PageParams>,
    query: web::Query<WebhookDeliveryQuery>,
) -> ApiResult<web::Json<PageResponse<WebhookDeliveryResponse>>> {
    principal.require(Permission::ADMIN)?;
    let query = query.into_inner();
    let filter = DeliveryFilter {
        status: query.status,
        event_type: query.event_type.map(|kind| kind.as_str().to_owned()),
        since: query.since,
        until: query.until,
    };
    let request = page.request()?;
    let mut conn = state.conn().await?;
    if !store::endpoint_exists(&mut conn, *id).await? {
        return Err(ApiError::not_found("webhook endpoint"));
    }
    let page = store::list_deliveries(&mut conn, *id, &filter, request).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}

/// One delivery with its attempts: when, the status code, how long, why it failed.
#[utoipa::path(tag = "webhook-endpoints", params(("id" = Uuid, Path), ("delivery_id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = WebhookDeliveryDetailResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/webhook-endpoints/{id}/deliveries/{delivery_id}")]
pub async fn get_webhook_delivery(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<WebhookDeliveryDetailResponse>> {
    principal.require(Permission::ADMIN)?;
    let (endpoint_id, delivery_id) = path.into_inner();
    let mut conn = state.conn().await?;
    let delivery = store::find_delivery(&mut conn, endpoint_id, delivery_id).await?;
    let attempts = store::list_attempts(&mut conn, delivery.id).await?;
    Ok(web::Json(WebhookDeliveryDetailResponse {
        delivery: delivery.into(),
        attempts: attempts.into_iter().map(Into::into).collect(),
    }))
}

/// Send an endpoint's deliveries of a time range again, as new attempts of
/// the same deliveries: the same `webhook-id` and body (a receiver that
/// de-duplicates by id sees each once), the whole retry schedule ahead.
#[utoipa::path(tag = "webhook-endpoints", params(("id" = Uuid, Path)), request_body = ReplayWebhookDeliveriesRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 202, body = ReplayWebhookDeliveriesResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`endpoint_disabled`: enable the endpoint first"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed`: `until` is not after `since`"),
))]
#[post("/webhook-endpoints/{id}/replay")]
pub async fn replay_webhook_deliveries(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<ReplayWebhookDeliveriesRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    let body = body.into_inner();
    if body.until <= body.since {
        return Err(ApiError::validation(vec![FieldError {
            field: "until".into(),
            message: "must be after `since`".into(),
        }]));
    }
    let filter = DeliveryFilter {
        status: body.status,
        event_type: body.event_type.map(|kind| kind.as_str().to_owned()),
        since: Some(body.since),
        until: Some(body.until),
    };
    let replayed = requeue(&state, *id, &filter, None).await?.len();
    Ok(HttpResponse::Accepted().json(ReplayWebhookDeliveriesResponse { replayed }))
}

/// Send one delivery again now (a new attempt with the same `webhook-id`),
/// whatever its state.
#[utoipa::path(tag = "webhook-endpoints", params(("id" = Uuid, Path), ("delivery_id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 202, body = WebhookDeliveryResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`endpoint_disabled`: enable the endpoint first"),
))]
#[post("/webhook-endpoints/{id}/deliveries/{delivery_id}/retry")]
pub async fn retry_webhook_delivery(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    let (endpoint_id, delivery_id) = path.into_inner();
    let mut requeued = requeue(
        &state,
        endpoint_id,
        &DeliveryFilter::default(),
        Some(delivery_id),
    )
    .await?;
    let delivery = requeued
        .pop()
        .ok_or_else(|| ApiError::not_found("webhook delivery"))?;
    Ok(HttpResponse::Accepted().json(WebhookDeliveryResponse::from(delivery)))
}

/// Re-queues deliveries of an enabled endpoint and wakes the dispatcher.
async fn requeue(
    state: &AppState,
    endpoint_id: Uuid,
    filter: &DeliveryFilter,
    only: Option<Uuid>,
) -> ApiResult<Vec<Delivery>> {
    let mut conn = state.conn().await?;
    let endpoint = store::find(&mut conn, endpoint_id).await?;
    if !endpoint.enabled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "endpoint_disabled",
            "the endpoint is disabled: enable it (PATCH `enabled: true`) before sending deliveries again",
        ));
    }
    let now = state.clock.now();
    let requeued = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let requeued = store::replay(conn, endpoint_id, filter, only, now).await?;
            if !requeued.is_empty() {
                store::queue_dispatch(conn, now).await?;
            }
            Ok(requeued)
        })
        .await?;
    if !requeued.is_empty() {
        state.jobs.jobs_queued();
    }
    Ok(requeued)
}
