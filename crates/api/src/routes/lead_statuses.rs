//! The statuses a lead can be in (read: `leads:view`; change: admin).

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_persistence::{StoreError, leads};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::state::AppState;
use crate::validation::Checks;

#[derive(Serialize, ToSchema)]
pub struct LeadStatusResponse {
    pub id: Uuid,
    pub name: String,
    /// Display order, lowest first.
    pub position: i32,
    pub color: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<leads::LeadStatus> for LeadStatusResponse {
    fn from(row: leads::LeadStatus) -> Self {
        Self {
            id: row.id,
            name: row.name,
            position: row.position,
            color: row.color,
            created_at: row.created_at,
        }
    }
}

/// A new status: its `name` is required.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLeadStatusRequest {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    #[serde(default, deserialize_with = "crate::validation::whole_number")]
    pub position: Option<i32>,
    #[schema(nullable)]
    pub color: Option<String>,
}

/// Only the fields given change; `color: null` clears the colour.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLeadStatusRequest {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::validation::whole_number")]
    pub position: Option<i32>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>, nullable)]
    pub color: Option<Option<String>>,
}

impl CreateLeadStatusRequest {
    fn values(self) -> ApiResult<leads::LeadStatusValues> {
        let mut checks = Checks::default();
        let name = checks.text("name", &self.name, 100);
        checks.finish()?;
        Ok(leads::LeadStatusValues {
            name: Some(name),
            position: self.position,
            color: self.color.map(Some),
        })
    }
}

impl UpdateLeadStatusRequest {
    fn values(self) -> ApiResult<leads::LeadStatusValues> {
        let mut checks = Checks::default();
        let name = self.name.map(|name| checks.text("name", &name, 100));
        checks.finish()?;
        Ok(leads::LeadStatusValues {
            name,
            position: self.position,
            color: self.color,
        })
    }
}

#[utoipa::path(tag = "leads", params(PageParams), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<LeadStatusResponse>),
))]
#[get("/lead-statuses")]
pub async fn list_lead_statuses(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<PageResponse<LeadStatusResponse>>> {
    principal.require(Permission::LEADS_VIEW)?;
    let mut conn = state.conn().await?;
    let page = leads::list_statuses(&mut conn, page.request()?).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}

#[utoipa::path(tag = "leads", request_body = CreateLeadStatusRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = LeadStatusResponse),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`already_exists`"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[post("/lead-statuses")]
pub async fn create_lead_status(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<CreateLeadStatusRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    let values = body.into_inner().values()?;
    let mut conn = state.conn().await?;
    let status = leads::insert_status(&mut conn, Uuid::now_v7(), values).await?;
    Ok(HttpResponse::Created().json(LeadStatusResponse::from(status)))
}

#[utoipa::path(tag = "leads", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = LeadStatusResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/lead-statuses/{id}")]
pub async fn get_lead_status(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<LeadStatusResponse>> {
    principal.require(Permission::LEADS_VIEW)?;
    let mut conn = state.conn().await?;
    Ok(web::Json(leads::find_status(&mut conn, *id).await?.into()))
}

#[utoipa::path(tag = "leads", params(("id" = Uuid, Path)), request_body = UpdateLeadStatusRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = LeadStatusResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json"),
))]
#[patch("/lead-statuses/{id}")]
pub async fn update_lead_status(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<UpdateLeadStatusRequest>,
) -> ApiResult<web::Json<LeadStatusResponse>> {
    principal.require(Permission::ADMIN)?;
    let values = body.into_inner().values()?;
    let mut conn = state.conn().await?;
    if values.name.is_none() && values.position.is_none() && values.color.is_none() {
        return Ok(web::Json(leads::find_status(&mut conn, *id).await?.into()));
    }
    Ok(web::Json(
        leads::update_status(&mut conn, *id, values).await?.into(),
    ))
}

/// Delete a status no lead has (409 `in_use` otherwise).
#[utoipa::path(tag = "leads", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`in_use`"),
))]
#[delete("/lead-statuses/{id}")]
pub async fn delete_lead_status(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    leads::delete_status(&mut conn, *id).await.map_err(in_use)?;
    Ok(HttpResponse::NoContent().finish())
}

/// A delete refused by a foreign key means leads still point at the row.
pub fn in_use(error: StoreError) -> ApiError {
    match error {
        StoreError::Reference(_) => ApiError::new(
            actix_web::http::StatusCode::CONFLICT,
            "in_use",
            "leads still use it; move them first",
        ),
        other => other.into(),
    }
}
