//! Numbers that get nothing at all, not even service replies (read:
//! `whatsapp_contacts:view`; change: `whatsapp_contacts:edit`). Every addition and
//! removal is kept in the phone's consent history.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_persistence::consent::{self, BlockedPhone};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::routes::consent::phone_to_look_up;
use crate::state::AppState;
use crate::validation::Checks;

#[derive(Serialize, ToSchema)]
pub struct BlockedPhoneResponse {
    pub id: Uuid,
    /// E.164 digits.
    #[schema(example = "254712345678")]
    pub phone: String,
    pub reason: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<BlockedPhone> for BlockedPhoneResponse {
    fn from(row: BlockedPhone) -> Self {
        Self {
            id: row.id,
            phone: row.phone,
            reason: row.reason,
            created_by: row.created_by,
            created_at: row.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockPhoneRequest {
    /// In any spelling; national numbers use the default country.
    #[schema(min_length = 1, max_length = 32, example = "+254 712 345 678")]
    pub phone: String,
    #[schema(max_length = 500, example = "abusive messages")]
    pub reason: Option<String>,
}

#[utoipa::path(tag = "consent", params(PageParams), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<BlockedPhoneResponse>),
))]
#[get("/blocklist")]
pub async fn list_blocklist(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<PageResponse<BlockedPhoneResponse>>> {
    principal.require(Permission::WHATSAPP_CONTACTS_VIEW)?;
    let mut conn = state.conn().await?;
    let page = consent::list_blocked(&mut conn, page.request()?).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}

#[utoipa::path(tag = "consent", request_body = BlockPhoneRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = BlockedPhoneResponse),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`already_exists`: the number is already blocklisted"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed`"),
))]
#[post("/blocklist")]
pub async fn block_phone(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<BlockPhoneRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_CONTACTS_EDIT)?;
    let mut checks = Checks::default();
    let (_, phone) = checks.phone("phone", Some(&body.phone), state.default_country);
    let reason = body
        .reason
        .as_deref()
        .filter(|reason| !reason.trim().is_empty())
        .map(|reason| checks.text("reason", reason, 500));
    checks.finish()?;
    let phone = phone.ok_or_else(|| ApiError::internal("a checked phone did not parse"))?;
    let mut conn = state.conn().await?;
    let added = consent::block(
        &mut conn,
        &phone,
        reason.as_deref(),
        principal.acts_for,
        Utc::now(),
    )
    .await?
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "already_exists",
            "the number is already blocklisted",
        )
    })?;
    Ok(HttpResponse::Created().json(BlockedPhoneResponse::from(added)))
}

#[utoipa::path(tag = "consent", params(("phone" = String, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204),
    (status = 404, body = Problem, content_type = "application/problem+json", description = "the number is not blocklisted"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed`: not `+` and 7 to 15 digits"),
))]
#[delete("/blocklist/{phone}")]
pub async fn unblock_phone(
    state: web::Data<AppState>,
    principal: Principal,
    phone: web::Path<String>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::WHATSAPP_CONTACTS_EDIT)?;
    let phone = phone_to_look_up(&state, &phone)?;
    let mut conn = state.conn().await?;
    if !consent::unblock(&mut conn, &phone, principal.acts_for, Utc::now()).await? {
        return Err(ApiError::not_found("blocklisted number"));
    }
    Ok(HttpResponse::NoContent().finish())
}
