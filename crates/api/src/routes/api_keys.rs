//! API keys for integrators (admin only). The secret is shown once, at creation.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use wacrm_domain::Permission;
use wacrm_persistence::api_keys;

use crate::auth::{Principal, tokens};
use crate::error::{ApiResult, Problem};
use crate::pagination::{PageParams, PageResponse};
use crate::state::AppState;
use crate::validation::Checks;

/// Every key starts with this, so secret scanners and people can spot one.
const KEY_PREFIX: &str = "wacrm_";

#[derive(Serialize, ToSchema)]
pub struct ApiKeyResponse {
    pub id: Uuid,
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub prefix: String,
    pub permissions: Vec<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// When the key was last used, to within a minute (recorded at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// After this the key answers 401 `api_key_expired`; `null`: never expires.
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<api_keys::ApiKey> for ApiKeyResponse {
    fn from(row: api_keys::ApiKey) -> Self {
        Self {
            id: row.id,
            name: row.name,
            prefix: row.prefix,
            permissions: row.permissions,
            created_by: row.created_by,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
            expires_at: row.expires_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApiKeyResponse {
    #[serde(flatten)]
    pub key: ApiKeyResponse,
    /// The key itself, for `X-Api-Key`. Shown only in this answer.
    pub secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    #[schema(pattern = "\\S")]
    pub name: String,
    /// What the key may do: names from the permission catalogue.
    #[schema(schema_with = crate::validation::some_permission_names)]
    pub permissions: Vec<String>,
    /// When the key stops working (RFC 3339, in the future); omitted or `null`: never.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// List API keys (without their secrets).
#[utoipa::path(tag = "api-keys", params(PageParams), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = PageResponse<ApiKeyResponse>),
    (status = 403, body = Problem, content_type = "application/problem+json"),
))]
#[get("/api-keys")]
pub async fn list_api_keys(
    state: web::Data<AppState>,
    principal: Principal,
    page: web::Query<PageParams>,
) -> ApiResult<web::Json<PageResponse<ApiKeyResponse>>> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    let page = api_keys::list(&mut conn, page.request()?).await?;
    Ok(web::Json(PageResponse::from_page(page, Into::into)))
}

/// Create a key with a subset of permissions, optionally expiring. The answer
/// holds the secret, once. The key stops working when the staff member who
/// created it is deactivated (401 `api_key_creator_inactive`) or deleted (revoked).
#[utoipa::path(tag = "api-keys", request_body = CreateApiKeyRequest, security(("bearer" = []), ("api_key" = [])), responses(
    (status = 201, body = CreatedApiKeyResponse),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`validation_failed`: an empty name or permission list, an unknown permission, or an `expires_at` not in the future"),
))]
#[post("/api-keys")]
pub async fn create_api_key(
    state: web::Data<AppState>,
    principal: Principal,
    body: web::Json<CreateApiKeyRequest>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    let mut checks = Checks::default();
    let name = checks.text("name", &body.name, 200);
    let permissions = checks.permissions("permissions", &body.permissions);
    if body.permissions.is_empty() {
        checks.fail("permissions", "name at least one permission");
    }
    if body.expires_at.is_some_and(|expires| expires <= Utc::now()) {
        checks.fail("expires_at", "must be in the future");
    }
    checks.finish()?;
    let secret = format!("{KEY_PREFIX}{}", tokens::new_secret());
    let mut conn = state.conn().await?;
    let key = api_keys::insert(
        &mut conn,
        api_keys::NewApiKey {
            id: Uuid::now_v7(),
            name,
            prefix: secret.chars().take(KEY_PREFIX.len() + 6).collect(),
            secret_hash: tokens::digest(&secret),
            permissions,
            created_by: principal.staff_id(),
            expires_at: body.expires_at,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(CreatedApiKeyResponse {
        key: key.into(),
        secret,
    }))
}

/// Revoke a key: it answers 401 from now on.
#[utoipa::path(tag = "api-keys", params(("id" = Uuid, Path)), security(("bearer" = []), ("api_key" = [])), responses(
    (status = 204),
    (status = 404, body = Problem, content_type = "application/problem+json"),
))]
#[delete("/api-keys/{id}")]
pub async fn revoke_api_key(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    principal.require(Permission::ADMIN)?;
    let mut conn = state.conn().await?;
    api_keys::revoke(&mut conn, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
