//! Operations for admins: webhook events that failed and jobs that died, with
//! their reasons, and a way to run them again.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncConnection as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_persistence::jobs::{self, JobPageRequest, JobStatus};
use wacrm_persistence::{StoreError, webhook_events};
use wacrm_worker::jobs::ProcessWebhooks;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::pagination::{PageParams, PageResponse, SequencePageParams, numeric_cursor};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct WebhookEventResponse {
    pub id: Uuid,
    pub connection_id: Uuid,
    pub provider: String,
    /// `pending`, `processed` or `failed`.
    pub status: String,
    /// Why processing failed.
    pub error: Option<String>,
    /// The body as received (lossy UTF-8).
    pub body: String,
    pub received_at: DateTime<Utc>,
    pub processed_at: Option<DateTime<Utc>>,
}

impl From<webhook_events::WebhookEvent> for WebhookEventResponse {
    fn from(row: webhook_events::WebhookEvent) -> Self {
        Self {
            id: row.id,
            connection_id: row.connection_id,
            provider: row.provider,
            status: row.status,
            error: row.error,
            body: String::from_utf8_lossy(&row.body).into_owned(),
            received_at: row.received_at,
            processed_at: row.processed_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// `pending`, `processed` or `failed` (default: every status).
    #[param(pattern = "^(pending|processed|failed)$")]
    pub status: Option<String>,
}

#[utoipa::path(tag = "admin", params(PageParams, EventQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<WebhookEventResponse>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/admin/webhook-events")]
pub async fn list_webhook_events(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
    query: web::Query<EventQuery>,
) -> ApiResult<web::Json<PageResponse<WebhookEventResponse>>> {
    principal.require(Permission::ADMIN)?;
    let status = query.status.as_deref();
    if status.is_some_and(|s| {
        ![
            webhook_events::PENDING,
            webhook_events::PROCESSED,
            webhook_events::FAILED,
        ]
        .contains(&s)
    }) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "status must be pending, processed or failed",
        ));
    }
    let mut conn = state.conn().await?;
    let page = webhook_events::list(&mut conn, status, page.request()?).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}

/// Process a failed webhook event again (e.g. after adding the number it names).
#[utoipa::path(tag = "admin", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 202, body = WebhookEventResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`not_failed`"),
))]
#[post("/admin/webhook-events/{id}/retry")]
pub async fn retry_webhook_event(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    let id = *id;
    let mut conn = state.conn().await?;
    webhook_events::find(&mut conn, id).await?;
    let reset = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let Some(event) = webhook_events::reset_failed(conn, id).await? else {
                return Ok(None);
            };
            wacrm_worker::enqueue(
                conn,
                &ProcessWebhooks {
                    event_ids: vec![id],
                },
            )
            .await
            .map_err(ApiError::internal)?;
            Ok(Some(event))
        })
        .await?;
    match reset {
        Some(event) => {
            state.jobs.jobs_queued();
            Ok(HttpResponse::Accepted().json(WebhookEventResponse::from(event)))
        }
        None => Err(not_failed("the event has not failed")),
    }
}

#[derive(Serialize, ToSchema)]
pub struct JobResponse {
    pub id: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    /// `queued`, `running` or `dead`.
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<jobs::Job> for JobResponse {
    fn from(row: jobs::Job) -> Self {
        Self {
            id: row.id,
            kind: row.kind,
            payload: row.payload,
            status: row.status.as_str().to_owned(),
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            run_at: row.run_at,
            last_error: row.last_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// `queued`, `running` or `dead` (default: every status).
    #[param(pattern = "^(queued|running|dead)$")]
    pub status: Option<String>,
}

#[utoipa::path(tag = "admin", params(SequencePageParams, JobQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<JobResponse>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/admin/jobs")]
pub async fn list_jobs(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<SequencePageParams>,
    query: web::Query<JobQuery>,
) -> ApiResult<web::Json<PageResponse<JobResponse>>> {
    principal.require(Permission::ADMIN)?;
    let status = query
        .status
        .as_deref()
        .map(str::parse::<JobStatus>)
        .transpose()
        .map_err(|_| {
            ApiError::bad_request("invalid_query", "status must be queued, running or dead")
        })?;
    let (after, limit) = page.numeric()?;
    let mut conn = state.conn().await?;
    let page = jobs::list(&mut conn, status, JobPageRequest { after, limit }).await?;
    Ok(web::Json(PageResponse {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next.map(numeric_cursor),
    }))
}

/// Run a dead job again, from its first attempt.
#[utoipa::path(tag = "admin", params(("id" = i64, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 202, body = JobResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`not_failed`: the job is not dead"),
))]
#[post("/admin/jobs/{id}/retry")]
pub async fn retry_job(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    jobs::find(&mut conn, *id).await?;
    match jobs::revive(&mut conn, *id).await {
        Ok(job) => {
            state.jobs.jobs_queued();
            Ok(HttpResponse::Accepted().json(JobResponse::from(job)))
        }
        Err(StoreError::NotFound) => Err(not_failed("the job is not dead")),
        Err(other) => Err(other.into()),
    }
}

fn not_failed(detail: &'static str) -> ApiError {
    ApiError::new(actix_web::http::StatusCode::CONFLICT, "not_failed", detail)
}
