//! Message templates as synced from the providers (registering one by hand is
//! `manual_templates`).

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_persistence::{connections, templates};
use wacrm_worker::jobs::SyncTemplates;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct TemplateResponse {
    pub id: Uuid,
    pub connection_id: Uuid,
    pub provider_template_id: Option<String>,
    pub name: String,
    pub language: String,
    pub category: Option<String>,
    /// APPROVED, PENDING, REJECTED, PAUSED, DISABLED, ARCHIVED, LIMIT_EXCEEDED, …
    pub status: String,
    /// Why the provider rejected or paused it, when it said.
    pub status_reason: Option<String>,
    /// Meta-shaped components (HEADER, BODY, FOOTER, BUTTONS).
    pub components: serde_json::Value,
    pub synced_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// `sync`: listed by the provider; `manual`: registered by an admin.
    pub source: String,
    /// Meta's quality rating: GREEN, YELLOW, RED or UNKNOWN (`null` until Meta rates it).
    pub quality_score: Option<String>,
    pub quality_updated_at: Option<DateTime<Utc>>,
    /// Meta locked the template against edits; it can still be sent.
    pub locked: bool,
}

impl From<templates::Template> for TemplateResponse {
    fn from(row: templates::Template) -> Self {
        Self {
            id: row.id,
            connection_id: row.connection_id,
            provider_template_id: row.provider_template_id,
            name: row.name,
            language: row.language,
            category: row.category,
            status: row.status,
            status_reason: row.status_reason,
            components: row.components,
            synced_at: row.synced_at,
            updated_at: row.updated_at,
            source: row.source,
            quality_score: row.quality_score,
            quality_updated_at: row.quality_updated_at,
            locked: row.locked_at.is_some(),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TemplateQuery {
    pub connection_id: Option<Uuid>,
    /// e.g. `APPROVED`.
    pub status: Option<String>,
    /// Case-insensitive part of the name.
    pub name: Option<String>,
}

#[utoipa::path(tag = "templates", params(PageParams, TemplateQuery), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<TemplateResponse>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/templates")]
pub async fn list_templates(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
    query: web::Query<TemplateQuery>,
) -> ApiResult<web::Json<PageResponse<TemplateResponse>>> {
    principal.require(Permission::WHATSAPP_TEMPLATE_VIEW)?;
    let query = query.into_inner();
    let filter = templates::TemplateFilter {
        connection_id: query.connection_id,
        status: query.status.map(|s| s.to_ascii_uppercase()),
        name: query.name.filter(|n| !n.trim().is_empty()),
    };
    let mut conn = state.conn().await?;
    let page = templates::list(&mut conn, &filter, page.request()?).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}

#[utoipa::path(tag = "templates", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = TemplateResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/templates/{id}")]
pub async fn get_template(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<TemplateResponse>> {
    principal.require(Permission::WHATSAPP_TEMPLATE_VIEW)?;
    let mut conn = state.conn().await?;
    Ok(web::Json(templates::find(&mut conn, *id).await?.into()))
}

#[derive(Serialize, ToSchema)]
pub struct SyncResponse {
    /// Connections whose templates are being fetched.
    pub connections: Vec<Uuid>,
}

/// Fetch every connection's templates (all pages) from the providers now; runs in the background.
#[utoipa::path(tag = "templates", security(("bearer" = []), ("api_key" = [])), responses(
    (status = 202, body = SyncResponse),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[post("/templates/sync")]
pub async fn sync_templates(
    state: web::Data<AppState>,
    principal: Principal,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_TEMPLATE_LOAD)?;
    let mut conn = state.conn().await?;
    let ids = connections::ids(&mut conn).await?;
    for connection_id in &ids {
        wacrm_worker::enqueue(
            &mut conn,
            &SyncTemplates {
                connection_id: *connection_id,
            },
        )
        .await
        .map_err(ApiError::internal)?;
    }
    state.jobs.jobs_queued();
    Ok(HttpResponse::Accepted().json(SyncResponse { connections: ids }))
}
