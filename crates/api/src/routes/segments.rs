//! Segments: saved filters over leads, contacts or WhatsApp contacts,
//! evaluated each time they are used (a preview, a campaign run).
//!
//! Permissions: segments are dynamic groups, so they take `whatsapp_groups:*`
//! (no permission of their own exists in seed 001's table).

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_domain::audiences::{
    ContactFilter, LeadFilter, SegmentFilter, SegmentTarget, WhatsappContactFilter,
};
use wacrm_persistence::segments::{self, NewSegment, Segment};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::state::AppState;
use crate::validation::Checks;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b0-7f1e-7c3a-9b1e-3f5d2c1a0b9e", "name": "Hot leads, active this month", "target": "leads", "filter": {"status_id": "0193a5b0-7f1e-7c3a-9b1e-3f5d2c1a0b9f", "last_inbound_within_days": 30}, "created_at": "2026-11-30T09:00:00Z", "updated_at": "2026-11-30T09:00:00Z"}))]
pub struct SegmentResponse {
    pub id: Uuid,
    pub name: String,
    pub target: SegmentTarget,
    /// The filter of `target`'s kind: a `LeadFilter`, `ContactFilter` or
    /// `WhatsappContactFilter`. Declared as an object, not a oneOf of the
    /// three: an empty filter is valid for all of them, and `target` says which.
    #[schema(value_type = Object)]
    pub filter: SegmentFilter,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<Segment> for SegmentResponse {
    type Error = ApiError;

    fn try_from(row: Segment) -> ApiResult<Self> {
        let filter =
            SegmentFilter::from_stored(&row.target, row.filter).map_err(ApiError::internal)?;
        Ok(Self {
            id: row.id,
            name: row.name,
            target: filter.target(),
            filter,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A segment: its unique name, its `target`, and a filter of that target's
/// kind (fields of another kind are refused).
#[derive(Deserialize, ToSchema)]
#[serde(tag = "target", rename_all = "snake_case", deny_unknown_fields)]
#[schema(example = json!({"target": "leads", "name": "Hot leads, active this month", "filter": {"status_id": "0193a5b0-7f1e-7c3a-9b1e-3f5d2c1a0b9f", "last_inbound_within_days": 30}}))]
pub enum SegmentRequest {
    Leads {
        #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
        name: String,
        #[serde(default, deserialize_with = "wacrm_domain::audiences::object")]
        filter: LeadFilter,
    },
    Contacts {
        #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
        name: String,
        #[serde(default, deserialize_with = "wacrm_domain::audiences::object")]
        filter: ContactFilter,
    },
    WhatsappContacts {
        #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
        name: String,
        #[serde(default, deserialize_with = "wacrm_domain::audiences::object")]
        filter: WhatsappContactFilter,
    },
}

impl SegmentRequest {
    /// The name and the checked filter.
    fn parse(self) -> ApiResult<(String, SegmentFilter)> {
        let (name, filter) = match self {
            Self::Leads { name, filter } => (name, SegmentFilter::Leads(filter)),
            Self::Contacts { name, filter } => (name, SegmentFilter::Contacts(filter)),
            Self::WhatsappContacts { name, filter } => {
                (name, SegmentFilter::WhatsappContacts(filter))
            }
        };
        let mut checks = Checks::default();
        let name = checks.text("name", &name, 200);
        checks.filter("filter.", filter.validate());
        checks.finish()?;
        Ok((name, filter))
    }
}

/// List segments, newest first.
#[utoipa::path(tag = "segments", params(PageParams), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<SegmentResponse>),
))]
#[get("/segments")]
pub async fn list_segments(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<PageResponse<SegmentResponse>>> {
    principal.require(Permission::WHATSAPP_GROUPS_VIEW)?;
    let mut conn = state.conn().await?;
    let page = segments::list(&mut conn, page.request()?).await?;
    let next = page.next;
    let items = page
        .items
        .into_iter()
        .map(SegmentResponse::try_from)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(web::Json(PageResponse::from_page(
        wacrm_persistence::Page { items, next },
        |item| item,
    )))
}

/// Save a segment.
#[utoipa::path(tag = "segments", request_body = SegmentRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = SegmentResponse),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`already_exists`: a segment has this name"),
))]
#[post("/segments")]
pub async fn create_segment(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<SegmentRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_GROUPS_CREATE)?;
    let (name, filter) = body.into_inner().parse()?;
    let mut conn = state.conn().await?;
    let segment = segments::insert(
        &mut conn,
        NewSegment {
            id: Uuid::now_v7(),
            name,
            target: filter.target().as_str().to_owned(),
            filter: filter.to_json(),
            created_by: principal.staff_id(),
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(SegmentResponse::try_from(segment)?))
}

/// One segment.
#[utoipa::path(tag = "segments", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = SegmentResponse),
))]
#[get("/segments/{id}")]
pub async fn get_segment(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<SegmentResponse>> {
    principal.require(Permission::WHATSAPP_GROUPS_VIEW)?;
    let mut conn = state.conn().await?;
    Ok(web::Json(segments::find(&mut conn, *id).await?.try_into()?))
}

/// Replace a segment's name, target and filter.
#[utoipa::path(tag = "segments", params(("id" = Uuid, Path)), request_body = SegmentRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = SegmentResponse),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`already_exists`: another segment has this name"),
))]
#[put("/segments/{id}")]
pub async fn replace_segment(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<SegmentRequest>,
) -> ApiResult<web::Json<SegmentResponse>> {
    principal.require(Permission::WHATSAPP_GROUPS_EDIT)?;
    let (name, filter) = body.into_inner().parse()?;
    let mut conn = state.conn().await?;
    let segment = segments::replace(
        &mut conn,
        *id,
        name,
        filter.target().as_str().to_owned(),
        filter.to_json(),
    )
    .await?;
    Ok(web::Json(segment.try_into()?))
}

/// Delete a segment.
#[utoipa::path(tag = "segments", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204),
))]
#[delete("/segments/{id}")]
pub async fn delete_segment(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_GROUPS_DELETE)?;
    let mut conn = state.conn().await?;
    segments::delete(&mut conn, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
