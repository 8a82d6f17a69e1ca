//! WhatsApp groups: named static lists of WhatsApp contacts, filled and
//! emptied in bulk (by ids or by a contact filter).
//!
//! Removing members is `POST …/members/remove` rather than a DELETE with a
//! body: many clients and proxies drop DELETE bodies.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_domain::audiences::WhatsappContactFilter;
use wacrm_persistence::whatsapp_contacts;
use wacrm_persistence::whatsapp_groups::{
    self, Members, NewWhatsappGroup, WhatsappGroup, WhatsappGroupChanges,
};

use crate::auth::Principal;
use crate::error::{ApiResult, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::routes::whatsapp_contacts::WhatsappContactResponse;
use crate::state::AppState;
use crate::validation::Checks;

/// The most ids one bulk change may name.
pub const MAX_MEMBER_IDS: usize = 10_000;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "0193a5b0-7f1e-7c3a-9b1e-3f5d2c1a0b9e", "name": "VIP Nairobi", "description": "Gold plan, Nairobi", "member_count": 120, "created_at": "2026-11-30T09:00:00Z", "updated_at": "2026-11-30T09:00:00Z"}))]
pub struct WhatsappGroupResponse {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub member_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<WhatsappGroup> for WhatsappGroupResponse {
    fn from(row: WhatsappGroup) -> Self {
        Self {
            id: row.id,
            name: row.name,
            description: row.description,
            member_count: row.member_count,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "VIP Nairobi", "description": "Gold plan, Nairobi"}))]
pub struct CreateWhatsappGroupRequest {
    /// Unique among groups.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    #[schema(min_length = 1, max_length = 1000, pattern = r"\S")]
    pub description: Option<String>,
}

/// Only the fields given change; `null` clears the description.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWhatsappGroupRequest {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>, nullable, min_length = 1, max_length = 1000, pattern = r"\S")]
    pub description: Option<Option<String>>,
}

/// Which contacts: up to 10,000 ids (unknown ones are reported, not fatal), or
/// every contact a filter matches (one set-based statement).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[schema(example = json!({"filter": {"label": "vip", "consent": "subscribed"}}))]
pub enum MembersRequest {
    ContactIds(Vec<Uuid>),
    #[serde(deserialize_with = "wacrm_domain::audiences::object")]
    Filter(WhatsappContactFilter),
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"added": 118, "unknown_contact_ids": []}))]
pub struct MembersAdded {
    /// Contacts that were not members before (already members count nothing).
    pub added: usize,
    /// Ids given that name no WhatsApp contact.
    pub unknown_contact_ids: Vec<Uuid>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"removed": 2, "unknown_contact_ids": []}))]
pub struct MembersRemoved {
    /// Contacts that were members and no longer are.
    pub removed: usize,
    pub unknown_contact_ids: Vec<Uuid>,
}

/// List groups, newest first.
#[utoipa::path(tag = "whatsapp-groups", params(PageParams), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<WhatsappGroupResponse>),
))]
#[get("/whatsapp-groups")]
pub async fn list_whatsapp_groups(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<PageResponse<WhatsappGroupResponse>>> {
    principal.require(Permission::WHATSAPP_GROUPS_VIEW)?;
    let mut conn = state.conn().await?;
    let page = whatsapp_groups::list(&mut conn, page.request()?).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}

/// Create a group.
#[utoipa::path(tag = "whatsapp-groups", request_body = CreateWhatsappGroupRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = WhatsappGroupResponse),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`already_exists`: a group has this name"),
))]
#[post("/whatsapp-groups")]
pub async fn create_whatsapp_group(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<CreateWhatsappGroupRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_GROUPS_CREATE)?;
    let new = body.into_inner().into_new(principal.staff_id())?;
    let mut conn = state.conn().await?;
    let group = whatsapp_groups::insert(&mut conn, new).await?;
    Ok(HttpResponse::Created().json(WhatsappGroupResponse::from(group)))
}

/// One group.
#[utoipa::path(tag = "whatsapp-groups", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = WhatsappGroupResponse),
))]
#[get("/whatsapp-groups/{id}")]
pub async fn get_whatsapp_group(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<WhatsappGroupResponse>> {
    principal.require(Permission::WHATSAPP_GROUPS_VIEW)?;
    let mut conn = state.conn().await?;
    Ok(web::Json(
        whatsapp_groups::find(&mut conn, *id).await?.into(),
    ))
}

/// Rename a group or change its description.
#[utoipa::path(tag = "whatsapp-groups", params(("id" = Uuid, Path)), request_body = UpdateWhatsappGroupRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = WhatsappGroupResponse),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`already_exists`: another group has this name"),
))]
#[patch("/whatsapp-groups/{id}")]
pub async fn update_whatsapp_group(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<UpdateWhatsappGroupRequest>,
) -> ApiResult<web::Json<WhatsappGroupResponse>> {
    principal.require(Permission::WHATSAPP_GROUPS_EDIT)?;
    let changes = body.into_inner().into_changes()?;
    let mut conn = state.conn().await?;
    Ok(web::Json(
        whatsapp_groups::update(&mut conn, *id, changes)
            .await?
            .into(),
    ))
}

/// Delete a group (its contacts stay).
#[utoipa::path(tag = "whatsapp-groups", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204),
))]
#[delete("/whatsapp-groups/{id}")]
pub async fn delete_whatsapp_group(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_GROUPS_DELETE)?;
    let mut conn = state.conn().await?;
    whatsapp_groups::delete(&mut conn, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The group's members, newest contact first.
#[utoipa::path(tag = "whatsapp-groups", params(("id" = Uuid, Path), PageParams), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<WhatsappContactResponse>),
))]
#[get("/whatsapp-groups/{id}/members")]
pub async fn list_whatsapp_group_members(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<PageResponse<WhatsappContactResponse>>> {
    principal.require(Permission::WHATSAPP_GROUPS_VIEW)?;
    let page = page.request()?;
    let mut conn = state.conn().await?;
    whatsapp_groups::find(&mut conn, *id).await?;
    let filter = WhatsappContactFilter {
        group_id: Some(*id),
        ..Default::default()
    };
    let page = whatsapp_contacts::list(&mut conn, &filter, page).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}

/// Add contacts to the group (idempotent).
#[utoipa::path(tag = "whatsapp-groups", params(("id" = Uuid, Path)), request_body = MembersRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = MembersAdded),
))]
#[post("/whatsapp-groups/{id}/members")]
pub async fn add_whatsapp_group_members(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<MembersRequest>,
) -> ApiResult<web::Json<MembersAdded>> {
    principal.require(Permission::WHATSAPP_GROUPS_EDIT)?;
    let members = body.into_inner().into_members()?;
    let mut conn = state.conn().await?;
    whatsapp_groups::find(&mut conn, *id).await?;
    let unknown_contact_ids = unknown_ids(&mut conn, &members).await?;
    let added = whatsapp_groups::add_members(&mut conn, *id, &members).await?;
    Ok(web::Json(MembersAdded {
        added,
        unknown_contact_ids,
    }))
}

/// Remove contacts from the group.
#[utoipa::path(tag = "whatsapp-groups", params(("id" = Uuid, Path)), request_body = MembersRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = MembersRemoved),
))]
#[post("/whatsapp-groups/{id}/members/remove")]
pub async fn remove_whatsapp_group_members(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<MembersRequest>,
) -> ApiResult<web::Json<MembersRemoved>> {
    principal.require(Permission::WHATSAPP_GROUPS_EDIT)?;
    let members = body.into_inner().into_members()?;
    let mut conn = state.conn().await?;
    whatsapp_groups::find(&mut conn, *id).await?;
    let unknown_contact_ids = unknown_ids(&mut conn, &members).await?;
    let removed = whatsapp_groups::remove_members(&mut conn, *id, &members).await?;
    Ok(web::Json(MembersRemoved {
        removed,
        unknown_contact_ids,
    }))
}

async fn unknown_ids(
    conn: &mut wacrm_persistence::AsyncPgConnection,
    members: &Members,
) -> ApiResult<Vec<Uuid>> {
    Ok(match members {
        Members::Ids(ids) => whatsapp_groups::unknown_contacts(conn, ids).await?,
        Members::Filter(_) => Vec::new(),
    })
}

impl CreateWhatsappGroupRequest {
    fn into_new(self, created_by: Option<Uuid>) -> ApiResult<NewWhatsappGroup> {
        let mut checks = Checks::default();
        let name = checks.text("name", &self.name, 200);
        let description = self
            .description
            .as_deref()
            .map(|text| checks.text("description", text, 1000));
        checks.finish()?;
        Ok(NewWhatsappGroup {
            id: Uuid::now_v7(),
            name,
            description,
            created_by,
        })
    }
}

impl UpdateWhatsappGroupRequest {
    fn into_changes(self) -> ApiResult<WhatsappGroupChanges> {
        let mut checks = Checks::default();
        let changes = WhatsappGroupChanges {
            name: self
                .name
                .as_deref()
                .map(|name| checks.text("name", name, 200)),
            description: self.description.map(|description| {
                description
                    .as_deref()
                    .map(|text| checks.text("description", text, 1000))
            }),
            updated_at: None,
        };
        checks.finish()?;
        Ok(changes)
    }
}

impl MembersRequest {
    fn into_members(self) -> ApiResult<Members> {
        match self {
            Self::ContactIds(ids) => {
                if ids.len() > MAX_MEMBER_IDS {
                    let mut checks = Checks::default();
                    checks.fail(
                        "contact_ids",
                        format!("at most {MAX_MEMBER_IDS} ids at once; use a filter for more"),
                    );
                    checks.finish()?;
                }
                Ok(Members::Ids(ids))
            }
            Self::Filter(filter) => {
                let mut checks = Checks::default();
                checks.filter("filter.", filter.validate());
                checks.finish()?;
                Ok(Members::Filter(filter))
            }
        }
    }
}
