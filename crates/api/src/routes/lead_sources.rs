//! Where leads come from (read: `leads:view`; change: admin).

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_persistence::leads;

use crate::auth::Principal;
use crate::error::{ApiResult, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::routes::lead_statuses::in_use;
use crate::state::AppState;
use crate::validation::Checks;

#[derive(Serialize, ToSchema)]
pub struct LeadSourceResponse {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<leads::LeadSource> for LeadSourceResponse {
    fn from(row: leads::LeadSource) -> Self {
        Self {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeadSourceRequest {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
}

impl LeadSourceRequest {
    fn name(&self) -> ApiResult<String> {
        let mut checks = Checks::default();
        let name = checks.text("name", &self.name, 100);
        checks.finish().map(|()| name)
    }
}

#[utoipa::path(tag = "leads", params(PageParams), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<LeadSourceResponse>),
))]
#[get("/lead-sources")]
pub async fn list_lead_sources(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<PageResponse<LeadSourceResponse>>> {
    principal.require(Permission::LEADS_VIEW)?;
    let mut conn = state.conn().await?;
    let page = leads::list_sources(&mut conn, page.request()?).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}

#[utoipa::path(tag = "leads", request_body = LeadSourceRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = LeadSourceResponse),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`already_exists`"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/lead-sources")]
pub async fn create_lead_source(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<LeadSourceRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    let name = body.name()?;
    let mut conn = state.conn().await?;
    let source = leads::insert_source(&mut conn, Uuid::now_v7(), name).await?;
    Ok(HttpResponse::Created().json(LeadSourceResponse::from(source)))
}

#[utoipa::path(tag = "leads", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = LeadSourceResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/lead-sources/{id}")]
pub async fn get_lead_source(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<LeadSourceResponse>> {
    principal.require(Permission::LEADS_VIEW)?;
    let mut conn = state.conn().await?;
    Ok(web::Json(leads::find_source(&mut conn, *id).await?.into()))
}

#[utoipa::path(tag = "leads", params(("id" = Uuid, Path)), request_body = LeadSourceRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = LeadSourceResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
#[patch("/lead-sources/{id}")]
pub async fn update_lead_source(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<LeadSourceRequest>,
) -> ApiResult<web::Json<LeadSourceResponse>> {
    principal.require(Permission::ADMIN)?;
    let name = body.name()?;
    let mut conn = state.conn().await?;
    Ok(web::Json(
        leads::rename_source(&mut conn, *id, name).await?.into(),
    ))
}

/// Delete a source no lead has (409 `in_use` otherwise).
#[utoipa::path(tag = "leads", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`in_use`"),
))]
#[delete("/lead-sources/{id}")]
pub async fn delete_lead_source(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    leads::delete_source(&mut conn, *id).await.map_err(in_use)?;
    Ok(HttpResponse::NoContent().finish())
}
