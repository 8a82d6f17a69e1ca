//! Staff accounts and their permissions (admin only).

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_persistence::{sessions, staff};

use crate::auth::{Principal, password};
use crate::error::{ApiError, ApiResult, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::state::AppState;
use crate::validation::Checks;

#[derive(Serialize, ToSchema)]
pub struct StaffResponse {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    /// E.164 digits without `+`, used to recognise the staff member on WhatsApp.
    pub phone_normalized: Option<String>,
    pub is_active: bool,
    pub permissions: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<staff::Staff> for StaffResponse {
    fn from(row: staff::Staff) -> Self {
        Self {
            id: row.id,
            name: row.name,
            email: row.email,
            phone: row.phone,
            phone_normalized: row.phone_normalized,
            is_active: row.is_active,
            permissions: row.permissions,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStaffRequest {
    #[schema(pattern = "\\S")]
    pub name: String,
    #[schema(pattern = "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", max_length = 254)]
    pub email: String,
    /// At least 8 characters.
    #[schema(min_length = 8)]
    pub password: String,
    pub phone: Option<String>,
    #[serde(default)]
    #[schema(schema_with = crate::validation::any_permission_names)]
    pub permissions: Vec<String>,
    #[serde(default = "active")]
    pub is_active: bool,
}

fn active() -> bool {
    true
}

/// Only the fields given change; `phone: null` clears the phone.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStaffRequest {
    #[schema(pattern = "\\S")]
    pub name: Option<String>,
    #[schema(pattern = "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", max_length = 254)]
    pub email: Option<String>,
    #[schema(min_length = 8)]
    pub password: Option<String>,
    #[serde(default, with = "::serde_with::rust::double_option")]
    #[schema(value_type = Option<String>, nullable)]
    pub phone: Option<Option<String>>,
    #[schema(schema_with = crate::validation::optional_permission_names)]
    pub permissions: Option<Vec<String>>,
    pub is_active: Option<bool>,
}

/// List staff, newest first.
#[utoipa::path(tag = "staff", params(PageParams), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<StaffResponse>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/staff")]
pub async fn list_staff(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<PageResponse<StaffResponse>>> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    let page = staff::list(&mut conn, page.request()?).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}

/// Create a staff member.
#[utoipa::path(tag = "staff", request_body = CreateStaffRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = StaffResponse),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`already_exists`: the email is taken"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed`"),
))]
#[post("/staff")]
pub async fn create_staff(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<CreateStaffRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    let body = body.into_inner();
    let mut checks = Checks::default();
    let name = checks.text("name", &body.name, 200);
    let email = checks.email("email", &body.email);
    checks.password("password", &body.password);
    let (phone, phone_normalized) =
        checks.phone("phone", body.phone.as_deref(), state.default_country);
    let permissions = checks.permissions("permissions", &body.permissions);
    checks.finish()?;
    let password_hash = password::hash(body.password).await?;
    let mut conn = state.conn().await?;
    let created = staff::insert(
        &mut conn,
        staff::NewStaff {
            id: Uuid::now_v7(),
            name,
            email,
            phone,
            phone_normalized,
            password_hash,
            is_active: body.is_active,
            permissions,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(StaffResponse::from(created)))
}

/// One staff member.
#[utoipa::path(tag = "staff", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = StaffResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[get("/staff/{id}")]
pub async fn get_staff(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<StaffResponse>> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    Ok(web::Json(staff::find(&mut conn, *id).await?.into()))
}

/// Change a staff member. A new password or deactivation ends their sessions.
/// Callers cannot deactivate their own account or take the admin permission
/// from it (409 `cannot_change_self`); with an API key, "own" is the account
/// of the staff member who created the key.
#[utoipa::path(tag = "staff", params(("id" = Uuid, Path)), request_body = UpdateStaffRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = StaffResponse),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`already_exists`: the email is taken; `cannot_change_self`: the caller's own account would be deactivated or lose `admin`"),
    (status = 422, body = Problem, content_type = "application/problem+json"),
))]
#[patch("/staff/{id}")]
pub async fn update_staff(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
    body: web::Json<UpdateStaffRequest>,
) -> ApiResult<web::Json<StaffResponse>> {
    principal.require(Permission::ADMIN)?;
    let id = id.into_inner();
    let body = body.into_inner();
    if principal.acts_for == Some(id) && body.is_active == Some(false) {
        return Err(ApiError::cannot_change_self(
            "you cannot deactivate your own account",
        ));
    }
    let mut checks = Checks::default();
    let mut changes = staff::StaffChanges {
        name: body
            .name
            .as_deref()
            .map(|name| checks.text("name", name, 200)),
        email: body
            .email
            .as_deref()
            .map(|email| checks.email("email", email)),
        is_active: body.is_active,
        permissions: body
            .permissions
            .as_deref()
            .map(|names| checks.permissions("permissions", names)),
        ..Default::default()
    };
    if let Some(phone) = body.phone {
        let (given, digits) = checks.phone("phone", phone.as_deref(), state.default_country);
        changes.phone = Some(given);
        changes.phone_normalized = Some(digits);
    }
    if let Some(new_password) = &body.password {
        checks.password("password", new_password);
    }
    checks.finish()?;
    let demotes = changes
        .permissions
        .as_ref()
        .is_some_and(|names| !names.iter().any(|name| name == Permission::ADMIN.as_str()));
    if principal.acts_for == Some(id) && demotes {
        return Err(ApiError::cannot_change_self(
            "you cannot take the admin permission from your own account",
        ));
    }
    if let Some(new_password) = body.password {
        changes.password_hash = Some(password::hash(new_password).await?);
    }
    let ends_sessions = changes.password_hash.is_some() || body.is_active == Some(false);
    let mut conn = state.conn().await?;
    let updated = staff::update(&mut conn, id, changes).await?;
    if ends_sessions {
        sessions::revoke_all_of(&mut conn, id).await?;
    }
    Ok(web::Json(updated.into()))
}

/// Delete a staff member; their leads become unassigned and the API keys they
/// created are revoked. Callers cannot delete their own account (409
/// `cannot_change_self`; with an API key, the account of its creator).
#[utoipa::path(tag = "staff", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`cannot_change_self`: the caller's own account"),
))]
#[delete("/staff/{id}")]
pub async fn delete_staff(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    if principal.acts_for == Some(*id) {
        return Err(ApiError::cannot_change_self(
            "you cannot delete your own account",
        ));
    }
    let mut conn = state.conn().await?;
    staff::delete(&mut conn, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
